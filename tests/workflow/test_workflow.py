"""The Snakemake workflow: structure of the DAG, config validation, reruns of only what changed,
lint and formatting, and (slow) the tiny study end to end with the real ``sgpoison`` commands.

The DAG and rerun tests run the workflow once with a stand-in ``sgpoison`` (tests/
workflow_support.py) that only writes the output files, so Snakemake records its metadata; each
test then edits a copy of the config and reads the jobs and reasons of ``snakemake -n``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from builders import INVALID_CONFIGS
from workflow_support import (
    REPO,
    copy_workflow,
    dry_run,
    expected_job_counts,
    load_config,
    snakemake,
    stub_environment,
    validate_outputs,
    write_config,
)

pytestmark = pytest.mark.workflow


def by_rule(jobs) -> Counter:
    return Counter(job.rule for job in jobs)


# ------------------------------------------------------------------------------------------
# static checks
# ------------------------------------------------------------------------------------------


def test_lint(tmp_path):
    workdir = copy_workflow(tmp_path / "wf", "config.yaml")
    result = snakemake(workdir, "--lint", check=False)
    assert result.returncode == 0, result.stdout
    assert "Congratulations, your workflow is in a good condition" in result.stdout


def test_snakefmt():
    files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in REPO.glob("workflow/rules/*.smk"))]
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *files], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _rule_names():
    names = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        names |= set(re.findall(r"^ *rule (\w+):", path.read_text(), flags=re.M))  # also rules under if
    return names


def test_workflow_profile_covers_every_rule_without_gpus():
    profile = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    rules = _rule_names()
    assert set(profile["set-threads"]) == rules
    assert set(profile["set-resources"]) == rules - {"simulate", "simulate_shared"}  # from the job size
    for rule, resources in profile["set-resources"].items():
        assert {"mem_mb", "runtime"} <= set(resources), rule
    # no GPU by default: a Slurm node without GPU gres rejects --gpus
    assert all(r.get("gpu", 0) == 0 for r in profile["set-resources"].values())


def test_slurm_profile_template():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-init-seconds-before-status-checks"] == 5
    for key in ("jobs", "latency-wait", "retries"):
        assert profile[key] > 0, key


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml", "dose-response.yaml"])
def test_dry_run_builds_the_whole_dag(tmp_path, name):
    config = load_config(name)
    workdir = copy_workflow(tmp_path / "wf", name)
    jobs = dry_run(workdir)  # (planning time is not asserted: it depends on the machine's load)
    assert by_rule(jobs) == expected_job_counts(config)


def test_shipped_configfiles_replace_the_default(tmp_path):
    """--configfile replaces config/config.yaml instead of being merged into it."""
    workdir = copy_workflow(tmp_path / "wf", "config.yaml")
    config = load_config("test.yaml")
    config["scenarios"] = {"only": {"label_noise": 0.0, "sweep_fraction": 1.0}}
    (workdir / "other.yaml").write_text(yaml.safe_dump(config))
    jobs = dry_run(workdir, "--configfile", "other.yaml")
    assert {job.wildcards.get("scenario") for job in jobs if job.rule == "train"} == {"only"}


# ------------------------------------------------------------------------------------------
# invalid configurations stop before any job, naming the key
# ------------------------------------------------------------------------------------------


#: a few of the invalid configurations of tests/test_config.py (which checks them all, quickly),
#: run through Snakemake: a schema error, a settings limit and a check across keys
SNAKEMAKE_CASES = ("negative label noise", "analysis.n_bootstrap below 10", "Gaussian ladder above t_label")


@pytest.mark.parametrize("case", SNAKEMAKE_CASES)
def test_invalid_config_stops_before_any_job_naming_the_key(tmp_path, case):
    mutate, key = INVALID_CONFIGS[case]
    config = load_config("test.yaml")
    mutate(config)
    workdir = copy_workflow(tmp_path / "wf", config)
    env = stub_environment(tmp_path)
    result = snakemake(workdir, "--cores", "1", env=env, check=False)
    assert result.returncode != 0, result.stdout
    assert "ConfigError" in result.stdout, result.stdout
    assert key in result.stdout, f"error does not name {key!r}:\n{result.stdout}"
    assert not (tmp_path / "calls.jsonl").exists(), "a job ran despite the invalid config"


# ------------------------------------------------------------------------------------------
# reruns: only what a change affects (stand-in sgpoison)
# ------------------------------------------------------------------------------------------


# completed_stub_run, stub_run: tests/workflow/conftest.py (shared with test_reruns.py)


def _argument(argv, option):
    return argv[argv.index(option) + 1]


def test_stub_run_executes_every_job_once(completed_stub_run):
    _, calls = completed_stub_run
    counts = Counter(call["command"].replace("-", "_") for call in calls)  # command train-null: rule train_null
    assert counts == expected_job_counts(load_config("test.yaml"))


def test_simulation_seed_depends_only_on_size(completed_stub_run):
    _, calls = completed_stub_run
    config = load_config("test.yaml")
    for call in calls:
        if call["command"] == "simulate":
            L = int(_argument(call["argv"], "--L"))
            assert int(_argument(call["argv"], "--seed")) == 1000 * config["simulation"]["seed"] + L


def test_batches_cover_all_instances(completed_stub_run):
    _, calls = completed_stub_run
    config = load_config("test.yaml")
    covered = {}
    for call in calls:
        if call["command"] == "simulate":
            argv = call["argv"]
            key = (_argument(argv, "--disorder"), int(_argument(argv, "--L")),
                   _argument(argv, "--sweep-fraction"))
            start, stop = (int(v) for v in _argument(argv, "--instances").split(":"))
            covered.setdefault(key, []).extend(range(start, stop))
    for (disorder, L, _), instances in covered.items():
        row = next(r for r in config["simulation"][disorder] if r["L"] == L)
        assert sorted(instances) == list(range(row["n_instances"]))


def test_train_receives_scenario_settings(completed_stub_run):
    _, calls = completed_stub_run
    config = load_config("test.yaml")
    trained = set()
    for call in calls:
        if call["command"] == "train":
            argv = call["argv"]
            scenario = _argument(argv, "--scenario")
            settings = config["scenarios"][scenario]
            assert float(_argument(argv, "--label-noise")) == settings["label_noise"]
            fraction = str(float(settings["sweep_fraction"]))
            assert _argument(argv, "--data").endswith(f"_f{fraction}.nc")
            assert "gaussian" in _argument(argv, "--data")
            trained.add((scenario, int(_argument(argv, "--L"))))
        if call["command"] == "predict":
            assert "/bimodal/" in _argument(call["argv"], "--data")
            assert _argument(call["argv"], "--data").endswith("_f1.0.nc")
    assert trained == {(s, L) for s in config["scenarios"] for L in config["sizes"]}


def test_nothing_to_do_after_a_complete_run(stub_run):
    assert dry_run(stub_run) == []


def per_size(config, n_sizes=None, n_scenarios=1) -> Counter:
    """Jobs that depend on one (scenario, L): audit, K networks, the null models, their predictions."""
    n = (n_sizes or len(config["sizes"])) * n_scenarios
    K = config["network"]["n_networks"]
    return Counter(audit=n, train=n * K, predict=n * K, train_null=n, predict_null=n)


def test_changed_scenario_reruns_only_that_scenario(stub_run):
    config = load_config("test.yaml")
    config["scenarios"]["label_noise_1pct"]["label_noise"] = 0.02
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == per_size(config) + Counter(analyze=1, summary=1)
    for job in jobs:
        if job.rule != "summary":
            assert job.wildcards["scenario"] == "label_noise_1pct", job
        if job.rule == "audit":
            assert "Params have changed" in job.reason, job.reason
        if job.rule in ("train", "train_null"):
            assert ("Params have changed" in job.reason
                    or "results/audit/label_noise_1pct/" in job.reason), job.reason


def test_changed_scenario_sweep_fraction_reruns_that_scenario_and_its_new_data(stub_run):
    config = load_config("test.yaml")
    config["scenarios"]["underthermalized_50pct"]["sweep_fraction"] = 0.25
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == per_size(config) + Counter(simulate=6, merge=3, analyze=1, summary=1)
    for job in jobs:
        if job.rule in ("simulate", "merge"):
            assert (job.wildcards["disorder"], job.wildcards["sweep_fraction"]) == ("gaussian", "0.25")
        elif job.rule != "summary":
            assert job.wildcards["scenario"] == "underthermalized_50pct", job


def test_added_scenario_runs_only_its_own_jobs(stub_run):
    config = load_config("test.yaml")
    config["scenarios"]["label_noise_5pct"] = {"label_noise": 0.05, "sweep_fraction": 1.0}
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == per_size(config) + Counter(analyze=1, summary=1)
    for job in jobs:
        if job.rule != "summary":
            assert job.wildcards["scenario"] == "label_noise_5pct", job
        assert "Params have changed" not in job.reason, job


def test_added_scenario_with_new_sweep_fraction_simulates_only_that_fraction(stub_run):
    config = load_config("test.yaml")
    config["scenarios"]["underthermalized_25pct"] = {"label_noise": 0.0, "sweep_fraction": 0.25}
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == per_size(config) + Counter(simulate=6, merge=3, analyze=1, summary=1)
    for job in jobs:
        if job.rule in ("simulate", "merge"):
            assert job.wildcards["disorder"] == "gaussian"
            assert job.wildcards["sweep_fraction"] == "0.25"


def test_shared_sweep_fractions_run_once_per_gaussian_batch(tmp_path):
    """simulation.share_sweep_fractions: one simulate_shared job per Gaussian batch writes the f = 1 and
    f = 0.5 files (its command names both); a new fraction reruns those jobs, the bimodal ones stay."""
    config = load_config("test.yaml")
    config["simulation"]["share_sweep_fractions"] = True
    workdir = copy_workflow(tmp_path / "wf", config)
    env = stub_environment(tmp_path)
    assert by_rule(dry_run(workdir, env=env)) == expected_job_counts(config)
    assert expected_job_counts(config)["simulate_shared"] == 6 and expected_job_counts(config)["simulate"] == 6
    snakemake(workdir, "--cores", "2", env=env)
    calls = [json.loads(line)["argv"] for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    shared = [argv for argv in calls if "--shared-fraction" in argv]
    assert len(shared) == 6
    for argv in shared:
        assert _argument(argv, "--sweep-fraction") == "1.0" and _argument(argv, "--disorder") == "gaussian"
        out, half = _argument(argv, "--out"), argv[argv.index("--shared-fraction") + 2]
        assert argv[argv.index("--shared-fraction") + 1] == "0.5"
        assert half == out.replace("_f1.0/", "_f0.5/") and (workdir / half).exists()
    assert dry_run(workdir, env=env) == []
    config["scenarios"]["underthermalized_25pct"] = {"label_noise": 0.0, "sweep_fraction": 0.25}
    write_config(workdir, config)
    jobs = by_rule(dry_run(workdir, env=env))
    assert jobs["simulate_shared"] == 6 and jobs["simulate"] == 0 and jobs["merge"] == 9, jobs


def test_added_size_reruns_what_depends_on_it(stub_run):
    config = load_config("test.yaml")
    config["sizes"].append(10)
    for disorder in ("gaussian", "bimodal"):
        row = copy.deepcopy(config["simulation"][disorder][-1])
        row["L"] = 10
        config["simulation"][disorder].append(row)
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n_scenarios = len(config["scenarios"])
    # gaussian at 2 sweep fractions + bimodal, 2 batches each
    assert by_rule(jobs) == per_size(config, 1, n_scenarios) + Counter(
        simulate=6, merge=3, analyze=n_scenarios, conventional=1, summary=1)
    for job in jobs:
        if job.rule in ("simulate", "merge", "audit", "train", "predict", "train_null", "predict_null"):
            assert job.wildcards["L"] == "10", job


def test_changed_simulation_of_one_size_reruns_that_size_only(stub_run):
    config = load_config("test.yaml")
    config["simulation"]["gaussian"][1]["n_sweeps"] *= 2  # L = 6
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n_scenarios = len(config["scenarios"])
    assert by_rule(jobs) == per_size(config, 1, n_scenarios) + Counter(
        simulate=4, merge=2, analyze=n_scenarios, summary=1)
    for job in jobs:
        if job.rule in ("simulate", "merge", "audit", "train", "predict", "train_null", "predict_null"):
            assert job.wildcards["L"] == "6", job
        if job.rule == "simulate":
            assert job.wildcards["disorder"] == "gaussian"
            assert "Params have changed" in job.reason, job.reason


def test_changed_network_setting_retrains_every_network_but_nothing_else(stub_run):
    config = load_config("test.yaml")
    config["network"]["iterations"] += 1
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n = len(config["scenarios"]) * len(config["sizes"]) * config["network"]["n_networks"]
    assert by_rule(jobs) == Counter(train=n, predict=n, analyze=len(config["scenarios"]), summary=1)


def test_a_setting_the_null_models_share_refits_them_too(stub_run):
    config = load_config("test.yaml")
    config["network"]["balance_classes"] = False
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n = len(config["scenarios"]) * len(config["sizes"])
    K = config["network"]["n_networks"]
    assert by_rule(jobs) == Counter(train=n * K, predict=n * K, train_null=n, predict_null=n,
                                    analyze=len(config["scenarios"]), summary=1)


def test_added_networks_train_only_the_new_networks(stub_run):
    """Raising network.n_networks adds the new networks' train and predict jobs; no existing
    network, null model, audit or simulation reruns (K is only recorded in prediction files)."""
    config = load_config("test.yaml")
    K = config["network"]["n_networks"]
    config["network"]["n_networks"] = K + 2
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n = len(config["scenarios"]) * len(config["sizes"])
    assert by_rule(jobs) == Counter(train=2 * n, predict=2 * n, analyze=len(config["scenarios"]), summary=1)
    assert {int(job.wildcards["k"]) for job in jobs if job.rule in ("train", "predict")} == {K, K + 1}
    for job in jobs:
        assert "Params have changed" not in job.reason, job


def test_changed_null_models_refit_only_the_null_models(stub_run):
    config = load_config("test.yaml")
    config["null_models"] = ["ql", "q2"]
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    n = len(config["scenarios"]) * len(config["sizes"])
    assert by_rule(jobs) == Counter(train_null=n, predict_null=n, analyze=len(config["scenarios"]), summary=1)
    config["null_models"] = []
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(analyze=len(config["scenarios"]), summary=1)  # fewer inputs


def test_networks_fan_out_with_their_index_and_the_configured_settings(completed_stub_run, monkeypatch):
    """Each train job passes its network index, and its command line builds exactly the
    TrainingConfig the configuration check builds for the scenario; null jobs get network 0's
    label settings and every configured null model."""
    from sgpoison.cli import build_parser
    from sgpoison.cli._common import settings_from
    from sgpoison.config import job_settings, validate_config
    from builders import CONFIG_SCHEMA

    workdir, calls = completed_stub_run
    monkeypatch.chdir(workdir)  # the commands' input files are relative to it
    config = validate_config(load_config("test.yaml"), CONFIG_SCHEMA)
    expected = job_settings(config)
    networks, predicted = set(), set()
    for call in calls:
        if call["command"] in ("train", "train-null"):
            args = build_parser().parse_args([call["command"], *call["argv"]])
            settings = settings_from(args.settings, args)
            scenario = settings.scenario
            if call["command"] == "train":
                networks.add((scenario, args.L, settings.network_index))
                reference = dataclasses.replace(expected["training"][scenario],
                                                network_index=settings.network_index, threads=settings.threads)
            else:
                reference = expected["null"][scenario]
                assert len(args.out) == len(config["null_models"])
            assert settings == reference, call
        if call["command"] == "predict":
            predicted.add(Path(_argument(call["argv"], "--model")).as_posix())
    K = config["network"]["n_networks"]
    assert networks == {(s, L, k) for s in config["scenarios"] for L in config["sizes"] for k in range(K)}
    assert predicted == {f"results/models/{s}/L{L}/cnn{k}.keras" for s in config["scenarios"]
                         for L in config["sizes"] for k in range(K)}


def test_audit_policy_refuse_stops_only_the_failing_scenario(tmp_path):
    """With audit.policy refuse, a scenario whose audit fails is not trained; the others finish."""
    config = load_config("test.yaml")
    config["audit"]["policy"] = "refuse"
    workdir = copy_workflow(tmp_path / "wf", config)
    env = stub_environment(tmp_path)
    result = snakemake(workdir, "--cores", "2", env=env, check=False)
    assert result.returncode != 0  # the refused scenario's jobs failed (keep-going: the rest ran)
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    trained = {_argument(c["argv"], "--scenario") for c in calls if c["command"] == "train"}
    assert trained == set(config["scenarios"]) - {"label_noise_1pct"}
    results = workdir / "results"
    for scenario in trained:
        assert (results / "analysis" / scenario / "fig1.png").exists()
    assert not (results / "audit" / "label_noise_1pct").exists() or not any(
        (results / "audit" / "label_noise_1pct").iterdir())  # failed jobs' outputs are removed
    assert "label_noise_1pct" in result.stdout and "Error in rule audit" in result.stdout


def test_more_instances_add_only_new_batches(stub_run):
    config = load_config("test.yaml")
    config["simulation"]["bimodal"][0]["n_instances"] += config["simulation"]["batch_size"]
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    K = config["network"]["n_networks"]
    assert by_rule(jobs) == Counter(simulate=1, merge=1, predict=3 * K, predict_null=3, analyze=3, conventional=1,
                                    summary=1)
    simulate = next(job for job in jobs if job.rule == "simulate")
    assert simulate.wildcards == {"disorder": "bimodal", "L": "4", "sweep_fraction": "1.0",
                                  "batch": "2"}


# ------------------------------------------------------------------------------------------
# the tiny study end to end (real sgpoison commands)
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tiny_study_end_to_end(finished_tiny_study_copy):
    """The finished tiny study (run once per session, through Slurm on CI): its files, an
    empty dry run, clean provenance, the report, --summary and the dose-response command."""
    config = load_config("test.yaml")
    workdir = finished_tiny_study_copy
    validate_outputs(workdir, config)
    assert dry_run(workdir) == []
    # every file records the settings its rule's params hold, and the installed code
    audit = subprocess.run([sys.executable, "-m", "sgpoison", "provenance", "results", "--problems"],
                           cwd=workdir, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert " stale" not in audit.stdout and " code changed" not in audit.stdout, audit.stdout
    snakemake(workdir, "--report", "report.html", timeout=300)
    report = (workdir / "report.html").read_text()
    for name in ("fig1.png", "conventional.png", "tc_summary.png", "results.csv"):
        assert name in report, f"report.html does not contain {name}"
    summary = snakemake(workdir, "--summary", "--cores", "1").stdout
    assert "results/summary/results.csv" in summary
    # the dose-response command on the finished scenarios, as the dose_response rule of a scan
    # over label noise (0, 0.01) calls it: its files exist and record provenance
    audits = [f"results/audit/{s}/L{L}.json" for s in ("clean", "label_noise_1pct") for L in config["sizes"]]
    command = [sys.executable, "-m", "sgpoison", "dose-response", "--axis", "label_noise", "--doses", "0", "0.01",
               "--estimates", "results/analysis/clean/estimates.json",
               "results/analysis/label_noise_1pct/estimates.json", "--audits", *audits,
               "--conventional", "results/conventional/estimates.json", "--out", "results/dose_response/label_noise"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    out = workdir / "results" / "dose_response" / "label_noise"
    signal = json.loads((out / "signal_loss.json").read_text())
    assert signal["axis"] == "label_noise" and "git_commit" in json.dumps(signal)
    assert len((out / "table.csv").read_text().splitlines()) == 3  # header and two doses
    audit = subprocess.run([sys.executable, "-m", "sgpoison", "provenance", "results/dose_response"],
                           cwd=workdir, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr  # test.yaml scans nothing: not in config
    assert "the configuration has no scan over label_noise" in audit.stdout, audit.stdout
