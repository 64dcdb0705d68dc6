"""Augmentation of training batches by the symmetries of the overlap field.

The Edwards-Anderson Hamiltonian with periodic boundaries is invariant under a global spin
flip of one replica, so the overlap field q_i = s_i^alpha s_i^beta has the same statistics
as -q (Z2 symmetry). The disorder average is also invariant under the lattice symmetries of
the periodic simple cubic lattice: translations by any vector and the 48 signed permutations of
the axes (the full cube group O_h). A classifier of the phase should not depend on either, so
each training example is replaced by a random image under these symmetries:

    q'(r) = s * q((R r + t) mod L)

with s = +-1 (``sign_flip``), t uniform in {0..L-1}^3 (``translations``) and R one of the 48
signed permutation matrices (``cube_symmetries``; else the identity). Every such map takes
bonds to bonds, so q^2 = (sum_i q_i / N)^2 and q_l = (1/3N) sum_<ij> q_i q_j of each
configuration are unchanged, and so is its label.
"""

from __future__ import annotations

import itertools

import numpy as np

#: the 6 permutations of the three axes
AXIS_PERMUTATIONS = np.array(list(itertools.permutations(range(3))), dtype=np.int64)
#: the 8 sign patterns of the three axes
AXIS_SIGNS = np.array(list(itertools.product((1, -1), repeat=3)), dtype=np.int64)


class SymmetryAugmentation:
    """Random symmetry images of int8 overlap batches (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.default_rng`` stream (the network's ``augmentation`` seed).
    sign_flip, translations, cube_symmetries : bool
        Which symmetries are drawn.

    Calling the object on ``x`` (int8, shape (B, L, L, L)) returns a new int8 array of the same
    shape; every example gets its own independent draw. With all three off it returns ``x``.
    """

    def __init__(self, seed: int, sign_flip: bool = True, translations: bool = True,
                 cube_symmetries: bool = False):
        self.rng = np.random.default_rng(seed)
        self.sign_flip = bool(sign_flip)
        self.translations = bool(translations)
        self.cube_symmetries = bool(cube_symmetries)

    @property
    def active(self) -> bool:
        return self.sign_flip or self.translations or self.cube_symmetries

    def draw(self, n: int, L: int) -> dict[str, np.ndarray]:
        """Draw the symmetry of ``n`` examples: ``sign`` (n,), ``permutation`` (n, 3),
        ``axis_sign`` (n, 3) and ``shift`` (n, 3), all int64 (identity where switched off)."""
        rng = self.rng
        sign = rng.choice(np.array([-1, 1]), size=n) if self.sign_flip else np.ones(n, np.int64)
        if self.cube_symmetries:
            permutation = AXIS_PERMUTATIONS[rng.integers(0, len(AXIS_PERMUTATIONS), size=n)]
            axis_sign = AXIS_SIGNS[rng.integers(0, len(AXIS_SIGNS), size=n)]
        else:
            permutation = np.tile(np.arange(3), (n, 1))
            axis_sign = np.ones((n, 3), np.int64)
        shift = rng.integers(0, L, size=(n, 3)) if self.translations else np.zeros((n, 3), np.int64)
        return {"sign": sign.astype(np.int64), "permutation": permutation, "axis_sign": axis_sign,
                "shift": shift.astype(np.int64)}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not self.active or len(x) == 0:
            return x
        return apply_symmetry(x, **self.draw(len(x), x.shape[1]))


def apply_symmetry(x: np.ndarray, sign: np.ndarray, permutation: np.ndarray, axis_sign: np.ndarray,
                   shift: np.ndarray) -> np.ndarray:
    """``q'_b(r) = sign_b * q_b((R_b r + shift_b) mod L)`` for every example b of a batch.

    ``(R_b r)_a = axis_sign[b, a] * r[permutation[b, a]]``.

    Parameters
    ----------
    x : int8 array, shape (B, L, L, L)
    sign : int array, shape (B,), values +-1
    permutation : int array, shape (B, 3), each row a permutation of (0, 1, 2)
    axis_sign : int array, shape (B, 3), values +-1
    shift : int array, shape (B, 3)

    Returns
    -------
    int8 array, shape (B, L, L, L)
    """
    B, L = x.shape[0], x.shape[1]
    permutation = np.asarray(permutation)
    axis_sign, shift = np.asarray(axis_sign), np.asarray(shift)
    # z[b, u0, u1, u2] = x[b, (s0 u0 + t0) mod L, (s1 u1 + t1) mod L, (s2 u2 + t2) mod L]
    u = np.arange(L)
    index = [(axis_sign[:, a, None] * u[None, :] + shift[:, a, None]) % L for a in range(3)]
    out = x[np.arange(B)[:, None, None, None], index[0][:, :, None, None], index[1][:, None, :, None],
            index[2][:, None, None, :]]
    # q'[i0, i1, i2] = z[i_pi(0), i_pi(1), i_pi(2)]: transpose by the inverse permutation
    identity = np.all(permutation == np.arange(3), axis=1)
    if not identity.all():
        for pi in np.unique(permutation[~identity], axis=0):
            rows = np.all(permutation == pi, axis=1)
            out[rows] = out[rows].transpose(0, *(1 + np.argsort(pi)))
    return (out * np.asarray(sign, dtype=np.int8)[:, None, None, None]).astype(np.int8)
