"""``sgpoison conventional`` (alias ``baseline``): Binder ratio and xi_L/L crossings, no network.

Writes ``OUT/estimates.json``, ``OUT/estimates.nc``, ``OUT/conventional.png`` and
``OUT/conventional.pdf`` (see docs/analysis.md).
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_bootstrap_options, input_file, output_directory
from sgpoison.fss.settings import ConventionalSettings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "conventional", aliases=["baseline"],
        help="conventional Tc from the Binder ratio and xi_L/L of the overlaps",
        description="Spin-glass Binder ratio and finite-size correlation length xi_L/L from simulation "
                    "files (one per L), crossings of successive sizes with bootstrap errors. "
                    "('baseline' is the command's former name.)")
    p.add_argument("--data", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="simulation files, one per system size (at least 3)")
    p.add_argument("--out", required=True, type=output_directory, metavar="DIR",
                   help="output directory (created if needed)")
    add_bootstrap_options(p, ConventionalSettings)
    p.set_defaults(func=run, settings=ConventionalSettings, files=files)
    return p


#: the files written in OUT (module docstring)
WRITES = ("estimates.json", "estimates.nc", "conventional.png", "conventional.pdf")


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--data": args.data}, directories={"--out": args.out},
                 outputs={"--out": [args.out / name for name in WRITES]})


def run(args: argparse.Namespace, settings: ConventionalSettings) -> int:
    from sgpoison.fss.conventional import analyze_conventional, read_conventional_inputs, write_conventional
    from sgpoison.report.figures import plot_conventional

    result = analyze_conventional(read_conventional_inputs(args.data), settings)
    estimates = write_conventional(result, args.out)
    plot_conventional(result, args.out / "conventional", estimates)
    e = estimates["estimates"]["Tc_conventional"]
    if result.transition_detected:
        error = "" if e["error"] is None else f" +- {e['error']:.4f}"
        print(f"Tc_conventional = {e['value']:.4f}{error}")
    else:
        print(f"no crossing: {result.reason}")
    return 0
