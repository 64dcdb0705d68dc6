"""Training the phase classifier on (possibly poisoned) overlaps.

Fang, Barzegar & Katzgraber 2020, Sec. III and Table III: the network of
:mod:`sgpoison.ml.network` learns label 1 (T > t_label) against 0 from the overlap
snapshots of one Gaussian-disorder simulation file, with the (noisy) labels of
:mod:`sgpoison.ml.labels`, streamed by :mod:`sgpoison.ml.stream`. Beyond the paper (all
options, recorded in the metadata; docs/network.md): training batches are augmented by the
symmetries of the overlap field (:mod:`sgpoison.ml.augment`), the loss is weighted by class
frequency, the network classifies with its sign-symmetrised output, and the weights of the
report with the lowest validation loss are kept (best checkpoint). The validation set
consists of whole disorder instances that are never trained on, and carries the *clean*
labels: validation accuracy measures how well the network has learned the phases,
whatever the poisoning of the training labels. After training, accuracy is measured on every
validation instance (and on as many training instances) with errors over instances
(:mod:`sgpoison.ml.evaluation`). The outputs are written by :mod:`sgpoison.ml.model_io`.
TensorFlow is imported when training runs.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.jsonio import to_jsonable, write_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.ml.augment import SymmetryAugmentation
from sgpoison.ml.evaluation import evaluation_positions, instance_accuracy, weighted_cross_entropy
from sgpoison.ml.labels import SEED_ROLES, class_weights, training_set
from sgpoison.ml.model_io import METADATA_FORMAT, save_model, write_history
from sgpoison.ml.settings import TrainingConfig
from sgpoison.ml.stream import OverlapBlocks, snapshot_probabilities, to_network_input

log = logging.getLogger(__name__)

#: version of the model metadata: 2 adds the classifier, network index, class weights,
#: augmentation, symmetrisation, best checkpoint, evaluation over instances and device
METADATA_FORMAT_VERSION = 2

#: columns of the training history CSV
HISTORY_COLUMNS = (
    "iteration", "examples_seen", "passes", "loss", "accuracy", "val_loss", "val_accuracy",
    "elapsed_seconds",
)


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train` returns: the trained model (best weights), its history and metadata."""

    model: Any
    history: pd.DataFrame
    metadata: dict


def softmax_probabilities(model, overlaps: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Model outputs for in-memory overlaps, shape (n, 2) float32, evaluated in batches."""
    out = [np.asarray(model.predict_on_batch(to_network_input(overlaps[i:i + batch_size])))
           for i in range(0, len(overlaps), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray,
                           class_weight: dict[int, float] | None = None) -> tuple[float, float]:
    """Class-weighted cross-entropy (:func:`~sgpoison.ml.evaluation.weighted_cross_entropy`) and
    accuracy of softmax outputs (n, 2) against integer labels (n,)."""
    labels = np.asarray(labels, dtype=np.int64)
    loss = weighted_cross_entropy(probabilities, labels, class_weight)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels)) if labels.size else math.nan
    return loss, accuracy


def train(
    data: str | os.PathLike,
    config: TrainingConfig = TrainingConfig(),
    model_out: str | os.PathLike | None = None,
    history_out: str | os.PathLike | None = None,
    metadata_out: str | os.PathLike | None = None,
    expected_L: int | None = None,
) -> TrainingResult:
    """Train network ``config.network_index`` of the paper's Table III classifier on one file.

    Labels: T > ``config.t_label`` -> 1, else 0, per (instance, temperature,
    snapshot) example; each training label flipped with probability
    ``config.label_noise``; the split, flips, batch order, augmentation and initial weights
    come from the network's seeds (:func:`~sgpoison.ml.labels.derive_seeds` of ``config.seed``,
    L and ``config.network_index``). Each iteration trains on one augmented batch with the
    class-weighted loss. Every ``config.report_every`` iterations the (sign-symmetrised)
    network is validated on a fixed subset of the held-out instances with clean labels; with
    ``config.keep_best`` the weights of the report with the lowest validation loss are kept,
    with ``config.patience`` training stops after that many reports without improvement.
    Finally the kept network is evaluated on every validation instance and on as many
    training instances (:func:`~sgpoison.ml.evaluation.instance_accuracy`).

    Parameters
    ----------
    data : path-like
        Simulation file (``docs/data-format.md``), normally Gaussian disorder.
    config : TrainingConfig
    model_out, history_out, metadata_out : path-like, optional
        Where to write the ``.keras`` model (metadata embedded), the history
        CSV (rewritten at every report) and the metadata JSON; all atomic.
    expected_L : int, optional
        Fail unless the file's L equals this (option ``--L``).

    Returns
    -------
    TrainingResult
        ``model`` (keras.Model with the kept weights), ``history`` (DataFrame with
        :data:`HISTORY_COLUMNS`) and ``metadata`` (dict, as written; docs/network.md).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid data file.
    SettingsError
        ``expected_L`` mismatch (option ``--L``) or an empty class (``--t-label``); the
        configuration itself was checked when it was constructed.
    """
    from sgpoison.ml.network import (
        build_model,
        compute_device,
        configure_tensorflow,
        device_label,
        symmetrized_model,
        variable_device,
    )

    data = Path(data)
    tset = training_set(data, config, config.network_index)
    seeds = tset.seeds
    if expected_L is not None and int(expected_L) != tset.L:
        raise SettingsError(f"--L {expected_L} but {data} has L={tset.L}", "--L")
    devices = configure_tensorflow(config.threads, config.deterministic, seeds["keras"])
    counts = tset.class_counts()
    weights = class_weights(counts, config.balance_classes)
    log.info("training network %d on %s: L=%d, %d training instances%s (%d examples, %d labels flipped, "
             "rho=%g, %s; class weights %.3f / %.3f), %d validation instances, sweep fraction %s",
             config.network_index, data, tset.L, len(tset.train_positions),
             " (bootstrap resample)" if tset.resampled else "", tset.n_examples, tset.realised_flips,
             config.label_noise, config.label_noise_mode, weights[0], weights[1], len(tset.validation_positions),
             tset.attrs["sweep_fraction"])

    augmentation = SymmetryAugmentation(seeds["augmentation"], **config.augmentation())
    train_blocks = OverlapBlocks(data, tset.train_positions, tset.labels)
    train_ds = train_blocks.dataset(config.batch_size, config.shuffle_buffer, seeds["block_order"],
                                    seeds["shuffle"], repeat=True, threads=config.threads,
                                    transform=augmentation if augmentation.active else None)
    val_x = val_y = None
    if len(tset.validation_positions):
        val_labels = np.broadcast_to(
            tset.temperature_labels[None, :, None],
            (len(tset.validation_positions), len(tset.temperatures), tset.n_snapshots))
        val_blocks = OverlapBlocks(data, tset.validation_positions, val_labels)
        val_x, val_y = val_blocks.load(config.validation_examples, seeds["validation_subset"])
        if not np.all(np.abs(val_x) == 1):
            raise DataFormatError(f"{data}: overlap values other than +1/-1 found")

    model = build_model(tset.L, **config.architecture())
    classifier = symmetrized_model(model) if config.symmetrize else model
    device = compute_device()
    placement = variable_device(model)
    log.info("network on %s (logical devices %s)", device_label(device, placement), devices)
    rows: list[dict] = []
    history = pd.DataFrame(columns=HISTORY_COLUMNS)
    sums = np.zeros(2)
    n_sum = 0
    best = {"iteration": None, "val_loss": math.inf, "weights": None}
    reports_since_best = 0
    stopped_early = False
    start = time.perf_counter()
    iterator = iter(train_ds)
    iteration = 0
    for iteration in range(1, config.iterations + 1):
        x, y = next(iterator)
        logs = model.train_on_batch(x, y, class_weight=weights, return_dict=True)
        sums += (logs["loss"], logs["accuracy"])
        n_sum += 1
        if iteration % config.report_every == 0 or iteration == config.iterations:
            loss, accuracy = sums / n_sum
            sums[:] = 0
            n_sum = 0
            val_loss = val_accuracy = math.nan
            if val_x is not None:
                val_loss, val_accuracy = classification_metrics(
                    softmax_probabilities(classifier, val_x, config.batch_size), val_y, weights)
            examples = iteration * config.batch_size
            rows.append({
                "iteration": iteration, "examples_seen": examples,
                "passes": examples / tset.n_examples, "loss": loss, "accuracy": accuracy,
                "val_loss": val_loss, "val_accuracy": val_accuracy,
                "elapsed_seconds": time.perf_counter() - start,
            })
            history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
            if history_out is not None:
                write_history(history, history_out)
            improved = val_loss < best["val_loss"]
            if improved:
                best = {"iteration": iteration, "val_loss": val_loss,
                        "weights": model.get_weights() if config.keep_best else None}
                reports_since_best = 0
            else:
                reports_since_best += 1
            log.info("iteration %d/%d: loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f%s (%.1f s)",
                     iteration, config.iterations, loss, accuracy, val_loss, val_accuracy,
                     " (best)" if improved else "", rows[-1]["elapsed_seconds"])
            if config.patience is not None and reports_since_best >= config.patience:
                stopped_early = True
                log.info("no lower validation loss in %d reports: stopping at iteration %d",
                         reports_since_best, iteration)
                break
    seconds = time.perf_counter() - start
    kept_iteration = iteration
    if config.keep_best and best["weights"] is not None:
        model.set_weights(best["weights"])
        kept_iteration = best["iteration"]
        log.info("kept the weights of iteration %d (validation loss %.4f)", kept_iteration, best["val_loss"])

    evaluation = {}
    for part, positions in evaluation_positions(tset.train_positions, tset.validation_positions,
                                                           seeds["validation_subset"]).items():
        _, high = snapshot_probabilities(classifier, data, positions, len(tset.temperatures), tset.n_snapshots,
                                         config.batch_size, config.threads)
        evaluation[part] = instance_accuracy(high, tset.temperature_labels)
        evaluation[part]["instances"] = tset.instances[positions]
        log.info("%s accuracy over %d instances: %.4f +- %.4f (majority baseline %.4f, balanced %.4f +- %.4f)",
                 part, evaluation[part]["n_instances"], evaluation[part]["accuracy"],
                 evaluation[part]["accuracy_se"], evaluation[part]["majority_baseline"],
                 evaluation[part]["balanced_accuracy"], evaluation[part]["balanced_accuracy_se"])

    parameters = dataclasses.asdict(config) | {"data": str(data), "L": tset.L}
    metadata = {
        "format": METADATA_FORMAT,
        "format_version": METADATA_FORMAT_VERSION,
        "classifier": "cnn",
        "network_index": config.network_index,
        "L": tset.L,
        "scenario": config.scenario,
        "label_noise": config.label_noise,
        "label_noise_mode": config.label_noise_mode,
        "label_flips": tset.realised_flips,
        "labels_sha256": tset.labels_sha256(),
        "n_examples": tset.n_examples,
        "class_counts": counts,
        "class_weight": weights,
        "n_validation_examples": len(tset.validation_positions) * len(tset.temperatures) * tset.n_snapshots,
        "n_validation_examples_monitored": 0 if val_y is None else len(val_y),
        "t_label": config.t_label,
        "training_sweep_fraction": float(tset.attrs["sweep_fraction"]),
        "training_disorder": tset.attrs.get("disorder"),
        "training_n_sweeps": tset.attrs.get("n_sweeps"),
        "training_n_sweeps_run": tset.attrs.get("n_sweeps_run"),
        "temperatures": tset.temperatures,
        "temperature_labels": tset.temperature_labels,
        "train_instances": tset.instances[tset.train_positions],
        "bootstrap_instances": tset.resampled,
        "validation_instances": tset.instances[tset.validation_positions],
        "seeds": seeds,
        "seed_derivation": "numpy.random.SeedSequence(seed, spawn_key=(L, network_index, j)), j = index of the "
                           f"role in {list(SEED_ROLES)}; generate_state(1)[0]",
        "hyperparameters": dataclasses.asdict(config)
        | {"dense_units": model.get_layer("hidden").units, "optimizer": "adam",
           "loss": "sparse_categorical_crossentropy, class-weighted" if config.balance_classes
           else "sparse_categorical_crossentropy"},
        "augmentation": config.augmentation(),
        "symmetrize": config.symmetrize,
        "best": {"keep_best": config.keep_best, "iteration": kept_iteration,
                 "best_iteration": best["iteration"], "val_loss": best["val_loss"],
                 "last_iteration": iteration, "stopped_early": stopped_early, "patience": config.patience},
        "evaluation": evaluation,
        "settings_sha256": config.family_sha256(),
        "deterministic": config.deterministic,
        "threads": config.threads,
        "device": device_label(device, placement),
        "device_details": device | {"variable_placement": placement, "logical_devices": devices},
        "n_parameters": int(model.count_params()),
        "data_file": str(data),
        "data_sha256": file_sha256(data),
        "data_provenance": {k: tset.attrs.get(k) for k in ("sgpoison_version", "git_commit", "created")},
        "final": rows[-1] if rows else {},
        "training_seconds": seconds,
        "provenance": provenance(parameters),
    }
    metadata["training_data_sha256"] = metadata["data_sha256"]
    metadata = to_jsonable(metadata)
    if model_out is not None:
        save_model(model, model_out, metadata)
        metadata = metadata | {"model_file": str(model_out), "model_sha256": file_sha256(model_out)}
    if metadata_out is not None:
        write_json(metadata, metadata_out, sort_keys=True)
    log.info("trained in %.1f s (%.1f examples/s)", seconds, iteration * config.batch_size / seconds)
    return TrainingResult(model, history, metadata)
