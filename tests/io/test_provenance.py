"""Provenance of every output (sgpoison.io.provenance): version, git commit, parameters, hashes."""

import datetime
import hashlib
import json
import re
import subprocess

import numpy as np
import pytest

import sgpoison
from sgpoison.io import provenance as prov


def test_provenance_records_version_commit_time_and_parameters():
    parameters = {"L": np.int64(8), "rho": 0.01, "tuple": (1, 2), "nan": float("nan"), "path": prov._SOURCE_DIR}
    out = prov.provenance(parameters)
    assert set(out) == {"sgpoison_version", "git_commit", "created", "parameters"}
    assert out["sgpoison_version"] == sgpoison.__version__
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", out["git_commit"]), out["git_commit"]
    created = datetime.datetime.fromisoformat(out["created"])
    assert created.tzinfo is not None
    assert json.loads(out["parameters"]) == {"L": 8, "nan": None, "path": str(prov._SOURCE_DIR),
                                             "rho": 0.01, "tuple": [1, 2]}
    assert prov.provenance()["parameters"] == "{}"


def _git(directory, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=directory,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_commit_names_the_checkout_and_marks_changes(tmp_path, monkeypatch):
    monkeypatch.delenv("SGPOISON_GIT_COMMIT", raising=False)
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    monkeypatch.setattr(prov, "_SOURCE_DIR", tmp_path)
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert prov.git_commit() == head
    (tmp_path / "untracked.py").write_text("")
    assert prov.git_commit() == head  # untracked files do not count
    (tmp_path / "a.py").write_text("x = 2\n")
    assert prov.git_commit() == head + "-dirty"
    monkeypatch.setenv("SGPOISON_GIT_COMMIT", "abc123")
    assert prov.git_commit() == "abc123"
    monkeypatch.delenv("SGPOISON_GIT_COMMIT")
    monkeypatch.setattr(prov, "_SOURCE_DIR", tmp_path / "not-a-directory")
    assert prov.git_commit() == "unknown"


def test_file_sha256_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 1000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert prov.file_sha256(path, chunk=1000) == prov.file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        prov.file_sha256(tmp_path / "missing")
