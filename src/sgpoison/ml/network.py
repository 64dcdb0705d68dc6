"""The convolutional neural network that classifies spin-overlap configurations.

One network is trained per linear size L. Its input is one overlap
configuration q_i = s_i^alpha s_i^beta (paper Eq. (2)) on the L x L x L lattice,
channel-last, float32 (+1.0/-1.0); its output is the softmax probability of the
two phases, label 0 = low temperature (T <= t_label), label 1 = high
temperature (T > t_label).

Default architecture (Fang, Barzegar & Katzgraber 2020, Table III)::

    input (L, L, L, 1) float32
    Conv3D, 5 channels, kernel 3x3x3, stride 2, ReLU    (padding "same" or periodic)
    Flatten
    Dense(L^3 * 5 / 8), ReLU
    Dropout(0.2)
    Dense(2), softmax

compiled with Adam (learning rate 1e-4) and the sparse categorical
cross-entropy of integer labels. The hidden width and the dropout are not in the paper;
they are those of the authors' public prediction script (docs/network.md).

The lattice has periodic boundaries, so the convolution sees the lattice as a torus by
default: :class:`PeriodicPadding3D` wraps the configuration around (like
``numpy.pad(mode="wrap")``) and the convolution then runs with ``"valid"`` padding; Keras'
zero ``"same"`` padding is an option. :func:`symmetrized_model` classifies with
(p(q) + p(-q)) / 2, exactly invariant under the global sign flip q -> -q. The layer is registered with
Keras (package ``"sgpoison"``), so a saved ``.keras`` model loads with
``keras.saving.load_model`` once :mod:`sgpoison.ml.network` has been imported.
"""

from __future__ import annotations

import logging
import math

import keras
from keras import ops

from sgpoison.mc.lattice import check_size
from sgpoison.ml.settings import PADDINGS, TrainingConfig

log = logging.getLogger(__name__)

#: the defaults of :func:`build_model` (paper Table III)
_DEFAULTS = TrainingConfig()


@keras.saving.register_keras_serializable(package="sgpoison")
class PeriodicPadding3D(keras.layers.Layer):
    """Pad the three spatial axes periodically (wrap around the torus).

    For an input of shape ``(batch, Lx, Ly, Lz, channels)`` the output has shape
    ``(batch, Lx + 2p, Ly + 2p, Lz + 2p, channels)`` and equals
    ``numpy.pad(x, ((0, 0), (p, p), (p, p), (p, p), (0, 0)), mode="wrap")``:
    the ``p`` sites before index 0 are the last ``p`` sites of the lattice and
    the ``p`` sites after index L-1 are the first ``p`` ones, as for the
    periodic boundary conditions of the simulated lattice.

    Parameters
    ----------
    padding : int
        Sites added on each side of each spatial axis, ``0 <= padding <= L``.

    Raises
    ------
    ValueError
        If ``padding`` is negative, or (when the layer is built) larger than a
        spatial size or the input is not 5-dimensional.
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        padding = int(padding)
        if padding < 0:
            raise ValueError(f"PeriodicPadding3D: padding must be >= 0, got {padding}")
        self.padding = padding

    def build(self, input_shape):
        if len(input_shape) != 5:
            raise ValueError(
                f"PeriodicPadding3D expects (batch, x, y, z, channels) inputs, got shape {input_shape}")
        for size in input_shape[1:4]:
            if size is not None and self.padding > size:
                raise ValueError(
                    f"PeriodicPadding3D: padding {self.padding} exceeds the lattice size {size}")
        super().build(input_shape)

    def call(self, inputs):
        p = self.padding
        x = inputs
        if p == 0:
            return x
        for axis in (1, 2, 3):
            head = [slice(None)] * 5
            tail = [slice(None)] * 5
            head[axis] = slice(None, p)
            tail[axis] = slice(-p, None)
            x = ops.concatenate([x[tuple(tail)], x, x[tuple(head)]], axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis in (1, 2, 3):
            if shape[axis] is not None:
                shape[axis] = shape[axis] + 2 * self.padding
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


def convolution_output_size(L: int, padding: str = "same", kernel_size: int = 3, strides: int = 2) -> int:
    """Linear size of the Conv3D output for an ``L^3`` input.

    ``"same"``: ceil(L / strides). ``"periodic"``: the input is wrapped by
    ``kernel_size // 2`` sites on each side and convolved without padding,
    giving floor((L + 2 (kernel_size // 2) - kernel_size) / strides) + 1, which
    equals L / 2 for even L and the defaults (kernel 3, stride 2).
    """
    if padding == "same":
        return math.ceil(L / strides)
    if padding == "periodic":
        pad = kernel_size // 2
        return (L + 2 * pad - kernel_size) // strides + 1
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


def build_model(
    L: int,
    padding: str = _DEFAULTS.padding,
    channels: int = _DEFAULTS.channels,
    kernel_size: int = _DEFAULTS.kernel_size,
    strides: int = _DEFAULTS.strides,
    dense_units: int | None = _DEFAULTS.dense_units,
    dropout: float = _DEFAULTS.dropout,
    learning_rate: float = _DEFAULTS.learning_rate,
    mixed_precision: str = _DEFAULTS.mixed_precision,
    jit_compile: bool = _DEFAULTS.jit_compile,
) -> keras.Model:
    """Build and compile the phase classifier of paper Table III for linear size ``L``.

    Parameters
    ----------
    L : int
        Linear lattice size; the input shape is ``(L, L, L, 1)`` float32.
    padding : {"same", "periodic"}
        ``"same"``: Keras zero padding. ``"periodic"``: :class:`PeriodicPadding3D`
        by ``kernel_size // 2`` then a ``"valid"`` convolution.
    channels, kernel_size, strides : int
        The Conv3D layer (paper: 5 channels, 3x3x3, stride 2), ReLU activation.
    dense_units : int, optional
        Width of the hidden dense layer (ReLU). Default: the number of
        convolution outputs, ``convolution_output_size(L)**3 * channels``,
        i.e. L^3 * 5 / 8 for even L (paper Table III).
    dropout : float
        Dropout rate after the hidden layer (paper: 0.2), in [0, 1).
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    mixed_precision : {"float32", "mixed_bfloat16", "mixed_float16"}
        Keras dtype policy of every layer but the softmax output, which stays float32 (as
        Keras recommends); ``mixed_float16`` also wraps Adam in a ``LossScaleOptimizer``.
    jit_compile : bool
        Compile the training step with XLA.

    Defaults and limits are those of :class:`sgpoison.ml.settings.TrainingConfig`.

    Returns
    -------
    keras.Model
        Compiled with Adam, ``sparse_categorical_crossentropy`` on integer labels
        {0, 1} and the ``accuracy`` metric. Output: ``(batch, 2)`` float32 softmax
        probabilities of label 0 (T <= t_label) and label 1 (T > t_label).

    Raises
    ------
    SettingsError (a ValueError)
        For an unknown padding, L < 2, non-positive sizes, a dropout rate
        outside [0, 1) or a non-positive learning rate.
    """
    L = check_size(L)
    for name, value in (("padding", padding), ("channels", channels), ("kernel_size", kernel_size),
                        ("strides", strides), ("dense_units", dense_units), ("dropout", dropout),
                        ("learning_rate", learning_rate), ("mixed_precision", mixed_precision)):
        TrainingConfig.check_value(name, value)
    n_out = convolution_output_size(L, padding, kernel_size, strides)
    if n_out < 1:
        raise ValueError(f"L={L} is too small for kernel {kernel_size} and stride {strides}")
    if dense_units is None:
        dense_units = n_out**3 * channels

    policy = keras.dtype_policies.DTypePolicy(mixed_precision)
    inputs = keras.Input(shape=(L, L, L, 1), dtype="float32", name="overlap")
    x = inputs
    if padding == "periodic":
        x = PeriodicPadding3D(kernel_size // 2, name="periodic_padding", dtype=policy)(x)
    x = keras.layers.Conv3D(
        channels, kernel_size, strides=strides, activation="relu",
        padding="valid" if padding == "periodic" else "same", name="conv", dtype=policy)(x)
    x = keras.layers.Flatten(name="flatten", dtype=policy)(x)
    x = keras.layers.Dense(int(dense_units), activation="relu", name="hidden", dtype=policy)(x)
    x = keras.layers.Dropout(dropout, name="dropout", dtype=policy)(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="phase", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=f"sgpoison_cnn_L{L}")
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=bool(jit_compile))
    return model


def symmetrized_model(model: keras.Model) -> keras.Model:
    """The sign-symmetrised classifier ``x -> (model(x) + model(-x)) / 2`` (shares the weights).

    Its output is exactly invariant under the global flip q -> -q of the overlap field
    (up to the order of the two floating-point terms, which the sum does not depend on).

    Returns
    -------
    keras.Model
        Input and output shapes as ``model``; not compiled (for inference).
    """
    inputs = keras.Input(shape=model.input_shape[1:], dtype="float32", name="overlap")
    outputs = (model(inputs) + model(ops.negative(inputs))) * 0.5
    return keras.Model(inputs, outputs, name=f"{model.name}_sign_symmetrized")


def model_lattice_size(model: keras.Model) -> int:
    """Return L of a model built by :func:`build_model` (from its input shape).

    Raises
    ------
    ValueError
        If the input is not ``(batch, L, L, L, 1)``.
    """
    shape = tuple(model.input_shape)
    if len(shape) != 5 or shape[4] != 1 or not (shape[1] == shape[2] == shape[3]) or shape[1] is None:
        raise ValueError(f"model input shape {shape} is not (batch, L, L, L, 1)")
    return int(shape[1])


def compute_device() -> dict:
    """The device TensorFlow places the network on: the first visible GPU, else the CPU.

    Returns
    -------
    dict
        ``type`` ("GPU" or "CPU"), ``name`` (TensorFlow's logical device, e.g.
        ``"/device:GPU:0"``), ``model`` (the GPU's name from
        ``tf.config.experimental.get_device_details``, or the CPU's ``model name`` from
        /proc/cpuinfo, or ``platform.processor()``), and ``n_gpus`` visible.
    """
    import platform

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"type": "GPU", "name": tf.config.list_logical_devices("GPU")[0].name,
                "model": str(details.get("device_name", "unknown GPU")), "n_gpus": len(gpus)}
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            model = next((line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")),
                         model)
    except OSError:
        pass
    return {"type": "CPU", "name": tf.config.list_logical_devices("CPU")[0].name, "model": model, "n_gpus": 0}


def variable_device(model: keras.Model) -> str:
    """The device holding the model's first weight (where TensorFlow runs its operations),
    e.g. ``"/job:localhost/replica:0/task:0/device:CPU:0"``."""
    variable = model.weights[0]
    return str(getattr(getattr(variable, "value", variable), "device", ""))


def device_label(device: dict, placement: str = "") -> str:
    """One-line description of a device, e.g. ``"GPU:0 (NVIDIA A100-SXM4-40GB)"`` or
    ``"CPU:0 (AMD EPYC 9R14)"``; the ``placement`` of a variable (:func:`variable_device`)
    takes precedence over the device dict for the index."""
    where = (placement or device["name"]).rsplit("device:", 1)[-1]
    return f"{where} ({device['model']})"


def configure_tensorflow(threads: int | None = None, deterministic: bool = False,
                         seed: int | None = None) -> list[str]:
    """Set TensorFlow threads, seeds and determinism; return the devices in use.

    Threads can only be set before TensorFlow runs its first operation; if the
    runtime is already initialised with other values a warning is logged. The
    GPU is used automatically when one is visible. oneDNN is enabled by
    :mod:`sgpoison.ml` (never set ``TF_ENABLE_ONEDNN_OPTS=0``: Conv3D's gradient is ~70x
    slower without it on an AVX2 CPU).

    Parameters
    ----------
    threads : int, optional
        Intra-op and inter-op parallelism threads.
    deterministic : bool
        Call ``tf.config.experimental.enable_op_determinism()`` (process-wide).
    seed : int, optional
        ``keras.utils.set_random_seed(seed)`` (Python, NumPy global, TF, Keras).

    Returns
    -------
    list of str
        Logical device names, e.g. ``["/device:CPU:0"]``.
    """
    import keras
    import tensorflow as tf

    if threads:
        threading = tf.config.threading
        for what, getter, setter in (
            ("intra-op", threading.get_intra_op_parallelism_threads,
             threading.set_intra_op_parallelism_threads),
            ("inter-op", threading.get_inter_op_parallelism_threads,
             threading.set_inter_op_parallelism_threads),
        ):
            if getter() != threads:
                try:
                    setter(threads)
                except RuntimeError:
                    log.warning("TensorFlow already initialised: cannot set %s threads to %d "
                                "(currently %d)", what, threads, getter())
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    devices = [d.name for d in tf.config.list_logical_devices()]
    if tf.config.list_physical_devices("GPU"):
        log.info("GPU visible: %s", devices)
    return devices
