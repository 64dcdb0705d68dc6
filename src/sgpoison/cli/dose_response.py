"""``sgpoison dose-response``: PLACEHOLDER of the command line the workflow's ``dose_response``
rule runs (workflow/rules/dose_response.smk); the command itself (tables, figures, signal-loss
rule) is written on another branch and replaces this module. It declares the interface and
refuses to run.
"""

from __future__ import annotations

import argparse
import sys

from sgpoison.cli._common import Files, input_file, output_directory

#: the files written in --out (workflow/rules/dose_response.smk)
OUTPUTS = ("table.csv", "table.nc", "dose_response.png", "dose_response.pdf", "signal_loss.json")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "dose-response",
        help="estimates, verdicts and audits of one scan axis against the dose (not implemented here)",
        description="Tabulate and plot every estimator's T_c, the verdict and the audit of the scenarios "
                    "of one scan axis against the dose, and find the dose at which the transition "
                    "signal is lost. Placeholder: the interface only.",
    )
    p.add_argument("--axis", required=True, help="the poison scanned (label_noise, sweep_fraction, t_label)")
    p.add_argument("--doses", required=True, nargs="+", type=float, help="the doses, increasing")
    p.add_argument("--estimates", required=True, nargs="+", type=input_file,
                   help="estimates.json of the scenario of each dose, in the order of --doses")
    p.add_argument("--audits", required=True, nargs="+", type=input_file,
                   help="audit reports of those scenarios (matched by the scenario they record)")
    p.add_argument("--conventional", required=True, type=input_file, help="conventional estimates.json")
    p.add_argument("--out", required=True, type=output_directory, help="output directory")
    p.set_defaults(func=run, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--estimates": list(args.estimates), "--audits": list(args.audits),
                         "--conventional": [args.conventional]},
                 outputs={"--out": [args.out / name for name in OUTPUTS]}, directories={"--out": args.out})


def run(args: argparse.Namespace, settings: None) -> int:
    print("sgpoison dose-response: error: not implemented in this version", file=sys.stderr)
    return 1
