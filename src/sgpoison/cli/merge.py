"""``sgpoison merge``: concatenate simulation files of instance batches."""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, input_file, output_file


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("merge", help="merge simulation batches into one file",
                              description="Concatenate simulation files of the same (disorder, L, "
                                          "sweep fraction) along the instance dimension.")
    p.add_argument("--inputs", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="simulation files")
    p.add_argument("--out", required=True, type=output_file(), help="merged NetCDF file")
    p.set_defaults(func=run, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--inputs": args.inputs}, outputs={"--out": [args.out]})


def run(args: argparse.Namespace, settings: None) -> int:
    from sgpoison.io.formats import merge_simulations

    merge_simulations(args.inputs, args.out)
    return 0
