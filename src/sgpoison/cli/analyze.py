"""``sgpoison analyze``: finite-size scaling of p(T, L) for one scenario, every classifier.

Writes ``OUT/estimates.json``, ``OUT/estimates.nc``, ``OUT/fig1.png|pdf`` (the CNN, paper
Fig. 1) and ``OUT/nulls.png|pdf`` (the CNN's and the null models' curves side by side); see
docs/analysis.md.
"""

from __future__ import annotations

import argparse

from sgpoison.cli._common import Files, add_bootstrap_options, add_setting, input_file, output_directory
from sgpoison.fss.settings import AnalysisSettings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze", help="finite-size scaling of p(T, L): crossings, collapse, Tc, null-model controls",
        description="Finite-size scaling of the classification probability p(T, L) of one scenario: every "
                    "prediction file of the CNN ensemble (K networks per L) and of the null models. "
                    "Crossings, the full data collapse, the paper's chain (nu_ml, Tc_linear), two-level "
                    "bootstrap errors (networks and disorder instances), a transition verdict and the "
                    "CNN - null differences.")
    p.add_argument("--predictions", nargs="+", required=True, type=input_file, metavar="FILE",
                   help="prediction files of one scenario: every network of the CNN and every null model, "
                        "for every system size (at least 3 sizes)")
    p.add_argument("--out", required=True, type=output_directory, metavar="DIR",
                   help="output directory (created if needed)")
    add_bootstrap_options(p, AnalysisSettings)
    add_setting(p, AnalysisSettings, "observable", "--observable",
                help="the prediction variable to analyse: p (mean probability of the high-T label) or "
                     "fraction_high (fraction of snapshots classified high-T, the hard argmax)")
    add_setting(p, AnalysisSettings, "max_reduced_chi2", "--max-reduced-chi2", metavar="X",
                help="largest acceptable reduced chi^2 of the full data collapse")
    p.set_defaults(func=run, settings=AnalysisSettings, files=files)
    return p


#: the files written in OUT (module docstring)
WRITES = ("estimates.json", "estimates.nc", "fig1.png", "fig1.pdf", "nulls.png", "nulls.pdf")


def files(args: argparse.Namespace) -> Files:
    return Files(inputs={"--predictions": args.predictions}, directories={"--out": args.out},
                 outputs={"--out": [args.out / name for name in WRITES]})


def run(args: argparse.Namespace, settings: AnalysisSettings) -> int:
    from sgpoison.fss.estimates import write_estimates
    from sgpoison.fss.predictions import open_predictions
    from sgpoison.fss.verdict import analyze_scenario
    from sgpoison.report.figures import plot_fss, plot_nulls

    result = analyze_scenario(open_predictions(args.predictions, settings.observable), settings)
    estimates = write_estimates(result, args.out)
    plot_fss(result.cnn, args.out / "fig1", estimates)
    plot_nulls(result, args.out / "nulls", estimates)
    e = estimates["estimates"]
    found = ", ".join(f"{name} = {_pm(e[name])}" for name in ("Tc_crossing", "Tc_collapse", "Tc_linear",
                                                              "paper_Tc_linear") if name in e)
    verdict = "transition detected" if result.cnn.transition_detected else f"no transition: {result.cnn.reason}"
    print(f"{verdict}\n{found}")
    for comparison in result.comparisons.values():
        print(comparison.sentence)
    return 0


def _pm(entry: dict) -> str:
    value, error = entry.get("value"), entry.get("error")
    return ("n/a" if value is None else f"{value:.4f}") + ("" if error is None else f" +- {error:.4f}")
