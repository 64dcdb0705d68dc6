"""Lattice, disorder and ladder: geometry and seeding identities."""

import numpy as np
import pytest

from sgpoison.mc.disorder import couplings, instance_seed
from sgpoison.mc.ladder import temperature_ladder
from sgpoison.mc.lattice import neighbour_couplings, neighbours


@pytest.mark.parametrize("L", [2, 3, 5])
def test_neighbour_table_is_periodic_cubic(L):
    nb = neighbours(L)
    assert nb.shape == (L**3, 6) and nb.dtype == np.int32
    x, y, z = np.unravel_index(np.arange(L**3), (L, L, L))
    for k, (dx, dy, dz) in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1), (-1, 0, 0), (0, -1, 0), (0, 0, -1)]):
        expected = np.ravel_multi_index(((x + dx) % L, (y + dy) % L, (z + dz) % L), (L, L, L))
        np.testing.assert_array_equal(nb[:, k], expected)
    # +d then -d returns home
    for d in range(3):
        np.testing.assert_array_equal(nb[nb[:, d], 3 + d], np.arange(L**3))


@pytest.mark.parametrize("L", [2, 4])
def test_couplings_are_symmetric(L):
    J = couplings(L, "gaussian", seed=3, instance=7)
    jn = neighbour_couplings(J)
    nb = neighbours(L)
    for d in range(3):
        # the bond i -> i+d seen from i+d (its -d neighbour) is the same J
        np.testing.assert_array_equal(jn[:, d], jn[nb[:, d], 3 + d])
    # 3N distinct bonds, each appears exactly twice among the 6N entries
    assert np.isclose(np.sort(jn.ravel())[::2], np.sort(J.ravel().astype(np.float64))).all()


def test_disorder_distributions_and_seeding():
    J = np.concatenate([couplings(6, "gaussian", 1, n).ravel() for n in range(20)])
    assert abs(J.mean()) < 4 / np.sqrt(J.size) and abs(J.var() - 1) < 0.05
    B = np.concatenate([couplings(6, "bimodal", 1, n).ravel() for n in range(20)])
    assert set(np.unique(B)) == {-1.0, 1.0} and abs(B.mean()) < 4 / np.sqrt(B.size)
    # regenerable alone, distinct between instances, disorders and seeds
    np.testing.assert_array_equal(couplings(4, "gaussian", 1, 5), couplings(4, "gaussian", 1, 5))
    assert not np.array_equal(couplings(4, "gaussian", 1, 5), couplings(4, "gaussian", 1, 6))
    assert not np.array_equal(couplings(4, "gaussian", 1, 5), couplings(4, "gaussian", 2, 5))
    assert instance_seed(1, "gaussian", 5) != instance_seed(1, "bimodal", 5)
    with pytest.raises(ValueError, match="unknown disorder"):
        couplings(4, "uniform", 1, 0)


def test_ladders():
    np.testing.assert_allclose(temperature_ladder(0.8, 1.2, 5), [0.8, 0.9, 1.0, 1.1, 1.2])
    g = temperature_ladder(0.5, 2.0, 3, "geometric")
    np.testing.assert_allclose(g, [0.5, 1.0, 2.0])
    for args in [(1.0, 1.0, 4), (1.2, 0.8, 4), (0.8, 1.2, 1), (-0.1, 1.0, 4)]:
        with pytest.raises(ValueError):
            temperature_ladder(*args)
    with pytest.raises(ValueError, match="unknown ladder"):
        temperature_ladder(0.5, 1.0, 4, "cubic")
