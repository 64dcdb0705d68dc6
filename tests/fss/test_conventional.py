"""Tests of sgpoison.fss.conventional (Binder ratio, xi_L/L, crossings) and ``sgpoison conventional``."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
import xarray as xr

from sgpoison.fss.conventional import (
    analyze_conventional, binder_ratio, conventional_estimates_dict, correlation_length_ratio,
    overlap_structure_factors, read_conventional_inputs, read_moments,
)
from sgpoison.fss.settings import ConventionalSettings
from builders import MOMENT_TEMPERATURES, NU, TC, run_cli, synthetic_moments
from sgpoison.cli import main
from sgpoison.errors import DataFormatError
from sgpoison.io.formats import FORMAT_NAME, FORMAT_VERSION

TEMPERATURES = MOMENT_TEMPERATURES


# --------------------------------------------------------------------------- exact values


def test_ordered_overlap_binder_one_and_infinite_correlation_length():
    L, N = 4, 64
    overlap = np.ones((3, 5, L, L, L), dtype=np.int8)
    chi0, chik = overlap_structure_factors(overlap)
    np.testing.assert_allclose(chi0, N)
    np.testing.assert_allclose(chik, 0.0, atol=1e-20)
    q = overlap.mean(axis=(2, 3, 4))
    assert np.all(binder_ratio(np.mean(q ** 2, axis=-1), np.mean(q ** 4, axis=-1)) == 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # chi(k_min) = 0 is handled, not divided by
        xi = correlation_length_ratio(chi0, chik, L)
    assert np.all(np.isinf(xi)) and np.all(xi > 0)


def test_all_configurations_of_independent_sites_give_the_exact_moments():
    """Enumerate all 2^8 overlaps of an L = 2 lattice as equally likely snapshots.

    Independent random +-1 sites: <q^2> = 1/N, <q^4> = 3/N^2 - 2/N^3, hence
    g = 1/N; chi(0) = chi(k) = 1, hence xi_L = 0.
    """
    L, N = 2, 8
    configs = np.array(list(itertools.product([-1, 1], repeat=N)), dtype=np.int8).reshape(1, 2 ** N, L, L, L)
    chi0, chik = overlap_structure_factors(configs)
    assert chi0[0] == pytest.approx(1.0, abs=1e-12)
    assert chik[0] == pytest.approx(1.0, abs=1e-12)
    q = configs.mean(axis=(2, 3, 4), dtype=np.float64)
    q2, q4 = np.mean(q ** 2), np.mean(q ** 4)
    assert q2 == pytest.approx(1 / N, abs=1e-15)
    assert q4 == pytest.approx(3 / N ** 2 - 2 / N ** 3, abs=1e-15)
    assert binder_ratio(q2, q4) == pytest.approx(1 / N, abs=1e-12)
    assert correlation_length_ratio(chi0, chik, L)[0] == pytest.approx(0.0, abs=1e-6)


def test_random_sites_statistics_for_a_larger_lattice():
    """Many random snapshots of L = 6: N<q^2> -> 1, N<|q(k)|^2> -> 1, g -> 1/N (within 4 sigma)."""
    rng = np.random.default_rng(11)
    L, N, n = 6, 216, 4000
    overlap = rng.choice(np.array([-1, 1], dtype=np.int8), size=(1, n, L, L, L))
    chi0, chik = overlap_structure_factors(overlap)
    # N q^2 is approximately chi-square with 1 dof (variance 2); |q(k)|^2 with 2 dof/2 (variance 1)
    assert abs(chi0[0] - 1.0) < 4 * math.sqrt(2 / n)
    assert abs(chik[0] - 1.0) < 4 * math.sqrt(1 / (3 * n)) * 1.5
    q = overlap.mean(axis=(2, 3, 4), dtype=np.float64)[0]
    g = binder_ratio(np.mean(q ** 2), np.mean(q ** 4))
    assert abs(g - 1 / N) < 0.05


def test_structure_factor_matches_the_direct_sum():
    """chi(k) against q(k) = (1/N) sum_i q_i exp(i k.r_i) summed site by site."""
    rng = np.random.default_rng(5)
    L, N = 4, 64
    overlap = rng.choice(np.array([-1, 1], dtype=np.int8), size=(2, 3, L, L, L))
    overlap[0, 0] = np.where(np.arange(L)[:, None, None] < 2, 1, -1)  # a wave along x
    chi0, chik = overlap_structure_factors(overlap)
    r = np.stack(np.meshgrid(np.arange(L), np.arange(L), np.arange(L), indexing="ij"), axis=-1)
    k = 2 * np.pi / L
    for t in range(2):
        s0 = sk = 0.0
        for snap in overlap[t]:
            s0 += N * (snap.sum() / N) ** 2
            for d in range(3):
                qk = (snap * np.exp(1j * k * r[..., d])).sum() / N
                sk += N * abs(qk) ** 2 / 3
        assert chi0[t] == pytest.approx(s0 / 3, abs=1e-12)
        assert chik[t] == pytest.approx(sk / 3, abs=1e-12)
    # the wave: q = 0, |q(k_x)|^2 = 1/2, q(k_y) = q(k_z) = 0 -> chi(0) < chi(k): xi undefined (NaN)
    single = overlap[:1, :1].copy()
    single[0, 0] = np.where(np.arange(L)[:, None, None] < 2, 1, -1)
    c0, ck = overlap_structure_factors(single)
    assert c0[0] == 0.0 and ck[0] == pytest.approx(N * 0.5 / 3)
    assert math.isnan(correlation_length_ratio(c0, ck, L)[0])


def test_correlation_length_formula():
    L = 8
    chi0, chik = np.array([5.0]), np.array([1.0])
    expected = math.sqrt(4.0) / (2 * math.sin(math.pi / L)) / L
    assert correlation_length_ratio(chi0, chik, L)[0] == pytest.approx(expected)


# --------------------------------------------------------------------------- crossings on synthetic moments


def test_curves_reproduce_the_constructed_averages():
    sizes = synthetic_moments(noise=0.0)
    for m in sizes:
        c = m.curves()
        x = m.L ** (1 / NU) * (TEMPERATURES - TC)
        np.testing.assert_allclose(c["correlation_length"], 0.6 * np.exp(-1.5 * x), rtol=1e-12)
        np.testing.assert_allclose(c["binder"], 0.45 * (1 - np.tanh(2 * x)), atol=1e-12)


def test_crossings_recover_tc_within_errors():
    result = analyze_conventional(synthetic_moments(), ConventionalSettings(n_bootstrap=100, seed=3))
    est = conventional_estimates_dict(result)
    assert est["transition_detected"], est["reason"]
    for name in ("Tc_conventional", "Tc_binder"):
        e = est["estimates"][name]
        assert 0 < e["error"] < 0.05, (name, e)
        assert abs(e["value"] - TC) <= 3 * e["error"], (name, e)
    for name in ("correlation_length", "binder"):
        values = [c["value"] for c in est["crossings"][name]]
        np.testing.assert_allclose(values, TC, atol=0.05)


def test_noise_free_crossings_are_exact():
    sizes = synthetic_moments(noise=0.0, n=3)
    for m in sizes:  # a tiny spread so that the spline weights are finite and equal
        m.chi0 = m.chi0 * (1 + 1e-5 * np.array([[-1.0], [0.0], [1.0]]))
    result = analyze_conventional(sizes, ConventionalSettings(n_bootstrap=10))
    np.testing.assert_allclose(result.crossings["correlation_length"], TC, atol=2e-3)
    np.testing.assert_allclose(result.crossings["binder"], TC, atol=2e-3)


def test_size_independent_curves_give_no_transition():
    result = analyze_conventional(synthetic_moments(crossing=False), ConventionalSettings(n_bootstrap=50))
    est = conventional_estimates_dict(result)
    assert est["transition_detected"] is False
    assert est["reason"]
    assert est["estimates"]["Tc_conventional"]["value"] is None


# --------------------------------------------------------------------------- files and CLI


def write_simulation(path, L, T, n_instances=6, n_snapshots=8, seed=0, q_override=None, disorder="bimodal"):
    """A minimal simulation file with the variables the conventional analysis reads (q, overlap)."""
    rng = np.random.default_rng(seed)
    overlap = np.empty((n_instances, len(T), n_snapshots, L, L, L), dtype=np.int8)
    for t, temperature in enumerate(T):
        m = max(0.0, 1.0 - temperature / 1.2)
        agree = rng.random((n_instances, n_snapshots, L, L, L)) < (1 + m) / 2
        sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_instances, n_snapshots, 1, 1, 1))
        overlap[:, t] = np.where(agree, sign, -sign)
    q = overlap.mean(axis=(3, 4, 5), dtype=np.float64) if q_override is None else q_override
    ds = xr.Dataset(
        {"overlap": (("instance", "temperature", "snapshot", "x", "y", "z"), overlap),
         "q": (("instance", "temperature", "snapshot"), q)},
        coords={"instance": np.arange(n_instances), "temperature": np.asarray(T, float),
                "snapshot": np.arange(n_snapshots), "x": np.arange(L), "y": np.arange(L), "z": np.arange(L)},
        attrs={"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "L": L, "disorder": disorder,
               "n_sweeps": 64, "sweep_fraction": 1.0, "n_sweeps_run": 64, "seed": seed,
               "sgpoison_version": "test", "git_commit": "def456", "created": "1970-01-01T00:00:00+00:00",
               "parameters": "{}"})
    ds.to_netcdf(path, engine="netcdf4")
    return str(path)


def write_sizes(tmp_path, sizes=(3, 4, 5), T=np.linspace(0.8, 1.4, 7)):
    return [write_simulation(tmp_path / f"bimodal_L{L}.nc", L, T, seed=L) for L in sizes]


def test_read_moments_streams_overlaps_and_checks_q(tmp_path):
    path = write_simulation(tmp_path / "sim.nc", 3, np.linspace(0.8, 1.4, 6))
    m = read_moments(path)
    with xr.open_dataset(path) as ds:
        ov = ds["overlap"].values
        q = ds["q"].values
    assert m.q_overlap_max_deviation == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(m.q2, np.mean(q ** 2, axis=-1))
    np.testing.assert_allclose(m.q4, np.mean(q ** 4, axis=-1))
    for i in range(ov.shape[0]):
        c0, ck = overlap_structure_factors(ov[i])
        np.testing.assert_allclose(m.chi0[i], c0)
        np.testing.assert_allclose(m.chik[i], ck)


@pytest.mark.parametrize("command", ["conventional", "baseline"])  # 'baseline': the former name
def test_cli_conventional_end_to_end(tmp_path, capsys, command):
    paths = write_sizes(tmp_path)
    out = tmp_path / "conventional"
    assert main([command, "--data", *paths, "--out", str(out), "--n-bootstrap", "20", "--seed", "2"]) == 0
    for name in ("estimates.json", "estimates.nc", "conventional.png", "conventional.pdf"):
        assert (out / name).stat().st_size > 0, name
    est = json.loads((out / "estimates.json").read_text())
    for key in ("format", "kind", "disorder", "L", "n_instances", "temperatures", "transition_detected", "reason",
                "checks", "estimates", "crossings", "consistency", "settings", "inputs", "provenance"):
        assert key in est, key
    assert est["kind"] == "conventional" and est["disorder"] == "bimodal"
    assert est["L"] == [3, 4, 5] and est["n_instances"] == {"3": 6, "4": 6, "5": 6}
    assert set(est["estimates"]) == {"Tc_conventional", "Tc_binder"}
    assert est["inputs"][0]["attrs"]["git_commit"] == "def456"
    with xr.open_dataset(out / "estimates.nc") as ds:
        assert ds["binder"].dims == ("L", "temperature") and ds["binder"].shape == (3, 7)
        assert ds["xi_over_L"].shape == (3, 7)
        assert ds.attrs["kind"] == "conventional"
    capsys.readouterr()


@pytest.mark.parametrize("problem, code", [("two_sizes", 1), ("missing", 2), ("nan", 1), ("grid", 1),
                                           ("disorder", 1), ("bootstrap", 2)])
def test_cli_conventional_errors_exit_codes(tmp_path, capsys, problem, code):
    """Bad arguments (a missing file, too few resamples) exit 2, bad input files 1; nothing is written."""
    T = np.linspace(0.8, 1.4, 7)
    paths = write_sizes(tmp_path, T=T)
    args = ["conventional", "--out", str(tmp_path / "out")]
    if problem == "two_sizes":
        args += ["--data", *paths[:2]]
        expect = "at least 3"
    elif problem == "missing":
        args += ["--data", *paths, str(tmp_path / "nope.nc")]
        expect = "nope.nc"
    elif problem == "nan":
        q = np.zeros((6, 7, 8))
        q[1, 2, 3] = np.nan
        args += ["--data", *paths, write_simulation(tmp_path / "nan.nc", 6, T, q_override=q)]
        expect = "NaN"
    elif problem == "grid":
        args += ["--data", *paths, write_simulation(tmp_path / "grid.nc", 6, T + 0.01)]
        expect = "temperature grid"
    elif problem == "disorder":
        args += ["--data", *paths, write_simulation(tmp_path / "gauss.nc", 6, T, disorder="gaussian")]
        expect = "disorder"
    else:
        args += ["--data", *paths, "--n-bootstrap", "9"]
        expect = "--n-bootstrap"
    if problem != "bootstrap":
        args += ["--n-bootstrap", "10"]
    status, err = run_cli(args, capsys)
    assert status == code
    assert "sgpoison conventional: error: " in err and expect in err
    assert not (tmp_path / "out" / "estimates.json").exists()


def test_read_conventional_inputs_rejects_duplicate_sizes(tmp_path):
    paths = write_sizes(tmp_path)
    dup = write_simulation(tmp_path / "dup.nc", 4, np.linspace(0.8, 1.4, 7))
    with pytest.raises(DataFormatError, match="L=4"):
        read_conventional_inputs(paths + [dup])
