"""Snakemake as a provenance audit (docs/workflow.md, "What reruns, and why"): on the finished tiny
study (stand-in ``sgpoison``, tests/workflow/conftest.py), a swap of two settings' values, a value
equal to another setting's, a changed schema default and an edited sub-package rerun exactly the
affected jobs; ``SGPOISON_CODE_FINGERPRINT=off`` turns code reruns off; a deleted intermediate is
rebuilt only on request; ``touch`` reruns downstream only for files of at least 1 MB."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

import sgpoison
from workflow_support import (
    dry_run,
    expected_job_counts,
    load_config,
    snakemake,
    stub_environment,
    write_config,
)

pytestmark = pytest.mark.workflow

N_SCENARIOS, N_SIZES, K = 3, 3, 2  # config/test.yaml (K = network.n_networks)
NETWORKS = N_SCENARIOS * N_SIZES * K  # train / predict jobs: one per network
PAIRS = N_SCENARIOS * N_SIZES  # train_null / predict_null jobs: one per (scenario, L)


def by_rule(jobs) -> Counter:
    return Counter(job.rule for job in jobs)


def package_copy(directory: Path, edits: dict[str, callable]) -> dict:
    """Environment whose PYTHONPATH starts with a copy of the imported sgpoison package, with
    ``edits`` (file below the package -> function of its text) applied."""
    source = Path(sgpoison.__file__).parent
    target = directory / "sgpoison"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name, edit in edits.items():
        path = target / name
        path.write_text(edit(path.read_text()))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    return env


def append_constant(text: str) -> str:
    return text + "\nEDITED_FOR_THE_RERUN_TEST = 1\n"


def reword_docstring(text: str) -> str:
    return text.replace('"""', '"""Reworded. ', 1)


# ------------------------------------------------------------------------------------------
# settings
# ------------------------------------------------------------------------------------------


def test_swapped_settings_rerun_every_job_of_the_affected_rule_and_nothing_else(stub_run):
    config = load_config("test.yaml")
    network = config["network"]
    network["iterations"], network["batch_size"] = network["batch_size"], network["iterations"]
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(train=NETWORKS, predict=NETWORKS, analyze=N_SCENARIOS, summary=1)
    for job in jobs:
        if job.rule == "train":
            assert "Params have changed" in job.reason and '"iterations": 32' in job.reason, job.reason


def test_a_value_equal_to_another_settings_value_reruns(stub_run):
    """Recorded with iterations = 32 (= batch_size), then changed to 3 (= network.seed): as a set,
    the individual values are the same before and after; the named settings are not."""
    config = load_config("test.yaml")
    config["network"]["iterations"] = config["network"]["batch_size"]
    write_config(stub_run, config)
    snakemake(stub_run, "--touch", "--cores", "2")  # record it as done, without running
    assert dry_run(stub_run) == []
    config["network"]["iterations"] = config["network"]["seed"]
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(train=NETWORKS, predict=NETWORKS, analyze=N_SCENARIOS, summary=1)
    train = [job for job in jobs if job.rule == "train"]
    assert all('"iterations": 3,' in job.reason and '"iterations": 32,' in job.reason for job in train)


def test_a_changed_schema_default_reruns_only_its_jobs(stub_run):
    config = load_config("test.yaml")
    del config["audit"]["swap_floor"]  # the schema's default is the value it had
    write_config(stub_run, config)
    assert dry_run(stub_run) == []
    schema_path = stub_run / "workflow" / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
    schema["properties"]["audit"]["properties"]["swap_floor"]["default"] = 0.2
    schema_path.write_text(yaml.safe_dump(schema))
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(audit=PAIRS, train=NETWORKS, predict=NETWORKS, train_null=PAIRS,
                                    predict_null=PAIRS, analyze=N_SCENARIOS, summary=1)
    assert all('"swap_floor": 0.2' in job.reason for job in jobs if job.rule == "audit")


def test_a_removed_scenario_reruns_only_the_summary(stub_run):
    config = load_config("test.yaml")
    del config["scenarios"]["label_noise_1pct"]
    write_config(stub_run, config)
    jobs = dry_run(stub_run)
    assert [(job.rule, job.reason) for job in jobs] == [("summary", "Set of input files has changed since last execution")]


# ------------------------------------------------------------------------------------------
# code
# ------------------------------------------------------------------------------------------


def test_edited_sub_package_reruns_only_the_commands_that_import_it(stub_run, tmp_path):
    """fss/ is code of analyze, conventional and summary (and of nothing that runs before them)."""
    env = package_copy(tmp_path / "edited", {"fss/verdict.py": append_constant})
    jobs = dry_run(stub_run, env=env)
    assert by_rule(jobs) == Counter(analyze=N_SCENARIOS, conventional=1, summary=1)
    for job in jobs:
        if job.rule != "summary":  # summary's first reason: its inputs are rerun
            assert "Params have changed since last execution" in job.reason, job
            assert f"before: 'code sgpoison-{sgpoison.__version__} " in job.reason, job.reason
    # a real run (stand-in commands) runs exactly those, and then nothing is left to do
    stub = stub_environment(tmp_path)
    env["PATH"], env["SGPOISON_STUB_CALLS"] = stub["PATH"], stub["SGPOISON_STUB_CALLS"]
    snakemake(stub_run, "--cores", "2", env=env)
    calls = [json.loads(line)["command"] for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert Counter(calls) == Counter(analyze=N_SCENARIOS, conventional=1, summary=1)
    assert dry_run(stub_run, env=env) == []


def test_edited_prediction_code_reruns_predictions_and_downstream_only(stub_run, tmp_path):
    env = package_copy(tmp_path, {"ml/predict.py": append_constant})
    jobs = dry_run(stub_run, env=env)
    assert by_rule(jobs) == Counter(predict=NETWORKS, analyze=N_SCENARIOS, summary=1)
    assert all("code sgpoison-" in job.reason for job in jobs if job.rule == "predict")


def test_docstrings_and_comments_are_not_code(stub_run, tmp_path):
    env = package_copy(tmp_path, {"mc/parallel_tempering.py": reword_docstring,
                                  "fss/verdict.py": lambda text: text + "\n# a comment\n"})
    assert dry_run(stub_run, env=env) == []


def test_code_fingerprint_switch(stub_run, tmp_path):
    """Off: one rerun of everything (the code params change to a constant; `--touch` records it
    instead), then code edits rerun nothing. A bad value stops Snakemake before any job."""
    off = dict(os.environ, SGPOISON_CODE_FINGERPRINT="off")
    jobs = dry_run(stub_run, env=off)
    assert by_rule(jobs) == expected_job_counts(load_config("test.yaml"))
    assert all("code fingerprint off" in job.reason for job in jobs if job.rule == "simulate")
    snakemake(stub_run, "--touch", "--cores", "2", env=off)
    edited = package_copy(tmp_path, {"fss/verdict.py": append_constant, "mc/kernels.py": append_constant})
    assert dry_run(stub_run, env=edited | {"SGPOISON_CODE_FINGERPRINT": "off"}) == []
    result = snakemake(stub_run, "-n", "--cores", "2", env=dict(os.environ, SGPOISON_CODE_FINGERPRINT="maybe"),
                       check=False)
    assert result.returncode != 0 and "SGPOISON_CODE_FINGERPRINT='maybe'" in result.stdout


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------

GAUSSIAN_L4 = "results/simulations/gaussian/L4_f1.0.nc"  # training data of clean, label_noise_1pct
BIMODAL_L4 = "results/simulations/bimodal/L4_f1.0.nc"  # predicted by every scenario; conventional


def test_a_deleted_intermediate_is_rebuilt_only_on_request(stub_run):
    (stub_run / GAUSSIAN_L4).unlink()
    assert dry_run(stub_run) == []  # snakemake builds missing targets, not missing intermediates
    jobs = dry_run(stub_run, GAUSSIAN_L4)
    assert [(job.rule, job.wildcards["disorder"], job.wildcards["L"]) for job in jobs] == [("merge", "gaussian", "4")]
    jobs = dry_run(stub_run, "--forcerun", GAUSSIAN_L4)
    # clean and label_noise_1pct train on it: their K networks and null models, analyses, summary
    assert by_rule(jobs) == Counter(merge=1, audit=2, train=2 * K, predict=2 * K, train_null=2, predict_null=2,
                                    analyze=2, summary=1)


def test_touch_reruns_downstream_only_for_files_of_at_least_1_mb(stub_run):
    """Below Snakemake's --max-checksum-file-size (1 MB) an input counts as updated only if its
    checksum changed; from 1 MB on, a newer modification time is enough."""
    small = stub_run / GAUSSIAN_L4
    assert small.stat().st_size < 1_000_000
    os.utime(small)
    assert dry_run(stub_run) == []
    large = stub_run / BIMODAL_L4
    times = large.stat()
    large.write_bytes(b"\0" * 1_000_000)
    os.utime(large, ns=(times.st_atime_ns, times.st_mtime_ns))  # as old as before: up to date
    assert dry_run(stub_run) == []
    os.utime(large)
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(predict=N_SCENARIOS * K, predict_null=N_SCENARIOS, conventional=1,
                                    analyze=N_SCENARIOS, summary=1)
    assert all("Updated input files" in job.reason for job in jobs
               if job.rule in ("predict", "predict_null", "conventional"))


def test_a_changed_shell_command_reruns_every_job_of_its_rule(stub_run):
    """Snakemake's own code trigger: the text of a rule's shell command, even a trailing space."""
    rules = stub_run / "workflow" / "rules" / "analyze.smk"
    text = rules.read_text()
    assert text.count(' > {log} 2>&1"') == 2  # analyze, conventional
    rules.write_text(text.replace(' > {log} 2>&1"', ' > {log} 2>&1 "', 1))
    jobs = dry_run(stub_run)
    assert by_rule(jobs) == Counter(analyze=N_SCENARIOS, summary=1)
    assert all(job.reason == "Code has changed since last execution" for job in jobs if job.rule == "analyze")
