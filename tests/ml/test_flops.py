"""The analytic FLOP count of the network (sgpoison.ml.flops): a hand count of a tiny network,
the documented L = 8 and 16 figures, the measured rate table; and no TensorFlow import."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sgpoison.ml.flops import TRAINING_CORES, TRAINING_GFLOPS, forward_flops, training_flops, training_gflops_per_core


def test_training_flops_of_a_tiny_network_by_hand():
    # L = 4, stride 2: n = 2, 8 convolution outputs of 1 channel, 27 weights each; 3 hidden units
    parts = training_flops(4, batch_size=1, channels=1, kernel_size=3, strides=2, dense_units=3)
    assert parts["conv_forward"] == parts["conv_weight_gradient"] == 2 * 8 * 27
    assert parts["hidden_forward"] == parts["hidden_weight_gradient"] == parts["hidden_input_gradient"] == 2 * 8 * 3
    assert parts["output_dense"] == 3 * 2 * 3 * 2
    assert parts["elementwise"] == 4 * 8 + 8 * 3 + 20
    assert parts["n_parameters"] == 27 + 1 + 8 * 3 + 3 + 3 * 2 + 2
    assert parts["adam"] == 12 * 63
    assert parts["total"] == 2 * 432 + 3 * 48 + 36 + 76 + 756
    assert forward_flops(4, channels=1, dense_units=3) == 432 + 48 + 12


def test_training_flops_scale_with_the_batch_and_match_docs_network_md():
    one, many = training_flops(8, batch_size=1), training_flops(8, batch_size=1000)
    assert many["hidden_forward"] == 1000 * one["hidden_forward"]
    assert many["adam"] == one["adam"]  # per parameter, not per example
    # docs/network.md, Performance: 0.658 and 39.74 GFLOP per iteration at B = 1000
    assert many["total"] / 1e9 == pytest.approx(0.658, abs=5e-4)
    assert training_flops(16)["total"] / 1e9 == pytest.approx(39.74, abs=5e-3)
    assert training_flops(7)["conv_forward"] == training_flops(8)["conv_forward"]  # n = ceil(7 / 2) = 4


def test_training_rate_per_core_interpolates_the_measured_table():
    assert training_gflops_per_core(8) == TRAINING_GFLOPS[8] / TRAINING_CORES
    assert training_gflops_per_core(10) == pytest.approx((TRAINING_GFLOPS[8] + TRAINING_GFLOPS[12]) / 2 / TRAINING_CORES)
    assert training_gflops_per_core(4) == training_gflops_per_core(8)  # clamped
    assert training_gflops_per_core(32) == training_gflops_per_core(16)


def test_flops_module_does_not_import_tensorflow():
    code = "import sys, sgpoison.ml.flops, sgpoison.report.cost; print('tensorflow' in sys.modules)"
    import sgpoison

    env = dict(os.environ, PYTHONPATH=str(Path(sgpoison.__file__).parents[1]))  # this checkout's package
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"
