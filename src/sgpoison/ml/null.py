"""Null-model classifiers: logistic regression on physical observables of the overlap field.

A crossing of p(T, L) near T_c is evidence that the CNN learned something critical only where
it does better than a classifier that sees a local, non-critical quantity (issue 11,
design.md). The null models are trained on exactly network 0's training set (same labels with
their label noise, same split by instance, same t_label and class weights;
:func:`sgpoison.ml.labels.training_set` with network index 0) but see only, per overlap
configuration q_i of N = L^3 sites,

* ``q2`` = (sum_i q_i / N)^2, the squared spin overlap (paper Eq. (2) summed);
* ``ql`` = (1/3N) sum_<ij> q_i q_j over the 3N bonds of the periodic lattice, the link overlap;
* ``q2_ql``: both,

computed from the overlap field itself (:func:`overlap_observables`), not from stored values,
so that the null models see exactly what the network sees. Both are invariant under q -> -q
and under every lattice symmetry. The classifier is scikit-learn's ``LogisticRegression``
(L-BFGS, L2 penalty 1/(2C) on standardised features) with the CNN's class weights; the fitted
coefficients, the standardisation and the metadata are stored as JSON
(``sgpoison-null-model``; no pickle), and :class:`NullModel` evaluates the same formula.
Predictions on the bimodal data are prediction files of format version 2 with classifier
``null_<observables>``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from sgpoison.errors import DataFormatError, SettingsError
from sgpoison.io.formats import overlap_layout, write_netcdf
from sgpoison.io.jsonio import read_json, to_jsonable, write_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.ml.evaluation import classified_high, evaluation_positions, instance_accuracy, weighted_cross_entropy
from sgpoison.ml.labels import SEED_ROLES, class_weights, training_set
from sgpoison.ml.settings import NULL_OBSERVABLES, NullSettings, null_classifier
from sgpoison.ml.stream import OverlapBlocks

log = logging.getLogger(__name__)

#: ``format`` of null-model files
NULL_MODEL_FORMAT = "sgpoison-null-model"
NULL_MODEL_FORMAT_VERSION = 1
#: the features each null model sees, in this column order
FEATURES = {"ql": ("ql",), "q2": ("q2",), "q2_ql": ("q2", "ql")}
#: the device recorded for the null models (scikit-learn runs on the CPU)
NULL_DEVICE = "CPU (scikit-learn)"


# ------------------------------------------------------------------------------------------
# observables of the overlap field
# ------------------------------------------------------------------------------------------


def overlap_observables(overlaps: np.ndarray) -> dict[str, np.ndarray]:
    """q^2 and the link overlap q_l of overlap configurations.

    ``q2 = (sum_i q_i / N)^2`` and ``ql = (1/3N) sum_i sum_{a=x,y,z} q_i q_{i + e_a}`` (each of the
    3N bonds of the periodic simple cubic lattice once, as
    :func:`sgpoison.mc.observables.link_overlap`), summed exactly in integers.

    Parameters
    ----------
    overlaps : int8 array, shape (..., L, L, L), values +-1

    Returns
    -------
    dict
        ``q2`` and ``ql``, float64 arrays of shape (...).
    """
    q = np.asarray(overlaps, dtype=np.int8)
    n_sites = q.shape[-1] * q.shape[-2] * q.shape[-3]
    axes = (-3, -2, -1)
    magnetization = q.sum(axis=axes, dtype=np.int64)
    bonds = sum(np.sum(q * np.roll(q, -1, axis=axis), axis=axes, dtype=np.int64) for axis in axes)
    return {"q2": (magnetization / n_sites) ** 2, "ql": bonds / (3.0 * n_sites)}


def file_observables(path: str | os.PathLike, positions: np.ndarray, n_temperatures: int,
                     n_snapshots: int) -> dict[str, np.ndarray]:
    """:func:`overlap_observables` of every snapshot of some instances, streamed block by block.

    Returns
    -------
    dict
        ``q2`` and ``ql``, float64 arrays of shape (len(positions), N_T, N_con).
    """
    positions = np.asarray(positions, dtype=np.int64)
    shape = (len(positions), int(n_temperatures), int(n_snapshots))
    out = {name: np.empty(shape) for name in ("q2", "ql")}
    blocks = OverlapBlocks(path, positions, np.zeros(shape, np.int32))
    for (k, t), (data, _) in zip(blocks.block_index(), blocks.iterate()):
        for name, values in overlap_observables(data).items():
            out[name][k, t] = values
    return out


def feature_matrix(observables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The features of null model ``name`` (:data:`FEATURES`): float64, shape (n, n_features),
    one row per snapshot (the arrays of ``observables`` flattened in C order)."""
    return np.stack([np.asarray(observables[f], dtype=np.float64).ravel() for f in FEATURES[name]], axis=1)


# ------------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NullModel:
    """A fitted null model: ``P(label 1 | x) = 1 / (1 + exp(-(b + sum_f w_f (x_f - mu_f) / s_f)))``.

    Attributes
    ----------
    observables : str
        One of :data:`~sgpoison.ml.settings.NULL_OBSERVABLES`.
    features : tuple of str
        Feature names, in column order (:data:`FEATURES`).
    coefficients, feature_mean, feature_scale : tuple of float
        w_f, mu_f and s_f per feature (s_f = standard deviation over the training snapshots,
        1 where it is 0).
    intercept : float
        b.
    """

    observables: str
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]

    def probability_high(self, features: np.ndarray) -> np.ndarray:
        """P(label 1) of feature rows, float64 of shape (n,); ``features`` (n, n_features)."""
        z = (np.asarray(features, dtype=np.float64) - np.array(self.feature_mean)) / np.array(self.feature_scale)
        logit = self.intercept + z @ np.array(self.coefficients)
        return 0.5 * (1.0 + np.tanh(0.5 * logit))  # = 1 / (1 + exp(-logit)), without overflow


def fit_null_model(features: np.ndarray, labels: np.ndarray, name: str, weights: dict[int, float],
                   settings: NullSettings) -> tuple[NullModel, dict]:
    """Fit one null model with scikit-learn (standardise, then ``LogisticRegression``).

    Parameters
    ----------
    features : float array, shape (n, n_features)
    labels : int array, shape (n,)
    name : str
        The null model's observables (for the result).
    weights : dict {0: w0, 1: w1}
        Class weights (:func:`sgpoison.ml.labels.class_weights`).
    settings : NullSettings

    Returns
    -------
    NullModel, dict
        The model, and the solver's report (``n_iterations``, ``converged``, ``solver``,
        ``sklearn_version``).
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    regression = LogisticRegression(C=settings.inverse_regularization, class_weight=dict(weights),
                                    solver="lbfgs", max_iter=settings.max_iterations)
    regression.fit((features - scaler.mean_) / scale, np.asarray(labels, dtype=np.int64))
    n_iterations = int(np.max(regression.n_iter_))
    model = NullModel(name, FEATURES[name], tuple(float(c) for c in regression.coef_[0]),
                      float(regression.intercept_[0]), tuple(float(m) for m in scaler.mean_),
                      tuple(float(s) for s in scale))
    return model, {"solver": "lbfgs", "n_iterations": n_iterations,
                   "converged": n_iterations < settings.max_iterations, "sklearn_version": sklearn.__version__}


def read_null_model(path: str | os.PathLike) -> tuple[NullModel, dict]:
    """A null model and its metadata from a file written by :func:`train_null`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataFormatError
        If it is not JSON or not a null-model file, or lacks a field (the message names the file).
    """
    metadata = read_json(path, "null-model")
    if not isinstance(metadata, dict) or metadata.get("format") != NULL_MODEL_FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else type(metadata).__name__
        raise DataFormatError(f"{path}: not an sgpoison null model (format {found!r}, expected "
                              f"{NULL_MODEL_FORMAT!r})")
    try:
        fields = {f.name: metadata["model"][f.name] for f in dataclasses.fields(NullModel)}
        model = NullModel(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items()})
        L = int(metadata["L"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: null-model file lacks or mangles {exc}") from None
    if model.observables not in NULL_OBSERVABLES or model.features != FEATURES[model.observables]:
        raise DataFormatError(f"{path}: unknown null model {model.observables!r} with features {model.features}")
    if L < 2:
        raise DataFormatError(f"{path}: L = {L}")
    return model, metadata


# ------------------------------------------------------------------------------------------
# training and prediction
# ------------------------------------------------------------------------------------------


def train_null(data: str | os.PathLike, settings: NullSettings = NullSettings(),
               outs: Sequence[str | os.PathLike] | None = None, expected_L: int | None = None) -> dict[str, dict]:
    """Fit every null model of ``settings.observables`` on network 0's training set of ``data``.

    One pass over the training instances computes q^2 and q_l of every snapshot
    (:func:`file_observables`); each model is fitted on the training snapshots with the
    (noisy) training labels and the class weights of the CNN, then evaluated against the clean
    labels on every validation instance and on as many training instances, with errors over
    instances (:func:`sgpoison.ml.evaluation.instance_accuracy`, as for the CNN).

    Parameters
    ----------
    data : path-like
        Simulation file (normally Gaussian disorder), the CNNs' training file.
    settings : NullSettings
    outs : sequence of path-like, optional
        One JSON file per entry of ``settings.observables``, in that order; written atomically.
    expected_L : int, optional
        Fail unless the file's L equals this (option ``--L``).

    Returns
    -------
    dict
        Observables name -> metadata (as written; docs/data-format.md).

    Raises
    ------
    FileNotFoundError, DataFormatError
        Missing or invalid data file.
    SettingsError
        ``outs`` does not match the observables (option ``--out``), ``expected_L`` mismatch
        (``--L``), an empty class (``--t-label``).
    """
    data = Path(data)
    if outs is not None and len(outs) != len(settings.observables):
        raise SettingsError(f"--out: {len(outs)} file(s) for {len(settings.observables)} null model(s) "
                            f"({', '.join(settings.observables)}); give one per --observables entry", "--out")
    tset = training_set(data, settings, network_index=0)
    if expected_L is not None and int(expected_L) != tset.L:
        raise SettingsError(f"--L {expected_L} but {data} has L={tset.L}", "--L")
    counts = tset.class_counts()
    weights = class_weights(counts, settings.balance_classes)
    n_T, n_con = len(tset.temperatures), tset.n_snapshots
    start = time.perf_counter()
    # the observables of each distinct instance once (a bootstrap resample repeats positions)
    unique, inverse = np.unique(tset.train_positions, return_inverse=True)
    train_observables = {k: v[inverse] for k, v in file_observables(data, unique, n_T, n_con).items()}
    parts = evaluation_positions(tset.train_positions, tset.validation_positions, tset.seeds["validation_subset"])
    part_observables = {part: file_observables(data, positions, n_T, n_con) for part, positions in parts.items()}
    log.info("observables of %d + %d instances of %s in %.1f s", len(unique), len(parts["validation"]), data,
             time.perf_counter() - start)

    labels = tset.labels.ravel()
    results = {}
    for index, name in enumerate(settings.observables):
        model, solver = fit_null_model(feature_matrix(train_observables, name), labels, name, weights, settings)
        p_train = model.probability_high(feature_matrix(train_observables, name))
        loss = weighted_cross_entropy(np.stack([1 - p_train, p_train], axis=1), labels, weights)
        evaluation = {}
        for part, positions in parts.items():
            p = model.probability_high(feature_matrix(part_observables[part], name)).reshape(len(positions), n_T, n_con)
            evaluation[part] = instance_accuracy(classified_high(p), tset.temperature_labels)
            evaluation[part]["instances"] = tset.instances[positions]
        log.info("null_%s: w = %s, b = %.4f; validation accuracy %.4f +- %.4f (majority %.4f), training %.4f",
                 name, np.round(model.coefficients, 4), model.intercept, evaluation["validation"]["accuracy"],
                 evaluation["validation"]["accuracy_se"], evaluation["validation"]["majority_baseline"],
                 evaluation["training"]["accuracy"])
        parameters = dataclasses.asdict(settings) | {"data": str(data), "L": tset.L, "observables": name}
        metadata = to_jsonable({
            "format": NULL_MODEL_FORMAT,
            "format_version": NULL_MODEL_FORMAT_VERSION,
            "classifier": null_classifier(name),
            "network_index": 0,
            "observables": name,
            "model": dataclasses.asdict(model),
            "regression": {"library": "scikit-learn LogisticRegression", "penalty": "l2",
                           "inverse_regularization": settings.inverse_regularization, **solver,
                           "training_loss": loss},
            "L": tset.L,
            "scenario": settings.scenario,
            "t_label": settings.t_label,
            "label_noise": settings.label_noise,
            "label_noise_mode": settings.label_noise_mode,
            "label_flips": tset.realised_flips,
            "labels_sha256": tset.labels_sha256(),
            "n_examples": tset.n_examples,
            "class_counts": counts,
            "class_weight": weights,
            "training_sweep_fraction": float(tset.attrs["sweep_fraction"]),
            "training_disorder": tset.attrs.get("disorder"),
            "temperatures": tset.temperatures,
            "temperature_labels": tset.temperature_labels,
            "train_instances": tset.instances[tset.train_positions],
            "bootstrap_instances": tset.resampled,
            "validation_instances": tset.instances[tset.validation_positions],
            "seeds": tset.seeds,
            "seed_derivation": f"as network 0: numpy.random.SeedSequence(seed, spawn_key=(L, 0, j)), roles "
                               f"{list(SEED_ROLES)}",
            "evaluation": evaluation,
            "settings_sha256": settings.family_sha256(name),
            "device": NULL_DEVICE,
            "data_file": str(data),
            "data_sha256": file_sha256(data),
            "training_data_sha256": file_sha256(data),
            "data_provenance": {k: tset.attrs.get(k) for k in ("sgpoison_version", "git_commit", "created")},
            "provenance": provenance(parameters),
        })
        if outs is not None:
            write_json(metadata, outs[index], sort_keys=True)
        results[name] = metadata
    return results


def predict_null(models: Sequence[str | os.PathLike], data: str | os.PathLike,
                 outs: Sequence[str | os.PathLike] | None = None) -> list:
    """p(T) of every instance and temperature of a (bimodal) file for each null model.

    One pass over the file computes q^2 and q_l of every snapshot; for model m,
    ``p[i, T]`` = mean over the snapshots of P(label 1) and ``fraction_high[i, T]`` = fraction
    with P(label 1) > 1/2. Both observables are invariant under q -> -q, so the
    prediction is sign-symmetric without symmetrisation (``symmetrized = 1``).

    Parameters
    ----------
    models : sequence of path-like
        Null-model files of one L (:func:`train_null`).
    data : path-like
        Simulation file, normally bimodal disorder.
    outs : sequence of path-like, optional
        One prediction file per model, in that order; written atomically.

    Returns
    -------
    list of xarray.Dataset
        Prediction format version 2 (docs/data-format.md), one per model.

    Raises
    ------
    FileNotFoundError, DataFormatError
        A missing or invalid model or data file.
    SettingsError
        ``outs`` does not match ``models`` (option ``--out``); L of the data differs from a
        model's (option ``--data``).
    """
    from sgpoison.io.jsonio import to_json
    from sgpoison.ml.model_io import prediction_dataset, training_attributes

    data = Path(data)
    if outs is not None and len(outs) != len(models):
        raise SettingsError(f"--out: {len(outs)} file(s) for {len(models)} model(s); give one per --model", "--out")
    loaded = [(Path(path), *read_null_model(path)) for path in models]
    layout = overlap_layout(data)
    for path, _, metadata in loaded:
        if int(metadata["L"]) != layout.L:
            raise SettingsError(f"{data} has L={layout.L} but the null model {path} was trained for "
                                f"L={metadata['L']}", "--data")
    start = time.perf_counter()
    n_T, n_con = len(layout.temperatures), layout.n_snapshots
    observables = file_observables(data, np.arange(len(layout.instances)), n_T, n_con)
    data_sha256 = file_sha256(data)
    log.info("observables of %d snapshots of %s in %.1f s", observables["ql"].size, data,
             time.perf_counter() - start)
    results = []
    for index, (path, model, metadata) in enumerate(loaded):
        p = model.probability_high(feature_matrix(observables, model.observables)).reshape(observables["ql"].shape)
        parameters = {"model": str(path), "data": str(data)}
        result = prediction_dataset(p, classified_high(p), layout.instances, layout.temperatures, {
            **training_attributes(metadata),
            "device": NULL_DEVICE,
            "training_device": NULL_DEVICE,
            "L": layout.L,
            "symmetrized": 1,
            "model_file": str(path),
            "model_sha256": file_sha256(path),
            "model_metadata": to_json(metadata, sort_keys=True),
            "data_file": str(data),
            "data_sha256": data_sha256,
            "disorder": str(layout.attrs.get("disorder", "")),
            "sweep_fraction": float(layout.attrs.get("sweep_fraction", math.nan)),
            "n_snapshots": n_con,
            **provenance(parameters),
        })
        if outs is not None:
            write_netcdf(result, outs[index])
        results.append(result)
    return results
