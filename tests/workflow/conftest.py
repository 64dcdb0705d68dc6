"""Fixtures shared by the workflow tests: the tiny study run once with the stand-in ``sgpoison``."""

from __future__ import annotations

import json
import shutil

import pytest

from workflow_support import copy_workflow, snakemake, stub_environment


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
