"""Loss and accuracies over held-out instances (sgpoison.ml.evaluation); no TensorFlow."""

import math

import numpy as np
import pytest

from sgpoison.errors import SettingsError
from sgpoison.ml.evaluation import (
    classified_high,
    evaluation_positions,
    instance_accuracy,
    weighted_cross_entropy,
)
from sgpoison.ml.labels import class_weights


def test_weighted_cross_entropy_by_hand():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [1.0, 0.0]])
    y = np.array([0, 1, 1, 1])
    w = {0: 2.0, 1: 0.5}
    eps = 1e-7
    expected = (2.0 * -math.log(0.9) + 0.5 * -math.log(0.8) + 0.5 * -math.log(0.4) + 0.5 * -math.log(eps)) / 4
    assert weighted_cross_entropy(p, y, w) == pytest.approx(expected, rel=1e-12)
    assert weighted_cross_entropy(p, y) == pytest.approx(
        (-math.log(0.9) - math.log(0.8) - math.log(0.4) - math.log(eps)) / 4, rel=1e-12)
    assert math.isnan(weighted_cross_entropy(np.zeros((0, 2)), np.zeros(0, int)))


def test_balanced_class_weights():
    weights = class_weights({0: 700, 1: 1300})
    assert weights == {0: 2000 / 1400, 1: 2000 / 2600}
    assert 700 * weights[0] == pytest.approx(1300 * weights[1])  # each class weighs n / 2
    assert class_weights({0: 700, 1: 1300}, balance=False) == {0: 1.0, 1: 1.0}
    with pytest.raises(SettingsError):
        class_weights({0: 0, 1: 5})


def test_instance_accuracy_and_its_error_over_instances():
    """Instances right on known fractions of their snapshots: the mean, the standard error of
    the per-instance values, the balanced accuracy and the majority baseline by hand."""
    labels = np.array([0, 0, 0, 1])  # 3 of 4 temperatures below t_label: baseline 0.75
    n_con = 10
    truth = labels[None, :, None].astype(bool)
    right_fraction = [1.0, 0.9, 0.5]
    high = np.zeros((3, 4, n_con), bool)
    for i, fraction in enumerate(right_fraction):
        wrong = np.arange(n_con) >= round(fraction * n_con)
        high[i] = truth[0] ^ wrong[None, :]
    result = instance_accuracy(high, labels)
    assert result["n_instances"] == 3
    assert result["accuracy"] == pytest.approx(np.mean(right_fraction))
    assert result["accuracy_se"] == pytest.approx(np.std(right_fraction, ddof=1) / math.sqrt(3))
    assert result["balanced_accuracy"] == pytest.approx(np.mean(right_fraction))  # same fraction per class
    assert result["majority_baseline"] == 0.75
    assert result["above_baseline"] == pytest.approx((result["accuracy"] - 0.75) / result["accuracy_se"])
    # always answering the majority class scores the baseline exactly, balanced 1/2
    majority = instance_accuracy(np.zeros((5, 4, n_con), bool), labels)
    assert majority["accuracy"] == 0.75 and majority["accuracy_se"] == 0.0
    assert majority["balanced_accuracy"] == 0.5
    single = instance_accuracy(high[:1], labels)
    assert single["accuracy"] == 1.0 and math.isnan(single["accuracy_se"])


def test_ties_count_as_label_zero():
    np.testing.assert_array_equal(classified_high(np.array([0.49, 0.5, 0.51])), [False, False, True])


def test_evaluation_uses_every_validation_instance_and_as_many_training_ones():
    train = np.array([0, 2, 3, 5, 6, 7, 9])
    validation = np.array([1, 4, 8])
    parts = evaluation_positions(train, validation, seed=1)
    np.testing.assert_array_equal(parts["validation"], validation)
    assert len(parts["training"]) == 3 and set(parts["training"]) <= set(train)
    assert np.all(np.diff(parts["training"]) > 0)
    # a bootstrap resample repeats instances: still distinct ones
    parts = evaluation_positions(np.array([0, 0, 2, 2, 2]), np.array([1, 3, 4, 5]), seed=1)
    np.testing.assert_array_equal(parts["training"], [0, 2])
