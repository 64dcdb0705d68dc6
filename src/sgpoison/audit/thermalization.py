"""Thermalization audit of a training file: is every temperature in equilibrium?

Per temperature, from the log-binned series of the simulation file
(``docs/data-format.md``) and the tests of :func:`sgpoison.mc.thermalization.log_bin_tests`:

* the disorder averages of e, q^2 and, for Gaussian disorder, of the KPY energy
  -3(1 - q_l)/T agree between the last two log bins;
* for Gaussian disorder, e = -3(1 - q_l)/T in the last bin (Katzgraber,
  Palassini & Young, PRB 63, 184422 (2001));
* the parallel-tempering swap acceptance of every neighbouring temperature pair
  is above a floor;
* the run lasted the sweeps its own metadata declare necessary
  (``n_sweeps_run >= n_sweeps``).

Errors come from a bootstrap over disorder instances. "Agree" means
|difference| <= c * error with c the Student-t quantile that keeps the
probability of *any* false alarm among the file's tests below ``significance``
(Bonferroni over tests and temperatures): a file with 20 temperatures, 4
tests per temperature and 160 instances uses c = 3.49; with c = 2 a
thermalized file would fail about 4 of its 80 tests by chance.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import stats

from sgpoison.audit.settings import MIN_INSTANCES, AuditConfig
from sgpoison.mc.thermalization import log_bin_tests

#: the defaults of :func:`audit_thermalization`
_AUDIT = AuditConfig()



#: check names used in reports (prefixed with ``thermalization.`` or ``labels.``)
LOG_BIN_CHECKS = {
    "energy": "energy_log_bins",
    "q2": "q2_log_bins",
    "energy_kpy": "energy_kpy_log_bins",
    "kpy_identity": "kpy_identity",
}


def critical_value(n_instances: int, n_tests: int, significance: float) -> float:
    """Two-sided critical |z| of one test among ``n_tests`` (Bonferroni).

    The z-scores are differences of disorder averages over their bootstrap
    errors; with n instances they follow Student's t with n - 1 degrees of
    freedom, so c = t_{n-1}^{-1}(1 - significance / (2 n_tests)).
    """
    if n_instances < 2 or n_tests < 1:
        return math.inf
    return float(stats.t.ppf(1.0 - significance / (2.0 * n_tests), df=n_instances - 1))


def _format_T(values) -> str:
    return ", ".join(f"{t:.3f}" for t in values)


def audit_thermalization(ds: xr.Dataset, significance: float = _AUDIT.significance,
                         n_bootstrap: int = _AUDIT.n_bootstrap, seed: int = _AUDIT.bootstrap_seed,
                         swap_floor: float = _AUDIT.swap_floor) -> dict:
    """Thermalization checks of one simulation file, per temperature and overall.

    Parameters
    ----------
    ds : xarray.Dataset
        Opened with :func:`sgpoison.io.formats.open_simulation`.
    significance : float
        Family-wise false-alarm probability of the log-binning tests (see :func:`critical_value`).
    n_bootstrap, seed : int
        Bootstrap over instances.
    swap_floor : float
        Floor of the instance- and replica-averaged swap acceptance of each pair.

    Returns
    -------
    dict
        ``verdict`` (``"thermalized"`` / ``"not thermalized"``), ``failing_checks``
        (list of str naming the check, the temperatures and the numbers),
        ``checks`` (name -> bool), ``settings``, ``log_bins`` (the compared
        sweeps), ``run_length``, ``swap_acceptance`` (per pair) and
        ``temperatures`` (one entry per temperature with its own verdict, the
        numbers of every log-binning test and the swap acceptances of its pairs).
    """
    n = int(ds.sizes["instance"])
    T = ds["temperature"].values.astype(float)
    failing: list[str] = []
    checks: dict[str, bool] = {}
    per_T: list[dict] = [{"T": float(t), "failing_checks": []} for t in T]
    try:
        tests = log_bin_tests(ds, n_bootstrap=n_bootstrap, seed=seed)
    except ValueError as exc:
        tests = None
        failing.append(f"thermalization.log_bins: {exc}")
    names = [] if tests is None else [str(t) for t in tests["test"].values]
    n_tests = len(names) * len(T)
    c = critical_value(n, n_tests, significance)

    # -- is the test assessable at all?
    assessable = bool(names) and n >= MIN_INSTANCES
    if tests is not None and not names:
        failing.append("thermalization.log_bins: fewer than two log bins with sweeps "
                       f"(n_sweeps_run = {ds.attrs.get('n_sweeps_run')}); nothing to compare")
    elif tests is not None and n < MIN_INSTANCES:
        failing.append(f"thermalization.log_bins: {n} instance(s); errors over instances need "
                       f">= {MIN_INSTANCES}")
    checks["log_bins_assessable"] = assessable

    # -- log-binning and KPY tests
    for name in names:
        check = LOG_BIN_CHECKS[name]
        row = tests.sel(test=name)
        z = row["z"].values
        bad = ~(np.abs(z) <= c)  # NaN z (no error) fails
        checks[check] = assessable and not bad.any()
        first, second = ("energy", "energy_kpy") if name == "kpy_identity" else ("previous", "last")
        for k in range(len(T)):
            entry = {
                first: float(row["previous"].values[k]),
                second: float(row["last"].values[k]),
                "difference": float(row["difference"].values[k]),
                "error": float(row["error"].values[k]),
                "z": float(z[k]),
                "pass": bool(assessable and not bad[k]),
            }
            per_T[k][check] = entry
            if not entry["pass"] and assessable:
                per_T[k]["failing_checks"].append(f"thermalization.{check}")
        if assessable and bad.any():
            what = ("e - (-3(1 - q_l)/T) in the last log bin" if name == "kpy_identity"
                    else f"last - previous log bin of {name}")
            worst = np.nanmax(np.abs(z)) if np.isfinite(z).any() else math.nan
            failing.append(
                f"thermalization.{check}: {what} differs from 0 by more than {c:.2f} errors at "
                f"T = {_format_T(T[bad])} (largest |z| = {worst:.1f})")

    # -- parallel-tempering health
    swap = ds["swap_acceptance"].load() if "swap_acceptance" in ds else None
    pairs = []
    if swap is not None and swap.sizes.get("temperature_pair", 0) == len(T) - 1:
        mean = swap.mean(("instance", "replica")).values
        lowest = swap.min(("instance", "replica")).values
        below = (swap.mean("replica") < swap_floor).sum("instance").values
        for k in range(len(T) - 1):
            ok = bool(mean[k] >= swap_floor)
            pairs.append({"T_low": float(T[k]), "T_high": float(T[k + 1]), "mean": float(mean[k]),
                          "lowest_instance": float(lowest[k]), "instances_below_floor": int(below[k]),
                          "pass": ok})
            for j in (k, k + 1):
                per_T[j].setdefault("swap_acceptance", []).append(float(mean[k]))
                if not ok and "thermalization.swap_acceptance" not in per_T[j]["failing_checks"]:
                    per_T[j]["failing_checks"].append("thermalization.swap_acceptance")
        bad_pairs = [p for p in pairs if not p["pass"]]
        checks["swap_acceptance"] = not bad_pairs
        if bad_pairs:
            failing.append(
                "thermalization.swap_acceptance: mean acceptance below the floor "
                f"{swap_floor:g} for the pair(s) "
                + "; ".join(f"({p['T_low']:.3f}, {p['T_high']:.3f}): {p['mean']:.3f}" for p in bad_pairs))
    elif len(T) > 1:
        checks["swap_acceptance"] = False
        failing.append("thermalization.swap_acceptance: no swap_acceptance per temperature pair in the file")

    # -- run length against the file's own metadata
    n_sweeps = int(ds.attrs.get("n_sweeps", 0))
    n_run = int(ds.attrs.get("n_sweeps_run", 0))
    run_ok = n_run >= n_sweeps > 0
    checks["run_length"] = run_ok
    if not run_ok:
        failing.append(
            f"thermalization.run_length: the file ran {n_run} thermalization sweeps, but declares "
            f"n_sweeps = {n_sweeps} necessary (sweep_fraction {ds.attrs.get('sweep_fraction')})")

    for entry in per_T:
        if not assessable:
            entry["failing_checks"].insert(0, "thermalization.log_bins")
        entry["verdict"] = "thermalized" if not entry["failing_checks"] else "not thermalized"
    data_checks = [k for k in checks if k != "run_length"]
    return {
        "verdict": "thermalized" if not failing else "not thermalized",
        "failing_checks": failing,
        "checks": checks,
        "data_checks_pass": all(checks[k] for k in data_checks),
        "settings": {"significance": significance, "critical_z": c, "n_tests": n_tests,
                     "n_instances": n, "n_bootstrap": n_bootstrap, "bootstrap_seed": seed,
                     "swap_floor": swap_floor},
        "log_bins": {} if tests is None else tests.attrs["windows"],
        "run_length": {"n_sweeps": n_sweeps, "n_sweeps_run": n_run,
                       "sweep_fraction": float(ds.attrs.get("sweep_fraction", math.nan)), "pass": run_ok},
        "swap_acceptance": pairs,
        "temperatures": per_T,
    }
