"""The command line (sgpoison.cli): one style of errors, shared options, defaults from the settings."""

import pytest

from builders import run_cli
from sgpoison.cli import COMMANDS, build_parser
from sgpoison.cli._common import option_of
from sgpoison.ml.settings import LabelSettings


def _choices():
    return build_parser()._subparsers._group_actions[0].choices


def _command_parser(name):
    return _choices()[name]


def test_every_command_is_registered_and_baseline_is_an_alias(capsys):
    choices = _choices()
    assert {module.replace("_", "-") for module in COMMANDS} <= set(choices)  # train_null -> train-null
    assert choices["baseline"] is choices["conventional"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "conventional" in capsys.readouterr().out


def test_help_shows_defaults_and_limits_of_the_settings(capsys):
    for command, texts in [("train", ["default 0.95", "a number in [0, 0.5)", "an integer in [1, 2^63 - 1]"]),
                           ("analyze", ["default 200", "an integer >= 10"]),
                           ("simulate", ["a number in (0, 1]", "{linear,geometric}"]),
                           ("audit", ["default 0.95", "default warn"])]:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        for text in texts:
            assert text in out, (command, text)


def test_label_options_are_shared_by_train_and_audit():
    for command in ("train", "audit"):
        parser = _command_parser(command)
        for field in ("t_label", "label_noise", "seed", "validation_fraction"):
            assert parser.get_default(field) == LabelSettings.default(field), (command, field)
    assert option_of(_command_parser("audit"), "n_folds") == "--folds"
    assert option_of(_command_parser("audit"), "estimate_noise") == "--no-noise-estimate"
    assert option_of(_command_parser("summary"), "conventional") == "--conventional"
    assert option_of(_command_parser("train"), "no_such_field") is None


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "8", "--t-min",
      "0.8", "--t-max", "inf", "--n-temps", "3", "--out", "x.nc"],
     "argument --t-max: t_max must be a number > 0, got inf"),
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "2:2", "--n-sweeps", "8", "--t-min",
      "0.8", "--t-max", "1.2", "--n-temps", "3", "--out", "x.nc"],
     "argument --instances: instances must be a range start:stop with 0 <= start < stop <= 2^63 - 1, got 2:2"),
    # the huge seed and instance indices: rejected before the run, not when writing its file
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "8", "--t-min",
      "0.8", "--t-max", "1.2", "--n-temps", "3", "--seed", "99999999999999999999999", "--out", "x.nc"],
     "argument --seed: seed must be an integer in [0, 2^63 - 1], got 99999999999999999999999"),
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "9223372036854775808:9223372036854775809",
      "--n-sweeps", "8", "--t-min", "0.8", "--t-max", "1.2", "--n-temps", "3", "--out", "x.nc"],
     "argument --instances: instances must be a range start:stop with 0 <= start < stop <= 2^63 - 1, "
     "got 9223372036854775808:9223372036854775809"),
    (["train", "--data", "{file}", "--out", "m.keras", "--history", "h.csv", "--metadata", "m.json",
      "--seed", "1" + "0" * 400],
     f"argument --seed: seed must be an integer in [0, 2^63 - 1], got 1{'0' * 400}"),
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "8", "--t-min",
      "0.8", "--t-max", "1.2", "--n-temps", "3", "--threads", "1" + "0" * 30, "--out", "x.nc"],
     f"argument --threads: must be an integer in [1, 2^31 - 1], got 1{'0' * 30}"),
    (["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "8", "--t-min",
      "0.8", "--t-max", "1.2", "--n-temps", "3", "--n-snapshots", "1", "--measure-interval", str(2**63),
      "--out", "x.nc"],
     "argument --measure-interval: measure_interval must be an integer in [1, 2^63 - 1], got 9223372036854775808"),
    (["analyze", "--predictions", "{file}", "--out", "out", "--seed", "-1"],
     "argument --seed: seed must be an integer in [0, 2^63 - 1], got -1"),
    (["analyze", "--predictions", "{file}", "--out", "out", "--n-bootstrap", "3"],
     "argument --n-bootstrap: n_bootstrap must be an integer >= 10, got 3"),
    (["audit", "--data", "{file}", "--out", "a.json", "--tolerance", "0.02"],
     "argument --tolerance: tolerance must be below the target rate 0.01, got 0.02"),
    (["summary", "--scenario", "clean", "--out", "out"], "--scenario: expected NAME=PATH, got 'clean'"),
])
def test_settings_errors_name_the_option_after_the_usage_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.nc").write_text("")
    argv = [a.replace("{file}", "f.nc") for a in argv]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert err.startswith(f"usage: sgpoison {argv[0]}")
    assert f"sgpoison {argv[0]}: error: {message}" in err
    assert not list(tmp_path.glob("x.nc")) and not (tmp_path / "out").exists()


def test_bad_input_files_exit_1_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.nc"
    bad.write_text("not NetCDF")
    code, err = run_cli(["conventional", "--data", str(bad), str(bad), str(bad), "--out", str(tmp_path / "o")],
                        capsys)
    assert code == 1
    assert err.startswith("sgpoison conventional: error: ") and "bad.nc: not a readable NetCDF-4 file" in err
    assert "usage:" not in err and "Traceback" not in err
