"""Strict JSON: the one converter of Python/NumPy values and the one JSON writer and reader.

Every JSON document of the package (estimates, audit reports, model metadata, provenance
parameters) goes through :func:`to_jsonable`: the output is standard JSON (RFC 8259),
with ``null`` where a number is NaN or infinite; ``NaN``/``Infinity`` are never written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sgpoison.errors import DataFormatError
from sgpoison.io.atomic import atomic_write


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (dict, list, str, int, float, bool, None).

    Mappings become dicts with ``str`` keys, tuples and arrays lists, NumPy scalars the
    Python scalars of the same value, NaN and +-inf ``None``, paths strings, dataclass
    instances the dicts of ``dataclasses.asdict``; other values are returned unchanged.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def to_json(obj: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text of :func:`to_jsonable` (``allow_nan=False``)."""
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)


def write_json(obj: Any, path: str | os.PathLike, sort_keys: bool = False) -> Path:
    """Write ``obj`` as indented strict JSON (:func:`to_json`) atomically; return the path.

    ``sort_keys``: sort the keys of every object (model metadata, audit reports); by
    default they keep their insertion order (estimates files are written in reading order).
    """
    text = to_json(obj, indent=2, sort_keys=sort_keys) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_json(path: str | os.PathLike, what: str = "JSON") -> Any:
    """Parse a JSON file.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages (``"estimates"`` -> "no such estimates file").

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message names it).
    DataFormatError
        If it is not valid UTF-8 JSON (the message names it).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what} file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from exc
