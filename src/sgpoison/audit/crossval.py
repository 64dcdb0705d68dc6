"""Cross-validated predictions: every probability out of sample.

The labelled instances are split into folds by disorder instance; for each fold a fresh
classifier is trained on the other folds and predicts the fold's snapshots. Confident
learning (:mod:`sgpoison.audit.noise`) needs such out-of-fold probabilities. The classifier
is the CNN (:func:`out_of_fold_probabilities`, :func:`sgpoison.ml.network.build_model`;
TensorFlow is imported when the networks are trained) or a null model
(:func:`out_of_fold_null_probabilities`, logistic regression on q^2 and/or the link overlap,
:mod:`sgpoison.ml.null`).
"""

from __future__ import annotations

import logging
import math
import os
import time

import numpy as np

from sgpoison.audit.settings import AuditConfig
from sgpoison.errors import SettingsError
from sgpoison.io.formats import overlap_layout

log = logging.getLogger(__name__)

#: the defaults of :func:`out_of_fold_probabilities`
_AUDIT = AuditConfig()


def instance_folds(n_instances: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each instance (int64, shape (n_instances,)), balanced and shuffled with ``seed``."""
    if n_instances < n_folds:
        raise SettingsError(f"--folds {n_folds}: only {n_instances} instances to split", "--folds")
    order = np.random.default_rng(seed).permutation(n_instances)
    folds = np.empty(n_instances, dtype=np.int64)
    folds[order] = np.arange(n_instances) % n_folds
    return folds


def out_of_fold_probabilities(path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray,
                              n_folds: int = _AUDIT.n_folds, seed: int = _AUDIT.seed,
                              epochs: float = _AUDIT.epochs, batch_size: int = _AUDIT.batch_size,
                              learning_rate: float = _AUDIT.learning_rate, padding: str = _AUDIT.padding,
                              threads: int | None = _AUDIT.threads,
                              shuffle_buffer: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated probabilities of label 1 for every labelled snapshot.

    The instances are split into ``n_folds`` folds; for each fold a fresh
    network (:func:`sgpoison.ml.network.build_model`) is trained on the labels of
    the other folds for ``epochs`` passes, streamed with
    :class:`sgpoison.ml.stream.OverlapBlocks`, and predicts the fold's snapshots.
    Every probability is thus out-of-sample, as confident learning requires.

    Parameters
    ----------
    path : path-like
        Simulation file.
    positions : int array, shape (n,)
        Positions of the labelled instances along the file's ``instance`` dimension.
    labels : int array, shape (n, N_T, N_con)
    n_folds, seed, epochs, batch_size, learning_rate, padding, threads, shuffle_buffer
        Cross-validation and training settings.

    Returns
    -------
    p1 : float32 array, shape (n, N_T, N_con)
        Out-of-fold softmax probability of label 1.
    folds : int64 array, shape (n,)
    """
    import keras
    import tensorflow as tf

    from sgpoison.ml.network import build_model, configure_tensorflow
    from sgpoison.ml.stream import OverlapBlocks

    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int32)
    configure_tensorflow(threads)
    folds = instance_folds(len(positions), n_folds, seed)
    L = overlap_layout(path).L
    p1 = np.empty(labels.shape, dtype=np.float32)
    seeds = np.random.SeedSequence(seed, spawn_key=(7,)).generate_state(3 * n_folds)
    start = time.perf_counter()
    for k in range(n_folds):
        train = np.flatnonzero(folds != k)
        test = np.flatnonzero(folds == k)
        keras.backend.clear_session()
        keras.utils.set_random_seed(int(seeds[3 * k]))
        model = build_model(L, padding=padding, learning_rate=learning_rate)
        blocks = OverlapBlocks(path, positions[train], labels[train])
        steps = max(1, math.ceil(epochs * labels[train].size / batch_size))
        data = blocks.dataset(batch_size, shuffle_buffer, order_seed=int(seeds[3 * k + 1]),
                              shuffle_seed=int(seeds[3 * k + 2]), repeat=True, threads=threads)
        model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        held_out = OverlapBlocks(path, positions[test], labels[test])
        n_batches = math.ceil(labels[test].size / batch_size)
        data = held_out.dataset(batch_size, order_seed=None, repeat=False, threads=threads)
        data = data.map(_inputs_only).apply(tf.data.experimental.assert_cardinality(n_batches))
        probabilities = model.predict(data, verbose=0)
        if probabilities.shape[0] != labels[test].size:
            raise RuntimeError(f"{path}: predicted {probabilities.shape[0]} snapshots of fold {k}, "
                               f"expected {labels[test].size}")
        p1[test] = probabilities[:, 1].reshape(len(test), *labels.shape[1:])
        accuracy = float(np.mean((p1[test] > 0.5) == (labels[test] == 1)))
        log.info("fold %d/%d: %d training instances, %d steps, out-of-fold accuracy %.4f against the "
                 "given labels (%.1f s)", k + 1, n_folds, len(train), steps, accuracy,
                 time.perf_counter() - start)
    keras.backend.clear_session()
    return p1, folds


def out_of_fold_null_probabilities(path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray,
                                   observables: str = "q2_ql", n_folds: int = _AUDIT.n_folds,
                                   seed: int = _AUDIT.seed) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated probabilities of label 1 from a null model (logistic regression).

    As :func:`out_of_fold_probabilities` (same folds for the same ``n_folds`` and ``seed``),
    but each fold's classifier is :func:`sgpoison.ml.null.fit_null_model` on the observables
    ``observables`` (one of :data:`sgpoison.ml.settings.NULL_OBSERVABLES`) of every snapshot,
    computed from the overlap field (:func:`sgpoison.ml.null.file_observables`), with equal
    class weights (as the CNN's cross-validation) and the null models' default
    regularisation (:class:`sgpoison.ml.settings.NullSettings`).

    Returns
    -------
    p1 : float32 array, shape (n, N_T, N_con)
        Out-of-fold probability of label 1.
    folds : int64 array, shape (n,)

    Raises
    ------
    SettingsError
        Fewer instances than folds, or unknown ``observables``.
    """
    from sgpoison.ml.null import FEATURES, feature_matrix, file_observables, fit_null_model
    from sgpoison.ml.settings import NullSettings

    if observables not in FEATURES:
        raise SettingsError(f"unknown null-model observables {observables!r}; expected one of "
                            f"{', '.join(FEATURES)}", "noise_classifier")
    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    folds = instance_folds(len(positions), n_folds, seed)
    start = time.perf_counter()
    values = file_observables(path, positions, labels.shape[1], labels.shape[2])
    settings = NullSettings()
    p1 = np.empty(labels.shape, dtype=np.float32)
    for k in range(n_folds):
        train, test = folds != k, folds == k
        features = feature_matrix({name: v[train] for name, v in values.items()}, observables)
        model, solver = fit_null_model(features, labels[train].ravel(), observables, {0: 1.0, 1: 1.0},
                                       settings)
        held_out = feature_matrix({name: v[test] for name, v in values.items()}, observables)
        p1[test] = model.probability_high(held_out).reshape(labels[test].shape)
        accuracy = float(np.mean((p1[test] > 0.5) == (labels[test] == 1)))
        log.info("fold %d/%d: null model %s, %d training instances, %d L-BFGS iterations, out-of-fold "
                 "accuracy %.4f against the given labels (%.1f s)", k + 1, n_folds, observables,
                 int(train.sum()), solver["n_iterations"], accuracy, time.perf_counter() - start)
    return p1, folds


def _inputs_only(x, y):
    """tf.data map: drop the labels of a batch (prediction)."""
    return x
