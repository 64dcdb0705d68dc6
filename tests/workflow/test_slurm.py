"""The tiny study through the shipped GPU cluster profile (profiles/slurm-gpu) on a real Slurm
cluster with accounting and a GPU gres. .ci/run starts a single-node cluster on localhost whose
node advertises one dummy GPU (.ci/start-slurm.sh); elsewhere the test is skipped unless `sinfo`
finds a cluster with a GPU gres. On CI (CI=true) it must run.

The CPU-only profile profiles/slurm differs from profiles/slurm-gpu only by the GPU requests and
groups (tests/workflow/test_profiles.py), so one run through the cluster covers both."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import pytest
import yaml

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


GPU_RULES = ("train", "predict")
PROFILE = "profiles/slurm-gpu"


def cut_to_the_tiny_study(workdir) -> dict:
    """The scratch copy of the shipped GPU profile with one thread and 1500 MB per job, so that
    two jobs share the 2-CPU test node; everything else (GPU requests, groups, cluster settings)
    as shipped. (--set-threads/--set-resources on the command line would replace the profile's
    mappings as a whole, GPU requests included.) Returns the profile."""
    path = workdir / PROFILE / "config.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = 1500
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return profile


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
    gres = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True)
    if "gpu" not in gres.stdout:
        return (f"no node advertises a GPU gres (sinfo: {gres.stdout.strip()!r}); restart the "
                "cluster with: bash .ci/start-slurm.sh")
    return None


def require_slurm() -> None:
    problem = slurm_problem()
    if problem:
        if ON_CI:
            pytest.fail(f"Slurm must run on CI: {problem}")
        pytest.skip(problem)


def job_name(comment: str) -> str:
    """Rule (or group job) of a Slurm job from the comment the plugin gives it:
    rule_<rule>[_wildcards_<values>], and for a group job rule_<group>_<its rules, sorted>."""
    return re.match(r"rule_(.+?)(?:_wildcards_.*)?$", comment).group(1)


def test_tiny_study_through_the_gpu_profile(tmp_path):
    require_slurm()
    require_commands(pytest)
    config = load_config("test.yaml")
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")
    profile = cut_to_the_tiny_study(workdir)

    # profiles/slurm-gpu replaces profiles/default as the workflow profile (README)
    result = snakemake(workdir, "--workflow-profile", PROFILE, timeout=1800)
    match = re.search(r"SLURM run ID: (\S+)", result.stdout)
    assert match, f"no SLURM run ID in the output:\n{result.stdout[-3000:]}"
    run_id = match.group(1)

    validate_outputs(workdir, config)

    sacct = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-S", "now-3hours", "--name", run_id,
         "-o", "JobID,State,ExitCode,Comment,ReqTRES,AllocTRES"],
        capture_output=True, text=True, check=True)
    rows = [line.split("|") for line in sacct.stdout.splitlines() if line.strip()]
    assert rows, f"sacct lists no job of run {run_id}"
    states = Counter(state for _, state, *_ in rows)
    assert set(states) == {"COMPLETED"}, f"job states of run {run_id}: {dict(states)}"

    # train and predict of one (L, scenario) run as one group job, every other job alone
    groups = {profile["groups"][rule] for rule in GPU_RULES}
    assert len(groups) == 1, profile["groups"]
    network_job = f"{groups.pop()}_{'_'.join(sorted(GPU_RULES))}"
    expected = expected_job_counts(config)
    n_networks = expected.pop("train")
    assert expected.pop("predict") == n_networks
    expected[network_job] = n_networks
    names = Counter(job_name(comment) for _, _, _, comment, _, _ in rows)
    assert names == expected, names

    # the GPU request reached Slurm for exactly these jobs (requested and allocated)
    for job_id, _, _, comment, requested, allocated in rows:
        wants_gpu = job_name(comment) == network_job
        for tres in (requested, allocated):
            assert ("gres/gpu=1" in tres.split(",")) == wants_gpu, (job_id, comment, tres)
