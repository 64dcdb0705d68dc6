"""``sgpoison train-null``: fit the null-model classifiers of one L on network 0's training set.

The work is done by :func:`sgpoison.ml.null.train_null` (scikit-learn; no TensorFlow).
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_classifier_options, add_label_options, add_setting, input_file, output_file
from sgpoison.ml.settings import NULL_OBSERVABLES, NullSettings


def add_parser(subparsers) -> argparse.ArgumentParser:
    C = NullSettings
    p = subparsers.add_parser(
        "train-null",
        help="fit logistic-regression null models on q^2 and the link overlap of each configuration",
        description="Fit one logistic regression per --observables entry (ql: link overlap, q2: squared "
                    "overlap, q2_ql: both, computed from each overlap configuration) on exactly the "
                    "training set of network 0 of 'sgpoison train' with the same label options: same "
                    "labels and label noise, same split, same class weights. Writes one JSON model per "
                    "entry, atomically. See docs/network.md.",
    )
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file (the CNNs' training file)")
    p.add_argument("--observables", required=True, nargs="+", choices=NULL_OBSERVABLES,
                   help="the null models to fit")
    p.add_argument("--out", required=True, nargs="+", type=output_file(".json"),
                   help="one model file (.json) per --observables entry, in the same order")
    p.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    add_setting(p, C, "scenario", "--scenario", help="scenario label recorded in the outputs")
    add_label_options(p, NullSettings)
    add_classifier_options(p, NullSettings)
    add_setting(p, C, "inverse_regularization", "--inverse-regularization",
                help="C of scikit-learn's LogisticRegression (L2 penalty 1/(2C) on standardised features)")
    add_setting(p, C, "max_iterations", "--max-iterations", help="L-BFGS iterations")
    p.set_defaults(func=run, settings=NullSettings, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--data": [args.data]}, outputs={"--out": list(args.out)})


def run(args: argparse.Namespace, settings: NullSettings) -> int:
    from sgpoison.cli._common import start_logging

    start_logging()
    from sgpoison.ml.null import train_null

    train_null(args.data, settings, outs=args.out, expected_L=args.L)
    return 0
