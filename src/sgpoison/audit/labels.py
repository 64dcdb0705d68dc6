"""Label audit: do the labels the training will use agree with the temperatures and the data?

:func:`audit_labels` compares the label vector (from
:func:`sgpoison.ml.labels.prepare_training_set`, label noise included) with the
temperature metadata, label = 1 iff T > t_label (:func:`label_agreement`), and with the
configurations themselves (:func:`sgpoison.audit.noise.estimate_label_noise` on the
predictions of :func:`sgpoison.audit.crossval.out_of_fold_probabilities`).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from sgpoison.audit.crossval import out_of_fold_null_probabilities, out_of_fold_probabilities
from sgpoison.audit.noise import NOISE_UNDECIDED, estimate_label_noise
from sgpoison.audit.settings import MIN_INSTANCES, AuditConfig

#: the network of the cross-validation, as recorded in reports (not imported here: it loads Keras)
CROSS_VALIDATION_NETWORK = "sgpoison.ml.network.build_model"
#: the classifier of a null-model cross-validation, as recorded in reports
CROSS_VALIDATION_NULL = "sgpoison.ml.null.fit_null_model"



def label_agreement(labels: np.ndarray, temperatures: np.ndarray, t_label: float) -> dict:
    """Compare labels with the temperature metadata, label = 1 iff T > t_label.

    Parameters
    ----------
    labels : int array, shape (n_instances, N_T, N_con)
        The labels the training will use (after label noise).
    temperatures : float array, shape (N_T,)
    t_label : float

    Returns
    -------
    dict
        ``n_labels``, ``disagreements``, ``rate`` (= disagreements / n_labels),
        ``per_temperature`` (``T``, ``expected``, ``n``, ``disagreements``) and ``pass``.

    Raises
    ------
    ValueError
        If the shape of ``labels`` does not match the temperatures.
    """
    labels = np.asarray(labels)
    T = np.asarray(temperatures, dtype=float)
    if labels.ndim != 3 or labels.shape[1] != len(T):
        raise ValueError(f"labels of shape {labels.shape} do not match {len(T)} temperatures; "
                         "expected (n_instances, N_T, N_con)")
    expected = (T > t_label).astype(np.int64)
    wrong = labels.astype(np.int64) != expected[None, :, None]
    per_T = [{"T": float(t), "expected": int(e), "n": int(wrong[:, k].size),
              "disagreements": int(wrong[:, k].sum())} for k, (t, e) in enumerate(zip(T, expected))]
    total = int(wrong.sum())
    return {"n_labels": int(wrong.size), "disagreements": total,
            "rate": total / wrong.size if wrong.size else math.nan,
            "per_temperature": per_T, "pass": total == 0}


def audit_labels(path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray,
                 temperatures: np.ndarray, config: AuditConfig = AuditConfig()) -> dict:
    """Audit a label vector: agreement with the metadata and the data-driven noise estimate.

    Parameters
    ----------
    path : path-like
        Simulation file the labels belong to.
    positions : int array, shape (n,)
        Positions of the labelled instances along the file's ``instance`` dimension.
    labels : int array, shape (n, N_T, N_con)
        The labels to audit, e.g. the noisy training labels of
        :func:`sgpoison.ml.labels.prepare_training_set`.
    temperatures : float array, shape (N_T,)
    config : AuditConfig

    Returns
    -------
    dict
        ``verdict`` (``"pass"``/``"fail"``), ``failing_checks``, ``checks``,
        ``metadata_agreement`` (:func:`label_agreement`) and ``noise_estimate``
        (:func:`estimate_label_noise` plus the cross-validation settings, or
        ``{"skipped": reason}``).
    """
    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels)
    failing: list[str] = []
    agreement = label_agreement(labels, temperatures, config.t_label)
    if not agreement["pass"]:
        bad = [f"{e['T']:.3f}" for e in agreement["per_temperature"] if e["disagreements"]]
        failing.append(
            f"labels.metadata_agreement: {agreement['disagreements']} of {agreement['n_labels']} labels "
            f"({100 * agreement['rate']:.2f} %) disagree with label = 1 iff T > {config.t_label:g} "
            f"(at {len(bad)} of {len(temperatures)} temperatures)")
    checks = {"metadata_agreement": agreement["pass"]}

    use = np.arange(len(positions))
    if config.max_instances is not None and len(use) > config.max_instances:
        use = np.sort(np.random.default_rng(config.seed).choice(len(use), config.max_instances, replace=False))
    if not config.estimate_noise:
        noise: dict[str, Any] = {"skipped": "disabled (--no-noise-estimate)"}
    elif len(use) < max(config.n_folds, MIN_INSTANCES):
        capped = f" (--max-instances {config.max_instances})" if len(use) < len(positions) else ""
        noise = {"skipped": f"{len(use)} labelled instance(s){capped}; the cross-validation needs "
                            f">= {max(config.n_folds, MIN_INSTANCES)}",
                 "conclusion": NOISE_UNDECIDED}
    else:
        if config.noise_classifier == "cnn":
            p1, folds = out_of_fold_probabilities(
                path, positions[use], labels[use], n_folds=config.n_folds, seed=config.seed,
                epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                padding=config.padding, threads=config.threads)
            classifier = {"epochs": config.epochs, "batch_size": config.batch_size,
                          "learning_rate": config.learning_rate, "padding": config.padding,
                          "network": CROSS_VALIDATION_NETWORK}
        else:
            observables = config.noise_classifier.removeprefix("null_")
            p1, folds = out_of_fold_null_probabilities(path, positions[use], labels[use], observables,
                                                       n_folds=config.n_folds, seed=config.seed)
            classifier = {"observables": observables, "network": CROSS_VALIDATION_NULL}
        noise = estimate_label_noise(
            p1, labels[use], temperatures, config.t_label, folds=folds, band=config.band,
            target_rate=config.target_rate, tolerance=config.tolerance,
            n_bootstrap=config.noise_bootstrap, confidence=config.confidence, seed=config.seed)
        noise["cross_validation"] = {"classifier": config.noise_classifier, "n_folds": config.n_folds,
                                     "n_instances": int(len(use)), **classifier}
        p_T = p1.mean(axis=(0, 2))
        noise["mean_probability_per_temperature"] = [
            {"T": float(t), "p": float(v)} for t, v in zip(temperatures, p_T)]
        checks["noise_estimate"] = noise["pass"]
        if not noise["pass"]:
            lo, hi = noise["interval"]
            failing.append(
                f"labels.noise_estimate: the configurations contradict {100 * noise['rate']:.2f} % of the "
                f"labels (interval [{100 * lo:.2f}, {100 * hi:.2f}] %, tolerance "
                f"{100 * config.tolerance:.2f} %)")
    return {"verdict": "pass" if not failing else "fail", "failing_checks": failing,
            "checks": checks, "metadata_agreement": agreement, "noise_estimate": noise}
