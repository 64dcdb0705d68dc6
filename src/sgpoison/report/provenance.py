"""Provenance audit of a results directory (``sgpoison provenance``): who made each file, is it stale?

For every file below a directory, :func:`audit_file` reads the provenance the file records
(:func:`sgpoison.io.provenance.provenance`: version, git commit, code modules, parameters),
recognises from its content the workflow rule and wildcards of the job that wrote it, and
compares

* the recorded parameters with the settings of that job under a study configuration
  (:func:`sgpoison.config.rule_settings`, the table behind the workflow's ``settings``
  params): a difference makes the file **stale** for that configuration;
* the recorded code of the rule's command with the installed package's
  (:func:`sgpoison.io.provenance.code_fingerprint`, the workflow's ``code`` params).

Snakemake's metadata (``.snakemake/``) are not used: they do not travel with copied or
archived results, and ``snakemake --touch`` rewrites them without rerunning anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from sgpoison import __version__
from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.jsonio import to_json, to_jsonable

#: statuses of an audited file, from worst to best
STALE = "stale"                  # a recorded setting differs from the configuration
CODE_CHANGED = "code changed"    # settings agree, the code of its command differs from the installed
NOT_IN_CONFIG = "not in config"  # no job of the configuration writes it (removed scenario, size, ...)
UNREADABLE = "unreadable"        # an output format that cannot be read
NO_PROVENANCE = "no provenance"  # figures, tables, logs, benchmarks: their provenance is a sibling's
OK = "ok"
#: statuses that make ``sgpoison provenance`` exit with :data:`STALE_EXIT_CODE`
PROBLEMS = (STALE, CODE_CHANGED, UNREADABLE)
STALE_EXIT_CODE = 4

#: format attribute of a result -> the workflow rule whose jobs write it
_RULE_OF_FORMAT = {
    "sgpoison-audit": "audit",
    "sgpoison-model": "train",
    "sgpoison-null-model": "train_null",
    "sgpoison-prediction": "predict",
    "sgpoison-results": "summary",
    "sgpoison-dose-response": "dose_response",
    "sgpoison-signal-loss": "dose_response",
}


@dataclasses.dataclass
class FileAudit:
    """What one file records and how it compares with a configuration.

    Attributes
    ----------
    path : Path
    status : str
        :data:`OK`, :data:`STALE`, :data:`CODE_CHANGED`, :data:`NOT_IN_CONFIG`,
        :data:`UNREADABLE` or :data:`NO_PROVENANCE`.
    rule : str or None
        The workflow rule that writes such a file.
    wildcards : dict of str to str
        Its job's wildcards, recognised from the file's content.
    version, git_commit, created : str or None
        As recorded.
    code : str or None
        The recorded code fingerprint of the rule's command (None: not recorded).
    settings : dict
        The recorded values of the rule's settings (all recorded parameters if the
        file is not a job of the configuration).
    differences : list of str
        Settings that differ from the configuration, e.g.
        ``"iterations: recorded 10, config 32 (network.iterations)"``.
    unrecorded : list of str
        Settings of the rule the file does not record (not compared).
    code_changes : list of str
        Modules of the command whose code differs from the installed package's.
    note : str
        Why the file is not in the configuration, unreadable or has no provenance.
    """

    path: Path
    status: str
    rule: str | None = None
    wildcards: dict[str, str] = dataclasses.field(default_factory=dict)
    version: str | None = None
    git_commit: str | None = None
    created: str | None = None
    code: str | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    differences: list[str] = dataclasses.field(default_factory=list)
    unrecorded: list[str] = dataclasses.field(default_factory=list)
    code_changes: list[str] = dataclasses.field(default_factory=list)
    note: str = ""


# ------------------------------------------------------------------------------------------
# reading what a file records
# ------------------------------------------------------------------------------------------


def _json_attr(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The identity and provenance an output file records, or None if it records none.

    NetCDF files (``.nc``) record them as attributes, JSON documents (``.json``) in their
    top level and ``provenance``, models (``.keras``) in their embedded metadata.

    Returns
    -------
    dict or None
        The top-level fields (``format``, ``kind``, ``L``, ``disorder``, ``scenario``, ...)
        with ``provenance`` holding ``sgpoison_version``, ``git_commit``, ``created``,
        ``parameters`` (dict) and, if recorded, ``code_modules`` (dict).

    Raises
    ------
    DataFormatError
        If a ``.nc``, ``.json`` or ``.keras`` file cannot be read.
    """
    path = Path(path)
    if path.suffix == ".nc":
        from sgpoison.io.formats import attribute_values, open_netcdf

        with open_netcdf(path, "NetCDF") as ds:
            attrs = attribute_values(ds.attrs)
        if "parameters" not in attrs:
            return None
        keys = ("sgpoison_version", "git_commit", "created", "parameters", "code_fingerprint", "code_modules")
        record = {k: v for k, v in attrs.items() if k not in keys}
        record["provenance"] = {k: attrs[k] for k in keys if k in attrs}
    elif path.suffix in (".json", ".keras"):
        if path.suffix == ".json":
            from sgpoison.io.jsonio import read_json

            record = read_json(path)
        else:
            from sgpoison.ml.model_io import read_model_metadata

            try:
                record = read_model_metadata(path)
            except SettingsError as exc:
                raise DataFormatError(str(exc)) from None
        if not isinstance(record, dict) or not isinstance(record.get("provenance"), dict):
            return None
        record = dict(record)
        record["provenance"] = dict(record["provenance"])
    else:
        return None
    provenance = record["provenance"]
    try:
        provenance["parameters"] = _json_attr(provenance.get("parameters", "{}"))
        if "code_modules" in provenance:
            provenance["code_modules"] = _json_attr(provenance["code_modules"])
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: provenance is not valid JSON ({exc})") from None
    return record


#: the wildcards of each rule's jobs, as the files record them
_WILDCARDS = {"simulate": ("disorder", "L", "sweep_fraction"), "merge": ("disorder", "L", "sweep_fraction"),
              "audit": ("scenario", "L"), "train": ("scenario", "L"), "predict": ("scenario", "L"),
              "train_null": ("scenario", "L"), "predict_null": ("scenario", "L"),
              "analyze": ("scenario",), "conventional": (), "summary": (), "dose_response": ("axis",)}


def _job(record: Mapping[str, Any], config: Mapping) -> tuple[str | None, dict[str, str]]:
    """The rule and wildcards of the job that wrote a file (rule None: unknown format).

    Raises
    ------
    ConfigError
        If a simulate job's instance range lies beyond the configuration's instances.
    KeyError, TypeError, ValueError
        If a field the rule's wildcards come from is missing or malformed.
    """
    from sgpoison.config import batch_instances

    fmt = record.get("format")
    parameters = record["provenance"]["parameters"]
    if fmt == "sgpoison-simulation":  # one simulate job records "start:stop", a merged file a list
        rule = "simulate" if isinstance(parameters.get("instances"), str) else "merge"
    elif fmt == "sgpoison-estimates":
        rule = "conventional" if record.get("kind") == "conventional" else "analyze"
    elif fmt == "sgpoison-prediction" and str(record.get("classifier", "cnn")).startswith("null_"):
        rule = "predict_null"
    else:
        rule = _RULE_OF_FORMAT.get(fmt)
    if rule is None:
        return None, {}
    wildcards = {}
    for name in _WILDCARDS[rule]:
        value = record[name]
        wildcards[name] = (str(int(value)) if name == "L" else str(float(value)) if name == "sweep_fraction"
                           else str(value))
    if rule in ("train", "predict"):  # network k of the ensemble (files before ensembles: k = 0)
        wildcards["k"] = str(int(record.get("network_index", 0)))
    if rule == "simulate":
        start = int(parameters["instances"].split(":")[0])
        wildcards["batch"] = str(start // config["simulation"]["batch_size"])
        batch_instances(config, wildcards["disorder"], wildcards["L"], wildcards["batch"])
    return rule, wildcards


def _not_a_job(config: Mapping, wildcards: Mapping[str, str]) -> str:
    """Why no job of ``config`` has these wildcards ('' if one has)."""
    from sgpoison.config import BIMODAL_SWEEP_FRACTION, scan_doses

    if "axis" in wildcards and wildcards["axis"] not in scan_doses(config):
        return f"the configuration has no scan over {wildcards['axis']}"
    if "scenario" in wildcards and wildcards["scenario"] not in config["scenarios"]:
        return f"scenario {wildcards['scenario']!r} is not in the configuration"
    if "L" in wildcards and int(wildcards["L"]) not in config["sizes"]:
        return f"L = {wildcards['L']} is not in sizes"
    if "sweep_fraction" in wildcards:
        fractions = ({float(s["sweep_fraction"]) for s in config["scenarios"].values()}
                     if wildcards.get("disorder") == "gaussian" else {BIMODAL_SWEEP_FRACTION})
        if float(wildcards["sweep_fraction"]) not in fractions:
            return f"no scenario uses {wildcards.get('disorder')} data at sweep fraction {wildcards['sweep_fraction']}"
    return ""


def _shown(value: Any) -> str:
    return to_json(value, sort_keys=True)


# ------------------------------------------------------------------------------------------
# the audit
# ------------------------------------------------------------------------------------------


def audit_file(path: str | os.PathLike, config: Mapping, compare_code: bool = True) -> FileAudit:
    """Audit one file against ``config`` (checked, defaults filled in: :func:`sgpoison.config.validate_config`).

    ``compare_code``: also compare the recorded code of the rule's command with the
    installed package's (a difference gives :data:`CODE_CHANGED` if the settings agree).
    Never raises for a bad file: it is reported as :data:`UNREADABLE`. Stale input files
    are not looked at (:func:`audit_results` does).
    """
    return _audit_file(Path(path), config, compare_code)[0]


def _audit_file(path: Path, config: Mapping, compare_code: bool) -> tuple[FileAudit, dict | None]:
    from sgpoison.config import ConfigError, config_keys, rule_entry, rule_settings
    from sgpoison.io.provenance import code_fingerprint, module_hashes, stage_modules

    try:
        record = read_record(path)
    except (DataFormatError, OSError, ValueError) as exc:
        return FileAudit(path, UNREADABLE, note=str(exc)), None
    if record is None:
        return FileAudit(path, NO_PROVENANCE, note="records no provenance (see the output beside it)"), None
    provenance = record["provenance"]
    parameters = provenance["parameters"]
    audit = FileAudit(path, OK, version=provenance.get("sgpoison_version"),
                      git_commit=provenance.get("git_commit"), created=provenance.get("created"),
                      settings=dict(parameters))
    try:
        audit.rule, audit.wildcards = _job(record, config)
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        audit.status, audit.note = NOT_IN_CONFIG, f"not a job of the configuration: {exc}"
        return audit, record
    if audit.rule is None:
        audit.status, audit.note = UNREADABLE, f"unknown output format {record.get('format')!r}"
        return audit, record
    command = rule_entry(audit.rule).command
    modules = provenance.get("code_modules")
    if isinstance(modules, dict):
        audit.code = code_fingerprint(command, hashes=modules, version=str(audit.version))
        if compare_code:
            current = module_hashes()
            audit.code_changes = [m for m in stage_modules(command) if modules.get(m) != current.get(m)]
            if audit.version != __version__:
                audit.code_changes.insert(0, f"sgpoison {audit.version} (installed: {__version__})")
    elif compare_code:
        audit.code_changes = ["code not recorded (written before code fingerprints)"]
    audit.note = _not_a_job(config, audit.wildcards)
    if audit.note:
        audit.status = NOT_IN_CONFIG
        return audit, record
    try:
        expected = rule_settings(config, audit.rule, audit.wildcards)
    except ConfigError as exc:
        audit.status, audit.note = NOT_IN_CONFIG, f"not a job of the configuration: {exc}"
        return audit, record
    # a setting the command does not take as a parameter (the training data's sweep
    # fraction) is recorded beside the provenance
    recorded = {key: parameters[key] if key in parameters else record[key]
                for key in expected if key in parameters or key in record}
    if audit.rule == "train_null" and recorded.get("observables") in expected.get("observables", ()):
        # one train_null job fits every null model of (scenario, L); each file records its own
        expected = {**expected, "observables": recorded["observables"]}
    audit.settings = recorded
    audit.unrecorded = [key for key in expected if key not in recorded]
    for key, value in expected.items():
        if key in recorded and to_jsonable(recorded[key]) != value:
            keys = [_config_key(k, audit.wildcards) for k in config_keys(audit.rule, key)]
            audit.differences.append(f"{key}: recorded {_shown(recorded[key])}, config {_shown(value)}"
                                     + (f" ({', '.join(keys)})" if keys else ""))
    audit.status = STALE if audit.differences else CODE_CHANGED if audit.code_changes else OK
    return audit, record


def _config_key(pattern: str, wildcards: Mapping[str, str]) -> str:
    """A :data:`sgpoison.config.CONFIG_FIELDS` pattern for one job: ``simulation.gaussian[L=4].n_sweeps``."""
    key = pattern.replace("[]", f"[L={wildcards['L']}]") if "L" in wildcards else pattern
    for name in ("disorder", "scenario"):
        if name in wildcards:
            key = key.replace(f"{{{name}}}", wildcards[name])
    return key


def _strings(value: Any) -> Iterable[str]:
    """Every string inside nested dicts and lists (and inside JSON texts, as NetCDF
    attributes hold lists such as ``merged_from``)."""
    if isinstance(value, str):
        if value[:1] in ("[", "{"):
            try:
                yield from _strings(json.loads(value))
                return
            except json.JSONDecodeError:
                pass
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _stale_inputs(audits: list[FileAudit], records: Mapping[Path, Mapping[str, Any]],
                  directory: Path) -> None:
    """Mark :data:`STALE` every file one of whose recorded input files is stale, and
    :data:`CODE_CHANGED` one whose input has changed code (to a fixed point).

    Input files are recognised among the strings a file records (paths as given to its
    command, relative to the workflow's directory: the current one or ``directory``'s parent).
    """
    by_path = {a.path.resolve(): a for a in audits}
    bases = (Path.cwd(), directory.resolve().parent)
    inputs = {}
    for audit in audits:
        record = records.get(audit.path)
        if record is None:
            continue
        strings = set(_strings({k: v for k, v in record.items() if k != "provenance"}))
        strings |= set(_strings(record["provenance"].get("parameters", {})))
        found = {(base / text).resolve() for text in strings for base in bases if text} & set(by_path)
        inputs[audit.path] = [by_path[p] for p in sorted(found - {audit.path.resolve()})]
    changed = True
    while changed:
        changed = False
        for audit in audits:
            if audit.status not in (OK, CODE_CHANGED, STALE):
                continue
            for source in inputs.get(audit.path, []):
                if source.status == STALE and (note := f"input {source.path} is stale") not in audit.differences:
                    audit.differences.append(note)
                    audit.status, changed = STALE, True
                elif source.status == CODE_CHANGED and \
                        (note := f"input {source.path} has changed code") not in audit.code_changes:
                    audit.code_changes.append(note)
                    audit.status = STALE if audit.status == STALE else CODE_CHANGED
                    changed = True


def result_files(directory: str | os.PathLike) -> list[Path]:
    """Every file below ``directory`` (sorted), without hidden files and directories."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts))


def audit_results(directory: str | os.PathLike, config: Mapping, compare_code: bool = True) -> list[FileAudit]:
    """:func:`audit_file` of every file of :func:`result_files`; a file made from a stale
    input file (one named in its record) is stale too ("input ... is stale").

    Raises
    ------
    FileNotFoundError
        If ``directory`` is not a directory.
    """
    results = [_audit_file(path, config, compare_code) for path in result_files(directory)]
    audits = [audit for audit, _ in results]
    _stale_inputs(audits, {audit.path: record for audit, record in results if record is not None},
                  Path(directory))
    return audits


def format_audits(audits: Iterable[FileAudit], only_problems: bool = False) -> str:
    """Text listing: per file its status, rule and wildcards, version, commit, creation time,
    code fingerprint and recorded settings, then what differs; a count by status at the end."""
    lines, counts = [], {}
    for audit in audits:
        counts[audit.status] = counts.get(audit.status, 0) + 1
        if only_problems and audit.status not in PROBLEMS:
            continue
        lines.append(f"{audit.path}: {audit.status}")
        if audit.status == NO_PROVENANCE:
            continue
        if audit.rule:
            wildcards = ", ".join(f"{k}={v}" for k, v in audit.wildcards.items())
            lines.append(f"    rule      {audit.rule}" + (f" ({wildcards})" if wildcards else ""))
        if audit.version or audit.git_commit:
            lines.append(f"    version   sgpoison {audit.version}, git {audit.git_commit}, created {audit.created}")
        if audit.code:
            lines.append(f"    code      {audit.code}")
        if audit.settings:
            lines.append(f"    settings  {_shown(audit.settings)}")
        if audit.note:
            lines.append(f"    note      {audit.note}")
        lines += [f"    differs   {text}" for text in audit.differences]
        lines += [f"    code of   {text}" for text in audit.code_changes if audit.status != NOT_IN_CONFIG]
        if audit.unrecorded:
            lines.append(f"    unrecorded {', '.join(audit.unrecorded)}")
    total = sum(counts.values())
    lines.append(f"{total} file(s): " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    return "\n".join(lines)


def audits_json(audits: Iterable[FileAudit]) -> str:
    """The audits as one JSON array (paths as strings), for scripts."""
    return to_json([dataclasses.asdict(a) for a in audits], indent=2)
