"""Prediction of the classification probability p(T) for every instance and temperature.

Paper Eq. (3) and Fig. 1: for each instance and temperature of a (bimodal) simulation
file, ``p`` is the mean over snapshots of the softmax probability of label 1 (high
temperature) and ``fraction_high`` the fraction of snapshots classified as label 1.
The output is a prediction file (``sgpoison-prediction``, docs/network.md), the input of
the finite-size scaling (:mod:`sgpoison.fss`). TensorFlow is imported when it runs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import PREDICTION_FORMAT, PREDICTION_FORMAT_VERSION, overlap_layout, write_netcdf
from sgpoison.io.jsonio import to_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.ml.model_io import load_model, read_model_metadata
from sgpoison.ml.settings import PredictionSettings
from sgpoison.ml.stream import OverlapBlocks

log = logging.getLogger(__name__)


def predict(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    batch_size: int = PredictionSettings.default("batch_size"),
    threads: int | None = PredictionSettings.default("threads"),
) -> xr.Dataset:
    """Predict p(T) for every instance and temperature of a simulation file.

    ``p[i, T]`` = mean over the snapshots of instance i at temperature T of the
    softmax probability of label 1 (high-temperature phase);
    ``fraction_high[i, T]`` = fraction of those snapshots with
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
        ``p`` and ``fraction_high``, float64 of dims (instance, temperature), with
        attributes ``format="sgpoison-prediction"``, ``L``, ``scenario``,
        ``label_noise``, ``training_sweep_fraction``, ``model_sha256``,
        ``data_file`` and provenance.

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid data file (e.g. no ``overlap`` variable).
    SettingsError
        Invalid batch size or threads (checked first); a model file without sgpoison
        metadata (option ``--model``); L of the data differs from L of the model
        (option ``--data``).
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
    import tensorflow as tf

    from sgpoison.ml.network import configure_tensorflow

    configure_tensorflow(threads)
    keras_model, metadata = load_model(model_path)
    start = time.perf_counter()
    blocks = OverlapBlocks(data, np.arange(len(instances)),
                           np.zeros((len(instances), len(temperatures), n_snapshots), np.int32))
    shape = (len(instances), len(temperatures), n_snapshots)
    n_batches = math.ceil(int(np.prod(shape)) / int(batch_size))
    dataset = blocks.dataset(int(batch_size), order_seed=None, repeat=False, threads=threads)
    dataset = dataset.map(lambda x, y: x).apply(tf.data.experimental.assert_cardinality(n_batches))
    probabilities = keras_model.predict(dataset, verbose=0)
    if probabilities.shape != (np.prod(shape), 2):
        raise DataFormatError(f"{data}: read {probabilities.shape[0]} snapshots, expected {np.prod(shape)}")
    high = probabilities[:, 1].astype(np.float64).reshape(shape)
    classified_high = (np.argmax(probabilities, axis=1) == 1).reshape(shape)
    log.info("predicted %d snapshots of %s in %.1f s", probabilities.shape[0], data,
             time.perf_counter() - start)

    model_sha256 = file_sha256(model_path)
    parameters = {"model": str(model_path), "data": str(data), "batch_size": int(batch_size),
                  "threads": threads}
    result = xr.Dataset(
        {
            "p": (("instance", "temperature"), high.mean(axis=2),
                  {"long_name": "mean softmax probability of label 1 (T > t_label) over snapshots"}),
            "fraction_high": (("instance", "temperature"), classified_high.mean(axis=2, dtype=np.float64),
                              {"long_name": "fraction of snapshots classified as label 1"}),
        },
        coords={"instance": instances, "temperature": temperatures},
        attrs={
            "format": PREDICTION_FORMAT,
            "format_version": PREDICTION_FORMAT_VERSION,
            "L": L,
            "scenario": str(metadata.get("scenario", "")),
            "label_noise": float(metadata.get("label_noise", math.nan)),
            "label_flips": int(metadata.get("label_flips", -1)),
            "t_label": float(metadata.get("t_label", math.nan)),
            "training_sweep_fraction": float(metadata.get("training_sweep_fraction", math.nan)),
            "model_file": str(model_path),
            "model_sha256": model_sha256,
            "model_metadata": to_json(metadata, sort_keys=True),
            "data_file": str(data),
            "data_sha256": file_sha256(data),
            "disorder": str(attrs.get("disorder", "")),
            "sweep_fraction": float(attrs.get("sweep_fraction", math.nan)),
            "n_snapshots": n_snapshots,
            **provenance(parameters),
        },
    )
    if out is not None:
        write_netcdf(result, out)
    return result
