"""Cost of a study configuration by stage: jobs, core-hours, longest job, wall time on N cores.

The study-wide model of ``sgpoison cost`` (docs/cli.md). It composes the per-stage counts
that live with their code -- spin-flip attempts of a simulation job
(:func:`sgpoison.mc.cost.spin_flip_attempts`) and the network's FLOPs
(:mod:`sgpoison.ml.flops`) -- with speeds: the time per spin-flip attempt (measured by
:func:`calibrate`, or given) and the float32 FLOP rate of the training step per core.

What is counted (an estimate, from the configuration validated against the schema):

* **simulate** (Gaussian, bimodal): every simulation of the study
  (:func:`sgpoison.config.job_settings`: every Gaussian row at every sweep fraction a scenario
  uses, bimodal at f = 1 -- with ``simulation.share_sweep_fractions`` the smaller Gaussian
  fractions cost nothing beyond the largest one's runs), spin-flip attempts x t_flip of the disorder, one core per job
  (a job with 2 threads costs at least as many core-hours); jobs of
  ``simulation.batch_size`` instances, the longest a full batch.
* **audit** (when ``audit.noise_estimate`` with ``audit.noise_classifier: cnn``; a null-model
  classifier costs seconds and is not counted): per scenario, ``n_folds`` networks trained for
  ``epochs`` passes over (n_folds - 1) / n_folds of the training examples (at most
  ``max_instances`` instances, every temperature and snapshot) with the audit's batch size
  and the default network, plus one forward pass of every example held out.
* **train**: per network (``n_networks`` per scenario), ``iterations`` training steps of
  :func:`~sgpoison.ml.flops.training_flops` plus the forward passes of the monitoring
  (``iterations / report_every`` x ``validation_examples``, at most the validation set) and of the final evaluation (every
  validation instance's snapshots and as many training ones), two each when sign-symmetrised.
* **predict**: per network, every bimodal snapshot, two forward passes when symmetrised.
* network jobs run on :data:`~sgpoison.ml.flops.TRAINING_CORES` cores; their core-hours count
  all of them.

Wall time on N cores: at least max(core-hours / N, longest job) (:func:`wall_hours`): the
core-hours packed perfectly, and no schedule finishes before its longest job.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from pathlib import Path
from typing import Callable, Iterable, Mapping

#: stages in the order of the tables
STAGES = ("simulate gaussian", "simulate bimodal", "audit", "train", "predict")
#: the linear size the calibration prefers (the nearest row of the configuration is used)
CALIBRATION_L = 8


@dataclasses.dataclass(frozen=True)
class CostRow:
    """Cost of the jobs of one stage at one size.

    Attributes
    ----------
    stage : str
        One of :data:`STAGES`.
    L : int
    detail : str
        What the row counts (e.g. ``f=0.5``), may be empty.
    jobs : int
    core_hours : float
        Of all the row's jobs.
    longest_hours : float
        Wall hours of its longest job.
    cores_per_job : int
    """

    stage: str
    L: int
    detail: str
    jobs: int
    core_hours: float
    longest_hours: float
    cores_per_job: int


def wall_hours(core_hours: float, longest_hours: float, cores: int) -> float:
    """Least wall time, in hours, of work of ``core_hours`` whose longest job takes
    ``longest_hours`` on ``cores`` cores: max(core_hours / cores, longest_hours).

    Raises
    ------
    ValueError
        If ``cores`` < 1.
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    return max(core_hours / cores, longest_hours)


def simulation_costs(config: Mapping, t_flip: Mapping[str, float]) -> list[CostRow]:
    """Rows of the simulate stages of a validated ``config``; ``t_flip``: ns per spin-flip
    attempt by disorder (``gaussian``, ``bimodal``)."""
    from sgpoison.config import job_settings, shared_sweep_fractions
    from sgpoison.mc.cost import spin_flip_attempts

    batch = config["simulation"]["batch_size"]
    shared = shared_sweep_fractions(config)
    rows = []
    for params in job_settings(config)["simulation"]:
        detail = f"f={params.sweep_fraction:g}"
        n = params.instance_stop - params.instance_start
        if params.disorder == "gaussian" and params.sweep_fraction in shared:
            detail += " (shared)"  # recorded in the runs of the largest fraction
            rows.append(CostRow(f"simulate {params.disorder}", params.L, detail, 0, 0.0, 0.0, 1))
            continue
        seconds = spin_flip_attempts(params) * t_flip[params.disorder] * 1e-9
        rows.append(CostRow(f"simulate {params.disorder}", params.L, detail,
                            math.ceil(n / batch), seconds / 3600, seconds * min(batch, n) / n / 3600, 1))
    return rows


def network_costs(config: Mapping, gflops_per_core: Callable[[int], float]) -> list[CostRow]:
    """Rows of the audit, train and predict stages of a validated ``config``;
    ``gflops_per_core(L)``: float32 training FLOP rate per core at size L, GFLOP/s."""
    from sgpoison.config import job_settings, simulation_parameters, simulation_row
    from sgpoison.ml.flops import TRAINING_CORES, forward_flops, training_flops

    settings = job_settings(config)
    scenarios = list(config["scenarios"])
    K = config["network"]["n_networks"]
    rows = []

    def row(stage: str, L: int, flops_per_job: list[float], detail: str = "") -> CostRow:
        hours = [flops / (gflops_per_core(L) * 1e9) / 3600 for flops in flops_per_job]  # core-hours
        return CostRow(stage, L, detail, len(hours), sum(hours), max(hours) / TRAINING_CORES, TRAINING_CORES)

    for L in sorted(config["sizes"]):
        gaussian = simulation_parameters(config, "gaussian", simulation_row(config, "gaussian", L), 1.0)
        bimodal = simulation_parameters(config, "bimodal", simulation_row(config, "bimodal", L), 1.0)
        n_instances = gaussian.instance_stop - gaussian.instance_start
        snapshots = gaussian.n_temps * gaussian.n_snapshots
        n_bimodal = (bimodal.instance_stop - bimodal.instance_start) * bimodal.n_temps * bimodal.n_snapshots
        audit_jobs, train_jobs, predict_jobs = [], [], []
        for name in scenarios:
            training, audit = settings["training"][name], settings["audit"][name]
            n_validation = max(1, round(training.validation_fraction * n_instances))
            n_train = n_instances - n_validation
            if audit.estimate_noise and audit.noise_classifier == "cnn":
                used = n_train if audit.max_instances is None else min(n_train, audit.max_instances)
                examples = used * snapshots
                per_example = training_flops(L, batch_size=audit.batch_size)["total"] / audit.batch_size
                audit_jobs.append(audit.epochs * (audit.n_folds - 1) * examples * per_example
                                  + examples * forward_flops(L))
            architecture = {k: getattr(training, k) for k in ("channels", "kernel_size", "strides", "dense_units")}
            forward = (2 if training.symmetrize else 1) * forward_flops(L, **architecture)
            validation = n_validation * snapshots
            monitored = training.iterations // training.report_every * min(
                validation, training.validation_examples or validation)
            evaluated = 2 * n_validation * snapshots
            step = training_flops(L, training.batch_size, **architecture)["total"]
            train_jobs += K * [training.iterations * step + forward * (monitored + evaluated)]
            predict_jobs += K * [forward * n_bimodal]
        if audit_jobs:
            rows.append(row("audit", L, audit_jobs, "noise estimate"))
        rows.append(row("train", L, train_jobs))
        rows.append(row("predict", L, predict_jobs))
    return rows


def study_cost(config: Mapping, t_flip: Mapping[str, float],
               gflops_per_core: Callable[[int], float] | None = None) -> list[CostRow]:
    """Every row of a validated ``config`` (:func:`simulation_costs`, :func:`network_costs`);
    ``gflops_per_core`` defaults to the measured :func:`sgpoison.ml.flops.training_gflops_per_core`."""
    from sgpoison.ml.flops import training_gflops_per_core

    return simulation_costs(config, t_flip) + network_costs(config, gflops_per_core or training_gflops_per_core)


def stage_totals(rows: Iterable[CostRow]) -> dict[str, dict[str, float]]:
    """Per stage (in :data:`STAGES` order, stages without rows left out): ``jobs``,
    ``core_hours``, ``longest_hours``."""
    totals: dict[str, dict[str, float]] = {}
    for row in sorted(rows, key=lambda r: STAGES.index(r.stage)):
        entry = totals.setdefault(row.stage, {"jobs": 0, "core_hours": 0.0, "longest_hours": 0.0})
        entry["jobs"] += row.jobs
        entry["core_hours"] += row.core_hours
        entry["longest_hours"] = max(entry["longest_hours"], row.longest_hours)
    return totals


def calibration_parameters(config: Mapping, disorder: str, L: int = CALIBRATION_L):
    """The :class:`~sgpoison.mc.parallel_tempering.SimulationParameters` of one simulate job of
    ``config`` for the calibration: the ``simulation.<disorder>`` row whose L is nearest ``L``
    (the smaller on a tie), its first batch (``simulation.batch_size`` instances at most), the
    kernel a simulate job selects (``auto``)."""
    from sgpoison.config import batch_instances, simulation_parameters, simulation_row

    sizes = [row["L"] for row in config["simulation"][disorder]]
    nearest = min(sizes, key=lambda size: (abs(size - L), size))
    return simulation_parameters(config, disorder, simulation_row(config, disorder, nearest), 1.0,
                                 instances=batch_instances(config, disorder, nearest, 0))


def calibrate(config: Mapping, seconds: float, threads: int = 1,
              disorders: Iterable[str] = ("gaussian", "bimodal")) -> dict[str, dict]:
    """Measured ns per spin-flip attempt of a simulate job of each of ``disorders`` on this
    machine, about ``seconds / 2`` each (:func:`calibration_parameters`, :func:`sgpoison.mc.calibration.nanoseconds_per_flip`,
    measurements on).

    Returns
    -------
    dict
        disorder -> ``{"ns_per_flip", "wall_ns_per_flip", "kernel", "L", "instances",
        "n_temps"}``; ``ns_per_flip`` is the CPU time (what a core of the job's own takes;
        on a busy machine the wall time is longer).
    """
    from sgpoison.mc.calibration import nanoseconds_per_flip

    out = {}
    for disorder in disorders:
        params = calibration_parameters(config, disorder)
        wall, cpu = nanoseconds_per_flip(params, seconds / 2, threads=threads)
        out[disorder] = {"ns_per_flip": cpu, "wall_ns_per_flip": wall,
                         "kernel": params.kernel, "L": params.L,
                         "instances": params.instance_stop - params.instance_start, "n_temps": params.n_temps}
    return out


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _hours(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def format_cost(rows: list[CostRow], cores: Iterable[int]) -> str:
    """The per-stage table (jobs, core-hours, longest job, wall time on each of ``cores``),
    with a Monte Carlo subtotal and the total."""
    cores = list(cores)
    totals = stage_totals(rows)
    simulate = [v for k, v in totals.items() if k.startswith("simulate")]
    lines = []
    header = f"{'stage':<18} {'jobs':>6} {'core-h':>9} {'longest job h':>14}" + "".join(
        f" {f'wall h, {n} cores':>17}" for n in cores)
    lines += [header, "-" * len(header)]

    def line(name: str, jobs, core_hours: float, longest: float) -> str:
        return (f"{name:<18} {jobs:>6} {_hours(core_hours):>9} {_hours(longest):>14}"
                + "".join(f" {'>= ' + _hours(wall_hours(core_hours, longest, n)):>17}" for n in cores))

    for stage, entry in totals.items():
        lines.append(line(stage, int(entry["jobs"]), entry["core_hours"], entry["longest_hours"]))
    lines.append("-" * len(header))
    if simulate:
        lines.append(line("Monte Carlo", int(sum(v["jobs"] for v in simulate)),
                          sum(v["core_hours"] for v in simulate), max(v["longest_hours"] for v in simulate)))
    lines.append(line("total", int(sum(v["jobs"] for v in totals.values())),
                      sum(v["core_hours"] for v in totals.values()),
                      max(v["longest_hours"] for v in totals.values())))
    return "\n".join(lines)


def format_rows(rows: list[CostRow]) -> str:
    """One line per (stage, L, detail) row."""
    lines = [f"{'stage':<18} {'L':>3} {'':<14} {'jobs':>6} {'core-h':>9} {'longest job h':>14} {'cores/job':>9}"]
    for row in rows:
        lines.append(f"{row.stage:<18} {row.L:>3} {row.detail:<14} {row.jobs:>6} {_hours(row.core_hours):>9} "
                     f"{_hours(row.longest_hours):>14} {row.cores_per_job:>9}")
    return "\n".join(lines)


def cost_json(rows: list[CostRow], cores: Iterable[int], speeds: Mapping) -> dict:
    """Everything :func:`format_cost` prints, as plain JSON types: ``speeds`` (as given),
    ``rows``, ``stages`` (with ``wall_hours`` by core count) and ``total``."""
    cores = list(cores)
    totals = stage_totals(rows)

    def with_wall(entry: Mapping) -> dict:
        return dict(entry, wall_hours={str(n): wall_hours(entry["core_hours"], entry["longest_hours"], n)
                                       for n in cores})

    total = {"jobs": sum(v["jobs"] for v in totals.values()),
             "core_hours": sum(v["core_hours"] for v in totals.values()),
             "longest_hours": max((v["longest_hours"] for v in totals.values()), default=0.0)}
    return {"speeds": dict(speeds), "rows": [dataclasses.asdict(row) for row in rows],
            "stages": {stage: with_wall(entry) for stage, entry in totals.items()}, "total": with_wall(total)}
