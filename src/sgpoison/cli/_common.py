"""What the commands share: argument types, option groups, settings from arguments, the
check of a command's files, termination signals, logging.

Options that set a field of a settings dataclass are declared with :func:`add_setting`,
which takes the default, the choices and the limits shown in ``--help`` from the field
(:mod:`sgpoison.settings`), so a default or a limit is written once. The dataclass checks
the value when the command builds it; :func:`sgpoison.cli.main` turns the
:class:`~sgpoison.errors.SettingsError` into a usage error naming the option
(:func:`option_of`).

Every command declares the files it reads and writes (a ``files(args) ->`` :class:`Files`
function, ``set_defaults(files=...)``); :func:`sgpoison.cli.main` passes them to
:func:`check_files` before the command does any work, so that no output can replace an
input, another output, a directory, FIFO, socket or device.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from sgpoison.errors import SettingsError
from sgpoison.io.atomic import file_kind, writable_target
from sgpoison.settings import Range, Settings


def input_file(text: str) -> Path:
    """Argument type of an input file: it must exist and be a regular file (else a usage
    error naming it)."""
    path = Path(text)
    if not path.is_file():
        kind = file_kind(path)
        raise argparse.ArgumentTypeError(f"{text}: no such file" if kind is None else
                                         f"{text} is {kind}, not a regular file")
    return path


def output_file(suffix: str | None = None):
    """Argument type of an output file: not a directory, and ending in ``suffix`` if given.
    (The other checks of outputs are :func:`check_files`'.)"""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.is_dir() or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
        if suffix is not None and path.suffix != suffix:
            raise argparse.ArgumentTypeError(f"{text}: the file name must end in {suffix!r}")
        return path

    parse.__name__ = "output file"
    return parse


def integer_in(limits: Range):
    """Argument type of an integer option that is no settings field, e.g. ``simulate --threads``:
    an integer in ``limits`` (else a usage error saying what would be valid)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value not in limits:
            raise argparse.ArgumentTypeError(f"must be {limits.describe()}, got {text}")
        return value

    parse.__name__ = "integer"
    return parse


def output_directory(text: str) -> Path:
    """Argument type of an output directory: a directory or a path that does not exist yet."""
    path = Path(text)
    if os.path.lexists(path) and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory; give a directory "
                                         "(it is created if needed)")
    return path


@dataclasses.dataclass(frozen=True)
class Files:
    """The files of one run of a command, by the option that names them.

    Attributes
    ----------
    inputs : mapping of option -> sequence of paths
        Files the command reads.
    outputs : mapping of option -> sequence of paths
        Files the command writes (a checkpoint, read and written, is an output). An output
        directory's entry lists the files written in it, e.g. ``OUT/estimates.json``.
    directories : mapping of option -> path
        Output directories (they must be directories or not exist yet).
    """

    inputs: Mapping[str, Sequence[os.PathLike]] = dataclasses.field(default_factory=dict)
    outputs: Mapping[str, Sequence[os.PathLike]] = dataclasses.field(default_factory=dict)
    directories: Mapping[str, os.PathLike] = dataclasses.field(default_factory=dict)


def _identity(path: os.PathLike) -> tuple:
    """What makes two paths one file: the resolved path (symlinks followed, ``..``
    removed), or device and inode for an existing file (hard links)."""
    try:
        info = os.stat(path)
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check_files(files: Files) -> None:
    """Refuse, before any work, outputs that would destroy something.

    Checked (paths compared after resolving symlinks; hard links are one file): every
    input that exists is a regular file (a missing one is the command's to report); every
    output directory is a directory or does not exist; every output file may be
    replaced (:func:`sgpoison.io.atomic.writable_target`: not an existing directory,
    FIFO, socket or device; its directory can be created); no output is one of the
    inputs; no two outputs are the same file.

    Raises
    ------
    SettingsError
        With the option of the offending output and a message naming the file(s).
    """
    for option, directory in files.directories.items():
        if os.path.lexists(directory) and not Path(directory).is_dir():
            raise SettingsError(f"{directory} exists and is not a directory; give a directory",
                                option=option)
    seen: dict[tuple, tuple[str, str, os.PathLike]] = {}
    for option, paths in files.inputs.items():
        for path in paths:
            kind = file_kind(path)
            if kind is not None:  # reading a FIFO would block, a device never end
                raise SettingsError(f"{path} is {kind}, not a regular file", option=option)
            seen.setdefault(_identity(path), ("input", option, path))
    for option, paths in files.outputs.items():
        for path in paths:
            try:
                writable_target(path)
            except OSError as exc:
                raise SettingsError(str(exc), option=option) from None
            key = _identity(path)
            if key in seen:
                role, other, first = seen[key]
                same = "" if str(first) == str(path) else f" ({first})"
                raise SettingsError(f"{path} is also the {role} {other}{same}; writing it would destroy "
                                    f"that {role} -- give another file name", option=option)
            seen[key] = ("output", option, path)


@contextlib.contextmanager
def termination_signals(signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[Callable[[], int | None]]:
    """Turn termination signals into a flag that a long computation checks.

    Inside the ``with`` block the first SIGTERM (Slurm at a time limit or on preemption,
    ``kill``) or SIGINT (Ctrl-C) does not end the process: it is recorded, and the
    computation polls it (e.g. :func:`sgpoison.mc.parallel_tempering.run`'s ``stop``),
    saves its state and raises :class:`~sgpoison.errors.Interrupted`. The previous
    handlers come back at once, so a second signal acts as usual (ends the process, or
    raises ``KeyboardInterrupt``), and when the block ends. Outside the main thread
    (where Python cannot set handlers) nothing is installed and the flag stays unset.

    Yields
    ------
    callable
        ``received()``: the number of the first signal received, or None.
    """
    received: list[int] = []
    previous: dict[int, Any] = {}

    def restore() -> None:
        while previous:
            number, handler = previous.popitem()
            signal.signal(number, handler)

    def handler(signum, frame) -> None:
        received.append(signum)
        restore()

    try:
        for number in signals:
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread
        restore()
    try:
        yield lambda: received[0] if received else None
    finally:
        restore()


def add_setting(parser, settings: type[Settings], name: str, *flags: str, help: str,
                required: bool = False, **kwargs: Any) -> argparse.Action:
    """Add the option ``flags`` that sets field ``name`` of the dataclass ``settings``.

    The option's ``dest`` is the field name (so that an error about the field names
    the option), its default the field's default, its choices the field's choices; its
    type is ``int`` or ``float`` after the field's limits, which ``--help`` shows.
    """
    limits, choices = settings.limits(name), settings.choices(name)
    notes = []
    if not required:
        default = settings.default(name)
        kwargs.setdefault("default", default)
        notes.append("default: unset" if default is None else f"default {default}")
    if limits is not None:
        kwargs.setdefault("type", int if limits.integer else float)
        notes.append(limits.describe().replace(" (or unset)", ""))
    if choices is not None:
        kwargs.setdefault("choices", choices)
    text = f"{help} ({'; '.join(notes)})" if notes else help
    return parser.add_argument(*flags, dest=name, required=required, help=text, **kwargs)


def add_switch(parser, settings: type[Settings], name: str, flag: str, help: str) -> argparse.Action:
    """Add ``--flag`` / ``--no-flag`` for the boolean field ``name`` of ``settings`` (its default
    from the field), ``dest`` the field name."""
    default = settings.default(name)
    return parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default,
                               help=f"{help} (default: {'on' if default else 'off'})")


def add_classifier_options(parser, settings: type[Settings]) -> None:
    """``--balance-classes --bootstrap-instances`` (``train`` and ``train-null``: both must agree).

    ``settings``: the command's settings class, a subclass of
    :class:`sgpoison.ml.settings.ClassifierSettings` (passed in, not imported here: see
    :func:`add_label_options`).
    """
    group = parser.add_argument_group("classifier family (the same for 'sgpoison train' and 'sgpoison train-null')")
    add_switch(group, settings, "balance_classes", "--balance-classes",
               help="weight the loss by class frequency, w_c = n / (2 n_c)")
    add_switch(group, settings, "bootstrap_instances", "--bootstrap-instances",
               help="train on a bootstrap resample of the training instances (seeded per network)")


def add_label_options(parser, settings: type[Settings]) -> None:
    """``--t-label --label-noise --label-noise-mode --seed --validation-fraction`` (``train``,
    ``train-null`` and ``audit``).

    ``settings``: the command's settings class, a subclass of
    :class:`sgpoison.ml.settings.LabelSettings` (whose fields these options set). It is
    passed in rather than imported here, so that only the commands that use these options
    have ``ml/settings.py`` among their code (:func:`sgpoison.io.provenance.stage_modules`).
    """
    group = parser.add_argument_group("labels (the same for 'sgpoison train', 'train-null' and 'audit')")
    add_setting(group, settings, "t_label", "--t-label", help="label 1 iff T > t_label")
    add_setting(group, settings, "label_noise", "--label-noise",
                help="probability rho of flipping each training label")
    add_setting(group, settings, "label_noise_mode", "--label-noise-mode",
                help="what one flip relabels: one snapshot ('independent') or a whole (instance, "
                     "temperature) block of snapshots ('block'); expected flipped fraction rho either way")
    add_setting(group, settings, "seed", "--seed",
                help="root seed of the training's random streams (label noise, split, shuffling, weights)")
    add_setting(group, settings, "validation_fraction", "--validation-fraction",
                help="fraction of disorder instances held out for validation (their labels stay clean)")


def add_bootstrap_options(parser, settings: type[Settings]) -> None:
    """``--n-bootstrap --seed`` (``analyze`` and ``conventional``).

    ``settings``: the command's settings class, a subclass of
    :class:`sgpoison.fss.settings.BootstrapSettings` (passed in, as in :func:`add_label_options`).
    """
    add_setting(parser, settings, "n_bootstrap", "--n-bootstrap", metavar="N",
                help="bootstrap resamples of the disorder instances")
    add_setting(parser, settings, "seed", "--seed", help="seed of the bootstrap")


def settings_from(settings: type[Settings], args: argparse.Namespace, **values: Any) -> Any:
    """An instance of ``settings`` from the arguments named like its fields, plus ``values``.

    Raises
    ------
    SettingsError
        From the dataclass, naming the field (which :func:`option_of` maps to the option).
    """
    names = {f.name for f in dataclasses.fields(settings)}
    given = {k: v for k, v in vars(args).items() if k in names}
    return settings(**(given | values))


def option_of(parser: argparse.ArgumentParser, key: str | None) -> str | None:
    """The option of ``parser`` whose ``dest`` is ``key`` (its longest spelling), if any."""
    for action in parser._actions:
        if key is not None and action.dest == key and action.option_strings:
            return max(action.option_strings, key=len)
    return None


def start_logging(tensorflow_log_level: str = "1") -> None:
    """INFO logging with timestamps for long commands; quieter TensorFlow C++ logs.

    ``TF_CPP_MIN_LOG_LEVEL`` is only set if unset (``TF_ENABLE_ONEDNN_OPTS`` is set by
    :mod:`sgpoison.ml`: without oneDNN, Conv3D's gradient is ~70x slower on CPUs without AVX512_VNNI).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", tensorflow_log_level)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
