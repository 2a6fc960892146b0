"""The 128-d FluxEM vector layout. Every channel offset lives here and nowhere else.

| slice            | dims | channel           | holds                                              | algebra under vector `+` |
|------------------|------|-------------------|----------------------------------------------------|--------------------------|
| TYPE      0:4    | 4    | type tag          | one-hot: number, quantity, unit, (reserved)        | -                        |
| LINEAR    4      | 1    | linear            | value / LINEAR_SCALE (SI value for quantities)     | a + b                    |
| LOG_MAG   5      | 1    | log               | ln abs(x) (0 for x == 0)                           | abs(a * b)               |
| LOG_SIGN  6      | 1    | log               | 0.5 if x < 0 else 0, a half-turn phase             | sign(a * b), mod 1       |
| LOG_ZERO  7      | 1    | log               | 1 if x == 0                                        | zero(a * b), clip to 1   |
| RESIDUE   8:24   | 16   | exact             | (n * d^-1 mod p_i) / p_i for x = n/d, 16 PRIMES    | a + b, mod 1             |
| DLOG      24:40  | 16   | exact integer (x) | dlog_g(n mod p_i) / (p_i - 1), 0 where p_i | n   | a * b, mod 1             |
| DZERO     40:56  | 16   | exact integer (x) | 1 where p_i divides n                              | a * b, clip to 1         |
| EXACT     56     | 1    | exact             | 1 if the residues hold the exact value (see below) | (set by the operators)   |
| DIMS      57:64  | 7    | dimensions        | SI exponents (L, M, T, I, Θ, N, J)                 | dims(a * b)              |
| OFFSET    64     | 1    | dimensions        | +1 point on °C/°F, -1 delta_degC/F difference, 0   | -                        |
| UNIT_OFF  65     | 1    | dimensions        | a unit's additive offset to SI (273.15 for degC)   | -                        |
| FEATURES  66:102 | 36   | network features  | bounded in [-1, 1]; see FEATURE_* below            | none (re-derived)        |
| INTEGRAL  102    | 1    | exact             | 1 if EXACT and the exact value is an integer       | (set by the operators)   |
| RESERVED  103:128| 25   | reserved          | zeros                                              | -                        |

FEATURES (offsets from FEATURES.start; every entry finite and in [-1, 1]):

| offset | dims | feature           | holds                                                                   |
|--------|------|-------------------|-------------------------------------------------------------------------|
| 0      | 1    | FEATURE_SIGN      | -1, 0, +1                                                               |
| 1      | 1    | FEATURE_ZERO      | 1 if x == 0                                                             |
| 2      | 1    | FEATURE_INT       | 1 if x is an integer                                                    |
| 3      | 1    | FEATURE_EXPONENT  | e / 32 clipped to [-1, 1], abs(x) rounded to 12 digits = d.ddd... * 10**e |
| 4:16   | 12   | FEATURE_MANTISSA  | its 12 digits d_1..d_12, each d / 4.5 - 1 (all -1 for x == 0)            |
| 16:28  | 12   | (zeros)           | reserved                                                                |
| 28:35  | 7    | FEATURE_DIMS      | tanh(SI exponent / 2)                                                   |
| 35     | 1    | FEATURE_OFFSET    | the OFFSET flag                                                         |

LAYOUT_VERSION 2. Version 1 had tanh(log10 abs(x) / 10) at offset 3, sin/cos of log10 abs(x) at 6 periods
at 4:16 and, for integers, sin/cos of n mod 2, 3, 5, 7, 10, 100 at 16:28; version 2 has the decimal
exponent and 12 mantissa digits instead, a code in which order and closeness of two values are linear
(lexicographic) and 16:28 are zeros. Measured on an MLP comparator (10k steps): 87% with the version-1
features (66% with every value scaled by 1e9), 99.8% (98.4%) with sign, zero, int flags and the mantissa code.

For a number, LINEAR/LOG/RESIDUE/DLOG hold the number itself. For a quantity they hold its value in
SI base units (a temperature point in kelvin). For a unit they hold the unit's factor to SI.

Capacity of the exact channel: the product M of the 16 primes is about 1.13e77, so the residues
determine any integer in the symmetric range abs(n) < M / 2. FluxEM only *claims* exactness for
abs(n) <= EXACT_LIMIT = 10**75, which leaves a factor of 50 of head-room for the float-based guard that
the operators use to decide whether a product has overflowed (see number.py).

A rational n/d (d > 1, reduced) is held as n * d^-1 mod p_i. Rational reconstruction (extended Euclid
against M) recovers n/d uniquely when abs(n) <= RATIONAL_LIMIT and d <= RATIONAL_LIMIT, because
2 * RATIONAL_LIMIT**2 = 2e76 < M. A denominator divisible by one of the primes has no inverse there, so
such a value is simply not exact (EXACT = 0). INTEGRAL tells the decoder which of the two readings
(CRT integer up to 10**75, or reconstructed fraction) applies.
"""

from __future__ import annotations

EMBED_DIM = 128
LAYOUT_VERSION = 2  # the FEATURES channel changed in version 2 (module docstring)

# Type tag
TYPE = slice(0, 4)
TYPE_NUMBER, TYPE_QUANTITY, TYPE_UNIT = 0, 1, 2
TYPE_NAMES = ("number", "quantity", "unit")

# Float channels
LINEAR = 4
LINEAR_SCALE = 1.0  # a power of two (here 2**0), so scaling never rounds
LOG_MAG = 5
LOG_SIGN = 6
LOG_ZERO = 7
LOG = slice(5, 8)

# Exact-integer channel: the 16 largest primes below 2**16. Each residue fraction r / p is exact in
# float64 (p < 2**16), and the sum of two fractions reduced mod 1 is the fraction of the sum.
PRIMES = (
    65521, 65519, 65497, 65479, 65449, 65447, 65437, 65423,
    65419, 65413, 65407, 65393, 65381, 65371, 65357, 65353,
)
N_PRIMES = len(PRIMES)
RESIDUE = slice(8, 8 + N_PRIMES)
DLOG = slice(RESIDUE.stop, RESIDUE.stop + N_PRIMES)
DZERO = slice(DLOG.stop, DLOG.stop + N_PRIMES)
EXACT = DZERO.stop  # 56
EXACT_LIMIT = 10**75
RATIONAL_LIMIT = 10**38  # bound on abs(numerator) and denominator of an exact non-integer

# Dimensions
DIMS = slice(EXACT + 1, EXACT + 8)  # 57:64
DIM_NAMES = ("L", "M", "T", "I", "Θ", "N", "J")
OFFSET = DIMS.stop  # 64
UNIT_OFF = OFFSET + 1  # 65

# Network features (bounded). Offsets are relative to FEATURES.start. See LAYOUT_VERSION for the history.
FEATURES = slice(UNIT_OFF + 1, UNIT_OFF + 1 + 36)  # 66:102
FEATURE_SIGN = 0  # -1, 0, +1
FEATURE_ZERO = 1  # 1 if x == 0
FEATURE_INT = 2  # 1 if x is an integer
# x rounded to MANTISSA_DIGITS significant decimal digits is +-d_1.d_2...d_12 * 10**e (float(x) for an
# exact value past 2**53: the features describe the float the LINEAR channel holds); 0 and all -1 for x == 0.
MANTISSA_DIGITS = 12
EXPONENT_SCALE = 32
FEATURE_EXPONENT = 3  # e / EXPONENT_SCALE, clipped to [-1, 1]
FEATURE_MANTISSA = slice(4, 4 + MANTISSA_DIGITS)  # 4:16, d_j / 4.5 - 1 (0 -> -1, 9 -> +1), most significant first
# 16:28 are zeros (reserved for network features)
FEATURE_DIMS = slice(28, 35)  # tanh(exponent / 2)
FEATURE_OFFSET = 35  # the OFFSET flag again, for networks
N_FEATURES = 36

INTEGRAL = FEATURES.stop  # 102: the exact value is an integer (meaningful where EXACT is 1)

RESERVED = slice(INTEGRAL + 1, EMBED_DIM)

if RESERVED.start > EMBED_DIM:  # pragma: no cover - guards edits to this table
    raise RuntimeError(f"FluxEM layout overflows EMBED_DIM: channels end at {RESERVED.start}")


def channel_table() -> list[tuple[str, int, int]]:
    """Return (name, start, stop) for every channel, in order; used by docs and tests.

    >>> channel_table()[0]
    ('TYPE', 0, 4)
    >>> sum(stop - start for _, start, stop in channel_table())
    128
    """
    rows = [
        ("TYPE", TYPE.start, TYPE.stop),
        ("LINEAR", LINEAR, LINEAR + 1),
        ("LOG", LOG.start, LOG.stop),
        ("RESIDUE", RESIDUE.start, RESIDUE.stop),
        ("DLOG", DLOG.start, DLOG.stop),
        ("DZERO", DZERO.start, DZERO.stop),
        ("EXACT", EXACT, EXACT + 1),
        ("DIMS", DIMS.start, DIMS.stop),
        ("OFFSET", OFFSET, OFFSET + 1),
        ("UNIT_OFF", UNIT_OFF, UNIT_OFF + 1),
        ("FEATURES", FEATURES.start, FEATURES.stop),
        ("INTEGRAL", INTEGRAL, INTEGRAL + 1),
        ("RESERVED", RESERVED.start, RESERVED.stop),
    ]
    return rows
