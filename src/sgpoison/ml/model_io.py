"""Files of a trained classifier: the ``.keras`` model with its metadata, the history CSV, and the
prediction files every classifier (CNN or null model) writes (:func:`prediction_dataset`).

The metadata (``model.json``, also embedded in the ``.keras`` archive as the member
:data:`METADATA_MEMBER`, which Keras ignores when loading) record how the network was
trained: scenario, label noise and flips, sweep fraction, seeds, hyper-parameters, the
SHA-256 of the data and provenance (docs/network.md). All writers are atomic.
"""

from __future__ import annotations

import json
import os
import math
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from sgpoison.errors import SettingsError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.formats import PREDICTION_FORMAT, PREDICTION_FORMAT_VERSION
from sgpoison.io.jsonio import read_json, to_json
from sgpoison.ml.settings import LABEL_NOISE_MODE



#: name of the metadata member embedded in the ``.keras`` archive
METADATA_MEMBER = "sgpoison_metadata.json"

METADATA_FORMAT = "sgpoison-model"


def write_history(history: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the training history as CSV, atomically."""
    return atomic_write(path, lambda tmp: history.to_csv(tmp, index=False))


def save_model(model, path: str | os.PathLike, metadata: dict) -> Path:
    """Save ``model`` in the native ``.keras`` format with ``metadata`` embedded, atomically.

    The metadata go into the archive as the member :data:`METADATA_MEMBER`
    (Keras ignores it when loading); read them with :func:`read_model_metadata`.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: model files must end in '.keras'")
    text = to_json(metadata, indent=2, sort_keys=True)

    def write(tmp):
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_MEMBER, text)

    return atomic_write(path, write)


def read_model_metadata(path: str | os.PathLike) -> dict:
    """Metadata of a model written by :func:`sgpoison.ml.train.train`.

    Looks for the member :data:`METADATA_MEMBER` inside the ``.keras`` archive,
    then for a JSON file beside the model with the same stem (``model.json``).

    Raises
    ------
    FileNotFoundError
        If the model file does not exist.
    SettingsError
        If no metadata are found or they lack ``L`` (option ``--model``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    metadata = None
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_MEMBER in archive.namelist():
                metadata = json.loads(archive.read(METADATA_MEMBER))
    except zipfile.BadZipFile as exc:
        raise SettingsError(f"{path}: not a .keras model archive ({exc})", "--model") from exc
    if metadata is None and path.with_suffix(".json").exists():
        metadata = read_json(path.with_suffix(".json"), "model metadata")
    if metadata is None:
        raise SettingsError(
            f"{path}: no sgpoison metadata (neither the member {METADATA_MEMBER!r} nor "
            f"{path.with_suffix('.json').name}); was the model written by 'sgpoison train'?", "--model")
    if "L" not in metadata:
        raise SettingsError(f"{path}: model metadata lack 'L'", "--model")
    return metadata


def load_model(path: str | os.PathLike):
    """Load a model written by :func:`sgpoison.ml.train.train`; returns ``(keras.Model, metadata dict)``.

    Raises
    ------
    FileNotFoundError, SettingsError
        See :func:`read_model_metadata`; also if the model's input L differs
        from the metadata.
    """
    import keras

    from sgpoison.ml.network import model_lattice_size  # registers PeriodicPadding3D

    metadata = read_model_metadata(path)
    model = keras.saving.load_model(path, compile=False)
    if model_lattice_size(model) != int(metadata["L"]):
        raise SettingsError(
            f"{path}: model input L={model_lattice_size(model)} but metadata L={metadata['L']}", "--model")
    return model, metadata


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
