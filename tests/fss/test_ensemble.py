"""Prediction files of every classifier (format 2), the two-level bootstrap, the estimators that
need no maximum of d<p>/dT, the verdict's reasons and the null-model comparison (issue 11)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from builders import (NU, PREDICTION_TEMPERATURES, SIZES, TC, correlated_noise, ensemble_curves, prediction_set,
                      run_cli, scaling_function, write_prediction_files)
from sgpoison.bootstrap import percentile_interval
from sgpoison.cli import main
from sgpoison.errors import DataFormatError
from sgpoison.fss.predictions import open_predictions
from sgpoison.fss.resampling import ensemble_average, instance_counts
from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.verdict import analyze, analyze_scenario

T = PREDICTION_TEMPERATURES


# --------------------------------------------------------------------------- the reader


@pytest.fixture
def scenario_files(tmp_path):
    """A CNN ensemble of 3 networks and two null models on the same instances, 4 sizes."""
    rng = np.random.default_rng(0)
    eta = [correlated_noise(rng, 40, T, 0.1, 0.1) for _ in SIZES]
    paths = write_prediction_files(tmp_path, ensemble_curves(n=40, n_networks=3, eta=eta, seed=1))
    for null in ("null_ql", "null_q2"):
        paths += write_prediction_files(tmp_path, ensemble_curves(n=40, n_networks=1, eta=eta, seed=2),
                                        classifier=null, settings_sha256=f"settings-{null}")
    return tmp_path, paths


def test_open_predictions_groups_classifiers_networks_and_sizes(scenario_files):
    _, paths = scenario_files
    data = open_predictions(paths[::-1])
    assert list(data.classifiers) == ["cnn", "null_q2", "null_ql"]
    assert data.nulls == ["null_q2", "null_ql"]
    cnn = data.cnn
    assert cnn.n_networks == 3 and list(cnn.L) == list(SIZES)
    assert all(cnn.networks(i).shape == (3, 40, T.size) for i in range(len(SIZES)))
    assert cnn.files[:3] == [(6, 0), (6, 1), (6, 2)]
    assert data.classifiers["null_ql"].n_networks == 1
    with xr.open_dataset(paths[1]) as ds:   # L = 6, network 1
        np.testing.assert_array_equal(cnn.networks(0)[1], np.asarray(ds["p"]))
    fraction = open_predictions(paths, observable="fraction_high")
    assert set(np.unique(fraction.cnn.networks(0))) <= {0.0, 1.0}


def _rewrite(path, **attrs):
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds.attrs.update(attrs)
    ds.to_netcdf(path, engine="netcdf4")


@pytest.mark.parametrize("attribute, value", [
    ("t_label", 1.2), ("disorder", "gaussian"), ("training_disorder", "bimodal"), ("label_noise", 0.01),
    ("label_noise_mode", "asymmetric"), ("training_sweep_fraction", 0.5), ("scenario", "other")])
def test_open_predictions_refuses_files_of_another_scenario_or_data(scenario_files, attribute, value):
    """Issue 12 item 5: one file that differs from the others is refused, naming both files and the
    attribute -- whichever classifier it belongs to."""
    _, paths = scenario_files
    odd = paths[-1]   # the last null model's largest size
    _rewrite(odd, **{attribute: value})
    with pytest.raises(DataFormatError, match=attribute) as info:
        open_predictions(paths)
    assert odd in str(info.value) and paths[0] in str(info.value)


def test_open_predictions_refuses_inconsistent_ensembles(scenario_files, tmp_path):
    directory, paths = scenario_files
    cnn = [p for p in paths if "/cnn" in p]
    # network settings differ within the CNN family (but a null model's may differ from the CNN's)
    _rewrite(cnn[4], settings_sha256="other")
    with pytest.raises(DataFormatError, match="settings_sha256"):
        open_predictions(paths)
    _rewrite(cnn[4], settings_sha256="settings-cnn")
    open_predictions(paths)
    # a duplicate (classifier, L, network_index)
    _rewrite(cnn[1], network_index=0)
    with pytest.raises(DataFormatError, match="both are cnn network 0 of L=6"):
        open_predictions(paths)
    _rewrite(cnn[1], network_index=1)
    # a missing network
    with pytest.raises(DataFormatError, match=r"network indices \[0, 2\].*missing \[1\]"):
        open_predictions([p for p in paths if p != cnn[1]])
    # the classifiers of one L predict different data, or were trained on different data
    _rewrite(cnn[0], data_sha256="another-file")
    with pytest.raises(DataFormatError, match="data_sha256"):
        open_predictions(paths)
    _rewrite(cnn[0], data_sha256="bimodal-L6")
    # a null model without one size, and no CNN at all
    with pytest.raises(DataFormatError, match="null_q2.*sizes"):
        open_predictions([p for p in paths if not p.endswith("L16/null_q2.nc")])
    with pytest.raises(DataFormatError, match="no predictions of the CNN"):
        open_predictions([p for p in paths if "null" in p])


def test_open_predictions_refuses_other_instances(scenario_files):
    _, paths = scenario_files
    with xr.open_dataset(paths[2]) as ds:
        ds = ds.load()
    ds = ds.assign_coords(instance=ds["instance"].values + 1000)
    ds.to_netcdf(paths[2], engine="netcdf4")
    with pytest.raises(DataFormatError, match="disorder instances differ"):
        open_predictions(paths)


def test_cli_analyze_refuses_mixed_predictions_before_any_work(scenario_files, capsys):
    directory, paths = scenario_files
    _rewrite(paths[5], t_label=1.5)
    out = directory / "analysis"
    status, err = run_cli(["analyze", "--predictions", *paths, "--out", str(out), "--n-bootstrap", "10"], capsys)
    assert status == 1 and "t_label" in err and paths[5] in err
    assert not out.exists()


def test_cli_analyze_reads_the_observable_it_is_told(scenario_files):
    """--observable fraction_high averages the hard-argmax fraction, recorded in the output."""
    directory, paths = scenario_files
    out = directory / "analysis"
    assert main(["analyze", "--predictions", *paths, "--out", str(out), "--n-bootstrap", "10",
                 "--observable", "fraction_high"]) == 0
    est = json.loads((out / "estimates.json").read_text())
    assert est["observable"] == "fraction_high" and est["settings"]["observable"] == "fraction_high"
    with xr.open_dataset(paths[0]) as ds:   # cnn0 of L = 6
        fraction = np.asarray(ds["fraction_high"])
    with xr.open_dataset(out / "estimates.nc") as ds:
        cnn6 = ds["network_p_mean"].sel(L=6, network=0).values
    np.testing.assert_allclose(cnn6, fraction.mean(axis=0))


# --------------------------------------------------------------------------- the two-level bootstrap


def test_instance_resamples_depend_only_on_seed_and_size():
    a = instance_counts(50, 20, seed=3, L=8)
    assert a.shape == (20, 50) and np.all(a.sum(axis=1) == 50)
    np.testing.assert_array_equal(a, instance_counts(50, 20, seed=3, L=8))
    assert not np.array_equal(a, instance_counts(50, 20, seed=3, L=12))
    assert not np.array_equal(a, instance_counts(50, 20, seed=4, L=8))
    # a CNN of 4 networks and a null model of the same data: the same instance resamples, so a
    # classifier identical to network 0 gives identical bootstrap means when networks are not resampled
    curves = ensemble_curves(n=30, n_networks=4, seed=0)
    settings = AnalysisSettings(n_bootstrap=20, network_level=False)
    one = ensemble_average(prediction_set([c[:1] for c in curves]), settings)
    same = ensemble_average(prediction_set([c[:1] for c in curves], classifier="null_ql"), settings)
    np.testing.assert_array_equal(one.samples, same.samples)


def test_network_level_variance_is_unbiased():
    """Networks that differ by an offset of the whole curve only: the bootstrap variance of <p> is
    var_k(m_k, ddof=1) / K exactly in expectation (the sqrt(K / (K - 1)) inflation)."""
    K = 4
    curves = ensemble_curves(n=20, n_networks=K, instance_noise=0.0, interaction_noise=0.0,
                             network_offset=0.05, seed=7)
    average = ensemble_average(prediction_set(curves), AnalysisSettings(n_bootstrap=20000, seed=1))
    for i, per_network in enumerate(average.network_curves):
        expected = per_network.var(axis=0, ddof=1) / K
        np.testing.assert_allclose(average.error[i] ** 2, expected, rtol=0.04)
        assert average.network_spread[i] == pytest.approx(per_network.std(axis=0, ddof=1).mean())
        assert average.network_variance_share[i] == pytest.approx(1.0, rel=0.04)
    off = ensemble_average(prediction_set(curves), AnalysisSettings(n_bootstrap=200, seed=1, network_level=False))
    assert np.all(off.error < 1e-12)   # instances are identical: without the network level no error
    assert not off.network_level and average.network_level


def test_one_network_has_no_network_level_and_says_so(tmp_path):
    paths = write_prediction_files(tmp_path, ensemble_curves(n=30, n_networks=1, seed=0))
    out = tmp_path / "analysis"
    assert main(["analyze", "--predictions", *paths, "--out", str(out), "--n-bootstrap", "10"]) == 0
    est = json.loads((out / "estimates.json").read_text())
    assert est["n_networks"] == 1 and est["network_variance_estimated"] is False
    assert "not estimated" in est["networks"]["note"]
    assert all(r["spread"] is None for r in est["networks"]["per_size"])
    assert main(["summary", "--scenario", f"clean={out / 'estimates.json'}", "--out", str(tmp_path / "s")]) == 0
    row = pd.read_csv(tmp_path / "s" / "results.csv").iloc[0]
    assert row["n_networks"] == 1 and row["network_variance_estimated"] == "no"


# --------------------------------------------------------------------------- estimators and verdict


def no_maximum(L, T):
    """Exact scaling F(L^(1/nu)(T - Tc)) with F(x) = 1 / (1 + exp(-(x - 0.5) / 0.4)): inside
    T <= 1.25 every curve is below its inflection, so d<p>/dT has no interior maximum."""
    return 1.0 / (1.0 + np.exp(-(L ** (1 / NU) * (T - TC) - 0.5) / 0.4))


NO_MAXIMUM_T = np.linspace(0.8, 1.25, 25)


def test_exact_scaling_without_a_derivative_maximum_gives_tc():
    """The paper's chain does not exist (no interior maximum of d<p>/dT); the crossing, the full
    collapse and the linear coefficient with nu of the collapse recover Tc within their errors, and
    the verdict claims the transition."""
    L = np.array(SIZES, dtype=float)
    assert np.all(TC + 0.5 * L ** (-1 / NU) > NO_MAXIMUM_T[-1])   # inflections outside the window
    curves = ensemble_curves(T=NO_MAXIMUM_T, mean=no_maximum, n=400, n_networks=4, instance_noise=0.05,
                             network_offset=0.003, seed=11)
    result = analyze(prediction_set(curves, T=NO_MAXIMUM_T), AnalysisSettings(n_bootstrap=100, seed=2))
    assert not np.all(result.central.derivative_maximum_interior)
    assert math.isnan(result.scalars["nu_ml"]) and math.isnan(result.scalars["paper_Tc_linear"])
    assert result.transition_detected, result.reason
    for name in ("Tc_crossing", "Tc_collapse", "Tc_linear"):
        value = result.scalars[name]
        lo, hi = percentile_interval(result.bootstrap.scalars[name], 0.68)
        error = 0.5 * (hi - lo)
        assert 0 < error < 0.03, (name, error)
        assert abs(value - TC) <= 3 * error, (name, value, error)
    assert abs(result.scalars["nu_collapse"] - NU) < 0.5


def test_noise_free_scaling_crosses_at_tc_for_every_pair():
    curves = ensemble_curves(n=3, n_networks=1, instance_noise=1e-4, interaction_noise=0.0, seed=0)
    result = analyze(prediction_set(curves), AnalysisSettings(n_bootstrap=10))
    c = result.central
    np.testing.assert_allclose(c.pair_crossings, TC, atol=2e-3)
    assert np.all(c.pair_weights > 0)
    assert c.Tc_crossing == pytest.approx(TC, abs=1e-3)
    assert abs(c.crossing_drift) < 0.05
    assert np.nanmax(c.Tc_linear_scan) - np.nanmin(c.Tc_linear_scan) < 0.01   # the zero barely moves with nu


def test_crossing_drift_with_a_correction_to_scaling():
    """<p> = F(L^(1/nu)(T - Tc)) + 0.2 / L (noise-free): smaller sizes lie higher, so their crossings
    move to higher T and the successive crossings drift upwards with 1/L; without the correction
    the drift is 0."""
    from scipy.optimize import brentq

    corrected = lambda L, T: scaling_function(L ** (1 / NU) * (T - TC)) + 0.2 / L  # noqa: E731
    curves = ensemble_curves(mean=corrected, n=3, n_networks=1, instance_noise=1e-4, interaction_noise=0.0, seed=0)
    result = analyze(prediction_set(curves), AnalysisSettings(n_bootstrap=10, collapse=False))
    exact = [brentq(lambda t: corrected(b, t) - corrected(a, t), 1.0, 1.3) for a, b in zip(SIZES, SIZES[1:])]
    np.testing.assert_allclose(result.central.pair_crossings[[0, 3, 5]], exact, atol=2e-3)
    assert exact[0] > exact[1] > exact[2] > TC
    slope = np.polyfit(2.0 / (np.array(SIZES[:-1]) + SIZES[1:]), exact, 1)[0]
    assert result.scalars["crossing_drift"] > 0.5 * slope > 0


def test_full_collapse_needs_no_start_values_and_fits_a_correction_term():
    from sgpoison.fss.collapse import fit_collapse

    L = np.array(SIZES)
    x = L[:, None] ** (1 / NU) * (T[None, :] - TC)
    c = np.array([0.5, 0.8, 0.0, -0.3])
    mean = np.polynomial.polynomial.polyval(x, c) + L[:, None] ** -1.0 * (0.05 + 0.02 * x)
    sigma = np.full(mean.shape, 0.001)
    plain = fit_collapse(L, T, mean, sigma, (0.2, 0.8))
    corrected = fit_collapse(L, T, mean, sigma, (0.2, 0.8), correction_omega=1.0)
    assert corrected.success and corrected.chi2 < 1e-6
    assert corrected.Tc == pytest.approx(TC, abs=1e-6) and corrected.nu == pytest.approx(NU, rel=1e-5)
    np.testing.assert_allclose(corrected.coefficients, [*c, 0.05, 0.02], atol=1e-5)
    assert abs(plain.Tc - TC) > 10 * plain.fit_error_Tc   # without the term, Tc absorbs the correction


def verdict_of(mean, n_networks=1, seed=0, **kw):
    curves = ensemble_curves(mean=mean, n=300, n_networks=n_networks, instance_noise=0.1, seed=seed, **kw)
    return analyze(prediction_set(curves), AnalysisSettings(n_bootstrap=60, seed=seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_scaling_is_a_transition(seed):
    result = verdict_of(None, n_networks=4, seed=seed, network_offset=0.003)
    assert result.transition_detected, result.reason
    assert result.failed_checks == [] and result.reason is None


@pytest.mark.parametrize("seed", [0, 1])
def test_size_independent_curves_are_no_transition(seed):
    result = verdict_of(lambda L, T: scaling_function(3.0 * (T - TC)), seed=seed)
    assert not result.transition_detected
    assert "crossing_significant" in result.failed_checks
    assert "size ordering not significantly reversed" in result.reason


@pytest.mark.parametrize("seed", [0, 1])
def test_pure_noise_is_no_transition(seed):
    result = verdict_of(lambda L, T: np.full(T.shape, 0.5), seed=seed)
    assert not result.transition_detected
    assert "crossing_significant" in result.failed_checks
    assert "size ordering not significantly reversed" in result.reason


@pytest.mark.parametrize("seed", [0, 1])
def test_one_shifted_size_is_no_transition(seed):
    """A bad network: the curve of L = 12 is shifted by 0.04 in T (one network per size, so the
    bootstrap cannot see it); the sizes no longer collapse within the errors."""
    shifted = lambda L, T: scaling_function(L ** (1 / NU) * (T - TC - (0.04 if L == 12 else 0.0)))  # noqa: E731
    result = verdict_of(shifted, seed=seed)
    assert not result.transition_detected
    assert "collapse_acceptable" in result.failed_checks
    assert "full data collapse unacceptable: reduced chi^2" in result.reason


# --------------------------------------------------------------------------- null models


def write_scenario(directory, null_shift, n_networks=4, seed=0):
    """A CNN ensemble at TC and a null model null_ql at TC + null_shift, on the same instances."""
    rng = np.random.default_rng(seed)
    eta = [correlated_noise(rng, 200, T, 0.1, 0.1) for _ in SIZES]
    paths = write_prediction_files(directory, ensemble_curves(n=200, n_networks=n_networks, eta=eta,
                                                              network_offset=0.003, seed=seed + 1))
    shifted = lambda L, T: scaling_function(L ** (1 / NU) * (T - TC - null_shift))  # noqa: E731
    paths += write_prediction_files(directory, ensemble_curves(mean=shifted, n=200, n_networks=1, eta=eta,
                                                               seed=seed + 2),
                                    classifier="null_ql", settings_sha256="null")
    return paths


def test_null_model_with_the_cnn_s_law_is_indistinguishable_and_a_different_one_is_not(tmp_path, capsys):
    same = write_scenario(tmp_path / "same", 0.0)
    other = write_scenario(tmp_path / "other", 0.08)
    for name, paths in (("same", same), ("other", other)):
        assert main(["analyze", "--predictions", *paths, "--out", str(tmp_path / name / "analysis"),
                     "--n-bootstrap", "100"]) == 0
    capsys.readouterr()
    assert main(["summary", "--scenario", f"clean={tmp_path / 'same' / 'analysis' / 'estimates.json'}",
                 "--out", str(tmp_path / "s1")]) == 0
    printed = capsys.readouterr().out
    assert "indistinguishable from the null_ql classifier's" in printed
    row = pd.read_csv(tmp_path / "s1" / "results.csv").iloc[0]
    assert row["null_ql_comparison"] == "indistinguishable"
    assert row["cnn_minus_null_ql_Tc_crossing_ci_low"] <= 0 <= row["cnn_minus_null_ql_Tc_crossing_ci_high"]
    assert abs(row["null_ql_Tc_crossing"] - TC) < 0.05 and row["n_networks"] == 4

    est = json.loads((tmp_path / "other" / "analysis" / "estimates.json").read_text())
    comparison = est["comparisons"]["null_ql"]
    assert comparison["distinguishable"] is True
    assert comparison["sentence"].startswith("the CNN's crossing is distinguishable from the null_ql classifier's")
    d = comparison["differences"]["Tc_crossing"]
    assert d["ci_high"] < 0 and d["confidence"] == 0.95
    assert abs(d["value"] + 0.08) < 0.03
    assert est["nulls"]["null_ql"]["estimates"]["Tc_crossing"]["value"] == pytest.approx(TC + 0.08, abs=0.03)
    with xr.open_dataset(tmp_path / "other" / "analysis" / "estimates.nc") as ds:
        assert list(ds["classifier"].values) == ["cnn", "null_ql"]
        assert float(ds["difference_Tc_crossing"].sel(null="null_ql")) == pytest.approx(d["value"])
        assert ds["bootstrap_difference_Tc_crossing"].shape == (1, 100)
    for name in ("fig1.png", "fig1.pdf", "nulls.png", "nulls.pdf"):
        assert (tmp_path / "other" / "analysis" / name).stat().st_size > 0


def test_differences_are_paired():
    """CNN and null model share the instance noise: the spread of their difference is far smaller
    than that of either Tc (the same instance resamples enter both)."""
    rng = np.random.default_rng(5)
    eta = [correlated_noise(rng, 100, T, 0.15, 0.1) for _ in SIZES]
    cnn = prediction_set(ensemble_curves(n=100, n_networks=1, eta=eta, interaction_noise=0.005, seed=1))
    null = prediction_set(ensemble_curves(n=100, n_networks=1, eta=eta, interaction_noise=0.005, seed=2),
                          classifier="null_ql")
    from sgpoison.fss.predictions import ScenarioPredictions

    result = analyze_scenario(ScenarioPredictions({"cnn": cnn, "null_ql": null}),
                              AnalysisSettings(n_bootstrap=100, collapse=False, paper_chain=False))
    diff = result.comparisons["null_ql"].differences["Tc_crossing"]["samples"]
    own = result.cnn.bootstrap.scalars["Tc_crossing"]
    assert np.nanstd(diff) < 0.3 * np.nanstd(own)


def test_comparison_interval_has_the_degrees_of_freedom_of_the_networks():
    """A difference driven mostly by K = 4 network offsets (CNN and null share the instance noise):
    its effective degrees of freedom are close to K - 1 = 3, far below those of the 100 instances,
    and the 95% interval is d +- t_dof * error; with one network the dof are N - 1 = 99."""
    from scipy import stats

    from sgpoison.fss.predictions import ScenarioPredictions

    rng = np.random.default_rng(2)
    eta = [correlated_noise(rng, 100, T, 0.1, 0.1) for _ in SIZES]
    settings = AnalysisSettings(n_bootstrap=200, collapse=False, paper_chain=False)
    null = prediction_set(ensemble_curves(n=100, n_networks=1, eta=eta, interaction_noise=0.0, seed=1),
                          classifier="null_ql")
    for K in (4, 1):
        cnn = prediction_set(ensemble_curves(n=100, n_networks=K, eta=eta, interaction_noise=0.0,
                                             network_offset=0.01 if K > 1 else 0.0, seed=3))
        d = analyze_scenario(ScenarioPredictions({"cnn": cnn, "null_ql": null}), settings) \
            .comparisons["null_ql"].differences["Tc_crossing"]
        if K > 1:
            assert 3 <= d["effective_dof"] < 10, d["effective_dof"]
        else:
            assert d["effective_dof"] == 99
        half = stats.t.ppf(0.975, d["effective_dof"]) * d["error"]
        assert (d["ci_low"], d["ci_high"]) == pytest.approx((d["value"] - half, d["value"] + half))


# --------------------------------------------------------------------------- coverage


@pytest.mark.slow
def test_two_level_bootstrap_intervals_cover_tc_at_the_nominal_rate():
    """Coverage of the 68% intervals of Tc_crossing on synthetic ensembles with the error structure
    of the study: per-instance noise correlated across T (sd 0.1, correlation length 0.1) shared by
    the networks, a per-L, per-network offset of the whole curve (sd 0.02), per-network instance
    noise (sd 0.02); K = 5 networks, 100 instances. The offsets and the instance noise contribute
    about equally to the variance of Tc_crossing. 400 repeats: the binomial standard error of the
    covered fraction is 0.023. With the network level the intervals cover at 0.68 +- 0.05; without
    it they miss the network variance (about half the total, expected coverage about 0.5)."""
    repeats, nominal = 400, 0.68
    covered = {True: 0, False: 0}
    for r in range(repeats):
        data = prediction_set(ensemble_curves(n=100, n_networks=5, instance_noise=0.1, correlation_length=0.1,
                                              network_offset=0.02, interaction_noise=0.02, seed=r))
        for level in (True, False):
            settings = AnalysisSettings(n_bootstrap=100, seed=r, network_level=level, paper_chain=False,
                                        collapse=False)
            lo, hi = percentile_interval(analyze(data, settings).bootstrap.scalars["Tc_crossing"], nominal)
            covered[level] += lo <= TC <= hi
    with_networks, without = covered[True] / repeats, covered[False] / repeats
    assert abs(with_networks - nominal) <= 0.05, (with_networks, without)
    assert without <= nominal - 0.10, (with_networks, without)
