"""The Monte Carlo kernels' measured speed on this machine: :func:`nanoseconds_per_flip`.

The calibration of ``sgpoison cost`` (:mod:`sgpoison.report.cost`) and the timing of
``benchmarks/bench_mc.py``. A module of its own, not part of :mod:`sgpoison.mc.cost`, so that
the code of ``sgpoison simulate`` (its code fingerprint, :mod:`sgpoison.io.provenance`) does not
depend on it.
"""

from __future__ import annotations

import dataclasses
import time

from sgpoison.errors import SettingsError
from sgpoison.mc import kernels
from sgpoison.mc.cost import spin_flip_attempts
from sgpoison.mc.lattice import neighbours
from sgpoison.mc.parallel_tempering import SimulationParameters, SimulationState, total_sweeps
from sgpoison.settings import THREAD_COUNT


def nanoseconds_per_flip(params: SimulationParameters, seconds: float, threads: int = 1,
                         measure: bool = True) -> tuple[float, float]:
    """Measured time per spin-flip attempt of ``params``' kernel on this machine, in ns:
    (wall time, CPU time of this process).

    Runs the engine's kernel (:func:`sgpoison.mc.kernels.run_sweeps`, the kernel
    ``params.kernel``) on the disorder of ``params`` (its instances, ladder and swap interval;
    one snapshot, log bins for 2^40 sweeps, so that its memory stays small) for about
    ``seconds``: an untimed first sweep, then calls of n sweeps (about ``seconds`` / 3 each, so
    that converting the state in and out of the kernel's layout, about half a sweep per call,
    stays below 1 % as in the engine's calls of about a second) until ``seconds`` have passed; at
    least one timed call. ``measure``: log-binned measurements every sweep, as in
    the thermalization of a production run. Each figure is total time / attempts. Other work
    on the machine makes the wall time larger, and the CPU time (the core-hours of a job on a
    core of its own) less so, through shared caches and context switches; with several threads
    the CPU time is that of all of them.

    Raises
    ------
    SettingsError
        If ``threads`` is not a positive integer.
    """
    if threads not in THREAD_COUNT:
        raise SettingsError(f"threads must be {THREAD_COUNT.describe()}, got {threads!r}", key="threads")
    params = dataclasses.replace(params, n_sweeps=1 << 40, sweep_fraction=1.0, n_snapshots=1)
    state = SimulationState(params)
    table, betas = neighbours(params.L), 1.0 / params.temperatures
    flips_per_sweep = spin_flip_attempts(params) // total_sweeps(params)
    done = 0

    def call(n: int) -> tuple[float, float]:
        nonlocal done
        wall, cpu = time.perf_counter(), time.process_time()
        kernels.run_sweeps(params.kernel, state, table, betas, done, n, params.swap_interval, measure,
                           threads, params.disorder)
        done += n
        return time.perf_counter() - wall, time.process_time() - cpu

    first, _ = call(1)
    n = max(1, int(seconds / 3 / max(first, 1e-9)))
    wall = cpu = 0.0
    timed = 0
    while timed == 0 or wall < seconds:
        dw, dc = call(n)
        wall, cpu, timed = wall + dw, cpu + dc, timed + n
    flips = timed * flips_per_sweep
    return wall / flips * 1e9, cpu / flips * 1e9
