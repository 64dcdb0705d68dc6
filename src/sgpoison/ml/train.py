"""Training the phase classifier on (possibly poisoned) overlaps.

Fang, Barzegar & Katzgraber 2020, Sec. III and Table III: the network of
:mod:`sgpoison.ml.network` learns label 1 (T > t_label) against 0 from the overlap
snapshots of one Gaussian-disorder simulation file, with the (noisy) labels of
:mod:`sgpoison.ml.labels`, streamed by :mod:`sgpoison.ml.stream`. The validation set
consists of whole disorder instances that are never trained on, and carries the *clean*
labels: validation accuracy measures how well the network has learned the phases,
whatever the poisoning of the training labels. The outputs are written by
:mod:`sgpoison.ml.model_io`. TensorFlow is imported when training runs.
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
from sgpoison.ml.labels import derive_seeds, prepare_training_set
from sgpoison.ml.model_io import METADATA_FORMAT, save_model, write_history
from sgpoison.ml.settings import TrainingConfig
from sgpoison.ml.stream import OverlapBlocks, to_network_input

log = logging.getLogger(__name__)



#: columns of the training history CSV
HISTORY_COLUMNS = (
    "iteration", "examples_seen", "passes", "loss", "accuracy", "val_loss", "val_accuracy",
    "elapsed_seconds",
)


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train` returns: the trained model, its history and metadata."""

    model: Any
    history: pd.DataFrame
    metadata: dict


def softmax_probabilities(model, overlaps: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Model outputs for in-memory overlaps, shape (n, 2) float32, evaluated in batches."""
    out = [np.asarray(model.predict_on_batch(to_network_input(overlaps[i:i + batch_size])))
           for i in range(0, len(overlaps), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of softmax outputs (n, 2) against integer labels (n,).

    The probabilities are clipped to [1e-7, 1 - 1e-7] as in Keras.
    """
    labels = np.asarray(labels, dtype=np.int64)
    p = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
    loss = float(-np.mean(np.log(p)))
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    return loss, accuracy


def train(
    data: str | os.PathLike,
    config: TrainingConfig = TrainingConfig(),
    model_out: str | os.PathLike | None = None,
    history_out: str | os.PathLike | None = None,
    metadata_out: str | os.PathLike | None = None,
    expected_L: int | None = None,
) -> TrainingResult:
    """Train the paper Table III classifier on the overlaps of one simulation file.

    Labels: T > ``config.t_label`` -> 1, else 0, per (instance, temperature,
    snapshot) example; each training label flipped with probability
    ``config.label_noise``. Validation on held-out disorder instances with
    clean labels, every ``config.report_every`` iterations.

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
        ``model`` (keras.Model), ``history`` (DataFrame with
        :data:`HISTORY_COLUMNS`) and ``metadata`` (dict, as written).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid data file.
    SettingsError
        ``expected_L`` mismatch (option ``--L``) or an empty class (``--t-label``); the
        configuration itself was checked when it was constructed.
    """
    from sgpoison.ml.network import build_model, configure_tensorflow

    data = Path(data)
    seeds = derive_seeds(config.seed)
    tset = prepare_training_set(data, config)
    if expected_L is not None and int(expected_L) != tset.L:
        raise SettingsError(f"--L {expected_L} but {data} has L={tset.L}", "--L")
    devices = configure_tensorflow(config.threads, config.deterministic, seeds["keras"])
    log.info("training on %s: L=%d, %d training instances (%d examples, %d labels flipped, rho=%g), "
             "%d validation instances, sweep fraction %s, devices %s", data, tset.L,
             len(tset.train_positions), tset.n_examples, tset.realised_flips, config.label_noise,
             len(tset.validation_positions), tset.attrs["sweep_fraction"], devices)

    train_blocks = OverlapBlocks(data, tset.train_positions, tset.labels)
    train_ds = train_blocks.dataset(config.batch_size, config.shuffle_buffer, seeds["block_order"],
                                    seeds["shuffle"], repeat=True, threads=config.threads)
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
    rows: list[dict] = []
    history = pd.DataFrame(columns=HISTORY_COLUMNS)
    sums = np.zeros(2)
    n_sum = 0
    start = time.perf_counter()
    iterator = iter(train_ds)
    for iteration in range(1, config.iterations + 1):
        x, y = next(iterator)
        logs = model.train_on_batch(x, y, return_dict=True)
        sums += (logs["loss"], logs["accuracy"])
        n_sum += 1
        if iteration % config.report_every == 0 or iteration == config.iterations:
            loss, accuracy = sums / n_sum
            sums[:] = 0
            n_sum = 0
            val_loss = val_accuracy = math.nan
            if val_x is not None:
                val_loss, val_accuracy = classification_metrics(
                    softmax_probabilities(model, val_x, config.batch_size), val_y)
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
            log.info("iteration %d/%d: loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f (%.1f s)",
                     iteration, config.iterations, loss, accuracy, val_loss, val_accuracy,
                     rows[-1]["elapsed_seconds"])
    seconds = time.perf_counter() - start

    parameters = dataclasses.asdict(config) | {"data": str(data), "L": tset.L}
    metadata = {
        "format": METADATA_FORMAT,
        "format_version": 1,
        "L": tset.L,
        "scenario": config.scenario,
        "label_noise": config.label_noise,
        "label_flips": tset.realised_flips,
        "n_examples": tset.n_examples,
        "n_validation_examples": len(tset.validation_positions) * len(tset.temperatures) * tset.n_snapshots,
        "n_validation_examples_evaluated": 0 if val_y is None else len(val_y),
        "t_label": config.t_label,
        "training_sweep_fraction": float(tset.attrs["sweep_fraction"]),
        "training_disorder": tset.attrs.get("disorder"),
        "training_n_sweeps": tset.attrs.get("n_sweeps"),
        "training_n_sweeps_run": tset.attrs.get("n_sweeps_run"),
        "temperatures": tset.temperatures,
        "temperature_labels": tset.temperature_labels,
        "train_instances": tset.instances[tset.train_positions],
        "validation_instances": tset.instances[tset.validation_positions],
        "seeds": seeds,
        "hyperparameters": dataclasses.asdict(config)
        | {"dense_units": model.get_layer("hidden").units, "optimizer": "adam",
           "loss": "sparse_categorical_crossentropy"},
        "deterministic": config.deterministic,
        "threads": config.threads,
        "devices": devices,
        "n_parameters": int(model.count_params()),
        "data_file": str(data),
        "data_sha256": file_sha256(data),
        "data_provenance": {k: tset.attrs.get(k) for k in ("sgpoison_version", "git_commit", "created")},
        "final": rows[-1] if rows else {},
        "training_seconds": seconds,
        "provenance": provenance(parameters),
    }
    metadata = to_jsonable(metadata)
    if model_out is not None:
        save_model(model, model_out, metadata)
        metadata = metadata | {"model_file": str(model_out), "model_sha256": file_sha256(model_out)}
    if metadata_out is not None:
        write_json(metadata, metadata_out, sort_keys=True)
    log.info("trained in %.1f s (%.1f examples/s)", seconds, config.iterations * config.batch_size / seconds)
    return TrainingResult(model, history, metadata)
