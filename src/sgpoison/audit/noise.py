"""Estimate of the label-noise rate from the configurations (confident learning).

Independent of the temperature metadata, the out-of-fold predictions of
:mod:`sgpoison.audit.crossval` and confident learning (Northcutt, Jiang & Chuang,
JAIR 70, 1373 (2021)) with per-class thresholds estimate how many labels the
configurations contradict.

Near t_label the two classes overlap physically: a configuration at T = 0.94
looks like one at T = 0.96, so a classifier disagrees with many correct labels
there. The estimate therefore (i) uses only temperatures at least ``band`` away
from t_label and (ii) checks that the disagreements behave like label noise,
which is independent of the configuration: among the examples confidently
predicted as one class, labels must disagree as often in the more confident half
as in the less confident half. Physical overlap makes the less confident half
disagree more; then the estimate is only an upper bound. When the interval
neither excludes 0 nor the target rate the conclusion is "too few data to tell".

Why not cleanlab (issue 13, decided by measurement). The confident joint here is cleanlab's:
per fold it equals ``cleanlab.count.compute_confident_joint(labels, pred_probs,
calibrate=False)`` on that fold's examples (same thresholds, same rule for two confident
classes; equal count for count, tested when cleanlab is installed). What differs is the rate
read from it. cleanlab's estimate, ``1 - trace(cleanlab.count.estimate_joint(...))`` (the
calibrated joint, also ``num_label_issues(..., "off_diagonal_calibrated") / n``), was measured
against the true flipped fraction on synthetic out-of-fold predictions
(``python benchmarks/bench_noise_estimate.py --repeats 50``, cleanlab 2.9.0, 40 instances x 11
region temperatures x 60 snapshots, 5 folds of different calibration, 50 data sets per row;
figures in docs/audit.md). Independent noise, rho = 0.01 / 0.05: bias -0.87e-3 / -4.4e-3
(-9 % of rho), RMSE 0.97e-3 / 4.4e-3 for cleanlab, bias +0.01e-3 / -0.11e-3, RMSE 0.48e-3 /
0.76e-3 here; block noise: cleanlab -1.4e-3 / -5.3e-3 (RMSE 2.8e-3 / 6.6e-3), here -0.34e-3 /
-0.26e-3 (RMSE 1.6e-3 / 2.9e-3). The calibrated joint's bias changes size and sign with how
differently confident the two phases are (``--class0-range 0.6 0.99``: +0.1e-3 at rho = 0.01,
-3.7e-3 at 0.1); cleanlab has no per-fold thresholds (summing its per-fold confident joints
before calibrating leaves the bias); and it takes no example weights, which the bootstrap
uses. ``num_label_issues`` (default method) counts flagged examples, 0.6 to 0.8 rho here for
rho <= 0.05, not a rate. So the rate stays hand-written and cleanlab is not a dependency.
Block noise (whole (instance, temperature) blocks flipped) is estimated with a bias of -1.5 to
-4 % of rho and is covered by the bootstrap over instances, which resamples whole blocks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sgpoison.audit.settings import AuditConfig
from sgpoison.bootstrap import bootstrap_indices, percentile_interval

#: the defaults of :func:`estimate_label_noise`
_AUDIT = AuditConfig()



#: conclusions of the label-noise estimate
NOISE_DETECTED = "label noise detected"

NOISE_ABSENT = "no label noise at the target rate"

NOISE_UNDECIDED = "too few data to tell"

#: the networks must resolve the phases in the noise-estimate region: mean p(label 1) above
#: t_label minus below it; an ideal network trained with label noise rho reaches 1 - 2 rho
MIN_SEPARATION = 0.5


def _confident_learning(p1: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                        groups: np.ndarray, split: np.ndarray | None = None) -> dict:
    """Confident learning on flat arrays of examples with non-negative weights.

    ``p1`` (n,) probabilities of label 1, ``labels`` (n,) in {0, 1}, ``weights``
    (n,) multiplicities (bootstrap), ``groups`` (n,) int in 0..G-1: the
    cross-validation fold, i.e. the network that made the prediction. Each
    network has its own calibration, so thresholds are per fold: t_{g,j} =
    weighted mean of p_j over the examples of fold g labelled j; an example is
    confident for class j if p_j >= t_{g,j}, and is counted in the confident
    joint C[label, j] (j the more probable class if both qualify).

    ``rate`` = (C[0, 1] + C[1, 0]) / sum(C), the fraction of confidently
    predicted examples whose label disagrees with the prediction. If the
    confident predictions are right, this is the flip probability rho of
    label noise that is independent of the configuration, whatever fraction of
    each class is confident. ``rate_calibrated`` = Q[0, 1] + Q[1, 0] of the
    calibrated joint of Northcutt et al. (row i of C rescaled to the number of
    examples labelled i); it is biased when the two classes are confident in
    different fractions (by -5 to -9 % of rho for 0.005 <= rho <= 0.05 in
    benchmarks/bench_noise_estimate.py), so it is reported only.

    ``split`` (G, 2) optional: per fold and predicted class, the p_j at or above
    which a confident example is in the "more confident" half; gives
    ``rate_upper`` and ``rate_lower``, the disagreement rates of the two halves.
    Splitting within a fold matters: across folds, a fold with more flipped
    labels of its own was predicted by a network trained on fewer flips, which
    is more confident, so a split across folds correlates confidence with noise.
    """
    p = np.stack([1.0 - p1, p1], axis=-1).astype(np.float64)
    y = labels.astype(np.int64)
    w = weights.astype(np.float64)
    g = np.asarray(groups, dtype=np.int64)
    n_groups = int(g.max()) + 1 if len(g) else 0
    thresholds = np.full((n_groups, 2), np.inf)
    for j in (0, 1):
        mask = y == j
        total = np.bincount(g[mask], weights=w[mask], minlength=n_groups)
        sums = np.bincount(g[mask], weights=w[mask] * p[mask, j], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            thresholds[:, j] = np.where(total > 0, sums / total, np.inf)
    above = p >= thresholds[g]
    confident = above.any(axis=1)
    predicted = np.where(above[:, 0] & above[:, 1], np.argmax(p, axis=1), np.argmax(above, axis=1))
    C = np.zeros((2, 2))
    np.add.at(C, (y[confident], predicted[confident]), w[confident])
    n_label = np.array([w[y == j].sum() for j in (0, 1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        Q = C / C.sum(axis=1, keepdims=True) * n_label[:, None]
        Q = Q / np.nansum(Q)
    calibrated = float(np.nansum(Q[0, 1]) + np.nansum(Q[1, 0])) if np.isfinite(Q).any() else math.nan
    rate = float((C[0, 1] + C[1, 0]) / C.sum()) if C.sum() > 0 else math.nan
    out = {"thresholds": thresholds, "confident_joint": C, "calibrated_joint": Q, "rate": rate,
           "rate_calibrated": calibrated, "confident": confident, "predicted": predicted,
           "confident_fraction": float(w[confident].sum() / w.sum()) if w.sum() else math.nan}
    if split is not None:
        disagree = confident & (predicted != y)
        p_pred = p[np.arange(len(y)), predicted]
        upper = confident & (p_pred >= split[g, predicted])
        lower = confident & ~upper
        with np.errstate(invalid="ignore", divide="ignore"):
            out["rate_upper"] = float((w * (disagree & upper)).sum() / (w * upper).sum())
            out["rate_lower"] = float((w * (disagree & lower)).sum() / (w * lower).sum())
    return out


def _median_split(p1: np.ndarray, groups: np.ndarray, confident: np.ndarray,
                  predicted: np.ndarray) -> np.ndarray:
    """Median of p_j over the confident examples of each fold predicted as j, shape (G, 2)."""
    p = np.stack([1.0 - p1, p1], axis=-1)
    n_groups = int(groups.max()) + 1
    split = np.ones((n_groups, 2))
    for k in range(n_groups):
        for j in (0, 1):
            mask = confident & (predicted == j) & (groups == k)
            if mask.any():
                split[k, j] = np.median(p[mask, j])
    return split


def estimate_label_noise(p1: np.ndarray, labels: np.ndarray, temperatures: np.ndarray,
                         t_label: float, folds: np.ndarray | None = None,
                         band: float = _AUDIT.band, target_rate: float = _AUDIT.target_rate,
                         tolerance: float = _AUDIT.tolerance, n_bootstrap: int = _AUDIT.noise_bootstrap,
                         confidence: float = _AUDIT.confidence, seed: int = _AUDIT.seed,
                         min_separation: float = MIN_SEPARATION) -> dict:
    """Estimate the label-noise rate from out-of-fold predictions (confident learning).

    Only temperatures with |T - t_label| >= ``band`` enter (the "region"),
    where the phases do not overlap physically if the data resolve them at
    all. On the region, :func:`_confident_learning` gives the estimated fraction
    of wrong labels (Northcutt et al., JAIR 70, 1373 (2021)); label noise that
    flips each label independently with probability rho gives rho there as
    everywhere.

    Label noise is independent of the configuration, so among the confidently
    predicted examples the labels disagree equally often in the more and in the
    less confident half (split at the median of each predicted class).
    Physical overlap of the classes (configurations that look like the other
    phase) concentrates in the less confident half. The excess
    ``rate_lower - rate_upper`` is reported with its interval; when even its
    lower end exceeds ``tolerance``, physics may account for more than the
    tolerated rate and the estimate is an upper bound only.

    Intervals: percentile bootstrap over instances (whole instances resampled,
    thresholds recomputed), coverage ``confidence``.

    The estimate means something only if the networks resolve the phases:
    ``separation``, the mean p(label 1) over the region's temperatures above
    t_label minus that below it (no labels involved), must reach
    ``min_separation``. A network without skill disagrees with half of the
    labels whatever their noise.

    Conclusion:

    * ``"too few data to tell"`` if the separation is below ``min_separation``;
    * ``"label noise detected"`` if the lower end exceeds ``tolerance`` and the
      disagreements behave like label noise (the excess is not above ``tolerance``);
    * else ``"no label noise at the target rate"`` if the upper end is below ``target_rate``;
    * ``"too few data to tell"`` otherwise (the interval cannot separate 0
      from ``target_rate``, or physical overlap cannot be told apart from noise).

    Parameters
    ----------
    p1 : float array, shape (n_instances, N_T, N_con)
        Out-of-fold probability of label 1 (:func:`out_of_fold_probabilities`).
    labels : int array, same shape
    temperatures : float array, shape (N_T,)
    t_label : float
    folds : int array, shape (n_instances,), optional
        Cross-validation fold of each instance (thresholds and median splits
        are per fold, see :func:`_confident_learning`); default: one fold.
    band, target_rate, tolerance, n_bootstrap, confidence, seed, min_separation
        See above.

    Returns
    -------
    dict
        ``rate``, ``interval``, ``confidence``, ``conclusion``, ``pass`` (False
        only if noise is detected), ``region`` (temperatures used, examples),
        ``thresholds``, ``confident_joint``, ``calibrated_joint``,
        ``confident_fraction``, ``rate_upper``, ``rate_lower``,
        ``overlap_excess`` and its ``overlap_excess_interval``, ``separation``,
        ``per_temperature`` (disagreement rate among confident examples), ``reason``.
    """
    p1 = np.asarray(p1, dtype=np.float64)
    labels = np.asarray(labels)
    T = np.asarray(temperatures, dtype=float)
    n_inst, n_T, n_con = labels.shape
    in_region = np.abs(T - t_label) >= band
    low, high = in_region & (T <= t_label), in_region & (T > t_label)
    result: dict[str, Any] = {
        "method": "confident learning on out-of-fold predictions (Northcutt et al., JAIR 70, "
                  "1373 (2021)), per-class thresholds, temperatures |T - t_label| >= band",
        "band": band, "target_rate": target_rate, "tolerance": tolerance, "confidence": confidence,
        "n_bootstrap": n_bootstrap, "n_instances": n_inst,
        "region": {"temperatures": T[in_region].tolist(),
                   "n_examples": int(in_region.sum()) * n_inst * n_con},
    }
    if not low.any() or not high.any():
        result.update(rate=math.nan, interval=[math.nan, math.nan], conclusion=NOISE_UNDECIDED,
                      reason=f"no temperature at least {band:g} below and above t_label = {t_label:g}; "
                             "lower --band or widen the ladder", **{"pass": True})
        return result

    x = p1[:, in_region, :]
    y = labels[:, in_region, :]
    inst = np.broadcast_to(np.arange(n_inst)[:, None, None], y.shape).ravel()
    fold_of = np.zeros(n_inst, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    groups = fold_of[inst]
    flat_p, flat_y = x.ravel(), y.ravel()
    ones = np.ones(flat_p.shape)
    full = _confident_learning(flat_p, flat_y, ones, groups)
    # the median split of each fold and predicted class, fixed from the full sample
    split = _median_split(flat_p, groups, full["confident"], full["predicted"])
    full = _confident_learning(flat_p, flat_y, ones, groups, split)
    confident, predicted = full["confident"], full["predicted"]

    resamples = bootstrap_indices([n_inst], n_bootstrap, seed)[0]
    boot = np.empty((n_bootstrap, 3))
    for b, sample in enumerate(resamples):
        weights = np.bincount(sample, minlength=n_inst).astype(np.float64)[inst]
        r = _confident_learning(flat_p, flat_y, weights, groups, split)
        boot[b] = r["rate"], r["rate_upper"], r["rate_lower"]
    lo, hi = percentile_interval(boot[:, 0], confidence)
    ex_lo, ex_hi = percentile_interval(boot[:, 2] - boot[:, 1], confidence)

    # do the networks resolve the phases at all? (label-free: mean p on either side of t_label)
    side_high = (T[in_region] > t_label)[None, :, None]
    separation = float(x[np.broadcast_to(side_high, x.shape)].mean()
                       - x[np.broadcast_to(~side_high, x.shape)].mean())

    # disagreement among confident examples, per temperature (diagnostic)
    conf_T = confident.reshape(x.shape)
    dis_T = (confident & (predicted != flat_y)).reshape(x.shape)
    per_T = [{"T": float(t), "confident": int(conf_T[:, k].sum()),
              "disagreements": int(dis_T[:, k].sum())} for k, t in enumerate(T[in_region])]

    overlap = bool(ex_lo > tolerance)
    if not separation >= min_separation:
        conclusion, reason = NOISE_UNDECIDED, (
            f"the classifiers do not resolve the phases away from t_label: mean p(label 1) differs by "
            f"{separation:.3f} < {min_separation:g} between the temperatures above and below it, so "
            "disagreements cannot be told from classifier errors")
    elif lo > tolerance and not overlap:
        conclusion, reason = NOISE_DETECTED, (f"lower end {lo:.4f} of the interval exceeds the tolerance "
                                              f"{tolerance:g}, and disagreements do not depend on the "
                                              "classifier's confidence, as for label noise")
    elif hi < target_rate:
        conclusion, reason = NOISE_ABSENT, (f"upper end {hi:.4f} of the interval is below the target "
                                            f"rate {target_rate:g}")
    elif lo > tolerance:
        conclusion, reason = NOISE_UNDECIDED, (
            f"labels disagree with confident predictions ({full['rate']:.4f}), but more often where the "
            f"classifier is less sure (excess {full['rate_lower'] - full['rate_upper']:.4f}, interval "
            f"[{ex_lo:.4f}, {ex_hi:.4f}]): the phases overlap physically in these data, so the estimate "
            f"is an upper bound only and cannot separate 0 from {target_rate:g}")
    else:
        conclusion, reason = NOISE_UNDECIDED, (f"the interval [{lo:.4f}, {hi:.4f}] contains both "
                                               f"{tolerance:g} and {target_rate:g}")
    result.update(
        rate=full["rate"], interval=[float(lo), float(hi)], conclusion=conclusion, reason=reason,
        thresholds=full["thresholds"].tolist(), median_split=split.tolist(),
        confident_joint=full["confident_joint"].tolist(),
        calibrated_joint=full["calibrated_joint"].tolist(), rate_calibrated=full["rate_calibrated"],
        confident_fraction=full["confident_fraction"],
        rate_upper=full["rate_upper"], rate_lower=full["rate_lower"],
        overlap_excess=full["rate_lower"] - full["rate_upper"],
        overlap_excess_interval=[float(ex_lo), float(ex_hi)], separation=separation,
        min_separation=min_separation, per_temperature=per_T,
        **{"pass": conclusion != NOISE_DETECTED})
    return result
