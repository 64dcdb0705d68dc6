"""The cluster profiles: profiles/slurm-gpu is profiles/default plus profiles/slurm plus GPU
requests for train and predict, and Snakemake resolves the profiles to GPU requests for exactly
these rules (dry runs, no cluster needed). The submission to a real Slurm cluster, and what sbatch
receives there, is tests/workflow/test_slurm.py."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import yaml

from workflow_support import REPO, copy_workflow, dry_run, expected_job_counts, load_config

GPU_RULES = {"train", "predict"}
#: resources that choose GPUs or the partition; everything else matches profiles/default
GPU_KEYS = {"gpu", "gpu_model", "gres", "cpus_per_gpu", "slurm_partition"}


def load_profile(name: str, root=REPO) -> dict:
    with open(root / "profiles" / name / "config.yaml") as stream:
        return yaml.safe_load(stream)


def requests_gpu(resources: dict) -> bool:
    return str(resources.get("gpu", 0)) not in ("0", "") or "gpu" in str(resources.get("gres", ""))


def gpu_jobs(jobs) -> Counter:
    """Jobs of a dry run that ask for a GPU, by rule."""
    return Counter(job.rule for job in jobs if requests_gpu(job.resources))


def without_gpu_keys(resources: dict) -> dict:
    return {key: value for key, value in resources.items() if key not in GPU_KEYS}


def test_the_default_profiles_request_no_gpu():
    for name in ("default", "slurm"):
        for rule, resources in load_profile(name).get("set-resources", {}).items():
            assert not requests_gpu(resources), f"profiles/{name}: {rule} asks for a GPU"


def test_gpu_profile_is_default_and_slurm_plus_gpus():
    """profiles/slurm-gpu replaces profiles/default as the workflow profile, so it has to carry
    everything of it (and of the cluster profile profiles/slurm); only GPUs and groups differ."""
    default, slurm, gpu = (load_profile(name) for name in ("default", "slurm", "slurm-gpu"))
    for source, profile in (("slurm", slurm), ("default", default)):
        for key, value in profile.items():
            if key != "set-resources":
                assert gpu.get(key) == value, f"profiles/slurm-gpu: {key} differs from profiles/{source}"
    assert set(gpu["set-resources"]) == set(default["set-resources"])
    for rule, resources in default["set-resources"].items():
        assert without_gpu_keys(gpu["set-resources"][rule]) == without_gpu_keys(resources), (
            f"profiles/slurm-gpu: resources of {rule} differ from profiles/default")
    asking = {rule for rule, resources in gpu["set-resources"].items() if requests_gpu(resources)}
    assert asking == GPU_RULES
    # beyond the two: the groups, and the site's account and partitions if they are set
    assert "groups" in gpu
    assert set(gpu) - set(default) - set(slurm) <= {"groups", "group-components", "default-resources"}
    assert set(gpu["groups"]) == GPU_RULES and len(set(gpu["groups"].values())) == 1


@pytest.mark.workflow
def test_gpu_profile_requests_gpus_for_train_and_predict_only(tmp_path):
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")
    jobs = dry_run(workdir, "--workflow-profile", "profiles/slurm-gpu")
    counts = expected_job_counts(load_config("test.yaml"))
    assert Counter(job.rule for job in jobs) == counts
    assert gpu_jobs(jobs) == Counter({rule: counts[rule] for rule in GPU_RULES})
    group = load_profile("slurm-gpu")["groups"]["train"]
    for job in jobs:
        assert job.group == (group if job.rule in GPU_RULES else None), job


@pytest.mark.workflow
def test_cpu_slurm_profile_requests_no_gpu(tmp_path):
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")
    jobs = dry_run(workdir, "--profile", "profiles/slurm")
    assert Counter(job.rule for job in jobs) == expected_job_counts(load_config("test.yaml"))
    assert not gpu_jobs(jobs)
    assert all(job.group is None for job in jobs)
    train = next(job for job in jobs if job.rule == "train")  # profiles/default's resources
    assert train.resources["mem_mb"] == str(load_profile("default")["set-resources"]["train"]["mem_mb"])


@pytest.mark.workflow
def test_gpu_profile_given_as_profile_requests_no_gpu(tmp_path):
    """Why the documentation says --workflow-profile: with --profile, Snakemake takes
    set-resources from the auto-loaded workflow profile profiles/default as a whole."""
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")
    jobs = dry_run(workdir, "--profile", "profiles/slurm-gpu")
    assert jobs and not gpu_jobs(jobs)


@pytest.mark.workflow
@pytest.mark.parametrize("request_, sbatch", [
    ({"gpu": 1}, "--gpus=1"),
    ({"gpu": 1, "gpu_model": "a100"}, "--gpus=a100:1"),
    ({"gres": "gpu:1"}, "--gres=gpu:1"),
], ids=["gpu", "gpu_model", "gres"])
def test_each_way_of_asking_for_a_gpu_reaches_sbatch(tmp_path, request_, sbatch):
    """The ways profiles/slurm-gpu documents (gpu, gpu with gpu_model, gres instead of gpu),
    set in both GPU rules, as Snakemake resolves them and as the Slurm plugin turns them into
    sbatch options."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    workdir = copy_workflow(tmp_path / "wf", "test.yaml")
    path = workdir / "profiles" / "slurm-gpu" / "config.yaml"
    profile = load_profile("slurm-gpu", workdir)
    for rule in GPU_RULES:
        resources = profile["set-resources"][rule]
        for key in GPU_KEYS:
            resources.pop(key, None)
        resources.update(request_)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))

    jobs = dry_run(workdir, "--workflow-profile", "profiles/slurm-gpu")
    counts = expected_job_counts(load_config("test.yaml"))
    assert gpu_jobs(jobs) == Counter({rule: counts[rule] for rule in GPU_RULES})
    for job in jobs:
        if job.rule in GPU_RULES:
            assert {k: v for k, v in job.resources.items() if k in GPU_KEYS} == {
                k: str(v) for k, v in request_.items()}, job
            resources = dict(job.resources)
            # the part of a Snakemake job that the plugin reads: job.resources.get / .<name>
            fake_job = SimpleNamespace(resources=SimpleNamespace(**resources, get=resources.get))
            assert set_gres_string(fake_job).split() == [sbatch]
