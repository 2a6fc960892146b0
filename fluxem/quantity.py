"""QuantityEncoder: physical quantities and units in the same 128-d layout as numbers.

A quantity's float channels hold its value in SI base units (a temperature point in kelvin); the DIMS
channel holds the 7 SI exponents, OFFSET flags an affine temperature scale (degC, degF) and the network
features repeat both in bounded form. A unit embedding holds the unit's factor to SI in the same
channels, and its additive offset in UNIT_OFF.

Conventions (the same as pint's):
- converting a temperature *point* applies the offset: 100 degC -> 373.15 K -> 212 degF;
- `can_add` means "same dimension vector" (docs/design.md §6): True for 20 degC and 5 K, False for 3 kg and 20 m;
  `add`/`sub` check the same thing and then apply pint's offset rules (below), which refuse 20 degC + 5 K;
- `mul`/`div` of an offset temperature is refused (ValueError): convert it to K first.

Temperature points and differences. The OFFSET channel is +1 for a point on an offset scale (degC,
degF), -1 for a difference on one (delta_degC, delta_degF, or point - point) and 0 otherwise (K, degR
and every other unit). Conversions follow pint: a difference never converts to degC/degF and a point
never to delta_degC/delta_degF (ValueError); K and degR convert to both. `add` and `sub` follow pint's
offset rules, in SI (kelvin) values:

| a op b         | point (degC)       | difference (delta_degC) | absolute (K) |
|----------------|--------------------|-------------------------|--------------|
| point  +       | error (ambiguous)  | point                   | error (ambiguous) |
| point  -       | difference         | point                   | difference   |
| difference +   | point              | difference              | absolute     |
| difference -   | error (see below)  | difference              | absolute     |
| absolute +     | error (ambiguous)  | absolute                | absolute     |
| absolute -     | absolute           | absolute                | absolute     |

One departure: pint computes difference - point (5 delta_degC - 20 degC = -15 degC) by subtracting
magnitudes in the point's unit, which gives another answer in degF; FluxEM refuses it.

The exact-integer channel is for numbers; quantities leave it empty (`EXACT` = 0), so quantity
vectors hold float SI values.

Every entry point validates its vectors (`_check`) and raises a one-line ValueError for anything the
encoders do not write: a type tag that is not exactly one-hot ([1, 1, 0, 0] is the raw sum of a
number and a quantity, [0, 2, 0, 0] of two quantities), a kind the operation does not take, a
non-finite channel, dimension exponents that are not integers within +-MAX_EXPONENT (the parser's
range, 12), an OFFSET flag other than -1, 0, +1 or one outside temperatures, and channels that disagree
with the value in the linear channel (log magnitude, sign, zero flag, bounded features). Raw sums
fail the tag (its entries add up); combinations that keep a one-hot tag, such as a + b - c, fail the
agreement, because the log channel and the features are not linear in the value. What cannot be told
apart is a combination that equals an encoder output channel for channel (x + 1 s - 1 kg is the
vector of x m*s/kg, because a value of 1 adds nothing to any channel); that vector is then read as
the quantity it is. For exact conversions of exact inputs (values read from text) use
`convert_exact`, which works on the value and the unit strings.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from . import layout as L
from .number import (NumberEncoder, _check_finite, _decimal_feature_rows, _decimal_features, _encode_float_results,
                     _real_embeddings)
from .units import KINDS, MAX_EXPONENT, Unit, convert_exact, parse_unit

_QUANTITY_OR_UNIT = (L.TYPE_QUANTITY, L.TYPE_UNIT)
POINT, DIFFERENCE, ABSOLUTE = 1.0, -1.0, 0.0  # OFFSET channel values, see the module docstring
_TEMPERATURE = (0, 0, 0, 0, 1, 0, 0)


def _flag(unit: Unit) -> float:
    return POINT if unit.is_offset else DIFFERENCE if unit.is_delta else ABSOLUTE


def _rows(si_values, unit: Unit, type_index: int) -> np.ndarray:
    """(N,) SI values of one unit -> (N, 128) quantity (or unit) rows."""
    n = len(np.atleast_1d(si_values))
    dims = np.broadcast_to(np.array(unit.dimensions, dtype=np.float64), (n, 7))
    out = _rows_of(si_values, dims, np.full(n, _flag(unit)), type_index)
    if type_index == L.TYPE_UNIT:
        out[:, L.UNIT_OFF] = unit.offset
    return out


def _rows_of(si_values, dims: np.ndarray, flags: np.ndarray, type_index: int) -> np.ndarray:
    """(N,) SI values, (N, 7) dimension exponents and (N,) OFFSET flags -> (N, 128) rows."""
    out = np.array(_encode_float_results(np.asarray(si_values, dtype=np.float64).reshape(-1)))  # (N, 128)
    out[:, L.TYPE] = 0.0
    out[:, L.TYPE.start + type_index] = 1.0
    out[:, L.DIMS] = dims
    out[:, L.OFFSET] = flags
    feats = out[:, L.FEATURES]
    feats[:, L.FEATURE_DIMS] = np.tanh(dims / 2.0)
    feats[:, L.FEATURE_OFFSET] = flags
    return out


def _flags_of(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr[:, L.OFFSET])  # (N,) of POINT, DIFFERENCE, ABSOLUTE


def _check(e, kinds=_QUANTITY_OR_UNIT, name: str = "embedding") -> tuple[np.ndarray, bool]:
    """-> (rows (N, 128), single). ValueError, one line, unless every row is a vector of one of `kinds`
    as the encoders write it (see the module docstring). TypeError for complex input."""
    arr = _real_embeddings(e, name)
    if arr.shape[-1:] != (L.EMBED_DIM,) or arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (128,) or (N, 128), got {arr.shape}")
    single = arr.ndim == 1
    arr = arr.reshape(-1, L.EMBED_DIM)
    if len(arr) <= _SMALL_BATCH:  # one row is the common case: plain Python floats are ~10x faster
        rows = range(len(arr))
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            rows = np.flatnonzero(_bad_rows(arr, kinds)).tolist()
    for i in rows:
        why = _row_problem(arr[i].tolist(), kinds)
        if why is not None:
            raise ValueError(f"{name} {why}" if single else f"{name} (row {i}) {why}")
    return arr, single


_SMALL_BATCH = 8
_LOG_TOLERANCE = 1e-9  # relative: the ulps between the scalar and batch encoders, far below a raw sum's error
_FEATURE_TOLERANCE = 1e-6  # float32 room for the features; mantissa digits are 2/9 apart, so read exactly
_TYPE_NAMES = L.TYPE_NAMES + ("reserved",)
_OPERATORS_HINT = "Combine quantities with q.add / q.sub / q.mul / q.div"
_F_SIGN, _F_ZERO = (L.FEATURES.start + f for f in (L.FEATURE_SIGN, L.FEATURE_ZERO))
_F_DECIMAL = slice(L.FEATURES.start + L.FEATURE_EXPONENT, L.FEATURES.start + L.FEATURE_MANTISSA.stop)  # 13 dims
_F_DIMS = slice(L.FEATURES.start + L.FEATURE_DIMS.start, L.FEATURES.start + L.FEATURE_DIMS.stop)
_F_OFFSET = L.FEATURES.start + L.FEATURE_OFFSET


def _row_problem(r: list[float], kinds) -> str | None:
    """What is wrong with one row (a list of 128 floats) for an operation on `kinds`, or None. The
    reference for `_bad_rows`, which finds the same rows in large batches."""
    tag = r[L.TYPE]
    if any(t != 0.0 and t != 1.0 for t in tag) or sum(tag) != 1.0:
        return (f"has type tag {tag}, not one-hot: a raw vector sum, difference or multiple? "
                f"{_OPERATORS_HINT}, not raw + or *")
    kind = tag.index(1.0)
    if kind not in kinds:
        return f"is a {_TYPE_NAMES[kind]} embedding, not a {' or '.join(L.TYPE_NAMES[k] for k in kinds)} embedding"
    dims = r[L.DIMS]
    if not all(math.isfinite(d) and abs(d) <= MAX_EXPONENT and d == int(d) for d in dims):
        return f"has dimension exponents {dims}: not integers within +-{MAX_EXPONENT}"
    channel = next((c for c, x in enumerate(r) if not math.isfinite(x)), None)
    if channel is not None:
        name = next(n for n, start, stop in L.channel_table() if start <= channel < stop)
        return f"has {r[channel]} in channel {channel} ({name}); pass vectors from QuantityEncoder"
    flag, unit_off = r[L.OFFSET], r[L.UNIT_OFF]
    if (flag not in (POINT, DIFFERENCE, ABSOLUTE) or (flag != ABSOLUTE and tuple(dims) != _TEMPERATURE)
            or ((flag == POINT) != (unit_off != 0.0) if kind == L.TYPE_UNIT else unit_off != 0.0)
            or (kind == L.TYPE_NUMBER and (any(dims) or flag != ABSOLUTE))):  # fmt: skip
        return f"has OFFSET flag {flag:g} and unit offset {unit_off:g} with dimensions {dims}: not a valid combination"
    value = r[L.LINEAR] * L.LINEAR_SCALE
    zero = value == 0.0
    ln = math.log(abs(value)) if not zero else 0.0
    if (r[L.LOG_ZERO] != zero or r[L.LOG_SIGN] != (0.5 if value < 0 else 0.0)
            or abs(r[L.LOG_MAG] - ln) > _LOG_TOLERANCE * max(1.0, abs(ln))
            or r[_F_SIGN] != (value > 0) - (value < 0) or r[_F_ZERO] != zero
            or any(abs(f - g) > _FEATURE_TOLERANCE for f, g in zip(r[_F_DECIMAL], _decimal_features(value)))
            or any(abs(f - math.tanh(d / 2.0)) > _FEATURE_TOLERANCE for f, d in zip(r[_F_DIMS], dims))
            or r[_F_OFFSET] != flag or (kind == L.TYPE_UNIT and not value > 0.0)):  # fmt: skip
        return ("has channels that disagree with its value (log magnitude, sign, exponent/mantissa or features): "
                "a raw combination? "
                + _OPERATORS_HINT)
    return None


def _bad_rows(arr: np.ndarray, kinds) -> np.ndarray:
    """(N,) True where `_row_problem` finds a problem, for batches: the same checks on whole columns."""
    tags = arr[:, L.TYPE]
    bad = ~np.all((tags == 0.0) | (tags == 1.0), axis=1) | (tags.sum(axis=1) != 1.0)
    allowed = np.zeros(len(_TYPE_NAMES), dtype=bool)
    allowed[list(kinds)] = True
    kind = np.argmax(tags, axis=1)
    bad |= ~allowed[kind]
    dims = arr[:, L.DIMS]
    bad |= ~np.all(np.isfinite(arr), axis=1) | ~np.all((dims == np.rint(dims)) & (np.abs(dims) <= MAX_EXPONENT), axis=1)
    flags, unit_off = arr[:, L.OFFSET], arr[:, L.UNIT_OFF]
    is_number, is_unit = kind == L.TYPE_NUMBER, kind == L.TYPE_UNIT
    temperature = np.all(dims == np.array(_TEMPERATURE), axis=1)
    bad |= ((flags != POINT) & (flags != DIFFERENCE) & (flags != ABSOLUTE)) | ((flags != ABSOLUTE) & ~temperature)
    bad |= np.where(is_unit, (flags == POINT) != (unit_off != 0.0), unit_off != 0.0)
    bad |= is_number & (np.any(dims != 0.0, axis=1) | (flags != ABSOLUTE))
    value = arr[:, L.LINEAR] * L.LINEAR_SCALE
    zero = value == 0.0
    ln = np.log(np.where(zero, 1.0, np.abs(value)))
    bad |= (arr[:, L.LOG_ZERO] != zero) | (arr[:, L.LOG_SIGN] != np.where(value < 0, 0.5, 0.0))
    bad |= np.abs(arr[:, L.LOG_MAG] - ln) > _LOG_TOLERANCE * np.maximum(1.0, np.abs(ln))
    bad |= (arr[:, _F_SIGN] != np.sign(value)) | (arr[:, _F_ZERO] != zero)
    bad |= np.any(np.abs(arr[:, _F_DECIMAL] - _decimal_feature_rows(value)) > _FEATURE_TOLERANCE, axis=1)
    bad |= np.any(np.abs(arr[:, _F_DIMS] - np.tanh(dims / 2.0)) > _FEATURE_TOLERANCE, axis=1)
    bad |= (arr[:, _F_OFFSET] != flags) | (is_unit & ~(value > 0.0))
    return bad


def _dims_of(arr: np.ndarray) -> np.ndarray:
    return arr[:, L.DIMS].astype(np.int64)  # (N, 7); exact: _check admits only integers within +-MAX_EXPONENT


class QuantityEncoder:
    """Encode quantities (value + unit) and units; convert, compare dimensions, add, subtract, multiply, divide.

    >>> q = QuantityEncoder()
    >>> v = q.encode(3.5, "km")
    >>> q.convert(v, "m"), q.dimensions(v), q.can_add(v, q.encode(2, "mi"))
    (3500.0, (1, 0, 0, 0, 0, 0, 0), True)
    >>> round(q.convert(q.encode(100, "°C"), "degF"), 9)
    212.0
    """

    dim = L.EMBED_DIM

    def encode(self, value, unit: str | Unit) -> np.ndarray:
        """A quantity: (128,) for a scalar value, (N, 128) for an array-like of values in one unit.

        >>> QuantityEncoder().encode([1, 2], "kg").shape
        (2, 128)
        """
        u = unit if isinstance(unit, Unit) else parse_unit(unit)
        number = NumberEncoder().encode(value)  # validates types, NaN and inf
        single = number.ndim == 1
        values = np.atleast_2d(number)[:, L.LINEAR] * L.LINEAR_SCALE
        with np.errstate(over="ignore", under="ignore"):
            scaled = values * u.factor
            si = scaled + u.offset
        bad = ~np.isfinite(si) | ((scaled == 0.0) & (values != 0.0))  # overflow, or a non-zero value lost
        if bad.any():
            i = int(np.argmax(bad))
            where = "" if single else f" (row {i})"
            problem = "underflows to 0" if np.isfinite(si[i]) else "is beyond the float range"
            raise ValueError(f"{float(values[i])!r} {u.symbol}{where}: its SI value {problem}; use another unit or "
                             "a value nearer 1")
        out = _rows(si, u, L.TYPE_QUANTITY)
        return out[0] if single else out

    def encode_unit(self, unit: str | Unit) -> np.ndarray:
        """A bare unit (type tag "unit"): its factor to SI in the float channels, offset in UNIT_OFF.

        >>> e = QuantityEncoder().encode_unit("km/h")
        >>> QuantityEncoder().dimensions(e)
        (1, 0, -1, 0, 0, 0, 0)
        """
        u = unit if isinstance(unit, Unit) else parse_unit(unit)
        return _rows([u.factor], u, L.TYPE_UNIT)[0]

    def si_value(self, e) -> float | np.ndarray:
        """The value in SI base units (kelvin for temperatures).

        >>> QuantityEncoder().si_value(QuantityEncoder().encode(2, "min"))
        120.0
        """
        arr, single = _check(e, (L.TYPE_QUANTITY,))
        values = arr[:, L.LINEAR] * L.LINEAR_SCALE
        return float(values[0]) if single else values

    def convert(self, e, unit: str | Unit) -> float | np.ndarray:
        """The value of quantity e expressed in `unit`, in float arithmetic (see `convert_exact`).

        ValueError if the dimensions differ, or for a temperature difference to degC/degF or a point to
        delta_degC/delta_degF (pint's rule).

        >>> round(QuantityEncoder().convert(QuantityEncoder().encode(60, "mph"), "km/h"), 9)
        96.56064
        """
        u = unit if isinstance(unit, Unit) else parse_unit(unit)
        arr, single = _check(e, (L.TYPE_QUANTITY,))
        bad = np.any(_dims_of(arr) != np.array(u.dimensions), axis=1)
        if bad.any():
            have = tuple(int(d) for d in _dims_of(arr[bad])[0])
            raise ValueError(
                f"cannot convert a quantity with dimensions {have} to {u.symbol!r} {u.dimensions}; "
                "use can_add() to check first"
            )
        flags = _flags_of(arr)
        if u.is_offset and np.any(flags == DIFFERENCE):
            raise ValueError(f"cannot convert a temperature difference to a temperature point ({u.symbol!r}); "
                             "use 'K', 'delta_degC' or 'delta_degF', or add the difference to a point")
        if u.is_delta and np.any(flags == POINT):
            raise ValueError(f"cannot convert a temperature point to a temperature difference ({u.symbol!r}); "
                             "subtract another point to get a difference, or convert to 'K'")
        values = (arr[:, L.LINEAR] * L.LINEAR_SCALE - u.offset) / u.factor
        return float(values[0]) if single else values

    @staticmethod
    def convert_exact(value, from_unit: str | Unit, to_unit: str | Unit) -> Fraction:
        """The exact value of `value` `from_unit` in `to_unit` (`fluxem.units.convert_exact`).

        For exact inputs (int, Fraction, Decimal; a span's `Span.exact`) the answer is exact, offsets
        included, so `fluxem.format_value` rounds the true value. Same rules as `convert`.

        >>> import fluxem
        >>> fluxem.format_value(QuantityEncoder.convert_exact(32, "degF", "degC"))
        '0'
        """
        return convert_exact(value, from_unit, to_unit)

    def dimensions(self, e) -> tuple[int, ...] | list[tuple[int, ...]]:
        """The SI exponents (L, M, T, I, Θ, N, J) of a quantity or unit embedding."""
        arr, single = _check(e)
        dims = [tuple(int(d) for d in row) for row in _dims_of(arr)]
        return dims[0] if single else dims

    def can_add(self, a, b) -> bool | np.ndarray:
        """True where a and b have the same dimension vector (quantities or units).

        >>> q = QuantityEncoder()
        >>> q.can_add(q.encode(3, "kg"), q.encode(20, "lb")), q.can_add(q.encode(3, "kg"), q.encode(3, "m"))
        (True, False)
        """
        A, single_a = _check(a, name="a")
        B, single_b = _check(b, name="b")
        same = np.all(_dims_of(A) == _dims_of(B), axis=1)
        return bool(same[0]) if single_a and single_b else same

    def add(self, a, b) -> np.ndarray:
        """a + b for quantities of the same dimensions (linear channel, SI values), pint's offset rules.

        The result holds its value in SI base units (kelvin for temperatures); read it in any unit with
        `convert`. ValueError names both dimension vectors when they differ, and refuses point + point
        of an offset scale (20 degC + 5 degC is ambiguous): see the module docstring's table.

        >>> q = QuantityEncoder()
        >>> q.convert(q.add(q.encode(3, "km"), q.encode(500, "m")), "km")
        3.5
        >>> q.convert(q.add(q.encode(20, "degC"), q.encode(5, "delta_degC")), "degC")
        25.0
        """
        return self._sum(a, b, +1)

    def sub(self, a, b) -> np.ndarray:
        """a - b for quantities of the same dimensions; a point minus a point is a difference.

        >>> q = QuantityEncoder()
        >>> d = q.sub(q.encode(20, "degC"), q.encode(5, "degC"))
        >>> round(q.convert(d, "delta_degC"), 9), round(q.convert(d, "delta_degF"), 9)
        (15.0, 27.0)
        """
        return self._sum(a, b, -1)

    def _sum(self, a, b, sign: int) -> np.ndarray:
        A, single_a = _check(a, (L.TYPE_QUANTITY,), "a")
        B, single_b = _check(b, (L.TYPE_QUANTITY,), "b")
        A, B = np.broadcast_arrays(A, B)
        dims_a, dims_b = _dims_of(A), _dims_of(B)
        bad = np.any(dims_a != dims_b, axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            da, db = tuple(int(d) for d in dims_a[i]), tuple(int(d) for d in dims_b[i])
            raise ValueError(f"cannot {'add' if sign > 0 else 'subtract'} quantities of different dimensions: "
                             f"a has {da} ({_kind(da)}), b has {db} ({_kind(db)}); use can_add() to check first")
        flags = _combine_flags(_flags_of(A), _flags_of(B), sign)
        with np.errstate(over="ignore", invalid="ignore"):
            si = A[:, L.LINEAR] * L.LINEAR_SCALE + sign * (B[:, L.LINEAR] * L.LINEAR_SCALE)  # one rounding
        if not np.all(np.isfinite(si)):
            raise ValueError("QuantityEncoder.add/sub: the result overflows the float range")
        out = _rows_of(si, dims_a.astype(np.float64), flags, L.TYPE_QUANTITY)
        return out[0] if single_a and single_b else out

    def mul(self, a, b) -> np.ndarray:
        """a * b for quantities (or a number and a quantity): log channels add, dimensions add.

        >>> q = QuantityEncoder()
        >>> p = q.mul(q.encode(5, "m/s"), q.encode(3, "s"))
        >>> round(q.convert(p, "m"), 9), q.dimensions(p)
        (15.0, (1, 0, 0, 0, 0, 0, 0))
        """
        return self._product(a, b, +1)

    def div(self, a, b) -> np.ndarray:
        """a / b for quantities: log channels subtract, dimensions subtract.

        >>> q = QuantityEncoder()
        >>> round(q.convert(q.div(q.encode(12, "m"), q.encode(3, "s")), "m/s"), 9)
        4.0
        """
        return self._product(a, b, -1)

    def _product(self, a, b, sign: int) -> np.ndarray:
        kinds = (L.TYPE_NUMBER, L.TYPE_QUANTITY)
        A, single_a = _check(a, kinds, "a")
        B, single_b = _check(b, kinds, "b")
        if np.any(A[:, L.OFFSET] > 0.5) or np.any(B[:, L.OFFSET] > 0.5):
            raise ValueError("cannot multiply or divide an offset temperature (degC, degF); convert it to K first")
        if sign < 0 and np.any(B[:, L.LOG_ZERO] > 0.5):
            raise ZeroDivisionError("QuantityEncoder.div: division by a zero quantity")
        A, B = np.broadcast_arrays(A, B)
        zero = (A[:, L.LOG_ZERO] + B[:, L.LOG_ZERO]) > 0.5
        negative = np.isclose((A[:, L.LOG_SIGN] + B[:, L.LOG_SIGN]) % 1.0, 0.5)
        with np.errstate(over="ignore"):
            mag = np.exp(A[:, L.LOG_MAG] + sign * B[:, L.LOG_MAG])  # the log channel does the product
        si = np.where(zero, 0.0, np.where(negative, -mag, mag))
        _check_finite(si)
        dims = _dims_of(A) + sign * _dims_of(B)  # (N, 7)
        if np.any(np.abs(dims) > MAX_EXPONENT):
            i = int(np.argmax(np.any(np.abs(dims) > MAX_EXPONENT, axis=1)))
            raise ValueError(f"QuantityEncoder.{'mul' if sign > 0 else 'div'}: the result's dimension exponents "
                             f"{tuple(int(d) for d in dims[i])} are beyond +-{MAX_EXPONENT}")
        # 2 * (5 delta_degC) is still a difference (pint keeps delta_degC); anything else is absolute.
        is_difference = (_flags_of(A) == DIFFERENCE) | (_flags_of(B) == DIFFERENCE)
        temperature = np.all(dims == np.array(_TEMPERATURE), axis=1)
        flags = np.where(is_difference & temperature, DIFFERENCE, ABSOLUTE)
        out = _rows_of(si, dims.astype(np.float64), flags, L.TYPE_QUANTITY)
        return out[0] if single_a and single_b else out


def _kind(dims: tuple[int, ...]) -> str:
    return next((k for k, v in KINDS.items() if v == dims), "no named kind")


def _combine_flags(fa: np.ndarray, fb: np.ndarray, sign: int) -> np.ndarray:
    """OFFSET flags of a + b (sign +1) or a - b (sign -1), per pint; ValueError for the refused cases."""
    point_a, point_b = fa == POINT, fb == POINT
    diff_a, diff_b = fa == DIFFERENCE, fb == DIFFERENCE
    if sign > 0:
        if np.any(point_a & point_b):
            raise ValueError("cannot add two temperature points on an offset scale (20 degC + 5 degC is "
                             "ambiguous); write the second as a difference (delta_degC) or convert both to K")
        if np.any((point_a & ~diff_b) | (point_b & ~diff_a)):
            raise ValueError("cannot add a temperature point (degC, degF) and an absolute temperature (K, degR): "
                             "it is ambiguous; write the second as a difference (delta_degC) or convert both to K")
        # point + difference or difference + point -> point; difference + difference -> difference
        return np.where(point_a | point_b, POINT, np.where(diff_a & diff_b, DIFFERENCE, ABSOLUTE))
    if np.any(diff_a & point_b):
        raise ValueError("cannot subtract a temperature point from a temperature difference; "
                         "subtract the difference from the point instead")
    # point - point -> difference; point - difference -> point; point - K -> difference (K is absolute)
    out = np.where(point_a & diff_b, POINT, np.where(point_a, DIFFERENCE, ABSOLUTE))
    return np.where(diff_a & diff_b, DIFFERENCE, out)
