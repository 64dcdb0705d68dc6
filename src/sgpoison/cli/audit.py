"""``sgpoison audit``: audit a training set (thermalization and labels) before training.

The work is done by :func:`sgpoison.audit.report.audit_training_set`; TensorFlow is
imported only when the data-driven label-noise estimate runs.

Exit status: 0 if the audit passes, or fails under ``--policy warn``;
3 (:data:`sgpoison.audit.report.REFUSE_EXIT_CODE`) if it fails under
``--policy refuse`` (the JSON report is written first); 2 for bad arguments;
1 for a missing or invalid data file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "audit",
        help="audit a training set (thermalization, labels) before training",
        description="Check one training file for the two poisons of the paper: configurations out "
                    "of equilibrium (log-binning and KPY tests with bootstrap errors, swap "
                    "acceptance, run length) and wrong labels (agreement with T > t_label, and a "
                    "data-driven estimate of the label-noise rate by cross-validated confident "
                    "learning). The labels are rebuilt exactly as 'sgpoison train' builds them from "
                    "the same --t-label, --label-noise, --seed and --validation-fraction. Writes a "
                    "JSON report; see docs/audit.md.",
    )
    parser.add_argument("--data", required=True, type=Path, help="simulation NetCDF file (training set)")
    parser.add_argument("--out", required=True, type=Path, help="JSON report to write")
    parser.add_argument("--scenario", default=None, help="scenario label recorded in the report")
    parser.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    parser.add_argument("--policy", choices=("warn", "refuse"), default="warn",
                        help="on a failing audit: 'warn' (exit 0) or 'refuse' (exit 3); default warn")
    labels = parser.add_argument_group("labels (as for 'sgpoison train')")
    labels.add_argument("--label-noise", type=float, default=0.0,
                        help="probability rho of flipping each training label, 0 <= rho < 0.5")
    labels.add_argument("--t-label", type=float, default=0.95, help="label 1 iff T > t_label (default 0.95)")
    labels.add_argument("--seed", type=int, default=0, help="root seed of the training (label noise, split)")
    labels.add_argument("--validation-fraction", type=float, default=0.2,
                        help="fraction of instances held out by the training (their labels are clean)")
    therm = parser.add_argument_group("thermalization")
    therm.add_argument("--swap-floor", type=float, default=0.1,
                       help="smallest acceptable mean swap acceptance of a temperature pair (default 0.1)")
    therm.add_argument("--significance", type=float, default=0.05,
                       help="probability that a thermalized file fails the log-binning tests (default 0.05)")
    therm.add_argument("--n-bootstrap", type=int, default=1000,
                       help="bootstrap resamples of the instances for the errors (default 1000)")
    noise = parser.add_argument_group("label-noise estimate")
    noise.add_argument("--no-noise-estimate", dest="estimate_noise", action="store_false",
                       help="skip the data-driven noise estimate (no networks are trained)")
    noise.add_argument("--folds", type=int, default=5, help="cross-validation folds by instance (default 5)")
    noise.add_argument("--epochs", type=float, default=3.0, help="passes over each fold's training part (default 3)")
    noise.add_argument("--batch-size", type=int, default=256,
                       help="examples per optimiser step of the cross-validation networks (default 256; "
                            "smaller for small training sets)")
    noise.add_argument("--band", type=float, default=0.1,
                       help="use temperatures with |T - t_label| >= band only (default 0.1)")
    noise.add_argument("--target-rate", type=float, default=0.01,
                       help="label-noise rate the audit must resolve (default 0.01)")
    noise.add_argument("--tolerance", type=float, default=0.0025,
                       help="noise is detected only above this rate (default 0.0025)")
    noise.add_argument("--max-instances", type=int, default=None,
                       help="use at most this many training instances for the estimate")
    noise.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: TF's)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.audit.report import (REFUSE_EXIT_CODE, AuditConfig, audit_training_set,
                                summary_line, write_report)
    from sgpoison.errors import DataFormatError, SettingsError

    if not args.data.is_file():
        parser.error(f"argument --data: {args.data}: no such file")
    config = AuditConfig(
        significance=args.significance, n_bootstrap=args.n_bootstrap, swap_floor=args.swap_floor,
        t_label=args.t_label, label_noise=args.label_noise, seed=args.seed,
        validation_fraction=args.validation_fraction, estimate_noise=args.estimate_noise,
        n_folds=args.folds, epochs=args.epochs, batch_size=args.batch_size, band=args.band,
        target_rate=args.target_rate, tolerance=args.tolerance, max_instances=args.max_instances,
        threads=args.threads)
    try:
        config.validate()
    except SettingsError as exc:
        parser.error(f"argument {exc.option}: {exc}" if exc.option else str(exc))

    try:
        if args.L is not None:
            from sgpoison.io.formats import open_simulation

            with open_simulation(args.data, variables=()) as ds:
                if int(ds.attrs["L"]) != args.L:
                    parser.error(f"argument --L: {args.L} but {args.data} has L={ds.attrs['L']}")
    except (DataFormatError, FileNotFoundError) as exc:
        print(f"sgpoison audit: error: {exc}", file=sys.stderr)
        return 1

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        report = audit_training_set(args.data, config, scenario=args.scenario, policy=args.policy)
    except SettingsError as exc:
        if exc.option:
            parser.error(f"argument {exc.option}: {exc}")
        print(f"sgpoison audit: error: {exc}", file=sys.stderr)
        return 1
    except (DataFormatError, FileNotFoundError) as exc:
        print(f"sgpoison audit: error: {exc}", file=sys.stderr)
        return 1
    write_report(report, args.out)
    print(summary_line(report), file=sys.stderr)
    if report["verdict"] == "pass":
        return 0
    scenario = f" (scenario {args.scenario})" if args.scenario else ""
    details = "\n".join(f"  - {check}" for check in report["failing_checks"])
    if args.policy == "refuse":
        print(f"sgpoison audit: refusing {args.data}{scenario}: the training set fails the audit "
              f"(report: {args.out}):\n{details}", file=sys.stderr)
        return REFUSE_EXIT_CODE
    print(f"sgpoison audit: warning: {args.data}{scenario} fails the audit (report: {args.out}); "
          f"training proceeds under --policy warn:\n{details}", file=sys.stderr)
    return 0
