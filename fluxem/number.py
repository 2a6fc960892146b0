"""NumberEncoder: numbers as 128-d vectors in which arithmetic is vector algebra.

Channel layout: see `fluxem.layout`. Exactness policy (documented in the README):

- Python and NumPy integers are exact when abs(n) <= EXACT_LIMIT (10**75).
- `fractions.Fraction` and `decimal.Decimal` are exact rationals: Decimal("0.1") is 1/10. A non-integer
  n/d (reduced) is exact when abs(n) <= RATIONAL_LIMIT (10**38), d <= RATIONAL_LIMIT and none of the 16
  primes divides d; an integral Fraction/Decimal is an integer (full capacity).
- A float is exact only when it is integral and abs(x) <= 2**53 (2**24 for float32, 2**11 for float16),
  where every integer is a float of that type, so the float almost surely *means* that integer (2.0 is
  exact, 1e20 and float32(3e10) = 30000001024 are not: pass int(...) for that). Non-integral floats are
  never exact (0.1 is not 1/10): pass Decimal("0.1") or Fraction(1, 10) for an exact value.
- Every value needs a float64 for the float channels: a magnitude past about 1.8e308 raises ValueError, and
  so does a non-zero Decimal or Fraction that rounds to float 0.0 (below about 2.5e-324), because a zero
  linear channel and zero flag would claim an exact 0. Such a value is never exact anyway (the smallest
  exact non-integer is 1e-38).
- A value decides its row: value-equal inputs of one type (Decimal("2") and Decimal("2.000")) encode to
  the same bytes, whatever was encoded before.
- An operator's result is exact only when all of its inputs are exact and the result is within capacity.
  Exactness never comes back from float arithmetic. Integer results come from the native channels
  (residue sums, discrete-log sums, CRT); results with a non-integer input or output come from the
  decoded exact inputs with `fractions.Fraction` (rational reconstruction of a channel sum cannot tell
  when the true result has left the rational capacity; the exact inputs can), then every channel is
  re-derived from the exact result.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from operator import getitem, truediv
import struct
import sys
import threading
from array import array
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

import numpy as np

from . import layout as L
from ._modular import MODULUS, PRIME_ARRAY, crt_decode, rational_reconstruct, tables

_FLOAT_INT_LIMIT = 2.0**53
_EXACT_LIMIT = L.EXACT_LIMIT
_RATIONAL_LIMIT = L.RATIONAL_LIMIT
_LN10 = math.log(10.0)
_INV_LN10 = 1.0 / _LN10
_EXACT_LOG10_GUARD = 75.5  # products whose float log10 estimate is below this decode correctly (M/2 > 5e76)
_SMALL_LIST = 64  # lists/tuples of plain Python numbers up to this length take the pure-Python path


# ----------------------------------------------------------------------------- input handling


def _digits(n: int) -> int:
    """Decimal digits of abs(n), without str(): that conversion is refused past 4,300 digits."""
    d = math.ceil(abs(n).bit_length() * math.log10(2))  # the digit count or one more
    return max(1, d if abs(n) >= 10 ** (d - 1) else d - 1)


def _int_to_float(x: int) -> float:
    try:
        return float(x)
    except OverflowError:
        raise ValueError(
            f"integer with {_digits(x)} digits exceeds the float64 range of FluxEM's float channels "
            "(about 1.8e308; exact up to 10**75): rescale it before encoding"
        ) from None


def _float_int_limit(dtype) -> float:
    """Largest magnitude below which every integer is representable in this float type (<= 2**53)."""
    return min(2.0 ** (np.finfo(dtype).nmant + 1), _FLOAT_INT_LIMIT)


_RATIONAL_COPRIME = MODULUS  # a denominator is usable iff gcd(d, M) == 1


@functools.lru_cache(maxsize=4096)
def _denominator_ok(den: int) -> bool:
    """Within capacity and coprime to all 16 primes (cached: text denominators repeat, mostly 10**k)."""
    return den <= L.RATIONAL_LIMIT and math.gcd(den, _RATIONAL_COPRIME) == 1


def _rational_is_exact(fr: Fraction) -> bool:
    return abs(fr.numerator) <= L.RATIONAL_LIMIT and _denominator_ok(fr.denominator)


def _normalize(x):
    """One scalar -> (float value, integer for the int features or None, exact int/Fraction or None).

    Raises TypeError for bools and non-numbers, ValueError for NaN/inf and values past float64 range.
    """
    t = type(x)
    if t is int:  # the common exact types first: ABC isinstance checks cost microseconds
        try:
            return float(x), x, (x if -_EXACT_LIMIT <= x <= _EXACT_LIMIT else None)
        except OverflowError:
            _int_to_float(x)  # raises the ValueError
    if t is Fraction:
        return _normalize_fraction(x)
    if t is int or (isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))):
        n = int(x)
        return _int_to_float(n), n, (n if -L.EXACT_LIMIT <= n <= L.EXACT_LIMIT else None)
    if t is float or isinstance(x, (float, np.floating)):
        v = float(x)
        if not math.isfinite(v):
            raise ValueError(f"FluxEM cannot encode {v}: only finite numbers have embeddings")
        limit = _FLOAT_INT_LIMIT if t is float else _float_int_limit(type(x))
        if v == int(v) and abs(v) <= limit:
            n = int(v)
            return v + 0.0, n, n  # + 0.0 turns -0.0 into 0.0
        return v, None, None
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ValueError(f"FluxEM cannot encode {x!r}: only finite numbers have embeddings")
        if x and x.adjusted() > 308:
            raise ValueError(f"{x!r:.60} exceeds the float64 range of FluxEM's float channels (about 1.8e308)")
        if x and x.adjusted() <= -324:  # may round to a float 0.0 (below about 2.5e-324)
            _nonzero_float(x, float(x))
        exponent = x.as_tuple().exponent
        if exponent < -400 and _reduced_exponent(x) < -400:  # denominator past any capacity: float only
            return _nonzero_float(x, float(x)), None, None
        x = Fraction(x)
    if isinstance(x, numbers.Rational) and not isinstance(x, (bool, np.bool_)):
        return _normalize_fraction(Fraction(x))
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("FluxEM does not encode bools; pass int(x) if you mean 0/1")
    if isinstance(x, numbers.Real):
        return _normalize(float(x))
    raise TypeError(f"FluxEM encodes real numbers, got {type(x).__name__}: {x!r:.60}")


def _normalize_fraction(fr: Fraction):
    if fr.denominator == 1:
        return _normalize(fr.numerator)
    try:
        v = float(fr)
    except OverflowError:
        raise ValueError(f"a fraction with a {_digits(fr.numerator)}-digit numerator and a "
                         f"{_digits(fr.denominator)}-digit denominator exceeds the float64 range of FluxEM's "
                         "float channels (about 1.8e308): rescale it before encoding") from None
    if v == 0.0:  # fr is not 0 (its denominator is not 1); only a value below float range gets here
        _nonzero_float(fr, v)
    return v, None, (fr if _rational_is_exact(fr) else None)


def _reduced_exponent(x: Decimal) -> int:
    """The exponent of a finite Decimal with its trailing zero digits dropped (0 for zero): equal values give
    equal answers (Decimal("2.000") and Decimal("2") both 0), so a rule on it depends only on the value."""
    _, digits, exponent = x.as_tuple()
    stripped = "".join(map(str, digits)).rstrip("0")
    return exponent + len(digits) - len(stripped) if stripped else 0


def _nonzero_float(x, v: float) -> float:
    """v, the float of the non-zero x; ValueError where x is too small for float64, rather than a zero
    (the zero flag would claim an exact 0 that a divisor or a product then trusts)."""
    if v == 0.0 and x != 0:
        shown = f"{x!r:.60}" if isinstance(x, Decimal) else (
            f"a fraction with a {_digits(x.denominator)}-digit denominator")
        raise ValueError(f"{shown} is not zero but below the float64 range of FluxEM's float channels (it "
                         "rounds to 0.0; the smallest non-zero float64 is about 4.9e-324): pass 0 if you mean zero, "
                         "or rescale it before encoding")
    return v


_is_bool = np.frompyfunc(lambda v: isinstance(v, (bool, np.bool_)), 1, 1)


def _as_batch(x) -> tuple[np.ndarray, tuple[int, ...]]:
    """Array-like -> (flat array (N,), batch shape). Integer arrays stay int64, big ints become object."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"FluxEM encodes real numbers, got {type(x).__name__}: {x!r:.60}")
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            obj = np.asarray(x, dtype=object)
        except ValueError as exc:  # ragged nesting
            raise TypeError(f"FluxEM encodes rectangular array-likes of numbers: {exc}") from None
        if obj.size and _is_bool(obj).any():
            raise TypeError("FluxEM does not encode bools (found one in the list); cast to int if you mean 0/1")
        try:
            arr = np.asarray(x)
        except ValueError:  # nesting that an object array takes but a numeric one does not, as [1, [2, 3]]
            raise TypeError("FluxEM encodes rectangular array-likes of numbers; got a ragged or nested list "
                            "(each element must be a number, each row the same length)") from None
        if arr.dtype.kind == "O":
            arr = obj
    if arr.dtype == bool:
        raise TypeError("FluxEM does not encode bools; cast to int if you mean 0/1")
    if arr.dtype.kind not in "iufO":
        raise TypeError(f"FluxEM encodes real numbers, got an array of dtype {arr.dtype}")
    return arr.reshape(-1), arr.shape


# ----------------------------------------------------------------------------- channel filling
#
# Speed notes (the benchmark asks for >= 5M int64 numbers/s with every channel filled):
# - residues of int64 inputs come from one float64 matmul: n's four 16-bit limbs (and its sign, for the
#   two's complement correction) times 2**(16k) mod m, every term < 2**34, so the sums are exact;
#   `_float_mod` then reduces them exactly, in place;
# - the mantissa features (see "the decimal features" below): one gathered power of ten, one rounding,
#   then the 12 digits as 3-digit groups of an int64 (3 divmods) and 12 gathers from a (3, 1000) table;
# - the discrete logs are one gather from a 2 MB uint16 table, indexed straight from the float residues;
# - rows are filled in chunks, every channel written once (no zero-fill pass, no full-size temporaries);
#   the rare corrections of the decimal exponent (near powers of ten) run on the few rows that need them.

_MODULI = np.array(L.PRIMES, dtype=np.float64)  # (16,): the residue moduli
_INV_MODULI = 1.0 / _MODULI
_K = len(L.PRIMES)
# (16, 5): limb k of n times 2**(16k) mod m, and for a negative n the correction (-2**64) mod m
_LIMB_POWERS = np.array([[pow(2, 16 * k, int(m)) for k in range(4)] + [(-(2**64)) % int(m)] for m in _MODULI],
                        dtype=np.float64)
_PM1 = np.array(L.PRIMES, dtype=np.float64) - 1.0
_CHUNK = 16384  # rows per chunk written straight into a channel-major output
_COPY_CHUNK = 1024  # rows per chunk staged in a reused (128, 1024) scratch buffer (1 MB) for a row-major out=
_MAX_THREADS = 4
_LITTLE_ENDIAN = sys.byteorder == "little"


_scratch = threading.local()


def _temp(name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
    """A per-thread C-contiguous temporary of this shape (contents undefined), reused across chunks.

    Large fresh NumPy temporaries cost page faults on every chunk (the allocator hands memory of that size
    back to the OS when it is freed), which made batch encoding twice as slow. Each name is one buffer:
    a caller must not use two live temporaries of the same name.
    """
    size = math.prod(shape)
    flat = _scratch.__dict__.get(name)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = _scratch.__dict__[name] = np.empty(size, dtype=dtype)
    return flat[:size].reshape(shape)


def _float_mod(x: np.ndarray) -> np.ndarray:
    """Exact x mod m, in place, for non-negative integer-valued float64 x < 2**40, rows matching _MODULI.

    x * (1/m) is within 2**-30 of x / m, and a non-zero x mod m puts x / m at least 1/m > 2**-17 away from
    an integer, so floor() is exact once the 2**-20 nudge lifts exact multiples over the rounding error.
    """
    q = np.multiply(x, _INV_MODULI[:, None], out=_temp("q", x.shape))
    q += 2.0**-20
    np.floor(q, out=q)
    q *= _MODULI[:, None]
    return np.subtract(x, q, out=x)


def _mods_int64(ints: np.ndarray) -> np.ndarray:
    """(C,) int64 -> (16, C) float64 residues modulo _MODULI (channel-major)."""
    limbs = _temp("limbs", (5, len(ints)))
    if _LITTLE_ENDIAN:  # the four 16-bit limbs are the uint16 view of each int64, low limb first
        np.copyto(limbs[:4], np.ascontiguousarray(ints).view(np.uint16).reshape(-1, 4).T)
    else:  # pragma: no cover - big-endian machines
        u = ints.view(np.uint64)
        for k in range(4):
            limbs[k] = (u >> np.uint64(16 * k)) & np.uint64(0xFFFF)
    np.less(ints, 0, out=limbs[4])  # two's complement: n = u - 2**64
    x = np.matmul(_LIMB_POWERS, limbs, out=_temp("x", (len(_MODULI), len(ints))))  # exact: sums < 5 * 2**32
    return _float_mod(x)


def _mods_python(n: int) -> list[int]:
    return [n % int(m) for m in _MODULI]


@functools.lru_cache(maxsize=4096)
def _inverses(den: int) -> tuple[int, ...]:
    """d^-1 mod p for the 16 primes (d coprime to every prime); cached: text denominators repeat (10**k)."""
    return tuple(pow(den, -1, p) for p in L.PRIMES)


def _mods_rational(fr: Fraction) -> list[int]:
    """Residues n * d^-1 mod p (d coprime to every prime)."""
    num = fr.numerator
    return [num * inv % p for inv, p in zip(_inverses(fr.denominator), L.PRIMES)]


_DLOG_BASES = (np.arange(_K) * max(L.PRIMES)).astype(np.float64)[:, None]  # tables()[2], as a float column
# Float -> int64 for integer-valued floats 0 <= v < 2**51 without a (slow, unvectorised) conversion: v + 2**52
# is exact, and its bits are those of 2**52 plus v.
_MAGIC = 2.0**52
_MAGIC_BITS = np.array(_MAGIC).view(np.int64)
_DLOG_BASES_MAGIC = _DLOG_BASES + _MAGIC


def _as_index(v: np.ndarray, offset, name: str) -> np.ndarray:
    """int64 array of the integer-valued floats v + offset (offset includes _MAGIC; v + offset < 2**53)."""
    t = np.add(v, offset, out=_temp(name, v.shape))
    i = t.view(np.int64)
    i -= _MAGIC_BITS
    return i


@functools.lru_cache(maxsize=None)
def _dlog_table16() -> np.ndarray:
    """The flat discrete-log table as uint16 (2 MB, so the gather stays in cache); 0 at r = 0."""
    assert np.array_equal(tables()[2], _DLOG_BASES[:, 0])
    return tables()[1].astype(np.uint16)


# ----------------------------------------------------------------------------- the decimal features
#
# FEATURE_EXPONENT and FEATURE_MANTISSA describe the float value a = abs(x) rounded to 12 significant digits,
# +-d_1.d_2...d_12 * 10**e, correctly rounded (round half to even on the exact binary value): exactly what
# format(a, ".11e") prints, which is how the scalar path computes them. The batch path gets the same digits
# vectorised: with g(k) = rint(a * 10**k), a * 10**k computed as a * _SCALE_MUL[k] / _SCALE_DIV[k], it
# takes k = 11 - floor(log10 a), steps k until g(k) is in [10**11, 10**12) (the log is wrong near powers
# of ten: log10(1000) may be 2.9999999999999996), and then m = g(k) holds the digits and e = 11 - k.
# The computed a * 10**k is within 2**-11 of the true product (exact powers of ten and one rounding for
# abs(k) <= 22, i.e. 1e-11 <= a < 1e34; a few roundings beyond), so m is the correct rounding unless the
# product lies within 2**-10 of a half-integer; such rows, and rows with m = 10**11 (where k + 1 might
# round just below 10**12, as for 99999999999.6), are recomputed with format(). Then g(k + 1) >= 10**12
# for the true product, so k is the exponent of the correctly rounded value and both paths agree bit for bit.

_M_LO, _M_HI = float(10 ** (L.MANTISSA_DIGITS - 1)), float(10**L.MANTISSA_DIGITS)  # 1e11, 1e12
_NEAR_HALF = 0.5 - 2.0**-10
_POW_OFFSET = 300  # k + _POW_OFFSET indexes the tables; k runs over [-299, 337] (abs(x) in [5e-324, 1.8e308])


def _scale_pair(k: int) -> tuple[float, float]:
    if 0 <= k <= 308:
        return float(10**k), 1.0
    if k < 0:
        return 1.0, float(10**-k)
    return 1e308, float(Fraction(1, 10 ** (k - 308)))  # abs(x) < 1e-297


_SCALE_MUL, _SCALE_DIV = (np.array(t) for t in zip(*(_scale_pair(k - _POW_OFFSET) for k in range(2 * _POW_OFFSET + 40))))
_DIGIT_CODES_L = [d / 4.5 - 1.0 for d in range(10)]  # digit d -> d / 4.5 - 1 (0 -> -1, 9 -> +1)
# (3, 1000): the codes of the three digits of a group g in [0, 1000), most significant first
_DIGIT3 = np.array([[_DIGIT_CODES_L[g // 10 ** (2 - j) % 10] for g in range(1000)] for j in range(3)])
_EXPONENT_INV_SCALE = 1.0 / L.EXPONENT_SCALE  # a power of two: e / 32 is exact
_MANTISSA_START = L.FEATURE_MANTISSA.start


def _scaled(a: np.ndarray, k: np.ndarray, name: str) -> np.ndarray:
    """a * 10**k (rounded, see the notes above) for positive float64 a and integer-valued float64 k."""
    idx = _as_index(k, _POW_OFFSET + _MAGIC, "kidx")
    y = np.multiply(a, np.take(_SCALE_MUL, idx), out=_temp(name, a.shape))
    y /= np.take(_SCALE_DIV, idx)
    return y


def _decimal_parts(absval: np.ndarray, ln: np.ndarray, zero) -> tuple[np.ndarray, np.ndarray]:
    """(k, m) float64 arrays for absval (ln its natural log; rows where the bool array zero is set are skipped): m in
    [1e11, 1e12) the 12 significant digits of absval correctly rounded, 11 - k its decimal exponent."""
    e0 = np.multiply(ln, _INV_LN10, out=_temp("e0", ln.shape))
    np.floor(e0, out=e0)
    k = np.subtract(L.MANTISSA_DIGITS - 1.0, e0, out=e0)
    y = _scaled(absval, k, "y")
    m = np.rint(y, out=_temp("m", y.shape))
    for _ in range(4):  # the log estimate is at most one step off; a bound, not a loop that can spin
        fix = np.flatnonzero((m >= _M_HI) | (m < _M_LO))
        if not len(fix):
            break
        k[fix] += np.where(m[fix] < _M_LO, 1.0, -1.0)
        y[fix] = _scaled(absval[fix], k[fix], "yfix")
        m[fix] = np.rint(y[fix])
    y -= m
    np.abs(y, out=y)
    check = (y > _NEAR_HALF) | (m == _M_LO)
    check &= ~zero
    for i in np.flatnonzero(check).tolist():  # rare: near a tie, or a power of ten
        s = format(float(absval[i]), ".11e")
        k[i] = L.MANTISSA_DIGITS - 1 - int(s[14:])
        m[i] = int(s[0] + s[2:13])
    return k, m


def _write_rows(buf, values, mods, exact, integral, int_mask, type_index) -> None:
    """Fill every channel of a channel-major buf (128, C) (any prior content) from values (C,), mods (16, C).

    exact, integral and int_mask are bool arrays (C,), or True where they hold for every row.
    """
    for j in range(L.TYPE.start, L.TYPE.stop):
        buf[j] = 1.0 if j == L.TYPE.start + type_index else 0.0
    absval = np.abs(values, out=_temp("abs", values.shape))
    zero = absval == 0
    if zero.any():
        np.copyto(absval, 1.0, where=zero)  # ln = 0 for zero
    ln = np.log(absval, out=buf[L.LOG_MAG])
    np.divide(values, L.LINEAR_SCALE, out=buf[L.LINEAR])
    buf[L.LINEAR] += 0.0  # -0.0 -> 0.0, as the scalar path writes it (bit-identical rows)
    np.multiply(values < 0, 0.5, out=buf[L.LOG_SIGN])
    buf[L.LOG_ZERO] = zero
    if exact is True or exact.any():
        r = mods[:_K]  # (K, C)
        np.divide(r, _MODULI[:_K, None], out=buf[L.RESIDUE])
        idx = _as_index(r, _DLOG_BASES_MAGIC, "q")  # _float_mod's temporary is free again
        dlogs = np.take(_dlog_table16(), idx, out=_temp("dlog", r.shape, np.uint16), mode="clip")  # in range
        np.divide(dlogs, _PM1[:, None], out=buf[L.DLOG])
        np.equal(r, 0, out=buf[L.DZERO])
        buf[L.EXACT] = exact
        if exact is not True and not exact.all():
            buf[L.RESIDUE.start : L.EXACT + 1] *= exact
    else:
        buf[L.RESIDUE.start : L.EXACT + 1] = 0.0
    buf[L.INTEGRAL] = integral
    buf[L.DIMS.start : L.FEATURES.start] = 0.0  # dimensions, offset flag, unit offset
    buf[L.RESERVED] = 0.0
    _write_features(buf[L.FEATURES], values, absval, ln, zero, int_mask)


def _write_features(feats, values, absval, ln, zero, int_mask) -> None:
    """Bounded network features in [-1, 1] (see layout.FEATURE_*); feats is channel-major (36, C).
    absval is abs(values) with 1 where a value is 0, ln its natural log."""
    np.sign(values, out=feats[L.FEATURE_SIGN])
    feats[L.FEATURE_ZERO] = zero
    feats[L.FEATURE_INT] = int_mask
    k, m = _decimal_parts(absval, ln, zero)
    exponent = np.subtract(L.MANTISSA_DIGITS - 1.0, k, out=feats[L.FEATURE_EXPONENT])
    np.clip(exponent, -L.EXPONENT_SCALE, L.EXPONENT_SCALE, out=exponent)
    exponent *= _EXPONENT_INV_SCALE
    mi = _as_index(m, _MAGIC, "mant")  # int64 m in [1e11, 1e12)
    group, high = _temp("group", mi.shape, np.int64), _temp("high", mi.shape, np.int64)
    for start in range(_MANTISSA_START + L.MANTISSA_DIGITS - 3, _MANTISSA_START - 1, -3):  # low group first
        if start > _MANTISSA_START:  # group = mi mod 1000 as mi - 1000 (mi // 1000): 3x faster than np.remainder
            np.floor_divide(mi, 1000, out=high)
            np.multiply(high, -1000, out=group)
            group += mi
            mi, high = high, mi
        else:
            group = mi  # the top group, in [100, 1000)
        for j in range(3):
            np.take(_DIGIT3[j], group, out=feats[start + j], mode="clip")  # indices in range: clip skips buffering
    if zero.any():
        rows = np.flatnonzero(zero)
        feats[L.FEATURE_EXPONENT, rows] = 0.0
        feats[L.FEATURE_MANTISSA, rows] = -1.0
    feats[L.FEATURE_MANTISSA.stop :] = 0.0  # reserved zeros, dimension features and offset flag: numbers have none


def _chunk_parts(arr: np.ndarray):
    """(values, mods, exact, integral, int_mask) for one chunk of any supported dtype (masks may be True)."""
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or arr.size == 0 or arr.max() < 2**63):
        ints = arr.astype(np.int64, copy=False)
        return ints.astype(np.float64), _mods_int64(ints), True, True, True  # an int64 is always finite
    if arr.dtype.kind == "f":
        values = arr.astype(np.float64, copy=False)
        mods, ok = _integral_float_parts(values, _float_int_limit(arr.dtype))
        return values, mods, ok, ok, ok
    return _object_parts(arr)


def _integral_float_parts(values: np.ndarray, limit: float = _FLOAT_INT_LIMIT):
    """Floats that are integral with abs <= limit are exact integers; others are not."""
    with np.errstate(invalid="ignore"):
        ok = (np.abs(values) <= limit) & (values == np.trunc(values))
    mods = _temp("fmods", (len(_MODULI), len(values)))
    mods.fill(0.0)
    if ok.any():
        mods[:, ok] = _mods_int64(values[ok].astype(np.int64))
    return mods, ok


def _object_parts(items: np.ndarray):
    """Per-element path for Python big ints, Fractions, Decimals and mixed object arrays."""
    n = len(items)
    values = np.empty(n)
    mods = _temp("fmods", (len(_MODULI), n))
    mods.fill(0.0)
    int_mask = np.zeros(n, dtype=bool)
    exact = np.zeros(n, dtype=bool)
    integral = np.zeros(n, dtype=bool)
    for i, x in enumerate(items):
        values[i], k, ex = _normalize(x)
        if k is not None:
            int_mask[i] = True
            mods[:, i] = _mods_python(k)
        if ex is not None:
            exact[i] = True
            if k is None:
                mods[:, i] = _mods_rational(ex)
            else:
                integral[i] = True
    return values, mods, exact, integral, int_mask


def _check_finite(values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"FluxEM cannot encode {bad}: only finite numbers have embeddings")


def _encode_array(arr: np.ndarray, type_index: int = L.TYPE_NUMBER, out: np.ndarray | None = None) -> np.ndarray:
    """(N,) numbers -> (N, 128), filled chunk by chunk; into `out` (N, 128) when given.

    A fresh result is the transpose of a C-ordered (128, N) array (Fortran order): every channel is then
    one contiguous run, which makes batch encoding several times faster than row-major filling. It is an
    ordinary (N, 128) ndarray; use np.ascontiguousarray() if you need row-contiguous memory. An `out` in
    Fortran order is written in place the same way; any other `out` is filled through a reused
    cache-sized scratch buffer, one block of rows at a time.
    """
    if arr.dtype.kind == "f":
        _check_finite(arr)
    if out is None:
        target = np.empty((L.EMBED_DIM, len(arr)))  # (128, N), every element written below
        result = target.T
    else:
        result = out
        target = out.T if out.T.flags.c_contiguous else None
    step = _CHUNK if target is not None else _COPY_CHUNK

    def fill(start: int) -> None:
        values, mods, exact, integral, int_mask = _chunk_parts(arr[start : start + step])
        _check_finite(values)
        if target is not None:
            _write_rows(target[:, start : start + step], values, mods, exact, integral, int_mask, type_index)
        else:
            scratch = _temp("staging", (L.EMBED_DIM, _COPY_CHUNK))[:, : len(values)]
            _write_rows(scratch, values, mods, exact, integral, int_mask, type_index)
            rows = result[start : start + len(values)]
            for c in range(0, L.EMBED_DIM, 32):  # transpose in 32-channel tiles: fewer cache misses
                rows[:, c : c + 32] = scratch[c : c + 32].T

    starts = range(0, len(arr), step)
    workers = min(len(starts), os.cpu_count() or 1, _MAX_THREADS)
    if workers > 1 and arr.dtype.kind != "O":  # NumPy releases the GIL; chunks write disjoint rows
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, starts))
    else:
        for start in starts:
            fill(start)
    return result


def _encode_exact_values(values: list) -> np.ndarray:
    """Encode exact results (Python ints and Fractions; the operators' re-derivation step) -> (n, 128)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return _encode_array(arr)


def _encode_float_results(values: np.ndarray) -> np.ndarray:
    """Encode results of float arithmetic: never exact (exactness never comes back from floats)."""
    _check_finite(values)
    n = len(values)
    out = np.empty((L.EMBED_DIM, n))
    none = np.zeros(n, dtype=bool)
    _write_rows(out, values, np.zeros((len(_MODULI), n)), none, none, none, L.TYPE_NUMBER)
    return out.T


# ----------------------------------------------------------------------------- the scalar fast path
#
# One number through NumPy costs ~50 small array operations (~200 us). A tokenizer encodes one number at
# a time, so scalars and short lists of Python numbers are filled in pure Python instead (~6 us each): a
# row is one struct.pack of its non-zero channels (native float64, as NumPy reads it; channels that are
# always 0 are pad bytes), and the only table is the 2 MB of discrete logs (r / p is computed).
# Every channel but LOG_MAG is bit-identical to the batch path (the decimal features use the same IEEE
# operations, see "the decimal features"); LOG_MAG comes from math.log instead of NumPy's vectorised kernel and
# may differ from the batch path in the last unit of precision (tests/test_number.py bounds this).

_PRIMES_L = list(L.PRIMES)
_PM1_L = [p - 1 for p in L.PRIMES]
_DIGIT_CODE = {str(d): c for d, c in enumerate(_DIGIT_CODES_L)}  # "7" -> 7 / 4.5 - 1
_DECIMAL_ZERO = (0.0,) + (-1.0,) * L.MANTISSA_DIGITS  # the exponent and mantissa features of 0
_EXPONENT_FEATURE = {e: max(-L.EXPONENT_SCALE, min(L.EXPONENT_SCALE, e)) / L.EXPONENT_SCALE for e in range(-330, 330)}
# One row as float64 bytes: channels that are always 0 for a number are pad bytes ("x" packs zero bytes,
# the bits of 0.0). Exact: type, linear, log (4), residue/dlog/dzero/EXACT (49), features sign/zero/int
# (3), exponent and mantissa (13), INTEGRAL. Inexact: the same without the exact block and INTEGRAL.
_ROW_EXACT = struct.Struct("@d24x4d49d72x3d13d160xd200x")
_ROW_EXACT_NZ = struct.Struct("@d24x4d32d128xd72x3d13d160xd200x")  # no prime divides it: DZERO all 0
_ROW_INEXACT = struct.Struct("@d24x4d464x3d13d368x")
assert _ROW_EXACT.size == _ROW_EXACT_NZ.size == _ROW_INEXACT.size == 8 * L.EMBED_DIM
assert (L.TYPE_NUMBER, L.LINEAR, L.LOG_MAG, L.RESIDUE.start, L.EXACT, L.FEATURES.start, L.INTEGRAL) == (
    0, 4, 5, 8, 56, 66, 102) and (L.FEATURE_EXPONENT, L.FEATURE_MANTISSA, L.FEATURE_DIMS.start) == (
    3, slice(4, 16), 28)


@functools.lru_cache(maxsize=None)
def _dlog_tabs() -> list:
    """Per prime, dlog(r) for r in [0, p) as a uint16 array (2 MB in all; a float table of dlog / (p - 1)
    would save the division but, at 8 MB, misses the cache far more often)."""
    flat, bases = _dlog_table16(), tables()[2].tolist()
    return [array("H", flat[b : b + p].tobytes()) for b, p in zip(bases, L.PRIMES)]


# The generated function, built at first use; a module global rather than an lru_cache so that the hot
# path pays one global read for it.
_EXACT_BLOCK = None
_EXACT_BLOCK_SOURCE = ""


def _exact_block_fn():
    """The function u -> (r_i / p_i for 16 primes, then dlog(r_i) / (p_i - 1) for 16 primes), or None
    when a prime divides u, with r_i = u mod p_i.

    It is generated from L.PRIMES as straight-line code (one local per residue, the primes as constants),
    the technique dataclasses and namedtuple use: timed alone on random 7-digit u, the loop form
    (`[u % p for p in primes]`, then `map` over the residues and the 16 tables) took 3.4 us against 1.9 us
    on the development VM; a whole scalar row is 0.6-1 us faster for it (README, "Speed"). The source is
    kept in `_EXACT_BLOCK_SOURCE`; tests/test_number.py checks the function against the loop form.
    """
    global _EXACT_BLOCK, _EXACT_BLOCK_SOURCE
    if _EXACT_BLOCK is None:
        n = len(L.PRIMES)
        lines = ["def exact_block(u):"]
        lines += [f"    r{i} = u % {p}" for i, p in enumerate(L.PRIMES)]
        # the 16 table reads back to back, before anything else: they miss the CPU caches, and with no
        # work between them they overlap (0.3 us less per number than reading each beside its division)
        lines.append("    " + ", ".join(f"d{i}" for i in range(n)) + " = " + ", ".join(f"t{i}[r{i}]" for i in range(n)))
        lines.append("    if not (" + " and ".join(f"r{i}" for i in range(n)) + "):")
        lines.append("        return None")
        lines.append("    return (" + ", ".join(f"r{i} / {p}" for i, p in enumerate(L.PRIMES)) + ",")
        lines.append("            " + ", ".join(f"d{i} / {p - 1}" for i, p in enumerate(L.PRIMES)) + ")")
        source = "\n".join(lines) + "\n"
        namespace = {f"t{i}": tab for i, tab in enumerate(_dlog_tabs())}
        exec(compile(source, "<fluxem.number exact_block>", "exec"), namespace)
        _EXACT_BLOCK_SOURCE, _EXACT_BLOCK = source, namespace["exact_block"]
    return _EXACT_BLOCK


def _scalar_bytes(value: float, k, ex) -> bytes:
    """The 128 channels of one number as float64 bytes (see _normalize for value, k, ex)."""
    if ex is None:
        return _row_bytes(value, k, None)
    if k is not None:
        return _row_bytes(value, k, ex)
    return _row_bytes(value, None, ex.numerator * _inverse_mod_m(ex.denominator) % MODULUS)


@functools.lru_cache(maxsize=4096)
def _inverse_mod_m(den: int) -> int:
    """d^-1 mod M (d coprime to every prime); cached: text denominators repeat (10**k)."""
    return pow(den, -1, MODULUS)


def _row_bytes(value: float, k, u) -> bytes:
    """The row of one number: value its float, k its integer (None if not an integer) and u None if it is
    not exact, else an int with its residues (the integer itself; n * d^-1 mod M for a fraction n/d).

    Bit-identical to the batch path's exact channels: r / p and dlog(r) / (p - 1) are single correctly
    rounded divisions of integers below 2**53 either way.
    """
    if value == 0.0:
        ln = log_sign = sign = 0.0
        zero = 1.0
        feats = _DECIMAL_ZERO
    else:
        a = abs(value)
        ln = math.log(a)
        zero = 0.0
        if value < 0:
            log_sign, sign = 0.5, -1.0
        else:
            log_sign, sign = 0.0, 1.0
        s = format(a, ".11e")  # d.ddddddddddde+XX: the correctly rounded 12 digits, as the batch path
        feats = (_EXPONENT_FEATURE[int(s[14:])], *map(_DIGIT_CODE.__getitem__, s[0] + s[2:13]))
    is_int = 0.0 if k is None else 1.0
    linear = value / L.LINEAR_SCALE
    if u is None:
        return _ROW_INEXACT.pack(1.0, linear, ln, log_sign, zero, sign, zero, is_int, *feats)
    integral = is_int  # an exact row is an integer or a fraction
    block = (_EXACT_BLOCK or _exact_block_fn())(u)
    if block is not None:  # no prime divides u: DZERO is all 0
        return _ROW_EXACT_NZ.pack(1.0, linear, ln, log_sign, zero, *block, 1.0, sign, zero, is_int, *feats, integral)
    rs = [u % p for p in _PRIMES_L]
    return _ROW_EXACT.pack(1.0, linear, ln, log_sign, zero, *map(truediv, rs, _PRIMES_L),
                           *map(truediv, map(getitem, _dlog_tabs(), rs), _PM1_L),
                           *[0.0 if r else 1.0 for r in rs], 1.0, sign, zero, is_int, *feats, integral)



def _decimal_features(value: float) -> tuple:
    """FEATURE_EXPONENT and the 12 FEATURE_MANTISSA entries of one float, as _row_bytes writes them."""
    if value == 0.0:
        return _DECIMAL_ZERO
    s = format(abs(value), ".11e")
    return (_EXPONENT_FEATURE[int(s[14:])], *map(_DIGIT_CODE.__getitem__, s[0] + s[2:13]))


def _decimal_feature_rows(values: np.ndarray) -> np.ndarray:
    """(N,) floats -> (N, 13): FEATURE_EXPONENT and FEATURE_MANTISSA as the batch path writes them."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    absval = np.abs(values)
    zero = absval == 0
    absval[zero] = 1.0
    feats = np.empty((L.N_FEATURES, len(values)))
    _write_features(feats, values, absval, np.log(absval), zero, False)
    return feats[L.FEATURE_EXPONENT : L.FEATURE_MANTISSA.stop].T

_PLAIN = frozenset((int, float, Fraction, Decimal))


_ROW_CACHE_SIZE = 4096  # rows of 1 KiB: at most 4 MiB


@functools.lru_cache(maxsize=_ROW_CACHE_SIZE)
def _cached_row(t: type, x) -> bytes:
    """The row of one plain number as float64 bytes. Keyed by (type, value): 2 and 2.0 are separate
    entries, and so are types that encode differently (np.float32(3e10) and 3e10); a Fraction is passed
    as its (numerator, denominator), which hashes much faster. Text repeats its numbers (0-999, years,
    10**k denominators), so a tokenizer mostly hits this cache; a miss costs the full pure-Python row
    (see bench_core.py for both figures). Call it through _row_of."""
    if t is int:
        if -_EXACT_LIMIT <= x <= _EXACT_LIMIT:  # the common case, without _normalize's tuple
            return _row_bytes(float(x), x, x)
    elif t is Fraction:
        num, den = x
        if den != 1 and -_RATIONAL_LIMIT <= num <= _RATIONAL_LIMIT and _denominator_ok(den):
            return _row_bytes(num / den, None, num * _inverse_mod_m(den) % MODULUS)  # num / den is float(x)
        x = Fraction(num, den)
    return _scalar_bytes(*_normalize(x))


def _row_of(x) -> bytes:
    """The cached row of one plain number (type(x) in _PLAIN)."""
    t = type(x)
    return _cached_row(t, x.as_integer_ratio() if t is Fraction else x)


def _fast_encode(x):
    """The pure-Python path for one number or a short list/tuple of plain numbers; None if not eligible."""
    t = type(x)
    if t in _PLAIN:
        if (t is float and x != x) or (t is Decimal and not x.is_finite()):
            _normalize(x)  # raises ValueError for NaN (a signaling NaN cannot even be hashed)
        return np.frombuffer(bytearray(_row_of(x)))  # writable copy of the cached bytes
    if isinstance(x, (np.integer, np.floating)):
        return np.frombuffer(bytearray(_scalar_bytes(*_normalize(x))))
    if t is list or t is tuple:
        rows = _plain_rows(x)
        if rows is not None:
            return np.ndarray((len(rows), L.EMBED_DIM), np.float64, bytearray().join(rows))
    return None


def _plain_rows(values) -> list[bytes] | None:
    """The cached row bytes of each value where encode() of this list takes the pure-Python path (1 to
    _SMALL_LIST plain Python numbers), else None."""
    if 0 < len(values) <= _SMALL_LIST and _PLAIN.issuperset(map(type, values)):
        try:
            return [_row_of(v) for v in values]
        except TypeError:  # the cache key: a signaling NaN Decimal cannot be hashed
            for v in values:
                _normalize(v)  # raises the ValueError for that NaN
            raise
    return None


def _rows_to_array(parts) -> np.ndarray:
    """[(value, k, ex), ...] -> (n, 128) through the scalar path, one buffer for all rows."""
    data = bytearray(b"".join([_scalar_bytes(*p) for p in parts]))
    return np.frombuffer(data).reshape(len(parts), L.EMBED_DIM)


# ----------------------------------------------------------------------------- decoding and validation


_OPERATORS_HINT = ("combine number embeddings with NumberEncoder.add/sub/mul/div (raw +, -, *, / on vectors "
                   "break the exact channels)")


def _type_error_hint(tag: np.ndarray, name: str, i: int) -> str:
    if not np.isfinite(tag).all():  # what a raw `/` of two number vectors gives (0 / 0 in the tag)
        return (f"{name} (row {i}) is not a valid embedding: its type tag {tag.tolist()} holds NaN or inf "
                "(a raw `/` of vectors gives that); pass vectors from NumberEncoder.encode and " + _OPERATORS_HINT)
    if tag[L.TYPE_NUMBER] == 0 and tag[3] == 0 and (tag[L.TYPE_QUANTITY] != 0 or tag[L.TYPE_UNIT] != 0):
        return (f"{name} (row {i}) is a quantity or unit embedding, not a number; use QuantityEncoder "
                "(convert, si_value) for it")
    if tag[L.TYPE_NUMBER] not in (0.0, 1.0) and not tag[1:].any():
        return (f"{name} (row {i}) has number type tag {tag[L.TYPE_NUMBER]:g}, not 1: a raw vector sum or "
                "multiple of number embeddings. decode() reads its linear channel; for exact results "
                "combine embeddings with enc.add / enc.sub / enc.mul / enc.div instead of raw +")
    return (f"{name} (row {i}) has no valid number type tag ({tag.tolist()}, not [1, 0, 0, 0]); pass a vector "
            "from NumberEncoder.encode, and " + _OPERATORS_HINT)


def _real_embeddings(e, name: str) -> np.ndarray:
    """e as a float64 array; TypeError for complex input, whose imaginary part a cast would drop."""
    arr = np.asarray(e)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} is a complex array ({arr.dtype}); FluxEM embeddings are real float64 vectors")
    return arr.astype(np.float64, copy=False)


def _check_embeddings(e, name: str = "embedding", strict: bool = True) -> tuple[np.ndarray, tuple]:
    """-> (rows (N, 128) float64, batch shape). strict: canonical number vectors only (type tag 1);
    otherwise any real linear combination of number vectors (what raw `+`/`-` produce)."""
    arr = _real_embeddings(e, name)
    if arr.ndim == 0 or arr.shape[-1] != L.EMBED_DIM:
        raise ValueError(f"{name} must have shape (128,) or (..., 128), got {arr.shape}")
    shape = arr.shape[:-1]
    arr = arr.reshape(-1, L.EMBED_DIM)
    tags = arr[:, L.TYPE]
    if strict:
        bad = ~np.all(tags == np.array([1.0, 0.0, 0.0, 0.0]), axis=1)
    else:
        bad = ~(np.all(tags[:, 1:] == 0.0, axis=1) & np.isfinite(tags[:, 0]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(_type_error_hint(tags[i], name, i))
    return arr, shape


def _residues_of(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr[:, L.RESIDUE] * PRIME_ARRAY).astype(np.int64) % PRIME_ARRAY


def _exact_rows(arr: np.ndarray) -> np.ndarray:
    """Rows whose EXACT flag is 1 *and* whose exact channels are self-consistent (never trust the flag):
    finite residues that are multiples of 1/p in [0, 1), discrete logs that match the residues, zero
    flags that match, and a 0/1 INTEGRAL flag. Anything else (NaN, hand edits, raw sums) is not exact."""
    flag = arr[:, L.EXACT] == 1.0
    if not flag.any():
        return flag
    with np.errstate(invalid="ignore"):
        res, dlog = arr[:, L.RESIDUE], arr[:, L.DLOG]
        k = res * PRIME_ARRAY
        kr = np.rint(k)
        ok = np.all((res >= 0) & (res < 1) & (np.abs(k - kr) < 1e-6), axis=1)  # False for NaN
        ki = np.where(ok[:, None], kr, 0).astype(np.int64)
        zero = ki == 0
        ok &= np.all(arr[:, L.DZERO] == zero, axis=1)
        d = dlog * (PRIME_ARRAY - 1)
        dr = np.rint(d)
        ok &= np.all(np.abs(d - dr) < 1e-6, axis=1)
        expected = np.take(_dlog_table16(), ki + tables()[2][None, :])
        ok &= np.all(np.where(zero, dlog == 0, dr == expected), axis=1)
        integral = arr[:, L.INTEGRAL]
        ok &= (integral == 0) | (integral == 1)
    return flag & ok


def _exact_values(arr: np.ndarray) -> list:
    """Exact int / Fraction per row of validated exact rows; None where reconstruction fails."""
    ints = crt_decode(_residues_of(arr))
    integral = arr[:, L.INTEGRAL] == 1.0
    if integral.all():
        return [n if -L.EXACT_LIMIT <= n <= L.EXACT_LIMIT else None for n in ints]
    out = []
    for n, is_int in zip(ints, integral):
        if is_int:
            out.append(n if abs(n) <= L.EXACT_LIMIT else None)
        else:
            nd = rational_reconstruct(n, L.RATIONAL_LIMIT)
            out.append(None if nd is None or nd[1] == 1 else Fraction(*nd))
    return out


# The outcome of validating one row's exact channels (_validate_exact).
_NOT_EXACT, _EXACT_OK, _INCONSISTENT, _MISMATCH = 0, 1, 2, 3


def _validate_exact(arr: np.ndarray) -> tuple[np.ndarray, list]:
    """The one validation of the exact channels, behind is_exact, decode_exact, decode_int and the operators.

    -> (status (N,) of _NOT_EXACT / _EXACT_OK / _INCONSISTENT / _MISMATCH, values): values[i] is the exact
    int or Fraction where status is _EXACT_OK, else None. A row is _EXACT_OK only when its EXACT flag is 1,
    its exact channels agree with each other (_exact_rows), they decode within capacity, and the decoded
    value rounds to the linear channel's float exactly (every encoder and operator writes float(value)
    there). _INCONSISTENT and _MISMATCH rows claim exactness they do not have: corrupted vectors.
    """
    n = len(arr)
    status = np.zeros(n, dtype=np.int8)
    values: list = [None] * n
    flag = arr[:, L.EXACT] == 1.0
    if not flag.any():
        return status, values
    consistent = _exact_rows(arr)
    status[flag & ~consistent] = _INCONSISTENT
    idx = np.flatnonzero(consistent)
    if not len(idx):
        return status, values
    rows = arr if len(idx) == n else arr[idx]
    decoded = _exact_values(rows)
    as_float = np.array([np.nan if v is None else float(v) for v in decoded])
    agree = as_float == rows[:, L.LINEAR] * L.LINEAR_SCALE  # False for None (NaN)
    status[idx] = np.where(agree, _EXACT_OK, _MISMATCH)
    for i, v, ok in zip(idx.tolist(), decoded, agree.tolist()):
        if ok:
            values[i] = v
    return status, values


def _exact_problem(arr: np.ndarray, status: np.ndarray, what: str, consequence: str) -> str | None:
    """The message for the first row of arr that claims exactness it does not have, or None."""
    bad = np.flatnonzero(status >= _INCONSISTENT)
    if not len(bad):
        return None
    i = int(bad[0])
    if status[i] == _INCONSISTENT:
        return (f"{what} (row {i}): the exact channels are inconsistent (corrupted, or not made by "
                f"NumberEncoder); {consequence}")
    return (f"{what} (row {i}): the exact channels do not match the linear channel "
            f"({arr[i, L.LINEAR] * L.LINEAR_SCALE:.6g}); the vector is corrupted - {consequence}")


def _decode_exact_rows(arr: np.ndarray, status: np.ndarray, values: list, integers: bool = False) -> list:
    """values, after a ValueError for the first row of arr (N, 128) that is not _EXACT_OK (status and values
    from _validate_exact); with integers=True also for an exact row that is a fraction."""
    problem = _exact_problem(arr, status, "embedding", "refusing to decode an exact value")
    if problem:
        raise ValueError(problem)
    not_exact = np.flatnonzero(status == _NOT_EXACT)
    if len(not_exact):
        i = int(not_exact[0])
        if integers:
            raise ValueError(
                f"row {i} is not an exact integer (value ~ {arr[i, L.LINEAR]:.6g}); FluxEM holds integers "
                f"exactly only up to 10**75 in absolute value - use decode() for the float value")
        raise ValueError(
            f"row {i} is not exact (value ~ {arr[i, L.LINEAR]:.6g}); FluxEM holds integers exactly up to "
            f"10**75 and fractions n/d up to 10**38 (no 16-bit prime dividing d) - use decode() for the "
            f"float value"
        )
    if integers:
        for i, v in enumerate(values):
            if type(v) is not int:
                raise ValueError(f"row {i} is not an integer (value ~ {arr[i, L.LINEAR]:.6g}); use "
                                 "decode_exact() for the exact Fraction or decode() for the float value")
    return values


def _check_log_channel(arr: np.ndarray, name: str) -> None:
    """ValueError where a row's log channel (what mul adds) does not hold ln abs, sign and zero flag of its
    linear channel: a product from a forged log channel would be silently wrong."""
    lin = arr[:, L.LINEAR] * L.LINEAR_SCALE
    zero = lin == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.where(zero, 0.0, np.log(np.abs(lin)))
        ok = np.abs(arr[:, L.LOG_MAG] - ln) <= 1e-12 * np.maximum(1.0, np.abs(ln))  # np.log vs math.log: 1 ulp
    ok &= (arr[:, L.LOG_SIGN] == np.where(lin < 0, 0.5, 0.0)) & (arr[:, L.LOG_ZERO] == zero)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"{name} (row {i}): the log channel does not match the linear channel "
                         f"({lin[i]:.6g}); the vector is corrupted - refusing to multiply it")


def _reshape_list(values: list, shape: tuple):
    if not shape:
        return values[0]
    if len(shape) == 1:
        return values
    obj = np.empty(len(values), dtype=object)
    obj[:] = values
    return obj.reshape(shape).tolist()


class NumberEncoder:
    """Deterministic, parameter-free encoder of numbers into 128-d FluxEM vectors.

    >>> enc = NumberEncoder()
    >>> enc.decode_int(enc.mul(enc.encode(123456789), enc.encode(987654321)))
    121932631112635269
    >>> enc.decode_exact(enc.div(enc.encode(1), enc.encode(3)))
    Fraction(1, 3)
    >>> enc.decode(enc.add(enc.encode(2.5), enc.encode(-1)))
    1.5
    """

    dim = L.EMBED_DIM

    def encode(self, x, out: np.ndarray | None = None) -> np.ndarray:
        """Encode a number (-> (128,)) or any array-like of numbers (shape S -> S + (128,)).

        Accepts ints (any size), floats, `Fraction` and `Decimal` (exact: Decimal("0.1") is 1/10), and
        NumPy arrays of them. ValueError for NaN, inf, a magnitude past float64 range (about 1.8e308), and a
        non-zero value that float64 would round to 0.0 (it is refused, never encoded as zero); TypeError
        for bools, non-numbers and ragged lists. `out`, a writable float64 array of shape S + (128,),
        receives the result and is returned; reusing one saves the page faults of a fresh allocation on large batches.

        >>> NumberEncoder().encode([1, 2.5, -3e9]).shape
        (3, 128)
        >>> from decimal import Decimal
        >>> NumberEncoder().decode_exact(NumberEncoder().encode(Decimal("0.2850885506401")))
        Fraction(2850885506401, 10000000000000)
        """
        if out is None:
            fast = _fast_encode(x)
            if fast is not None:
                return fast
        if not isinstance(x, (list, tuple, str, bytes)) and np.ndim(x) == 0:  # (np.ndim of a ragged list raises)
            item = x[()] if isinstance(x, np.ndarray) else x
            if isinstance(x, np.ndarray) and x.dtype == bool:
                raise TypeError("FluxEM does not encode bools; cast to int if you mean 0/1")
            row = np.frombuffer(bytearray(_scalar_bytes(*_normalize(item))))
            if out is None:
                return row
            _check_out(out, ())
            out[...] = row
            return out
        arr, shape = _as_batch(x)
        if out is not None:
            _check_out(out, shape)
            _encode_array(arr, out=out.reshape(-1, L.EMBED_DIM))
            return out
        return _encode_array(arr).reshape(shape + (L.EMBED_DIM,))

    def decode(self, e) -> float | np.ndarray:
        """The float value held by the linear channel.

        Also reads raw vector sums and differences of number embeddings: `encode(2) + encode(3)` has
        5.0 in its linear channel (its type tag is 2; the other channels are not a canonical number).

        >>> enc = NumberEncoder()
        >>> enc.decode(enc.encode(-0.125)), enc.decode(enc.encode(2) + enc.encode(3))
        (-0.125, 5.0)
        """
        arr, shape = _check_embeddings(e, strict=False)
        values = arr[:, L.LINEAR] * L.LINEAR_SCALE
        return float(values[0]) if not shape else values.reshape(shape)

    def is_exact(self, e) -> bool | np.ndarray:
        """True where the exact channels hold the value exactly (integer or rational within capacity).

        The EXACT flag is not trusted alone: the residues, discrete logs and flags must agree, and the
        exact value must round to the linear channel. True exactly where decode_exact succeeds.

        >>> enc = NumberEncoder()
        >>> enc.is_exact(enc.encode(10**75)), enc.is_exact(enc.encode(10**75 + 1)), enc.is_exact(enc.encode(0.5))
        (True, False, False)
        """
        arr, shape = _check_embeddings(e)
        exact = _validate_exact(arr)[0] == _EXACT_OK
        return bool(exact[0]) if not shape else exact.reshape(shape)

    def decode_exact(self, e):
        """The exact value: an `int` for an integer, a `Fraction` otherwise (nested lists for a batch).

        Raises ValueError for a row that is not exact, or whose exact channels disagree with each other
        or with the linear channel (a corrupted vector never decodes to a wrong value).

        >>> from fractions import Fraction
        >>> enc = NumberEncoder()
        >>> enc.decode_exact(enc.add(enc.encode(Fraction(1, 3)), enc.encode(Fraction(1, 6))))
        Fraction(1, 2)
        >>> enc.decode_exact(enc.mul(enc.encode(Fraction(2, 3)), enc.encode(3)))
        2
        """
        arr, shape = _check_embeddings(e)
        return _reshape_list(_decode_exact_rows(arr, *_validate_exact(arr)), shape)

    def decode_int(self, e) -> int | list[int]:
        """The exact Python int (list of ints for a batch), by the Chinese remainder theorem.

        Raises ValueError if any row is not an exact integer (see decode_exact for fractions).

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.encode(-(10**60) + 7))
        -999999999999999999999999999999999999999999999999999999999993
        """
        arr, shape = _check_embeddings(e)
        return _reshape_list(_decode_exact_rows(arr, *_validate_exact(arr), integers=True), shape)

    # ------------------------------------------------------------------------- operators

    def _binary(self, a, b, log: bool = False):
        """-> (A, B, single, xa, xb): the operands broadcast to (N, 128), and their exact values (lists of
        N, None where not exact), from the decoders' validation. ValueError for an operand that claims
        exactness it does not have, or (log=True, for mul) whose log channel disagrees with its linear one."""
        A, shape_a = _check_embeddings(a, "a")
        B, shape_b = _check_embeddings(b, "b")
        if len(shape_a) > 1 or len(shape_b) > 1:
            raise ValueError("operators take (128,) or (N, 128) embeddings; reshape to (-1, 128) first")
        if len(A) != len(B) and len(A) != 1 and len(B) != 1:
            raise ValueError(f"batch sizes differ: {len(A)} vs {len(B)}")
        exact_values = []
        for arr, name in ((A, "a"), (B, "b")):
            status, values = _validate_exact(arr)
            problem = _exact_problem(arr, status, name, "refusing to compute with it")
            if problem:
                raise ValueError(problem)
            if log:
                _check_log_channel(arr, name)
            exact_values.append(values)
        A, B = np.broadcast_arrays(A, B)
        xa, xb = (values if len(values) == len(A) else values * len(A) for values in exact_values)  # 1 row -> N
        return A, B, not shape_a and not shape_b, xa, xb

    def _finish(self, exact_results: dict, float_values, single):
        """Re-derive every channel: exact rows from their exact values, the rest from float values."""
        rows = sorted(i for i, v in exact_results.items() if v is not None)
        if len(float_values) <= _SMALL_LIST:  # the pure-Python path: what a step-by-step executor hits
            float_values = np.asarray(float_values, dtype=np.float64)
            _check_finite(float_values)
            parts = [(v + 0.0, None, None) for v in float_values.tolist()]  # never exact; -0.0 -> 0.0
            for i in rows:
                parts[i] = _normalize(exact_results[i])
            out = _rows_to_array(parts)
            return out[0] if single else out
        if rows:
            exact_vals = np.array([float(exact_results[i]) for i in rows])
            float_values = np.array(float_values, dtype=np.float64)
            float_values[rows] = exact_vals  # the float value of an exact result is its own rounding
        out = np.array(_encode_float_results(float_values))
        if rows:
            out[rows] = _encode_exact_values([exact_results[i] for i in rows])
        return out[0] if single else out

    @staticmethod
    def _split_exact(xa: list, xb: list):
        """(integer rows, rational rows): both inputs exact; integer rows have two integer inputs."""
        both = np.array([x is not None and y is not None for x, y in zip(xa, xb)], dtype=bool)
        ints = both & np.array([type(x) is int and type(y) is int for x, y in zip(xa, xb)], dtype=bool)
        return ints, both & ~ints

    @staticmethod
    def _fraction_results(xa: list, xb: list, rows, op) -> dict:
        """row -> exact result of op on the validated exact inputs."""
        out = {}
        for i in np.flatnonzero(rows).tolist():
            r = op(Fraction(xa[i]), Fraction(xb[i]))
            out[i] = r.numerator if r.denominator == 1 else r
        return out

    def add(self, a, b) -> np.ndarray:
        """a + b: linear channel for the float value, residue channel (mod 1) for the exact value.

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.add(enc.encode(10**40), enc.encode(1)))
        10000000000000000000000000000000000000001
        """
        return self._additive(a, b, +1)

    def sub(self, a, b) -> np.ndarray:
        """a - b (see add).

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.sub(enc.encode(3), enc.encode(10)))
        -7
        """
        return self._additive(a, b, -1)

    def _additive(self, a, b, sign: int) -> np.ndarray:
        A, B, single, xa, xb = self._binary(a, b)
        values = (A[:, L.LINEAR] + sign * B[:, L.LINEAR]) * L.LINEAR_SCALE
        int_rows, rat_rows = self._split_exact(xa, xb)
        results = self._fraction_results(xa, xb, rat_rows, (lambda x, y: x + y) if sign > 0 else (lambda x, y: x - y))
        if int_rows.any():
            # Both inputs within 1e75 => abs(result) <= 2e75 < M/2, so the CRT decode is the true integer.
            frac = (A[int_rows][:, L.RESIDUE] + sign * B[int_rows][:, L.RESIDUE]) % 1.0  # vector algebra, mod 1
            ints = crt_decode(np.rint(frac * PRIME_ARRAY).astype(np.int64) % PRIME_ARRAY)
            results.update(zip(np.flatnonzero(int_rows).tolist(), ints))
        return self._finish(results, values, single)

    def mul(self, a, b) -> np.ndarray:
        """a * b: log channel for the float value, discrete-log channel (mod 1) for the exact integer.

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.mul(enc.encode(-(10**30)), enc.encode(10**30)))
        -1000000000000000000000000000000000000000000000000000000000000
        """
        A, B, single, xa, xb = self._binary(a, b, log=True)
        log_sum = A[:, L.LOG] + B[:, L.LOG]  # magnitude adds, sign phase adds mod 1, zero flag clips
        zero = log_sum[:, 2] >= 1.0
        sign = np.where(np.isclose(log_sum[:, 1] % 1.0, 0.5), -1.0, 1.0)
        with np.errstate(over="ignore"):
            values = np.where(zero, 0.0, sign * np.exp(log_sum[:, 0]))
        est_log10 = np.where(zero, 0.0, log_sum[:, 0] / _LN10)
        int_rows, rat_rows = self._split_exact(xa, xb)
        int_rows &= est_log10 < _EXACT_LOG10_GUARD  # a sound guard: _binary checked the log channels
        results = self._fraction_results(xa, xb, rat_rows, lambda x, y: x * y)
        exact_any = int_rows | np.isin(np.arange(len(values)), list(results))
        # Products past float64 range can only be held by the exact channel, and only within capacity.
        if (~np.isfinite(values) & ~exact_any).any():
            raise ValueError("product exceeds the float64 range of FluxEM's float channels (about 1.8e308)")
        values = np.where(np.isfinite(values), values, 0.0)
        if int_rows.any():
            exp_table, _, bases = tables()
            dlog = (A[int_rows][:, L.DLOG] + B[int_rows][:, L.DLOG]) % 1.0  # vector algebra, mod 1
            k = np.rint(dlog * (PRIME_ARRAY - 1)).astype(np.int64) % (PRIME_ARRAY - 1)
            residues = exp_table[bases[None, :] + k]
            divisible = (A[int_rows][:, L.DZERO] + B[int_rows][:, L.DZERO]) > 0.5
            results.update(zip(np.flatnonzero(int_rows).tolist(), crt_decode(np.where(divisible, 0, residues))))
        # Rows whose product lands past EXACT_LIMIT are re-encoded as not exact.
        return self._finish(results, values, single)

    def div(self, a, b) -> np.ndarray:
        """a / b. Exact when both are exact (an int when b divides a, else a Fraction within capacity).

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.div(enc.encode(10**40), enc.encode(-(10**20))))
        -100000000000000000000
        >>> enc.decode_exact(enc.div(enc.encode(7), enc.encode(2))), enc.decode(enc.div(enc.encode(1), enc.encode(4.0)))
        (Fraction(7, 2), 0.25)
        """
        A, B, single, xa, xb = self._binary(a, b)
        if np.any(B[:, L.LINEAR] == 0.0):  # the channel the quotient comes from (a non-zero value never has 0)
            raise ZeroDivisionError("FluxEM div: division by a zero embedding")
        with np.errstate(over="ignore"):
            values = A[:, L.LINEAR] / B[:, L.LINEAR]
        if np.isinf(values).any():  # exact quotients stay below 1e113: only float ones overflow
            raise ValueError("quotient exceeds the float64 range of FluxEM's float channels (about 1.8e308)")
        int_rows, rat_rows = self._split_exact(xa, xb)
        results = self._fraction_results(xa, xb, int_rows | rat_rows, lambda x, y: x / y)
        return self._finish(results, values, single)


def _check_out(out, shape: tuple) -> None:
    if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape + (L.EMBED_DIM,):
        got = f"{out.dtype} array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be a float64 array of shape {shape + (L.EMBED_DIM,)}, got {got}")
    if not out.flags.writeable:
        raise ValueError("out is read-only; pass a writable float64 array")
