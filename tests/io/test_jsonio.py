"""Strict JSON (sgpoison.io.jsonio) and atomic writing (sgpoison.io.atomic)."""

import dataclasses
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from sgpoison.errors import DataFormatError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.jsonio import read_json, to_json, to_jsonable, write_json


@dataclasses.dataclass
class Point:
    x: float
    where: Path


def test_to_jsonable_converts_numpy_paths_dataclasses_and_non_finite_numbers():
    value = {1: np.float64(np.nan), "inf": math.inf, "n": np.int64(3), "b": np.bool_(True),
             "a": np.array([[1.5, np.inf], [2.0, -np.inf]]), "t": (np.float32(0.5), "s"),
             "p": Path("/x/y"), "d": Point(np.float64(2.0), Path("z"))}
    out = to_jsonable(value)
    assert out == {"1": None, "inf": None, "n": 3, "b": True, "a": [[1.5, None], [2.0, None]],
                   "t": [0.5, "s"], "p": "/x/y", "d": {"x": 2.0, "where": "z"}}
    assert type(out["n"]) is int and type(out["b"]) is bool
    json.dumps(out, allow_nan=False)


def test_write_json_is_strict_keeps_or_sorts_keys_and_reads_back(tmp_path):
    path = write_json({"b": np.float64(np.nan), "a": [np.int32(1)]}, tmp_path / "sub" / "x.json")
    text = path.read_text()
    assert "NaN" not in text and text.endswith("\n")
    assert list(json.loads(text)) == ["b", "a"]
    assert read_json(path) == {"b": None, "a": [1]}
    write_json({"b": 1, "a": 2}, path, sort_keys=True)
    assert list(json.loads(path.read_text())) == ["a", "b"]
    assert to_json({"x": math.nan}) == '{"x": null}'


def test_read_json_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json: no such estimates file"):
        read_json(tmp_path / "nope.json", "estimates")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="bad.json: not valid JSON"):
        read_json(bad)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    with pytest.raises(TypeError):  # not JSON-serialisable: fails before the rename
        write_json({"x": object()}, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_temporary_names_are_unique_and_permissions_usual(tmp_path):
    seen = []
    target = tmp_path / "model.keras"
    (tmp_path / ".model.keras.tmp").write_text("a stale file with the old fixed temporary name")
    for _ in range(2):
        atomic_write(target, lambda tmp: (seen.append(tmp), tmp.write_text("x")))
    assert seen[0] != seen[1] and all(p.suffix == ".keras" and p.parent == tmp_path for p in seen)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert (tmp_path / ".model.keras.tmp").exists()  # not touched
