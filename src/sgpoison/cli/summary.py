"""``sgpoison summary``: results table and Tc figure of all scenarios.

Writes ``OUT/results.csv``, ``OUT/results.nc``, ``OUT/tc_summary.png`` and
``OUT/tc_summary.pdf`` (see docs/analysis.md): per scenario every estimator with its interval,
the verdict and its reason, the null models' Tc and the CNN - null differences.
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, input_file, output_directory


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "summary", help="results table and Tc summary figure of all scenarios",
        description="Collect the estimates of every scenario (sgpoison analyze) and of the conventional "
                    "analysis (sgpoison conventional) into results.csv/results.nc and tc_summary.png/pdf.")
    p.add_argument("--scenario", action="append", required=True, metavar="NAME=PATH",
                   help="estimates.json of one scenario (repeat for each scenario)")
    p.add_argument("--conventional", "--baseline", dest="conventional", type=input_file, metavar="PATH",
                   help="estimates.json of sgpoison conventional ('--baseline': former name)")
    p.add_argument("--audit", action="append", metavar="NAME=PATH",
                   help="audit of scenario NAME: an sgpoison audit report (repeat NAME=... once per L) "
                        "or one JSON with 'verdict' and 'failing_checks'")
    p.add_argument("--out", required=True, type=output_directory, metavar="DIR",
                   help="output directory (created if needed)")
    p.set_defaults(func=run, files=files)
    return p


#: the files written in OUT (module docstring)
WRITES = ("results.csv", "results.nc", "tc_summary.png", "tc_summary.pdf")


def files(args: argparse.Namespace) -> Files:
    from sgpoison.report.summary import parse_assignments

    scenarios = parse_assignments(args.scenario, "--scenario")
    audits = parse_assignments(args.audit, "--audit", repeatable=True)
    inputs = {"--scenario": list(scenarios.values()),
              "--conventional": [args.conventional] if args.conventional else [],
              "--audit": [path for paths in audits.values() for path in paths]}
    return Files(inputs=inputs, directories={"--out": args.out},
                 outputs={"--out": [args.out / name for name in WRITES]})


def run(args: argparse.Namespace, settings: None) -> int:
    from sgpoison.report import summary

    scenarios = summary.parse_assignments(args.scenario, "--scenario")
    audits = summary.parse_assignments(args.audit, "--audit", repeatable=True)
    table = summary.build_table(scenarios, args.conventional, audits)
    summary.write_summary(table, args.out, {"command": "summary", "scenarios": scenarios,
                                            "conventional": args.conventional, "audits": audits})
    for _, row in table.iterrows():
        if row["kind"] != "machine_learning":
            print(f"{row['scenario']}: transition_detected={row['transition_detected']} "
                  f"Tc_conventional={row.get('Tc_conventional')}")
            continue
        print(f"{row['scenario']}: transition_detected={row['transition_detected']} "
              f"Tc_crossing={row.get('Tc_crossing')} Tc_collapse={row.get('Tc_collapse')}"
              + (f" ({row['reason']})" if row["reason"] else ""))
        for column in table.columns:
            if column.startswith("null_") and column.endswith("_sentence") and isinstance(row[column], str):
                print(f"  {row[column]}")
    return 0
