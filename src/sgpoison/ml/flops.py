"""Analytic FLOP counts of the network (:func:`sgpoison.ml.network.build_model`) and its
measured training speed on CPUs; no TensorFlow import.

A multiply-add counts 2 FLOPs. With batch B, n = ceil(L / strides) the convolution's output
size, C channels, k the kernel size and U hidden units (default n^3 C = 5 L^3 / 8 for even L
and the Table III network), one training iteration (``train_on_batch``) costs

=============================  ===================================================
Conv3D forward                 2 B n^3 C k^3
Conv3D weight gradient         2 B n^3 C k^3 (no input gradient: the input is data)
hidden Dense forward           2 B n^3 C U
hidden Dense weight gradient   2 B n^3 C U
hidden Dense input gradient    2 B n^3 C U
output Dense                   3 x 2 B U 2 (forward, weight and input gradient)
element-wise                   ~ 4 B n^3 C (convolution bias, ReLU, their gradients)
                               + 8 B U (hidden bias, ReLU, dropout mask and scaling, their
                               gradients) + 20 B (output bias, softmax, loss)
Adam                           ~ 12 per parameter (moments, square root, update)
=============================  ===================================================

dominated by the three n^3 C x U products (39.7 GFLOP per iteration at L = 16, B = 1000).
The convolution is counted at its nominal k^3 multiply-adds per output (the padding, zero or
periodic, is computed too). Cross-checked against TensorFlow's profiler and XLA's optimised
HLO by ``benchmarks/bench_training.py`` (docs/network.md, Performance).
"""

from __future__ import annotations

import math

import numpy as np

#: measured float32 rate of the training step on 2 CPU cores, GFLOP/s, by L
#: (``benchmarks/bench_training.py`` on the project's 2-core AMD EPYC Zen 4 VM, tensorflow-cpu
#: 2.21 with oneDNN; docs/network.md, Performance)
TRAINING_GFLOPS = {8: 35.0, 12: 53.0, 16: 90.0}
#: cores of the measurement of :data:`TRAINING_GFLOPS` (and threads of a train/predict job)
TRAINING_CORES = 2


def training_flops(L: int, batch_size: int = 1000, channels: int = 5, kernel_size: int = 3,
                   strides: int = 2, dense_units: int | None = None) -> dict[str, float]:
    """FLOPs of one training iteration of the network, by part (module docstring).

    Parameters
    ----------
    L : int
        Linear size of the input (L^3 sites).
    batch_size, channels, kernel_size, strides : int
        As :class:`~sgpoison.ml.settings.TrainingConfig` (defaults: paper Table III).
    dense_units : int, optional
        Hidden units; None: the number of convolution outputs.

    Returns
    -------
    dict
        ``conv_forward``, ``conv_weight_gradient``, ``hidden_forward``,
        ``hidden_weight_gradient``, ``hidden_input_gradient``, ``output_dense``,
        ``elementwise``, ``adam`` (FLOPs), ``total`` (their sum) and ``n_parameters``.
    """
    B = batch_size
    n = math.ceil(L / strides)
    conv_outputs = n**3 * channels
    U = conv_outputs if dense_units is None else dense_units
    k3 = kernel_size**3
    n_parameters = k3 * channels + channels + conv_outputs * U + U + U * 2 + 2
    parts = {
        "conv_forward": 2 * B * conv_outputs * k3,
        "conv_weight_gradient": 2 * B * conv_outputs * k3,
        "hidden_forward": 2 * B * conv_outputs * U,
        "hidden_weight_gradient": 2 * B * conv_outputs * U,
        "hidden_input_gradient": 2 * B * conv_outputs * U,
        "output_dense": 3 * 2 * B * U * 2,
        "elementwise": 4 * B * conv_outputs + 8 * B * U + 20 * B,
        "adam": 12 * n_parameters,
    }
    parts["total"] = float(sum(parts.values()))
    parts["n_parameters"] = n_parameters
    return parts


def forward_flops(L: int, channels: int = 5, kernel_size: int = 3, strides: int = 2,
                  dense_units: int | None = None) -> float:
    """FLOPs of one forward pass of one configuration: the convolution, the hidden Dense layer
    and the output layer (a third of its training FLOPs); element-wise work left out."""
    parts = training_flops(L, batch_size=1, channels=channels, kernel_size=kernel_size,
                           strides=strides, dense_units=dense_units)
    return parts["conv_forward"] + parts["hidden_forward"] + parts["output_dense"] / 3


def training_gflops_per_core(L: int) -> float:
    """Float32 FLOP rate of the training step per CPU core at size L, GFLOP/s:
    :data:`TRAINING_GFLOPS` / :data:`TRAINING_CORES`, linear in L between the measured sizes,
    clamped outside them."""
    sizes = sorted(TRAINING_GFLOPS)
    return float(np.interp(L, sizes, [TRAINING_GFLOPS[s] for s in sizes])) / TRAINING_CORES
