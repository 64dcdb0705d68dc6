"""Cost of a simulation job: spin-flip attempts, run time and memory (for the workflow's scheduler).

Used by ``workflow/rules/common.smk`` to size the ``runtime`` and ``mem_mb`` of each
``simulate`` job (Slurm kills a job that exceeds them). The per-flip costs are those of
the default kernels in a portable build (docs/benchmarks.md: lanes 6.6 ns Gaussian,
multispin 0.44 ns bimodal; host builds are about 4x faster), rounded up.
"""

from __future__ import annotations

import math

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


def memory_mb(params: SimulationParameters) -> int:
    """MB to request: the stored overlaps (int8, one byte per site) :data:`OVERLAP_COPIES` times
    over, plus :data:`BASE_MEMORY_MB`."""
    n_instances = params.instance_stop - params.instance_start
    overlap_bytes = n_instances * params.n_temps * params.n_snapshots * params.L ** 3
    return BASE_MEMORY_MB + math.ceil(OVERLAP_COPIES * overlap_bytes / 1e6)
