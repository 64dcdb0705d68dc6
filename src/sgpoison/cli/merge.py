"""``sgpoison merge``: concatenate simulation files of instance batches."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("merge", help="merge simulation batches into one file",
                              description="Concatenate simulation files of the same (disorder, L, "
                                          "sweep fraction) along the instance dimension.")
    p.add_argument("--inputs", nargs="+", required=True, help="simulation files")
    p.add_argument("--out", required=True, help="merged NetCDF file")
    p.set_defaults(func=run)


def run(args, parser) -> int:
    from sgpoison.io.formats import merge_simulations

    merge_simulations(args.inputs, args.out)
    return 0
