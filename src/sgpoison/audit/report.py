"""Audit of a training set before it poisons the network: the report and its verdict.

Two kinds of poison spoil the paper's training sets (Fang, Barzegar &
Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001 (2020)): configurations that
are not in thermal equilibrium, and wrong labels. :func:`audit_training_set` checks
one training file for both (:mod:`sgpoison.audit.thermalization`,
:mod:`sgpoison.audit.labels`) and returns a JSON-able report with a verdict;
:func:`scenario_verdict` combines the reports of a scenario's sizes for the results table.
The report's schema is in docs/audit.md.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from sgpoison.audit.labels import audit_labels
from sgpoison.audit.settings import AuditConfig
from sgpoison.audit.thermalization import audit_thermalization
from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import open_simulation
from sgpoison.io.jsonio import read_json, write_json
from sgpoison.io.provenance import file_sha256, provenance



#: ``format`` of audit reports
AUDIT_FORMAT = "sgpoison-audit"
AUDIT_FORMAT_VERSION = 1

#: exit status of ``sgpoison audit --policy refuse`` for a failing training set
REFUSE_EXIT_CODE = 3

#: the ensemble member whose labels are audited (the null models train on the same set)
AUDITED_NETWORK = 0


def audit_training_set(path: str | os.PathLike, config: AuditConfig = AuditConfig(),
                       scenario: str | None = None, expected_L: int | None = None) -> dict:
    """Audit one training file as the training would use it; return the JSON-able report.

    The labels are rebuilt exactly as ``sgpoison train`` builds them for network 0
    (:func:`sgpoison.ml.labels.prepare_training_set` with the same ``t_label``,
    ``label_noise``, ``seed`` and ``validation_fraction`` and network index 0; the null models
    train on the same set), so a poisoned label vector is audited as it would be trained on.
    The report records the SHA-256 of the labels (``labels.source.labels_sha256``), which
    equals the ``labels_sha256`` of network 0's model metadata (without a bootstrap resample of
    the training instances, which the audit does not draw).

    Parameters
    ----------
    path : path-like
        Simulation file (docs/data-format.md), the training set of one scenario and L.
    config : AuditConfig
        Checked when it was constructed.
    scenario : str, optional
        Scenario name recorded in the report.
    expected_L : int, optional
        Fail unless the file's L equals this (option ``--L``), before any work.

    Returns
    -------
    dict
        ``verdict`` (``"pass"`` / ``"fail"``), ``failing_checks`` (list of str),
        ``policy``, ``thermalization`` (:func:`~sgpoison.audit.thermalization.audit_thermalization`),
        ``labels`` (:func:`~sgpoison.audit.labels.audit_labels`, plus how the labels were made),
        file metadata and ``provenance``. See ``docs/audit.md`` for the schema.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid simulation file.
    SettingsError
        The file's L differs from ``expected_L``.
    """
    from sgpoison.ml.labels import prepare_training_set

    path = Path(path)
    with open_simulation(path) as ds:
        attrs = dict(ds.attrs)
        if expected_L is not None and int(attrs["L"]) != int(expected_L):
            raise SettingsError(f"--L {expected_L} but {path} has L={attrs['L']}", "--L")
        temperatures = ds["temperature"].values.astype(float)
        thermalization = audit_thermalization(
            ds, significance=config.significance, n_bootstrap=config.n_bootstrap,
            seed=config.bootstrap_seed, swap_floor=config.swap_floor)
    label_source = {"function": f"{prepare_training_set.__module__}.{prepare_training_set.__qualname__}",
                    "t_label": config.t_label, "label_noise": config.label_noise,
                    "label_noise_mode": config.label_noise_mode, "seed": config.seed,
                    "validation_fraction": config.validation_fraction, "network_index": AUDITED_NETWORK}
    try:
        tset = prepare_training_set(path, config, network_index=AUDITED_NETWORK)
    except SettingsError as exc:
        labels = {"verdict": "fail", "failing_checks": [f"labels.classes: {exc}"],
                  "checks": {"classes": False}, "source": label_source}
    else:
        labels = audit_labels(path, tset.train_positions, tset.labels, temperatures, config)
        label_source.update(n_training_instances=int(len(tset.train_positions)),
                            n_labels=int(tset.labels.size), realised_flips=tset.realised_flips,
                            labels_sha256=tset.labels_sha256(), seeds=tset.seeds)
        labels["source"] = label_source
    failing = thermalization["failing_checks"] + labels["failing_checks"]
    parameters = dataclasses.asdict(config) | {"data": str(path), "scenario": scenario}
    return {
        "format": AUDIT_FORMAT,
        "format_version": AUDIT_FORMAT_VERSION,
        "verdict": "pass" if not failing else "fail",
        "failing_checks": failing,
        "policy": config.policy,
        "scenario": scenario,
        "data_file": str(path),
        "data_sha256": file_sha256(path),
        "L": int(attrs["L"]),
        "disorder": attrs.get("disorder"),
        "sweep_fraction": float(attrs.get("sweep_fraction", math.nan)),
        "n_sweeps": int(attrs.get("n_sweeps", 0)),
        "n_sweeps_run": int(attrs.get("n_sweeps_run", 0)),
        "n_instances": int(thermalization["settings"]["n_instances"]),
        "thermalization": thermalization,
        "labels": labels,
        "data_provenance": {k: attrs.get(k) for k in ("sgpoison_version", "git_commit", "created")},
        "provenance": provenance(parameters),
    }


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write an audit report as indented JSON, atomically (NaN -> null)."""
    return write_json(report, path, sort_keys=True)


def read_report(path: str | os.PathLike) -> dict:
    """Read an audit report written by :func:`write_report` (``sgpoison audit``).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing file, invalid JSON, not an audit report (``format``), or a report without the
        keys ``L``, ``verdict``, ``failing_checks``, ``thermalization``, ``labels`` (the
        message names the file and the key).
    """
    report = read_json(path, "audit report")
    if not isinstance(report, dict) or report.get("format") != AUDIT_FORMAT:
        found = report.get("format") if isinstance(report, dict) else type(report).__name__
        raise DataFormatError(f"{path}: not an sgpoison audit report (format {found!r})")
    for key in ("L", "verdict", "failing_checks", "thermalization", "labels"):
        if key not in report:
            raise DataFormatError(f"{path}: missing key {key!r}; not a complete audit report")
    return report


def scenario_verdict(paths) -> dict:
    """Combine the audit reports of one scenario (one per L) for the results table.

    Parameters
    ----------
    paths : iterable of path-like
        JSON reports written by :func:`write_report` / ``sgpoison audit``.

    Returns
    -------
    dict
        ``verdict`` (``"fail"`` if any L fails, else ``"pass"``), ``per_L``
        (L -> verdict), ``failing_checks`` (each prefixed with ``"L=<L>: "``),
        ``thermalization`` and ``labels`` (``"fail"`` if that part fails for any L),
        ``noise_conclusions`` (L -> conclusion of the noise estimate, if run).

    Raises
    ------
    FileNotFoundError, DataFormatError
        If a file is missing, not JSON or not an audit report (the message names it).
    """
    per_L, failing, noise = {}, [], {}
    parts = {"thermalization": "pass", "labels": "pass"}
    for path in paths:
        report = read_report(path)
        L = int(report["L"])
        per_L[L] = report["verdict"]
        failing += [f"L={L}: {check}" for check in report["failing_checks"]]
        if report["thermalization"]["verdict"] != "thermalized":
            parts["thermalization"] = "fail"
        if report["labels"]["verdict"] != "pass":
            parts["labels"] = "fail"
        estimate = report["labels"].get("noise_estimate", {})
        if "conclusion" in estimate:
            noise[L] = estimate["conclusion"]
    return {"verdict": "fail" if failing else "pass", "per_L": dict(sorted(per_L.items())),
            "failing_checks": failing, **parts, "noise_conclusions": dict(sorted(noise.items()))}


def summary_line(report: dict) -> str:
    """One line for logs: file, verdict and the failing checks' names."""
    names = sorted({c.split(":")[0] for c in report["failing_checks"]})
    text = f"audit of {report['data_file']}: {report['verdict'].upper()}"
    return text + (f" (failing: {', '.join(names)})" if names else "")
