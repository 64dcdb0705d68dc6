"""Thermalization checks from the log-binned series of a simulation file.

:func:`log_bin_tests` compares the disorder averages of e, q^2 and the KPY
energy between the last two logarithmic bins of the thermalization phase and
tests the KPY identity in the last bin, with bootstrap errors over instances;
:mod:`sgpoison.audit` turns these numbers into verdicts.

For Gaussian disorder the energy per spin satisfies, in equilibrium and after
the disorder average, e = -(z/2)(1 - q_l)/T with z = 6 (Katzgraber, Palassini
& Young, PRB 63, 184422 (2001)). Starting from random configurations, e
approaches equilibrium from above and -(z/2)(1 - q_l)/T from below, so their
agreement in the last log bin signals thermalization.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sgpoison.bootstrap import bootstrap_indices, bootstrap_mean
from sgpoison.mc.observables import kpy_energy


# ----------------------------------------------------------------------------- logarithmic binning

#: observables compared between the last two log bins (see :func:`log_binned_observable`)
LOG_BIN_OBSERVABLES = ("energy", "q2", "energy_kpy")


def log_bin_windows(ds: xr.Dataset, min_fill: float = 0.5) -> dict:
    """The two windows of thermalization sweeps compared by the log-binning test.

    Normally these are the last two log bins, ``previous`` = bin K-1 (sweeps
    2^(K-2) <= t < 2^(K-1)) and ``last`` = bin K. When the last bin is partial
    and holds fewer than ``min_fill`` of the sweeps of a full bin (e.g. a run of
    2^k + 1 sweeps, whose last bin holds one sweep), it is merged into bin K-1
    (the sweeps of both, averaged with their sweep counts as weights) and
    compared with bin K-2, so that a nearly empty bin cannot make the test blind.

    Parameters
    ----------
    ds : xarray.Dataset
        Simulation dataset with coords ``log_bin_start``, ``log_bin_stop``,
        ``log_bin_count`` (``docs/data-format.md``).
    min_fill : float
        Smallest filled fraction of the last bin that is compared on its own.

    Returns
    -------
    dict
        ``previous`` and ``last``: each ``{"bins": [k, ...], "start": t0, "stop": t1,
        "sweeps": n, "weights": float64 array over log_bin}`` (weights sum to 1 and
        select the window's bins). Empty dict if there are fewer than two bins
        with sweeps (nothing to compare).

    Raises
    ------
    ValueError
        If the bin coordinates are missing.
    """
    missing = [c for c in ("log_bin_start", "log_bin_stop", "log_bin_count") if c not in ds.variables]
    if missing:
        raise ValueError(f"the log-binned series lack the coordinate(s) {missing} (docs/data-format.md)")
    start = np.asarray(ds["log_bin_start"].values, dtype=np.int64)
    stop = np.asarray(ds["log_bin_stop"].values, dtype=np.int64)
    count = np.asarray(ds["log_bin_count"].values, dtype=np.int64)
    filled = np.flatnonzero(count > 0)
    if len(filled) < 2:
        return {}
    last = int(filled[-1])
    nominal = max(int(start[last]), 1)  # bin k >= 1 starts at 2^(k-1) and spans 2^(k-1) sweeps
    if count[last] < min_fill * nominal and len(filled) >= 3:
        windows = ([int(filled[-3])], [int(filled[-2]), last])
    else:
        windows = ([int(filled[-2])], [last])

    def describe(bins):
        weights = np.zeros(len(count))
        weights[bins] = count[bins] / count[bins].sum()
        return {"bins": bins, "start": int(start[bins[0]]), "stop": int(stop[bins[-1]]),
                "sweeps": int(count[bins].sum()), "weights": weights}

    return {"previous": describe(windows[0]), "last": describe(windows[1])}


def log_binned_observable(ds: xr.Dataset, name: str) -> xr.DataArray:
    """One log-binned observable per (instance, temperature, log_bin).

    ``energy``: e from ``energy_log_binned``; ``q2``: q^2 from ``q2_log_binned``;
    ``energy_kpy``: the KPY estimate -3(1 - q_l)/T from ``link_overlap_log_binned``
    (meaningful for Gaussian disorder only).
    """
    if name == "energy":
        return ds["energy_log_binned"]
    if name == "q2":
        return ds["q2_log_binned"]
    if name == "energy_kpy":
        return kpy_energy(ds["link_overlap_log_binned"], ds["temperature"])
    raise ValueError(f"unknown log-binned observable {name!r}; expected one of {LOG_BIN_OBSERVABLES}")


def log_bin_tests(ds: xr.Dataset, n_bootstrap: int = 1000, seed: int = 0,
                  observables: tuple[str, ...] | None = None) -> xr.Dataset:
    """Log-binning thermalization tests with bootstrap errors over disorder instances.

    For every observable O (e, q^2 and, for Gaussian disorder, the KPY energy
    -3(1 - q_l)/T) and temperature: the disorder averages of O in the windows
    of :func:`log_bin_windows`, their difference
    Delta = [O]_last - [O]_previous and its error sqrt(s_last^2 + s_previous^2)
    from the bootstrap errors of the two disorder averages. This is the usual
    criterion (the last bins "agree within their error bars"): it asks whether
    the remaining drift is smaller than the statistical error of the disorder
    average the study measures. (A test paired over instances would detect
    drifts far below that error, which do not matter at the study's precision.) For Gaussian disorder also the KPY identity in the last window,
    delta = [e]_last - [-3(1 - q_l)/T]_last, which vanishes in equilibrium
    (Katzgraber, Palassini & Young, PRB 63, 184422 (2001)); out of equilibrium
    e lies above and -3(1 - q_l)/T below the equilibrium energy, so delta > 0.

    Parameters
    ----------
    ds : xarray.Dataset
        Simulation dataset (``docs/data-format.md``).
    n_bootstrap : int
        Bootstrap resamples of the instances (the same resamples for all tests).
    seed : int
        Seed of the resampling.
    observables : tuple of str, optional
        Default: e and q^2, plus the KPY energy for Gaussian disorder.

    Returns
    -------
    xarray.Dataset
        Dims ``test`` (``energy``, ``q2``[, ``energy_kpy``, ``kpy_identity``]) and
        ``temperature``; variables ``previous``, ``last`` (disorder averages;
        for ``kpy_identity``: e and the KPY energy in the last window),
        ``difference`` (last - previous, or e - e_kpy), ``error`` (bootstrap
        standard error of the difference) and ``z`` = difference / error.
        Attributes ``windows`` (JSON-able description of the compared sweeps),
        ``n_instances``, ``n_bootstrap``, ``seed``. No ``test`` entries if
        the file has fewer than two log bins with sweeps.
    """
    gaussian = ds.attrs.get("disorder") == "gaussian"
    if observables is None:
        observables = LOG_BIN_OBSERVABLES if gaussian else ("energy", "q2")
    windows = log_bin_windows(ds)
    n = int(ds.sizes["instance"])
    resamples = bootstrap_indices([n], n_bootstrap, seed)[0]
    T = ds["temperature"].values
    rows = {}
    if windows:
        w_prev = xr.DataArray(windows["previous"]["weights"], dims="log_bin")
        w_last = xr.DataArray(windows["last"]["weights"], dims="log_bin")

        def window(values, weights):
            return (values * weights).sum("log_bin").transpose("instance", "temperature").values

        lasts = {}
        for name in observables:
            values = log_binned_observable(ds, name).load()
            prev, last = window(values, w_prev), window(values, w_last)
            lasts[name] = last
            mean_prev, err_prev = bootstrap_mean(prev, resamples)
            mean_last, err_last = bootstrap_mean(last, resamples)
            rows[name] = (mean_prev, mean_last, mean_last - mean_prev, np.hypot(err_prev, err_last))
        if gaussian and "energy" in lasts and "energy_kpy" in lasts:
            diff, err = bootstrap_mean(lasts["energy"] - lasts["energy_kpy"], resamples)
            rows["kpy_identity"] = (lasts["energy"].mean(axis=0), lasts["energy_kpy"].mean(axis=0), diff, err)
    tests = list(rows)
    shape = (len(tests), len(T))

    def stack(i):
        return np.array([rows[t][i] for t in tests]).reshape(shape)

    out = xr.Dataset(
        {name: (("test", "temperature"), stack(i))
         for i, name in enumerate(("previous", "last", "difference", "error"))},
        coords={"test": np.array(tests, dtype=object), "temperature": T},
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = out["difference"] / out["error"]
    out["z"] = z.where(~((out["error"] == 0) & (out["difference"] == 0)), 0.0)
    out.attrs.update(
        windows={k: {kk: vv for kk, vv in v.items() if kk != "weights"} for k, v in windows.items()},
        n_instances=n, n_bootstrap=int(n_bootstrap), seed=int(seed))
    return out
