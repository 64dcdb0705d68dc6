"""The tiny study through the shipped GPU cluster profile (profiles/slurm-gpu) on a real Slurm
cluster with accounting and a GPU gres. .ci/run starts a single-node cluster on localhost whose
node advertises one dummy GPU (.ci/start-slurm.sh); elsewhere the test is skipped unless `sinfo`
finds a cluster with a GPU gres. On CI (CI=true) it must run.

The CPU-only profile profiles/slurm differs from profiles/slurm-gpu only by the GPU requests and
groups (tests/workflow/test_profiles.py), so one run through the cluster covers both."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import pytest

from workflow_support import ON_CI, expected_job_counts, load_config, slurm_problem, validate_outputs

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]


GPU_RULES = ("train", "predict")


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


def test_tiny_study_through_the_gpu_profile(request):
    require_slurm()
    config = load_config("test.yaml")
    study = request.getfixturevalue("finished_tiny_study")  # after require_slurm: no study run for a skip
    assert study.executor == "slurm", "the shared tiny study did not run through Slurm"
    workdir, profile = study.workdir, study.profile
    match = re.search(r"SLURM run ID: (\S+)", study.output)
    assert match, f"no SLURM run ID in the output:\n{study.output[-3000:]}"
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
