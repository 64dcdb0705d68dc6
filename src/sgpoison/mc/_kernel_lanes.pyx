# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""SIMD-lane kernel: Metropolis sweeps + parallel tempering, ``LANES`` instances per vector.

Same semantics and the same engine-side state layout as :mod:`sgpoison.mc._kernel`
(see its docstring); only the order in which random numbers are used differs, so
results are statistically, not bitwise, identical to the scalar reference.

How it is fast
--------------
* Instances are processed in batches of ``LANES`` (8 = one 512-bit vector of
  doubles); every array of a batch has the instance index innermost
  ("structure of arrays"), so one vector instruction updates the same site of 8
  disorder instances. A batch with fewer real instances is padded with dummy
  lanes (J = 0) whose results are discarded. Lanes never exchange data, so an
  instance's trajectory does not depend on which instances share its batch, nor
  on the number of OpenMP threads (threads take whole batches).
* Acceptance is branch-free: every attempted flip draws its own uniform u with
  52 random bits from the stream of its (instance, replica): the xoshiro256
  state of the scalar kernel with the output function xoshiro256+ (s0 + s3,
  recommended for floating point; the weak low bits are discarded), and
  s_i -> -s_i, E -> E + dE in the lanes where u < exp(-beta dE). For dE <= 0
  the argument is clamped to 0 and exp(0) = 1 > u: Metropolis min(1, exp(-beta dE)).
* Gaussian couplings: exp is vectorised (:func:`fast_exp`): Cody-Waite range
  reduction x = n ln 2 + r and a degree-6 polynomial fitted to minimise the
  relative error on |r| <= ln2/2; relative error < 3e-9 on [-700, 0]
  (``tests/test_kernels.py``). Arguments below -700 are clamped; exp(-700) is
  far below the 2^-52 resolution of u, as in the scalar kernel.
  Bimodal couplings: dE in {4, 8, 12} when positive, so exp(-beta dE) is picked
  from exp(-4 beta), exp(-8 beta), exp(-12 beta) computed with libm.
* Sites are swept in checkerboard order (all sites with x+y+z even, then odd;
  the batch buffers store them in that order): consecutive updates are
  independent and the CPU overlaps them. For odd L the two classes touch across
  the periodic boundary, which costs speed, not correctness (the sweep is still
  sequential).
* Each lane keeps its configurations in temperature order. A parallel-tempering
  swap of temperatures t, t+1 (Hukushima-Nemoto, decided lane by lane exactly as
  in the scalar kernel) exchanges the two rows in the lanes that accept it with
  one masked vector pass, right after row t+1 has been swept (still in cache).
  This costs 10-15 % of a sweep but makes the log-binned measurement contiguous
  (per-lane gathers would cost more than a sweep); the thermalization phase
  measures after every sweep.
* Everything is double precision: h_i = sum_k J_ik s_k of float32 couplings is
  exact, so tracked energies agree with recomputed ones as in the scalar kernel.

Each call converts the batch from the engine layout (int8 spins, natural site
order, slots) into the lane buffers (float64, checkerboard order, temperature
order, instance innermost), runs the sweeps and writes the configuration of
temperature t back into slot ``slot_at_temp[t]``; the conversion is exact, so a
run split into several calls (checkpoints) is bitwise identical to one call.

The vector code uses GCC/Clang vector extensions of the widest width the target
has: one 512-bit instruction per 8 lanes with ``-march=native`` on an AVX-512
CPU, four SSE2 instructions in the portable build (:data:`SIMD` names the
instruction set). Lane layout and arithmetic are the same on every build.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.math cimport exp
from libc.stdint cimport uint64_t
ctypedef cnp.int64_t int64_t
ctypedef cnp.int32_t int32_t
ctypedef cnp.int8_t int8_t
from sgpoison.mc._xoshiro cimport _rotl

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <immintrin.h>

    /* A batch has SGP_LANES instances; the vector type holds SGP_WIDTH of them, the
       widest the target has (AVX-512: 8 doubles, AVX: 4, SSE2: 2), and every
       operation loops over the SGP_PARTS = SGP_LANES / SGP_WIDTH parts of a batch
       (the compiler unrolls these loops). Comparisons on vectors wider than the
       hardware would be compiled to scalar code, hence no wider types. */
    #define SGP_LANES 8
    #if defined(__AVX512F__)
    #define SGP_SIMD "avx512"
    #define SGP_WIDTH 8
    #elif defined(__AVX__)
    #define SGP_SIMD "avx"
    #define SGP_WIDTH 4
    #else
    #define SGP_SIMD "sse2"
    #define SGP_WIDTH 2
    #endif
    #define SGP_PARTS (SGP_LANES / SGP_WIDTH)
    typedef double   sgp_vd __attribute__((vector_size(8 * SGP_WIDTH)));
    typedef int64_t  sgp_vi __attribute__((vector_size(8 * SGP_WIDTH)));
    typedef uint64_t sgp_vu __attribute__((vector_size(8 * SGP_WIDTH)));

    /* unaligned loads and stores (compile to single instructions) */
    static inline sgp_vd sgp_load(const double *p) { sgp_vd v; memcpy(&v, p, sizeof v); return v; }
    static inline void sgp_store(double *p, sgp_vd v) { memcpy(p, &v, sizeof v); }
    static inline sgp_vu sgp_load_u(const uint64_t *p) { sgp_vu v; memcpy(&v, p, sizeof v); return v; }
    static inline void sgp_store_u(uint64_t *p, sgp_vu v) { memcpy(p, &v, sizeof v); }
    static inline sgp_vi sgp_load_i(const int64_t *p) { sgp_vi v; memcpy(&v, p, sizeof v); return v; }

    /* m ? a : b for a mask m of all-ones / all-zeros lanes */
    static inline sgp_vd sgp_select(sgp_vi m, sgp_vd a, sgp_vd b) {
        return (sgp_vd)((m & (sgp_vi)a) | (~m & (sgp_vi)b));
    }

    static inline sgp_vu sgp_rotl(sgp_vu x, int k) { return (x << k) | (x >> (64 - k)); }

    /* min(x, 0) and max(x, lowest) as single instructions where the target has them */
    static inline sgp_vd sgp_clamp(sgp_vd x, sgp_vd zero, sgp_vd lowest) {
    #if SGP_WIDTH == 8
        return (sgp_vd)_mm512_max_pd((__m512d)_mm512_min_pd((__m512d)x, (__m512d)zero), (__m512d)lowest);
    #elif SGP_WIDTH == 4
        return (sgp_vd)_mm256_max_pd((__m256d)_mm256_min_pd((__m256d)x, (__m256d)zero), (__m256d)lowest);
    #else
        return (sgp_vd)_mm_max_pd((__m128d)_mm_min_pd((__m128d)x, (__m128d)zero), (__m128d)lowest);
    #endif
    }

    /* xoshiro256+ 1.0 (Blackman & Vigna 2018), one independent stream per lane: the
       xoshiro256 state transition with the cheaper output s0 + s3, recommended for
       floating-point numbers (only the upper 52 bits are used; the weak ones are
       the lowest). */
    static inline sgp_vu sgp_next(sgp_vu *s) {
        sgp_vu result = s[0] + s[3];
        sgp_vu t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = sgp_rotl(s[3], 45);
        return result;
    }

    /* uniform in [0, 1 - 2^-52] from the upper 52 bits: mantissa of a double in [1, 2), minus 1 */
    static inline sgp_vd sgp_uniform(sgp_vu r) {
        return (sgp_vd)((r >> 12) | 0x3FF0000000000000ULL) - 1.0;
    }

    /* exp(x) for x in [-700, 0]: x = n ln2 + r, |r| <= ln2/2 (Cody & Waite 1980);
       exp(r) ~ 1 + r q(r), q of degree 5 fitted to minimise the relative error
       on |r| <= ln2/2 (max 2.0e-9; exactly 1 at r = 0, so exp(0) = 1);
       2^n assembled in the exponent field. */
    static inline sgp_vd sgp_exp(sgp_vd x) {
        const double shifter = 6755399441055744.0;           /* 1.5 * 2^52: rounds to integer */
        const double ln2_hi = 6.93147180369123816490e-01;    /* upper 32 bits of ln 2 */
        const double ln2_lo = 1.90821492927058770002e-10;
        sgp_vd t = x * 1.4426950408889634 + shifter;
        sgp_vd n = t - shifter;
        sgp_vd r = (x - n * ln2_hi) - n * ln2_lo;
        sgp_vd q = r * 0.0013843606773368045 + 0.008374195767474661;
        q = q * r + 0.04166800473273647;
        q = q * r + 0.16666430798575796;
        q = q * r + 0.4999999419158767;
        q = q * r + 1.0000000322590221;
        sgp_vi two_n = ((sgp_vi)t << 52) + (1023LL << 52);   /* low mantissa bits of t hold n */
        return (q * r + 1.0) * (sgp_vd)two_n;
    }

    #define SGP_SIGN 0x8000000000000000LL

    /* One Metropolis sweep of one temperature row of a batch.
       spins: (n_sites, LANES) +-1.0;  couplings: (n_sites, 6, LANES);
       offsets: (n_sites, 6) row of neighbour k of site i, times LANES;
       exp4, exp8, exp12: exp(-4 beta), ... (bimodal only); energy: (LANES,);
       rng: (4, LANES) xoshiro256 states. */
    static inline __attribute__((always_inline)) void sgp_sweep(
            double *spins, const double *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            double beta, double exp4, double exp8, double exp12, double *energy, uint64_t *rng,
            const int bimodal) {
        const sgp_vd zero = sgp_load(energy) * 0.0;
        const sgp_vd one = zero + 1.0;
        const sgp_vd minus_two_beta = zero - 2.0 * beta;
        const sgp_vd lowest = zero - 700.0;
        const sgp_vd p4 = zero + exp4, p8 = zero + exp8, p12 = zero + exp12;
        /* the parts are disjoint lanes, so sweeping them one after the other gives the
           same result as interleaving them and keeps the live state in registers */
        for (int p = 0; p < SGP_PARTS; p++) {
            sgp_vu s[4];
            for (int w = 0; w < 4; w++) s[w] = sgp_load_u(rng + w * SGP_LANES + p * SGP_WIDTH);
            sgp_vd sh_sum = zero;                      /* sum of s_i h_i over accepted flips */
            double *sp = spins + p * SGP_WIDTH;
            const double *Jp = couplings + p * SGP_WIDTH;
            for (Py_ssize_t i = 0; i < n_sites; i++) {
                const int32_t *o = offsets + 6 * i;
                const double *J = Jp + 6 * SGP_LANES * i;
                sgp_vd h = sgp_load(J) * sgp_load(sp + o[0]);   /* local field, one FMA per bond */
                for (int k = 1; k < 6; k++) h += sgp_load(J + k * SGP_LANES) * sgp_load(sp + o[k]);
                sgp_vd si = sgp_load(sp + SGP_LANES * i);
                sgp_vd sh = si * h;                    /* dE = 2 s_i h_i */
                sgp_vd prob;
                if (bimodal) {                         /* s_i h_i in {-6, -4, ..., 6} */
                    prob = sgp_select(sh < 1.0, one,
                                      sgp_select(sh < 3.0, p4, sgp_select(sh < 5.0, p8, p12)));
                } else {
                    sgp_vd x = minus_two_beta * sh;    /* -beta dE */
                    prob = sgp_exp(sgp_clamp(x, zero, lowest));
                }
                sgp_vi accept = sgp_uniform(sgp_next(s)) < prob;
                sgp_store(sp + SGP_LANES * i, (sgp_vd)((sgp_vi)si ^ (accept & SGP_SIGN)));
                sh_sum += (sgp_vd)(accept & (sgp_vi)sh);
            }
            sgp_store(energy + p * SGP_WIDTH, sgp_load(energy + p * SGP_WIDTH) + (sh_sum + sh_sum));
            for (int w = 0; w < 4; w++) sgp_store_u(rng + w * SGP_LANES + p * SGP_WIDTH, s[w]);
        }
    }

    /* not inlined: the sweep loop gets all registers to itself */
    static __attribute__((noinline)) void sgp_sweep_gaussian(
            double *spins, const double *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            double beta, double *energy, uint64_t *rng) {
        sgp_sweep(spins, couplings, offsets, n_sites, beta, 1.0, 1.0, 1.0, energy, rng, 0);
    }

    static __attribute__((noinline)) void sgp_sweep_bimodal(
            double *spins, const double *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            double beta, double exp4, double exp8, double exp12, double *energy, uint64_t *rng) {
        sgp_sweep(spins, couplings, offsets, n_sites, beta, exp4, exp8, exp12, energy, rng, 1);
    }

    /* Exchange rows a and b ((n_sites, LANES) each) in the lanes where mask is -1. */
    static void sgp_swap_rows(double *a, double *b, Py_ssize_t n_sites, const int64_t *mask) {
        for (int p = 0; p < SGP_PARTS; p++) {
            sgp_vi m = sgp_load_i(mask + p * SGP_WIDTH);
            for (Py_ssize_t j = 0; j < n_sites; j++) {
                double *pa = a + SGP_LANES * j + p * SGP_WIDTH, *pb = b + SGP_LANES * j + p * SGP_WIDTH;
                sgp_vi va = (sgp_vi)sgp_load(pa), vb = (sgp_vi)sgp_load(pb);
                sgp_vi d = (va ^ vb) & m;
                sgp_store(pa, (sgp_vd)(va ^ d));
                sgp_store(pb, (sgp_vd)(vb ^ d));
            }
        }
    }

    /* Overlap of the rows a (replica 0) and b (replica 1) of one temperature:
       q = sum_j a_j b_j and q_link = sum over the +x, +y, +z bonds (i, j) of q_i q_j;
       overlap (n_sites, LANES) is scratch. */
    static __attribute__((noinline)) void sgp_overlaps(
            const double *a, const double *b, Py_ssize_t n_sites, const int32_t *offsets,
            double *overlap, double *q, double *q_link) {
        for (int p = 0; p < SGP_PARTS; p++) {
            const Py_ssize_t lane = p * SGP_WIDTH;
            sgp_vd q_sum = sgp_load(a) * 0.0, link_sum = q_sum;
            for (Py_ssize_t j = 0; j < n_sites; j++) {
                sgp_vd qj = sgp_load(a + SGP_LANES * j + lane) * sgp_load(b + SGP_LANES * j + lane);
                sgp_store(overlap + SGP_LANES * j + lane, qj);
                q_sum += qj;
            }
            for (Py_ssize_t j = 0; j < n_sites; j++) {
                const int32_t *o = offsets + 6 * j;
                const double *ov = overlap + lane;
                link_sum += sgp_load(ov + SGP_LANES * j)
                            * ((sgp_load(ov + o[0]) + sgp_load(ov + o[1])) + sgp_load(ov + o[2]));
            }
            sgp_store(q + lane, q_sum);
            sgp_store(q_link + lane, link_sum);
        }
    }

    /* vectorised exp of an array whose length is a multiple of LANES (tests) */
    static void sgp_exp_array(const double *x, double *out, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i += SGP_WIDTH) sgp_store(out + i, sgp_exp(sgp_load(x + i)));
    }
    """
    enum: SGP_LANES
    const char* SGP_SIMD
    void sgp_sweep_gaussian(double* spins, const double* couplings, const int32_t* offsets,
                            Py_ssize_t n_sites, double beta, double* energy,
                            uint64_t* rng) noexcept nogil
    void sgp_sweep_bimodal(double* spins, const double* couplings, const int32_t* offsets,
                           Py_ssize_t n_sites, double beta, double exp4, double exp8, double exp12,
                           double* energy, uint64_t* rng) noexcept nogil
    void sgp_swap_rows(double* a, double* b, Py_ssize_t n_sites, const int64_t* mask) noexcept nogil
    void sgp_overlaps(const double* a, const double* b, Py_ssize_t n_sites, const int32_t* offsets,
                      double* overlap, double* q, double* q_link) noexcept nogil
    void sgp_exp_array(const double* x, double* out, Py_ssize_t n) noexcept nogil

#: instances per batch (vector lanes)
LANES = SGP_LANES
#: widest vector instruction set the kernel was compiled for ('avx512', 'avx', 'sse2')
SIMD = SGP_SIMD.decode()


def fast_exp(x):
    """The kernel's vectorised exp applied to ``x`` (float64, valid on [-700, 0]); for tests."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    n = (x.size + SGP_LANES - 1) // SGP_LANES * SGP_LANES
    padded = np.zeros(n)
    padded[:x.size] = x
    out = np.empty(n)
    cdef double[::1] xin = padded
    cdef double[::1] o = out
    if n:
        sgp_exp_array(&xin[0], &o[0], n)
    return out[:x.size]


def checkerboard_order(n_sites):
    """Site order of the lane buffers: sites with x+y+z even first, then odd.

    Parameters
    ----------
    n_sites : int
        N = L**3.

    Returns
    -------
    order : int64 array, shape (N,)
        ``order[j]`` is the natural site index (x*L + y)*L + z stored at position j.
    """
    L = int(round(n_sites ** (1.0 / 3.0)))
    if L**3 != n_sites:
        raise ValueError(f"{n_sites} sites is not a cubic lattice")
    x, y, z = np.unravel_index(np.arange(n_sites), (L, L, L))
    return np.argsort((x + y + z) % 2, kind="stable").astype(np.int64)


def first_white_site(neighbours):
    """Where the white (x+y+z odd) sites start in :func:`checkerboard_order`, if the lattice is
    bipartite.

    Parameters
    ----------
    neighbours : int array, shape (N, 6)
        :func:`sgpoison.mc.lattice.neighbours`.

    Returns
    -------
    int
        The number of black (x+y+z even) sites if every bond joins a black and a white site
        (L even), else -1. Kernels then count each bond once from its white end.
    """
    neighbours = np.asarray(neighbours)
    n_sites = neighbours.shape[0]
    L = int(round(n_sites ** (1.0 / 3.0)))
    x, y, z = np.unravel_index(np.arange(n_sites), (L, L, L))
    white = (x + y + z) % 2 == 1
    if np.all(white[:, None] != white[neighbours]):
        return int(n_sites - np.count_nonzero(white))
    return -1


_tables_cache = {}


def _lattice_tables(neighbours):
    """Checkerboard order and neighbour offsets of the lane buffers (cached per neighbour table).

    Returns ``order`` (see :func:`checkerboard_order`) and int32 ``offsets`` of shape
    (N, 6): LANES times the buffer position of neighbour k of the site at position j.
    """
    key = neighbours.tobytes()
    if key not in _tables_cache:
        n_sites = neighbours.shape[0]
        order = checkerboard_order(n_sites)
        position = np.empty_like(order)
        position[order] = np.arange(n_sites)
        offsets = np.ascontiguousarray((position[neighbours[order]] * SGP_LANES).astype(np.int32))
        if len(_tables_cache) > 8:
            _tables_cache.clear()
        _tables_cache[key] = (order, offsets)
    return _tables_cache[key]


def _aligned_empty(n_rows, row_length, dtype):
    """Uninitialised (n_rows, row_length) array whose rows start at 64-byte boundaries.

    Vector loads that straddle two cache lines cost about 25 % of the sweep time.
    """
    itemsize = np.dtype(dtype).itemsize
    per_line = 64 // itemsize
    padded = -(-row_length // per_line) * per_line
    raw = np.empty(n_rows * padded + per_line, dtype=dtype)
    offset = (-raw.ctypes.data % 64) // itemsize
    return raw[offset:offset + n_rows * padded].reshape(n_rows, padded)


# -- per-lane scalar random numbers (parallel tempering) ------------------------------------

cdef inline double _lane_uniform(uint64_t* s) noexcept nogil:
    """xoshiro256+ step of one lane (state words LANES apart); uniform with 53 random bits."""
    cdef uint64_t result = s[0] + s[3 * SGP_LANES]
    cdef uint64_t t = s[SGP_LANES] << 17
    s[2 * SGP_LANES] ^= s[0]
    s[3 * SGP_LANES] ^= s[SGP_LANES]
    s[SGP_LANES] ^= s[2 * SGP_LANES]
    s[0] ^= s[3 * SGP_LANES]
    s[2 * SGP_LANES] ^= t
    s[3 * SGP_LANES] = _rotl(s[3 * SGP_LANES], 45)
    return (result >> 11) * (1.0 / 9007199254740992.0)


# -- one batch ------------------------------------------------------------------------------

cdef struct Batch:
    # lane buffers of one batch, instance index innermost
    Py_ssize_t first       # global position of lane 0 in the engine arrays
    Py_ssize_t n_real      # lanes holding real instances (the rest are padding)
    Py_ssize_t n_temps
    Py_ssize_t n_sites
    double* spins          # (2, n_T, N, LANES): replica, temperature, checkerboard site
    double* couplings      # (N, 6, LANES)
    double* energies       # (2, n_T, LANES)
    uint64_t* rng          # (2, 4, LANES) xoshiro256 state of each (replica, lane)
    int64_t* mask          # (LANES,) scratch: lanes that accept a swap
    double* overlap        # (N, LANES) scratch: site overlaps
    double* q              # (LANES,) scratch
    double* q_link         # (LANES,) scratch


cdef inline double* _row(const Batch* bt, Py_ssize_t r, Py_ssize_t t) noexcept nogil:
    return bt.spins + (r * bt.n_temps + t) * bt.n_sites * SGP_LANES


cdef void _load(Batch* bt, const int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                const double[:, :, ::1] energies, const double[:, :, ::1] jn,
                const uint64_t[:, :, ::1] rng_state, const int64_t[::1] order) noexcept nogil:
    """Engine layout -> lane buffers; padding lanes get J = 0, s = +1 and a fixed RNG state."""
    cdef Py_ssize_t l, b, r, t, j, k, w, c
    cdef double* dst
    for l in range(SGP_LANES):
        b = bt.first + l
        for r in range(2):
            for t in range(bt.n_temps):
                dst = _row(bt, r, t) + l
                if l < bt.n_real:
                    c = slot_at_temp[b, r, t]
                    for j in range(bt.n_sites):
                        dst[j * SGP_LANES] = spins[b, r, c, order[j]]
                    bt.energies[(r * bt.n_temps + t) * SGP_LANES + l] = energies[b, r, c]
                else:
                    for j in range(bt.n_sites):
                        dst[j * SGP_LANES] = 1.0
                    bt.energies[(r * bt.n_temps + t) * SGP_LANES + l] = 0.0
            for w in range(4):
                bt.rng[(r * 4 + w) * SGP_LANES + l] = rng_state[b, r, w] if l < bt.n_real else w + 1
        for j in range(bt.n_sites):
            for k in range(6):
                bt.couplings[(j * 6 + k) * SGP_LANES + l] = (
                    jn[b, order[j], k] if l < bt.n_real else 0.0)


cdef void _store(const Batch* bt, int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                 double[:, :, ::1] energies, uint64_t[:, :, ::1] rng_state,
                 const int64_t[::1] order) noexcept nogil:
    """Lane buffers -> engine layout (temperature t into slot slot_at_temp[t]), real lanes only."""
    cdef Py_ssize_t l, b, r, t, j, w, c
    cdef const double* src
    for l in range(bt.n_real):
        b = bt.first + l
        for r in range(2):
            for t in range(bt.n_temps):
                c = slot_at_temp[b, r, t]
                src = _row(bt, r, t) + l
                for j in range(bt.n_sites):
                    spins[b, r, c, order[j]] = <int8_t> src[j * SGP_LANES]
                energies[b, r, c] = bt.energies[(r * bt.n_temps + t) * SGP_LANES + l]
            for w in range(4):
                rng_state[b, r, w] = bt.rng[(r * 4 + w) * SGP_LANES + l]


cdef void _sweep_all(Batch* bt, const int32_t* offsets, const double* betas, const double* exp4,
                     const double* exp8, const double* exp12, bint bimodal, bint tempering,
                     int64_t[:, :, ::1] swap_accepted) noexcept nogil:
    """One Metropolis sweep of every configuration, then (if ``tempering``) a round of swaps.

    The swap of temperatures (t, t+1) is decided right after row t+1 is swept,
    while both rows are still in cache. This is the same Markov chain as sweeping
    all rows first: the swap and the sweeps of rows > t+1 act on different
    configurations.
    """
    cdef Py_ssize_t r, t
    for r in range(2):
        for t in range(bt.n_temps):
            if bimodal:
                sgp_sweep_bimodal(_row(bt, r, t), bt.couplings, offsets, bt.n_sites, betas[t],
                                  exp4[t], exp8[t], exp12[t],
                                  bt.energies + (r * bt.n_temps + t) * SGP_LANES,
                                  bt.rng + r * 4 * SGP_LANES)
            else:
                sgp_sweep_gaussian(_row(bt, r, t), bt.couplings, offsets, bt.n_sites, betas[t],
                                   bt.energies + (r * bt.n_temps + t) * SGP_LANES,
                                   bt.rng + r * 4 * SGP_LANES)
            if tempering and t > 0:
                _swap(bt, r, t - 1, betas, swap_accepted)


cdef void _swap(Batch* bt, Py_ssize_t r, Py_ssize_t t, const double* betas,
                int64_t[:, :, ::1] swap_accepted) noexcept nogil:
    """Parallel-tempering swap of temperatures t and t+1 of replica r, decided lane by lane.

    Accepted with probability min(1, exp[(beta_t - beta_t+1)(E_t - E_t+1)])
    (Hukushima & Nemoto 1996), one uniform per lane as in the scalar kernel.
    """
    cdef Py_ssize_t l
    cdef double delta, e
    cdef double* energy = bt.energies + (r * bt.n_temps + t) * SGP_LANES
    cdef bint any_accepted = False
    for l in range(SGP_LANES):
        bt.mask[l] = 0
        if l >= bt.n_real:
            continue
        delta = (betas[t] - betas[t + 1]) * (energy[l] - energy[SGP_LANES + l])
        if delta >= 0.0 or _lane_uniform(bt.rng + r * 4 * SGP_LANES + l) < exp(delta):
            bt.mask[l] = -1
            any_accepted = True
            e = energy[l]
            energy[l] = energy[SGP_LANES + l]
            energy[SGP_LANES + l] = e
            swap_accepted[bt.first + l, r, t] += 1
    if any_accepted:
        sgp_swap_rows(_row(bt, r, t), _row(bt, r, t + 1), bt.n_sites, bt.mask)


cdef void _measure(Batch* bt, const int32_t* offsets, Py_ssize_t bin_index,
                   double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2,
                   double[:, :, ::1] bin_link) noexcept nogil:
    """Add e, q^2 and q_l of every (instance, temperature) to its log bin (as the scalar kernel)."""
    cdef Py_ssize_t l, t
    cdef Py_ssize_t n_sites = bt.n_sites
    cdef double q
    for t in range(bt.n_temps):
        sgp_overlaps(_row(bt, 0, t), _row(bt, 1, t), n_sites, offsets, bt.overlap, bt.q,
                     bt.q_link)
        for l in range(bt.n_real):
            q = bt.q[l] / n_sites
            bin_energy[bt.first + l, t, bin_index] += (
                bt.energies[t * SGP_LANES + l] + bt.energies[(bt.n_temps + t) * SGP_LANES + l]
            ) / (2.0 * n_sites)
            bin_q2[bt.first + l, t, bin_index] += q * q
            bin_link[bt.first + l, t, bin_index] += bt.q_link[l] / (3.0 * n_sites)


cdef void _run_batch(Py_ssize_t worker, Py_ssize_t batch, int8_t[:, :, :, ::1] spins,
                     const int32_t[:, :, ::1] slot_at_temp, double[:, :, ::1] energies,
                     const double[:, :, ::1] jn, uint64_t[:, :, ::1] rng_state,
                     int64_t[:, :, ::1] swap_accepted, double[:, :, ::1] bin_energy,
                     double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
                     const int64_t[::1] order, const int32_t* offsets, const double* betas,
                     const double* exp4, const double* exp8, const double* exp12,
                     double[:, ::1] b_spins, double[:, ::1] b_couplings, double[:, ::1] b_small,
                     uint64_t[:, ::1] b_rng, int64_t[:, ::1] b_mask, int64_t first_sweep,
                     int64_t n_sweeps, int64_t swap_interval, bint measure,
                     bint bimodal) noexcept nogil:
    """All sweeps of batch ``batch`` in the buffers of ``worker``."""
    cdef Py_ssize_t n_inst = spins.shape[0]
    cdef Py_ssize_t bin_index
    cdef int64_t sweep, tt
    cdef Batch bt
    bt.first = batch * SGP_LANES
    bt.n_real = min(SGP_LANES, n_inst - bt.first)
    bt.n_temps = spins.shape[2]
    bt.n_sites = spins.shape[3]
    bt.spins = &b_spins[worker, 0]
    bt.couplings = &b_couplings[worker, 0]
    bt.rng = &b_rng[worker, 0]
    bt.mask = &b_mask[worker, 0]
    bt.q = &b_small[worker, 0]
    bt.q_link = bt.q + SGP_LANES
    bt.energies = bt.q + 2 * SGP_LANES
    bt.overlap = bt.energies + 2 * bt.n_temps * SGP_LANES
    _load(&bt, spins, slot_at_temp, energies, jn, rng_state, order)
    for sweep in range(first_sweep, first_sweep + n_sweeps):
        _sweep_all(&bt, offsets, betas, exp4, exp8, exp12, bimodal,
                   (sweep + 1) % swap_interval == 0, swap_accepted)
        if measure:
            # log bin of 0-based sweep index: 0 -> 0, [2^(k-1), 2^k) -> k
            bin_index = 0
            tt = sweep
            while tt > 0:
                tt = tt >> 1
                bin_index = bin_index + 1
            _measure(&bt, offsets, bin_index, bin_energy, bin_q2, bin_link)
    _store(&bt, spins, slot_at_temp, energies, rng_state, order)


def run_sweeps(cnp.int8_t[:, :, :, ::1] spins, cnp.int32_t[:, :, ::1] slot_at_temp,
               double[:, :, ::1] energies, const double[:, :, ::1] neighbour_couplings,
               const cnp.int32_t[:, ::1] neighbours, const double[::1] betas,
               uint64_t[:, :, ::1] rng_state, cnp.int64_t[:, :, ::1] swap_accepted,
               double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
               cnp.int64_t first_sweep, cnp.int64_t n_sweeps, cnp.int64_t swap_interval,
               bint measure, int n_threads, bint bimodal):
    """Advance every instance by ``n_sweeps`` sweeps; arguments as :func:`sgpoison.mc._kernel.run_sweeps`.

    ``bimodal`` selects the exp-free acceptance for couplings J = +-1 (only valid
    for bimodal couplings). ``slot_at_temp`` is read, not changed: the
    configuration that ends at temperature t is written into slot ``slot_at_temp[t]``.
    """
    cdef Py_ssize_t n_inst = spins.shape[0], n_temps = spins.shape[2], n_sites = spins.shape[3]
    cdef Py_ssize_t n_batches = (n_inst + SGP_LANES - 1) // SGP_LANES
    cdef int n_workers = max(1, min(n_threads, n_batches))
    if n_sweeps <= 0:
        return
    order_np, offsets_np = _lattice_tables(np.asarray(neighbours))
    betas_np = np.asarray(betas)
    tables = [np.ascontiguousarray(np.exp(-k * betas_np)) for k in (4.0, 8.0, 12.0)]
    # per-worker lane buffers, reused batch after batch
    buf_spins = _aligned_empty(n_workers, 2 * n_temps * n_sites * SGP_LANES, np.float64)
    buf_couplings = _aligned_empty(n_workers, n_sites * 6 * SGP_LANES, np.float64)
    buf_small = _aligned_empty(n_workers, (4 + 2 * n_temps + n_sites) * SGP_LANES, np.float64)
    buf_rng = _aligned_empty(n_workers, 2 * 4 * SGP_LANES, np.uint64)
    buf_mask = _aligned_empty(n_workers, SGP_LANES, np.int64)

    cdef const int64_t[::1] order = order_np
    cdef const int32_t[:, ::1] offsets = offsets_np
    cdef const double[::1] exp4 = tables[0]
    cdef const double[::1] exp8 = tables[1]
    cdef const double[::1] exp12 = tables[2]
    cdef double[:, ::1] b_spins = buf_spins
    cdef double[:, ::1] b_couplings = buf_couplings
    cdef double[:, ::1] b_small = buf_small
    cdef uint64_t[:, ::1] b_rng = buf_rng
    cdef int64_t[:, ::1] b_mask = buf_mask
    cdef Py_ssize_t batch
    with nogil:
        for batch in prange(n_batches, num_threads=n_workers, schedule="static", chunksize=1):
            _run_batch(threadid(), batch, spins, slot_at_temp, energies, neighbour_couplings,
                       rng_state, swap_accepted, bin_energy, bin_q2, bin_link, order,
                       &offsets[0, 0], &betas[0], &exp4[0], &exp8[0], &exp12[0], b_spins,
                       b_couplings, b_small, b_rng, b_mask, first_sweep, n_sweeps, swap_interval,
                       measure, bimodal)
