"""Command-line interface: ``sgpoison <command> [options]`` (docs/cli.md).

Each command lives in its own module of this package, which defines
``add_parser(subparsers)`` (registering its arguments, returning its parser, and via
``set_defaults`` its ``func(args, settings)``, the ``settings`` dataclass its options
fill in and ``files(args)``, the :class:`~sgpoison.cli._common.Files` it reads and writes)
and keeps the work in the library. Options shared by several commands, argument types and
defaults come from :mod:`sgpoison.cli._common`. :func:`main` builds and checks the
command's settings and checks its files (:func:`~sgpoison.cli._common.check_files`: no
output may be an input, another output, a directory, FIFO, socket or device) before the
command does any work.

:func:`main` is the only place that turns errors into messages and exit codes, all in
the style ``sgpoison <command>: error: <message>``:

* 2 (after the command's usage line): a bad argument -- argparse's own checks (a
  missing input file, an invalid number, ...), every
  :class:`~sgpoison.errors.SettingsError`, whose option is named, and every refused
  output path;
* 1: a bad input file (:class:`~sgpoison.errors.DataFormatError`) or a failed file
  operation (``OSError``: missing file, permission denied, disk full, ...), the file named
  in the message;
* 3: ``sgpoison audit --policy refuse`` on a failing training set;
* 4: ``sgpoison provenance`` found stale results (returned by the command);
* 128 + N: stopped by signal N (:class:`~sgpoison.errors.Interrupted`; 143 = SIGTERM,
  130 = SIGINT), after saving what could be resumed (``simulate --checkpoint``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sgpoison import __version__

#: command modules, in the order they appear in ``--help`` (module ``train_null``: command ``train-null``)
COMMANDS = ("simulate", "merge", "audit", "train", "predict", "train_null", "predict_null", "analyze",
            "conventional", "summary", "dose_response", "provenance", "cost")


def build_parser() -> argparse.ArgumentParser:
    """The ``sgpoison`` parser with every command; each command's parser is ``args.parser``."""
    parser = argparse.ArgumentParser(
        prog="sgpoison",
        description="Spin-glass Monte Carlo, CNN training with poisoned sets, finite-size scaling.",
    )
    parser.add_argument("--version", action="version", version=f"sgpoison {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        command = importlib.import_module(f"sgpoison.cli.{name}").add_parser(subparsers)
        command.set_defaults(parser=command, **{key: None for key in ("settings", "files")
                                                if key not in command._defaults})
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (see the module docstring)."""
    from sgpoison.cli._common import check_files, option_of, settings_from
    from sgpoison.errors import DataFormatError, Interrupted, SettingsError

    args = build_parser().parse_args(argv)
    command = args.parser
    try:
        settings = settings_from(args.settings, args) if args.settings is not None else None
        if args.files is not None:
            check_files(args.files(args))
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except Interrupted as exc:
        print(f"{command.prog}: interrupted: {exc}", file=sys.stderr)
        return exc.exit_status
    except SettingsError as exc:
        option = exc.option or option_of(command, exc.key)
        named = option is None or str(exc).startswith(option)
        command.error(str(exc) if named else f"argument {option}: {exc}")  # exits with 2
    except (DataFormatError, OSError) as exc:
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
