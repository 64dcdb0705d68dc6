"""The cost model of a study configuration (sgpoison.report.cost): simulate core-hours by hand,
the network stages from the FLOP count, the wall-time rule, the calibration."""

import math
import time

import pytest

from builders import CONFIG_SCHEMA, load_config
from sgpoison.config import validate_config
from sgpoison.mc.kernels import resolve_kernel
from sgpoison.ml.flops import TRAINING_CORES, forward_flops, training_flops
from sgpoison.report.cost import (
    STAGES,
    calibrate,
    calibration_parameters,
    cost_json,
    format_cost,
    network_costs,
    simulation_costs,
    stage_totals,
    study_cost,
    wall_hours,
)

T_FLIP = {"gaussian": 2.0, "bimodal": 0.5}  # ns


@pytest.fixture()
def config():
    return validate_config(load_config("test.yaml"), CONFIG_SCHEMA)


def test_simulation_core_hours_by_hand(config):
    # config/test.yaml: every row 8 instances, 6 temperatures, 64 sweeps, 8 snapshots every 2 sweeps,
    # batches of 4; Gaussian at f = 1 (64 + 7 x 2 = 78 sweeps) and f = 0.5 (32 + 14 = 46), bimodal at f = 1
    attempts = {L: 8 * 2 * 6 * L**3 for L in (4, 6, 8)}  # per sweep
    gaussian = sum(a * (78 + 46) for a in attempts.values()) * 2.0e-9 / 3600
    bimodal = sum(a * 78 for a in attempts.values()) * 0.5e-9 / 3600
    totals = stage_totals(simulation_costs(config, T_FLIP))
    assert totals["simulate gaussian"]["core_hours"] == pytest.approx(gaussian, rel=1e-12)
    assert totals["simulate bimodal"]["core_hours"] == pytest.approx(bimodal, rel=1e-12)
    assert totals["simulate gaussian"]["jobs"] == 3 * 2 * 2 and totals["simulate bimodal"]["jobs"] == 3 * 2
    # the longest job: one batch (half the instances) of L = 8 at f = 1
    assert totals["simulate gaussian"]["longest_hours"] == pytest.approx(attempts[8] / 2 * 78 * 2.0e-9 / 3600)


def test_network_core_hours_from_the_flop_count(config):
    # with 1 GFLOP/s per core, a job's core-hours are its FLOPs / 1e9 / 3600
    network = config["network"]
    rows = {(r.stage, r.L): r for r in network_costs(config, lambda L: 1.0)}
    assert {stage for stage, _ in rows} == {"train", "predict"}  # audit.noise_estimate: false
    L, n_validation, snapshots = 4, 2, 6 * 8  # 8 instances, validation_fraction 0.25
    symmetric = 2 if network["symmetrize"] else 1
    forward = symmetric * forward_flops(L)
    step = training_flops(L, batch_size=network["batch_size"])["total"]
    monitored = network["iterations"] // network["report_every"] * n_validation * snapshots
    flops = network["iterations"] * step + forward * (monitored + 2 * n_validation * snapshots)
    jobs = len(config["scenarios"]) * network["n_networks"]
    train = rows["train", L]
    assert train.jobs == jobs and train.cores_per_job == TRAINING_CORES
    assert train.core_hours == pytest.approx(jobs * flops / 1e9 / 3600)
    assert train.longest_hours == pytest.approx(flops / 1e9 / 3600 / TRAINING_CORES)
    assert rows["predict", L].core_hours == pytest.approx(jobs * forward * 8 * 6 * 8 / 1e9 / 3600)


def test_audit_counts_n_folds_networks_per_scenario(config):
    config["audit"]["noise_estimate"] = True
    config = validate_config(config, CONFIG_SCHEMA)
    audit = [r for r in network_costs(config, lambda L: 1.0) if r.stage == "audit"]
    assert [r.L for r in audit] == [4, 6, 8] and all(r.jobs == len(config["scenarios"]) for r in audit)
    # AuditConfig defaults: 5 folds, 3 passes over 4/5 of the 6 x 48 training examples, batch 256
    examples = 6 * 48
    flops = 3 * 4 * examples * training_flops(4, batch_size=256)["total"] / 256 + examples * forward_flops(4)
    assert audit[0].core_hours == pytest.approx(3 * flops / 1e9 / 3600)
    config["audit"]["noise_classifier"] = "null_q2_ql"  # logistic regression: seconds, not counted
    assert not [r for r in network_costs(config, lambda L: 1.0) if r.stage == "audit"]


def test_wall_time_is_the_packed_core_hours_or_the_longest_job():
    assert wall_hours(100.0, 2.0, 64) == 2.0  # the longest job
    assert wall_hours(1000.0, 2.0, 64) == 1000.0 / 64  # perfect packing
    assert wall_hours(10.0, 10.0, 1) == 10.0
    with pytest.raises(ValueError, match="cores"):
        wall_hours(1.0, 1.0, 0)


def test_table_and_json_agree(config):
    rows = study_cost(config, T_FLIP)
    data = cost_json(rows, [64, 1000], {"t_flip_ns": T_FLIP})
    assert list(data["stages"]) == [s for s in STAGES if s != "audit"]
    total = sum(row.core_hours for row in rows)
    assert data["total"]["core_hours"] == pytest.approx(total)
    longest = max(row.longest_hours for row in rows)
    assert data["total"]["wall_hours"]["64"] == pytest.approx(max(total / 64, longest))
    text = format_cost(rows, [64, 1000])
    assert "wall h, 64 cores" in text and "Monte Carlo" in text and text.splitlines()[-1].startswith("total")


def test_calibration_uses_a_simulate_job_of_the_row_nearest_L8(config):
    params = calibration_parameters(config, "bimodal")
    assert (params.L, params.kernel, params.instance_stop - params.instance_start) == (8, "multispin", 4)
    assert calibration_parameters(config, "gaussian").kernel == resolve_kernel("auto", "gaussian") == "lanes32"
    start = time.perf_counter()
    measured = calibrate(config, 0.4)
    assert time.perf_counter() - start < 20  # about 0.4 s of kernel time, generous on a busy machine
    for disorder, m in measured.items():
        assert math.isfinite(m["ns_per_flip"]) and 0 < m["ns_per_flip"] < 1e4, disorder
        assert math.isfinite(m["wall_ns_per_flip"]) and m["wall_ns_per_flip"] > 0, disorder
