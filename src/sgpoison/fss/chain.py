"""Finite-size scaling of the classification probability p(T, L).

The network trained on Gaussian-coupling overlaps returns, for every bimodal
disorder instance and temperature, the probability ``p`` of the label
"high-temperature phase" (see ``docs/data-format.md``, prediction files). This
module turns the prediction files of one scenario (one file per linear size L)
into the estimates of Fang, Barzegar & Katzgraber, Mach. Learn.: Sci. Technol.
1, 045001 (2020), called "the paper" below:

1. disorder average ``<p>(T, L)`` and its standard error;
2. crossings of the curves of successive sizes and of ``<p> = 1/2``
   (cubic smoothing splines between the simulated temperatures);
3. ``nu_ml`` from the maxima of ``d<p>/dT``, which scale as ``L^(1/nu_ml)``
   (paper Eq. 6; log-log linear fit);
4. ``Tc_linear``: the temperature where the linear coefficient of ``<p>`` versus
   ``L^(1/nu_ml)`` changes sign (paper Fig. 1c);
5. ``Tc_collapse``, ``nu_collapse``: data collapse of all sizes onto one cubic
   polynomial of ``x = L^(1/nu)(T - Tc)`` (paper Eq. 4), weighted least squares,
   with the reduced chi^2 and the Houdayer-Hartmann quality S;
6. errors: bootstrap over disorder instances (instances resampled with
   replacement within each L, whole chain redone), percentile intervals;
7. a verdict: ``transition_detected`` with a ``reason`` when it is false, in
   which case no Tc is reported (see :func:`evaluate_checks`).

``docs/analysis.md`` documents every estimate, the verdict rules and the
output files (``estimates.json``, ``estimates.nc``). The helpers for smoothing,
oriented crossings, bootstrap intervals and JSON conversion are shared with
:mod:`sgpoison.fss.conventional`.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr
from scipy import interpolate, optimize

from sgpoison.bootstrap import bootstrap_indices, percentile_interval
from sgpoison.errors import DataFormatError
from sgpoison.io.formats import PREDICTION_FORMAT, attribute_values, open_netcdf, write_netcdf
from sgpoison.io.jsonio import to_json, to_jsonable, write_json
from sgpoison.io.provenance import provenance

#: ``format`` attribute of prediction files (written by ``sgpoison predict``)
#: ``format`` entry of the estimates written by ``analyze`` and ``baseline``
ESTIMATES_FORMAT = "sgpoison-estimates"
ESTIMATES_FORMAT_VERSION = 1
#: smallest standard error used as a weight (a curve whose instances all agree has stderr 0)
STDERR_FLOOR = 1e-6
#: fewest temperatures for which a cubic smoothing spline is fitted
MIN_TEMPERATURES = 5
#: fewest system sizes for a finite-size-scaling analysis
MIN_SIZES = 3
#: attributes of a prediction file that must agree between the sizes of one scenario
SCENARIO_ATTRS = ("scenario", "label_noise", "training_sweep_fraction")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class AnalysisSettings:
    """Parameters of the finite-size-scaling analysis and of its verdict.

    Attributes
    ----------
    n_bootstrap : int
        Bootstrap resamples of the disorder instances (each redoes the whole chain).
    seed : int
        Seed of the bootstrap (``numpy.random.default_rng(seed)``).
    confidence : float
        Coverage of the percentile intervals (0.68: 16th to 84th percentile).
    n_fine : int
        Points of the fine temperature grid on which splines are evaluated.
    collapse : bool
        Fit the data collapse (set False for a cheap path, e.g. coverage tests).
    derivative_p_range : (float, float)
        Temperatures with ``<p>`` in this range enter the local cubic fit whose
        derivative maximum gives ``nu_ml`` (:func:`derivative_maximum`).
    collapse_p_range : (float, float)
        Only points with ``lo <= <p>(T, L) <= hi`` enter the collapse fit; a cubic
        describes the scaling function near its centre, not its saturated tails.
    collapse_nu_bounds : (float, float)
        Bounds of ``nu`` in the collapse fit; a fit ending on a bound is rejected.
    max_reduced_chi2 : float
        Largest acceptable reduced chi^2 of the collapse.
    significance_z : float
        The size ordering must be reversed with at least this many standard errors of
        the linear coefficient on both sides of Tc (check ``crossing_significant``).
    min_bootstrap_fraction : float
        Smallest fraction of bootstrap samples in which Tc_linear exists.
    max_interval_fraction : float
        Largest width of the Tc_linear interval, as a fraction of the temperature window.
    min_pair_crossing_fraction : float
        Smallest fraction of successive-size pairs whose curves cross inside the window.
    """

    n_bootstrap: int = 200
    seed: int = 0
    confidence: float = 0.68
    n_fine: int = 401
    collapse: bool = True
    collapse_p_range: tuple[float, float] = (0.2, 0.8)
    derivative_p_range: tuple[float, float] = (0.1, 0.9)
    collapse_nu_bounds: tuple[float, float] = (0.2, 10.0)
    max_reduced_chi2: float = 3.0
    significance_z: float = 3.0
    min_bootstrap_fraction: float = 0.9
    max_interval_fraction: float = 0.25
    min_pair_crossing_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.n_bootstrap < 2:
            raise ValueError(f"n_bootstrap must be >= 2, got {self.n_bootstrap}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        lo, hi = self.collapse_p_range
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"collapse_p_range must satisfy 0 <= lo < hi <= 1, got {self.collapse_p_range}")
        lo, hi = self.derivative_p_range
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"derivative_p_range must satisfy 0 <= lo < hi <= 1, got {self.derivative_p_range}")
        if self.n_fine < 11:
            raise ValueError(f"n_fine must be >= 11, got {self.n_fine}")


# --------------------------------------------------------------------------- input


@dataclass
class PredictionSet:
    """The predictions of one scenario, one entry per system size, sorted by L.

    Attributes
    ----------
    L : ndarray, shape (n_L,), int64
        Linear sizes, increasing.
    temperature : ndarray, shape (n_T,), float64
        Common temperature grid (units of J, k_B = 1), increasing.
    p : list of ndarray, each shape (n_instances_L, n_T), float64
        Per-instance classification probability (mean softmax output of label 1).
    paths : list of str
        Input files, in the order of ``L``.
    attrs : list of dict
        Global attributes of each file (provenance, scenario, model hash ...).
    """

    L: np.ndarray
    temperature: np.ndarray
    p: list[np.ndarray]
    paths: list[str] = field(default_factory=list)
    attrs: list[dict] = field(default_factory=list)

    @property
    def n_instances(self) -> np.ndarray:
        """Instances per size, shape (n_L,), int64."""
        return np.array([a.shape[0] for a in self.p], dtype=np.int64)

    def scenario_attrs(self) -> dict[str, Any]:
        """Scenario attributes common to all files (``None`` where absent)."""
        return {k: (self.attrs[0].get(k) if self.attrs else None) for k in SCENARIO_ATTRS}


def _same_attr(a: Any, b: Any) -> bool:
    """Equality of attribute values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def open_predictions(paths: Sequence[str | os.PathLike]) -> PredictionSet:
    """Read and validate the prediction files of one scenario (one file per L).

    Parameters
    ----------
    paths : sequence of path-like
        Files written by ``sgpoison predict`` (format ``sgpoison-prediction``),
        variable ``p`` with dims (instance, temperature), attribute ``L``.

    Returns
    -------
    PredictionSet
        Sorted by L.

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    DataFormatError
        A file is not a prediction file, lacks ``p`` or ``L``, has NaN or values
        outside [0, 1] in ``p``, fewer than 2 instances or fewer than
        ``MIN_TEMPERATURES`` temperatures; two files have the same L, different
        temperature grids or different scenario attributes; fewer than
        ``MIN_SIZES`` sizes are given. Messages name the file and the problem.
    """
    entries = []
    for path in map(Path, paths):
        with open_netcdf(path, "prediction") as ds:
            fmt = ds.attrs.get("format")
            if fmt != PREDICTION_FORMAT:
                raise DataFormatError(
                    f"{path}: attribute 'format' is {fmt!r}, expected {PREDICTION_FORMAT!r}; "
                    "not an sgpoison prediction file")
            if "p" not in ds.variables:
                raise DataFormatError(f"{path}: missing variable 'p'")
            if ds["p"].dims != ("instance", "temperature"):
                raise DataFormatError(
                    f"{path}: variable 'p' has dims {ds['p'].dims}, expected ('instance', 'temperature')")
            if "L" not in ds.attrs:
                raise DataFormatError(f"{path}: missing attribute 'L'")
            if "temperature" not in ds.coords:
                raise DataFormatError(f"{path}: no 'temperature' coordinate")
            T = np.asarray(ds["temperature"].values, dtype=np.float64)
            p = np.asarray(ds["p"].values, dtype=np.float64)
            attrs = attribute_values(ds.attrs)
        L = int(attrs["L"])
        if not np.all(np.isfinite(T)) or np.any(np.diff(T) <= 0):
            raise DataFormatError(f"{path}: temperatures must be finite and increasing, got {T}")
        if T.size < MIN_TEMPERATURES:
            raise DataFormatError(
                f"{path}: {T.size} temperatures; the spline interpolation needs at least {MIN_TEMPERATURES}")
        n_bad = int(np.count_nonzero(~np.isfinite(p)))
        if n_bad:
            raise DataFormatError(f"{path}: variable 'p' has {n_bad} NaN/inf value(s)")
        if np.any((p < 0) | (p > 1)):
            raise DataFormatError(f"{path}: variable 'p' has values outside [0, 1] (it is a probability)")
        if p.shape[0] < 2:
            raise DataFormatError(f"{path}: {p.shape[0]} instance(s); a standard error needs at least 2")
        entries.append((L, T, p, str(path), attrs))

    entries.sort(key=lambda e: e[0])
    sizes = [e[0] for e in entries]
    for (La, _, _, pa, _), (Lb, _, _, pb, _) in zip(entries, entries[1:]):
        if La == Lb:
            raise DataFormatError(f"{pa} and {pb}: both have L={La}; give one prediction file per size")
    if len(sizes) < MIN_SIZES:
        raise DataFormatError(
            f"{len(sizes)} system size(s) {sizes} given; finite-size scaling needs at least {MIN_SIZES}")
    ref_T, ref_path, ref_attrs = entries[0][1], entries[0][3], entries[0][4]
    for L, T, _, path, attrs in entries[1:]:
        if T.shape != ref_T.shape or not np.allclose(T, ref_T, rtol=1e-9, atol=1e-12):
            raise DataFormatError(
                f"{path}: temperature grid {T.tolist()} differs from that of {ref_path} {ref_T.tolist()}")
        for key in SCENARIO_ATTRS:
            if not _same_attr(attrs.get(key), ref_attrs.get(key)):
                raise DataFormatError(
                    f"{path}: attribute {key}={attrs.get(key)!r} differs from {ref_path}: "
                    f"{key}={ref_attrs.get(key)!r}; give the files of one scenario")
    return PredictionSet(
        L=np.array(sizes, dtype=np.int64), temperature=ref_T, p=[e[2] for e in entries],
        paths=[e[3] for e in entries], attrs=[e[4] for e in entries])


# --------------------------------------------------------------------------- shared numerics


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


def estimate_entry(value: float, samples: np.ndarray, confidence: float, description: str,
                   withheld: bool = False) -> dict[str, Any]:
    """One estimate with its bootstrap interval, as stored in ``estimates.json``.

    Returns
    -------
    dict
        ``value`` (central estimate from all instances), ``error`` (half width of the
        interval), ``ci_low``, ``ci_high``, ``n_bootstrap_valid`` (samples where the
        estimate exists), ``bootstrap_valid_fraction``, ``description``. With
        ``withheld`` (no transition detected) value, error and interval are None.
    """
    samples = np.asarray(samples, dtype=np.float64)
    n_valid = int(np.count_nonzero(np.isfinite(samples)))
    lo, hi = percentile_interval(samples, confidence)
    entry = {
        "value": float(value), "error": 0.5 * (hi - lo), "ci_low": lo, "ci_high": hi,
        "n_bootstrap_valid": n_valid,
        "bootstrap_valid_fraction": n_valid / samples.size if samples.size else math.nan,
        "description": description,
    }
    if withheld or not math.isfinite(entry["value"]):
        entry.update(value=None, error=None, ci_low=None, ci_high=None)
    return to_jsonable(entry)


# --------------------------------------------------------------------------- chain


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
                 nu_bounds: tuple[float, float] = (0.2, 10.0)) -> CollapseFit:
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


# --------------------------------------------------------------------------- bootstrap + verdict


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


def evaluate_checks(central: ChainResult, boot: BootstrapSamples, temperature: np.ndarray,
                    L: np.ndarray, settings: AnalysisSettings) -> dict[str, dict[str, Any]]:
    """The verdict checks; a transition is detected only if every check passes.

    Checks (thresholds from ``settings``):

    ``nu_ml_defined``
        every maximum of ``d<p>/dT`` is positive and strictly inside the
        temperature window, and ``1/nu_ml > 0``;
    ``crossing_in_window``
        the linear coefficient of ``<p>`` vs ``L^(1/nu_ml)`` changes sign from
        negative to positive inside the window (Tc_linear exists);
    ``crossing_significant``
        the size ordering is reversed significantly: some simulated temperature
        below Tc_linear has ``b/db <= -z`` and some above has ``b/db >= z``
        (``z = significance_z``), i.e. the curves are not statistically
        indistinguishable on either side of the crossing;
    ``successive_crossings``
        at least ``min_pair_crossing_fraction`` of the successive-size pairs cross
        (in the physical orientation, larger L steeper) inside the window;
    ``crossing_stable``
        Tc_linear exists in at least ``min_bootstrap_fraction`` of the bootstrap
        samples and its interval is narrower than ``max_interval_fraction`` of the window;
    ``collapse_acceptable`` (only with ``settings.collapse``)
        the collapse converged inside the bounds and its reduced chi^2 is at most
        ``max_reduced_chi2``.

    Returns
    -------
    dict of str to dict
        Per check: ``passed`` (bool), ``detail`` (str), and the numbers used.
    """
    window = float(temperature[-1] - temperature[0])
    checks: dict[str, dict[str, Any]] = {}

    bad_max = [int(l) for l, d, inside in zip(L, central.derivative_maximum,
                                               central.derivative_maximum_interior)
               if not (d > 0 and inside)]
    ok = not bad_max and central.inverse_nu_ml > 0
    if bad_max:
        lo, hi = settings.derivative_p_range
        detail = (f"d<p>/dT has no positive maximum inside the temperatures where {lo:g} <= <p> <= {hi:g} "
                  f"for L={bad_max}")
    elif not central.inverse_nu_ml > 0:
        detail = (f"the maximum of d<p>/dT does not grow with L (log-log slope 1/nu_ml = "
                  f"{central.inverse_nu_ml:.3g} <= 0)")
    else:
        detail = f"1/nu_ml = {central.inverse_nu_ml:.4g} > 0"
    checks["nu_ml_defined"] = {"passed": bool(ok), "detail": detail,
                               "inverse_nu_ml": central.inverse_nu_ml}

    ok = math.isfinite(central.Tc_linear)
    testable = math.isfinite(central.nu_ml)
    if ok:
        detail = f"linear coefficient changes sign at T = {central.Tc_linear:.4f}"
    elif not testable:
        detail = "not tested: the linear coefficient of <p> vs L^(1/nu_ml) needs nu_ml"
    else:
        detail = ("the linear coefficient of <p> vs L^(1/nu_ml) does not change sign (negative to "
                  f"positive) inside [{temperature[0]:g}, {temperature[-1]:g}]")
    checks["crossing_in_window"] = {"passed": ok, "tested": testable, "detail": detail}

    z = settings.significance_z
    ok = bool(central.z_below >= z and central.z_above >= z)
    if not math.isfinite(central.Tc_linear):
        detail = "not tested: no crossing"
    elif ok:
        detail = (f"size ordering reversed with {central.z_below:.3g} and {central.z_above:.3g} "
                  f"standard errors below/above the crossing (need >= {z:g})")
    else:
        detail = (f"curves statistically indistinguishable on one side of the crossing: largest "
                  f"|b/db| = {central.z_below:.3g} below and {central.z_above:.3g} above (need >= {z:g})")
    checks["crossing_significant"] = {
        "passed": ok, "tested": math.isfinite(central.Tc_linear), "z_below": central.z_below,
        "z_above": central.z_above, "threshold": z, "detail": detail}

    n_pairs = central.pair_crossings.size
    n_cross = int(np.count_nonzero(np.isfinite(central.pair_crossings)))
    frac = n_cross / n_pairs
    ok = frac >= settings.min_pair_crossing_fraction
    checks["successive_crossings"] = {
        "passed": bool(ok), "fraction": frac, "threshold": settings.min_pair_crossing_fraction,
        "detail": (f"{n_cross} of {n_pairs} successive-size pairs cross inside the temperature window"
                   + (" (at T = " + ", ".join(f"{t:.3f}" for t in central.pair_crossings
                                               if math.isfinite(t)) + ")" if n_cross else "")),
    }

    samples = boot.scalars["Tc_linear"]
    frac = float(np.mean(np.isfinite(samples)))
    lo, hi = percentile_interval(samples, settings.confidence)
    width = hi - lo
    ok = frac >= settings.min_bootstrap_fraction and width <= settings.max_interval_fraction * window
    if frac < settings.min_bootstrap_fraction:
        detail = (f"Tc_linear (sign change of the linear coefficient) exists in only "
                  f"{100 * frac:.0f}% of the bootstrap samples "
                  f"(need >= {100 * settings.min_bootstrap_fraction:.0f}%)")
    elif not width <= settings.max_interval_fraction * window:
        detail = (f"the bootstrap interval of the crossing [{lo:.3f}, {hi:.3f}] spans more than "
                  f"{settings.max_interval_fraction:g} of the temperature window")
    else:
        detail = f"crossing in {100 * frac:.0f}% of bootstrap samples, interval [{lo:.4f}, {hi:.4f}]"
    checks["crossing_stable"] = {"passed": bool(ok), "tested": testable, "bootstrap_fraction": frac,
                                 "interval_width": width, "detail": detail}

    if settings.collapse:
        c = central.collapse
        ok = c is not None and c.success and c.reduced_chi2 <= settings.max_reduced_chi2
        if c is None or not c.success:
            detail = f"data collapse failed: {c.message if c is not None else 'not attempted'}"
        elif not c.reduced_chi2 <= settings.max_reduced_chi2:
            detail = (f"data collapse unacceptable: reduced chi^2 = {c.reduced_chi2:.3g} > "
                      f"{settings.max_reduced_chi2:g}")
        else:
            detail = f"reduced chi^2 = {c.reduced_chi2:.3g}, S = {c.quality_S:.3g}"
        checks["collapse_acceptable"] = {
            "passed": bool(ok), "reduced_chi2": c.reduced_chi2 if c else math.nan,
            "threshold": settings.max_reduced_chi2, "detail": detail}
    return checks


@dataclass
class AnalysisResult:
    """Everything :func:`analyze` computed; input of the writers and figures.

    Attributes
    ----------
    data : PredictionSet
    settings : AnalysisSettings
    mean, stderr : ndarray, shape (n_L, n_T)
        ``<p>(T, L)`` and its standard error.
    central : ChainResult
        Chain on all instances.
    bootstrap : BootstrapSamples
    checks : dict
        See :func:`evaluate_checks`.
    transition_detected : bool
    reason : str or None
        The details of the failed checks, "; "-joined (None when detected); a
        check that could not be tested because another failed (``tested: false``)
        is listed in ``failed_checks`` but not repeated in the reason.
    """

    data: PredictionSet
    settings: AnalysisSettings
    mean: np.ndarray
    stderr: np.ndarray
    central: ChainResult
    bootstrap: BootstrapSamples
    checks: dict[str, dict[str, Any]]
    transition_detected: bool
    reason: str | None

    @property
    def failed_checks(self) -> list[str]:
        return [k for k, v in self.checks.items() if not v["passed"]]


def analyze(data: PredictionSet, settings: AnalysisSettings | None = None) -> AnalysisResult:
    """Run the full analysis of one scenario: central chain, bootstrap, verdict.

    Parameters
    ----------
    data : PredictionSet
        From :func:`open_predictions`, or built directly (arrays as documented there).
    settings : AnalysisSettings, optional

    Returns
    -------
    AnalysisResult
    """
    settings = settings or AnalysisSettings()
    if len(data.L) < MIN_SIZES:
        raise ValueError(f"finite-size scaling needs at least {MIN_SIZES} sizes, got L={list(data.L)}")
    n_L, n_T = len(data.L), data.temperature.size
    mean = np.empty((n_L, n_T))
    stderr = np.empty((n_L, n_T))
    for i, pi in enumerate(data.p):
        if pi.ndim != 2 or pi.shape[1] != n_T:
            raise ValueError(f"p for L={data.L[i]} has shape {pi.shape}, expected (n_instances, {n_T})")
        mean[i], stderr[i] = disorder_average(pi)
    central = fss_chain(data.L, data.temperature, mean, stderr, settings)
    boot = bootstrap_chain(data.L, data.temperature, data.p, settings)
    checks = evaluate_checks(central, boot, data.temperature, data.L, settings)
    failed = [v["detail"] for v in checks.values() if not v["passed"] and v.get("tested", True)]
    if not failed:
        failed = [v["detail"] for v in checks.values() if not v["passed"]]
    return AnalysisResult(data=data, settings=settings, mean=mean, stderr=stderr, central=central,
                          bootstrap=boot, checks=checks, transition_detected=not failed,
                          reason="; ".join(failed) if failed else None)


# --------------------------------------------------------------------------- output

_DESCRIPTIONS = {
    "Tc_linear": "temperature where the weighted linear coefficient of <p> vs L^(1/nu_ml) changes "
                 "sign (paper Fig. 1c)",
    "Tc_collapse": "Tc of the data collapse onto a cubic in x = L^(1/nu)(T - Tc) (paper Eq. 4)",
    "nu_ml": "1 / slope of log max_T d<p>/dT vs log L (paper Eq. 6)",
    "inverse_nu_ml": "slope of log max_T d<p>/dT vs log L",
    "nu_collapse": "nu of the data collapse (paper Eq. 4)",
    "collapse_reduced_chi2": "chi^2 / (n_points - 6) of the data collapse",
    "collapse_quality_S": "Houdayer-Hartmann quality S of the data collapse (about 1 is good)",
}
#: estimates that are withheld (None) when no transition is detected
WITHHELD_WITHOUT_TRANSITION = ("Tc_linear", "Tc_collapse", "nu_ml", "nu_collapse")
#: goodness-of-fit numbers: reported without an interval, because a resampled mean carries the
#: original noise plus the resampling noise, so their bootstrap distribution is shifted upwards
NO_INTERVAL = ("collapse_reduced_chi2", "collapse_quality_S")


def estimates_dict(result: AnalysisResult) -> dict[str, Any]:
    """The content of ``estimates.json`` (schema in docs/analysis.md)."""
    s = result.settings
    c = result.central
    data = result.data
    scal = c.scalars()
    estimates = {}
    for name in _DESCRIPTIONS:
        if not s.collapse and "collapse" in name:
            continue
        entry = estimate_entry(
            scal[name], result.bootstrap.scalars[name], s.confidence, _DESCRIPTIONS[name],
            withheld=(not result.transition_detected and name in WITHHELD_WITHOUT_TRANSITION))
        if name in NO_INTERVAL:
            entry.update(error=None, ci_low=None, ci_high=None)
        estimates[name] = entry
    pairs = []
    for i in range(len(data.L) - 1):
        e = estimate_entry(c.pair_crossings[i], result.bootstrap.pair_crossings[:, i], s.confidence,
                           "T where the splines of <p> for L1 and L2 cross (L2 steeper)")
        pairs.append({"L1": int(data.L[i]), "L2": int(data.L[i + 1]), **e})
    halves = [{"L": int(l), **estimate_entry(c.p_half[i], result.bootstrap.p_half[:, i], s.confidence,
                                             "T where the spline of <p> crosses 1/2")}
              for i, l in enumerate(data.L)]
    dmax = [{"L": int(l), "temperature": c.derivative_maximum_temperature[i],
             "interior": bool(c.derivative_maximum_interior[i]),
             **estimate_entry(c.derivative_maximum[i], result.bootstrap.derivative_maximum[:, i],
                              s.confidence, "max_T d<p>/dT of a local cubic fit, units 1/J")}
            for i, l in enumerate(data.L)]
    collapse = None
    if c.collapse is not None:
        cf = c.collapse
        show = result.transition_detected
        collapse = {
            "success": cf.success, "message": cf.message, "n_points": cf.n_points, "dof": cf.dof,
            "chi2": cf.chi2, "p_range": list(s.collapse_p_range),
            "coefficients": list(cf.coefficients) if show else None,
            "fit_error_Tc": cf.fit_error_Tc if show else None,
            "fit_error_nu": cf.fit_error_nu if show else None,
        }
    scen = data.scenario_attrs()
    out = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning",
        **scen,
        "model_sha256": {str(l): a.get("model_sha256") for l, a in zip(data.L, data.attrs)},
        "L": [int(l) for l in data.L],
        "n_instances": {str(l): int(n) for l, n in zip(data.L, data.n_instances)},
        "temperatures": data.temperature.tolist(),
        "transition_detected": result.transition_detected,
        "reason": result.reason,
        "failed_checks": result.failed_checks,
        "checks": result.checks,
        "estimates": estimates,
        "crossings": {"successive_pairs": pairs, "p_half": halves},
        "derivative_maximum": dmax,
        "loglog_fit": {"inverse_nu_ml": c.inverse_nu_ml, "intercept": c.loglog_intercept,
                       "slope_fit_error": c.loglog_slope_error},
        "linear_coefficient_normalisation": c.normalisation,
        "collapse": collapse,
        "settings": asdict(s),
        "inputs": [{"path": p, "L": int(l), "n_instances": int(n), "attrs": a}
                   for p, l, n, a in zip(data.paths, data.L, data.n_instances, data.attrs)],
        "provenance": provenance({"command": "analyze", "predictions": data.paths, **asdict(s)}),
    }
    return to_jsonable(out)


def estimates_dataset(result: AnalysisResult, estimates: Mapping[str, Any]) -> xr.Dataset:
    """The content of ``estimates.nc``: curves per (L, T), scalars and bootstrap samples.

    Variables: ``p_mean``, ``p_stderr`` (L, temperature); ``p_smooth``,
    ``p_derivative`` (L, temperature_fine); ``n_instances``,
    ``derivative_maximum``, ``derivative_maximum_temperature``, ``p_half_temperature`` (L);
    ``crossing_temperature`` (pair, with coords ``L1``, ``L2``);
    ``linear_coefficient``, ``linear_coefficient_error``,
    ``normalised_linear_coefficient`` (+ ``_error``) (temperature);
    ``normalised_linear_coefficient_smooth`` (temperature_fine);
    one 0-d variable per estimate (attrs ``error``, ``ci_low``, ``ci_high``;
    NaN when withheld) and ``bootstrap_<estimate>`` (bootstrap).
    Attributes: ``transition_detected`` (0/1), ``reason``, ``estimates_json``,
    scenario attributes, provenance.
    """
    c = result.central
    d = result.data
    L = d.L
    norm = c.normalisation if math.isfinite(c.normalisation) and c.normalisation > 0 else math.nan
    ds = xr.Dataset(
        {
            "p_mean": (("L", "temperature"), result.mean, {"long_name": "<p>, disorder average"}),
            "p_stderr": (("L", "temperature"), result.stderr, {"long_name": "standard error of <p>"}),
            "p_smooth": (("L", "temperature_fine"), c.smooth, {"long_name": "smoothing spline of <p>"}),
            "p_derivative": (("L", "temperature_fine"), c.derivative,
                             {"long_name": "d<p>/dT of the spline", "units": "1/J"}),
            "n_instances": (("L",), d.n_instances),
            "derivative_maximum": (("L",), c.derivative_maximum, {"units": "1/J"}),
            "derivative_maximum_temperature": (("L",), c.derivative_maximum_temperature, {"units": "J"}),
            "p_half_temperature": (("L",), c.p_half, {"units": "J"}),
            "crossing_temperature": (("pair",), c.pair_crossings, {"units": "J"}),
            "linear_coefficient": (("temperature",), c.linear_coefficient),
            "linear_coefficient_error": (("temperature",), c.linear_coefficient_error),
            "normalised_linear_coefficient": (("temperature",), c.linear_coefficient / norm),
            "normalised_linear_coefficient_error": (("temperature",), c.linear_coefficient_error / norm),
            "normalised_linear_coefficient_smooth": (("temperature_fine",), c.linear_coefficient_fine / norm),
        },
        coords={"L": L, "temperature": ("temperature", d.temperature, {"units": "J"}),
                "temperature_fine": ("temperature_fine", c.fine_temperature, {"units": "J"}),
                "L1": ("pair", L[:-1]), "L2": ("pair", L[1:])},
    )
    for name, entry in estimates["estimates"].items():
        val = entry["value"]
        ds[name] = ((), np.float64(val if val is not None else np.nan), {
            "error": np.float64(entry["error"] if entry["error"] is not None else np.nan),
            "ci_low": np.float64(entry["ci_low"] if entry["ci_low"] is not None else np.nan),
            "ci_high": np.float64(entry["ci_high"] if entry["ci_high"] is not None else np.nan),
            "description": entry["description"]})
        ds[f"bootstrap_{name}"] = (("bootstrap",), result.bootstrap.scalars[name])
    ds["bootstrap_crossing_temperature"] = (("bootstrap", "pair"), result.bootstrap.pair_crossings)
    attrs = {
        "format": ESTIMATES_FORMAT, "format_version": ESTIMATES_FORMAT_VERSION,
        "kind": "machine_learning",
        "transition_detected": np.int8(result.transition_detected),
        "reason": result.reason or "",
        "estimates_json": to_json(estimates),
    }
    for k in SCENARIO_ATTRS:
        v = estimates.get(k)
        attrs[k] = "" if v is None else v
    attrs.update(estimates["provenance"])
    ds.attrs.update(attrs)
    return ds


def write_estimates(result: AnalysisResult, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write ``out_dir/estimates.json`` and ``out_dir/estimates.nc`` (both atomically).

    Returns
    -------
    dict
        The JSON content.
    """
    out_dir = Path(out_dir)
    estimates = estimates_dict(result)
    write_json(estimates, out_dir / "estimates.json")
    write_netcdf(estimates_dataset(result, estimates), out_dir / "estimates.nc")
    return estimates
