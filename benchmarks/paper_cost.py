"""Cost of a study configuration (default: config/paper.yaml) by stage, from measured speeds.

Usage::

    python benchmarks/paper_cost.py [--config config/paper.yaml] [--t-flip-gaussian 1.6]
        [--t-flip-bimodal 0.2] [--node-cores 64] [--allocation-cores 1000]

What is counted (an estimate; the inputs are measurements of this project's 2-core AMD EPYC VM):

* **simulate**: ``sgpoison.mc.cost.spin_flip_attempts`` of every simulation of the study (every
  size row at every sweep fraction a scenario uses; bimodal at f = 1) times the time per
  spin-flip attempt with measurements on (docs/benchmarks.md, host build, one thread: Gaussian
  ``lanes`` ~1.6 ns, bimodal ``multispin`` ~0.2 ns at L = 8-16). One core per flip stream.
* **audit**: its label-noise estimate trains ``n_folds`` networks for ``epochs`` passes over
  (n_folds - 1) / n_folds of the training examples (``AuditConfig`` defaults), at the training
  step's FLOP rate; the thermalization checks read the file (negligible).
* **train**: per network, ``iterations`` steps of ``training_flops`` (benchmarks/bench_training.py)
  plus the forward passes of the monitoring (``iterations / report_every`` x
  ``validation_examples``) and of the final evaluation (every validation instance and as many
  training ones), two forward passes each when sign-symmetrised.
* **predict**: per network, every bimodal snapshot, two forward passes when symmetrised.
* a forward pass costs 1/3 of the hidden layer's training FLOPs plus half of the convolution's.

FLOP rates: float32 on 2 cores, measured by bench_training.py (docs/network.md): 35, 53 and
90 GFLOP/s at L = 8, 12 and 16, interpolated linearly in L (10: 44, 14: 71.5). Core-hours of the
networks count both cores. Wall times assume perfect packing of the core-hours on the cores
(a lower bound) and give the longest single job beside it (no schedule can beat that).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import yaml

from bench_training import training_flops

REPOSITORY = Path(__file__).resolve().parents[1]
#: measured float32 training FLOP rate on 2 cores (docs/network.md), GFLOP/s, by L
FLOP_RATE = {8: 35.0, 12: 53.0, 16: 90.0}
NETWORK_CORES = 2


def flop_rate(L: int) -> float:
    """GFLOP/s of the training step on 2 cores at size L (linear interpolation in L, clamped)."""
    sizes = sorted(FLOP_RATE)
    return float(np.interp(L, sizes, [FLOP_RATE[s] for s in sizes]))


def forward_flops(L: int, **architecture) -> float:
    """FLOPs of one forward pass of one configuration."""
    parts = training_flops(L, batch_size=1, **architecture)
    return parts["hidden_forward"] + parts["conv_forward"] + parts["output_dense"] / 3


def core_hours(flops: float, L: int) -> float:
    return flops / (flop_rate(L) * 1e9) * NETWORK_CORES / 3600


def study_cost(config: dict, t_flip: dict[str, float]) -> list[dict]:
    """Rows (stage, L, jobs, core-hours, longest job in hours) of a validated configuration."""
    from sgpoison.audit.settings import AuditConfig
    from sgpoison.config import job_settings, validate_config
    from sgpoison.mc import cost

    validate_config(config, REPOSITORY / "workflow" / "schemas" / "config.schema.yaml")
    settings = job_settings(config)
    network = config["network"]
    K = network["n_networks"]
    scenarios = len(config["scenarios"])
    symmetric = 2 if network["symmetrize"] else 1
    architecture = {k: network[k] for k in ("channels", "kernel_size", "strides", "dense_units")}
    audit = AuditConfig()
    rows = []
    batch = config["simulation"]["batch_size"]
    for params in settings["simulation"]:
        seconds = cost.spin_flip_attempts(params) * t_flip[params.disorder] * 1e-9
        n = params.instance_stop - params.instance_start
        rows.append({"stage": f"simulate {params.disorder} f={params.sweep_fraction:g}", "L": params.L,
                     "jobs": math.ceil(n / batch), "core_hours": seconds / 3600,
                     "longest_hours": seconds * min(batch, n) / n / 3600})
    gaussian = {row["L"]: row for row in config["simulation"]["gaussian"]}
    bimodal = {row["L"]: row for row in config["simulation"]["bimodal"]}
    for L in sorted(config["sizes"]):
        g, b = gaussian[L], bimodal[L]
        step = training_flops(L, batch_size=network["batch_size"], **architecture)["total"]
        forward = forward_flops(L, **architecture)
        snapshots = g["n_temps"] * g["n_snapshots"]
        n_validation = max(1, round(network["validation_fraction"] * g["n_instances"]))
        n_train = g["n_instances"] - n_validation
        per_example = step / network["batch_size"]
        if config["audit"]["noise_estimate"]:
            examples = audit.epochs * (audit.n_folds - 1) / audit.n_folds * n_train * snapshots * audit.n_folds
            hours = core_hours(examples * per_example, L)
            rows.append({"stage": "audit (noise estimate)", "L": L, "jobs": scenarios,
                         "core_hours": scenarios * hours, "longest_hours": hours / NETWORK_CORES})
        monitoring = network["iterations"] // network["report_every"] * 10_000
        evaluation = 2 * n_validation * snapshots
        flops = network["iterations"] * step + symmetric * forward * (monitoring + evaluation)
        hours = core_hours(flops, L)
        rows.append({"stage": "train", "L": L, "jobs": scenarios * K, "core_hours": scenarios * K * hours,
                     "longest_hours": hours / NETWORK_CORES})
        flops = symmetric * forward * b["n_instances"] * b["n_temps"] * b["n_snapshots"]
        hours = core_hours(flops, L)
        rows.append({"stage": "predict", "L": L, "jobs": scenarios * K, "core_hours": scenarios * K * hours,
                     "longest_hours": hours / NETWORK_CORES})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPOSITORY / "config" / "paper.yaml")
    parser.add_argument("--t-flip-gaussian", type=float, default=1.6, help="ns per spin-flip attempt")
    parser.add_argument("--t-flip-bimodal", type=float, default=0.2, help="ns per spin-flip attempt")
    parser.add_argument("--node-cores", type=int, default=64)
    parser.add_argument("--allocation-cores", type=int, default=1000)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    rows = study_cost(config, {"gaussian": args.t_flip_gaussian, "bimodal": args.t_flip_bimodal})
    stages: dict[str, dict] = {}
    for row in rows:
        stage = row["stage"].split(" f=")[0] if row["stage"].startswith("simulate") else row["stage"]
        entry = stages.setdefault(stage, {"jobs": 0, "core_hours": 0.0, "longest_hours": 0.0})
        entry["jobs"] += row["jobs"]
        entry["core_hours"] += row["core_hours"]
        entry["longest_hours"] = max(entry["longest_hours"], row["longest_hours"])
    print(f"{args.config}: t_flip {args.t_flip_gaussian} ns (Gaussian), {args.t_flip_bimodal} ns (bimodal)\n")
    print(f"{'stage':28s} {'L':>3s} {'jobs':>6s} {'core-h':>10s} {'longest job h':>14s}")
    for row in rows:
        print(f"{row['stage']:28s} {row['L']:3d} {row['jobs']:6d} {row['core_hours']:10.1f} "
              f"{row['longest_hours']:14.2f}")
    total = sum(entry["core_hours"] for entry in stages.values())
    longest = max(entry["longest_hours"] for entry in stages.values())
    print(f"\n{'stage':28s} {'jobs':>6s} {'core-h':>10s} {'longest job h':>14s}")
    for stage, entry in stages.items():
        print(f"{stage:28s} {entry['jobs']:6d} {entry['core_hours']:10.1f} {entry['longest_hours']:14.2f}")
    print(f"{'total':28s} {'':6s} {total:10.1f}")
    for cores in (args.node_cores, args.allocation_cores):
        print(f"wall time on {cores} cores: >= {max(total / cores, longest):.1f} h "
              f"(perfect packing {total / cores:.1f} h; longest job {longest:.1f} h)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
