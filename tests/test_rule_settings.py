"""sgpoison.config.RULE_SETTINGS / rule_settings: the settings every job's outputs depend on (the
workflow's ``settings`` params and the stale-result check), checked key by key against the
rerun table of docs/workflow.md, without Snakemake."""

from __future__ import annotations

import copy
import math
import re
from collections import defaultdict

import pytest

from builders import CONFIG_SCHEMA, REPOSITORY, load_config
from sgpoison.cli import COMMANDS
from sgpoison.config import (
    CONFIG_FIELDS,
    RULE_SETTINGS,
    ConfigError,
    config_keys,
    rule_settings,
    validate_config,
)


def jobs(config):
    """Wildcards of every job of the workflow for ``config`` (as the rules' output patterns give them)."""
    fractions = {"gaussian": sorted({float(s["sweep_fraction"]) for s in config["scenarios"].values()}),
                 "bimodal": [1.0]}
    out = defaultdict(list)
    for disorder, rows in ((d, config["simulation"][d]) for d in ("gaussian", "bimodal")):
        for row in rows:
            if row["L"] not in config["sizes"]:
                continue
            for f in fractions[disorder]:
                wildcards = {"disorder": disorder, "L": str(row["L"]), "sweep_fraction": str(f)}
                out["merge"].append(wildcards)
                for batch in range(math.ceil(row["n_instances"] / config["simulation"]["batch_size"])):
                    out["simulate"].append(wildcards | {"batch": str(batch)})
    for scenario in config["scenarios"]:
        for L in config["sizes"]:
            for rule in ("audit", "train_null", "predict_null"):
                out[rule].append({"scenario": scenario, "L": str(L)})
            for k in range(config["network"]["n_networks"]):
                for rule in ("train", "predict"):
                    out[rule].append({"scenario": scenario, "L": str(L), "k": str(k)})
        out["analyze"].append({"scenario": scenario})
    out["conventional"].append({})
    out["summary"].append({})
    return out


def settings_of(config):
    config = validate_config(copy.deepcopy(config), CONFIG_SCHEMA)
    return {(rule, tuple(sorted(w.items()))): rule_settings(config, rule, w)
            for rule, wildcards in jobs(config).items() for w in wildcards}


def _set(config, key, value):
    *path, last = key.split(".")
    node = config
    for part in path:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value


def _swap(a, b):
    def change(config):
        x, y = (_get(config, k) for k in (a, b))
        _set(config, a, y)
        _set(config, b, x)
    return change


def _get(config, key):
    node = config
    for part in key.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def _to(key, value):
    return lambda config: _set(config, key, value)


#: a change of the config -> (config keys it exercises, the jobs whose settings change or that
#: are new, as {rule: predicate on wildcards}); docs/workflow.md's rerun table says the same
def ALL(wildcards):
    return True


CASES = {
    "swap network.iterations and batch_size": (
        _swap("network.iterations", "network.batch_size"), ["network.iterations", "network.batch_size"],
        {"train": ALL}),
    "network.iterations equal to network.seed": (
        _to("network.iterations", 3), [], {"train": ALL}),
    "network.t_label": (_to("network.t_label", 0.9), ["network.t_label"],
                        {"audit": ALL, "train": ALL, "train_null": ALL}),
    "network.validation_fraction": (_to("network.validation_fraction", 0.3), ["network.validation_fraction"],
                                    {"audit": ALL, "train": ALL, "train_null": ALL}),
    "network.seed": (_to("network.seed", 4), ["network.seed"], {"audit": ALL, "train": ALL, "train_null": ALL}),
    "network.learning_rate": (_to("network.learning_rate", 0.01), ["network.learning_rate"], {"train": ALL}),
    "network.padding": (_to("network.padding", "same"), ["network.padding"], {"train": ALL}),
    "network.deterministic": (_to("network.deterministic", True), ["network.deterministic"], {"train": ALL}),
    **{f"network.{name}": (_to(f"network.{name}", value), [f"network.{name}"], {"train": ALL})
       for name, value in (("channels", 4), ("kernel_size", 5), ("strides", 1), ("dense_units", 16),
                           ("dropout", 0.1), ("augment_sign_flip", False), ("augment_translations", False),
                           ("augment_cube_symmetries", True), ("symmetrize", False), ("keep_best", False),
                           ("patience", 3), ("report_every", 7), ("mixed_precision", "mixed_bfloat16"),
                           ("jit_compile", True))},
    **{f"network.{name}": (_to(f"network.{name}", value), [f"network.{name}"],
                           {"train": ALL, "train_null": ALL})
       for name, value in (("balance_classes", False), ("bootstrap_instances", True))},
    "network.predict_batch_size": (_to("network.predict_batch_size", 32), ["network.predict_batch_size"],
                                   {"predict": ALL}),
    "one scenario's label_noise": (
        _to("scenarios.clean.label_noise", 0.02), ["scenarios.{scenario}.label_noise"],
        {rule: lambda w: w["scenario"] == "clean" for rule in ("audit", "train", "train_null")}),
    "one scenario's label_noise_mode": (
        _to("scenarios.label_noise_1pct.label_noise_mode", "block"), ["scenarios.{scenario}.label_noise_mode"],
        {rule: lambda w: w["scenario"] == "label_noise_1pct" for rule in ("audit", "train", "train_null")}),
    "one scenario's t_label": (
        _to("scenarios.clean.t_label", 0.9), ["scenarios.{scenario}.t_label"],
        {rule: lambda w: w["scenario"] == "clean" for rule in ("audit", "train", "train_null")}),
    "one scenario's t_label equal to network.t_label": (_to("scenarios.clean.t_label", 0.95), [], {}),
    "one scenario's sweep_fraction": (
        _to("scenarios.clean.sweep_fraction", 0.5), ["scenarios.{scenario}.sweep_fraction"],
        {rule: lambda w: w["scenario"] == "clean" for rule in ("audit", "train", "train_null")}),
    "analysis.n_bootstrap": (_to("analysis.n_bootstrap", 20), ["analysis.n_bootstrap"],
                             {"analyze": ALL, "conventional": ALL}),
    "analysis.seed": (_to("analysis.seed", 1), ["analysis.seed"], {"analyze": ALL, "conventional": ALL}),
    "analysis.observable": (_to("analysis.observable", "fraction_high"), ["analysis.observable"],
                            {"analyze": ALL}),
    "audit.policy": (_to("audit.policy", "refuse"), ["audit.policy"], {"audit": ALL}),
    "audit.swap_floor": (_to("audit.swap_floor", 0.2), ["audit.swap_floor"], {"audit": ALL}),
    "audit.noise_estimate": (_to("audit.noise_estimate", True), ["audit.noise_estimate"], {"audit": ALL}),
    "audit.noise_classifier": (_to("audit.noise_classifier", "null_q2_ql"), ["audit.noise_classifier"],
                               {"audit": ALL}),
    **{f"simulation row {name}": (
        _to(f"simulation.gaussian.1.{name}", value), [f"simulation.{{disorder}}[].{name}"],
        {rule: lambda w: (w["disorder"], w["L"]) == ("gaussian", "6") for rule in ("simulate", "merge")})
       for name, value in (("n_sweeps", 128), ("t_min", 0.7), ("t_max", 1.4), ("n_temps", 8),
                           ("n_snapshots", 4))},
    **{f"simulation.{name}": (_to(f"simulation.{name}", value), [f"simulation.{name}"],
                              {"simulate": ALL, "merge": ALL})
       for name, value in (("ladder", "geometric"), ("measure_interval", 1), ("swap_interval", 2))},
    "simulation.seed": (_to("simulation.seed", 2), [], {"simulate": ALL, "merge": ALL}),
    "simulation.batch_size": (_to("simulation.batch_size", 3), [],
                              {"simulate": ALL}),  # new instance ranges; merge: new input files
    "more instances": (_to("simulation.bimodal.0.n_instances", 12), [],
                       {"simulate": lambda w: (w["disorder"], w["L"], w["batch"]) == ("bimodal", "4", "2")}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_change_alters_the_settings_of_exactly_the_affected_jobs(case):
    change, _, affected = CASES[case]
    config = load_config("test.yaml")
    before = settings_of(config)
    change(config)
    after = settings_of(config)
    changed = {job for job, settings in after.items() if before.get(job) != settings}
    expected = {(rule, wildcards) for rule, wildcards in after
                if rule in affected and affected[rule](dict(wildcards))}
    assert changed == expected


def test_every_setting_of_the_config_is_exercised():
    exercised = {key for _, keys, _ in CASES.values() for key in keys}
    # a row's L says which size the row is for (file names), it is not a setting of a job
    assert exercised == set(CONFIG_FIELDS) - {"simulation.{disorder}[].L"}


def test_a_changed_schema_default_changes_the_settings(tmp_path):
    import yaml

    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())
    config = load_config("test.yaml")
    del config["audit"]["swap_floor"]
    default = validate_config(copy.deepcopy(config), CONFIG_SCHEMA)
    audit = {"scenario": "clean", "L": "4"}
    assert rule_settings(default, "audit", audit)["swap_floor"] == schema["properties"]["audit"][
        "properties"]["swap_floor"]["default"]
    schema["properties"]["audit"]["properties"]["swap_floor"]["default"] = 0.3
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    changed = validate_config(copy.deepcopy(config), tmp_path / "schema.yaml")
    assert rule_settings(changed, "audit", audit)["swap_floor"] == 0.3


def test_settings_leave_out_the_machine_and_name_the_keys():
    config = validate_config(load_config("test.yaml"), CONFIG_SCHEMA)
    train = rule_settings(config, "train", {"scenario": "underthermalized_50pct", "L": "6", "k": "1"})
    assert "threads" not in train and train["network_index"] == 1
    assert (train["iterations"], train["batch_size"], train["training_sweep_fraction"]) == (10, 32, 0.5)
    assert config_keys("train", "batch_size") == ["network.batch_size"]
    assert config_keys("predict", "batch_size") == ["network.predict_batch_size"]
    assert config_keys("train", "training_sweep_fraction") == ["scenarios.{scenario}.sweep_fraction"]
    simulate = rule_settings(config, "simulate", {"disorder": "bimodal", "L": "8", "sweep_fraction": "1.0",
                                                  "batch": "1"})
    assert (simulate["instance_start"], simulate["instance_stop"], simulate["seed"]) == (4, 8, 1008)
    with pytest.raises(ConfigError, match="rule 'fit' has no entry in sgpoison.config.RULE_SETTINGS"):
        rule_settings(config, "fit", {})
    with pytest.raises(ConfigError, match="no scenario 'other'"):
        rule_settings(config, "train", {"scenario": "other", "L": "4", "k": "0"})
    with pytest.raises(ConfigError, match="batch 2 of bimodal L = 8 starts at instance 8"):
        rule_settings(config, "simulate", {"disorder": "bimodal", "L": "8", "sweep_fraction": "1.0", "batch": "2"})


def test_every_rule_passes_its_settings_and_code_the_same_way():
    """Every rule of the workflow has an entry, runs an sgpoison command and ends its params
    with the same two lines."""
    rules = {}
    for path in sorted((REPOSITORY / "workflow" / "rules").glob("*.smk")):
        # top-level rules and rules inside an ``if`` block (indented by 4 more)
        for match in re.finditer(r"^( *)rule (\w+):\n((?:\1    .*\n|\n)*)", path.read_text(), flags=re.M):
            indent = match.group(1)
            rules[match.group(2)] = (indent, match.group(3))
    assert set(rules) == set(RULE_SETTINGS)
    for rule, (indent, body) in rules.items():
        params = re.search(rf"^{indent}    params:\n((?:{indent}        .*\n)+)", body, flags=re.M)
        lines = [line.removeprefix(indent) for line in params.group(1).splitlines()]
        assert lines[-2:] == [f'        settings=get_settings("{rule}"),', f'        code=get_code("{rule}"),'], rule
        command = RULE_SETTINGS[rule].command
        assert command in COMMANDS and f"sgpoison {command.replace('_', '-')} " in body, rule


def test_the_code_table_of_the_docs_is_the_code_of_each_rule():
    """docs/workflow.md lists each rule's modules (without the ones every rule runs)."""
    from sgpoison.io.provenance import module_hashes, stage_modules

    text = (REPOSITORY / "docs" / "workflow.md").read_text()
    table = text.split("| rule | code |\n|---|---|\n")[1].split("\n\n")[0]
    documented = {}
    for line in table.splitlines():
        rule, code = re.fullmatch(r"\| `(\w+)` \| (.*) \|", line).groups()
        modules = set()
        for entry in code.split("; "):
            group, _, names = entry.partition(": ")
            group = group.strip("`")
            modules |= {f"sgpoison.{group}.{name}" for name in names.split(", ")} if names else {f"sgpoison.{group}"}
        documented[rule] = modules
    every_rule = ("cli", "errors", "settings")
    packages = {m.rpartition(".")[0] for m in module_hashes()}
    for rule, entry in RULE_SETTINGS.items():
        code = {m for m in stage_modules(entry.command)
                if m not in packages and m.split(".")[1] not in every_rule}
        assert documented[rule] == code, rule
