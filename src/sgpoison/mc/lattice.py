"""Simple cubic lattice with periodic boundaries.

Sites are numbered ``i = (x*L + y)*L + z`` (C order of an ``(L, L, L)`` array).
Each site owns the three bonds to its +x, +y, +z neighbours (direction 0, 1, 2),
so there are exactly ``3 N`` bonds, N = L^3, also for L = 2 where each pair of
neighbours is joined by two distinct bonds.
"""

from __future__ import annotations

import numpy as np

from sgpoison.errors import SettingsError
from sgpoison.settings import Range

#: coordination number of the simple cubic lattice
Z = 6

#: linear sizes of a lattice: with L = 2 each pair of neighbours is joined by two distinct bonds
SIZE = Range(minimum=2, integer=True)


def check_size(L: int) -> int:
    """Return ``L`` as int.

    Raises
    ------
    SettingsError (a ValueError)
        Unless ``L`` is an integer >= 2 (:data:`SIZE`).
    """
    if L not in SIZE:
        raise SettingsError(f"L must be {SIZE.describe()}, got {L!r}", key="L")
    return int(L)


def neighbours(L: int) -> np.ndarray:
    """Neighbour table of the periodic cubic lattice.

    Returns
    -------
    numpy.ndarray, int32, shape (L**3, 6)
        Column k is the site reached from site i along +x, +y, +z, -x, -y, -z.
    """
    L = check_size(L)
    idx = np.arange(L**3).reshape(L, L, L)
    cols = []
    for shift in (-1, 1):  # np.roll by -1 brings the +neighbour to position i
        for axis in range(3):
            cols.append(np.roll(idx, shift, axis=axis).ravel())
    return np.stack(cols, axis=1).astype(np.int32)


def neighbour_couplings(couplings: np.ndarray) -> np.ndarray:
    """Couplings seen from each site towards its six neighbours.

    Parameters
    ----------
    couplings : numpy.ndarray, shape (..., L, L, L, 3)
        J of the bond from site (x, y, z) to its +direction neighbour.

    Returns
    -------
    numpy.ndarray, float64, shape (..., L**3, 6)
        Entry k of site i is the J of the bond to ``neighbours(L)[i, k]``.
    """
    couplings = np.asarray(couplings, dtype=np.float64)
    L = couplings.shape[-2]
    lead = couplings.shape[:-4]
    J = couplings.reshape(*lead, L**3, 3)
    nb = neighbours(L)
    backward = J[..., nb[:, 3:], np.arange(3)]  # bond owned by the -direction neighbour
    return np.concatenate([J, backward], axis=-1)
