"""Cost of a simulation job: spin-flip attempts, run time and memory (for the workflow's scheduler).

Used by ``workflow/rules/common.smk`` to size the ``runtime`` and ``mem_mb`` of each
``simulate`` job (Slurm kills a job that exceeds them), and by ``sgpoison simulate`` to refuse,
before allocating anything, a job that cannot fit in memory (:func:`check_memory`). The per-flip costs are those of
the default kernels in a portable build (docs/benchmarks.md: lanes 6.6 ns Gaussian,
multispin 0.44 ns bimodal; host builds are about 4x faster), rounded up.
"""

from __future__ import annotations

import math
import os

from sgpoison.errors import SettingsError
from sgpoison.mc.parallel_tempering import SimulationParameters, total_sweeps

#: wall time of one spin-flip attempt on one thread, measurements on, in ns
NANOSECONDS_PER_SPIN_FLIP = {"gaussian": 7.0, "bimodal": 1.0}
#: run time requested relative to the estimate
RUNTIME_SAFETY = 3
#: shortest run time requested, in minutes
MIN_RUNTIME_MINUTES = 10
#: memory beyond the stored overlaps (Python, NumPy, netCDF4), in MB
BASE_MEMORY_MB = 1000
#: copies of the stored overlaps held at once (state, dataset, encoder)
OVERLAP_COPIES = 3


def spin_flip_attempts(params: SimulationParameters) -> int:
    """Spin-flip attempts of the whole job: instances x 2 replicas x N_T x L^3 x all sweeps."""
    n_instances = params.instance_stop - params.instance_start
    return n_instances * 2 * params.n_temps * params.L ** 3 * total_sweeps(params)


def runtime_minutes(params: SimulationParameters) -> int:
    """Minutes to request for the job on one thread: :data:`RUNTIME_SAFETY` times the estimate,
    at least :data:`MIN_RUNTIME_MINUTES`."""
    seconds = spin_flip_attempts(params) * NANOSECONDS_PER_SPIN_FLIP[params.disorder] * 1e-9
    return max(MIN_RUNTIME_MINUTES, math.ceil(RUNTIME_SAFETY * seconds / 60))


def memory_mb(params: SimulationParameters, snapshot_sets: int = 1) -> int:
    """MB to request: the stored overlaps (int8, one byte per site) of ``snapshot_sets`` sweep
    fractions (the run's own and its shared ones) :data:`OVERLAP_COPIES` times over, plus
    :data:`BASE_MEMORY_MB`."""
    n_instances = params.instance_stop - params.instance_start
    overlap_bytes = snapshot_sets * n_instances * params.n_temps * params.n_snapshots * params.L ** 3
    return BASE_MEMORY_MB + math.ceil(OVERLAP_COPIES * overlap_bytes / 1e6)


def state_bytes(params: SimulationParameters, snapshot_sets: int = 1) -> int:
    """Bytes of the arrays the engine keeps for the whole job
    (:class:`~sgpoison.mc.parallel_tempering.SimulationState` and the neighbour table), with
    ``snapshot_sets`` sets of snapshots and log bins (the run's own and its shared fractions').

    With n instances, T temperatures, S snapshots, N = L^3 sites and B log bins: overlaps
    n T S N and spins 2 n T N (int8); snapshot energies, q, q_l 32 n T S and log bins
    24 n T B (float64); couplings 12 n N (float32) and neighbour couplings 48 n N (float64);
    neighbour table 24 N (int32); temperature slots, energies, swap counts and random
    states 24 n T + 16 n (T - 1) + 64 n. Each further set adds its snapshots, a copy of the
    log bins (at most B) and of the swap counts.
    """
    n = params.instance_stop - params.instance_start
    T, S, N, B = params.n_temps, params.n_snapshots, params.L ** 3, params.n_log_bins
    return (snapshot_sets * (n * T * S * N + 32 * n * T * S + 24 * n * T * B + 16 * n * (T - 1))
            + 2 * n * T * N + 60 * n * N + 24 * N + 24 * n * T + 64 * n)


#: temporaries of a measurement, in bytes per (instance, temperature, site): float64 copies of
#: one snapshot's overlaps and of their products with 3 neighbours (measured: 70-80)
MEASUREMENT_BYTES_PER_SITE = 80


def peak_bytes(params: SimulationParameters, snapshot_sets: int = 1) -> int:
    """Estimated peak memory of the job's arrays: :func:`state_bytes` plus the temporaries of a
    measurement (:data:`MEASUREMENT_BYTES_PER_SITE`; larger than those of the couplings, about
    100 n N, for every N_T >= 2), excluding the interpreter and libraries."""
    n = params.instance_stop - params.instance_start
    return state_bytes(params, snapshot_sets) + MEASUREMENT_BYTES_PER_SITE * n * params.n_temps * params.L ** 3


def memory_limit() -> tuple[int, str]:
    """The memory this process may use, in bytes, and where the limit comes from: the
    smallest of the physical memory, the cgroup's ``memory.max`` (a Slurm job's allocation,
    a container's limit) and ``ulimit -v``."""
    import resource

    limits = [(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "the machine's physical memory")]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append((int(text), f"the cgroup limit ({path})"))
        break
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append((soft, "the address-space limit (ulimit -v)"))
    return min(limits)


def check_memory(params: SimulationParameters, snapshot_sets: int = 1) -> None:
    """Refuse a job whose arrays (:func:`peak_bytes` of ``snapshot_sets`` sets) cannot fit in
    :func:`memory_limit`.

    Raises
    ------
    SettingsError
        Naming the estimate, the limit and what to reduce.
    """
    need = peak_bytes(params, snapshot_sets)
    limit, source = memory_limit()
    if need > limit:
        n = params.instance_stop - params.instance_start
        overlaps = snapshot_sets * n * params.n_temps * params.n_snapshots * params.L ** 3
        raise SettingsError(
            f"L = {params.L} with {n} instance(s), {params.n_temps} temperatures and {params.n_snapshots} "
            f"snapshots needs about {need / 1e9:.3g} GB of memory (the stored overlaps alone "
            f"{overlaps / 1e9:.3g} GB), more than the {limit / 1e9:.3g} GB of {source}; simulate "
            "fewer instances per job (--instances), fewer snapshots (--n-snapshots) or a smaller L, "
            "or run on a machine with more memory")
