# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Scalar reference kernel: Metropolis sweeps + parallel tempering for the 3D EA spin glass.

One call advances every disorder instance by ``n_sweeps`` sweeps. Instances are
independent and each (instance, replica) has its own xoshiro256** stream, so the
result is bitwise identical for any number of OpenMP threads.

State layout (all C-contiguous, modified in place)
--------------------------------------------------
spins          int8    (n_inst, 2, n_T, N)    configuration slots, +1/-1
slot_at_temp   int32   (n_inst, 2, n_T)       slot sitting at temperature index t
energies       float64 (n_inst, 2, n_T)       H of each slot (tracked incrementally)
rng_state      uint64  (n_inst, 2, 4)         xoshiro256** state per (instance, replica)
swap_accepted  int64   (n_inst, 2, n_T - 1)   accepted swaps per temperature pair
bin_energy, bin_q2, bin_link  float64 (n_inst, n_T, n_bins)  sums of e, q^2, q_l per log bin

Read-only inputs
----------------
neighbour_couplings  float64 (n_inst, N, 6)  J to neighbour k of site i
neighbours           int32   (N, 6)          site index of neighbour k (+x,+y,+z,-x,-y,-z)
betas                float64 (n_T,)          inverse temperatures, decreasing T order irrelevant

Metropolis (Metropolis et al. 1953): flip s_i with probability min(1, exp(-beta dE)),
dE = 2 s_i h_i, h_i = sum_k J_ik s_k; one uniform per attempted flip with dE > 0.
Parallel tempering (Hukushima & Nemoto 1996): neighbouring temperatures swap
configurations with probability min(1, exp[(beta_t - beta_t+1)(E_t - E_t+1)]).
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdint cimport uint64_t
ctypedef cnp.int64_t int64_t
ctypedef cnp.int32_t int32_t
ctypedef cnp.int8_t int8_t

from sgpoison.mc._xoshiro cimport _uniform

cnp.import_array()


def uniforms(uint64_t[::1] state, Py_ssize_t n):
    """Draw ``n`` uniforms from a xoshiro256** state (length 4, modified in place); for tests."""
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = _uniform(<uint64_t*> &state[0])
    return out


cdef void _sweep(int8_t* s, const double* jn, const int32_t* nb, Py_ssize_t n_sites,
                 double beta, double* energy, uint64_t* rng) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef double h, de
    cdef int8_t si
    for i in range(n_sites):
        h = 0.0
        for k in range(6):
            h = h + jn[6 * i + k] * s[nb[6 * i + k]]
        si = s[i]
        de = 2.0 * si * h
        if de <= 0.0 or _uniform(rng) < exp(-beta * de):
            s[i] = -si
            energy[0] += de


cdef void _run_instance(Py_ssize_t b, int8_t[:, :, :, ::1] spins, int32_t[:, :, ::1] slot_at_temp,
                        double[:, :, ::1] energies, const double[:, :, ::1] jn,
                        const int32_t[:, ::1] nb, const double[::1] betas,
                        uint64_t[:, :, ::1] rng_state, int64_t[:, :, ::1] swap_accepted,
                        double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2,
                        double[:, :, ::1] bin_link, int64_t first_sweep, int64_t n_sweeps,
                        int64_t swap_interval, bint measure) noexcept nogil:
    cdef Py_ssize_t n_temps = betas.shape[0]
    cdef Py_ssize_t n_sites = spins.shape[3]
    cdef Py_ssize_t r, t, c, a, bb, i, d, bin_index
    cdef int64_t sweep, tt
    cdef double delta, q, ql, qi
    cdef int8_t* sa
    cdef int8_t* sb
    for sweep in range(first_sweep, first_sweep + n_sweeps):
        for r in range(2):
            for t in range(n_temps):
                c = slot_at_temp[b, r, t]
                _sweep(&spins[b, r, c, 0], &jn[b, 0, 0], &nb[0, 0], n_sites, betas[t],
                       &energies[b, r, c], &rng_state[b, r, 0])
        if (sweep + 1) % swap_interval == 0:
            for r in range(2):
                for t in range(n_temps - 1):
                    a = slot_at_temp[b, r, t]
                    bb = slot_at_temp[b, r, t + 1]
                    delta = (betas[t] - betas[t + 1]) * (energies[b, r, a] - energies[b, r, bb])
                    if delta >= 0.0 or _uniform(&rng_state[b, r, 0]) < exp(delta):
                        slot_at_temp[b, r, t] = bb
                        slot_at_temp[b, r, t + 1] = a
                        swap_accepted[b, r, t] += 1
        if measure:
            # log bin of 0-based sweep index: 0 -> 0, [2^(k-1), 2^k) -> k
            bin_index = 0
            tt = sweep
            while tt > 0:
                tt = tt >> 1
                bin_index = bin_index + 1
            for t in range(n_temps):
                sa = &spins[b, 0, slot_at_temp[b, 0, t], 0]
                sb = &spins[b, 1, slot_at_temp[b, 1, t], 0]
                q = 0.0
                ql = 0.0
                for i in range(n_sites):
                    qi = sa[i] * sb[i]
                    q = q + qi
                    for d in range(3):
                        ql = ql + qi * sa[nb[i, d]] * sb[nb[i, d]]
                q = q / n_sites
                bin_energy[b, t, bin_index] += (energies[b, 0, slot_at_temp[b, 0, t]]
                                                + energies[b, 1, slot_at_temp[b, 1, t]]) / (2.0 * n_sites)
                bin_q2[b, t, bin_index] += q * q
                bin_link[b, t, bin_index] += ql / (3.0 * n_sites)


def run_sweeps(cnp.int8_t[:, :, :, ::1] spins, cnp.int32_t[:, :, ::1] slot_at_temp,
               double[:, :, ::1] energies, const double[:, :, ::1] neighbour_couplings,
               const cnp.int32_t[:, ::1] neighbours, const double[::1] betas,
               uint64_t[:, :, ::1] rng_state, cnp.int64_t[:, :, ::1] swap_accepted,
               double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
               cnp.int64_t first_sweep, cnp.int64_t n_sweeps, cnp.int64_t swap_interval,
               bint measure, int n_threads):
    """Advance every instance by ``n_sweeps`` sweeps (see module docstring for the layout).

    ``first_sweep`` is the 0-based index of the first sweep of this call; it
    decides the log bin of each measurement and when swaps happen (after sweep
    t when (t + 1) % swap_interval == 0). Splitting a run into several calls
    gives bitwise the same state as one call.
    """
    cdef Py_ssize_t n_inst = spins.shape[0]
    cdef Py_ssize_t b
    if n_sweeps <= 0:
        return
    with nogil:
        for b in prange(n_inst, num_threads=n_threads, schedule="static", chunksize=1):
            _run_instance(b, spins, slot_at_temp, energies, neighbour_couplings, neighbours, betas,
                          rng_state, swap_accepted, bin_energy, bin_q2, bin_link, first_sweep,
                          n_sweeps, swap_interval, measure)
