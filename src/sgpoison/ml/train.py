"""Training the phase classifier on (possibly poisoned) overlaps, and predicting p(T, L).

Training (Fang, Barzegar & Katzgraber 2020, Sec. III and Table III): every
overlap snapshot of a Gaussian-disorder simulation file is one example, with
label 1 if its temperature T > t_label (high-temperature phase) and 0
otherwise. Two poisonings are studied:

* **label noise**: each training example's label is flipped independently with
  probability rho (``label_noise``), from a recorded seed; the realised number
  of flips is stored;
* **under-thermalised data**: the simulation file itself was run with a sweep
  fraction f < 1; f is read from the file (attribute ``sweep_fraction``) and
  recorded with the model.

The data are streamed from the NetCDF file through ``tf.data`` one
(instance, temperature) block of snapshots at a time (one compressed chunk),
the blocks in a fresh random order on every pass, the snapshots mixed across
blocks by a shuffle buffer; the whole set is never loaded. The validation set
consists of whole disorder instances that are never trained on, and carries the
*clean* labels (T > t_label): validation accuracy measures how well the network
has learned the phases, whatever the poisoning of the training labels.

Prediction (paper Eq. (3) and Fig. 1): for each instance and temperature of a
(bimodal) file, ``p`` is the mean over snapshots of the softmax probability of
label 1 and ``fraction_high`` the fraction of snapshots classified as label 1.

TensorFlow is imported by the functions that need it, not at module import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import xarray as xr

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.formats import PREDICTION_FORMAT, PREDICTION_FORMAT_VERSION, open_simulation, write_netcdf
from sgpoison.io.jsonio import to_json, to_jsonable, write_json
from sgpoison.io.provenance import file_sha256, provenance

log = logging.getLogger(__name__)

#: name of the metadata member embedded in the ``.keras`` archive
METADATA_MEMBER = "sgpoison_metadata.json"
METADATA_FORMAT = "sgpoison-model"

#: columns of the training history CSV
HISTORY_COLUMNS = (
    "iteration", "examples_seen", "passes", "loss", "accuracy", "val_loss", "val_accuracy",
    "elapsed_seconds",
)

#: roles of the independent random streams derived from the one user seed
SEED_ROLES = ("split", "label_noise", "block_order", "shuffle", "validation_subset", "keras")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """All parameters of one training run (defaults: paper Table III).

    Attributes
    ----------
    t_label : float
        Labelling temperature: T > t_label -> 1, else 0 (paper: 0.95).
    label_noise : float
        rho, probability of flipping each training label, in [0, 0.5).
    seed : int
        Root seed; the streams of :data:`SEED_ROLES` are derived from it.
    iterations, batch_size : int
        Optimiser steps and examples per step (paper: 1e4 and 1000).
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    padding : {"same", "periodic"}
        Convolution padding, see :func:`sgpoison.ml.network.build_model`.
    channels, kernel_size, strides, dense_units, dropout
        Architecture, see :func:`sgpoison.ml.network.build_model`.
    validation_fraction : float
        Fraction of disorder instances held out for validation, in [0, 1).
    report_every : int
        Iterations between history rows (training metrics are averaged over
        these iterations; validation metrics computed at the row).
    validation_examples : int or None
        Size of the fixed validation subset evaluated at each row (whole
        blocks of snapshots, drawn at random from the validation instances);
        ``None``: the whole validation set, held in memory.
    shuffle_buffer : int
        Examples in the ``tf.data`` shuffle buffer.
    threads : int or None
        TensorFlow intra-/inter-op and tf.data threads; ``None``: TF default.
    deterministic : bool
        Enable TensorFlow op determinism (bitwise reproducible on one machine).
    scenario : str
        Free label of the training scenario (e.g. ``clean``,
        ``label_noise_1pct``), recorded in the outputs.
    """

    t_label: float = 0.95
    label_noise: float = 0.0
    seed: int = 0
    iterations: int = 10_000
    batch_size: int = 1000
    learning_rate: float = 1e-4
    padding: str = "same"
    channels: int = 5
    kernel_size: int = 3
    strides: int = 2
    dense_units: int | None = None
    dropout: float = 0.2
    validation_fraction: float = 0.2
    report_every: int = 100
    validation_examples: int | None = 10_000
    shuffle_buffer: int = 10_000
    threads: int | None = None
    deterministic: bool = False
    scenario: str = "clean"

    def validate(self) -> None:
        """Check every value.

        Raises
        ------
        SettingsError
            Naming the command-line option of the first invalid value.
        """
        from sgpoison.ml.network import PADDINGS

        check_label_noise(self.label_noise)
        checks = [
            ("--iterations", self.iterations >= 1, "must be >= 1"),
            ("--batch-size", self.batch_size >= 1, "must be >= 1"),
            ("--learning-rate", math.isfinite(self.learning_rate) and self.learning_rate > 0,
             "must be a positive number"),
            ("--padding", self.padding in PADDINGS, f"must be one of {PADDINGS}"),
            ("--validation-fraction", 0.0 <= self.validation_fraction < 1.0, "must be in [0, 1)"),
            ("--report-every", self.report_every >= 1, "must be >= 1"),
            ("--validation-examples", self.validation_examples is None or self.validation_examples >= 1,
             "must be >= 1"),
            ("--shuffle-buffer", self.shuffle_buffer >= 1, "must be >= 1"),
            ("--threads", self.threads is None or self.threads >= 1, "must be >= 1"),
            ("--t-label", math.isfinite(self.t_label), "must be finite"),
            ("--seed", self.seed >= 0, "must be >= 0"),
            ("dropout", 0.0 <= self.dropout < 1.0, "must be in [0, 1)"),
        ]
        for option, ok, what in checks:
            if not ok:
                name = option.lstrip("-").replace("-", "_")
                raise SettingsError(f"{option} {what}, got {getattr(self, name)!r}", option)

    def architecture(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sgpoison.ml.network.build_model`, L excluded."""
        return {
            "padding": self.padding, "channels": self.channels, "kernel_size": self.kernel_size,
            "strides": self.strides, "dense_units": self.dense_units, "dropout": self.dropout,
            "learning_rate": self.learning_rate,
        }


@dataclasses.dataclass
class TrainingSet:
    """A simulation file split into training and validation parts, with labels.

    Attributes
    ----------
    path : pathlib.Path
        The simulation file.
    L, n_snapshots : int
        Lattice size and snapshots per (instance, temperature).
    temperatures : ndarray, shape (N_T,), float64
    temperature_labels : ndarray, shape (N_T,), int8
        Clean label of each temperature, ``T > t_label``.
    instances : ndarray, shape (n_instances,), int64
        Instance coordinate of the file.
    train_positions, validation_positions : ndarray of int64
        Positions (along the file's ``instance`` dimension) of each part.
    labels : ndarray, shape (n_train, N_T, N_con), int8
        Training labels after label noise, per (instance, temperature, snapshot).
    flips : ndarray, shape (n_train, N_T, N_con), bool
        Which training labels were flipped; ``labels = clean XOR flips``.
    attrs : dict
        Attributes of the file (``sweep_fraction``, ``disorder``, ...).
    """

    path: Path
    L: int
    n_snapshots: int
    temperatures: np.ndarray
    temperature_labels: np.ndarray
    instances: np.ndarray
    train_positions: np.ndarray
    validation_positions: np.ndarray
    labels: np.ndarray
    flips: np.ndarray
    attrs: dict

    @property
    def clean_labels(self) -> np.ndarray:
        """Clean training labels, shape (n_train, N_T, N_con), int8."""
        shape = (len(self.train_positions), len(self.temperatures), self.n_snapshots)
        return np.broadcast_to(self.temperature_labels[None, :, None], shape).astype(np.int8)

    @property
    def n_examples(self) -> int:
        """Number of training examples, n_train * N_T * N_con."""
        return int(self.labels.size)

    @property
    def realised_flips(self) -> int:
        """Number of training labels flipped by label noise."""
        return int(self.flips.sum())


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train` returns: the trained model, its history and metadata."""

    model: Any
    history: pd.DataFrame
    metadata: dict


# ----------------------------------------------------------------------------- labels and seeds


def check_label_noise(rho: float) -> float:
    """Return ``rho`` if it is a valid label-noise probability, 0 <= rho < 0.5.

    At rho = 0.5 the labels carry no information; above it they are inverted.

    Raises
    ------
    SettingsError
        Otherwise (option ``--label-noise``).
    """
    rho = float(rho)
    if not (math.isfinite(rho) and 0.0 <= rho < 0.5):
        raise SettingsError(f"--label-noise must be in [0, 0.5), got {rho}", "--label-noise")
    return rho


def phase_labels(temperatures: np.ndarray, t_label: float = 0.95) -> np.ndarray:
    """Label of each temperature: 1 if T > t_label (high-temperature phase), else 0.

    Parameters
    ----------
    temperatures : array_like, shape (N_T,), float
    t_label : float
        Paper: 0.95, just below T_c ~ 0.96 of the Gaussian EA model.

    Returns
    -------
    ndarray, shape (N_T,), int8

    Raises
    ------
    SettingsError
        If all temperatures fall on one side of ``t_label`` (one class would
        be empty; option ``--t-label``).
    """
    T = np.asarray(temperatures, dtype=np.float64)
    labels = (T > t_label).astype(np.int8)
    if labels.all() or not labels.any():
        side = "above" if labels.all() else "at or below"
        raise SettingsError(
            f"--t-label {t_label}: all temperatures {T.min():g}..{T.max():g} lie {side} it, "
            "so one class would be empty; choose t_label inside the temperature range", "--t-label")
    return labels


def derive_seeds(seed: int) -> dict[str, int]:
    """Independent seeds for each random stream of a training run.

    ``numpy.random.SeedSequence(seed, spawn_key=(k,))`` for the k-th role of
    :data:`SEED_ROLES`, reduced to one 32-bit integer (TensorFlow and Keras
    take plain integers).

    Returns
    -------
    dict of str to int
        ``seed`` and one entry per role.
    """
    seeds = {"seed": int(seed)}
    for k, role in enumerate(SEED_ROLES):
        seeds[role] = int(np.random.SeedSequence(int(seed), spawn_key=(k,)).generate_state(1)[0])
    return seeds


def label_flips(shape: tuple[int, ...], rho: float, seed: int) -> np.ndarray:
    """Draw independent label flips, each with probability rho.

    Parameters
    ----------
    shape : tuple of int
        Shape of the label array, e.g. (n_train, N_T, N_con).
    rho : float
        Flip probability, 0 <= rho < 0.5.
    seed : int
        Seed of the ``numpy.random.default_rng`` stream.

    Returns
    -------
    ndarray of bool, ``shape``
        ``True`` where the label is flipped; the count is Binomial(size, rho).
        For rho = 0 no flips (and no random numbers are drawn).

    Raises
    ------
    SettingsError
        If rho is outside [0, 0.5).
    """
    rho = check_label_noise(rho)
    if rho == 0.0:
        return np.zeros(shape, dtype=bool)
    return np.random.default_rng(seed).random(shape) < rho


def split_instances(n_instances: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split instance positions into training and validation sets (by disorder instance).

    ``n_val = round(validation_fraction * n_instances)``, at least 1 when the
    fraction is positive; the held-out instances are drawn at random.

    Returns
    -------
    train, validation : ndarray of int64, sorted

    Raises
    ------
    SettingsError
        If the fraction is outside [0, 1) or leaves no training (or, for a
        positive fraction, no validation) instance.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise SettingsError(
            f"--validation-fraction must be in [0, 1), got {validation_fraction}", "--validation-fraction")
    n_val = 0 if validation_fraction == 0 else max(1, int(round(validation_fraction * n_instances)))
    if n_instances - n_val < 1:
        raise SettingsError(
            f"--validation-fraction {validation_fraction} with {n_instances} instance(s) leaves no "
            "training instance; the split is by disorder instance, so at least 2 are needed",
            "--validation-fraction")
    order = np.random.default_rng(seed).permutation(n_instances)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def prepare_training_set(path: str | os.PathLike, config: TrainingConfig) -> TrainingSet:
    """Open a simulation file, split it by instance and draw the (noisy) labels.

    Raises
    ------
    FileNotFoundError, sgpoison.io.formats.DataFormatError
        If the file is missing or not a valid simulation file with ``overlap``.
    SettingsError
        Empty class (``--t-label``), invalid rho or split.
    """
    path = Path(path)
    seeds = derive_seeds(config.seed)
    with open_simulation(path, variables=["overlap"]) as ds:
        attrs = dict(ds.attrs)
        L = int(attrs["L"])
        temperatures = ds["temperature"].values.astype(np.float64)
        instances = ds["instance"].values.astype(np.int64)
        n_snapshots = int(ds.sizes["snapshot"])
    if "sweep_fraction" not in attrs:
        raise DataFormatError(f"{path}: missing attribute 'sweep_fraction'")
    temperature_labels = phase_labels(temperatures, config.t_label)
    train_pos, val_pos = split_instances(len(instances), config.validation_fraction, seeds["split"])
    shape = (len(train_pos), len(temperatures), n_snapshots)
    flips = label_flips(shape, config.label_noise, seeds["label_noise"])
    clean = np.broadcast_to(temperature_labels[None, :, None], shape)
    labels = (clean ^ flips).astype(np.int8)
    return TrainingSet(path, L, n_snapshots, temperatures, temperature_labels, instances,
                       train_pos, val_pos, labels, flips, attrs)


# ----------------------------------------------------------------------------- TensorFlow setup


def configure_tensorflow(threads: int | None = None, deterministic: bool = False,
                         seed: int | None = None) -> list[str]:
    """Set TensorFlow threads, seeds and determinism; return the devices in use.

    Threads can only be set before TensorFlow runs its first operation; if the
    runtime is already initialised with other values a warning is logged. The
    GPU is used automatically when one is visible. oneDNN stays enabled (never
    set ``TF_ENABLE_ONEDNN_OPTS=0``: it makes Conv3D ~50x slower on CPU).

    Parameters
    ----------
    threads : int, optional
        Intra-op and inter-op parallelism threads.
    deterministic : bool
        Call ``tf.config.experimental.enable_op_determinism()`` (process-wide).
    seed : int, optional
        ``keras.utils.set_random_seed(seed)`` (Python, NumPy global, TF, Keras).

    Returns
    -------
    list of str
        Logical device names, e.g. ``["/device:CPU:0"]``.
    """
    import keras
    import tensorflow as tf

    if threads:
        threading = tf.config.threading
        for what, getter, setter in (
            ("intra-op", threading.get_intra_op_parallelism_threads,
             threading.set_intra_op_parallelism_threads),
            ("inter-op", threading.get_inter_op_parallelism_threads,
             threading.set_inter_op_parallelism_threads),
        ):
            if getter() != threads:
                try:
                    setter(threads)
                except RuntimeError:
                    log.warning("TensorFlow already initialised: cannot set %s threads to %d "
                                "(currently %d)", what, threads, getter())
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    devices = [d.name for d in tf.config.list_logical_devices()]
    if tf.config.list_physical_devices("GPU"):
        log.info("GPU visible: %s", devices)
    return devices


# ----------------------------------------------------------------------------- streaming


class OverlapBlocks:
    """(instance, temperature) blocks of overlap snapshots of a simulation file, with labels.

    Each block is one NetCDF chunk: the ``N_con`` snapshots of one instance at
    one temperature, int8 of shape (N_con, L, L, L), with its label vector.

    Parameters
    ----------
    path : path-like
        Simulation file (already validated).
    positions : ndarray of int, shape (n,)
        Positions along the file's ``instance`` dimension.
    labels : ndarray, shape (n, N_T, N_con), int
        Label of every snapshot of the selected instances.
    """

    def __init__(self, path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray):
        self.path = Path(path)
        self.positions = np.asarray(positions, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int32)
        if self.labels.ndim != 3 or self.labels.shape[0] != len(self.positions):
            raise ValueError(
                f"labels of shape {self.labels.shape} do not match {len(self.positions)} instances")
        self.n_temperatures, self.n_snapshots = self.labels.shape[1:]

    @property
    def n_blocks(self) -> int:
        return len(self.positions) * self.n_temperatures

    def block_index(self) -> np.ndarray:
        """All blocks as rows (k, t): k indexes ``positions``, t the temperature."""
        k, t = np.meshgrid(np.arange(len(self.positions)), np.arange(self.n_temperatures), indexing="ij")
        return np.stack([k.ravel(), t.ravel()], axis=1)

    def iterate(self, order_seed: int | None = None,
                repeat: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(overlaps int8 (N_con, L, L, L), labels int32 (N_con,))`` block by block.

        ``order_seed=None``: file order (instance-major), else a random order,
        drawn afresh on every pass. ``repeat``: loop forever.
        """
        import netCDF4

        rng = None if order_seed is None else np.random.default_rng(order_seed)
        blocks = self.block_index()
        if self.n_blocks == 0:
            return
        with netCDF4.Dataset(self.path, "r") as nc:
            var = nc.variables["overlap"]
            var.set_auto_maskandscale(False)
            while True:
                order = blocks if rng is None else blocks[rng.permutation(len(blocks))]
                for k, t in order:
                    data = np.asarray(var[self.positions[k], t], dtype=np.int8)
                    yield data, self.labels[k, t]
                if not repeat:
                    return

    def load(self, max_examples: int | None = None,
             order_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Read whole blocks into memory, in random order, until ``max_examples`` are reached.

        Returns
        -------
        overlaps : ndarray, shape (n, L, L, L), int8
        labels : ndarray, shape (n,), int32
        """
        n_blocks = self.n_blocks
        if max_examples is not None:
            n_blocks = min(n_blocks, math.ceil(max_examples / self.n_snapshots))
        xs, ys = [], []
        with contextlib.closing(self.iterate(order_seed=order_seed)) as stream:
            for data, labels in stream:
                xs.append(data)
                ys.append(labels)
                if len(xs) == n_blocks:
                    break
        return np.concatenate(xs), np.concatenate(ys)

    def batches(self, batch_size: int, shuffle_buffer: int = 10_000, order_seed: int | None = None,
                shuffle_seed: int | None = None,
                repeat: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield batches ``(int8 (batch, L, L, L), int32 (batch,))`` of single snapshots.

        With ``shuffle_seed`` (training; needs ``repeat``) the snapshots pass
        through a shuffle buffer of ``shuffle_buffer`` examples, as
        ``tf.data.Dataset.shuffle``: each output example is drawn uniformly
        from the buffer and its slot refilled with the next snapshot of the
        block stream, so a batch mixes many instances and temperatures. Blocks
        arrive in random order if ``order_seed`` is given (fresh order every
        pass). Without ``shuffle_seed`` the snapshots keep the stream order and
        the last batch may be incomplete.

        Raises
        ------
        ValueError
            If ``shuffle_seed`` is given without ``repeat``.
        """
        if shuffle_seed is not None and not repeat:
            raise ValueError("shuffled batches need an endless stream (repeat=True)")
        stream = _ExampleStream(self.iterate(order_seed=order_seed, repeat=repeat))
        try:
            if shuffle_seed is None:
                while len((batch := stream.take(batch_size))[0]):
                    yield batch
                return
            rng = np.random.default_rng(shuffle_seed)
            buffer_x, buffer_y = stream.take(max(int(shuffle_buffer), batch_size))
            while True:
                slots = rng.choice(len(buffer_x), batch_size, replace=False)
                x, y = buffer_x[slots], buffer_y[slots]
                buffer_x[slots], buffer_y[slots] = stream.take(batch_size)
                yield x, y
        finally:
            stream.close()

    def dataset(self, batch_size: int, shuffle_buffer: int = 10_000, order_seed: int | None = None,
                shuffle_seed: int | None = None, repeat: bool = True, threads: int | None = None):
        """A ``tf.data.Dataset`` of ``(float32 (batch, L, L, L, 1), int32 (batch,))`` batches.

        The batches of :meth:`batches` (int8, read block by block from the
        NetCDF file, never the whole set) are cast to float32 on the fly by
        ``tf.data`` and prefetched.
        """
        import tensorflow as tf

        shape = tuple(self._lattice_shape())
        signature = (tf.TensorSpec((None, *shape), tf.int8), tf.TensorSpec((None,), tf.int32))
        ds = tf.data.Dataset.from_generator(
            lambda: self.batches(batch_size, shuffle_buffer, order_seed, shuffle_seed, repeat),
            output_signature=signature)
        ds = ds.map(_to_network_input)
        ds = ds.prefetch(2)
        options = tf.data.Options()
        options.deterministic = True
        if threads:
            options.threading.private_threadpool_size = int(threads)
        return ds.with_options(options)

    def _lattice_shape(self) -> tuple[int, int, int]:
        import netCDF4

        with netCDF4.Dataset(self.path, "r") as nc:
            return tuple(nc.variables["overlap"].shape[3:])


class _ExampleStream:
    """Take single snapshots, n at a time, from an iterator of blocks."""

    def __init__(self, blocks: Iterator[tuple[np.ndarray, np.ndarray]]):
        self.blocks = blocks
        self.x = self.y = None
        self.position = 0

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` examples (fewer only when the blocks run out)."""
        xs, ys = [], []
        while n > 0:
            if self.x is None or self.position == len(self.x):
                try:
                    self.x, self.y = next(self.blocks)
                except StopIteration:
                    break
                self.position = 0
            k = min(n, len(self.x) - self.position)
            xs.append(self.x[self.position:self.position + k])
            ys.append(self.y[self.position:self.position + k])
            self.position += k
            n -= k
        if not xs:
            shape = self.x.shape[1:] if self.x is not None else (0, 0, 0)
            return np.zeros((0, *shape), np.int8), np.zeros(0, np.int32)
        return np.concatenate(xs), np.concatenate(ys)

    def close(self) -> None:
        close = getattr(self.blocks, "close", None)
        if close is not None:
            close()


def _to_network_input(x, y):
    import tensorflow as tf

    return tf.cast(x, tf.float32)[..., tf.newaxis], y


def to_network_input(overlaps: np.ndarray) -> np.ndarray:
    """Convert int8 overlaps (n, L, L, L) to the network input float32 (n, L, L, L, 1)."""
    return np.asarray(overlaps, dtype=np.float32)[..., np.newaxis]


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


# ----------------------------------------------------------------------------- files


def write_history(history: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the training history as CSV, atomically."""
    return atomic_write(path, lambda tmp: history.to_csv(tmp, index=False))


def save_model(model, path: str | os.PathLike, metadata: dict) -> Path:
    """Save ``model`` in the native ``.keras`` format with ``metadata`` embedded, atomically.

    The metadata go into the archive as the member :data:`METADATA_MEMBER`
    (Keras ignores it when loading); read them with :func:`read_model_metadata`.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: model files must end in '.keras'")
    text = to_json(metadata, indent=2, sort_keys=True)

    def write(tmp):
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_MEMBER, text)

    return atomic_write(path, write)


def read_model_metadata(path: str | os.PathLike) -> dict:
    """Metadata of a model written by :func:`train`.

    Looks for the member :data:`METADATA_MEMBER` inside the ``.keras`` archive,
    then for a JSON file beside the model with the same stem (``model.json``).

    Raises
    ------
    FileNotFoundError
        If the model file does not exist.
    SettingsError
        If no metadata are found or they lack ``L`` (option ``--model``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    metadata = None
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_MEMBER in archive.namelist():
                metadata = json.loads(archive.read(METADATA_MEMBER))
    except zipfile.BadZipFile as exc:
        raise SettingsError(f"{path}: not a .keras model archive ({exc})", "--model") from exc
    if metadata is None and path.with_suffix(".json").exists():
        metadata = json.loads(path.with_suffix(".json").read_text())
    if metadata is None:
        raise SettingsError(
            f"{path}: no sgpoison metadata (neither the member {METADATA_MEMBER!r} nor "
            f"{path.with_suffix('.json').name}); was the model written by 'sgpoison train'?", "--model")
    if "L" not in metadata:
        raise SettingsError(f"{path}: model metadata lack 'L'", "--model")
    return metadata


def load_model(path: str | os.PathLike):
    """Load a model written by :func:`train`; returns ``(keras.Model, metadata dict)``.

    Raises
    ------
    FileNotFoundError, SettingsError
        See :func:`read_model_metadata`; also if the model's input L differs
        from the metadata.
    """
    import keras

    from sgpoison.ml.network import model_lattice_size  # registers PeriodicPadding3D

    metadata = read_model_metadata(path)
    model = keras.saving.load_model(path, compile=False)
    if model_lattice_size(model) != int(metadata["L"]):
        raise SettingsError(
            f"{path}: model input L={model_lattice_size(model)} but metadata L={metadata['L']}", "--model")
    return model, metadata


# ----------------------------------------------------------------------------- training


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
    FileNotFoundError, sgpoison.io.formats.DataFormatError
        Missing or invalid data file.
    SettingsError
        Invalid configuration, ``expected_L`` mismatch, or an empty class.
    """
    from sgpoison.ml.network import build_model

    config.validate()
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


# ----------------------------------------------------------------------------- prediction


def predict(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    batch_size: int = 1000,
    threads: int | None = None,
) -> xr.Dataset:
    """Predict p(T) for every instance and temperature of a simulation file.

    ``p[i, T]`` = mean over the snapshots of instance i at temperature T of the
    softmax probability of label 1 (high-temperature phase);
    ``fraction_high[i, T]`` = fraction of those snapshots with
    argmax = label 1 (ties count as label 0, as ``numpy.argmax``).

    Parameters
    ----------
    model : path-like
        A ``.keras`` file written by :func:`train` (metadata embedded, or a JSON
        with the same stem beside it).
    data : path-like
        Simulation file, normally bimodal disorder.
    out : path-like, optional
        Where to write the prediction NetCDF (``docs/data-format.md``), atomically.
    batch_size : int
        Snapshots per forward pass.
    threads : int, optional
        TensorFlow threads.

    Returns
    -------
    xarray.Dataset
        ``p`` and ``fraction_high``, float64 of dims (instance, temperature), with
        attributes ``format="sgpoison-prediction"``, ``L``, ``scenario``,
        ``label_noise``, ``training_sweep_fraction``, ``model_sha256``,
        ``data_file`` and provenance.

    Raises
    ------
    FileNotFoundError, sgpoison.io.formats.DataFormatError
        Missing or invalid model or data file (e.g. no ``overlap`` variable).
    SettingsError
        L of the data differs from L of the model (option ``--data``), bad batch size.
    """
    if int(batch_size) < 1:
        raise SettingsError(f"--batch-size must be >= 1, got {batch_size}", "--batch-size")
    if threads is not None and int(threads) < 1:
        raise SettingsError(f"--threads must be >= 1, got {threads}", "--threads")
    model_path, data = Path(model), Path(data)
    metadata = read_model_metadata(model_path)
    with open_simulation(data, variables=["overlap"]) as ds:
        attrs = dict(ds.attrs)
        L = int(attrs["L"])
        temperatures = ds["temperature"].values.astype(np.float64)
        instances = ds["instance"].values.astype(np.int64)
        n_snapshots = int(ds.sizes["snapshot"])
    if L != int(metadata["L"]):
        raise SettingsError(
            f"{data} has L={L} but the model {model_path} was trained for L={metadata['L']}; "
            "use one network per L", "--data")
    import tensorflow as tf

    configure_tensorflow(threads)
    keras_model, metadata = load_model(model_path)
    start = time.perf_counter()
    blocks = OverlapBlocks(data, np.arange(len(instances)),
                           np.zeros((len(instances), len(temperatures), n_snapshots), np.int32))
    shape = (len(instances), len(temperatures), n_snapshots)
    n_batches = math.ceil(int(np.prod(shape)) / int(batch_size))
    dataset = blocks.dataset(int(batch_size), order_seed=None, repeat=False, threads=threads)
    dataset = dataset.map(lambda x, y: x).apply(tf.data.experimental.assert_cardinality(n_batches))
    probabilities = keras_model.predict(dataset, verbose=0)
    if probabilities.shape != (np.prod(shape), 2):
        raise DataFormatError(f"{data}: read {probabilities.shape[0]} snapshots, expected {np.prod(shape)}")
    high = probabilities[:, 1].astype(np.float64).reshape(shape)
    classified_high = (np.argmax(probabilities, axis=1) == 1).reshape(shape)
    log.info("predicted %d snapshots of %s in %.1f s", probabilities.shape[0], data,
             time.perf_counter() - start)

    model_sha256 = file_sha256(model_path)
    parameters = {"model": str(model_path), "data": str(data), "batch_size": int(batch_size),
                  "threads": threads}
    result = xr.Dataset(
        {
            "p": (("instance", "temperature"), high.mean(axis=2),
                  {"long_name": "mean softmax probability of label 1 (T > t_label) over snapshots"}),
            "fraction_high": (("instance", "temperature"), classified_high.mean(axis=2, dtype=np.float64),
                              {"long_name": "fraction of snapshots classified as label 1"}),
        },
        coords={"instance": instances, "temperature": temperatures},
        attrs={
            "format": PREDICTION_FORMAT,
            "format_version": PREDICTION_FORMAT_VERSION,
            "L": L,
            "scenario": str(metadata.get("scenario", "")),
            "label_noise": float(metadata.get("label_noise", math.nan)),
            "label_flips": int(metadata.get("label_flips", -1)),
            "t_label": float(metadata.get("t_label", math.nan)),
            "training_sweep_fraction": float(metadata.get("training_sweep_fraction", math.nan)),
            "model_file": str(model_path),
            "model_sha256": model_sha256,
            "model_metadata": to_json(metadata, sort_keys=True),
            "data_file": str(data),
            "data_sha256": file_sha256(data),
            "disorder": str(attrs.get("disorder", "")),
            "sweep_fraction": float(attrs.get("sweep_fraction", math.nan)),
            "n_snapshots": n_snapshots,
            **provenance(parameters),
        },
    )
    if out is not None:
        write_netcdf(result, out)
    return result
