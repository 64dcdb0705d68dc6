"""The CNN of paper Table III and the periodic padding layer."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sgpoison.ml.network import (  # noqa: E402
    PeriodicPadding3D,
    build_model,
    convolution_output_size,
    model_lattice_size,
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
def test_default_architecture_is_table_iii(L):
    model = build_model(L)
    assert model_lattice_size(model) == L
    assert model.input_shape == (None, L, L, L, 1)
    assert model.output_shape == (None, 2)
    conv = model.get_layer("conv")
    assert conv.filters == 5 and conv.kernel_size == (3, 3, 3) and conv.strides == (2, 2, 2)
    assert conv.padding == "same" and conv.activation.__name__ == "relu"
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
