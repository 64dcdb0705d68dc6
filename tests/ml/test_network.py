"""The CNN of paper Table III, the periodic padding layer, the sign-symmetrised classifier,
mixed precision, and the class-weighted loss."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sgpoison.ml.evaluation import weighted_cross_entropy  # noqa: E402
from sgpoison.ml.labels import class_weights  # noqa: E402
from sgpoison.ml.network import (  # noqa: E402
    PeriodicPadding3D,
    build_model,
    compute_device,
    convolution_output_size,
    device_label,
    model_lattice_size,
    symmetrized_model,
    variable_device,
)


@pytest.mark.parametrize("padding", [1, 2, 4])
def test_periodic_padding_equals_numpy_wrap(padding):
    # non-cubic, several channels: catches mixed-up axes and wrong ends
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 6, 3)).astype(np.float32)
    layer = PeriodicPadding3D(padding)
    out = keras.ops.convert_to_numpy(layer(x))
    p = padding
    expected = np.pad(x, ((0, 0), (p, p), (p, p), (p, p), (0, 0)), mode="wrap")
    assert out.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_array_equal(out, expected)


def test_periodic_padding_rejects_bad_sizes():
    with pytest.raises(ValueError, match="padding"):
        PeriodicPadding3D(-1)
    with pytest.raises(ValueError, match="exceeds"):
        PeriodicPadding3D(5)(np.zeros((1, 4, 4, 4, 1), np.float32))


@pytest.mark.parametrize("L", [4, 8, 16])
def test_default_architecture_is_table_iii_with_periodic_padding(L):
    model = build_model(L)
    assert model_lattice_size(model) == L
    assert model.input_shape == (None, L, L, L, 1)
    assert model.output_shape == (None, 2)
    conv = model.get_layer("conv")
    assert conv.filters == 5 and conv.kernel_size == (3, 3, 3) and conv.strides == (2, 2, 2)
    assert model.get_layer("periodic_padding").padding == 1  # default: the lattice is a torus
    assert conv.padding == "valid" and conv.activation.__name__ == "relu"
    assert model.get_layer("hidden").units == L**3 * 5 // 8
    assert model.get_layer("hidden").activation.__name__ == "relu"
    assert model.get_layer("dropout").rate == pytest.approx(0.2)
    assert model.get_layer("phase").activation.__name__ == "softmax"
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)


def test_periodic_model_has_same_widths_and_valid_convolution():
    model = build_model(8, padding="periodic")
    assert model.get_layer("conv").padding == "valid"
    assert model.get_layer("periodic_padding").padding == 1
    assert model.get_layer("conv").output.shape[1:4] == (4, 4, 4)
    assert model.get_layer("hidden").units == 8**3 * 5 // 8
    assert convolution_output_size(8, "periodic") == convolution_output_size(8, "same") == 4


def test_periodic_convolution_is_translation_equivariant():
    """Shifting the configuration by one stride shifts the feature map by one site (torus)."""
    L = 6
    for padding, equivariant in (("periodic", True), ("same", False)):
        model = build_model(L, padding=padding)
        features = keras.Model(model.input, model.get_layer("conv").output)
        x = np.random.default_rng(1).choice([-1.0, 1.0], size=(1, L, L, L, 1)).astype(np.float32)
        for axis in (1, 2, 3):
            shifted = features.predict_on_batch(np.roll(x, 2, axis=axis))
            rolled = np.roll(features.predict_on_batch(x), 1, axis=axis)
            assert np.allclose(shifted, rolled, atol=1e-6) == equivariant, (padding, axis)


@pytest.mark.parametrize("padding", ["same", "periodic"])
def test_symmetrized_output_is_exactly_invariant_under_the_sign_flip(padding):
    """(p(q) + p(-q)) / 2 is the same for q and -q; the plain network is not (else the test
    could not fail)."""
    model = build_model(6, padding=padding)
    symmetric = symmetrized_model(model)
    x = np.random.default_rng(3).choice([-1.0, 1.0], size=(16, 6, 6, 6, 1)).astype(np.float32)
    x[:8] = np.where(np.random.default_rng(4).random(x[:8].shape) < 0.9, 1.0, -1.0)  # ordered ones
    np.testing.assert_array_equal(symmetric.predict_on_batch(x), symmetric.predict_on_batch(-x))
    plain = model.predict_on_batch(x)
    assert np.abs(plain - model.predict_on_batch(-x)).max() > 1e-4
    np.testing.assert_allclose(symmetric.predict_on_batch(x), (plain + model.predict_on_batch(-x)) / 2,
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keeps_the_softmax_in_float32(tmp_path, policy):
    model = build_model(4, mixed_precision=policy)
    assert model.get_layer("hidden").dtype_policy.name == policy
    assert model.get_layer("hidden").compute_dtype == policy.removeprefix("mixed_")
    assert model.get_layer("phase").dtype_policy.name == "float32"
    assert model.get_layer("hidden").kernel.dtype == "float32"  # variables stay float32
    x = np.random.default_rng(2).choice([-1.0, 1.0], size=(7, 4, 4, 4, 1)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1, 1])
    assert np.isfinite(model.train_on_batch(x, y, return_dict=True)["loss"])
    out = model.predict_on_batch(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("hidden").dtype_policy.name == policy
    np.testing.assert_array_equal(loaded.predict_on_batch(x), out)


def test_class_weighted_loss_equals_the_hand_computed_one():
    """Keras' loss of a tiny batch with the class weights w_c = n / (2 n_c) equals
    (1/n) sum_i w_{y_i} (-log p_i(y_i)), computed here by hand from the outputs before the step."""
    model = build_model(4, dropout=0.0)  # no dropout: the forward pass of the step is the model's
    x = np.random.default_rng(5).choice([-1.0, 1.0], size=(5, 4, 4, 4, 1)).astype(np.float32)
    y = np.array([0, 0, 0, 0, 1])
    weights = class_weights({0: 4, 1: 1})
    assert weights == {0: 5 / 8, 1: 5 / 2}
    p = model.predict_on_batch(x).astype(np.float64)
    by_hand = -(5 / 8 * sum(np.log(p[i, 0]) for i in range(4)) + 5 / 2 * np.log(p[4, 1])) / 5
    logs = model.train_on_batch(x, y, class_weight=weights, return_dict=True)
    assert logs["loss"] == pytest.approx(by_hand, rel=1e-5)
    assert weighted_cross_entropy(p, y, weights) == pytest.approx(by_hand, rel=1e-12)
    unweighted = -np.mean(np.log(p[np.arange(5), y]))
    assert abs(by_hand - unweighted) > 1e-3  # the weights matter for this batch


def test_the_device_of_the_network_is_reported():
    model = build_model(4)
    device = compute_device()
    placement = variable_device(model)
    assert device["type"] in ("CPU", "GPU") and device["model"]
    assert f"device:{device['type']}:" in placement  # the weights live on the reported device type
    assert device_label(device, placement).startswith(f"{device['type']}:0 (")


@pytest.mark.parametrize("padding", ["same", "periodic"])
def test_keras_file_round_trip(tmp_path, padding):
    model = build_model(4, padding=padding)
    x = np.random.default_rng(2).choice([-1.0, 1.0], size=(7, 4, 4, 4, 1)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), rtol=1e-6)
    probabilities = loaded.predict_on_batch(x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "reflect"}, "padding"),
    ({"L": 1}, "L must be"),
    ({"dropout": 1.0}, "dropout"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"channels": 0}, "channels"),
])
def test_build_model_rejects_bad_arguments(kwargs, match):
    kwargs = {"L": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        build_model(**kwargs)


@pytest.mark.parametrize("L, dense_units", [(4, None), (6, 7)])
def test_parameter_count_agrees_with_the_analytic_flop_count(L, dense_units):
    # the FLOP count (sgpoison.ml.flops) describes the model build_model builds
    from sgpoison.ml.flops import training_flops

    model = build_model(L, dense_units=dense_units)
    assert model.count_params() == training_flops(L, dense_units=dense_units)["n_parameters"]
