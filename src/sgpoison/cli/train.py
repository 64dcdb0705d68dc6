"""``sgpoison train``: train the phase classifier of one L on a simulation file.

The work is done by :func:`sgpoison.ml.train.train`; TensorFlow is imported
only when the command runs, so ``sgpoison --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train the CNN (paper Table III) on the overlaps of one simulation file",
        description="Train the phase classifier on the spin overlaps of one simulation file "
                    "(normally Gaussian disorder): label 1 if T > t_label, else 0; optional label "
                    "noise. Writes the .keras model (metadata embedded), the history CSV and the "
                    "metadata JSON, each atomically. See docs/network.md.",
    )
    parser.add_argument("--data", required=True, type=Path, help="simulation NetCDF file")
    parser.add_argument("--out", required=True, type=Path, help="model file to write (.keras)")
    parser.add_argument("--history", required=True, type=Path, help="history CSV to write")
    parser.add_argument("--metadata", required=True, type=Path, help="metadata JSON to write")
    parser.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    parser.add_argument("--scenario", default="clean", help="scenario label recorded in the outputs")
    parser.add_argument("--label-noise", type=float, default=0.0,
                        help="probability rho of flipping each training label, 0 <= rho < 0.5")
    parser.add_argument("--t-label", type=float, default=0.95, help="label 1 iff T > t_label (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="root seed of all random streams")
    parser.add_argument("--iterations", type=int, default=10_000, help="optimiser steps (default 1e4)")
    parser.add_argument("--batch-size", type=int, default=1000, help="examples per step (default 1000)")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument("--padding", choices=("same", "periodic"), default="same",
                        help="convolution padding: zeros ('same') or wrap-around ('periodic')")
    parser.add_argument("--validation-fraction", type=float, default=0.2,
                        help="fraction of disorder instances held out for validation, in [0, 1)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: TF's)")
    parser.add_argument("--deterministic", action="store_true", help="enable TensorFlow op determinism")
    parser.add_argument("--report-every", type=int, default=100,
                        help="iterations between history rows / log lines (default 100)")
    parser.add_argument("--validation-examples", type=int, default=10_000,
                        help="size of the fixed validation subset evaluated at each report (default 1e4)")
    parser.add_argument("--shuffle-buffer", type=int, default=10_000,
                        help="examples in the shuffle buffer (default 1e4)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.errors import DataFormatError
    from sgpoison.errors import SettingsError
    from sgpoison.ml.train import TrainingConfig

    if not args.data.is_file():
        parser.error(f"argument --data: {args.data}: no such file")
    if args.out.suffix != ".keras":
        parser.error(f"argument --out: {args.out}: the model file must end in '.keras'")
    if args.L is not None and args.L < 2:
        parser.error(f"argument --L: must be >= 2, got {args.L}")
    config = TrainingConfig(
        t_label=args.t_label, label_noise=args.label_noise, seed=args.seed, iterations=args.iterations,
        batch_size=args.batch_size, learning_rate=args.learning_rate, padding=args.padding,
        validation_fraction=args.validation_fraction, report_every=args.report_every,
        validation_examples=args.validation_examples, shuffle_buffer=args.shuffle_buffer,
        threads=args.threads, deterministic=args.deterministic, scenario=args.scenario,
    )
    try:
        config.validate()
    except SettingsError as exc:
        parser.error(f"argument {exc.option}: {exc}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    from sgpoison.ml.train import train

    try:
        train(args.data, config, model_out=args.out, history_out=args.history,
              metadata_out=args.metadata, expected_L=args.L)
    except SettingsError as exc:
        if exc.option:
            parser.error(f"argument {exc.option}: {exc}")
        print(f"sgpoison train: error: {exc}", file=sys.stderr)
        return 1
    except (DataFormatError, FileNotFoundError) as exc:
        print(f"sgpoison train: error: {exc}", file=sys.stderr)
        return 1
    return 0
