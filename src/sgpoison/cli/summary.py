"""``sgpoison summary``: results table and Tc figure of all scenarios.

Writes ``OUT/results.csv``, ``OUT/results.nc``, ``OUT/tc_summary.png`` and
``OUT/tc_summary.pdf`` (see docs/analysis.md).
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "summary", help="results table and Tc summary figure of all scenarios",
        description="Collect the estimates of every scenario (sgpoison analyze) and of the conventional "
                    "baseline (sgpoison baseline) into results.csv/results.nc and tc_summary.png/pdf.")
    p.add_argument("--scenario", action="append", required=True, metavar="NAME=PATH",
                   help="estimates.json of one scenario (repeat for each scenario)")
    p.add_argument("--baseline", metavar="PATH", help="estimates.json of sgpoison baseline")
    p.add_argument("--audit", action="append", metavar="NAME=PATH",
                   help="audit of scenario NAME: an sgpoison audit report (repeat NAME=... once per L) "
                        "or one JSON with 'verdict' and 'failing_checks'")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.report import summary
    from sgpoison.errors import DataFormatError

    try:
        scenarios = summary.parse_assignments(args.scenario, "--scenario")
        audits = summary.parse_assignments(args.audit, "--audit", repeatable=True)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        table = summary.build_table(scenarios, args.baseline, audits)
    except (FileNotFoundError, DataFormatError) as exc:
        option = "--baseline" if args.baseline and args.baseline in str(exc) else (
            "--audit" if any(p in str(exc) for ps in audits.values() for p in ps) else "--scenario")
        parser.error(f"{option}: {exc}")
    except ValueError as exc:
        parser.error(f"--scenario/--audit: {exc}")
    summary.write_summary(table, args.out, {"command": "summary", "scenarios": scenarios,
                                            "baseline": args.baseline, "audits": audits})
    for _, row in table.iterrows():
        tc = row.get("Tc_linear") if row["kind"] == "machine_learning" else row.get("Tc_conventional")
        print(f"{row['scenario']}: transition_detected={row['transition_detected']} Tc={tc}")
    return 0
