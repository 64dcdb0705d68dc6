"""Prediction of the classification probability p(T) for every instance and temperature.

Paper Eq. (3) and Fig. 1: for each instance and temperature of a (bimodal) simulation
file, ``p`` is the mean over snapshots of the probability of label 1 (high temperature) --
with the sign-symmetrised network (p(q) + p(-q)) / 2 unless the model was trained without
it -- and ``fraction_high`` the fraction of snapshots classified as label 1 (hard argmax, as
the authors' public script counts). The output is a prediction file (``sgpoison-prediction``,
format version 2, docs/data-format.md), the input of the finite-size scaling
(:mod:`sgpoison.fss`); :func:`prediction_dataset` builds it for every classifier (the CNN
here, the null models in :mod:`sgpoison.ml.null`). TensorFlow is imported when it runs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import xarray as xr

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import PREDICTION_FORMAT, PREDICTION_FORMAT_VERSION, overlap_layout, write_netcdf
from sgpoison.io.jsonio import to_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.ml.model_io import load_model, read_model_metadata
from sgpoison.ml.settings import LABEL_NOISE_MODE, PredictionSettings
from sgpoison.ml.stream import OverlapBlocks

log = logging.getLogger(__name__)

#: attributes every prediction file (format version 2) takes from its classifier's metadata:
#: name -> type. The analysis refuses to mix files that differ in these (design.md).
TRAINING_ATTRS: dict[str, type] = {
    "classifier": str, "network_index": int, "scenario": str, "t_label": float,
    "training_disorder": str, "training_data_sha256": str, "training_sweep_fraction": float,
    "label_noise": float, "label_noise_mode": str, "label_flips": int, "settings_sha256": str,
}


def training_attributes(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`TRAINING_ATTRS` of a classifier's metadata (CNN or null model), typed for NetCDF.

    Metadata of format version 1 (before ensembles) give ``classifier = "cnn"``, network 0,
    ``label_noise_mode = "independent"`` and empty strings / NaN for what they lack.
    """
    defaults = {"classifier": "cnn", "network_index": 0, "label_noise_mode": LABEL_NOISE_MODE,
                "training_data_sha256": metadata.get("data_sha256", "")}
    out = {}
    for name, kind in TRAINING_ATTRS.items():
        value = metadata.get(name, defaults.get(name))
        if value is None:
            value = {str: "", float: math.nan, int: -1}[kind]
        out[name] = kind(value)
    return out


def prediction_dataset(p_high: np.ndarray, high: np.ndarray, instances: np.ndarray, temperatures: np.ndarray,
                       attrs: Mapping[str, Any]) -> xr.Dataset:
    """A prediction file's dataset (format version 2) from per-snapshot classifications.

    Parameters
    ----------
    p_high : float array, shape (n_instances, N_T, N_con)
        Probability of label 1 of each snapshot.
    high : bool array, same shape
        Whether each snapshot was classified as label 1 (:func:`~sgpoison.ml.evaluation.classified_high`).
    instances : int array, shape (n_instances,)
    temperatures : float array, shape (N_T,)
    attrs : mapping
        Every attribute but ``format`` and ``format_version`` (docs/data-format.md).

    Returns
    -------
    xarray.Dataset
        ``p`` = mean of ``p_high`` and ``fraction_high`` = mean of ``high`` over snapshots,
        float64 with dims (instance, temperature).
    """
    return xr.Dataset(
        {
            "p": (("instance", "temperature"), np.asarray(p_high, dtype=np.float64).mean(axis=2),
                  {"long_name": "mean probability of label 1 (T > t_label) over snapshots"}),
            "fraction_high": (("instance", "temperature"), np.asarray(high).mean(axis=2, dtype=np.float64),
                              {"long_name": "fraction of snapshots classified as label 1 (hard argmax)"}),
        },
        coords={"instance": np.asarray(instances), "temperature": np.asarray(temperatures, dtype=np.float64)},
        attrs={"format": PREDICTION_FORMAT, "format_version": PREDICTION_FORMAT_VERSION, **attrs},
    )


def snapshot_probabilities(model, path: str | os.PathLike, positions: np.ndarray, n_temperatures: int,
                           n_snapshots: int, batch_size: int = 1000,
                           threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classify every snapshot of some instances of a simulation file, streamed in file order.

    Parameters
    ----------
    model : keras.Model
        Output (batch, 2) probabilities, e.g. :func:`~sgpoison.ml.network.symmetrized_model`.
    path : path-like
        Simulation file (already validated).
    positions : int array, shape (n,)
        Positions along the file's ``instance`` dimension.
    n_temperatures, n_snapshots : int
    batch_size : int
        Snapshots per forward pass.
    threads : int, optional
        tf.data threads.

    Returns
    -------
    p_high : float64 array, shape (n, N_T, N_con)
        P(label 1) of each snapshot.
    high : bool array, same shape
        argmax = label 1 (ties count as label 0).

    Raises
    ------
    DataFormatError
        If the file yields another number of snapshots than expected.
    """
    import tensorflow as tf

    positions = np.asarray(positions, dtype=np.int64)
    shape = (len(positions), int(n_temperatures), int(n_snapshots))
    if shape[0] == 0:
        return np.zeros(shape), np.zeros(shape, bool)
    blocks = OverlapBlocks(path, positions, np.zeros(shape, np.int32))
    n_batches = math.ceil(int(np.prod(shape)) / int(batch_size))
    dataset = blocks.dataset(int(batch_size), order_seed=None, repeat=False, threads=threads)
    dataset = dataset.map(lambda x, y: x).apply(tf.data.experimental.assert_cardinality(n_batches))
    probabilities = np.asarray(model.predict(dataset, verbose=0))
    if probabilities.shape != (np.prod(shape), 2):
        raise DataFormatError(f"{path}: read {probabilities.shape[0]} snapshots, expected {np.prod(shape)}")
    p_high = probabilities[:, 1].astype(np.float64).reshape(shape)
    high = (np.argmax(probabilities, axis=1) == 1).reshape(shape)
    return p_high, high


def predict(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    batch_size: int = PredictionSettings.default("batch_size"),
    threads: int | None = PredictionSettings.default("threads"),
) -> xr.Dataset:
    """Predict p(T) for every instance and temperature of a simulation file.

    ``p[i, T]`` = mean over the snapshots of instance i at temperature T of the
    probability of label 1 (high-temperature phase) of the sign-symmetrised network
    (p(q) + p(-q)) / 2 if the model was trained with ``symmetrize`` (the default), else of
    the network; ``fraction_high[i, T]`` = fraction of those snapshots with
    argmax = label 1 (ties count as label 0, as ``numpy.argmax``).

    Parameters
    ----------
    model : path-like
        A ``.keras`` file written by :func:`sgpoison.ml.train.train` (metadata
        embedded, or a JSON with the same stem beside it).
    data : path-like
        Simulation file, normally bimodal disorder.
    out : path-like, optional
        Where to write the prediction NetCDF (``docs/data-format.md``), atomically.
    batch_size, threads
        See :class:`~sgpoison.ml.settings.PredictionSettings`.

    Returns
    -------
    xarray.Dataset
        ``p`` and ``fraction_high``, float64 of dims (instance, temperature), with the
        attributes of prediction format version 2 (docs/data-format.md): the classifier
        (:data:`TRAINING_ATTRS`), ``device`` (where this prediction ran),
        ``L``, ``symmetrized``, the model's and the data's files and hashes, provenance.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid data file (e.g. no ``overlap`` variable).
    SettingsError
        Invalid batch size or threads (checked first); a model file without sgpoison
        metadata (option ``--model``); L of the data differs from L of the model (option
        ``--data``).
    """
    PredictionSettings(batch_size=batch_size, threads=threads)
    model_path, data = Path(model), Path(data)
    metadata = read_model_metadata(model_path)
    layout = overlap_layout(data)
    attrs, L, temperatures = layout.attrs, layout.L, layout.temperatures
    instances, n_snapshots = layout.instances, layout.n_snapshots
    if L != int(metadata["L"]):
        raise SettingsError(
            f"{data} has L={L} but the model {model_path} was trained for L={metadata['L']}; "
            "use one network per L", "--data")
    from sgpoison.ml.network import compute_device, configure_tensorflow, device_label, symmetrized_model

    configure_tensorflow(threads)
    device = compute_device()
    keras_model, metadata = load_model(model_path)
    symmetrize = bool(metadata.get("symmetrize", False))
    classifier = symmetrized_model(keras_model) if symmetrize else keras_model
    start = time.perf_counter()
    p_high, high = snapshot_probabilities(classifier, data, np.arange(len(instances)), len(temperatures),
                                          n_snapshots, batch_size, threads)
    log.info("predicted %d snapshots of %s in %.1f s on %s (sign-symmetrised: %s)", p_high.size, data,
             time.perf_counter() - start, device_label(device), symmetrize)

    parameters = {"model": str(model_path), "data": str(data), "batch_size": int(batch_size),
                  "threads": threads}
    result = prediction_dataset(p_high, high, instances, temperatures, {
        **training_attributes(metadata),
        "device": device_label(device),
        "training_device": str(metadata.get("device", "")),
        "L": L,
        "symmetrized": int(symmetrize),
        "model_file": str(model_path),
        "model_sha256": file_sha256(model_path),
        "model_metadata": to_json(metadata, sort_keys=True),
        "data_file": str(data),
        "data_sha256": file_sha256(data),
        "disorder": str(attrs.get("disorder", "")),
        "sweep_fraction": float(attrs.get("sweep_fraction", math.nan)),
        "n_snapshots": n_snapshots,
        **provenance(parameters),
    })
    if out is not None:
        write_netcdf(result, out)
    return result
