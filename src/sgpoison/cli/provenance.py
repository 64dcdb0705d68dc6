"""``sgpoison provenance``: what produced every result file, and which are stale.

Lists, for every file below DIR, the workflow rule and wildcards of the job that wrote it,
its sgpoison version, git commit, code fingerprint and recorded settings, and flags the files
whose settings differ from the study configuration or whose command's code differs from the
installed package (:mod:`sgpoison.report.provenance`; docs/workflow.md, "Provenance audit").
Exit status 4 if any file is stale, has changed code or cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sgpoison.cli._common import Files, input_file


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "provenance", help="list the provenance of every result file and flag stale ones",
        description="For every file below DIR: the rule and wildcards of the job that wrote it, its "
                    "sgpoison version, git commit, code fingerprint and recorded settings; flags files "
                    "whose recorded settings differ from the configuration (a stale result) or whose "
                    "command's code differs from the installed package. Reads only the files, not "
                    "Snakemake's metadata. Exit status 4 if a file is stale, has changed code or is "
                    "unreadable.")
    p.add_argument("directory", type=Path, metavar="DIR", help="results directory (e.g. results)")
    p.add_argument("--configfile", type=input_file, default=Path("config/config.yaml"), metavar="FILE",
                   help="study configuration to compare with (default: config/config.yaml)")
    p.add_argument("--schema", type=input_file, default=Path("workflow/schemas/config.schema.yaml"),
                   metavar="FILE", help="its JSON schema, whose defaults fill in missing keys "
                                        "(default: workflow/schemas/config.schema.yaml)")
    p.add_argument("--ignore-code", action="store_true",
                   help="do not compare code (as the workflow with SGPOISON_CODE_FINGERPRINT=off)")
    p.add_argument("--problems", action="store_true",
                   help="list only stale, code-changed and unreadable files (and the counts)")
    p.add_argument("--json", action="store_true", help="print every file's record as JSON")
    p.set_defaults(func=run, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--configfile": [args.configfile], "--schema": [args.schema]})


def run(args: argparse.Namespace, settings: None) -> int:
    import yaml

    from sgpoison.config import validate_config
    from sgpoison.report.provenance import (
        PROBLEMS,
        STALE_EXIT_CODE,
        audit_results,
        audits_json,
        format_audits,
    )

    if not args.directory.is_dir():
        args.parser.error(f"argument DIR: {args.directory}: no such directory")
    with open(args.configfile) as stream:
        config = yaml.safe_load(stream)
    validate_config(config, args.schema)
    audits = audit_results(args.directory, config, compare_code=not args.ignore_code)
    if args.json:
        print(audits_json(audits))
    else:
        print(format_audits(audits, only_problems=args.problems))
    problems = sum(audit.status in PROBLEMS for audit in audits)
    if problems:
        print(f"sgpoison provenance: {problems} file(s) stale, with changed code or unreadable "
              f"for {args.configfile}", file=sys.stderr)
        return STALE_EXIT_CODE
    return 0
