"""The dose-response scans of the study configuration (sgpoison.config.expand_scans, scan_doses):
scenario names and parameters, doses that are an existing scenario, collisions, and the
simulations the scans add."""

from __future__ import annotations

import copy

import pytest

from builders import CONFIG_SCHEMA, load_config
from sgpoison.config import ConfigError, expand_scans, job_settings, scan_doses, validate_config

SCANS = {"label_noise": [0.02, 0, 0.005, 0.01], "sweep_fraction": [1, 0.5, 0.25], "t_label": [0.9, 0.95, 1.0]}


def scanned(scans=SCANS, config=None):
    config = copy.deepcopy(config or load_config("test.yaml"))
    config["scans"] = copy.deepcopy(scans)
    return validate_config(config, CONFIG_SCHEMA)


def test_each_dose_is_the_base_scenario_with_one_poison_changed():
    config = scanned()
    scenarios = config["scenarios"]
    added = list(scenarios)[3:]
    assert added == ["label_noise_0.02", "label_noise_0.005", "sweep_fraction_0.25", "t_label_0.9", "t_label_1.0"]
    base = {"label_noise": 0.0, "label_noise_mode": "independent", "sweep_fraction": 1.0}
    assert scenarios["label_noise_0.005"] == base | {"label_noise": 0.005}
    assert scenarios["sweep_fraction_0.25"] == base | {"sweep_fraction": 0.25}
    assert scenarios["t_label_0.9"] == base | {"t_label": 0.9}
    settings = job_settings(config)
    assert settings["training"]["t_label_1.0"].t_label == 1.0
    assert settings["audit"]["t_label_1.0"].t_label == settings["null"]["t_label_1.0"].t_label == 1.0
    assert settings["training"]["label_noise_0.02"].label_noise == 0.02
    assert settings["training"]["label_noise_0.02"].t_label == 0.95  # network.t_label


def test_doses_sorted_and_equal_scenarios_reused():
    """A dose equal to the base (label_noise 0, sweep_fraction 1, t_label = network.t_label) is the
    base; one equal to another listed scenario (label_noise_1pct, underthermalized_50pct) is that one."""
    assert scan_doses(scanned()) == {
        "label_noise": [(0.0, "clean"), (0.005, "label_noise_0.005"), (0.01, "label_noise_1pct"),
                        (0.02, "label_noise_0.02")],
        "sweep_fraction": [(0.25, "sweep_fraction_0.25"), (0.5, "underthermalized_50pct"), (1.0, "clean")],
        "t_label": [(0.9, "t_label_0.9"), (0.95, "clean"), (1.0, "t_label_1.0")],
    }


def test_no_duplicate_jobs_and_only_the_new_sweep_fraction_is_simulated():
    before = validate_config(load_config("test.yaml"), CONFIG_SCHEMA)
    config = scanned()
    poisons = [(s["label_noise"], s["label_noise_mode"] if s["label_noise"] else None, s["sweep_fraction"],
                s.get("t_label", 0.95)) for s in config["scenarios"].values()]
    assert len(set(poisons)) == len(poisons)  # no two scenarios train on the same set
    simulated = {(p.disorder, p.L, p.sweep_fraction) for p in job_settings(config)["simulation"]}
    old = {(p.disorder, p.L, p.sweep_fraction) for p in job_settings(before)["simulation"]}
    assert simulated - old == {("gaussian", L, 0.25) for L in (4, 6, 8)}


def test_expansion_is_idempotent_and_the_scans_are_optional():
    config = scanned()
    again = expand_scans(copy.deepcopy(config))
    assert again == config and scan_doses(again) == scan_doses(config)
    plain = validate_config(load_config("test.yaml"), CONFIG_SCHEMA)
    assert plain["scans"] == {"base": "clean", "label_noise_mode": "independent"}  # schema defaults, no axis
    assert scan_doses(plain) == {} and len(plain["scenarios"]) == 3


def test_block_mode_and_another_base():
    config = load_config("test.yaml")
    config["scenarios"]["cold"] = {"label_noise": 0.0, "sweep_fraction": 1.0, "t_label": 0.9}
    config = scanned({"base": "cold", "label_noise": [0, 0.05], "label_noise_mode": "block",
                      "t_label": [0.9, 0.95]}, config)
    assert scan_doses(config) == {"label_noise": [(0.0, "cold"), (0.05, "label_noise_block_0.05")],
                                  "t_label": [(0.9, "cold"), (0.95, "clean")]}
    assert config["scenarios"]["label_noise_block_0.05"] == {
        "label_noise": 0.05, "label_noise_mode": "block", "sweep_fraction": 1.0, "t_label": 0.9}
    assert job_settings(config)["training"]["label_noise_block_0.05"].label_noise_mode == "block"


def test_a_listed_scenario_with_the_derived_name_and_its_parameters_is_used():
    config = load_config("test.yaml")
    config["scenarios"]["label_noise_0.2"] = {"label_noise": 0.2, "sweep_fraction": 1.0}
    config = scanned({"label_noise": [0.2]}, config)
    assert scan_doses(config) == {"label_noise": [(0.2, "label_noise_0.2")]}
    assert len(config["scenarios"]) == 4


@pytest.mark.parametrize("other, message", [
    ({"label_noise": 0.2, "sweep_fraction": 0.5}, "scans.label_noise[1]: dose 0.2 of the scan from 'clean' derives "
                                                  "the scenario name 'label_noise_0.2', which scenarios lists"),
    ({"label_noise": 0.2, "sweep_fraction": 1.0, "label_noise_mode": "block"}, "scans.label_noise[1]"),
])
def test_a_derived_name_with_other_parameters_is_an_error(other, message):
    config = load_config("test.yaml")
    config["scenarios"]["label_noise_0.2"] = other
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        scanned({"label_noise": [0.1, 0.2]}, config)


def test_dose_names_have_no_exponent():
    config = scanned({"label_noise": [1e-5], "sweep_fraction": [0.0001]})
    assert {"label_noise_0.00001", "sweep_fraction_0.0001"} <= set(config["scenarios"])
