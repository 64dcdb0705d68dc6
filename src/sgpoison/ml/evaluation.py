"""How well a classifier separates the phases: the loss and accuracies on held-out instances.

Shared by the CNN (:mod:`sgpoison.ml.train`) and the null models (:mod:`sgpoison.ml.null`); no
TensorFlow. The snapshots of one disorder instance are correlated (same couplings, one Markov
chain), so standard errors are computed over instances: the accuracy of instance i is the
fraction of its N_T x N_con snapshots classified right, and the reported error is the standard
error of the mean of these n per-instance values, ``std(ddof=1) / sqrt(n)``.
"""

from __future__ import annotations

import math

import numpy as np

#: probabilities are clipped to [EPSILON, 1 - EPSILON] before the logarithm, as Keras does
EPSILON = 1e-7


def weighted_cross_entropy(probabilities: np.ndarray, labels: np.ndarray,
                           class_weight: dict[int, float] | None = None) -> float:
    """Class-weighted cross-entropy, the training loss of :func:`sgpoison.ml.network.build_model`.

    ``(1/n) sum_i w_{y_i} (-log p_i(y_i))`` with ``p`` clipped to ``[EPSILON, 1 - EPSILON]``:
    Keras' ``sparse_categorical_crossentropy`` with sample weights ``w_{y_i}`` and the reduction
    ``sum_over_batch_size`` (a weighted sum divided by the number of examples, not by the sum
    of the weights).

    Parameters
    ----------
    probabilities : float array, shape (n, 2)
        Softmax outputs (P(label 0), P(label 1)).
    labels : int array, shape (n,)
    class_weight : dict {0: w0, 1: w1}, optional
        Default: both 1.

    Returns
    -------
    float
        NaN for n = 0.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return math.nan
    weights = np.ones(2) if class_weight is None else np.array([class_weight[0], class_weight[1]], float)
    p = np.clip(np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    return float(np.mean(weights[labels] * -np.log(p)))


def classified_high(probability_high: np.ndarray) -> np.ndarray:
    """Hard classification: label 1 iff P(label 1) > 1/2 (a tie counts as label 0, as
    ``numpy.argmax`` of (P(0), P(1)) does)."""
    return np.asarray(probability_high) > 0.5


def instance_accuracy(high: np.ndarray, temperature_labels: np.ndarray) -> dict:
    """Accuracy against the clean labels, per disorder instance, with errors over instances.

    Parameters
    ----------
    high : bool array, shape (n_instances, N_T, N_con)
        Whether each snapshot was classified as label 1 (:func:`classified_high`).
    temperature_labels : int array, shape (N_T,)
        Clean label of each temperature, T > t_label.

    Returns
    -------
    dict
        ``n_instances``; ``accuracy`` and ``accuracy_se`` (mean over instances of the
        per-instance fraction right, and its standard error); ``balanced_accuracy`` and
        ``balanced_accuracy_se`` (the same for the mean of the two classes' fractions right,
        per instance); ``majority_baseline`` (fraction of the majority class: the accuracy of
        always answering it; exact, every instance has the same temperatures);
        ``above_baseline`` (``(accuracy - majority_baseline) / accuracy_se``, NaN if the
        error is 0 or undefined). Errors are NaN for fewer than two instances; everything
        is NaN for none.
    """
    high = np.asarray(high, dtype=bool)
    labels = np.asarray(temperature_labels, dtype=bool)
    n = high.shape[0]
    baseline = float(max(labels.mean(), 1 - labels.mean())) if labels.size else math.nan
    if n == 0:
        return {"n_instances": 0, "accuracy": math.nan, "accuracy_se": math.nan,
                "balanced_accuracy": math.nan, "balanced_accuracy_se": math.nan,
                "majority_baseline": baseline, "above_baseline": math.nan}
    right = high == labels[None, :, None]
    accuracy = right.mean(axis=(1, 2))
    per_class = [right[:, labels == c].mean(axis=(1, 2)) for c in (False, True) if np.any(labels == c)]
    balanced = np.mean(per_class, axis=0)

    def mean_se(values):
        se = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        return float(np.mean(values)), se

    acc, acc_se = mean_se(accuracy)
    bal, bal_se = mean_se(balanced)
    above = (acc - baseline) / acc_se if acc_se and math.isfinite(acc_se) else math.nan
    return {"n_instances": int(n), "accuracy": acc, "accuracy_se": acc_se, "balanced_accuracy": bal,
            "balanced_accuracy_se": bal_se, "majority_baseline": baseline, "above_baseline": above}


def evaluation_positions(train_positions: np.ndarray, validation_positions: np.ndarray,
                         seed: int) -> dict[str, np.ndarray]:
    """Instances of a classifier's final evaluation: every validation instance, and as many
    distinct training instances (all if fewer; at least one), drawn with
    ``numpy.random.default_rng(seed)``; both sorted (positions along the file's instances)."""
    train_unique = np.unique(np.asarray(train_positions, dtype=np.int64))
    n = min(len(train_unique), max(len(validation_positions), 1))
    chosen = np.sort(np.random.default_rng(seed).choice(train_unique, size=n, replace=False))
    return {"validation": np.asarray(validation_positions, dtype=np.int64), "training": chosen}
