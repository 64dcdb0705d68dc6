"""Thermalization checks from the log-binned series of a simulation file.

For Gaussian disorder the energy per spin satisfies, in equilibrium and after
the disorder average, e = -(z/2)(1 - q_l)/T with z = 6 (Katzgraber, Palassini
& Young, PRB 63, 184422 (2001)). Starting from random configurations, e
approaches equilibrium from above and -(z/2)(1 - q_l)/T from below, so their
agreement in the last log bin signals thermalization.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sgpoison.observables import kpy_energy


def kpy_comparison(ds: xr.Dataset, log_bin: int = -1) -> xr.Dataset:
    """Disorder-averaged e and its KPY estimate in one log bin, per temperature.

    Parameters
    ----------
    ds : xarray.Dataset
        A simulation dataset (``docs/data-format.md``) with Gaussian disorder.
    log_bin : int
        Which log bin (default: the last).

    Returns
    -------
    xarray.Dataset over ``temperature`` with ``energy``, ``energy_kpy``, their
    difference ``delta`` = e - e_kpy, its standard error over instances
    ``delta_error`` and ``z`` = delta / delta_error.

    Raises
    ------
    ValueError
        If the file's disorder is not Gaussian (the identity needs E[J^2] = 1
        with continuous J; for bimodal disorder it does not hold).
    """
    if ds.attrs.get("disorder") != "gaussian":
        raise ValueError(f"the KPY identity holds for Gaussian disorder only, got {ds.attrs.get('disorder')!r}")
    e = ds["energy_log_binned"].isel(log_bin=log_bin)
    e_kpy = kpy_energy(ds["link_overlap_log_binned"].isel(log_bin=log_bin), ds["temperature"])
    delta = e - e_kpy
    n = ds.sizes["instance"]
    err = delta.std("instance", ddof=1) / np.sqrt(n) if n > 1 else xr.full_like(delta.mean("instance"), np.nan)
    out = xr.Dataset({
        "energy": e.mean("instance"),
        "energy_kpy": e_kpy.mean("instance"),
        "delta": delta.mean("instance"),
        "delta_error": err,
    })
    out["z"] = out["delta"] / out["delta_error"]
    return out
