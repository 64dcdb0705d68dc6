"""Monte Carlo sweep kernels and how the engine chooses one.

Every kernel advances the engine's state arrays (layout in :mod:`sgpoison.mc._kernel`)
by a number of Metropolis sweeps with parallel tempering, in place, and gives
bitwise identical results for any number of threads and however a run is split
into calls (``lanes32``: for the engine's call schedule, which a resumed checkpoint
repeats; its energies are recounted at the end of each call). Kernels differ in speed and in the order in which they use random
numbers, so their trajectories for one seed differ while their statistics agree
(``tests/mc/test_kernels.py``).

``scalar``
    :mod:`sgpoison.mc._kernel`, one site of one instance at a time; the reference
    implementation that defines correctness.
``lanes``
    :mod:`sgpoison.mc._kernel_lanes`, 8 instances per SIMD vector, checkerboard site
    order, branch-free acceptance, float64 throughout; about 10x faster
    (``docs/benchmarks.md``).
``lanes32``
    :mod:`sgpoison.mc._kernel_lanes32`, the same scheme in float32: 16 instances per
    vector, a 24-bit uniform per flip against a float32 exp, energies kept in
    float64 and recounted at every measurement; Gaussian couplings only; acceptance
    bias bound in its docstring (relative ~1e-5, absolute 2^-24 per flip).
``multispin``
    :mod:`sgpoison.mc._kernel_multispin`, bimodal couplings only: one bit per
    instance, 64 instances per word, every bit with its own uniform compared
    bit by bit with a 64-bit fixed-point exp(-beta dE); about 60x faster. An
    instance's trajectory depends on the other instances of its batch of 64
    (consecutive instances of the job), not on the thread count.
``auto``
    The fastest tested kernel for the disorder: ``lanes32`` for Gaussian,
    ``multispin`` for bimodal couplings.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sgpoison.errors import SettingsError
from sgpoison.mc import _kernel, _kernel_lanes, _kernel_lanes32, _kernel_multispin

#: kernel names accepted by :func:`resolve_kernel` (besides ``"auto"``)
KERNELS = ("scalar", "lanes", "lanes32", "multispin")

#: kernels restricted to some disorders
_ONLY_FOR = {"multispin": ("bimodal",), "lanes32": ("gaussian",)}

_DEFAULT = {"gaussian": "lanes32", "bimodal": "multispin"}

#: speed relative to ``scalar`` (docs/benchmarks.md); the engine makes each kernel call
#: this much longer so that converting the state in and out of a fast kernel's layout
#: (a few sweeps' worth of work per call) stays a small overhead
RELATIVE_SPEED = {"scalar": 1, "lanes": 10, "lanes32": 20, "multispin": 60}


class KernelState(Protocol):
    """The arrays a kernel reads and updates (see :class:`sgpoison.mc.parallel_tempering.SimulationState`)."""

    spins: np.ndarray
    slot_at_temp: np.ndarray
    energies: np.ndarray
    neighbour_couplings: np.ndarray
    rng_state: np.ndarray
    swap_accepted: np.ndarray
    bin_energy: np.ndarray
    bin_q2: np.ndarray
    bin_link: np.ndarray


def resolve_kernel(kernel: str, disorder: str) -> str:
    """The concrete kernel for ``kernel`` (``"auto"`` or one of :data:`KERNELS`) and ``disorder``.

    Raises
    ------
    SettingsError (a ValueError)
        For an unknown kernel name, or a kernel that does not work for ``disorder``.
    """
    if kernel == "auto":
        return _DEFAULT[disorder]
    if kernel not in KERNELS:
        raise SettingsError(f"unknown kernel {kernel!r}; expected 'auto' or one of {KERNELS}", key="kernel")
    if disorder not in _ONLY_FOR.get(kernel, (disorder,)):
        raise SettingsError(f"kernel {kernel!r} only works for {' or '.join(_ONLY_FOR[kernel])} "
                            f"disorder, not {disorder!r}", key="kernel")
    return kernel


def run_sweeps(kernel: str, state: KernelState, neighbours: np.ndarray, betas: np.ndarray,
               first_sweep: int, n_sweeps: int, swap_interval: int, measure: bool, threads: int,
               disorder: str) -> None:
    """Advance every instance of ``state`` by ``n_sweeps`` sweeps with ``kernel``.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS` (resolve ``"auto"`` first).
    state : KernelState
        Arrays modified in place.
    neighbours : int32 array, shape (N, 6)
        :func:`sgpoison.mc.lattice.neighbours` of the lattice.
    betas : float64 array, shape (n_T,)
        Inverse temperatures.
    first_sweep : int
        0-based index of the first sweep (log bins, swap timing).
    n_sweeps, swap_interval : int
    measure : bool
        Accumulate log-binned e, q^2, q_l after every sweep.
    threads : int
        OpenMP threads; results do not depend on it.
    disorder : {'gaussian', 'bimodal'}
    """
    args = (state.spins, state.slot_at_temp, state.energies, state.neighbour_couplings, neighbours,
            betas, state.rng_state, state.swap_accepted, state.bin_energy, state.bin_q2,
            state.bin_link, first_sweep, n_sweeps, swap_interval, measure, threads)
    if kernel == "scalar":
        _kernel.run_sweeps(*args)
    elif kernel == "lanes":
        _kernel_lanes.run_sweeps(*args, disorder == "bimodal")
    elif kernel == "lanes32":
        _kernel_lanes32.run_sweeps(*args)
    elif kernel == "multispin":
        _kernel_multispin.run_sweeps(*args)
    else:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
