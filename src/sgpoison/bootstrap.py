"""Bootstrap over disorder instances and percentile intervals: the one implementation.

Used by the finite-size-scaling analyses (:mod:`sgpoison.fss`), the thermalization tests
(:mod:`sgpoison.mc.thermalization`) and the audit's label-noise estimate
(:mod:`sgpoison.audit`). Disorder instances are independent, so they are the unit of
resampling: a bootstrap sample draws, for every system size, as many instances as it has,
with replacement (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 6),
and the statistic is recomputed on the sample.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def bootstrap_indices(n_instances: Sequence[int], n_bootstrap: int, seed: int) -> list[np.ndarray]:
    """Instance positions of every bootstrap sample, for each group (system size) of instances.

    Sample b draws ``n_instances[i]`` positions with replacement from ``0 .. n_instances[i] - 1``
    for i = 0, 1, ... in turn, from one ``numpy.random.default_rng(seed)`` stream (so the
    samples of one seed are the same whatever is computed from them).

    Parameters
    ----------
    n_instances : sequence of int
        Number of instances of each group, e.g. per L.
    n_bootstrap : int
        Number of samples.
    seed : int
        Seed of the stream, >= 0.

    Returns
    -------
    list of ndarray
        One int64 array of shape ``(n_bootstrap, n_instances[i])`` per group.
    """
    rng = np.random.default_rng(seed)
    out = [np.empty((int(n_bootstrap), int(n)), dtype=np.int64) for n in n_instances]
    for b in range(int(n_bootstrap)):
        for positions, n in zip(out, n_instances):
            positions[b] = rng.integers(0, int(n), int(n))
    return out


def bootstrap_mean(per_instance: np.ndarray, resamples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disorder average and its bootstrap standard error.

    Parameters
    ----------
    per_instance : float array, shape (n_instances, ...)
    resamples : int array, shape (n_bootstrap, n_instances), one group of :func:`bootstrap_indices`

    Returns
    -------
    mean, error : float64 arrays of shape ``per_instance.shape[1:]``
        The mean over instances and the standard deviation (ddof=1) of the
        means of the resamples; error is NaN with fewer than two instances or samples.
    """
    x = np.asarray(per_instance, dtype=np.float64)
    mean = x.mean(axis=0)
    if x.shape[0] < 2 or len(resamples) < 2:
        return mean, np.full_like(mean, np.nan)
    boot = x[resamples].mean(axis=1)
    return mean, boot.std(axis=0, ddof=1)


def bootstrap_stderr(samples: np.ndarray) -> np.ndarray:
    """Standard deviation (ddof=1) over axis 0 of the finite bootstrap samples.

    Parameters
    ----------
    samples : float array, shape (n_bootstrap, ...)

    Returns
    -------
    float64 array of shape ``samples.shape[1:]``
        NaN where fewer than 2 samples are finite.
    """
    finite = np.isfinite(samples)
    n = finite.sum(axis=0)
    x = np.where(finite, samples, 0.0)
    mean = x.sum(axis=0) / np.maximum(n, 1)
    var = (np.where(finite, samples - mean, 0.0) ** 2).sum(axis=0) / np.maximum(n - 1, 1)
    return np.where(n >= 2, np.sqrt(var), np.nan)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile bootstrap interval of the finite samples.

    The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
    (``numpy.nanquantile``, linear interpolation; Efron & Tibshirani 1993, ch. 13),
    e.g. the 16th and 84th percentiles for ``confidence = 0.68``.

    Returns
    -------
    (float, float)
        ``(nan, nan)`` when fewer than 2 samples are finite.
    """
    samples = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(samples)
    if np.count_nonzero(finite) < 2:
        return math.nan, math.nan
    samples = np.where(finite, samples, np.nan)
    lo, hi = np.nanquantile(samples, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(lo), float(hi)
