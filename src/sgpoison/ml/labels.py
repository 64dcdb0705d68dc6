"""Labels of a training set, and their poisoning by label noise.

Fang, Barzegar & Katzgraber 2020, Sec. III: every overlap snapshot of a
Gaussian-disorder simulation file is one example, with label 1 if its temperature
T > t_label (high-temperature phase) and 0 otherwise. The *label noise* poisoning
flips each training label independently with probability rho (``label_noise``), from
a recorded seed; the realised number of flips is stored. The split into training and
validation parts is by disorder instance; the validation part keeps the *clean* labels.
The other poisoning, under-thermalised data, is a property of the simulation file
(attribute ``sweep_fraction``), recorded with the labels.

Every random stream of a training run derives from one seed (:func:`derive_seeds`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import overlap_layout
from sgpoison.ml.settings import LabelSettings



#: roles of the independent random streams derived from the one user seed
SEED_ROLES = ("split", "label_noise", "block_order", "shuffle", "validation_subset", "keras")


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


def check_label_noise(rho: float) -> float:
    """Return ``rho`` as float if it is a valid label-noise probability, 0 <= rho < 0.5.

    At rho = 0.5 the labels carry no information; above it they are inverted
    (the limit is :data:`sgpoison.ml.settings.LABEL_NOISE`).

    Raises
    ------
    SettingsError
        Otherwise (option ``--label-noise``).
    """
    return float(LabelSettings.check_value("label_noise", float(rho), option="--label-noise"))


def phase_labels(temperatures: np.ndarray, t_label: float) -> np.ndarray:
    """Label of each temperature: 1 if T > t_label (high-temperature phase), else 0.

    Parameters
    ----------
    temperatures : array_like, shape (N_T,), float
    t_label : float
        Labelling temperature (units of J; see :class:`~sgpoison.ml.settings.LabelSettings`).

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


def validation_count(n_instances: int, validation_fraction: float) -> int:
    """Number of disorder instances held out for validation.

    ``round(validation_fraction * n_instances)``, at least 1 when the fraction is positive,
    0 when it is 0.
    """
    return 0 if validation_fraction == 0 else max(1, int(round(validation_fraction * n_instances)))


def split_instances(n_instances: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split instance positions into training and validation sets (by disorder instance).

    :func:`validation_count` instances, drawn at random, are held out.

    Returns
    -------
    train, validation : ndarray of int64, sorted

    Raises
    ------
    SettingsError
        If the fraction is outside [0, 1) or leaves no training instance
        (option ``--validation-fraction``).
    """
    LabelSettings.check_value("validation_fraction", validation_fraction, option="--validation-fraction")
    n_val = validation_count(n_instances, validation_fraction)
    if n_instances - n_val < 1:
        raise SettingsError(
            f"--validation-fraction {validation_fraction} with {n_instances} instance(s) leaves no "
            "training instance; the split is by disorder instance, so at least 2 are needed",
            "--validation-fraction")
    order = np.random.default_rng(seed).permutation(n_instances)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def prepare_training_set(path: str | os.PathLike, config: LabelSettings) -> TrainingSet:
    """Open a simulation file, split it by instance and draw the (noisy) labels.

    Parameters
    ----------
    path : path-like
        Simulation file (docs/data-format.md) with the variable ``overlap``.
    config : LabelSettings
        ``t_label``, ``label_noise``, ``seed`` and ``validation_fraction`` (a
        :class:`~sgpoison.ml.settings.TrainingConfig` or an audit's settings).

    Raises
    ------
    FileNotFoundError, DataFormatError
        If the file is missing, not a valid simulation file with ``overlap``, or has no
        ``sweep_fraction`` attribute.
    SettingsError
        Empty class (``--t-label``) or no training instance (``--validation-fraction``).
    """
    path = Path(path)
    seeds = derive_seeds(config.seed)
    layout = overlap_layout(path)
    attrs, L, temperatures = layout.attrs, layout.L, layout.temperatures
    instances, n_snapshots = layout.instances, layout.n_snapshots
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
