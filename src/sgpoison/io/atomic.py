"""Atomic file writing: a file appears under its final name complete, or not at all.

Every writer of the package (NetCDF, JSON, CSV, ``.keras`` models, checkpoints, figures)
goes through :func:`atomic_write`, so an interrupted job never leaves a truncated file under
the final name (Snakemake would take it for a finished output) and never damages an
existing one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(temporary_path)``, then rename.

    The temporary file has a unique name (``tempfile.mkstemp``) in the directory of
    ``path``, so concurrent writers never share it and the rename stays on one file
    system; it ends in the suffix of ``path`` (``.keras``, ``.npz``, ... for libraries
    that insist on it). After ``write`` returns, the file is flushed to disk
    (``fsync``), given the permissions of a newly created file (``0666 & ~umask``) and
    renamed to ``path`` (``os.replace``). On any exception, including
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The final file; its directory is created if needed.
    write : callable
        Called with the temporary path (``pathlib.Path``); writes the whole content there.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
