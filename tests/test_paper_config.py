"""config/paper.yaml is the paper's study: Tables I-III of Fang, Barzegar & Katzgraber,
Mach. Learn.: Sci. Technol. 1, 045001 (2020) (arXiv:2003.05087), transcribed here by hand from
the paper's text (../shared/paper/fang-barzegar-katzgraber-2020.md), and every line that is not
from the paper is marked as an assumption."""

from __future__ import annotations

import re

import pytest

from builders import CONFIG_SCHEMA, REPOSITORY, load_config
from sgpoison.config import validate_config

#: Table I (training samples, Gaussian disorder): L -> (N_sa, N_sw, T_min, T_max, N_T, N_con)
TABLE_I = {
    8: (20000, 50000, 0.80, 1.21, 20, 100),
    10: (10000, 40000, 0.80, 1.21, 20, 100),
    12: (20000, 655360, 0.80, 1.21, 20, 100),
    14: (10000, 1050000, 0.80, 1.21, 20, 100),
    16: (5000, 1050000, 0.80, 1.21, 20, 100),
}
#: Table II (prediction samples, bimodal disorder): L -> (N_sa, N_sw, T_min, T_max, N_T, N_con)
TABLE_II = {
    8: (15000, 80000, 1.05, 1.25, 12, 500),
    10: (10000, 300000, 1.05, 1.25, 12, 500),
    12: (4000, 300000, 1.05, 1.25, 12, 500),
    14: (4000, 1280000, 1.05, 1.25, 12, 500),
    16: (4000, 1280000, 1.05, 1.25, 12, 500),
}
#: Table III (CNN): one Conv3D layer, 5 channels, filter 3x3x3, stride 2, ReLU (the network's
#: only activation before the softmax; sgpoison.ml.network), AdamOptimizer(1e-4), batch 10^3,
#: 10^4 iterations
TABLE_III = {"channels": 5, "kernel_size": 3, "strides": 2, "learning_rate": 1e-4, "batch_size": 1000,
             "iterations": 10000}
#: Sec. III B: "we label the convolutional overlaps with temperatures above 0.95 as '1'"
T_LABEL = 0.95
#: Sec. IV: 1 % of the labels mixed; 50 % of the sweeps needed for thermalization
SCENARIOS = {"clean": (0.0, 1.0), "label_noise_1pct": (0.01, 1.0), "underthermalized_50pct": (0.0, 0.5)}

COLUMNS = ("n_instances", "n_sweeps", "t_min", "t_max", "n_temps", "n_snapshots")


@pytest.fixture(scope="module")
def paper():
    return load_config("paper.yaml")


@pytest.mark.parametrize("disorder, table", [("gaussian", TABLE_I), ("bimodal", TABLE_II)])
def test_simulation_tables(paper, disorder, table):
    assert sorted(paper["sizes"]) == sorted(table)
    rows = {row["L"]: row for row in paper["simulation"][disorder]}
    assert set(rows) == set(table)
    for L, values in table.items():
        assert tuple(rows[L][c] for c in COLUMNS) == values, (disorder, L)


def test_network_table_and_scenarios(paper):
    assert {key: paper["network"][key] for key in TABLE_III} == TABLE_III
    assert paper["network"]["t_label"] == T_LABEL
    assert {name: (s["label_noise"], s["sweep_fraction"]) for name, s in paper["scenarios"].items()} == SCENARIOS


def test_paper_config_is_a_valid_study(paper):
    """The schema and the cross-checks admit the paper's values (e.g. 12 bimodal temperatures in
    1.05 ... 1.25, which need not straddle t_label; the Gaussian ladder does)."""
    validate_config(paper, CONFIG_SCHEMA)


def test_every_value_not_from_the_tables_is_marked_as_an_assumption():
    """Lines of the simulation and network sections that set a value the tables (or the text) do
    not give carry "# A" and say where the value comes from."""
    from_paper = set(COLUMNS) | {"L"} | set(TABLE_III) | {"t_label"}
    study_only = {"seed", "batch_size", "deterministic", "predict_batch_size"}  # no effect on the physics
    text = (REPOSITORY / "config" / "paper.yaml").read_text()
    section = None
    for line in text.splitlines():
        if re.match(r"^\w", line):
            section = line.split(":")[0]
        match = re.match(r"^\s+(\w+):\s*(\S.*)$", line)
        if section not in ("simulation", "network") or not match or match.group(2).startswith("#"):
            continue
        key = match.group(1)
        if key in ("gaussian", "bimodal"):
            continue
        if key not in from_paper and key not in study_only:
            assert "# A" in line, f"config/paper.yaml: {key} is not from the paper but not marked '# A'"
    top_level = {line.split(":")[0] for line in text.splitlines() if re.match(r"^\w", line)}
    assert "null_models" in top_level
    assert "# A" in next(line for line in text.splitlines() if line.startswith("null_models"))
