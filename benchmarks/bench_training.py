"""Benchmark of one CNN training iteration: time, FLOPs, FLOP rate and fraction of the CPU's peak.

Usage::

    python benchmarks/bench_training.py [--sizes 8 12 16] [--iterations 30] [--warmup 3]
        [--max-seconds 45] [--batch-size 1000] [--threads N]
        [--jit-compile] [--mixed-precision {mixed_float16,mixed_bfloat16}] [--compare-options]
        [--flops-per-cycle F] [--clock-ghz G] [--out results.json]

**One iteration** is ``model.train_on_batch(x, y)`` -- the training step of sgpoison's training
loop -- of the paper Table III network as ``build_model(L)`` builds it (one Conv3D layer, 5
channels, 3x3x3, stride 2, ReLU; hidden Dense of L^3 * 5/8 units, ReLU; dropout 0.2; Dense(2)
softmax; Adam 1e-4, sparse categorical cross-entropy) on one in-memory batch of random +-1
configurations and labels: the step without the streaming data pipeline, which is much faster
(docs/network.md). Each configuration (L, options) runs in a fresh Python process: ``--warmup``
untimed iterations (tracing, XLA compilation), then ``--iterations`` timed ones, fewer if they
take longer than ``--max-seconds`` (at least 3); the median time per iteration is reported. An
option set more than ``--skip-factor`` times slower than float32 at one L is not run at larger L.

Options: ``--jit-compile`` compiles the step with XLA (Keras ``jit_compile=True``; Keras' own
default is XLA off on CPU-only machines and on with a GPU); ``--mixed-precision POLICY`` sets the
Keras dtype policy before the model is built (weights float32, computation in bfloat16 or
float16; ``mixed_float16`` adds loss scaling). ``--compare-options`` runs float32, XLA,
mixed_bfloat16, mixed_float16 and XLA + mixed_bfloat16 for every L.

**FLOPs per iteration**: the analytic count of ``sgpoison.ml.flops.training_flops`` (formulas
in its module docstring; a multiply-add counts 2),
dominated by the three U x U products, 6 B U^2 (39 GFLOP at L = 16). Cross-checks per L, in
float32: TensorFlow's profiler (``tf.compat.v1.profiler`` float-operation count of the step's
graph; it counts MatMul but has no statistics for Conv3D) and XLA's optimised HLO of the step
(dot and convolution instructions after XLA's dead-code elimination).

**Peak**: theoretical = cores x clock x float32 FLOP per cycle and core for the detected
instruction set (table in :func:`flops_per_cycle`; clock from cpufreq's maximum, else
/proc/cpuinfo; override with ``--flops-per-cycle``/``--clock-ghz``), for the number of threads
used; attainable = the best rate of a 4096 x 4096 x 4096 ``tf.matmul`` in the same run with the
same threads, in float32, bfloat16 and float16. The fractions of peak of a mixed-precision run
refer to the float32 theoretical peak and to the attainable rate of its compute dtype.

Results are printed as tables (with the load average, the machine is shared) and written as
JSON with ``--out``. The model comes from ``sgpoison.ml.network`` (``sgpoison.network`` before
the package was split into sub-packages).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

POLICIES = ("mixed_float16", "mixed_bfloat16")
#: (jit_compile, mixed-precision policy) run by --compare-options
OPTION_SETS = ((False, None), (True, None), (False, "mixed_bfloat16"), (False, "mixed_float16"),
               (True, "mixed_bfloat16"))
MATMUL_SIZE = 4096


def import_build_model():
    """``build_model`` of the network module, wherever this version of sgpoison keeps it."""
    try:
        from sgpoison.ml.network import build_model  # sub-package layout
    except ImportError:
        from sgpoison.network import build_model  # single-module layout
    return build_model


def option_label(jit_compile: bool, policy: str | None) -> str:
    parts = [policy or "float32"] + (["XLA"] if jit_compile else [])
    return " + ".join(parts)


# ----------------------------------------------------------------------------- FLOP count

from sgpoison.ml.flops import training_flops  # noqa: E402  (the analytic count; after sys.path)


_ARRAY = r"(?:pred|bf16|f16|f32|f64|[su]\d+)\[([\d,]*)\]"
_INSTRUCTION = re.compile(r"%([\w.\-]+) = " + _ARRAY + r"(?:\{[\d,]*\})? ([\w\-]+)\((.*?)\)(.*)$")


def _dims(text: str) -> list[int]:
    return [int(d) for d in text.split(",") if d]


def hlo_flops(hlo: str) -> float | None:
    """FLOPs of the dot and convolution instructions of an HLO module (text): 2 x output size x
    contracted size; None if it has neither (e.g. GPU libraries as custom calls)."""
    shapes: dict[str, list[int]] = {}
    found = []
    for line in hlo.splitlines():
        match = _INSTRUCTION.search(line)
        if not match:
            continue
        name, dims, op, operands, attributes = match.groups()
        shapes[name] = _dims(dims)
        if op in ("dot", "convolution"):
            found.append((op, _dims(dims), operands, attributes))
    if not found:
        return None
    total = 0.0
    for op, out, operands, attributes in found:
        names = re.findall(r"%([\w.\-]+)", operands)
        inline = re.findall(_ARRAY, operands)  # unoptimised HLO spells out operand shapes
        lhs = _dims(inline[0]) if inline else shapes[names[0]]
        if op == "dot":
            contracting = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", attributes)
            contracted = math.prod(lhs[d] for d in _dims(contracting.group(1)))
        else:
            window = re.search(r"size=([\dx]+)", attributes).group(1)
            labels = re.search(r"dim_labels=(\w+)_", attributes).group(1)
            groups = re.search(r"feature_group_count=(\d+)", attributes)
            contracted = math.prod(int(s) for s in window.split("x")) * lhs[labels.index("f")]
            contracted //= int(groups.group(1)) if groups else 1
        total += 2.0 * math.prod(out) * contracted
    return total


# ----------------------------------------------------------------------------- peak


def cpu_info() -> dict:
    """Model name, vendor, family, ISA flags and clock of this CPU (Linux)."""
    info = {"model": platform.processor() or platform.machine(), "vendor": "", "family": None,
            "flags": set(), "clock_ghz": None, "clock_source": None}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    first = text.split("\n\n")[0]
    fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    info["model"] = fields.get("model name", info["model"])
    info["vendor"] = fields.get("vendor_id", "")
    info["family"] = int(fields["cpu family"]) if "cpu family" in fields else None
    info["flags"] = set(fields.get("flags", "").split())
    max_freq = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_freq.exists():
        info["clock_ghz"] = int(max_freq.read_text()) / 1e6
        info["clock_source"] = str(max_freq)
    elif "cpu MHz" in fields:
        info["clock_ghz"] = float(fields["cpu MHz"]) / 1e3
        info["clock_source"] = "/proc/cpuinfo cpu MHz (no cpufreq; a VM reports its nominal clock)"
    return info


def flops_per_cycle(info: dict) -> tuple[int, str]:
    """float32 FLOPs per cycle and core (fused multiply-adds x 2 x lanes x FMA pipes) and why.

    AMD Zen 4 (family 25) executes AVX-512 as two 256-bit halves: 2 FMA pipes x 8 lanes x 2 = 32;
    Zen 5 (family 26) and Intel AVX-512 server cores with two 512-bit FMA units: 64 (32 on Intel
    parts with one); AVX2 + FMA: 32; AVX: 16 (separate add and multiply); SSE2: 8.
    """
    flags, vendor, family = info["flags"], info["vendor"], info["family"]
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and family == 25:
            return 32, "AMD Zen 4: AVX-512 as 2 x 256-bit, 2 FMA pipes"
        if vendor == "AuthenticAMD":
            return 64, "AMD AVX-512 (Zen 5): 2 x 512-bit FMA"
        return 64, "Intel AVX-512, assuming 2 FMA units (32 with one)"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2 + FMA, 2 FMA pipes"
    if "avx" in flags:
        return 16, "AVX without FMA"
    return 8, "SSE2"


def theoretical_peak(threads: int, override_fpc: float | None, override_clock: float | None) -> dict:
    info = cpu_info()
    fpc, why = flops_per_cycle(info)
    if override_fpc:
        fpc, why = override_fpc, "--flops-per-cycle"
    clock, source = info["clock_ghz"], info["clock_source"]
    if override_clock:
        clock, source = override_clock, "--clock-ghz"
    peak = threads * clock * 1e9 * fpc if clock else None
    isa = [f for f in ("avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "avx2", "fma")
           if f in info["flags"]]
    return {"cpu": info["model"], "isa": isa, "cores_used": threads, "clock_ghz": clock,
            "clock_source": source, "flops_per_cycle": fpc, "flops_per_cycle_source": why,
            "theoretical_float32_flops": peak}


# ----------------------------------------------------------------------------- measurements (subprocesses)


def _setup_tensorflow(threads: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def measure_matmul_peak(threads: int, repeats: int = 3) -> dict:
    """Best FLOP rate of a MATMUL_SIZE^3 tf.matmul per dtype (float32, bfloat16, float16)."""
    tf = _setup_tensorflow(threads)
    n = MATMUL_SIZE
    rates = {}
    for dtype in ("float32", "bfloat16", "float16"):
        a = tf.random.uniform((n, n), dtype=tf.float32)
        a = tf.cast(a, dtype)
        b = tf.cast(tf.random.uniform((n, n), dtype=tf.float32), dtype)
        tf.matmul(a, b).numpy()  # warm-up
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            tf.matmul(a, b).numpy()
            best = min(best, time.perf_counter() - start)
        rates[dtype] = 2 * n**3 / best
    return {"attainable_flops": rates, "matmul_size": n}


def _train_step_function(model, tf):
    """The training step as a plain tf.function (forward, loss, gradients, Adam)."""
    import keras

    optimizer = keras.optimizers.Adam(1e-4)
    loss_function = keras.losses.SparseCategoricalCrossentropy()

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_function(y, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def measure_flops(L: int, batch_size: int, threads: int) -> dict:
    """Cross-checks of the analytic count: TF profiler and XLA optimised HLO (float32)."""
    tf = _setup_tensorflow(threads)
    from tensorflow.python.profiler import model_analyzer, option_builder

    model = import_build_model()(L)
    result = {"L": L}
    step = tf.function(_train_step_function(model, tf))
    concrete = step.get_concrete_function(tf.TensorSpec((batch_size, L, L, L, 1), tf.float32),
                                          tf.TensorSpec((batch_size,), tf.int32))
    options = (option_builder.ProfileOptionBuilder(
        option_builder.ProfileOptionBuilder.float_operation()).with_empty_output().build())
    profile = model_analyzer.profile(concrete.graph, cmd="scope", options=options)
    matmuls = {op.name for op in concrete.graph.get_operations() if op.type == "MatMul"}
    convolutions = [op.type for op in concrete.graph.get_operations() if op.type.startswith("Conv3D")]

    def matmul_flops(node) -> int:
        own = node.float_ops if node.name in matmuls else 0
        return own + sum(matmul_flops(child) for child in node.children)

    result["profiler_total"] = float(profile.total_float_ops)
    result["profiler_matmul"] = float(matmul_flops(profile))
    result["graph_convolution_ops"] = convolutions

    model = import_build_model()(L)
    xla_step = tf.function(_train_step_function(model, tf), jit_compile=True)
    x = tf.zeros((batch_size, L, L, L, 1), tf.float32)
    y = tf.zeros((batch_size,), tf.int32)
    try:
        hlo = xla_step.experimental_get_compiler_ir(x, y)(stage="optimized_hlo")
        result["xla_dot_convolution"] = hlo_flops(hlo)
    except Exception as error:  # XLA unavailable on this build
        result["xla_dot_convolution"] = None
        result["xla_error"] = f"{type(error).__name__}: {error}"
    return result


def measure_step(L: int, batch_size: int, threads: int, warmup: int, iterations: int,
                 max_seconds: float, jit_compile: bool, policy: str | None) -> dict:
    """Median time of model.train_on_batch for one configuration (fresh process)."""
    tf = _setup_tensorflow(threads)
    import keras
    import numpy as np

    if policy:
        keras.mixed_precision.set_global_policy(policy)
    model = import_build_model()(L)  # compiled by build_model, after the policy is set
    model.jit_compile = jit_compile
    rng = np.random.default_rng(L)
    x = tf.constant(rng.choice(np.array([-1.0, 1.0], np.float32), (batch_size, L, L, L, 1)))
    y = tf.constant(rng.integers(0, 2, batch_size, dtype=np.int32))

    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        model.train_on_batch(x, y)
    times = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(iterations):
        start = time.perf_counter()
        model.train_on_batch(x, y)  # returns numbers: the step has finished
        times.append(time.perf_counter() - start)
        if time.perf_counter() > deadline and len(times) >= 3:
            break
    return {
        "L": L, "batch_size": batch_size, "threads": threads, "jit_compile": bool(model.jit_compile),
        "mixed_precision": policy, "compute_dtype": keras.mixed_precision.global_policy().compute_dtype,
        "n_parameters": int(model.count_params()),
        "first_iteration_seconds": first,
        "seconds_per_iteration": float(np.median(times)),
        "seconds_per_iteration_mean": float(np.mean(times)),
        "seconds_per_iteration_min": float(np.min(times)),
        "measured_iterations": len(times),
        "peak_memory_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ----------------------------------------------------------------------------- driver


def run_child(args: argparse.Namespace, *child: str) -> dict:
    """Run this script with hidden arguments ``child`` in a new process; its JSON result."""
    command = [sys.executable, __file__, *child, "--threads", str(args.threads),
               "--batch-size", str(args.batch_size), "--iterations", str(args.iterations),
               "--warmup", str(args.warmup), "--max-seconds", str(args.max_seconds)]
    load_before = os.getloadavg()[0]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{process.stderr[-3000:]}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    result["load_average"] = [load_before, os.getloadavg()[0]]
    return result


def print_tables(machine: dict, flops: list[dict], steps: list[dict]) -> None:
    peak = machine["theoretical_float32_flops"]
    attainable = machine["attainable_flops"]
    print(f"CPU: {machine['cpu']} ({', '.join(machine['isa'])}); {machine['cores_used']} threads")
    if peak:
        print(f"theoretical float32 peak: {machine['cores_used']} cores x {machine['clock_ghz']:.3f} GHz x "
              f"{machine['flops_per_cycle']} FLOP/cycle ({machine['flops_per_cycle_source']}; clock: "
              f"{machine['clock_source']}) = {peak / 1e9:.0f} GFLOP/s")
    print("attainable (best of a {0}^3 tf.matmul): ".format(machine["matmul_size"])
          + ", ".join(f"{dtype} {rate / 1e9:.0f} GFLOP/s" for dtype, rate in attainable.items()))
    print()
    print("FLOPs per iteration (GFLOP), batch", steps[0]["batch_size"] if steps else "")
    print(f"{'L':>3} {'conv f+w':>9} {'dense f':>8} {'dense w':>8} {'dense x':>8} {'out':>6} "
          f"{'elem+Adam':>9} {'total':>8} | {'TF prof MatMul':>14} {'(all)':>8} {'XLA dot+conv':>12}")
    for row in flops:
        a = row["analytic"]
        xla = row.get("xla_dot_convolution")
        print(f"{row['L']:>3} {(a['conv_forward'] + a['conv_weight_gradient']) / 1e9:>9.4f} "
              f"{a['hidden_forward'] / 1e9:>8.3f} {a['hidden_weight_gradient'] / 1e9:>8.3f} "
              f"{a['hidden_input_gradient'] / 1e9:>8.3f} {a['output_dense'] / 1e9:>6.3f} "
              f"{(a['elementwise'] + a['adam']) / 1e9:>9.4f} {a['total'] / 1e9:>8.3f} | "
              f"{row['profiler_matmul'] / 1e9:>14.3f} {row['profiler_total'] / 1e9:>8.3f} "
              f"{'n/a' if xla is None else format(xla / 1e9, '.3f'):>12}")
    print()
    print(f"{'L':>3} {'options':<24} {'params':>9} {'GFLOP/it':>8} {'s/iter':>8} {'n':>3} "
          f"{'GFLOP/s':>8} {'%theor':>6} {'%matmul':>7} {'first s':>7} {'MiB':>5} {'load':>9}")
    for r in steps:
        rate = r["gflop_per_iteration"] / r["seconds_per_iteration"]
        theor = f"{100 * rate * 1e9 / peak:.0f}" if peak else "n/a"
        matmul = attainable.get(r["compute_dtype"])
        ofmatmul = f"{100 * rate * 1e9 / matmul:.0f}" if matmul else "n/a"
        load = "{:.1f}-{:.1f}".format(*r["load_average"])
        print(f"{r['L']:>3} {option_label(r['jit_compile'], r['mixed_precision']):<24} "
              f"{r['n_parameters']:>9} {r['gflop_per_iteration']:>8.3f} {r['seconds_per_iteration']:>8.4f} "
              f"{r['measured_iterations']:>3} {rate:>8.1f} {theor:>6} {ofmatmul:>7} "
              f"{r['first_iteration_seconds']:>7.1f} {r['peak_memory_MiB']:>5.0f} {load:>9}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 12, 16])
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations (tracing, compilation)")
    parser.add_argument("--max-seconds", type=float, default=45.0,
                        help="stop timing a configuration after this long (at least 3 iterations)")
    parser.add_argument("--skip-factor", type=float, default=10.0,
                        help="skip an option set at larger L once it is this much slower than float32")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="TensorFlow intra- and inter-op threads (default: all CPUs)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--mixed-precision", choices=POLICIES, default=None)
    parser.add_argument("--compare-options", action="store_true",
                        help="run float32, XLA, mixed_bfloat16, mixed_float16, XLA + mixed_bfloat16")
    parser.add_argument("--flops-per-cycle", type=float, default=None,
                        help="float32 FLOPs per cycle and core (default: from the instruction set)")
    parser.add_argument("--clock-ghz", type=float, default=None, help="clock for the theoretical peak")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "peak":
            result = measure_matmul_peak(args.threads)
        elif kind == "flops":
            result = measure_flops(int(rest[0]), args.batch_size, args.threads)
        else:  # step L jit policy
            L, jit, policy = int(rest[0]), rest[1] == "1", (None if rest[2] == "float32" else rest[2])
            result = measure_step(L, args.batch_size, args.threads, args.warmup, args.iterations,
                                  args.max_seconds, jit, policy)
        print(json.dumps(result))
        return 0

    option_sets = OPTION_SETS if args.compare_options else ((args.jit_compile, args.mixed_precision),)
    machine = theoretical_peak(args.threads, args.flops_per_cycle, args.clock_ghz)
    machine.update(run_child(args, "--child", "peak"))
    machine["load_average_start"] = os.getloadavg()
    flops, steps, skipped = [], [], {}
    for L in sorted(args.sizes):
        analytic = training_flops(L, args.batch_size)
        check = run_child(args, "--child", "flops", str(L))
        check["analytic"] = analytic
        flops.append(check)
        reference = None
        for jit, policy in option_sets:
            label = option_label(jit, policy)
            if label in skipped:
                print(f"L={L} {label}: skipped, {skipped[label]}", file=sys.stderr, flush=True)
                continue
            step = run_child(args, "--child", "step", str(L), "1" if jit else "0", policy or "float32")
            step["gflop_per_iteration"] = analytic["total"] / 1e9
            steps.append(step)
            seconds = step["seconds_per_iteration"]
            reference = reference or (seconds if (jit, policy) == (False, None) else None)
            if reference and seconds > args.skip_factor * reference:
                skipped[label] = f"{seconds / reference:.0f}x slower than float32 at L={L}"
            print(f"L={L} {label}: {seconds:.4f} s/iteration", file=sys.stderr, flush=True)
    machine["skipped"] = skipped
    machine["load_average_end"] = os.getloadavg()
    print_tables(machine, flops, steps)
    for label, reason in skipped.items():
        print(f"{label}: not run at larger L ({reason})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine, "flops": flops, "steps": steps},
                                       indent=2, default=list) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
