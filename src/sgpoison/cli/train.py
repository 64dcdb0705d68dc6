"""``sgpoison train``: train the phase classifier of one L on a simulation file.

The work is done by :func:`sgpoison.ml.train.train`; TensorFlow is imported
only when the command runs, so ``sgpoison --help`` stays fast.
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_label_options, add_setting, input_file, output_file
from sgpoison.ml.settings import TrainingConfig


def add_parser(subparsers) -> argparse.ArgumentParser:
    C = TrainingConfig
    p = subparsers.add_parser(
        "train",
        help="train the CNN (paper Table III) on the overlaps of one simulation file",
        description="Train the phase classifier on the spin overlaps of one simulation file "
                    "(normally Gaussian disorder): label 1 if T > t_label, else 0; optional label "
                    "noise. Writes the .keras model (metadata embedded), the history CSV and the "
                    "metadata JSON, each atomically. See docs/network.md.",
    )
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file")
    p.add_argument("--out", required=True, type=output_file(".keras"), help="model file to write (.keras)")
    p.add_argument("--history", required=True, type=output_file(), help="history CSV to write")
    p.add_argument("--metadata", required=True, type=output_file(), help="metadata JSON to write")
    p.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    add_setting(p, C, "scenario", "--scenario", help="scenario label recorded in the outputs")
    add_label_options(p, TrainingConfig)
    add_setting(p, C, "iterations", "--iterations", help="optimiser steps")
    add_setting(p, C, "batch_size", "--batch-size", help="examples per step")
    add_setting(p, C, "learning_rate", "--learning-rate", help="Adam learning rate")
    add_setting(p, C, "padding", "--padding", help="convolution padding: zeros ('same') or wrap-around ('periodic')")
    add_setting(p, C, "threads", "--threads", help="TensorFlow threads")
    p.add_argument("--deterministic", action="store_true", help="enable TensorFlow op determinism")
    add_setting(p, C, "report_every", "--report-every", help="iterations between history rows / log lines")
    add_setting(p, C, "validation_examples", "--validation-examples",
                help="size of the fixed validation subset evaluated at each report")
    add_setting(p, C, "shuffle_buffer", "--shuffle-buffer", help="examples in the shuffle buffer")
    p.set_defaults(func=run, settings=TrainingConfig, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--data": [args.data]},
                 outputs={"--out": [args.out], "--history": [args.history], "--metadata": [args.metadata]})


def run(args: argparse.Namespace, settings: TrainingConfig) -> int:
    from sgpoison.cli._common import start_logging

    start_logging("1")
    from sgpoison.ml.train import train

    train(args.data, settings, model_out=args.out, history_out=args.history, metadata_out=args.metadata,
          expected_L=args.L)
    return 0
