"""sgpoison.fss.dose_response: the dose table on real estimates files and the signal-loss rule."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from builders import NU, SIZES, TC, ensemble_curves, prediction_set, scaling_function, synthetic_moments
from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.fss import dose_response as dr
from sgpoison.fss.conventional import analyze_conventional, write_conventional
from sgpoison.fss.estimates import write_estimates
from sgpoison.fss.predictions import ScenarioPredictions
from sgpoison.fss.settings import AnalysisSettings, ConventionalSettings
from sgpoison.fss.verdict import analyze_scenario


def _curves(shift=0.0, sized=True, seed=0):
    def mean(L, T):
        return scaling_function((L ** (1 / NU) if sized else 3.0) * (T - TC - shift))
    return ensemble_curves(mean=mean, n=80, n_networks=2, seed=seed)


def audit_report(path, scenario, L, verdict="pass", thermalization="thermalized", labels="pass", rate=0.0,
                 interval=(0.0, 0.0)):
    """A minimal sgpoison audit report (the keys read by the dose-response)."""
    failing = [] if verdict == "pass" else ["labels.metadata_agreement: 1 % of the labels disagree"]
    report = {"format": "sgpoison-audit", "format_version": 1, "scenario": scenario, "L": L, "verdict": verdict,
              "failing_checks": failing, "thermalization": {"verdict": thermalization},
              "labels": {"verdict": labels, "noise_estimate": {"rate": rate, "interval": list(interval),
                                                               "conclusion": "synthetic"}}}
    path.write_text(json.dumps(report))
    return path


#: (scenario, dose, CNN curves): signal at 0 and 0.01, the crossing moves at 0.02, no transition at 0.1
SCAN = (("label_noise_0", 0.0, dict(seed=1)), ("label_noise_0.01", 0.01, dict(seed=2)),
        ("label_noise_0.02", 0.02, dict(shift=0.12, seed=3)), ("label_noise_0.1", 0.1, dict(sized=False, seed=4)))


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """Real estimates files (sgpoison analyze's writer) of a label-noise scan, its audits and the
    conventional analysis."""
    root = tmp_path_factory.mktemp("scan")
    settings = AnalysisSettings(n_bootstrap=30)
    files = {"estimates": [], "audits": [], "doses": []}
    for scenario, dose, kw in SCAN:
        evaluation = {"validation": {"accuracy": 0.7 - dose, "balanced_accuracy": 0.72 - dose, "majority_baseline": 0.65}}
        attrs = [{"scenario": scenario, "label_noise": dose, "training_sweep_fraction": 1.0, "t_label": 0.95,
                  "model_metadata": json.dumps({"evaluation": evaluation})} for _ in SIZES]
        cnn = prediction_set(_curves(**kw))
        null = prediction_set(_curves(shift=0.12, seed=9), classifier="null_ql")  # a crossing elsewhere
        cnn.attrs, null.attrs = attrs, attrs
        result = analyze_scenario(ScenarioPredictions({"cnn": cnn, "null_ql": null}), settings)
        write_estimates(result, root / scenario)
        files["estimates"].append(root / scenario / "estimates.json")
        files["doses"].append(dose)
        for L in (6, 8):
            flagged = dose >= 0.01
            files["audits"].append(audit_report(root / f"audit_{scenario}_L{L}.json", scenario, L,
                                                "fail" if flagged else "pass", labels="fail" if flagged else "pass",
                                                rate=dose, interval=(0.8 * dose, 1.2 * dose)))
    write_conventional(analyze_conventional(synthetic_moments(), ConventionalSettings(n_bootstrap=30)),
                       root / "conventional")
    files["conventional"] = root / "conventional" / "estimates.json"
    files["root"] = root
    return files


def test_table_columns_on_real_estimates(scan):
    axis, base, doses = dr.read_doses("label_noise", scan["doses"][::-1], scan["estimates"][::-1], scan["audits"])
    assert base == 0.0 and [d.dose for d in doses] == [0.0, 0.01, 0.02, 0.1]  # poison order, whatever the input
    table = dr.dose_table(axis, doses)
    assert list(table["scenario"]) == [s for s, _, _ in SCAN]
    for name in dr.TC_ESTIMATORS:
        for suffix in ("", "_error", "_ci_low", "_ci_high"):
            assert f"{name}{suffix}" in table.columns
    est = json.loads(scan["estimates"][0].read_text())
    assert table.loc[0, "Tc_crossing"] == pytest.approx(est["estimates"]["Tc_crossing"]["value"])
    assert table.loc[0, "Tc_crossing_ci_low"] == pytest.approx(est["estimates"]["Tc_crossing"]["ci_low"])
    diff = est["comparisons"]["null_ql"]["differences"]["Tc_crossing"]
    assert table.loc[0, "cnn_minus_null_ql_Tc_crossing"] == pytest.approx(diff["value"])
    assert table.loc[0, "cnn_minus_null_ql_Tc_crossing_ci_high"] == pytest.approx(diff["ci_high"])
    assert table.loc[0, "null_ql_comparison"] == "distinguishable"
    assert table.loc[0, "Tc_collapse"] == pytest.approx(est["estimates"]["Tc_collapse"]["value"])
    assert table.loc[3, "Tc_collapse"] == pytest.approx(
        json.loads(scan["estimates"][3].read_text())["estimates"]["Tc_collapse"]["value"] or math.nan, nan_ok=True)
    assert list(table["transition_detected"]) == [True, True, True, False]
    assert list(table["audit_verdict"]) == ["pass", "fail", "fail", "fail"]
    assert list(table["audit_labels"]) == ["pass", "fail", "fail", "fail"]
    assert list(table["audit_thermalization"]) == ["pass"] * 4
    assert table.loc[3, "audit_noise_rate_L8"] == pytest.approx(0.1)
    assert table.loc[3, "audit_noise_rate_L6_ci_high"] == pytest.approx(0.12)
    assert list(table["injected_label_noise"]) == [0.0, 0.01, 0.02, 0.1]
    for L in SIZES:  # the models' evaluation.validation, carried by the prediction files
        assert list(table[f"validation_accuracy_L{L}"]) == pytest.approx([0.7 - d for d in (0, 0.01, 0.02, 0.1)])
        assert list(table[f"validation_balanced_accuracy_L{L}"]) == pytest.approx([0.72 - d for d in (0, 0.01, 0.02, 0.1)])
        assert list(table[f"majority_baseline_L{L}"]) == pytest.approx([0.65] * 4)

    table, result = dr.signal_loss(axis, base, table)
    assert list(table["signal"]) == [True, True, False, False]
    assert result["status"] == "lost" and result["signal_lost_dose"] == 0.02
    assert result["bracket"] == {"last_with_signal": 0.01, "first_without_signal": 0.02}
    assert any(c.startswith("interval:") for c in result["criteria_failed"])
    assert result["first_audit_flag_dose"] == 0.01 and result["audit_protects"] is True
    assert "accuracy" in result["validation_accuracy"]


def row(dose, detected=True, tc=(1.0, 1.02), null="distinguishable", flagged=False, axis="label_noise", base=0.0):
    poison, branch = dr.poison_level(dr.AXES[axis], dose, base)
    return {"axis": axis, "dose": dose, "poison": poison, "branch": branch, "scenario": f"s{dose}",
            "transition_detected": detected, "reason": "" if detected else "no crossing",
            "Tc_crossing_ci_low": tc[0], "Tc_crossing_ci_high": tc[1], "null_ql_comparison": null,
            "audit_flagged": flagged, "audit_thermalization": "fail" if flagged else "pass", "audit_labels": "pass",
            "interval_confidence": 0.68}


def rule(rows, axis="label_noise", base=0.0):
    table = pd.DataFrame(sorted(rows, key=lambda r: (r["poison"], r["branch"] == "above")))
    return dr.signal_loss(dr.AXES[axis], base, table)


def test_the_verdict_flips_at_a_known_dose():
    table, out = rule([row(0.0), row(0.01), row(0.05, detected=False), row(0.1)])
    assert out["status"] == "lost" and out["signal_lost_dose"] == 0.05
    assert out["bracket"] == {"last_with_signal": 0.01, "first_without_signal": 0.05}
    assert out["criteria_failed"] == ["verdict: no transition"]
    assert out["branches"][0]["signal_returns_at"] == [0.1] and "not monotone" in out["statement"]
    assert list(table["signal"]) == [True, True, False, True]


def test_the_interval_leaves_at_a_known_dose():
    _, out = rule([row(0.0), row(0.02, tc=(1.015, 1.04)), row(0.05, tc=(1.021, 1.05))])
    assert out["signal_lost_dose"] == 0.05 and out["bracket"]["last_with_signal"] == 0.02
    assert out["criteria_failed"][0].startswith("interval: Tc_crossing [1.0210, 1.0500] does not overlap")
    _, out = rule([row(0.0), row(0.02, tc=(math.nan, math.nan))])
    assert out["criteria_failed"] == ["interval: Tc_crossing has no interval"]


def test_a_null_model_that_becomes_indistinguishable_loses_the_signal():
    _, out = rule([row(0.0), row(0.02), row(0.05, null="indistinguishable")])
    assert out["signal_lost_dose"] == 0.05 and out["criteria_failed"] == ["null null_ql: indistinguishable"]
    missing = row(0.05)
    del missing["null_ql_comparison"]  # the null model was not run at this dose
    _, out = rule([row(0.0), missing])
    assert out["criteria_failed"] == ["null null_ql: not compared"]
    # a null model the CNN is not distinguishable from at the base does not enter the rule
    _, out = rule([row(0.0, null="indistinguishable"), row(0.05, null="indistinguishable")])
    assert out["status"] == "not lost" and out["nulls_distinguishable_at_base"] == []


def test_a_signal_never_lost_is_null_with_a_clear_statement():
    _, out = rule([row(0.0), row(0.01), row(0.2)])
    assert out["status"] == "not lost" and out["signal_lost_dose"] is None
    assert out["bracket"] == {"last_with_signal": 0.2, "first_without_signal": None}
    assert "not lost within the scan" in out["statement"] and out["audit_protects"] is None


def test_no_signal_at_the_base_dose():
    _, out = rule([row(0.0, detected=False), row(0.1)])
    assert out["status"] == "no signal at the base dose" and out["signal_lost_dose"] is None
    assert "no signal to lose" in out["statement"]


def test_sweep_fraction_poison_grows_as_the_fraction_decreases(tmp_path):
    rows = [row(f, axis="sweep_fraction", base=1.0) for f in (1.0, 0.75, 0.5, 0.25)]
    rows[2].update(transition_detected=False)  # lost at 0.5
    rows[1].update(audit_flagged=True)         # the audit flags 0.75 already
    _, out = rule(rows, "sweep_fraction", 1.0)
    assert out["per_dose"][0]["dose"] == 1.0 and [d["dose"] for d in out["per_dose"]] == [1.0, 0.75, 0.5, 0.25]
    assert out["signal_lost_dose"] == 0.5 and out["bracket"]["last_with_signal"] == 0.75
    assert out["first_audit_flag_dose"] == 0.75 and out["audit_protects"] is True
    assert dr.base_dose(dr.AXES["sweep_fraction"], [0.25, 1.0, 0.5]) == 1.0


def test_an_audit_that_flags_after_the_loss_does_not_protect():
    _, out = rule([row(0.0), row(0.01, detected=False), row(0.05, flagged=True)])
    assert out["signal_lost_dose"] == 0.01 and out["first_audit_flag_dose"] == 0.05
    assert out["audit_protects"] is False and "does not protect" in out["statement"]
    _, out = rule([row(0.0, flagged=True), row(0.01, detected=False)])
    assert out["audit_protects"] is None and "already flags the base" in out["statement"]


def test_t_label_has_two_branches_from_the_base():
    rows = [row(t, axis="t_label", base=0.95) for t in (0.85, 0.9, 0.95, 1.0, 1.05)]
    rows[4].update(transition_detected=False)  # above: lost at 1.05
    rows[1].update(transition_detected=False)  # below: lost at 0.9 (closer to the base)
    _, out = rule(rows, "t_label", 0.95)
    assert [b["branch"] for b in out["branches"]] == ["below", "above"]
    assert [b["signal_lost_dose"] for b in out["branches"]] == [0.9, 1.05]
    assert out["signal_lost_dose"] == 0.9 and out["bracket"] == {"last_with_signal": 0.95,
                                                                 "first_without_signal": 0.9}


def test_read_doses_refuses_bad_inputs_naming_them(scan, tmp_path):
    e, a, d = scan["estimates"], scan["audits"], scan["doses"]
    with pytest.raises(SettingsError, match="3 doses but 4 estimates files") as info:
        dr.read_doses("label_noise", d[:3], e, a)
    assert info.value.option == "--estimates"
    with pytest.raises(SettingsError, match="dose 0.01 given twice"):
        dr.read_doses("label_noise", [0, 0.01, 0.01, 0.1], e, a)
    with pytest.raises(SettingsError, match="unknown axis 'rho'"):
        dr.read_doses("rho", d, e, a)
    with pytest.raises(DataFormatError, match=r"label_noise_0.01/estimates.json: 'label_noise' is 0.01 .* "
                                               r"its dose on --doses is 0.02"):
        dr.read_doses("label_noise", [0, 0.02, 0.01, 0.1], e, a)
    stranger = audit_report(tmp_path / "stranger.json", "block_0.05", 8)
    with pytest.raises(SettingsError, match=r"stranger.json is the audit of scenario 'block_0.05', which is no "):
        dr.read_doses("label_noise", d, e, a + [stranger])
    with pytest.raises(SettingsError, match=r"dose 0.1 \(scenario 'label_noise_0.1', .*\) has no audit"):
        dr.read_doses("label_noise", d, e, a[:-2])
    with pytest.raises(SettingsError, match="are both audits of scenario 'label_noise_0' at L=6"):
        dr.read_doses("label_noise", d, e, a + [a[0]])
    with pytest.raises(SettingsError, match="are both the analysis of scenario"):
        dr.read_doses("label_noise", d, [e[0], e[0], e[2], e[3]], a)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="bad.json"):
        dr.read_doses("label_noise", d, [bad, *e[1:]], a)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(DataFormatError, match="wrong.json: 'format' is not 'sgpoison-estimates'"):
        dr.read_doses("label_noise", d, [wrong, *e[1:]], a)
    with pytest.raises(SettingsError, match="only for --axis t_label"):
        dr.read_doses("label_noise", d, e, a, base=0.0)
    with pytest.raises(SettingsError, match="the base t_label 0.95 is not one of the doses"):
        dr.base_dose(dr.AXES["t_label"], [0.9, 1.0])


def test_cli_dose_response_writes_every_output_with_provenance(scan, tmp_path, capsys):
    import xarray as xr

    from builders import run_cli
    from sgpoison.io.provenance import file_sha256

    out = tmp_path / "dr"
    argv = ["dose-response", "--axis", "label_noise", "--doses", *map(str, scan["doses"]),
            "--estimates", *map(str, scan["estimates"]), "--audits", *map(str, scan["audits"]),
            "--conventional", str(scan["conventional"]), "--out", str(out)]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    for name in ("table.csv", "table.nc", "signal_loss.json", "dose_response.png", "dose_response.pdf"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "table.csv")
    assert list(table["dose"]) == [0.0, 0.01, 0.02, 0.1]
    assert list(table["signal"]) == [True, True, False, False]
    signal = json.loads((out / "signal_loss.json").read_text())
    assert signal["signal_lost_dose"] == 0.02 and signal["audit_protects"] is True
    assert signal["conventional"]["Tc_conventional"]["value"] is not None
    parameters = json.loads(signal["provenance"]["parameters"])
    assert parameters["input_sha256"][str(scan["estimates"][0])] == file_sha256(scan["estimates"][0])
    assert set(parameters["input_sha256"]) == {str(p) for p in scan["estimates"] + scan["audits"]
                                               + [scan["conventional"]]}
    with xr.open_dataset(out / "table.nc") as ds:
        assert ds.attrs["format"] == "sgpoison-dose-response" and ds.attrs["git_commit"]
        assert list(ds["signal"].values) == [1, 1, 0, 0]
        assert json.loads(ds.attrs["signal_loss_json"])["signal_lost_dose"] == 0.02
