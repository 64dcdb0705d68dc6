"""The study configuration (``config/*.yaml``), checked before any job runs.

:func:`validate_config` is called by the workflow's ``Snakefile``. It

1. validates the configuration against its JSON schema
   (``workflow/schemas/config.schema.yaml``, which documents every key), filling in the
   schema's defaults, and reports the first error naming the key; then expands the ``scans``
   section into scenarios (:func:`expand_scans`; :func:`scan_doses` lists them per axis);
2. builds, from the configuration, the settings each job's command will build -- the
   :class:`~sgpoison.mc.parallel_tempering.SimulationParameters` of every size row (at every
   sweep fraction it is simulated with), the :class:`~sgpoison.ml.settings.TrainingConfig`
   and :class:`~sgpoison.audit.settings.AuditConfig` of every scenario, the
   :class:`~sgpoison.ml.settings.PredictionSettings` and the settings of both analyses --
   so that every value a command would reject (non-finite numbers included) is rejected
   here, by the same limits (:mod:`sgpoison.settings`);
3. checks what involves several keys (every size has a row in both tables, the Gaussian
   ladder straddles ``network.t_label``, enough instances for the split and the bootstrap,
   at most :data:`MAX_SIMULATE_JOBS` simulate jobs, ...).

:data:`RULE_SETTINGS` is the table of the workflow's rules: the command each runs and, through
:func:`rule_settings`, every setting the outputs of one of its jobs depend on (the workflow's
``settings`` and ``code`` params, and the stale-result check of ``sgpoison provenance``).

Every problem raises :class:`ConfigError`, whose message starts with the config key.
:data:`CONFIG_FIELDS` lists which settings field each key sets (``tests/test_config.py``
checks that the schema documents the same limits and defaults).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from sgpoison.errors import SettingsError

#: sweep fraction of every bimodal simulation (the data the networks classify and the
#: conventional analysis reads: always thermalized)
BIMODAL_SWEEP_FRACTION = 1.0
#: fewest training instances a Gaussian size row must leave after the validation split
MIN_TRAINING_INSTANCES = 2
#: most simulate jobs (batches) of a study: Snakemake takes about a minute to plan 10,000 jobs
#: (and hours for 10^5), so a larger study must use larger batches
MAX_SIMULATE_JOBS = 10_000


class ConfigError(SettingsError):
    """The study configuration is invalid; the message starts with the key at fault."""


def _settings_classes() -> dict[str, type]:
    from sgpoison.audit.settings import AuditConfig
    from sgpoison.fss.settings import AnalysisSettings, ConventionalSettings
    from sgpoison.mc.parallel_tempering import SimulationParameters
    from sgpoison.ml.settings import NullSettings, PredictionSettings, TrainingConfig

    return {"SimulationParameters": SimulationParameters, "TrainingConfig": TrainingConfig,
            "NullSettings": NullSettings, "AuditConfig": AuditConfig, "PredictionSettings": PredictionSettings,
            "AnalysisSettings": AnalysisSettings, "ConventionalSettings": ConventionalSettings}


#: config key -> (settings classes, field) whose limits apply to it; ``{disorder}`` stands
#: for gaussian and bimodal, ``[]`` for any row, ``{scenario}`` for any scenario name.
#: Keys not listed (``sizes``, ``simulation.seed``, ``simulation.batch_size``,
#: ``simulation.share_sweep_fractions``, the rows' ``n_instances``, ``null_models``, ``scans``) belong to the study alone; the schema is their one
#: definition (the doses of ``scans`` share the schema definitions of the scenario keys).
CONFIG_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "simulation.{disorder}[].L": (("SimulationParameters",), "L"),
    "simulation.{disorder}[].n_sweeps": (("SimulationParameters",), "n_sweeps"),
    "simulation.{disorder}[].t_min": (("SimulationParameters",), "t_min"),
    "simulation.{disorder}[].t_max": (("SimulationParameters",), "t_max"),
    "simulation.{disorder}[].n_temps": (("SimulationParameters",), "n_temps"),
    "simulation.{disorder}[].n_snapshots": (("SimulationParameters",), "n_snapshots"),
    "simulation.ladder": (("SimulationParameters",), "ladder"),
    "simulation.measure_interval": (("SimulationParameters",), "measure_interval"),
    "simulation.swap_interval": (("SimulationParameters",), "swap_interval"),
    "network.t_label": (("TrainingConfig", "NullSettings", "AuditConfig"), "t_label"),
    "network.iterations": (("TrainingConfig",), "iterations"),
    "network.batch_size": (("TrainingConfig",), "batch_size"),
    "network.learning_rate": (("TrainingConfig",), "learning_rate"),
    "network.padding": (("TrainingConfig",), "padding"),
    "network.channels": (("TrainingConfig",), "channels"),
    "network.kernel_size": (("TrainingConfig",), "kernel_size"),
    "network.strides": (("TrainingConfig",), "strides"),
    "network.dense_units": (("TrainingConfig",), "dense_units"),
    "network.dropout": (("TrainingConfig",), "dropout"),
    "network.augment_sign_flip": (("TrainingConfig",), "augment_sign_flip"),
    "network.augment_translations": (("TrainingConfig",), "augment_translations"),
    "network.augment_cube_symmetries": (("TrainingConfig",), "augment_cube_symmetries"),
    "network.symmetrize": (("TrainingConfig",), "symmetrize"),
    "network.balance_classes": (("TrainingConfig", "NullSettings"), "balance_classes"),
    "network.keep_best": (("TrainingConfig",), "keep_best"),
    "network.patience": (("TrainingConfig",), "patience"),
    "network.report_every": (("TrainingConfig",), "report_every"),
    "network.bootstrap_instances": (("TrainingConfig", "NullSettings"), "bootstrap_instances"),
    "network.validation_fraction": (("TrainingConfig", "NullSettings", "AuditConfig"), "validation_fraction"),
    "network.seed": (("TrainingConfig", "NullSettings", "AuditConfig"), "seed"),
    "network.deterministic": (("TrainingConfig",), "deterministic"),
    "network.mixed_precision": (("TrainingConfig",), "mixed_precision"),
    "network.jit_compile": (("TrainingConfig",), "jit_compile"),
    "network.predict_batch_size": (("PredictionSettings",), "batch_size"),
    "scenarios.{scenario}.label_noise": (("TrainingConfig", "NullSettings", "AuditConfig"), "label_noise"),
    "scenarios.{scenario}.label_noise_mode": (("TrainingConfig", "NullSettings", "AuditConfig"), "label_noise_mode"),
    "scenarios.{scenario}.t_label": (("TrainingConfig", "NullSettings", "AuditConfig"), "t_label"),
    "scenarios.{scenario}.sweep_fraction": (("SimulationParameters",), "sweep_fraction"),
    "analysis.n_bootstrap": (("AnalysisSettings", "ConventionalSettings"), "n_bootstrap"),
    "analysis.seed": (("AnalysisSettings", "ConventionalSettings"), "seed"),
    "analysis.observable": (("AnalysisSettings",), "observable"),
    "audit.policy": (("AuditConfig",), "policy"),
    "audit.swap_floor": (("AuditConfig",), "swap_floor"),
    "audit.noise_estimate": (("AuditConfig",), "estimate_noise"),
    "audit.noise_classifier": (("AuditConfig",), "noise_classifier"),
}


# ------------------------------------------------------------------------------------------
# 1. the JSON schema
# ------------------------------------------------------------------------------------------


def load_schema(schema_path: str | os.PathLike) -> dict:
    """The configuration's JSON schema (YAML file)."""
    import yaml

    with open(schema_path) as stream:
        return yaml.safe_load(stream)


def _validator_filling_defaults(schema: dict):
    """A Draft 2020-12 validator that also sets the defaults of missing properties
    (the jsonschema FAQ recipe, as ``snakemake.utils.validate`` does)."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    instance.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def check_schema(config: dict, schema: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` against ``schema``, filling in defaults.

    Raises
    ------
    ConfigError
        For the most relevant error (``jsonschema.exceptions.best_match``), e.g.
        "config key scenarios.clean.label_noise: -0.1 is less than the minimum of 0 --
        scenarios.clean.label_noise is: fraction of training labels flipped at random ...
        (schema: workflow/schemas/config.schema.yaml)".
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                      for part in error.absolute_path).lstrip(".")
        description = " ".join(str(error.schema.get("description", "")).split())
        message = error.message
        if error.validator == "additionalProperties" and "properties" in error.schema:
            allowed = sorted(error.schema["properties"])
            unknown = sorted(set(error.instance) - set(allowed))
            key = ".".join(filter(None, [key, unknown[0]]))
            message = f"unknown key; allowed here: {', '.join(allowed)}"
            description = ""
        raise ConfigError(
            f"config key {key or '(top level)'}: {message}"
            + (f" -- {key or 'it'} is: {description}" if description else "")
            + f" (schema: {schema_path})")
    _validator_filling_defaults(schema).validate(config)


# ------------------------------------------------------------------------------------------
# 2. the settings of every job
# ------------------------------------------------------------------------------------------


def _build(cls: type, values: Mapping[str, tuple[str | None, Any]], keys: Mapping[str, str] | None = None) -> Any:
    """``cls(**{field: value})`` from ``{field: (config key, value)}``.

    A :class:`~sgpoison.errors.SettingsError` about a field (or about ``keys``' extra
    names, e.g. ``instances``) becomes a :class:`ConfigError` naming the config key.
    """
    try:
        return cls(**{name: value for name, (_, value) in values.items()})
    except SettingsError as exc:
        key = {name: k for name, (k, _) in values.items()} | dict(keys or {})
        where = key.get(exc.key) if exc.key else None
        raise ConfigError(f"config key {where}: {exc}" if where else str(exc), key=where) from None


def study_seed(config: Mapping, L: int) -> int:
    """Seed of every simulation of size L: ``1000 * simulation.seed + L`` (independent of scenarios)."""
    return 1000 * int(config["simulation"]["seed"]) + int(L)


def gaussian_sweep_fractions(config: Mapping) -> list[float]:
    """The sweep fractions of the Gaussian simulations (those the scenarios train on), largest first."""
    return sorted({float(s["sweep_fraction"]) for s in config["scenarios"].values()}, reverse=True)


def shared_sweep_fractions(config: Mapping) -> list[float]:
    """The Gaussian sweep fractions recorded inside the run of the largest one
    (``simulation.share_sweep_fractions``; docs/workflow.md, "Shared simulations"): the smaller
    fractions when sharing is on, else none."""
    return gaussian_sweep_fractions(config)[1:] if config["simulation"].get("share_sweep_fractions") else []


def simulation_parameters(config: Mapping, disorder: str, row_index: int, sweep_fraction: float,
                          instances: tuple[int, int] | None = None,
                          sweep_fraction_key: str | None = None) -> Any:
    """The :class:`~sgpoison.mc.parallel_tempering.SimulationParameters` of one size row.

    Parameters
    ----------
    config : mapping
        The study configuration (schema defaults filled in).
    disorder : {"gaussian", "bimodal"}
    row_index : int
        Position of the row in ``simulation.<disorder>``.
    sweep_fraction : float
    instances : (int, int), optional
        Global instance range ``[start, stop)`` of one job; default: all ``n_instances`` of the row.
    sweep_fraction_key : str, optional
        The config key the sweep fraction came from (for messages).

    Raises
    ------
    ConfigError
        Naming the config key of the first invalid value.
    """
    from sgpoison.mc.parallel_tempering import SimulationParameters

    simulation = config["simulation"]
    row = simulation[disorder][row_index]
    key = f"simulation.{disorder}[{row_index}]"
    start, stop = instances if instances is not None else (0, row["n_instances"])
    values = {name: (f"{key}.{name}", row[name])
              for name in ("L", "n_sweeps", "t_min", "t_max", "n_temps", "n_snapshots")}
    values |= {name: (f"simulation.{name}", simulation[name])
               for name in ("ladder", "measure_interval", "swap_interval")}
    values |= {"disorder": (None, disorder), "instance_start": (None, start), "instance_stop": (None, stop),
               "sweep_fraction": (sweep_fraction_key, sweep_fraction),
               "seed": ("simulation.seed", study_seed(config, row["L"]))}
    return _build(SimulationParameters, values, keys={"instances": f"{key}.n_instances"})


#: the ``network`` keys that set a :class:`~sgpoison.ml.settings.TrainingConfig` field of the same
#: name (besides the label settings and the classifier-family keys)
NETWORK_TRAINING_KEYS = (
    "iterations", "batch_size", "learning_rate", "padding", "channels", "kernel_size", "strides",
    "dense_units", "dropout", "augment_sign_flip", "augment_translations", "augment_cube_symmetries",
    "symmetrize", "keep_best", "patience", "report_every", "deterministic", "mixed_precision", "jit_compile",
)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: the label settings a scenario sets (besides its sweep fraction); t_label defaults to network.t_label
SCENARIO_LABEL_KEYS = ("label_noise", "label_noise_mode", "t_label")


def scenario_labels(config: Mapping, name: str) -> dict[str, tuple[str, Any]]:
    """The label poisons of scenario ``name``: field -> (config key, value) for ``label_noise``,
    ``label_noise_mode`` and ``t_label`` (the scenario's own, else ``network.t_label``).

    ``config`` has the schema defaults filled in (:func:`check_schema`).
    """
    scenario = config["scenarios"][name]
    out = {field: (f"scenarios.{name}.{field}", scenario[field])
           for field in SCENARIO_LABEL_KEYS if field in scenario}
    out.setdefault("t_label", ("network.t_label", config["network"]["t_label"]))
    return out


# ------------------------------------------------------------------------------------------
# the dose-response scans
# ------------------------------------------------------------------------------------------

#: the poisons a ``scans`` axis can vary, in the order of the scans (and of :func:`scan_doses`)
SCAN_AXES = ("label_noise", "sweep_fraction", "t_label")


def _dose_text(dose: float) -> str:
    """A dose as it appears in scenario names: the shortest decimal that reads back as the
    same float, without exponent: 0.02 -> '0.02', 1 -> '1.0', 1e-05 -> '0.00001'."""
    import numpy as np

    return np.format_float_positional(float(dose), trim="0")


def _poisons(config: Mapping, scenario: Mapping) -> tuple:
    """What a scenario trains on, for comparing scenarios: (label noise, its mode -- None at
    rho = 0, where every mode gives the clean labels --, sweep fraction, effective t_label)."""
    rho = float(scenario["label_noise"])
    return (rho, scenario.get("label_noise_mode", "independent") if rho > 0 else None,
            float(scenario["sweep_fraction"]), float(scenario.get("t_label", config["network"]["t_label"])))


def _scan_plan(config: Mapping) -> tuple[dict[str, dict], dict[str, list[tuple[float, str]]]]:
    """The scenarios the scans add and the scenario of every dose (see :func:`expand_scans`)."""
    scans = config.get("scans") or {}
    axes = [axis for axis in SCAN_AXES if scans.get(axis)]
    if not axes:
        return {}, {}
    base = scans.get("base", "clean")
    if base not in config["scenarios"]:
        raise ConfigError(f"scans.base: no scenario {base!r} to scan from; the config has "
                          f"{', '.join(config['scenarios'])}", key="scans.base")
    listed = {name: _poisons(config, scenario) for name, scenario in config["scenarios"].items()}
    listed = {base: listed[base]} | listed  # the base scenario first: a dose equal to it is it
    added: dict[str, dict] = {}
    doses: dict[str, list[tuple[float, str]]] = {}
    for axis in axes:
        doses[axis] = []
        for index, dose in enumerate(scans[axis]):
            key = f"scans.{axis}[{index}]"
            scenario = dict(config["scenarios"][base]) | {axis: float(dose)}
            prefix = axis
            if axis == "label_noise":
                scenario["label_noise_mode"] = scans.get("label_noise_mode", "independent")
                prefix += "_block" if scenario["label_noise_mode"] == "block" else ""
            if axis == "t_label":
                _check_ladder(config, dose, key)
            poisons = _poisons(config, scenario)
            name = f"{prefix}_{_dose_text(dose)}"
            same = [other for other, theirs in listed.items() if theirs == poisons]
            if name in listed and listed[name] != poisons:
                raise ConfigError(
                    f"{key}: dose {dose} of the scan from {base!r} derives the scenario name {name!r}, which "
                    f"scenarios lists with other parameters ({dict(config['scenarios'][name])}); rename that "
                    "scenario or drop the dose", key=key)
            if same:
                name = same[0]
            else:
                added[name] = scenario
                listed[name] = poisons
            doses[axis].append((float(dose), name))
        doses[axis].sort()
    return added, doses


def expand_scans(config: dict) -> dict:
    """Add the scenarios of the ``scans`` section to ``config["scenarios"]`` (in place).

    Each dose of an axis (``label_noise``, ``sweep_fraction``, ``t_label``) becomes the base
    scenario (``scans.base``, default ``clean``) with that one poison changed -- for the
    label-noise axis also ``label_noise_mode = scans.label_noise_mode`` -- named
    ``<axis>_<dose>`` (``label_noise_0.02``, ``label_noise_block_0.02``,
    ``sweep_fraction_0.5``, ``t_label_0.9``). A dose whose scenario trains on exactly the
    labels and data of a listed scenario (the base first, e.g. ``label_noise: 0``) is that
    scenario, so no job runs twice. Idempotent: expanding an expanded configuration adds nothing.

    Parameters
    ----------
    config : dict
        Checked against the schema (defaults filled in).

    Returns
    -------
    dict
        ``config``.

    Raises
    ------
    ConfigError
        ``scans.base`` is not a scenario; a derived name is a listed scenario with other
        parameters (naming the dose's key, e.g. ``scans.label_noise[2]``); a ``t_label`` dose
        that a Gaussian ladder does not straddle.
    """
    added, _ = _scan_plan(config)
    config["scenarios"].update(added)
    return config


def scan_doses(config: Mapping) -> dict[str, list[tuple[float, str]]]:
    """The scenario of every dose of every scan axis: ``{axis: [(dose, scenario name), ...]}``
    sorted by dose, for the axes with doses, in the order of :data:`SCAN_AXES`.

    ``config`` is checked (:func:`validate_config`). Raises :class:`ConfigError` as
    :func:`expand_scans`.
    """
    return _scan_plan(config)[1]


def job_settings(config: Mapping) -> dict[str, Any]:
    """Build every job's settings from ``config`` (see the module docstring).

    Returns
    -------
    dict
        ``simulation`` (list of SimulationParameters), ``training``, ``null`` (NullSettings;
        empty without ``null_models``) and ``audit`` (per scenario), ``prediction``,
        ``analysis``, ``conventional``.

    Raises
    ------
    ConfigError
        Naming the config key of the first invalid value.
    """
    classes = _settings_classes()
    network, analysis, audit = config["network"], config["analysis"], config["audit"]
    scenarios = config["scenarios"]
    out: dict[str, Any] = {"simulation": [], "training": {}, "audit": {}}
    fractions = {}
    for name, scenario in scenarios.items():
        fractions.setdefault(scenario["sweep_fraction"], f"scenarios.{name}.sweep_fraction")
    for disorder in ("gaussian", "bimodal"):
        runs = fractions.items() if disorder == "gaussian" else [(BIMODAL_SWEEP_FRACTION, None)]
        for index in range(len(config["simulation"][disorder])):
            for fraction, fraction_key in runs:
                out["simulation"].append(simulation_parameters(config, disorder, index, fraction,
                                                               sweep_fraction_key=fraction_key))
    label_keys = {name: f"network.{name}" for name in ("seed", "validation_fraction")}
    family = {field: (f"network.{field}", network[field]) for field in ("balance_classes", "bootstrap_instances")}
    out["null"] = {}
    for name in scenarios:
        labels = {field: (key, network[field]) for field, key in label_keys.items()}
        labels |= scenario_labels(config, name)
        training = {field: (f"network.{field}", network[field]) for field in NETWORK_TRAINING_KEYS}
        out["training"][name] = _build(classes["TrainingConfig"],
                                       labels | family | training | {"scenario": (None, name)})
        if config["null_models"]:
            out["null"][name] = _build(classes["NullSettings"], labels | family | {
                "observables": ("null_models", tuple(config["null_models"])), "scenario": (None, name)})
        out["audit"][name] = _build(classes["AuditConfig"], labels | {
            "policy": ("audit.policy", audit["policy"]), "swap_floor": ("audit.swap_floor", audit["swap_floor"]),
            "estimate_noise": ("audit.noise_estimate", audit["noise_estimate"]),
            "noise_classifier": ("audit.noise_classifier", audit["noise_classifier"])})
    out["prediction"] = _build(classes["PredictionSettings"],
                               {"batch_size": ("network.predict_batch_size", network["predict_batch_size"])})
    bootstrap = {field: (f"analysis.{field}", analysis[field]) for field in ("n_bootstrap", "seed")}
    out["analysis"] = _build(classes["AnalysisSettings"],
                             bootstrap | {"observable": ("analysis.observable", analysis["observable"])})
    out["conventional"] = _build(classes["ConventionalSettings"], bootstrap)
    return out


def simulation_row(config: Mapping, disorder: str, L: int | str) -> int:
    """Position of the ``simulation.<disorder>`` row of size ``L``.

    Raises
    ------
    ConfigError
        If no row has that L.
    """
    for index, row in enumerate(config["simulation"][disorder]):
        if row["L"] == int(L):
            return index
    raise ConfigError(f"sizes: L = {L} has no row in simulation.{disorder}")


def batch_instances(config: Mapping, disorder: str, L: int | str, batch: int | str) -> tuple[int, int]:
    """Global instance range ``(start, stop)`` of simulate job ``batch`` of (disorder, L):
    ``[b B, min((b+1) B, n_instances))`` with B = ``simulation.batch_size``.

    Raises
    ------
    ConfigError
        If the batch starts beyond the row's ``n_instances``.
    """
    n_instances = config["simulation"][disorder][simulation_row(config, disorder, L)]["n_instances"]
    batch_size = config["simulation"]["batch_size"]
    start = int(batch) * batch_size
    if start >= n_instances:
        raise ConfigError(
            f"simulation.batch_size: batch {batch} of {disorder} L = {L} starts at instance "
            f"{start}, beyond n_instances = {n_instances}")
    return start, min(start + batch_size, n_instances)


# ------------------------------------------------------------------------------------------
# the settings of every rule's jobs (workflow params and the provenance audit)
# ------------------------------------------------------------------------------------------

#: settings fields that set how a job runs, not what it writes; left out of the rules' settings
MACHINE_FIELDS = ("threads",)
#: the fields that differ between the simulate jobs merged into one file
_BATCH_FIELDS = ("instance_start", "instance_stop")


def _fields(settings: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(settings).items() if k not in MACHINE_FIELDS}


def _shared_run(config: Mapping, disorder: str) -> dict | None:
    """The ``shared_run`` parameter of the files of ``disorder``'s simulations
    (:func:`sgpoison.mc.parallel_tempering.shared_run`): set for every Gaussian file when
    ``simulation.share_sweep_fractions`` records smaller fractions in the largest one's run."""
    from sgpoison.mc.parallel_tempering import shared_run

    shared = shared_sweep_fractions(config) if disorder == "gaussian" else []
    return shared_run(gaussian_sweep_fractions(config)[0], shared) if shared else None


def _simulate_settings(config: Mapping, wildcards: Mapping[str, Any]) -> dict[str, Any]:
    disorder, L = wildcards["disorder"], wildcards["L"]
    return simulation_parameters(config, disorder, simulation_row(config, disorder, L),
                                 float(wildcards["sweep_fraction"]),
                                 instances=batch_instances(config, disorder, L, wildcards["batch"])).to_dict() | {
        "shared_run": _shared_run(config, disorder)}


def _simulate_shared_settings(config: Mapping, wildcards: Mapping[str, Any]) -> dict[str, Any]:
    """A Gaussian run of the largest sweep fraction that also records the shared ones (wildcards L, batch)."""
    longest = {"disorder": "gaussian", "sweep_fraction": gaussian_sweep_fractions(config)[0]}
    return _simulate_settings(config, dict(wildcards) | longest)


def _merge_settings(config: Mapping, wildcards: Mapping[str, Any]) -> dict[str, Any]:
    disorder, L = wildcards["disorder"], wildcards["L"]
    parameters = simulation_parameters(config, disorder, simulation_row(config, disorder, L),
                                       float(wildcards["sweep_fraction"])).to_dict()
    return {k: v for k, v in parameters.items() if k not in _BATCH_FIELDS} | {
        "shared_run": _shared_run(config, disorder)}


def _scenario(config: Mapping, wildcards: Mapping[str, Any]) -> str:
    scenario = wildcards["scenario"]
    if scenario not in config["scenarios"]:
        raise ConfigError(f"scenarios: no scenario {scenario!r}; the config has "
                          f"{', '.join(config['scenarios'])}")
    return scenario


@dataclasses.dataclass(frozen=True)
class RuleSettings:
    """What one workflow rule runs and which settings its outputs depend on.

    Attributes
    ----------
    command : str
        The ``sgpoison`` command the rule runs; its code fingerprint
        (:func:`sgpoison.io.provenance.code_fingerprint`) is the rule's ``code`` param.
    settings_class : str or None
        The settings dataclass the command builds (a name used in :data:`CONFIG_FIELDS`).
    build : callable
        ``build(config, wildcards) -> dict``: the fields of that dataclass for one job.
    scenario_fields : dict of str to str
        Further settings taken from the job's scenario: name (as the outputs record it) ->
        key of ``scenarios.<scenario>``.
    """

    command: str
    settings_class: str | None
    build: Any
    scenario_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _scenario_settings(name: str, settings_class: str, scenario_fields: Mapping[str, str] | None = None):
    """A :class:`RuleSettings` of a rule with a ``scenario`` wildcard and per-scenario settings."""
    return RuleSettings(name, settings_class, lambda config, w: _fields(
        job_settings(config)[{"AuditConfig": "audit", "TrainingConfig": "training"}[settings_class]][
            _scenario(config, w)]), dict(scenario_fields or {}))


#: rule -> :class:`RuleSettings`: the one table of what every workflow rule runs and which
#: settings its outputs depend on, read by ``workflow/rules/common.smk`` (``get_settings``,
#: ``get_code``) and by ``sgpoison provenance``. A rule missing here stops the workflow.
RULE_SETTINGS: dict[str, RuleSettings] = {
    "simulate": RuleSettings("simulate", "SimulationParameters", _simulate_settings),
    # the Gaussian run of the largest sweep fraction writing the shared fractions' files too
    "simulate_shared": RuleSettings("simulate", "SimulationParameters", _simulate_shared_settings),
    "merge": RuleSettings("merge", "SimulationParameters", _merge_settings),
    # the sweep fraction of the training data also selects the input file; the outputs record it
    "audit": _scenario_settings("audit", "AuditConfig", {"sweep_fraction": "sweep_fraction"}),
    # network k of the ensemble: the scenario's TrainingConfig with network_index = k
    "train": RuleSettings("train", "TrainingConfig", lambda config, w: _fields(dataclasses.replace(
        job_settings(config)["training"][_scenario(config, w)], network_index=int(w["k"]))),
        {"training_sweep_fraction": "sweep_fraction"}),
    "predict": RuleSettings("predict", "PredictionSettings",
                            lambda config, w: _fields(job_settings(config)["prediction"])),
    # all null models of one (scenario, L) in one job (their list: the outputs)
    "train_null": RuleSettings("train_null", "NullSettings", lambda config, w: _fields(
        job_settings(config)["null"][_scenario(config, w)]), {"training_sweep_fraction": "sweep_fraction"}),
    "predict_null": RuleSettings("predict_null", None, lambda config, w: {}),
    "analyze": RuleSettings("analyze", "AnalysisSettings",
                            lambda config, w: _fields(job_settings(config)["analysis"])),
    "conventional": RuleSettings("conventional", "ConventionalSettings",
                                 lambda config, w: _fields(job_settings(config)["conventional"])),
    # the table and figure only collect the scenarios' estimates (their set: the input files)
    "summary": RuleSettings("summary", None, lambda config, w: {}),
    # one scan axis: collects the estimates and audits of its doses' scenarios (the input files,
    # in the order of the doses, which are a param of the rule)
    "dose_response": RuleSettings("dose_response", None, lambda config, w: {}),
}


def rule_entry(rule: str) -> RuleSettings:
    """The :data:`RULE_SETTINGS` entry of ``rule``.

    Raises
    ------
    ConfigError
        If the rule has none.
    """
    try:
        return RULE_SETTINGS[rule]
    except KeyError:
        raise ConfigError(f"rule {rule!r} has no entry in sgpoison.config.RULE_SETTINGS "
                          f"(rules: {', '.join(RULE_SETTINGS)}); add the command it runs and the "
                          "settings its outputs depend on there") from None


def config_keys(rule: str, field: str) -> list[str]:
    """The config keys that set ``field`` of ``rule``'s settings (:data:`CONFIG_FIELDS`
    patterns, e.g. ``network.iterations``, ``scenarios.{scenario}.sweep_fraction``)."""
    entry = rule_entry(rule)
    if field in entry.scenario_fields:
        return [f"scenarios.{{scenario}}.{entry.scenario_fields[field]}"]
    return [key for key, (classes, name) in CONFIG_FIELDS.items()
            if name == field and entry.settings_class in classes]


def rule_settings(config: Mapping, rule: str, wildcards: Mapping[str, Any]) -> dict[str, Any]:
    """Every named setting the outputs of one job depend on, from the configuration.

    These are the fields of the settings dataclass the job's command builds (the same
    values its outputs record under ``parameters``, see :mod:`sgpoison.io.provenance`)
    without :data:`MACHINE_FIELDS`, including settings the config does not set (their
    defaults in the dataclass) and values derived from several keys (a simulate job's
    ``seed`` and instance range), plus the rule's :attr:`RuleSettings.scenario_fields`. Which config key sets which field:
    :data:`CONFIG_FIELDS`. The workflow passes them as the param ``settings``
    (``workflow/rules/common.smk``, ``get_settings``); ``sgpoison provenance`` compares
    them with what each result file recorded.

    Parameters
    ----------
    config : mapping
        The study configuration, checked (:func:`validate_config`, defaults filled in).
    rule : str
        A key of :data:`RULE_SETTINGS` (``simulate``, ``merge``, ``audit``, ``train``, ...).
    wildcards : mapping
        The job's wildcards (strings as in file names): ``disorder``, ``L``,
        ``sweep_fraction``, ``batch`` (simulate, merge); ``scenario`` (audit, train).

    Returns
    -------
    dict
        Field name -> value, plain JSON types (lists for tuples).

    Raises
    ------
    ConfigError
        For a rule without an entry (:func:`rule_entry`), a scenario or size not in the
        config, a batch beyond the row's instances.
    """
    from sgpoison.io.jsonio import to_jsonable

    entry = rule_entry(rule)
    settings = dict(entry.build(config, wildcards))
    if entry.scenario_fields:
        scenario = config["scenarios"][_scenario(config, wildcards)]
        settings |= {name: scenario[key] for name, key in entry.scenario_fields.items()}
    return to_jsonable(settings)


# ------------------------------------------------------------------------------------------
# 3. checks across keys
# ------------------------------------------------------------------------------------------


def check_study(config: Mapping) -> None:
    """The checks that involve several keys (run after :func:`check_schema`).

    Raises
    ------
    ConfigError
        Naming the key: a size that is not a whole number or has no row in a table, a
        size listed twice in a table, too few bimodal instances for the bootstrap, too few
        Gaussian instances left for training after the validation split, a Gaussian
        ladder that does not straddle a scenario's ``t_label``, more than
        :data:`MAX_SIMULATE_JOBS` simulate jobs.
    """
    from sgpoison.fss.settings import MIN_INSTANCES
    from sgpoison.ml.labels import validation_count

    sizes = config["sizes"]
    validation_fraction = config["network"]["validation_fraction"]
    for index, L in enumerate(sizes):
        if not _whole(L):
            raise ConfigError(f"sizes[{index}]: L = {L!r} must be a whole number (write 4, not 4.0)")
    for disorder in ("gaussian", "bimodal"):
        seen = set()
        for index, row in enumerate(config["simulation"][disorder]):
            key = f"simulation.{disorder}[{index}]"
            if row["L"] in seen:
                raise ConfigError(f"{key}.L: L = {row['L']} is listed twice")
            seen.add(row["L"])
            if not _whole(row["L"]):
                raise ConfigError(f"{key}.L: L = {row['L']!r} must be a whole number")
            n = row["n_instances"]
            if disorder == "bimodal" and n < MIN_INSTANCES:
                raise ConfigError(
                    f"{key}.n_instances: {n} bimodal instance(s); the bootstrap error bars "
                    f"over disorder instances need at least {MIN_INSTANCES}")
            n_train = n - validation_count(n, validation_fraction)
            if disorder == "gaussian" and n_train < MIN_TRAINING_INSTANCES:
                raise ConfigError(
                    f"{key}.n_instances: {n} Gaussian instance(s) with "
                    f"network.validation_fraction = {validation_fraction} leave {n_train} "
                    f"training instance(s); at least {MIN_TRAINING_INSTANCES} are needed")
        for L in sizes:
            if L not in seen:
                raise ConfigError(
                    f"sizes: L = {L} has no row in simulation.{disorder}; "
                    "add one with its n_instances, n_sweeps, t_min, t_max, n_temps, n_snapshots")
    _check_job_count(config)
    for name in config["scenarios"]:
        key, t_label = scenario_labels(config, name)["t_label"]
        _check_ladder(config, t_label, key)


def _check_ladder(config: Mapping, t_label: float, key: str) -> None:
    """Every Gaussian ladder of the study straddles ``t_label`` (set by config key ``key``).

    Raises
    ------
    ConfigError
        Naming ``key``: all temperatures of a ladder lie on one side of ``t_label``, so one label
        class of the training set would be empty.
    """
    for row in config["simulation"]["gaussian"]:
        if row["L"] in config["sizes"] and not row["t_min"] <= t_label < row["t_max"]:
            raise ConfigError(
                f"{key}: t_label = {t_label}: the Gaussian ladder of L = {row['L']}, [t_min, t_max] = "
                f"[{row['t_min']}, {row['t_max']}], must contain temperatures both <= t_label and > it, "
                f"or one label class of the training set is empty; change {key} or the ladder "
                "(simulation.gaussian)", key=key)


def _check_job_count(config: Mapping) -> None:
    """At most :data:`MAX_SIMULATE_JOBS` simulate jobs: ceil(n_instances / batch_size) per size
    row of the study, once per sweep fraction of the scenarios not shared for the Gaussian rows."""
    batch_size = config["simulation"]["batch_size"]
    fractions = len(gaussian_sweep_fractions(config)) - len(shared_sweep_fractions(config))
    rows = []  # (jobs, key, n_instances)
    for disorder, runs in (("gaussian", fractions), ("bimodal", 1)):
        for index, row in enumerate(config["simulation"][disorder]):
            if row["L"] in config["sizes"]:
                n = row["n_instances"]
                rows.append((runs * -(-n // batch_size), f"simulation.{disorder}[{index}].n_instances", n))
    total = sum(jobs for jobs, _, _ in rows)
    if total > MAX_SIMULATE_JOBS:
        jobs, key, n = max(rows)
        raise ConfigError(
            f"simulation.batch_size: {total} simulate jobs of {batch_size} instance(s) each ({jobs} of "
            f"them for {key} = {n}); at most {MAX_SIMULATE_JOBS}, which Snakemake plans in about a "
            "minute -- raise simulation.batch_size or lower n_instances")


def validate_config(config: dict, schema_path: str | os.PathLike) -> dict:
    """Check a study configuration completely (steps 1-3 of the module docstring).

    Parameters
    ----------
    config : dict
        The configuration as loaded from YAML; the schema's defaults are filled in (in place).
    schema_path : path-like
        ``workflow/schemas/config.schema.yaml``.

    Returns
    -------
    dict
        ``config``.

    Raises
    ------
    ConfigError
        With a one-line message naming the key at fault.
    """
    check_schema(config, load_schema(schema_path), Path(schema_path).as_posix())
    expand_scans(config)
    job_settings(config)
    check_study(config)
    return config
