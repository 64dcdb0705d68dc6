"""The conda environments of the workflow (envs/*.yaml) pin exact versions that agree with
pyproject.toml, every rule declares one of them, and the GPU variant of the network environment
differs from it only by the TensorFlow build (as the extras network and gpu do)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
#: packages of each environment that a rule needs beyond the runtime dependencies
EXTRA_PACKAGES = {"network.yaml": {"tensorflow-cpu", "scikit-learn"},
                  "network-gpu.yaml": {"tensorflow", "scikit-learn"}}
#: GPU variant -> the environment the rules declare, which it replaces on GPU nodes
GPU_VARIANTS = {"network-gpu.yaml": "network.yaml"}


def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)


def pyproject_requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml (runtime, extras, build) by canonical name."""
    data = pyproject()
    texts = list(data["project"]["dependencies"]) + list(data["build-system"]["requires"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        texts += [t for t in extra if not t.startswith("sgpoison[")]
    requirements = {}
    for text in texts:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name in requirements:  # same package listed twice: both constraints apply
            requirement.specifier &= requirements[name].specifier
        requirements[name] = requirement
    return requirements


def pyproject_extras() -> dict[str, set[str]]:
    """{extra: canonical names of the packages it installs}, references to other extras of
    sgpoison (``sgpoison[a,b]``) expanded."""
    extras = pyproject()["project"]["optional-dependencies"]

    def expand(name: str) -> set[str]:
        names = set()
        for text in extras[name]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "sgpoison":
                for extra in requirement.extras:
                    names |= expand(extra)
            else:
                names.add(canonicalize_name(requirement.name))
        return names

    return {name: expand(name) for name in extras}


def pip_requirements(path: Path) -> dict[str, Requirement]:
    """The pip requirements of an environment file by canonical name (with their extras)."""
    with open(path) as stream:
        env = yaml.safe_load(stream)
    requirements = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for text in entry["pip"]:
                requirement = Requirement(text)
                requirements[canonicalize_name(requirement.name)] = requirement
    return requirements


def env_pins(path: Path) -> dict[str, tuple[str, str]]:
    """{canonical name: (version, "conda" | "pip")} of an environment file; fails if unpinned."""
    with open(path) as stream:
        env = yaml.safe_load(stream)
    pins = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for text in entry["pip"]:
                match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[A-Za-z0-9_,\-]+\])?"
                                     r"==([A-Za-z0-9_.+\-]+)", text.strip())
                assert match, f"{path.name}: pip requirement {text!r} is not pinned with =="
                pins[canonicalize_name(match.group(1))] = (match.group(2), "pip")
        else:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==?([A-Za-z0-9_.+\-]+)", entry.strip())
            assert match, f"{path.name}: conda dependency {entry!r} is not pinned"
            pins[canonicalize_name(match.group(1))] = (match.group(2), "conda")
    return pins


def test_the_environments():
    assert {p.name for p in ENVS} == {"simulation.yaml", "network.yaml", "network-gpu.yaml",
                                      "analysis.yaml"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_pins_agree_with_pyproject(path):
    requirements = pyproject_requirements()
    pins = env_pins(path)
    for name, (version, source) in pins.items():
        if name == "python":
            python = SpecifierSet(pyproject()["project"]["requires-python"])
            assert Version(version + ".0") in python, f"{path.name}: python {version}"
            continue
        requirement = requirements.get(name)
        if requirement is None:
            continue  # e.g. pip or the compiler: not a Python requirement of the package
        assert Version(version) in requirement.specifier, (
            f"{path.name}: {name}=={version} violates pyproject.toml's {requirement}")
        for spec in requirement.specifier:
            if spec.operator == "==":
                assert version == spec.version, (
                    f"{path.name}: {name}=={version}, pyproject.toml pins {spec.version}")
        if source == "pip":
            extras = pip_requirements(path)[name].extras
            assert extras == requirement.extras, (
                f"{path.name}: {name} with extras {sorted(extras)}, pyproject.toml asks for "
                f"{sorted(requirement.extras)}")


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_contains_the_package_dependencies(path):
    pins = env_pins(path)
    runtime = {canonicalize_name(Requirement(t).name) for t in pyproject()["project"]["dependencies"]}
    build = {canonicalize_name(Requirement(t).name) for t in pyproject()["build-system"]["requires"]}
    needed = runtime | build | {canonicalize_name(n) for n in EXTRA_PACKAGES.get(path.name, ())}
    missing = needed - set(pins)
    assert not missing, f"{path.name} lacks {sorted(missing)}"


def test_same_package_same_version_in_every_environment():
    versions: dict[str, dict[str, str]] = {}
    for path in ENVS:
        for name, (version, _) in env_pins(path).items():
            versions.setdefault(name, {})[path.name] = version
    for name, by_env in versions.items():
        assert len(set(by_env.values())) == 1, f"{name} pinned differently: {by_env}"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_installs_the_package(path):
    script = path.with_name(path.stem + ".post-deploy.sh")
    assert script.is_file(), f"{script.name} missing: nothing would install sgpoison"
    assert "pip install" in script.read_text()


def test_gpu_extra_is_the_cuda_build_of_the_cpu_tensorflow():
    extras = pyproject()["project"]["optional-dependencies"]
    (cpu,) = [Requirement(t) for t in extras["network"] if Requirement(t).name == "tensorflow-cpu"]
    (gpu,) = [Requirement(t) for t in extras["gpu"] if Requirement(t).name == "tensorflow"]
    assert gpu.extras == {"and-cuda"}, gpu
    assert str(gpu.specifier) == str(cpu.specifier), (gpu, cpu)


def test_no_extra_installs_both_tensorflow_builds():
    """tensorflow and tensorflow-cpu both install the module `tensorflow`: one or the other."""
    for extra, names in pyproject_extras().items():
        assert not {"tensorflow", "tensorflow-cpu"} <= names, f"extra {extra} installs both"
    extras = pyproject_extras()
    assert "tensorflow-cpu" in extras["all"] and "tensorflow" in extras["all-gpu"]
    assert extras["all"] - {"tensorflow-cpu"} == extras["all-gpu"] - {"tensorflow"}


@pytest.mark.parametrize("gpu_env, cpu_env", sorted(GPU_VARIANTS.items()))
def test_gpu_environment_differs_only_by_the_tensorflow_build(gpu_env, cpu_env):
    gpu = env_pins(REPO / "envs" / gpu_env)
    cpu = env_pins(REPO / "envs" / cpu_env)
    assert gpu.pop("tensorflow") == cpu.pop("tensorflow-cpu")
    assert gpu == cpu
    assert pip_requirements(REPO / "envs" / gpu_env)["tensorflow"].extras == {"and-cuda"}
    with open(REPO / "envs" / gpu_env) as gpu_stream, open(REPO / "envs" / cpu_env) as cpu_stream:
        assert yaml.safe_load(gpu_stream)["channels"] == yaml.safe_load(cpu_stream)["channels"]


#: the conda: function of the network rules (workflow/rules/common.smk) and what it can return
CONDA_FUNCTIONS = {"get_network_conda_env": ("../../envs/network.yaml", "../../envs/network-gpu.yaml")}


def test_every_rule_declares_an_existing_environment():
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    declared = set()
    for path in rules:
        text = path.read_text()
        for indent, rule, body in re.findall(r"^( *)rule (\w+):\n((?:\1    .*\n|\n)*)", text, flags=re.M):
            match = re.search(r"conda:\s*\n\s*(?:\"([^\"]+)\"|(\w+)\s*,?\s*\n)", body)
            assert match, f"rule {rule} ({path.name}) has no conda: directive"
            if match.group(2):
                assert match.group(2) in CONDA_FUNCTIONS, f"rule {rule}: unknown conda function {match.group(2)}"
                envs = CONDA_FUNCTIONS[match.group(2)]
            else:
                envs = (match.group(1),)
            for name in envs:
                env = (path.parent / name).resolve()
                assert env.is_file(), f"rule {rule}: {name} does not exist"
                declared.add(env.name)
    # every environment is declared by some rule, the GPU variants through the conda function
    assert declared == {p.name for p in ENVS}
    assert set(GPU_VARIANTS.values()) <= declared


#: answers of a stand-in `conda` to what `snakemake --list-conda-envs` asks (no environment is built)
_FAKE_CONDA = """#!/bin/sh
case "$1" in
  --version) echo "conda 24.11.0";;
  info) echo '{"conda_version": "24.11.0", "conda_prefix": "/nonexistent", "envs_dirs": [], "platform": "linux-64", "root_prefix": "/nonexistent", "active_prefix": null}';;
  config) echo '{"get": {"channel_priority": "strict"}}';;
  *) echo '{}';;
esac
"""


@pytest.mark.workflow
def test_gpu_jobs_use_the_gpu_environment(tmp_path):
    """train/predict use envs/network-gpu.yaml exactly when their job asks for a GPU (the conda:
    function of the rules, Snakemake >= 7.10): the environments Snakemake would deploy for the
    tiny study with the default and with the GPU workflow profile (a stand-in conda answers the
    version queries; nothing is installed)."""
    import os

    from workflow_support import copy_workflow, snakemake

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "conda").write_text(_FAKE_CONDA)
    (bin_dir / "conda").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    workdir = copy_workflow(tmp_path / "wf", "test.yaml")

    def environments(*args):
        output = snakemake(workdir, "--list-conda-envs", *args, env=env).stdout
        return {line.split("\t")[0] for line in output.splitlines() if line.startswith("envs/")}

    assert environments() == {"envs/simulation.yaml", "envs/network.yaml", "envs/analysis.yaml"}
    # the GPU profile: train and predict switch; audit and the null models stay on network.yaml
    assert environments("--workflow-profile", "profiles/slurm-gpu") == {
        "envs/simulation.yaml", "envs/network.yaml", "envs/network-gpu.yaml", "envs/analysis.yaml"}
