"""NetCDF simulation format: writing, validated reading, merging, CLI errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from sgpoison.errors import DataFormatError
from sgpoison.io.formats import merge_simulations, open_simulation, write_netcdf
from sgpoison.mc.parallel_tempering import SimulationParameters, simulate


def params(**kw):
    base = dict(L=3, disorder="gaussian", instance_start=0, instance_stop=2, n_sweeps=16,
                t_min=0.8, t_max=1.2, n_temps=3, n_snapshots=2, measure_interval=2, seed=4)
    base.update(kw)
    return SimulationParameters(**base)


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    a = simulate(params(), d / "a.nc")
    b = simulate(params(instance_start=2, instance_stop=5), d / "b.nc")
    return d, a, b


def test_written_file_is_valid_and_documented(batches):
    _, a, _ = batches
    ds = open_simulation(a)
    assert ds["overlap"].dtype == np.int8 and ds["couplings"].dtype == np.float32
    assert ds.attrs["L"] == 3 and ds.attrs["n_sweeps_run"] == 16
    params_attr = json.loads(ds.attrs["parameters"])
    assert params_attr["seed"] == 4 and params_attr["instances"] == "0:2"
    for key in ("sgpoison_version", "git_commit", "created"):
        assert ds.attrs[key]
    # energies recomputed from the stored couplings? Overlaps alone do not fix spins, but the
    # stored energy must lie within the bounds set by the stored couplings
    bound = np.abs(ds["couplings"]).sum(("x", "y", "z", "direction")) / 27
    assert (np.abs(ds["energy"]).max(("temperature", "snapshot", "replica")) <= bound + 1e-9).all()
    ds.close()


def test_merge_concatenates_and_refuses_mixed_parameters(batches, tmp_path):
    d, a, b = batches
    merged = open_simulation(merge_simulations([b, a], tmp_path / "m.nc"))
    assert list(merged["instance"].values) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(merged["overlap"].sel(instance=3).values,
                                  xr.open_dataset(b)["overlap"].sel(instance=3).values)
    other = simulate(params(instance_start=5, instance_stop=6, sweep_fraction=0.5), tmp_path / "o.nc")
    with pytest.raises(DataFormatError, match="sweep_fraction"):
        merge_simulations([a, other], tmp_path / "bad.nc")
    scalar = simulate(params(instance_start=5, instance_stop=6, kernel="scalar"), tmp_path / "s.nc")
    with pytest.raises(DataFormatError, match="kernel = scalar"):  # a and b use the default (lanes)
        merge_simulations([a, scalar], tmp_path / "bad.nc")
    merged_params = json.loads(merged.attrs["parameters"])
    assert merged_params["instances"] == ["2:5", "0:2"]
    assert [m["instances"] for m in json.loads(merged.attrs["merged_from"])] == ["2:5", "0:2"]
    with pytest.raises(DataFormatError, match="more than one"):
        merge_simulations([a, a], tmp_path / "dup.nc")
    assert not (tmp_path / "bad.nc").exists()


def test_invalid_files_give_clear_errors(batches, tmp_path):
    _, a, _ = batches
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(a.read_bytes()[:2000])
    with pytest.raises(DataFormatError, match="truncated.nc"):
        open_simulation(truncated)
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        open_simulation(tmp_path / "missing.nc")
    ds = xr.open_dataset(a).load()
    write_netcdf(ds.drop_vars("link_overlap"), tmp_path / "novar.nc")
    with pytest.raises(DataFormatError, match="novar.nc: missing variable 'link_overlap'"):
        open_simulation(tmp_path / "novar.nc")
    bad = ds.copy()
    bad.attrs["L"] = 4
    write_netcdf(bad, tmp_path / "badL.nc")
    with pytest.raises(DataFormatError, match="L=4"):
        open_simulation(tmp_path / "badL.nc")
    other = ds.copy()
    other.attrs["format"] = "something-else"
    write_netcdf(other, tmp_path / "other.nc")
    with pytest.raises(DataFormatError, match="not an sgpoison simulation file"):
        open_simulation(tmp_path / "other.nc")


def test_atomic_write_keeps_existing_file_on_failure(batches, tmp_path):
    _, a, _ = batches
    target = tmp_path / "keep.nc"
    target.write_bytes(a.read_bytes())


    bad = xr.Dataset({"v": ("x", np.array([object()], dtype=object))})
    with pytest.raises(Exception):
        write_netcdf(bad, target)
    assert target.read_bytes() == a.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.nc"]


@pytest.mark.parametrize("bad", [
    ["--L", "1"], ["--t-min", "1.3"], ["--sweep-fraction", "0"], ["--sweep-fraction", "1.5"],
    ["--disorder", "uniform"], ["--instances", "5:2"], ["--threads", "0"],
])
def test_simulate_cli_bad_arguments_exit_2(bad, tmp_path):
    args = dict(zip(["--L", "--disorder", "--instances", "--n-sweeps", "--t-min", "--t-max",
                     "--n-temps", "--out"],
                    ["3", "gaussian", "0:1", "8", "0.8", "1.2", "3", str(tmp_path / "x.nc")]))
    for k, v in zip(bad[::2], bad[1::2]):
        args[k] = v
    argv = [a for kv in args.items() for a in kv]
    res = subprocess.run([sys.executable, "-m", "sgpoison.cli", "simulate", *argv],
                         capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "error" in res.stderr
    assert not (tmp_path / "x.nc").exists()


def _simulate_cli(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "sgpoison.cli", "simulate", "--L", "3", "--disorder",
                           "gaussian", "--instances", "0:2", "--n-sweeps", "8", "--t-min", "0.5",
                           "--t-max", "1.5", "--n-temps", "3", "--n-snapshots", "2", *extra],
                          capture_output=True, text=True)


def test_simulate_cli_refuses_bad_outputs_and_checkpoints_before_running(tmp_path):
    res = _simulate_cli(tmp_path, "--out", str(tmp_path))
    assert res.returncode == 2 and "--out" in res.stderr and "is a directory" in res.stderr
    damaged = tmp_path / "damaged.npz"
    damaged.write_text("garbage")
    res = _simulate_cli(tmp_path, "--checkpoint", str(damaged), "--out", str(tmp_path / "a.nc"))
    assert res.returncode == 2 and "damaged.npz is damaged" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "a.nc").exists()
    # a checkpoint in a directory that does not exist yet is created there
    res = _simulate_cli(tmp_path, "--checkpoint", str(tmp_path / "new" / "ck.npz"),
                        "--checkpoint-every", "0", "--out", str(tmp_path / "b.nc"))
    assert res.returncode == 0, res.stderr
    res = _simulate_cli(tmp_path, "--t-max", "inf", "--out", str(tmp_path / "c.nc"))
    assert res.returncode == 2 and "--t-max" in res.stderr


def test_cli_bad_input_file_names_it_without_traceback(tmp_path):
    """A missing input is a bad argument (exit 2), an unreadable one a bad file (exit 1)."""
    res = subprocess.run([sys.executable, "-m", "sgpoison.cli", "merge", "--inputs",
                          str(tmp_path / "missing.nc"), "--out", str(tmp_path / "m.nc")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "missing.nc" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "garbage.nc").write_text("not NetCDF")
    res = subprocess.run([sys.executable, "-m", "sgpoison.cli", "merge", "--inputs",
                          str(tmp_path / "garbage.nc"), "--out", str(tmp_path / "m.nc")],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "sgpoison merge: error: " in res.stderr and "garbage.nc" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "m.nc").exists()


def test_simulate_cli_writes_file(tmp_path):
    out = tmp_path / "cli.nc"
    res = subprocess.run([sys.executable, "-m", "sgpoison.cli", "simulate", "--L", "3", "--disorder",
                          "bimodal", "--instances", "0:2", "--n-sweeps", "8", "--t-min", "0.5",
                          "--t-max", "1.5", "--n-temps", "3", "--n-snapshots", "2", "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert open_simulation(out).attrs["disorder"] == "bimodal"
