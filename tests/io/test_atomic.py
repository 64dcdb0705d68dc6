"""Atomic writing (sgpoison.io.atomic): what may be replaced, symlinks written through."""

import os
import socket

import pytest

from sgpoison.io.atomic import atomic_write, file_kind, writable_target


def _write_text(text):
    return lambda tmp: tmp.write_text(text)


def _listing(directory):
    return sorted(p.name for p in directory.iterdir())


def test_fifo_is_refused_and_left_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match=r"pipe exists and is a FIFO \(named pipe\), not a regular file"):
        atomic_write(fifo, _write_text("data"))
    assert file_kind(fifo) == "a FIFO (named pipe)"
    assert _listing(tmp_path) == ["pipe"]  # no temporary left behind


def test_directory_and_socket_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(FileExistsError, match="is a directory"):
        atomic_write(tmp_path / "d", _write_text("data"))
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s"))
        with pytest.raises(FileExistsError, match="is a socket"):
            atomic_write(tmp_path / "s", _write_text("data"))
    assert _listing(tmp_path) == ["d", "s"]
    assert file_kind(tmp_path / "d") == "a directory" and file_kind(tmp_path / "s") == "a socket"


def test_symlink_is_written_through(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "result.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert writable_target(link) == target.resolve()
    atomic_write(link, _write_text("new"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert _listing(tmp_path / "store") == ["result.txt"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new" / "result.txt")
    atomic_write(link, _write_text("made"))
    assert link.is_symlink() and (tmp_path / "new" / "result.txt").read_text() == "made"


def test_symlink_to_a_fifo_and_symlink_loop_are_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to-pipe").symlink_to(tmp_path / "pipe")
    with pytest.raises(FileExistsError, match=r"to-pipe \(a link to .*pipe\) exists and is a FIFO"):
        atomic_write(tmp_path / "to-pipe", _write_text("data"))
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(FileExistsError, match="symbolic link loop"):
        atomic_write(tmp_path / "a", _write_text("data"))
    assert file_kind(tmp_path / "pipe") == "a FIFO (named pipe)"
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_a_file_where_a_directory_should_be_is_refused(tmp_path):
    (tmp_path / "plain").write_text("keep")
    with pytest.raises(NotADirectoryError, match="plain is not a directory"):
        atomic_write(tmp_path / "plain" / "sub" / "out.txt", _write_text("data"))
    assert (tmp_path / "plain").read_text() == "keep"


def test_regular_file_is_replaced_and_new_directories_created(tmp_path):
    (tmp_path / "out.txt").write_text("old")
    atomic_write(tmp_path / "out.txt", _write_text("new"))
    atomic_write(tmp_path / "a" / "b" / "out.txt", _write_text("deep"))
    assert (tmp_path / "out.txt").read_text() == "new"
    assert (tmp_path / "a" / "b" / "out.txt").read_text() == "deep"
    assert file_kind(tmp_path / "out.txt") is None and file_kind(tmp_path / "missing") is None
