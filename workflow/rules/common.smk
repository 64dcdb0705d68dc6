# Lookups (get_* functions mapping wildcards to config values), wildcard constraints and the
# semantic checks of the configuration that the JSON schema cannot express.
#
# Output layout (all below results/):
#   simulations/batches/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.nc   one simulate job
#   simulations/{disorder}/L{L}_f{sweep_fraction}.nc                        merged per (disorder, L, f)
#   models/{scenario}/L{L}/model.keras, history.csv, model.json            one network per (L, scenario)
#   predictions/{scenario}/L{L}.nc                                          p(T) on the bimodal data
#   analysis/{scenario}/estimates.json, estimates.nc, fig1.png, fig1.pdf    finite-size scaling
#   baseline/estimates.json, estimates.nc, baseline.png, baseline.pdf      Binder ratio / xi_L / L
#   summary/results.csv, results.nc, tc_summary.png, tc_summary.pdf        all scenarios

import hashlib
import json
import math
import re
from pathlib import Path

import jsonschema
import yaml
from snakemake.utils import validate

#: the JSON schema documenting every config key, relative to the main Snakefile
CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"
DISORDERS = ("gaussian", "bimodal")
#: sweep fraction of every bimodal simulation (the data the networks classify)
BIMODAL_SWEEP_FRACTION = 1.0
#: cost of one spin-flip attempt (one thread, measurements on) of the default kernels in a
#: portable build (docs/benchmarks.md: lanes 6.6 ns Gaussian, multispin 0.44 ns bimodal;
#: host builds are 4x faster); used only to size Slurm run times
NANOSECONDS_PER_SPIN_FLIP = {"gaussian": 7.0, "bimodal": 1.0}


class ConfigError(Exception):
    """The configuration is invalid; the message names the key at fault."""


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------


def validate_config(config):
    """Validate the config against CONFIG_SCHEMA (filling in defaults), then check_config.

    Raises ConfigError with a one-line message naming the key at fault, e.g.
    "config key scenarios.clean.label_noise: -0.1 is less than the minimum of 0".
    """
    schema_path = Path(workflow.basedir) / CONFIG_SCHEMA
    with open(schema_path) as stream:
        schema = yaml.safe_load(stream)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}"
            for part in error.absolute_path
        ).lstrip(".")
        description = " ".join(str(error.schema.get("description", "")).split())
        message = error.message
        if error.validator == "additionalProperties" and "properties" in error.schema:
            allowed = sorted(error.schema["properties"])
            unknown = sorted(set(error.instance) - set(allowed))
            key = ".".join(filter(None, [key, unknown[0]]))
            message = f"unknown key; allowed here: {', '.join(allowed)}"
            description = ""
        raise ConfigError(
            f"config key {key or '(top level)'}: {message}"
            + (f" -- {key or 'it'} is: {description}" if description else "")
            + f" (schema: {CONFIG_SCHEMA})"
        )
    validate(config, str(schema_path))  # fills in the schema's defaults
    check_config(config)


def check_config(config):
    """Raise ConfigError naming the key if the study cannot be run as configured."""
    sizes = config["sizes"]
    t_label = config["network"]["t_label"]
    for index, L in enumerate(sizes):
        if not isinstance(L, int) or isinstance(L, bool):
            raise ConfigError(
                f"sizes[{index}]: L = {L!r} must be a whole number (write 4, not 4.0)"
            )
    validation_fraction = config["network"]["validation_fraction"]
    for disorder in DISORDERS:
        rows = config["simulation"][disorder]
        seen = set()
        for index, row in enumerate(rows):
            key = f"simulation.{disorder}[{index}]"
            if row["L"] in seen:
                raise ConfigError(f"{key}.L: L = {row['L']} is listed twice")
            seen.add(row["L"])
            if not isinstance(row["L"], int) or isinstance(row["L"], bool):
                raise ConfigError(f"{key}.L: L = {row['L']!r} must be a whole number")
            n = row["n_instances"]
            if disorder == "bimodal" and n < 2:
                raise ConfigError(
                    f"{key}.n_instances: {n} bimodal instance(s); the bootstrap error bars "
                    "over disorder instances need at least 2"
                )
            n_val = (
                0
                if validation_fraction == 0
                else max(1, round(validation_fraction * n))
            )
            if disorder == "gaussian" and n - n_val < 2:
                raise ConfigError(
                    f"{key}.n_instances: {n} Gaussian instance(s) with "
                    f"network.validation_fraction = {validation_fraction} leave {n - n_val} "
                    "training instance(s); at least 2 are needed"
                )
            if row["t_min"] >= row["t_max"]:
                raise ConfigError(
                    f"{key}.t_min: t_min = {row['t_min']} must be smaller than "
                    f"t_max = {row['t_max']} (L = {row['L']})"
                )
        for L in sizes:
            if L not in seen:
                raise ConfigError(
                    f"sizes: L = {L} has no row in simulation.{disorder}; "
                    f"add one with its n_instances, n_sweeps, t_min, t_max, n_temps, n_snapshots"
                )
    for row in config["simulation"]["gaussian"]:
        if row["L"] in sizes and not row["t_min"] <= t_label < row["t_max"]:
            raise ConfigError(
                f"simulation.gaussian (L = {row['L']}): the ladder [t_min, t_max] = "
                f"[{row['t_min']}, {row['t_max']}] must contain temperatures both <= "
                f"network.t_label = {t_label} and > it, or one label class of the training set "
                f"is empty; change t_min/t_max or network.t_label"
            )
    for name, scenario in config["scenarios"].items():
        if not 0.0 < scenario["sweep_fraction"] <= 1.0:
            raise ConfigError(
                f"scenarios.{name}.sweep_fraction: must be in (0, 1], "
                f"got {scenario['sweep_fraction']}"
            )


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


def get_size_row(disorder, L):
    """The simulation.<disorder> row of size L."""
    for row in config["simulation"][disorder]:
        if row["L"] == int(L):
            return row
    raise ConfigError(f"sizes: L = {L} has no row in simulation.{disorder}")


def get_n_batches(disorder, L):
    """Number of simulate jobs of one (disorder, L, sweep fraction)."""
    return math.ceil(
        get_size_row(disorder, L)["n_instances"] / config["simulation"]["batch_size"]
    )


def get_instance_range(disorder, L, batch):
    """(start, stop) global instance indices of one batch."""
    n_instances = get_size_row(disorder, L)["n_instances"]
    batch_size = config["simulation"]["batch_size"]
    start = int(batch) * batch_size
    if start >= n_instances:
        raise ConfigError(
            f"simulation.batch_size: batch {batch} of {disorder} L = {L} starts at instance "
            f"{start}, beyond n_instances = {n_instances}"
        )
    return start, min(start + batch_size, n_instances)


def get_simulation_parameters(wildcards):
    """Every parameter that determines the contents of one simulate job's file."""
    row = get_size_row(wildcards.disorder, wildcards.L)
    start, stop = get_instance_range(wildcards.disorder, wildcards.L, wildcards.batch)
    simulation = config["simulation"]
    return {
        "instances": f"{start}:{stop}",
        "n_sweeps": row["n_sweeps"],
        "t_min": row["t_min"],
        "t_max": row["t_max"],
        "n_temps": row["n_temps"],
        "n_snapshots": row["n_snapshots"],
        "ladder": simulation["ladder"],
        "measure_interval": simulation["measure_interval"],
        "swap_interval": simulation["swap_interval"],
        "seed": get_simulation_seed(wildcards),
    }


def get_simulation_seed(wildcards):
    """Seed of all simulations of size L: 1000 * simulation.seed + L (independent of scenarios)."""
    return 1000 * config["simulation"]["seed"] + int(wildcards.L)


def simulation_parameter(name):
    """Param function returning one entry of get_simulation_parameters."""

    def lookup(wildcards):
        return get_simulation_parameters(wildcards)[name]

    lookup.__name__ = f"get_simulation_{name}"
    return lookup


def get_checkpoint(wildcards):
    """Checkpoint file of one simulate job; named after its parameters so a stale one is never resumed."""
    parameters = get_simulation_parameters(wildcards)
    parameters["sweep_fraction"] = wildcards.sweep_fraction
    digest = hashlib.sha256(
        json.dumps(parameters, sort_keys=True).encode()
    ).hexdigest()[:12]
    return (
        f"results/checkpoints/{wildcards.disorder}/L{wildcards.L}_f{wildcards.sweep_fraction}/"
        f"batch{wildcards.batch}-{digest}.npz"
    )


def get_batch_files(wildcards):
    """The simulate outputs merged into one (disorder, L, sweep fraction) file."""
    return expand(
        "results/simulations/batches/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.nc",
        disorder=wildcards.disorder,
        L=wildcards.L,
        sweep_fraction=wildcards.sweep_fraction,
        batch=range(get_n_batches(wildcards.disorder, wildcards.L)),
    )


def scenario_parameter(name):
    """Param function returning one setting of the scenario of the job."""

    def lookup(wildcards):
        return config["scenarios"][wildcards.scenario][name]

    lookup.__name__ = f"get_scenario_{name}"
    return lookup


def network_parameter(name):
    """Param function returning one network setting (schema defaults filled in)."""

    def lookup(wildcards):
        return config["network"][name]

    lookup.__name__ = f"get_network_{name}"
    return lookup


def analysis_parameter(name):
    """Param function returning one analysis setting (schema defaults filled in)."""

    def lookup(wildcards):
        return config["analysis"][name]

    lookup.__name__ = f"get_analysis_{name}"
    return lookup


def audit_parameter(name):
    """Param function returning one audit setting (schema defaults filled in)."""

    def lookup(wildcards):
        return config["audit"][name]

    lookup.__name__ = f"get_audit_{name}"
    return lookup


def get_noise_estimate_flag(wildcards):
    """'--no-noise-estimate' unless audit.noise_estimate is set."""
    return "" if config["audit"]["noise_estimate"] else "--no-noise-estimate"


def get_audit_reports(wildcards):
    """Audit reports of one scenario for all sizes, increasing L."""
    return expand(
        "results/audit/{scenario}/L{L}.json", scenario=wildcards.scenario, L=get_sizes()
    )


def get_all_audit_reports(wildcards):
    """Audit reports of every scenario and size."""
    return expand(
        "results/audit/{scenario}/L{L}.json", scenario=get_scenarios(), L=get_sizes()
    )


def get_summary_audit_arguments(wildcards, input):
    """'--audit NAME=report.json' for every scenario and size (summary command line)."""
    return " ".join(
        f"--audit {name}={path}"
        for name in get_scenarios()
        for path in input.audits
        if path.startswith(f"results/audit/{name}/")
    )


def get_deterministic_flag(wildcards):
    """'--deterministic' if network.deterministic is set, else nothing."""
    return "--deterministic" if config["network"]["deterministic"] else ""


def get_training_data(wildcards):
    """Merged Gaussian file of size L at the scenario's sweep fraction."""
    fraction = format_fraction(
        config["scenarios"][wildcards.scenario]["sweep_fraction"]
    )
    return f"results/simulations/gaussian/L{wildcards.L}_f{fraction}.nc"


def get_bimodal_data(wildcards):
    """Merged bimodal file of size L (always thermalized)."""
    fraction = format_fraction(BIMODAL_SWEEP_FRACTION)
    return f"results/simulations/bimodal/L{wildcards.L}_f{fraction}.nc"


def get_bimodal_files(wildcards):
    """Merged bimodal files of all sizes, increasing L."""
    return expand(
        "results/simulations/bimodal/L{L}_f{sweep_fraction}.nc",
        L=get_sizes(),
        sweep_fraction=format_fraction(BIMODAL_SWEEP_FRACTION),
    )


def get_prediction_files(wildcards):
    """Predictions of one scenario for all sizes, increasing L."""
    return expand(
        "results/predictions/{scenario}/L{L}.nc",
        scenario=wildcards.scenario,
        L=get_sizes(),
    )


def get_scenario_estimates(wildcards):
    """Finite-size-scaling estimates of every scenario, in config order."""
    return expand(
        "results/analysis/{scenario}/estimates.json", scenario=get_scenarios()
    )


def get_summary_scenario_arguments(wildcards, input):
    """'--scenario NAME=estimates.json' for every scenario (summary command line)."""
    return " ".join(
        f"--scenario {name}={path}"
        for name, path in zip(get_scenarios(), input.scenarios, strict=True)
    )


def get_final_outputs():
    """Final targets: the summary, every scenario's figure and the baseline."""
    return [
        "results/summary/results.csv",
        "results/summary/tc_summary.png",
        "results/baseline/baseline.png",
        *expand("results/analysis/{scenario}/fig1.png", scenario=get_scenarios()),
    ]


# ------------------------------------------------------------------------------------------
# resources that scale with the job (the workflow profile sets the rest)
# ------------------------------------------------------------------------------------------


def get_simulate_runtime(wildcards, attempt):
    """Minutes for one simulate job: spin flips x NANOSECONDS_PER_SPIN_FLIP, x3 safety, x attempt."""
    parameters = get_simulation_parameters(wildcards)
    start, stop = (int(v) for v in parameters["instances"].split(":"))
    sweeps = math.ceil(float(wildcards.sweep_fraction) * parameters["n_sweeps"]) + (
        parameters["n_snapshots"] * parameters["measure_interval"]
    )
    flips = (stop - start) * 2 * parameters["n_temps"] * int(wildcards.L) ** 3 * sweeps
    nanoseconds = NANOSECONDS_PER_SPIN_FLIP[wildcards.disorder]
    minutes = 3 * flips * nanoseconds * 1e-9 / 60
    return max(10, math.ceil(minutes)) * attempt


def get_simulate_mem_mb(wildcards, attempt):
    """MB for one simulate job: stored overlaps (int8) three times over, plus 1 GB."""
    parameters = get_simulation_parameters(wildcards)
    start, stop = (int(v) for v in parameters["instances"].split(":"))
    overlap_bytes = (
        (stop - start)
        * parameters["n_temps"]
        * parameters["n_snapshots"]
        * int(wildcards.L) ** 3
    )
    return (1000 + math.ceil(3 * overlap_bytes / 1e6)) * attempt


# ------------------------------------------------------------------------------------------
# wildcard constraints
# ------------------------------------------------------------------------------------------


wildcard_constraints:
    disorder="|".join(DISORDERS),
    L=r"[0-9]+",
    sweep_fraction=r"[0-9]+\.[0-9]+",
    batch=r"[0-9]+",
    scenario="|".join(re.escape(name) for name in config["scenarios"]),
