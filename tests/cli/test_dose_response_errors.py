"""``sgpoison dose-response``: bad inputs are refused before any work, naming the file, option or value."""

from __future__ import annotations

import json

import pytest

from builders import run_cli


@pytest.fixture
def files(tmp_path):
    for name in ("e1.json", "e2.json", "a1.json", "conv.json"):
        (tmp_path / name).write_text(json.dumps({"format": "not-sgpoison"}))
    (tmp_path / "broken.json").write_text("{")
    return tmp_path


def _argv(d, doses=("0", "0.01"), estimates=("e1.json", "e2.json"), axis="label_noise", out="out"):
    return ["dose-response", "--axis", axis, "--doses", *doses, "--estimates", *[str(d / e) for e in estimates],
            "--audits", str(d / "a1.json"), "--conventional", str(d / "conv.json"), "--out", str(d / out)]


@pytest.mark.parametrize("change, code, message", [
    (dict(doses=("0",)), 2, "argument --estimates: 1 doses but 2 estimates files"),
    (dict(doses=("0.01", "0.01")), 2, "argument --doses: dose 0.01 given twice (positions 1 and 2)"),
    (dict(doses=("0", "nan")), 2, "argument --doses: dose nan is not a finite number"),
    (dict(axis="rho"), 2, "argument --axis: invalid choice: 'rho'"),
    (dict(out="e1.json"), 2, "e1.json exists and is not a directory"),
    (dict(estimates=("broken.json", "e2.json")), 1, "broken.json"),
    (dict(), 1, "e1.json: 'format' is not 'sgpoison-estimates'"),
])
def test_bad_inputs(files, capsys, change, code, message):
    got, err = run_cli(_argv(files, **change), capsys)
    assert got == code, err
    assert "sgpoison dose-response: error: " in err and message in err, err
    assert "Traceback" not in err
    assert not (files / "out").exists()
