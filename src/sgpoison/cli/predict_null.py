"""``sgpoison predict-null``: p(T) of every instance and temperature for each null model.

The work is done by :func:`sgpoison.ml.null.predict_null` (no TensorFlow).
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, input_file, output_file


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict-null",
        help="apply null models to a (bimodal) simulation file: p(instance, temperature) per model",
        description="Compute q^2 and the link overlap of every overlap configuration of the file once, "
                    "then for each model: p = mean probability of label 1 over the snapshots, "
                    "fraction_high = fraction with probability > 1/2. Writes one sgpoison-prediction "
                    "NetCDF file (format version 2) per model, atomically. See docs/network.md.",
    )
    p.add_argument("--model", required=True, nargs="+", type=input_file,
                   help="null-model files written by 'sgpoison train-null' (.json)")
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file (same L as the models)")
    p.add_argument("--out", required=True, nargs="+", type=output_file(),
                   help="one prediction NetCDF file per --model, in the same order")
    p.set_defaults(func=run, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--model": list(args.model), "--data": [args.data]}, outputs={"--out": list(args.out)})


def run(args: argparse.Namespace, settings: None) -> int:
    from sgpoison.cli._common import start_logging

    start_logging()
    from sgpoison.ml.null import predict_null

    predict_null(args.model, args.data, outs=args.out)
    return 0
