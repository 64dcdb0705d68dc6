"""Audit of a training set before it poisons the network.

Two kinds of poison spoil the paper's training sets (Fang, Barzegar &
Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001 (2020)): configurations that
are not in thermal equilibrium, and wrong labels. This module checks one
training file for both and returns a JSON-able report with a verdict.

**Thermalization** (per temperature; :func:`audit_thermalization`), from the
log-binned series of the simulation file (``docs/data-format.md``):

* the disorder averages of e, q^2 and, for Gaussian disorder, of the KPY energy
  -3(1 - q_l)/T agree between the last two log bins (:func:`sgpoison.mc.thermalization.log_bin_tests`);
* for Gaussian disorder, e = -3(1 - q_l)/T in the last bin (Katzgraber,
  Palassini & Young, PRB 63, 184422 (2001));
* the parallel-tempering swap acceptance of every neighbouring temperature pair
  is above a floor;
* the run lasted the sweeps its own metadata declare necessary
  (``n_sweeps_run >= n_sweeps``).

Errors come from a bootstrap over disorder instances. "Agree" means
|difference| <= c * error with c the Student-t quantile that keeps the
probability of *any* false alarm among the file's tests below ``significance``
(Bonferroni over tests and temperatures): a file with 20 temperatures, 4
tests per temperature and 160 instances uses c = 3.49; with c = 2 a
thermalized file would fail about 4 of its 80 tests by chance.

**Labels** (:func:`audit_labels`), given the label vector the training will use
(from :func:`sgpoison.ml.train.prepare_training_set`, label noise included):

* agreement with the temperature metadata, label = 1 iff T > t_label;
* independent of the metadata, an estimate of the label-noise rate from the
  configurations: out-of-fold predictions of the CNN of :mod:`sgpoison.ml.network`
  (k folds by disorder instance) and confident learning (Northcutt, Jiang &
  Chuang, JAIR 70, 1373 (2021)) with per-class thresholds
  (:func:`estimate_label_noise`).

Near t_label the two classes overlap physically: a configuration at T = 0.94
looks like one at T = 0.96, so a classifier disagrees with many correct labels
there. The noise estimate therefore (i) uses only temperatures at least
``band`` away from t_label and (ii) checks that the disagreements behave like
label noise, which is independent of the configuration: among the examples
confidently predicted as one class, labels must disagree as often in the more
confident half as in the less confident half. Physical overlap makes the less
confident half disagree more; then the estimate is only an upper bound. When
the interval neither excludes 0 nor the target rate the report says
"too few data to tell".

TensorFlow is imported only by the functions that train networks.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import open_simulation, write_netcdf
from sgpoison.io.jsonio import read_json, write_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.bootstrap import bootstrap_indices, percentile_interval
from sgpoison.mc.thermalization import log_bin_tests

log = logging.getLogger(__name__)

AUDIT_FORMAT = "sgpoison-audit"
AUDIT_FORMAT_VERSION = 1

#: audit policies: ``warn`` reports a failing audit, ``refuse`` also stops the workflow
POLICIES = ("warn", "refuse")

#: exit status of ``sgpoison audit --policy refuse`` for a failing training set
REFUSE_EXIT_CODE = 3

#: conclusions of the label-noise estimate
NOISE_DETECTED = "label noise detected"
NOISE_ABSENT = "no label noise at the target rate"
NOISE_UNDECIDED = "too few data to tell"

#: fewest disorder instances for a verdict: with fewer, the bootstrap errors and the
#: Student-t critical values (c ~ 5 for 8 instances and 48 tests) leave the tests powerless
MIN_INSTANCES = 16

#: the networks must resolve the phases in the noise-estimate region: mean p(label 1) above
#: t_label minus below it; an ideal network trained with label noise rho reaches 1 - 2 rho
MIN_SEPARATION = 0.5

#: check names used in reports (prefixed with ``thermalization.`` or ``labels.``)
LOG_BIN_CHECKS = {
    "energy": "energy_log_bins",
    "q2": "q2_log_bins",
    "energy_kpy": "energy_kpy_log_bins",
    "kpy_identity": "kpy_identity",
}


@dataclasses.dataclass(frozen=True)
class AuditConfig:
    """All parameters of one audit.

    Attributes
    ----------
    significance : float
        Probability of a false "not thermalized" for a thermalized file: the
        family-wise error of all log-binning tests of the file, in (0, 1).
    n_bootstrap, bootstrap_seed : int
        Bootstrap resamples of the instances for the thermalization errors, and their seed.
    swap_floor : float
        Smallest acceptable instance-averaged swap acceptance of a temperature pair.
    t_label, label_noise, seed, validation_fraction
        As for ``sgpoison train``: the audit rebuilds the exact training labels
        with :func:`sgpoison.ml.train.prepare_training_set`.
    estimate_noise : bool
        Run the data-driven label-noise estimate (trains ``n_folds`` networks).
    n_folds, epochs, batch_size, learning_rate, padding
        Cross-validation of the noise estimate: folds by disorder instance,
        passes over each fold's training part, and the network's settings
        (:func:`sgpoison.ml.network.build_model`).
    band : float
        The noise estimate uses temperatures with |T - t_label| >= band only.
    target_rate : float
        The label-noise rate the audit must be able to see (the study's poisoning, 1 %).
    tolerance : float
        Noise is "detected" only if the lower end of the interval exceeds this.
    noise_bootstrap : int
        Bootstrap resamples (over instances) of the noise estimate.
    confidence : float
        Coverage of the reported intervals.
    max_instances : int, optional
        Use at most this many training instances for the noise estimate.
    threads : int, optional
        TensorFlow threads.
    """

    significance: float = 0.05
    n_bootstrap: int = 1000
    bootstrap_seed: int = 0
    swap_floor: float = 0.1
    t_label: float = 0.95
    label_noise: float = 0.0
    seed: int = 0
    validation_fraction: float = 0.2
    estimate_noise: bool = True
    n_folds: int = 5
    epochs: float = 3.0
    batch_size: int = 256
    learning_rate: float = 1e-3
    padding: str = "same"
    band: float = 0.1
    target_rate: float = 0.01
    tolerance: float = 0.0025
    noise_bootstrap: int = 200
    confidence: float = 0.95
    max_instances: int | None = None
    threads: int | None = None

    def validate(self) -> None:
        """Raise :class:`SettingsError` naming the option (or field) of the first invalid value."""
        checks = [
            ("--significance", self.significance, 0.0 < self.significance < 1.0, "must be in (0, 1)"),
            ("--n-bootstrap", self.n_bootstrap, self.n_bootstrap >= 2, "must be >= 2"),
            ("--swap-floor", self.swap_floor, 0.0 <= self.swap_floor <= 1.0, "must be in [0, 1]"),
            ("--label-noise", self.label_noise, 0.0 <= self.label_noise < 0.5, "must be in [0, 0.5)"),
            ("--validation-fraction", self.validation_fraction, 0.0 <= self.validation_fraction < 1.0,
             "must be in [0, 1)"),
            ("--folds", self.n_folds, self.n_folds >= 2, "must be >= 2"),
            ("--epochs", self.epochs, self.epochs > 0, "must be > 0"),
            ("--band", self.band, self.band >= 0, "must be >= 0"),
            ("--target-rate", self.target_rate, 0.0 < self.target_rate < 0.5, "must be in (0, 0.5)"),
            ("--tolerance", self.tolerance, 0.0 <= self.tolerance < self.target_rate,
             f"must be in [0, target rate {self.target_rate:g})"),
            ("--max-instances", self.max_instances, self.max_instances is None or self.max_instances >= 2,
             "must be >= 2"),
            ("--threads", self.threads, self.threads is None or self.threads >= 1, "must be >= 1"),
            ("--batch-size", self.batch_size, self.batch_size >= 1, "must be >= 1"),
            ("learning_rate", self.learning_rate, self.learning_rate > 0, "must be > 0"),
            ("padding", self.padding, self.padding in ("same", "periodic"), "must be 'same' or 'periodic'"),
            ("noise_bootstrap", self.noise_bootstrap, self.noise_bootstrap >= 10, "must be >= 10"),
            ("confidence", self.confidence, 0.5 <= self.confidence < 1.0, "must be in [0.5, 1)"),
        ]
        for option, value, ok, message in checks:
            if not ok:
                raise SettingsError(f"{option} {message}, got {value!r}",
                                 option if option.startswith("--") else None)


# ============================================================================= thermalization


def critical_value(n_instances: int, n_tests: int, significance: float) -> float:
    """Two-sided critical |z| of one test among ``n_tests`` (Bonferroni).

    The z-scores are differences of disorder averages over their bootstrap
    errors; with n instances they follow Student's t with n - 1 degrees of
    freedom, so c = t_{n-1}^{-1}(1 - significance / (2 n_tests)).
    """
    if n_instances < 2 or n_tests < 1:
        return math.inf
    return float(stats.t.ppf(1.0 - significance / (2.0 * n_tests), df=n_instances - 1))


def _format_T(values) -> str:
    return ", ".join(f"{t:.3f}" for t in values)


def audit_thermalization(ds: xr.Dataset, significance: float = 0.05, n_bootstrap: int = 1000,
                         seed: int = 0, swap_floor: float = 0.1) -> dict:
    """Thermalization checks of one simulation file, per temperature and overall.

    Parameters
    ----------
    ds : xarray.Dataset
        Opened with :func:`sgpoison.io.formats.open_simulation`.
    significance : float
        Family-wise false-alarm probability of the log-binning tests (see :func:`critical_value`).
    n_bootstrap, seed : int
        Bootstrap over instances.
    swap_floor : float
        Floor of the instance- and replica-averaged swap acceptance of each pair.

    Returns
    -------
    dict
        ``verdict`` (``"thermalized"`` / ``"not thermalized"``), ``failing_checks``
        (list of str naming the check, the temperatures and the numbers),
        ``checks`` (name -> bool), ``settings``, ``log_bins`` (the compared
        sweeps), ``run_length``, ``swap_acceptance`` (per pair) and
        ``temperatures`` (one entry per temperature with its own verdict, the
        numbers of every log-binning test and the swap acceptances of its pairs).
    """
    n = int(ds.sizes["instance"])
    T = ds["temperature"].values.astype(float)
    failing: list[str] = []
    checks: dict[str, bool] = {}
    per_T: list[dict] = [{"T": float(t), "failing_checks": []} for t in T]
    try:
        tests = log_bin_tests(ds, n_bootstrap=n_bootstrap, seed=seed)
    except ValueError as exc:
        tests = None
        failing.append(f"thermalization.log_bins: {exc}")
    names = [] if tests is None else [str(t) for t in tests["test"].values]
    n_tests = len(names) * len(T)
    c = critical_value(n, n_tests, significance)

    # -- is the test assessable at all?
    assessable = bool(names) and n >= MIN_INSTANCES
    if tests is not None and not names:
        failing.append("thermalization.log_bins: fewer than two log bins with sweeps "
                       f"(n_sweeps_run = {ds.attrs.get('n_sweeps_run')}); nothing to compare")
    elif tests is not None and n < MIN_INSTANCES:
        failing.append(f"thermalization.log_bins: {n} instance(s); errors over instances need "
                       f">= {MIN_INSTANCES}")
    checks["log_bins_assessable"] = assessable

    # -- log-binning and KPY tests
    for name in names:
        check = LOG_BIN_CHECKS[name]
        row = tests.sel(test=name)
        z = row["z"].values
        bad = ~(np.abs(z) <= c)  # NaN z (no error) fails
        checks[check] = assessable and not bad.any()
        first, second = ("energy", "energy_kpy") if name == "kpy_identity" else ("previous", "last")
        for k in range(len(T)):
            entry = {
                first: float(row["previous"].values[k]),
                second: float(row["last"].values[k]),
                "difference": float(row["difference"].values[k]),
                "error": float(row["error"].values[k]),
                "z": float(z[k]),
                "pass": bool(assessable and not bad[k]),
            }
            per_T[k][check] = entry
            if not entry["pass"] and assessable:
                per_T[k]["failing_checks"].append(f"thermalization.{check}")
        if assessable and bad.any():
            what = ("e - (-3(1 - q_l)/T) in the last log bin" if name == "kpy_identity"
                    else f"last - previous log bin of {name}")
            worst = np.nanmax(np.abs(z)) if np.isfinite(z).any() else math.nan
            failing.append(
                f"thermalization.{check}: {what} differs from 0 by more than {c:.2f} errors at "
                f"T = {_format_T(T[bad])} (largest |z| = {worst:.1f})")

    # -- parallel-tempering health
    swap = ds["swap_acceptance"].load() if "swap_acceptance" in ds else None
    pairs = []
    if swap is not None and swap.sizes.get("temperature_pair", 0) == len(T) - 1:
        mean = swap.mean(("instance", "replica")).values
        lowest = swap.min(("instance", "replica")).values
        below = (swap.mean("replica") < swap_floor).sum("instance").values
        for k in range(len(T) - 1):
            ok = bool(mean[k] >= swap_floor)
            pairs.append({"T_low": float(T[k]), "T_high": float(T[k + 1]), "mean": float(mean[k]),
                          "lowest_instance": float(lowest[k]), "instances_below_floor": int(below[k]),
                          "pass": ok})
            for j in (k, k + 1):
                per_T[j].setdefault("swap_acceptance", []).append(float(mean[k]))
                if not ok and "thermalization.swap_acceptance" not in per_T[j]["failing_checks"]:
                    per_T[j]["failing_checks"].append("thermalization.swap_acceptance")
        bad_pairs = [p for p in pairs if not p["pass"]]
        checks["swap_acceptance"] = not bad_pairs
        if bad_pairs:
            failing.append(
                "thermalization.swap_acceptance: mean acceptance below the floor "
                f"{swap_floor:g} for the pair(s) "
                + "; ".join(f"({p['T_low']:.3f}, {p['T_high']:.3f}): {p['mean']:.3f}" for p in bad_pairs))
    elif len(T) > 1:
        checks["swap_acceptance"] = False
        failing.append("thermalization.swap_acceptance: no swap_acceptance per temperature pair in the file")

    # -- run length against the file's own metadata
    n_sweeps = int(ds.attrs.get("n_sweeps", 0))
    n_run = int(ds.attrs.get("n_sweeps_run", 0))
    run_ok = n_run >= n_sweeps > 0
    checks["run_length"] = run_ok
    if not run_ok:
        failing.append(
            f"thermalization.run_length: the file ran {n_run} thermalization sweeps, but declares "
            f"n_sweeps = {n_sweeps} necessary (sweep_fraction {ds.attrs.get('sweep_fraction')})")

    for entry in per_T:
        if not assessable:
            entry["failing_checks"].insert(0, "thermalization.log_bins")
        entry["verdict"] = "thermalized" if not entry["failing_checks"] else "not thermalized"
    data_checks = [k for k in checks if k != "run_length"]
    return {
        "verdict": "thermalized" if not failing else "not thermalized",
        "failing_checks": failing,
        "checks": checks,
        "data_checks_pass": all(checks[k] for k in data_checks),
        "settings": {"significance": significance, "critical_z": c, "n_tests": n_tests,
                     "n_instances": n, "n_bootstrap": n_bootstrap, "bootstrap_seed": seed,
                     "swap_floor": swap_floor},
        "log_bins": {} if tests is None else tests.attrs["windows"],
        "run_length": {"n_sweeps": n_sweeps, "n_sweeps_run": n_run,
                       "sweep_fraction": float(ds.attrs.get("sweep_fraction", math.nan)), "pass": run_ok},
        "swap_acceptance": pairs,
        "temperatures": per_T,
    }


# ============================================================================= labels: metadata


def label_agreement(labels: np.ndarray, temperatures: np.ndarray, t_label: float) -> dict:
    """Compare labels with the temperature metadata, label = 1 iff T > t_label.

    Parameters
    ----------
    labels : int array, shape (n_instances, N_T, N_con)
        The labels the training will use (after label noise).
    temperatures : float array, shape (N_T,)
    t_label : float

    Returns
    -------
    dict
        ``n_labels``, ``disagreements``, ``rate`` (= disagreements / n_labels),
        ``per_temperature`` (``T``, ``expected``, ``n``, ``disagreements``) and ``pass``.

    Raises
    ------
    ValueError
        If the shape of ``labels`` does not match the temperatures.
    """
    labels = np.asarray(labels)
    T = np.asarray(temperatures, dtype=float)
    if labels.ndim != 3 or labels.shape[1] != len(T):
        raise ValueError(f"labels of shape {labels.shape} do not match {len(T)} temperatures; "
                         "expected (n_instances, N_T, N_con)")
    expected = (T > t_label).astype(np.int64)
    wrong = labels.astype(np.int64) != expected[None, :, None]
    per_T = [{"T": float(t), "expected": int(e), "n": int(wrong[:, k].size),
              "disagreements": int(wrong[:, k].sum())} for k, (t, e) in enumerate(zip(T, expected))]
    total = int(wrong.sum())
    return {"n_labels": int(wrong.size), "disagreements": total,
            "rate": total / wrong.size if wrong.size else math.nan,
            "per_temperature": per_T, "pass": total == 0}


# ============================================================================= labels: noise estimate


def instance_folds(n_instances: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each instance (int64, shape (n_instances,)), balanced and shuffled with ``seed``."""
    if n_instances < n_folds:
        raise SettingsError(f"--folds {n_folds}: only {n_instances} instances to split", "--folds")
    order = np.random.default_rng(seed).permutation(n_instances)
    folds = np.empty(n_instances, dtype=np.int64)
    folds[order] = np.arange(n_instances) % n_folds
    return folds


def out_of_fold_probabilities(path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray,
                              n_folds: int = 5, seed: int = 0, epochs: float = 3.0,
                              batch_size: int = 256, learning_rate: float = 1e-3,
                              padding: str = "same", threads: int | None = None,
                              shuffle_buffer: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated probabilities of label 1 for every labelled snapshot.

    The instances are split into ``n_folds`` folds; for each fold a fresh
    network (:func:`sgpoison.ml.network.build_model`) is trained on the labels of
    the other folds for ``epochs`` passes, streamed with
    :class:`sgpoison.ml.train.OverlapBlocks`, and predicts the fold's snapshots.
    Every probability is thus out-of-sample, as confident learning requires.

    Parameters
    ----------
    path : path-like
        Simulation file.
    positions : int array, shape (n,)
        Positions of the labelled instances along the file's ``instance`` dimension.
    labels : int array, shape (n, N_T, N_con)
    n_folds, seed, epochs, batch_size, learning_rate, padding, threads, shuffle_buffer
        Cross-validation and training settings.

    Returns
    -------
    p1 : float32 array, shape (n, N_T, N_con)
        Out-of-fold softmax probability of label 1.
    folds : int64 array, shape (n,)
    """
    import keras
    import tensorflow as tf

    from sgpoison.ml.network import build_model
    from sgpoison.ml.train import OverlapBlocks, configure_tensorflow

    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int32)
    configure_tensorflow(threads)
    folds = instance_folds(len(positions), n_folds, seed)
    with open_simulation(path, variables=["overlap"]) as ds:
        L = int(ds.attrs["L"])
    p1 = np.empty(labels.shape, dtype=np.float32)
    seeds = np.random.SeedSequence(seed, spawn_key=(7,)).generate_state(3 * n_folds)
    start = time.perf_counter()
    for k in range(n_folds):
        train = np.flatnonzero(folds != k)
        test = np.flatnonzero(folds == k)
        keras.backend.clear_session()
        keras.utils.set_random_seed(int(seeds[3 * k]))
        model = build_model(L, padding=padding, learning_rate=learning_rate)
        blocks = OverlapBlocks(path, positions[train], labels[train])
        steps = max(1, math.ceil(epochs * labels[train].size / batch_size))
        data = blocks.dataset(batch_size, shuffle_buffer, order_seed=int(seeds[3 * k + 1]),
                              shuffle_seed=int(seeds[3 * k + 2]), repeat=True, threads=threads)
        model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        held_out = OverlapBlocks(path, positions[test], labels[test])
        n_batches = math.ceil(labels[test].size / batch_size)
        data = held_out.dataset(batch_size, order_seed=None, repeat=False, threads=threads)
        data = data.map(_inputs_only).apply(tf.data.experimental.assert_cardinality(n_batches))
        probabilities = model.predict(data, verbose=0)
        if probabilities.shape[0] != labels[test].size:
            raise RuntimeError(f"{path}: predicted {probabilities.shape[0]} snapshots of fold {k}, "
                               f"expected {labels[test].size}")
        p1[test] = probabilities[:, 1].reshape(len(test), *labels.shape[1:])
        accuracy = float(np.mean((p1[test] > 0.5) == (labels[test] == 1)))
        log.info("fold %d/%d: %d training instances, %d steps, out-of-fold accuracy %.4f against the "
                 "given labels (%.1f s)", k + 1, n_folds, len(train), steps, accuracy,
                 time.perf_counter() - start)
    keras.backend.clear_session()
    return p1, folds


def _inputs_only(x, y):
    """tf.data map: drop the labels of a batch (prediction)."""
    return x


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
    different fractions (here by about -5 % of rho), so it is reported only.

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
                         band: float = 0.1, target_rate: float = 0.01,
                         tolerance: float = 0.0025, n_bootstrap: int = 200,
                         confidence: float = 0.95, seed: int = 0,
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
        "method": "confident learning on out-of-fold CNN predictions (Northcutt et al., JAIR 70, "
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
            f"the networks do not resolve the phases away from t_label: mean p(label 1) differs by "
            f"{separation:.3f} < {min_separation:g} between the temperatures above and below it, so "
            "disagreements cannot be told from classifier errors")
    elif lo > tolerance and not overlap:
        conclusion, reason = NOISE_DETECTED, (f"lower end {lo:.4f} of the interval exceeds the tolerance "
                                              f"{tolerance:g}, and disagreements do not depend on the "
                                              "network's confidence, as for label noise")
    elif hi < target_rate:
        conclusion, reason = NOISE_ABSENT, (f"upper end {hi:.4f} of the interval is below the target "
                                            f"rate {target_rate:g}")
    elif lo > tolerance:
        conclusion, reason = NOISE_UNDECIDED, (
            f"labels disagree with confident predictions ({full['rate']:.4f}), but more often where the "
            f"network is less sure (excess {full['rate_lower'] - full['rate_upper']:.4f}, interval "
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


def audit_labels(path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray,
                 temperatures: np.ndarray, config: AuditConfig = AuditConfig()) -> dict:
    """Audit a label vector: agreement with the metadata and the data-driven noise estimate.

    Parameters
    ----------
    path : path-like
        Simulation file the labels belong to.
    positions : int array, shape (n,)
        Positions of the labelled instances along the file's ``instance`` dimension.
    labels : int array, shape (n, N_T, N_con)
        The labels to audit, e.g. the noisy training labels of
        :func:`sgpoison.ml.train.prepare_training_set`.
    temperatures : float array, shape (N_T,)
    config : AuditConfig

    Returns
    -------
    dict
        ``verdict`` (``"pass"``/``"fail"``), ``failing_checks``, ``checks``,
        ``metadata_agreement`` (:func:`label_agreement`) and ``noise_estimate``
        (:func:`estimate_label_noise` plus the cross-validation settings, or
        ``{"skipped": reason}``).
    """
    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels)
    failing: list[str] = []
    agreement = label_agreement(labels, temperatures, config.t_label)
    if not agreement["pass"]:
        bad = [f"{e['T']:.3f}" for e in agreement["per_temperature"] if e["disagreements"]]
        failing.append(
            f"labels.metadata_agreement: {agreement['disagreements']} of {agreement['n_labels']} labels "
            f"({100 * agreement['rate']:.2f} %) disagree with label = 1 iff T > {config.t_label:g} "
            f"(at {len(bad)} of {len(temperatures)} temperatures)")
    checks = {"metadata_agreement": agreement["pass"]}

    if not config.estimate_noise:
        noise: dict[str, Any] = {"skipped": "disabled (--no-noise-estimate)"}
    elif len(positions) < max(config.n_folds, MIN_INSTANCES):
        noise = {"skipped": f"{len(positions)} labelled instance(s); the cross-validation needs "
                            f">= {max(config.n_folds, MIN_INSTANCES)}",
                 "conclusion": NOISE_UNDECIDED}
    else:
        use = np.arange(len(positions))
        if config.max_instances is not None and len(use) > config.max_instances:
            use = np.sort(np.random.default_rng(config.seed).choice(
                len(use), config.max_instances, replace=False))
        p1, folds = out_of_fold_probabilities(
            path, positions[use], labels[use], n_folds=config.n_folds, seed=config.seed,
            epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
            padding=config.padding, threads=config.threads)
        noise = estimate_label_noise(
            p1, labels[use], temperatures, config.t_label, folds=folds, band=config.band,
            target_rate=config.target_rate, tolerance=config.tolerance,
            n_bootstrap=config.noise_bootstrap, confidence=config.confidence, seed=config.seed)
        noise["cross_validation"] = {
            "n_folds": config.n_folds, "epochs": config.epochs, "batch_size": config.batch_size,
            "learning_rate": config.learning_rate, "padding": config.padding,
            "n_instances": int(len(use)), "network": "sgpoison.ml.network.build_model"}
        p_T = p1.mean(axis=(0, 2))
        noise["mean_probability_per_temperature"] = [
            {"T": float(t), "p": float(v)} for t, v in zip(temperatures, p_T)]
        checks["noise_estimate"] = noise["pass"]
        if not noise["pass"]:
            lo, hi = noise["interval"]
            failing.append(
                f"labels.noise_estimate: the configurations contradict {100 * noise['rate']:.2f} % of the "
                f"labels (interval [{100 * lo:.2f}, {100 * hi:.2f}] %, tolerance "
                f"{100 * config.tolerance:.2f} %)")
    return {"verdict": "pass" if not failing else "fail", "failing_checks": failing,
            "checks": checks, "metadata_agreement": agreement, "noise_estimate": noise}


def audit_training_set(path: str | os.PathLike, config: AuditConfig = AuditConfig(),
                       scenario: str | None = None, policy: str = "warn") -> dict:
    """Audit one training file as the training would use it; return the JSON-able report.

    The labels are rebuilt exactly as ``sgpoison train`` builds them
    (:func:`sgpoison.ml.train.prepare_training_set` with the same ``t_label``,
    ``label_noise``, ``seed`` and ``validation_fraction``), so a poisoned label
    vector is audited as it would be trained on.

    Returns
    -------
    dict
        ``verdict`` (``"pass"`` / ``"fail"``), ``failing_checks`` (list of str),
        ``policy``, ``thermalization`` (:func:`audit_thermalization`), ``labels``
        (:func:`audit_labels`, plus how the labels were made), file metadata and
        ``provenance``. See ``docs/audit.md`` for the schema.

    Raises
    ------
    FileNotFoundError, sgpoison.io.formats.DataFormatError
        Missing or invalid simulation file.
    SettingsError
        Invalid configuration or policy.
    """
    from sgpoison.ml.train import TrainingConfig, prepare_training_set

    config.validate()
    if policy not in POLICIES:
        raise SettingsError(f"--policy must be one of {POLICIES}, got {policy!r}", "--policy")
    path = Path(path)
    with open_simulation(path) as ds:
        attrs = dict(ds.attrs)
        temperatures = ds["temperature"].values.astype(float)
        thermalization = audit_thermalization(
            ds, significance=config.significance, n_bootstrap=config.n_bootstrap,
            seed=config.bootstrap_seed, swap_floor=config.swap_floor)
    training = TrainingConfig(t_label=config.t_label, label_noise=config.label_noise, seed=config.seed,
                              validation_fraction=config.validation_fraction)
    label_source = {"function": "sgpoison.ml.train.prepare_training_set", "t_label": config.t_label,
                    "label_noise": config.label_noise, "seed": config.seed,
                    "validation_fraction": config.validation_fraction}
    try:
        tset = prepare_training_set(path, training)
    except SettingsError as exc:
        labels = {"verdict": "fail", "failing_checks": [f"labels.classes: {exc}"],
                  "checks": {"classes": False}, "source": label_source}
    else:
        labels = audit_labels(path, tset.train_positions, tset.labels, temperatures, config)
        label_source.update(n_training_instances=int(len(tset.train_positions)),
                            n_labels=int(tset.labels.size), realised_flips=tset.realised_flips)
        labels["source"] = label_source
    failing = thermalization["failing_checks"] + labels["failing_checks"]
    parameters = dataclasses.asdict(config) | {"data": str(path), "scenario": scenario, "policy": policy}
    return {
        "format": AUDIT_FORMAT,
        "format_version": AUDIT_FORMAT_VERSION,
        "verdict": "pass" if not failing else "fail",
        "failing_checks": failing,
        "policy": policy,
        "scenario": scenario,
        "data_file": str(path),
        "data_sha256": file_sha256(path),
        "L": int(attrs["L"]),
        "disorder": attrs.get("disorder"),
        "sweep_fraction": float(attrs.get("sweep_fraction", math.nan)),
        "n_sweeps": int(attrs.get("n_sweeps", 0)),
        "n_sweeps_run": int(attrs.get("n_sweeps_run", 0)),
        "n_instances": int(thermalization["settings"]["n_instances"]),
        "thermalization": thermalization,
        "labels": labels,
        "data_provenance": {k: attrs.get(k) for k in ("sgpoison_version", "git_commit", "created")},
        "provenance": provenance(parameters),
    }


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write an audit report as indented JSON, atomically (NaN -> null)."""
    return write_json(report, path, sort_keys=True)


def scenario_verdict(paths) -> dict:
    """Combine the audit reports of one scenario (one per L) for the results table.

    Parameters
    ----------
    paths : iterable of path-like
        JSON reports written by :func:`write_report` / ``sgpoison audit``.

    Returns
    -------
    dict
        ``verdict`` (``"fail"`` if any L fails, else ``"pass"``), ``per_L``
        (L -> verdict), ``failing_checks`` (each prefixed with ``"L=<L>: "``),
        ``thermalization`` and ``labels`` (``"fail"`` if that part fails for any L),
        ``noise_conclusions`` (L -> conclusion of the noise estimate, if run).

    Raises
    ------
    FileNotFoundError, DataFormatError
        If a file is missing, not JSON or not an audit report (the message names it).
    """
    per_L, failing, noise = {}, [], {}
    parts = {"thermalization": "pass", "labels": "pass"}
    for path in paths:
        report = read_json(path, "audit report")
        if not isinstance(report, dict) or report.get("format") != AUDIT_FORMAT:
            found = report.get("format") if isinstance(report, dict) else type(report).__name__
            raise DataFormatError(f"{path}: not an sgpoison audit report (format {found!r})")
        L = int(report["L"])
        per_L[L] = report["verdict"]
        failing += [f"L={L}: {check}" for check in report["failing_checks"]]
        if report["thermalization"]["verdict"] != "thermalized":
            parts["thermalization"] = "fail"
        if report["labels"]["verdict"] != "pass":
            parts["labels"] = "fail"
        estimate = report["labels"].get("noise_estimate", {})
        if "conclusion" in estimate:
            noise[L] = estimate["conclusion"]
    return {"verdict": "fail" if failing else "pass", "per_L": dict(sorted(per_L.items())),
            "failing_checks": failing, **parts, "noise_conclusions": dict(sorted(noise.items()))}


def summary_line(report: dict) -> str:
    """One line for logs: file, verdict and the failing checks' names."""
    names = sorted({c.split(":")[0] for c in report["failing_checks"]})
    text = f"audit of {report['data_file']}: {report['verdict'].upper()}"
    return text + (f" (failing: {', '.join(names)})" if names else "")


# ============================================================================= validation on synthetic data


def synthetic_overlaps(L: int, temperatures: np.ndarray, n_instances: int, n_snapshots: int,
                       seed: int = 0, t_order: float = 0.95, width: float = 0.03,
                       magnetization: float = 0.8, spread: float = 0.02) -> np.ndarray:
    """Synthetic overlaps whose two phases overlap near ``t_order`` (for validating the audit).

    Instance i orders with the smooth profile
    m_i(T) = magnetization / (1 + exp((T - t_order - d_i) / width)), d_i ~ N(0, spread)
    (a sample-to-sample shift of the crossover). Each snapshot has a global
    sign s = +-1 and sites equal to s with probability (1 + m_i(T)) / 2, so
    |q| ~ m_i(T). Far below t_order the configurations are clearly ordered, far
    above clearly disordered, near t_order the phases cannot be told apart:
    the physical overlap the noise estimate must not call label noise. Not physics.

    Returns
    -------
    int8 array, shape (n_instances, N_T, n_snapshots, L, L, L), values +-1
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(temperatures, dtype=float)
    shift = rng.normal(0.0, spread, size=n_instances)
    m = magnetization / (1.0 + np.exp((T[None, :] - t_order - shift[:, None]) / width))
    shape = (n_instances, len(T), n_snapshots, L, L, L)
    out = np.empty(shape, dtype=np.int8)
    for i in range(n_instances):  # one instance at a time keeps the float temporaries small
        agree = rng.random(shape[1:]) < ((1 + m[i]) / 2)[:, None, None, None, None]
        sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=shape[1:3])[..., None, None, None]
        out[i] = np.where(agree, sign, -sign)
    return out


def write_synthetic_training_file(path: str | os.PathLike, L: int = 4, n_instances: int = 160,
                                  temperatures: np.ndarray | None = None, n_snapshots: int = 100,
                                  seed: int = 0, **profile) -> Path:
    """Write :func:`synthetic_overlaps` as a Gaussian simulation file (docs/data-format.md).

    Default temperatures: the default study's ladder, 20 from 0.8 to 1.21.
    Variables other than ``overlap`` and ``q`` are placeholders (the
    thermalization series are flat, swap acceptance 0.5).
    """
    from sgpoison.io.formats import FORMAT_NAME, FORMAT_VERSION, overlap_encoding

    T = np.linspace(0.8, 1.21, 20) if temperatures is None else np.asarray(temperatures, dtype=float)
    q = synthetic_overlaps(L, T, n_instances, n_snapshots, seed, **profile)
    n_T, n_bins = len(T), 4
    zeros = np.zeros
    ds = xr.Dataset(
        {
            "overlap": (("instance", "temperature", "snapshot", "x", "y", "z"), q),
            "energy": (("instance", "temperature", "snapshot", "replica"), zeros((n_instances, n_T, n_snapshots, 2))),
            "q": (("instance", "temperature", "snapshot"), q.mean(axis=(3, 4, 5), dtype=np.float64)),
            "link_overlap": (("instance", "temperature", "snapshot"), zeros((n_instances, n_T, n_snapshots))),
            "energy_log_binned": (("instance", "temperature", "log_bin"), zeros((n_instances, n_T, n_bins))),
            "q2_log_binned": (("instance", "temperature", "log_bin"), zeros((n_instances, n_T, n_bins))),
            "link_overlap_log_binned": (("instance", "temperature", "log_bin"),
                                        np.ones((n_instances, n_T, n_bins))),
            "swap_acceptance": (("instance", "temperature_pair", "replica"), np.full((n_instances, n_T - 1, 2), 0.5)),
            "couplings": (("instance", "x", "y", "z", "direction"), zeros((n_instances, L, L, L, 3), np.float32)),
            "instance_seed": (("instance",), np.arange(n_instances, dtype=np.uint64)),
        },
        coords={
            "instance": np.arange(n_instances, dtype=np.int64), "temperature": T,
            "snapshot": np.arange(n_snapshots), "x": np.arange(L), "y": np.arange(L), "z": np.arange(L),
            "replica": [0, 1], "direction": [0, 1, 2], "log_bin": np.arange(n_bins),
            "log_bin_start": ("log_bin", [0, 1, 2, 4]), "log_bin_stop": ("log_bin", [1, 2, 4, 8]),
            "log_bin_count": ("log_bin", [1, 1, 2, 4]), "temperature_pair": np.arange(n_T - 1),
        },
        attrs={"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "L": L, "disorder": "gaussian",
               "n_sweeps": 8, "sweep_fraction": 1.0, "n_sweeps_run": 8, "n_snapshots": n_snapshots,
               "measure_interval": 1, "swap_interval": 1, "seed": seed, "ladder": "linear",
               **provenance({"synthetic": "sgpoison.audit.report.synthetic_overlaps", "seed": seed, **profile})},
    )
    return write_netcdf(ds, path, encoding=overlap_encoding(ds))
