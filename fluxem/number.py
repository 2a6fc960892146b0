"""NumberEncoder: numbers as 128-d vectors in which arithmetic is vector algebra.

Channel layout: see `fluxem.layout`. Exactness policy (documented in the README):

- Python and NumPy integers are exact when abs(n) <= EXACT_LIMIT (10**75).
- A float is exact only when it is integral and abs(x) <= 2**53, where every integer is a float, so
  the float almost surely *means* that integer (2.0 is exact, 1e20 is not: pass int(1e20) for that).
- An operator's result is exact only when all of its inputs are exact and the result is within capacity.
  Exactness never comes back from float arithmetic.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import layout as L
from ._modular import PRIME_ARRAY, crt_decode, tables

_FLOAT_INT_LIMIT = 2.0**53
_LN10 = math.log(10.0)
_INT_FREQ = 2.0 * np.pi / np.array(L.INT_MODULI, dtype=np.float64)
_LOG_FREQ = (2.0 * np.pi / np.array(L.LOG_PERIODS)).astype(np.float32)
_EXACT_LOG10_GUARD = 75.5  # products whose float log10 estimate is below this decode correctly (M/2 > 5e76)


# ----------------------------------------------------------------------------- input handling


def _check_scalar(x) -> None:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError("FluxEM does not encode bools; pass int(x) if you mean 0/1")
    if not isinstance(x, (numbers.Integral, numbers.Real)):
        raise TypeError(f"FluxEM encodes real numbers, got {type(x).__name__}: {x!r}")


def _as_batch(x) -> tuple[np.ndarray, bool]:
    """Return (array of shape (N,), was_scalar). Integer arrays stay int64, big ints become object."""
    if isinstance(x, str) or isinstance(x, bytes):
        raise TypeError(f"FluxEM encodes real numbers, got {type(x).__name__}: {x!r}")
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        _check_scalar(x)
        if isinstance(x, numbers.Integral) and abs(int(x)) >= 2**63:
            return np.array([int(x)], dtype=object), True  # past int64: the per-element big-int path
        return np.asarray([x]), True
    arr = np.asarray(x)
    if arr.dtype == bool:
        raise TypeError("FluxEM does not encode bools; cast to int if you mean 0/1")
    if arr.dtype.kind not in "iufO":
        raise TypeError(f"FluxEM encodes real numbers, got an array of dtype {arr.dtype}")
    was_scalar = arr.ndim == 0
    arr = arr.reshape(-1)
    if arr.dtype.kind == "O":
        for v in arr:
            _check_scalar(v)
    return arr, was_scalar


# ----------------------------------------------------------------------------- channel filling
#
# Speed notes (the benchmark asks for >= 5M int64 numbers/s with every channel filled):
# - residues of int64 inputs come from one float64 matmul: n's four 16-bit limbs times 2**(16k) mod m,
#   every term < 2**34, so the sums are exact; `_float_mod` then reduces them exactly;
# - the discrete logs are one gather from a table that already holds dlog / (p - 1);
# - rows are filled in cache-sized chunks; sin/cos of the bounded features run in float32.

_MODULI = np.array(L.PRIMES + L.INT_MODULI, dtype=np.float64)  # (22,): residues, then feature moduli
_INV_MODULI = 1.0 / _MODULI
_LIMB_POWERS = np.array([[pow(2, 16 * k, int(m)) for m in _MODULI] for k in range(4)], dtype=np.float64)
_NEG_CORRECTION = np.array([(-(2**64)) % int(m) for m in _MODULI], dtype=np.float64)
_K = len(L.PRIMES)
_CHUNK = 8192  # rows per chunk: temporaries stay in cache
_MAX_THREADS = 4


def _float_mod(x: np.ndarray) -> np.ndarray:
    """Exact x mod m for non-negative integer-valued float64 x < 2**40, rows matching _MODULI (22, C).

    x * (1/m) is within 2**-30 of x / m, and a non-zero x mod m puts x / m at least 1/m > 2**-17 away from
    an integer, so floor() is exact once the 2**-20 nudge lifts exact multiples over the rounding error.
    """
    q = x * _INV_MODULI[:, None]
    q += 2.0**-20
    np.floor(q, out=q)
    q *= _MODULI[:, None]
    return np.subtract(x, q, out=q)


def _mods_int64(ints: np.ndarray) -> np.ndarray:
    """(C,) int64 -> (22, C) float64 residues modulo _MODULI (channel-major)."""
    u = ints.view(np.uint64)
    limbs = np.empty((4, len(ints)))
    for k in range(4):
        limbs[k] = (u >> np.uint64(16 * k)) & np.uint64(0xFFFF)
    x = _LIMB_POWERS.T @ limbs  # (22, C), exact: every sum < 4 * 2**32
    x += _NEG_CORRECTION[:, None] * (ints < 0)  # two's complement: n = u - 2**64
    return _float_mod(x)


def _mods_python(n: int) -> list[int]:
    return [n % int(m) for m in _MODULI]


@functools.lru_cache(maxsize=None)
def _dlog_table16() -> np.ndarray:
    """The flat discrete-log table as uint16 (2 MB, so the gather stays in cache); 0 at r = 0."""
    return tables()[1].astype(np.uint16)



# sin/cos(2 pi k / m) for the small feature moduli, as one flat table indexed by k + offset of m.
_PHASE_OFFSETS = np.cumsum((0,) + L.INT_MODULI[:-1]).astype(np.int64)
_PHASE_ANGLES = np.concatenate([2.0 * np.pi * np.arange(m) / m for m in L.INT_MODULI])
_PHASE_SIN, _PHASE_COS = np.sin(_PHASE_ANGLES), np.cos(_PHASE_ANGLES)


def _write_rows(buf, values, mods, exact, int_mask, type_index) -> None:
    """Fill the channels of a zero-filled, channel-major buf (128, C) from values (C,) and mods (22, C)."""
    buf[L.TYPE.start + type_index] = 1.0
    absval = np.abs(values)
    zero = absval == 0
    ln = np.log(np.where(zero, 1.0, absval))
    buf[L.LINEAR] = values / L.LINEAR_SCALE
    buf[L.LOG_MAG] = ln
    buf[L.LOG_SIGN] = (values < 0) * 0.5
    buf[L.LOG_ZERO] = zero
    if exact.any():
        r = mods[:_K]  # (K, C)
        np.divide(r, _MODULI[:_K, None], out=buf[L.RESIDUE])
        dlogs = np.take(_dlog_table16(), r.astype(np.int64) + tables()[2][:, None])  # (K, C) uint16
        np.divide(dlogs, _MODULI[:_K, None] - 1.0, out=buf[L.DLOG])
        np.equal(r, 0, out=buf[L.DZERO])
        buf[L.EXACT] = exact
        if not exact.all():
            buf[L.RESIDUE.start : L.EXACT + 1] *= exact
    _write_features(buf[L.FEATURES], values, ln, zero, mods, int_mask)


def _write_features(feats, values, ln, zero, mods, int_mask) -> None:
    """Bounded network features in [-1, 1] (see layout.FEATURE_*); feats is channel-major (36, C)."""
    log10 = (ln * (1.0 / _LN10)).astype(np.float32)
    feats[L.FEATURE_SIGN] = np.sign(values)
    feats[L.FEATURE_ZERO] = zero
    feats[L.FEATURE_INT] = int_mask
    feats[L.FEATURE_LOGMAG] = np.tanh(log10 * np.float32(0.1))
    angles = _LOG_FREQ[:, None] * log10  # (P, C) float32
    sl = L.FEATURE_LOG_PHASE
    feats[sl.start : sl.stop : 2] = np.sin(angles)
    feats[sl.start + 1 : sl.stop : 2] = np.cos(angles)
    if int_mask.any():
        idx = mods[_K:].astype(np.int64) + _PHASE_OFFSETS[:, None]  # (6, C)
        sl = L.FEATURE_INT_PHASE
        np.take(_PHASE_SIN, idx, out=feats[sl.start : sl.stop : 2])
        np.take(_PHASE_COS, idx, out=feats[sl.start + 1 : sl.stop : 2])
        if not int_mask.all():
            feats[sl] *= int_mask


def _chunk_parts(arr: np.ndarray):
    """(values, mods, exact, int_mask) for one chunk of any supported dtype."""
    n = len(arr)
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or arr.size == 0 or arr.max() < 2**63):
        ints = arr.astype(np.int64, copy=False)
        ones = np.ones(n, dtype=bool)
        return ints.astype(np.float64), _mods_int64(ints), ones, ones
    if arr.dtype.kind == "f":
        values = arr.astype(np.float64, copy=False)
        return (values, *_integral_float_parts(values))
    return _object_parts(arr)


def _integral_float_parts(values: np.ndarray):
    """Floats that are integral with abs <= 2**53 are exact integers; others are not."""
    with np.errstate(invalid="ignore"):
        ok = (np.abs(values) <= _FLOAT_INT_LIMIT) & (values == np.trunc(values))
    mods = np.zeros((len(_MODULI), len(values)))
    if ok.any():
        mods[:, ok] = _mods_int64(values[ok].astype(np.int64))
    return mods, ok, ok.copy()


def _object_parts(items: np.ndarray):
    """Per-element path for Python big ints and mixed object arrays."""
    n = len(items)
    values = np.empty(n)
    mods = np.zeros((len(_MODULI), n))
    int_mask = np.zeros(n, dtype=bool)
    exact = np.zeros(n, dtype=bool)
    for i, x in enumerate(items):
        if isinstance(x, numbers.Integral):
            x = int(x)
            values[i] = _int_to_float(x)
            int_mask[i] = True
            exact[i] = abs(x) <= L.EXACT_LIMIT
            mods[:, i] = _mods_python(x)
        else:
            values[i] = float(x)
    floats = ~int_mask
    if floats.any():
        f_mods, f_ok, _ = _integral_float_parts(values[floats])
        mods[:, floats], exact[floats], int_mask[floats] = f_mods, f_ok, f_ok
    return values, mods, exact, int_mask


def _int_to_float(x: int) -> float:
    try:
        return float(x)
    except OverflowError:
        raise ValueError(
            f"integer with {len(str(abs(x)))} digits exceeds the float64 range of FluxEM's float channels "
            "(about 1.8e308)"
        ) from None


def _check_finite(values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"FluxEM cannot encode {bad}: only finite numbers have embeddings")


def _encode_array(arr: np.ndarray, type_index: int = L.TYPE_NUMBER) -> np.ndarray:
    """(N,) numbers -> (N, 128), filled chunk by chunk.

    The result is the transpose of a C-ordered (128, N) array (Fortran order): every channel is then one
    contiguous run, which makes batch encoding several times faster than row-major filling. It is an
    ordinary (N, 128) ndarray; use np.ascontiguousarray() if you need row-contiguous memory.
    """
    if arr.dtype.kind == "f":
        _check_finite(arr)
    out = np.zeros((L.EMBED_DIM, len(arr)))  # (128, N); zero pages come free from the OS

    def fill(start: int) -> None:
        values, mods, exact, int_mask = _chunk_parts(arr[start : start + _CHUNK])
        _check_finite(values)
        _write_rows(out[:, start : start + _CHUNK], values, mods, exact, int_mask, type_index)

    starts = range(0, len(arr), _CHUNK)
    workers = min(len(starts), os.cpu_count() or 1, _MAX_THREADS)
    if workers > 1 and arr.dtype.kind != "O":  # NumPy releases the GIL; chunks write disjoint columns
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, starts))
    else:
        for start in starts:
            fill(start)
    return out.T


def _encode_ints(ints: list[int]) -> np.ndarray:
    """Encode a list of Python ints (the operators' re-derivation step)."""
    arr = np.empty(len(ints), dtype=object)
    arr[:] = ints
    return _encode_array(arr)


def _encode_float_results(values: np.ndarray) -> np.ndarray:
    """Encode results of float arithmetic: never exact (exactness never comes back from floats)."""
    _check_finite(values)
    n = len(values)
    out = np.zeros((L.EMBED_DIM, n))
    none = np.zeros(n, dtype=bool)
    _write_rows(out, values, np.zeros((len(_MODULI), n)), none, none, L.TYPE_NUMBER)
    return out.T


# ----------------------------------------------------------------------------- the encoder


def _check_embeddings(e, name: str = "embedding") -> tuple[np.ndarray, bool]:
    arr = np.asarray(e, dtype=np.float64)
    if arr.shape[-1:] != (L.EMBED_DIM,) or arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (128,) or (N, 128), got {arr.shape}")
    single = arr.ndim == 1
    arr = arr.reshape(-1, L.EMBED_DIM)
    if not np.all(arr[:, L.TYPE.start + L.TYPE_NUMBER] == 1.0):
        raise ValueError(f"{name} is not a number embedding (type tag); use QuantityEncoder for quantities")
    return arr, single


def _residues_of(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr[:, L.RESIDUE] * PRIME_ARRAY).astype(np.int64) % PRIME_ARRAY


def _exact_rows(arr: np.ndarray) -> np.ndarray:
    return arr[:, L.EXACT] > 0.5


class NumberEncoder:
    """Deterministic, parameter-free encoder of numbers into 128-d FluxEM vectors.

    >>> enc = NumberEncoder()
    >>> enc.decode_int(enc.mul(enc.encode(123456789), enc.encode(987654321)))
    121932631112635269
    >>> enc.decode(enc.add(enc.encode(2.5), enc.encode(-1)))
    1.5
    """

    dim = L.EMBED_DIM

    def encode(self, x) -> np.ndarray:
        """Encode a number (-> (128,)) or any array-like of numbers (-> (N, 128)).

        >>> NumberEncoder().encode([1, 2.5, -3e9]).shape
        (3, 128)
        """
        arr, was_scalar = _as_batch(x)
        out = _encode_array(arr)
        return out[0] if was_scalar else out

    def decode(self, e) -> float | np.ndarray:
        """The float value held by the linear channel.

        >>> NumberEncoder().decode(NumberEncoder().encode(-0.125))
        -0.125
        """
        arr, single = _check_embeddings(e)
        values = arr[:, L.LINEAR] * L.LINEAR_SCALE
        return float(values[0]) if single else values

    def is_exact(self, e) -> bool | np.ndarray:
        """True where the exact-integer channel holds the value's integer within capacity.

        >>> enc = NumberEncoder()
        >>> enc.is_exact(enc.encode(10**75)), enc.is_exact(enc.encode(10**75 + 1)), enc.is_exact(enc.encode(0.5))
        (True, False, False)
        """
        arr, single = _check_embeddings(e)
        exact = _exact_rows(arr)
        return bool(exact[0]) if single else exact

    def decode_int(self, e) -> int | list[int]:
        """The exact Python int (list of ints for a batch), by the Chinese remainder theorem.

        Raises ValueError if any row is not exact (non-integer, or past capacity).

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.encode(-(10**60) + 7))
        -999999999999999999999999999999999999999999999999999999999993
        """
        arr, single = _check_embeddings(e)
        exact = _exact_rows(arr)
        if not exact.all():
            i = int(np.flatnonzero(~exact)[0])
            raise ValueError(
                f"row {i} is not an exact integer (value ~ {arr[i, L.LINEAR]:.6g}); FluxEM holds integers "
                f"exactly only up to 10**75 in absolute value - use decode() for the float value"
            )
        ints = crt_decode(_residues_of(arr))
        return ints[0] if single else ints

    # ------------------------------------------------------------------------- operators

    def _binary(self, a, b):
        A, single_a = _check_embeddings(a, "a")
        B, single_b = _check_embeddings(b, "b")
        if len(A) != len(B) and len(A) != 1 and len(B) != 1:
            raise ValueError(f"batch sizes differ: {len(A)} vs {len(B)}")
        A, B = np.broadcast_arrays(A, B)
        return A, B, single_a and single_b

    def _finish(self, exact, ints_fn, float_values, single):
        """Re-derive every channel: exact rows from their integers, the rest from float values."""
        out = _encode_float_results(float_values)
        if exact.any():
            ints = ints_fn(exact)
            out[exact] = _encode_ints(ints)
        return out[0] if single else out

    def add(self, a, b) -> np.ndarray:
        """a + b: linear channel for the float value, residue channel (mod 1) for the exact integer.

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
        A, B, single = self._binary(a, b)
        values = (A[:, L.LINEAR] + sign * B[:, L.LINEAR]) * L.LINEAR_SCALE
        # Both inputs within 1e75 => abs(result) <= 2e75 < M/2, so the CRT decode is the true integer.
        exact = _exact_rows(A) & _exact_rows(B)

        def ints(rows):
            frac = (A[rows][:, L.RESIDUE] + sign * B[rows][:, L.RESIDUE]) % 1.0  # vector algebra, mod 1
            return crt_decode(np.rint(frac * PRIME_ARRAY).astype(np.int64) % PRIME_ARRAY)

        return self._finish(exact, ints, values, single)

    def mul(self, a, b) -> np.ndarray:
        """a * b: log channel for the float value, discrete-log channel (mod 1) for the exact integer.

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.mul(enc.encode(-(10**30)), enc.encode(10**30)))
        -1000000000000000000000000000000000000000000000000000000000000
        """
        A, B, single = self._binary(a, b)
        log_sum = A[:, L.LOG] + B[:, L.LOG]  # magnitude adds, sign phase adds mod 1, zero flag clips
        zero = log_sum[:, 2] >= 1.0
        sign = np.where(np.isclose(log_sum[:, 1] % 1.0, 0.5), -1.0, 1.0)
        with np.errstate(over="ignore"):
            values = np.where(zero, 0.0, sign * np.exp(log_sum[:, 0]))
        est_log10 = np.where(zero, 0.0, log_sum[:, 0] / _LN10)
        exact = _exact_rows(A) & _exact_rows(B) & (est_log10 < _EXACT_LOG10_GUARD)
        # Products past float64 range can only be held by the exact channel, and only within capacity.
        overflow = ~np.isfinite(values) & ~exact
        if overflow.any():
            raise ValueError("product exceeds the float64 range of FluxEM's float channels (about 1.8e308)")
        values = np.where(np.isfinite(values), values, 0.0)

        def ints(rows):
            exp_table, _, bases = tables()
            dlog = (A[rows][:, L.DLOG] + B[rows][:, L.DLOG]) % 1.0  # vector algebra, mod 1
            k = np.rint(dlog * (PRIME_ARRAY - 1)).astype(np.int64) % (PRIME_ARRAY - 1)
            residues = exp_table[bases[None, :] + k]
            divisible = (A[rows][:, L.DZERO] + B[rows][:, L.DZERO]) > 0.5
            return crt_decode(np.where(divisible, 0, residues))

        # Rows whose product lands past EXACT_LIMIT are re-encoded as not exact by _encode_ints.
        return self._finish(exact, ints, values, single)

    def div(self, a, b) -> np.ndarray:
        """a / b. Exact when both are exact integers and b divides a; otherwise a float result.

        >>> enc = NumberEncoder()
        >>> enc.decode_int(enc.div(enc.encode(10**40), enc.encode(-(10**20))))
        -100000000000000000000
        >>> enc.decode(enc.div(enc.encode(1), enc.encode(4)))
        0.25
        """
        A, B, single = self._binary(a, b)
        if np.any(B[:, L.LOG_ZERO] > 0.5):
            raise ZeroDivisionError("FluxEM div: division by a zero embedding")
        values = A[:, L.LINEAR] / B[:, L.LINEAR]
        both = _exact_rows(A) & _exact_rows(B)
        quotients = {}  # row -> exact integer quotient, where b divides a
        if both.any():
            rows = np.flatnonzero(both)
            num, den = crt_decode(_residues_of(A[rows])), crt_decode(_residues_of(B[rows]))
            quotients = {int(i): n // d for i, n, d in zip(rows, num, den) if n % d == 0}
        exact = np.zeros(len(values), dtype=bool)
        exact[list(quotients)] = True
        return self._finish(exact, lambda rows: [quotients[int(i)] for i in np.flatnonzero(rows)], values, single)
