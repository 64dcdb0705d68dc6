"""The NetCDF file formats of sgpoison: atomic writing and validated reading.

Simulation files (written by :mod:`sgpoison.mc.parallel_tempering`, one per job, merged per
(disorder, L, sweep fraction) by :func:`merge_simulations`) are documented in
``docs/data-format.md``. This module is the single place that knows that format:
readers call :func:`open_simulation`, which checks every variable, dimension and
attribute and raises :class:`~sgpoison.errors.DataFormatError` naming the file and the
problem. Prediction files (``sgpoison-prediction``) are read by
:func:`sgpoison.fss.predictions.open_predictions`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from sgpoison.errors import DataFormatError
from sgpoison.io.atomic import atomic_write
from sgpoison.io.jsonio import to_json
from sgpoison.io.provenance import provenance

FORMAT_NAME = "sgpoison-simulation"
FORMAT_VERSION = 1

#: prediction files (written by sgpoison.ml.predict and sgpoison.ml.null, read by
#: sgpoison.fss.predictions); version 2 names the classifier (CNN ensemble member or null model)
PREDICTION_FORMAT = "sgpoison-prediction"
PREDICTION_FORMAT_VERSION = 2

#: variable name -> dimensions, for simulation files
SIMULATION_VARIABLES: dict[str, tuple[str, ...]] = {
    "overlap": ("instance", "temperature", "snapshot", "x", "y", "z"),
    "energy": ("instance", "temperature", "snapshot", "replica"),
    "q": ("instance", "temperature", "snapshot"),
    "link_overlap": ("instance", "temperature", "snapshot"),
    "energy_log_binned": ("instance", "temperature", "log_bin"),
    "q2_log_binned": ("instance", "temperature", "log_bin"),
    "link_overlap_log_binned": ("instance", "temperature", "log_bin"),
    "swap_acceptance": ("instance", "temperature_pair", "replica"),
    "couplings": ("instance", "x", "y", "z", "direction"),
    "instance_seed": ("instance",),
}

#: attributes every simulation file carries
SIMULATION_ATTRS = (
    "format", "format_version", "L", "disorder", "n_sweeps", "sweep_fraction",
    "n_sweeps_run", "seed", "sgpoison_version", "git_commit", "created", "parameters",
)

#: attributes that must agree between files that are merged
_MERGE_KEYS = ("L", "disorder", "n_sweeps", "sweep_fraction", "n_sweeps_run", "seed")


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, encoding: dict | None = None) -> Path:
    """Write ``ds`` to ``path`` as NetCDF-4 (netCDF4 engine), atomically.

    See :func:`sgpoison.io.atomic.atomic_write`: an interrupted job never leaves a
    truncated file under the final name and never damages an existing one.

    Returns
    -------
    pathlib.Path
        The final path.
    """
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4",
                                                       encoding=encoding))


def open_netcdf(path: str | os.PathLike, what: str) -> xr.Dataset:
    """Open a NetCDF-4 file lazily (``cache=False``), without checking its content.

    Parameters
    ----------
    path : path-like
    what : str
        What the file should be, for messages (``"simulation"`` -> "no such simulation file").

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If it is not a readable NetCDF-4 file (e.g. truncated).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what} file")
    try:
        return xr.open_dataset(path, engine="netcdf4", cache=False)
    except Exception as exc:  # netCDF4 raises OSError/RuntimeError/ValueError
        raise DataFormatError(f"{path}: not a readable NetCDF-4 file ({exc})") from exc


def attribute_values(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """NetCDF attributes as plain Python values (NumPy scalars -> Python scalars, arrays -> lists).

    NaN stays NaN (unlike :func:`sgpoison.io.jsonio.to_jsonable`): attributes are compared
    between files before anything is written.
    """
    return {k: _plain(v) for k, v in attrs.items()}


def overlap_encoding(ds: xr.Dataset) -> dict:
    """NetCDF encoding for a simulation dataset: compressed int8 overlaps.

    Overlaps are stored as int8 (+1/-1) with zlib compression, chunked per
    (instance, temperature) so that readers can stream one block of snapshots
    at a time. Random +-1 compresses to about 1.1 bit per site.
    """
    n_snap = ds.sizes["snapshot"]
    L = ds.sizes["x"]
    enc = {
        "overlap": {"zlib": True, "complevel": 4, "shuffle": False,
                    "chunksizes": (1, 1, n_snap, L, L, L)},
    }
    for name in ("energy", "q", "link_overlap", "couplings"):
        if name in ds:
            enc[name] = {"zlib": True, "complevel": 4}
    return enc


def parameters_of(ds: xr.Dataset) -> dict:
    """Return the JSON ``parameters`` attribute of a dataset as a dict."""
    return json.loads(ds.attrs.get("parameters", "{}"))


def open_simulation(path: str | os.PathLike, variables: Iterable[str] | None = None) -> xr.Dataset:
    """Open a simulation file lazily and validate its format.

    Parameters
    ----------
    path : path-like
        A file written by :func:`sgpoison.mc.parallel_tempering.simulate` or :func:`merge_simulations`.
    variables : iterable of str, optional
        Variables that must be present (default: all of ``SIMULATION_VARIABLES``).

    Returns
    -------
    xarray.Dataset
        Opened lazily (overlaps are not loaded into memory).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the file is not NetCDF, is truncated, lacks a variable, dimension or
        attribute, or its attributes contradict its contents (e.g. ``L`` differs
        from the lattice dimensions).
    """
    path = Path(path)
    ds = open_netcdf(path, "simulation")
    try:
        _validate(ds, path, set(SIMULATION_VARIABLES) if variables is None else set(variables))
    except BaseException:
        ds.close()
        raise
    return ds


@dataclass(frozen=True)
class OverlapLayout:
    """What a reader of the overlap snapshots of a simulation file needs to know.

    Attributes
    ----------
    attrs : dict
        Global attributes of the file.
    L : int
    temperatures : ndarray, shape (N_T,), float64
    instances : ndarray, shape (n_instances,), int64
        The ``instance`` coordinate (global instance indices).
    n_snapshots : int
        Snapshots per (instance, temperature), N_con.
    """

    attrs: dict
    L: int
    temperatures: np.ndarray
    instances: np.ndarray
    n_snapshots: int


def overlap_layout(path: str | os.PathLike) -> OverlapLayout:
    """The layout of the overlaps of a simulation file (validated, the overlaps not read).

    Raises
    ------
    FileNotFoundError, DataFormatError
        As :func:`open_simulation` with the variable ``overlap``.
    """
    with open_simulation(path, variables=["overlap"]) as ds:
        return OverlapLayout(attrs=dict(ds.attrs), L=int(ds.attrs["L"]),
                             temperatures=ds["temperature"].values.astype(np.float64),
                             instances=ds["instance"].values.astype(np.int64),
                             n_snapshots=int(ds.sizes["snapshot"]))


def _validate(ds: xr.Dataset, path: Path, required: set[str]) -> None:
    if ds.attrs.get("format") != FORMAT_NAME:
        raise DataFormatError(
            f"{path}: attribute 'format' is {ds.attrs.get('format')!r}, expected {FORMAT_NAME!r}; "
            "not an sgpoison simulation file")
    missing_attrs = [a for a in SIMULATION_ATTRS if a not in ds.attrs]
    if missing_attrs:
        raise DataFormatError(f"{path}: missing attribute(s) {missing_attrs}")
    for name in sorted(required):
        if name not in ds.variables:
            raise DataFormatError(f"{path}: missing variable {name!r}")
        if ds[name].dims != SIMULATION_VARIABLES[name]:
            raise DataFormatError(
                f"{path}: variable {name!r} has dims {ds[name].dims}, "
                f"expected {SIMULATION_VARIABLES[name]}")
    L = int(ds.attrs["L"])
    for dim in ("x", "y", "z"):
        if dim in ds.sizes and ds.sizes[dim] != L:
            raise DataFormatError(f"{path}: attribute L={L} but dimension {dim!r} has size {ds.sizes[dim]}")
    if ds.attrs["disorder"] not in ("gaussian", "bimodal"):
        raise DataFormatError(f"{path}: unknown disorder {ds.attrs['disorder']!r}")
    if "temperature" not in ds.coords or ds.sizes.get("temperature", 0) < 1:
        raise DataFormatError(f"{path}: no 'temperature' coordinate")
    T = ds["temperature"].values
    if not np.all(np.isfinite(T)) or np.any(np.diff(T) <= 0):
        raise DataFormatError(f"{path}: temperatures must be finite and increasing, got {T}")
    if ds.sizes.get("instance", 0) < 1:
        raise DataFormatError(f"{path}: no disorder instances")


def _plain(value):
    """A NumPy scalar or array as a plain Python value."""
    if isinstance(value, np.generic):
        return value.item()
    return value.tolist() if isinstance(value, np.ndarray) else value


def _job_independent(params: dict) -> dict:
    """Parameters of a simulation job without those that differ between its batches."""
    return {k: v for k, v in params.items() if k not in ("instance_start", "instance_stop", "instances")}


def merge_simulations(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Concatenate simulation files of instance batches into one file (atomically).

    Raises
    ------
    DataFormatError
        If a file is invalid, the files disagree in any parameter but their
        instance range (``L``, disorder, sweeps, sweep fraction, seed, kernel,
        temperatures, ...), or an instance appears twice. The merged file's provenance
        is the merge's (:func:`~sgpoison.io.provenance.provenance`), its ``parameters``
        list the instance ranges of the inputs and ``merged_from`` each input's path,
        git commit, creation time, version and code fingerprint.
    """
    if not paths:
        raise DataFormatError("merge_simulations: no input files")
    datasets = [open_simulation(p) for p in paths]
    try:
        ref = datasets[0]
        ref_params = _job_independent(parameters_of(ref))
        for p, ds in zip(paths[1:], datasets[1:]):
            for key in _MERGE_KEYS:
                if ds.attrs[key] != ref.attrs[key]:
                    raise DataFormatError(
                        f"{p}: attribute {key} = {_plain(ds.attrs[key])} differs from "
                        f"{paths[0]}: {key} = {_plain(ref.attrs[key])}; cannot merge files with mixed parameters")
            params = _job_independent(parameters_of(ds))
            differing = sorted(k for k in set(params) | set(ref_params) if params.get(k) != ref_params.get(k))
            if differing:
                raise DataFormatError(
                    f"{p}: parameter(s) {', '.join(f'{k} = {params.get(k)}' for k in differing)} differ from "
                    f"{paths[0]} ({', '.join(f'{k} = {ref_params.get(k)}' for k in differing)}); "
                    "cannot merge files with mixed parameters")
            if not np.array_equal(ds["temperature"].values, ref["temperature"].values):
                raise DataFormatError(f"{p}: temperature ladder differs from {paths[0]}")
        merged = xr.concat(datasets, dim="instance", data_vars="minimal", coords="minimal",
                           compat="override", combine_attrs="override")
        inst = merged["instance"].values
        if len(np.unique(inst)) != len(inst):
            raise DataFormatError(f"instances appear in more than one of {list(map(str, paths))}")
        merged = merged.sortby("instance")
        params = _job_independent(parameters_of(ref))
        params["instances"] = [parameters_of(ds).get("instances") for ds in datasets]
        merged.attrs.update(provenance(params))
        merged.attrs["merged_from"] = to_json([
            {"path": str(p), "git_commit": ds.attrs.get("git_commit"), "created": ds.attrs.get("created"),
             "sgpoison_version": ds.attrs.get("sgpoison_version"),
             "code_fingerprint": ds.attrs.get("code_fingerprint"), "instances": parameters_of(ds).get("instances")}
            for p, ds in zip(paths, datasets)])
        merged.attrs["n_instances"] = int(len(inst))
        merged = merged.load()
    finally:
        for ds in datasets:
            ds.close()
    return write_netcdf(merged, out, encoding=overlap_encoding(merged))
