"""``sgpoison audit``: audit a training set (thermalization and labels) before training.

The work is done by :func:`sgpoison.audit.report.audit_training_set`; TensorFlow is
imported only when the data-driven label-noise estimate runs.

Exit status: 0 if the audit passes, or fails under ``--policy warn``;
3 (:data:`sgpoison.audit.report.REFUSE_EXIT_CODE`) if it fails under
``--policy refuse`` (the JSON report is written first); 2 for bad arguments;
1 for an invalid data file.
"""

from __future__ import annotations

import argparse
import sys

from sgpoison.audit.settings import AuditConfig
from sgpoison.cli._common import Files, add_label_options, add_setting, input_file, output_file


def add_parser(subparsers) -> argparse.ArgumentParser:
    C = AuditConfig
    p = subparsers.add_parser(
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
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file (training set)")
    p.add_argument("--out", required=True, type=output_file(), help="JSON report to write")
    p.add_argument("--scenario", default=None, help="scenario label recorded in the report")
    p.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    add_setting(p, C, "policy", "--policy", help="on a failing audit: 'warn' (exit 0) or 'refuse' (exit 3)")
    add_label_options(p, AuditConfig)
    therm = p.add_argument_group("thermalization")
    add_setting(therm, C, "swap_floor", "--swap-floor",
                help="smallest acceptable mean swap acceptance of a temperature pair")
    add_setting(therm, C, "significance", "--significance",
                help="probability that a thermalized file fails the log-binning tests")
    add_setting(therm, C, "n_bootstrap", "--n-bootstrap",
                help="bootstrap resamples of the instances for the errors")
    noise = p.add_argument_group("label-noise estimate")
    noise.add_argument("--no-noise-estimate", dest="estimate_noise", action="store_false",
                       help="skip the data-driven noise estimate (no networks are trained)")
    add_setting(noise, C, "noise_classifier", "--noise-classifier",
                help="classifier of the cross-validation: the CNN, or a logistic regression on q^2 "
                     "and/or the link overlap (null_q2_ql: seconds instead of minutes)")
    add_setting(noise, C, "n_folds", "--folds", help="cross-validation folds by instance")
    add_setting(noise, C, "epochs", "--epochs", help="passes over each fold's training part (CNN)")
    add_setting(noise, C, "batch_size", "--batch-size",
                help="examples per optimiser step of the cross-validation networks (smaller for small "
                     "training sets; CNN)")
    add_setting(noise, C, "band", "--band", help="use temperatures with |T - t_label| >= band only")
    add_setting(noise, C, "target_rate", "--target-rate", help="label-noise rate the audit must resolve")
    add_setting(noise, C, "tolerance", "--tolerance",
                help="noise is detected only above this rate (below --target-rate)")
    add_setting(noise, C, "max_instances", "--max-instances",
                help="use at most this many training instances for the estimate")
    add_setting(noise, C, "threads", "--threads", help="TensorFlow threads (CNN)")
    p.set_defaults(func=run, settings=AuditConfig, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--data": [args.data]}, outputs={"--out": [args.out]})


def run(args: argparse.Namespace, settings: AuditConfig) -> int:
    from sgpoison.audit.report import REFUSE_EXIT_CODE, audit_training_set, summary_line, write_report
    from sgpoison.cli._common import start_logging

    start_logging("2")
    report = audit_training_set(args.data, settings, scenario=args.scenario, expected_L=args.L)
    write_report(report, args.out)
    print(summary_line(report), file=sys.stderr)
    if report["verdict"] == "pass":
        return 0
    scenario = f" (scenario {args.scenario})" if args.scenario else ""
    details = "\n".join(f"  - {check}" for check in report["failing_checks"])
    if settings.policy == "refuse":
        print(f"sgpoison audit: refusing {args.data}{scenario}: the training set fails the audit "
              f"(report: {args.out}):\n{details}", file=sys.stderr)
        return REFUSE_EXIT_CODE
    print(f"sgpoison audit: warning: {args.data}{scenario} fails the audit (report: {args.out}); "
          f"training proceeds under --policy warn:\n{details}", file=sys.stderr)
    return 0
