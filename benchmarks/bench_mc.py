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

With ``--yardstick DIR`` (the C reference kernels of ``/work/shared/bench-reference``,
issue 15) the two C programs are copied to a temporary directory, compiled there with
``-O3 -march=native`` (``v3_simd`` with ``-DMYEXP``: Gaussian, 16 float32 lanes;
``v4_msc`` with ``-DWBITS=512``, or ``-DWBITS=256`` on a CPU without AVX-512: bimodal
multi-spin coding), and run on the same L, temperatures and replicas, one thread,
minimum over ``--repeats``; the ``/ yardstick`` column is our ns/flip divided by theirs
(< 1: we are faster; single-thread rows only). Nothing is written into DIR.

Usage::

    python benchmarks/bench_mc.py                    # the table of docs/benchmarks.md
    python benchmarks/bench_mc.py --sizes 8 16 --threads 1 --yardstick /work/shared/bench-reference
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
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads spin and steal CPU time

from sgpoison.report.cost import cpu_model  # noqa: E402  (after the BLAS setting)

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


#: clock of every timing: "wall" (time.perf_counter) or "cpu" (CPU time of this process or of
#: the yardstick child; on a machine shared with other jobs CPU time is not inflated by waiting
#: for a CPU, wall time is)
CLOCK = "wall"


#: time the marginal cost of sweeps, (t(2n) - t(n)) / n, instead of t(n) / n (``--marginal``)
MARGINAL = False


def _clock() -> float:
    return time.perf_counter() if CLOCK == "wall" else time.process_time()


def time_kernel(kernel: str, L: int, disorder: str, threads: int, instances: int, seconds: float,
                repeats: int, measure: bool) -> float:
    """Minimum ns per flip (:data:`CLOCK`) of ``repeats`` runs of about ``seconds`` each: the
    calibration of ``sgpoison cost`` (:func:`sgpoison.mc.calibration.nanoseconds_per_flip`), or with
    :data:`MARGINAL` the marginal cost of n more sweeps in one call."""
    from sgpoison.mc import kernels
    from sgpoison.mc.calibration import nanoseconds_per_flip
    from sgpoison.mc.lattice import neighbours
    from sgpoison.mc.parallel_tempering import SimulationParameters, SimulationState

    params = SimulationParameters(L=L, disorder=disorder, instance_start=0, instance_stop=instances,
                                  n_sweeps=1 << 20, t_min=T_MIN, t_max=T_MAX, n_temps=N_TEMPS,
                                  kernel=kernel)
    if not MARGINAL:
        clock = 0 if CLOCK == "wall" else 1
        return min(nanoseconds_per_flip(params, seconds, threads, measure)[clock] for _ in range(repeats))
    state = SimulationState(params)
    table, betas = neighbours(L), 1.0 / params.temperatures
    flips_per_sweep = instances * N_TEMPS * 2 * L**3
    done = 0

    def timed(n):
        nonlocal done
        start = _clock()
        kernels.run_sweeps(kernel, state, table, betas, done, n, 1, measure, threads, disorder)
        done += n
        return _clock() - start

    n = 1
    while timed(n) < 0.1 * seconds:
        n *= 2
    n = max(1, int(n * seconds / max(timed(n), 1e-9)))
    # marginal cost of n more sweeps in one call: the per-call conversion cancels
    best = min(timed(2 * n) - timed(n) for _ in range(repeats))
    return best / (n * flips_per_sweep) * 1e9


#: yardstick program per disorder: (source, compile definitions tried in order, binary)
YARDSTICK = {"gaussian": ("v3_simd.c", [["-DMYEXP"]], "v3_simd"),
             "bimodal": ("v4_msc.c", [["-DWBITS=512"], ["-DWBITS=256"]], "v4_msc")}


def build_yardstick(source_dir: Path) -> dict[str, tuple[Path, str]]:
    """Compile the C yardstick programs of ``source_dir`` in a temporary directory.

    Returns ``{disorder: (binary, flags)}`` for the programs that compiled (the
    bimodal one falls back from 512-bit to 256-bit words without AVX-512).
    """
    out = Path(tempfile.mkdtemp(prefix="sgpoison-yardstick-"))
    for path in list(source_dir.glob("*.c")) + list(source_dir.glob("*.h")):
        (out / path.name).write_bytes(path.read_bytes())
    built = {}
    for disorder, (source, variants, name) in YARDSTICK.items():
        for defs in variants:
            binary = out / f"{name}{defs[0].split('=')[-1] if '=' in defs[0] else ''}"
            cmd = ["gcc", "-O3", "-march=native", *defs, "-o", str(binary), source, "-lm"]
            if subprocess.run(cmd, cwd=out, capture_output=True).returncode == 0:
                built[disorder] = (binary, " ".join(["-O3 -march=native", *defs]))
                break
        else:
            print(f"yardstick {source} did not compile", file=sys.stderr)
    return built


def time_yardstick(binary: Path, L: int, disorder: str, repeats: int) -> float:
    """Minimum ns_per_flip of ``repeats`` runs of a yardstick program (about 1 s each at L = 8)."""
    if disorder == "gaussian":
        args = [str(L), "g", str(N_TEMPS), str(T_MIN), str(T_MAX), "20",
                str(max(50, round(2500 * (8 / L) ** 3))), "1", "16", "bench"]
    else:
        args = [str(L), "b", str(N_TEMPS), str(T_MIN), str(T_MAX), "10",
                str(max(50, round(1000 * (8 / L) ** 3))), "1", "1", "bench"]
    best = float("inf")
    for _ in range(repeats):
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        values = dict(line.split()[:2] for line in result.stdout.splitlines() if line.strip())
        ns = float(values["ns_per_flip"])  # the program's own wall figure
        if CLOCK == "cpu":  # rescaled by the program's CPU time / wall time over the whole run
            cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
            ns *= cpu / wall
        best = min(best, ns)
    return best


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
                             "8 of 16 lanes, 2 batches of 64 bits, so that 2 threads have equal work)")
    parser.add_argument("--seconds", type=float, default=1.0, help="approximate length of one run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", action="store_true",
                        help="also time the thermalization path (log-binned measurement every sweep)")
    parser.add_argument("--portable", action="store_true",
                        help="build the kernels with SGPOISON_PORTABLE=1 into a temporary directory first")
    parser.add_argument("--no-peapods", action="store_true")
    parser.add_argument("--yardstick", type=Path, default=None, metavar="DIR",
                        help="directory of the C yardstick sources (v3_simd.c, v4_msc.c); built in a "
                             "temporary directory and timed in this invocation, one thread")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time every run in wall time (default) or in CPU time (use on a "
                             "machine shared with other jobs; one thread only)")
    parser.add_argument("--marginal", action="store_true",
                        help="time (t(2n) - t(n)) / n for calls of 2n and n sweeps, which cancels the "
                             "per-call conversion of the state (a few sweeps' worth; at L = 16 a 1-s "
                             "run on a slow or shared machine is only 1-2 sweeps)")
    args = parser.parse_args(argv)
    global CLOCK, MARGINAL
    CLOCK, MARGINAL = args.clock, args.marginal

    import sgpoison.mc

    if args.portable:
        sgpoison.mc.__path__.insert(0, str(build_portable()))
    from sgpoison.mc import _kernel_lanes, _kernel_lanes32, kernels

    kernel_names = args.kernels or list(kernels.KERNELS)
    flags = cpu_flags()
    load_before = os.getloadavg()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs, "
          f"AVX-512: {'yes' if 'avx512f' in flags else 'no'}; Python {platform.python_version()}")
    print(f"kernels built for: {_kernel_lanes.SIMD} ({'portable' if args.portable else 'as installed'}; "
          f"{Path(_kernel_lanes.__file__).name}; lanes32: {_kernel_lanes32.SIMD}, "
          f"{_kernel_lanes32.LANES} float32 lanes)")
    print(f"workload: {N_TEMPS} temperatures x 2 replicas, PT every sweep, {args.instances} instances, "
          f"min of {args.repeats} x ~{args.seconds:g} s; ns per attempted spin flip ({CLOCK} clock)\n")

    peapods = {}
    if not args.no_peapods:
        for L in args.sizes:
            for disorder in args.disorders:
                for threads in args.threads:
                    peapods[L, disorder, threads] = time_peapods(L, disorder, threads, args.seconds,
                                                                 args.repeats)

    yardstick = {}
    if args.yardstick is not None:
        built = build_yardstick(args.yardstick)
        for disorder, (binary, flags) in built.items():
            print(f"yardstick {disorder}: {binary.name} (gcc {flags})")
        for L in args.sizes:
            for disorder in args.disorders:
                if disorder in built:
                    yardstick[L, disorder] = time_yardstick(built[disorder][0], L, disorder,
                                                            args.repeats)
                    print(f"yardstick L={L} {disorder}: {yardstick[L, disorder]:.3f} ns/flip",
                          flush=True)
        print()

    header = f"{'L':>3} {'disorder':<9} {'threads':>7} {'kernel':<9} {'measure':<7} {'ns/flip':>8} " \
             f"{'speed-up 1->2':>13} {'peapods':>8} {'peapods/kernel':>14} {'yardstick':>9} " \
             f"{'/ yardstick':>11}"
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
                        yard = yardstick.get((L, disorder)) if threads == 1 else None
                        yard_text = (f"{yard:9.3f} {ns / yard:11.2f}" if yard and not measure
                                     else f"{'-':>9} {'':>11}")
                        print(f"{L:>3} {disorder:<9} {threads:>7} {kernel:<9} "
                              f"{'on' if measure else 'off':<7} {ns:8.3f} {scaling:>13} {ref_text} "
                              f"{ratio} {yard_text}", flush=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak resident memory: {own:.0f} MiB (this process), {children:.0f} MiB (largest "
          f"peapods/build subprocess)")
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} logical CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
