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
def _garner_inverses() -> np.ndarray:
    """inv[i, j] = p_j^-1 mod p_i for j < i (Garner's mixed-radix algorithm)."""
    k = len(PRIMES)
    inv = np.zeros((k, k), dtype=np.int64)
    for i in range(k):
        for j in range(i):
            inv[i, j] = pow(PRIMES[j], -1, PRIMES[i])
    return inv


def crt_decode(residues: np.ndarray) -> list[int]:
    """Chinese-remainder reconstruction of (N, K) residues to Python ints in [-M/2, M/2).

    Garner's algorithm runs vectorised in int64 (all intermediates < 2**32); only the final
    mixed-radix sum is done per element with Python ints.

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
    inv = _garner_inverses()
    digits = np.empty_like(r)  # mixed-radix digits, (N, K)
    for i, p in enumerate(PRIMES):
        x = r[:, i].copy()
        for j in range(i):
            x = ((x - digits[:, j]) * inv[i, j]) % p
        digits[:, i] = x
    # Fold digits in groups of three into int64 chunks (each < 2**48), then combine in Python.
    chunks, radices = [], []
    for start in range(0, len(PRIMES), 3):
        group = range(start, min(start + 3, len(PRIMES)))
        value = np.zeros(len(r), dtype=np.int64)
        radix = 1
        for i in group:
            value += digits[:, i] * radix
            radix *= PRIMES[i]
        chunks.append(value.tolist())
        radices.append(radix)
    out = []
    for parts in zip(*chunks):
        n = 0
        for value, radix in zip(reversed(parts), reversed(radices)):
            n = n * radix + value
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
