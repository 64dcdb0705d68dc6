"""Settings of the classifiers, their training and their predictions, with defaults and limits.

Kept apart from :mod:`sgpoison.ml.network` (which imports Keras) so that the command line
and the study configuration check (:mod:`sgpoison.config`) can read them without loading
TensorFlow. The network's defaults are Fang, Barzegar & Katzgraber, Mach. Learn.: Sci.
Technol. 1, 045001 (2020), Table III; what the paper does not give (hidden layer, dropout,
padding, symmetries, class weights, best checkpoint) is documented in docs/network.md.

* :class:`LabelSettings` -- how the labels of a training set are made (train, audit, nulls);
* :class:`ClassifierSettings` -- plus what every classifier of a family shares (class
  weights, bootstrap of the training instances);
* :class:`TrainingConfig` -- one CNN ensemble member (``network_index``);
* :class:`NullSettings` -- the logistic-regression null models (:mod:`sgpoison.ml.null`);
* :class:`PredictionSettings` -- ``sgpoison predict``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from sgpoison.errors import SettingsError
from sgpoison.settings import COUNT, SEED, THREADS, Range, Settings, setting

#: padding modes of the convolution (:func:`sgpoison.ml.network.build_model`)
PADDINGS = ("same", "periodic")
#: Keras dtype policies of the network (``float32``: no mixed precision)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
#: learning rates of the Adam optimiser
LEARNING_RATE = Range(exclusive_minimum=0)
#: probability of flipping a label: at 0.5 the labels carry no information, above it they are inverted
LABEL_NOISE = Range(minimum=0, exclusive_maximum=0.5)
#: fraction of the disorder instances held out for validation (by instance, never by snapshot)
VALIDATION_FRACTION = Range(minimum=0, exclusive_maximum=1)
#: index k of a network in its ensemble (cnn0, cnn1, ...)
NETWORK_INDEX = Range(minimum=0, integer=True)
#: how label noise is drawn (attribute ``label_noise_mode`` of models and predictions,
#: :func:`sgpoison.ml.labels.label_flips`): ``independent`` flips every training label with
#: probability rho (the paper's poisoning); ``block`` flips whole (instance, temperature) blocks
#: of N_con snapshots, each with probability rho (a mislabelled file or temperature index)
LABEL_NOISE_MODES = ("independent", "block")
#: the default mode, and that of files written before modes existed
LABEL_NOISE_MODE = "independent"

#: observables of the null models (:mod:`sgpoison.ml.null`): the link overlap q_l, the squared
#: overlap q^2, and both
NULL_OBSERVABLES = ("ql", "q2", "q2_ql")


def null_classifier(observables: str) -> str:
    """Classifier name of a null model: ``"ql"`` -> ``"null_ql"``."""
    return f"null_{observables}"


def settings_sha256(values: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys) of ``values``: the ``settings_sha256`` of a
    classifier family (equal for every L and network of one family, design.md)."""
    from sgpoison.io.jsonio import to_json

    return hashlib.sha256(to_json(values, sort_keys=True).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class LabelSettings(Settings):
    """How the labels of a training set are made (shared by ``train``, ``train-null`` and ``audit``).

    Attributes
    ----------
    t_label : float
        Labelling temperature (units of J): T > t_label -> label 1 (high-temperature
        phase), else 0. Paper: 0.95, just below T_c ~ 0.96 of the Gaussian EA model.
    label_noise : float
        rho, probability of flipping each training label, in [0, 0.5).
    label_noise_mode : {"independent", "block"}
        What one flip with probability rho relabels: one snapshot (``independent``) or the
        whole (instance, temperature) block of N_con snapshots (``block``); the expected
        fraction of flipped labels is rho either way (:data:`LABEL_NOISE_MODES`).
    seed : int
        Root seed; network k of size L derives its streams (:data:`sgpoison.ml.labels.SEED_ROLES`)
        from ``SeedSequence(seed, spawn_key=(L, k))`` (:func:`sgpoison.ml.labels.derive_seeds`).
    validation_fraction : float
        Fraction of disorder instances held out for validation, in [0, 1).
    """

    t_label: float = setting(0.95, exclusive_minimum=0)
    label_noise: float = setting(0.0, limits=LABEL_NOISE)
    label_noise_mode: str = setting(LABEL_NOISE_MODE, choices=LABEL_NOISE_MODES)
    seed: int = setting(0, limits=SEED)
    validation_fraction: float = setting(0.2, limits=VALIDATION_FRACTION)


@dataclasses.dataclass(frozen=True)
class ClassifierSettings(LabelSettings):
    """What the CNNs and the null models of one training set share (see :class:`LabelSettings`).

    Attributes
    ----------
    balance_classes : bool
        Weight the loss by class frequency: an example of class c counts
        ``w_c = n / (2 n_c)`` (n training labels, n_c of them c, after label noise; the
        "balanced" weights of scikit-learn), so both phases weigh the same whatever the
        temperature ladder. Off: every example counts 1.
    bootstrap_instances : bool
        Train on a bootstrap resample (with replacement) of the training instances, drawn per
        network from its ``bootstrap_instances`` seed (the null models use network 0's).
    """

    balance_classes: bool = True
    bootstrap_instances: bool = False

    #: fields that do not change what a family member learns beyond its random streams, or
    #: that name it: left out of :meth:`family_sha256`
    _NOT_FAMILY = ("seed", "network_index", "threads", "deterministic", "jit_compile", "scenario")

    def family_settings(self) -> dict[str, Any]:
        """The settings that must agree between all sizes and networks of one classifier family:
        every field except the seed, the network index and the execution options (threads,
        determinism, XLA) and the scenario's name."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self._NOT_FAMILY}

    def family_sha256(self) -> str:
        """:func:`settings_sha256` of :meth:`family_settings`."""
        return settings_sha256(self.family_settings())


@dataclasses.dataclass(frozen=True)
class TrainingConfig(ClassifierSettings):
    """All parameters of one training run (defaults: paper Table III); see :class:`ClassifierSettings`.

    Attributes
    ----------
    network_index : int
        k, the network's index in its ensemble; with ``seed`` and L it fixes every random
        stream (:func:`sgpoison.ml.labels.derive_seeds`).
    iterations, batch_size : int
        Optimiser steps and examples per step (paper: 1e4 and 1000).
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    padding : {"periodic", "same"}
        Convolution padding, see :func:`sgpoison.ml.network.build_model` (the lattice is
        periodic; ``same`` is the zero padding of Keras).
    channels, kernel_size, strides, dense_units, dropout
        Architecture, see :func:`sgpoison.ml.network.build_model`; ``dense_units``
        None: the number of convolution outputs (L^3 * 5 / 8).
    augment_sign_flip, augment_translations, augment_cube_symmetries : bool
        Training-batch augmentation by the symmetries of the overlap field
        (:mod:`sgpoison.ml.augment`): a random global sign q -> -q, a random periodic
        translation, a random element of the 48 cube symmetries.
    symmetrize : bool
        Classify with the sign-symmetrised output (p(q) + p(-q)) / 2, in validation and
        prediction.
    keep_best : bool
        Keep the weights of the report with the lowest validation loss (best checkpoint).
    patience : int or None
        Stop after this many reports without a lower validation loss; None: never stop early.
    report_every : int
        Iterations between history rows (training metrics are averaged over
        these iterations; validation metrics computed at the row).
    validation_examples : int or None
        Size of the fixed validation subset evaluated at each row (whole
        blocks of snapshots, drawn at random from the validation instances);
        ``None``: the whole validation set, held in memory. The final evaluation always
        uses every validation instance.
    shuffle_buffer : int
        Examples in the shuffle buffer.
    mixed_precision : {"float32", "mixed_bfloat16", "mixed_float16"}
        Keras dtype policy of the network's layers (the softmax stays float32).
    jit_compile : bool
        Compile the training step with XLA.
    threads : int or None
        TensorFlow intra-/inter-op and tf.data threads; ``None``: TF default.
    deterministic : bool
        Enable TensorFlow op determinism (bitwise reproducible on one device type).
    scenario : str
        Free label of the training scenario (e.g. ``clean``,
        ``label_noise_1pct``), recorded in the outputs.
    """

    network_index: int = setting(0, limits=NETWORK_INDEX)
    iterations: int = setting(10_000, limits=COUNT)
    batch_size: int = setting(1000, limits=COUNT)
    learning_rate: float = setting(1e-4, limits=LEARNING_RATE)
    padding: str = setting("periodic", choices=PADDINGS)
    channels: int = setting(5, limits=COUNT)
    kernel_size: int = setting(3, limits=COUNT)
    strides: int = setting(2, limits=COUNT)
    dense_units: int | None = setting(None, minimum=1, integer=True, optional=True)
    dropout: float = setting(0.2, minimum=0, exclusive_maximum=1)
    augment_sign_flip: bool = True
    augment_translations: bool = True
    augment_cube_symmetries: bool = False
    symmetrize: bool = True
    keep_best: bool = True
    patience: int | None = setting(None, minimum=1, integer=True, optional=True)
    report_every: int = setting(100, limits=COUNT)
    validation_examples: int | None = setting(10_000, minimum=1, integer=True, optional=True)
    shuffle_buffer: int = setting(10_000, limits=COUNT)
    mixed_precision: str = setting("float32", choices=PRECISIONS)
    jit_compile: bool = False
    threads: int | None = setting(None, limits=THREADS)
    deterministic: bool = False
    scenario: str = "clean"

    def architecture(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sgpoison.ml.network.build_model`, L excluded."""
        return {
            "padding": self.padding, "channels": self.channels, "kernel_size": self.kernel_size,
            "strides": self.strides, "dense_units": self.dense_units, "dropout": self.dropout,
            "learning_rate": self.learning_rate, "mixed_precision": self.mixed_precision,
            "jit_compile": self.jit_compile,
        }

    def augmentation(self) -> dict[str, bool]:
        """Keyword arguments of :class:`sgpoison.ml.augment.SymmetryAugmentation`."""
        return {"sign_flip": self.augment_sign_flip, "translations": self.augment_translations,
                "cube_symmetries": self.augment_cube_symmetries}


@dataclasses.dataclass(frozen=True)
class NullSettings(ClassifierSettings):
    """Settings of the null models (:mod:`sgpoison.ml.null`); see :class:`ClassifierSettings`.

    The label settings, ``balance_classes`` and ``bootstrap_instances`` must equal those of
    the CNNs: a null model is trained on exactly network 0's training set.

    Attributes
    ----------
    observables : tuple of str
        Which null models to fit, each one of :data:`NULL_OBSERVABLES`, no repeats.
    inverse_regularization : float
        C of scikit-learn's ``LogisticRegression`` (L2 penalty 1 / (2C) |w|^2 on the
        standardised features, the intercept unpenalised).
    max_iterations : int
        Iterations of the L-BFGS solver.
    scenario : str
        Free label of the training scenario, recorded in the outputs.
    """

    observables: tuple[str, ...] = NULL_OBSERVABLES
    inverse_regularization: float = setting(1.0, exclusive_minimum=0)
    max_iterations: int = setting(1000, limits=COUNT)
    scenario: str = "clean"

    def __post_init__(self) -> None:
        super().__post_init__()
        observables = tuple(self.observables)
        for name in observables:
            if name not in NULL_OBSERVABLES:
                raise SettingsError(f"unknown null-model observables {name!r}; expected one of "
                                    f"{', '.join(NULL_OBSERVABLES)}", key="observables")
        if not observables or len(set(observables)) != len(observables):
            raise SettingsError(f"observables must name each null model once, got {list(observables)}",
                                key="observables")
        object.__setattr__(self, "observables", observables)

    def family_settings(self, observables: str | None = None) -> dict[str, Any]:
        """As :meth:`ClassifierSettings.family_settings`, for the one null model ``observables``."""
        values = super().family_settings()
        if observables is not None:
            values["observables"] = observables
        return values

    def family_sha256(self, observables: str | None = None) -> str:
        return settings_sha256(self.family_settings(observables))


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
