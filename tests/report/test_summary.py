"""Tests of sgpoison.report.summary and ``sgpoison summary``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from builders import run_cli, synthetic_moments, synthetic_predictions
from sgpoison.cli import main
from sgpoison.errors import DataFormatError
from sgpoison.fss.conventional import analyze_conventional, write_conventional
from sgpoison.fss.estimates import write_estimates
from sgpoison.fss.settings import AnalysisSettings, ConventionalSettings
from sgpoison.fss.verdict import analyze
from sgpoison.report import summary


@pytest.fixture(scope="module")
def estimates_files(tmp_path_factory):
    """estimates.json of a clean scenario, a poisoned one and the conventional analysis."""
    root = tmp_path_factory.mktemp("estimates")
    files = {}
    for name, kind in (("clean", "scaling"), ("label_noise_5pct", "independent")):
        data = synthetic_predictions(kind)
        data.attrs = [{"scenario": name, "label_noise": 0.0 if name == "clean" else 0.05,
                       "training_sweep_fraction": 1.0, "model_sha256": f"{name}-{L}", "git_commit": "abc"}
                      for L in data.L]
        result = analyze(data, AnalysisSettings(n_bootstrap=30))
        write_estimates(result, root / name)
        files[name] = root / name / "estimates.json"
    result = analyze_conventional(synthetic_moments(), ConventionalSettings(n_bootstrap=30))
    write_conventional(result, root / "conventional")
    files["conventional"] = root / "conventional" / "estimates.json"
    audit = root / "audit_clean.json"
    audit.write_text(json.dumps({"verdict": "pass", "failing_checks": []}))
    files["audit_clean"] = audit
    audit = root / "audit_noise.json"
    audit.write_text(json.dumps({"verdict": "fail", "failing_checks": ["label_balance", "thermalization"]}))
    files["audit_noise"] = audit
    return files


def test_build_table_rows_and_columns(estimates_files):
    f = estimates_files
    table = summary.build_table({"clean": f["clean"], "label_noise_5pct": f["label_noise_5pct"]}, f["conventional"],
                                {"label_noise_5pct": f["audit_noise"]})
    assert list(table["scenario"]) == ["clean", "label_noise_5pct", "conventional"]
    assert list(table["kind"]) == ["machine_learning", "machine_learning", "conventional"]
    assert list(table.columns[:5]) == list(summary.LEADING_COLUMNS)
    clean = table.iloc[0]
    est = json.loads(Path(f["clean"]).read_text())
    assert clean["transition_detected"]
    for name in ("Tc_linear", "Tc_collapse", "nu_ml", "nu_collapse"):
        assert clean[name] == pytest.approx(est["estimates"][name]["value"])
        assert clean[f"{name}_error"] == pytest.approx(est["estimates"][name]["error"])
        assert clean[f"{name}_ci_low"] == pytest.approx(est["estimates"][name]["ci_low"])
    assert clean["label_noise"] == 0.0 and clean["model_sha256"].startswith("6:clean-6")
    assert clean["L"] == "6,8,12,16"
    assert clean["audit_verdict"] == ""
    poisoned = table.iloc[1]
    assert not poisoned["transition_detected"] and poisoned["reason"]
    assert math.isnan(poisoned["Tc_linear"]) and math.isnan(poisoned["Tc_collapse"])
    assert poisoned["audit_verdict"] == "fail"
    assert poisoned["audit_failing_checks"] == "label_balance; thermalization"
    conv = table.iloc[2]
    conventional = json.loads(Path(f["conventional"]).read_text())
    assert conv["Tc_conventional"] == pytest.approx(conventional["estimates"]["Tc_conventional"]["value"])
    assert math.isnan(conv["Tc_linear"]) and conv["disorder"] == "bimodal"


def test_cli_summary_end_to_end(estimates_files, tmp_path, capsys):
    f = estimates_files
    out = tmp_path / "summary"
    rc = main(["summary", "--scenario", f"clean={f['clean']}",
               "--scenario", f"label_noise_5pct={f['label_noise_5pct']}", "--conventional", str(f["conventional"]),
               "--audit", f"clean={f['audit_clean']}", "--out", str(out)])
    assert rc == 0
    for name in ("results.csv", "results.nc", "tc_summary.png", "tc_summary.pdf"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "results.csv")
    assert list(table["scenario"]) == ["clean", "label_noise_5pct", "conventional"]
    assert table.loc[0, "audit_verdict"] == "pass"
    assert bool(table.loc[0, "transition_detected"]) and not bool(table.loc[1, "transition_detected"])
    with xr.open_dataset(out / "results.nc") as ds:
        assert ds.sizes["row"] == 3
        assert list(ds["scenario"].values) == ["clean", "label_noise_5pct", "conventional"]
        assert list(ds["transition_detected"].values) == [1, 0, 1]
        assert float(ds["Tc_linear"][0]) == pytest.approx(table.loc[0, "Tc_linear"])
        assert np.isnan(float(ds["Tc_linear"][1]))
        assert ds.attrs["format"] == "sgpoison-results"
    assert "clean" in capsys.readouterr().out


def test_summary_without_conventional_or_audit(estimates_files, tmp_path):
    out = tmp_path / "s"
    assert main(["summary", "--scenario", f"clean={estimates_files['clean']}", "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 1 and "audit_verdict" in table.columns


@pytest.mark.parametrize("problem, code", [("no_equals", 2), ("duplicate", 2), ("unknown_audit", 2), ("missing", 2),
                                           ("wrong_kind", 1), ("bad_audit", 1), ("reserved", 2)])
def test_cli_summary_errors_exit_codes(estimates_files, tmp_path, capsys, problem, code):
    """Bad arguments exit 2 naming the option, bad input files 1 naming the file."""
    f = estimates_files
    clean = f"clean={f['clean']}"
    args = ["summary", "--out", str(tmp_path / "out")]
    if problem == "no_equals":
        args += ["--scenario", str(f["clean"])]
        expect = "NAME=PATH"
    elif problem == "duplicate":
        args += ["--scenario", clean, "--scenario", clean]
        expect = "twice"
    elif problem == "unknown_audit":
        args += ["--scenario", clean, "--audit", f"other={f['audit_clean']}"]
        expect = "unknown scenario"
    elif problem == "missing":
        args += ["--scenario", clean, "--baseline", str(tmp_path / "nope.json")]  # the former name
        expect = "nope.json"
    elif problem == "wrong_kind":
        args += ["--scenario", f"clean={f['conventional']}"]
        expect = "kind"
    elif problem == "bad_audit":
        bad = tmp_path / "bad_audit.json"
        bad.write_text(json.dumps({"failing_checks": "x"}))
        args += ["--scenario", clean, "--audit", f"clean={bad}"]
        expect = "verdict"
    else:
        args += ["--scenario", f"conventional={f['clean']}"]
        expect = "reserved"
    status, err = run_cli(args, capsys)
    assert status == code
    assert "sgpoison summary: error: " in err and expect in err


def _audit_report(path, L, verdict, checks):
    report = {"format": "sgpoison-audit", "L": L, "verdict": verdict, "failing_checks": checks,
              "thermalization": {"verdict": "thermalized" if not checks else "not thermalized"},
              "labels": {"verdict": "pass"}}
    path.write_text(json.dumps(report))
    return str(path)


def test_per_size_audit_reports_combine_into_the_scenario_verdict(estimates_files, tmp_path):
    """The workflow passes one sgpoison audit report per L; any failing L fails the scenario."""
    reports = [_audit_report(tmp_path / "a4.json", 4, "pass", []),
               _audit_report(tmp_path / "a6.json", 6, "fail", ["thermalization.q2_log_bins: drift"])]
    combined = summary.load_audit(reports)
    assert combined == {"verdict": "fail", "failing_checks": ["L=6: thermalization.q2_log_bins: drift"]}
    assert summary.load_audit(reports[:1]) == {"verdict": "pass", "failing_checks": []}
    assert summary.parse_assignments(["clean=a", "clean=b", "x=c"], "--audit", repeatable=True) == {
        "clean": ["a", "b"], "x": ["c"]}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"verdict": "pass", "failing_checks": []}))
    with pytest.raises(DataFormatError, match="several audit files"):
        summary.load_audit([str(plain), reports[0]])


def test_scenario_name_must_match_its_estimates_file(estimates_files):
    with pytest.raises(ValueError, match="analysis of scenario 'clean', not 'renamed'"):
        summary.build_table({"renamed": estimates_files["clean"]}, estimates_files["conventional"])
