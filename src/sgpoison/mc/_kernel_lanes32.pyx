# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Single-precision SIMD-lane kernel for Gaussian couplings: 16 instances per 512-bit vector.

Same engine-side state layout and batch structure as :mod:`sgpoison.mc._kernel_lanes`
(read its docstring first: structure of arrays with the instance index innermost,
checkerboard site order, rows kept in temperature order, masked row swaps for
parallel tempering); what differs:

* Lanes are float32, ``LANES`` = 16 instances per batch: one AVX-512 instruction
  (two AVX2, four SSE2 instructions) updates one site of 16 disorder instances.
* Couplings J (float32 in the engine already, so converting them is exact), spins
  and the local field h_i = sum_k J_ik s_k are float32; dE = 2 s_i h_i.
* Random numbers: xoshiro128+ 1.0 (Blackman & Vigna 2018), one 32-bit stream per
  (instance, replica) lane, state = the low 32 bits of the engine's four uint64
  words (all-zero low halves -- never produced by the generator -- are replaced
  by (1, 0, 0, 0)); stored back zero-extended, so load(store(x)) = x. Every
  attempted flip draws its own uniform u = k 2^-24 from the top 24 bits (the
  recommended use of the + scrambler; its weak bits are the lowest).
* Acceptance: u < P(x), x = max(-beta dE, -87) clamped to <= 0, where P is a
  float32 exp (:func:`fast_expf`): Cody-Waite reduction x = n ln2 + r with a
  two-part float32 ln 2, exp(r) ~ 1 + r + r^2 q(r), q of degree 4 fitted here
  (weighted least squares, approximation error 3e-9 on |r| <= ln2/2), 2^n put in
  the exponent field. Relative error of P against exp in float64, float32
  rounding included: max 8.5e-8 = 0.72 x 2^-23 over every one of the 1.1e9 floats
  in [-87, 0] (exhaustive check, docs/benchmarks.md; ``tests/mc/test_kernels.py``
  checks 2^-23 on a dense sample), P(0) = 1 exactly.
* Energies are float64: the accepted dE of a row are summed in float32 over
  blocks of 32 sites and each block sum is added to the float64 energy. A
  measuring sweep replaces each row's energy by a recount from its configuration:
  on a bipartite lattice (L even) within the sweep itself, E = -sum over white
  sites of s_i h_i (the white sites come last and all their neighbours are black,
  so every bond is counted once from its white end) with the sweep's float32 field
  h_i, summed in float32 over blocks of 32 sites and in float64 across blocks:
  |error| <= ``RECOUNT_ERROR`` x sum_b |J_b| (gamma_5 + gamma_31 in u = 2^-24, about
  1e-6 per spin, three orders below the statistical error of e); otherwise by a
  separate float64 pass. At the end of every call all energies are recounted in
  float64 (float32 products J s_i s_j are exact), so the tracked energies never
  drift and equal the configuration energies the engine stores.
* A measuring sweep measures each temperature (e, q^2, q_l in one pass over both
  replicas' rows) as soon as its swaps are done, while its rows are in cache.
  Consequence: trajectories are bitwise reproducible for any thread count and
  for the engine's call schedule (checkpoint/resume), but a different split of
  a run into calls changes the last bits of the energies used for swaps.

Acceptance-probability bias bound
---------------------------------
Let p = exp(-beta dE) be the exact Metropolis probability (dE > 0) with the float32
couplings. The kernel accepts with probability A = ceil(P 2^24) 2^-24, P the
float32 exp of the float32 argument x computed from the rounded field, so

    |A - p| <= p (eps_exp + 10 beta u S_i + beta dE u) + 2^-24,
    eps_exp = 2^-23,  u = 2^-24,  S_i = sum_k |J_ik|,

(first order in u; 10 beta u S_i bounds the rounding of h_i = five float32 additions,
Higham's gamma_5, doubled in dE; beta dE u is the rounding of x; arguments below
-87 are clamped, p < 2^-125). For the configured ladders (T >= 0.75, beta <= 1.33),
a typical site (S_i ~ 4.8) and p >= 2^-24 the relative part is < 5e-6 (< 1.3e-5 even
for S_i = 15) and the absolute part 2^-24 = 6e-8 per attempted flip. To first order a perturbation delta of single-site transition
probabilities moves thermal averages of local observables by O(delta), so the
bias in e, q^2 and q_l is ~1e-5 or smaller, while the statistical errors of one
instance's thermal averages (and a fortiori of disorder averages) are >= 1e-3
(Tables I-II): the bias is two orders of magnitude below any error bar. The
exact-enumeration and double-kernel comparisons in ``tests/mc/test_kernels.py``
check the whole chain within statistical errors.

Bimodal couplings are not handled here (``sgpoison.mc.kernels`` uses ``multispin``).
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.math cimport exp
from libc.stdint cimport uint64_t, uint32_t
ctypedef cnp.int64_t int64_t
ctypedef cnp.int32_t int32_t
ctypedef cnp.int8_t int8_t

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <immintrin.h>

    /* A batch has SGF_LANES = 16 instances; the vector type holds SGF_WIDTH of them
       (AVX-512: 16 floats, AVX: 8, SSE2: 4); every operation loops over the
       SGF_PARTS = SGF_LANES / SGF_WIDTH parts of a batch. */
    #define SGF_LANES 16
    #define SGF_BLOCK 32      /* sites per float32 partial energy sum */
    #if defined(__AVX512F__)
    #define SGF_SIMD "avx512"
    #define SGF_WIDTH 16
    #elif defined(__AVX__)
    #define SGF_SIMD "avx"
    #define SGF_WIDTH 8
    #else
    #define SGF_SIMD "sse2"
    #define SGF_WIDTH 4
    #endif
    #define SGF_PARTS (SGF_LANES / SGF_WIDTH)
    typedef float    sgf_vf __attribute__((vector_size(4 * SGF_WIDTH)));
    typedef int32_t  sgf_vi __attribute__((vector_size(4 * SGF_WIDTH)));
    typedef uint32_t sgf_vu __attribute__((vector_size(4 * SGF_WIDTH)));
    typedef double   sgf_vd __attribute__((vector_size(8 * SGF_WIDTH)));   /* SGF_WIDTH doubles */

    static inline sgf_vf sgf_load(const float *p) { sgf_vf v; memcpy(&v, p, sizeof v); return v; }
    static inline void sgf_store(float *p, sgf_vf v) { memcpy(p, &v, sizeof v); }
    static inline sgf_vu sgf_load_u(const uint32_t *p) { sgf_vu v; memcpy(&v, p, sizeof v); return v; }
    static inline void sgf_store_u(uint32_t *p, sgf_vu v) { memcpy(p, &v, sizeof v); }
    static inline sgf_vi sgf_load_i(const int32_t *p) { sgf_vi v; memcpy(&v, p, sizeof v); return v; }
    static inline sgf_vd sgf_load_d(const double *p) { sgf_vd v; memcpy(&v, p, sizeof v); return v; }
    static inline void sgf_store_d(double *p, sgf_vd v) { memcpy(p, &v, sizeof v); }
    static inline sgf_vd sgf_widen(sgf_vf x) { return __builtin_convertvector(x, sgf_vd); }

    /* Native-width float64 vectors (SGF_WIDTH / 2 doubles: one register) for sums that run
       over every site; a GCC vector of SGF_WIDTH doubles is wider than a register on AVX and
       SSE2 and is then spilled through the stack at every addition. */
    typedef double sgf_vdh __attribute__((vector_size(4 * SGF_WIDTH)));
    static inline void sgf_widen2(sgf_vf x, sgf_vdh *lo, sgf_vdh *hi) {
    #if SGF_WIDTH == 16
        *lo = (sgf_vdh)_mm512_cvtps_pd(_mm512_castps512_ps256((__m512)x));
        *hi = (sgf_vdh)_mm512_cvtps_pd((__m256)_mm512_extractf64x4_pd((__m512d)x, 1));
    #elif SGF_WIDTH == 8
        *lo = (sgf_vdh)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)x));
        *hi = (sgf_vdh)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)x, 1));
    #else
        *lo = (sgf_vdh)_mm_cvtps_pd((__m128)x);
        *hi = (sgf_vdh)_mm_cvtps_pd(_mm_movehl_ps((__m128)x, (__m128)x));
    #endif
    }
    /* out[0 : SGF_WIDTH] = (lo, hi) */
    static inline void sgf_store_d2(double *out, sgf_vdh lo, sgf_vdh hi) {
        memcpy(out, &lo, sizeof lo);
        memcpy(out + SGF_WIDTH / 2, &hi, sizeof hi);
    }

    static inline sgf_vu sgf_rotl(sgf_vu x, int k) { return (x << k) | (x >> (32 - k)); }

    /* min(max(x, lowest), 0) as single instructions where the target has them */
    static inline sgf_vf sgf_clamp(sgf_vf x, sgf_vf zero, sgf_vf lowest) {
    #if SGF_WIDTH == 16
        return (sgf_vf)_mm512_max_ps(_mm512_min_ps((__m512)x, (__m512)zero), (__m512)lowest);
    #elif SGF_WIDTH == 8
        return (sgf_vf)_mm256_max_ps(_mm256_min_ps((__m256)x, (__m256)zero), (__m256)lowest);
    #else
        return (sgf_vf)_mm_max_ps(_mm_min_ps((__m128)x, (__m128)zero), (__m128)lowest);
    #endif
    }

    /* xoshiro128+ 1.0 (Blackman & Vigna 2018), one stream per lane */
    static inline sgf_vu sgf_next(sgf_vu *s) {
        sgf_vu result = s[0] + s[3];
        sgf_vu t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = sgf_rotl(s[3], 11);
        return result;
    }

    /* exp(x) for x in [-87, 0]: x = n ln2 + r, |r| <= ln2/2 (Cody & Waite 1980);
       exp(r) ~ 1 + r + r^2 q(r), q of degree 4; 2^n assembled in the exponent field. */
    static inline __attribute__((always_inline)) sgf_vf sgf_exp_scaled(sgf_vf x, const int scale) {
        const float shifter = 12582912.0f;            /* 1.5 * 2^23: rounds to integer */
        sgf_vf t = x * 1.44269504088896341f + shifter;
        sgf_vf n = t - shifter;
        sgf_vf r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  /* 0.693359375: 9 bits, n*hi exact */
        sgf_vf q = r * 0.0013814536f + 0.008368745f;
        q = q * r + 0.041668393f;
        q = q * r + 0.16666521f;
        q = q * r + 0.49999994f;
        sgf_vi two_n = ((sgf_vi)t << 23) + ((127 + scale) << 23);  /* low mantissa bits of t hold n */
        return ((q * r) * r + r + 1.0f) * (sgf_vf)two_n;
    }
    /* exp(x); and exp(x) 2^24 (exact scaling: compared with the integer k of u = k 2^-24) */
    static inline sgf_vf sgf_exp(sgf_vf x) { return sgf_exp_scaled(x, 0); }

    /* the 24-bit integer k of the uniform k 2^-24, as float (exact) */
    static inline sgf_vf sgf_uniform24(sgf_vu r) {
        return __builtin_convertvector((sgf_vi)(r >> 8), sgf_vf);
    }

    #define SGF_SIGN ((int32_t)0x80000000)

    /* One Metropolis sweep of one temperature row of a batch.
       spins: (n_sites, LANES) +-1.0f;  couplings: (n_sites, 6, LANES) float32;
       offsets: (n_sites, 6) row of neighbour k of site i, times LANES;
       energy: (LANES,) float64; rng: (4, LANES) xoshiro128 states.
       recount (a compile-time constant): sites first_white ... n_sites - 1 are the white sublattice
       of a bipartite lattice whose neighbours all come before it, so after the sweep
       E = -sum over white i of s_i h_i, each bond counted once from its white end; energy is
       then replaced by that sum (h_i the float32 field of the sweep, summed in float32 over the
       blocks of SGF_BLOCK sites and in float64 across them) instead of being updated by the
       accepted dE. */
    static inline __attribute__((always_inline)) void sgf_sweep_core(
            float *spins, const float *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            float beta, double *energy, uint32_t *rng, const int recount, Py_ssize_t first_white) {
        const sgf_vf zero = sgf_load(couplings) * 0.0f;
        const sgf_vf minus_two_beta = zero - 2.0f * beta;
        const sgf_vf lowest = zero - 87.0f;
        for (int p = 0; p < SGF_PARTS; p++) {
            sgf_vu s[4];
            for (int w = 0; w < 4; w++) s[w] = sgf_load_u(rng + w * SGF_LANES + p * SGF_WIDTH);
            sgf_vd e = sgf_load_d(energy + p * SGF_WIDTH);
            sgf_vdh white_lo = {0}, white_hi = {0};
            float *sp = spins + p * SGF_WIDTH;
            const float *Jp = couplings + p * SGF_WIDTH;
            for (Py_ssize_t i0 = 0; i0 < n_sites; i0 += SGF_BLOCK) {
                const Py_ssize_t i1 = i0 + SGF_BLOCK < n_sites ? i0 + SGF_BLOCK : n_sites;
                sgf_vf sh_sum = zero;                  /* sum of s_i h_i over accepted flips */
                sgf_vf white_sum = zero;               /* sum of s_i h_i over white sites */
                for (Py_ssize_t i = i0; i < i1; i++) {
                    const int32_t *o = offsets + 6 * i;
                    const float *J = Jp + 6 * SGF_LANES * i;
                    sgf_vf h = sgf_load(J) * sgf_load(sp + o[0]);
                    for (int k = 1; k < 6; k++) h += sgf_load(J + k * SGF_LANES) * sgf_load(sp + o[k]);
                    sgf_vf si = sgf_load(sp + SGF_LANES * i);
                    sgf_vf sh = si * h;                /* dE = 2 s_i h_i */
                    /* u < exp(x)  <=>  k < exp(x) 2^24, u = k 2^-24: both sides scaled exactly */
                    sgf_vf scaled = sgf_exp_scaled(sgf_clamp(minus_two_beta * sh, zero, lowest), 24);
                    sgf_vi accept = sgf_uniform24(sgf_next(s)) < scaled;
                    sgf_store(sp + SGF_LANES * i, (sgf_vf)((sgf_vi)si ^ (accept & SGF_SIGN)));
                    sh_sum += (sgf_vf)(accept & (sgf_vi)sh);
                    if (recount && i >= first_white)     /* s_i h_i after the update: flip negates */
                        white_sum += (sgf_vf)((sgf_vi)sh ^ (accept & SGF_SIGN));
                }
                if (recount) {
                    sgf_vdh lo, hi;
                    sgf_widen2(white_sum, &lo, &hi);
                    white_lo += lo;
                    white_hi += hi;
                } else {
                    e += sgf_widen(sh_sum + sh_sum);
                }
            }
            if (recount) sgf_store_d2(energy + p * SGF_WIDTH, -white_lo, -white_hi);
            else sgf_store_d(energy + p * SGF_WIDTH, e);
            for (int w = 0; w < 4; w++) sgf_store_u(rng + w * SGF_LANES + p * SGF_WIDTH, s[w]);
        }
    }
    static __attribute__((noinline)) void sgf_sweep(
            float *spins, const float *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            float beta, double *energy, uint32_t *rng) {
        sgf_sweep_core(spins, couplings, offsets, n_sites, beta, energy, rng, 0, n_sites);
    }
    static __attribute__((noinline)) void sgf_sweep_recount(
            float *spins, const float *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            float beta, double *energy, uint32_t *rng, Py_ssize_t first_white) {
        sgf_sweep_core(spins, couplings, offsets, n_sites, beta, energy, rng, 1, first_white);
    }

    /* Exchange rows a and b ((n_sites, LANES) each) in the lanes where mask is -1. */
    static void sgf_swap_rows(float *a, float *b, Py_ssize_t n_sites, const int32_t *mask) {
        for (int p = 0; p < SGF_PARTS; p++) {
            sgf_vi m = sgf_load_i(mask + p * SGF_WIDTH);
            for (Py_ssize_t j = 0; j < n_sites; j++) {
                float *pa = a + SGF_LANES * j + p * SGF_WIDTH, *pb = b + SGF_LANES * j + p * SGF_WIDTH;
                sgf_vi va = (sgf_vi)sgf_load(pa), vb = (sgf_vi)sgf_load(pb);
                sgf_vi d = (va ^ vb) & m;
                sgf_store(pa, (sgf_vf)(va ^ d));
                sgf_store(pb, (sgf_vf)(vb ^ d));
            }
        }
    }

    /* Energy of one row, recounted: E = -sum_i s_i (J_i0 s_x + J_i1 s_y + J_i2 s_z) over the
       +x, +y, +z bonds; every product J s_i s_j is exact in float32, the sum is float64 (site
       by site, in order). */
    static __attribute__((noinline)) void sgf_energy(
            const float *spins, const float *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            double *energy) {
        for (int p = 0; p < SGF_PARTS; p++) {
            const Py_ssize_t lane = p * SGF_WIDTH;
            sgf_vdh e_lo = {0}, e_hi = {0};
            for (Py_ssize_t i = 0; i < n_sites; i++) {
                const int32_t *o = offsets + 6 * i;
                const float *J = couplings + 6 * SGF_LANES * i + lane;
                sgf_vf si = sgf_load(spins + SGF_LANES * i + lane);
                for (int k = 0; k < 3; k++) {
                    sgf_vdh lo, hi;
                    sgf_widen2(si * sgf_load(J + k * SGF_LANES) * sgf_load(spins + o[k] + lane), &lo, &hi);
                    e_lo -= lo;
                    e_hi -= hi;
                }
            }
            sgf_store_d2(energy + lane, e_lo, e_hi);
        }
    }

    /* Overlap of the rows a (replica 0) and b (replica 1) of one temperature, in one pass:
       q = sum_j a_j b_j and q_link = sum over the +x, +y, +z bonds (i, j) of q_i q_j,
       integers below 2^24 (N <= 2^22 is checked), so the float32 sums are exact in any order. */
    static __attribute__((noinline)) void sgf_overlaps(
            const float *a, const float *b, Py_ssize_t n_sites, const int32_t *offsets,
            float *qbuf, double *q, double *q_link) {
        /* q_j = a_j b_j once per site into qbuf ((n_sites, SGF_WIDTH) floats), then
           q_l = sum_j q_j (q_+x + q_+y + q_+z); float32 sums of small integers are exact */
        for (int p = 0; p < SGF_PARTS; p++) {
            const float *ap = a + p * SGF_WIDTH, *bp = b + p * SGF_WIDTH;
            const sgf_vf zero = sgf_load(a) * 0.0f;
            sgf_vf q_even = zero, q_odd = zero, link_even = zero, link_odd = zero;   /* two chains */
            Py_ssize_t j = 0;
            for (; j + 1 < n_sites; j += 2) {
                sgf_vf q0 = sgf_load(ap + SGF_LANES * j) * sgf_load(bp + SGF_LANES * j);
                sgf_vf q1 = sgf_load(ap + SGF_LANES * (j + 1)) * sgf_load(bp + SGF_LANES * (j + 1));
                sgf_store(qbuf + SGF_WIDTH * j, q0);
                sgf_store(qbuf + SGF_WIDTH * (j + 1), q1);
                q_even += q0;
                q_odd += q1;
            }
            if (j < n_sites) {
                sgf_vf q0 = sgf_load(ap + SGF_LANES * j) * sgf_load(bp + SGF_LANES * j);
                sgf_store(qbuf + SGF_WIDTH * j, q0);
                q_even += q0;
            }
            #define SGF_SITE_LINK(j, link_acc) do { \
                const int32_t *o = offsets + 6 * (j);   /* SGF_LANES x neighbour position */ \
                link_acc += sgf_load(qbuf + SGF_WIDTH * (j)) \
                            * (sgf_load(qbuf + o[0] / SGF_LANES * SGF_WIDTH) \
                               + sgf_load(qbuf + o[1] / SGF_LANES * SGF_WIDTH) \
                               + sgf_load(qbuf + o[2] / SGF_LANES * SGF_WIDTH)); \
            } while (0)
            for (j = 0; j + 1 < n_sites; j += 2) {
                SGF_SITE_LINK(j, link_even);
                SGF_SITE_LINK(j + 1, link_odd);
            }
            if (j < n_sites) SGF_SITE_LINK(j, link_even);
            #undef SGF_SITE_LINK
            sgf_vf q_sum[2] = {q_even, q_odd}, link_sum[2] = {link_even, link_odd};
            sgf_store_d(q + p * SGF_WIDTH, sgf_widen(q_sum[0] + q_sum[1]));
            sgf_store_d(q_link + p * SGF_WIDTH, sgf_widen(link_sum[0] + link_sum[1]));
        }
    }

    /* vectorised exp of an array whose length is a multiple of LANES (tests) */
    static void sgf_exp_array(const float *x, float *out, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i += SGF_WIDTH) sgf_store(out + i, sgf_exp(sgf_load(x + i)));
    }
    """
    enum: SGF_LANES
    const char* SGF_SIMD
    void sgf_sweep(float* spins, const float* couplings, const int32_t* offsets, Py_ssize_t n_sites,
                   float beta, double* energy, uint32_t* rng) noexcept nogil
    void sgf_sweep_recount(float* spins, const float* couplings, const int32_t* offsets,
                           Py_ssize_t n_sites, float beta, double* energy, uint32_t* rng,
                           Py_ssize_t first_white) noexcept nogil
    void sgf_swap_rows(float* a, float* b, Py_ssize_t n_sites, const int32_t* mask) noexcept nogil
    void sgf_energy(const float* spins, const float* couplings, const int32_t* offsets,
                    Py_ssize_t n_sites, double* energy) noexcept nogil
    void sgf_overlaps(const float* a, const float* b, Py_ssize_t n_sites, const int32_t* offsets,
                      float* qbuf, double* q, double* q_link) noexcept nogil
    void sgf_exp_array(const float* x, float* out, Py_ssize_t n) noexcept nogil

#: instances per batch (vector lanes)
LANES = SGF_LANES
#: widest vector instruction set the kernel was compiled for ('avx512', 'avx', 'sse2')
SIMD = SGF_SIMD.decode()
#: largest number of sites (the float32 overlap sums are exact integers below 2^24)
MAX_SITES = 1 << 22
#: bound on |E_measured - E| / sum_b |J_b| of a measuring sweep's energy on a bipartite
#: lattice: gamma_5 (float32 local field) + gamma_31 (float32 sums over a block of 32 sites),
#: first order in u = 2^-24, plus a margin for the float64 sums (:func:`run_sweeps`)
RECOUNT_ERROR = 37 * 2.0**-24


def fast_expf(x):
    """The kernel's float32 exp applied to ``x`` (cast to float32; valid on [-87, 0]); for tests.

    Returns a float32 array of the shape of ``x`` raveled.
    """
    x = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef Py_ssize_t n = (x.size + SGF_LANES - 1) // SGF_LANES * SGF_LANES
    padded = np.zeros(n, dtype=np.float32)
    padded[:x.size] = x
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] xin = padded
    cdef float[::1] o = out
    if n:
        with nogil:
            sgf_exp_array(&xin[0], &o[0], n)
    return out[:x.size]


def acceptance_probability(beta, dE):
    """Exact probability that the kernel accepts a flip with energy change ``dE`` at ``beta``.

    ``ceil(P 2^24) 2^-24`` with P the kernel's float32 exp of ``max(-beta dE, -87)``
    (clamped to <= 0), computed in float32 exactly as in the sweep (``dE`` is taken
    as given, i.e. without the rounding of the local field); float64 array like ``dE``.
    """
    dE = np.asarray(dE, dtype=np.float32)
    x = np.float32(-2.0) * np.float32(beta) * (dE / np.float32(2.0))
    x = np.minimum(np.maximum(x, np.float32(-87.0)), np.float32(0.0))
    p = fast_expf(x).astype(np.float64).reshape(dE.shape)
    return np.minimum(np.ceil(p * 2.0**24), 2.0**24) / 2.0**24


from sgpoison.mc._kernel_lanes import checkerboard_order, first_white_site, _aligned_empty  # one implementation


_tables_cache = {}


def _lattice_tables(neighbours):
    """Checkerboard order, neighbour offsets (LANES times buffer positions) and
    :func:`first_white_site`, cached."""
    key = neighbours.tobytes()
    if key not in _tables_cache:
        n_sites = neighbours.shape[0]
        order = checkerboard_order(n_sites)
        position = np.empty_like(order)
        position[order] = np.arange(n_sites)
        offsets = np.ascontiguousarray((position[neighbours[order]] * SGF_LANES).astype(np.int32))
        if len(_tables_cache) > 8:
            _tables_cache.clear()
        _tables_cache[key] = (order, offsets, first_white_site(neighbours))
    return _tables_cache[key]


# -- per-lane scalar random numbers (parallel tempering) ------------------------------------

cdef inline uint32_t _rotl32(uint32_t x, int k) noexcept nogil:
    return (x << k) | (x >> (32 - k))


cdef inline uint32_t _lane_next(uint32_t* s) noexcept nogil:
    """xoshiro128+ step of one lane (state words LANES apart)."""
    cdef uint32_t result = s[0] + s[3 * SGF_LANES]
    cdef uint32_t t = s[SGF_LANES] << 9
    s[2 * SGF_LANES] ^= s[0]
    s[3 * SGF_LANES] ^= s[SGF_LANES]
    s[SGF_LANES] ^= s[2 * SGF_LANES]
    s[0] ^= s[3 * SGF_LANES]
    s[2 * SGF_LANES] ^= t
    s[3 * SGF_LANES] = _rotl32(s[3 * SGF_LANES], 11)
    return result


cdef inline double _lane_uniform(uint32_t* s) noexcept nogil:
    """Uniform double in [0, 1) with 53 random bits: top 26 bits of one draw, top 27 of the next."""
    cdef uint64_t hi = _lane_next(s) >> 6
    cdef uint64_t lo = _lane_next(s) >> 5
    return ((hi << 27) | lo) * (1.0 / 9007199254740992.0)


# -- one batch ------------------------------------------------------------------------------

cdef struct Batch:
    Py_ssize_t first       # global position of lane 0 in the engine arrays
    Py_ssize_t n_real      # lanes holding real instances (the rest are padding)
    Py_ssize_t n_temps
    Py_ssize_t n_sites
    float* spins           # (2, n_T, N, LANES): replica, temperature, checkerboard site
    float* couplings       # (N, 6, LANES)
    float* qbuf            # (N, LANES) scratch: site overlaps
    double* energies       # (2, n_T, LANES)
    uint32_t* rng          # (2, 4, LANES) xoshiro128 state of each (replica, lane)
    int32_t* mask          # (LANES,) scratch: lanes that accept a swap
    Py_ssize_t first_white # first site of the white sublattice (L even), -1 if not bipartite
    double* q              # (LANES,) scratch
    double* q_link         # (LANES,) scratch


cdef inline float* _row(const Batch* bt, Py_ssize_t r, Py_ssize_t t) noexcept nogil:
    return bt.spins + (r * bt.n_temps + t) * bt.n_sites * SGF_LANES


cdef void _load(Batch* bt, const int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                const double[:, :, ::1] energies, const double[:, :, ::1] jn,
                const uint64_t[:, :, ::1] rng_state, const int64_t[::1] order) noexcept nogil:
    """Engine layout -> lane buffers; padding lanes get J = 0, s = +1 and a fixed RNG state."""
    cdef Py_ssize_t l, b, r, t, j, k, w, c
    cdef float* dst
    cdef bint all_zero
    for l in range(SGF_LANES):
        b = bt.first + l
        for r in range(2):
            for t in range(bt.n_temps):
                dst = _row(bt, r, t) + l
                if l < bt.n_real:
                    c = slot_at_temp[b, r, t]
                    for j in range(bt.n_sites):
                        dst[j * SGF_LANES] = spins[b, r, c, order[j]]
                    bt.energies[(r * bt.n_temps + t) * SGF_LANES + l] = energies[b, r, c]
                else:
                    for j in range(bt.n_sites):
                        dst[j * SGF_LANES] = 1.0
                    bt.energies[(r * bt.n_temps + t) * SGF_LANES + l] = 0.0
            all_zero = True
            for w in range(4):
                bt.rng[(r * 4 + w) * SGF_LANES + l] = (
                    <uint32_t> rng_state[b, r, w] if l < bt.n_real else <uint32_t> (w + 1))
                all_zero = all_zero and bt.rng[(r * 4 + w) * SGF_LANES + l] == 0
            if all_zero:
                bt.rng[(r * 4) * SGF_LANES + l] = 1
        for j in range(bt.n_sites):
            for k in range(6):
                bt.couplings[(j * 6 + k) * SGF_LANES + l] = (
                    <float> jn[b, order[j], k] if l < bt.n_real else 0.0)


cdef void _recount(Batch* bt, const int32_t* offsets) noexcept nogil:
    """Replace every tracked energy of the batch by the recounted one."""
    cdef Py_ssize_t r, t
    for r in range(2):
        for t in range(bt.n_temps):
            sgf_energy(_row(bt, r, t), bt.couplings, offsets, bt.n_sites,
                       bt.energies + (r * bt.n_temps + t) * SGF_LANES)


cdef void _store(const Batch* bt, int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                 double[:, :, ::1] energies, uint64_t[:, :, ::1] rng_state,
                 const int64_t[::1] order) noexcept nogil:
    """Lane buffers -> engine layout (temperature t into slot slot_at_temp[t]), real lanes only."""
    cdef Py_ssize_t l, b, r, t, j, w, c
    cdef const float* src
    for l in range(bt.n_real):
        b = bt.first + l
        for r in range(2):
            for t in range(bt.n_temps):
                c = slot_at_temp[b, r, t]
                src = _row(bt, r, t) + l
                for j in range(bt.n_sites):
                    spins[b, r, c, order[j]] = <int8_t> src[j * SGF_LANES]
                energies[b, r, c] = bt.energies[(r * bt.n_temps + t) * SGF_LANES + l]
            for w in range(4):
                rng_state[b, r, w] = bt.rng[(r * 4 + w) * SGF_LANES + l]


cdef void _swap(Batch* bt, Py_ssize_t r, Py_ssize_t t, const double* betas,
                int64_t[:, :, ::1] swap_accepted) noexcept nogil:
    """Parallel-tempering swap of temperatures t and t+1 of replica r, decided lane by lane.

    Accepted with probability min(1, exp[(beta_t - beta_t+1)(E_t - E_t+1)])
    (Hukushima & Nemoto 1996), in float64, one 53-bit uniform per lane.
    """
    cdef Py_ssize_t l
    cdef double delta, e
    cdef double* energy = bt.energies + (r * bt.n_temps + t) * SGF_LANES
    cdef bint any_accepted = False
    for l in range(SGF_LANES):
        bt.mask[l] = 0
        if l >= bt.n_real:
            continue
        delta = (betas[t] - betas[t + 1]) * (energy[l] - energy[SGF_LANES + l])
        if delta >= 0.0 or _lane_uniform(bt.rng + r * 4 * SGF_LANES + l) < exp(delta):
            bt.mask[l] = -1
            any_accepted = True
            e = energy[l]
            energy[l] = energy[SGF_LANES + l]
            energy[SGF_LANES + l] = e
            swap_accepted[bt.first + l, r, t] += 1
    if any_accepted:
        sgf_swap_rows(_row(bt, r, t), _row(bt, r, t + 1), bt.n_sites, bt.mask)


cdef void _measure(Batch* bt, const int32_t* offsets, Py_ssize_t t, Py_ssize_t bin_index,
                   double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2,
                   double[:, :, ::1] bin_link) noexcept nogil:
    """Add e, q^2 and q_l of temperature t of every instance to its log bin; the energies were
    recounted in the sweep (bipartite lattice) or are recounted here."""
    cdef Py_ssize_t l, r
    cdef Py_ssize_t n_sites = bt.n_sites
    cdef double q
    if bt.first_white < 0:
        for r in range(2):
            sgf_energy(_row(bt, r, t), bt.couplings, offsets, n_sites,
                       bt.energies + (r * bt.n_temps + t) * SGF_LANES)
    sgf_overlaps(_row(bt, 0, t), _row(bt, 1, t), n_sites, offsets, bt.qbuf, bt.q, bt.q_link)
    for l in range(bt.n_real):
        q = bt.q[l] / n_sites
        bin_energy[bt.first + l, t, bin_index] += (
            bt.energies[t * SGF_LANES + l] + bt.energies[(bt.n_temps + t) * SGF_LANES + l]
        ) / (2.0 * n_sites)
        bin_q2[bt.first + l, t, bin_index] += q * q
        bin_link[bt.first + l, t, bin_index] += bt.q_link[l] / (3.0 * n_sites)


cdef void _sweep_all(Batch* bt, const int32_t* offsets, const double* betas, bint tempering,
                     bint measure, Py_ssize_t bin_index, int64_t[:, :, ::1] swap_accepted,
                     double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2,
                     double[:, :, ::1] bin_link) noexcept nogil:
    """One Metropolis sweep of every configuration, then (if ``tempering``) a round of swaps
    (swap t, t+1 of replica r right after row (r, t+1) is swept, as in
    :mod:`sgpoison.mc._kernel_lanes`); with ``measure``, temperature t is measured (log bin
    ``bin_index``) as soon as its rows are final, while they are in cache, and on a bipartite
    lattice each row's energy is recounted in its sweep. The replicas have their own random
    streams and rows, so sweeping them in turn at each temperature changes nothing else."""
    cdef Py_ssize_t r, t
    cdef bint recount = measure and bt.first_white >= 0
    for t in range(bt.n_temps):
        for r in range(2):
            if recount:
                sgf_sweep_recount(_row(bt, r, t), bt.couplings, offsets, bt.n_sites,
                                  <float> betas[t], bt.energies + (r * bt.n_temps + t) * SGF_LANES,
                                  bt.rng + r * 4 * SGF_LANES, bt.first_white)
            else:
                sgf_sweep(_row(bt, r, t), bt.couplings, offsets, bt.n_sites, <float> betas[t],
                          bt.energies + (r * bt.n_temps + t) * SGF_LANES,
                          bt.rng + r * 4 * SGF_LANES)
            if tempering and t > 0:
                _swap(bt, r, t - 1, betas, swap_accepted)
        if measure and t > 0:
            _measure(bt, offsets, t - 1, bin_index, bin_energy, bin_q2, bin_link)
    if measure:
        _measure(bt, offsets, bt.n_temps - 1, bin_index, bin_energy, bin_q2, bin_link)


cdef void _run_batch(Py_ssize_t worker, Py_ssize_t batch, int8_t[:, :, :, ::1] spins,
                     const int32_t[:, :, ::1] slot_at_temp, double[:, :, ::1] energies,
                     const double[:, :, ::1] jn, uint64_t[:, :, ::1] rng_state,
                     int64_t[:, :, ::1] swap_accepted, double[:, :, ::1] bin_energy,
                     double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
                     const int64_t[::1] order, const int32_t* offsets, const double* betas,
                     float[:, ::1] b_spins, float[:, ::1] b_couplings, Py_ssize_t first_white,
                     double[:, ::1] b_small, uint32_t[:, ::1] b_rng, int32_t[:, ::1] b_mask,
                     int64_t first_sweep, int64_t n_sweeps, int64_t swap_interval,
                     bint measure) noexcept nogil:
    """All sweeps of batch ``batch`` in the buffers of ``worker``."""
    cdef Py_ssize_t n_inst = spins.shape[0]
    cdef Py_ssize_t bin_index
    cdef int64_t sweep, tt
    cdef Batch bt
    bt.first = batch * SGF_LANES
    bt.n_real = min(SGF_LANES, n_inst - bt.first)
    bt.n_temps = spins.shape[2]
    bt.n_sites = spins.shape[3]
    bt.spins = &b_spins[worker, 0]
    bt.couplings = &b_couplings[worker, 0]
    bt.qbuf = bt.couplings + bt.n_sites * 6 * SGF_LANES
    bt.first_white = first_white
    bt.rng = &b_rng[worker, 0]
    bt.mask = &b_mask[worker, 0]
    bt.q = &b_small[worker, 0]
    bt.q_link = bt.q + SGF_LANES
    bt.energies = bt.q + 2 * SGF_LANES
    _load(&bt, spins, slot_at_temp, energies, jn, rng_state, order)
    for sweep in range(first_sweep, first_sweep + n_sweeps):
        # log bin of 0-based sweep index: 0 -> 0, [2^(k-1), 2^k) -> k
        bin_index = 0
        tt = sweep
        while tt > 0:
            tt = tt >> 1
            bin_index = bin_index + 1
        _sweep_all(&bt, offsets, betas, (sweep + 1) % swap_interval == 0, measure, bin_index,
                   swap_accepted, bin_energy, bin_q2, bin_link)
    _recount(&bt, offsets)   # the stored energies: float64 sums of the exact bond terms
    _store(&bt, spins, slot_at_temp, energies, rng_state, order)


def run_sweeps(cnp.int8_t[:, :, :, ::1] spins, cnp.int32_t[:, :, ::1] slot_at_temp,
               double[:, :, ::1] energies, const double[:, :, ::1] neighbour_couplings,
               const cnp.int32_t[:, ::1] neighbours, const double[::1] betas,
               uint64_t[:, :, ::1] rng_state, cnp.int64_t[:, :, ::1] swap_accepted,
               double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
               cnp.int64_t first_sweep, cnp.int64_t n_sweeps, cnp.int64_t swap_interval,
               bint measure, int n_threads):
    """Advance every instance by ``n_sweeps`` sweeps; arguments as :func:`sgpoison.mc._kernel.run_sweeps`.

    Gaussian couplings only (any float32-representable couplings work; bimodal ones
    are simulated correctly but slower than by ``multispin``). ``slot_at_temp`` is
    read, not changed. ``energies`` are recounted in float64 at the end of the call.
    Measured energies: on a bipartite lattice (L even) a measuring sweep recounts each
    row's energy as E = -sum over white sites of s_i h_i (every bond once, from its white
    end) with the float32 field h_i of the sweep, within :data:`RECOUNT_ERROR` x
    sum_b |J_b| of the exact energy (about 1e-6 per spin; it replaces, does not add to,
    the tracked energy, so nothing drifts); otherwise by the float64 recount.

    Raises
    ------
    ValueError
        If the lattice has more than :data:`MAX_SITES` sites.
    """
    cdef Py_ssize_t n_inst = spins.shape[0], n_temps = spins.shape[2], n_sites = spins.shape[3]
    cdef Py_ssize_t n_batches = (n_inst + SGF_LANES - 1) // SGF_LANES
    cdef int n_workers = max(1, min(n_threads, n_batches))
    if n_sites > MAX_SITES:
        raise ValueError(f"{n_sites} sites; the float32 kernel handles at most {MAX_SITES}")
    if n_sweeps <= 0:
        return
    order_np, offsets_np, white = _lattice_tables(np.asarray(neighbours))
    cdef Py_ssize_t first_white = white
    buf_spins = _aligned_empty(n_workers, 2 * n_temps * n_sites * SGF_LANES, np.float32)
    buf_couplings = _aligned_empty(n_workers, n_sites * 7 * SGF_LANES, np.float32)  # and qbuf
    buf_small = _aligned_empty(n_workers, (2 + 2 * n_temps) * SGF_LANES, np.float64)
    buf_rng = _aligned_empty(n_workers, 2 * 4 * SGF_LANES, np.uint32)
    buf_mask = _aligned_empty(n_workers, SGF_LANES, np.int32)

    cdef const int64_t[::1] order = order_np
    cdef const int32_t[:, ::1] offsets = offsets_np
    cdef float[:, ::1] b_spins = buf_spins
    cdef float[:, ::1] b_couplings = buf_couplings
    cdef double[:, ::1] b_small = buf_small
    cdef uint32_t[:, ::1] b_rng = buf_rng
    cdef int32_t[:, ::1] b_mask = buf_mask
    cdef Py_ssize_t batch
    with nogil:
        for batch in prange(n_batches, num_threads=n_workers, schedule="static", chunksize=1):
            _run_batch(threadid(), batch, spins, slot_at_temp, energies, neighbour_couplings,
                       rng_state, swap_accepted, bin_energy, bin_q2, bin_link, order,
                       &offsets[0, 0], &betas[0], b_spins, b_couplings, first_white, b_small, b_rng,
                       b_mask, first_sweep, n_sweeps, swap_interval, measure)
