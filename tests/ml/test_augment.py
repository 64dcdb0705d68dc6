"""Symmetry augmentation of training batches (sgpoison.ml.augment); no TensorFlow.

Exact statements: the vectorised map equals the definition q'(r) = s q((R r + t) mod L) site by
site; translations are rolls; every image keeps q^2 and the link overlap of its configuration
(both are invariants of the lattice symmetries), computed independently by
sgpoison.mc.observables. Statistical: the draws are uniform over the group elements.
"""

import itertools

import numpy as np
import pytest
from scipy import stats

from sgpoison.mc.observables import link_overlap
from sgpoison.ml.augment import AXIS_PERMUTATIONS, AXIS_SIGNS, SymmetryAugmentation, apply_symmetry


def _configurations(n=40, L=4, seed=0):
    rng = np.random.default_rng(seed)
    # partly ordered configurations, so that q^2 and q_l differ between them
    order = rng.random((n, 1, 1, 1))
    return np.where(rng.random((n, L, L, L)) < 0.5 + 0.5 * order, 1, -1).astype(np.int8)


def _by_definition(x, sign, permutation, axis_sign, shift):
    L = x.shape[1]
    out = np.empty_like(x)
    for b in range(len(x)):
        for r in itertools.product(range(L), repeat=3):
            source = tuple((axis_sign[b, a] * r[permutation[b, a]] + shift[b, a]) % L for a in range(3))
            out[b][r] = sign[b] * x[b][source]
    return out


@pytest.mark.parametrize("L", [4, 5])
def test_vectorised_map_equals_the_definition(L):
    x = _configurations(L=L)
    draw = SymmetryAugmentation(1, cube_symmetries=True).draw(len(x), L)
    np.testing.assert_array_equal(apply_symmetry(x, **draw), _by_definition(x, **draw))


def test_translations_are_periodic_rolls_and_the_sign_flip_negates():
    x = _configurations()
    n = len(x)
    identity = {"permutation": np.tile(np.arange(3), (n, 1)), "axis_sign": np.ones((n, 3), int)}
    shift = np.random.default_rng(2).integers(0, 4, size=(n, 3))
    shifted = apply_symmetry(x, sign=np.ones(n, int), shift=shift, **identity)
    for b in range(n):
        np.testing.assert_array_equal(shifted[b], np.roll(x[b], tuple(-shift[b]), axis=(0, 1, 2)))
    flipped = apply_symmetry(x, sign=-np.ones(n, int), shift=np.zeros((n, 3), int), **identity)
    np.testing.assert_array_equal(flipped, -x)


def test_images_keep_q2_and_the_link_overlap():
    L = 4
    x = _configurations(L=L)
    augment = SymmetryAugmentation(7, sign_flip=True, translations=True, cube_symmetries=True)
    y = augment(x)
    assert y.dtype == np.int8 and y.shape == x.shape
    assert not np.array_equal(x, y)
    flat_x, flat_y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    np.testing.assert_array_equal(flat_x.sum(axis=1) ** 2, flat_y.sum(axis=1) ** 2)
    np.testing.assert_array_equal(link_overlap(flat_x, L), link_overlap(flat_y, L))
    # a map that is not a lattice symmetry (a random permutation of the sites) breaks q_l
    scrambled = flat_x[:, np.random.default_rng(0).permutation(L**3)]
    assert not np.allclose(link_overlap(flat_x, L), link_overlap(scrambled, L))


def test_switched_off_symmetries_are_not_drawn():
    x = _configurations()
    assert SymmetryAugmentation(0, False, False, False)(x) is x
    only_sign = SymmetryAugmentation(0, sign_flip=True, translations=False)(x)
    assert all(np.array_equal(a, b) or np.array_equal(a, -b) for a, b in zip(only_sign, x))
    draw = SymmetryAugmentation(0, sign_flip=False, translations=True).draw(100, 4)
    assert np.all(draw["sign"] == 1) and np.all(draw["permutation"] == np.arange(3))
    assert np.all(draw["axis_sign"] == 1) and draw["shift"].max() == 3


def test_draws_are_uniform_over_the_group():
    """Chi-square of the 48 cube elements, the 2 signs and the 4^3 shifts over 9600 draws."""
    draw = SymmetryAugmentation(11, cube_symmetries=True).draw(9600, 4)
    permutation = [np.flatnonzero(np.all(AXIS_PERMUTATIONS == p, axis=1))[0] for p in draw["permutation"]]
    signs = [np.flatnonzero(np.all(AXIS_SIGNS == s, axis=1))[0] for s in draw["axis_sign"]]
    element = np.array(permutation) * 8 + np.array(signs)
    assert stats.chisquare(np.bincount(element, minlength=48)).pvalue > 1e-3
    assert stats.chisquare(np.bincount((draw["sign"] + 1) // 2, minlength=2)).pvalue > 1e-3
    shift = (draw["shift"][:, 0] * 4 + draw["shift"][:, 1]) * 4 + draw["shift"][:, 2]
    assert stats.chisquare(np.bincount(shift, minlength=64)).pvalue > 1e-3


def test_same_seed_same_images():
    x = _configurations()
    a = SymmetryAugmentation(5, cube_symmetries=True)
    b = SymmetryAugmentation(5, cube_symmetries=True)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(a(x), SymmetryAugmentation(6, cube_symmetries=True)(x))
