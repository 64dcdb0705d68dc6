"""Settings of the finite-size-scaling analyses, and the least data they need.

The limits here are the ones the command line (``sgpoison analyze``, ``sgpoison
conventional``) and the study configuration (``analysis.*``, ``sizes``, the bimodal
``n_instances``; :mod:`sgpoison.config`) enforce.
"""

from __future__ import annotations

import dataclasses

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
    """Bootstrap over disorder instances and the stability of a crossing (both analyses).

    Attributes
    ----------
    n_bootstrap : int
        Bootstrap resamples of the disorder instances (each redoes the whole analysis);
        at least 10, below which a percentile interval means nothing.
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


@dataclasses.dataclass(frozen=True)
class AnalysisSettings(BootstrapSettings):
    """Parameters of the finite-size scaling of p(T, L) and of its verdict (``sgpoison analyze``).

    Besides those of :class:`BootstrapSettings` (which here refer to Tc_linear):

    Attributes
    ----------
    collapse : bool
        Fit the data collapse (set False for a cheap path, e.g. coverage tests).
    collapse_p_range : (float, float)
        Only points with ``lo <= <p>(T, L) <= hi`` enter the collapse fit; a cubic
        describes the scaling function near its centre, not its saturated tails.
    derivative_p_range : (float, float)
        Temperatures with ``<p>`` in this range enter the local cubic fit whose
        derivative maximum gives ``nu_ml`` (:func:`sgpoison.fss.chain.derivative_maximum`).
    collapse_nu_bounds : (float, float)
        Bounds of ``nu`` in the collapse fit; a fit ending on a bound is rejected.
    max_reduced_chi2 : float
        Largest acceptable reduced chi^2 of the collapse.
    significance_z : float
        The size ordering must be reversed with at least this many standard errors of
        the linear coefficient on both sides of Tc (check ``crossing_significant``).
    min_pair_crossing_fraction : float
        Smallest fraction of successive-size pairs whose curves cross inside the window.
    """

    collapse: bool = True
    collapse_p_range: tuple[float, float] = (0.2, 0.8)
    derivative_p_range: tuple[float, float] = (0.1, 0.9)
    collapse_nu_bounds: tuple[float, float] = (0.2, 10.0)
    max_reduced_chi2: float = setting(3.0, exclusive_minimum=0)
    significance_z: float = 3.0
    min_pair_crossing_fraction: float = setting(0.5, minimum=0, maximum=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_p_range(self, "collapse_p_range")
        _check_p_range(self, "derivative_p_range")


@dataclasses.dataclass(frozen=True)
class ConventionalSettings(BootstrapSettings):
    """Parameters of the conventional analysis (``sgpoison conventional``): those of
    :class:`BootstrapSettings`, which here refer to the crossing of xi_L/L."""
