"""Monte Carlo throughput of sgpoison's kernels and of peapods on the same workload (issue 6).

Workload: 3D Edwards-Anderson spin glass, L = 8 and 16, Gaussian and bimodal
couplings, 20 temperatures (linear ladder 0.8 ... 1.21), 2 replicas per
temperature, a parallel-tempering round after every sweep, no measurements.
The figure of merit is the wall time per attempted spin flip,

    ns/flip = wall / (sweeps * temperatures * replicas * L^3 * instances),

the minimum over ``--repeats`` runs of about ``--seconds`` each (other jobs on
the machine only ever make a run slower). peapods 0.2.0 (``pip install
peapods==0.2.0``; Rust, Metropolis + parallel tempering, one disorder instance,
``warmup_ratio=1`` so that it measures nothing) runs in a subprocess per thread
count with ``RAYON_NUM_THREADS`` set; ``peapods / kernel`` is its time per flip
divided by ours (> 1: we are faster).

Usage::

    python benchmarks/bench_mc.py                    # the table of docs/benchmarks.md
    python benchmarks/bench_mc.py --portable         # same, extensions built without -march=native
    python benchmarks/bench_mc.py --sizes 8 --threads 1 --kernels lanes --no-peapods

The CPU model, the kernels' instruction set, the load average before and after
and the peak resident memory (``resource.getrusage``) are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads spin and steal CPU time

REPOSITORY = Path(__file__).resolve().parents[1]
N_TEMPS = 20
T_MIN, T_MAX = 0.8, 1.21

PEAPODS_SCRIPT = r"""
import json, sys, time
import numpy as np
from peapods import Ising
L, disorder, threads, seconds, repeats = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
temperatures = np.linspace({t_min}, {t_max}, {n_temps})
model = Ising((L, L, L), couplings=disorder, temperatures=temperatures, n_replicas=2)
def timed(n):
    start = time.perf_counter()
    model.sample(n, "metropolis", pt_interval=1, warmup_ratio=1.0, sequential=threads == 1)
    return time.perf_counter() - start
n = 2
while timed(n) < 0.1 * seconds:
    n *= 2
n = max(2, int(n * seconds / max(timed(n), 1e-9)))
best = min(timed(n) for _ in range(repeats))
print(json.dumps(best / (n * {n_temps} * 2 * L**3) * 1e9))
""".format(t_min=T_MIN, t_max=T_MAX, n_temps=N_TEMPS)


def build_portable() -> Path:
    """Compile the kernels with SGPOISON_PORTABLE=1 into a temporary directory; return it."""
    out = Path(tempfile.mkdtemp(prefix="sgpoison-portable-"))
    env = dict(os.environ, SGPOISON_PORTABLE="1")
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(out / "lib"),
                    "--build-temp", str(out / "tmp")], cwd=REPOSITORY, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return out / "lib" / "sgpoison" / "mc"


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def time_kernel(kernel: str, L: int, disorder: str, threads: int, instances: int, seconds: float,
                repeats: int, measure: bool) -> float:
    """Minimum wall ns per flip of ``repeats`` runs of about ``seconds`` each
    (:func:`sgpoison.mc.calibration.nanoseconds_per_flip`, the calibration of ``sgpoison cost``)."""
    from sgpoison.mc.calibration import nanoseconds_per_flip
    from sgpoison.mc.parallel_tempering import SimulationParameters

    params = SimulationParameters(L=L, disorder=disorder, instance_start=0, instance_stop=instances,
                                  n_sweeps=1 << 20, t_min=T_MIN, t_max=T_MAX, n_temps=N_TEMPS,
                                  kernel=kernel)
    return min(nanoseconds_per_flip(params, seconds, threads, measure)[0] for _ in range(repeats))


def time_peapods(L: int, disorder: str, threads: int, seconds: float, repeats: int) -> float | None:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", PEAPODS_SCRIPT, str(L), disorder, str(threads),
                             str(seconds), str(repeats)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"peapods failed ({result.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--disorders", nargs="+", default=["gaussian", "bimodal"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kernels", nargs="+", default=None, help="default: all of sgpoison.mc.kernels")
    parser.add_argument("--instances", type=int, default=128,
                        help="disorder instances per run (default 128: 16 batches of 8 lanes, "
                             "2 batches of 64 bits, so that 2 threads have equal work)")
    parser.add_argument("--seconds", type=float, default=1.0, help="approximate length of one run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", action="store_true",
                        help="also time the thermalization path (log-binned measurement every sweep)")
    parser.add_argument("--portable", action="store_true",
                        help="build the kernels with SGPOISON_PORTABLE=1 into a temporary directory first")
    parser.add_argument("--no-peapods", action="store_true")
    args = parser.parse_args(argv)

    import sgpoison.mc
    from sgpoison.report.cost import cpu_model

    if args.portable:
        sgpoison.mc.__path__.insert(0, str(build_portable()))
    from sgpoison.mc import _kernel_lanes, kernels

    kernel_names = args.kernels or list(kernels.KERNELS)
    flags = cpu_flags()
    load_before = os.getloadavg()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs, "
          f"AVX-512: {'yes' if 'avx512f' in flags else 'no'}; Python {platform.python_version()}")
    print(f"kernels built for: {_kernel_lanes.SIMD} ({'portable' if args.portable else 'as installed'}; "
          f"{Path(_kernel_lanes.__file__).name})")
    print(f"workload: {N_TEMPS} temperatures x 2 replicas, PT every sweep, {args.instances} instances, "
          f"min of {args.repeats} x ~{args.seconds:g} s; ns per attempted spin flip (wall)\n")

    peapods = {}
    if not args.no_peapods:
        for L in args.sizes:
            for disorder in args.disorders:
                for threads in args.threads:
                    peapods[L, disorder, threads] = time_peapods(L, disorder, threads, args.seconds,
                                                                 args.repeats)

    header = f"{'L':>3} {'disorder':<9} {'threads':>7} {'kernel':<8} {'measure':<7} {'ns/flip':>8} " \
             f"{'speed-up 1->2':>13} {'peapods':>8} {'peapods/kernel':>14}"
    print(header)
    print("-" * len(header))
    for L in args.sizes:
        for disorder in args.disorders:
            for kernel in kernel_names:
                try:
                    kernels.resolve_kernel(kernel, disorder)
                except ValueError:  # e.g. multispin is for bimodal couplings only
                    continue
                for measure in ([False, True] if args.measure else [False]):
                    single = None
                    for threads in args.threads:
                        ns = time_kernel(kernel, L, disorder, threads, args.instances, args.seconds,
                                         args.repeats, measure)
                        single = ns if threads == 1 else single
                        scaling = f"{single / ns:.2f}" if single and threads > 1 else ""
                        ref = peapods.get((L, disorder, threads))
                        ref_text = f"{ref:8.2f}" if ref else f"{'-':>8}"
                        ratio = f"{ref / ns:14.1f}" if ref and not measure else f"{'':>14}"
                        print(f"{L:>3} {disorder:<9} {threads:>7} {kernel:<8} "
                              f"{'on' if measure else 'off':<7} {ns:8.3f} {scaling:>13} {ref_text} "
                              f"{ratio}", flush=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak resident memory: {own:.0f} MiB (this process), {children:.0f} MiB (largest "
          f"peapods/build subprocess)")
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} logical CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
