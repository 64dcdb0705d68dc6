"""The finite-size-scaling chain on disorder-averaged curves, and its bootstrap.

One pass (:func:`fss_chain`) turns ``<p>(T, L)`` and its standard errors into the
estimates of Fang, Barzegar & Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001 (2020):

1. crossings of the curves of successive sizes and of ``<p> = 1/2`` (cubic smoothing
   splines between the simulated temperatures);
2. ``nu_ml`` from the maxima of ``d<p>/dT``, which scale as ``L^(1/nu_ml)`` (paper
   Eq. 6; :func:`derivative_maximum` and a log-log linear fit);
3. ``Tc_linear``: the temperature where the linear coefficient of ``<p>`` versus
   ``L^(1/nu_ml)`` changes sign (paper Fig. 1c);
4. the data collapse (:mod:`sgpoison.fss.collapse`) started from (Tc_linear, nu_ml).

:func:`bootstrap_chain` redoes the chain on resampled disorder instances (within each L).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sgpoison.bootstrap import bootstrap_indices
from sgpoison.fss.collapse import CollapseFit, fit_collapse
from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.stats import STDERR_FLOOR, disorder_average, oriented_root, smoothing_spline, weighted_line



@dataclass
class ChainResult:
    """All estimates of one pass of the analysis chain (central data or one bootstrap sample).

    Arrays over sizes have shape (n_L,), over pairs of successive sizes (n_L - 1,),
    over simulated temperatures (n_T,), over the fine grid (n_fine,).
    """

    fine_temperature: np.ndarray
    smooth: np.ndarray                      # (n_L, n_fine) spline of <p>
    derivative: np.ndarray                  # (n_L, n_fine) d<p>/dT of the spline
    pair_crossings: np.ndarray              # (n_L - 1,)
    p_half: np.ndarray                      # (n_L,) T where the spline crosses 1/2
    derivative_maximum: np.ndarray          # (n_L,) max_T d<p>/dT (local cubic)
    derivative_maximum_temperature: np.ndarray  # (n_L,)
    derivative_maximum_interior: np.ndarray  # (n_L,) bool
    inverse_nu_ml: float
    nu_ml: float
    loglog_intercept: float
    loglog_slope_error: float
    linear_coefficient: np.ndarray          # (n_T,) slope b(T) of <p> vs L^(1/nu_ml)
    linear_coefficient_error: np.ndarray    # (n_T,)
    linear_coefficient_fine: np.ndarray     # (n_fine,) from the splines
    normalisation: float                    # max_T |b_fine|
    Tc_linear: float
    z_below: float
    z_above: float
    collapse: CollapseFit | None

    def scalars(self) -> dict[str, float]:
        """The scalar estimates that are bootstrapped, by name."""
        c = self.collapse
        out = {
            "Tc_linear": self.Tc_linear,
            "nu_ml": self.nu_ml,
            "inverse_nu_ml": self.inverse_nu_ml,
            "Tc_collapse": c.Tc if c is not None and c.success else math.nan,
            "nu_collapse": c.nu if c is not None and c.success else math.nan,
            "collapse_reduced_chi2": c.reduced_chi2 if c is not None and c.success else math.nan,
            "collapse_quality_S": c.quality_S if c is not None and c.success else math.nan,
        }
        return out


def derivative_maximum(temperature: np.ndarray, mean: np.ndarray, stderr: np.ndarray,
                       p_range: tuple[float, float]) -> tuple[float, float, bool]:
    """Maximum of d<p>/dT of one size from a local cubic fit.

    A weighted cubic ``<p> = sum_k a_k (T - T_m)^k`` (weights ``1/stderr^2``,
    ``T_m`` the mean of the fitted temperatures) is fitted to the temperatures
    whose ``<p>`` lies in ``p_range``; the maximum of its derivative is at the
    inflection point ``T* = T_m - a_2 / (3 a_3)`` (requires ``a_3 < 0``) and must
    lie inside the fitted temperature span. Because the window is defined in
    ``p``, under exact scaling ``<p> = F(L^(1/nu)(T - Tc))`` it covers the same
    range of the scaling variable for every L, so the smoothing bias of the
    cubic is the same factor for all sizes and cancels in the slope of
    ``log max d<p>/dT`` vs ``log L`` (paper Eq. 6).

    When fewer than 5 temperatures lie in ``p_range`` (a curve steeper than the
    temperature grid), the 5 consecutive temperatures centred on the one with
    ``<p>`` closest to 1/2 are used instead.

    Parameters
    ----------
    temperature, mean, stderr : ndarray, shape (n_T,), float64
    p_range : (float, float)

    Returns
    -------
    value : float
        ``max d<p>/dT`` (units 1/J), NaN with fewer than 5 finite points.
    location : float
        Temperature of the maximum (NaN if undefined).
    interior : bool
        True if the derivative has a maximum strictly inside the fitted span.
    """
    lo, hi = p_range
    sel = np.isfinite(mean) & (mean >= lo) & (mean <= hi)
    if np.count_nonzero(sel) < 5:
        # a curve steeper than the temperature grid: the 5 temperatures around <p> = 1/2
        finite = np.nonzero(np.isfinite(mean))[0]
        if finite.size < 5:
            return math.nan, math.nan, False
        centre = int(np.argmin(np.abs(mean[finite] - 0.5)))
        start = min(max(centre - 2, 0), finite.size - 5)
        sel = np.zeros(mean.shape, dtype=bool)
        sel[finite[start:start + 5]] = True
    t = temperature[sel]
    tm = float(t.mean())
    w = 1.0 / np.maximum(stderr[sel], STDERR_FLOOR)
    V = np.vander(t - tm, 4, increasing=True)
    a, *_ = np.linalg.lstsq(V * w[:, None], mean[sel] * w, rcond=None)
    span = (float(t[0]), float(t[-1]))
    if a[3] < 0:
        t_star = tm - a[2] / (3.0 * a[3])
        if span[0] < t_star < span[1]:
            u = t_star - tm
            return float(a[1] + 2 * a[2] * u + 3 * a[3] * u * u), float(t_star), True
    # no interior maximum: report the larger end value
    ends = np.array(span) - tm
    d = a[1] + 2 * a[2] * ends + 3 * a[3] * ends ** 2
    k = int(np.argmax(d))
    return float(d[k]), span[k], False


def fss_chain(L: np.ndarray, temperature: np.ndarray, mean: np.ndarray, stderr: np.ndarray,
              settings: AnalysisSettings) -> ChainResult:
    """One pass of the finite-size-scaling chain on disorder-averaged curves.

    Parameters
    ----------
    L : ndarray, shape (n_L,), int
        Sizes, increasing.
    temperature : ndarray, shape (n_T,), float64
    mean, stderr : ndarray, shape (n_L, n_T), float64
        ``<p>(T, L)`` and its standard error.
    settings : AnalysisSettings

    Returns
    -------
    ChainResult
        Steps (docs/analysis.md): splines; crossings of successive sizes
        (``p_{L2} - p_{L1}`` going from negative to positive) and of 1/2;
        maxima of ``d<p>/dT`` (:func:`derivative_maximum`) and ``log max = a + (1/nu_ml) log L``
        (unweighted least squares; NaN unless every maximum is positive and
        inside the window and the slope is positive); the weighted slope
        ``b(T)`` of ``<p>`` against ``L^(1/nu_ml)``, its sign change (negative
        to positive) = ``Tc_linear``; the size-ordering significance
        ``z_below = max_{T_k < Tc} (-b/db)``, ``z_above = max_{T_k > Tc} (b/db)``;
        the data collapse started from (Tc_linear, nu_ml).
    """
    n_L, n_T = mean.shape
    fine = np.linspace(temperature[0], temperature[-1], settings.n_fine)
    smooth = np.full((n_L, fine.size), np.nan)
    deriv = np.full((n_L, fine.size), np.nan)
    for i in range(n_L):
        spl = smoothing_spline(temperature, mean[i], stderr[i])
        if spl is not None:
            smooth[i] = spl(fine)
            deriv[i] = spl.derivative()(fine)

    pair = np.array([oriented_root(fine, smooth[i + 1] - smooth[i], increasing=True)
                     for i in range(n_L - 1)])
    p_half = np.array([oriented_root(fine, smooth[i] - 0.5, increasing=True) for i in range(n_L)])

    # nu_ml from the maxima of d<p>/dT (paper Eq. 6)
    dmax = np.full(n_L, np.nan)
    dmax_T = np.full(n_L, np.nan)
    interior = np.zeros(n_L, dtype=bool)
    for i in range(n_L):
        dmax[i], dmax_T[i], interior[i] = derivative_maximum(
            temperature, mean[i], stderr[i], settings.derivative_p_range)
    inverse_nu = intercept = slope_err = math.nan
    if np.all(dmax > 0):
        logL, logd = np.log(L.astype(np.float64)), np.log(dmax)
        coef, cov = np.polyfit(logL, logd, 1, cov="unscaled")
        inverse_nu, intercept = float(coef[0]), float(coef[1])
        resid = logd - np.polyval(coef, logL)
        slope_err = float(np.sqrt(cov[0, 0] * (resid @ resid) / max(n_L - 2, 1)))
    nu_ml = 1.0 / inverse_nu if (inverse_nu > 0 and np.all(interior)) else math.nan

    # Tc from the sign change of the linear coefficient (paper Fig. 1c)
    b = b_err = np.full(n_T, np.nan)
    b_fine = np.full(fine.size, np.nan)
    norm = Tc_linear = z_below = z_above = math.nan
    if math.isfinite(nu_ml):
        xL = L.astype(np.float64) ** (1.0 / nu_ml)
        _, b, b_err = weighted_line(xL, mean, stderr)
        if np.all(np.isfinite(smooth)):
            stderr_fine = np.array([np.interp(fine, temperature, stderr[i]) for i in range(n_L)])
            _, b_fine, _ = weighted_line(xL, smooth, stderr_fine)
            norm = float(np.nanmax(np.abs(b_fine)))
            Tc_linear = oriented_root(fine, b_fine, increasing=True)
        if math.isfinite(Tc_linear):
            with np.errstate(divide="ignore", invalid="ignore"):
                z = b / b_err
            below, above = temperature < Tc_linear, temperature > Tc_linear
            z_below = float(np.nanmax(-z[below])) if below.any() else -math.inf
            z_above = float(np.nanmax(z[above])) if above.any() else -math.inf

    collapse = None
    if settings.collapse:
        if math.isfinite(Tc_linear):
            start_Tc = Tc_linear
        elif np.any(np.isfinite(pair)):
            start_Tc = float(np.nanmean(pair))
        else:
            start_Tc = math.nan
        collapse = fit_collapse(L, temperature, mean, stderr, start_Tc, nu_ml,
                                settings.collapse_p_range, settings.collapse_nu_bounds)
    return ChainResult(
        fine_temperature=fine, smooth=smooth, derivative=deriv, pair_crossings=pair, p_half=p_half,
        derivative_maximum=dmax, derivative_maximum_temperature=dmax_T,
        derivative_maximum_interior=interior, inverse_nu_ml=inverse_nu, nu_ml=nu_ml,
        loglog_intercept=intercept, loglog_slope_error=slope_err,
        linear_coefficient=b, linear_coefficient_error=b_err, linear_coefficient_fine=b_fine,
        normalisation=norm, Tc_linear=Tc_linear, z_below=z_below, z_above=z_above, collapse=collapse)


@dataclass
class BootstrapSamples:
    """Estimates of every bootstrap sample; each array has leading dim ``n_bootstrap``.

    Attributes
    ----------
    scalars : dict of str to ndarray, shape (n_bootstrap,)
        Keys of :meth:`ChainResult.scalars` (NaN where the estimate does not exist).
    pair_crossings : ndarray, shape (n_bootstrap, n_L - 1)
    p_half : ndarray, shape (n_bootstrap, n_L)
    derivative_maximum : ndarray, shape (n_bootstrap, n_L)
    """

    scalars: dict[str, np.ndarray]
    pair_crossings: np.ndarray
    p_half: np.ndarray
    derivative_maximum: np.ndarray


def bootstrap_chain(L: np.ndarray, temperature: np.ndarray, p: Sequence[np.ndarray],
                    settings: AnalysisSettings) -> BootstrapSamples:
    """Bootstrap over disorder instances: resample within each L, redo :func:`fss_chain`.

    Parameters
    ----------
    L : ndarray, shape (n_L,)
    temperature : ndarray, shape (n_T,)
    p : sequence of ndarray, each shape (n_instances_L, n_T)
    settings : AnalysisSettings
        ``n_bootstrap`` samples drawn with ``numpy.random.default_rng(seed)``;
        instances of size L are drawn ``n_instances_L`` times with replacement.

    Returns
    -------
    BootstrapSamples
    """
    resamples = bootstrap_indices([pi.shape[0] for pi in p], settings.n_bootstrap, settings.seed)
    n_L = len(p)
    scal: dict[str, list[float]] = {}
    pairs, halves, dmax = [], [], []
    mean = np.empty((n_L, temperature.size))
    stderr = np.empty_like(mean)
    for b in range(settings.n_bootstrap):
        for i, pi in enumerate(p):
            mean[i], stderr[i] = disorder_average(pi[resamples[i][b]])
        r = fss_chain(L, temperature, mean, stderr, settings)
        for k, v in r.scalars().items():
            scal.setdefault(k, []).append(v)
        pairs.append(r.pair_crossings)
        halves.append(r.p_half)
        dmax.append(r.derivative_maximum)
    return BootstrapSamples(
        scalars={k: np.asarray(v, dtype=np.float64) for k, v in scal.items()},
        pair_crossings=np.asarray(pairs), p_half=np.asarray(halves),
        derivative_maximum=np.asarray(dmax))
