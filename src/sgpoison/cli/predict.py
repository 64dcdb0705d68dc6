"""``sgpoison predict``: p(T) of every instance and temperature of a simulation file.

The work is done by :func:`sgpoison.ml.predict.predict`; TensorFlow is imported
only when the command runs.
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_setting, input_file, output_file
from sgpoison.ml.settings import PredictionSettings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="apply a trained CNN to a (bimodal) simulation file: p(instance, temperature)",
        description="For every instance and temperature: p = mean probability of label 1 "
                    "(T > t_label) over the snapshots (sign-symmetrised if the network was trained so), "
                    "fraction_high = fraction of snapshots classified as label 1. Writes a "
                    "sgpoison-prediction NetCDF file (format version 2) atomically. See docs/network.md.",
    )
    p.add_argument("--model", required=True, type=input_file, help="model written by 'sgpoison train' (.keras)")
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file (same L as the model)")
    p.add_argument("--out", required=True, type=output_file(), help="prediction NetCDF file to write")
    add_setting(p, PredictionSettings, "threads", "--threads", help="TensorFlow threads")
    add_setting(p, PredictionSettings, "batch_size", "--batch-size", help="snapshots per forward pass")
    p.set_defaults(func=run, settings=PredictionSettings, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--model": [args.model], "--data": [args.data]}, outputs={"--out": [args.out]})


def run(args: argparse.Namespace, settings: PredictionSettings) -> int:
    from sgpoison.cli._common import start_logging

    start_logging("1")
    from sgpoison.ml.predict import predict

    predict(args.model, args.data, out=args.out, batch_size=settings.batch_size, threads=settings.threads)
    return 0
