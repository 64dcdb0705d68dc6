"""Paired (A/B) timing of the Monte Carlo kernels: the production path against the bare kernel,
and two threads against one (issue 15).

``bench_mc.py`` times each configuration on its own (minimum of repeats); on a VM whose speed
drifts by 10-20 % between runs, a ratio of two such minima is noisy. Here the two variants run
alternately on the same state for ``--repeats`` rounds, one call of n sweeps each (n as the
engine's calls: ``_FLIPS_PER_CALL`` x ``RELATIVE_SPEED`` of the kernel flips, at least
``--min-sweeps``), and the ratio is taken of the two minima of the same rounds:

* ``--compare measure``: measurement off (A) against on (B, log-binned e, q^2, q_l after every
  sweep, the thermalization path of every simulate job); the overhead B / A - 1;
* ``--compare threads``: one thread (A) against two (B), measurement off, each on its own copy
  of the same state; the speed-up A / B, and whether both end in bitwise the same state.

Workload as ``bench_mc.py``: 20 temperatures (0.8 ... 1.21), 2 replicas, PT every sweep, 128
instances; ns per attempted spin flip, wall clock (and CPU time of this process for ``measure``).

    python benchmarks/bench_mc_ab.py --compare measure [--sizes 8 16] [--kernels lanes32 multispin]
    python benchmarks/bench_mc_ab.py --compare threads
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads spin and steal CPU time

import numpy as np  # noqa: E402

from sgpoison.mc import kernels  # noqa: E402
from sgpoison.mc.lattice import neighbours  # noqa: E402
from sgpoison.mc.parallel_tempering import _FLIPS_PER_CALL  # noqa: E402
from sgpoison.mc.parallel_tempering import SimulationParameters, SimulationState  # noqa: E402
from sgpoison.report.cost import cpu_model  # noqa: E402

N_TEMPS, T_MIN, T_MAX, INSTANCES = 20, 0.8, 1.21, 128
DISORDER = {"lanes32": "gaussian", "lanes": "gaussian", "scalar": "gaussian", "multispin": "bimodal"}


def paired(kernel: str, L: int, compare: str, min_sweeps: int, repeats: int) -> str:
    """One line of results for ``kernel`` at ``L``."""
    disorder = DISORDER[kernel]
    params = SimulationParameters(L=L, disorder=disorder, instance_start=0, instance_stop=INSTANCES,
                                  n_sweeps=1 << 20, t_min=T_MIN, t_max=T_MAX, n_temps=N_TEMPS,
                                  kernel=kernel)
    table, betas = neighbours(L), 1.0 / params.temperatures
    flips_per_sweep = INSTANCES * N_TEMPS * 2 * L**3
    variants = {"A": dict(measure=False, threads=1),
                "B": dict(measure=compare == "measure", threads=2 if compare == "threads" else 1)}
    states = {v: SimulationState(params) for v in variants} if compare == "threads" else None
    shared = SimulationState(params)
    done = {"A": 0, "B": 0, "shared": 0}

    def call(variant: str, n: int) -> tuple[float, float]:
        state, key = (states[variant], variant) if states else (shared, "shared")
        wall, cpu = time.perf_counter(), time.process_time()
        kernels.run_sweeps(kernel, state, table, betas, done[key], n, 1, variants[variant]["measure"],
                           variants[variant]["threads"], disorder)
        done[key] += n
        return time.perf_counter() - wall, time.process_time() - cpu

    n = max(min_sweeps, _FLIPS_PER_CALL * kernels.RELATIVE_SPEED[kernel] // flips_per_sweep)
    call("A", n)  # warm-up
    if states:
        call("B", n)
    best = {v: [np.inf, np.inf] for v in variants}
    for _ in range(repeats):
        for v in variants:
            wall, cpu = call(v, n)
            best[v] = [min(best[v][0], wall / (n * flips_per_sweep) * 1e9),
                       min(best[v][1], cpu / (n * flips_per_sweep) * 1e9)]
    a, b = best["A"], best["B"]
    if compare == "measure":
        return (f"{L:3d} {disorder:9s} {kernel:10s} {a[0]:8.3f} {b[0]:8.3f} {100 * (b[0] / a[0] - 1):+7.1f} %"
                f"   cpu {a[1]:.3f} -> {b[1]:.3f} ({100 * (b[1] / a[1] - 1):+.1f} %)   {n} sweeps per call")
    same = all(np.array_equal(getattr(states["A"], name), getattr(states["B"], name))
               for name in ("spins", "energies", "rng_state", "swap_accepted"))
    return (f"{L:3d} {disorder:9s} {kernel:10s} {a[0]:8.3f} {b[0]:8.3f} {a[0] / b[0]:7.2f}x"
            f"   bitwise identical: {same}   {n} sweeps per call")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", choices=("measure", "threads"), required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--kernels", nargs="+", default=["lanes32", "multispin"],
                        choices=sorted(DISORDER))
    parser.add_argument("--min-sweeps", type=int, default=20, help="least sweeps per call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")
    head = ("measure off (ns)  on (ns)  overhead" if args.compare == "measure"
            else "1 thread (ns)  2 threads (ns)  speed-up")
    print(f"  L disorder  kernel     {head}")
    for L in args.sizes:
        for kernel in args.kernels:
            print(paired(kernel, L, args.compare, args.min_sweeps, args.repeats), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
