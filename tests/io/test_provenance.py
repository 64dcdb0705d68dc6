"""Provenance of every output (sgpoison.io.provenance): version, git commit, parameters, hashes,
code fingerprints of the installed package and of each command."""

import datetime
import hashlib
import importlib.machinery
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sgpoison
from sgpoison.cli import COMMANDS
from sgpoison.errors import SettingsError
from sgpoison.io import provenance as prov


def test_provenance_records_version_commit_time_parameters_and_code():
    parameters = {"L": np.int64(8), "rho": 0.01, "tuple": (1, 2), "nan": float("nan"), "path": prov._SOURCE_DIR}
    out = prov.provenance(parameters)
    assert set(out) == {"sgpoison_version", "git_commit", "created", "parameters", "code_fingerprint",
                        "code_modules"}
    modules = json.loads(out["code_modules"])
    assert modules == prov.module_hashes()
    assert {"sgpoison.fss.verdict", "sgpoison.mc._kernel", "sgpoison.io.provenance"} <= set(modules)
    assert out["code_fingerprint"] == prov.code_fingerprint(hashes=modules)
    assert out["code_fingerprint"].startswith(f"code sgpoison-{sgpoison.__version__} ")
    assert out["sgpoison_version"] == sgpoison.__version__
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", out["git_commit"]), out["git_commit"]
    created = datetime.datetime.fromisoformat(out["created"])
    assert created.tzinfo is not None
    assert json.loads(out["parameters"]) == {"L": 8, "nan": None, "path": str(prov._SOURCE_DIR),
                                             "rho": 0.01, "tuple": [1, 2]}
    assert prov.provenance()["parameters"] == "{}"


def _git(directory, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=directory,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_commit_names_the_checkout_and_marks_changes(tmp_path, monkeypatch):
    monkeypatch.delenv("SGPOISON_GIT_COMMIT", raising=False)
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    monkeypatch.setattr(prov, "_SOURCE_DIR", tmp_path)
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert prov.git_commit() == head
    (tmp_path / "untracked.py").write_text("")
    assert prov.git_commit() == head  # untracked files do not count
    (tmp_path / "a.py").write_text("x = 2\n")
    assert prov.git_commit() == head + "-dirty"
    monkeypatch.setenv("SGPOISON_GIT_COMMIT", "abc123")
    assert prov.git_commit() == "abc123"
    monkeypatch.delenv("SGPOISON_GIT_COMMIT")
    monkeypatch.setattr(prov, "_SOURCE_DIR", tmp_path / "not-a-directory")
    assert prov.git_commit() == "unknown"


def test_file_sha256_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 1000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert prov.file_sha256(path, chunk=1000) == prov.file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        prov.file_sha256(tmp_path / "missing")


# ------------------------------------------------------------------------------------------
# code fingerprints, on a small package named sgpoison (a fresh directory per state: the
# hashes are computed once per process and directory)
# ------------------------------------------------------------------------------------------

EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]

PACKAGE = {
    "__init__.py": '"""The package."""\n__version__ = "9.9"\n',
    "cli/__init__.py": "import importlib\nCOMMANDS = ('alpha', 'beta-gamma')\n",
    "cli/_common.py": "from sgpoison.settings import Range\n",
    "cli/alpha.py": ("from sgpoison.cli._common import Range\n\n\ndef run():\n"
                     "    from sgpoison.fss.verdict import analyze\n    return analyze()\n"),
    "cli/beta_gamma.py": "import sgpoison.mc.kernels as kernels\n",
    "settings.py": "class Range:\n    pass\n",
    "fss/__init__.py": '"""Finite-size scaling."""\n',
    "fss/verdict.py": ('"""Verdict."""\nfrom . import stats\n\nLIMIT = 3  # a constant\n\n\n'
                       'def analyze():\n    """Docstring."""\n    return stats.mean() < LIMIT\n'),
    "fss/stats.py": "def mean():\n    return 1\n",
    "fss/unused.py": "X = 1\n",
    "mc/__init__.py": "",
    "mc/kernels.py": "from sgpoison.mc import _kernel\n",
    f"mc/_kernel{EXTENSION}": b"\x7fELF compiled kernel",
    "mc/_kernel.pyx": "# Cython source (compiled into the extension)\n",
    "mc/_kernel.c": "/* generated */\n",
}


def make_package(directory: Path, changes: dict | None = None) -> Path:
    """Write PACKAGE (with ``changes``: file -> new content) as directory/sgpoison; return it."""
    root = directory / "sgpoison"
    for name, content in (PACKAGE | (changes or {})).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return root


def _groups(fingerprint: str) -> dict[str, str]:
    return dict(item.split("=") for item in fingerprint.split()[2:])


def test_stage_modules_follow_every_import_but_not_the_dispatcher(tmp_path):
    root = make_package(tmp_path)
    # the import inside run() and the relative import count; the dispatcher and unused modules do not
    assert prov.stage_modules("alpha", root) == (
        "sgpoison", "sgpoison.cli._common", "sgpoison.cli.alpha", "sgpoison.fss", "sgpoison.fss.stats",
        "sgpoison.fss.verdict", "sgpoison.settings")
    assert prov.stage_modules("beta-gamma", root) == (
        "sgpoison", "sgpoison.cli.beta_gamma", "sgpoison.mc", "sgpoison.mc._kernel", "sgpoison.mc.kernels")
    with pytest.raises(SettingsError, match=r"'delta' is not an sgpoison command.*alpha, beta-gamma"):
        prov.stage_modules("delta", root)


def test_module_hashes_ignore_docstrings_comments_and_layout_but_not_code(tmp_path):
    base = make_package(tmp_path / "base")
    reworded = make_package(tmp_path / "reworded", {"fss/verdict.py": (
        '"""Verdict of the analysis, reworded."""\nfrom . import stats\nLIMIT = (3)\n'
        'def analyze():\n    """Another docstring."""\n\n    # a comment\n    return stats.mean() < LIMIT\n')})
    edited = make_package(tmp_path / "edited", {"fss/verdict.py": PACKAGE["fss/verdict.py"].replace("= 3", "= 4")})
    hashes = prov.module_hashes(base)
    assert prov.module_hashes(reworded) == hashes
    changed = prov.module_hashes(edited)
    assert {name for name in hashes if changed[name] != hashes[name]} == {"sgpoison.fss.verdict"}
    assert all(re.fullmatch("[0-9a-f]{16}", h) for h in hashes.values())
    # compiled extensions count by their bytes; their sources and generated C do not (what runs is the extension)
    assert hashes["sgpoison.mc._kernel"] == hashlib.sha256(PACKAGE[f"mc/_kernel{EXTENSION}"]).hexdigest()[:16]
    assert not any(name.endswith((".pyx", ".c")) for name in hashes)
    rebuilt = make_package(tmp_path / "rebuilt", {f"mc/_kernel{EXTENSION}": b"\x7fELF rebuilt kernel"})
    recompiled_source = make_package(tmp_path / "pyx", {"mc/_kernel.pyx": "# edited, not rebuilt\n"})
    assert prov.module_hashes(recompiled_source) == hashes
    assert {n for n, h in prov.module_hashes(rebuilt).items() if h != hashes[n]} == {"sgpoison.mc._kernel"}


def test_code_fingerprint_changes_for_exactly_the_commands_that_run_the_edit(tmp_path):
    base = make_package(tmp_path / "base")
    edited = make_package(tmp_path / "edited", {"fss/verdict.py": PACKAGE["fss/verdict.py"].replace("= 3", "= 4")})
    unused = make_package(tmp_path / "unused", {"fss/unused.py": "X = 2\n"})
    rebuilt = make_package(tmp_path / "rebuilt", {f"mc/_kernel{EXTENSION}": b"\x7fELF rebuilt kernel"})
    moved = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(base, moved / "sgpoison")
    alpha, beta = prov.code_fingerprint("alpha", root=base), prov.code_fingerprint("beta-gamma", root=base)
    assert alpha.startswith(f"code sgpoison-{sgpoison.__version__} ")
    assert list(_groups(alpha)) == ["cli", "fss", "settings", "sgpoison"]  # sorted sub-packages
    assert list(_groups(beta)) == ["cli", "mc", "sgpoison"]
    assert prov.code_fingerprint("alpha", root=moved / "sgpoison") == alpha  # content, not location
    assert prov.code_fingerprint("alpha", root=unused) == alpha  # a module no command imports
    assert prov.code_fingerprint("beta-gamma", root=edited) == beta
    changed = _groups(prov.code_fingerprint("alpha", root=edited))
    assert {g for g in changed if changed[g] != _groups(alpha)[g]} == {"fss"}
    assert prov.code_fingerprint("alpha", root=rebuilt) == alpha
    assert _groups(prov.code_fingerprint("beta-gamma", root=rebuilt))["mc"] != _groups(beta)["mc"]
    assert prov.code_fingerprint("alpha", root=base, version="10.0") != alpha
    # recorded hashes in place of the installed ones: equal hashes give the same line, a
    # missing or different module another
    hashes = prov.module_hashes(base)
    assert prov.code_fingerprint("alpha", hashes=hashes, root=edited) == alpha
    del hashes["sgpoison.fss.stats"]
    assert _groups(prov.code_fingerprint("alpha", hashes=hashes, root=base))["fss"] != _groups(alpha)["fss"]
    # the whole package: every module, also the dispatcher and unused ones
    assert prov.code_fingerprint(root=unused) != prov.code_fingerprint(root=base)


def test_code_parameter_switch(monkeypatch):
    fingerprint = prov.code_fingerprint("analyze")
    assert prov.code_parameter("analyze", environ={}) == fingerprint
    for on in ("on", "1", "True", " yes "):
        assert prov.code_parameter("analyze", environ={prov.CODE_SWITCH: on}) == fingerprint
    for off in ("off", "0", "false", "NO"):
        assert prov.code_parameter("analyze", environ={prov.CODE_SWITCH: off}) == prov.CODE_OFF
    with pytest.raises(SettingsError, match="SGPOISON_CODE_FINGERPRINT='maybe'"):
        prov.code_parameter("analyze", environ={prov.CODE_SWITCH: "maybe"})
    monkeypatch.setenv(prov.CODE_SWITCH, "off")
    assert prov.code_parameter("train") == prov.CODE_OFF


def test_commands_of_the_installed_package():
    """Each command's code: what its own module and the library functions it calls import."""
    for command in COMMANDS:
        assert prov.code_fingerprint(command).startswith("code sgpoison-")
    simulate, analyze, train = (set(prov.stage_modules(c)) for c in ("simulate", "analyze", "train"))
    assert {"sgpoison.mc.parallel_tempering", "sgpoison.mc._kernel", "sgpoison.mc._kernel_lanes",
            "sgpoison.mc._kernel_lanes32", "sgpoison.mc._kernel_multispin",
            "sgpoison.io.formats"} <= simulate
    assert {"sgpoison.fss.verdict", "sgpoison.fss.collapse", "sgpoison.report.figures"} <= analyze
    assert not {"sgpoison.mc.parallel_tempering", "sgpoison.ml.train"} & analyze
    assert "sgpoison.ml.train" in train and not {"sgpoison.fss.verdict", "sgpoison.mc.kernels"} & train
    assert prov.DISPATCHER not in simulate | analyze | train


def test_modules_a_command_loads_are_in_its_fingerprint(tmp_path):
    """Run ``sgpoison merge`` (its module's run(), as main does after parsing) in a fresh
    interpreter: every sgpoison module it loads is one of merge's modules (or the dispatcher)."""
    from sgpoison.mc.parallel_tempering import SimulationParameters, simulate

    base = dict(L=3, disorder="gaussian", n_sweeps=8, t_min=0.8, t_max=1.2, n_temps=3, n_snapshots=2,
                measure_interval=2, seed=1)
    paths = [simulate(SimulationParameters(instance_start=a, instance_stop=b, **base), tmp_path / f"b{a}.nc")
             for a, b in ((0, 1), (1, 2))]
    script = ("import argparse, json, sys\nfrom sgpoison.cli import merge\n"
              f"merge.run(argparse.Namespace(inputs={[str(p) for p in paths]!r}, out={str(tmp_path / 'm.nc')!r}), None)\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'sgpoison')))\n")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       check=True).stdout)
    assert "sgpoison.io.formats" in loaded
    assert set(loaded) - {prov.DISPATCHER} <= set(prov.stage_modules("merge"))
