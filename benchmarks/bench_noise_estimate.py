"""Accuracy of the audit's label-noise estimate against cleanlab's, on synthetic predictions (issue 13).

Workload: synthetic out-of-fold p(label 1) like ``tests/audit/test_audit.py::_probabilities``:
``--instances`` disorder instances (default 40) x 20 temperatures 0.8 ... 1.21 x ``--snapshots``
(default 60), t_label = 0.95; a snapshot's p(true phase) is U(0.9, 0.99) (``--class0-range``
changes it for the low-temperature phase), passed through the calibration of its fold: the
instances are split into ``--folds`` folds (default 5) whose networks scale the logit by
0.8, 0.9, ..., 1.2 (slightly different calibration per network). Label noise flips each label
with probability rho (``independent``) or each (instance, temperature) block of N_con snapshots
(``block``, as ``sgpoison.ml.labels.label_flips``). ``--overlap`` adds physical overlap of the
phases near t_label (p(true phase) U(0.03, 0.97) for |T - t_label| < 0.1, as in the tests).

For each mode and rho in ``--rhos`` (default 0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2), ``--repeats``
(default 12) data sets, the estimates of the flipped fraction in the region |T - t_label| >=
``--band`` (default 0.1) are compared with the TRUE flipped fraction there (bias, RMSE, in units of
1e-3):

* ``hand``: ``sgpoison.audit.noise.estimate_label_noise`` ``rate`` (per-fold thresholds, fraction
  of confident examples whose label disagrees), with its bootstrap over instances
  (``--n-bootstrap``, default 100): ``cov`` = share of repeats whose 95 % interval contains the
  true flipped fraction, ``cov_rho`` = share containing rho (the flip probability, which the
  interval is for); ``det`` / ``und`` = share concluded "label noise detected" / "too few data to
  tell" (the rest: "no label noise at the target rate");
* ``cl_glob``: cleanlab, ``1 - trace(cleanlab.count.estimate_joint(labels, pred_probs))`` on the
  region -- the calibrated joint with thresholds over all folds at once (cleanlab has no
  per-fold thresholds; this is also ``num_label_issues(estimation_method="off_diagonal_calibrated")
  / n``, and, for two classes, equal to 1e-15 to the noise rate sum_j p(y=j) (1 - P(label=j|y=j))
  of ``estimate_py_and_noise_matrices_from_probabilities``, so that one is not shown);
* ``cl_fold``: cleanlab's confident joint per fold (``compute_confident_joint(calibrate=False)``
  on each fold's examples, own thresholds), summed, then calibrated by ``estimate_joint``;
* ``cl_issues``: ``cleanlab.count.num_label_issues(labels, pred_probs) / n`` (default
  ``off_diagonal``: the flagged examples, a count of issues, not a rate).

cleanlab is not a dependency of sgpoison; install it for this benchmark only::

    pip install cleanlab==2.9.0

Usage (about 2 minutes of CPU with the defaults, a quick check; docs/audit.md records a run with
``--repeats 50``, 6 minutes)::

    python benchmarks/bench_noise_estimate.py [--repeats 12] [--n-bootstrap 100] [--rhos ...]
        [--modes independent block] [--instances 40] [--snapshots 60] [--folds 5]
        [--class0-range 0.9 0.99] [--overlap] [--band 0.1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from sgpoison.audit.noise import NOISE_DETECTED, NOISE_UNDECIDED, estimate_label_noise  # noqa: E402
from sgpoison.report.cost import cpu_model  # noqa: E402

try:
    from cleanlab import __version__ as CLEANLAB_VERSION  # noqa: E402
    from cleanlab.count import (  # noqa: E402
        compute_confident_joint,
        estimate_joint,
        num_label_issues,
    )
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("bench_noise_estimate.py compares with cleanlab, which sgpoison does not depend on: "
             "pip install cleanlab==2.9.0")

T_LABEL = 0.95
TEMPERATURES = np.linspace(0.8, 1.21, 20)
MODES = ("independent", "block")
ESTIMATORS = ("hand", "cl_glob", "cl_fold", "cl_issues")


def synthetic(rho: float, mode: str, rng: np.random.Generator, n_instances: int, n_snapshots: int,
              n_folds: int, class0_range: tuple[float, float], overlap: bool):
    """p1, labels, flips (n_instances, N_T, N_con) and the fold of each instance."""
    T = TEMPERATURES
    shape = (n_instances, len(T), n_snapshots)
    truth = np.broadcast_to((T > T_LABEL)[None, :, None], shape)
    folds = np.arange(n_instances) % n_folds
    scale = np.linspace(0.8, 1.2, n_folds) if n_folds > 1 else np.ones(1)
    p_true = np.where(truth, rng.uniform(0.9, 0.99, shape), rng.uniform(*class0_range, shape))
    if overlap:
        near = (np.abs(T - T_LABEL) < 0.1)[None, :, None]
        p_true = np.where(near, rng.uniform(0.03, 0.97, shape), p_true)
    logit = np.log(p_true / (1 - p_true)) * scale[folds][:, None, None]
    p_true = 1 / (1 + np.exp(-logit))
    p1 = np.where(truth, p_true, 1 - p_true)
    if mode == "block":
        flips = np.broadcast_to((rng.random(shape[:-1]) < rho)[..., None], shape)
    else:
        flips = rng.random(shape) < rho
    return p1, (truth ^ flips).astype(np.int8), flips, folds


def cleanlab_estimates(p1: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """cleanlab's noise-rate estimates on flat region arrays."""
    pred = np.stack([1 - p1, p1], axis=1)
    y = labels.astype(np.int64)
    out = {"cl_glob": 1.0 - float(np.trace(estimate_joint(y, pred)))}
    cj = sum(compute_confident_joint(y[groups == g], pred[groups == g], calibrate=False)
             for g in np.unique(groups))
    out["cl_fold"] = 1.0 - float(np.trace(estimate_joint(y, pred, confident_joint=cj)))
    out["cl_issues"] = num_label_issues(y, pred) / len(y)
    return out


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--n-bootstrap", type=int, default=100)
    parser.add_argument("--rhos", type=float, nargs="+", default=[0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument("--snapshots", type=int, default=60)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--class0-range", type=float, nargs=2, default=[0.9, 0.99])
    parser.add_argument("--overlap", action="store_true")
    parser.add_argument("--band", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    region = np.abs(TEMPERATURES - T_LABEL) >= args.band
    start = time.perf_counter()
    rows = []
    print(f"{args.instances} instances x {region.sum()} region temperatures x {args.snapshots} "
          f"snapshots, {args.folds} folds, class-0 p in {args.class0_range}, overlap={args.overlap}, "
          f"{args.repeats} repeats, {args.n_bootstrap} bootstrap samples; cleanlab {CLEANLAB_VERSION}")
    print("bias and RMSE of each estimate vs the true flipped fraction in the region, units 1e-3")
    header = f"{'mode':<11} {'rho':>6} {'truth':>7}" + "".join(
        f" {e + ' bias':>14} {'rmse':>6}" for e in ESTIMATORS) + \
        f" {'cov':>5} {'cov_rho':>7} {'det':>5} {'und':>5}"
    print(header)
    for mode in args.modes:
        for rho in args.rhos:
            rng = np.random.default_rng([args.seed, round(1e6 * rho), MODES.index(mode)])
            err = {e: [] for e in ESTIMATORS}
            truths, covered, covered_rho, conclusions = [], [], [], []
            for _ in range(args.repeats):
                p1, labels, flips, folds = synthetic(rho, mode, rng, args.instances, args.snapshots,
                                                     args.folds, tuple(args.class0_range), args.overlap)
                truth = float(flips[:, region].mean())
                res = estimate_label_noise(p1, labels, TEMPERATURES, T_LABEL, folds=folds, band=args.band,
                                           n_bootstrap=args.n_bootstrap, seed=int(rng.integers(2**31)))
                groups = np.broadcast_to(folds[:, None, None], labels.shape)[:, region].ravel()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cl = cleanlab_estimates(p1[:, region].ravel(), labels[:, region].ravel(), groups)
                err["hand"].append(res["rate"] - truth)
                for e in ESTIMATORS[1:]:
                    err[e].append(cl[e] - truth)
                lo, hi = res["interval"]
                truths.append(truth)
                covered.append(lo <= truth <= hi)
                covered_rho.append(lo <= rho <= hi)
                conclusions.append(res["conclusion"])
            row = {"mode": mode, "rho": rho, "truth": float(np.mean(truths)),
                   "coverage": float(np.mean(covered)), "coverage_rho": float(np.mean(covered_rho)),
                   "detected": float(np.mean([c == NOISE_DETECTED for c in conclusions])),
                   "undecided": float(np.mean([c == NOISE_UNDECIDED for c in conclusions]))}
            for e in ESTIMATORS:
                d = np.asarray(err[e])
                row[e] = {"bias": float(d.mean()), "rmse": float(np.sqrt(np.mean(d ** 2)))}
            rows.append(row)
            print(f"{mode:<11} {rho:>6g} {1e3 * row['truth']:>7.2f}" + "".join(
                f" {1e3 * row[e]['bias']:>14.3f} {1e3 * row[e]['rmse']:>6.3f}" for e in ESTIMATORS)
                + f" {row['coverage']:>5.2f} {row['coverage_rho']:>7.2f} {row['detected']:>5.2f}"
                f" {row['undecided']:>5.2f}", flush=True)
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.0f} s on {cpu_model()}, load average {os.getloadavg()[0]:.1f}")
    result = {"settings": vars(args), "cleanlab_version": CLEANLAB_VERSION, "rows": rows,
              "seconds": elapsed, "cpu_model": cpu_model()}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    run()
