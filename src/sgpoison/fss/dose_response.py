"""Dose-response of one poisoning axis: the table of every dose and the signal-loss rule.

A *scan* varies one poison of the training set at a time from the clean (base) scenario
(issue 13): ``label_noise`` (flip probability rho), ``sweep_fraction`` (fraction of the
thermalization sweeps of the training data) or ``t_label`` (the Gaussian Tc used for the
labels). Each dose is one scenario with its analysis (``estimates.json`` of ``sgpoison
analyze``) and its audit reports (``sgpoison audit``, one per L).

* :func:`read_doses` reads and checks every input before any work;
* :func:`dose_table` -- one row per dose (:data:`TABLE_COLUMNS` describes the columns);
* :func:`signal_loss` -- the signal-loss rule (docs/analysis.md, section 4):

  The doses are put in *poison order* by the poison level ``poison = |dose - base|``, the
  base being the clean dose: the smallest ``label_noise``, the largest ``sweep_fraction``,
  the ``t_label`` of the clean scenario (default 0.95). ``t_label`` has two *branches*
  (doses below and above the base, each with the base first), the others one. The signal
  is present at a dose iff (1) the CNN's verdict claims a transition, (2) the 68%
  (analysis ``confidence``) interval of ``Tc_crossing`` overlaps the base's and (3) the
  CNN's crossing is distinguishable from every null model it is distinguishable from at the
  base. The signal is *lost* at the first dose of a branch, in poison order, where it is not
  present; the loss dose lies in the bracket (last dose with signal, first dose without].
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.fss.estimates import comparison_label, interval_columns, load_estimates


@dataclass(frozen=True)
class Axis:
    """One poisoning axis.

    Attributes
    ----------
    name : str
        ``label_noise``, ``sweep_fraction`` or ``t_label``.
    key : str
        The entry of ``estimates.json`` that records the dose.
    poison : str
        How the poison grows with the dose: ``"increasing"`` (the base is the smallest dose),
        ``"decreasing"`` (the base is the largest) or ``"distance"`` (|dose - base|, both sides).
    unit : str
        Unit of the dose, for labels.
    """

    name: str
    key: str
    poison: str
    unit: str


#: the poisoning axes of a scan
AXES: dict[str, Axis] = {
    "label_noise": Axis("label_noise", "label_noise", "increasing", "flip probability rho"),
    "sweep_fraction": Axis("sweep_fraction", "training_sweep_fraction", "decreasing",
                           "fraction of the thermalization sweeps"),
    "t_label": Axis("t_label", "t_label", "distance", "J"),
}

#: the base dose of a ``t_label`` scan without ``--base-dose``: the study's labelling temperature
DEFAULT_BASE_T_LABEL = 0.95

#: the CNN's estimates of Tc in the table (each with ``_error``, ``_ci_low``, ``_ci_high``)
TC_ESTIMATORS = ("Tc_crossing", "Tc_collapse", "Tc_linear", "paper_Tc_linear", "paper_Tc_collapse")

#: the estimate whose interval decides criterion (2) of the rule and whose CNN - null differences
#: decide criterion (3)
SIGNAL_ESTIMATE = "Tc_crossing"

#: relative tolerance between a dose and the value its estimates file records
DOSE_TOLERANCE = 1e-9

#: the branches of the poison order
BRANCHES = {"base": "the base dose alone", "increasing": "increasing label_noise",
            "decreasing": "decreasing sweep_fraction", "below": "t_label below the base",
            "above": "t_label above the base"}

#: ``format`` of ``signal_loss.json``
SIGNAL_LOSS_FORMAT = "sgpoison-signal-loss"
SIGNAL_LOSS_FORMAT_VERSION = 1

#: what the table says about the validation accuracy
ACCURACY_NOTE = ("validation_accuracy_L<L>, validation_balanced_accuracy_L<L>, majority_baseline_L<L>: mean "
                 "over the CNN networks of size L of evaluation.validation in each model's metadata (carried "
                 "by its prediction file, attribute model_metadata); the accuracy means something only above "
                 "the majority baseline")

RULE = ("the signal is present at a dose iff (1) the CNN's verdict claims a transition, (2) the interval of "
        "Tc_crossing overlaps the base dose's interval and (3) the CNN's Tc_crossing is distinguishable "
        "(95% interval of CNN - null excludes 0) from every null model it is distinguishable from at the "
        "base dose; the signal is lost at the first dose, in poison order, where it is not present, and "
        "the loss dose lies in the bracket (last dose with signal, first dose without]")


@dataclass
class Dose:
    """One dose of a scan and its inputs, read and checked (:func:`read_doses`).

    Attributes
    ----------
    dose : float
    poison : float
        ``|dose - base|``, >= 0 (0 at the base).
    branch : str
        ``"base"``, or the branch of the poison order: ``"increasing"``, ``"decreasing"``,
        ``"below"``, ``"above"``.
    scenario : str
    estimates : dict
        The ``estimates.json`` content.
    estimates_path : Path
    audits : list of (Path, dict)
        The audit reports of the scenario (one per L), sorted by L.
    """

    dose: float
    poison: float
    branch: str
    scenario: str
    estimates: dict
    estimates_path: Path
    audits: list


def base_dose(axis: Axis, doses: Sequence[float], base: float | None = None) -> float:
    """The clean (base) dose of a scan: the smallest ``label_noise``, the largest
    ``sweep_fraction``, for ``t_label`` ``base`` (default :data:`DEFAULT_BASE_T_LABEL`).

    Raises
    ------
    SettingsError
        ``base`` given for another axis than ``t_label`` (option ``--base-dose``), or a
        ``t_label`` base that is not one of the doses.
    """
    if axis.poison != "distance":
        if base is not None:
            raise SettingsError(f"--base-dose is only for --axis t_label; the base of {axis.name} is its "
                                f"{'smallest' if axis.poison == 'increasing' else 'largest'} dose",
                                option="--base-dose")
        return float(min(doses) if axis.poison == "increasing" else max(doses))
    base = DEFAULT_BASE_T_LABEL if base is None else float(base)
    if not any(math.isclose(d, base, rel_tol=DOSE_TOLERANCE, abs_tol=0.0) for d in doses):
        raise SettingsError(f"the base t_label {base:g} is not one of the doses {list(doses)}; give the clean "
                            "scenario's t_label among --doses, or --base-dose", option="--base-dose")
    return base


def poison_level(axis: Axis, dose: float, base: float) -> tuple[float, str]:
    """``(|dose - base|, branch)``; branch ``"base"`` at the base, else ``"increasing"``
    (label_noise), ``"decreasing"`` (sweep_fraction), ``"below"`` / ``"above"`` (t_label)."""
    level = abs(float(dose) - base)
    if level <= DOSE_TOLERANCE * max(abs(base), 1.0):
        return 0.0, "base"
    if axis.poison == "distance":
        return level, "below" if dose < base else "above"
    return level, axis.poison


def _check_doses(doses: Sequence[float], n_estimates: int) -> None:
    if len(doses) != n_estimates:
        raise SettingsError(f"{len(doses)} doses but {n_estimates} estimates files; give one estimates.json "
                            "per dose, in the same order", option="--estimates")
    for d in doses:
        if not math.isfinite(d):
            raise SettingsError(f"dose {d} is not a finite number", option="--doses")
    seen: dict[float, int] = {}
    for i, d in enumerate(doses):
        if d in seen:
            raise SettingsError(f"dose {d:g} given twice (positions {seen[d] + 1} and {i + 1})", option="--doses")
        seen[d] = i


def read_doses(axis: str, doses: Sequence[float], estimates: Sequence[str | os.PathLike],
               audits: Sequence[str | os.PathLike], base: float | None = None) -> tuple[Axis, float, list[Dose]]:
    """Read and check every input of a dose-response scan, before any work.

    Parameters
    ----------
    axis : str
        A key of :data:`AXES`.
    doses : sequence of float
        One dose per estimates file, distinct and finite.
    estimates : sequence of path-like
        ``estimates.json`` of ``sgpoison analyze`` of each dose's scenario.
    audits : sequence of path-like
        Every audit report (``sgpoison audit``) of those scenarios, matched to a dose by the
        ``scenario`` it records; at least one per dose, at most one per (scenario, L).
    base : float, optional
        The clean dose of a ``t_label`` scan (:func:`base_dose`).

    Returns
    -------
    (Axis, float, list of Dose)
        The axis, the base dose and the doses in poison order (base first; for ``t_label`` by
        poison level, below before above at equal level).

    Raises
    ------
    SettingsError
        Unknown axis (``--axis``); doses and estimates of different lengths, a duplicate or
        non-finite dose (``--doses``); two doses of one scenario (``--estimates``); an audit
        that matches no dose, records no scenario, or repeats a (scenario, L), or a dose
        without an audit (``--audits``). The message names the file and value.
    FileNotFoundError, DataFormatError
        Unreadable or invalid file (not JSON, wrong ``format``, ``kind`` or version, missing
        keys), or an estimates file whose recorded dose (``label_noise``,
        ``training_sweep_fraction``, ``t_label``) differs from its dose on ``--doses``.
    """
    if axis not in AXES:
        raise SettingsError(f"unknown axis {axis!r}; axes: {', '.join(AXES)}", option="--axis")
    spec = AXES[axis]
    doses = [float(d) for d in doses]
    _check_doses(doses, len(estimates))
    base = base_dose(spec, doses, base)
    out: list[Dose] = []
    by_scenario: dict[str, Dose] = {}
    for dose, path in zip(doses, estimates):
        path = Path(path)
        est = load_estimates(path, kind="machine_learning")
        scenario = est.get("scenario")
        if not isinstance(scenario, str) or not scenario:
            raise DataFormatError(f"{path}: records no scenario ('scenario' is {scenario!r})")
        if scenario in by_scenario:
            raise SettingsError(f"{path} and {by_scenario[scenario].estimates_path} are both the analysis of "
                                f"scenario {scenario!r}; give one estimates file per dose", option="--estimates")
        recorded = est.get(spec.key)
        if recorded is not None and math.isfinite(float(recorded)) and not math.isclose(
                float(recorded), dose, rel_tol=DOSE_TOLERANCE, abs_tol=1e-12):
            raise DataFormatError(f"{path}: '{spec.key}' is {recorded!r} (scenario {scenario!r}), but its dose on "
                                  f"--doses is {dose:g}")
        level, branch = poison_level(spec, dose, base)
        by_scenario[scenario] = Dose(dose, level, branch, scenario, est, path, [])
        out.append(by_scenario[scenario])
    _attach_audits(by_scenario, audits)
    rank = {"base": 0, "increasing": 1, "decreasing": 1, "below": 1, "above": 2}
    out.sort(key=lambda d: (d.poison, rank[d.branch]))
    return spec, base, out


def _attach_audits(by_scenario: Mapping[str, Dose], audits: Sequence[str | os.PathLike]) -> None:
    from sgpoison.audit.report import read_report

    seen: dict[tuple[str, int], Path] = {}
    for path in audits:
        path = Path(path)
        report = read_report(path)
        scenario = report.get("scenario")
        if scenario not in by_scenario:
            raise SettingsError(f"{path} is the audit of scenario {scenario!r}, which is no dose's scenario "
                                f"(scenarios: {', '.join(by_scenario)})", option="--audits")
        key = (scenario, int(report["L"]))
        if key in seen:
            raise SettingsError(f"{path} and {seen[key]} are both audits of scenario {scenario!r} at "
                                f"L={key[1]}", option="--audits")
        seen[key] = path
        by_scenario[scenario].audits.append((path, report))
    for scenario, dose in by_scenario.items():
        if not dose.audits:
            raise SettingsError(f"dose {dose.dose:g} (scenario {scenario!r}, {dose.estimates_path}) has no audit "
                                "report among --audits", option="--audits")
        dose.audits.sort(key=lambda item: int(item[1]["L"]))


def _accuracy_columns(estimates: Mapping[str, Any]) -> dict[str, Any]:
    """Per size, the CNN networks' mean validation accuracy, balanced accuracy and majority baseline
    (:data:`ACCURACY_NOTE`), from the model metadata in the estimates' ``inputs``; NaN where the
    metadata carry no evaluation (models of format version 1)."""
    per_size: dict[int, list[dict]] = {}
    for entry in estimates.get("inputs") or []:
        metadata = (entry.get("attrs") or {}).get("model_metadata") or "{}"
        try:
            metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        except ValueError as exc:
            raise DataFormatError(f"{entry.get('path')}: model_metadata is not JSON ({exc})") from exc
        per_size.setdefault(int(entry["L"]), []).append((metadata.get("evaluation") or {}).get("validation") or {})
    cols: dict[str, Any] = {}
    for L, evaluations in sorted(per_size.items()):
        for key, name in (("accuracy", "validation_accuracy"), ("balanced_accuracy", "validation_balanced_accuracy"),
                          ("majority_baseline", "majority_baseline")):
            values = [float(e[key]) for e in evaluations if e.get(key) is not None]
            cols[f"{name}_L{L}"] = sum(values) / len(values) if values else math.nan
    return cols


def _noise_columns(reports: Sequence[tuple[Path, dict]]) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for _, report in reports:
        L = int(report["L"])
        estimate = report["labels"].get("noise_estimate") or {}
        interval = estimate.get("interval") or [None, None]
        for name, value in (("", estimate.get("rate")), ("_ci_low", interval[0]), ("_ci_high", interval[1])):
            cols[f"audit_noise_rate_L{L}{name}"] = math.nan if value is None else float(value)
        cols[f"audit_noise_conclusion_L{L}"] = estimate.get("conclusion") or estimate.get("skipped") or ""
    return cols


def dose_row(axis: Axis, dose: Dose) -> dict[str, Any]:
    """One row of the dose-response table (columns: :data:`TABLE_COLUMNS`)."""
    from sgpoison.audit.report import scenario_verdict

    est = dose.estimates
    row: dict[str, Any] = {
        "axis": axis.name, "dose": dose.dose, "poison": dose.poison, "branch": dose.branch,
        "scenario": dose.scenario,
        "injected_label_noise": dose.dose if axis.name == "label_noise" else
        (math.nan if est.get("label_noise") is None else float(est["label_noise"])),
        "label_noise_mode": est.get("label_noise_mode") or "",
        "training_sweep_fraction": math.nan if est.get("training_sweep_fraction") is None
        else float(est["training_sweep_fraction"]),
        "t_label": math.nan if est.get("t_label") is None else float(est["t_label"]),
        "transition_detected": bool(est["transition_detected"]),
        "reason": est.get("reason") or "",
        "failed_checks": "; ".join(est.get("failed_checks") or []),
        "n_networks": est.get("n_networks", math.nan),
        "interval_confidence": (est.get("settings") or {}).get("confidence", math.nan),
    }
    for name in TC_ESTIMATORS:
        row.update(interval_columns(name, est["estimates"].get(name)))
    for null, comparison in (est.get("comparisons") or {}).items():
        difference = (comparison.get("differences") or {}).get(SIGNAL_ESTIMATE)
        row.update({k: v for k, v in interval_columns(f"cnn_minus_{null}_{SIGNAL_ESTIMATE}", difference).items()
                    if not k.endswith("_error")})
        row[f"{null}_comparison"] = comparison_label(comparison.get("distinguishable"))
    audit = scenario_verdict([path for path, _ in dose.audits])
    row.update({
        "audit_verdict": audit["verdict"], "audit_thermalization": audit["thermalization"],
        "audit_labels": audit["labels"], "audit_flagged": audit["verdict"] == "fail",
        "audit_failing_checks": "; ".join(audit["failing_checks"]),
        "audit_L": ",".join(str(L) for L in audit["per_L"]),
    })
    row.update(_accuracy_columns(est))
    row.update(_noise_columns(dose.audits))
    row["estimates_file"] = str(dose.estimates_path)
    row["audit_files"] = ",".join(str(path) for path, _ in dose.audits)
    return row


#: the columns of the dose-response table (docs/analysis.md); ``N`` a null model, ``L`` a size
TABLE_COLUMNS = {
    "axis, dose, poison, branch, scenario": "the axis, the dose, |dose - base|, the branch of the poison "
                                            "order (base / increasing / decreasing / below / above), scenario",
    "injected_label_noise, label_noise_mode, training_sweep_fraction, t_label": "the scenario's poisons",
    "transition_detected, reason, failed_checks": "the CNN's verdict",
    "n_networks, interval_confidence": "K, confidence of the Tc intervals",
    "X, X_error, X_ci_low, X_ci_high": f"X in {', '.join(TC_ESTIMATORS)} (NaN where it does not exist)",
    "cnn_minus_N_Tc_crossing(_ci_low, _ci_high), N_comparison": "CNN - null difference (95%) and "
                                                               "distinguishable / indistinguishable / not comparable",
    "audit_verdict, audit_thermalization, audit_labels, audit_flagged, audit_failing_checks, audit_L":
        "the audit (pass / fail; fail if any L fails)",
    "audit_noise_rate_LL(_ci_low, _ci_high), audit_noise_conclusion_LL": "the audit's estimated label-noise rate",
    "validation_accuracy_LL, validation_balanced_accuracy_LL, majority_baseline_LL": "the CNNs' validation "
                                                                                    "accuracy (mean over K)",
    "signal, signal_criteria_failed": "the signal-loss rule at this dose",
    "estimates_file, audit_files": "the inputs",
}


def _overlap(a_lo: float, a_hi: float, b_lo: float, b_hi: float) -> bool:
    return a_lo <= b_hi and b_lo <= a_hi


def dose_signal(row: Mapping[str, Any], base: Mapping[str, Any], nulls: Sequence[str]) -> list[str]:
    """The criteria of the rule that fail at one dose (empty: the signal is present).

    ``row``, ``base``: table rows of the dose and of the base dose; ``nulls``: the null models
    the CNN is distinguishable from at the base. Criteria: ``"verdict: no transition"``;
    ``"interval: ..."`` (Tc_crossing or its interval does not exist, or the interval does not
    overlap the base's; not tested when the base's interval does not exist); ``"null N: ..."``.
    """
    failed = []
    if not bool(row["transition_detected"]):
        failed.append("verdict: no transition")
    lo, hi = row.get(f"{SIGNAL_ESTIMATE}_ci_low", math.nan), row.get(f"{SIGNAL_ESTIMATE}_ci_high", math.nan)
    b_lo, b_hi = base.get(f"{SIGNAL_ESTIMATE}_ci_low", math.nan), base.get(f"{SIGNAL_ESTIMATE}_ci_high", math.nan)
    if math.isfinite(b_lo) and math.isfinite(b_hi):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            failed.append(f"interval: {SIGNAL_ESTIMATE} has no interval")
        elif not _overlap(lo, hi, b_lo, b_hi):
            failed.append(f"interval: {SIGNAL_ESTIMATE} [{lo:.4f}, {hi:.4f}] does not overlap the base's "
                          f"[{b_lo:.4f}, {b_hi:.4f}]")
    for null in nulls:
        label = row.get(f"{null}_comparison")
        if label != "distinguishable":  # a null model missing at this dose: NaN in the table
            failed.append(f"null {null}: {label if isinstance(label, str) and label else 'not compared'}")
    return failed


def dose_table(axis: Axis, doses: Sequence[Dose]) -> pd.DataFrame:
    """The dose-response table: one row per dose in poison order (:func:`dose_row`), without the
    rule's columns (:func:`signal_loss` adds ``signal`` and ``signal_criteria_failed``)."""
    return pd.DataFrame([dose_row(axis, d) for d in doses])


def _branch_result(axis: Axis, rows: list[dict], base: dict, nulls: list[str], name: str) -> dict[str, Any]:
    """The rule along one branch: ``rows`` in poison order, the base first."""
    signal = [not r["_failed"] for r in rows]
    lost = [i for i, s in enumerate(signal) if not s and i > 0]
    first = lost[0] if lost else None
    flags = {part: next((r["dose"] for r in rows if r[column]), None)
             for part, column in (("audit", "_flagged"), ("thermalization", "_thermalization"),
                                  ("labels", "_labels"))}
    flag_poison = next((r["poison"] for r in rows if r["_flagged"]), None)
    doses = [r["dose"] for r in rows]
    out: dict[str, Any] = {
        "branch": name, "doses": doses, "signal": dict(zip(map(str, doses), signal)),
        "signal_lost_dose": None if first is None else rows[first]["dose"],
        "bracket": {"last_with_signal": rows[first - 1]["dose"] if first is not None else doses[-1],
                    "first_without_signal": None if first is None else rows[first]["dose"]},
        "criteria_failed": [] if first is None else rows[first]["_failed"],
        "doses_without_signal": [rows[i]["dose"] for i in lost],
        "signal_returns_at": [] if first is None else [rows[i]["dose"] for i in range(first + 1, len(rows))
                                                       if signal[i]],
        "first_audit_flag_dose": flags["audit"],
        "first_thermalization_flag_dose": flags["thermalization"],
        "first_labels_flag_dose": flags["labels"],
    }
    last = out["bracket"]["last_with_signal"]
    if first is None:
        text = (f"along {BRANCHES[name]} the signal is present at every dose up to {axis.name} = {last:g}: "
                "not lost within the scan (the loss dose, if any, lies beyond the last dose)")
    else:
        text = (f"along {BRANCHES[name]} the signal is lost at {axis.name} = {out['signal_lost_dose']:g} "
                f"(between {last:g}, the last dose with signal, and {out['signal_lost_dose']:g}; "
                f"{'; '.join(out['criteria_failed'])})")
        if out["signal_returns_at"]:
            text += (f"; it is present again at {', '.join(f'{d:g}' for d in out['signal_returns_at'])}, "
                     "so the loss is not monotone in the dose")
    if rows[0]["_flagged"]:
        protects = None
        audit_text = "the audit already flags the base (clean) dose, so its flags do not tell the poison apart"
    elif flags["audit"] is None:
        protects = False if first is not None else None
        audit_text = "the audit flags no dose" + (", so it does not protect the analysis" if first is not None else "")
    elif first is None:
        protects = None
        audit_text = f"the audit flags the training set from {axis.name} = {flags['audit']:g}"
    else:
        protects = flag_poison <= rows[first]["poison"]
        audit_text = (f"the audit first flags the training set at {axis.name} = {flags['audit']:g}, "
                      + ("at or before the signal is lost: it protects the analysis" if protects else
                         "after the signal is lost: it does not protect the analysis"))
    out["audit_protects"] = protects
    out["statement"] = f"{text}; {audit_text}."
    return out


def signal_loss(axis: Axis, base_dose: float, table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the signal-loss rule (module docstring) to a dose table in poison order.

    Parameters
    ----------
    axis : Axis
    base_dose : float
    table : pandas.DataFrame
        :func:`dose_table` (columns ``dose``, ``poison``, ``branch``, ``transition_detected``,
        ``Tc_crossing_ci_low``, ``Tc_crossing_ci_high``, ``N_comparison``, ``audit_flagged``,
        ``audit_thermalization``, ``audit_labels``); exactly one row has branch ``"base"``.

    Returns
    -------
    (pandas.DataFrame, dict)
        The table with ``signal`` (bool) and ``signal_criteria_failed`` ("; "-joined), and the
        content of ``signal_loss.json``: ``status`` (``"lost"``, ``"not lost"``,
        ``"no signal at the base dose"``), ``signal_lost_dose`` (None unless lost),
        ``bracket`` {``last_with_signal``, ``first_without_signal``}, ``criteria_failed``,
        ``first_audit_flag_dose`` (and ``_thermalization_``, ``_labels_``), ``audit_protects``
        (True: the audit flags at or before the loss dose; False: later or never; None: no loss,
        or the base is flagged), ``statement``, ``branches`` (the same per branch; the top level
        is the branch that loses the signal at the smallest poison level) and ``per_dose``.

    Raises
    ------
    ValueError
        If the table has no single base row.
    """
    rows = table.to_dict("records")
    bases = [r for r in rows if r["branch"] == "base"]
    if len(bases) != 1:
        raise ValueError(f"the dose table needs exactly one base row, found {len(bases)}")
    base = bases[0]
    nulls = sorted(c[: -len("_comparison")] for c in table.columns
                   if c.endswith("_comparison") and base[c] == "distinguishable")
    for r in rows:
        r["_failed"] = (["verdict: no transition"] if not r["transition_detected"] else []) \
            if r is base else dose_signal(r, base, nulls)
        r["_flagged"] = bool(r["audit_flagged"])
        r["_thermalization"] = r["audit_thermalization"] == "fail"
        r["_labels"] = r["audit_labels"] == "fail"
    names = [b for b in ("increasing", "decreasing", "below", "above") if any(r["branch"] == b for r in rows)]
    branches = [_branch_result(axis, [base] + sorted((r for r in rows if r["branch"] == b),
                                                     key=lambda r: r["poison"]), base, nulls, b)
                for b in names] or [_branch_result(axis, [base], base, nulls, "base")]
    table = table.copy()
    table["signal"] = [not r["_failed"] for r in rows]
    table["signal_criteria_failed"] = ["; ".join(r["_failed"]) for r in rows]
    common = {
        "format": SIGNAL_LOSS_FORMAT, "format_version": SIGNAL_LOSS_FORMAT_VERSION,
        "axis": axis.name, "base_dose": base_dose,
        "poison_order": {"increasing": "increasing label_noise from the smallest dose",
                         "decreasing": "decreasing sweep_fraction from the largest dose",
                         "distance": f"increasing |t_label - {base_dose:g}|, doses below and above the base "
                                     "as two branches"}[axis.poison],
        "rule": RULE,
        "signal_estimate": SIGNAL_ESTIMATE,
        "interval_confidence": base.get("interval_confidence"),
        "nulls_distinguishable_at_base": nulls,
        "validation_accuracy": ACCURACY_NOTE,
    }
    per_dose = [{"dose": r["dose"], "poison": r["poison"], "branch": r["branch"], "scenario": r["scenario"],
                 "signal": not r["_failed"], "criteria_failed": r["_failed"], "audit_flagged": r["_flagged"]}
                for r in rows]
    if base["_failed"]:
        result = {"status": "no signal at the base dose", "signal_lost_dose": None,
                  "bracket": {"last_with_signal": None, "first_without_signal": base_dose},
                  "criteria_failed": base["_failed"],
                  "first_audit_flag_dose": next((r["dose"] for r in rows if r["_flagged"]), None),
                  "audit_protects": None,
                  "statement": f"the CNN claims no transition at the base dose {axis.name} = {base_dose:g} "
                               f"({base['reason'] or 'verdict failed'}): there is no signal to lose."}
        for key in ("first_thermalization_flag_dose", "first_labels_flag_dose"):
            result[key] = branches[0][key] if len(branches) == 1 else None
    else:
        lost = [b for b in branches if b["signal_lost_dose"] is not None]
        first = min(lost, key=lambda b: abs(b["signal_lost_dose"] - base_dose)) if lost else branches[0]
        result = {k: first[k] for k in ("signal_lost_dose", "bracket", "criteria_failed",
                                        "first_audit_flag_dose", "first_thermalization_flag_dose",
                                        "first_labels_flag_dose")}
        protects = [b["audit_protects"] for b in branches if b["signal_lost_dose"] is not None]
        result["status"] = "lost" if lost else "not lost"
        result["audit_protects"] = (None if not protects or any(p is None for p in protects)
                                    else all(protects))
        result["statement"] = " ".join(b["statement"][0].upper() + b["statement"][1:] for b in branches)
    return table, {**common, **result, "branches": branches, "per_dose": per_dose}


def conventional_reference(path: str | os.PathLike) -> dict[str, Any]:
    """The conventional estimate (``sgpoison conventional``) as a reference band.

    Returns
    -------
    dict
        ``Tc_conventional`` and ``Tc_binder`` with ``value``, ``error``, ``ci_low``, ``ci_high``
        (None where absent), ``transition_detected``, ``path``.

    Raises
    ------
    FileNotFoundError, DataFormatError
    """
    est = load_estimates(path, kind="conventional")
    out: dict[str, Any] = {"path": str(path), "transition_detected": bool(est["transition_detected"])}
    for name in ("Tc_conventional", "Tc_binder"):
        entry = est["estimates"].get(name) or {}
        out[name] = {k: entry.get(k) for k in ("value", "error", "ci_low", "ci_high")}
    return out

