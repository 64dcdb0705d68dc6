"""``sgpoison provenance`` (sgpoison.report.provenance): the provenance of every result file and
the stale-result check against a configuration, on real outputs of the tiny study's settings
(config/test.yaml) -- some deliberately produced with other settings."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from builders import CONFIG_SCHEMA, load_config, run_cli, synthetic_predictions
from sgpoison.cli import main
from sgpoison.config import validate_config
from sgpoison.fss.estimates import write_estimates
from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.verdict import analyze
from sgpoison.io import provenance as prov
from sgpoison.report.provenance import STALE_EXIT_CODE, audit_results, format_audits

BATCHES = "results/simulations/batches/gaussian/L4_f1.0"
MERGED = "results/simulations/gaussian/L4_f1.0.nc"


def simulate_argv(out, instances, n_sweeps=64):
    """`sgpoison simulate` as the workflow's rule calls it for config/test.yaml, gaussian L = 4."""
    return ["simulate", "--L", "4", "--disorder", "gaussian", "--instances", instances, "--n-sweeps",
            str(n_sweeps), "--sweep-fraction", "1.0", "--t-min", "0.8", "--t-max", "1.3", "--n-temps", "6",
            "--ladder", "linear", "--n-snapshots", "8", "--measure-interval", "2", "--swap-interval", "1",
            "--seed", "1004", "--out", str(out)]


def write_analysis(directory, scenario, seed):
    data = synthetic_predictions(n=40)
    data.attrs = [{"scenario": scenario} for _ in data.L]
    write_estimates(analyze(data, AnalysisSettings(n_bootstrap=10, seed=seed)), directory)
    (directory / "fig1.png").write_bytes(b"\x89PNG not a real figure")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A results directory: batch 0 as configured, batch 1 with n_sweeps = 32 (after the merge of a
    correct batch 1), analyses of 'clean' (seed 0, as configured), 'label_noise_1pct' (seed 1)
    and 'retired' (a scenario not in the config). Paths relative to the directory, as in the workflow."""
    workdir = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(workdir)
        for argv in (simulate_argv(f"{BATCHES}/batch0.nc", "0:4"), simulate_argv(f"{BATCHES}/batch1.nc", "4:8"),
                     ["merge", "--inputs", f"{BATCHES}/batch0.nc", f"{BATCHES}/batch1.nc", "--out", MERGED],
                     simulate_argv(f"{BATCHES}/batch1.nc", "4:8", n_sweeps=32)):
            assert main(argv) == 0
    for scenario, seed in (("clean", 0), ("label_noise_1pct", 1), ("retired", 0)):
        write_analysis(workdir / "results" / "analysis" / scenario, scenario, seed)
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(load_config("test.yaml")))
    return workdir


def _config(**changes):
    """config/test.yaml with ``changes`` ("a.b.0.c": value), checked and defaults filled in."""
    config = load_config("test.yaml")
    for key, value in changes.items():
        *path, last = key.split(".")
        node = config
        for part in path:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return validate_config(config, CONFIG_SCHEMA)


def _by_path(workdir, audits):
    return {a.path.relative_to(workdir).as_posix() if a.path.is_absolute() else a.path.as_posix(): a
            for a in audits}


def test_stale_results_are_the_ones_made_with_other_settings(study, monkeypatch):
    monkeypatch.chdir(study)
    audits = _by_path(study, audit_results("results", _config()))
    status = {path: a.status for path, a in audits.items()}
    assert status == {
        f"{BATCHES}/batch0.nc": "ok",
        f"{BATCHES}/batch1.nc": "stale",
        MERGED: "stale",  # its batch 1 has been replaced by a stale one
        "results/analysis/clean/estimates.json": "ok",
        "results/analysis/clean/estimates.nc": "ok",
        "results/analysis/clean/fig1.png": "no provenance",
        "results/analysis/label_noise_1pct/estimates.json": "stale",
        "results/analysis/label_noise_1pct/estimates.nc": "stale",
        "results/analysis/label_noise_1pct/fig1.png": "no provenance",
        "results/analysis/retired/estimates.json": "not in config",
        "results/analysis/retired/estimates.nc": "not in config",
        "results/analysis/retired/fig1.png": "no provenance",
    }
    batch1 = audits[f"{BATCHES}/batch1.nc"]
    assert batch1.rule == "simulate"
    assert batch1.wildcards == {"disorder": "gaussian", "L": "4", "sweep_fraction": "1.0", "batch": "1"}
    assert batch1.differences == ["n_sweeps: recorded 32, config 64 (simulation.gaussian[L=4].n_sweeps)"]
    assert audits[MERGED].rule == "merge"
    assert audits[MERGED].differences == [f"input {BATCHES}/batch1.nc is stale"]
    assert audits["results/analysis/label_noise_1pct/estimates.json"].differences == [
        "seed: recorded 1, config 0 (analysis.seed)"]
    assert "retired" in audits["results/analysis/retired/estimates.json"].note
    clean = audits["results/analysis/clean/estimates.json"]
    assert clean.rule == "analyze" and clean.wildcards == {"scenario": "clean"}
    assert clean.settings["n_bootstrap"] == 10 and not clean.unrecorded
    assert clean.code == prov.code_fingerprint("analyze") and not clean.code_changes
    assert clean.version and clean.git_commit and clean.created

    # the same files against a config with those other settings: the other files are stale
    audits = _by_path(study, audit_results("results", _config(**{"simulation.gaussian.0.n_sweeps": 32,
                                                                  "analysis.seed": 1})))
    assert audits[f"{BATCHES}/batch0.nc"].status == audits[MERGED].status == "stale"
    assert audits[f"{BATCHES}/batch1.nc"].status == "ok"
    assert audits["results/analysis/clean/estimates.json"].status == "stale"
    assert audits["results/analysis/label_noise_1pct/estimates.json"].status == "ok"


def test_command_lists_every_file_and_exits_4_for_stale_results(study, monkeypatch, capsys):
    monkeypatch.chdir(study)
    code = main(["provenance", "results", "--schema", str(CONFIG_SCHEMA), "--json"])
    out = capsys.readouterr()
    assert code == STALE_EXIT_CODE and "4 file(s) stale" in out.err
    records = {r["path"]: r for r in json.loads(out.out)}
    assert records[f"{BATCHES}/batch0.nc"]["status"] == "ok"
    assert records[f"{BATCHES}/batch0.nc"]["settings"]["n_sweeps"] == 64
    assert records[f"{BATCHES}/batch0.nc"]["code"] == prov.code_fingerprint("simulate")

    code = main(["provenance", "results", "--schema", str(CONFIG_SCHEMA)])
    text = capsys.readouterr().out
    assert code == STALE_EXIT_CODE
    block = text.split(f"{BATCHES}/batch1.nc: stale\n")[1].split("\nresults/")[0]
    assert "rule      simulate (disorder=gaussian, L=4, sweep_fraction=1.0, batch=1)" in block
    assert f"version   sgpoison {prov.__version__}, git {prov.git_commit()}" in block
    assert f"code      {prov.code_fingerprint('simulate')}" in block
    assert 'settings  {"L": 4, "disorder": "gaussian", "instance_start": 4, "instance_stop": 8' in block
    assert "differs   n_sweeps: recorded 32, config 64 (simulation.gaussian[L=4].n_sweeps)" in block
    assert text.rstrip().endswith("12 file(s): 3 ok, 3 no provenance, 4 stale, 2 not in config")

    code = main(["provenance", "results/analysis/clean", "--schema", str(CONFIG_SCHEMA), "--problems"])
    assert code == 0 and capsys.readouterr().out.strip() == "3 file(s): 2 ok, 1 no provenance"

    code, err = run_cli(["provenance", "missing", "--schema", str(CONFIG_SCHEMA)], capsys)
    assert code == 2 and "missing: no such directory" in err
    config = yaml.safe_load((study / "config" / "config.yaml").read_text())
    config["analysis"]["n_bootstrap"] = 3
    (study / "bad.yaml").write_text(yaml.safe_dump(config))
    code, err = run_cli(["provenance", "results", "--configfile", "bad.yaml", "--schema", str(CONFIG_SCHEMA)],
                        capsys)
    assert code == 2 and "analysis.n_bootstrap" in err


def test_changed_code_of_the_command_is_flagged(study, tmp_path, monkeypatch):
    """A file whose recorded code of its command differs from the installed package's."""
    results = tmp_path / "results" / "analysis" / "clean"
    shutil.copytree(study / "results" / "analysis" / "clean", results)
    monkeypatch.chdir(tmp_path)
    config = _config()

    def record_module(module, digest):
        path = results / "estimates.json"
        estimates = json.loads(path.read_text())
        modules = json.loads(estimates["provenance"]["code_modules"])
        modules[module] = digest
        estimates["provenance"]["code_modules"] = json.dumps(modules)
        path.write_text(json.dumps(estimates))

    assert {a.status for a in audit_results("results", config)} == {"ok", "no provenance"}
    record_module("sgpoison.ml.train", "0" * 16)  # not code of sgpoison analyze
    assert {a.status for a in audit_results("results", config)} == {"ok", "no provenance"}
    record_module("sgpoison.fss.collapse", "0" * 16)
    audits = _by_path(tmp_path, audit_results("results", config))
    changed = audits["results/analysis/clean/estimates.json"]
    assert changed.status == "code changed" and changed.code_changes == ["sgpoison.fss.collapse"]
    assert changed.code != prov.code_fingerprint("analyze")
    assert audits["results/analysis/clean/estimates.nc"].status == "ok"
    assert "    code of   sgpoison.fss.collapse" in format_audits(audits.values())
    assert {a.status for a in audit_results("results", config, compare_code=False)} == {"ok", "no provenance"}


def test_files_of_a_shared_run_are_stale_for_a_config_without_that_sharing(tmp_path, monkeypatch):
    """simulation.share_sweep_fractions: the f = 1 and f = 0.5 files of one run record the run
    (parameters.shared_run), so sgpoison provenance agrees with Snakemake, which reruns them when
    the sharing or the set of fractions changes."""
    monkeypatch.chdir(tmp_path)
    half = "results/simulations/batches/gaussian/L4_f0.5/batch0.nc"
    assert main(simulate_argv(f"{BATCHES}/batch0.nc", "0:4") + ["--shared-fraction", "0.5", half]) == 0
    shared = {"simulation.share_sweep_fractions": True}
    for config, status in ((_config(**shared), "ok"), (_config(), "stale")):
        audits = _by_path(tmp_path, audit_results("results", config))
        assert {path: a.status for path, a in audits.items()} == {f"{BATCHES}/batch0.nc": status, half: status}
    difference = audits[half].differences
    assert difference == ['shared_run: recorded {"shared_fractions": [0.5], "sweep_fraction": 1.0}, config null']
    # a third fraction: the files of the two-fraction run are stale too
    more = _config(**shared, **{"scenarios.quarter": {"label_noise": 0.0, "sweep_fraction": 0.25}})
    audits = _by_path(tmp_path, audit_results("results", more))
    assert audits[half].status == audits[f"{BATCHES}/batch0.nc"].status == "stale"
