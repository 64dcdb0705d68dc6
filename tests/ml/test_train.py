"""Training, streaming from NetCDF, prediction of p(T) and their commands (sgpoison.ml).

Synthetic overlaps (tests/builders.py): ordered domains below T = 0.95,
independent random +-1 above, L = 4, a few hundred optimiser steps on CPU.
"""

import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr

pytest.importorskip("tensorflow")

from sgpoison.errors import DataFormatError, SettingsError  # noqa: E402
from sgpoison.io.formats import write_netcdf  # noqa: E402
from sgpoison.io.provenance import file_sha256  # noqa: E402
from sgpoison.ml.evaluation import weighted_cross_entropy  # noqa: E402
from sgpoison.ml.labels import prepare_training_set, training_set  # noqa: E402
from sgpoison.ml.model_io import METADATA_MEMBER, load_model, read_model_metadata  # noqa: E402
from sgpoison.ml.predict import predict  # noqa: E402
from sgpoison.ml.settings import TrainingConfig  # noqa: E402
from sgpoison.ml.stream import OverlapBlocks  # noqa: E402
from sgpoison.ml.network import symmetrized_model  # noqa: E402
from sgpoison.ml.train import HISTORY_COLUMNS, softmax_probabilities, train  # noqa: E402
from builders import run_cli, write_synthetic_simulation  # noqa: E402

#: small, fast settings that learn the synthetic phases within a few hundred steps
FAST = dict(iterations=300, batch_size=64, learning_rate=1e-3, report_every=100,
            validation_fraction=0.25, threads=1, seed=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return {
        "gaussian": write_synthetic_simulation(d / "gaussian_L4.nc", seed=0),
        "bimodal": write_synthetic_simulation(d / "bimodal_L4.nc", disorder="bimodal", seed=5,
                                              n_instances=5, first_instance=100),
        "no_signal": write_synthetic_simulation(d / "noise_L4.nc", magnetization=0.0, seed=2),
        "L6": write_synthetic_simulation(d / "bimodal_L6.nc", L=6, disorder="bimodal", n_instances=2),
        "dir": d,
    }


@pytest.fixture(scope="module")
def clean(files):
    d = files["dir"]
    paths = {"model": d / "model.keras", "history": d / "history.csv", "metadata": d / "model.json"}
    result = train(files["gaussian"], TrainingConfig(**FAST), paths["model"], paths["history"],
                   paths["metadata"])
    return result, paths


# ----------------------------------------------------------------------------- labels of a file


def test_training_set_labels_split_and_flips(files):
    config = TrainingConfig(label_noise=0.2, seed=4, validation_fraction=0.25)
    tset = prepare_training_set(files["gaussian"], config)
    assert tset.L == 4 and tset.n_snapshots == 20
    train_pos, val_pos = tset.train_positions, tset.validation_positions
    assert len(val_pos) == 3 and len(train_pos) == 9
    assert set(train_pos).isdisjoint(val_pos) and set(train_pos) | set(val_pos) == set(range(12))
    np.testing.assert_array_equal(tset.temperature_labels, tset.temperatures > 0.95)
    differ = tset.labels != tset.clean_labels
    np.testing.assert_array_equal(differ, tset.flips)
    assert tset.realised_flips == differ.sum() > 0
    assert tset.n_examples == 9 * 6 * 20
    # same seed, same flips and split; other seed, other ones
    again = prepare_training_set(files["gaussian"], config)
    np.testing.assert_array_equal(again.flips, tset.flips)
    other = prepare_training_set(files["gaussian"], TrainingConfig(label_noise=0.2, seed=5, validation_fraction=0.25))
    assert not np.array_equal(other.flips, tset.flips)


def test_missing_overlap_variable(files, tmp_path):
    with xr.open_dataset(files["gaussian"]) as ds:
        broken = ds.drop_vars("overlap").load()
    path = write_netcdf(broken, tmp_path / "broken.nc")
    with pytest.raises(DataFormatError, match="overlap"):
        prepare_training_set(path, TrainingConfig())


# ----------------------------------------------------------------------------- streaming


def test_each_pass_reads_every_block_once_in_fresh_order(files):
    tset = prepare_training_set(files["gaussian"], TrainingConfig(validation_fraction=0.25))
    blocks = OverlapBlocks(files["gaussian"], tset.train_positions, tset.labels)
    stream = blocks.iterate(order_seed=3, repeat=True)
    n = blocks.n_blocks
    passes = [[next(stream) for _ in range(n)] for _ in range(2)]
    with xr.open_dataset(files["gaussian"]) as ds:
        q = ds["overlap"].values[tset.train_positions]
    reference = {q[k, t].tobytes(): tset.labels[k, t] for k in range(len(q)) for t in range(q.shape[1])}
    orders = []
    for blocks_of_pass in passes:
        keys = [data.tobytes() for data, _ in blocks_of_pass]
        assert sorted(keys) == sorted(reference)  # every block exactly once
        for data, labels in blocks_of_pass:
            assert data.dtype == np.int8 and data.shape == (20, 4, 4, 4)
            np.testing.assert_array_equal(labels, reference[data.tobytes()])
        orders.append(keys)
    assert orders[0] != orders[1]


def test_training_batches_are_float_and_mixed(files):
    tset = prepare_training_set(files["gaussian"], TrainingConfig(validation_fraction=0.25))
    blocks = OverlapBlocks(files["gaussian"], tset.train_positions, tset.labels)
    ds = blocks.dataset(batch_size=100, shuffle_buffer=500, order_seed=1, shuffle_seed=2, threads=1)
    x, y = next(iter(ds))
    assert x.dtype.name == "float32" and tuple(x.shape) == (100, 4, 4, 4, 1)
    assert y.dtype.name == "int32" and tuple(y.shape) == (100,)
    assert set(np.unique(x.numpy())) == {-1.0, 1.0}
    # the shuffle buffer (25 blocks of 20 snapshots) mixes blocks: without it a batch of 100
    # would hold the snapshots of exactly 5 blocks
    with xr.open_dataset(files["gaussian"]) as data:
        q = data["overlap"].values[tset.train_positions]
    block_of = {q[k, t, s].tobytes(): (k, t) for k in range(q.shape[0]) for t in range(q.shape[1])
                for s in range(q.shape[2])}
    batch = x.numpy()[..., 0].astype(np.int8)
    assert len({block_of[example.tobytes()] for example in batch}) > 10
    assert set(np.unique(y.numpy())) == {0, 1}


# ----------------------------------------------------------------------------- training


def test_clean_training_learns_phases(clean, files):
    result, paths = clean
    history = result.history
    assert tuple(history.columns) == HISTORY_COLUMNS
    assert list(history["iteration"]) == [100, 200, 300]
    assert history["val_accuracy"].iloc[-1] > 0.95
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    on_disk = pd.read_csv(paths["history"])
    np.testing.assert_allclose(on_disk["val_accuracy"], history["val_accuracy"])

    meta = json.loads(paths["metadata"].read_text())
    assert meta["L"] == 4 and meta["scenario"] == "clean"
    assert meta["classifier"] == "cnn" and meta["network_index"] == 0 and meta["format_version"] == 2
    assert meta["label_noise"] == 0.0 and meta["label_flips"] == 0 and meta["label_noise_mode"] == "independent"
    assert meta["n_examples"] == 9 * 6 * 20 and meta["t_label"] == 0.95
    assert meta["training_sweep_fraction"] == 1.0
    assert meta["data_sha256"] == meta["training_data_sha256"] == file_sha256(files["gaussian"])
    assert meta["model_sha256"] == file_sha256(paths["model"])
    assert meta["hyperparameters"]["batch_size"] == 64 and meta["hyperparameters"]["dense_units"] == 40
    assert meta["hyperparameters"]["padding"] == "periodic"
    assert meta["augmentation"] == {"sign_flip": True, "translations": True, "cube_symmetries": False}
    assert meta["symmetrize"] is True
    assert meta["seeds"]["seed"] == 1 and meta["seeds"]["L"] == 4 and meta["seeds"]["network_index"] == 0
    assert meta["settings_sha256"] == TrainingConfig(**FAST).family_sha256()
    assert {"sgpoison_version", "git_commit", "created", "parameters"} <= set(meta["provenance"])
    assert set(meta["train_instances"]).isdisjoint(meta["validation_instances"])
    assert len(meta["validation_instances"]) == 3
    # class weights from the training labels (3 of 6 temperatures below 0.95: balanced)
    tset = training_set(files["gaussian"], TrainingConfig(**FAST))
    assert meta["class_counts"] == {"0": 540, "1": 540} and meta["class_weight"] == {"0": 1.0, "1": 1.0}
    assert meta["labels_sha256"] == tset.labels_sha256()
    # evaluation on every validation instance (and as many training instances), errors over instances
    validation = meta["evaluation"]["validation"]
    assert validation["n_instances"] == 3 and sorted(validation["instances"]) == sorted(meta["validation_instances"])
    assert validation["accuracy"] > 0.95 and validation["majority_baseline"] == 0.5
    assert meta["evaluation"]["training"]["n_instances"] == 3
    assert set(meta["evaluation"]["training"]["instances"]) <= set(meta["train_instances"])
    # the same metadata are embedded in the .keras archive, which Keras still loads
    embedded = read_model_metadata(paths["model"])
    assert embedded["label_flips"] == 0 and embedded["L"] == 4
    model, _ = load_model(paths["model"])
    assert model.count_params() == result.model.count_params()


def test_the_training_reports_its_device_and_the_metadata_record_it(clean):
    """Issue 14: the device the weights were placed on (TensorFlow runs the step there)."""
    result, paths = clean
    meta = json.loads(paths["metadata"].read_text())
    placement = result.model.weights[0].value.device
    kind = "GPU" if "device:GPU" in placement else "CPU"
    assert meta["device"].startswith(placement.rsplit("device:", 1)[1])
    assert meta["device_details"]["type"] == kind
    assert meta["device_details"]["variable_placement"] == placement
    assert meta["device_details"]["model"] in meta["device"]


def test_best_checkpoint_is_kept_and_recorded(files):
    """A learning rate that overshoots: the kept weights are those of the report with the lowest
    validation loss, which the returned model reproduces."""
    config = TrainingConfig(**(FAST | {"iterations": 150, "report_every": 30, "learning_rate": 0.05}))
    result = train(files["gaussian"], config)
    history, best = result.history, result.metadata["best"]
    assert best["best_iteration"] == int(history.loc[history["val_loss"].idxmin(), "iteration"])
    assert best["iteration"] == best["best_iteration"] and best["last_iteration"] == 150
    assert best["best_iteration"] < 150 and history["val_loss"].iloc[-1] > 2 * best["val_loss"]  # overshoot
    assert best["val_loss"] == pytest.approx(history["val_loss"].min())
    tset = prepare_training_set(files["gaussian"], config)
    from sgpoison.ml.stream import OverlapBlocks

    labels = np.broadcast_to(tset.temperature_labels[None, :, None],
                             (len(tset.validation_positions), len(tset.temperatures), tset.n_snapshots))
    x, y = OverlapBlocks(files["gaussian"], tset.validation_positions, labels).load(
        config.validation_examples, tset.seeds["validation_subset"])
    p = softmax_probabilities(symmetrized_model(result.model), x)
    assert weighted_cross_entropy(p, y) == pytest.approx(best["val_loss"], rel=1e-4)


def test_patience_stops_training_early(files):
    config = TrainingConfig(**(FAST | {"iterations": 400, "report_every": 20, "learning_rate": 0.05,
                                       "patience": 2}))
    result = train(files["gaussian"], config)
    best = result.metadata["best"]
    assert best["stopped_early"] and best["last_iteration"] < 400
    assert best["last_iteration"] == best["best_iteration"] + 2 * 20
    assert list(result.history["iteration"])[-1] == best["last_iteration"]


def test_label_noise_near_one_half_cannot_be_learned(files):
    rho = 0.49
    result = train(files["gaussian"], TrainingConfig(**FAST, label_noise=rho, scenario="noise49"))
    meta = result.metadata
    n = meta["n_examples"]
    assert abs(meta["label_flips"] - n * rho) < 4 * math.sqrt(n * rho * (1 - rho))
    assert meta["scenario"] == "noise49"
    assert result.history["val_accuracy"].max() < 0.8  # clean: > 0.95 with the same settings
    assert result.history["accuracy"].iloc[-1] < 0.7


def test_uninformative_labels_stay_at_chance(files):
    """Configurations independent of T: the labels are random with respect to the data."""
    result = train(files["no_signal"], TrainingConfig(**FAST))
    assert np.all(np.abs(result.history["val_accuracy"] - 0.5) < 0.1)


def test_same_seed_gives_identical_weights(files):
    """With determinism, the same (seed, L, network) gives the same weights (augmentation and
    class weights included); another network index or root seed gives others."""
    config = TrainingConfig(**(FAST | {"iterations": 30, "report_every": 30}), deterministic=True)
    first = train(files["gaussian"], config).model.get_weights()
    second = train(files["gaussian"], config).model.get_weights()
    other = train(files["gaussian"], TrainingConfig(**(FAST | {"iterations": 30, "seed": 2}))).model.get_weights()
    network_1 = train(files["gaussian"], TrainingConfig(**(FAST | {"iterations": 30, "report_every": 30}),
                                                        network_index=1, deterministic=True))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other))
    assert any(not np.array_equal(a, c) for a, c in zip(first, network_1.model.get_weights()))
    assert network_1.metadata["network_index"] == 1
    assert network_1.metadata["validation_instances"] != train(
        files["gaussian"], TrainingConfig(**(FAST | {"iterations": 1}))).metadata["validation_instances"]


def test_train_rejects_wrong_L(files):
    with pytest.raises(SettingsError, match="L=4") as info:
        train(files["gaussian"], TrainingConfig(**FAST), expected_L=8)
    assert info.value.option == "--L"


# ----------------------------------------------------------------------------- prediction


def test_prediction_is_mean_of_symmetrized_model_outputs(clean, files, tmp_path):
    _, paths = clean
    out = tmp_path / "p_L4.nc"
    predict(paths["model"], files["bimodal"], out, batch_size=50, threads=1)
    with xr.open_dataset(out) as p, xr.open_dataset(files["bimodal"]) as data:
        p = p.load()
        q = data["overlap"].values
        T = data["temperature"].values
        np.testing.assert_array_equal(p["instance"], data["instance"])
        np.testing.assert_array_equal(p["temperature"], T)
    assert p["p"].dims == p["fraction_high"].dims == ("instance", "temperature")
    assert p["p"].shape == (5, 6) and p["p"].dtype == np.float64
    assert ((p["p"] >= 0) & (p["p"] <= 1)).all() and ((p["fraction_high"] >= 0) & (p["fraction_high"] <= 1)).all()
    meta = json.loads(paths["metadata"].read_text())
    attrs = p.attrs
    assert attrs["format"] == "sgpoison-prediction" and attrs["format_version"] == 2 and attrs["L"] == 4
    assert attrs["classifier"] == "cnn" and attrs["network_index"] == 0 and "n_networks" not in attrs
    assert attrs["scenario"] == "clean" and attrs["label_noise"] == 0.0 and attrs["label_noise_mode"] == "independent"
    assert attrs["t_label"] == 0.95 and attrs["training_disorder"] == "gaussian"
    assert attrs["training_sweep_fraction"] == 1.0
    assert attrs["training_data_sha256"] == file_sha256(files["gaussian"])
    assert attrs["settings_sha256"] == meta["settings_sha256"]
    assert attrs["device"] and attrs["training_device"] == meta["device"] and attrs["symmetrized"] == 1
    assert attrs["model_sha256"] == file_sha256(paths["model"])
    assert attrs["data_file"] == str(files["bimodal"])
    assert {"sgpoison_version", "git_commit", "created", "parameters"} <= set(attrs)

    model, _ = load_model(paths["model"])
    for i in (0, 3):
        for t in (0, 4):
            x = q[i, t].astype(np.float32)[..., None]
            out_it = (model.predict_on_batch(x) + model.predict_on_batch(-x)) / 2
            assert p["p"].values[i, t] == pytest.approx(out_it[:, 1].mean(), abs=1e-6)
            assert p["fraction_high"].values[i, t] == pytest.approx(np.mean(out_it.argmax(axis=1) == 1))
    # the trained network separates the synthetic phases
    assert p["p"].values[:, T < 0.95].mean() < 0.2 and p["p"].values[:, T > 0.95].mean() > 0.8


def test_sign_flipped_data_get_the_same_symmetrized_prediction(clean, files, tmp_path):
    _, paths = clean
    with xr.open_dataset(files["bimodal"]) as data:
        flipped = data.load()
    flipped["overlap"] = -flipped["overlap"]
    from sgpoison.io.formats import overlap_encoding

    flipped_path = write_netcdf(flipped, tmp_path / "flipped.nc", encoding=overlap_encoding(flipped))
    a = predict(paths["model"], files["bimodal"], batch_size=50, threads=1)
    b = predict(paths["model"], flipped_path, batch_size=50, threads=1)
    np.testing.assert_array_equal(a["p"].values, b["p"].values)
    np.testing.assert_array_equal(a["fraction_high"].values, b["fraction_high"].values)


def test_prediction_records_the_network_index_and_no_ensemble_size(files, tmp_path):
    """K is the number of network files the analysis gets (the ensemble grows by adding
    networks without touching the existing files), so no prediction file records it."""
    config = TrainingConfig(**(FAST | {"iterations": 2, "report_every": 2}), network_index=2)
    train(files["gaussian"], config, model_out=tmp_path / "cnn2.keras")
    attrs = predict(tmp_path / "cnn2.keras", files["bimodal"]).attrs
    assert attrs["network_index"] == 2 and attrs["classifier"] == "cnn" and "n_networks" not in attrs


def test_mixed_bfloat16_training_learns_and_is_recorded(files):
    result = train(files["gaussian"], TrainingConfig(**FAST, mixed_precision="mixed_bfloat16"))
    assert result.metadata["hyperparameters"]["mixed_precision"] == "mixed_bfloat16"
    assert result.metadata["evaluation"]["validation"]["accuracy"] > 0.9
    assert result.metadata["settings_sha256"] != TrainingConfig(**FAST).family_sha256()


def test_prediction_rejects_other_L(clean, files, tmp_path):
    _, paths = clean
    with pytest.raises(SettingsError, match="L=6") as info:
        predict(paths["model"], files["L6"], tmp_path / "p.nc")
    assert info.value.option == "--data"


def test_metadata_beside_the_model_when_not_embedded(clean, tmp_path):
    _, paths = clean
    bare = tmp_path / "bare.keras"
    with zipfile.ZipFile(paths["model"]) as src, zipfile.ZipFile(bare, "w") as dst:
        for name in src.namelist():
            if name != METADATA_MEMBER:
                dst.writestr(name, src.read(name))
    with pytest.raises(SettingsError, match="no sgpoison metadata"):
        read_model_metadata(bare)
    (tmp_path / "bare.json").write_text(paths["metadata"].read_text())
    assert read_model_metadata(bare)["L"] == 4


# ----------------------------------------------------------------------------- command line


@pytest.mark.parametrize("extra, option", [
    (["--label-noise", "0.5"], "--label-noise"),
    (["--label-noise", "-0.01"], "--label-noise"),
    (["--padding", "reflect"], "--padding"),
    (["--network-index", "-1"], "--network-index"),
    (["--mixed-precision", "float64"], "--mixed-precision"),
    (["--patience", "0"], "--patience"),
    (["--iterations", "0"], "--iterations"),
    (["--validation-fraction", "1.0"], "--validation-fraction"),
    (["--batch-size", "abc"], "--batch-size"),
    (["--t-label", "5.0"], "--t-label"),
    (["--L", "8"], "--L"),
])
def test_train_cli_bad_arguments_exit_2(files, tmp_path, capsys, extra, option):
    argv = ["train", "--data", str(files["gaussian"]), "--out", str(tmp_path / "m.keras"),
            "--history", str(tmp_path / "h.csv"), "--metadata", str(tmp_path / "m.json"),
            "--iterations", "2", "--batch-size", "16", "--threads", "1"] + extra
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert option in err
    assert not (tmp_path / "m.keras").exists()


def test_cli_missing_files_exit_2(files, tmp_path, capsys):
    code, err = run_cli(["train", "--data", str(tmp_path / "nope.nc"), "--out", str(tmp_path / "m.keras"),
                         "--history", str(tmp_path / "h.csv"), "--metadata", str(tmp_path / "m.json")], capsys)
    assert code == 2 and "--data" in err
    code, err = run_cli(["predict", "--model", str(tmp_path / "nope.keras"), "--data", str(files["bimodal"]),
                         "--out", str(tmp_path / "p.nc")], capsys)
    assert code == 2 and "--model" in err


def test_cli_train_then_predict(files, tmp_path, capsys):
    model, history, metadata = tmp_path / "m.keras", tmp_path / "h.csv", tmp_path / "m.json"
    code, err = run_cli(["train", "--data", str(files["gaussian"]), "--out", str(model), "--history", str(history),
                         "--metadata", str(metadata), "--L", "4", "--scenario", "label_noise_1pct",
                         "--label-noise", "0.01", "--seed", "3", "--iterations", "20", "--batch-size", "32",
                         "--padding", "same", "--threads", "1", "--report-every", "10", "--network-index", "1",
                         "--no-augment-sign-flip", "--no-balance-classes"], capsys)
    assert code == 0, err
    meta = json.loads(metadata.read_text())
    assert meta["scenario"] == "label_noise_1pct" and meta["label_noise"] == 0.01
    assert meta["hyperparameters"]["padding"] == "same" and meta["hyperparameters"]["iterations"] == 20
    assert meta["network_index"] == 1 and meta["augmentation"]["sign_flip"] is False
    assert meta["class_weight"] == {"0": 1.0, "1": 1.0} and meta["hyperparameters"]["balance_classes"] is False
    assert len(pd.read_csv(history)) == 2
    out = tmp_path / "p.nc"
    code, err = run_cli(["predict", "--model", str(model), "--data", str(files["bimodal"]), "--out", str(out),
                         "--threads", "1", "--batch-size", "64"], capsys)
    assert code == 0, err
    with xr.open_dataset(out) as p:
        assert p.attrs["scenario"] == "label_noise_1pct" and p.attrs["label_noise"] == 0.01
        assert p.attrs["network_index"] == 1 and "n_networks" not in p.attrs
        assert p["p"].shape == (5, 6)
    code, err = run_cli(["predict", "--model", str(model), "--data", str(files["L6"]), "--out",
                         str(tmp_path / "p6.nc")], capsys)
    assert code == 2 and "--data" in err and "L=6" in err
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
