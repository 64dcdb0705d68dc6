"""Settings of the finite-size-scaling analyses, and the least data they need.

The limits here are the ones the command line (``sgpoison analyze``, ``sgpoison
conventional``) and the study configuration (``analysis.*``, ``sizes``, the bimodal
``n_instances``; :mod:`sgpoison.config`) enforce.
"""

from __future__ import annotations

import dataclasses
import math

from sgpoison.errors import SettingsError
from sgpoison.settings import SEED, Settings, setting

#: fewest system sizes for a finite-size-scaling analysis (two pairs of successive sizes)
MIN_SIZES = 3
#: fewest temperatures for which a cubic smoothing spline is fitted
MIN_TEMPERATURES = 5
#: fewest disorder instances per size: a standard error (and a bootstrap) needs two
MIN_INSTANCES = 2


@dataclasses.dataclass(frozen=True)
class BootstrapSettings(Settings):
    """Bootstrap and the stability of a crossing (both analyses).

    Attributes
    ----------
    n_bootstrap : int
        Bootstrap resamples of the disorder instances (and, in ``analyze``, of the networks of
        an ensemble); each redoes the whole analysis. At least 10, below which a percentile
        interval means nothing.
    seed : int
        Seed of the bootstrap (:func:`sgpoison.bootstrap.bootstrap_indices`).
    confidence : float
        Coverage of the percentile intervals (0.68: 16th to 84th percentile).
    n_fine : int
        Points of the fine temperature grid on which splines are evaluated.
    min_bootstrap_fraction : float
        Smallest fraction of bootstrap samples in which the crossing exists.
    max_interval_fraction : float
        Largest width of the crossing's interval, as a fraction of the temperature window.
    """

    n_bootstrap: int = setting(200, minimum=10, integer=True)
    seed: int = setting(0, limits=SEED)
    confidence: float = setting(0.68, exclusive_minimum=0, exclusive_maximum=1)
    n_fine: int = setting(401, minimum=11, integer=True)
    min_bootstrap_fraction: float = setting(0.9, minimum=0, maximum=1)
    max_interval_fraction: float = setting(0.25, minimum=0, maximum=1)


def _check_p_range(settings: Settings, name: str) -> None:
    lo, hi = getattr(settings, name)
    if not 0 <= lo < hi <= 1:
        raise SettingsError(f"{name} must satisfy 0 <= lo < hi <= 1, got {getattr(settings, name)}", key=name)


def _check_positive_range(settings: Settings, name: str) -> None:
    lo, hi = getattr(settings, name)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise SettingsError(f"{name} must satisfy 0 < lo < hi, got {getattr(settings, name)}", key=name)


#: what is averaged: the mean probability of label 1 (``p``) or the class fraction of the hard
#: argmax (``fraction_high``, the authors' "fraction of configurations classified as high T")
OBSERVABLES = ("p", "fraction_high")


@dataclasses.dataclass(frozen=True)
class AnalysisSettings(BootstrapSettings):
    """Parameters of the finite-size scaling of p(T, L) and of its verdict (``sgpoison analyze``).

    Besides those of :class:`BootstrapSettings` (``max_interval_fraction`` is not used here):

    Attributes
    ----------
    observable : {"p", "fraction_high"}
        The prediction variable that is averaged (docs/analysis.md).
    network_level : bool
        Resample the networks of the ensemble in the bootstrap (two-level bootstrap); False
        resamples disorder instances only (for tests of the coverage of the intervals).
    paper_chain : bool
        Compute the paper's chain (``nu_ml`` from the maxima of d<p>/dT, ``paper_Tc_linear``,
        ``paper_Tc_collapse``).
    collapse : bool
        Fit the full data collapse (and ``Tc_linear``, which needs its nu). With
        ``paper_chain`` and ``collapse`` False only the crossings are computed (cheap path,
        e.g. coverage tests); the verdict then fails ``collapse_acceptable``.
    collapse_p_range : (float, float)
        Only points with ``lo <= <p>(T, L) <= hi`` enter the collapse fits; a cubic
        describes the scaling function near its centre, not its saturated tails.
    derivative_p_range : (float, float)
        Temperatures with ``<p>`` in this range enter the local cubic fit whose
        derivative maximum gives ``nu_ml`` (:func:`sgpoison.fss.chain.derivative_maximum`).
    collapse_nu_bounds : (float, float)
        Bounds of ``nu`` in the full collapse; a fit ending on a bound does not exist.
    collapse_correction_omega : float or None
        Exponent omega of one correction-to-scaling term ``L^-omega (g_0 + g_1 x)`` added to
        the cubic of the full collapse; None (default): no correction.
    linear_nu_range : (float, float)
        Range of nu over which the sensitivity of ``Tc_linear`` to nu is reported.
    max_reduced_chi2 : float
        Largest acceptable reduced chi^2 of the full collapse (check ``collapse_acceptable``).
    significance_z : float
        The size ordering must be reversed with at least this many standard errors on both
        sides of the crossing (check ``crossing_significant``).
    comparison_confidence : float
        Coverage of the intervals of the CNN - null differences and of the crossing drift;
        a difference is distinguishable from 0 when this interval excludes 0.
    """

    observable: str = setting("p", choices=OBSERVABLES)
    network_level: bool = True
    paper_chain: bool = True
    collapse: bool = True
    collapse_p_range: tuple[float, float] = (0.2, 0.8)
    derivative_p_range: tuple[float, float] = (0.1, 0.9)
    collapse_nu_bounds: tuple[float, float] = (0.2, 10.0)
    collapse_correction_omega: float | None = setting(None, exclusive_minimum=0, optional=True)
    linear_nu_range: tuple[float, float] = (0.5, 10.0)
    max_reduced_chi2: float = setting(3.0, exclusive_minimum=0)
    significance_z: float = setting(3.0, exclusive_minimum=0)
    comparison_confidence: float = setting(0.95, exclusive_minimum=0, exclusive_maximum=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_p_range(self, "collapse_p_range")
        _check_p_range(self, "derivative_p_range")
        _check_positive_range(self, "collapse_nu_bounds")
        _check_positive_range(self, "linear_nu_range")


@dataclasses.dataclass(frozen=True)
class ConventionalSettings(BootstrapSettings):
    """Parameters of the conventional analysis (``sgpoison conventional``): those of
    :class:`BootstrapSettings`, which here refer to the crossing of xi_L/L."""
