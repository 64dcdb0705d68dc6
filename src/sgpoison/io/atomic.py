"""Atomic file writing: a file appears under its final name complete, or not at all.

Every writer of the package (NetCDF, JSON, CSV, ``.keras`` models, checkpoints, figures)
goes through :func:`atomic_write`, so an interrupted job never leaves a truncated file under
the final name (Snakemake would take it for a finished output) and never damages an
existing one.

What may be replaced (:func:`writable_target`): a path that does not exist yet, or an
existing *regular* file. A directory, FIFO, socket or device is never replaced (renaming a
file over ``/dev/null`` would turn the device into a file). A symbolic link is **written
through**: the file it points to is replaced (atomically, in that file's directory) and
the link stays, as ``open(link, "w")`` would do; a dangling link creates its target.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

#: file types that are never replaced, by the ``stat.S_IS*`` test that recognises them
_NOT_REPLACEABLE = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is if it exists and is not a regular file (symlinks followed), e.g.
    ``"a FIFO (named pipe)"``; None for a regular file or a path that does not exist."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    for test, kind in _NOT_REPLACEABLE:
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def writable_target(path: str | os.PathLike) -> Path:
    """The file that writing ``path`` replaces: ``path`` with symbolic links resolved.

    Checks, without writing anything, that the file may be replaced (module docstring)
    and that its directory exists or can be created (the nearest existing ancestor is a
    directory).

    Returns
    -------
    pathlib.Path
        The absolute path of the file to write (the target of a symlink).

    Raises
    ------
    FileExistsError
        If ``path`` (or the file a symlink names) exists and is not a regular file, or is a
        symlink loop; the message names ``path`` and what it is.
    NotADirectoryError
        If an ancestor of ``path`` exists and is not a directory.
    """
    path = Path(path)
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # realpath stops at a symlink loop
        raise FileExistsError(f"{path} is a symbolic link loop; refusing to write it")
    kind = file_kind(real)
    if kind is not None:
        named = f"{path} (a link to {real})" if str(real) != os.path.abspath(path) else str(path)
        raise FileExistsError(f"{named} exists and is {kind}, not a regular file; refusing to "
                              "replace it -- give the name of a file to write")
    for ancestor in real.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(f"{path}: {ancestor} is not a directory")
            break
    return real


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(temporary_path)``, then rename.

    The target is checked first (:func:`writable_target`: nothing is written if ``path``
    is a directory, FIFO, socket or device; a symlink is written through). The temporary
    file has a unique name (``tempfile.mkstemp``) in the directory of the target, so
    concurrent writers never share it and the rename stays on one file system; it ends in
    the suffix of ``path`` (``.keras``, ``.npz``, ... for libraries that insist on it).
    After ``write`` returns, the file is flushed to disk (``fsync``), given the
    permissions of a newly created file (``0666 & ~umask``), the target is checked again
    and the file renamed to it (``os.replace``). On any exception, including
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

    Raises
    ------
    FileExistsError, NotADirectoryError
        From :func:`writable_target`.
    """
    path = Path(path)
    target = writable_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
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
        writable_target(target)  # nothing took the name meanwhile that must not be replaced
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
