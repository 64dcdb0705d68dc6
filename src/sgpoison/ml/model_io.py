"""Files of a trained network: the ``.keras`` model with its metadata, and the history CSV.

The metadata (``model.json``, also embedded in the ``.keras`` archive as the member
:data:`METADATA_MEMBER`, which Keras ignores when loading) record how the network was
trained: scenario, label noise and flips, sweep fraction, seeds, hyper-parameters, the
SHA-256 of the data and provenance (docs/network.md). All writers are atomic.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pandas as pd

from sgpoison.errors import SettingsError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.jsonio import read_json, to_json



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
