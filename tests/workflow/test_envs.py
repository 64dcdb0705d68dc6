"""The conda environments of the workflow (envs/*.yaml) pin exact versions that agree with
pyproject.toml, and every rule declares one of them."""

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
EXTRA_PACKAGES = {"network.yaml": {"tensorflow-cpu"}}


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


def env_pins(path: Path) -> dict[str, tuple[str, str]]:
    """{canonical name: (version, "conda" | "pip")} of an environment file; fails if unpinned."""
    with open(path) as stream:
        env = yaml.safe_load(stream)
    pins = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for text in entry["pip"]:
                match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", text.strip())
                assert match, f"{path.name}: pip requirement {text!r} is not pinned with =="
                pins[canonicalize_name(match.group(1))] = (match.group(2), "pip")
        else:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==?([A-Za-z0-9_.+\-]+)", entry.strip())
            assert match, f"{path.name}: conda dependency {entry!r} is not pinned"
            pins[canonicalize_name(match.group(1))] = (match.group(2), "conda")
    return pins


def test_there_are_three_environments():
    assert {p.name for p in ENVS} == {"simulation.yaml", "network.yaml", "analysis.yaml"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_pins_agree_with_pyproject(path):
    requirements = pyproject_requirements()
    pins = env_pins(path)
    for name, (version, _) in pins.items():
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


def test_every_rule_declares_an_existing_environment():
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    declared = set()
    for path in rules:
        text = path.read_text()
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, flags=re.M):
            match = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
            assert match, f"rule {rule} ({path.name}) has no conda: directive"
            env = (path.parent / match.group(1)).resolve()
            assert env.is_file(), f"rule {rule}: {match.group(1)} does not exist"
            declared.add(env.name)
    assert declared == {p.name for p in ENVS}
