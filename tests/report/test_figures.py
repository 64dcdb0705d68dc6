"""Figures (sgpoison.report.figures): each plot function writes PNG and PDF and returns their paths."""

import numpy as np
import pytest

from builders import synthetic_moments, synthetic_predictions
from sgpoison.fss.conventional import analyze_conventional, write_conventional
from sgpoison.fss.estimates import write_estimates
from sgpoison.fss.settings import AnalysisSettings, ConventionalSettings
from sgpoison.fss.verdict import analyze
from sgpoison.report import figures
from sgpoison.report.summary import build_table

SETTINGS = dict(n_bootstrap=10, n_fine=101)


def assert_figures(paths, stem):
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in stem.parent.iterdir() if p.name.startswith(".")) == []  # no temporaries


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    ml = {kind: analyze(synthetic_predictions(kind, n=60), AnalysisSettings(**SETTINGS))
          for kind in ("scaling", "independent")}
    conventional = analyze_conventional(synthetic_moments(n=40), ConventionalSettings(**SETTINGS))
    return root, ml, conventional


@pytest.mark.parametrize("kind", ["scaling", "independent"])
def test_plot_fss_with_and_without_a_transition(results, kind):
    root, ml, _ = results
    stem = root / kind / "fig1"
    paths = figures.plot_fss(ml[kind], stem)
    assert_figures(paths, stem)


def test_plot_conventional(results):
    root, _, conventional = results
    stem = root / "conventional" / "conventional"
    assert_figures(figures.plot_conventional(conventional, stem), stem)


def test_plot_tc_summary(results):
    root, ml, conventional = results
    files = {}
    for kind, result in ml.items():
        for i, _ in enumerate(result.data.L):
            result.data.attrs[i] = {"scenario": kind}
        write_estimates(result, root / "est" / kind)
        files[kind] = root / "est" / kind / "estimates.json"
    write_conventional(conventional, root / "est" / "conventional")
    table = build_table(files, root / "est" / "conventional" / "estimates.json")
    table["audit_verdict"] = ["pass", "fail", ""]
    stem = root / "summary" / "tc_summary"
    assert_figures(figures.plot_tc_summary(table, stem), stem)
    assert np.isfinite(table.loc[0, "Tc_linear"])  # the scaling scenario's point is drawn


def test_plot_nulls_and_tc_summary_with_null_models(tmp_path):
    """The CNN ensemble beside a null model; the Tc summary draws the null model's crossing."""
    from builders import ensemble_curves, prediction_set
    from sgpoison.fss.estimates import write_estimates
    from sgpoison.fss.predictions import ScenarioPredictions
    from sgpoison.fss.verdict import analyze_scenario

    data = ScenarioPredictions({"cnn": prediction_set(ensemble_curves(n=60, n_networks=3, seed=0)),
                                "null_ql": prediction_set(ensemble_curves(n=60, n_networks=1, seed=1),
                                                          classifier="null_ql")})
    result = analyze_scenario(data, AnalysisSettings(**SETTINGS))
    estimates = write_estimates(result, tmp_path / "clean")
    stem = tmp_path / "clean" / "nulls"
    assert_figures(figures.plot_nulls(result, stem, estimates), stem)
    table = build_table({"clean": tmp_path / "clean" / "estimates.json"})
    assert np.isfinite(table.loc[0, "null_ql_Tc_crossing"])
    stem = tmp_path / "summary" / "tc_summary"
    assert_figures(figures.plot_tc_summary(table, stem), stem)
