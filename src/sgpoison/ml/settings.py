"""Settings of the network, its training and its predictions, with their defaults and limits.

Kept apart from :mod:`sgpoison.ml.network` (which imports Keras) so that the command line
and the study configuration check (:mod:`sgpoison.config`) can read them without loading
TensorFlow. Defaults: Fang, Barzegar & Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001
(2020), Table III.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sgpoison.settings import COUNT, SEED, THREADS, Range, Settings, setting

#: padding modes of the convolution (:func:`sgpoison.ml.network.build_model`)
PADDINGS = ("same", "periodic")
#: learning rates of the Adam optimiser
LEARNING_RATE = Range(exclusive_minimum=0)
#: probability of flipping a label: at 0.5 the labels carry no information, above it they are inverted
LABEL_NOISE = Range(minimum=0, exclusive_maximum=0.5)
#: fraction of the disorder instances held out for validation (by instance, never by snapshot)
VALIDATION_FRACTION = Range(minimum=0, exclusive_maximum=1)


@dataclasses.dataclass(frozen=True)
class LabelSettings(Settings):
    """How the labels of a training set are made (shared by ``train`` and ``audit``).

    Attributes
    ----------
    t_label : float
        Labelling temperature (units of J): T > t_label -> label 1 (high-temperature
        phase), else 0. Paper: 0.95, just below T_c ~ 0.96 of the Gaussian EA model.
    label_noise : float
        rho, probability of flipping each training label, in [0, 0.5).
    seed : int
        Root seed; the streams of :data:`sgpoison.ml.labels.SEED_ROLES` are derived from it.
    validation_fraction : float
        Fraction of disorder instances held out for validation, in [0, 1).
    """

    t_label: float = setting(0.95, exclusive_minimum=0)
    label_noise: float = setting(0.0, limits=LABEL_NOISE)
    seed: int = setting(0, limits=SEED)
    validation_fraction: float = setting(0.2, limits=VALIDATION_FRACTION)


@dataclasses.dataclass(frozen=True)
class TrainingConfig(LabelSettings):
    """All parameters of one training run (defaults: paper Table III); see :class:`LabelSettings`.

    Attributes
    ----------
    iterations, batch_size : int
        Optimiser steps and examples per step (paper: 1e4 and 1000).
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    padding : {"same", "periodic"}
        Convolution padding, see :func:`sgpoison.ml.network.build_model`.
    channels, kernel_size, strides, dense_units, dropout
        Architecture, see :func:`sgpoison.ml.network.build_model`; ``dense_units``
        None: the number of convolution outputs.
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

    iterations: int = setting(10_000, limits=COUNT)
    batch_size: int = setting(1000, limits=COUNT)
    learning_rate: float = setting(1e-4, limits=LEARNING_RATE)
    padding: str = setting("same", choices=PADDINGS)
    channels: int = setting(5, limits=COUNT)
    kernel_size: int = setting(3, limits=COUNT)
    strides: int = setting(2, limits=COUNT)
    dense_units: int | None = setting(None, minimum=1, integer=True, optional=True)
    dropout: float = setting(0.2, minimum=0, exclusive_maximum=1)
    report_every: int = setting(100, limits=COUNT)
    validation_examples: int | None = setting(10_000, minimum=1, integer=True, optional=True)
    shuffle_buffer: int = setting(10_000, limits=COUNT)
    threads: int | None = setting(None, limits=THREADS)
    deterministic: bool = False
    scenario: str = "clean"

    def architecture(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sgpoison.ml.network.build_model`, L excluded."""
        return {
            "padding": self.padding, "channels": self.channels, "kernel_size": self.kernel_size,
            "strides": self.strides, "dense_units": self.dense_units, "dropout": self.dropout,
            "learning_rate": self.learning_rate,
        }


@dataclasses.dataclass(frozen=True)
class PredictionSettings(Settings):
    """Settings of :func:`sgpoison.ml.predict.predict`.

    Attributes
    ----------
    batch_size : int
        Snapshots per forward pass.
    threads : int or None
        TensorFlow threads; ``None``: TF default.
    """

    batch_size: int = setting(1000, limits=COUNT)
    threads: int | None = setting(None, limits=THREADS)
