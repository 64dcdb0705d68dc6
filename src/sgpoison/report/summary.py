"""Results table of all scenarios: one row per scenario plus the conventional analysis.

Reads the ``estimates.json`` of ``sgpoison analyze`` (one per scenario) and of
``sgpoison conventional`` and writes ``results.csv``, ``results.nc`` and the figure
``tc_summary.png/.pdf`` (:func:`sgpoison.report.figures.plot_tc_summary`).

Columns (docs/analysis.md lists them all): identification (``scenario``,
``kind``, ``source``), the CNN's verdict (``transition_detected``, ``reason``,
``failed_checks``), every estimate ``X`` of the JSON's ``estimates`` as ``X``,
``X_error``, ``X_ci_low``, ``X_ci_high``, then the columns of the *column providers*
(:data:`COLUMN_PROVIDERS`, functions ``(name, estimates, extras) -> dict``): the CNN
ensemble (:func:`network_columns`), the null models and the CNN - null differences
(:func:`null_columns`), the audit verdict (:func:`audit_columns`, from ``--audit
NAME=PATH``); then sizes, instance counts and provenance. Adding another per-scenario input
is one more provider (and one more CLI option).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from sgpoison.fss.estimates import comparison_label, interval_columns, load_estimates
from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.formats import write_netcdf
from sgpoison.io.jsonio import read_json
from sgpoison.io.provenance import provenance

#: row name of the conventional analysis (also its ``kind``)
CONVENTIONAL_NAME = "conventional"
#: columns that come first, in this order (the estimate columns follow, then the rest)
LEADING_COLUMNS = ("scenario", "kind", "transition_detected", "reason", "failed_checks")


def _read_audit_file(path: Path) -> dict[str, Any]:
    audit = read_json(path, "audit")
    if not isinstance(audit, dict) or not isinstance(audit.get("verdict"), str):
        raise DataFormatError(f"{path}: an audit file needs a string 'verdict'")
    checks = audit.get("failing_checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise DataFormatError(f"{path}: 'failing_checks' must be a list of strings")
    return audit


def load_audit(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> dict[str, Any]:
    """Read the audit verdict of one scenario.

    Parameters
    ----------
    paths : path-like or sequence of path-likes
        Either one JSON object with ``verdict`` (str) and ``failing_checks``
        (list of str), or the reports of ``sgpoison audit`` for each L of the
        scenario, combined by :func:`sgpoison.audit.report.scenario_verdict` (the
        scenario fails if any L fails; checks are prefixed with ``L=<L>:``).

    Raises
    ------
    FileNotFoundError, DataFormatError
    """
    from sgpoison.audit.report import AUDIT_FORMAT, scenario_verdict

    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    audits = [_read_audit_file(p) for p in paths]
    if all(a.get("format") == AUDIT_FORMAT for a in audits):
        combined = scenario_verdict(paths)
        return {"verdict": combined["verdict"], "failing_checks": combined["failing_checks"]}
    if len(audits) > 1:
        raise DataFormatError(f"{[str(p) for p in paths]}: several audit files for one scenario must "
                              f"all be sgpoison audit reports (format {AUDIT_FORMAT!r})")
    return {"verdict": audits[0]["verdict"], "failing_checks": audits[0].get("failing_checks", [])}


def _none_to_nan(v):
    return np.nan if v is None else v


def estimate_columns(est: Mapping[str, Any]) -> dict[str, Any]:
    """``X``, ``X_error``, ``X_ci_low``, ``X_ci_high`` for every entry X of ``estimates``."""
    cols = {}
    for name, e in est["estimates"].items():
        cols.update(interval_columns(name, e))
    return cols


def _join(values: Mapping[str, Any]) -> str:
    return ",".join(f"{k}:{'|'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in values.items())


def provenance_columns(est: Mapping[str, Any]) -> dict[str, Any]:
    """Sizes, instances, scenario parameters and provenance of the analysis and of its inputs."""
    prov = est.get("provenance", {})
    inputs = list(est.get("inputs", [])) + [i for n in (est.get("nulls") or {}).values() for i in n.get("inputs", [])]
    input_commits = sorted({str(i.get("attrs", {}).get("git_commit")) for i in inputs
                            if i.get("attrs", {}).get("git_commit") is not None})
    models = est.get("model_sha256") or {}
    return {
        "L": ",".join(str(l) for l in est["L"]),
        "n_instances": ",".join(f"{k}:{v}" for k, v in est["n_instances"].items()),
        "observable": est.get("observable") or "",
        "label_noise": _none_to_nan(est.get("label_noise")),
        "training_sweep_fraction": _none_to_nan(est.get("training_sweep_fraction")),
        "t_label": _none_to_nan(est.get("t_label")),
        "disorder": est.get("disorder") or "",
        "sweep_fraction": _none_to_nan(est.get("sweep_fraction")),
        "model_sha256": _join(models),
        "n_bootstrap": _none_to_nan(est.get("settings", {}).get("n_bootstrap")),
        "git_commit": prov.get("git_commit", ""),
        "sgpoison_version": prov.get("sgpoison_version", ""),
        "created": prov.get("created", ""),
        "input_git_commits": ",".join(input_commits),
        "input_files": ",".join(str(i.get("path")) for i in inputs),
    }


def network_columns(name: str, est: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """``n_networks`` (K), ``network_variance_estimated`` and, per L, the spread between the
    networks' curves and its share of the total variance (``network_spread``,
    ``network_variance_share``: "L:value,...", empty for K = 1 and for the conventional row)."""
    net = est.get("networks")
    if not net:
        return {"n_networks": np.nan, "network_variance_estimated": "", "network_spread": "",
                "network_variance_share": ""}

    def per_size(key):
        values = {str(r["L"]): r[key] for r in net.get("per_size", []) if r.get(key) is not None}
        return ",".join(f"{k}:{v:.3g}" for k, v in values.items())

    return {"n_networks": net.get("n_networks", np.nan),
            "network_variance_estimated": "yes" if net.get("network_variance_estimated") else "no",
            "network_spread": per_size("spread"), "network_variance_share": per_size("variance_share")}


#: estimates of each null model that get columns ``<null>_<estimate>`` (with error and interval)
NULL_ESTIMATES = ("Tc_crossing", "Tc_collapse")


def null_columns(name: str, est: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """Per null model N: ``N_transition_detected``, ``N_Tc_crossing`` and ``N_Tc_collapse`` (with
    ``_error``, ``_ci_low``, ``_ci_high``), ``cnn_minus_N_Tc_crossing`` and ``..._Tc_collapse``
    (with ``_ci_low``, ``_ci_high`` at the comparison confidence, 95%), ``N_comparison``
    (distinguishable / indistinguishable / not comparable) and ``N_sentence``."""
    cols: dict[str, Any] = {}
    comparisons = est.get("comparisons") or {}
    for null, block in (est.get("nulls") or {}).items():
        cols[f"{null}_transition_detected"] = "yes" if block.get("transition_detected") else "no"
        for key in NULL_ESTIMATES:
            e = block.get("estimates", {}).get(key) or {}
            for suffix, field in (("", "value"), ("_error", "error"), ("_ci_low", "ci_low"),
                                  ("_ci_high", "ci_high")):
                cols[f"{null}_{key}{suffix}"] = _none_to_nan(e.get(field))
        comparison = comparisons.get(null) or {}
        for key, d in (comparison.get("differences") or {}).items():
            cols[f"cnn_minus_{null}_{key}"] = _none_to_nan(d.get("value"))
            cols[f"cnn_minus_{null}_{key}_ci_low"] = _none_to_nan(d.get("ci_low"))
            cols[f"cnn_minus_{null}_{key}_ci_high"] = _none_to_nan(d.get("ci_high"))
        cols[f"{null}_comparison"] = comparison_label(comparison.get("distinguishable"))
        cols[f"{null}_sentence"] = comparison.get("sentence", "")
    return cols


def audit_columns(name: str, est: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """``audit_verdict`` and ``audit_failing_checks`` ("; "-joined) from ``extras["audit"][name]``."""
    audit = extras.get("audit", {}).get(name)
    if audit is None:
        return {"audit_verdict": "", "audit_failing_checks": ""}
    return {"audit_verdict": audit["verdict"], "audit_failing_checks": "; ".join(audit["failing_checks"])}


#: functions ``(name, estimates, extras) -> dict of columns`` applied to every row
COLUMN_PROVIDERS: list[Callable[[str, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = [
    network_columns,
    null_columns,
    audit_columns,
]


def make_row(name: str, est: Mapping[str, Any], source: str, extras: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the results table (see the module docstring for the columns)."""
    row = {
        "scenario": name,
        "kind": est.get("kind", ""),
        "transition_detected": bool(est["transition_detected"]),
        "reason": est.get("reason") or "",
        "failed_checks": "; ".join(est.get("failed_checks") or []),
    }
    row.update(estimate_columns(est))
    for provider in COLUMN_PROVIDERS:
        row.update(provider(name, est, extras))
    row.update(provenance_columns(est))
    row["source"] = source
    return row


def build_table(scenarios: Mapping[str, str | os.PathLike], conventional: str | os.PathLike | None = None,
                audits: Mapping[str, str | os.PathLike] | None = None) -> pd.DataFrame:
    """Results table: one row per scenario (in the given order), then the conventional row.

    Parameters
    ----------
    scenarios : mapping of name to path
        ``estimates.json`` of ``sgpoison analyze`` per scenario.
    conventional : path, optional
        ``estimates.json`` of ``sgpoison conventional`` (row named ``conventional``).
    audits : mapping of name to path or list of paths, optional
        Audit verdict JSON per scenario name (every name must be a scenario).

    Returns
    -------
    pandas.DataFrame
        Columns: :data:`LEADING_COLUMNS`, estimate columns (union over rows, NaN
        where a row lacks the estimate), provenance columns, ``source``, and the
        columns of :data:`COLUMN_PROVIDERS`.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid files.
    SettingsError (a ValueError; option ``--scenario`` or ``--audit``)
        An audit for an unknown scenario; no scenarios; a scenario named
        ``conventional``; a NAME that differs from the scenario recorded in its
        estimates file.
    """
    if not scenarios:
        raise SettingsError("no scenarios given", option="--scenario")
    if CONVENTIONAL_NAME in scenarios:
        raise SettingsError(f"scenario name {CONVENTIONAL_NAME!r} is reserved for the conventional row",
                            option="--scenario")
    audits = dict(audits or {})
    unknown = sorted(set(audits) - set(scenarios))
    if unknown:
        raise SettingsError(f"audit given for unknown scenario(s) {unknown}; scenarios are {list(scenarios)}",
                            option="--audit")
    extras = {"audit": {name: load_audit(path) for name, path in audits.items()}}
    rows = []
    for name, path in scenarios.items():
        est = load_estimates(path, kind="machine_learning")
        if est.get("scenario") not in (None, "", name):
            raise SettingsError(f"--scenario {name}={path}: the file is the analysis of scenario "
                                f"{est['scenario']!r}, not {name!r}", option="--scenario")
        rows.append(make_row(name, est, str(path), extras))
    if conventional is not None:
        rows.append(make_row(CONVENTIONAL_NAME, load_estimates(conventional, kind=CONVENTIONAL_NAME),
                             str(conventional), extras))
    table = pd.DataFrame(rows)
    rest = [c for c in table.columns if c not in LEADING_COLUMNS]
    return table[list(LEADING_COLUMNS) + rest]


def table_dataset(table: pd.DataFrame, parameters: Mapping[str, Any] | None = None,
                  format: str = "sgpoison-results", format_version: int = 2) -> xr.Dataset:
    """The table as a NetCDF-ready dataset: dim ``row`` with coordinate ``scenario``.

    Numeric columns become float64 (NaN for missing), ``transition_detected`` and boolean
    columns int8 (0/1), text columns strings (empty for missing). Attributes ``format``,
    ``format_version`` and provenance (``parameters``).
    """
    data = {}
    for col in table.columns:
        if col == "scenario":
            continue
        s = table[col]
        if col == "transition_detected" or pd.api.types.is_bool_dtype(s):
            data[col] = ("row", s.astype(bool).astype(np.int8).to_numpy())
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            data[col] = ("row", s.astype(np.float64).to_numpy())
        else:
            data[col] = ("row", np.array(["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                                          for v in s], dtype=object))
    ds = xr.Dataset(data, coords={"scenario": ("row", table["scenario"].astype(str).to_numpy(dtype=object))})
    ds.attrs.update({"format": format, "format_version": format_version})
    ds.attrs.update(provenance(parameters))
    return ds


def write_summary(table: pd.DataFrame, out_dir: str | os.PathLike,
                  parameters: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``results.csv``, ``results.nc``, ``tc_summary.png`` and ``tc_summary.pdf`` to ``out_dir``."""
    from sgpoison.report.figures import plot_tc_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = atomic_write(out_dir / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    nc = write_netcdf(table_dataset(table, parameters), out_dir / "results.nc")
    figs = plot_tc_summary(table, out_dir / "tc_summary")
    return [csv, nc, *figs]


def parse_assignments(values: Sequence[str] | None, option: str,
                      repeatable: bool = False) -> dict[str, Any]:
    """Parse ``NAME=PATH`` items of a repeatable option into an ordered dict.

    With ``repeatable`` a name may be given several times and maps to the list
    of its paths; otherwise each name maps to one path.

    Raises
    ------
    SettingsError (a ValueError)
        An item without ``=``, an empty name or path, or (unless ``repeatable``)
        a repeated name; the message names ``option``.
    """
    out: dict[str, Any] = {}
    for item in values or []:
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise SettingsError(f"{option}: expected NAME=PATH, got {item!r}", option=option)
        if repeatable:
            out.setdefault(name, []).append(path)
            continue
        if name in out:
            raise SettingsError(f"{option}: name {name!r} given twice", option=option)
        out[name] = path
    return out
