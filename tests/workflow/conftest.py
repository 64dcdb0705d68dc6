"""Fixtures shared by the workflow tests: the tiny study run once with the stand-in ``sgpoison``,
and once with the real commands (the only real run of the test session)."""

from __future__ import annotations

import json
import shutil

import pytest

from workflow_support import copy_workflow, require_commands, run_tiny_study, slurm_problem, snakemake, stub_environment


@pytest.fixture(scope="session")
def completed_stub_run(tmp_path_factory):
    """The tiny study, run to completion with the stand-in sgpoison; returns (directory, calls)."""
    base = tmp_path_factory.mktemp("stub-run")
    workdir = copy_workflow(base / "wf", "test.yaml")
    env = stub_environment(base)
    snakemake(workdir, "--cores", "2", env=env)
    calls = [json.loads(line) for line in (base / "calls.jsonl").read_text().splitlines()]
    return workdir, calls


@pytest.fixture
def stub_run(completed_stub_run, tmp_path):
    """A private copy (modification times preserved) of the completed stand-in run."""
    workdir, _ = completed_stub_run
    copy = tmp_path / "wf"
    shutil.copytree(workdir, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def finished_tiny_study(request, tmp_path_factory):
    """config/test.yaml run to completion with the real sgpoison commands, once per session
    (:class:`workflow_support.FinishedStudy`). When the Slurm test is selected and a cluster
    answers, the run goes through the cluster with the GPU profile (test_slurm.py checks its
    jobs), otherwise locally; the tests of the finished files (test_workflow.py) read the same
    run, so CI simulates, trains and analyses the tiny study once. Treat it as read-only:
    copy it (see :func:`finished_tiny_study_copy`) before writing into it."""
    require_commands(pytest)
    slurm_selected = any(item.get_closest_marker("slurm") for item in request.session.items)
    through_slurm = slurm_selected and slurm_problem() is None
    return run_tiny_study(tmp_path_factory.mktemp("tiny-study") / "wf", through_slurm)


@pytest.fixture
def finished_tiny_study_copy(finished_tiny_study, tmp_path):
    """A private copy (modification times and Snakemake's metadata preserved) of the finished study."""
    copy = tmp_path / "wf"
    shutil.copytree(finished_tiny_study.workdir, copy, symlinks=True)
    return copy
