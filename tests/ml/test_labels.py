"""Labels, label noise and the split by disorder instance (sgpoison.ml.labels); no TensorFlow."""

import math

import numpy as np
import pytest
from scipy import stats

from sgpoison.errors import SettingsError
from sgpoison.ml.labels import label_flips, phase_labels, split_instances, validation_count
from sgpoison.ml.settings import TrainingConfig


def test_phase_labels_and_empty_class():
    np.testing.assert_array_equal(phase_labels([0.8, 0.95, 0.96, 1.2], 0.95), [0, 0, 1, 1])
    for t_label in (0.5, 1.1, 2.0):
        with pytest.raises(SettingsError, match="one class would be empty") as info:
            phase_labels(np.linspace(0.8, 1.1, 6), t_label)
        assert info.value.option == "--t-label"


@pytest.mark.parametrize("rho", [-0.1, 0.5, 0.7, math.nan, math.inf])
def test_label_noise_out_of_range(rho):
    with pytest.raises(SettingsError, match="label-noise") as info:
        label_flips((10,), rho, 0)
    assert info.value.option == "--label-noise"
    with pytest.raises(SettingsError):
        TrainingConfig(label_noise=rho)


def test_zero_label_noise_flips_none():
    assert not label_flips((50, 20, 100), 0.0, 123).any()


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.3, 0.49])
def test_realised_flips_within_four_sigma(rho):
    n = 20_000
    for seed in range(5):
        k = label_flips((n,), rho, seed).sum()
        assert abs(k - n * rho) < 4 * math.sqrt(n * rho * (1 - rho)), (rho, seed, k)


def test_realised_flips_follow_binomial_chi_square():
    """Counts over 400 seeds against Binomial(200, 0.1), tail bins merged to expected >= 5."""
    n, rho, seeds = 200, 0.1, 400
    counts = np.array([label_flips((10, 20), rho, s).sum() for s in range(seeds)])
    edges = [0, 14, 16, 18, 20, 22, 24, 26, n + 1]  # bins [a, b)
    observed = np.histogram(counts, bins=edges)[0]
    cdf = stats.binom.cdf(np.array(edges) - 1, n, rho)
    expected = seeds * np.diff(cdf)
    assert expected.min() >= 5
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # independence of examples: flips are spread evenly over positions
    mask = np.stack([label_flips((10, 20), rho, s) for s in range(seeds)])
    per_position = mask.sum(axis=0).ravel()
    assert stats.chisquare(per_position).pvalue > 1e-3


def test_split_needs_a_training_instance():
    with pytest.raises(SettingsError, match="no training instance"):
        split_instances(1, 0.2, 0)
    train_pos, val_pos = split_instances(10, 0.0, 0)
    assert len(val_pos) == 0 and len(train_pos) == 10




def test_validation_count_holds_out_at_least_one_instance():
    assert validation_count(10, 0.0) == 0
    assert validation_count(10, 0.2) == 2
    assert validation_count(3, 0.01) == 1
    assert validation_count(8, 0.99) == 8
