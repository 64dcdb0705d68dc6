"""Input of the finite-size scaling: the prediction files of one scenario, one per L.

The network trained on Gaussian-coupling overlaps returns, for every bimodal disorder
instance and temperature, the probability ``p`` of the label "high-temperature phase"
(prediction files, ``sgpoison-prediction``; docs/network.md). :func:`open_predictions`
reads and checks the files of one scenario into a :class:`PredictionSet`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sgpoison.errors import DataFormatError
from sgpoison.fss.settings import MIN_INSTANCES, MIN_SIZES, MIN_TEMPERATURES
from sgpoison.io.formats import PREDICTION_FORMAT, attribute_values, open_netcdf



#: attributes of a prediction file that must agree between the sizes of one scenario
SCENARIO_ATTRS = ("scenario", "label_noise", "training_sweep_fraction")


@dataclass
class PredictionSet:
    """The predictions of one scenario, one entry per system size, sorted by L.

    Attributes
    ----------
    L : ndarray, shape (n_L,), int64
        Linear sizes, increasing.
    temperature : ndarray, shape (n_T,), float64
        Common temperature grid (units of J, k_B = 1), increasing.
    p : list of ndarray, each shape (n_instances_L, n_T), float64
        Per-instance classification probability (mean softmax output of label 1).
    paths : list of str
        Input files, in the order of ``L``.
    attrs : list of dict
        Global attributes of each file (provenance, scenario, model hash ...).
    """

    L: np.ndarray
    temperature: np.ndarray
    p: list[np.ndarray]
    paths: list[str] = field(default_factory=list)
    attrs: list[dict] = field(default_factory=list)

    @property
    def n_instances(self) -> np.ndarray:
        """Instances per size, shape (n_L,), int64."""
        return np.array([a.shape[0] for a in self.p], dtype=np.int64)

    def scenario_attrs(self) -> dict[str, Any]:
        """Scenario attributes common to all files (``None`` where absent)."""
        return {k: (self.attrs[0].get(k) if self.attrs else None) for k in SCENARIO_ATTRS}


def _same_attr(a: Any, b: Any) -> bool:
    """Equality of attribute values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def open_predictions(paths: Sequence[str | os.PathLike]) -> PredictionSet:
    """Read and validate the prediction files of one scenario (one file per L).

    Parameters
    ----------
    paths : sequence of path-like
        Files written by ``sgpoison predict`` (format ``sgpoison-prediction``),
        variable ``p`` with dims (instance, temperature), attribute ``L``.

    Returns
    -------
    PredictionSet
        Sorted by L.

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    DataFormatError
        A file is not a prediction file, lacks ``p`` or ``L``, has NaN or values
        outside [0, 1] in ``p``, fewer than ``MIN_INSTANCES`` instances or fewer than
        ``MIN_TEMPERATURES`` temperatures; two files have the same L, different
        temperature grids or different scenario attributes; fewer than
        ``MIN_SIZES`` sizes are given. Messages name the file and the problem.
    """
    entries = []
    for path in map(Path, paths):
        with open_netcdf(path, "prediction") as ds:
            fmt = ds.attrs.get("format")
            if fmt != PREDICTION_FORMAT:
                raise DataFormatError(
                    f"{path}: attribute 'format' is {fmt!r}, expected {PREDICTION_FORMAT!r}; "
                    "not an sgpoison prediction file")
            if "p" not in ds.variables:
                raise DataFormatError(f"{path}: missing variable 'p'")
            if ds["p"].dims != ("instance", "temperature"):
                raise DataFormatError(
                    f"{path}: variable 'p' has dims {ds['p'].dims}, expected ('instance', 'temperature')")
            if "L" not in ds.attrs:
                raise DataFormatError(f"{path}: missing attribute 'L'")
            if "temperature" not in ds.coords:
                raise DataFormatError(f"{path}: no 'temperature' coordinate")
            T = np.asarray(ds["temperature"].values, dtype=np.float64)
            p = np.asarray(ds["p"].values, dtype=np.float64)
            attrs = attribute_values(ds.attrs)
        L = int(attrs["L"])
        if not np.all(np.isfinite(T)) or np.any(np.diff(T) <= 0):
            raise DataFormatError(f"{path}: temperatures must be finite and increasing, got {T}")
        if T.size < MIN_TEMPERATURES:
            raise DataFormatError(
                f"{path}: {T.size} temperatures; the spline interpolation needs at least {MIN_TEMPERATURES}")
        n_bad = int(np.count_nonzero(~np.isfinite(p)))
        if n_bad:
            raise DataFormatError(f"{path}: variable 'p' has {n_bad} NaN/inf value(s)")
        if np.any((p < 0) | (p > 1)):
            raise DataFormatError(f"{path}: variable 'p' has values outside [0, 1] (it is a probability)")
        if p.shape[0] < MIN_INSTANCES:
            raise DataFormatError(
                f"{path}: {p.shape[0]} instance(s); a standard error needs at least {MIN_INSTANCES}")
        entries.append((L, T, p, str(path), attrs))

    entries.sort(key=lambda e: e[0])
    sizes = [e[0] for e in entries]
    for (La, _, _, pa, _), (Lb, _, _, pb, _) in zip(entries, entries[1:]):
        if La == Lb:
            raise DataFormatError(f"{pa} and {pb}: both have L={La}; give one prediction file per size")
    if len(sizes) < MIN_SIZES:
        raise DataFormatError(
            f"{len(sizes)} system size(s) {sizes} given; finite-size scaling needs at least {MIN_SIZES}")
    ref_T, ref_path, ref_attrs = entries[0][1], entries[0][3], entries[0][4]
    for L, T, _, path, attrs in entries[1:]:
        if T.shape != ref_T.shape or not np.allclose(T, ref_T, rtol=1e-9, atol=1e-12):
            raise DataFormatError(
                f"{path}: temperature grid {T.tolist()} differs from that of {ref_path} {ref_T.tolist()}")
        for key in SCENARIO_ATTRS:
            if not _same_attr(attrs.get(key), ref_attrs.get(key)):
                raise DataFormatError(
                    f"{path}: attribute {key}={attrs.get(key)!r} differs from {ref_path}: "
                    f"{key}={ref_attrs.get(key)!r}; give the files of one scenario")
    return PredictionSet(
        L=np.array(sizes, dtype=np.int64), temperature=ref_T, p=[e[2] for e in entries],
        paths=[e[3] for e in entries], attrs=[e[4] for e in entries])
