"""Settings of the training-set audit, with their defaults and limits (docs/audit.md)."""

from __future__ import annotations

import dataclasses

from sgpoison.errors import SettingsError
from sgpoison.ml.settings import LEARNING_RATE, NULL_OBSERVABLES, PADDINGS, LabelSettings, null_classifier
from sgpoison.settings import COUNT, SEED, THREADS, setting

#: audit policies: ``warn`` reports a failing audit, ``refuse`` also stops the workflow
POLICIES = ("warn", "refuse")

#: classifiers whose out-of-fold probabilities the noise estimate can use: the CNN, or a
#: logistic regression on observables of the overlap (the null models, :mod:`sgpoison.ml.null`)
NOISE_CLASSIFIERS = ("cnn",) + tuple(null_classifier(name) for name in NULL_OBSERVABLES)

#: fewest disorder instances for a verdict: with fewer, the bootstrap errors and the
#: Student-t critical values (c ~ 5 for 8 instances and 48 tests) leave the tests powerless
MIN_INSTANCES = 16


@dataclasses.dataclass(frozen=True)
class AuditConfig(LabelSettings):
    """All parameters of one audit.

    Attributes
    ----------
    t_label, label_noise, seed, validation_fraction
        As for ``sgpoison train`` (:class:`~sgpoison.ml.settings.LabelSettings`): the audit
        rebuilds the exact training labels with :func:`sgpoison.ml.labels.prepare_training_set`.
    policy : {"warn", "refuse"}
        What a failing audit does: ``warn`` reports it, ``refuse`` also makes
        ``sgpoison audit`` exit with :data:`sgpoison.audit.report.REFUSE_EXIT_CODE`.
    significance : float
        Probability of a false "not thermalized" for a thermalized file: the
        family-wise error of all log-binning tests of the file, in (0, 1).
    n_bootstrap, bootstrap_seed : int
        Bootstrap resamples of the instances for the thermalization errors, and their seed.
    swap_floor : float
        Smallest acceptable instance-averaged swap acceptance of a temperature pair.
    estimate_noise : bool
        Run the data-driven label-noise estimate (trains ``n_folds`` classifiers).
    noise_classifier : str
        One of :data:`NOISE_CLASSIFIERS`: ``"cnn"`` (the study's network) or a null model
        ``"null_<observables>"`` (logistic regression on q^2 and/or the link overlap, seconds
        instead of minutes; docs/audit.md compares the two).
    n_folds, epochs, batch_size, learning_rate, padding
        Cross-validation of the noise estimate: folds by disorder instance; for the CNN
        also the passes over each fold's training part and the network's settings
        (:func:`sgpoison.ml.network.build_model`).
    band : float
        The noise estimate uses temperatures with |T - t_label| >= band only.
    target_rate : float
        The label-noise rate the audit must be able to see (the study's poisoning, 1 %).
    tolerance : float
        Noise is "detected" only if the lower end of the interval exceeds this; below ``target_rate``.
    noise_bootstrap : int
        Bootstrap resamples (over instances) of the noise estimate.
    confidence : float
        Coverage of the reported intervals.
    max_instances : int, optional
        Use at most this many training instances for the noise estimate.
    threads : int, optional
        TensorFlow threads.
    """

    policy: str = setting("warn", choices=POLICIES)
    significance: float = setting(0.05, exclusive_minimum=0, exclusive_maximum=1)
    n_bootstrap: int = setting(1000, minimum=2, integer=True)
    bootstrap_seed: int = setting(0, limits=SEED)
    swap_floor: float = setting(0.1, minimum=0, maximum=1)
    estimate_noise: bool = True
    noise_classifier: str = setting("cnn", choices=NOISE_CLASSIFIERS)
    n_folds: int = setting(5, minimum=2, integer=True)
    epochs: float = setting(3.0, exclusive_minimum=0)
    batch_size: int = setting(256, limits=COUNT)
    learning_rate: float = setting(1e-3, limits=LEARNING_RATE)
    padding: str = setting("same", choices=PADDINGS)
    band: float = setting(0.1, minimum=0)
    target_rate: float = setting(0.01, exclusive_minimum=0, exclusive_maximum=0.5)
    tolerance: float = setting(0.0025, minimum=0)
    noise_bootstrap: int = setting(200, minimum=10, integer=True)
    confidence: float = setting(0.95, minimum=0.5, exclusive_maximum=1)
    max_instances: int | None = setting(None, minimum=2, integer=True, optional=True)
    threads: int | None = setting(None, limits=THREADS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.tolerance < self.target_rate:
            raise SettingsError(f"tolerance must be below the target rate {self.target_rate:g}, "
                                f"got {self.tolerance!r}", key="tolerance")
