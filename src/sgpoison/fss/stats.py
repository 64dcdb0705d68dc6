"""Curves of averages: smoothing, oriented roots and weighted lines.

The numerical building blocks of both finite-size-scaling analyses
(:mod:`sgpoison.fss.chain`, :mod:`sgpoison.fss.conventional`); the averages over networks and
instances are in :mod:`sgpoison.fss.resampling`, the instance draws and percentile intervals in
:mod:`sgpoison.bootstrap`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import interpolate

from sgpoison.fss.settings import MIN_TEMPERATURES



#: smallest standard error used as a weight (a curve whose instances all agree has stderr 0)
STDERR_FLOOR = 1e-6


def smoothing_spline(temperature: np.ndarray, values: np.ndarray,
                     stderr: np.ndarray) -> interpolate.UnivariateSpline | None:
    """Cubic smoothing spline through a curve with errors.

    ``scipy.interpolate.UnivariateSpline`` (FITPACK, Dierckx 1993) with weights
    ``1/sigma`` (``sigma`` floored at ``STDERR_FLOOR``) and smoothing condition
    ``sum ((y - s(T)) / sigma)^2 <= n`` (the expected chi^2 of n points; Reinsch
    1967). Non-finite values are left out.

    Parameters
    ----------
    temperature, values, stderr : ndarray, shape (n_T,), float64

    Returns
    -------
    UnivariateSpline or None
        None when fewer than ``MIN_TEMPERATURES`` finite points remain.
    """
    finite = np.isfinite(values)
    if np.count_nonzero(finite) < MIN_TEMPERATURES:
        return None
    t, y, s = temperature[finite], values[finite], stderr[finite]
    sigma = np.where(np.isfinite(s) & (s > STDERR_FLOOR), s, STDERR_FLOOR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interpolate.UnivariateSpline(t, y, w=1.0 / sigma, k=3, s=float(t.size))


def oriented_roots(grid: np.ndarray, values: np.ndarray, increasing: bool = True) -> np.ndarray:
    """Zero of each row of ``values`` sampled on a fine grid, crossing in a given direction.

    Parameters
    ----------
    grid : ndarray, shape (n,), float64
        Increasing abscissae.
    values : ndarray, shape (..., n), float64
        Function values (non-finite values never bracket a root).
    increasing : bool
        True: the function goes from negative to non-negative; False: from
        positive to non-positive.

    Returns
    -------
    ndarray, shape (...)
        The zero of each row, by linear interpolation between the bracketing grid points;
        when several zeros cross in the requested direction, the one with the steepest
        slope. NaN when there is none.
    """
    v = np.asarray(values, dtype=np.float64) if increasing else -np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bracket = (v[..., :-1] < 0) & (v[..., 1:] >= 0)       # NaN compares False: never brackets
        dv = v[..., 1:] - v[..., :-1]
    slope = np.where(bracket, dv / np.diff(grid), -np.inf)
    k = np.argmax(slope, axis=-1)
    found = np.take_along_axis(bracket, k[..., None], axis=-1)[..., 0]
    v0 = np.take_along_axis(v, k[..., None], axis=-1)[..., 0]
    d = np.take_along_axis(dv, k[..., None], axis=-1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        root = grid[k] - v0 * (grid[k + 1] - grid[k]) / d
    return np.where(found, root, np.nan)


def oriented_root(grid: np.ndarray, values: np.ndarray, increasing: bool = True) -> float:
    """Zero of a function sampled on a fine grid, crossing in a given direction.

    :func:`oriented_roots` of one curve ``values`` of shape (n,); returns a float (NaN when
    there is none).
    """
    return float(oriented_roots(grid, values, increasing))


def weighted_line(x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weighted least-squares line ``y = a + b x`` along axis 0, vectorised over the others.

    Parameters
    ----------
    x : ndarray, shape (n,) or broadcastable to ``y``
    y, sigma : ndarray, shape (n, ...)

    Returns
    -------
    a, b, b_error : ndarray, shape (...)
        Intercept, slope and the slope's standard error
        ``sqrt(S / Delta)``, ``S = sum w``, ``Delta = S Sxx - Sx^2``, ``w = 1/sigma^2``
        (Press et al., Numerical Recipes, Sec. 15.2).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < y.ndim:
        x = x.reshape(x.shape + (1,) * (y.ndim - x.ndim))
    w = 1.0 / np.maximum(sigma, STDERR_FLOOR) ** 2
    S = w.sum(axis=0)
    Sx = (w * x).sum(axis=0)
    Sxx = (w * x * x).sum(axis=0)
    Sy = (w * y).sum(axis=0)
    Sxy = (w * x * y).sum(axis=0)
    delta = S * Sxx - Sx * Sx
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (S * Sxy - Sx * Sy) / delta
        a = (Sxx * Sy - Sx * Sxy) / delta
        b_error = np.sqrt(S / delta)
    return a, b, b_error
