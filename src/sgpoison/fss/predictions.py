"""Input of the finite-size scaling: the prediction files of one scenario, every classifier.

A *classifier* of a scenario is the CNN ensemble (``classifier = "cnn"``, one file per network
``k = 0 .. K-1`` and size L) or a null model (``"null_ql"``, ``"null_q2"``, ``"null_q2_ql"``:
logistic regression on physical observables of the same training set; one file per L).
Every file holds, for every bimodal disorder instance and temperature, ``p`` (mean
probability of label 1, "high-temperature phase") and ``fraction_high`` (fraction of the
snapshots classified as label 1) (prediction files, ``sgpoison-prediction``,
docs/data-format.md). Format version 1 files (one network, no classifier attributes) are
read as classifier ``"cnn"``, ``network_index`` 0.

:func:`open_predictions` reads the files of one scenario into a :class:`ScenarioPredictions`
(one :class:`PredictionSet` per classifier) and refuses files that must not be analysed
together (docs/analysis.md, "Input").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sgpoison.errors import DataFormatError
from sgpoison.fss.settings import MIN_INSTANCES, MIN_SIZES, MIN_TEMPERATURES, OBSERVABLES
from sgpoison.io.formats import PREDICTION_FORMAT, attribute_values, open_netcdf

#: the classifier of the CNN ensemble; every other classifier is a null model
CNN = "cnn"
#: prediction-file format versions this reader understands
READABLE_VERSIONS = (1, 2)
#: scenario attributes reported with the estimates (and columns of the summary)
SCENARIO_ATTRS = ("scenario", "label_noise", "training_sweep_fraction")
#: attributes every file of a scenario must share: what was predicted (``disorder``), the
#: labels and the training set's kind and poisoning (absent = None, which differs from a value)
SHARED_ATTRS = ("scenario", "disorder", "t_label", "training_disorder", "label_noise",
                "training_sweep_fraction")
#: shared attributes compared only where both files have them
OPTIONAL_SHARED_ATTRS = ("label_noise_mode",)
#: attributes equal within one classifier (all sizes and networks)
FAMILY_ATTRS = ("settings_sha256",)
#: attributes equal between the files of one size (same bimodal data, same training data),
#: compared where both files have them
SIZE_ATTRS = ("data_sha256", "training_data_sha256")


def _as_networks(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p[None] if p.ndim == 2 else p


@dataclass
class PredictionSet:
    """The predictions of one classifier of a scenario, one entry per size, sorted by L.

    Attributes
    ----------
    L : ndarray, shape (n_L,), int64
        Linear sizes, increasing.
    temperature : ndarray, shape (n_T,), float64
        Common temperature grid (units of J, k_B = 1), increasing.
    p : list of ndarray, each shape (K, n_instances_L, n_T) or (n_instances_L, n_T), float64
        The observable (``p`` or ``fraction_high``) per network k of the ensemble, disorder
        instance and temperature; a 2-d array is one network (K = 1). :meth:`networks`
        returns the 3-d form.
    paths : list of str
        The input files (every network of every size).
    attrs : list of dict
        Global attributes of each file of ``paths``.
    classifier : str
        ``"cnn"`` or the null model's name (``"null_ql"`` ...).
    files : list of (int, int)
        (L, network_index) of each file of ``paths`` (default: one file per L, network 0).
    instances : list of ndarray
        The ``instance`` coordinate of each size (default ``0 .. n_instances_L - 1``).
    """

    L: np.ndarray
    temperature: np.ndarray
    p: list[np.ndarray]
    paths: list[str] = field(default_factory=list)
    attrs: list[dict] = field(default_factory=list)
    classifier: str = CNN
    files: list[tuple[int, int]] = field(default_factory=list)
    instances: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.L = np.asarray(self.L, dtype=np.int64)
        self.temperature = np.asarray(self.temperature, dtype=np.float64)
        if not self.files and len(self.paths) == len(self.L):
            self.files = [(int(l), 0) for l in self.L]
        if not self.instances:
            self.instances = [np.arange(self.networks(i).shape[1]) for i in range(len(self.p))]

    def networks(self, index: int) -> np.ndarray:
        """``p`` of the size at position ``index`` as (K, n_instances, n_T) float64."""
        return _as_networks(self.p[index])

    @property
    def n_instances(self) -> np.ndarray:
        """Instances per size, shape (n_L,), int64."""
        return np.array([self.networks(i).shape[1] for i in range(len(self.p))], dtype=np.int64)

    @property
    def n_networks(self) -> int:
        """Networks K of the ensemble (the same for every size; 1 for a null model)."""
        return int(self.networks(0).shape[0])

    def scenario_attrs(self) -> dict[str, Any]:
        """Scenario attributes common to all files (``None`` where absent)."""
        return {k: (self.attrs[0].get(k) if self.attrs else None) for k in SCENARIO_ATTRS}


@dataclass
class ScenarioPredictions:
    """Every classifier of one scenario: the CNN ensemble first, then the null models by name.

    Attributes
    ----------
    classifiers : dict of str to PredictionSet
        All share the sizes, the temperature grid and, per size, the disorder instances.
    observable : str
        The variable that was read (``p`` or ``fraction_high``).
    """

    classifiers: dict[str, PredictionSet]
    observable: str = "p"

    @property
    def cnn(self) -> PredictionSet:
        return self.classifiers[CNN]

    @property
    def nulls(self) -> list[str]:
        """Names of the null models, sorted."""
        return [name for name in self.classifiers if name != CNN]

    @property
    def L(self) -> np.ndarray:
        return self.cnn.L

    @property
    def temperature(self) -> np.ndarray:
        return self.cnn.temperature

    @property
    def n_instances(self) -> np.ndarray:
        return self.cnn.n_instances

    def scenario_attrs(self) -> dict[str, Any]:
        return self.cnn.scenario_attrs()


def _same_attr(a: Any, b: Any) -> bool:
    """Equality of attribute values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@dataclass
class _File:
    path: str
    L: int
    classifier: str
    network: int
    temperature: np.ndarray
    instances: np.ndarray
    values: np.ndarray
    attrs: dict


def _read_file(path: Path, observable: str) -> _File:
    with open_netcdf(path, "prediction") as ds:
        fmt = ds.attrs.get("format")
        if fmt != PREDICTION_FORMAT:
            raise DataFormatError(f"{path}: attribute 'format' is {fmt!r}, expected {PREDICTION_FORMAT!r}; "
                                  "not an sgpoison prediction file")
        version = attribute_values(ds.attrs).get("format_version")
        if version not in READABLE_VERSIONS:
            raise DataFormatError(f"{path}: format_version {version!r}; this sgpoison reads prediction "
                                  f"files of versions {list(READABLE_VERSIONS)}")
        if observable not in ds.variables:
            raise DataFormatError(f"{path}: missing variable {observable!r}")
        if ds[observable].dims != ("instance", "temperature"):
            raise DataFormatError(f"{path}: variable {observable!r} has dims {ds[observable].dims}, "
                                  "expected ('instance', 'temperature')")
        if "L" not in ds.attrs:
            raise DataFormatError(f"{path}: missing attribute 'L'")
        if "temperature" not in ds.coords:
            raise DataFormatError(f"{path}: no 'temperature' coordinate")
        T = np.asarray(ds["temperature"].values, dtype=np.float64)
        instances = np.asarray(ds["instance"].values)
        values = np.asarray(ds[observable].values, dtype=np.float64)
        attrs = attribute_values(ds.attrs)
    if not np.all(np.isfinite(T)) or np.any(np.diff(T) <= 0):
        raise DataFormatError(f"{path}: temperatures must be finite and increasing, got {T}")
    if T.size < MIN_TEMPERATURES:
        raise DataFormatError(
            f"{path}: {T.size} temperatures; the spline interpolation needs at least {MIN_TEMPERATURES}")
    n_bad = int(np.count_nonzero(~np.isfinite(values)))
    if n_bad:
        raise DataFormatError(f"{path}: variable {observable!r} has {n_bad} NaN/inf value(s)")
    if np.any((values < 0) | (values > 1)):
        raise DataFormatError(f"{path}: variable {observable!r} has values outside [0, 1] (it is a probability)")
    if values.shape[0] < MIN_INSTANCES:
        raise DataFormatError(
            f"{path}: {values.shape[0]} instance(s); a standard error needs at least {MIN_INSTANCES}")
    classifier = str(attrs.get("classifier", CNN)) if version >= 2 else CNN
    network = int(attrs.get("network_index", 0)) if version >= 2 else 0
    if not classifier:
        raise DataFormatError(f"{path}: empty attribute 'classifier'")
    if network < 0:
        raise DataFormatError(f"{path}: network_index = {network} must be >= 0")
    return _File(str(path), int(attrs["L"]), classifier, network, T, instances, values, attrs)


def _label(f: _File) -> str:
    return f"{f.classifier} network {f.network} of L={f.L}"


def _compare(files: list[_File], keys: Sequence[str], what: str, both_only: bool = False) -> None:
    ref = files[0]
    for f in files[1:]:
        for key in keys:
            if both_only and (key not in f.attrs or key not in ref.attrs):
                continue
            a, b = f.attrs.get(key), ref.attrs.get(key)
            if not _same_attr(a, b):
                raise DataFormatError(
                    f"{f.path}: attribute {key}={a!r} differs from {ref.path}: {key}={b!r}; {what}")


def open_predictions(paths: Sequence[str | os.PathLike], observable: str = "p") -> ScenarioPredictions:
    """Read and check the prediction files of one scenario (every classifier, network and size).

    Parameters
    ----------
    paths : sequence of path-like
        Files written by ``sgpoison predict`` or the null models (format ``sgpoison-prediction``
        version 1 or 2), variable ``observable`` with dims (instance, temperature), attribute ``L``.
    observable : {"p", "fraction_high"}

    Returns
    -------
    ScenarioPredictions
        Each classifier's sizes sorted by L, its networks by ``network_index``.

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    DataFormatError
        Naming the file(s) and the attribute or value: not a prediction file of a readable
        version; no ``observable`` or ``L``; NaN or values outside [0, 1]; fewer than
        ``MIN_INSTANCES`` instances or ``MIN_TEMPERATURES`` temperatures; two files with the
        same (classifier, L, network_index); temperature grids that differ; attributes of
        :data:`SHARED_ATTRS` (and :data:`OPTIONAL_SHARED_ATTRS` where both have them) that
        differ between any two files; :data:`FAMILY_ATTRS` that differ within a classifier;
        :data:`SIZE_ATTRS` or the instance coordinate that differ between the files of one L;
        a classifier whose network indices are not ``0 .. K - 1`` for some L, or other
        indices than at another L (K: the number of its networks of the first L); a
        classifier with fewer than ``MIN_SIZES`` sizes or other sizes than the CNN; no CNN.
    """
    if observable not in OBSERVABLES:
        raise ValueError(f"observable must be one of {OBSERVABLES}, got {observable!r}")
    files = [_read_file(Path(p), observable) for p in paths]
    if not files:
        raise DataFormatError("no prediction files given")
    files.sort(key=lambda f: (f.classifier != CNN, f.classifier, f.L, f.network))
    for a, b in zip(files, files[1:]):
        if (a.classifier, a.L, a.network) == (b.classifier, b.L, b.network):
            raise DataFormatError(f"{a.path} and {b.path}: both are {_label(a)}; give each network of "
                                  "each size once")
    ref = files[0]
    for f in files[1:]:
        if f.temperature.shape != ref.temperature.shape or not np.allclose(
                f.temperature, ref.temperature, rtol=1e-9, atol=1e-12):
            raise DataFormatError(f"{f.path}: temperature grid {f.temperature.tolist()} differs from that "
                                  f"of {ref.path} {ref.temperature.tolist()}")
    _compare(files, SHARED_ATTRS, "give the predictions of one scenario on one data set")
    _compare(files, OPTIONAL_SHARED_ATTRS, "give the predictions of one scenario", both_only=True)
    by_size: dict[int, list[_File]] = {}
    for f in files:
        by_size.setdefault(f.L, []).append(f)
    for L, group in by_size.items():
        _compare(group, SIZE_ATTRS, f"the classifiers of L={L} must predict the same data and be trained "
                                    "on the same training data", both_only=True)
        for f in group[1:]:
            if not np.array_equal(f.instances, group[0].instances):
                raise DataFormatError(f"{f.path}: its disorder instances differ from those of {group[0].path} "
                                      f"(L={L}); every classifier must predict the same instances")
    families: dict[str, list[_File]] = {}
    for f in files:
        families.setdefault(f.classifier, []).append(f)
    if CNN not in families:
        raise DataFormatError(f"{[f.path for f in files]}: no predictions of the CNN (classifier {CNN!r}); "
                              f"got only {sorted(families)}")
    classifiers = {}
    for name, family in families.items():
        _compare(family, FAMILY_ATTRS, f"the networks of classifier {name!r} must share their settings")
        sizes = sorted({f.L for f in family})
        if len(sizes) < MIN_SIZES:
            raise DataFormatError(f"classifier {name!r}: {len(sizes)} system size(s) {sizes} given; "
                                  f"finite-size scaling needs at least {MIN_SIZES}")
        p, instances = [], []
        # K is the number of network files (the ensemble grows by adding networks, and no file
        # records K); every size must have networks 0 .. K - 1
        K = len([f for f in family if f.L == sizes[0]])
        for L in sizes:
            members = [f for f in family if f.L == L]
            indices = [f.network for f in members]
            if indices != list(range(K)):
                missing = sorted(set(range(K)) - set(indices))
                raise DataFormatError(
                    f"classifier {name!r}, L={L}: network indices {indices} given, expected 0..{K - 1} "
                    f"(the {K} network(s) of L={sizes[0]})"
                    + (f"; missing {missing}" if missing else ""))
            p.append(np.stack([f.values for f in members]))
            instances.append(members[0].instances)
        classifiers[name] = PredictionSet(
            L=np.array(sizes, dtype=np.int64), temperature=ref.temperature, p=p,
            paths=[f.path for f in family], attrs=[f.attrs for f in family], classifier=name,
            files=[(f.L, f.network) for f in family], instances=instances)
    cnn_sizes = classifiers[CNN].L.tolist()
    for name, data in classifiers.items():
        if data.L.tolist() != cnn_sizes:
            raise DataFormatError(f"classifier {name!r} has sizes {data.L.tolist()} but the CNN has {cnn_sizes}; "
                                  "every classifier needs the same sizes")
    return ScenarioPredictions(classifiers=classifiers, observable=observable)
