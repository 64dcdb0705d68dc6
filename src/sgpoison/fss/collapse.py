"""Data collapse of ``<p>(T, L)`` onto one cubic in ``x = L^(1/nu) (T - Tc)`` (paper Eq. 4).

Weighted least squares with the cubic's coefficients eliminated (variable projection),
and the Houdayer-Hartmann quality S of the collapse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from sgpoison.fss.settings import AnalysisSettings
from sgpoison.fss.stats import STDERR_FLOOR



@dataclass
class CollapseFit:
    """Data collapse ``<p>(T, L) = sum_k c_k x^k``, ``x = L^(1/nu)(T - Tc)``, k = 0..3.

    Attributes
    ----------
    success : bool
        Converged, strictly inside the bounds of Tc (the temperature window) and nu.
    Tc, nu : float
        Fitted parameters (NaN when the fit could not be attempted).
    coefficients : ndarray, shape (4,)
        c_0..c_3 of the cubic (increasing powers).
    chi2, dof, reduced_chi2 : float, int, float
        ``chi2 = sum ((<p> - poly(x)) / stderr)^2`` over the fitted points,
        ``dof = n_points - 6``.
    quality_S : float
        Houdayer-Hartmann quality (about 1 for a collapse within the errors).
    n_points : int
    mask : ndarray, shape (n_L, n_T), bool
        The (L, T) points used.
    fit_error_Tc, fit_error_nu : float
        Errors from the Jacobian of the fit (diagnostic; the reported errors are bootstrap).
    message : str
    """

    success: bool
    Tc: float = math.nan
    nu: float = math.nan
    coefficients: np.ndarray = field(default_factory=lambda: np.full(4, np.nan))
    chi2: float = math.nan
    dof: int = 0
    reduced_chi2: float = math.nan
    quality_S: float = math.nan
    n_points: int = 0
    mask: np.ndarray | None = None
    fit_error_Tc: float = math.nan
    fit_error_nu: float = math.nan
    message: str = ""


def houdayer_hartmann_quality(x: np.ndarray, y: np.ndarray, dy: np.ndarray,
                              size_index: np.ndarray) -> float:
    """Quality S of a data collapse (Houdayer & Hartmann, PRB 70, 014418 (2004)).

    ``S = (1/N) sum_ij (y_ij - Y_ij)^2 / (dy_ij^2 + dY_ij^2)``: for each point
    (size i, temperature j), the master curve ``Y_ij +- dY_ij`` at ``x_ij`` is a
    weighted linear fit through the pairs of points of every other size i' that
    enclose ``x_ij``; points that no other size encloses are left out, N counts
    the rest. S is about 1 when the sizes collapse within their errors.

    Parameters
    ----------
    x, y, dy : ndarray, shape (n,), float64
        Scaled abscissa, value and its error of every point.
    size_index : ndarray, shape (n,), int
        The size each point belongs to.

    Returns
    -------
    float
        S, or NaN when no point is enclosed by another size.
    """
    sizes = np.unique(size_index)
    by_size = {}
    for s in sizes:
        sel = np.nonzero(size_index == s)[0]
        order = sel[np.argsort(x[sel])]
        by_size[s] = order
    total, count = 0.0, 0
    dy = np.maximum(dy, STDERR_FLOOR)
    for k in range(x.size):
        pts = []
        for s in sizes:
            if s == size_index[k]:
                continue
            idx = by_size[s]
            xs = x[idx]
            j = np.searchsorted(xs, x[k], side="right") - 1
            if 0 <= j < xs.size - 1:
                pts.extend((idx[j], idx[j + 1]))
        if len(pts) < 2:
            continue
        pts = np.asarray(pts)
        w = 1.0 / dy[pts] ** 2
        xp, yp = x[pts], y[pts]
        S, Sx, Sxx = w.sum(), (w * xp).sum(), (w * xp * xp).sum()
        Sy, Sxy = (w * yp).sum(), (w * xp * yp).sum()
        delta = S * Sxx - Sx * Sx
        if not delta > 0:
            continue
        Y = (Sxx * Sy - Sx * Sxy + x[k] * (S * Sxy - Sx * Sy)) / delta
        dY2 = (Sxx - 2.0 * x[k] * Sx + x[k] ** 2 * S) / delta
        total += (y[k] - Y) ** 2 / (dy[k] ** 2 + dY2)
        count += 1
    return total / count if count else math.nan


def fit_collapse(L: np.ndarray, temperature: np.ndarray, mean: np.ndarray, stderr: np.ndarray,
                 Tc_start: float, nu_start: float, p_range: tuple[float, float],
                 nu_bounds: tuple[float, float] = AnalysisSettings.default("collapse_nu_bounds")) -> CollapseFit:
    """Fit the data collapse onto a cubic (paper Eq. 4), weighted least squares.

    Minimises ``chi2(Tc, nu) = min_c sum ((<p> - sum_k c_k x^k) / stderr)^2``,
    ``x = L^(1/nu) (T - Tc)``, over the points with ``<p>`` inside ``p_range``.
    The cubic coefficients are eliminated by linear least squares for every
    (Tc, nu) (variable projection, Golub & Pereyra 1973); (Tc, nu) are found with
    ``scipy.optimize.least_squares`` (trust-region reflective) with Tc bounded
    to the temperature window and nu to ``nu_bounds``.

    Parameters
    ----------
    L : ndarray, shape (n_L,), int
    temperature : ndarray, shape (n_T,), float64
    mean, stderr : ndarray, shape (n_L, n_T), float64
    Tc_start, nu_start : float
        Starting point (clipped into the bounds; NaN replaced by the window centre / 1).
    p_range : (float, float)
    nu_bounds : (float, float)

    Returns
    -------
    CollapseFit
        ``success`` is False if fewer than 8 points (or fewer than 2 sizes with
        2 points) lie in ``p_range``, the optimiser failed, or the fit ended on a bound.
    """
    lo, hi = p_range
    mask = np.isfinite(mean) & (mean >= lo) & (mean <= hi)
    n_points = int(mask.sum())
    if n_points < 8 or np.count_nonzero(mask.sum(axis=1) >= 2) < 2:
        return CollapseFit(success=False, n_points=n_points, mask=mask,
                           message=f"{n_points} points with {lo} <= <p> <= {hi}; need >= 8 from >= 2 sizes")
    LL = np.broadcast_to(L[:, None].astype(np.float64), mean.shape)[mask]
    TT = np.broadcast_to(temperature[None, :], mean.shape)[mask]
    y = mean[mask]
    sig = np.maximum(stderr[mask], STDERR_FLOOR)
    w = 1.0 / sig
    size_index = np.broadcast_to(np.arange(L.size)[:, None], mean.shape)[mask]

    def project(theta):
        Tc, nu = theta
        x = LL ** (1.0 / nu) * (TT - Tc)
        V = np.vander(x, 4, increasing=True)
        c, *_ = np.linalg.lstsq(V * w[:, None], y * w, rcond=None)
        return x, c, (y - V @ c) * w

    t_lo, t_hi = float(temperature[0]), float(temperature[-1])
    width = t_hi - t_lo
    Tc0 = Tc_start if math.isfinite(Tc_start) else 0.5 * (t_lo + t_hi)
    nu0 = nu_start if math.isfinite(nu_start) and nu_start > 0 else 1.0
    eps = 1e-6 * width
    x0 = [min(max(Tc0, t_lo + eps), t_hi - eps),
          min(max(nu0, nu_bounds[0] * 1.001), nu_bounds[1] * 0.999)]
    try:
        res = optimize.least_squares(lambda th: project(th)[2], x0,
                                     bounds=([t_lo, nu_bounds[0]], [t_hi, nu_bounds[1]]),
                                     method="trf", x_scale=[0.05 * width, 0.1 * x0[1]])
    except (ValueError, np.linalg.LinAlgError) as exc:
        return CollapseFit(success=False, n_points=n_points, mask=mask, message=f"fit failed: {exc}")
    Tc, nu = map(float, res.x)
    x, c, r = project(res.x)
    chi2 = float(r @ r)
    dof = n_points - 6
    on_bound = bool(np.any(res.active_mask != 0)) or not (t_lo < Tc < t_hi)
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac)
        err_Tc, err_nu = (float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1])))
    except np.linalg.LinAlgError:
        err_Tc = err_nu = math.nan
    success = bool(res.success) and not on_bound and dof > 0
    message = res.message if not on_bound else (
        f"fit ended on a bound (Tc in [{t_lo}, {t_hi}], nu in {list(nu_bounds)})")
    return CollapseFit(
        success=success, Tc=Tc, nu=nu, coefficients=c, chi2=chi2, dof=dof,
        reduced_chi2=chi2 / dof if dof > 0 else math.nan,
        quality_S=houdayer_hartmann_quality(x, y, sig, size_index),
        n_points=n_points, mask=mask, fit_error_Tc=err_Tc, fit_error_nu=err_nu, message=str(message))
