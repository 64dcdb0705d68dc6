"""Command-line interface: ``sgpoison <command> [options]``.

Each command lives in its own module of this package, which defines
``add_parser(subparsers)`` (registering its arguments, and ``func`` via
``set_defaults``) and keeps the work in the library. Bad arguments exit with
code 2 and a message naming the option at fault.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sgpoison import __version__

#: command modules, in the order they appear in ``--help``
COMMANDS = ("simulate", "merge", "audit", "train", "predict", "analyze", "baseline", "summary")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgpoison",
        description="Spin-glass Monte Carlo, CNN training with poisoned sets, finite-size scaling.",
    )
    parser.add_argument("--version", action="version", version=f"sgpoison {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sgpoison.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"sgpoison.cli.{name}":
                continue
            raise
        module.add_parser(subparsers)
    parser.set_defaults(_subparsers=subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sgpoison.errors import DataFormatError

    try:
        # errors reported through the command's own parser show the command's usage line
        result = args.func(args, args._subparsers.choices[args.command])
    except KeyboardInterrupt:
        return 130
    except (DataFormatError, FileNotFoundError) as exc:  # bad input file: name it, no traceback
        print(f"sgpoison {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
