"""Provenance recorded in every output file.

Every file the package writes carries the package version, the git commit of
the source tree (``"unknown"`` when not in a git checkout), the code fingerprint
of the installed package, the creation time (UTC, ISO 8601) and the parameters
that produced it; files it reads are identified by their SHA-256
(:func:`file_sha256`).

Code fingerprints (docs/workflow.md, "Provenance audit")
--------------------------------------------------------
:func:`module_hashes`
    SHA-256 (first 16 hex digits) of every module of the *imported* ``sgpoison``
    package (found from ``sgpoison.__file__``, not from git): Python modules by their
    source with docstrings, comments and formatting removed (``ast.unparse`` of the
    parsed module), compiled extensions (the Monte Carlo kernels) by their bytes (built
    without debug information, setup.py, so a rebuild of the same sources on the same
    machine keeps them).
:func:`stage_modules`
    The modules one ``sgpoison`` command runs: the static import closure of
    ``sgpoison.cli.<command>`` (imports at any depth, also inside functions, and the
    packages that contain them), without the dispatcher ``sgpoison.cli``.
:func:`code_fingerprint`
    One line naming the version and a digest per sub-package of those modules, e.g.
    ``"code sgpoison-0.1.0 cli=... errors=... fss=... io=... report=..."``; the workflow
    passes it to every rule as the param ``code`` (:func:`code_parameter`), so a changed
    module reruns exactly the jobs of the commands that import it.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import hashlib
import importlib.machinery
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

import sgpoison
from sgpoison import __version__
from sgpoison.errors import SettingsError
from sgpoison.io.jsonio import to_json

_SOURCE_DIR = Path(__file__).resolve().parent
#: root of the imported package (the directory of ``sgpoison/__init__.py``)
PACKAGE_DIR = Path(sgpoison.__file__).resolve().parent
PACKAGE = "sgpoison"
#: hex digits kept of each module's SHA-256 and of each sub-package digest
MODULE_DIGITS = 16
GROUP_DIGITS = 12
#: the command dispatcher imports every command; it only routes, so it is no stage's code
DISPATCHER = "sgpoison.cli"
#: environment variable that switches the workflow's ``code`` params off (:func:`code_parameter`)
CODE_SWITCH = "SGPOISON_CODE_FINGERPRINT"
#: the ``code`` param of every rule while the switch is off
CODE_OFF = f"code fingerprint off ({CODE_SWITCH}=off)"


def git_commit() -> str:
    """Return the git commit of the sgpoison source tree, with ``-dirty`` if modified.

    Looks first at ``SGPOISON_GIT_COMMIT`` (set this when running from an
    installed wheel), then asks git about the source directory. Returns
    ``"unknown"`` when neither works; never raises.
    """
    env = os.environ.get("SGPOISON_GIT_COMMIT")
    if env:
        return env
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_SOURCE_DIR, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=_SOURCE_DIR,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(parameters: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Return provenance attributes suitable for NetCDF attrs or JSON metadata.

    Parameters
    ----------
    parameters : mapping, optional
        The full parameter set of the computation; stored as strict JSON text
        (:func:`sgpoison.io.jsonio.to_json`, keys sorted) under ``parameters``.

    Returns
    -------
    dict of str to str
        ``sgpoison_version``, ``git_commit``, ``created``, ``parameters``,
        ``code_fingerprint`` (:func:`code_fingerprint` of the whole package) and
        ``code_modules`` (JSON object of :func:`module_hashes`, from which the
        fingerprint of any command can be recomputed: ``sgpoison provenance``).
    """
    return {
        "sgpoison_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": to_json(dict(parameters or {}), sort_keys=True),
        "code_fingerprint": code_fingerprint(),
        "code_modules": to_json(module_hashes(), sort_keys=True),
    }


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks of ``chunk`` bytes.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------
# code fingerprints
# ------------------------------------------------------------------------------------------


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _module_files(root: Path) -> dict[str, Path]:
    """Module name -> file of every Python module and compiled extension below ``root``."""
    extension_suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    files = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        relative = path.relative_to(root)
        if path.suffix == ".py":
            parts = relative.with_suffix("").parts
        elif path.name.endswith(extension_suffixes):
            suffix = next(s for s in extension_suffixes if path.name.endswith(s))
            parts = (*relative.parts[:-1], path.name[: -len(suffix)])
        else:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join((PACKAGE, *parts))] = path
    return files


def _imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Package modules imported anywhere in one module (also inside functions)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            names = [origin] + [f"{origin}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


@functools.lru_cache(maxsize=None)
def _scan(root: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Module name -> (hash, package modules it imports), every module below ``root``; cached."""
    files = _module_files(root)
    known = set(files)
    scanned = {}
    for name, path in files.items():
        data, imports = path.read_bytes(), frozenset()
        if path.suffix == ".py":
            text = data.decode("utf-8")
            try:
                tree = ast.parse(text)
            except SyntaxError:  # hashed as it is; it cannot run anyway
                tree = None
            if tree is not None:
                imports = frozenset(_imported_modules(tree, name, path.name == "__init__.py", known))
                text = ast.unparse(_without_docstrings(tree))
            data = text.encode("utf-8")
        scanned[name] = (hashlib.sha256(data).hexdigest()[:MODULE_DIGITS], imports)
    return scanned


def module_hashes(root: str | os.PathLike | None = None) -> dict[str, str]:
    """Module name -> its hash, for every module of the package (see the module docstring).

    Parameters
    ----------
    root : path-like, optional
        Directory of the package named ``sgpoison``; default: the imported one
        (:data:`PACKAGE_DIR`). Computed once per process and root.

    Returns
    -------
    dict of str to str
        E.g. ``{"sgpoison.fss.verdict": "3f2a9c1b2d4e5f60", ...}`` (16 hex digits each).
    """
    return {name: digest for name, (digest, _) in _scan(Path(root or PACKAGE_DIR).resolve()).items()}


def stage_modules(stage: str, root: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The modules the command ``sgpoison <stage>`` runs (sorted names).

    The static import closure of ``sgpoison.cli.<stage>`` (``-`` read as ``_``): every
    ``import``/``from ... import`` of a package module at any depth, followed
    transitively, with the packages containing each module (their ``__init__`` runs on
    import). The dispatcher :data:`DISPATCHER` is left out: it imports every command
    to build the parser, but runs only the chosen one.

    Raises
    ------
    SettingsError
        If ``stage`` is not a command (no module ``sgpoison.cli.<stage>``).
    """
    scanned = _scan(Path(root or PACKAGE_DIR).resolve())
    start = f"{PACKAGE}.cli.{stage.replace('-', '_')}"
    if start not in scanned or start == f"{PACKAGE}.cli._common":
        commands = sorted(name.rpartition(".")[2].replace("_", "-") for name in scanned
                          if name.startswith(f"{PACKAGE}.cli.") and not name.endswith(("._common", ".__main__")))
        raise SettingsError(f"code fingerprint: {stage!r} is not an sgpoison command "
                            f"(no module {start}); commands: {', '.join(commands)}", key="stage")
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += scanned[module][1]
    return tuple(sorted(seen - {DISPATCHER}))


def _group(module: str) -> str:
    """Sub-package (or top-level module) a module belongs to: ``sgpoison.fss.verdict`` -> ``fss``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def code_fingerprint(stage: str | None = None, hashes: Mapping[str, str] | None = None,
                     version: str = __version__, root: str | os.PathLike | None = None) -> str:
    """The code fingerprint of a command (or of the whole package): one line of text.

    ``"code sgpoison-<version> <group>=<digest> ..."`` with one entry per sub-package
    (or top-level module) that holds any of the modules, the digest being the first
    12 hex digits of the SHA-256 of their ``"<module> <hash>"`` lines. A module
    missing from ``hashes`` enters as ``"<module> missing"``.

    Parameters
    ----------
    stage : str, optional
        An ``sgpoison`` command (``"analyze"``, ``"train-null"``, ...): the modules of
        :func:`stage_modules`; default: every module of the package.
    hashes : mapping, optional
        Module hashes to use instead of the installed package's (e.g. those recorded in
        a file's ``code_modules``).
    version : str
        Package version written into the line.
    root : path-like, optional
        Package directory (default: the imported package).

    Raises
    ------
    SettingsError
        If ``stage`` is not a command.
    """
    current = module_hashes(root)
    hashes = current if hashes is None else hashes
    modules = stage_modules(stage, root) if stage is not None else sorted(current)
    groups: dict[str, list[str]] = {}
    for module in modules:
        groups.setdefault(_group(module), []).append(f"{module} {hashes.get(module, 'missing')}")
    digests = " ".join(f"{group}={hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:GROUP_DIGITS]}"
                       for group, lines in sorted(groups.items()))
    return f"code {PACKAGE}-{version} {digests}"


def code_parameter(stage: str, environ: Mapping[str, str] | None = None) -> str:
    """The workflow's ``code`` param of a rule that runs ``sgpoison <stage>``.

    :func:`code_fingerprint` of ``stage``, or :data:`CODE_OFF` when the environment
    variable :data:`CODE_SWITCH` is ``off`` (also ``0``, ``false``, ``no``; ``on``, ``1``,
    ``true``, ``yes`` or unset: on). With it off, code edits rerun nothing (for users
    who run ``--rerun-triggers`` without ``code``); the outputs still record their code.

    Raises
    ------
    SettingsError
        For another value of the variable, or if ``stage`` is not a command.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(CODE_SWITCH, "on").strip().lower()
    if value in ("off", "0", "false", "no"):
        return CODE_OFF
    if value not in ("on", "1", "true", "yes", ""):
        raise SettingsError(f"environment variable {CODE_SWITCH}={environ[CODE_SWITCH]!r}: "
                            "use 'on' (code changes rerun the jobs that run the code) or 'off'",
                            key=CODE_SWITCH)
    return code_fingerprint(stage)
