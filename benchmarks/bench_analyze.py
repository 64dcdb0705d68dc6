"""Wall and CPU time of ``sgpoison analyze`` on one scenario of the default study's shape (issue 11).

Workload: synthetic prediction files (tests/builders.py, format 2) of 3 sizes (L = 4, 6, 8),
24 temperatures (0.75 ... 1.4), 256 bimodal instances, a CNN ensemble of ``--networks`` networks
and 3 null models, analysed with ``--n-bootstrap`` samples (default 200) in one process on one
core (OpenBLAS limited to one thread). The minimum over ``--repeats`` runs is printed with the load
average (other jobs on the machine only make a run slower).

Usage::

    python benchmarks/bench_analyze.py [--networks 5] [--n-bootstrap 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import builders  # noqa: E402

from sgpoison.cli import main  # noqa: E402


def write_scenario(directory: Path, n_networks: int) -> list[str]:
    sizes, T = (4, 6, 8), np.linspace(0.75, 1.4, 24)
    rng = np.random.default_rng(0)
    eta = [builders.correlated_noise(rng, 256, T, 0.1, 0.1) for _ in sizes]
    paths = builders.write_prediction_files(directory, builders.ensemble_curves(
        sizes, T, n=256, n_networks=n_networks, network_offset=0.01, eta=eta, seed=1), sizes, T)
    for null, shift in (("null_ql", 0.0), ("null_q2", 0.05), ("null_q2_ql", 0.02)):
        def mean(L, T, shift=shift):
            return builders.scaling_function(L ** 0.4 * (T - 1.1 - shift))
        paths += builders.write_prediction_files(directory, builders.ensemble_curves(
            sizes, T, mean=mean, n=256, n_networks=1, eta=eta, seed=2), sizes, T, classifier=null,
            settings_sha256=f"settings-{null}")
    return paths


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_scenario(Path(tmp) / "predictions", args.networks)
        load = os.getloadavg()[0]
        times = []
        for r in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            main(["analyze", "--predictions", *paths, "--out", str(Path(tmp) / f"out{r}"),
                  "--n-bootstrap", str(args.n_bootstrap)])
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
    best = min(times)
    print(f"{len(paths)} prediction files, K = {args.networks}, n_bootstrap = {args.n_bootstrap}: "
          f"wall {best[0]:.1f} s, CPU {best[1]:.1f} s (min of {args.repeats}; load average "
          f"{load:.1f} -> {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    run()
