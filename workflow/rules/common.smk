# Lookups (get_* functions mapping wildcards to config values and file names), the output
# path templates, and the wildcard constraints. The configuration was checked by
# sgpoison.config.validate_config (Snakefile) before this file is read; resources live in
# the workflow profile (profiles/default/config.yaml), the simulate job's from its size.

import hashlib
import json
import math
import re

from sgpoison.config import (
    BIMODAL_SWEEP_FRACTION,
    ConfigError,
    simulation_parameters,
    study_seed,
)
from sgpoison.mc import cost
from sgpoison.mc.disorder import DISORDERS

# ------------------------------------------------------------------------------------------
# output paths (all below results/), each spelled once
# ------------------------------------------------------------------------------------------

#: one simulate job (a batch of disorder instances)
SIMULATION_BATCH = (
    "results/simulations/batches/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.nc"
)
#: merged per (disorder, L, sweep fraction)
SIMULATION = "results/simulations/{disorder}/L{L}_f{sweep_fraction}.nc"
#: checkpoint of one simulate job; {digest} names its parameters (a stale one is never resumed)
CHECKPOINT = (
    "results/checkpoints/{disorder}/L{L}_f{sweep_fraction}/batch{batch}-{digest}.npz"
)
#: audit report of one training set (scenario, L)
AUDIT_REPORT = "results/audit/{scenario}/L{L}.json"
#: one network per (scenario, L): model, history, metadata
MODEL = "results/models/{scenario}/L{L}/model.keras"
MODEL_HISTORY = "results/models/{scenario}/L{L}/history.csv"
MODEL_METADATA = "results/models/{scenario}/L{L}/model.json"
#: p(T) of the bimodal data of size L
PREDICTION = "results/predictions/{scenario}/L{L}.nc"
#: p(T) of the bimodal data of size L by one classifier (cnn{k}, null_{observables}; design.md)
CLASSIFIER_PREDICTION = "results/predictions/{scenario}/L{L}/{classifier}.nc"
#: finite-size scaling of one scenario
ANALYSIS_ESTIMATES = "results/analysis/{scenario}/estimates.json"
ANALYSIS_TABLE = "results/analysis/{scenario}/estimates.nc"
ANALYSIS_FIGURE = "results/analysis/{scenario}/fig1.png"
ANALYSIS_FIGURE_PDF = "results/analysis/{scenario}/fig1.pdf"
ANALYSIS_NULLS_FIGURE = "results/analysis/{scenario}/nulls.png"
ANALYSIS_NULLS_FIGURE_PDF = "results/analysis/{scenario}/nulls.pdf"
#: the conventional analysis of the bimodal data
CONVENTIONAL_ESTIMATES = "results/conventional/estimates.json"
CONVENTIONAL_TABLE = "results/conventional/estimates.nc"
CONVENTIONAL_FIGURE = "results/conventional/conventional.png"
CONVENTIONAL_FIGURE_PDF = "results/conventional/conventional.pdf"
#: all scenarios
SUMMARY_TABLE = "results/summary/results.csv"
SUMMARY_DATASET = "results/summary/results.nc"
SUMMARY_FIGURE = "results/summary/tc_summary.png"
SUMMARY_FIGURE_PDF = "results/summary/tc_summary.pdf"

# ------------------------------------------------------------------------------------------
# names and lookups
# ------------------------------------------------------------------------------------------


def format_fraction(sweep_fraction):
    """The sweep fraction as it appears in file names: 1 -> '1.0', 0.5 -> '0.5'."""
    return str(float(sweep_fraction))


def get_sizes():
    """Lattice sizes of the study, increasing."""
    return sorted(config["sizes"])


def get_scenarios():
    """Scenario names, in the order of the config file."""
    return list(config["scenarios"])


def get_row_index(disorder, L):
    """Position of the simulation.<disorder> row of size L."""
    for index, row in enumerate(config["simulation"][disorder]):
        if row["L"] == int(L):
            return index
    raise ConfigError(f"sizes: L = {L} has no row in simulation.{disorder}")


def get_n_batches(disorder, L):
    """Number of simulate jobs of one (disorder, L, sweep fraction)."""
    row = config["simulation"][disorder][get_row_index(disorder, L)]
    return math.ceil(row["n_instances"] / config["simulation"]["batch_size"])


def get_instance_range(disorder, L, batch):
    """(start, stop) global instance indices of one batch."""
    n_instances = config["simulation"][disorder][get_row_index(disorder, L)][
        "n_instances"
    ]
    batch_size = config["simulation"]["batch_size"]
    start = int(batch) * batch_size
    if start >= n_instances:
        raise ConfigError(
            f"simulation.batch_size: batch {batch} of {disorder} L = {L} starts at instance "
            f"{start}, beyond n_instances = {n_instances}"
        )
    return start, min(start + batch_size, n_instances)


def get_simulation_job(wildcards):
    """The SimulationParameters of one simulate job (what its command line builds)."""
    return simulation_parameters(
        config,
        wildcards.disorder,
        get_row_index(wildcards.disorder, wildcards.L),
        float(wildcards.sweep_fraction),
        instances=get_instance_range(wildcards.disorder, wildcards.L, wildcards.batch),
    )


def get_simulation_parameters(wildcards):
    """Every parameter that determines the contents of one simulate job's file."""
    job = get_simulation_job(wildcards)
    return {
        "instances": f"{job.instance_start}:{job.instance_stop}",
        "n_sweeps": job.n_sweeps,
        "t_min": job.t_min,
        "t_max": job.t_max,
        "n_temps": job.n_temps,
        "n_snapshots": job.n_snapshots,
        "ladder": job.ladder,
        "measure_interval": job.measure_interval,
        "swap_interval": job.swap_interval,
        "seed": study_seed(config, wildcards.L),
    }


def get_value(key):
    """Param function returning one value of the job: 'simulate.<name>' (get_simulation_parameters),
    'scenario.<name>' (the job's scenario) or '<section>.<name>' (config, defaults filled in).
    """
    section, name = key.split(".")

    def lookup(wildcards):
        if section == "simulate":
            return get_simulation_parameters(wildcards)[name]
        if section == "scenario":
            return config["scenarios"][wildcards.scenario][name]
        return config[section][name]

    lookup.__name__ = f"get_{section}_{name}"
    return lookup


def get_checkpoint(wildcards):
    """Checkpoint file of one simulate job; named after its parameters so a stale one is never resumed."""
    parameters = get_simulation_parameters(wildcards)
    parameters["sweep_fraction"] = wildcards.sweep_fraction
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()
    return CHECKPOINT.format(
        disorder=wildcards.disorder,
        L=wildcards.L,
        sweep_fraction=wildcards.sweep_fraction,
        batch=wildcards.batch,
        digest=digest[:12],
    )


def get_batch_files(wildcards):
    """The simulate outputs merged into one (disorder, L, sweep fraction) file."""
    return expand(
        SIMULATION_BATCH,
        disorder=wildcards.disorder,
        L=wildcards.L,
        sweep_fraction=wildcards.sweep_fraction,
        batch=range(get_n_batches(wildcards.disorder, wildcards.L)),
    )


def get_flag(key, if_set, if_unset):
    """Param function: ``if_set`` if the boolean config value ``key`` is true, else ``if_unset``."""
    section, name = key.split(".")

    def lookup(wildcards):
        return if_set if config[section][name] else if_unset

    lookup.__name__ = f"get_{name}_flag"
    return lookup


def get_all_audit_reports(wildcards):
    """Audit reports of every scenario and size."""
    return expand(AUDIT_REPORT, scenario=get_scenarios(), L=get_sizes())


def get_summary_audit_arguments(wildcards, input):
    """'--audit NAME=report.json' for every scenario and size (summary command line)."""
    return " ".join(
        f"--audit {name}={path}"
        for name in get_scenarios()
        for path in expand(AUDIT_REPORT, scenario=name, L=get_sizes())
    )


def get_training_data(wildcards):
    """Merged Gaussian file of size L at the scenario's sweep fraction."""
    fraction = config["scenarios"][wildcards.scenario]["sweep_fraction"]
    return SIMULATION.format(
        disorder="gaussian", L=wildcards.L, sweep_fraction=format_fraction(fraction)
    )


def get_bimodal_data(wildcards):
    """Merged bimodal file of size L (always thermalized)."""
    return SIMULATION.format(
        disorder="bimodal",
        L=wildcards.L,
        sweep_fraction=format_fraction(BIMODAL_SWEEP_FRACTION),
    )


def get_bimodal_files(wildcards):
    """Merged bimodal files of all sizes, increasing L."""
    return expand(
        SIMULATION,
        disorder="bimodal",
        L=get_sizes(),
        sweep_fraction=format_fraction(BIMODAL_SWEEP_FRACTION),
    )


def get_classifiers():
    """Classifiers of every (scenario, L): the CNN ensemble cnn0 .. cnn{K-1}
    (network.n_networks) and the null models null_<observables> (null_models)."""
    return [f"cnn{k}" for k in range(config["network"]["n_networks"])] + [
        f"null_{observables}" for observables in config["null_models"]
    ]


def get_prediction_files(wildcards):
    """Predictions of one scenario: every classifier (get_classifiers) of every size."""
    return expand(
        CLASSIFIER_PREDICTION,
        scenario=wildcards.scenario,
        L=get_sizes(),
        classifier=get_classifiers(),
    )


def get_scenario_estimates(wildcards):
    """Finite-size-scaling estimates of every scenario, in config order."""
    return expand(ANALYSIS_ESTIMATES, scenario=get_scenarios())


def get_summary_scenario_arguments(wildcards, input):
    """'--scenario NAME=estimates.json' for every scenario (summary command line)."""
    return " ".join(
        f"--scenario {name}={path}"
        for name, path in zip(get_scenarios(), input.scenarios, strict=True)
    )


def get_final_outputs():
    """Final targets: the summary, every scenario's figure and the conventional analysis."""
    return [
        SUMMARY_TABLE,
        SUMMARY_FIGURE,
        CONVENTIONAL_FIGURE,
        *expand(ANALYSIS_FIGURE, scenario=get_scenarios()),
    ]


# ------------------------------------------------------------------------------------------
# resources that scale with the job (sgpoison.mc.cost; the workflow profile sets the rest)
# ------------------------------------------------------------------------------------------


def get_simulate_runtime(wildcards, attempt):
    """Minutes for one simulate job (sgpoison.mc.cost.runtime_minutes), times the attempt."""
    return cost.runtime_minutes(get_simulation_job(wildcards)) * attempt


def get_simulate_mem_mb(wildcards, attempt):
    """MB for one simulate job (sgpoison.mc.cost.memory_mb), times the attempt."""
    return cost.memory_mb(get_simulation_job(wildcards)) * attempt


# ------------------------------------------------------------------------------------------
# wildcard constraints
# ------------------------------------------------------------------------------------------


wildcard_constraints:
    disorder="|".join(DISORDERS),
    L=r"[0-9]+",
    sweep_fraction=r"[0-9]+\.[0-9]+",
    batch=r"[0-9]+",
    scenario="|".join(re.escape(name) for name in config["scenarios"]),
