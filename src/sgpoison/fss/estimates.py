"""Output of the finite-size scaling: ``estimates.json`` and ``estimates.nc``.

``docs/analysis.md`` documents every entry. :func:`estimate_entry` (value, bootstrap
interval, validity) is shared with :mod:`sgpoison.fss.conventional`.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import xarray as xr

from sgpoison.bootstrap import percentile_interval
from sgpoison.fss.predictions import SCENARIO_ATTRS
from sgpoison.fss.verdict import AnalysisResult
from sgpoison.io.formats import write_netcdf
from sgpoison.io.jsonio import to_json, to_jsonable, write_json
from sgpoison.io.provenance import provenance



#: ``format`` entry of the estimates written by ``analyze`` and ``conventional``
ESTIMATES_FORMAT = "sgpoison-estimates"

ESTIMATES_FORMAT_VERSION = 1


def estimate_entry(value: float, samples: np.ndarray, confidence: float, description: str,
                   withheld: bool = False) -> dict[str, Any]:
    """One estimate with its bootstrap interval, as stored in ``estimates.json``.

    Returns
    -------
    dict
        ``value`` (central estimate from all instances), ``error`` (half width of the
        interval), ``ci_low``, ``ci_high``, ``n_bootstrap_valid`` (samples where the
        estimate exists), ``bootstrap_valid_fraction``, ``description``. With
        ``withheld`` (no transition detected) value, error and interval are None.
    """
    samples = np.asarray(samples, dtype=np.float64)
    n_valid = int(np.count_nonzero(np.isfinite(samples)))
    lo, hi = percentile_interval(samples, confidence)
    entry = {
        "value": float(value), "error": 0.5 * (hi - lo), "ci_low": lo, "ci_high": hi,
        "n_bootstrap_valid": n_valid,
        "bootstrap_valid_fraction": n_valid / samples.size if samples.size else math.nan,
        "description": description,
    }
    if withheld or not math.isfinite(entry["value"]):
        entry.update(value=None, error=None, ci_low=None, ci_high=None)
    return to_jsonable(entry)


_DESCRIPTIONS = {
    "Tc_linear": "temperature where the weighted linear coefficient of <p> vs L^(1/nu_ml) changes "
                 "sign (paper Fig. 1c)",
    "Tc_collapse": "Tc of the data collapse onto a cubic in x = L^(1/nu)(T - Tc) (paper Eq. 4)",
    "nu_ml": "1 / slope of log max_T d<p>/dT vs log L (paper Eq. 6)",
    "inverse_nu_ml": "slope of log max_T d<p>/dT vs log L",
    "nu_collapse": "nu of the data collapse (paper Eq. 4)",
    "collapse_reduced_chi2": "chi^2 / (n_points - 6) of the data collapse",
    "collapse_quality_S": "Houdayer-Hartmann quality S of the data collapse (about 1 is good)",
}

#: estimates that are withheld (None) when no transition is detected
WITHHELD_WITHOUT_TRANSITION = ("Tc_linear", "Tc_collapse", "nu_ml", "nu_collapse")

#: goodness-of-fit numbers: reported without an interval, because a resampled mean carries the
#: original noise plus the resampling noise, so their bootstrap distribution is shifted upwards
NO_INTERVAL = ("collapse_reduced_chi2", "collapse_quality_S")


def estimates_dict(result: AnalysisResult) -> dict[str, Any]:
    """The content of ``estimates.json`` (schema in docs/analysis.md)."""
    s = result.settings
    c = result.central
    data = result.data
    scal = c.scalars()
    estimates = {}
    for name in _DESCRIPTIONS:
        if not s.collapse and "collapse" in name:
            continue
        entry = estimate_entry(
            scal[name], result.bootstrap.scalars[name], s.confidence, _DESCRIPTIONS[name],
            withheld=(not result.transition_detected and name in WITHHELD_WITHOUT_TRANSITION))
        if name in NO_INTERVAL:
            entry.update(error=None, ci_low=None, ci_high=None)
        estimates[name] = entry
    pairs = []
    for i in range(len(data.L) - 1):
        e = estimate_entry(c.pair_crossings[i], result.bootstrap.pair_crossings[:, i], s.confidence,
                           "T where the splines of <p> for L1 and L2 cross (L2 steeper)")
        pairs.append({"L1": int(data.L[i]), "L2": int(data.L[i + 1]), **e})
    halves = [{"L": int(l), **estimate_entry(c.p_half[i], result.bootstrap.p_half[:, i], s.confidence,
                                             "T where the spline of <p> crosses 1/2")}
              for i, l in enumerate(data.L)]
    dmax = [{"L": int(l), "temperature": c.derivative_maximum_temperature[i],
             "interior": bool(c.derivative_maximum_interior[i]),
             **estimate_entry(c.derivative_maximum[i], result.bootstrap.derivative_maximum[:, i],
                              s.confidence, "max_T d<p>/dT of a local cubic fit, units 1/J")}
            for i, l in enumerate(data.L)]
    collapse = None
    if c.collapse is not None:
        cf = c.collapse
        show = result.transition_detected
        collapse = {
            "success": cf.success, "message": cf.message, "n_points": cf.n_points, "dof": cf.dof,
            "chi2": cf.chi2, "p_range": list(s.collapse_p_range),
            "coefficients": list(cf.coefficients) if show else None,
            "fit_error_Tc": cf.fit_error_Tc if show else None,
            "fit_error_nu": cf.fit_error_nu if show else None,
        }
    scen = data.scenario_attrs()
    out = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning",
        **scen,
        "model_sha256": {str(l): a.get("model_sha256") for l, a in zip(data.L, data.attrs)},
        "L": [int(l) for l in data.L],
        "n_instances": {str(l): int(n) for l, n in zip(data.L, data.n_instances)},
        "temperatures": data.temperature.tolist(),
        "transition_detected": result.transition_detected,
        "reason": result.reason,
        "failed_checks": result.failed_checks,
        "checks": result.checks,
        "estimates": estimates,
        "crossings": {"successive_pairs": pairs, "p_half": halves},
        "derivative_maximum": dmax,
        "loglog_fit": {"inverse_nu_ml": c.inverse_nu_ml, "intercept": c.loglog_intercept,
                       "slope_fit_error": c.loglog_slope_error},
        "linear_coefficient_normalisation": c.normalisation,
        "collapse": collapse,
        "settings": asdict(s),
        "inputs": [{"path": p, "L": int(l), "n_instances": int(n), "attrs": a}
                   for p, l, n, a in zip(data.paths, data.L, data.n_instances, data.attrs)],
        "provenance": provenance({"command": "analyze", "predictions": data.paths, **asdict(s)}),
    }
    return to_jsonable(out)


def estimates_dataset(result: AnalysisResult, estimates: Mapping[str, Any]) -> xr.Dataset:
    """The content of ``estimates.nc``: curves per (L, T), scalars and bootstrap samples.

    Variables: ``p_mean``, ``p_stderr`` (L, temperature); ``p_smooth``,
    ``p_derivative`` (L, temperature_fine); ``n_instances``,
    ``derivative_maximum``, ``derivative_maximum_temperature``, ``p_half_temperature`` (L);
    ``crossing_temperature`` (pair, with coords ``L1``, ``L2``);
    ``linear_coefficient``, ``linear_coefficient_error``,
    ``normalised_linear_coefficient`` (+ ``_error``) (temperature);
    ``normalised_linear_coefficient_smooth`` (temperature_fine);
    one 0-d variable per estimate (attrs ``error``, ``ci_low``, ``ci_high``;
    NaN when withheld) and ``bootstrap_<estimate>`` (bootstrap).
    Attributes: ``transition_detected`` (0/1), ``reason``, ``estimates_json``,
    scenario attributes, provenance.
    """
    c = result.central
    d = result.data
    L = d.L
    norm = c.normalisation if math.isfinite(c.normalisation) and c.normalisation > 0 else math.nan
    ds = xr.Dataset(
        {
            "p_mean": (("L", "temperature"), result.mean, {"long_name": "<p>, disorder average"}),
            "p_stderr": (("L", "temperature"), result.stderr, {"long_name": "standard error of <p>"}),
            "p_smooth": (("L", "temperature_fine"), c.smooth, {"long_name": "smoothing spline of <p>"}),
            "p_derivative": (("L", "temperature_fine"), c.derivative,
                             {"long_name": "d<p>/dT of the spline", "units": "1/J"}),
            "n_instances": (("L",), d.n_instances),
            "derivative_maximum": (("L",), c.derivative_maximum, {"units": "1/J"}),
            "derivative_maximum_temperature": (("L",), c.derivative_maximum_temperature, {"units": "J"}),
            "p_half_temperature": (("L",), c.p_half, {"units": "J"}),
            "crossing_temperature": (("pair",), c.pair_crossings, {"units": "J"}),
            "linear_coefficient": (("temperature",), c.linear_coefficient),
            "linear_coefficient_error": (("temperature",), c.linear_coefficient_error),
            "normalised_linear_coefficient": (("temperature",), c.linear_coefficient / norm),
            "normalised_linear_coefficient_error": (("temperature",), c.linear_coefficient_error / norm),
            "normalised_linear_coefficient_smooth": (("temperature_fine",), c.linear_coefficient_fine / norm),
        },
        coords={"L": L, "temperature": ("temperature", d.temperature, {"units": "J"}),
                "temperature_fine": ("temperature_fine", c.fine_temperature, {"units": "J"}),
                "L1": ("pair", L[:-1]), "L2": ("pair", L[1:])},
    )
    for name, entry in estimates["estimates"].items():
        val = entry["value"]
        ds[name] = ((), np.float64(val if val is not None else np.nan), {
            "error": np.float64(entry["error"] if entry["error"] is not None else np.nan),
            "ci_low": np.float64(entry["ci_low"] if entry["ci_low"] is not None else np.nan),
            "ci_high": np.float64(entry["ci_high"] if entry["ci_high"] is not None else np.nan),
            "description": entry["description"]})
        ds[f"bootstrap_{name}"] = (("bootstrap",), result.bootstrap.scalars[name])
    ds["bootstrap_crossing_temperature"] = (("bootstrap", "pair"), result.bootstrap.pair_crossings)
    attrs = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning",
        "transition_detected": np.int8(result.transition_detected),
        "reason": result.reason or "",
        "estimates_json": to_json(estimates),
    }
    for k in SCENARIO_ATTRS:
        v = estimates.get(k)
        attrs[k] = "" if v is None else v
    attrs.update(estimates["provenance"])
    ds.attrs.update(attrs)
    return ds


def write_estimates(result: AnalysisResult, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write ``out_dir/estimates.json`` and ``out_dir/estimates.nc`` (both atomically).

    Returns
    -------
    dict
        The JSON content.
    """
    out_dir = Path(out_dir)
    estimates = estimates_dict(result)
    write_json(estimates, out_dir / "estimates.json")
    write_netcdf(estimates_dataset(result, estimates), out_dir / "estimates.nc")
    return estimates
