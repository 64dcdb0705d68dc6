"""Null-model classifiers (sgpoison.ml.null, ``sgpoison train-null`` / ``predict-null``); no TensorFlow.

The observables are checked against sgpoison.mc.observables and against the q and link overlap
a real simulation stores per snapshot; the classifier on synthetic overlaps whose phases differ
only in the link overlap (domain walls at q = 0) or only in q^2; the training set against
network 0's; the stored model against scikit-learn's own probabilities.
"""

import json

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("sklearn")

from builders import run_cli, write_simulation_file, write_synthetic_simulation  # noqa: E402
from sgpoison.errors import DataFormatError, SettingsError  # noqa: E402
from sgpoison.io.provenance import file_sha256  # noqa: E402
from sgpoison.mc.observables import link_overlap  # noqa: E402
from sgpoison.mc.parallel_tempering import SimulationParameters, simulate  # noqa: E402
from sgpoison.ml.labels import class_weights, training_set  # noqa: E402
from sgpoison.ml.null import (  # noqa: E402
    FEATURES,
    feature_matrix,
    file_observables,
    overlap_observables,
    predict_null,
    read_null_model,
    train_null,
)
from sgpoison.ml.settings import NullSettings, TrainingConfig  # noqa: E402

T = np.linspace(0.8, 1.1, 6)
SETTINGS = dict(validation_fraction=0.25, seed=1)


def _domain_walls(L, n, rng):
    """Two slabs of opposite sign at a random position and axis: q = 0, q_l = 1 - 4/(3L)."""
    out = np.empty((n, L, L, L), np.int8)
    for k in range(n):
        slab = np.where((np.arange(L) + rng.integers(L)) % L < L // 2, 1, -1).astype(np.int8)
        shape = [1, 1, 1]
        shape[rng.integers(3)] = L
        out[k] = np.broadcast_to(slab.reshape(shape), (L, L, L)) * rng.choice([-1, 1])
    return out


def _balanced(L, n, rng):
    """Random fields with exactly as many +1 as -1 sites: q = 0, q_l ~ 0."""
    base = np.repeat(np.array([1, -1], np.int8), L**3 // 2)
    return np.stack([rng.permutation(base) for _ in range(n)]).reshape(n, L, L, L)


def _uniform(L, n, rng, agree=0.5):
    sign = rng.choice(np.array([-1, 1], np.int8), size=(n, 1, 1, 1))
    return np.where(rng.random((n, L, L, L)) < agree, sign, -sign).astype(np.int8)


def write_observable_file(path, kind, L=4, n_instances=16, n_snapshots=10, seed=0, disorder="gaussian",
                          first_instance=0):
    """Synthetic overlaps whose two phases (below / above 0.95) differ in q_l only (``kind="ql"``:
    two domains below, a random field above, q = 0 exactly in both) or in the order of the field
    (``kind="q2"``: 80 % of the sites agree with a random sign below, 50 % above)."""
    rng = np.random.default_rng(seed)
    q = np.empty((n_instances, len(T), n_snapshots, L, L, L), np.int8)
    for t, temperature in enumerate(T):
        n = n_instances * n_snapshots
        if kind == "ql":
            block = _domain_walls(L, n, rng) if temperature < 0.95 else _balanced(L, n, rng)
        else:
            block = _uniform(L, n, rng, agree=0.8 if temperature < 0.95 else 0.5)
        q[:, t] = block.reshape(n_instances, n_snapshots, L, L, L)
    return write_simulation_file(path, q, T, disorder=disorder, first_instance=first_instance, seed=seed)


# ----------------------------------------------------------------------------- observables


@pytest.mark.parametrize("L", [2, 4, 5])
def test_observables_agree_with_the_monte_carlo_definitions(L):
    rng = np.random.default_rng(L)
    q = _uniform(L, 30, rng, agree=0.7)
    result = overlap_observables(q)
    flat = q.reshape(30, -1)
    np.testing.assert_allclose(result["ql"], link_overlap(flat, L), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(result["q2"], (flat.sum(axis=1) / L**3) ** 2)


def test_observables_agree_with_what_the_simulation_stores(tmp_path):
    params = SimulationParameters(L=4, disorder="gaussian", instance_start=0, instance_stop=3, n_sweeps=64,
                                  t_min=0.8, t_max=1.3, n_temps=4, n_snapshots=5, measure_interval=2, seed=3)
    path = simulate(params, tmp_path / "sim.nc")
    observables = file_observables(path, np.arange(3), 4, 5)
    with xr.open_dataset(path) as ds:
        np.testing.assert_allclose(observables["ql"], ds["link_overlap"].values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(observables["q2"], ds["q"].values ** 2, rtol=0, atol=1e-12)
        assert np.ptp(ds["link_overlap"].values) > 0.1  # the comparison sees varied values


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def ql_file(tmp_path_factory):
    return write_observable_file(tmp_path_factory.mktemp("ql") / "g.nc", "ql")


def test_a_link_overlap_signal_is_seen_by_the_ql_null_only(ql_file, tmp_path):
    """The phases differ in q_l only (q^2 = 0 in both): null_ql and null_q2_ql separate them,
    null_q2 stays at the majority baseline (1/2)."""
    outs = [tmp_path / f"null_{name}.json" for name in ("ql", "q2", "q2_ql")]
    result = train_null(ql_file, NullSettings(**SETTINGS), outs=outs)
    accuracy = {name: result[name]["evaluation"]["validation"]["accuracy"] for name in result}
    assert accuracy["ql"] > 0.99 and accuracy["q2_ql"] > 0.99
    assert accuracy["q2"] == pytest.approx(0.5)
    assert all(path.exists() for path in outs)
    q2_file = write_observable_file(tmp_path / "q2.nc", "q2")
    on_q2 = train_null(q2_file, NullSettings(**SETTINGS, observables=("q2",)))
    assert on_q2["q2"]["evaluation"]["validation"]["accuracy"] > 0.95


def test_null_models_train_on_network_0_s_training_set(tmp_path):
    path = write_synthetic_simulation(tmp_path / "g.nc", n_instances=12, seed=0)
    labels = dict(label_noise=0.1, seed=5, validation_fraction=0.25)
    result = train_null(path, NullSettings(**labels, observables=("ql",)))["ql"]
    network_0 = training_set(path, TrainingConfig(**labels), network_index=0)
    network_1 = training_set(path, TrainingConfig(**labels), network_index=1)
    assert result["labels_sha256"] == network_0.labels_sha256() != network_1.labels_sha256()
    assert result["label_flips"] == network_0.realised_flips > 0
    assert result["train_instances"] == network_0.instances[network_0.train_positions].tolist()
    assert result["validation_instances"] == network_0.instances[network_0.validation_positions].tolist()
    weights = class_weights(network_0.class_counts())
    assert result["class_weight"] == {str(c): w for c, w in weights.items()}
    assert result["seeds"] == network_0.seeds and result["network_index"] == 0
    # a bootstrap resample of the instances: network 0's resample
    boot = dict(labels, bootstrap_instances=True)
    resampled = train_null(path, NullSettings(**boot, observables=("ql",)))["ql"]
    assert resampled["labels_sha256"] == training_set(path, TrainingConfig(**boot), 0).labels_sha256()
    assert resampled["labels_sha256"] != result["labels_sha256"]


def test_stored_model_reproduces_scikit_learn(ql_file, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    settings = NullSettings(**SETTINGS, observables=("q2_ql",), inverse_regularization=0.5)
    train_null(ql_file, settings, outs=[tmp_path / "m.json"])
    model, metadata = read_null_model(tmp_path / "m.json")
    assert metadata["classifier"] == "null_q2_ql" and model.features == FEATURES["q2_ql"] == ("q2", "ql")
    tset = training_set(ql_file, settings, 0)
    observables = file_observables(ql_file, tset.train_positions, len(T), tset.n_snapshots)
    x, y = feature_matrix(observables, "q2_ql"), tset.labels.ravel()
    scaler = StandardScaler().fit(x)
    reference = LogisticRegression(C=0.5, class_weight=class_weights(tset.class_counts())).fit(scaler.transform(x), y)
    np.testing.assert_allclose(model.probability_high(x), reference.predict_proba(scaler.transform(x))[:, 1],
                               rtol=1e-10, atol=1e-12)
    assert metadata["regression"]["converged"]
    assert metadata["settings_sha256"] == settings.family_sha256("q2_ql")
    assert metadata["settings_sha256"] != settings.family_sha256("ql")


def test_prediction_files_of_the_null_models(ql_file, tmp_path):
    models = [tmp_path / "null_ql.json", tmp_path / "null_q2.json"]
    train_null(ql_file, NullSettings(**SETTINGS, observables=("ql", "q2"), scenario="clean"), outs=models)
    data = write_observable_file(tmp_path / "b.nc", "ql", n_instances=5, seed=9, disorder="bimodal",
                                 first_instance=100)
    outs = [tmp_path / "p_ql.nc", tmp_path / "p_q2.nc"]
    predicted = predict_null(models, data, outs)
    model, metadata = read_null_model(models[0])
    with xr.open_dataset(outs[0]) as ds, xr.open_dataset(data) as sim:
        ds = ds.load()
        np.testing.assert_array_equal(ds["instance"], sim["instance"])
        q = sim["overlap"].values
    attrs = ds.attrs
    assert attrs["format"] == "sgpoison-prediction" and attrs["format_version"] == 2
    assert attrs["classifier"] == "null_ql" and attrs["network_index"] == 0 and "n_networks" not in attrs
    assert attrs["t_label"] == 0.95 and attrs["training_disorder"] == "gaussian" and attrs["label_noise"] == 0.0
    assert attrs["label_noise_mode"] == "independent" and attrs["scenario"] == "clean"
    assert attrs["training_data_sha256"] == file_sha256(ql_file) and attrs["data_sha256"] == file_sha256(data)
    assert attrs["settings_sha256"] == metadata["settings_sha256"] and attrs["device"]
    assert predicted[1].attrs["classifier"] == "null_q2"
    for i, t in ((0, 0), (4, 5)):
        obs = overlap_observables(q[i, t])
        p = model.probability_high(np.stack([obs["ql"]], axis=1))
        assert ds["p"].values[i, t] == pytest.approx(p.mean(), abs=1e-12)
        assert ds["fraction_high"].values[i, t] == pytest.approx(np.mean(p > 0.5))
    assert ds["p"].values[:, T < 0.95].mean() < 0.05 and ds["p"].values[:, T > 0.95].mean() > 0.95


def test_bad_inputs_are_named(ql_file, tmp_path, capsys):
    with pytest.raises(SettingsError, match="--out") as info:
        train_null(ql_file, NullSettings(**SETTINGS), outs=[tmp_path / "a.json"])
    assert info.value.option == "--out"
    with pytest.raises(SettingsError):
        NullSettings(observables=("ql", "ql"))
    (tmp_path / "other.json").write_text(json.dumps({"format": "sgpoison-audit"}))
    with pytest.raises(DataFormatError, match="other.json"):
        read_null_model(tmp_path / "other.json")
    code, err = run_cli(["train-null", "--data", str(ql_file), "--observables", "ql", "q2",
                         "--out", str(tmp_path / "a.json")], capsys)
    assert code == 2 and "--out" in err
    code, err = run_cli(["train-null", "--data", str(ql_file), "--observables", "ql", "ql",
                         "--out", str(tmp_path / "a.json"), str(tmp_path / "b.json")], capsys)
    assert code == 2 and "--observables" in err
    code, err = run_cli(["predict-null", "--model", str(tmp_path / "other.json"), "--data", str(ql_file),
                         "--out", str(tmp_path / "p.nc")], capsys)
    assert code == 1 and "other.json" in err


def test_cli_train_null_then_predict_null(ql_file, tmp_path, capsys):
    models = [str(tmp_path / "null_ql.json"), str(tmp_path / "null_q2_ql.json")]
    code, err = run_cli(["train-null", "--data", str(ql_file), "--observables", "ql", "q2_ql", "--out", *models,
                         "--L", "4", "--scenario", "label_noise_1pct", "--label-noise", "0.01", "--seed", "3",
                         "--validation-fraction", "0.25", "--no-balance-classes"], capsys)
    assert code == 0, err
    metadata = json.loads((tmp_path / "null_ql.json").read_text())
    assert metadata["scenario"] == "label_noise_1pct" and metadata["label_noise"] == 0.01
    assert metadata["class_weight"] == {"0": 1.0, "1": 1.0}
    outs = [str(tmp_path / "p_ql.nc"), str(tmp_path / "p_q2_ql.nc")]
    code, err = run_cli(["predict-null", "--model", *models, "--data", str(ql_file), "--out", *outs], capsys)
    assert code == 0, err
    with xr.open_dataset(outs[1]) as ds:
        assert ds.attrs["classifier"] == "null_q2_ql" and ds.attrs["label_noise"] == 0.01
    code, err = run_cli(["train-null", "--data", str(ql_file), "--observables", "ql", "--out", models[0],
                         "--L", "6"], capsys)
    assert code == 2 and "--L" in err
