"""Every command refuses, before any work, outputs that would destroy a file: an output that is
one of its inputs or another of its outputs (also through a symlink, a hard link or another
spelling), a directory, FIFO or socket given as an output file, a file given as an output
directory (sgpoison.cli._common.check_files). Run in-process: the check comes before any
import of TensorFlow."""

import os

import pytest

from builders import run_cli
from sgpoison.cli import COMMANDS, build_parser

#: files present in the working directory of every case (contents do not matter: nothing is read)
FILES = ("g.nc", "b.nc", "m.keras", "p4.nc", "p6.nc", "p8.nc", "s4.nc", "s6.nc", "s8.nc", "clean.json",
         "conv.json", "audit.json", "existing.txt")


def _snapshot(directory):
    """Every entry below ``directory``: kind and content (symlinks by their target)."""
    out = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, directory)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir",)
            elif os.path.isfile(path):
                out[rel] = ("file", open(path, "rb").read())
            else:
                out[rel] = ("other", os.stat(path).st_mode)
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in FILES:
        (tmp_path / name).write_text(f"contents of {name}\n")
    os.mkfifo("fifo")
    os.mkdir("dir")
    os.symlink("b.nc", "link-to-b.nc")
    os.link("g.nc", "hardlink-to-g.nc")
    (tmp_path / "out").mkdir()
    for name in ("estimates.json", "results.csv"):
        (tmp_path / "out" / name).write_text("an input that sits in the output directory")
    return tmp_path


SIMULATE = ["simulate", "--L", "4", "--disorder", "gaussian", "--instances", "0:2", "--n-sweeps", "8",
            "--t-min", "0.8", "--t-max", "1.2", "--n-temps", "3", "--n-snapshots", "2"]
TRAIN = ["train", "--data", "g.nc"]
SUMMARY = ["summary", "--scenario", "clean=clean.json", "--conventional", "conv.json"]

#: (argv, option refused, text of the message) -- the issue's cases first
CASES = {
    "predict --data b.nc --out b.nc": (["predict", "--model", "m.keras", "--data", "b.nc", "--out", "b.nc"],
                                       "--out", "b.nc is also the input --data"),
    "train --data g.nc --metadata g.nc": (TRAIN + ["--out", "new.keras", "--history", "h.csv", "--metadata", "g.nc"],
                                          "--metadata", "g.nc is also the input --data"),
    "train --out m.keras --history m.keras": (TRAIN + ["--out", "m.keras", "--history", "m.keras",
                                                       "--metadata", "m.json"],
                                              "--history", "m.keras is also the output --out"),
    "simulate --checkpoint same.nc --out same.nc": (SIMULATE + ["--checkpoint", "same.nc", "--out", "same.nc"],
                                                    "--out", "same.nc is also the output --checkpoint"),
    "simulate --out FIFO": (SIMULATE + ["--out", "fifo"], "--out", "fifo exists and is a FIFO"),
    "train --metadata DIR/": (TRAIN + ["--out", "new.keras", "--history", "h.csv", "--metadata", "dir/"],
                              "--metadata", "dir/ is a directory"),
    "train --metadata NEWDIR/": (TRAIN + ["--out", "new.keras", "--history", "h.csv", "--metadata", "newdir/"],
                                 "--metadata", "newdir/ is a directory"),
    "analyze --out EXISTING_FILE": (["analyze", "--predictions", "p4.nc", "p6.nc", "p8.nc", "--out", "existing.txt"],
                                    "--out", "existing.txt exists and is not a directory"),
    # outputs equal to inputs through another spelling, a symlink or a hard link
    "merge --out ./s4.nc": (["merge", "--inputs", "s4.nc", "s6.nc", "--out", "./s4.nc"],
                            "--out", "s4.nc is also the input --inputs"),
    "merge --out dir/../s6.nc": (["merge", "--inputs", "s4.nc", "s6.nc", "--out", "dir/../s6.nc"],
                                 "--out", "is also the input --inputs (s6.nc)"),
    "predict --out LINK-TO-DATA": (["predict", "--model", "m.keras", "--data", "b.nc", "--out", "link-to-b.nc"],
                                   "--out", "link-to-b.nc is also the input --data (b.nc)"),
    "predict --out MODEL": (["predict", "--model", "m.keras", "--data", "b.nc", "--out", "m.keras"],
                            "--out", "m.keras is also the input --model"),
    "audit --out HARDLINK-TO-DATA": (["audit", "--data", "g.nc", "--out", "hardlink-to-g.nc"],
                                     "--out", "hardlink-to-g.nc is also the input --data (g.nc)"),
    "audit --out DATA": (["audit", "--data", "g.nc", "--out", "g.nc"], "--out", "g.nc is also the input --data"),
    "train --out DATA": (["train", "--data", "m.keras", "--out", "m.keras", "--history", "h.csv",
                          "--metadata", "m.json"], "--out", "m.keras is also the input --data"),
    "train --history = --metadata": (TRAIN + ["--out", "new.keras", "--history", "h.csv", "--metadata", "h.csv"],
                                     "--metadata", "h.csv is also the output --history"),
    "train --history FIFO": (TRAIN + ["--out", "new.keras", "--history", "fifo", "--metadata", "m.json"],
                             "--history", "fifo exists and is a FIFO"),
    "simulate --checkpoint FIFO": (SIMULATE + ["--checkpoint", "fifo", "--out", "new.nc"],
                                   "--checkpoint", "fifo exists and is a FIFO"),
    "simulate --out under a file": (SIMULATE + ["--out", "existing.txt/new.nc"],
                                    "--out", "existing.txt is not a directory"),
    "merge --out FIFO": (["merge", "--inputs", "s4.nc", "--out", "fifo"], "--out", "fifo exists and is a FIFO"),
    "analyze --out DIR holding an input": (["analyze", "--predictions", "out/estimates.json", "p6.nc", "p8.nc",
                                            "--out", "out"],
                                           "--out", "out/estimates.json is also the input --predictions"),
    "analyze --out FIFO": (["analyze", "--predictions", "p4.nc", "p6.nc", "p8.nc", "--out", "fifo"],
                           "--out", "fifo exists and is not a directory"),
    "conventional --out EXISTING_FILE": (["conventional", "--data", "s4.nc", "s6.nc", "s8.nc", "--out", "s4.nc"],
                                         "--out", "s4.nc exists and is not a directory"),
    "conventional --out DIR holding an input": (["conventional", "--data", "s4.nc", "s6.nc", "out/estimates.json",
                                                 "--out", "out"],
                                                "--out", "out/estimates.json is also the input --data"),
    "baseline --out EXISTING_FILE": (["baseline", "--data", "s4.nc", "s6.nc", "s8.nc", "--out", "existing.txt"],
                                     "--out", "existing.txt exists and is not a directory"),
    "summary --out EXISTING_FILE": (SUMMARY + ["--out", "clean.json"], "--out", "clean.json exists and is not a directory"),
    "summary --out DIR holding a scenario": (["summary", "--scenario", "clean=out/results.csv", "--out", "out"],
                                             "--out", "out/results.csv is also the input --scenario"),
    "summary --scenario FIFO": (["summary", "--scenario", "clean=fifo", "--out", "new"],
                                "--scenario", "fifo is a FIFO (named pipe), not a regular file"),
    "summary --out DIR holding an audit": (SUMMARY + ["--audit", "clean=out/results.nc", "--out", "out"],
                                           "--out", "out/results.nc is also the input --audit"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_destructive_outputs_are_refused_before_any_work(case, workdir, capsys):
    argv, option, message = CASES[case]
    before = _snapshot(workdir)
    code, err = run_cli(argv, capsys)
    assert code == 2, err
    command = "conventional" if argv[0] == "baseline" else argv[0]
    assert f"sgpoison {command}: error: argument {option}: " in err, err
    assert message in err, err
    assert "Traceback" not in err
    assert _snapshot(workdir) == before, "a file was written, replaced or deleted"


def test_every_command_declares_its_files():
    """A command without a files() declaration would escape check_files."""
    choices = build_parser()._subparsers._group_actions[0].choices
    for name in COMMANDS:
        command = name.replace("_", "-")  # module train_null: command train-null
        assert choices[command].get_default("files") is not None, command


def test_distinct_outputs_and_a_symlinked_output_pass_the_check(workdir):
    """The check refuses only what it must: a run whose files are all distinct passes it."""
    from sgpoison.cli._common import check_files

    args = build_parser().parse_args(TRAIN + ["--out", "new.keras", "--history", "h.csv",
                                              "--metadata", "link-to-b.nc"])
    check_files(args.files(args))  # link-to-b.nc is written through to b.nc, not an input here
    args = build_parser().parse_args(["analyze", "--predictions", "out/estimates.json", "p6.nc", "p8.nc",
                                      "--out", "dir"])
    check_files(args.files(args))
