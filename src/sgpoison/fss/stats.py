"""Curves of disorder averages: averaging, smoothing, oriented roots and weighted lines.

The numerical building blocks of both finite-size-scaling analyses
(:mod:`sgpoison.fss.chain`, :mod:`sgpoison.fss.conventional`); the bootstrap over
disorder instances and its intervals are in :mod:`sgpoison.bootstrap`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import interpolate

from sgpoison.fss.settings import MIN_TEMPERATURES



#: smallest standard error used as a weight (a curve whose instances all agree has stderr 0)
STDERR_FLOOR = 1e-6


def disorder_average(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disorder average and its standard error.

    Parameters
    ----------
    values : ndarray, shape (n_instances, n_T), float64

    Returns
    -------
    mean, stderr : ndarray, shape (n_T,), float64
        ``mean = (1/n) sum_i v_i``, ``stderr = std(v, ddof=1) / sqrt(n)``.
    """
    n = values.shape[0]
    mean = values.mean(axis=0)
    stderr = values.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.full(values.shape[1:], np.nan)
    return mean, stderr


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


def oriented_root(grid: np.ndarray, values: np.ndarray, increasing: bool = True) -> float:
    """Zero of a function sampled on a fine grid, crossing in a given direction.

    Parameters
    ----------
    grid : ndarray, shape (n,), float64
        Increasing abscissae.
    values : ndarray, shape (n,), float64
        Function values (non-finite values never bracket a root).
    increasing : bool
        True: the function goes from negative to non-negative; False: from
        positive to non-positive.

    Returns
    -------
    float
        The zero, by linear interpolation between the bracketing grid points;
        when several zeros cross in the requested direction, the one with the
        steepest slope. NaN when there is none.
    """
    v = values if increasing else -values
    ok = np.isfinite(v)
    cand = np.nonzero(ok[:-1] & ok[1:] & (v[:-1] < 0) & (v[1:] >= 0))[0]
    if cand.size == 0:
        return math.nan
    slopes = (v[cand + 1] - v[cand]) / (grid[cand + 1] - grid[cand])
    i = int(cand[np.argmax(slopes)])
    return float(grid[i] - v[i] * (grid[i + 1] - grid[i]) / (v[i + 1] - v[i]))


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
