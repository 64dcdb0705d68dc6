"""Labels, label noise and the split by disorder instance (sgpoison.ml.labels); no TensorFlow."""

import math

import numpy as np
import pytest
from scipy import stats

from sgpoison.errors import SettingsError
from sgpoison.ml.labels import label_flips, phase_labels, split_instances, validation_count
from sgpoison.ml.settings import TrainingConfig


def test_phase_labels_and_empty_class():
    np.testing.assert_array_equal(phase_labels([0.8, 0.95, 0.96, 1.2], 0.95), [0, 0, 1, 1])
    for t_label in (0.5, 1.1, 2.0):
        with pytest.raises(SettingsError, match="one class would be empty") as info:
            phase_labels(np.linspace(0.8, 1.1, 6), t_label)
        assert info.value.option == "--t-label"


@pytest.mark.parametrize("rho", [-0.1, 0.5, 0.7, math.nan, math.inf])
def test_label_noise_out_of_range(rho):
    with pytest.raises(SettingsError, match="label-noise") as info:
        label_flips((10,), rho, 0)
    assert info.value.option == "--label-noise"
    with pytest.raises(SettingsError):
        TrainingConfig(label_noise=rho)


def test_zero_label_noise_flips_none():
    assert not label_flips((50, 20, 100), 0.0, 123).any()


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.3, 0.49])
def test_realised_flips_within_four_sigma(rho):
    n = 20_000
    for seed in range(5):
        k = label_flips((n,), rho, seed).sum()
        assert abs(k - n * rho) < 4 * math.sqrt(n * rho * (1 - rho)), (rho, seed, k)


def test_realised_flips_follow_binomial_chi_square():
    """Counts over 400 seeds against Binomial(200, 0.1), tail bins merged to expected >= 5."""
    n, rho, seeds = 200, 0.1, 400
    counts = np.array([label_flips((10, 20), rho, s).sum() for s in range(seeds)])
    edges = [0, 14, 16, 18, 20, 22, 24, 26, n + 1]  # bins [a, b)
    observed = np.histogram(counts, bins=edges)[0]
    cdf = stats.binom.cdf(np.array(edges) - 1, n, rho)
    expected = seeds * np.diff(cdf)
    assert expected.min() >= 5
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # independence of examples: flips are spread evenly over positions
    mask = np.stack([label_flips((10, 20), rho, s) for s in range(seeds)])
    per_position = mask.sum(axis=0).ravel()
    assert stats.chisquare(per_position).pvalue > 1e-3


def test_split_needs_a_training_instance():
    with pytest.raises(SettingsError, match="no training instance"):
        split_instances(1, 0.2, 0)
    train_pos, val_pos = split_instances(10, 0.0, 0)
    assert len(val_pos) == 0 and len(train_pos) == 10




def test_validation_count_holds_out_at_least_one_instance():
    assert validation_count(10, 0.0) == 0
    assert validation_count(10, 0.2) == 2
    assert validation_count(3, 0.01) == 1
    assert validation_count(8, 0.99) == 8


# ----------------------------------------------------------------------------- seeds of an ensemble


def test_seeds_are_spawned_from_root_size_and_network():
    from sgpoison.ml.labels import SEED_ROLES, derive_seeds

    seeds = derive_seeds(3, 8, 1)
    for j, role in enumerate(SEED_ROLES):
        expected = np.random.SeedSequence(3, spawn_key=(8, 1, j)).generate_state(1)[0]
        assert seeds[role] == expected, role
    assert (seeds["seed"], seeds["L"], seeds["network_index"]) == (3, 8, 1)
    assert derive_seeds(3, 8, 1) == seeds
    others = [derive_seeds(3, 8, 0), derive_seeds(3, 10, 1), derive_seeds(4, 8, 1)]
    for other in others:
        assert all(other[role] != seeds[role] for role in SEED_ROLES)
    assert len({seeds[role] for role in SEED_ROLES}) == len(SEED_ROLES)


def test_networks_get_their_own_split_and_flips_but_scenarios_share_them(tmp_path):
    from builders import write_synthetic_simulation
    from sgpoison.ml.labels import prepare_training_set, training_set

    path = write_synthetic_simulation(tmp_path / "g.nc", n_instances=20, seed=0)
    config = TrainingConfig(label_noise=0.1, seed=3)
    first, again = prepare_training_set(path, config, 0), prepare_training_set(path, config, 0)
    second = prepare_training_set(path, config, 1)
    assert first.labels_sha256() == again.labels_sha256()
    assert first.labels_sha256() != second.labels_sha256()
    assert not np.array_equal(first.validation_positions, second.validation_positions)
    # another scenario (name, sweep fraction of the file) with the same label settings: same set
    renamed = prepare_training_set(path, TrainingConfig(label_noise=0.1, seed=3, scenario="other"), 0)
    np.testing.assert_array_equal(renamed.flips, first.flips)
    # the bootstrap resample: with replacement, sorted, labels travel with their instance
    boot = training_set(path, TrainingConfig(label_noise=0.1, seed=3, bootstrap_instances=True), 1)
    assert boot.resampled and len(boot.train_positions) == len(second.train_positions)
    assert np.all(np.diff(boot.train_positions) >= 0)
    assert len(np.unique(boot.train_positions)) < len(boot.train_positions)
    for k, position in enumerate(boot.train_positions):
        row = np.flatnonzero(second.train_positions == position)[0]
        np.testing.assert_array_equal(boot.labels[k], second.labels[row])
    np.testing.assert_array_equal(boot.validation_positions, second.validation_positions)


# ------------------------------------------------------------------------------------------
# the poisons of the dose-response scans: block-mode label noise and a wrong t_label
# ------------------------------------------------------------------------------------------


def test_block_flips_relabel_whole_instance_temperature_blocks():
    shape = (40, 6, 25)
    flips = label_flips(shape, 0.1, seed=7, mode="block")
    blocks = np.random.default_rng(7).random(shape[:2]) < 0.1  # one draw per block, same stream
    np.testing.assert_array_equal(flips, np.broadcast_to(blocks[..., None], shape))
    assert flips.sum() == 25 * blocks.sum() and 0 < blocks.sum() < blocks.size
    assert not label_flips(shape, 0.0, seed=7, mode="block").any()
    with pytest.raises(SettingsError, match="label-noise-mode .blocks."):
        label_flips(shape, 0.1, seed=7, mode="blocks")


def test_block_flips_keep_the_expected_fraction():
    rho, shape = 0.05, (400, 20, 10)
    independent, block = (label_flips(shape, rho, 1, mode).mean() for mode in ("independent", "block"))
    assert abs(independent - rho) < 4 * math.sqrt(rho * (1 - rho) / math.prod(shape))
    assert abs(block - rho) < 4 * math.sqrt(rho * (1 - rho) / (shape[0] * shape[1]))


@pytest.mark.parametrize("mode", ["independent", "block"])
def test_training_set_has_exactly_the_requested_labels(tmp_path, mode):
    """On a tiny file: labels = (T > t_label) XOR flips; in block mode the flipped labels are
    whole blocks, as many as the label-noise stream of network k draws; validation stays clean."""
    from builders import write_synthetic_simulation
    from sgpoison.ml.labels import derive_seeds, prepare_training_set

    path = write_synthetic_simulation(tmp_path / "g.nc", n_instances=20, n_temperatures=6, t_min=0.8,
                                      t_max=1.1, n_snapshots=8, seed=0)
    T = np.linspace(0.8, 1.1, 6)
    for t_label in (0.85, 0.95, 1.05):
        config = TrainingConfig(label_noise=0.2, label_noise_mode=mode, t_label=t_label, seed=3)
        tset = prepare_training_set(path, config, 1)
        clean = np.broadcast_to((T > t_label)[None, :, None], tset.labels.shape)
        np.testing.assert_array_equal(tset.temperature_labels, (T > t_label).astype(np.int8))
        np.testing.assert_array_equal(tset.labels, clean ^ tset.flips)
        seed = derive_seeds(3, 4, 1)["label_noise"]
        n_train = len(tset.train_positions)
        if mode == "block":
            drawn = np.random.default_rng(seed).random((n_train, 6)) < 0.2
            flipped_blocks = tset.flips.all(axis=2)
            assert (tset.flips.any(axis=2) == flipped_blocks).all()  # never part of a block
            np.testing.assert_array_equal(flipped_blocks, drawn)
            assert tset.realised_flips == 8 * drawn.sum()
        else:
            drawn = np.random.default_rng(seed).random((n_train, 6, 8)) < 0.2
            np.testing.assert_array_equal(tset.flips, drawn)
            assert tset.flips.any(axis=2).sum() > tset.flips.all(axis=2).sum()  # single snapshots
        assert tset.realised_flips > 0
    # the split does not depend on the poisons (paired comparisons across doses)
    other = prepare_training_set(path, TrainingConfig(label_noise=0.01, t_label=0.9, seed=3), 1)
    np.testing.assert_array_equal(other.train_positions, tset.train_positions)
