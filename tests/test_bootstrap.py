"""The bootstrap over disorder instances and its intervals (sgpoison.bootstrap)."""

import math

import numpy as np
import pytest

from sgpoison.bootstrap import bootstrap_indices, bootstrap_mean, bootstrap_stderr, percentile_interval


def test_bootstrap_error_matches_standard_error():
    x = np.random.default_rng(0).normal(size=(400, 3))
    mean, error = bootstrap_mean(x, bootstrap_indices([400], 2000, seed=1)[0])
    np.testing.assert_allclose(mean, x.mean(axis=0))
    np.testing.assert_allclose(error, x.std(axis=0, ddof=1) / 20, rtol=0.1)


def test_indices_draw_each_size_in_turn_from_one_stream():
    """Sample b draws the instances of size 0, then of size 1, ... (the analyses' order)."""
    sizes = (5, 3, 7)
    groups = bootstrap_indices(sizes, 4, seed=9)
    assert [g.shape for g in groups] == [(4, 5), (4, 3), (4, 7)]
    rng = np.random.default_rng(9)
    for b in range(4):
        for g, n in zip(groups, sizes):
            np.testing.assert_array_equal(g[b], rng.integers(0, n, n))
            assert g[b].min() >= 0 and g[b].max() < n
    np.testing.assert_array_equal(bootstrap_indices(sizes, 4, seed=9)[1], groups[1])
    assert not np.array_equal(bootstrap_indices(sizes, 4, seed=10)[1], groups[1])


def test_percentile_interval_ignores_nan():
    s = np.concatenate([np.arange(101.0), [np.nan] * 50])
    lo, hi = percentile_interval(s, 0.68)
    assert (lo, hi) == pytest.approx((16.0, 84.0))


def test_percentile_interval_ignores_infinities_and_needs_two_samples():
    s = np.concatenate([np.arange(101.0), [np.inf, -np.inf]])
    assert percentile_interval(s, 0.68) == pytest.approx((16.0, 84.0))
    assert all(math.isnan(v) for v in percentile_interval(np.array([1.0, np.nan]), 0.68))


def test_stderr_over_finite_samples():
    samples = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, 2.0]])
    err = bootstrap_stderr(samples)
    assert err[0] == pytest.approx(math.sqrt(2.0))
    assert math.isnan(err[1])  # one finite sample
