"""``sgpoison analyze``: finite-size scaling of p(T, L) for one scenario.

Writes ``OUT/estimates.json``, ``OUT/estimates.nc``, ``OUT/fig1.png`` and
``OUT/fig1.pdf`` (see docs/analysis.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze", help="finite-size scaling of the network's p(T, L): crossings, nu_ml, Tc",
        description="Finite-size scaling of the classification probability p(T, L) of one scenario "
                    "(one prediction file per L): crossings, nu_ml, Tc by the linear-coefficient "
                    "and data-collapse methods, bootstrap errors and a transition verdict.")
    p.add_argument("--predictions", nargs="+", required=True, metavar="FILE",
                   help="prediction files of one scenario, one per system size (at least 3)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--n-bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap resamples of the disorder instances (default 200, at least 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--max-reduced-chi2", type=float, default=3.0, metavar="X",
                   help="largest acceptable reduced chi^2 of the data collapse (default 3)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sgpoison.fss import chain as analysis
    from sgpoison.report import figures
    from sgpoison.errors import DataFormatError

    if args.n_bootstrap < 10:
        parser.error(f"--n-bootstrap: must be at least 10, got {args.n_bootstrap}")
    try:
        data = analysis.open_predictions(args.predictions)
    except (FileNotFoundError, DataFormatError) as exc:
        parser.error(f"--predictions: {exc}")
    if not args.max_reduced_chi2 > 0:
        parser.error(f"--max-reduced-chi2: must be positive, got {args.max_reduced_chi2}")
    settings = analysis.AnalysisSettings(n_bootstrap=args.n_bootstrap, seed=args.seed,
                                         max_reduced_chi2=args.max_reduced_chi2)
    result = analysis.analyze(data, settings)
    out = Path(args.out)
    estimates = analysis.write_estimates(result, out)
    figures.plot_fss(result, out / "fig1", estimates)
    if result.transition_detected:
        e = estimates["estimates"]
        print(f"transition detected: Tc_linear = {_pm(e['Tc_linear'])}, Tc_collapse = {_pm(e['Tc_collapse'])}")
    else:
        print(f"no transition detected: {result.reason}")
    return 0


def _pm(entry: dict) -> str:
    value, error = entry.get("value"), entry.get("error")
    return ("n/a" if value is None else f"{value:.4f}") + ("" if error is None else f" +- {error:.4f}")
