"""Dose-response scans in the workflow (config scans, docs/workflow.md "Dose-response scans"), on the
finished tiny study with the stand-in ``sgpoison`` (tests/workflow/conftest.py): adding the scans runs
only the new doses' jobs and no Monte Carlo for label noise and t_label; adding or changing one dose
reruns only that dose's jobs, its axis's dose-response job and the summary."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from workflow_support import dry_run, load_config, snakemake, stub_environment, write_config

pytestmark = pytest.mark.workflow

SIZES, K = 3, 2  # config/test.yaml: sizes, network.n_networks
#: clean, label_noise_1pct, underthermalized_50pct are listed; the scans add label_noise_0.02,
#: label_noise_0.05 and t_label_0.9 (dose 0.5 of sweep_fraction is underthermalized_50pct)
SCANS = {"label_noise": [0, 0.02, 0.05], "sweep_fraction": [1, 0.5], "t_label": [0.9, 0.95]}


def scenario_jobs(n: int = 1) -> Counter:
    """The jobs of n new scenarios of the tiny study."""
    return Counter(audit=n * SIZES, train=n * SIZES * K, predict=n * SIZES * K, train_null=n * SIZES,
                   predict_null=n * SIZES, analyze=n)


def by_rule(jobs) -> Counter:
    return Counter(job.rule for job in jobs)


def with_scans(**changes) -> dict:
    config = load_config("test.yaml")
    config["scans"] = {**SCANS, **changes}
    return config


@pytest.fixture(scope="module")
def scan_run(completed_stub_run, tmp_path_factory):
    """The finished tiny study with SCANS added and run (stand-in sgpoison); (directory, calls,
    jobs planned when the scans were added)."""
    base = tmp_path_factory.mktemp("scan-run")
    workdir = base / "wf"
    shutil.copytree(completed_stub_run[0], workdir, symlinks=True)
    write_config(workdir, with_scans())
    planned = dry_run(workdir)
    env = stub_environment(base)
    snakemake(workdir, "--cores", "2", env=env)
    calls = [json.loads(line) for line in (base / "calls.jsonl").read_text().splitlines()]
    return workdir, calls, planned


@pytest.fixture
def scanned(scan_run, tmp_path):
    copy = tmp_path / "wf"
    shutil.copytree(scan_run[0], copy, symlinks=True)
    return copy


def _argument(argv, option):
    start = argv.index(option) + 1
    stop = next((i for i in range(start, len(argv)) if argv[i].startswith("--")), len(argv))
    return argv[start:stop]


def test_adding_scans_runs_only_the_new_doses_and_no_monte_carlo(scan_run):
    _, calls, planned = scan_run
    assert by_rule(planned) == scenario_jobs(3) + Counter(dose_response=3, summary=1)
    assert Counter(call["command"] for call in calls) == Counter(
        {rule.replace("_", "-"): n for rule, n in (scenario_jobs(3) + Counter(dose_response=3, summary=1)).items()})


def test_dose_response_gets_the_doses_in_order_with_their_estimates_and_audits(scan_run):
    _, calls, _ = scan_run
    runs = {(_argument(c["argv"], "--axis")[0]): c["argv"] for c in calls if c["command"] == "dose-response"}
    assert set(runs) == {"label_noise", "sweep_fraction", "t_label"}
    argv = runs["label_noise"]
    assert [float(d) for d in _argument(argv, "--doses")] == [0, 0.02, 0.05]
    names = ["clean", "label_noise_0.02", "label_noise_0.05"]
    assert _argument(argv, "--estimates") == [f"results/analysis/{n}/estimates.json" for n in names]
    assert _argument(argv, "--audits") == [f"results/audit/{n}/L{L}.json" for n in names for L in (4, 6, 8)]
    assert _argument(argv, "--conventional") == ["results/conventional/estimates.json"]
    assert _argument(argv, "--out") == ["results/dose_response/label_noise"]
    argv = runs["sweep_fraction"]
    assert [float(d) for d in _argument(argv, "--doses")] == [0.5, 1.0]
    assert _argument(argv, "--estimates")[0] == "results/analysis/underthermalized_50pct/estimates.json"
    trains = [c["argv"] for c in calls if c["command"] == "train"]
    t_label = {_argument(a, "--scenario")[0]: float(_argument(a, "--t-label")[0]) for a in trains}
    assert t_label == {"label_noise_0.02": 0.95, "label_noise_0.05": 0.95, "t_label_0.9": 0.9}


def test_adding_one_dose_reruns_only_that_dose_its_axis_and_the_summary(scanned):
    write_config(scanned, with_scans(label_noise=[0, 0.02, 0.05, 0.1]))
    jobs = dry_run(scanned)
    assert by_rule(jobs) == scenario_jobs(1) + Counter(dose_response=1, summary=1)
    assert {job.wildcards.get("scenario") for job in jobs if job.rule == "train"} == {"label_noise_0.1"}
    assert [job.wildcards for job in jobs if job.rule == "dose_response"] == [{"axis": "label_noise"}]


def test_a_new_sweep_fraction_simulates_only_the_gaussian_runs_at_that_fraction(scanned):
    write_config(scanned, with_scans(sweep_fraction=[1, 0.5, 0.25]))
    jobs = dry_run(scanned)
    batches = 2  # 8 instances, batch_size 4
    assert by_rule(jobs) == scenario_jobs(1) + Counter(simulate=SIZES * batches, merge=SIZES, dose_response=1,
                                                       summary=1)
    assert {(j.wildcards["disorder"], j.wildcards["sweep_fraction"]) for j in jobs if j.rule == "simulate"} == {
        ("gaussian", "0.25")}


def test_changing_one_t_label_dose_runs_only_that_dose(scanned):
    write_config(scanned, with_scans(t_label=[0.85, 0.95]))
    jobs = dry_run(scanned)
    assert by_rule(jobs) == scenario_jobs(1) + Counter(dose_response=1, summary=1)
    assert {job.wildcards.get("scenario") for job in jobs if job.rule == "train"} == {"t_label_0.85"}


def test_block_mode_scan_runs_only_the_label_noise_doses_above_zero(scanned):
    write_config(scanned, with_scans(label_noise_mode="block"))
    jobs = dry_run(scanned)
    assert by_rule(jobs) == scenario_jobs(2) + Counter(dose_response=1, summary=1)
    assert {job.wildcards.get("scenario") for job in jobs if job.rule == "train"} == {
        "label_noise_block_0.02", "label_noise_block_0.05"}


@pytest.mark.parametrize("key, value", [("label_noise_mode", "block"), ("t_label", 0.9)])
def test_changing_one_scenario_s_poison_reruns_only_its_jobs(scanned, key, value):
    """label_noise_1pct is in no scan: its changed label_noise_mode or t_label reruns its own jobs
    (settings changed) and the summary, nothing else."""
    config = with_scans()
    config["scenarios"]["label_noise_1pct"][key] = value
    write_config(scanned, config)
    jobs = dry_run(scanned)
    assert by_rule(jobs) == scenario_jobs(1) + Counter(summary=1)
    for job in jobs:
        if job.rule != "summary":
            assert job.wildcards["scenario"] == "label_noise_1pct", job
        if job.rule == "audit":  # (the others' first reason: their audit reruns)
            assert "Params have changed" in job.reason and f'"{key}": ' in job.reason, job.reason
