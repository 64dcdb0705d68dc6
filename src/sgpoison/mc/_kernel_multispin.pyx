# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Multi-spin-coding kernel for bimodal couplings: one bit per disorder instance.

Same semantics and engine-side state layout as :mod:`sgpoison.mc._kernel` (see its
docstring), for J = +-1 only; statistically, not bitwise, identical to it.

Layout
------
A batch holds 64 disorder instances: bit l of every word belongs to instance
``first + l`` (instances beyond the job are padding bits, never tested nor
measured). Spin bit 1 means s = -1, coupling bit 1 means J = -1, so the bond
(i, j) is unsatisfied (J s_i s_j = -1) where s_i ^ s_j ^ J_ij is 1. The 2 n_T
configurations of an instance are rows rho = 2 t + r (temperature t, replica r),
kept in temperature order; 8 consecutive rows form a group stored as
(site, row-in-group) words. A sweep runs over a group in chunks of
``ROWS_PER_VECTOR`` rows, one vector register of 64-bit words (8 with AVX-512,
4 with AVX2, 2 otherwise): one vector operation updates one site of that many
rows x 64 instances. Sites are stored in checkerboard order (x+y+z even first).

Metropolis update of site i (all bits at once)
---------------------------------------------
* n_unsat = number of unsatisfied bonds of i, by a bit-sliced adder of the six
  words s_i ^ s_k ^ J_ik; dE = 2 s_i h_i = 12 - 4 n_unsat.
* dE <= 0 (n_unsat >= 3): flip. Otherwise flip with probability p = exp(-4 beta),
  exp(-8 beta), exp(-12 beta) for n_unsat = 2, 1, 0. Every bit draws its own
  uniform u = 0.b1 b2 b3 ... bit by bit from random words (bit l of word k is bit
  k of instance l's u) and compares it with the 64-bit fixed-point p (from
  ``expl``) most significant bit first: the first bit where they differ decides
  (u < p: flip); if all 64 bits are equal, no flip (P(flip) is p truncated to 64
  bits, bias < 2^-64). No random number is shared between bits.
* Random words: every row draws ``MSC_KFIX`` = 10 words per site unconditionally
  (a bit is still undecided after k words with probability 2^-k), then one more
  per level while some bit of that row is undecided (rare: a masked update of
  the generator state). The words a row draws therefore depend on its own bits
  only, not on the vector width or on the rows sharing its vector, and a build
  for any instruction set gives bitwise the same trajectories
  (``test_multispin_trajectory_does_not_depend_on_the_vector_width``). The
  leading levels where every threshold of a chunk's rows has a 0 bit skip the
  threshold lookup (only u's 1 bits decide there), which changes no result.
* Random words come from one xoshiro256++ stream per row (all bits good),
  reseeded every sweep from the xoshiro256** stream of (instance ``first``,
  replica r) through SplitMix64, so that no per-row state has to outlive a sweep.
* Energies E = 2 U - 3 N (U unsatisfied bonds) are counted exactly in every
  sweep: on a bipartite lattice (L even) the white sites come last and all
  their neighbours are black, so U = sum over white sites of n_unsat after
  their update (6 - n_unsat where flipped), counted bit-sliced during the
  sweep; otherwise by a separate count of the 3N bond words after it.

Parallel tempering is decided instance by instance exactly as in the scalar
kernel (uniform from the instance's own xoshiro256** stream, libm exp, tabulated
per call for the 3N + 1 possible energy differences); the whole round is then
applied as masked bit exchanges of rows in one pass over the sites.
Measurements (q, q_l) are bit-sliced counts of the overlap words s^0 ^ s^1 (formed
once per site) and of their bonds; bit-sliced words are counted 16 at a time
(Harley-Seal carry-save), and counts become integers by 64 x 64 bit transposes
of all rows of a vector at once. The current log bin is summed in a contiguous
buffer, in sweep order (results do not depend on where calls end).

Because the random words serve all 64 instances of a row, an instance's
trajectory depends on which instances share its batch (batches are 64
consecutive instances of the job), but not on the number of threads.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.math cimport exp, fabs
from libc.string cimport memset
from libc.stdint cimport uint64_t, uint32_t
ctypedef cnp.int64_t int64_t
ctypedef cnp.int32_t int32_t
ctypedef cnp.int8_t int8_t
from sgpoison.mc._xoshiro cimport _next

from sgpoison.mc._kernel_lanes import checkerboard_order, first_white_site

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <stddef.h>
    #include <math.h>
    #include <immintrin.h>

    #define MSC_ROWS 8       /* rows per group (the layout): 8 words per site */
    /* rows per vector register: a group is swept in MSC_CHUNKS chunks of MSC_W rows */
    #if defined(__AVX512F__)
    #define MSC_W 8
    #elif defined(__AVX2__)
    #define MSC_W 4
    #else
    #define MSC_W 2
    #endif
    #define MSC_CHUNKS (MSC_ROWS / MSC_W)
    #define MSC_PLANES 24    /* bit planes of the vertical counters (counts < 2^24) */
    #define MSC_KFIX 10      /* random words every row draws per site before it may stop */
    typedef uint64_t msc_v __attribute__((vector_size(8 * MSC_W)));
    typedef int64_t msc_vs __attribute__((vector_size(8 * MSC_W)));

    static inline msc_v msc_load(const uint64_t *p) { msc_v v; memcpy(&v, p, sizeof v); return v; }
    static inline void msc_store(uint64_t *p, msc_v v) { memcpy(p, &v, sizeof v); }
    static inline msc_v msc_rotl(msc_v x, int k) { return (x << k) | (x >> (64 - k)); }
    /* is any bit of v set? (one test instruction where the target has it) */
    static inline int msc_any(msc_v v) {
    #if MSC_W == 8
        return _mm512_test_epi64_mask((__m512i)v, (__m512i)v) != 0;
    #elif MSC_W == 4
        return !_mm256_testz_si256((__m256i)v, (__m256i)v);
    #else
        return _mm_movemask_epi8(_mm_cmpeq_epi8((__m128i)v, _mm_setzero_si128())) != 0xFFFF;
    #endif
    }

    /* xoshiro256++ 1.0 (Blackman & Vigna 2018): all 64 output bits are good */
    static inline msc_v msc_next(msc_v *s) {
        msc_v result = msc_rotl(s[0] + s[3], 23) + s[0];
        msc_v t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = msc_rotl(s[3], 45);
        return result;
    }

    /* floor(exp(-k beta) 2^64), at most 2^64 - 1: the fixed-point acceptance probability */
    static uint64_t msc_fixed_point(double beta, int k) {
        long double x = ldexpl(expl(-(long double)k * (long double)beta), 64);
        if (x >= 18446744073709551615.0L) return UINT64_MAX;
        return (uint64_t)x;
    }

    /* full adder on bit planes */
    static inline void msc_add3(msc_v a, msc_v b, msc_v c, msc_v *sum, msc_v *carry) {
        msc_v u = a ^ b;
        *sum = u ^ c;
        *carry = (a & b) | (u & c);
    }

    /* planes += word << shift (the sum must fit in n_planes planes) */
    static inline void msc_planes_add_word(msc_v *planes, msc_v word, int shift, int n_planes) {
        for (int b = shift; b < n_planes && msc_any(word); b++) {
            msc_v t = planes[b] & word;
            planes[b] ^= word;
            word = t;
        }
    }

    /* Vertical (per bit, per row) counter of MSC_W rows: planes[b] holds bit b of every count.
       Words are added 16 at a time by the Harley-Seal carry-save scheme (Mula, Kurz & Lemire,
       Comput. J. 61, 111 (2018)): the partial sums of weight 1, 2, 4, 8 stay in ones ...
       eights, and only the weight-16 word of each 16 ripples into the n_planes planes in use.
       msc_counter_add buffers single words; msc_counter_flush makes planes the exact count. */
    typedef struct {
        msc_v planes[MSC_PLANES];
        msc_v ones, twos, fours, eights;
        msc_v pending[16];
        int n, n_planes;
    } msc_counter;

    static inline void msc_counter_init(msc_counter *c, int n_planes) {
        memset(c, 0, offsetof(msc_counter, pending));
        c->n = 0;
        c->n_planes = n_planes;
    }

    static inline void msc_counter_add16(msc_counter *c, const msc_v x[16]) {
        msc_v twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
        msc_add3(c->ones, x[0], x[1], &c->ones, &twos_a);
        msc_add3(c->ones, x[2], x[3], &c->ones, &twos_b);
        msc_add3(c->twos, twos_a, twos_b, &c->twos, &fours_a);
        msc_add3(c->ones, x[4], x[5], &c->ones, &twos_a);
        msc_add3(c->ones, x[6], x[7], &c->ones, &twos_b);
        msc_add3(c->twos, twos_a, twos_b, &c->twos, &fours_b);
        msc_add3(c->fours, fours_a, fours_b, &c->fours, &eights_a);
        msc_add3(c->ones, x[8], x[9], &c->ones, &twos_a);
        msc_add3(c->ones, x[10], x[11], &c->ones, &twos_b);
        msc_add3(c->twos, twos_a, twos_b, &c->twos, &fours_a);
        msc_add3(c->ones, x[12], x[13], &c->ones, &twos_a);
        msc_add3(c->ones, x[14], x[15], &c->ones, &twos_b);
        msc_add3(c->twos, twos_a, twos_b, &c->twos, &fours_b);
        msc_add3(c->fours, fours_a, fours_b, &c->fours, &eights_b);
        msc_add3(c->eights, eights_a, eights_b, &c->eights, &sixteens);
        msc_planes_add_word(c->planes, sixteens, 4, c->n_planes);
    }

    static inline void msc_counter_add(msc_counter *c, msc_v x) {
        c->pending[c->n++] = x;
        if (c->n == 16) {
            msc_counter_add16(c, c->pending);
            c->n = 0;
        }
    }

    static inline void msc_counter_flush(msc_counter *c) {
        for (int k = 0; k < c->n; k++) msc_planes_add_word(c->planes, c->pending[k], 0, c->n_planes);
        c->n = 0;
        msc_planes_add_word(c->planes, c->ones, 0, c->n_planes);
        msc_planes_add_word(c->planes, c->twos, 1, c->n_planes);
        msc_planes_add_word(c->planes, c->fours, 2, c->n_planes);
        msc_planes_add_word(c->planes, c->eights, 3, c->n_planes);
        c->ones = c->twos = c->fours = c->eights = c->ones ^ c->ones;
    }

    /* a[k] bit l <-> a[l] bit k (Hacker's Delight, sec. 7-3, for 64 x 64 bits) */
    static void msc_transpose(uint64_t a[64]);

    /* msc_transpose of the MSC_W rows' 64 x 64 bit matrices at once: a[k][e] bit l <-> a[l][e] bit k */
    static void msc_transpose_rows(msc_v a[64]) {
        uint64_t m = 0x00000000FFFFFFFFULL;
        for (int j = 32; j; j >>= 1, m ^= m << j)
            for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
                msc_v t = ((a[k] >> j) ^ a[k | j]) & m;
                a[k] ^= t << j;
                a[k | j] ^= t;
            }
    }

    /* counts[row][lane] for the rows e = 0, step, 2 step, ... < MSC_W of n_planes bit planes */
    static void msc_planes_read(const msc_v *planes, int n_planes, uint32_t *counts, int step) {
        msc_v a[64];
        for (int b = 0; b < 64; b++) a[b] = b < n_planes ? planes[b] : planes[0] ^ planes[0];
        msc_transpose_rows(a);                                  /* a[l][e] = count of row e, lane l */
        for (int e = 0; e < MSC_W; e += step)
            for (int l = 0; l < 64; l++) counts[e * 64 + l] = (uint32_t)a[l][e];
    }

    /* dst += src << shift, bit-sliced over n_planes planes (the sum must fit) */
    static inline void msc_planes_add(msc_v *dst, const msc_v *src, int shift, int n_planes) {
        msc_v carry = dst[0] ^ dst[0];
        for (int j = shift; j < n_planes; j++) {
            msc_v sum;
            msc_add3(dst[j], src[j - shift], carry, &sum, &carry);
            dst[j] = sum;
        }
    }

    /* counts[row][lane] (rows 0, step, ...) of a finished counter */
    static void msc_counter_read(msc_counter *c, uint32_t *counts, int step) {
        msc_counter_flush(c);
        msc_planes_read(c->planes, c->n_planes, counts, step);
    }

    /* bit planes needed for counts up to n */
    static inline int msc_planes_for(Py_ssize_t n) {
        int b = 3;
        while (b < MSC_PLANES && ((Py_ssize_t)1 << b) <= n) b++;
        return b;
    }

    /* One Metropolis sweep of the MSC_W rows e0 ... e0 + MSC_W - 1 of a group.
       spins: (n_sites, 8) words; couplings: (n_sites, 6) words; offsets: (n_sites, 6) = 8 x
       position of neighbour k; thresholds: (64, 3, 8) words, all-ones where bit 63 - j of the
       fixed-point p of (n_unsat = 2, 1, 0; row) is set; testable: (8,) bits that may be tested
       (real instances of real rows); rng: (4, 8) xoshiro256++ states; zero_levels: leading
       levels j where every threshold bit of these rows is 0.
       Random words: every row draws MSC_KFIX words per site, then one more per level while
       some bit of the row is undecided (at most 64): a row's stream depends on its own bits
       only, not on the vector width or on the other rows.
       count (a compile-time constant): sites first_white ... are the white sublattice of a
       bipartite lattice; counts[row][lane] = its unsatisfied bonds after the sweep = sum over
       white sites of n_unsat after their update (every bond has one white end). */
    static inline __attribute__((always_inline)) void msc_sweep_rows(
            uint64_t *spins, const uint64_t *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            const uint64_t *thresholds, const uint64_t *testable, uint64_t *rng, int e0, int zero_levels,
            const int count, Py_ssize_t first_white, uint32_t *counts) {
        msc_v s[4];
        for (int w = 0; w < 4; w++) s[w] = msc_load(rng + w * MSC_ROWS + e0);
        const msc_v test_ok = msc_load(testable + e0);
        const int z = zero_levels < MSC_KFIX ? zero_levels : MSC_KFIX;
        msc_counter unsat1, unsat2, unsat4;                        /* weights 1, 2, 4 */
        if (count) {
            int n_planes = msc_planes_for(3 * n_sites);     /* room for the weighted sum */
            msc_counter_init(&unsat1, n_planes);
            msc_counter_init(&unsat2, n_planes);
            msc_counter_init(&unsat4, n_planes);
        }
        uint64_t *sp = spins + e0;
        const uint64_t *tp = thresholds + e0;
        for (Py_ssize_t i = 0; i < n_sites; i++) {
            const int32_t *o = offsets + 6 * i;
            const uint64_t *J = couplings + 6 * i;
            msc_v si = msc_load(sp + MSC_ROWS * i);
            msc_v x[6];
            for (int k = 0; k < 6; k++) x[k] = si ^ msc_load(sp + o[k]) ^ J[k];   /* unsatisfied */
            msc_v s1, c1, s2, c2, b0, k01, b1, b2;                  /* n_unsat = 4 b2 + 2 b1 + b0 */
            msc_add3(x[0], x[1], x[2], &s1, &c1);
            msc_add3(x[3], x[4], x[5], &s2, &c2);
            b0 = s1 ^ s2;
            k01 = s1 & s2;
            msc_add3(c1, c2, k01, &b1, &b2);
            msc_v uphill = ~(b2 | (b1 & b0));                      /* n_unsat <= 2: dE > 0 */
            msc_v flip = ~uphill;
            msc_v open = uphill & test_ok;                         /* bits still undecided */
            msc_v is2 = b1, is1 = b0, is0 = ~(b1 | b0);            /* n_unsat, valid where uphill */
            int j = 0;
            for (; j < z; j++) open &= ~msc_next(s);               /* bit j of p is 0: u >= p if 1 */
            for (; j < MSC_KFIX; j++) {
                const uint64_t *t = tp + 3 * MSC_ROWS * j;
                msc_v p = (is2 & msc_load(t)) | (is1 & msc_load(t + MSC_ROWS))
                          | (is0 & msc_load(t + 2 * MSC_ROWS));   /* bit j of p */
                msc_v u = msc_next(s);                             /* bit j of each u */
                flip |= open & p & ~u;                             /* u < p decided here */
                open &= ~(p ^ u);                                  /* equal bits: undecided */
            }
            if (__builtin_expect(msc_any(open), 0)) {
                for (; j < 64 && msc_any(open); j++) {
                    const uint64_t *t = tp + 3 * MSC_ROWS * j;
                    msc_v p = (is2 & msc_load(t)) | (is1 & msc_load(t + MSC_ROWS))
                              | (is0 & msc_load(t + 2 * MSC_ROWS));
                    msc_v draws = (msc_v)(open != (open ^ open));  /* rows with undecided bits */
                    msc_v before[4] = {s[0], s[1], s[2], s[3]};
                    msc_v u = msc_next(s);
                    for (int w = 0; w < 4; w++) s[w] = (s[w] & draws) | (before[w] & ~draws);
                    flip |= open & p & ~u;
                    open &= ~(p ^ u);
                }
            }
            msc_store(sp + MSC_ROWS * i, si ^ flip);
            if (count && i >= first_white) {      /* n_unsat after the update: 6 - n where flipped */
                msc_counter_add(&unsat1, b0);
                msc_counter_add(&unsat2, b1 ^ (flip & ~b0));
                msc_counter_add(&unsat4, b2 ^ (flip & (b2 | ~(b1 & b0))));
            }
        }
        for (int w = 0; w < 4; w++) msc_store(rng + w * MSC_ROWS + e0, s[w]);
        if (count) {                             /* U = unsat1 + 2 unsat2 + 4 unsat4 */
            msc_counter_flush(&unsat1);
            msc_counter_flush(&unsat2);
            msc_counter_flush(&unsat4);
            msc_planes_add(unsat1.planes, unsat2.planes, 1, unsat1.n_planes);
            msc_planes_add(unsat1.planes, unsat4.planes, 2, unsat1.n_planes);
            msc_planes_read(unsat1.planes, unsat1.n_planes, counts + e0 * 64, 1);
        }
    }

    /* One Metropolis sweep of a group of 8 rows (arguments as msc_sweep_rows; zero_levels:
       (MSC_CHUNKS,)); with first_white >= 0 also counts[8][64] = unsatisfied bonds after it. */
    static __attribute__((noinline)) void msc_sweep(
            uint64_t *spins, const uint64_t *couplings, const int32_t *offsets, Py_ssize_t n_sites,
            const uint64_t *thresholds, const uint64_t *testable, uint64_t *rng,
            const int32_t *zero_levels, Py_ssize_t first_white, uint32_t *counts) {
        for (int c = 0; c < MSC_CHUNKS; c++) {
            if (!msc_any(msc_load(testable + c * MSC_W))) continue;   /* padding rows only */
            if (first_white >= 0)
                msc_sweep_rows(spins, couplings, offsets, n_sites, thresholds, testable, rng,
                               c * MSC_W, zero_levels[c], 1, first_white, counts);
            else
                msc_sweep_rows(spins, couplings, offsets, n_sites, thresholds, testable, rng,
                               c * MSC_W, zero_levels[c], 0, n_sites, counts);
        }
    }

    /* counts[row][lane] = unsatisfied bonds of each configuration of the group */
    static __attribute__((noinline)) void msc_unsatisfied(
            const uint64_t *spins, const uint64_t *couplings, const int32_t *offsets,
            Py_ssize_t n_sites, uint32_t *counts) {
        msc_counter c;
        for (int e0 = 0; e0 < MSC_ROWS; e0 += MSC_W) {
            msc_counter_init(&c, msc_planes_for(3 * n_sites));
            for (Py_ssize_t i = 0; i < n_sites; i++) {
                msc_v si = msc_load(spins + MSC_ROWS * i + e0);
                for (int k = 0; k < 3; k++)   /* bonds to +x, +y, +z */
                    msc_counter_add(&c, si ^ msc_load(spins + offsets[6 * i + k] + e0) ^ couplings[6 * i + k]);
            }
            msc_counter_read(&c, counts + e0 * 64, 1);
        }
    }

    /* d = s^0 ^ s^1 of the rows (t, 0), (t, 1), ... of a chunk: lanes 2k and 2k + 1 are equal */
    static inline msc_v msc_pair_diff(msc_v v) {
    #if MSC_W == 8
        return v ^ __builtin_shuffle(v, (msc_vs){1, 0, 3, 2, 5, 4, 7, 6});
    #elif MSC_W == 4
        return v ^ __builtin_shuffle(v, (msc_vs){1, 0, 3, 2});
    #else
        return v ^ __builtin_shuffle(v, (msc_vs){1, 0});
    #endif
    }
    /* even lanes of d_a, odd lanes of d_b: the distinct overlap words of two chunks in one vector */
    static inline msc_v msc_merge(const uint64_t *a, const uint64_t *b) {
    #if MSC_W == 8
        const msc_v odd = {0, ~0ULL, 0, ~0ULL, 0, ~0ULL, 0, ~0ULL};
    #elif MSC_W == 4
        const msc_v odd = {0, ~0ULL, 0, ~0ULL};
    #else
        const msc_v odd = {0, ~0ULL};
    #endif
        msc_v da = msc_pair_diff(msc_load(a)), db = msc_pair_diff(msc_load(b));
        return da ^ ((da ^ db) & odd);
    }

    /* Overlaps of two chunks a and b (MSC_W rows each, (t, r = 0), (t, r = 1), (t + 1, 0), ...;
       spins_a, spins_b: their first word, sites MSC_ROWS words apart; b may equal a): with
       d = s^0 ^ s^1 (1 where q_i = -1), counts[lane e][bit] of d over the sites to q_counts and
       of d_i ^ d_j over the +x, +y, +z bonds to link_counts; lane e even belongs to row e of a,
       lane e odd to row e - 1 of b (the rows 2k + 1 would repeat rows 2k). d is formed once per
       site into diff ((n_sites, MSC_W) words), then the three bond words of a site go through
       a full adder (weights 1 and 2); words are counted 16 at a time (msc_counter_add16). */
    static __attribute__((noinline)) void msc_overlaps(
            const uint64_t *spins_a, const uint64_t *spins_b, const int32_t *offsets,
            Py_ssize_t n_sites, uint64_t *diff, uint32_t *q_counts, uint32_t *link_counts) {
        msc_counter cq, cl1, cl2;
        msc_counter_init(&cq, msc_planes_for(n_sites));
        msc_counter_init(&cl1, msc_planes_for(3 * n_sites));
        msc_counter_init(&cl2, msc_planes_for(3 * n_sites));
        Py_ssize_t i = 0;
        for (; i + 16 <= n_sites; i += 16) {
            msc_v d[16];
            for (int k = 0; k < 16; k++) {
                d[k] = msc_merge(spins_a + MSC_ROWS * (i + k), spins_b + MSC_ROWS * (i + k));
                msc_store(diff + MSC_W * (i + k), d[k]);
            }
            msc_counter_add16(&cq, d);
        }
        for (; i < n_sites; i++) {
            msc_v di = msc_merge(spins_a + MSC_ROWS * i, spins_b + MSC_ROWS * i);
            msc_store(diff + MSC_W * i, di);
            msc_counter_add(&cq, di);
        }
        for (i = 0; i + 16 <= n_sites; i += 16) {
            msc_v ones[16], twos[16];
            for (int k = 0; k < 16; k++) {
                const int32_t *o = offsets + 6 * (i + k);     /* MSC_ROWS x neighbour position */
                msc_v di = msc_load(diff + MSC_W * (i + k));
                msc_add3(di ^ msc_load(diff + o[0] / MSC_ROWS * MSC_W),
                         di ^ msc_load(diff + o[1] / MSC_ROWS * MSC_W),
                         di ^ msc_load(diff + o[2] / MSC_ROWS * MSC_W), &ones[k], &twos[k]);
            }
            msc_counter_add16(&cl1, ones);
            msc_counter_add16(&cl2, twos);
        }
        for (; i < n_sites; i++) {
            const int32_t *o = offsets + 6 * i;
            msc_v di = msc_load(diff + MSC_W * i), ones, twos;
            msc_add3(di ^ msc_load(diff + o[0] / MSC_ROWS * MSC_W),
                     di ^ msc_load(diff + o[1] / MSC_ROWS * MSC_W),
                     di ^ msc_load(diff + o[2] / MSC_ROWS * MSC_W), &ones, &twos);
            msc_counter_add(&cl1, ones);
            msc_counter_add(&cl2, twos);
        }
        msc_counter_flush(&cq);
        msc_counter_flush(&cl1);
        msc_counter_flush(&cl2);
        msc_planes_add(cl1.planes, cl2.planes, 1, cl1.n_planes);
        int S = cq.n_planes, P = cl1.n_planes;
        if (S + P <= 32) {          /* one transposition: d + 2^S d_l (both < 2^S, 2^P) */
            msc_v both[32];
            for (int b = 0; b < S; b++) both[b] = cq.planes[b];
            for (int b = 0; b < P; b++) both[S + b] = cl1.planes[b];
            msc_planes_read(both, S + P, q_counts, 1);
            for (int k = 0; k < MSC_W * 64; k++) {
                link_counts[k] = q_counts[k] >> S;
                q_counts[k] &= (1u << S) - 1;
            }
        } else {
            msc_planes_read(cq.planes, S, q_counts, 1);
            msc_planes_read(cl1.planes, P, link_counts, 1);
        }
    }

    /* the log-bin sums of one temperature's 64 lanes: e = (E_a + E_b) / 2N, q^2 with
       q = 1 - 2 d / N, q_l = 1 - 2 d_l / 3N (the scalar kernel's formulas; counts < 2^24) */
    static void msc_bins_add(double *restrict be, double *restrict bq, double *restrict bl,
                             const double *restrict ea, const double *restrict eb,
                             const uint32_t *restrict q_counts, const uint32_t *restrict link_counts,
                             double n) {
        for (int l = 0; l < 64; l++) {
            double q = 1.0 - 2.0 * (double)(int32_t)q_counts[l] / n;
            be[l] += (ea[l] + eb[l]) / (2.0 * n);
            bq[l] += q * q;
            bl[l] += 1.0 - 2.0 * (double)(int32_t)link_counts[l] / (3.0 * n);
        }
    }

    /* a[k] bit l <-> a[l] bit k (Hacker's Delight, sec. 7-3, for 64 x 64 bits) */
    static void msc_transpose(uint64_t a[64]) {
        uint64_t m = 0x00000000FFFFFFFFULL;
        for (int j = 32; j; j >>= 1, m ^= m << j)
            for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
                uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
                a[k] ^= t << j;
                a[k | j] ^= t;
            }
    }

    /* bit k = (p[k] < 0) for k < n <= 64 */
    static inline uint64_t msc_sign_bits(const int8_t *p, int n) {
        uint64_t bits = 0;
        if (n == 64) {
            for (int c = 0; c < 4; c++)
                bits |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * c))) << (16 * c);
        } else {
            for (int k = 0; k < n; k++) bits |= (uint64_t)(p[k] < 0) << k;
        }
        return bits;
    }

    /* Pack one row: rows[l] (n_sites int8 +-1 in natural order, NULL for padding bits) ->
       words dst[position[i] * MSC_ROWS], bit l = 1 where rows[l][i] = -1.
       scratch: 64 * ceil(n_sites / 64) words. Each instance's row is read in one sequential pass. */
    static void msc_pack_row(int8_t *const *rows, Py_ssize_t n_sites, const int64_t *position,
                             uint64_t *dst, uint64_t *scratch) {
        Py_ssize_t n_blocks = (n_sites + 63) / 64;
        for (int l = 0; l < 64; l++)
            for (Py_ssize_t blk = 0; blk < n_blocks; blk++) {
                int n = n_sites - 64 * blk < 64 ? (int)(n_sites - 64 * blk) : 64;
                scratch[64 * blk + l] = rows[l] ? msc_sign_bits(rows[l] + 64 * blk, n) : 0;
            }
        for (Py_ssize_t blk = 0; blk < n_blocks; blk++) {
            int n = n_sites - 64 * blk < 64 ? (int)(n_sites - 64 * blk) : 64;
            uint64_t *a = scratch + 64 * blk;
            msc_transpose(a);
            for (int k = 0; k < n; k++) dst[position[64 * blk + k] * MSC_ROWS] = a[k];
        }
    }

    /* Pack the couplings: jn[l] ((n_sites, 6) float64, natural order; NULL for padding bits)
       -> words dst[position[i] * 6 + k], bit l = 1 where J = -1. Returns 1 if some |J| != 1. */
    static int msc_pack_couplings(const double *const *jn, Py_ssize_t n_sites,
                                  const int64_t *position, uint64_t *dst) {
        uint64_t a[6][64];
        int bad = 0;
        for (Py_ssize_t b = 0; b < n_sites; b += 64) {
            int n = n_sites - b < 64 ? (int)(n_sites - b) : 64;
            for (int l = 0; l < 64; l++) {
                uint64_t bits[6] = {0, 0, 0, 0, 0, 0};
                if (jn[l]) {
                    const double *v = jn[l] + 6 * b;   /* one pass over (n, 6) consecutive doubles */
                    for (int m = 0; m < n; m++)
                        for (int k = 0; k < 6; k++) {
                            bits[k] |= (uint64_t)(v[6 * m + k] < 0) << m;
                            bad |= v[6 * m + k] * v[6 * m + k] != 1.0;
                        }
                }
                for (int k = 0; k < 6; k++) a[k][l] = bits[k];
            }
            for (int k = 0; k < 6; k++) {
                msc_transpose(a[k]);
                for (int m = 0; m < n; m++) dst[position[b + m] * 6 + k] = a[k][m];
            }
        }
        return bad;
    }

    /* 8 bits -> 8 bytes, 0xFF (-1) where the bit is set and 0x01 (+1) elsewhere */
    static inline uint64_t msc_expand_byte(uint64_t v) {
        uint64_t spread = (v * 0x0101010101010101ULL) & 0x8040201008040201ULL;
        uint64_t nonzero = (spread | ((spread & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL))
                           & 0x8080808080808080ULL;
        return 0x0101010101010101ULL | ((nonzero >> 7) * 0xFE);
    }

    /* Inverse of msc_pack_row (rows[l] NULL: bit l is not written back) */
    static void msc_unpack_row(int8_t *const *rows, Py_ssize_t n_sites, const int64_t *position,
                               const uint64_t *src, uint64_t *scratch) {
        Py_ssize_t n_blocks = (n_sites + 63) / 64;
        for (Py_ssize_t blk = 0; blk < n_blocks; blk++) {
            int n = n_sites - 64 * blk < 64 ? (int)(n_sites - 64 * blk) : 64;
            uint64_t *a = scratch + 64 * blk;
            for (int k = 0; k < 64; k++) a[k] = k < n ? src[position[64 * blk + k] * MSC_ROWS] : 0;
            msc_transpose(a);
        }
        for (int l = 0; l < 64; l++) {
            if (!rows[l]) continue;
            for (Py_ssize_t blk = 0; blk < n_blocks; blk++) {
                int n = n_sites - 64 * blk < 64 ? (int)(n_sites - 64 * blk) : 64;
                uint64_t bits = scratch[64 * blk + l], bytes[8];
                for (int c = 0; c < 8; c++) bytes[c] = msc_expand_byte((bits >> (8 * c)) & 0xFF);
                if (n == 64) memcpy(rows[l] + 64 * blk, bytes, 64);   /* one 64-byte store */
                else memcpy(rows[l] + 64 * blk, bytes, n);
            }
        }
    }

    /* Apply a round of parallel-tempering swaps in one pass over the sites: for rho = 0, 1, ...
       exchange the bits selected by masks[rho] between rows rho and rho + 2 (temperatures t, t+1
       of replica rho % 2), in this order. */
    static void msc_apply_swaps(uint64_t *spins, Py_ssize_t n_groups, Py_ssize_t n_sites,
                                Py_ssize_t n_pairs, const uint64_t *masks) {
        uint64_t w[n_groups * MSC_ROWS];
        for (Py_ssize_t i = 0; i < n_sites; i++) {
            for (Py_ssize_t g = 0; g < n_groups; g++)
                memcpy(w + g * MSC_ROWS, spins + (g * n_sites + i) * MSC_ROWS, 8 * MSC_ROWS);
            for (Py_ssize_t rho = 0; rho < n_pairs; rho++) {
                uint64_t d = (w[rho] ^ w[rho + 2]) & masks[rho];
                w[rho] ^= d;
                w[rho + 2] ^= d;
            }
            for (Py_ssize_t g = 0; g < n_groups; g++)
                memcpy(spins + (g * n_sites + i) * MSC_ROWS, w + g * MSC_ROWS, 8 * MSC_ROWS);
        }
    }
    """
    enum: MSC_ROWS
    enum: MSC_W
    enum: MSC_PLANES
    enum: MSC_CHUNKS
    enum: MSC_KFIX
    uint64_t msc_fixed_point(double beta, int k) noexcept nogil
    void msc_sweep(uint64_t* spins, const uint64_t* couplings, const int32_t* offsets,
                   Py_ssize_t n_sites, const uint64_t* thresholds, const uint64_t* testable,
                   uint64_t* rng, const int32_t* zero_levels, Py_ssize_t first_white,
                   uint32_t* counts) noexcept nogil
    void msc_unsatisfied(const uint64_t* spins, const uint64_t* couplings, const int32_t* offsets,
                         Py_ssize_t n_sites, uint32_t* counts) noexcept nogil
    void msc_bins_add(double* be, double* bq, double* bl, const double* ea, const double* eb,
                      const uint32_t* q_counts, const uint32_t* link_counts, double n) noexcept nogil
    void msc_overlaps(const uint64_t* spins_a, const uint64_t* spins_b, const int32_t* offsets,
                      Py_ssize_t n_sites, uint64_t* diff, uint32_t* q_counts, uint32_t* link_counts) noexcept nogil
    void msc_pack_row(int8_t* const* rows, Py_ssize_t n_sites, const int64_t* position,
                      uint64_t* dst, uint64_t* scratch) noexcept nogil
    void msc_unpack_row(int8_t* const* rows, Py_ssize_t n_sites, const int64_t* position,
                        const uint64_t* src, uint64_t* scratch) noexcept nogil
    int msc_pack_couplings(const double* const* jn, Py_ssize_t n_sites, const int64_t* position,
                           uint64_t* dst) noexcept nogil
    void msc_apply_swaps(uint64_t* spins, Py_ssize_t n_groups, Py_ssize_t n_sites,
                         Py_ssize_t n_pairs, const uint64_t* masks) noexcept nogil

#: instances per batch (bits per word)
BITS = 64
#: rows per vector register this build sweeps at once (8 with AVX-512, 4 with AVX2, else 2)
ROWS_PER_VECTOR = MSC_W
#: largest number of sites: the bit-sliced counters hold counts up to 3N < 2^MSC_PLANES
MAX_SITES = ((1 << MSC_PLANES) - 1) // 3


def fixed_point_probability(double beta, int k):
    """floor(exp(-k beta) 2^64) as used by the kernel (capped at 2^64 - 1); for tests."""
    return int(msc_fixed_point(beta, k))


_tables_cache = {}


def _lattice_tables(neighbours):
    """Checkerboard order (as the lanes kernel), its inverse ``position``,
    offsets = MSC_ROWS x position of neighbour k and :func:`first_white_site`, cached."""
    key = neighbours.tobytes()
    if key not in _tables_cache:
        order = checkerboard_order(neighbours.shape[0])
        position = np.empty_like(order)
        position[order] = np.arange(neighbours.shape[0])
        offsets = np.ascontiguousarray((position[neighbours[order]] * MSC_ROWS).astype(np.int32))
        if len(_tables_cache) > 8:
            _tables_cache.clear()
        _tables_cache[key] = (order, position, offsets, first_white_site(neighbours))
    return _tables_cache[key]


# -- random numbers of the instances (scalar) ------------------------------------------------

cdef inline uint64_t _splitmix(uint64_t z) noexcept nogil:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014): decorrelates seeds drawn in sequence."""
    z = z + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


# -- one batch ---------------------------------------------------------------------------------

cdef struct Batch:
    Py_ssize_t first, n_real, n_temps, n_sites, n_groups
    uint64_t* spins        # (n_groups, N, 8) words; row rho = 2 t + r = 8 g + e
    uint64_t* couplings    # (N, 6) words
    double* energies       # (8 n_groups, 64) by row and bit
    uint64_t* lane_rng     # (n_real, 2, 4) xoshiro256** states of the instances
    uint64_t* row_rng      # (n_groups, 4, 8) xoshiro256++ states of the rows
    uint64_t* thresholds   # (n_groups, 64, 3, 8)
    uint64_t* testable     # (n_groups, 8)
    int32_t* zero_levels   # (n_groups, MSC_CHUNKS): leading zero bits of every threshold of a chunk
    Py_ssize_t first_white # first white site (bipartite lattice), -1 if not bipartite
    uint64_t* diff         # (N, 8) scratch (also for packing: 64 ceil(N / 64) <= 8 N words)
    uint64_t* swap_masks   # (8 n_groups,) scratch: instances swapping rows rho and rho + 2
    uint32_t* counts       # (3, 8, 64) scratch
    double* bins           # (3, n_temps, 64) the current log bin of e, q^2, q_l (while measuring)


cdef inline uint64_t* _word(const Batch* bt, Py_ssize_t row, Py_ssize_t i) noexcept nogil:
    return bt.spins + ((row // MSC_ROWS) * bt.n_sites + i) * MSC_ROWS + row % MSC_ROWS


cdef bint _load(Batch* bt, int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                const double[:, :, ::1] jn, const uint64_t[:, :, ::1] rng_state,
                const int64_t[::1] order, const int64_t[::1] position,
                const double* betas) noexcept nogil:
    """Engine layout -> bit planes, thresholds of every row and the testable bits.

    Returns True if a coupling is not +-1.
    """
    cdef Py_ssize_t l, b, r, t, i, k, j, g, e, c, row
    cdef uint64_t p, word
    cdef const double* couplings[64]
    cdef bint not_bimodal
    cdef uint64_t lanes = (~(<uint64_t> 0)) if bt.n_real == 64 else (((<uint64_t> 1) << bt.n_real) - 1)
    cdef int8_t* rows[64]
    for g in range(bt.n_groups * bt.n_sites * MSC_ROWS):
        bt.spins[g] = 0
    for t in range(bt.n_temps):
        for r in range(2):
            for l in range(64):
                rows[l] = NULL
                if l < bt.n_real:
                    b = bt.first + l
                    rows[l] = &spins[b, r, slot_at_temp[b, r, t], 0]
            msc_pack_row(rows, bt.n_sites, &position[0], _word(bt, 2 * t + r, 0), bt.diff)
    for l in range(64):
        couplings[l] = &jn[bt.first + l, 0, 0] if l < bt.n_real else NULL
    not_bimodal = msc_pack_couplings(couplings, bt.n_sites, &position[0], bt.couplings)
    for l in range(bt.n_real):
        for r in range(2):
            for k in range(4):
                bt.lane_rng[(l * 2 + r) * 4 + k] = rng_state[bt.first + l, r, k]
    for g in range(bt.n_groups):
        for e in range(MSC_CHUNKS):
            bt.zero_levels[g * MSC_CHUNKS + e] = 64
        for e in range(MSC_ROWS):
            row = g * MSC_ROWS + e
            bt.testable[g * MSC_ROWS + e] = lanes if row < 2 * bt.n_temps else 0
            for c in range(3):  # n_unsat = 2, 1, 0: dE = 4, 8, 12
                p = msc_fixed_point(betas[row // 2], 4 * (c + 1)) if row < 2 * bt.n_temps else 0
                for j in range(64):
                    bt.thresholds[((g * 64 + j) * 3 + c) * MSC_ROWS + e] = (
                        ~(<uint64_t> 0) if (p >> (63 - j)) & 1 else 0)
                    if (p >> (63 - j)) & 1 and j < bt.zero_levels[g * MSC_CHUNKS + e // MSC_W]:
                        bt.zero_levels[g * MSC_CHUNKS + e // MSC_W] = j
    return not_bimodal


cdef void _store(const Batch* bt, int8_t[:, :, :, ::1] spins, const int32_t[:, :, ::1] slot_at_temp,
                 double[:, :, ::1] energies, uint64_t[:, :, ::1] rng_state,
                 const int64_t[::1] position) noexcept nogil:
    """Bit planes -> engine layout (temperature t into slot slot_at_temp[t])."""
    cdef Py_ssize_t l, b, r, t, k, c
    cdef int8_t* rows[64]
    for t in range(bt.n_temps):
        for r in range(2):
            for l in range(64):
                rows[l] = NULL
                if l < bt.n_real:
                    b = bt.first + l
                    c = slot_at_temp[b, r, t]
                    rows[l] = &spins[b, r, c, 0]
                    energies[b, r, c] = bt.energies[(2 * t + r) * 64 + l]
            msc_unpack_row(rows, bt.n_sites, &position[0], _word(bt, 2 * t + r, 0), bt.diff)
    for l in range(bt.n_real):
        for r in range(2):
            for k in range(4):
                rng_state[bt.first + l, r, k] = bt.lane_rng[(l * 2 + r) * 4 + k]


cdef void _reseed_rows(Batch* bt) noexcept nogil:
    """New xoshiro256++ states of all rows from the streams of (instance first, replica r)."""
    cdef Py_ssize_t g, e, w, row
    cdef uint64_t* base
    for g in range(bt.n_groups):
        for e in range(MSC_ROWS):
            row = g * MSC_ROWS + e
            base = bt.lane_rng + (row % 2) * 4  # instance first, replica of the row
            for w in range(4):
                bt.row_rng[(g * 4 + w) * MSC_ROWS + e] = _splitmix(_next(base))


cdef void _set_energies(Batch* bt, Py_ssize_t g) noexcept nogil:
    """E = 2 U - 3 N of every row and bit of group g from the counts U in bt.counts."""
    cdef Py_ssize_t e, l
    for e in range(MSC_ROWS):
        for l in range(64):
            bt.energies[(g * MSC_ROWS + e) * 64 + l] = 2.0 * bt.counts[e * 64 + l] - 3.0 * bt.n_sites


cdef void _count_energies(Batch* bt, const int32_t* offsets) noexcept nogil:
    """E = 2 U - 3 N of every row and bit from a fresh count of unsatisfied bonds U."""
    cdef Py_ssize_t g
    for g in range(bt.n_groups):
        msc_unsatisfied(bt.spins + g * bt.n_sites * MSC_ROWS, bt.couplings, offsets, bt.n_sites,
                        bt.counts)
        _set_energies(bt, g)


cdef void _parallel_tempering(Batch* bt, const double* betas, const double* swap_table,
                              int64_t[:, :, ::1] swap_accepted) noexcept nogil:
    """A round of swaps of temperatures t, t+1 (t = 0, 1, ...) of both replicas.

    Decided instance by instance from the energies as in the scalar kernel (the
    energies move with the configurations), then applied to the bit planes in one pass.
    exp(delta) is read from ``swap_table`` (:func:`_swap_table`): the energies are
    integers, so delta takes one of 3N + 1 values per t, and the table holds the libm exp
    of exactly the same double.
    """
    cdef Py_ssize_t l, r, t, rho
    cdef uint64_t mask
    cdef double delta, e
    cdef double* ea
    cdef double* eb
    for r in range(2):
        for t in range(bt.n_temps - 1):
            rho = 2 * t + r
            ea = bt.energies + rho * 64
            eb = bt.energies + (rho + 2) * 64
            mask = 0
            for l in range(bt.n_real):
                delta = (betas[t] - betas[t + 1]) * (ea[l] - eb[l])
                if delta >= 0.0 or (_next(bt.lane_rng + (l * 2 + r) * 4) >> 11) * (1.0 / 9007199254740992.0) < swap_table[t * (3 * bt.n_sites + 1) + <Py_ssize_t> (fabs(ea[l] - eb[l]) * 0.5)]:
                    mask |= (<uint64_t> 1) << l
                    e = ea[l]
                    ea[l] = eb[l]
                    eb[l] = e
                    swap_accepted[bt.first + l, r, t] += 1
            bt.swap_masks[rho] = mask
    msc_apply_swaps(bt.spins, bt.n_groups, bt.n_sites, 2 * bt.n_temps - 2, bt.swap_masks)


cdef void _measure(Batch* bt, const int32_t* offsets) noexcept nogil:
    """e, q^2 and q_l of every row pair added to bt.bins, as the scalar kernel: q = 1 - 2 d / N,
    q_l = 1 - 2 d_l / 3N (bt.bins holds the current log bin: :func:`_bins_in`, :func:`_bins_out`).

    The rows are taken in chunks of MSC_W (chunk k = rows k MSC_W ...), two chunks per pass.
    """
    cdef Py_ssize_t k, kb, e, t, row
    cdef Py_ssize_t n_chunks = (2 * bt.n_temps + MSC_W - 1) // MSC_W
    cdef double n = bt.n_sites
    cdef uint32_t* q_counts = bt.counts
    cdef uint32_t* link_counts = bt.counts + MSC_ROWS * 64
    for k in range(0, n_chunks, 2):
        kb = k + 1 if k + 1 < n_chunks else k
        msc_overlaps(_word(bt, k * MSC_W, 0), _word(bt, kb * MSC_W, 0), offsets, bt.n_sites, bt.diff,
                     q_counts, link_counts)
        for e in range(MSC_W):
            row = (k * MSC_W + e) if e % 2 == 0 else (kb * MSC_W + e - 1)
            t = row // 2
            if t >= bt.n_temps or (e % 2 == 1 and kb == k):
                continue
            msc_bins_add(bt.bins + t * 64, bt.bins + (bt.n_temps + t) * 64,
                         bt.bins + (2 * bt.n_temps + t) * 64, bt.energies + (2 * t) * 64,
                         bt.energies + (2 * t + 1) * 64, q_counts + e * 64, link_counts + e * 64, n)


cdef void _bins_in(Batch* bt, Py_ssize_t bin_index, double[:, :, ::1] bin_energy,
                   double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link) noexcept nogil:
    """Copy log bin ``bin_index`` of the batch's instances to bt.bins (padding lanes 0), so that
    the sums go on in the order of the sweeps, whatever the calls."""
    cdef Py_ssize_t l, t
    memset(bt.bins, 0, 3 * bt.n_temps * 64 * sizeof(double))
    for l in range(bt.n_real):
        for t in range(bt.n_temps):
            bt.bins[t * 64 + l] = bin_energy[bt.first + l, t, bin_index]
            bt.bins[(bt.n_temps + t) * 64 + l] = bin_q2[bt.first + l, t, bin_index]
            bt.bins[(2 * bt.n_temps + t) * 64 + l] = bin_link[bt.first + l, t, bin_index]


cdef void _bins_out(Batch* bt, Py_ssize_t bin_index, double[:, :, ::1] bin_energy,
                    double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link) noexcept nogil:
    """Store bt.bins as log bin ``bin_index`` of the batch's instances."""
    cdef Py_ssize_t l, t
    for l in range(bt.n_real):
        for t in range(bt.n_temps):
            bin_energy[bt.first + l, t, bin_index] = bt.bins[t * 64 + l]
            bin_q2[bt.first + l, t, bin_index] = bt.bins[(bt.n_temps + t) * 64 + l]
            bin_link[bt.first + l, t, bin_index] = bt.bins[(2 * bt.n_temps + t) * 64 + l]


cdef void _run_batch(Py_ssize_t worker, Py_ssize_t batch, int8_t[:, :, :, ::1] spins,
                     const int32_t[:, :, ::1] slot_at_temp, double[:, :, ::1] energies,
                     const double[:, :, ::1] jn, uint64_t[:, :, ::1] rng_state,
                     int64_t[:, :, ::1] swap_accepted, double[:, :, ::1] bin_energy,
                     double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
                     const int64_t[::1] order, const int64_t[::1] position,
                     const int32_t* offsets, const double* betas, const double* swap_table,
                     uint64_t[:, ::1] b_words, double[:, ::1] b_energies, uint32_t[:, ::1] b_counts,
                     double[:, ::1] b_bins, int64_t first_sweep, int64_t n_sweeps, int64_t swap_interval,
                     bint measure, Py_ssize_t first_white, int8_t[::1] failed) noexcept nogil:
    """All sweeps of batch ``batch`` in the buffers of ``worker``; failed[batch] = 1 if J != +-1."""
    cdef Py_ssize_t n_inst = spins.shape[0]
    cdef Py_ssize_t g, bin_index = -1, this_bin
    cdef int64_t sweep, tt
    cdef Batch bt
    bt.first = batch * 64
    bt.n_real = min(64, n_inst - bt.first)
    bt.n_temps = spins.shape[2]
    bt.n_sites = spins.shape[3]
    bt.n_groups = (2 * bt.n_temps + MSC_ROWS - 1) // MSC_ROWS
    bt.spins = &b_words[worker, 0]
    bt.couplings = bt.spins + bt.n_groups * bt.n_sites * MSC_ROWS
    bt.lane_rng = bt.couplings + bt.n_sites * 6
    bt.row_rng = bt.lane_rng + 64 * 2 * 4
    bt.thresholds = bt.row_rng + bt.n_groups * 4 * MSC_ROWS
    bt.testable = bt.thresholds + bt.n_groups * 64 * 3 * MSC_ROWS
    bt.diff = bt.testable + bt.n_groups * MSC_ROWS
    bt.swap_masks = bt.diff + bt.n_sites * MSC_ROWS
    bt.zero_levels = <int32_t*> (bt.swap_masks + bt.n_groups * MSC_ROWS)
    bt.first_white = first_white
    bt.energies = &b_energies[worker, 0]
    bt.counts = &b_counts[worker, 0]
    bt.bins = &b_bins[worker, 0]
    if _load(&bt, spins, slot_at_temp, jn, rng_state, order, position, betas):
        failed[batch] = 1
        return
    _count_energies(&bt, offsets)
    for sweep in range(first_sweep, first_sweep + n_sweeps):
        _reseed_rows(&bt)
        for g in range(bt.n_groups):
            msc_sweep(bt.spins + g * bt.n_sites * MSC_ROWS, bt.couplings, offsets, bt.n_sites,
                      bt.thresholds + g * 64 * 3 * MSC_ROWS, bt.testable + g * MSC_ROWS,
                      bt.row_rng + g * 4 * MSC_ROWS, bt.zero_levels + g * MSC_CHUNKS,
                      bt.first_white, bt.counts)
            if bt.first_white >= 0:   # counted in the sweep
                _set_energies(&bt, g)
        if bt.first_white < 0:
            _count_energies(&bt, offsets)
        if (sweep + 1) % swap_interval == 0:
            _parallel_tempering(&bt, betas, swap_table, swap_accepted)
        if measure:
            tt = sweep   # log bin of the sweep: 0 for sweep 0, k for 2^(k-1) <= sweep < 2^k
            this_bin = 0
            while tt > 0:
                tt = tt >> 1
                this_bin = this_bin + 1
            if this_bin != bin_index:
                if bin_index >= 0:
                    _bins_out(&bt, bin_index, bin_energy, bin_q2, bin_link)
                bin_index = this_bin
                _bins_in(&bt, bin_index, bin_energy, bin_q2, bin_link)
            _measure(&bt, offsets)
    if bin_index >= 0:
        _bins_out(&bt, bin_index, bin_energy, bin_q2, bin_link)
    _store(&bt, spins, slot_at_temp, energies, rng_state, position)


def run_sweeps(cnp.int8_t[:, :, :, ::1] spins, cnp.int32_t[:, :, ::1] slot_at_temp,
               double[:, :, ::1] energies, const double[:, :, ::1] neighbour_couplings,
               const cnp.int32_t[:, ::1] neighbours, const double[::1] betas,
               uint64_t[:, :, ::1] rng_state, cnp.int64_t[:, :, ::1] swap_accepted,
               double[:, :, ::1] bin_energy, double[:, :, ::1] bin_q2, double[:, :, ::1] bin_link,
               cnp.int64_t first_sweep, cnp.int64_t n_sweeps, cnp.int64_t swap_interval,
               bint measure, int n_threads):
    """Advance every instance by ``n_sweeps`` sweeps; arguments as :func:`sgpoison.mc._kernel.run_sweeps`.

    Couplings must be +-1. ``slot_at_temp`` is read, not changed: the
    configuration that ends at temperature t is written into slot ``slot_at_temp[t]``.
    Tracked energies are replaced by exact recounts (they are integers for J = +-1).

    Raises
    ------
    ValueError
        If the lattice has more than :data:`MAX_SITES` sites, or (after the call, other
        batches done) if some couplings are not +-1.
    """
    cdef Py_ssize_t n_inst = spins.shape[0], n_temps = spins.shape[2], n_sites = spins.shape[3]
    cdef Py_ssize_t n_batches = (n_inst + 63) // 64
    cdef Py_ssize_t n_groups = (2 * n_temps + MSC_ROWS - 1) // MSC_ROWS
    cdef int n_workers = max(1, min(n_threads, n_batches))
    if n_sites > MAX_SITES:
        raise ValueError(f"{n_sites} sites; the multispin kernel handles at most {MAX_SITES}")
    if n_sweeps <= 0:
        return
    order_np, position_np, offsets_np, white = _lattice_tables(np.asarray(neighbours))
    n_words = (n_groups * n_sites * MSC_ROWS + n_sites * 6 + 64 * 2 * 4 + n_groups * 4 * MSC_ROWS
               + n_groups * 64 * 3 * MSC_ROWS + n_groups * MSC_ROWS + n_sites * MSC_ROWS
               + n_groups * MSC_ROWS + n_groups * MSC_CHUNKS)
    cdef Py_ssize_t first_white = white
    cdef const double[::1] table = _swap_table(np.asarray(betas), n_sites)
    buf_words = _aligned_empty(n_workers, n_words + 8, np.uint64)
    buf_energies = np.empty((n_workers, n_groups * MSC_ROWS * 64))
    buf_counts = np.empty((n_workers, 3 * MSC_ROWS * 64), dtype=np.uint32)
    buf_bins = np.empty((n_workers, 3 * n_temps * 64))
    cdef const int64_t[::1] order = order_np
    cdef const int64_t[::1] position = position_np
    cdef const int32_t[:, ::1] offsets = offsets_np
    cdef uint64_t[:, ::1] b_words = buf_words
    cdef double[:, ::1] b_energies = buf_energies
    cdef uint32_t[:, ::1] b_counts = buf_counts
    cdef double[:, ::1] b_bins = buf_bins
    failed_np = np.zeros(n_batches, dtype=np.int8)
    cdef int8_t[::1] failed = failed_np
    cdef Py_ssize_t batch
    with nogil:
        for batch in prange(n_batches, num_threads=n_workers, schedule="static", chunksize=1):
            _run_batch(threadid(), batch, spins, slot_at_temp, energies, neighbour_couplings,
                       rng_state, swap_accepted, bin_energy, bin_q2, bin_link, order, position,
                       &offsets[0, 0], &betas[0], &table[0], b_words, b_energies, b_counts, b_bins, first_sweep,
                       n_sweeps, swap_interval, measure, first_white, failed)
    if failed_np.any():
        raise ValueError("the multispin kernel needs bimodal couplings J = +-1; instances "
                         f"{np.flatnonzero(np.repeat(failed_np, 64)[:n_inst]).tolist()} have others "
                         "(their state is unchanged)")


_swap_tables = {}


def _swap_table(betas_np, Py_ssize_t n_sites):
    """exp(-|beta_t - beta_t+1| 2 m) for t < n_T - 1 and m = 0 ... 3N (libm exp), flattened:
    exp(delta) of a swap whose energies differ by 2 m (bitwise the same double as exp(delta));
    cached per (betas, N)."""
    key = (np.ascontiguousarray(betas_np, dtype=np.float64).tobytes(), n_sites)
    if key in _swap_tables:
        return _swap_tables[key]
    cdef const double[::1] betas = np.ascontiguousarray(betas_np, dtype=np.float64)
    cdef Py_ssize_t n_temps = betas.shape[0], t, m
    out = np.empty(max(n_temps - 1, 1) * (3 * n_sites + 1))
    cdef double[::1] o = out
    cdef double dbeta
    for t in range(n_temps - 1):
        dbeta = fabs(betas[t] - betas[t + 1])
        for m in range(3 * n_sites + 1):
            o[t * (3 * n_sites + 1) + m] = exp(-(dbeta * (2.0 * m)))
    if len(_swap_tables) > 8:
        _swap_tables.clear()
    _swap_tables[key] = out
    return out


def _aligned_empty(n_rows, row_length, dtype):
    """Uninitialised (n_rows, row_length) array whose rows start at 64-byte boundaries."""
    itemsize = np.dtype(dtype).itemsize
    per_line = 64 // itemsize
    padded = -(-row_length // per_line) * per_line
    raw = np.empty(n_rows * padded + per_line, dtype=dtype)
    offset = (-raw.ctypes.data % 64) // itemsize
    return raw[offset:offset + n_rows * padded].reshape(n_rows, padded)
