"""Tests of the training-set audit (sgpoison.audit, ``sgpoison audit``).

Real data come from small engine runs (L = 4, 32 instances, 6 temperatures:
a few seconds); label-noise estimates use synthetic overlaps whose phases
overlap near t_label (builders.crossover_overlaps) and, for the
decision logic, synthetic out-of-fold probabilities.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import xarray as xr

from builders import write_synthetic_training_file
from sgpoison.audit.crossval import instance_folds, out_of_fold_null_probabilities
from sgpoison.audit.labels import CROSS_VALIDATION_NETWORK, CROSS_VALIDATION_NULL, audit_labels, label_agreement
from sgpoison.audit.noise import (
    NOISE_ABSENT,
    NOISE_DETECTED,
    NOISE_UNDECIDED,
    _confident_learning,
    estimate_label_noise,
)
from sgpoison.audit.report import REFUSE_EXIT_CODE, audit_training_set, scenario_verdict
from sgpoison.audit.settings import AuditConfig
from sgpoison.audit.thermalization import audit_thermalization, critical_value
from sgpoison.cli import main
from sgpoison.io.formats import open_simulation, write_netcdf
from sgpoison.mc.parallel_tempering import SimulationParameters, simulate
from sgpoison.ml.labels import label_flips, prepare_training_set, training_set
from sgpoison.ml.settings import TrainingConfig

T_LABEL = 0.95


def _simulation(path, sweep_fraction):
    params = SimulationParameters(L=4, disorder="gaussian", instance_start=0, instance_stop=32,
                                  n_sweeps=4096, sweep_fraction=sweep_fraction, t_min=0.8, t_max=1.4,
                                  n_temps=6, n_snapshots=20, measure_interval=2, seed=7)
    return simulate(params, path, threads=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A thermalized run (4096 sweeps) and a deliberately short one (16 of the 4096 sweeps)."""
    directory = tmp_path_factory.mktemp("runs")
    return {"thermalized": _simulation(directory / "thermalized.nc", 1.0),
            "short": _simulation(directory / "short.nc", 1 / 256)}


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    """Synthetic overlaps, L = 4, 40 instances x 8 temperatures x 50 snapshots."""
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.nc"
    return write_synthetic_training_file(path, L=4, n_instances=40,
                                               temperatures=np.linspace(0.8, 1.21, 8),
                                               n_snapshots=50, seed=11)


# ----------------------------------------------------------------------------- thermalization


def test_critical_value_corrects_for_many_tests():
    single = critical_value(10_000, 1, 0.05)
    assert single == pytest.approx(1.96, abs=0.01)
    assert critical_value(160, 80, 0.05) == pytest.approx(3.49, abs=0.02)
    assert critical_value(8, 80, 0.05) > critical_value(160, 80, 0.05)  # Student t
    assert critical_value(1, 80, 0.05) == np.inf


def test_thermalized_and_short_runs_get_different_verdicts(runs):
    with open_simulation(runs["thermalized"]) as ds:
        good = audit_thermalization(ds)
    with open_simulation(runs["short"]) as ds:
        bad = audit_thermalization(ds)
    assert good["verdict"] == "thermalized", good["failing_checks"]
    assert all(t["verdict"] == "thermalized" for t in good["temperatures"])
    assert bad["verdict"] == "not thermalized"
    # the data alone (not only the declared run length) reveal the short run
    assert not bad["data_checks_pass"]
    assert not bad["checks"]["run_length"]
    failed_bins = [name for name in ("energy_log_bins", "q2_log_bins", "energy_kpy_log_bins", "kpy_identity")
                   if not bad["checks"][name]]
    assert failed_bins
    assert any(c.startswith(f"thermalization.{failed_bins[0]}: ") and "T = " in c for c in bad["failing_checks"])
    assert any(t["verdict"] == "not thermalized" for t in bad["temperatures"])
    assert bad["log_bins"]["last"] == {"bins": [4], "start": 8, "stop": 16, "sweeps": 8}
    # out of equilibrium e lies above, -3(1 - q_l)/T below the equilibrium energy
    kpy = [t["kpy_identity"]["difference"] for t in bad["temperatures"]]
    assert np.mean(kpy) > 0


def test_swap_acceptance_floor_names_the_pair(runs, tmp_path):
    with open_simulation(runs["thermalized"]) as ds:
        ds = ds.load()
    ds["swap_acceptance"][:, 2, :] = 0.01
    report = audit_thermalization(ds, swap_floor=0.1)
    assert report["verdict"] == "not thermalized"
    assert not report["checks"]["swap_acceptance"]
    (message,) = [c for c in report["failing_checks"] if c.startswith("thermalization.swap_acceptance")]
    T = ds["temperature"].values
    assert f"({T[2]:.3f}, {T[3]:.3f}): 0.010" in message
    flagged = [t["T"] for t in report["temperatures"] if "thermalization.swap_acceptance" in t["failing_checks"]]
    np.testing.assert_allclose(flagged, T[2:4])


def test_too_few_instances_cannot_pass(runs):
    with open_simulation(runs["thermalized"]) as ds:
        report = audit_thermalization(ds.isel(instance=slice(0, 3)))
    assert report["verdict"] == "not thermalized"
    assert "instance(s); errors over instances need" in report["failing_checks"][0]


# ----------------------------------------------------------------------------- labels against metadata


def test_label_agreement_counts_every_flip():
    T = np.linspace(0.8, 1.2, 5)
    clean = np.broadcast_to((T > T_LABEL)[None, :, None], (6, 5, 10)).astype(np.int8)
    assert label_agreement(clean, T, T_LABEL)["pass"]
    noisy = clean.copy()
    noisy[0, 0, :3] ^= 1
    noisy[5, 4, 9] ^= 1
    result = label_agreement(noisy, T, T_LABEL)
    assert (result["disagreements"], result["n_labels"], result["pass"]) == (4, 300, False)
    assert [e["disagreements"] for e in result["per_temperature"]] == [3, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="do not match 5 temperatures"):
        label_agreement(noisy[:, :4], T, T_LABEL)


def test_audit_sees_the_labels_the_training_uses(synthetic_file):
    """The audit rebuilds exactly the labels of network 0 (the null models train on them too),
    not those of another ensemble member."""
    config = AuditConfig(label_noise=0.05, seed=3, estimate_noise=False)
    report = audit_training_set(synthetic_file, config)
    network_0 = training_set(synthetic_file, TrainingConfig(label_noise=0.05, seed=3), network_index=0)
    network_1 = training_set(synthetic_file, TrainingConfig(label_noise=0.05, seed=3), network_index=1)
    source = report["labels"]["source"]
    assert source["network_index"] == 0 and source["seeds"] == network_0.seeds
    assert source["labels_sha256"] == network_0.labels_sha256() != network_1.labels_sha256()
    assert report["labels"]["metadata_agreement"]["disagreements"] == network_0.realised_flips > 0
    assert source["realised_flips"] == network_0.realised_flips
    assert report["verdict"] == "fail" and "labels.metadata_agreement" in report["failing_checks"][0]


# ----------------------------------------------------------------------------- label-noise estimate


def _probabilities(rho, n_instances=40, n_snapshots=60, overlap=False, seed=0, mode="independent"):
    """Synthetic out-of-fold p(label 1): confident far from t_label, ambiguous near it.

    Label noise flips each label with probability rho (``mode="independent"``), or each
    (instance, temperature) block of ``n_snapshots`` (``"block"``, drawn by the training's
    :func:`sgpoison.ml.labels.label_flips`).
    """
    rng = np.random.default_rng(seed)
    T = np.linspace(0.8, 1.21, 20)
    shape = (n_instances, len(T), n_snapshots)
    truth = np.broadcast_to((T > T_LABEL)[None, :, None], shape)
    confident = rng.uniform(0.9, 0.99, shape)
    p_true = confident
    if overlap:  # near t_label a configuration can look like either phase
        near = (np.abs(T - T_LABEL) < 0.1)[None, :, None]
        p_true = np.where(near, rng.uniform(0.03, 0.97, shape), confident)
    p1 = np.where(truth, p_true, 1 - p_true)
    if mode == "block":
        flips = label_flips(shape, rho, seed + 1, mode="block")
    else:
        flips = rng.random(shape) < rho
    return p1, (truth ^ flips).astype(np.int8), T, flips


#: sizes of the bracketing test per mode: block noise has n_instances x N_T independent draws
#: (4400 blocks in the region), enough to resolve rho = 0.01 from the tolerance
_SIZES = {"independent": {"n_instances": 40, "n_snapshots": 60},
          "block": {"n_instances": 400, "n_snapshots": 5}}


@pytest.mark.parametrize("mode", ["independent", "block"])
@pytest.mark.parametrize("rho", [0.0, 0.01, 0.05])
def test_noise_estimate_brackets_the_injected_rate(rho, mode):
    p1, labels, T, flips = _probabilities(rho, mode=mode, **_SIZES[mode])
    result = estimate_label_noise(p1, labels, T, T_LABEL, n_bootstrap=100, seed=1)
    truth = flips[:, np.abs(T - T_LABEL) >= 0.1].mean()
    lo, hi = result["interval"]
    assert lo <= truth <= hi
    if rho > 0:  # the interval is narrow enough to tell the truth from half or twice it
        assert truth / 2 < lo and hi < 2 * truth
    expected = NOISE_ABSENT if rho == 0 else NOISE_DETECTED
    assert result["conclusion"] == expected
    assert result["pass"] == (rho == 0)


@pytest.mark.parametrize("mode", ["independent", "block"])
def test_confident_joint_is_cleanlabs(mode):
    """The hand-written confident joint is cleanlab's, fold by fold (cleanlab is optional:
    benchmarks/bench_noise_estimate.py, docs/audit.md)."""
    count = pytest.importorskip("cleanlab.count")
    p1, labels, T, _ = _probabilities(0.05, n_instances=20, n_snapshots=10, mode=mode)
    region = np.abs(T - T_LABEL) >= 0.1
    folds = np.arange(20) % 4
    x, y = p1[:, region].ravel(), labels[:, region].ravel().astype(np.int64)
    g = np.broadcast_to(folds[:, None, None], labels.shape)[:, region].ravel()
    ours = _confident_learning(x, y, np.ones(x.shape), g)["confident_joint"]
    pred = np.stack([1 - x, x], axis=1)
    theirs = sum(count.compute_confident_joint(y[g == k], pred[g == k], calibrate=False)
                 for k in range(4))
    np.testing.assert_array_equal(ours, theirs)
    assert ours[0, 1] + ours[1, 0] > 0


def test_physical_overlap_is_not_called_label_noise():
    p1, labels, T, _ = _probabilities(0.0, overlap=True)
    everything = estimate_label_noise(p1, labels, T, T_LABEL, band=0.0, n_bootstrap=100, seed=1)
    assert everything["rate"] > 0.01  # the raw disagreement looks like a lot of noise ...
    assert everything["overlap_excess_interval"][0] > 0  # ... but depends on the confidence
    assert everything["conclusion"] == NOISE_UNDECIDED and everything["pass"]
    away = estimate_label_noise(p1, labels, T, T_LABEL, band=0.1, n_bootstrap=100, seed=1)
    assert away["conclusion"] == NOISE_ABSENT


def test_a_network_without_skill_tells_nothing():
    p1, labels, T, _ = _probabilities(0.0)
    p1 = np.random.default_rng(2).uniform(0.3, 0.7, p1.shape)  # predictions unrelated to the phase
    result = estimate_label_noise(p1, labels, T, T_LABEL, n_bootstrap=50, seed=1)
    assert result["separation"] < 0.1
    assert result["conclusion"] == NOISE_UNDECIDED and "do not resolve the phases" in result["reason"]


def test_too_few_data_to_tell():
    p1, labels, T, _ = _probabilities(0.01, n_instances=6, n_snapshots=5)
    result = estimate_label_noise(p1, labels, T, T_LABEL, seed=1)
    assert result["conclusion"] == NOISE_UNDECIDED
    assert result["interval"][0] <= 0.0025 and result["interval"][1] >= 0.01


def test_noise_estimate_needs_temperatures_on_both_sides():
    p1, labels, T, _ = _probabilities(0.0)
    result = estimate_label_noise(p1, labels, T, T_LABEL, band=0.3)
    assert result["conclusion"] == NOISE_UNDECIDED and "--band" in result["reason"]


def test_network_estimate_on_synthetic_overlaps(synthetic_file, tmp_path):
    """Cross-validated CNN + confident learning: 0 % and 5 % injected noise."""
    reports = {}
    for rho in (0.0, 0.05):
        out = tmp_path / f"audit_{rho}.json"
        code = main(["audit", "--data", str(synthetic_file), "--out", str(out), "--label-noise", str(rho),
                     "--seed", "3", "--folds", "3", "--epochs", "3", "--batch-size", "64", "--threads", "1"])
        assert code == 0
        reports[rho] = json.loads(out.read_text())
    clean = reports[0.0]["labels"]["noise_estimate"]
    assert clean["conclusion"] == NOISE_ABSENT, clean["reason"]
    assert reports[0.0]["verdict"] == "pass"
    noisy = reports[0.05]["labels"]["noise_estimate"]
    tset = prepare_training_set(synthetic_file, TrainingConfig(label_noise=0.05, seed=3))
    region = np.abs(tset.temperatures - T_LABEL) >= 0.1
    truth = tset.flips[:, region].mean()
    assert noisy["interval"][0] <= truth <= noisy["interval"][1]
    assert noisy["conclusion"] == NOISE_DETECTED
    assert noisy["cross_validation"]["n_folds"] == 3
    assert "labels.noise_estimate" in " ".join(reports[0.05]["failing_checks"])


@pytest.mark.parametrize("classifier", ["null_q2_ql", "null_q2"])
def test_null_model_estimate_on_synthetic_overlaps(synthetic_file, tmp_path, classifier):
    """Cross-validated logistic regression + confident learning: 0 % and 5 % injected noise."""
    reports = {}
    for rho in (0.0, 0.05):
        out = tmp_path / f"audit_{rho}.json"
        assert main(["audit", "--data", str(synthetic_file), "--out", str(out), "--label-noise", str(rho),
                     "--seed", "3", "--folds", "3", "--noise-classifier", classifier]) == 0
        reports[rho] = json.loads(out.read_text())
    clean = reports[0.0]["labels"]["noise_estimate"]
    assert clean["conclusion"] == NOISE_ABSENT, clean["reason"]
    noisy = reports[0.05]["labels"]["noise_estimate"]
    tset = prepare_training_set(synthetic_file, TrainingConfig(label_noise=0.05, seed=3))
    truth = tset.flips[:, np.abs(tset.temperatures - T_LABEL) >= 0.1].mean()
    assert noisy["interval"][0] <= truth <= noisy["interval"][1]
    assert noisy["conclusion"] == NOISE_DETECTED, noisy["reason"]
    assert noisy["cross_validation"] == {"classifier": classifier, "n_folds": 3, "n_instances": 32,
                                         "observables": classifier.removeprefix("null_"),
                                         "network": CROSS_VALIDATION_NULL}


@pytest.mark.parametrize("max_instances, runs_estimate", [(8, False), (20, True)])
def test_max_instances_below_the_minimum_skips_the_estimate(synthetic_file, max_instances, runs_estimate):
    """The minimum of max(folds, 16) instances holds for the instances actually used."""
    tset = prepare_training_set(synthetic_file, TrainingConfig(seed=3))
    config = AuditConfig(seed=3, n_folds=2, max_instances=max_instances, noise_classifier="null_q2_ql")
    noise = audit_labels(synthetic_file, tset.train_positions, tset.labels, tset.temperatures, config)["noise_estimate"]
    if runs_estimate:
        assert noise["cross_validation"]["n_instances"] == max_instances
    else:
        assert noise["skipped"] == "8 labelled instance(s) (--max-instances 8); the cross-validation needs >= 16"


def test_null_model_probabilities_are_out_of_fold(synthetic_file):
    """Relabelling one fold's instances changes every other fold's probabilities, not its own."""
    tset = prepare_training_set(synthetic_file, TrainingConfig(seed=3))
    p1, folds = out_of_fold_null_probabilities(synthetic_file, tset.train_positions, tset.labels, n_folds=4)
    assert np.array_equal(folds, instance_folds(len(tset.train_positions), 4, AuditConfig().seed))
    relabelled = tset.labels.copy()
    relabelled[folds == 0] = 1 - relabelled[folds == 0]
    q1, _ = out_of_fold_null_probabilities(synthetic_file, tset.train_positions, relabelled, n_folds=4)
    assert np.array_equal(q1[folds == 0], p1[folds == 0])
    assert not np.allclose(q1[folds != 0], p1[folds != 0], atol=1e-3)


# ----------------------------------------------------------------------------- command line


def _audit(path, out, *options):
    return main(["audit", "--data", str(path), "--out", str(out), "--no-noise-estimate",
                 "--seed", "3", *options])


def test_policy_refuse_stops_only_the_failing_scenarios(runs, tmp_path, capsys):
    scenarios = {"clean": (runs["thermalized"], "0.0"), "label_noise_1pct": (runs["thermalized"], "0.01"),
                 "underthermalized": (runs["short"], "0.0")}
    codes = {}
    for name, (path, rho) in scenarios.items():
        codes[name] = _audit(path, tmp_path / f"{name}.json", "--scenario", name,
                             "--label-noise", rho, "--policy", "refuse")
    assert codes == {"clean": 0, "label_noise_1pct": REFUSE_EXIT_CODE,
                     "underthermalized": REFUSE_EXIT_CODE}
    err = capsys.readouterr().err
    assert "refusing" in err and "labels.metadata_agreement" in err and "thermalization.kpy_identity" in err
    reports = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in scenarios}
    assert reports["clean"]["verdict"] == "pass" and reports["clean"]["failing_checks"] == []
    assert reports["label_noise_1pct"]["verdict"] == "fail"
    assert reports["label_noise_1pct"]["thermalization"]["verdict"] == "thermalized"
    assert reports["underthermalized"]["thermalization"]["verdict"] == "not thermalized"
    for report in reports.values():
        assert {"verdict", "failing_checks", "thermalization", "labels", "provenance",
                "data_sha256", "policy", "scenario"} <= set(report)
        assert report["policy"] == "refuse"
        assert report["provenance"]["sgpoison_version"]


def test_scenario_verdict_combines_sizes(runs, tmp_path):
    paths = []
    for name, path in (("a", runs["thermalized"]), ("b", runs["short"])):
        out = tmp_path / f"{name}.json"
        _audit(path, out)
        paths.append(out)
    combined = scenario_verdict(paths[:1])
    assert combined["verdict"] == "pass" and combined["per_L"] == {4: "pass"}
    combined = scenario_verdict(paths)
    assert combined["verdict"] == "fail" and combined["thermalization"] == "fail"
    assert combined["labels"] == "pass"
    assert all(check.startswith("L=4: thermalization.") for check in combined["failing_checks"])
    with pytest.raises(ValueError, match="not an sgpoison audit report"):
        bad = tmp_path / "other.json"
        bad.write_text("{}")
        scenario_verdict([bad])


def test_policy_warn_reports_but_does_not_stop(runs, tmp_path, capsys):
    out = tmp_path / "warn.json"
    assert _audit(runs["short"], out, "--policy", "warn") == 0
    assert json.loads(out.read_text())["verdict"] == "fail"
    assert "warning" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--swap-floor", "2"], "--swap-floor"),
    (["--label-noise", "0.7"], "--label-noise"),
    (["--policy", "ignore"], "--policy"),
    (["--L", "6"], "--L"),
    (["--noise-classifier", "null_m"], "--noise-classifier"),
])
def test_bad_arguments_exit_2(runs, tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exc:
        _audit(runs["thermalized"], tmp_path / "bad.json", *options)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_file_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _audit(tmp_path / "missing.nc", tmp_path / "out.json")
    assert exc.value.code == 2 and "missing.nc" in capsys.readouterr().err


def test_invalid_data_file_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.nc"
    write_netcdf(xr.Dataset({"x": ("a", [1.0])}, attrs={"format": "other"}), bad)
    assert _audit(bad, tmp_path / "out.json") == 1
    assert "not an sgpoison simulation file" in capsys.readouterr().err


# ----------------------------------------------------------------------------- reports of other versions


def _resolve(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_reports_name_functions_that_exist(synthetic_file):
    from sgpoison.ml.network import build_model
    from sgpoison.ml.null import fit_null_model

    report = audit_training_set(synthetic_file, AuditConfig(estimate_noise=False))
    assert _resolve(report["labels"]["source"]["function"]) is prepare_training_set
    assert _resolve(CROSS_VALIDATION_NETWORK) is build_model
    assert _resolve(CROSS_VALIDATION_NULL) is fit_null_model


def test_reports_written_before_the_package_layout_are_read(runs, tmp_path):
    """Readers never look at recorded function paths; those of sgpoison <= 0.1 stay readable."""
    from sgpoison.report.summary import load_audit

    out = tmp_path / "new.json"
    _audit(runs["short"], out)
    text = out.read_text().replace("sgpoison.ml.labels.prepare_training_set", "sgpoison.training.prepare_training_set")
    assert "sgpoison.training.prepare_training_set" in text
    old = tmp_path / "old.json"
    old.write_text(text)
    assert scenario_verdict([old]) == scenario_verdict([out])
    assert load_audit([old]) == load_audit([out]) and load_audit([old])["verdict"] == "fail"
