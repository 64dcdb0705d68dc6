"""Conventional finite-size scaling of the spin-glass transition, without a network.

From the simulation files of the bimodal test set (``docs/data-format.md``) this
module computes, per linear size L and temperature T,

* the spin-glass Binder ratio (Bhatt & Young, PRB 37, 5606 (1988); Katzgraber,
  Koerner & Young, PRB 73, 224432 (2006), Eq. 5)::

      g = (1/2) (3 - [<q^4>] / [<q^2>]^2)

  from the variable ``q`` (``<.>`` thermal average over the snapshots of an
  instance, ``[.]`` disorder average over instances);

* the finite-size correlation length divided by L (Cooper, Freedman & Preston,
  Nucl. Phys. B 210, 210 (1982); Ballesteros et al., PRB 62, 14237 (2000);
  Katzgraber, Koerner & Young 2006, Eqs. 2-4)::

      xi_L / L = sqrt(chi(0) / chi(k_min) - 1) / (2 sin(k_min / 2)) / L
      chi(k)   = N [<|q(k)|^2>],   q(k) = (1/N) sum_i q_i exp(i k . r_i)

  with ``k_min = 2 pi / L`` along x, y and z (the three directions averaged),
  computed from the site overlaps ``overlap`` read one instance at a time.

Both are dimensionless, size independent at Tc up to corrections to scaling,
and larger for larger L below Tc, so the curves of successive sizes cross at
Tc (from above on the low-temperature side). The crossing of xi_L/L for the
two largest sizes is the headline ``Tc_conventional``; its error comes from a
bootstrap over disorder instances (resampled within each L).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from sgpoison.bootstrap import bootstrap_indices, bootstrap_stderr, percentile_interval
from sgpoison.errors import DataFormatError
from sgpoison.fss.estimates import ESTIMATES_FORMAT, ESTIMATES_FORMAT_VERSION, estimate_entry
from sgpoison.fss.settings import MIN_INSTANCES, MIN_SIZES, MIN_TEMPERATURES, ConventionalSettings
from sgpoison.fss.stats import oriented_root, smoothing_spline
from sgpoison.io.formats import attribute_values, open_simulation, write_netcdf
from sgpoison.io.jsonio import to_json, to_jsonable, write_json
from sgpoison.io.provenance import provenance

#: relative size below which chi(k_min) counts as zero (xi_L/L is then infinite)
ZERO_CHI_K = 1e-12
#: observables of the conventional analysis
OBSERVABLES = ("correlation_length", "binder")


# --------------------------------------------------------------------------- per-instance moments


def overlap_structure_factors(overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thermal averages ``N <q(0)^2>`` and ``N <|q(k_min)|^2>`` of one disorder instance.

    Parameters
    ----------
    overlap : ndarray, shape (n_T, n_snapshots, L, L, L), int8 (+1/-1)
        Site overlaps ``q_i`` of one instance, axes (temperature, snapshot, x, y, z).

    Returns
    -------
    chi0 : ndarray, shape (n_T,), float64
        ``N <q^2>``, ``q = (1/N) sum_i q_i``, ``N = L^3``.
    chik : ndarray, shape (n_T,), float64
        ``N <|q(k)|^2>`` with ``q(k) = (1/N) sum_i q_i exp(i k . r_i)``, averaged
        over ``k = (2 pi / L) e_d`` for d = x, y, z. Only the sums of ``q_i`` over
        planes perpendicular to each axis are needed.
    """
    L = overlap.shape[-1]
    N = L ** 3
    phase = np.exp(2j * np.pi * np.arange(L) / L)
    plane_x = overlap.sum(axis=(3, 4), dtype=np.int64)   # (n_T, n_snap, L): sum over y, z at each x
    plane_y = overlap.sum(axis=(2, 4), dtype=np.int64)
    plane_z = overlap.sum(axis=(2, 3), dtype=np.int64)
    q0 = plane_x.sum(axis=-1) / N
    chi0 = N * np.mean(q0 * q0, axis=-1)
    chik = np.zeros_like(chi0)
    for plane in (plane_x, plane_y, plane_z):
        qk = (plane @ phase) / N
        chik += N * np.mean(np.abs(qk) ** 2, axis=-1)
    return chi0, chik / 3.0


def binder_ratio(q2: np.ndarray, q4: np.ndarray) -> np.ndarray:
    """Spin-glass Binder ratio ``g = (3 - [<q^4>] / [<q^2>]^2) / 2``.

    Parameters
    ----------
    q2, q4 : ndarray, float64
        Disorder averages ``[<q^2>]`` and ``[<q^4>]`` (any matching shape).

    Returns
    -------
    ndarray
        g: 1 for a fully ordered overlap, ``1/N`` for independent random sites
        (``<q^2> = 1/N``, ``<q^4> = 3/N^2 - 2/N^3``), 0 for Gaussian q.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * (3.0 - q4 / (q2 * q2))


def correlation_length_ratio(chi0: np.ndarray, chik: np.ndarray, L: int) -> np.ndarray:
    """Finite-size correlation length over L, ``xi_L / L``.

    ``xi_L = sqrt(chi(0)/chi(k_min) - 1) / (2 sin(k_min/2))``, ``k_min = 2 pi / L``
    (Ballesteros et al., PRB 62, 14237 (2000), Eq. 9).

    Parameters
    ----------
    chi0, chik : ndarray, float64
        Disorder-averaged ``chi(0)`` and ``chi(k_min)``.
    L : int

    Returns
    -------
    ndarray
        ``inf`` where ``chi(k_min) <= ZERO_CHI_K chi(0)`` (a uniform overlap,
        infinite correlation length); NaN where ``chi(0) < chi(k_min)``
        (a statistically zero correlation length that fluctuated below zero).
    """
    chi0 = np.asarray(chi0, dtype=np.float64)
    chik = np.asarray(chik, dtype=np.float64)
    zero = chik <= ZERO_CHI_K * np.abs(chi0)
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = np.where(zero, np.inf, chi0 / np.where(zero, 1.0, chik) - 1.0)
        xi = np.sqrt(arg) / (2.0 * math.sin(math.pi / L))
    return np.where(zero, np.inf, xi) / L


@dataclass
class SizeMoments:
    """Per-instance thermal averages of one size, shape (n_instances, n_T), float64.

    Attributes
    ----------
    L : int
    temperature : ndarray, shape (n_T,)
    q2, q4 : ndarray
        ``<q^2>``, ``<q^4>`` from the variable ``q``.
    chi0, chik : ndarray
        ``N <q^2>`` and ``N <|q(k_min)|^2>`` from ``overlap`` (:func:`overlap_structure_factors`).
    q_overlap_max_deviation : float
        ``max |q - mean_i q_i|`` over all snapshots (consistency of ``q`` with ``overlap``).
    path : str
    attrs : dict
    """

    L: int
    temperature: np.ndarray
    q2: np.ndarray
    q4: np.ndarray
    chi0: np.ndarray
    chik: np.ndarray
    q_overlap_max_deviation: float = math.nan
    path: str = ""
    attrs: dict = field(default_factory=dict)

    @property
    def n_instances(self) -> int:
        return int(self.q2.shape[0])

    def curves(self, index: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Disorder-averaged g and xi_L/L over the instances ``index`` (all by default).

        Returns
        -------
        dict
            ``binder`` and ``correlation_length`` (= xi_L/L), each shape (n_T,).
        """
        sel = slice(None) if index is None else index
        return {
            "binder": binder_ratio(self.q2[sel].mean(axis=0), self.q4[sel].mean(axis=0)),
            "correlation_length": correlation_length_ratio(
                self.chi0[sel].mean(axis=0), self.chik[sel].mean(axis=0), self.L),
        }


def read_moments(path: str | os.PathLike) -> SizeMoments:
    """Read one simulation file and reduce it to per-instance thermal averages.

    ``q`` is read whole; ``overlap`` is read one instance at a time (one
    (instance, temperature) chunk per temperature), so memory stays at one
    instance's overlaps.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file; invalid format (via :func:`sgpoison.io.formats.open_simulation`);
        NaN in ``q``; overlap values other than +1/-1.
    """
    path = Path(path)
    ds = open_simulation(path, variables=("q", "overlap"))
    with ds:
        L = int(ds.attrs["L"])
        N = L ** 3
        T = np.asarray(ds["temperature"].values, dtype=np.float64)
        q = np.asarray(ds["q"].values, dtype=np.float64)
        n_bad = int(np.count_nonzero(~np.isfinite(q)))
        if n_bad:
            raise DataFormatError(f"{path}: variable 'q' has {n_bad} NaN/inf value(s)")
        n_inst = q.shape[0]
        chi0 = np.empty((n_inst, T.size))
        chik = np.empty((n_inst, T.size))
        max_dev = 0.0
        overlap = ds["overlap"]
        for i in range(n_inst):
            block = np.asarray(overlap[i].values)
            if np.any(np.abs(block.astype(np.int16)) != 1):
                raise DataFormatError(f"{path}: instance {i}: overlap values must be +1/-1")
            chi0[i], chik[i] = overlap_structure_factors(block)
            q_from_sites = block.sum(axis=(2, 3, 4), dtype=np.int64) / N
            max_dev = max(max_dev, float(np.max(np.abs(q_from_sites - q[i]))))
        attrs = attribute_values(ds.attrs)
    q2 = np.mean(q ** 2, axis=-1)
    q4 = np.mean(q ** 4, axis=-1)
    return SizeMoments(L=L, temperature=T, q2=q2, q4=q4, chi0=chi0, chik=chik,
                       q_overlap_max_deviation=max_dev, path=str(path), attrs=attrs)


def read_conventional_inputs(paths: Sequence[str | os.PathLike]) -> list[SizeMoments]:
    """Read the simulation files of the conventional analysis (one per L), sorted by L.

    Raises
    ------
    FileNotFoundError, DataFormatError
        As :func:`read_moments`; also fewer than ``MIN_SIZES`` sizes, two files
        with the same L, different temperature grids or disorder types, fewer than
        ``MIN_INSTANCES`` instances or ``MIN_TEMPERATURES`` temperatures in a file.
    """
    sizes = sorted((read_moments(p) for p in paths), key=lambda m: m.L)
    for a, b in zip(sizes, sizes[1:]):
        if a.L == b.L:
            raise DataFormatError(f"{a.path} and {b.path}: both have L={a.L}; give one file per size")
    if len(sizes) < MIN_SIZES:
        raise DataFormatError(
            f"{len(sizes)} system size(s) {[m.L for m in sizes]} given; the crossing analysis "
            f"needs at least {MIN_SIZES}")
    ref = sizes[0]
    for m in sizes:
        if m.n_instances < MIN_INSTANCES:
            raise DataFormatError(
                f"{m.path}: {m.n_instances} instance(s); the bootstrap needs at least {MIN_INSTANCES}")
        if m.temperature.size < MIN_TEMPERATURES:
            raise DataFormatError(f"{m.path}: {m.temperature.size} temperatures; need >= {MIN_TEMPERATURES}")
        if m.temperature.shape != ref.temperature.shape or not np.allclose(
                m.temperature, ref.temperature, rtol=1e-9, atol=1e-12):
            raise DataFormatError(
                f"{m.path}: temperature grid {m.temperature.tolist()} differs from that of "
                f"{ref.path} {ref.temperature.tolist()}")
        if m.attrs.get("disorder") != ref.attrs.get("disorder"):
            raise DataFormatError(
                f"{m.path}: disorder {m.attrs.get('disorder')!r} differs from {ref.path}: "
                f"{ref.attrs.get('disorder')!r}")
    return sizes


# --------------------------------------------------------------------------- crossings


def pair_crossing(temperature: np.ndarray, small: np.ndarray, small_err: np.ndarray,
                  large: np.ndarray, large_err: np.ndarray, n_fine: int) -> float:
    """Crossing of two decreasing-in-L-order curves (the larger size above below Tc).

    Both curves are smoothed with :func:`sgpoison.fss.stats.smoothing_spline`
    (non-finite points dropped) and compared on a fine grid spanning the
    temperatures where both are finite; returns the temperature where
    ``large - small`` goes from positive to non-positive (steepest such zero),
    NaN if none.
    """
    s1 = smoothing_spline(temperature, small, small_err)
    s2 = smoothing_spline(temperature, large, large_err)
    if s1 is None or s2 is None:
        return math.nan
    f1, f2 = np.isfinite(small), np.isfinite(large)
    t_lo = max(temperature[f1][0], temperature[f2][0])
    t_hi = min(temperature[f1][-1], temperature[f2][-1])
    if not t_hi > t_lo:
        return math.nan
    fine = np.linspace(t_lo, t_hi, n_fine)
    return oriented_root(fine, s2(fine) - s1(fine), increasing=False)


@dataclass
class ConventionalResult:
    """Everything :func:`analyze_conventional` computed.

    Attributes
    ----------
    sizes : list of SizeMoments
    settings : ConventionalSettings
    curves : dict of str to ndarray, shape (n_L, n_T)
        ``binder``, ``correlation_length`` (xi_L/L) from all instances.
    stderr : dict of str to ndarray, shape (n_L, n_T)
        Bootstrap standard deviations of the curves.
    crossings : dict of str to ndarray, shape (n_L - 1,)
        Crossing temperature of every pair of successive sizes.
    bootstrap_crossings : dict of str to ndarray, shape (n_bootstrap, n_L - 1)
    checks : dict
    transition_detected : bool
    reason : str or None
    """

    sizes: list[SizeMoments]
    settings: ConventionalSettings
    curves: dict[str, np.ndarray]
    stderr: dict[str, np.ndarray]
    crossings: dict[str, np.ndarray]
    bootstrap_crossings: dict[str, np.ndarray]
    checks: dict[str, dict[str, Any]]
    transition_detected: bool
    reason: str | None

    @property
    def L(self) -> np.ndarray:
        return np.array([m.L for m in self.sizes], dtype=np.int64)

    @property
    def temperature(self) -> np.ndarray:
        return self.sizes[0].temperature


def _all_crossings(temperature, curves, stderr, n_fine) -> np.ndarray:
    n_L = curves.shape[0]
    return np.array([pair_crossing(temperature, curves[i], stderr[i], curves[i + 1], stderr[i + 1], n_fine)
                     for i in range(n_L - 1)])


def analyze_conventional(sizes: Sequence[SizeMoments], settings: ConventionalSettings | None = None) -> ConventionalResult:
    """Binder ratio and xi_L/L curves, crossings of successive sizes, bootstrap, verdict.

    The bootstrap draws, for every size, ``n_instances`` instances with
    replacement (``numpy.random.default_rng(seed)``) and recomputes both curves;
    the standard deviation of the resampled curves weights the splines; the
    crossings are recomputed on every sample.

    Verdict: a transition is detected when the xi_L/L curves of the two largest
    sizes cross inside the temperature window, the crossing exists in at least
    ``min_bootstrap_fraction`` of the bootstrap samples, and its interval is
    narrower than ``max_interval_fraction`` of the window (check
    ``correlation_length_crossing``). The Binder crossing is checked the same way
    (``binder_crossing``) and reported as ``Tc_binder`` when it passes, but does
    not enter the verdict: in three-dimensional spin glasses the Binder curves
    barely splay below Tc (Katzgraber, Koerner & Young 2006).
    """
    settings = settings or ConventionalSettings()
    sizes = list(sizes)
    T = sizes[0].temperature
    n_L = len(sizes)
    curves = {name: np.array([m.curves()[name] for m in sizes]) for name in OBSERVABLES}
    resamples = bootstrap_indices([m.n_instances for m in sizes], settings.n_bootstrap, settings.seed)
    boot_curves = {name: np.empty((settings.n_bootstrap, n_L, T.size)) for name in OBSERVABLES}
    for b in range(settings.n_bootstrap):
        for i, m in enumerate(sizes):
            c = m.curves(resamples[i][b])
            for name in OBSERVABLES:
                boot_curves[name][b, i] = c[name]
    stderr = {name: bootstrap_stderr(boot_curves[name]) for name in OBSERVABLES}
    crossings = {name: _all_crossings(T, curves[name], stderr[name], settings.n_fine) for name in OBSERVABLES}
    boot_cross = {name: np.array([_all_crossings(T, boot_curves[name][b], stderr[name], settings.n_fine)
                                  for b in range(settings.n_bootstrap)]) for name in OBSERVABLES}

    window = float(T[-1] - T[0])
    checks = {}
    for name, label, affects in (("correlation_length", "xi_L/L", True), ("binder", "Binder ratio g", False)):
        central = crossings[name][-1]
        samples = boot_cross[name][:, -1]
        frac = float(np.mean(np.isfinite(samples)))
        lo, hi = percentile_interval(samples, settings.confidence)
        L1, L2 = sizes[-2].L, sizes[-1].L
        if not math.isfinite(central):
            ok, detail = False, (f"the {label} curves of L={L1} and L={L2} do not cross inside "
                                 f"[{T[0]:g}, {T[-1]:g}]")
        elif frac < settings.min_bootstrap_fraction:
            ok, detail = False, (f"the {label} crossing of L={L1} and L={L2} exists in only {100 * frac:.0f}% "
                                 f"of the bootstrap samples (need >= {100 * settings.min_bootstrap_fraction:.0f}%)")
        elif not (hi - lo) <= settings.max_interval_fraction * window:
            ok, detail = False, (f"the bootstrap interval [{lo:.3f}, {hi:.3f}] of the {label} crossing spans "
                                 f"more than {settings.max_interval_fraction:g} of the temperature window")
        else:
            ok, detail = True, (f"{label} curves of L={L1} and L={L2} cross at {central:.4f} "
                                f"(in {100 * frac:.0f}% of bootstrap samples)")
        checks[f"{name}_crossing"] = {"passed": ok, "affects_verdict": affects, "bootstrap_fraction": frac,
                                      "detail": detail}
    failed = [v["detail"] for v in checks.values() if v["affects_verdict"] and not v["passed"]]
    return ConventionalResult(sizes=sizes, settings=settings, curves=curves, stderr=stderr, crossings=crossings,
                          bootstrap_crossings=boot_cross, checks=checks, transition_detected=not failed,
                          reason="; ".join(failed) if failed else None)


# --------------------------------------------------------------------------- output


def conventional_estimates_dict(result: ConventionalResult) -> dict[str, Any]:
    """The content of the conventional ``estimates.json`` (schema in docs/analysis.md)."""
    s = result.settings
    L = result.L
    c_xi, c_g = result.checks["correlation_length_crossing"], result.checks["binder_crossing"]
    estimates = {
        "Tc_conventional": estimate_entry(
            result.crossings["correlation_length"][-1], result.bootstrap_crossings["correlation_length"][:, -1],
            s.confidence, f"crossing of xi_L/L for the two largest sizes L={L[-2]}, {L[-1]}",
            withheld=not c_xi["passed"]),
        "Tc_binder": estimate_entry(
            result.crossings["binder"][-1], result.bootstrap_crossings["binder"][:, -1],
            s.confidence, f"crossing of the Binder ratio g for the two largest sizes L={L[-2]}, {L[-1]}",
            withheld=not c_g["passed"]),
    }
    crossings = {
        name: [{"L1": int(L[i]), "L2": int(L[i + 1]),
                **estimate_entry(result.crossings[name][i], result.bootstrap_crossings[name][:, i], s.confidence,
                                 f"crossing of {name} curves of successive sizes")}
               for i in range(len(L) - 1)]
        for name in OBSERVABLES
    }
    first = result.sizes[0].attrs
    out = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "conventional",
        "disorder": first.get("disorder"),
        "sweep_fraction": first.get("sweep_fraction"),
        "L": [int(l) for l in L],
        "n_instances": {str(m.L): m.n_instances for m in result.sizes},
        "temperatures": result.temperature.tolist(),
        "transition_detected": result.transition_detected,
        "reason": result.reason,
        "failed_checks": [k for k, v in result.checks.items() if v["affects_verdict"] and not v["passed"]],
        "checks": result.checks,
        "estimates": estimates,
        "crossings": crossings,
        "consistency": {"q_overlap_max_deviation": {str(m.L): m.q_overlap_max_deviation for m in result.sizes}},
        "settings": asdict(s),
        "inputs": [{"path": m.path, "L": m.L, "n_instances": m.n_instances, "attrs": m.attrs}
                   for m in result.sizes],
        "provenance": provenance({"command": "conventional", "data": [m.path for m in result.sizes], **asdict(s)}),
    }
    return to_jsonable(out)


def conventional_dataset(result: ConventionalResult, estimates: Mapping[str, Any]) -> xr.Dataset:
    """The content of the conventional ``estimates.nc``.

    Variables: ``binder``, ``binder_stderr``, ``xi_over_L``, ``xi_over_L_stderr``,
    ``chi0``, ``chi_kmin``, ``q2``, ``q4`` (disorder averages) (L, temperature);
    ``n_instances`` (L); ``binder_crossing``, ``xi_over_L_crossing`` (pair);
    ``bootstrap_binder_crossing``, ``bootstrap_xi_over_L_crossing`` (bootstrap, pair);
    0-d ``Tc_conventional`` and ``Tc_binder`` (attrs ``error``, ``ci_low``,
    ``ci_high``). Attributes: ``transition_detected`` (0/1), ``reason``,
    ``estimates_json``, ``disorder``, provenance.
    """
    L = result.L
    avg = {k: np.array([getattr(m, k).mean(axis=0) for m in result.sizes]) for k in ("q2", "q4", "chi0", "chik")}
    ds = xr.Dataset(
        {
            "binder": (("L", "temperature"), result.curves["binder"], {"long_name": "Binder ratio g"}),
            "binder_stderr": (("L", "temperature"), result.stderr["binder"]),
            "xi_over_L": (("L", "temperature"), result.curves["correlation_length"],
                          {"long_name": "finite-size correlation length over L"}),
            "xi_over_L_stderr": (("L", "temperature"), result.stderr["correlation_length"]),
            "q2": (("L", "temperature"), avg["q2"], {"long_name": "[<q^2>]"}),
            "q4": (("L", "temperature"), avg["q4"], {"long_name": "[<q^4>]"}),
            "chi0": (("L", "temperature"), avg["chi0"], {"long_name": "chi(0) = N [<q^2>]"}),
            "chi_kmin": (("L", "temperature"), avg["chik"], {"long_name": "chi(k_min) = N [<|q(k_min)|^2>]"}),
            "n_instances": (("L",), np.array([m.n_instances for m in result.sizes])),
            "binder_crossing": (("pair",), result.crossings["binder"], {"units": "J"}),
            "xi_over_L_crossing": (("pair",), result.crossings["correlation_length"], {"units": "J"}),
            "bootstrap_binder_crossing": (("bootstrap", "pair"), result.bootstrap_crossings["binder"]),
            "bootstrap_xi_over_L_crossing": (("bootstrap", "pair"),
                                             result.bootstrap_crossings["correlation_length"]),
        },
        coords={"L": L, "temperature": ("temperature", result.temperature, {"units": "J"}),
                "L1": ("pair", L[:-1]), "L2": ("pair", L[1:])},
    )
    for name, entry in estimates["estimates"].items():
        nan_if_none = lambda v: np.float64(np.nan if v is None else v)  # noqa: E731
        ds[name] = ((), nan_if_none(entry["value"]), {
            "error": nan_if_none(entry["error"]), "ci_low": nan_if_none(entry["ci_low"]),
            "ci_high": nan_if_none(entry["ci_high"]), "description": entry["description"]})
    ds.attrs.update({
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION, "kind": "conventional",
        "transition_detected": np.int8(result.transition_detected), "reason": result.reason or "",
        "disorder": str(estimates.get("disorder")),
        "estimates_json": to_json(estimates), **estimates["provenance"],
    })
    return ds


def write_conventional(result: ConventionalResult, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write ``out_dir/estimates.json`` and ``out_dir/estimates.nc`` (atomically); return the JSON content."""
    out_dir = Path(out_dir)
    estimates = conventional_estimates_dict(result)
    write_json(estimates, out_dir / "estimates.json")
    write_netcdf(conventional_dataset(result, estimates), out_dir / "estimates.nc")
    return estimates
