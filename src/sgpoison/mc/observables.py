"""Observables of spin configurations (NumPy reference implementations).

Conventions: H = -sum_<ij> J_ij s_i s_j over the 3N bonds of
:mod:`sgpoison.mc.lattice`; spins are int8 +-1 with the site index last.
"""

from __future__ import annotations

import numpy as np

from sgpoison.mc.lattice import neighbours


def energy(spins: np.ndarray, couplings: np.ndarray) -> np.ndarray:
    """Total energy H = -sum_<ij> J_ij s_i s_j of configurations of one disorder instance.

    Parameters
    ----------
    spins : int8 array, shape (..., N), N = L**3, values +-1
    couplings : float array, shape (L, L, L, 3)
        J of the bond from (x, y, z) to its +x/+y/+z neighbour.

    Returns
    -------
    float64 array, shape (...)
    """
    L = couplings.shape[0]
    nb = neighbours(L)
    J = np.asarray(couplings, dtype=np.float64).reshape(L**3, 3)
    s = spins.astype(np.float64)
    return -np.sum(J * s[..., :, None] * s[..., nb[:, :3]], axis=(-2, -1))


def overlap(spins_a: np.ndarray, spins_b: np.ndarray) -> np.ndarray:
    """Site overlaps q_i = s_i^a s_i^b (paper Eq. 2), int8, same shape as the inputs."""
    return (spins_a * spins_b).astype(np.int8)


def link_overlap(q_sites: np.ndarray, L: int) -> np.ndarray:
    """Link overlap q_l = (1/3N) sum_<ij> q_i q_j from site overlaps of shape (..., N)."""
    nb = neighbours(L)
    q = q_sites.astype(np.float64)
    return np.mean(q[..., :, None] * q[..., nb[:, :3]], axis=(-2, -1))


def kpy_energy(link: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Energy per spin predicted by the link overlap for Gaussian disorder.

    e = -(z/2)(1 - q_l)/T with z = 6 (Katzgraber, Palassini, Young, PRB 63,
    184422 (2001)); holds for the disorder average in equilibrium. Works
    element-wise on NumPy arrays and xarray DataArrays (broadcast by dimension name).
    """
    return -3.0 * (1.0 - link) / temperature
