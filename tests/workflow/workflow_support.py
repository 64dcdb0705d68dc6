"""Helpers for the workflow tests: copying the workflow, running Snakemake, parsing dry runs,
a stand-in ``sgpoison`` command, and validation of the outputs of a real run."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from builders import load_config  # noqa: F401 (used by the workflow tests)

REPO = Path(__file__).resolve().parents[2]
#: what a workflow run needs, copied into a scratch directory per test
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles", "envs")
COMMANDS = ("simulate", "merge", "audit", "train", "predict", "train-null", "predict-null", "analyze",
            "conventional", "summary")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def copy_workflow(destination: Path, config: str | dict = "test.yaml") -> Path:
    """Copy the workflow into ``destination`` with ``config`` as its config/config.yaml.

    ``config`` is the name of a file in config/ or a config dictionary.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination / name)
    write_config(destination, load_config(config) if isinstance(config, str) else config)
    return destination


def write_config(workdir: Path, config: dict) -> None:
    with open(workdir / "config" / "config.yaml", "w") as stream:
        yaml.safe_dump(config, stream, sort_keys=False)


def snakemake(workdir: Path, *args: str, env: dict | None = None, timeout: float = 600,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m snakemake ARGS`` in ``workdir``; output captured as text (stdout+stderr).

    The process runs in its own session and the whole group is killed (SIGKILL) on timeout:
    the Slurm plugin's status loop ignores SIGTERM.
    """
    command = [sys.executable, "-m", "snakemake", *args]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               stdin=subprocess.DEVNULL)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"snakemake {' '.join(args)} timed out after {timeout} s:\n"
                             f"{output[-5000:]}") from None
    result = subprocess.CompletedProcess(command, process.returncode, output, "")
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{output[-8000:]}")
    return result


def expected_job_counts(config: dict) -> Counter:
    """Jobs of a complete run of ``config`` by rule (rule all excluded); the scans' scenarios
    (sgpoison.config.expand_scans) count as scenarios, plus one dose_response job per scan axis."""
    import copy

    from sgpoison.config import scan_doses, validate_config

    config = validate_config(copy.deepcopy(config), REPO / "workflow" / "schemas" / "config.schema.yaml")
    sizes = config["sizes"]
    scenarios = config["scenarios"]
    batch_size = config["simulation"]["batch_size"]
    fractions = {float(s["sweep_fraction"]) for s in scenarios.values()}
    # simulation.share_sweep_fractions: one simulate_shared job per Gaussian batch writes every fraction
    shared = config["simulation"]["share_sweep_fractions"] and len(fractions) > 1
    counts = Counter()
    for disorder, n_fractions in (("gaussian", len(fractions)), ("bimodal", 1)):
        rows = {row["L"]: row for row in config["simulation"][disorder]}
        for L in sizes:
            batches = math.ceil(rows[L]["n_instances"] / batch_size)
            if disorder == "gaussian" and shared:
                counts["simulate_shared"] += batches
            else:
                counts["simulate"] += n_fractions * batches
            counts["merge"] += n_fractions
    counts["audit"] = len(sizes) * len(scenarios)
    n_networks = config["network"].get("n_networks", 1)
    counts["train"] = counts["predict"] = len(sizes) * len(scenarios) * n_networks
    if config.get("null_models", ["ql", "q2", "q2_ql"]):  # one job fits (predicts) every null model
        counts["train_null"] = counts["predict_null"] = len(sizes) * len(scenarios)
    counts["analyze"] = len(scenarios)
    counts["conventional"] = counts["summary"] = 1
    if scan_doses(config):
        counts["dose_response"] = len(scan_doses(config))
    return counts


# ------------------------------------------------------------------------------------------
# dry runs
# ------------------------------------------------------------------------------------------


@dataclass
class PlannedJob:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    #: as printed, e.g. {"mem_mb": "4000", "gpu": "1"}
    resources: dict[str, str] = field(default_factory=dict)
    #: the group job it runs in (profiles' `groups:`), or None
    group: str | None = None

    def __repr__(self) -> str:
        wildcards = ",".join(f"{k}={v}" for k, v in sorted(self.wildcards.items()))
        return f"{self.rule}({wildcards})"


_RULE_LINE = re.compile(r"^(\s*)(?:local)?rule (\w+):\s*$")
#: heads the (indented) jobs of one group job in a dry run
_GROUP_LINE = re.compile(r"Group job (\S+) \(jobs in")


def planned_jobs(output: str) -> list[PlannedJob]:
    """Jobs listed by ``snakemake -n`` (rule, wildcards, reason, resources, group), rule `all`
    excluded."""
    jobs: list[PlannedJob] = []
    current: PlannedJob | None = None
    group: str | None = None
    for line in output.splitlines():
        match = _RULE_LINE.match(line)
        group_match = _GROUP_LINE.search(line)
        if group_match:
            group, current = group_match.group(1), None
        elif match:
            indented = bool(match.group(1))
            current = PlannedJob(match.group(2), group=group if indented else None)
            if current.rule != "all":
                jobs.append(current)
        elif current is not None and line.startswith("    "):
            key, _, value = line.strip().partition(": ")
            if key == "wildcards":
                current.wildcards = dict(item.split("=", 1) for item in value.split(", "))
            elif key == "reason":
                current.reason = value
            elif key == "resources":
                current.resources = dict(item.split("=", 1) for item in value.split(", "))
        else:
            current = None
    return jobs


def dry_run(workdir: Path, *args: str, env: dict | None = None) -> list[PlannedJob]:
    result = snakemake(workdir, "-n", "--cores", "2", *args, env=env)
    return planned_jobs(result.stdout)


# ------------------------------------------------------------------------------------------
# a stand-in for the sgpoison command line (for DAG and rerun tests; no physics)
# ------------------------------------------------------------------------------------------

_STUB = '''#!{python}
"""Stand-in for `sgpoison`: writes every output named on the command line (docs/cli.md)."""
import json, os, sys
command, args = sys.argv[1], sys.argv[2:]
values, lists = {{}}, {{}}
for i, arg in enumerate(args):
    if arg.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
        values[arg] = args[i + 1]
        following = args[i + 1:]
        stop = next((j for j, a in enumerate(following) if a.startswith("--")), len(following))
        lists[arg] = following[:stop]
record = json.dumps({{"command": command, "argv": args}})
files = [path for k in ("--out", "--history", "--metadata") for path in lists.get(k, [])]
files += [args[i + 2] for i, arg in enumerate(args) if arg == "--shared-fraction"]  # G OUT pairs
directory_outputs = {{
    "analyze": ("estimates.json", "estimates.nc", "fig1.png", "fig1.pdf", "nulls.png", "nulls.pdf"),
    "conventional": ("estimates.json", "estimates.nc", "conventional.png", "conventional.pdf"),
    "summary": ("results.csv", "results.nc", "tc_summary.png", "tc_summary.pdf"),
    "dose-response": ("table.csv", "table.nc", "dose_response.png", "dose_response.pdf", "signal_loss.json"),
}}
if command in directory_outputs:
    files = [os.path.join(values["--out"], name) for name in directory_outputs[command]]
for path in files:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as stream:
        stream.write(record)
with open(os.environ["SGPOISON_STUB_CALLS"], "a") as stream:
    stream.write(record + "\\n")
# like the real audit: labels with noise disagree with the temperatures, and with
# --policy refuse a failing audit exits 3 after writing its report
if command == "audit" and values.get("--policy") == "refuse" and float(values["--label-noise"]) > 0:
    sys.exit(3)
'''


def stub_environment(directory: Path) -> dict:
    """Environment whose PATH starts with a stand-in `sgpoison`; calls go to directory/calls."""
    bin_dir = directory / "stub-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    stub = bin_dir / "sgpoison"
    stub.write_text(_STUB.format(python=sys.executable))
    stub.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["SGPOISON_STUB_CALLS"] = str(directory / "calls.jsonl")
    return env


# ------------------------------------------------------------------------------------------
# real runs
# ------------------------------------------------------------------------------------------


def missing_commands() -> list[str]:
    """sgpoison commands not (yet) available on PATH."""
    executable = shutil.which("sgpoison")
    if executable is None:
        return list(COMMANDS)
    result = subprocess.run([executable, "--help"], capture_output=True, text=True)
    return [c for c in COMMANDS if not re.search(rf"\b{c}\b", result.stdout)]


def require_commands(pytest) -> None:
    """Skip (fail on CI) unless every sgpoison command exists."""
    missing = missing_commands()
    if missing:
        message = f"sgpoison commands not available yet: {', '.join(missing)}"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


def validate_outputs(workdir: Path, config: dict) -> None:
    """Check the files of a finished real run: presence, formats, provenance, scenario names."""
    import pandas as pd
    import xarray as xr

    results = workdir / "results"
    sizes = sorted(config["sizes"])
    scenarios = list(config["scenarios"])
    provenance = ("sgpoison_version", "git_commit", "parameters")

    for disorder in ("gaussian", "bimodal"):
        fractions = ({str(float(s["sweep_fraction"])) for s in config["scenarios"].values()}
                     if disorder == "gaussian" else {"1.0"})
        rows = {row["L"]: row for row in config["simulation"][disorder]}
        for L in sizes:
            for fraction in fractions:
                path = results / "simulations" / disorder / f"L{L}_f{fraction}.nc"
                with xr.open_dataset(path) as ds:
                    assert ds.attrs["format"] == "sgpoison-simulation", path
                    assert int(ds.attrs["L"]) == L and ds.attrs["disorder"] == disorder, path
                    assert float(ds.attrs["sweep_fraction"]) == float(fraction), path
                    assert ds.sizes["instance"] == rows[L]["n_instances"], path
                    assert ds.sizes["temperature"] == rows[L]["n_temps"], path
                    assert ds.sizes["snapshot"] == rows[L]["n_snapshots"], path
                    assert int(ds.attrs["seed"]) == 1000 * config["simulation"]["seed"] + L
                    for key in provenance:
                        assert key in ds.attrs, f"{path}: no {key} attribute"

    n_networks = config["network"].get("n_networks", 1)
    nulls = config.get("null_models", ["ql", "q2", "q2_ql"])
    for scenario in scenarios:
        for L in sizes:
            model_dir = results / "models" / scenario / f"L{L}"
            names = [f"cnn{k}" for k in range(n_networks)] + [f"null_{obs}" for obs in nulls]
            for name in names:
                if name.startswith("cnn"):
                    assert (model_dir / f"{name}.keras").stat().st_size > 0
                    assert (model_dir / f"{name}.history.csv").stat().st_size > 0
                metadata = json.loads((model_dir / f"{name}.json").read_text())
                assert metadata["scenario"] == scenario, f"{model_dir}/{name}.json: scenario"
                assert metadata["classifier"] == ("cnn" if name.startswith("cnn") else name), name
                assert metadata["network_index"] == (int(name[3:]) if name.startswith("cnn") else 0)
                assert metadata["device"], f"{model_dir}/{name}.json records no device"
                for key in ("sgpoison_version", "git_commit"):
                    assert key in metadata["provenance"], f"{model_dir}/{name}.json has no {key}"
                path = results / "predictions" / scenario / f"L{L}" / f"{name}.nc"
                with xr.open_dataset(path) as ds:
                    assert ds.attrs["format"] == "sgpoison-prediction" and ds.attrs["format_version"] == 2, path
                    assert ds.attrs["scenario"] == scenario, path
                    assert ds.attrs["classifier"] == metadata["classifier"], path
                    assert ds.attrs["network_index"] == metadata["network_index"], path
                    label_noise = config["scenarios"][scenario]["label_noise"]
                    assert float(ds.attrs["label_noise"]) == label_noise, path
                    assert float(ds.attrs["training_sweep_fraction"]) == float(
                        config["scenarios"][scenario]["sweep_fraction"]), path
                    assert ds.attrs["settings_sha256"] == metadata["settings_sha256"], path
                    p = ds["p"].values
                    assert ((p >= 0) & (p <= 1)).all(), f"{path}: p outside [0, 1]"
                    for key in provenance:
                        assert key in ds.attrs, f"{path}: no {key} attribute"
        analysis = results / "analysis" / scenario
        json.loads((analysis / "estimates.json").read_text())
        for name in ("estimates.nc", "fig1.png", "fig1.pdf", "nulls.png", "nulls.pdf"):
            assert (analysis / name).stat().st_size > 0, analysis / name

    conventional = results / "conventional"
    json.loads((conventional / "estimates.json").read_text())
    for name in ("estimates.nc", "conventional.png", "conventional.pdf"):
        assert (conventional / name).stat().st_size > 0, conventional / name

    summary = results / "summary"
    table = pd.read_csv(summary / "results.csv")
    text = table.to_csv()
    for scenario in scenarios:
        assert scenario in text, f"results.csv has no row for scenario {scenario}"
    for name in ("results.nc", "tc_summary.png", "tc_summary.pdf"):
        assert (summary / name).stat().st_size > 0, summary / name
    verdicts = dict(zip(table["scenario"], table["audit_verdict"]))
    for scenario in scenarios:
        reports = [json.loads((results / "audit" / scenario / f"L{L}.json").read_text()) for L in sizes]
        assert all(r["verdict"] in ("pass", "fail") and r["scenario"] == scenario for r in reports)
        expected = "fail" if any(r["verdict"] == "fail" for r in reports) else "pass"
        assert verdicts[scenario] == expected, (scenario, verdicts)
        if config["scenarios"][scenario]["label_noise"] > 0:  # flipped labels contradict T
            assert verdicts[scenario] == "fail", scenario

    stages = ["simulate", "merge", "audit", "train", "predict", "analyze", "conventional", "summary"]
    stages += ["train_null", "predict_null"] if nulls else []
    for stage in stages:
        assert list((workdir / "logs" / stage).rglob("*.log")), f"no logs of {stage}"
        assert list((results / "benchmarks" / stage).rglob("*.tsv")), f"no benchmarks of {stage}"


# ------------------------------------------------------------------------------------------
# the finished tiny study (real sgpoison commands), shared by the tests of a finished run
# ------------------------------------------------------------------------------------------


PROFILE = "profiles/slurm-gpu"


def cut_to_the_tiny_study(workdir) -> dict:
    """The scratch copy of the shipped GPU profile with one thread and 1500 MB per job, so that
    two jobs share the 2-CPU test node; everything else (GPU requests, groups, cluster settings)
    as shipped. (--set-threads/--set-resources on the command line would replace the profile's
    mappings as a whole, GPU requests included.) Returns the profile."""
    path = workdir / PROFILE / "config.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = 1500
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return profile


def slurm_problem() -> str | None:
    """Why the Slurm test cannot run here, or None."""
    for tool in ("sinfo", "sbatch", "sacct", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} not found (start a cluster with: bash .ci/start-slurm.sh --install)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if "UP" not in ping.stdout:
        return f"no Slurm controller answers: {ping.stdout.strip()} {ping.stderr.strip()}"
    sacct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True,
                           text=True)
    if sacct.returncode != 0:
        return f"sacct fails (accounting needed by the plugin's status checks): {sacct.stderr}"
    gres = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True)
    if "gpu" not in gres.stdout:
        return (f"no node advertises a GPU gres (sinfo: {gres.stdout.strip()!r}); restart the "
                "cluster with: bash .ci/start-slurm.sh")
    return None


@dataclass
class FinishedStudy:
    """A tiny study run to completion: its directory, how it ran ("slurm" or "local"), the
    Snakemake output, and the workflow profile of a Slurm run (else None)."""

    workdir: Path
    executor: str
    output: str
    profile: dict | None = None


def run_tiny_study(workdir: Path, through_slurm: bool) -> FinishedStudy:
    """Run config/test.yaml in ``workdir`` with the real sgpoison commands: through the cluster
    with the shipped GPU profile (:func:`cut_to_the_tiny_study`), or locally on 2 cores."""
    copy_workflow(workdir, "test.yaml")
    if through_slurm:
        profile = cut_to_the_tiny_study(workdir)
        result = snakemake(workdir, "--workflow-profile", PROFILE, timeout=1800)
        return FinishedStudy(workdir, "slurm", result.stdout, profile)
    result = snakemake(workdir, "--cores", "2", timeout=1800)
    return FinishedStudy(workdir, "local", result.stdout)
