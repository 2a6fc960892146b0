"""Modular arithmetic tables behind the exact-integer channel (residues, discrete logs, CRT).

Everything here is a pure function of `layout.PRIMES`, built once on first use and cached.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .layout import PRIMES

PRIME_ARRAY = np.array(PRIMES, dtype=np.int64)  # (K,)
MODULUS = math.prod(PRIMES)  # M, about 1.13e77
HALF_MODULUS = MODULUS // 2
# n = sum(r_i * c_i) mod M with c_i = (M / p_i) * ((M / p_i)^-1 mod p_i): the textbook CRT, for few rows
_CRT_COEFFS = [(MODULUS // p) * pow(MODULUS // p, -1, p) for p in PRIMES]
_SMALL_CRT = 32


def _prime_factors(n: int) -> list[int]:
    factors, d = [], 2
    while d * d <= n:
        if n % d == 0:
            factors.append(d)
            while n % d == 0:
                n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors


def primitive_root(p: int) -> int:
    """Smallest generator of the multiplicative group mod the prime p.

    >>> primitive_root(7)
    3
    """
    factors = _prime_factors(p - 1)
    for g in range(2, p):
        if all(pow(g, (p - 1) // q, p) != 1 for q in factors):
            return g
    raise ValueError(f"{p} is not prime")  # pragma: no cover


@functools.lru_cache(maxsize=None)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (exp_table, dlog_table, bases) for all primes, flattened into one array each.

    exp_table[bases[i] + k] = g_i**k mod p_i for k in [0, p_i - 1), and
    dlog_table[bases[i] + r] = k with g_i**k = r (mod p_i) for r in [1, p_i); dlog_table[bases[i]] = 0 is
    unused (zero has no discrete log; the DZERO flags carry it). One flat table makes a single gather.
    """
    size = max(PRIMES)
    bases = np.arange(len(PRIMES), dtype=np.int64) * size
    exp_table = np.zeros(len(PRIMES) * size, dtype=np.int64)
    dlog_table = np.zeros(len(PRIMES) * size, dtype=np.int64)
    for i, p in enumerate(PRIMES):
        g = primitive_root(p)
        # g**k for k = 256*j + t as an outer product of two short power lists (exact in int64).
        low = np.array([pow(g, t, p) for t in range(256)], dtype=np.int64)
        high = np.array([pow(g, 256 * j, p) for j in range((p - 1) // 256 + 1)], dtype=np.int64)
        powers = ((high[:, None] * low[None, :]) % p).reshape(-1)[: p - 1]  # (p-1,)
        exp_table[bases[i] : bases[i] + p - 1] = powers
        dlog_table[bases[i] + powers] = np.arange(p - 1, dtype=np.int64)
    return exp_table, dlog_table, bases


@functools.lru_cache(maxsize=None)
def _garner_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constants of the vectorised Garner step, as float64 (every value < 2**16).

    rmod[i, j] = R_j mod p_i for j < i (R_j = p_0 * ... * p_(j-1), the mixed-radix place values),
    rinv[i] = R_i^-1 mod p_i, and limbs[k, j] = 32-bit limb k of R_j (for the final base-2**32 sum).
    """
    k = len(PRIMES)
    places = [math.prod(PRIMES[:j]) for j in range(k)]
    rmod = np.zeros((k, k))
    for i in range(k):
        for j in range(i):
            rmod[i, j] = places[j] % PRIMES[i]
    rinv = np.array([pow(places[i] % PRIMES[i], -1, PRIMES[i]) for i in range(k)], dtype=np.float64)
    limbs = np.array([[(place >> (32 * b)) & 0xFFFFFFFF for place in places] for b in range(_N_LIMBS)],
                     dtype=np.float64)
    return rmod, rinv, limbs


_N_LIMBS = (MODULUS.bit_length() + 31) // 32  # 9 limbs of 32 bits hold any n < M


def _mod_float(x: np.ndarray, p: float, inv_p: float) -> np.ndarray:
    """Exact x mod p, in place, for integer-valued float64 0 <= x < 2**40 (see number._float_mod)."""
    q = x * inv_p
    q += 2.0**-20
    np.floor(q, out=q)
    q *= p
    x -= q
    return x


def crt_decode(residues: np.ndarray) -> list[int]:
    """Chinese-remainder reconstruction of (N, K) residues to Python ints in [-M/2, M/2).

    Garner's mixed-radix digits are computed vectorised in float64 (every intermediate an integer below
    2**53, so exact): digit i = (r_i - sum_j d_j * (R_j mod p_i)) * R_i^-1 mod p_i. The digits are then
    summed against the 32-bit limbs of the place values (each limb sum < 2**52, exact), carried in int64,
    and each number is read with int.from_bytes.

    >>> crt_decode(np.array([[5 % p for p in PRIMES], [(-7) % p for p in PRIMES]]))
    [5, -7]
    """
    r = np.asarray(residues, dtype=np.int64)
    if len(r) <= _SMALL_CRT:  # NumPy's per-call overhead dominates: sum r_i * c_i mod M in Python ints
        out = []
        for row in r.tolist():
            n = sum(x * c for x, c in zip(row, _CRT_COEFFS)) % MODULUS
            out.append(n - MODULUS if n >= HALF_MODULUS else n)
        return out
    rmod, rinv, limbs = _garner_tables()
    res = np.ascontiguousarray(r.T, dtype=np.float64)  # (K, N), each residue in [0, p)
    digits = np.empty_like(res)
    for i, p in enumerate(PRIMES):
        s = rmod[i, :i] @ digits[:i] if i else np.zeros(res.shape[1])  # < 15 * 2**32: exact
        _mod_float(s, float(p), 1.0 / p)
        s -= res[i]
        np.negative(s, out=s)
        s += p  # (r_i - s) mod p, shifted into (0, 2p)
        s *= rinv[i]  # < 2**33
        digits[i] = _mod_float(s, float(p), 1.0 / p)
    cols = (limbs @ digits).astype(np.int64)  # (L, N): limb sums < 16 * 2**48, exact
    for b in range(_N_LIMBS - 1):  # carry into the next limb
        cols[b + 1] += cols[b] >> 32
        cols[b] &= 0xFFFFFFFF
    data = cols.T.astype("<u4").tobytes()  # each n < M as 9 little-endian 32-bit limbs
    size = 4 * _N_LIMBS
    out = []
    for start in range(0, len(data), size):
        n = int.from_bytes(data[start : start + size], "little")
        out.append(n - MODULUS if n >= HALF_MODULUS else n)
    return out


def rational_reconstruct(u: int, bound: int) -> tuple[int, int] | None:
    """The reduced n/d with abs(n) <= bound, 0 < d <= bound and n = u * d (mod M), or None.

    Wang's algorithm: the extended Euclidean remainder sequence of (M, u mod M), stopped at the first
    remainder <= bound. The answer is unique when 2 * bound**2 < M (layout.RATIONAL_LIMIT is chosen so).

    >>> u = 2 * pow(3, -1, MODULUS) % MODULUS
    >>> rational_reconstruct(u, 10**38)
    (2, 3)
    """
    r0, r1 = MODULUS, u % MODULUS
    t0, t1 = 0, 1
    while r1 > bound:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    if t1 == 0 or abs(t1) > bound:
        return None
    if t1 < 0:
        r1, t1 = -r1, -t1
    if math.gcd(r1, t1) != 1 or (r1 - u * t1) % MODULUS:
        return None
    return r1, t1
