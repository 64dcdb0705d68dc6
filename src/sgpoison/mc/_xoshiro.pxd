# cython: language_level=3
"""xoshiro256** 1.0 (Blackman & Vigna 2018), the scalar random-number generator of every kernel.

One generator state is four uint64 words (``disorder.monte_carlo_streams`` seeds them, never
all zero). Inline functions, shared by cimport so that each kernel uses the same generator.
"""

from libc.stdint cimport uint64_t


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t _next(uint64_t* s) noexcept nogil:
    """Advance the state ``s[0..3]`` and return the next 64-bit output."""
    cdef uint64_t result = _rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline double _uniform(uint64_t* s) noexcept nogil:
    """Uniform double in [0, 1) with 53 random bits."""
    return (_next(s) >> 11) * (1.0 / 9007199254740992.0)
