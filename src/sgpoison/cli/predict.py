"""``sgpoison predict``: p(T) of every instance and temperature of a simulation file.

The work is done by :func:`sgpoison.ml.train.predict`; TensorFlow is imported
only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="apply a trained CNN to a (bimodal) simulation file: p(instance, temperature)",
        description="For every instance and temperature: p = mean softmax probability of label 1 "
                    "(T > t_label) over the snapshots, fraction_high = fraction of snapshots "
                    "classified as label 1. Writes a sgpoison-prediction NetCDF file atomically. "
                    "See docs/network.md.",
    )
    parser.add_argument("--model", required=True, type=Path,
                        help="model written by 'sgpoison train' (.keras)")
    parser.add_argument("--data", required=True, type=Path,
                        help="simulation NetCDF file (same L as the model)")
    parser.add_argument("--out", required=True, type=Path, help="prediction NetCDF file to write")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: TF's)")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="snapshots per forward pass (default 1000)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.errors import DataFormatError
    from sgpoison.errors import SettingsError

    for option, path in (("--model", args.model), ("--data", args.data)):
        if not path.is_file():
            parser.error(f"argument {option}: {path}: no such file")
    if args.batch_size < 1:
        parser.error(f"argument --batch-size: must be >= 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"argument --threads: must be >= 1, got {args.threads}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    from sgpoison.ml.train import predict

    try:
        predict(args.model, args.data, out=args.out, batch_size=args.batch_size, threads=args.threads)
    except SettingsError as exc:
        if exc.option:
            parser.error(f"argument {exc.option}: {exc}")
        print(f"sgpoison predict: error: {exc}", file=sys.stderr)
        return 1
    except (DataFormatError, FileNotFoundError) as exc:
        print(f"sgpoison predict: error: {exc}", file=sys.stderr)
        return 1
    return 0
