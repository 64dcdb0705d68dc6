"""``sgpoison cost``: core-hours per stage of a study configuration and its wall time on N cores.

Validates the configuration, measures the time per spin-flip attempt of each disorder's
simulate job on this machine (``--calibrate SECONDS``, or takes ``--t-flip-*``), and prints
jobs, core-hours, the longest job and the least wall time on each ``--cores`` value per stage
(:mod:`sgpoison.report.cost`; docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sgpoison.cli._common import Files, input_file, integer_in
from sgpoison.settings import COUNT, THREAD_COUNT, Range

#: the schema below a repository
SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"
POSITIVE = Range(exclusive_minimum=0)


def number_in(limits: Range):
    """Argument type of a number option that is no settings field: a finite number in
    ``limits``, else a usage error saying what would be valid (the float counterpart of
    :func:`~sgpoison.cli._common.integer_in`, kept here: a change of ``_common`` changes the
    code fingerprint of every command)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
        if value not in limits:
            raise argparse.ArgumentTypeError(f"must be {limits.describe()}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cost", help="core-hours per stage of a study configuration and its wall time on N cores",
        description="Core-hours, jobs, longest job and least wall time on N cores of every stage of "
                    "a study configuration (simulate Gaussian/bimodal, audit, train, predict), from the "
                    "configured sizes, the time per spin-flip attempt of the Monte Carlo kernels measured "
                    "on this machine (a short calibration run) and the measured float32 training FLOP "
                    "rate of docs/network.md with the network's analytic FLOP count. Wall time on N "
                    "cores >= max(core-hours / N, longest job).")
    p.add_argument("--configfile", type=input_file, required=True, metavar="FILE",
                   help="study configuration (e.g. config/paper.yaml)")
    p.add_argument("--schema", type=input_file, default=None, metavar="FILE",
                   help=f"its JSON schema (default: {SCHEMA.as_posix()} in the nearest directory above "
                        "FILE that has one, else in the current directory)")
    p.add_argument("--cores", type=integer_in(COUNT), nargs="+", default=[64, 1000], metavar="N",
                   help="core counts to give the wall time for (default: 64 1000)")
    p.add_argument("--calibrate", type=number_in(Range(minimum=0)), default=10.0, metavar="SECONDS",
                   help="measure the time per spin-flip attempt for about SECONDS in all, half per "
                        "disorder not given by --t-flip-*, on the config's row nearest L = 8 (one simulate job's instances, its "
                        "kernel, measurements on); 0: use --t-flip-gaussian/--t-flip-bimodal (default 10)")
    p.add_argument("--t-flip-gaussian", type=number_in(POSITIVE), default=None, metavar="NS",
                   help="ns per Gaussian spin-flip attempt (not measured then; required with "
                        "--calibrate 0)")
    p.add_argument("--t-flip-bimodal", type=number_in(POSITIVE), default=None, metavar="NS",
                   help="ns per bimodal spin-flip attempt (as --t-flip-gaussian)")
    p.add_argument("--gflops-per-core", type=number_in(POSITIVE), default=None, metavar="GFLOPS",
                   help="float32 training FLOP rate per core for every L (default: the measured rates of "
                        "docs/network.md, 17.5-45 GFLOP/s per core at L = 8-16)")
    p.add_argument("--threads", type=integer_in(THREAD_COUNT), default=1,
                   help="threads of the calibration run (default 1: core-hours per core)")
    p.add_argument("--by-size", action="store_true", help="also print one line per stage and L")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    inputs = {"--configfile": [args.configfile]}
    if args.schema is not None:
        inputs["--schema"] = [args.schema]
    return Files(inputs=inputs)


def find_schema(configfile: Path) -> Path | None:
    """``workflow/schemas/config.schema.yaml`` in the nearest directory above ``configfile``
    that has one, else in the current directory; None if neither has one."""
    for directory in [*Path(configfile).resolve().parents, Path.cwd()]:
        if (directory / SCHEMA).is_file():
            return directory / SCHEMA
    return None


def load_config(configfile: Path, schema: Path) -> dict:
    """The configuration in ``configfile``, validated against ``schema`` (defaults filled in).

    Raises
    ------
    DataFormatError
        If the file is not a YAML mapping.
    SettingsError
        Option ``--configfile``: the file name and the key at fault.
    """
    import yaml

    from sgpoison.config import validate_config
    from sgpoison.errors import DataFormatError, SettingsError

    try:
        with open(configfile) as stream:
            config = yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        raise DataFormatError(f"{configfile}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(config, dict):
        raise DataFormatError(f"{configfile}: expected a mapping of config keys, got {type(config).__name__}")
    try:
        return validate_config(config, schema)
    except SettingsError as exc:
        raise SettingsError(f"{configfile}: {exc}", option="--configfile") from None


def run(args: argparse.Namespace, settings: None) -> int:
    from sgpoison.errors import SettingsError
    from sgpoison.ml.flops import TRAINING_GFLOPS
    from sgpoison.report.cost import calibrate, cost_json, cpu_model, format_cost, format_rows, study_cost

    schema = args.schema or find_schema(args.configfile)
    if schema is None:
        raise SettingsError(f"no {SCHEMA.as_posix()} above {args.configfile} nor in the current "
                            "directory; give the schema", option="--schema")
    given = {"gaussian": args.t_flip_gaussian, "bimodal": args.t_flip_bimodal}
    if args.calibrate == 0 and None in given.values():
        missing = [f"--t-flip-{disorder}" for disorder, value in given.items() if value is None]
        raise SettingsError(f"--calibrate 0 needs {' and '.join(missing)}", option="--calibrate")
    config = load_config(args.configfile, schema)
    load = os.getloadavg()[0]
    todo = [disorder for disorder, value in given.items() if value is None]
    measured = calibrate(config, args.calibrate, args.threads, todo) if args.calibrate > 0 and todo else {}
    t_flip = {d: given[d] if given[d] is not None else measured[d]["ns_per_flip"] for d in given}
    rate = None if args.gflops_per_core is None else (lambda L: args.gflops_per_core)
    rows = study_cost(config, t_flip, rate)
    speeds = {"t_flip_ns": t_flip, "calibration": measured, "calibration_threads": args.threads,
              "gflops_per_core": args.gflops_per_core or {str(L): r / 2 for L, r in TRAINING_GFLOPS.items()},
              "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "load_average": [load, os.getloadavg()[0]]}
    if args.json:
        print(json.dumps(cost_json(rows, args.cores, speeds) | {"configfile": str(args.configfile)}, indent=2))
        return 0
    print(f"{args.configfile} on {cpu_model()} ({os.cpu_count()} logical CPUs; load average "
          f"{load:.2f} before, {os.getloadavg()[0]:.2f} after the calibration)")
    for disorder in ("gaussian", "bimodal"):
        if disorder in measured:
            m = measured[disorder]
            text = (f"measured {m['ns_per_flip']:.3g} ns CPU time ({m['wall_ns_per_flip']:.3g} ns wall) per "
                    f"spin-flip attempt ({m['kernel']} kernel, L = {m['L']}, {m['instances']} instances x "
                    f"{m['n_temps']} temperatures x 2 replicas, {args.threads} thread(s), measurements on, "
                    f"~{args.calibrate / 2:g} s)")
        else:
            text = f"{given[disorder]:g} ns per spin-flip attempt (given)"
        print(f"  {disorder}: {text}")
    if args.gflops_per_core is None:
        rates = ", ".join(f"{r / 2:g} (L = {L})" for L, r in sorted(TRAINING_GFLOPS.items()))
        print(f"  networks: float32 training rate per core {rates} GFLOP/s, linear in L between "
              "(docs/network.md; not measured here)")
    else:
        print(f"  networks: float32 training rate {args.gflops_per_core:g} GFLOP/s per core (given)")
    if measured:
        print("  core-hours use the CPU time (a core of the job's own); wall time > CPU time means "
              "the machine was busy")
    print()
    if args.by_size:
        print(format_rows(rows) + "\n")
    print(format_cost(rows, args.cores))
    return 0
