"""The study configuration check (sgpoison.config): every invalid configuration is rejected before
any job, naming the key, and the limits of the configuration, the settings dataclasses and the
command line agree (they are defined once, in the dataclasses; the schema documents them)."""

from __future__ import annotations

import copy
import math
import re

import pytest

from builders import CONFIG_SCHEMA, INVALID_CONFIGS, load_config
from sgpoison.cli import build_parser
from sgpoison.cli._common import settings_from
from sgpoison.config import (CONFIG_FIELDS, MAX_SIMULATE_JOBS, ConfigError, _settings_classes, load_schema,
                             validate_config)
from sgpoison.errors import SettingsError
from sgpoison.fss.settings import MIN_SIZES

SCHEMA = load_schema(CONFIG_SCHEMA)
CLASSES = _settings_classes()

#: keys whose study limit is stricter than the library's, and why (documented in the schema)
STRICTER_IN_STUDY = {
    "simulation.{disorder}[].L": "a study starts at L = 4",
    "scenarios.{scenario}.sweep_fraction": "f >= 0.0001 appears in file names without an exponent",
}
#: (key, value) accepted by the command line but rejected by a check across keys of the study
CROSS_KEY = {
    ("network.t_label", "inside lower"): "the Gaussian ladders (0.8 ... 1.3) must straddle t_label",
    ("scenarios.{scenario}.t_label", "inside lower"): "the Gaussian ladders (0.8 ... 1.3) must straddle t_label",
    ("network.validation_fraction", "inside upper"): "8 Gaussian instances leave no training instance",
}
#: schema defaults that differ from the settings' defaults on purpose
STUDY_DEFAULTS = {"network.seed": "the shipped studies seed their networks with 3"}


# ------------------------------------------------------------------------------------------
# invalid configurations
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(INVALID_CONFIGS))
def test_invalid_config_is_rejected_naming_the_key(case):
    mutate, key = INVALID_CONFIGS[case]
    config = load_config("test.yaml")
    mutate(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config, CONFIG_SCHEMA)
    assert key in str(info.value)


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml", "dose-response.yaml"])
def test_shipped_configs_are_valid_and_get_the_schema_defaults(name):
    config = load_config(name)
    config.pop("audit", None)
    config["network"].pop("padding", None)
    assert validate_config(config, CONFIG_SCHEMA) is config
    assert config["audit"] == {"policy": "warn", "swap_floor": 0.1, "noise_estimate": True,
                               "noise_classifier": "cnn"}
    assert config["network"]["padding"] == "periodic"


def test_schema_errors_name_the_key_and_describe_it():
    config = load_config("test.yaml")
    config["scenarios"]["clean"]["label_noise"] = -0.01
    with pytest.raises(ConfigError, match=r"^config key scenarios\.clean\.label_noise: -0\.01 is less than "
                                          r"the minimum of 0 -- scenarios\.clean\.label_noise is: fraction"):
        validate_config(config, CONFIG_SCHEMA)


# ------------------------------------------------------------------------------------------
# the schema documents the limits and defaults of the settings
# ------------------------------------------------------------------------------------------


def schema_node(key: str, disorder: str = "gaussian") -> dict:
    """The schema of a CONFIG_FIELDS key."""
    node = SCHEMA
    for part in key.replace("{disorder}", disorder).split("."):
        rows = part.endswith("[]")
        name = part.removesuffix("[]")
        node = node["additionalProperties"] if name == "{scenario}" else node["properties"][name]
        if rows:
            node = node["items"]
        if "$ref" in node:  # the definition, with the keywords beside the $ref (default)
            node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]] | {k: v for k, v in node.items() if k != "$ref"}
    return node


BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


@pytest.mark.parametrize("key", sorted(CONFIG_FIELDS))
def test_schema_limits_and_defaults_agree_with_the_settings(key):
    class_names, field = CONFIG_FIELDS[key]
    for disorder in (("gaussian", "bimodal") if "{disorder}" in key else ("gaussian",)):
        node = schema_node(key, disorder)
        documented = {k: node[k] for k in BOUND_KEYWORDS if k in node}
        for cls in (CLASSES[name] for name in class_names):
            limits, choices = cls.limits(field), cls.choices(field)
            if key in STRICTER_IN_STUDY:  # never looser than the library
                assert limits is not None
                for value in _boundary_values(key)[1]:
                    if value not in limits and math.isfinite(value):  # JSON schema cannot say "finite"
                        assert not _in_schema(node, value), (key, value)
            else:
                assert documented == (limits.schema() if limits else {}), (key, cls.__name__)
            assert node.get("enum") == (list(choices) if choices else None), key
            assert node["type"] == _schema_type(cls, field, limits, choices), key
            if "default" in node and key not in STUDY_DEFAULTS:
                assert node["default"] == cls.default(field), (key, cls.__name__)


def _schema_type(cls, field, limits, choices):
    if choices:
        return "string"
    if limits is None:
        return "boolean" if isinstance(cls.default(field), bool) else "string"
    kind = "integer" if limits.integer else "number"
    return [kind, "null"] if limits.optional else kind


def _in_schema(node, value) -> bool:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(node).is_valid(value)


def test_every_limit_of_the_schema_is_a_settings_limit_or_the_study_s_own():
    """No number in the schema is a limit of its own, except those of keys only the study has."""
    study_only = {"sizes[]", "simulation.seed", "simulation.batch_size", "simulation.{disorder}[].n_instances",
                  "network.n_networks"}  # the workflow's ensemble size (jobs per (scenario, L))
    found = set()

    def walk(node, key):
        if "$ref" in node:
            node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
        if any(k in node for k in BOUND_KEYWORDS):
            found.add(key)
        for name, child in node.get("properties", {}).items():
            part = "{disorder}" if name in ("gaussian", "bimodal") else name
            walk(child, f"{key}.{part}".lstrip("."))
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{key}.{{scenario}}")
        if "items" in node:
            walk(node["items"], key + "[]")

    walk(SCHEMA, "")
    # the doses of a scan axis are values of the scenario key of that poison (test below)
    found = {f"scenarios.{{scenario}}.{key[6:-2]}" if key.startswith("scans.") else key for key in found}
    assert found <= set(CONFIG_FIELDS) | study_only, found - set(CONFIG_FIELDS) - study_only
    assert SCHEMA["properties"]["sizes"]["minItems"] == MIN_SIZES


def test_poisons_are_defined_once_for_the_scenarios_the_scans_and_the_network():
    from sgpoison.config import SCAN_AXES

    scenario = SCHEMA["properties"]["scenarios"]["additionalProperties"]["properties"]
    scans = SCHEMA["properties"]["scans"]["properties"]
    for axis in SCAN_AXES:
        assert scans[axis]["items"] == {"$ref": f"#/$defs/{axis}"} == {"$ref": scenario[axis]["$ref"]}, axis
    assert scans["label_noise_mode"]["$ref"] == scenario["label_noise_mode"]["$ref"] == "#/$defs/label_noise_mode"
    assert SCHEMA["properties"]["network"]["properties"]["t_label"]["$ref"] == "#/$defs/t_label"


# ------------------------------------------------------------------------------------------
# every boundary value: the configuration check and the command line decide alike
# ------------------------------------------------------------------------------------------

#: the command line that sets each key: (command, option)
COMMAND_LINES = {
    "simulation.{disorder}[].L": [("simulate", "--L")],
    "simulation.{disorder}[].n_sweeps": [("simulate", "--n-sweeps")],
    "simulation.{disorder}[].t_min": [("simulate", "--t-min")],
    "simulation.{disorder}[].t_max": [("simulate", "--t-max")],
    "simulation.{disorder}[].n_temps": [("simulate", "--n-temps")],
    "simulation.{disorder}[].n_snapshots": [("simulate", "--n-snapshots")],
    "simulation.ladder": [("simulate", "--ladder")],
    "simulation.measure_interval": [("simulate", "--measure-interval")],
    "simulation.swap_interval": [("simulate", "--swap-interval")],
    "scenarios.{scenario}.sweep_fraction": [("simulate", "--sweep-fraction")],
    "network.t_label": [("train", "--t-label"), ("train-null", "--t-label"), ("audit", "--t-label")],
    "network.iterations": [("train", "--iterations")],
    "network.batch_size": [("train", "--batch-size")],
    "network.learning_rate": [("train", "--learning-rate")],
    "network.padding": [("train", "--padding")],
    "network.channels": [("train", "--channels")],
    "network.kernel_size": [("train", "--kernel-size")],
    "network.strides": [("train", "--strides")],
    "network.dense_units": [("train", "--dense-units")],
    "network.dropout": [("train", "--dropout")],
    "network.patience": [("train", "--patience")],
    "network.report_every": [("train", "--report-every")],
    "network.mixed_precision": [("train", "--mixed-precision")],
    "network.validation_fraction": [("train", "--validation-fraction"), ("train-null", "--validation-fraction"),
                                    ("audit", "--validation-fraction")],
    "network.seed": [("train", "--seed"), ("train-null", "--seed"), ("audit", "--seed")],
    "network.predict_batch_size": [("predict", "--batch-size")],
    "scenarios.{scenario}.label_noise": [("train", "--label-noise"), ("train-null", "--label-noise"),
                                         ("audit", "--label-noise")],
    "scenarios.{scenario}.label_noise_mode": [("train", "--label-noise-mode"), ("train-null", "--label-noise-mode"),
                                              ("audit", "--label-noise-mode")],
    "scenarios.{scenario}.t_label": [("train", "--t-label"), ("train-null", "--t-label"), ("audit", "--t-label")],
    "analysis.n_bootstrap": [("analyze", "--n-bootstrap"), ("conventional", "--n-bootstrap")],
    "analysis.seed": [("analyze", "--seed"), ("conventional", "--seed")],
    "analysis.observable": [("analyze", "--observable")],
    "audit.policy": [("audit", "--policy")],
    "audit.swap_floor": [("audit", "--swap-floor")],
    "audit.noise_classifier": [("audit", "--noise-classifier")],
}
#: keys without limits (booleans)
UNBOUNDED = {"network.deterministic", "audit.noise_estimate", "network.augment_sign_flip",
             "network.augment_translations", "network.augment_cube_symmetries", "network.symmetrize",
             "network.balance_classes", "network.keep_best", "network.bootstrap_instances", "network.jit_compile"}
#: where a key's bound meets a bound of another key: (disorder of the row, other values of the
#: row, other options) -- t_max just above 0 needs a t_min below it (bimodal: no t_label to straddle)
CONTEXT = {"simulation.{disorder}[].t_max": ("bimodal", {"t_min": 1e-7}, ["--t-min", "1e-07"])}


def test_every_config_field_has_a_command_line():
    assert set(COMMAND_LINES) | UNBOUNDED == set(CONFIG_FIELDS)


def _boundary_values(key):
    """(labels, values): just inside and just outside every bound of the key's limits, and
    NaN/+-inf for numbers; every choice and one that is not."""
    class_names, field = CONFIG_FIELDS[key]
    cls = CLASSES[class_names[0]]
    limits, choices = cls.limits(field), cls.choices(field)
    if choices is not None:
        return [f"choice {c}" for c in choices] + ["no choice"], list(choices) + ["no-such-choice"]
    step = 1 if limits.integer else 1e-6
    cases = {}
    if limits.minimum is not None:
        cases |= {"inside lower": limits.minimum, "outside lower": limits.minimum - step}
    if limits.exclusive_minimum is not None:
        cases |= {"inside lower": limits.exclusive_minimum + step, "outside lower": limits.exclusive_minimum}
    if limits.maximum is not None:
        cases |= {"inside upper": limits.maximum, "outside upper": limits.maximum + step}
    if limits.exclusive_maximum is not None:
        cases |= {"inside upper": limits.exclusive_maximum - step, "outside upper": limits.exclusive_maximum}
    if not limits.integer:
        cases |= {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    return list(cases), list(cases.values())


def _set(config, key, value, disorder="gaussian", row=None):
    """Set ``key`` (first row of ``disorder``, scenario 'clean') of a configuration to ``value``."""
    node = config
    parts = key.replace("{disorder}", disorder).replace("{scenario}", "clean").split(".")
    for part in parts[:-1]:
        node = node[part.removesuffix("[]")]
        if part.endswith("[]"):
            node = node[0]
            node.update(row or {})
    node[parts[-1]] = value


def _config_accepts(key, value) -> bool:
    config = load_config("test.yaml")
    disorder, row, _ = CONTEXT.get(key, ("gaussian", {}, []))
    _set(config, key, copy.deepcopy(value), disorder, row)
    try:
        validate_config(config, CONFIG_SCHEMA)
    except ConfigError:
        return False
    return True


@pytest.fixture(scope="module")
def base_command_lines(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    data = d / "data.nc"
    data.write_text("")
    return {
        "simulate": ["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:8", "--n-sweeps", "64",
                     "--t-min", "0.8", "--t-max", "1.3", "--n-temps", "6", "--out", str(d / "s.nc")],
        "train": ["train", "--data", str(data), "--out", str(d / "m.keras"), "--history", str(d / "h.csv"),
                  "--metadata", str(d / "m.json")],
        "audit": ["audit", "--data", str(data), "--out", str(d / "a.json")],
        "predict": ["predict", "--model", str(data), "--data", str(data), "--out", str(d / "p.nc")],
        "train-null": ["train-null", "--data", str(data), "--observables", "ql", "--out", str(d / "n.json")],
        "analyze": ["analyze", "--predictions", str(data), "--out", str(d / "analysis")],
        "conventional": ["conventional", "--data", str(data), "--out", str(d / "conventional")],
    }


def _command_line_accepts(argv) -> bool:
    """Parse ``argv`` and build the command's settings, as ``sgpoison`` does before any work."""
    try:
        args = build_parser().parse_args(argv)
        settings_from(args.settings, args)
    except SystemExit:
        return False
    except SettingsError:
        return False
    return True


@pytest.mark.parametrize("key", sorted(COMMAND_LINES))
def test_boundary_values_are_accepted_or_rejected_alike(key, base_command_lines, capsys):
    """The configuration check never accepts what a command rejects, and rejects only that,
    except where the study is stricter (STRICTER_IN_STUDY) or keys interact (CROSS_KEY)."""
    labels, values = _boundary_values(key)
    accepted_somewhere = False
    for label, value in zip(labels, values):
        in_config = _config_accepts(key, value)
        text = repr(value) if isinstance(value, float) else str(value)
        for command, option in COMMAND_LINES[key]:
            context = CONTEXT.get(key, ("gaussian", {}, []))[2]
            in_cli = _command_line_accepts(base_command_lines[command] + context + [option, text])
            capsys.readouterr()
            assert in_cli or not in_config, f"{key} = {value!r}: the config accepts, sgpoison {command} rejects"
            if key not in STRICTER_IN_STUDY and (key, label) not in CROSS_KEY:
                assert in_config == in_cli, f"{key} = {value!r} ({label}): config {in_config}, {command} {in_cli}"
            accepted_somewhere |= in_cli
    assert accepted_somewhere, f"no boundary value of {key} is valid: the walk tests nothing"


def test_config_error_names_the_key_of_a_settings_limit():
    config = load_config("test.yaml")
    config["simulation"]["bimodal"][1]["t_max"] = math.inf
    with pytest.raises(ConfigError, match=re.escape("config key simulation.bimodal[1].t_max: t_max must be "
                                                    "a number > 0, got inf")):
        validate_config(config, CONFIG_SCHEMA)


# ------------------------------------------------------------------------------------------
# values that would crash a job late or stall Snakemake: rejected up front
# ------------------------------------------------------------------------------------------

#: (config key, value, text of the message): seeds and instance indices an int64 cannot hold
#: (the outputs record them as int64), and more simulate jobs than Snakemake plans quickly
LATE_FAILURES = {
    "network.seed 2^63": (("network", "seed"), 2**63, "network.seed: 9223372036854775808 is greater than the maximum"),
    "analysis.seed 10^23": (("analysis", "seed"), 10**23, "analysis.seed: 100000000000000000000000 is greater"),
    "n_instances 2^63": (("simulation", "bimodal", 0, "n_instances"), 2**63,
                         "config key simulation.bimodal[0].n_instances: instances must be a range start:stop with "
                         "0 <= start < stop <= 2^63 - 1, got 0:9223372036854775808"),
    "n_instances 10^9": (("simulation", "gaussian", 2, "n_instances"), 10**9,
                         # 10^9 / 4 batches at 2 sweep fractions, + 2 x 2 x 2 other Gaussian and 3 x 2 bimodal
                         f"simulation.batch_size: 500000014 simulate jobs of 4 instance(s) each (500000000 of them "
                         f"for simulation.gaussian[2].n_instances = 1000000000); at most {MAX_SIMULATE_JOBS}"),
}


@pytest.mark.parametrize("case", sorted(LATE_FAILURES))
def test_values_that_would_fail_late_are_rejected_up_front(case):
    path, value, message = LATE_FAILURES[case]
    config = load_config("test.yaml")
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as info:
        validate_config(config, CONFIG_SCHEMA)
    assert message in str(info.value)


def test_simulate_job_limit_counts_every_sweep_fraction_and_batch():
    config = load_config("test.yaml")  # batch_size 4, 8 instances per row, 3 sizes, 2 sweep fractions
    fractions = len({s["sweep_fraction"] for s in config["scenarios"].values()})
    jobs = 3 * 2 * fractions + 3 * 2
    config["simulation"]["gaussian"][0]["n_instances"] = 4 * (MAX_SIMULATE_JOBS - jobs) // fractions + 8
    validate_config(copy.deepcopy(config), CONFIG_SCHEMA)  # exactly MAX_SIMULATE_JOBS jobs
    config["simulation"]["gaussian"][0]["n_instances"] += 1
    with pytest.raises(ConfigError, match=f"{MAX_SIMULATE_JOBS + fractions} simulate jobs"):
        validate_config(config, CONFIG_SCHEMA)
