"""``sgpoison train``: train one network (ensemble member k) of one L on a simulation file.

The work is done by :func:`sgpoison.ml.train.train`; TensorFlow is imported
only when the command runs, so ``sgpoison --help`` stays fast.
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import (
    Files,
    add_classifier_options,
    add_label_options,
    add_setting,
    add_switch,
    input_file,
    output_file,
)
from sgpoison.ml.settings import TrainingConfig


def add_parser(subparsers) -> argparse.ArgumentParser:
    C = TrainingConfig
    p = subparsers.add_parser(
        "train",
        help="train the CNN (paper Table III) on the overlaps of one simulation file",
        description="Train network k of the phase classifier on the spin overlaps of one simulation "
                    "file (normally Gaussian disorder): label 1 if T > t_label, else 0; optional label "
                    "noise. Symmetry-augmented batches, class-weighted loss, sign-symmetrised "
                    "validation and best checkpoint by default. Writes the .keras model (metadata "
                    "embedded), the history CSV and the metadata JSON, each atomically. See docs/network.md.",
    )
    p.add_argument("--data", required=True, type=input_file, help="simulation NetCDF file")
    p.add_argument("--out", required=True, type=output_file(".keras"), help="model file to write (.keras)")
    p.add_argument("--history", required=True, type=output_file(), help="history CSV to write")
    p.add_argument("--metadata", required=True, type=output_file(), help="metadata JSON to write")
    p.add_argument("--L", type=int, default=None, help="fail unless the data have this L")
    add_setting(p, C, "scenario", "--scenario", help="scenario label recorded in the outputs")
    add_setting(p, C, "network_index", "--network-index",
                help="k, the network's index in its ensemble: with --seed and L it fixes its random streams")
    add_label_options(p, TrainingConfig)
    add_classifier_options(p, TrainingConfig)
    group = p.add_argument_group("optimisation (paper Table III)")
    add_setting(group, C, "iterations", "--iterations", help="optimiser steps")
    add_setting(group, C, "batch_size", "--batch-size", help="examples per step")
    add_setting(group, C, "learning_rate", "--learning-rate", help="Adam learning rate")
    group = p.add_argument_group("architecture (paper Table III; hidden width and dropout from the authors' script)")
    add_setting(group, C, "padding", "--padding",
                help="convolution padding: wrap-around ('periodic') or zeros ('same')")
    add_setting(group, C, "channels", "--channels", help="convolution channels")
    add_setting(group, C, "kernel_size", "--kernel-size", help="convolution kernel size")
    add_setting(group, C, "strides", "--strides", help="convolution stride")
    add_setting(group, C, "dense_units", "--dense-units", help="hidden dense units (unset: L^3 * 5 / 8)")
    add_setting(group, C, "dropout", "--dropout", help="dropout rate after the hidden layer")
    group = p.add_argument_group("symmetries, validation, best checkpoint")
    add_switch(group, C, "augment_sign_flip", "--augment-sign-flip", help="random global sign flip q -> -q")
    add_switch(group, C, "augment_translations", "--augment-translations", help="random periodic translations")
    add_switch(group, C, "augment_cube_symmetries", "--augment-cube-symmetries",
               help="random rotations and reflections of the cube (48 elements)")
    add_switch(group, C, "symmetrize", "--symmetrize", help="classify with (p(q) + p(-q)) / 2")
    add_switch(group, C, "keep_best", "--keep-best", help="keep the weights with the lowest validation loss")
    add_setting(group, C, "patience", "--patience",
                help="stop after this many reports without a lower validation loss")
    add_setting(group, C, "report_every", "--report-every", help="iterations between history rows / log lines")
    add_setting(group, C, "validation_examples", "--validation-examples",
                help="size of the fixed validation subset evaluated at each report")
    add_setting(group, C, "shuffle_buffer", "--shuffle-buffer", help="examples in the shuffle buffer")
    group = p.add_argument_group("execution")
    add_setting(group, C, "threads", "--threads", help="TensorFlow threads")
    add_switch(group, C, "deterministic", "--deterministic", help="enable TensorFlow op determinism")
    add_setting(group, C, "mixed_precision", "--mixed-precision",
                help="Keras dtype policy (the softmax stays float32)")
    add_switch(group, C, "jit_compile", "--jit-compile", help="compile the training step with XLA")
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
