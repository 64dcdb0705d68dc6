"""The tiny study through the shipped Slurm profile (profiles/slurm) on a real Slurm cluster with
accounting. .ci/run starts a single-node cluster on localhost (.ci/start-slurm.sh); elsewhere the
test is skipped unless `sinfo` finds a cluster. On CI (CI=true) it must run."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import pytest

from workflow_support import (
    ON_CI,
    copy_workflow,
    expected_job_counts,
    load_config,
    require_commands,
    snakemake,
    validate_outputs,
)

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]


TINY_RESOURCES = (
    "--set-threads", "simulate=1", "train=1", "predict=1",
    "--set-resources", *(f"{rule}:mem_mb=1500" for rule in (
        "merge", "train", "predict", "analyze", "conventional", "summary")),
)


def slurm_problem() -> str | None:
    """Why the Slurm test cannot run here, or None."""
    for tool in ("sinfo", "sbatch", "sacct", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} not found (start a cluster with: bash .ci/start-slurm.sh --install)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if "UP" not in ping.stdout:
        return f"no Slurm controller answers: {ping.stdout.strip()} {ping.stderr.strip()}"
    sacct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True,
                           text=True)
    if sacct.returncode != 0:
        return f"sacct fails (accounting needed by the plugin's status checks): {sacct.stderr}"
    return None


def require_slurm() -> None:
    problem = slurm_problem()
    if problem:
        if ON_CI:
            pytest.fail(f"Slurm must run on CI: {problem}")
        pytest.skip(problem)


def test_tiny_study_through_the_slurm_profile(tmp_path):
    require_slurm()
    require_commands(pytest)
    config = load_config("test.yaml")
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")

    # The shipped cluster profile as is; only threads and memory are cut to the tiny study so
    # that two jobs share the 2-CPU test node (command-line values replace the workflow
    # profile's set-threads/set-resources as a whole).
    result = snakemake(workdir, "--profile", "profiles/slurm", *TINY_RESOURCES, timeout=1800)
    match = re.search(r"SLURM run ID: (\S+)", result.stdout)
    assert match, f"no SLURM run ID in the output:\n{result.stdout[-3000:]}"
    run_id = match.group(1)

    validate_outputs(workdir, config)

    sacct = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-S", "now-3hours", "--name", run_id,
         "-o", "JobID,State,ExitCode,Comment"],
        capture_output=True, text=True, check=True)
    rows = [line.split("|") for line in sacct.stdout.splitlines() if line.strip()]
    assert rows, f"sacct lists no job of run {run_id}"
    states = Counter(state for _, state, _, _ in rows)
    assert set(states) == {"COMPLETED"}, f"job states of run {run_id}: {dict(states)}"
    rules = Counter(re.match(r"rule_([a-z]+)", comment).group(1) for *_, comment in rows)
    assert rules == expected_job_counts(config), rules
