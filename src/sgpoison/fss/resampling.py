"""Ensemble and disorder average of the predictions, and the two-level bootstrap.

The curve of one classifier and size L is (docs/analysis.md, "Errors")::

    <p>(T, L) = (1/K) sum_k (1/N) sum_i p_k[i, T]

over its K networks (K = 1 for a null model or a single CNN) and the N bimodal disorder
instances of size L, which every network classifies. One bootstrap sample redraws,
independently for every L,

* N instance positions with replacement (:func:`sgpoison.bootstrap.bootstrap_indices`),
  from a stream seeded by ``(seed, L)`` only (:func:`instance_seed`), so that every
  classifier of a scenario sees the same instance resamples and CNN - null differences
  are paired;
* K network indices with replacement (from the stream of :func:`network_rng`), used in
  the variance-corrected form ``m* = m + sqrt(K / (K - 1)) (mean_{j in draw} m_j - m)``
  (``m_k`` the disorder average of network k over the resampled instances, ``m`` their
  mean): its variance over the draws is ``var_k(m_k, ddof=1) / K``, the unbiased estimate
  of the network contribution to the variance of ``<p>`` (Davison & Hinkley, *Bootstrap
  Methods and their Application*, 1997, Sec. 3.8: two-stage sampling, shrinkage/inflation of
  the first-stage residuals). With K = 1 there is no network level.

Per-instance noise that differs between networks enters both levels (the usual upward
bias of the two-stage bootstrap, ``var_interaction / (N K)``): the errors are then
slightly conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sgpoison.bootstrap import bootstrap_indices
from sgpoison.fss.predictions import PredictionSet
from sgpoison.fss.settings import AnalysisSettings

#: spawn keys of the two streams of size L under the analysis seed
_INSTANCE_STREAM, _NETWORK_STREAM = 0, 1


def instance_seed(seed: int, L: int) -> int:
    """Seed of the instance resamples of size L: ``SeedSequence(seed, spawn_key=(L, 0))``, as an int.

    Depends on (seed, L) only, never on the classifier or the number of networks.
    """
    state = np.random.SeedSequence(int(seed), spawn_key=(int(L), _INSTANCE_STREAM)).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


def network_rng(seed: int, L: int) -> np.random.Generator:
    """Stream of the network resamples of size L: ``SeedSequence(seed, spawn_key=(L, 1))``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(L), _NETWORK_STREAM)))


def instance_counts(n_instances: int, n_bootstrap: int, seed: int, L: int) -> np.ndarray:
    """How often each instance is drawn in each bootstrap sample of size L.

    Returns
    -------
    ndarray, shape (n_bootstrap, n_instances), float64
        Row b counts the draws of :func:`sgpoison.bootstrap.bootstrap_indices` with
        :func:`instance_seed` ``(seed, L)``; every row sums to ``n_instances``.
    """
    draws = bootstrap_indices([n_instances], n_bootstrap, instance_seed(seed, L))[0]
    offsets = np.arange(n_bootstrap)[:, None] * n_instances
    counts = np.bincount((draws + offsets).ravel(), minlength=n_bootstrap * n_instances)
    return counts.reshape(n_bootstrap, n_instances).astype(np.float64)


@dataclass
class EnsembleAverage:
    """``<p>(T, L)`` of one classifier, its bootstrap samples and the spread between networks.

    Attributes
    ----------
    mean : ndarray, shape (n_L, n_T)
        ``<p>(T, L)`` over all networks and instances.
    error : ndarray, shape (n_L, n_T)
        Standard deviation (ddof=1) of the bootstrap samples of ``<p>``: the total error
        (instances and, with ``network_level``, networks). The weight of every fit.
    samples : ndarray, shape (n_bootstrap, n_L, n_T)
        ``<p>`` of every bootstrap sample.
    network_curves : list of ndarray, each shape (K, n_T)
        Disorder average of each network over all instances.
    instance_error : ndarray, shape (n_L, n_T)
        Standard error over instances of the network-averaged per-instance values (the
        error without the network level; diagnostic).
    network_spread : ndarray, shape (n_L,)
        Standard deviation (ddof=1) over k of the network curves, averaged over T (NaN for K = 1).
    network_variance_share : ndarray, shape (n_L,)
        ``sum_T var_k(m_k) / K`` over ``sum_T error^2``: the share of the total variance of
        ``<p>`` that comes from the networks (NaN for K = 1).
    n_networks : int
    network_level : bool
        Whether the networks were resampled (False if K = 1 or switched off).
    """

    mean: np.ndarray
    error: np.ndarray
    samples: np.ndarray
    network_curves: list[np.ndarray]
    instance_error: np.ndarray
    network_spread: np.ndarray
    network_variance_share: np.ndarray
    n_networks: int
    network_level: bool


def ensemble_average(data: PredictionSet, settings: AnalysisSettings) -> EnsembleAverage:
    """Average of one classifier over networks and instances, with the two-level bootstrap.

    Parameters
    ----------
    data : PredictionSet
        ``p[i]`` of shape (K, N_L, n_T) (or (N_L, n_T): K = 1) per size.
    settings : AnalysisSettings
        ``n_bootstrap``, ``seed`` and ``network_level``.

    Returns
    -------
    EnsembleAverage
    """
    B, n_L, n_T = settings.n_bootstrap, len(data.L), data.temperature.size
    K = data.n_networks
    resample_networks = settings.network_level and K > 1
    inflation = math.sqrt(K / (K - 1)) if K > 1 else 0.0
    mean = np.empty((n_L, n_T))
    samples = np.empty((B, n_L, n_T))
    instance_error = np.empty((n_L, n_T))
    spread = np.full(n_L, np.nan)
    share = np.full(n_L, np.nan)
    curves = []
    for i, L in enumerate(data.L):
        P = data.networks(i)
        if P.shape[0] != K or P.shape[2] != n_T:
            raise ValueError(f"{data.classifier} L={L}: predictions of shape {P.shape}, expected ({K}, N, {n_T})")
        N = P.shape[1]
        per_network = P.mean(axis=1)                      # (K, n_T)
        curves.append(per_network)
        mean[i] = per_network.mean(axis=0)
        per_instance = P.mean(axis=0)                     # (N, n_T), averaged over networks
        instance_error[i] = per_instance.std(axis=0, ddof=1) / math.sqrt(N)
        counts = instance_counts(N, B, settings.seed, int(L))
        M = np.einsum("bn,knt->bkt", counts, P) / N       # (B, K, n_T)
        m = M.mean(axis=1)
        if resample_networks:
            draw = network_rng(settings.seed, int(L)).integers(0, K, size=(B, K))
            drawn = np.take_along_axis(M, draw[:, :, None], axis=1).mean(axis=1)
            samples[:, i] = m + inflation * (drawn - m)
        else:
            samples[:, i] = m
    error = samples.std(axis=0, ddof=1)
    if K > 1:
        for i, per_network in enumerate(curves):
            sd = per_network.std(axis=0, ddof=1)
            spread[i] = float(sd.mean())
            total = float(np.sum(error[i] ** 2))
            share[i] = float(np.sum(sd ** 2) / K / total) if total > 0 else math.nan
    return EnsembleAverage(mean=mean, error=error, samples=samples, network_curves=curves,
                           instance_error=instance_error, network_spread=spread,
                           network_variance_share=share, n_networks=K, network_level=resample_networks)
