"""Output of the finite-size scaling: ``estimates.json`` and ``estimates.nc``.

``docs/analysis.md`` documents every entry (format version 2: every classifier of the
scenario, the CNN at the top level and each null model under ``nulls``, the CNN - null
comparisons under ``comparisons``). :func:`estimate_entry` (value, bootstrap interval,
validity) is shared with :mod:`sgpoison.fss.conventional`.
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
from sgpoison.fss.chain import size_pairs, successive_pairs
from sgpoison.fss.predictions import CNN, SCENARIO_ATTRS
from sgpoison.fss.verdict import COMPARED, AnalysisResult, ScenarioResult
from sgpoison.io.formats import write_netcdf
from sgpoison.errors import DataFormatError
from sgpoison.io.jsonio import read_json, to_json, to_jsonable, write_json
from sgpoison.io.provenance import provenance

#: ``format`` entry of the estimates written by ``analyze`` and ``conventional``
ESTIMATES_FORMAT = "sgpoison-estimates"
#: 2: every classifier (CNN ensemble, null models), no withheld estimates, two-level bootstrap
ESTIMATES_FORMAT_VERSION = 2

#: attributes of the prediction files reported at the top of ``estimates.json``
REPORTED_ATTRS = SCENARIO_ATTRS + ("t_label", "disorder", "training_disorder", "label_noise_mode")

PAPER = "paper (Fang, Barzegar & Katzgraber 2020)"

#: every scalar estimate: name -> (method, description, needs)
ESTIMATES: dict[str, tuple[str, str, str]] = {
    "Tc_crossing": ("crossing", "weighted mean of the crossings of the splines of <p> of every pair of "
                                "sizes (larger size steeper), weights = delta-method inverse variances",
                    "always"),
    "crossing_drift": ("crossing", "weighted slope of the successive-pair crossings against 1/L_mean "
                                   "(units J; 0 without corrections to scaling)", "always"),
    "Tc_linear": ("linear coefficient", "zero (negative to positive) of the weighted slope of <p> vs "
                                        "L^(1/nu_collapse) (paper Fig. 1c with nu of the full collapse)",
                  "collapse"),
    "Tc_collapse": ("full collapse", "Tc of the data collapse onto a cubic in x = L^(1/nu)(T - Tc), Tc and nu "
                                     "free (paper Eq. 4)", "collapse"),
    "nu_collapse": ("full collapse", "nu of the full data collapse", "collapse"),
    "collapse_reduced_chi2": ("full collapse", "chi^2 / dof of the full collapse with the total errors",
                              "collapse"),
    "collapse_quality_S": ("full collapse", "Houdayer-Hartmann quality S of the full collapse (about 1 is "
                                            "good)", "collapse"),
    "nu_ml": (PAPER, "1 / slope of log max_T d<p>/dT vs log L (paper Eq. 6); needs an interior maximum for "
                     "every L", "paper"),
    "inverse_nu_ml": (PAPER, "slope of log max_T d<p>/dT vs log L", "paper"),
    "paper_Tc_linear": (PAPER, "zero of the weighted slope of <p> vs L^(1/nu_ml) (paper Fig. 1c)", "paper"),
    "paper_Tc_collapse": (PAPER, "Tc of the collapse with nu fixed at nu_ml (paper Eq. 4)", "paper+collapse"),
    "paper_collapse_reduced_chi2": (PAPER, "chi^2 / dof of the collapse with nu = nu_ml", "paper+collapse"),
}

#: goodness-of-fit numbers: reported without an interval, because a resampled mean carries the
#: original noise plus the resampling noise, so their bootstrap distribution is shifted upwards
NO_INTERVAL = ("collapse_reduced_chi2", "collapse_quality_S", "paper_collapse_reduced_chi2")


def estimate_entry(value: float, samples: np.ndarray, confidence: float, description: str,
                   withheld: bool = False) -> dict[str, Any]:
    """One estimate with its bootstrap interval, as stored in ``estimates.json``.

    Returns
    -------
    dict
        ``value`` (central estimate from all data), ``error`` (half width of the
        interval), ``ci_low``, ``ci_high``, ``n_bootstrap_valid`` (samples where the
        estimate exists), ``bootstrap_valid_fraction``, ``description``. When the
        estimate does not exist in the central data (or is ``withheld``: only the
        conventional analysis withholds), value, error and interval are None.
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


def computed_estimates(settings) -> list[str]:
    """Names of :data:`ESTIMATES` that ``settings`` computes (``paper_chain``, ``collapse``)."""
    have = {"always": True, "collapse": settings.collapse, "paper": settings.paper_chain,
            "paper+collapse": settings.paper_chain and settings.collapse}
    return [name for name, (_, _, needs) in ESTIMATES.items() if have[needs]]


def _fit_dict(fit) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {"success": fit.success, "message": fit.message, "Tc": fit.Tc, "nu": fit.nu,
            "nu_fixed": fit.nu_fixed, "correction_omega": fit.correction_omega,
            "n_points": fit.n_points, "dof": fit.dof, "chi2": fit.chi2, "reduced_chi2": fit.reduced_chi2,
            "quality_S": fit.quality_S, "coefficients": list(fit.coefficients),
            "fit_error_Tc": fit.fit_error_Tc, "fit_error_nu": fit.fit_error_nu}


def classifier_dict(result: AnalysisResult) -> dict[str, Any]:
    """Everything ``estimates.json`` reports about one classifier (docs/analysis.md)."""
    s, c, d, avg = result.settings, result.central, result.data, result.average
    L = d.L
    estimates = {}
    for name in computed_estimates(s):
        method, description, _ = ESTIMATES[name]
        entry = estimate_entry(result.scalars[name], result.bootstrap.scalars[name], s.confidence, description)
        if name in NO_INTERVAL:
            entry.update(error=None, ci_low=None, ci_high=None)
        estimates[name] = {"method": method, **entry}
    succ = set(successive_pairs(len(L)).tolist())
    pairs = [{"L1": int(L[i]), "L2": int(L[j]), "successive": k in succ,
              "weight": float(c.pair_weights[k] / c.pair_weights.sum()) if c.pair_weights.sum() > 0 else None,
              **estimate_entry(c.pair_crossings[k], result.bootstrap.pair_crossings[:, k], s.confidence,
                               "T where the splines of <p> of L1 and L2 cross (L2 steeper)")}
             for k, (i, j) in enumerate(size_pairs(len(L)))]
    halves = [{"L": int(l), **estimate_entry(c.p_half[i], result.bootstrap.p_half[:, i], s.confidence,
                                             "T where the spline of <p> crosses 1/2")}
              for i, l in enumerate(L)]
    drift_lo, drift_hi = percentile_interval(result.bootstrap.scalars["crossing_drift"], s.comparison_confidence)
    drift_significant = (bool(drift_lo > 0 or drift_hi < 0)
                         if math.isfinite(drift_lo) and math.isfinite(c.crossing_drift) else None)
    dmax = [{"L": int(l), "temperature": c.derivative_maximum_temperature[i],
             "interior": bool(c.derivative_maximum_interior[i]),
             **estimate_entry(c.derivative_maximum[i], result.bootstrap.derivative_maximum[:, i],
                              s.confidence, "max_T d<p>/dT of a local cubic fit, units 1/J")}
            for i, l in enumerate(L)] if s.paper_chain else []
    scan = c.Tc_linear_scan
    defined = scan[np.isfinite(scan)]
    K = avg.n_networks
    estimated = bool(K > 1 and avg.network_level)
    if K == 1:
        network_note = "one network per size: the network-to-network variance is not estimated"
    elif not avg.network_level:
        network_note = f"{K} networks per size averaged, but not resampled (network_level = false)"
    else:
        network_note = f"{K} networks per size, resampled in the bootstrap"
    by_size: dict[int, list] = {}
    for path, attrs, (l, k) in zip(d.paths, d.attrs, d.files):
        by_size.setdefault(int(l), []).append((k, attrs.get("model_sha256")))
    return to_jsonable({
        "classifier": d.classifier,
        "n_networks": K,
        "network_variance_estimated": estimated,
        "transition_detected": result.transition_detected,
        "reason": result.reason,
        "failed_checks": result.failed_checks,
        "checks": result.checks,
        "estimates": estimates,
        "crossings": {
            "pairs": pairs, "p_half": halves,
            "combination": {
                "rule": "Tc_crossing = sum_p w_p T*_p / sum_p w_p over the pairs p of sizes that cross, "
                        "w_p = (s_L2 - s_L1)^2 / (sigma_L1^2 + sigma_L2^2) at T*_p (slopes of the splines, "
                        "total errors), recomputed in every bootstrap sample; exists when every size "
                        "crosses another",
                "drift_confidence": s.comparison_confidence,
                "drift_ci_low": drift_lo, "drift_ci_high": drift_hi,
                "drift_significant": drift_significant,
                "note": (None if drift_significant is None else
                         "the successive crossings drift significantly with 1/L: Tc_crossing is an average "
                         "over the sizes, not an extrapolation" if drift_significant else
                         "no significant drift of the successive crossings with 1/L"),
            },
        },
        "derivative_maximum": dmax,
        "loglog_fit": {"inverse_nu_ml": c.inverse_nu_ml, "intercept": c.loglog_intercept,
                       "slope_fit_error": c.loglog_slope_error},
        "linear_coefficient_nu_scan": {
            "nu": c.nu_scan, "Tc_linear": scan,
            "min": float(defined.min()) if defined.size else None,
            "max": float(defined.max()) if defined.size else None,
            "spread": float(np.ptp(defined)) if defined.size else None,
            "n_defined": int(defined.size),
        },
        "collapse": dict(_fit_dict(c.collapse) or {}, p_range=list(s.collapse_p_range),
                         nu_bounds=list(s.collapse_nu_bounds)) if c.collapse is not None else None,
        "paper_collapse": _fit_dict(c.paper_collapse),
        "networks": {
            "n_networks": K, "network_variance_estimated": estimated, "note": network_note,
            "per_size": [{"L": int(l), "spread": avg.network_spread[i],
                          "variance_share": avg.network_variance_share[i]} for i, l in enumerate(L)],
        },
        "model_sha256": {str(l): [sha for _, sha in sorted(v)] for l, v in by_size.items()},
        "n_instances": {str(l): int(n) for l, n in zip(L, d.n_instances)},
        "inputs": [{"path": p, "L": int(l), "network_index": int(k), "attrs": a}
                   for p, a, (l, k) in zip(d.paths, d.attrs, d.files)],
    })


def comparison_dict(comparison) -> dict[str, Any]:
    """One CNN - null comparison for ``estimates.json`` (the samples are in ``estimates.nc``)."""
    return to_jsonable({
        "null": comparison.null, "distinguishable": comparison.distinguishable,
        "sentence": comparison.sentence,
        "differences": {k: {key: v for key, v in d.items() if key != "samples"}
                        for k, d in comparison.differences.items()},
    })


def estimates_dict(result: ScenarioResult | AnalysisResult) -> dict[str, Any]:
    """The content of ``estimates.json`` (schema in docs/analysis.md)."""
    if isinstance(result, AnalysisResult):
        result = ScenarioResult.of(result)
    s = result.settings
    cnn = result.cnn
    first = cnn.data.attrs[0] if cnn.data.attrs else {}
    paths = [p for r in result.results.values() for p in r.data.paths]
    out = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning",
        **{k: first.get(k) for k in REPORTED_ATTRS},
        "observable": s.observable,
        "L": [int(l) for l in cnn.data.L],
        "temperatures": cnn.data.temperature.tolist(),
        **classifier_dict(cnn),
        "nulls": {name: classifier_dict(r) for name, r in result.results.items() if name != CNN},
        "comparisons": {name: comparison_dict(c) for name, c in result.comparisons.items()},
        "settings": asdict(s),
        "provenance": provenance({"command": "analyze", "predictions": paths, **asdict(s)}),
    }
    return to_jsonable(out)


def _entry_arrays(entries: list[dict | None], key: str) -> np.ndarray:
    return np.array([np.nan if e is None or e.get(key) is None else e[key] for e in entries], dtype=np.float64)


def estimates_dataset(result: ScenarioResult | AnalysisResult, estimates: Mapping[str, Any]) -> xr.Dataset:
    """The content of ``estimates.nc``: curves, estimates and bootstrap samples of every classifier.

    Dimensions ``classifier`` (the CNN first), ``L``, ``temperature``, ``temperature_fine``,
    ``pair`` (every pair of sizes, coords ``L1``, ``L2``), ``bootstrap``, ``network`` (the
    CNN's), ``nu_scan``, ``null``. Variables: ``p_mean``, ``p_error`` (total), ``p_instance_error``
    (classifier, L, temperature); ``p_smooth``, ``p_derivative`` (classifier, L,
    temperature_fine); ``network_p_mean`` (L, network, temperature); ``network_spread``,
    ``network_variance_share``, ``derivative_maximum``, ``derivative_maximum_temperature``,
    ``p_half_temperature`` (classifier, L); ``crossing_temperature`` (classifier, pair);
    ``ordering_z`` (classifier, temperature); ``linear_coefficient`` (+ ``_error``),
    ``paper_linear_coefficient`` (+ ``_error``) (classifier, temperature) and their ``_fine``
    versions (classifier, temperature_fine); ``Tc_linear_scan`` (classifier, nu_scan); per
    estimate X: ``X``, ``X_error``, ``X_ci_low``, ``X_ci_high`` (classifier) and
    ``bootstrap_X`` (classifier, bootstrap); ``bootstrap_crossing_temperature``
    (classifier, bootstrap, pair); per compared estimate Y: ``difference_Y``, ``difference_Y_ci_low``,
    ``difference_Y_ci_high`` (null) and ``bootstrap_difference_Y`` (null, bootstrap).
    Attributes: ``transition_detected`` (0/1, the CNN's), ``reason``, ``estimates_json``,
    scenario attributes, provenance.
    """
    if isinstance(result, AnalysisResult):
        result = ScenarioResult.of(result)
    names = list(result.results)
    res = list(result.results.values())
    blocks = [estimates] + [estimates["nulls"][n] for n in names[1:]]
    cnn = result.cnn
    L = cnn.data.L
    pairs = size_pairs(len(L))

    def stack(get):
        return np.stack([np.asarray(get(r), dtype=np.float64) for r in res])

    def nan_if_none(a, shape):
        return a if a is not None else np.full(shape, np.nan)

    n_T, n_fine = cnn.data.temperature.size, cnn.central.fine_temperature.size
    data = {
        "p_mean": (("classifier", "L", "temperature"), stack(lambda r: r.mean),
                   {"long_name": "<p>: average over networks and disorder instances"}),
        "p_error": (("classifier", "L", "temperature"), stack(lambda r: r.stderr),
                    {"long_name": "total error of <p> (two-level bootstrap)"}),
        "p_instance_error": (("classifier", "L", "temperature"), stack(lambda r: r.average.instance_error),
                             {"long_name": "standard error of <p> over disorder instances only"}),
        "p_smooth": (("classifier", "L", "temperature_fine"), stack(lambda r: r.central.smooth)),
        "p_derivative": (("classifier", "L", "temperature_fine"), stack(lambda r: r.central.derivative),
                         {"units": "1/J"}),
        "network_p_mean": (("L", "network", "temperature"), np.stack(cnn.average.network_curves),
                           {"long_name": "disorder average of each network of the CNN ensemble"}),
        "n_instances": (("L",), cnn.data.n_instances),
        "network_spread": (("classifier", "L"), stack(lambda r: r.average.network_spread)),
        "network_variance_share": (("classifier", "L"), stack(lambda r: r.average.network_variance_share)),
        "derivative_maximum": (("classifier", "L"), stack(lambda r: r.central.derivative_maximum),
                               {"units": "1/J"}),
        "derivative_maximum_temperature": (("classifier", "L"),
                                           stack(lambda r: r.central.derivative_maximum_temperature),
                                           {"units": "J"}),
        "p_half_temperature": (("classifier", "L"), stack(lambda r: r.central.p_half), {"units": "J"}),
        "crossing_temperature": (("classifier", "pair"), stack(lambda r: r.central.pair_crossings),
                                 {"units": "J"}),
        "bootstrap_crossing_temperature": (("classifier", "bootstrap", "pair"),
                                           stack(lambda r: r.bootstrap.pair_crossings), {"units": "J"}),
        "ordering_z": (("classifier", "temperature"),
                       stack(lambda r: r.central.ordering_slope / r.central.ordering_slope_error),
                       {"long_name": "slope of <p> vs ln L over its standard error"}),
        "Tc_linear_scan": (("classifier", "nu_scan"), stack(lambda r: r.central.Tc_linear_scan), {"units": "J"}),
    }
    for prefix in ("", "paper_"):
        for suffix, dim, size in (("", "temperature", n_T), ("_error", "temperature", n_T),
                                  ("_fine", "temperature_fine", n_fine)):
            name = f"{prefix}linear_coefficient{suffix}"
            data[name] = (("classifier", dim), stack(lambda r: nan_if_none(getattr(r.central, name), size)))
    ds = xr.Dataset(
        data,
        coords={"classifier": names, "L": L,
                "temperature": ("temperature", cnn.data.temperature, {"units": "J"}),
                "temperature_fine": ("temperature_fine", cnn.central.fine_temperature, {"units": "J"}),
                "L1": ("pair", [int(L[i]) for i, _ in pairs]), "L2": ("pair", [int(L[j]) for _, j in pairs]),
                "nu_scan": cnn.central.nu_scan, "network": np.arange(cnn.average.n_networks)},
    )
    for name in estimates["estimates"]:
        entries = [b["estimates"].get(name) for b in blocks]
        ds[name] = (("classifier",), _entry_arrays(entries, "value"), {"description": ESTIMATES[name][1],
                                                                      "method": ESTIMATES[name][0]})
        for key in ("error", "ci_low", "ci_high"):
            ds[f"{name}_{key}"] = (("classifier",), _entry_arrays(entries, key))
        ds[f"bootstrap_{name}"] = (("classifier", "bootstrap"), stack(lambda r: r.bootstrap.scalars[name]))
    if result.comparisons:
        nulls = list(result.comparisons)
        ds = ds.assign_coords(null=nulls)
        for key in COMPARED:
            diffs = [result.comparisons[n].differences[key] for n in nulls]
            ds[f"difference_{key}"] = (("null",), _entry_arrays(diffs, "value"),
                                       {"long_name": f"{key}(CNN) - {key}(null)", "units": "J"})
            for bound in ("ci_low", "ci_high"):
                ds[f"difference_{key}_{bound}"] = (("null",), _entry_arrays(diffs, bound),
                                                   {"confidence": result.settings.comparison_confidence})
            ds[f"bootstrap_difference_{key}"] = (("null", "bootstrap"), np.stack([d["samples"] for d in diffs]))
    attrs = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning", "observable": result.settings.observable,
        "transition_detected": np.int8(cnn.transition_detected),
        "reason": cnn.reason or "",
        "estimates_json": to_json(estimates),
    }
    for k in REPORTED_ATTRS:
        v = estimates.get(k)
        attrs[k] = "" if v is None else v
    attrs.update(estimates["provenance"])
    ds.attrs.update(attrs)
    return ds


def write_estimates(result: ScenarioResult | AnalysisResult, out_dir: str | os.PathLike) -> dict[str, Any]:
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


def load_estimates(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read an ``estimates.json`` written by ``analyze`` or ``conventional``.

    Parameters
    ----------
    path : path-like
    kind : {"machine_learning", "conventional"}, optional
        Required ``kind`` entry.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file, invalid JSON, wrong ``format``, ``format_version`` or ``kind``.
    """
    path = Path(path)
    est = read_json(path, "estimates")
    if not isinstance(est, dict) or est.get("format") != ESTIMATES_FORMAT:
        raise DataFormatError(f"{path}: 'format' is not {ESTIMATES_FORMAT!r}; not an sgpoison estimates file")
    if kind is not None and est.get("kind") != kind:
        raise DataFormatError(f"{path}: 'kind' is {est.get('kind')!r}, expected {kind!r}")
    if est.get("format_version") != ESTIMATES_FORMAT_VERSION:
        raise DataFormatError(f"{path}: format_version {est.get('format_version')!r}; this sgpoison reads "
                              f"version {ESTIMATES_FORMAT_VERSION} (rerun the analysis)")
    for key in ("transition_detected", "estimates", "L", "n_instances"):
        if key not in est:
            raise DataFormatError(f"{path}: missing key {key!r}")
    return est


def interval_columns(name: str, entry: Mapping[str, Any] | None) -> dict[str, float]:
    """Table columns of one estimate entry (:func:`estimate_entry`): ``name``, ``name_error``,
    ``name_ci_low``, ``name_ci_high`` (float, NaN where the entry or the value is missing)."""
    entry = entry or {}
    return {f"{name}{suffix}": math.nan if entry.get(key) is None else float(entry[key])
            for suffix, key in (("", "value"), ("_error", "error"), ("_ci_low", "ci_low"),
                                ("_ci_high", "ci_high"))}


def comparison_label(distinguishable: bool | None) -> str:
    """The word of a CNN - null comparison (``comparisons.N.distinguishable``): ``"distinguishable"``,
    ``"indistinguishable"`` or ``"not comparable"`` (None)."""
    return ("not comparable" if distinguishable is None else
            "distinguishable" if distinguishable else "indistinguishable")
