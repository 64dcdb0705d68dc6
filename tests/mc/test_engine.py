"""Parallel-tempering engine against exact enumeration and known identities."""

import itertools

import numpy as np
import pytest

from sgpoison.mc import parallel_tempering as engine
from sgpoison.mc.parallel_tempering import SimulationParameters, run, to_dataset
from sgpoison.mc.lattice import neighbours
from sgpoison.mc.observables import energy
from sgpoison.mc.thermalization import log_bin_tests


def exact_averages(J, temperatures):
    """Exact <e>, <q^2>, <q_l> of an L=2 instance by enumerating all 2^8 states."""
    L = J.shape[0]
    N = L**3
    states = np.array(list(itertools.product([-1, 1], repeat=N)), dtype=np.int8)
    H = energy(states, J)
    nb = neighbours(L)[:, :3]
    out = []
    for T in temperatures:
        w = np.exp(-(H - H.min()) / T)
        p = w / w.sum()
        corr = np.einsum("s,si,sj->ij", p, states.astype(float), states.astype(float))  # <s_i s_j>
        e = p @ H / N
        q2 = np.sum(corr**2) / N**2
        ql = np.mean(corr[np.arange(N)[:, None], nb] ** 2)
        out.append((e, q2, ql))
    return np.array(out)


def block_mean_and_error(x, n_blocks=25):
    """Mean and standard error along the last axis from block averages (handles autocorrelation)."""
    blocks = np.array_split(x, n_blocks, axis=-1)
    means = np.stack([b.mean(axis=-1) for b in blocks], axis=-1)
    return means.mean(axis=-1), means.std(axis=-1, ddof=1) / np.sqrt(n_blocks)


def test_exact_enumeration_L2_gaussian():
    """Energy, q^2 and q_l of the engine agree with exact enumeration (chi-square, fixed seed).

    Gaussian instances only: for about 3 % of bimodal L=2 instances double bonds
    cancel and a fixed-order Metropolis sweep is not ergodic.
    """
    temps = [0.4, 0.9, 1.6, 3.0]
    params = SimulationParameters(L=2, disorder="gaussian", instance_start=0, instance_stop=3,
                                  n_sweeps=2000, t_min=0.4, t_max=3.0, n_temps=4,
                                  ladder="linear", n_snapshots=20000, measure_interval=2, seed=11)
    temps = params.temperatures
    ds = to_dataset(run(params), params)
    chi2, dof = 0.0, 0
    for b in range(3):
        exact = exact_averages(ds["couplings"].values[b], temps)
        e = ds["energy"].values[b].mean(axis=-1)  # average of the two replicas, (n_T, n_con)
        for k, series in enumerate([e, ds["q"].values[b] ** 2, ds["link_overlap"].values[b]]):
            mean, err = block_mean_and_error(series)
            z = (mean - exact[:, k]) / err
            chi2 += np.sum(z**2)
            dof += len(z)
    # 36 z-scores; chi2 > dof + 5 sqrt(2 dof) would be a >4-sigma discrepancy
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof)


def test_exact_enumeration_detects_wrong_temperature():
    """The comparison above has power: data at T=0.9 do not match exact values at T=1.0."""
    params = SimulationParameters(L=2, disorder="gaussian", instance_start=0, instance_stop=1,
                                  n_sweeps=2000, t_min=0.9, t_max=3.0, n_temps=2, n_snapshots=20000,
                                  measure_interval=2, seed=11)
    ds = to_dataset(run(params), params)
    exact = exact_averages(ds["couplings"].values[0], [1.0])
    mean, err = block_mean_and_error(ds["energy"].values[0, 0].mean(axis=-1))
    assert abs(mean - exact[0, 0]) / err > 5


def small_params(**kw):
    base = dict(L=4, disorder="bimodal", instance_start=3, instance_stop=7, n_sweeps=64,
                t_min=0.5, t_max=2.0, n_temps=6, n_snapshots=5, measure_interval=3, seed=5)
    base.update(kw)
    return SimulationParameters(**base)


@pytest.mark.parametrize("disorder", ["gaussian", "bimodal"])
def test_state_invariants(disorder):
    """PT swaps permute configurations; tracked energies equal recomputed ones; overlaps are +-1."""
    params = small_params(disorder=disorder)
    state = run(params)
    n_inst = len(params.instances)
    for b in range(n_inst):
        for r in range(2):
            assert sorted(state.slot_at_temp[b, r]) == list(range(params.n_temps))
            np.testing.assert_allclose(state.energies[b, r], energy(state.spins[b, r], state.couplings[b]),
                                       atol=1e-9)
    ds = to_dataset(state, params)
    assert set(np.unique(ds["overlap"].values)) <= {-1, 1}
    np.testing.assert_allclose(ds["q"], ds["overlap"].mean(("x", "y", "z")))
    assert (ds["swap_acceptance"] > 0).all() and (ds["swap_acceptance"] <= 1).all()
    # couplings stored are the instance's own: recompute the energy of a snapshot is not possible
    # without spins, but the instance seed regenerates them
    from sgpoison.mc.disorder import couplings
    np.testing.assert_array_equal(ds["couplings"].values[1], couplings(4, disorder, 5, 4))


def test_replicas_are_independent():
    """At very high T the two replicas are uncorrelated: [<q^2>] = 1/N within errors."""
    params = small_params(t_min=20.0, t_max=40.0, n_temps=2, n_snapshots=400, measure_interval=2)
    ds = to_dataset(run(params), params)
    q2 = (ds["q"] ** 2).values.ravel()
    N = 64
    assert abs(q2.mean() - 1 / N) < 5 * q2.std() / np.sqrt(q2.size)


def test_bitwise_identical_across_thread_counts():
    params = small_params(disorder="gaussian", instance_stop=9)
    a = to_dataset(run(params, threads=1), params)
    b = to_dataset(run(params, threads=2), params)
    for name in ("overlap", "energy", "link_overlap", "energy_log_binned", "q2_log_binned",
                 "swap_acceptance"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_log_bins():
    start, stop, count = engine.log_bins(16)
    np.testing.assert_array_equal(start, [0, 1, 2, 4, 8])
    np.testing.assert_array_equal(stop, [1, 2, 4, 8, 16])
    np.testing.assert_array_equal(count, [1, 1, 2, 4, 8])
    start, stop, count = engine.log_bins(12)
    np.testing.assert_array_equal(count, [1, 1, 2, 4, 4])
    assert small_params(n_sweeps=16).n_log_bins == 5


def test_kpy_identity_thermalized_and_not():
    """Gaussian L=4: thermalized data satisfy e = -3(1-q_l)/T; a short cold run does not."""
    good = SimulationParameters(L=4, disorder="gaussian", instance_start=0, instance_stop=24,
                                n_sweeps=4096, t_min=0.5, t_max=1.6, n_temps=8, n_snapshots=1,
                                seed=2)
    cmp_good = log_bin_tests(to_dataset(run(good, threads=2), good)).sel(test="kpy_identity")
    assert np.all(np.abs(cmp_good["z"]) < 4), cmp_good["z"].values
    bad = SimulationParameters(L=4, disorder="gaussian", instance_start=0, instance_stop=24,
                               n_sweeps=16, t_min=0.2, t_max=0.3, n_temps=2, n_snapshots=1, seed=2)
    cmp_bad = log_bin_tests(to_dataset(run(bad, threads=2), bad)).sel(test="kpy_identity")
    assert np.all(cmp_bad["z"] > 4), cmp_bad["z"].values  # e above its equilibrium bound


def test_parameter_validation():
    for kw, msg in [(dict(L=1), "L must be"), (dict(sweep_fraction=0.0), "sweep_fraction"),
                    (dict(sweep_fraction=1.5), "sweep_fraction"), (dict(t_min=2.5), "t_min"),
                    (dict(disorder="uniform"), "unknown disorder"), (dict(n_snapshots=0), "n_snapshots")]:
        with pytest.raises(ValueError, match=msg):
            small_params(**kw)
    assert small_params(n_sweeps=100, sweep_fraction=0.5).n_sweeps_run == 50
