# Lookups (get_* functions mapping wildcards to config values and file names), the output
# path templates, and the wildcard constraints. The configuration was checked by
# sgpoison.config.validate_config (Snakefile) before this file is read; resources live in
# the workflow profile (profiles/default/config.yaml), the simulate job's from its size.

import functools
import hashlib
import math
import re

from sgpoison.config import (
    BIMODAL_SWEEP_FRACTION,
    NETWORK_TRAINING_KEYS,
    SCAN_AXES,
    batch_instances,
    gaussian_sweep_fractions,
    rule_entry,
    rule_settings,
    scan_doses,
    scenario_labels,
    shared_sweep_fractions,
    simulation_parameters,
    simulation_row,
    study_seed,
)
from sgpoison.io.jsonio import to_json
from sgpoison.io.provenance import code_parameter
from sgpoison.mc import cost
from sgpoison.mc.disorder import DISORDERS
from sgpoison.ml.settings import NULL_OBSERVABLES

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
#: network k of the ensemble of (scenario, L): model, history, metadata
MODEL = "results/models/{scenario}/L{L}/cnn{k}.keras"
MODEL_HISTORY = "results/models/{scenario}/L{L}/cnn{k}.history.csv"
MODEL_METADATA = "results/models/{scenario}/L{L}/cnn{k}.json"
#: null model of (scenario, L) on the observables ql, q2 or q2_ql
NULL_MODEL = "results/models/{scenario}/L{L}/null_{observables}.json"
#: p(T) of the bimodal data of size L by network k, and by a null model
PREDICTION = "results/predictions/{scenario}/L{L}/cnn{k}.nc"
NULL_PREDICTION = "results/predictions/{scenario}/L{L}/null_{observables}.nc"
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
#: one scan axis (config scans): estimates, verdicts and audits against the dose
DOSE_RESPONSE_TABLE = "results/dose_response/{axis}/table.csv"
DOSE_RESPONSE_DATASET = "results/dose_response/{axis}/table.nc"
DOSE_RESPONSE_FIGURE = "results/dose_response/{axis}/dose_response.png"
DOSE_RESPONSE_FIGURE_PDF = "results/dose_response/{axis}/dose_response.pdf"
DOSE_RESPONSE_SIGNAL_LOSS = "results/dose_response/{axis}/signal_loss.json"

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
    return simulation_row(config, disorder, L)


def get_n_batches(disorder, L):
    """Number of simulate jobs of one (disorder, L, sweep fraction)."""
    row = config["simulation"][disorder][get_row_index(disorder, L)]
    return math.ceil(row["n_instances"] / config["simulation"]["batch_size"])


def get_instance_range(disorder, L, batch):
    """(start, stop) global instance indices of one batch."""
    return batch_instances(config, disorder, L, batch)


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
    'scenario.<name>' (the job's scenario), 'labels.<name>' (the label poisons of the job's
    scenario, sgpoison.config.scenario_labels: label_noise, label_noise_mode, t_label -- the
    scenario's own t_label or network.t_label) or '<section>.<name>' (config, defaults filled in).
    """
    section, name = key.split(".")

    def lookup(wildcards):
        if section == "simulate":
            return get_simulation_parameters(wildcards)[name]
        if section == "scenario":
            return config["scenarios"][wildcards.scenario][name]
        if section == "labels":
            return scenario_labels(config, wildcards.scenario)[name][1]
        return config[section][name]

    lookup.__name__ = f"get_{section}_{name}"
    return lookup


def get_checkpoint(wildcards):
    """Checkpoint file of one simulate job; named after its settings so a stale one is never resumed."""
    digest = hashlib.sha256(
        get_settings_json("simulate", tuple(wildcards.items())).encode()
    ).hexdigest()
    return CHECKPOINT.format(
        disorder=wildcards.disorder,
        L=wildcards.L,
        sweep_fraction=wildcards.sweep_fraction,
        batch=wildcards.batch,
        digest=digest[:12],
    )


@functools.cache
def get_settings_json(rule, wildcards):
    """Canonical JSON (sorted keys) of sgpoison.config.rule_settings of one job; once per job."""
    return to_json(rule_settings(config, rule, dict(wildcards)), sort_keys=True)


def get_settings(rule):
    """Param function: every named setting the job's outputs depend on, as one JSON text
    (sgpoison.config.rule_settings), so that any changed value -- also a swap of two values
    or a changed default -- reruns the job ("Params have changed")."""

    def lookup(wildcards):
        return get_settings_json(rule, tuple(wildcards.items()))

    lookup.__name__ = f"get_{rule}_settings"
    return lookup


def get_code(rule):
    """Param: the code fingerprint of the command the rule runs (sgpoison.config.RULE_SETTINGS),
    computed once per run from the imported package (sgpoison.io.provenance.code_parameter;
    a constant if SGPOISON_CODE_FINGERPRINT=off): a code edit reruns the jobs
    that run it."""
    return code_parameter(rule_entry(rule).command)


class JobWildcards(dict):
    """Wildcards given as a mapping, read as attributes like Snakemake's."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def get_longest_run(wildcards):
    """The wildcards of the Gaussian simulate job of the largest sweep fraction, for a job of
    rule simulate_shared (wildcards L, batch), which writes that job's file and the shared ones.
    """
    return JobWildcards(
        disorder="gaussian",
        L=wildcards.L,
        sweep_fraction=format_fraction(gaussian_sweep_fractions(config)[0]),
        batch=wildcards.batch,
    )


def of_longest_run(lookup):
    """The param function ``lookup`` of a simulate job, applied to rule simulate_shared's run."""

    def shared(wildcards):
        return lookup(get_longest_run(wildcards))

    shared.__name__ = lookup.__name__
    return shared


def get_shared_batch(sweep_fraction):
    """The path template (wildcards L, batch) of a Gaussian batch file written by simulate_shared."""
    return SIMULATION_BATCH.format(
        disorder="gaussian",
        L="{L}",
        sweep_fraction=format_fraction(sweep_fraction),
        batch="{batch}",
    )


def get_shared_checkpoint(wildcards):
    """Checkpoint of one simulate_shared job, named after its settings (as get_checkpoint)."""
    digest = hashlib.sha256(
        get_settings_json("simulate_shared", tuple(wildcards.items())).encode()
    ).hexdigest()
    return CHECKPOINT.format(**get_longest_run(wildcards), digest=digest[:12])


def get_shared_options(wildcards, output):
    """The --shared-fraction options of a simulate_shared job: one per shared file."""
    return " ".join(
        f"--shared-fraction {fraction} {path}"
        for fraction, path in zip(shared_sweep_fractions(config), output.shared)
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


def get_n_networks():
    """K, networks per (scenario, L)."""
    return int(config["network"]["n_networks"])


def get_null_observables():
    """The null models of the study (config null_models), in config order; may be empty."""
    return list(config["null_models"])


def get_prediction_files(wildcards):
    """Predictions of one scenario by every classifier, increasing L: per L the networks
    cnn0 .. cnn{K-1}, then the null models in config order."""
    files = []
    for L in get_sizes():
        files += expand(
            PREDICTION, scenario=wildcards.scenario, L=L, k=range(get_n_networks())
        )
        files += expand(
            NULL_PREDICTION,
            scenario=wildcards.scenario,
            L=L,
            observables=get_null_observables(),
        )
    return files


def get_null_model_files(wildcards):
    """The null models of one (scenario, L), in config order (as predict_null's outputs)."""
    return expand(
        NULL_MODEL,
        scenario=wildcards.scenario,
        L=wildcards.L,
        observables=get_null_observables(),
    )


def get_network_options(wildcards):
    """The network settings of ``sgpoison train``, from config network (defaults filled in):
    '--iterations N ... --[no-]symmetrize ...'; unset values (null) are left out. The options
    are named after the keys, so a new key of NETWORK_TRAINING_KEYS needs an option of the
    same name (tests/workflow checks that the command accepts them)."""
    return _options(NETWORK_TRAINING_KEYS + ("balance_classes", "bootstrap_instances"))


def get_null_options(wildcards):
    """The settings the null models share with the networks ('--[no-]balance-classes ...')."""
    return _options(("balance_classes", "bootstrap_instances"))


def _options(keys):
    options = []
    for key in keys:
        value = config["network"][key]
        name = key.replace("_", "-")
        if isinstance(value, bool):
            options.append(f"--{name}" if value else f"--no-{name}")
        elif value is not None:
            options.append(f"--{name} {value}")
    return " ".join(options)


def get_gpu_request(wildcards, resources):
    """Whether the job asks for a GPU (resources gpu > 0 or gres naming a gpu, as set by
    profiles/slurm-gpu). A function of the resources, so not a rerun trigger."""
    gpus = str(resources.get("gpu", 0) or 0)
    return gpus not in ("0", "") or "gpu" in str(resources.get("gres", "") or "")


def get_network_conda_env(wildcards, params):
    """The conda environment of train/predict: envs/network-gpu.yaml (CUDA build of TensorFlow)
    when the job asks for a GPU (params.gpu, get_gpu_request), else envs/network.yaml.
    """
    name = "network-gpu" if params.gpu else "network"
    return f"../../envs/{name}.yaml"


def get_scenario_estimates(wildcards):
    """Finite-size-scaling estimates of every scenario, in config order."""
    return expand(ANALYSIS_ESTIMATES, scenario=get_scenarios())


def get_summary_scenario_arguments(wildcards, input):
    """'--scenario NAME=estimates.json' for every scenario (summary command line)."""
    return " ".join(
        f"--scenario {name}={path}"
        for name, path in zip(get_scenarios(), input.scenarios, strict=True)
    )


def get_scan_axes():
    """The scan axes with doses (config scans), in the order of sgpoison.config.SCAN_AXES."""
    return list(get_scan_doses())


@functools.cache
def get_scan_doses():
    """{axis: [(dose, scenario), ...]} sorted by dose (sgpoison.config.scan_doses)."""
    return scan_doses(config)


def get_dose_values(wildcards):
    """The doses of one scan axis, increasing (dose-response command line)."""
    return " ".join(repr(dose) for dose, _ in get_scan_doses()[wildcards.axis])


def get_dose_estimates(wildcards):
    """The estimates of the scenario of each dose of one axis, in the order of the doses."""
    return [
        ANALYSIS_ESTIMATES.format(scenario=name)
        for _, name in get_scan_doses()[wildcards.axis]
    ]


def get_dose_audits(wildcards):
    """Every audit report (all sizes) of the scenarios of one axis, in the order of the doses."""
    return [
        AUDIT_REPORT.format(scenario=name, L=L)
        for _, name in get_scan_doses()[wildcards.axis]
        for L in get_sizes()
    ]


def get_final_outputs():
    """Final targets: the summary, every scenario's figure, the conventional analysis and, with
    config scans, the dose-response table, figure and signal loss of every axis."""
    return [
        SUMMARY_TABLE,
        SUMMARY_FIGURE,
        CONVENTIONAL_FIGURE,
        *expand(ANALYSIS_FIGURE, scenario=get_scenarios()),
        *expand(
            [DOSE_RESPONSE_TABLE, DOSE_RESPONSE_FIGURE, DOSE_RESPONSE_SIGNAL_LOSS],
            axis=get_scan_axes(),
        ),
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


def get_simulate_shared_runtime(wildcards, attempt):
    """Minutes for one simulate_shared job: those of its run (the shared fractions add no sweeps)."""
    return get_simulate_runtime(get_longest_run(wildcards), attempt)


def get_simulate_shared_mem_mb(wildcards, attempt):
    """MB for one simulate_shared job: its run's and the shared fractions' snapshots."""
    sets = 1 + len(shared_sweep_fractions(config))
    return (
        cost.memory_mb(get_simulation_job(get_longest_run(wildcards)), sets) * attempt
    )


# ------------------------------------------------------------------------------------------
# wildcard constraints
# ------------------------------------------------------------------------------------------


wildcard_constraints:
    disorder="|".join(DISORDERS),
    L=r"[0-9]+",
    sweep_fraction=r"[0-9]+\.[0-9]+",
    batch=r"[0-9]+",
    k=r"[0-9]+",
    observables="|".join(NULL_OBSERVABLES),
    scenario="|".join(re.escape(name) for name in config["scenarios"]),
    axis="|".join(SCAN_AXES),
