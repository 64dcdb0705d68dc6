"""``sgpoison cost``: the table and JSON of a configuration, the calibration, bad input."""

import json
import shutil

import pytest
import yaml

from builders import REPOSITORY, run_cli
from sgpoison.cli import main
from sgpoison.mc.kernels import resolve_kernel

TEST_CONFIG = str(REPOSITORY / "config" / "test.yaml")
GIVEN = ["--calibrate", "0", "--t-flip-gaussian", "2", "--t-flip-bimodal", "0.5"]


def test_cost_prints_every_stage_with_the_given_speeds(capsys):
    assert main(["cost", "--configfile", TEST_CONFIG, *GIVEN, "--cores", "4", "64", "--by-size"]) == 0
    out = capsys.readouterr().out
    assert "2 ns per spin-flip attempt (given)" in out and "0.5 ns per spin-flip attempt (given)" in out
    for text in ("simulate gaussian", "simulate bimodal", "train", "predict", "Monte Carlo", "total",
                 "wall h, 4 cores", "wall h, 64 cores"):
        assert text in out, text


def test_cost_json_and_the_schema_found_from_the_config_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the schema is found above the config file, not in the cwd
    assert main(["cost", "--configfile", TEST_CONFIG, *GIVEN, "--json", "--gflops-per-core", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["speeds"]["t_flip_ns"] == {"gaussian": 2.0, "bimodal": 0.5}
    assert data["speeds"]["calibration"] == {}
    assert set(data["total"]["wall_hours"]) == {"64", "1000"}
    assert data["total"]["core_hours"] == pytest.approx(sum(r["core_hours"] for r in data["rows"]))


def test_cost_calibrates_on_this_machine(capsys):
    assert main(["cost", "--configfile", TEST_CONFIG, "--calibrate", "0.4", "--t-flip-bimodal", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    measured = data["speeds"]["calibration"]
    # the kernel a simulate job selects; the bimodal speed was given, not measured
    assert measured["gaussian"]["kernel"] == resolve_kernel("auto", "gaussian") and "bimodal" not in measured
    assert data["speeds"]["t_flip_ns"]["gaussian"] == measured["gaussian"]["ns_per_flip"] > 0
    assert data["speeds"]["t_flip_ns"]["bimodal"] == 0.5


def test_cost_refuses_an_invalid_key_naming_file_and_key(capsys, tmp_path):
    config = yaml.safe_load(open(TEST_CONFIG))
    config["simulation"]["n_sweep"] = 100
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    shutil.copytree(REPOSITORY / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    code, err = run_cli(["cost", "--configfile", str(path), *GIVEN], capsys)
    assert code == 2
    assert "argument --configfile" in err and str(path) in err and "simulation.n_sweep" in err


@pytest.mark.parametrize("argv, message", [
    (["--configfile", "no/such.yaml", *GIVEN], "argument --configfile: no/such.yaml: no such file"),
    (["--configfile", TEST_CONFIG, "--calibrate", "0"], "--calibrate 0 needs --t-flip-gaussian and --t-flip-bimodal"),
    (["--configfile", TEST_CONFIG, "--calibrate", "-1"], "argument --calibrate: must be a number >= 0, got -1"),
    (["--configfile", TEST_CONFIG, *GIVEN, "--cores", "0"], "argument --cores: must be an integer"),
    (["--configfile", TEST_CONFIG, "--calibrate", "0", "--t-flip-gaussian", "nan", "--t-flip-bimodal", "1"],
     "argument --t-flip-gaussian: must be a number > 0, got nan"),
])
def test_cost_usage_errors(capsys, argv, message):
    code, err = run_cli(["cost", *argv], capsys)
    assert code == 2 and message in err, err


def test_cost_without_a_schema_names_the_option(capsys, tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    shutil.copy(TEST_CONFIG, path)
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(["cost", "--configfile", str(path), *GIVEN], capsys)
    assert code == 2 and "argument --schema: no workflow/schemas/config.schema.yaml above" in err, err


def test_cost_reports_a_file_that_is_not_yaml(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("sizes: [4, 6\n")
    code, err = run_cli(["cost", "--configfile", str(path), *GIVEN,
                         "--schema", str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml")], capsys)
    assert code == 1 and f"{path}: not valid YAML" in err, err
