"""Labels of a training set, and their poisoning by label noise.

Fang, Barzegar & Katzgraber 2020, Sec. III: every overlap snapshot of a
Gaussian-disorder simulation file is one example, with label 1 if its temperature
T > t_label (high-temperature phase) and 0 otherwise. The *label noise* poisoning
flips each training label independently with probability rho (``label_noise``,
``label_noise_mode = "independent"``), or each (instance, temperature) block of N_con
snapshots with probability rho (``"block"``: a mislabelled file or temperature index), from a
recorded seed; the realised number of flipped labels is stored. A wrong labelling temperature
(``t_label`` away from T_c) is the third label poisoning. The split into training and
validation parts is by disorder instance; the validation part keeps the *clean* labels.
The other poisoning, under-thermalised data, is a property of the simulation file
(attribute ``sweep_fraction``), recorded with the labels.

Every random stream of a training run derives from the root seed, the lattice size L and the
network index k (:func:`derive_seeds`); the same (L, k) gives the same streams in every
scenario on purpose (paired comparisons). :func:`training_set` is the training set of network k
(optionally a bootstrap resample of its instances); the null models and the audit use k = 0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import overlap_layout
from sgpoison.ml.settings import LABEL_NOISE_MODE, ClassifierSettings, LabelSettings



#: roles of the independent random streams of one network, in the order of their spawn key's
#: last entry (never reorder: it would change every network's streams)
SEED_ROLES = ("split", "label_noise", "block_order", "shuffle", "validation_subset", "keras",
              "augmentation", "bootstrap_instances")


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
    network_index : int
        k, the network whose streams made the split and the flips.
    seeds : dict of str to int
        :func:`derive_seeds` of (root seed, L, k).
    resampled : bool
        ``train_positions`` (with ``labels`` and ``flips``) is a bootstrap resample
        (:meth:`bootstrap_resample`): positions may repeat.
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
    network_index: int = 0
    seeds: dict = dataclasses.field(default_factory=dict)
    resampled: bool = False

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

    def labels_sha256(self) -> str:
        """SHA-256 of the training positions (int64) followed by the labels (int8, C order):
        equal iff two training sets train on the same labels of the same instances."""
        digest = hashlib.sha256(np.ascontiguousarray(self.train_positions, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int8).tobytes())
        return digest.hexdigest()

    def class_counts(self) -> dict[int, int]:
        """Number of training labels of class 0 and of class 1 (after label noise)."""
        n1 = int(np.count_nonzero(self.labels))
        return {0: int(self.labels.size) - n1, 1: n1}

    def bootstrap_resample(self, seed: int) -> "TrainingSet":
        """The same set with its training instances resampled with replacement.

        ``n_train`` draws of ``numpy.random.default_rng(seed).integers(n_train)``, sorted (for
        reading the file in order); the labels and flips of an instance travel with it.
        """
        n = len(self.train_positions)
        draw = np.sort(np.random.default_rng(seed).integers(0, n, size=n))
        return dataclasses.replace(self, train_positions=self.train_positions[draw],
                                   labels=self.labels[draw], flips=self.flips[draw], resampled=True)


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


def derive_seeds(seed: int, L: int, network_index: int = 0) -> dict[str, int]:
    """Independent seeds for each random stream of network ``network_index`` of size ``L``.

    The j-th role of :data:`SEED_ROLES` gets
    ``numpy.random.SeedSequence(seed, spawn_key=(L, network_index, j))`` -- the j-th child of
    ``SeedSequence(seed, spawn_key=(L, network_index))`` -- reduced to one 32-bit integer
    (TensorFlow and Keras take plain integers). Streams differ between sizes and networks and
    are the same in every scenario (design.md: paired comparisons).

    Returns
    -------
    dict of str to int
        ``seed``, ``L``, ``network_index`` and one entry per role.
    """
    seeds = {"seed": int(seed), "L": int(L), "network_index": int(network_index)}
    parent = np.random.SeedSequence(int(seed), spawn_key=(int(L), int(network_index)))
    for role, child in zip(SEED_ROLES, parent.spawn(len(SEED_ROLES))):
        seeds[role] = int(child.generate_state(1)[0])
    return seeds


def label_flips(shape: tuple[int, ...], rho: float, seed: int, mode: str = LABEL_NOISE_MODE) -> np.ndarray:
    """Draw label flips, each with probability rho.

    Parameters
    ----------
    shape : tuple of int
        Shape of the label array, (n_train, N_T, N_con).
    rho : float
        Flip probability, 0 <= rho < 0.5.
    seed : int
        Seed of the ``numpy.random.default_rng`` stream.
    mode : {"independent", "block"}
        ``independent``: one draw ``random(shape) < rho`` per label. ``block``: one draw
        ``random(shape[:-1]) < rho`` per (instance, temperature) block, repeated over its
        ``shape[-1]`` snapshots. The expected fraction of flipped labels is rho in both.

    Returns
    -------
    ndarray of bool, ``shape``
        ``True`` where the label is flipped; the count is Binomial(size, rho) (independent)
        or N_con times Binomial(size / N_con, rho) (block). For rho = 0 no flips (and no
        random numbers are drawn), whatever the mode.

    Raises
    ------
    SettingsError
        If rho is outside [0, 0.5) (option ``--label-noise``) or the mode is unknown
        (``--label-noise-mode``).
    """
    rho = check_label_noise(rho)
    LabelSettings.check_value("label_noise_mode", mode, option="--label-noise-mode")
    if rho == 0.0:
        return np.zeros(shape, dtype=bool)
    rng = np.random.default_rng(seed)
    if mode == "block":
        return np.broadcast_to((rng.random(shape[:-1]) < rho)[..., None], shape).copy()
    return rng.random(shape) < rho


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


def prepare_training_set(path: str | os.PathLike, config: LabelSettings,
                         network_index: int = 0) -> TrainingSet:
    """Open a simulation file, split it by instance and draw the (noisy) labels of network k.

    The split and the flips (:func:`label_flips` in ``config.label_noise_mode``) come from the
    ``split`` and ``label_noise`` streams of :func:`derive_seeds` (``config.seed``, L of the
    file, ``network_index``). The CNNs, the null models and the audit all build their labels here.

    Parameters
    ----------
    path : path-like
        Simulation file (docs/data-format.md) with the variable ``overlap``.
    config : LabelSettings
        ``t_label``, ``label_noise``, ``label_noise_mode``, ``seed`` and ``validation_fraction`` (a
        :class:`~sgpoison.ml.settings.TrainingConfig` or an audit's settings).
    network_index : int
        k; the audit and the null models use 0.

    Raises
    ------
    FileNotFoundError, DataFormatError
        If the file is missing, not a valid simulation file with ``overlap``, or has no
        ``sweep_fraction`` attribute.
    SettingsError
        Empty class (``--t-label``) or no training instance (``--validation-fraction``).
    """
    path = Path(path)
    layout = overlap_layout(path)
    attrs, L, temperatures = layout.attrs, layout.L, layout.temperatures
    seeds = derive_seeds(config.seed, L, network_index)
    instances, n_snapshots = layout.instances, layout.n_snapshots
    if "sweep_fraction" not in attrs:
        raise DataFormatError(f"{path}: missing attribute 'sweep_fraction'")
    temperature_labels = phase_labels(temperatures, config.t_label)
    train_pos, val_pos = split_instances(len(instances), config.validation_fraction, seeds["split"])
    shape = (len(train_pos), len(temperatures), n_snapshots)
    flips = label_flips(shape, config.label_noise, seeds["label_noise"], config.label_noise_mode)
    clean = np.broadcast_to(temperature_labels[None, :, None], shape)
    labels = (clean ^ flips).astype(np.int8)
    return TrainingSet(path, L, n_snapshots, temperatures, temperature_labels, instances,
                       train_pos, val_pos, labels, flips, attrs, int(network_index), seeds)


def training_set(path: str | os.PathLike, config: ClassifierSettings, network_index: int = 0) -> TrainingSet:
    """The training set of network ``network_index``: :func:`prepare_training_set`, then, with
    ``config.bootstrap_instances``, :meth:`TrainingSet.bootstrap_resample` with the network's
    ``bootstrap_instances`` seed. The null models use ``network_index = 0``, so they train on
    exactly network 0's set.

    Raises
    ------
    As :func:`prepare_training_set`.
    """
    tset = prepare_training_set(path, config, network_index)
    if config.bootstrap_instances:
        tset = tset.bootstrap_resample(tset.seeds["bootstrap_instances"])
    return tset


def class_weights(counts: dict[int, int], balance: bool = True) -> dict[int, float]:
    """Loss weight of each class: ``w_c = n / (2 n_c)`` (``balance``) or 1.

    With these weights the two classes contribute equally to the loss,
    ``sum_c n_c w_c = n`` (scikit-learn's ``class_weight="balanced"``).

    Parameters
    ----------
    counts : dict {0: n_0, 1: n_1}
        Labels of each class in the training set (:meth:`TrainingSet.class_counts`).

    Raises
    ------
    SettingsError
        If ``balance`` and a class has no label (option ``--t-label``).
    """
    if not balance:
        return {0: 1.0, 1: 1.0}
    n = counts[0] + counts[1]
    if min(counts[0], counts[1]) == 0:
        raise SettingsError(f"class counts {counts}: a class without labels cannot be weighted", "--t-label")
    return {c: n / (2.0 * counts[c]) for c in (0, 1)}
