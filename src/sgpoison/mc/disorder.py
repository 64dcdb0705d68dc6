"""Quenched disorder: Gaussian and bimodal couplings from per-instance seeds.

Instance ``n`` of a study with master seed ``seed`` and disorder ``d`` uses
``numpy.random.SeedSequence(seed, spawn_key=(DISORDER_CODES[d], n))``; its
spawned child 0 generates the couplings and child 1 + r the Monte Carlo stream
of replica r. Any instance can therefore be regenerated alone.
"""

from __future__ import annotations

import numpy as np

from sgpoison.errors import SettingsError

DISORDER_CODES = {"gaussian": 0, "bimodal": 1}
#: the disorder distributions: J ~ N(0, 1) or J = +-1
DISORDERS = tuple(DISORDER_CODES)


def check_disorder(disorder: str) -> str:
    """Return ``disorder``; raise :class:`~sgpoison.errors.SettingsError` (a ValueError)
    unless it is one of :data:`DISORDERS`."""
    if disorder not in DISORDER_CODES:
        raise SettingsError(f"unknown disorder {disorder!r}; expected one of {sorted(DISORDER_CODES)}",
                            key="disorder")
    return disorder


def instance_seed_sequence(seed: int, disorder: str, instance: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one disorder instance (see module docstring)."""
    check_disorder(disorder)
    return np.random.SeedSequence(int(seed), spawn_key=(DISORDER_CODES[disorder], int(instance)))


def instance_seed(seed: int, disorder: str, instance: int) -> np.uint64:
    """A 64-bit digest of the instance's seed sequence, stored in output files."""
    return instance_seed_sequence(seed, disorder, instance).generate_state(1, np.uint64)[0]


def couplings(L: int, disorder: str, seed: int, instance: int) -> np.ndarray:
    """Couplings of one disorder instance.

    Parameters
    ----------
    L : int
        Linear lattice size.
    disorder : {'gaussian', 'bimodal'}
        J ~ N(0, 1) or J = +-1 with probability 1/2 each.
    seed, instance : int
        Master seed and global instance index.

    Returns
    -------
    numpy.ndarray, float32, shape (L, L, L, 3)
        J of the bond from (x, y, z) to its +x/+y/+z neighbour.

    Raises
    ------
    ValueError
        For an unknown disorder.
    """
    check_disorder(disorder)
    child = instance_seed_sequence(seed, disorder, instance).spawn(1)[0]
    rng = np.random.Generator(np.random.PCG64(child))
    shape = (L, L, L, 3)
    if disorder == "gaussian":
        J = rng.standard_normal(shape)
    else:
        J = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return J.astype(np.float32)


def monte_carlo_streams(seed: int, disorder: str, instance: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial spins generator state and xoshiro256** states of the two replicas.

    Returns
    -------
    rng_state : numpy.ndarray, uint64, shape (2, 4)
        Non-zero xoshiro256** states of replica 0 and 1.
    init_seed : numpy.random.SeedSequence
        Seed for the random initial configurations.
    """
    ss = instance_seed_sequence(seed, disorder, instance)
    children = ss.spawn(4)  # 0: couplings, 1, 2: replicas, 3: initial spins
    states = np.stack([children[1 + r].generate_state(4, np.uint64) for r in range(2)])
    states[np.all(states == 0, axis=1), 0] = 1  # xoshiro's forbidden all-zero state
    return states, children[3]
