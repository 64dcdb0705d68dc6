"""Model files (sgpoison.ml.model_io): metadata embedded in the .keras archive, files of older versions."""

import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sgpoison.errors import SettingsError  # noqa: E402
from sgpoison.ml.model_io import METADATA_MEMBER, load_model, read_model_metadata, save_model  # noqa: E402
from sgpoison.ml.network import build_model  # noqa: E402


def _rewrite_member(path, name, edit):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[name] = edit(members[name])
    with zipfile.ZipFile(path, "w") as archive:
        for n, data in members.items():
            archive.writestr(n, data)


def test_model_written_before_the_package_layout_still_loads(tmp_path):
    """Keras records the module of PeriodicPadding3D; models of sgpoison <= 0.1 name sgpoison.network."""
    model = build_model(4, padding="periodic")
    path = save_model(model, tmp_path / "old.keras", {"L": 4, "scenario": "clean", "label_noise": float("nan")})
    assert read_model_metadata(path) == {"L": 4, "scenario": "clean", "label_noise": None}
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    modules = {layer["module"] for layer in config["config"]["layers"] if layer["class_name"] == "PeriodicPadding3D"}
    assert modules == {"sgpoison.ml.network"}
    _rewrite_member(path, "config.json", lambda data: data.replace(b'"sgpoison.ml.network"', b'"sgpoison.network"'))
    loaded, metadata = load_model(path)
    x = np.random.default_rng(0).choice([-1.0, 1.0], size=(3, 4, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), rtol=1e-6)
    assert metadata["L"] == 4


def test_models_without_metadata_or_of_another_size_are_refused(tmp_path):
    path = save_model(build_model(4), tmp_path / "m.keras", {"L": 6})
    with pytest.raises(SettingsError, match="model input L=4 but metadata L=6") as info:
        load_model(path)
    assert info.value.option == "--model"
    _rewrite_member(path, METADATA_MEMBER, lambda data: b"{}")
    with pytest.raises(SettingsError, match="lack 'L'"):
        read_model_metadata(path)
    with pytest.raises(ValueError, match="must end in '.keras'"):
        save_model(build_model(4), tmp_path / "m.h5", {"L": 4})
