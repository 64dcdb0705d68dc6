"""SIGTERM (Slurm's time limit, preemption) and SIGINT (Ctrl-C) during ``sgpoison simulate``: a
final checkpoint, a clear message, exit 128 + signal, and a bitwise-identical resume. Also the
other ways a simulate job could lose work or crash late: a damaged checkpoint, a job too large
for memory."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from builders import run_cli
from sgpoison.cli._common import termination_signals
from sgpoison.errors import Interrupted
from sgpoison.mc import cost
from sgpoison.mc.lattice import neighbours
from sgpoison.mc.parallel_tempering import SimulationParameters, SimulationState, run, simulate

PARAMS = dict(L=4, disorder="gaussian", instance_start=0, instance_stop=2, n_sweeps=256, t_min=0.8,
              t_max=1.2, n_temps=4, n_snapshots=3, measure_interval=2, seed=7)
ARGV = ["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "256",
        "--t-min", "0.8", "--t-max", "1.2", "--n-temps", "4", "--n-snapshots", "3", "--measure-interval", "2",
        "--seed", "7"]
COMPARED = ("overlap", "energy", "q", "link_overlap", "energy_log_binned", "q2_log_binned",
            "link_overlap_log_binned", "swap_acceptance", "couplings")

#: ``sgpoison`` whose kernel calls are one sweep each and take 50 ms more: a run of 256
#: thermalization sweeps lasts > 12 s, so a signal sent when it starts lands mid-thermalization
SLOW_SGPOISON = textwrap.dedent("""
    import sys, time
    from sgpoison.mc import kernels, parallel_tempering
    parallel_tempering._FLIPS_PER_CALL = 1
    run_sweeps = kernels.run_sweeps
    def slow_run_sweeps(*args):
        time.sleep(0.05)
        run_sweeps(*args)
    kernels.run_sweeps = slow_run_sweeps
    from sgpoison.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in-process, with the engine's usual kernel calls."""
    path = tmp_path_factory.mktemp("reference") / "reference.nc"
    simulate(SimulationParameters(**PARAMS), path)
    with xr.open_dataset(path) as ds:
        return ds.load()


def _interrupt(tmp_path, signum):
    """Start the slow simulate with a checkpoint, send ``signum`` once it runs; return the result."""
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "run.nc"
    process = subprocess.Popen([sys.executable, "-c", SLOW_SGPOISON, *ARGV, "--checkpoint", str(ckpt),
                                "--checkpoint-every", "1e9", "--out", str(out)],
                               stderr=subprocess.PIPE, text=True)
    first_line = process.stderr.readline()  # printed once the signal handlers are in place
    assert first_line.startswith("sgpoison simulate: L=4 gaussian instances 0:2"), first_line
    process.send_signal(signum)
    rest = process.stderr.read()
    return process.wait(timeout=120), rest, ckpt, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_thermalization_checkpoints_exits_nonzero_and_resumes_identically(
        signum, tmp_path, reference):
    code, err, ckpt, out = _interrupt(tmp_path, signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    assert f"sgpoison simulate: interrupted: stopped by {name} after " in err, err
    assert f"thermalization sweeps; state saved to the checkpoint {ckpt}" in err, err
    assert "Traceback" not in err and not out.exists()
    with np.load(ckpt) as saved:  # periodic checkpoints were off: this one is the final one
        sweeps_done, snapshots_done = saved["counters"]
    assert 0 < sweeps_done < PARAMS["n_sweeps"] and snapshots_done == 0
    # resume: the same command (here the ordinary sgpoison, with the engine's usual kernel calls)
    result = subprocess.run([sys.executable, "-m", "sgpoison.cli", *ARGV, "--checkpoint", str(ckpt),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"resuming from {ckpt}" in result.stderr
    assert not ckpt.exists()
    with xr.open_dataset(out) as resumed:
        for variable in COMPARED:
            np.testing.assert_array_equal(resumed[variable].values, reference[variable].values, err_msg=variable)


def test_without_checkpoint_the_message_says_nothing_was_saved(tmp_path):
    params = SimulationParameters(**PARAMS)
    with pytest.raises(Interrupted, match="stopped by SIGTERM after .* no --checkpoint was given") as info:
        run(params, stop=lambda: signal.SIGTERM)
    assert info.value.exit_status == 143
    assert list(tmp_path.iterdir()) == []


def test_termination_signals_become_a_flag_and_the_handlers_come_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with termination_signals() as received:
        assert received() is None
        os.kill(os.getpid(), signal.SIGTERM)  # the process survives it
        assert received() == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # after the first signal, a second acts as usual
            os.kill(os.getpid(), signal.SIGINT)
        assert received() == signal.SIGTERM
    assert {s: signal.getsignal(s) for s in before} == before


# ------------------------------------------------------------------------------------------
# a damaged checkpoint, a job too large for memory: refused before any work
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["half", "empty", "garbage"])
def test_damaged_checkpoint_is_named_and_kept(damage, tmp_path, capsys):
    params = SimulationParameters(**PARAMS)
    ckpt = tmp_path / "run.npz"
    SimulationState(params).save(ckpt, params)
    content = ckpt.read_bytes()
    ckpt.write_bytes({"half": content[: len(content) // 2], "empty": b"", "garbage": b"PK\x03\x04junk"}[damage])
    damaged = ckpt.read_bytes()
    code, err = run_cli(ARGV + ["--checkpoint", str(ckpt), "--out", str(tmp_path / "out.nc")], capsys)
    assert code == 2
    assert f"argument --checkpoint: checkpoint {ckpt} is damaged or not a checkpoint" in err
    assert "delete it to start afresh" in err and "Traceback" not in err
    assert ckpt.read_bytes() == damaged and not (tmp_path / "out.nc").exists()


def test_checkpoint_that_is_the_output_is_refused_by_the_library(tmp_path):
    with pytest.raises(ValueError, match="is the output file"):
        simulate(SimulationParameters(**PARAMS), tmp_path / "same.nc", checkpoint=tmp_path / "." / "same.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shared_fractions", [(), (0.9,), (0.95, 0.9)])
def test_state_bytes_are_the_engine_s_arrays(shared_fractions):
    """Exact when the shared fractions keep every log bin (n_sweeps_run 38 and 36 of 40 do)."""
    params = SimulationParameters(**{**PARAMS, "n_snapshots": 5, "n_temps": 3, "instance_stop": 3, "n_sweeps": 40})
    state = SimulationState(params, shared_fractions)
    arrays = [v for v in vars(state).values() if isinstance(v, np.ndarray)] + [neighbours(params.L)]
    arrays += [v for s in state.sets for v in vars(s).values() if isinstance(v, np.ndarray)]
    sets = 1 + len(shared_fractions)
    assert cost.state_bytes(params, sets) == sum(a.nbytes for a in arrays)
    assert cost.peak_bytes(params, sets) > cost.state_bytes(params, sets)


def test_job_too_large_for_memory_is_refused_with_the_figure(tmp_path, capsys, monkeypatch):
    """L = 400 with 20 temperatures and 100 snapshots stores 128 GB of overlaps per instance."""
    limit, source = cost.memory_limit()
    assert 0 < limit <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") and source
    monkeypatch.setattr(cost, "memory_limit", lambda: (64 * 10**9, "the test's limit"))
    argv = ["simulate", "--L", "400", "--disorder", "bimodal", "--instances", "0:1", "--n-sweeps", "8",
            "--t-min", "0.8", "--t-max", "1.2", "--n-temps", "20", "--out", str(tmp_path / "big.nc")]
    code, err = run_cli(argv, capsys)
    params = SimulationParameters(L=400, disorder="bimodal", instance_start=0, instance_stop=1, n_sweeps=8,
                                  t_min=0.8, t_max=1.2, n_temps=20)
    assert code == 2
    assert (f"sgpoison simulate: error: L = 400 with 1 instance(s), 20 temperatures and 100 snapshots needs "
            f"about {cost.peak_bytes(params) / 1e9:.3g} GB of memory (the stored overlaps alone 128 GB), more "
            "than the 64 GB of the test's limit") in err, err
    assert list(tmp_path.iterdir()) == []
