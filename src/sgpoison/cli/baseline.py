"""``sgpoison baseline``: conventional Binder ratio and xi_L/L crossings (no network).

Writes ``OUT/estimates.json``, ``OUT/estimates.nc``, ``OUT/baseline.png`` and
``OUT/baseline.pdf`` (see docs/analysis.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "baseline", help="conventional Tc from the Binder ratio and xi_L/L of the overlaps",
        description="Spin-glass Binder ratio and finite-size correlation length xi_L/L from simulation "
                    "files (one per L), crossings of successive sizes with bootstrap errors.")
    p.add_argument("--data", nargs="+", required=True, metavar="FILE",
                   help="simulation files, one per system size (at least 3)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--n-bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap resamples of the disorder instances (default 200, at least 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.fss import conventional as baseline
    from sgpoison.report import figures
    from sgpoison.errors import DataFormatError

    if args.n_bootstrap < 10:
        parser.error(f"--n-bootstrap: must be at least 10, got {args.n_bootstrap}")
    try:
        sizes = baseline.read_baseline_inputs(args.data)
    except (FileNotFoundError, DataFormatError) as exc:
        parser.error(f"--data: {exc}")
    settings = baseline.BaselineSettings(n_bootstrap=args.n_bootstrap, seed=args.seed)
    result = baseline.analyze_baseline(sizes, settings)
    out = Path(args.out)
    estimates = baseline.write_baseline(result, out)
    figures.plot_baseline(result, out / "baseline", estimates)
    e = estimates["estimates"]["Tc_conventional"]
    if result.transition_detected:
        error = "" if e["error"] is None else f" +- {e['error']:.4f}"
        print(f"Tc_conventional = {e['value']:.4f}{error}")
    else:
        print(f"no crossing: {result.reason}")
    return 0
