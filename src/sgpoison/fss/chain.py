"""The estimators of Tc and nu on averaged curves ``<p>(T, L)``, and their bootstrap.

One pass (:func:`fss_chain`) turns ``<p>(T, L)`` and its total errors ``sigma(T, L)``
(:mod:`sgpoison.fss.resampling`; the weights of every fit) into (docs/analysis.md):

* **crossings**: of the smoothing splines of every pair of sizes and of ``<p> = 1/2``;
  the pair crossings are combined into ``Tc_crossing``, and the drift of the successive-pair
  crossings with ``1/L`` is measured, by :func:`combine_crossings` (after the bootstrap,
  which gives the weights);
* the **size ordering**: the slope of ``<p>`` against ``ln L`` at every temperature and its
  standard error (the significance check of :mod:`sgpoison.fss.verdict`);
* the **paper's chain** (Fang, Barzegar & Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001
  (2020)): ``nu_ml`` from the maxima of ``d<p>/dT`` (Eq. 6), ``paper_Tc_linear`` where the
  linear coefficient of ``<p>`` vs ``L^(1/nu_ml)`` changes sign (Fig. 1c), and the collapse
  with nu fixed at ``nu_ml`` (``paper_Tc_collapse``, Eq. 4);
* the **full collapse** (Tc and nu free, started from a grid; :mod:`sgpoison.fss.collapse`)
  and ``Tc_linear``: the sign change of the linear coefficient with ``nu = nu_collapse``,
  which needs no maximum of ``d<p>/dT``.

:func:`bootstrap_chain` redoes the pass on every bootstrap sample of ``<p>``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from sgpoison.fss.collapse import CollapseFit, fit_collapse
from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.stats import STDERR_FLOOR, oriented_root, oriented_roots, smoothing_spline, weighted_line

#: points of the scan of nu over ``linear_nu_range`` (sensitivity of Tc_linear to nu)
NU_SCAN_POINTS = 20


def size_pairs(n_L: int) -> list[tuple[int, int]]:
    """Every pair (i, j), i < j, of size positions, in lexicographic order."""
    return list(itertools.combinations(range(n_L), 2))


def successive_pairs(n_L: int) -> np.ndarray:
    """Positions in :func:`size_pairs` of the pairs of successive sizes (j = i + 1)."""
    return np.array([k for k, (i, j) in enumerate(size_pairs(n_L)) if j == i + 1], dtype=np.int64)


@dataclass
class ChainResult:
    """All estimates of one pass (central data or one bootstrap sample).

    Arrays over sizes have shape (n_L,), over pairs of sizes (n_pairs,) in the order of
    :func:`size_pairs`, over simulated temperatures (n_T,), over the fine grid (n_fine,).
    Estimates that do not exist are NaN (fits: None or ``success = False``).
    """

    fine_temperature: np.ndarray
    smooth: np.ndarray                      # (n_L, n_fine) spline of <p>
    pair_crossings: np.ndarray              # (n_pairs,)
    pair_weights: np.ndarray                # (n_pairs,) delta-method inverse variances (0: no crossing)
    Tc_crossing: float
    crossing_drift: float
    p_half: np.ndarray                      # (n_L,) T where the spline crosses 1/2
    ordering_slope: np.ndarray              # (n_T,) slope of <p> vs ln L
    ordering_slope_error: np.ndarray        # (n_T,)
    derivative_maximum: np.ndarray          # (n_L,) max_T d<p>/dT (local cubic)
    derivative_maximum_temperature: np.ndarray  # (n_L,)
    derivative_maximum_interior: np.ndarray  # (n_L,) bool
    inverse_nu_ml: float
    nu_ml: float
    loglog_intercept: float
    loglog_slope_error: float
    paper_Tc_linear: float
    paper_collapse: CollapseFit | None
    collapse: CollapseFit | None
    Tc_linear: float
    derivative: np.ndarray | None = None    # (n_L, n_fine) d<p>/dT of the spline (central only)
    # linear coefficients b(T) at the simulated T (value, error) and on the fine grid, with
    # nu = nu_collapse (``linear_*``) and nu = nu_ml (``paper_linear_*``); central only
    linear_coefficient: np.ndarray | None = None
    linear_coefficient_error: np.ndarray | None = None
    linear_coefficient_fine: np.ndarray | None = None
    paper_linear_coefficient: np.ndarray | None = None
    paper_linear_coefficient_error: np.ndarray | None = None
    paper_linear_coefficient_fine: np.ndarray | None = None
    nu_scan: np.ndarray = field(default_factory=lambda: np.empty(0))           # central only
    Tc_linear_scan: np.ndarray = field(default_factory=lambda: np.empty(0))    # zero of b(T) per nu

    def scalars(self) -> dict[str, float]:
        """The scalar estimates of one pass, by name (NaN where they do not exist)."""
        c, pc = self.collapse, self.paper_collapse
        ok = c is not None and c.success
        paper_ok = pc is not None and pc.success
        return {
            "Tc_crossing": self.Tc_crossing,
            "crossing_drift": self.crossing_drift,
            "Tc_linear": self.Tc_linear,
            "Tc_collapse": c.Tc if ok else math.nan,
            "nu_collapse": c.nu if ok else math.nan,
            "collapse_reduced_chi2": c.reduced_chi2 if ok else math.nan,
            "collapse_quality_S": c.quality_S if ok else math.nan,
            "nu_ml": self.nu_ml,
            "inverse_nu_ml": self.inverse_nu_ml,
            "paper_Tc_linear": self.paper_Tc_linear,
            "paper_Tc_collapse": pc.Tc if paper_ok else math.nan,
            "paper_collapse_reduced_chi2": pc.reduced_chi2 if paper_ok else math.nan,
        }


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


def linear_coefficient_zero(L: np.ndarray, nu: float, fine: np.ndarray, smooth: np.ndarray,
                            sigma_fine: np.ndarray) -> tuple[np.ndarray, float]:
    """The slope b(T) of ``<p>`` against ``L^(1/nu)`` on the fine grid, and its sign change.

    Near Tc, ``<p> = F(0) + F'(0) L^(1/nu) (T - Tc)``, so b(T) changes sign (negative to
    positive) at Tc (paper Fig. 1c). Weighted least squares (weights ``1/sigma^2``; Numerical
    Recipes Sec. 15.2) at every point of the fine grid.

    Parameters
    ----------
    L : ndarray, shape (n_L,)
    nu : float
    fine : ndarray, shape (n_fine,)
    smooth, sigma_fine : ndarray, shape (n_L, n_fine)
        The splines of ``<p>`` and the errors interpolated onto the fine grid.

    Returns
    -------
    b_fine : ndarray, shape (n_fine,)
    zero : float
        NaN when b does not change sign from negative to positive, or nu is not positive.
    """
    if not (math.isfinite(nu) and nu > 0) or not np.all(np.isfinite(smooth)):
        return np.full(fine.size, np.nan), math.nan
    _, b, _ = weighted_line(L.astype(np.float64) ** (1.0 / nu), smooth, sigma_fine)
    return b, oriented_root(fine, b, increasing=True)


def fss_chain(L: np.ndarray, temperature: np.ndarray, mean: np.ndarray, sigma: np.ndarray,
              settings: AnalysisSettings, diagnostics: bool = True) -> ChainResult:
    """One pass of every estimator on averaged curves.

    Parameters
    ----------
    L : ndarray, shape (n_L,), int
        Sizes, increasing.
    temperature : ndarray, shape (n_T,), float64
    mean, sigma : ndarray, shape (n_L, n_T), float64
        ``<p>(T, L)`` and its total error (the weights of every spline and fit).
    settings : AnalysisSettings
        ``paper_chain`` and ``collapse`` switch the paper's chain and the full collapse.
    diagnostics : bool
        Also compute what only the central pass needs (derivative of the splines, linear
        coefficients at the simulated temperatures, the scan of nu for ``Tc_linear``).

    Returns
    -------
    ChainResult
        Steps (docs/analysis.md): splines; crossings of every pair of sizes (``p_{L2} - p_{L1}``
        going from negative to positive: the larger size steeper), their weights, ``Tc_crossing``
        and the drift (:func:`combine_crossings`), and the crossings of 1/2; the slope of
        ``<p>`` vs ``ln L``; maxima of ``d<p>/dT`` and ``log max = a + (1/nu_ml) log L``
        (unweighted least squares; ``nu_ml`` NaN unless every maximum is positive and interior
        and the slope positive); ``paper_Tc_linear`` with ``nu_ml``; the collapse with nu fixed
        at ``nu_ml``; the full collapse; ``Tc_linear`` with ``nu_collapse``.
    """
    n_L, n_T = mean.shape
    L = np.asarray(L)
    fine = np.linspace(temperature[0], temperature[-1], settings.n_fine)
    smooth = np.full((n_L, fine.size), np.nan)
    deriv = np.full((n_L, fine.size), np.nan) if diagnostics else None
    splines = [smoothing_spline(temperature, mean[i], sigma[i]) for i in range(n_L)]
    for i, spl in enumerate(splines):
        if spl is not None:
            smooth[i] = spl(fine)
            if diagnostics:
                deriv[i] = spl(fine, nu=1)
    first, second = np.array(size_pairs(n_L)).T
    pairs = oriented_roots(fine, smooth[second] - smooth[first], increasing=True)
    weights = crossing_weights(temperature, sigma, splines, pairs)
    Tc_crossing, drift = combine_crossings(L, pairs, weights)
    p_half = oriented_roots(fine, smooth - 0.5, increasing=True)
    _, order_b, order_err = weighted_line(np.log(L.astype(np.float64)), mean, sigma)
    sigma_fine = (np.array([np.interp(fine, temperature, sigma[i]) for i in range(n_L)])
                  if settings.paper_chain or settings.collapse or diagnostics else None)

    # the paper's chain: nu_ml from the maxima of d<p>/dT (Eq. 6), Tc from b(T) (Fig. 1c)
    dmax = np.full(n_L, np.nan)
    dmax_T = np.full(n_L, np.nan)
    interior = np.zeros(n_L, dtype=bool)
    inverse_nu = intercept = slope_err = nu_ml = paper_Tc = math.nan
    paper_b_fine = None
    paper_collapse = None
    if settings.paper_chain:
        for i in range(n_L):
            dmax[i], dmax_T[i], interior[i] = derivative_maximum(
                temperature, mean[i], sigma[i], settings.derivative_p_range)
        if np.all(dmax > 0):
            logL, logd = np.log(L.astype(np.float64)), np.log(dmax)
            coef, cov = np.polyfit(logL, logd, 1, cov="unscaled")
            inverse_nu, intercept = float(coef[0]), float(coef[1])
            resid = logd - np.polyval(coef, logL)
            slope_err = float(np.sqrt(cov[0, 0] * (resid @ resid) / max(n_L - 2, 1)))
        nu_ml = 1.0 / inverse_nu if (inverse_nu > 0 and np.all(interior)) else math.nan
        paper_b_fine, paper_Tc = linear_coefficient_zero(L, nu_ml, fine, smooth, sigma_fine)
        if settings.collapse and math.isfinite(nu_ml):
            paper_collapse = fit_collapse(L, temperature, mean, sigma, settings.collapse_p_range,
                                          settings.collapse_nu_bounds, nu_fixed=nu_ml,
                                          correction_omega=settings.collapse_correction_omega)

    # the full collapse (Tc and nu free) and Tc_linear with its nu
    collapse = None
    Tc_linear = math.nan
    b_fine = None
    if settings.collapse:
        collapse = fit_collapse(L, temperature, mean, sigma, settings.collapse_p_range,
                                settings.collapse_nu_bounds,
                                correction_omega=settings.collapse_correction_omega)
        if collapse.success:
            b_fine, Tc_linear = linear_coefficient_zero(L, collapse.nu, fine, smooth, sigma_fine)

    result = ChainResult(
        fine_temperature=fine, smooth=smooth, pair_crossings=pairs, pair_weights=weights,
        Tc_crossing=Tc_crossing, crossing_drift=drift, p_half=p_half,
        ordering_slope=order_b, ordering_slope_error=order_err,
        derivative_maximum=dmax, derivative_maximum_temperature=dmax_T,
        derivative_maximum_interior=interior, inverse_nu_ml=inverse_nu, nu_ml=nu_ml,
        loglog_intercept=intercept, loglog_slope_error=slope_err, paper_Tc_linear=paper_Tc,
        paper_collapse=paper_collapse, collapse=collapse, Tc_linear=Tc_linear, derivative=deriv)
    if diagnostics:
        nan_T = np.full(n_T, np.nan)
        result.linear_coefficient_fine = b_fine if b_fine is not None else np.full(fine.size, np.nan)
        result.paper_linear_coefficient_fine = (paper_b_fine if paper_b_fine is not None
                                                else np.full(fine.size, np.nan))
        for prefix, nu in (("", collapse.nu if collapse is not None and collapse.success else math.nan),
                           ("paper_", nu_ml)):
            b = err = nan_T
            if math.isfinite(nu) and nu > 0:
                _, b, err = weighted_line(L.astype(np.float64) ** (1.0 / nu), mean, sigma)
            setattr(result, f"{prefix}linear_coefficient", b)
            setattr(result, f"{prefix}linear_coefficient_error", err)
        lo, hi = settings.linear_nu_range
        result.nu_scan = np.geomspace(lo, hi, NU_SCAN_POINTS)
        result.Tc_linear_scan = np.array([linear_coefficient_zero(L, nu, fine, smooth, sigma_fine)[1]
                                          for nu in result.nu_scan])
    return result


@dataclass
class BootstrapSamples:
    """Estimates of every bootstrap sample; each array has leading dim ``n_bootstrap``.

    Attributes
    ----------
    scalars : dict of str to ndarray, shape (n_bootstrap,)
        Keys of :meth:`ChainResult.scalars`; NaN where the estimate does not exist.
    pair_crossings : ndarray, shape (n_bootstrap, n_pairs)
    p_half : ndarray, shape (n_bootstrap, n_L)
    derivative_maximum : ndarray, shape (n_bootstrap, n_L)
    """

    scalars: dict[str, np.ndarray]
    pair_crossings: np.ndarray
    p_half: np.ndarray
    derivative_maximum: np.ndarray


def bootstrap_chain(L: np.ndarray, temperature: np.ndarray, samples: np.ndarray, sigma: np.ndarray,
                    settings: AnalysisSettings) -> BootstrapSamples:
    """:func:`fss_chain` on every bootstrap sample of ``<p>``, with the central errors as weights.

    Parameters
    ----------
    L : ndarray, shape (n_L,)
    temperature : ndarray, shape (n_T,)
    samples : ndarray, shape (n_bootstrap, n_L, n_T)
        ``<p>`` of every bootstrap sample (:func:`sgpoison.fss.resampling.ensemble_average`).
    sigma : ndarray, shape (n_L, n_T)
        The total errors: the weights of every fit in every sample.
    settings : AnalysisSettings

    Returns
    -------
    BootstrapSamples
    """
    scal: dict[str, list[float]] = {}
    pairs, halves, dmax = [], [], []
    for mean in samples:
        r = fss_chain(L, temperature, mean, sigma, settings, diagnostics=False)
        for k, v in r.scalars().items():
            scal.setdefault(k, []).append(v)
        pairs.append(r.pair_crossings)
        halves.append(r.p_half)
        dmax.append(r.derivative_maximum)
    return BootstrapSamples(
        scalars={k: np.asarray(v, dtype=np.float64) for k, v in scal.items()},
        pair_crossings=np.asarray(pairs), p_half=np.asarray(halves),
        derivative_maximum=np.asarray(dmax))


#: variances of pair crossings are floored here (noise-free data): weights stay finite
_VARIANCE_FLOOR = 1e-18


def crossing_weights(temperature: np.ndarray, sigma: np.ndarray, splines: list, crossings: np.ndarray) -> np.ndarray:
    """Delta-method inverse variance of every pair crossing: ``w = (s_j - s_i)^2 / (sigma_i^2 + sigma_j^2)``.

    At the crossing ``T*`` of sizes i < j, a shift ``d`` of the difference of the curves
    moves ``T*`` by ``d / (s_j - s_i)`` (``s`` the slopes of the splines at ``T*``), so
    ``var T* = (sigma_i^2 + sigma_j^2) / (s_j - s_i)^2`` with the total errors interpolated
    at ``T*`` (sizes are independent). Computed from each pass's own data, so the bootstrap
    includes the variability of the weights.

    Returns
    -------
    ndarray, shape (n_pairs,)
        0 for pairs that do not cross.
    """
    n_L = sigma.shape[0]
    first, second = np.array(size_pairs(n_L)).T
    cross = np.isfinite(crossings)
    slope = np.zeros((n_L, crossings.size))        # slope of size i at the crossing of pair k
    var = np.zeros((n_L, crossings.size))
    for i, spl in enumerate(splines):
        mine = cross & ((first == i) | (second == i))
        if spl is not None and mine.any():
            slope[i, mine] = spl(crossings[mine], nu=1)
            var[i, mine] = np.interp(crossings[mine], temperature, sigma[i]) ** 2
    k = np.arange(crossings.size)
    ds = slope[second, k] - slope[first, k]
    total = np.maximum(var[first, k] + var[second, k], STDERR_FLOOR ** 2)
    ok = cross & np.array([splines[i] is not None and splines[j] is not None for i, j in zip(first, second)])
    return np.where(ok, ds * ds / total, 0.0)


def combine_crossings(L: np.ndarray, crossings: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """``Tc_crossing`` from the crossings of all pairs of sizes, and the drift of the successive ones.

    Under scaling every pair of sizes crosses at Tc; pairs of very different sizes cross at a
    large angle and are the most precise, so every pair that crosses enters with its
    delta-method inverse variance (:func:`crossing_weights`)::

        Tc_crossing = sum_p w_p T*_p / sum_p w_p

    It exists when every size crosses at least one other size (the larger size steeper).
    The drift is the weighted least-squares slope of the successive-pair crossings ``T*_j``
    against ``1 / L_mean_j``, ``L_mean = (L1 + L2) / 2`` (same weights); it exists when every
    successive pair crosses. Without corrections to scaling it is 0; a significant drift says
    that ``Tc_crossing`` is an average over the sizes, not an extrapolation to L -> infinity.

    Parameters
    ----------
    L : ndarray, shape (n_L,)
    crossings, weights : ndarray, shape (n_pairs,)
        In the order of :func:`size_pairs`; NaN / 0 for pairs that do not cross.

    Returns
    -------
    Tc_crossing, drift : float
        NaN where they do not exist.
    """
    L = np.asarray(L, dtype=np.float64)
    pairs = size_pairs(L.size)
    cross = np.isfinite(crossings) & (weights > 0)
    covered = {i for k, (i, j) in enumerate(pairs) if cross[k]} | {j for k, (i, j) in enumerate(pairs) if cross[k]}
    tc = math.nan
    if len(covered) == L.size:
        tc = float(np.sum(weights[cross] * crossings[cross]) / np.sum(weights[cross]))
    succ = successive_pairs(L.size)
    drift = math.nan
    if np.all(cross[succ]):
        _, b, _ = weighted_line(2.0 / (L[:-1] + L[1:]), crossings[succ], 1.0 / np.sqrt(weights[succ]))
        drift = float(b)
    return tc, drift
