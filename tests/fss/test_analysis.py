"""Tests of sgpoison.fss (the finite-size scaling of p(T, L)) and ``sgpoison analyze`` on synthetic data with known answers.

Synthetic predictions follow exact finite-size scaling,
``p_i(T, L) = F(L^(1/nu) (T - Tc)) + noise_i(T)`` with ``F(x) = (1 + tanh(a x)) / 2``,
so the disorder average is exactly F: every crossing is at Tc, the maxima of
d<p>/dT scale exactly as L^(1/nu), and the collapse is exact.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from builders import NU, PREDICTION_TEMPERATURES, SIZES, TC, run_cli, scaling_function, synthetic_predictions
from sgpoison.bootstrap import percentile_interval
from sgpoison.cli import main
from sgpoison.errors import DataFormatError
from sgpoison.fss.chain import derivative_maximum
from sgpoison.fss.collapse import fit_collapse, houdayer_hartmann_quality
from sgpoison.fss.estimates import estimates_dataset, estimates_dict
from sgpoison.fss.predictions import open_predictions
from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.stats import oriented_root, weighted_line
from sgpoison.fss.verdict import analyze

TEMPERATURES = PREDICTION_TEMPERATURES


# --------------------------------------------------------------------------- numerical building blocks


def test_oriented_root_finds_the_zero_in_the_requested_direction():
    t = np.linspace(0.0, 1.0, 101)
    assert oriented_root(t, t - 0.437) == pytest.approx(0.437, abs=1e-12)
    assert math.isnan(oriented_root(t, t - 0.437, increasing=False))
    assert oriented_root(t, 0.437 - t, increasing=False) == pytest.approx(0.437, abs=1e-12)
    assert math.isnan(oriented_root(t, np.zeros_like(t)))
    assert math.isnan(oriented_root(t, t + 1.0))


def test_weighted_line_matches_numpy_polyfit():
    rng = np.random.default_rng(0)
    x = np.array([1.0, 2.0, 3.5, 5.0])
    y = rng.normal(size=(4, 7))
    sigma = rng.uniform(0.1, 1.0, size=(4, 7))
    a, b, b_err = weighted_line(x, y, sigma)
    for k in range(7):
        (slope, intercept), cov = np.polyfit(x, y[:, k], 1, w=1 / sigma[:, k], cov="unscaled")
        assert b[k] == pytest.approx(slope)
        assert a[k] == pytest.approx(intercept)
        assert b_err[k] == pytest.approx(math.sqrt(cov[0, 0]))


def test_derivative_maximum_of_an_exact_cubic():
    T = np.linspace(0.8, 1.4, 25)
    p = 0.5 + 2.0 * (T - 1.1) - 20.0 * (T - 1.1) ** 3   # inflection at 1.1, slope 2 there
    value, location, interior = derivative_maximum(T, p, np.full(T.size, 0.01), (-10, 10))
    assert interior
    assert location == pytest.approx(1.1, abs=1e-9)
    assert value == pytest.approx(2.0, rel=1e-9)


def test_fit_collapse_recovers_exact_parameters():
    L = np.array(SIZES)
    c = np.array([0.5, 0.8, 0.0, -0.3])
    x = L[:, None] ** (1 / NU) * (TEMPERATURES[None, :] - TC)
    mean = np.polynomial.polynomial.polyval(x, c)
    fit = fit_collapse(L, TEMPERATURES, mean, np.full(mean.shape, 0.01), (0.2, 0.8))
    assert fit.success, fit.message
    assert fit.Tc == pytest.approx(TC, abs=1e-6)
    assert fit.nu == pytest.approx(NU, rel=1e-5)
    np.testing.assert_allclose(fit.coefficients, c, atol=1e-5)
    assert fit.chi2 < 1e-8


def test_houdayer_hartmann_quality():
    # points of three sizes on one straight master curve: S = 0
    x = np.concatenate([np.linspace(-1, 1, 9) + s for s in (0.0, 0.05, 0.1)])
    size = np.repeat([0, 1, 2], 9)
    assert houdayer_hartmann_quality(x, 2 * x + 1, np.full(x.size, 0.1), size) == pytest.approx(0.0, abs=1e-20)
    # Gaussian scatter of the stated size: S close to 1
    rng = np.random.default_rng(3)
    xs = np.concatenate([np.linspace(-1, 1, 200) + s for s in (0.0, 0.003, 0.006)])
    sizes = np.repeat([0, 1, 2], 200)
    y = 2 * xs + 0.05 * rng.standard_normal(xs.size)
    assert houdayer_hartmann_quality(xs, y, np.full(xs.size, 0.05), sizes) == pytest.approx(1.0, abs=0.15)


# --------------------------------------------------------------------------- known answers


def test_crossings_of_noise_free_scaling_data_are_at_tc():
    data = synthetic_predictions(noise=0.0, n=3)
    data.p = [p + 1e-4 * np.array([[-1.0], [0.0], [1.0]]) for p in data.p]   # stderr 1e-4
    result = analyze(data, AnalysisSettings(n_bootstrap=10, collapse=False))
    c = result.central
    np.testing.assert_allclose(c.pair_crossings, TC, atol=2e-3)
    np.testing.assert_allclose(c.p_half, TC, atol=2e-3)
    assert c.paper_Tc_linear == pytest.approx(TC, abs=2e-3)
    assert c.nu_ml == pytest.approx(NU, rel=0.02)
    assert c.Tc_crossing == pytest.approx(TC, abs=2e-3)


def test_both_methods_recover_tc_and_nu_within_errors():
    result = analyze(synthetic_predictions(), AnalysisSettings(n_bootstrap=100, seed=5))
    est = estimates_dict(result)
    assert est["transition_detected"], est["reason"]
    assert est["reason"] is None and est["failed_checks"] == []
    E = est["estimates"]
    for name, truth, max_error in (("Tc_linear", TC, 0.03), ("Tc_collapse", TC, 0.03),
                                   ("nu_ml", NU, 0.6), ("nu_collapse", NU, 0.6)):
        e = E[name]
        assert 0 < e["error"] < max_error, (name, e)
        assert abs(e["value"] - truth) <= 3 * e["error"], (name, e)
        assert e["ci_low"] <= e["value"] <= e["ci_high"], (name, e)
    assert E["collapse_reduced_chi2"]["value"] < 2.0
    assert 0.3 < E["collapse_quality_S"]["value"] < 3.0


def test_bootstrap_intervals_cover_the_truth_at_the_nominal_rate():
    """68% percentile intervals over 60 independent synthetic data sets (cheap path: no collapse).

    With 60 repeats the covered fraction has a binomial spread of 0.06 around
    0.68; the bounds are about 3 standard deviations.
    """
    repeats = 60
    settings = dict(n_bootstrap=40, collapse=False, n_fine=201)
    covered = {"paper_Tc_linear": 0, "nu_ml": 0, "p_half": 0}
    for r in range(repeats):
        data = synthetic_predictions(seed=1000 + r, n=150)
        result = analyze(data, AnalysisSettings(seed=r, **settings))
        for name, truth in (("paper_Tc_linear", TC), ("nu_ml", NU)):
            lo, hi = percentile_interval(result.bootstrap.scalars[name], 0.68)
            covered[name] += lo <= truth <= hi
        lo, hi = percentile_interval(result.bootstrap.p_half[:, -1], 0.68)
        covered["p_half"] += lo <= TC <= hi
    for name, n in covered.items():
        assert 0.50 <= n / repeats <= 0.86, (name, n / repeats)


@pytest.mark.parametrize("kind", ["constant", "independent", "parallel"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_curves_that_do_not_cross_give_no_transition(kind, seed):
    """No transition, because the size ordering is not reversed; every estimate that exists is
    still reported with its interval (format 2: nothing is withheld)."""
    result = analyze(synthetic_predictions(kind, seed=seed), AnalysisSettings(n_bootstrap=40, seed=seed))
    est = estimates_dict(result)
    assert est["transition_detected"] is False
    assert "crossing_significant" in est["failed_checks"]
    assert "size ordering not significantly reversed" in est["reason"]
    ds = estimates_dataset(result, est)
    assert int(ds.attrs["transition_detected"]) == 0
    for name, e in est["estimates"].items():
        value = result.scalars[name]
        assert (e["value"] is not None) == math.isfinite(value), name
        stored = float(ds[name].sel(classifier="cnn"))
        assert math.isnan(stored) if e["value"] is None else stored == pytest.approx(value), name


def test_a_poor_collapse_is_rejected():
    """Scaling data whose sizes disagree beyond their errors (wrong amplitude per L)."""
    data = synthetic_predictions(n=2000, noise=0.05)
    rng = np.random.default_rng(0)
    for i, L in enumerate(SIZES):   # size-dependent distortion, many standard errors large
        x = L ** (1 / NU) * (TEMPERATURES - TC)
        distorted = 0.5 + (0.5 + 0.04 * i) * np.tanh((2.0 + 0.5 * i) * x)
        data.p[i] = distorted[None, :] + 0.05 * rng.standard_normal((2000, TEMPERATURES.size))
    result = analyze(data, AnalysisSettings(n_bootstrap=20))
    assert not result.checks["collapse_acceptable"]["passed"]
    assert result.central.collapse.reduced_chi2 > 3.0
    assert not result.transition_detected
    assert "reduced chi^2" in result.reason


# --------------------------------------------------------------------------- files and CLI


def write_predictions(path, L, T, p, scenario="clean", label_noise=0.0, **attrs):
    ds = xr.Dataset(
        {"p": (("instance", "temperature"), p),
         "fraction_high": (("instance", "temperature"), (p > 0.5).astype(np.float64))},
        coords={"instance": np.arange(p.shape[0]), "temperature": T},
        attrs={"format": "sgpoison-prediction", "format_version": 1, "L": L, "scenario": scenario,
               "label_noise": label_noise, "training_sweep_fraction": 1.0, "model_sha256": f"sha-{L}",
               "data_file": f"bimodal_L{L}.nc", "sgpoison_version": "test", "git_commit": "abc123",
               "created": "1970-01-01T00:00:00+00:00", "parameters": "{}", **attrs})
    ds.to_netcdf(path, engine="netcdf4")
    return str(path)


def write_scenario(tmp_path, kind="scaling", sizes=SIZES, n=120, scenario="clean", seed=1):
    data = synthetic_predictions(kind, sizes=sizes, n=n, seed=seed, clip=True)
    return [write_predictions(tmp_path / f"p_{scenario}_L{L}.nc", int(L), data.temperature, p, scenario=scenario)
            for L, p in zip(data.L, data.p)]


def test_open_predictions_sorts_and_reads(tmp_path):
    paths = write_scenario(tmp_path)
    data = open_predictions(paths[::-1])
    assert list(data.L) == list(SIZES)
    assert data.scenario_attrs() == {"scenario": "clean", "label_noise": 0.0, "training_sweep_fraction": 1.0}
    assert list(data.n_instances) == [120] * 4


def test_open_predictions_rejects_bad_inputs(tmp_path):
    paths = write_scenario(tmp_path)
    with pytest.raises(DataFormatError, match="at least 3"):
        open_predictions(paths[:2])
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        open_predictions(paths + [str(tmp_path / "missing.nc")])
    T = TEMPERATURES.copy()
    T[3] += 0.001
    other = write_predictions(tmp_path / "p_L20.nc", 20, T, np.full((5, T.size), 0.5))
    with pytest.raises(DataFormatError, match="temperature grid"):
        open_predictions(paths + [other])
    p = np.full((5, TEMPERATURES.size), 0.5)
    p[2, 4] = np.nan
    nan_file = write_predictions(tmp_path / "p_nan.nc", 20, TEMPERATURES, p)
    with pytest.raises(DataFormatError, match="NaN"):
        open_predictions(paths + [nan_file])
    dup = write_predictions(tmp_path / "p_dup.nc", 8, TEMPERATURES, np.full((5, TEMPERATURES.size), 0.5))
    with pytest.raises(DataFormatError, match="L=8"):
        open_predictions(paths + [dup])
    mixed = write_predictions(tmp_path / "p_mix.nc", 20, TEMPERATURES, np.full((5, TEMPERATURES.size), 0.5),
                              scenario="label_noise_1pct")
    with pytest.raises(DataFormatError, match="scenario"):
        open_predictions(paths + [mixed])


def test_cli_analyze_end_to_end(tmp_path, capsys):
    paths = write_scenario(tmp_path)
    out = tmp_path / "clean"
    assert main(["analyze", "--predictions", *paths, "--out", str(out), "--n-bootstrap", "30", "--seed", "1"]) == 0
    for name in ("estimates.json", "estimates.nc", "fig1.png", "fig1.pdf"):
        assert (out / name).stat().st_size > 0, name
    est = json.loads((out / "estimates.json").read_text())
    for key in ("format", "kind", "scenario", "label_noise", "training_sweep_fraction", "model_sha256", "L",
                "n_instances", "temperatures", "transition_detected", "reason", "failed_checks", "checks",
                "estimates", "crossings", "derivative_maximum", "collapse", "settings", "inputs", "provenance"):
        assert key in est, key
    assert est["L"] == list(SIZES)
    assert est["n_instances"] == {str(L): 120 for L in SIZES}
    assert est["transition_detected"] is True, est["reason"]
    assert est["settings"]["n_bootstrap"] == 30 and est["settings"]["seed"] == 1
    assert est["inputs"][0]["attrs"]["git_commit"] == "abc123"
    assert abs(est["estimates"]["Tc_linear"]["value"] - TC) < 0.05
    with xr.open_dataset(out / "estimates.nc") as ds:
        assert ds["p_mean"].dims == ("classifier", "L", "temperature")
        assert ds["p_mean"].shape == (1, 4, TEMPERATURES.size)
        assert float(ds["Tc_linear"].sel(classifier="cnn")) == pytest.approx(est["estimates"]["Tc_linear"]["value"])
        assert ds.attrs["scenario"] == "clean"
        assert json.loads(ds.attrs["estimates_json"])["L"] == list(SIZES)
    assert "transition detected" in capsys.readouterr().out
    # same seed, same answer
    out2 = tmp_path / "again"
    main(["analyze", "--predictions", *paths, "--out", str(out2), "--n-bootstrap", "30", "--seed", "1"])
    est2 = json.loads((out2 / "estimates.json").read_text())
    assert est2["estimates"] == est["estimates"]


def test_cli_analyze_reports_no_signal(tmp_path):
    paths = write_scenario(tmp_path, kind="independent", scenario="poisoned")
    out = tmp_path / "poisoned"
    assert main(["analyze", "--predictions", *paths, "--out", str(out), "--n-bootstrap", "20"]) == 0
    est = json.loads((out / "estimates.json").read_text())
    assert est["transition_detected"] is False and est["reason"]
    assert est["estimates"]["Tc_linear"]["value"] is None
    assert (out / "fig1.png").exists()


@pytest.mark.parametrize("problem, code", [("two_sizes", 1), ("missing", 2), ("nan", 1), ("grid", 1),
                                           ("bootstrap", 2)])
def test_cli_analyze_errors_exit_codes(tmp_path, capsys, problem, code):
    """Bad arguments (a missing file, too few resamples) exit 2, bad input files 1; nothing is written."""
    paths = write_scenario(tmp_path, n=10)
    args = ["analyze", "--out", str(tmp_path / "out")]
    if problem == "two_sizes":
        args += ["--predictions", *paths[:2]]
        expect = "at least 3"
    elif problem == "missing":
        args += ["--predictions", *paths, str(tmp_path / "nope.nc")]
        expect = "nope.nc"
    elif problem == "nan":
        p = np.full((4, TEMPERATURES.size), 0.5)
        p[0, 0] = np.nan
        args += ["--predictions", *paths, write_predictions(tmp_path / "bad.nc", 20, TEMPERATURES, p)]
        expect = "bad.nc"
    elif problem == "grid":
        T = TEMPERATURES + 0.01
        args += ["--predictions", *paths, write_predictions(tmp_path / "grid.nc", 20, T, np.full((4, T.size), .5))]
        expect = "temperature grid"
    else:
        args += ["--predictions", *paths, "--n-bootstrap", "3"]
        expect = "--n-bootstrap"
    status, err = run_cli(args, capsys)
    assert status == code
    assert "sgpoison analyze: error: " in err and expect in err
    assert not (tmp_path / "out" / "estimates.json").exists()


def test_significance_check_separates_size_dependence_from_noise():
    """Noisy size-independent curves often cross somewhere; that crossing must not count."""
    clean = analyze(synthetic_predictions(), AnalysisSettings(n_bootstrap=10, collapse=False))
    assert clean.checks["crossing_significant"]["passed"]
    tested = 0
    for seed in range(1, 11):
        r = analyze(synthetic_predictions("independent", seed=seed), AnalysisSettings(n_bootstrap=10, collapse=False))
        check = r.checks["crossing_significant"]
        if check["tested"]:
            tested += 1
            assert not check["passed"], (seed, check)
    assert tested >= 2


def test_derivative_maximum_of_a_curve_steeper_than_the_grid():
    """Only 2 temperatures inside 0.1 <= p <= 0.9: the 5 points around p = 1/2 are used."""
    T = np.linspace(0.8, 1.4, 25)
    p = scaling_function(20.0 * (T - 1.1))   # slope 20 at T = 1.1
    assert np.count_nonzero((p >= 0.1) & (p <= 0.9)) < 5
    value, location, interior = derivative_maximum(T, p, np.full(T.size, 0.01), (0.1, 0.9))
    assert interior and abs(location - 1.1) < 0.025
    assert 5.0 < value < 20.0   # the true maximum (20) smoothed over the 5 points
