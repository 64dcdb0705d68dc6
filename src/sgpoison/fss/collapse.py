"""Data collapse of ``<p>(T, L)`` onto one cubic in ``x = L^(1/nu) (T - Tc)`` (paper Eq. 4).

Weighted least squares with the linear coefficients eliminated (variable projection), started
from a grid over (Tc, nu) -- never from another estimator -- optionally with nu fixed (the
paper's collapse with nu_ml) or one correction-to-scaling term; and the Houdayer-Hartmann
quality S of the collapse.
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
    """Data collapse ``<p>(T, L) = sum_k c_k x^k [+ L^-omega (g_0 + g_1 x)]``, ``x = L^(1/nu)(T - Tc)``.

    Attributes
    ----------
    success : bool
        Converged, strictly inside the bounds of Tc (the temperature window) and nu.
    Tc, nu : float
        Fitted parameters (NaN when the fit could not be attempted).
    coefficients : ndarray, shape (4,) or (6,)
        c_0..c_3 of the cubic (increasing powers), then g_0, g_1 of the correction term.
    chi2, dof, reduced_chi2 : float, int, float
        ``chi2 = sum ((<p> - fit) / sigma)^2`` over the fitted points,
        ``dof = n_points - n_parameters``.
    quality_S : float
        Houdayer-Hartmann quality (about 1 for a collapse within the errors).
    n_points : int
    mask : ndarray, shape (n_L, n_T), bool
        The (L, T) points used.
    fit_error_Tc, fit_error_nu : float
        Errors from the Jacobian of the fit (diagnostic; the reported errors are bootstrap).
    message : str
    nu_fixed : bool
        nu was fixed (not fitted).
    correction_omega : float or None
        omega of the correction term, if fitted.
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
    nu_fixed: bool = False
    correction_omega: float | None = None

    def scaled(self, L: np.ndarray, temperature: np.ndarray) -> np.ndarray:
        """``x = L^(1/nu) (T - Tc)``, shape (n_L, n_T)."""
        return np.asarray(L, dtype=np.float64)[:, None] ** (1.0 / self.nu) * (temperature[None, :] - self.Tc)

    def curve(self, x: np.ndarray, L: float | None = None) -> np.ndarray:
        """The fitted scaling function at ``x`` (with the correction term of size ``L``, if fitted)."""
        y = np.polynomial.polynomial.polyval(x, self.coefficients[:4])
        if self.correction_omega is not None and L is not None:
            y = y + float(L) ** (-self.correction_omega) * (self.coefficients[4] + self.coefficients[5] * x)
        return y


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


#: points of the start grid of the collapse fits: Tc over the temperature window, nu log-spaced
#: over its bounds (the least-squares fit then starts from the best grid point)
GRID_TC, GRID_NU = 25, 20


def _basis(x: np.ndarray, correction: np.ndarray | None) -> np.ndarray:
    """Columns of the linear part: 1, x, x^2, x^3 (and L^-omega, L^-omega x)."""
    V = np.stack([np.ones_like(x), x, x * x, x * x * x], axis=-1)
    if correction is not None:
        V = np.concatenate([V, np.stack([correction * np.ones_like(x), correction * x], axis=-1)], axis=-1)
    return V


def _grid_chi2(LL, TT, y, w, Tc, nu, correction):
    """chi^2 of the best linear part at every (Tc, nu) of the grid (normal equations, batched)."""
    x = LL[None, :] ** (1.0 / nu[:, None]) * (TT[None, :] - Tc[:, None])      # (G, n)
    Vw = _basis(x, correction) * w[None, :, None]                               # (G, n, m)
    yw = y * w
    A = np.einsum("gnm,gnk->gmk", Vw, Vw)
    b = np.einsum("gnm,n->gm", Vw, yw)
    with np.errstate(all="ignore"):
        try:
            c = np.linalg.solve(A, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            c = np.stack([np.linalg.lstsq(a, bb, rcond=None)[0] for a, bb in zip(A, b)])
        r = yw[None, :] - np.einsum("gnm,gm->gn", Vw, c)
        chi2 = np.einsum("gn,gn->g", r, r)
    return np.where(np.isfinite(chi2), chi2, np.inf)


def fit_collapse(L: np.ndarray, temperature: np.ndarray, mean: np.ndarray, sigma: np.ndarray,
                 p_range: tuple[float, float],
                 nu_bounds: tuple[float, float] = AnalysisSettings.default("collapse_nu_bounds"),
                 nu_fixed: float | None = None, correction_omega: float | None = None) -> CollapseFit:
    """Fit the data collapse onto a cubic (paper Eq. 4), weighted least squares.

    Minimises ``chi2(Tc, nu) = min_c sum ((<p> - sum_k c_k x^k [- L^-omega (g_0 + g_1 x)]) / sigma)^2``,
    ``x = L^(1/nu) (T - Tc)``, over the points with ``<p>`` inside ``p_range``. The linear
    coefficients are eliminated by linear least squares for every (Tc, nu) (variable
    projection, Golub & Pereyra 1973). Start: the best point of a grid of ``GRID_TC`` values
    of Tc over the temperature window times ``GRID_NU`` log-spaced values of nu over
    ``nu_bounds`` (no start value from another estimator); then
    ``scipy.optimize.least_squares`` (trust-region reflective) with Tc bounded to the window
    and nu to ``nu_bounds``.

    Parameters
    ----------
    L : ndarray, shape (n_L,), int
    temperature : ndarray, shape (n_T,), float64
    mean, sigma : ndarray, shape (n_L, n_T), float64
        ``<p>(T, L)`` and its total error (floored at ``STDERR_FLOOR``).
    p_range : (float, float)
    nu_bounds : (float, float)
    nu_fixed : float, optional
        Fit Tc alone with nu fixed (the paper's collapse with nu = nu_ml).
    correction_omega : float, optional
        Add the correction to scaling ``L^-omega (g_0 + g_1 x)`` (2 more linear parameters).

    Returns
    -------
    CollapseFit
        ``success`` is False if fewer than ``n_parameters + 2`` points (or fewer than 2 sizes
        with 2 points) lie in ``p_range``, the optimiser failed, or the fit ended on a bound.
        ``dof = n_points - n_parameters`` (4 cubic coefficients, 2 correction coefficients,
        Tc, and nu unless fixed).
    """
    lo, hi = p_range
    n_linear = 4 + (2 if correction_omega is not None else 0)
    n_params = n_linear + (1 if nu_fixed is not None else 2)
    mask = np.isfinite(mean) & (mean >= lo) & (mean <= hi)
    n_points = int(mask.sum())
    if n_points < n_params + 2 or np.count_nonzero(mask.sum(axis=1) >= 2) < 2:
        return CollapseFit(success=False, n_points=n_points, mask=mask,
                           message=f"{n_points} points with {lo:g} <= <p> <= {hi:g}; need >= {n_params + 2} "
                                   "from >= 2 sizes")
    if nu_fixed is not None and not (math.isfinite(nu_fixed) and nu_fixed > 0):
        return CollapseFit(success=False, n_points=n_points, mask=mask, message=f"nu = {nu_fixed} is not positive")
    LL = np.broadcast_to(L[:, None].astype(np.float64), mean.shape)[mask]
    TT = np.broadcast_to(temperature[None, :], mean.shape)[mask]
    y = mean[mask]
    sig = np.maximum(sigma[mask], STDERR_FLOOR)
    w = 1.0 / sig
    size_index = np.broadcast_to(np.arange(L.size)[:, None], mean.shape)[mask]
    correction = LL ** (-correction_omega) if correction_omega is not None else None

    def project(Tc, nu):
        x = LL ** (1.0 / nu) * (TT - Tc)
        V = _basis(x, correction)
        c, *_ = np.linalg.lstsq(V * w[:, None], y * w, rcond=None)
        return x, c, (y - V @ c) * w

    t_lo, t_hi = float(temperature[0]), float(temperature[-1])
    width = t_hi - t_lo
    Tc_grid = np.linspace(t_lo, t_hi, GRID_TC + 2)[1:-1]
    if nu_fixed is None:
        nu_grid = np.geomspace(nu_bounds[0], nu_bounds[1], GRID_NU + 2)[1:-1]
        TcG, nuG = (a.ravel() for a in np.meshgrid(Tc_grid, nu_grid, indexing="ij"))
    else:
        TcG, nuG = Tc_grid, np.full(Tc_grid.size, float(nu_fixed))
    best = int(np.argmin(_grid_chi2(LL, TT, y, w, TcG, nuG, correction)))
    try:
        if nu_fixed is None:
            res = optimize.least_squares(lambda th: project(th[0], th[1])[2], [TcG[best], nuG[best]],
                                         bounds=([t_lo, nu_bounds[0]], [t_hi, nu_bounds[1]]), method="trf",
                                         x_scale=[0.05 * width, 0.1 * nuG[best]])
        else:
            res = optimize.least_squares(lambda th: project(th[0], nu_fixed)[2], [TcG[best]],
                                         bounds=([t_lo], [t_hi]), method="trf", x_scale=[0.05 * width])
    except (ValueError, np.linalg.LinAlgError) as exc:
        return CollapseFit(success=False, n_points=n_points, mask=mask, message=f"fit failed: {exc}")
    Tc = float(res.x[0])
    nu = float(res.x[1]) if nu_fixed is None else float(nu_fixed)
    x, c, r = project(Tc, nu)
    chi2 = float(r @ r)
    dof = n_points - n_params
    on_bound = bool(np.any(res.active_mask != 0)) or not (t_lo < Tc < t_hi)
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac)
        err = np.sqrt(np.diag(cov))
        err_Tc, err_nu = float(err[0]), (float(err[1]) if nu_fixed is None else math.nan)
    except np.linalg.LinAlgError:
        err_Tc = err_nu = math.nan
    success = bool(res.success) and not on_bound and dof > 0
    if on_bound:
        message = (f"fit ended on a bound (Tc in [{t_lo:g}, {t_hi:g}]"
                   + (f", nu in [{nu_bounds[0]:g}, {nu_bounds[1]:g}])" if nu_fixed is None else ")")
                   + f" at Tc = {Tc:.4g}" + (f", nu = {nu:.4g}" if nu_fixed is None else ""))
    else:
        message = str(res.message)
    return CollapseFit(
        success=success, Tc=Tc, nu=nu, coefficients=c, chi2=chi2, dof=dof,
        reduced_chi2=chi2 / dof if dof > 0 else math.nan,
        quality_S=houdayer_hartmann_quality(x, y, sig, size_index),
        n_points=n_points, mask=mask, fit_error_Tc=err_Tc, fit_error_nu=err_nu, message=message,
        nu_fixed=nu_fixed is not None, correction_omega=correction_omega)
