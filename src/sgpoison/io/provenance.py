"""Provenance recorded in every output file.

Every file the package writes carries the package version, the git commit of
the source tree (``"unknown"`` when not in a git checkout), the creation time
(UTC, ISO 8601) and the parameters that produced it; files it reads are
identified by their SHA-256 (:func:`file_sha256`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from sgpoison import __version__
from sgpoison.io.jsonio import to_json

_SOURCE_DIR = Path(__file__).resolve().parent


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
        ``sgpoison_version``, ``git_commit``, ``created`` and ``parameters``.
    """
    return {
        "sgpoison_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": to_json(dict(parameters or {}), sort_keys=True),
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
