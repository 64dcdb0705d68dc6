"""``sgpoison analyze``: finite-size scaling of p(T, L) for one scenario.

Writes ``OUT/estimates.json``, ``OUT/estimates.nc``, ``OUT/fig1.png`` and
``OUT/fig1.pdf`` (see docs/analysis.md).
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_bootstrap_options, add_setting, input_file, output_directory
from sgpoison.fss.settings import AnalysisSettings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze", help="finite-size scaling of the network's p(T, L): crossings, nu_ml, Tc",
        description="Finite-size scaling of the classification probability p(T, L) of one scenario "
                    "(one prediction file per L): crossings, nu_ml, Tc by the linear-coefficient "
                    "and data-collapse methods, bootstrap errors and a transition verdict.")
    p.add_argument("--predictions", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="prediction files of one scenario, one per system size (at least 3)")
    p.add_argument("--out", required=True, type=output_directory, metavar="DIR",
                   help="output directory (created if needed)")
    add_bootstrap_options(p, AnalysisSettings)
    add_setting(p, AnalysisSettings, "max_reduced_chi2", "--max-reduced-chi2", metavar="X",
                help="largest acceptable reduced chi^2 of the data collapse")
    p.set_defaults(func=run, settings=AnalysisSettings, files=files)
    return p


#: the files written in OUT (module docstring)
WRITES = ("estimates.json", "estimates.nc", "fig1.png", "fig1.pdf")


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--predictions": args.predictions}, directories={"--out": args.out},
                 outputs={"--out": [args.out / name for name in WRITES]})


def run(args: argparse.Namespace, settings: AnalysisSettings) -> int:
    from sgpoison.fss.estimates import write_estimates
    from sgpoison.fss.predictions import open_predictions
    from sgpoison.fss.verdict import analyze
    from sgpoison.report.figures import plot_fss

    result = analyze(open_predictions(args.predictions), settings)
    estimates = write_estimates(result, args.out)
    plot_fss(result, args.out / "fig1", estimates)
    if result.transition_detected:
        e = estimates["estimates"]
        print(f"transition detected: Tc_linear = {_pm(e['Tc_linear'])}, Tc_collapse = {_pm(e['Tc_collapse'])}")
    else:
        print(f"no transition detected: {result.reason}")
    return 0


def _pm(entry: dict) -> str:
    value, error = entry.get("value"), entry.get("error")
    return ("n/a" if value is None else f"{value:.4f}") + ("" if error is None else f" +- {error:.4f}")
