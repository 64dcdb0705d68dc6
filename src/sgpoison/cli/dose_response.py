"""``sgpoison dose-response``: the dose-response of one poisoning axis and the dose at which the
transition signal is lost.

Writes ``OUT/table.csv``, ``OUT/table.nc``, ``OUT/signal_loss.json``, ``OUT/dose_response.png`` and
``OUT/dose_response.pdf`` (docs/analysis.md, section 4).
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, input_file, output_directory

#: the poisoning axes (:data:`sgpoison.fss.dose_response.AXES`; written out here so that the
#: parser does not import the analysis)
AXES = ("label_noise", "sweep_fraction", "t_label")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "dose-response", help="dose-response table and figure of one poisoning axis; the signal-loss dose",
        description="Collect the analyses (sgpoison analyze) and audits (sgpoison audit) of the scenarios of "
                    "one poisoning scan into a table with one row per dose, a figure, and the first dose at "
                    "which the transition signal is lost (verdict, Tc_crossing interval, CNN - null), with "
                    "its bracket and the first dose the audit flags.")
    p.add_argument("--axis", required=True, choices=AXES, help="the poison varied by the scan")
    p.add_argument("--doses", nargs="+", required=True, type=float, metavar="D",
                   help="the dose of each scenario, in the order of --estimates (distinct)")
    p.add_argument("--estimates", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="estimates.json of sgpoison analyze, one per dose")
    p.add_argument("--audits", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="every audit report (sgpoison audit) of those scenarios, matched to a dose by the "
                        "scenario it records")
    p.add_argument("--conventional", required=True, type=input_file, metavar="FILE",
                   help="estimates.json of sgpoison conventional (the reference band)")
    p.add_argument("--base-dose", type=float, default=None, metavar="D",
                   help="the clean dose of a t_label scan (default 0.95; label_noise: the smallest dose, "
                        "sweep_fraction: the largest)")
    p.add_argument("--out", required=True, type=output_directory, metavar="DIR",
                   help="output directory (created if needed)")
    p.set_defaults(func=run, files=files)
    return p


#: the files written in OUT (module docstring; :data:`sgpoison.report.dose_response.WRITES`)
WRITES = ("table.csv", "table.nc", "signal_loss.json", "dose_response.png", "dose_response.pdf")


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--estimates": args.estimates, "--audits": args.audits,
                         "--conventional": [args.conventional]},
                 directories={"--out": args.out}, outputs={"--out": [args.out / name for name in WRITES]})


def run(args: argparse.Namespace, settings: None) -> int:
    from sgpoison.fss.dose_response import conventional_reference, dose_table, read_doses, signal_loss
    from sgpoison.report.dose_response import input_hashes, write_dose_response

    axis, base, doses = read_doses(args.axis, args.doses, args.estimates, args.audits, args.base_dose)
    conventional = conventional_reference(args.conventional)
    table, signal = signal_loss(axis, base, dose_table(axis, doses))
    inputs = [*args.estimates, *args.audits, args.conventional]
    parameters = {"command": "dose-response", "axis": args.axis, "doses": args.doses, "base_dose": base,
                  "estimates": args.estimates, "audits": args.audits, "conventional": args.conventional,
                  "input_sha256": input_hashes(inputs)}
    write_dose_response(table, signal, conventional, args.out, parameters)
    print(f"{args.axis}: {signal['status']}; {signal['statement']}")
    return 0
