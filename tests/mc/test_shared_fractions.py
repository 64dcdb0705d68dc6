"""Snapshot sets of smaller sweep fractions recorded inside one run (``shared_fractions``).

A set of fraction g recorded on the way must be what a separate run of fraction g records:
the same chain (same couplings, streams and sweeps), snapshots from sweep round(g N_sw) on, log
bins cut there, swap counts up to its last snapshot. The kernels whose trajectory does not
depend on measuring (scalar, lanes, multispin) give it bitwise; lanes32 recounts energies in
measuring sweeps, so it is bitwise up to the first sweep after round(g N_sw).
"""

import dataclasses

import numpy as np
import pytest
import xarray as xr
from test_engine import small_params
from test_kernels import COMBINATIONS

from sgpoison.cli import main
from sgpoison.mc import kernels
from sgpoison.mc import parallel_tempering as engine
from sgpoison.mc.parallel_tempering import run, shared_parameters, simulate, to_dataset

#: what a data set of one sweep fraction holds
FIELDS = ("overlap", "energy", "q", "link_overlap", "energy_log_binned", "q2_log_binned",
          "link_overlap_log_binned", "swap_acceptance", "couplings", "instance_seed")


def _params(kernel, disorder, **kw):
    # 8 + 16 instances: more than one vector of every kernel but multispin's 64
    base = dict(kernel=kernel, disorder=disorder, instance_start=0, instance_stop=24 if kernel != "scalar" else 3,
                n_sweeps=301, n_snapshots=12, measure_interval=5)
    return small_params(**(base | kw))


@pytest.mark.parametrize("disorder, kernel", COMBINATIONS)
def test_shared_set_is_the_separate_run(disorder, kernel):
    params = _params(kernel, disorder)
    state = run(params, shared_fractions=[0.25, 0.5])
    for g in (0.5, 0.25):
        alone = dataclasses.replace(params, sweep_fraction=g)
        shared, separate = to_dataset(state, alone), to_dataset(run(alone), alone)
        assert shared.attrs["sweep_fraction"] == g and shared.attrs["n_sweeps_run"] == alone.n_sweeps_run
        assert shared.attrs["recorded_in_run_with_sweep_fraction"] == 1.0
        assert "recorded_in_run_with_sweep_fraction" not in separate.attrs
        assert shared.sizes == separate.sizes
        if kernel == "lanes32":  # identical up to the first snapshot, where the runs' measuring differs
            fields = ("energy_log_binned", "q2_log_binned", "link_overlap_log_binned", "couplings")
            for name in ("overlap", "energy", "q", "link_overlap"):
                np.testing.assert_array_equal(shared[name].isel(snapshot=0).values,
                                              separate[name].isel(snapshot=0).values, err_msg=name)
        else:
            fields = FIELDS
        for name in fields:
            np.testing.assert_array_equal(shared[name].values, separate[name].values, err_msg=f"{g} {name}")
    own = to_dataset(state, params)  # the run's own data do not change by recording others
    reference = to_dataset(run(params), params)
    for name in FIELDS:
        np.testing.assert_array_equal(own[name].values, reference[name].values, err_msg=name)
    assert "recorded_in_run_with_sweep_fraction" not in own.attrs


def test_checkpoint_resume_with_shared_sets_is_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "_FLIPS_PER_CALL", 4 * 2 * 6 * 64 * 7)  # 7 sweeps per kernel call
    monkeypatch.setattr(kernels, "RELATIVE_SPEED", dict.fromkeys(kernels.KERNELS, 1))
    params = _params("lanes32", "gaussian", instance_stop=4, n_sweeps=100, n_snapshots=6)
    half = dataclasses.replace(params, sweep_fraction=0.5)
    state = run(params, shared_fractions=[0.5])
    ckpt = tmp_path / "run.npz"
    calls = []

    def die(n):  # call 9 ends at sweep 55: mid-way through the f = 0.5 set's snapshots (50, 55, ..., 75)
        calls.append(n)
        if len(calls) == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(params, checkpoint=ckpt, checkpoint_every=0.0, progress=die, shared_fractions=[0.5])
    with pytest.raises(ValueError, match=r"shared_fractions: checkpoint \[0.5\], now None"):
        run(params, checkpoint=ckpt)  # a checkpoint binds its shared fractions
    with pytest.raises(ValueError, match=r"shared_fractions: checkpoint \[0.5\], now \[0.5, 0.25\]"):
        run(params, checkpoint=ckpt, shared_fractions=[0.5, 0.25])  # more sets: not "damaged"
    out_half = tmp_path / "half.nc"
    simulate(params, tmp_path / "run.nc", checkpoint=ckpt, checkpoint_every=0.0, shared=[(0.5, out_half)])
    assert not ckpt.exists()
    for path, p in ((tmp_path / "run.nc", params), (out_half, half)):
        written, reference = xr.open_dataset(path), to_dataset(state, p)
        for name in FIELDS:
            np.testing.assert_array_equal(written[name].values, reference[name].values, err_msg=f"{path} {name}")


def test_shared_fractions_are_checked():
    params = small_params()
    for bad in ([1.0], [0.0], [1.5], [float("nan")], [0.5, 0.5]):
        with pytest.raises(ValueError, match="shared"):
            shared_parameters(params, bad)
    assert [p.sweep_fraction for p in shared_parameters(params, [0.25, 0.5])] == [0.5, 0.25]
    with pytest.raises(ValueError, match="no snapshot set of sweep fraction 0.5"):
        to_dataset(run(small_params(n_sweeps=10, n_snapshots=1)), small_params(sweep_fraction=0.5))


def test_simulate_refuses_two_outputs_in_one_file(tmp_path):
    with pytest.raises(ValueError, match="two outputs are the same file"):
        simulate(small_params(), tmp_path / "a.nc", shared=[(0.5, tmp_path / "." / "a.nc")])
    with pytest.raises(ValueError, match="is the output file"):
        simulate(small_params(), tmp_path / "a.nc", checkpoint=tmp_path / "b.nc", shared=[(0.5, tmp_path / "b.nc")])
    assert list(tmp_path.iterdir()) == []


ARGV = ["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "40",
        "--t-min", "0.8", "--t-max", "1.2", "--n-temps", "4", "--n-snapshots", "3", "--measure-interval", "2"]


def test_cli_writes_every_fraction(tmp_path):
    out = {g: tmp_path / f"f{g}.nc" for g in (1.0, 0.5, 0.25)}
    assert main(ARGV + ["--out", str(out[1.0]), "--shared-fraction", "0.5", str(out[0.5]),
                        "--shared-fraction", "0.25", str(out[0.25])]) == 0
    for g, path in out.items():
        with xr.open_dataset(path) as ds:
            assert ds.attrs["sweep_fraction"] == g and ds.attrs["n_sweeps_run"] == round(40 * g)
            assert ds.attrs.get("recorded_in_run_with_sweep_fraction", 1.0) == 1.0


@pytest.mark.parametrize("extra, message", [
    (["--shared-fraction", "1", "{d}/b.nc"], "argument --shared-fraction: a shared sweep fraction must lie in (0, 1.0), the run's own sweep fraction, got 1.0"),
    (["--shared-fraction", "half", "{d}/b.nc"], "argument --shared-fraction: expected a sweep fraction G"),
    (["--shared-fraction", "0.5", "{d}/b.nc", "--shared-fraction", "0.5", "{d}/c.nc"], "fractions repeat: 0.5, 0.5"),
    (["--shared-fraction", "0.5", "{d}/a.nc"], "a.nc is also the output --out"),
    (["--shared-fraction", "0.5", "{d}"], "is a directory"),
    (["--sweep-fraction", "0.5", "--shared-fraction", "0.5", "{d}/b.nc"], "must lie in (0, 0.5)"),
])
def test_cli_refuses_bad_shared_fractions_before_any_work(tmp_path, capsys, extra, message):
    (tmp_path / "a.nc").write_bytes(b"finished result")
    with pytest.raises(SystemExit) as exit_:
        main(ARGV + ["--out", str(tmp_path / "a.nc")] + [x.format(d=tmp_path) for x in extra])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc"]
    assert (tmp_path / "a.nc").read_bytes() == b"finished result"
