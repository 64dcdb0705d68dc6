"""Prediction of the classification probability p(T) for every instance and temperature.

Paper Eq. (3) and Fig. 1: for each instance and temperature of a (bimodal) simulation
file, ``p`` is the mean over snapshots of the probability of label 1 (high temperature) --
with the sign-symmetrised network (p(q) + p(-q)) / 2 unless the model was trained without
it -- and ``fraction_high`` the fraction of snapshots classified as label 1 (hard argmax, as
the authors' public script counts). The output is a prediction file (``sgpoison-prediction``,
format version 2, docs/data-format.md), the input of the finite-size scaling
(:mod:`sgpoison.fss`); :func:`~sgpoison.ml.model_io.prediction_dataset` builds it for every
classifier (the CNN here, the null models in :mod:`sgpoison.ml.null`). TensorFlow is imported when it runs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from sgpoison.errors import SettingsError
from sgpoison.io.formats import overlap_layout, write_netcdf
from sgpoison.io.jsonio import to_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.ml.model_io import load_model, prediction_dataset, read_model_metadata, training_attributes
from sgpoison.ml.settings import PredictionSettings
from sgpoison.ml.stream import snapshot_probabilities

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
