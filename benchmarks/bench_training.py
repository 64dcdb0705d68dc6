"""Benchmark of CNN training: throughput, time per 1e4 iterations, peak memory.

Usage::

    python benchmarks/bench_training.py [--sizes 8 16] [--iterations 40] [--warmup 5]
                                        [--batch-size 1000] [--threads 2] [--out results.json]

For each L a synthetic simulation file (tests/builders.py; 8 instances x 10
temperatures x 100 snapshots) is written to a temporary directory, then a
separate Python process (so that peak memory is per L) measures

* the ``tf.data`` pipeline alone (NetCDF read, shuffle, batch, cast): batches/s;
* training with :func:`sgpoison.ml.train.train`: the steady-state time per
  iteration between the history row after ``--warmup`` iterations (graph
  tracing done) and the last row, with validation on 1000 examples at each row;
  reported as samples/s and extrapolated to 1e4 iterations (paper Table III);
* the process's peak resident memory (``ru_maxrss``).

Results are printed as a table and written as JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))


def measure(L: int, data: Path, iterations: int, warmup: int, batch_size: int, threads: int | None) -> dict:
    """Run in a fresh process: pipeline and training throughput for one L."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sgpoison.ml.labels import prepare_training_set
    from sgpoison.ml.network import configure_tensorflow
    from sgpoison.ml.settings import TrainingConfig
    from sgpoison.ml.stream import OverlapBlocks
    from sgpoison.ml.train import train

    config = TrainingConfig(iterations=warmup + iterations, batch_size=batch_size, report_every=warmup,
                            validation_examples=1000, validation_fraction=0.125, threads=threads, seed=0)
    configure_tensorflow(threads)
    tset = prepare_training_set(data, config)
    blocks = OverlapBlocks(data, tset.train_positions, tset.labels)
    ds = blocks.dataset(batch_size, config.shuffle_buffer, order_seed=1, shuffle_seed=2, threads=threads)
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(iterations):
        next(it)
    pipeline = (time.perf_counter() - start) / iterations
    del it, ds

    result = train(data, config)
    rows = result.history.set_index("iteration")["elapsed_seconds"]
    last = rows.index.max()
    per_iteration = (rows[last] - rows[warmup]) / (last - warmup)
    return {
        "L": L,
        "batch_size": batch_size,
        "threads": threads,
        "n_parameters": result.metadata["n_parameters"],
        "pipeline_seconds_per_batch": pipeline,
        "pipeline_samples_per_second": batch_size / pipeline,
        "seconds_per_iteration": per_iteration,
        "samples_per_second": batch_size / per_iteration,
        "seconds_per_1e4_iterations": 1e4 * per_iteration,
        "peak_memory_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "measured_iterations": int(last - warmup),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--iterations", type=int, default=40, help="timed iterations per L")
    parser.add_argument("--warmup", type=int, default=5, help="untimed iterations (tracing) per L")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: TF's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--single", nargs=2, metavar=("L", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.single:
        L, data = int(args.single[0]), Path(args.single[1])
        print(json.dumps(measure(L, data, args.iterations, args.warmup, args.batch_size, args.threads)))
        return 0

    from builders import write_synthetic_simulation

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for L in args.sizes:
            data = write_synthetic_simulation(Path(tmp) / f"bench_L{L}.nc", L=L, n_instances=8,
                                              n_temperatures=10, n_snapshots=100, seed=L)
            cmd = [sys.executable, __file__, "--single", str(L), str(data), "--iterations", str(args.iterations),
                   "--warmup", str(args.warmup), "--batch-size", str(args.batch_size)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'L':>3} {'params':>9} {'pipeline/s':>11} {'samples/s':>10} {'s/iter':>8} {'s/1e4 it':>9} {'peak MiB':>9}")
    for r in results:
        print(f"{r['L']:>3} {r['n_parameters']:>9} {r['pipeline_samples_per_second']:>11.0f} "
              f"{r['samples_per_second']:>10.0f} {r['seconds_per_iteration']:>8.4f} "
              f"{r['seconds_per_1e4_iterations']:>9.0f} {r['peak_memory_MiB']:>9.0f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
