"""QuantityEncoder: physical quantities and units in the same 128-d layout as numbers.

A quantity's float channels hold its value in SI base units (a temperature point in kelvin); the DIMS
channel holds the 7 SI exponents, OFFSET flags an affine temperature scale (degC, degF) and the network
features repeat both in bounded form. A unit embedding holds the unit's factor to SI in the same
channels, and its additive offset in UNIT_OFF.

Conventions (the same as pint's):
- converting a temperature *point* applies the offset: 100 degC -> 373.15 K -> 212 degF;
- `can_add` means "same dimension vector": 20 degC and 5 K can be added, 3 kg and 20 m cannot;
- `mul`/`div` of an offset temperature is refused (ValueError): convert it to K first.
The exact-integer channel is for numbers; quantities leave it empty (`EXACT` = 0).
"""

from __future__ import annotations

import numpy as np

from . import layout as L
from .number import NumberEncoder, _check_finite, _encode_float_results
from .units import Unit, canonical_si_unit, parse_unit

_QUANTITY_OR_UNIT = (L.TYPE_QUANTITY, L.TYPE_UNIT)


def _rows(si_values, unit: Unit, type_index: int) -> np.ndarray:
    """(N,) SI values of one unit -> (N, 128) quantity (or unit) rows."""
    out = np.array(_encode_float_results(np.asarray(si_values, dtype=np.float64)))  # (N, 128)
    out[:, L.TYPE] = 0.0
    out[:, L.TYPE.start + type_index] = 1.0
    dims = np.array(unit.dimensions, dtype=np.float64)
    out[:, L.DIMS] = dims
    out[:, L.OFFSET] = float(unit.is_offset)
    if type_index == L.TYPE_UNIT:
        out[:, L.UNIT_OFF] = unit.offset
    feats = out[:, L.FEATURES]
    feats[:, L.FEATURE_DIMS] = np.tanh(dims / 2.0)
    feats[:, L.FEATURE_OFFSET] = float(unit.is_offset)
    return out


def _check(e, kinds=_QUANTITY_OR_UNIT, name: str = "embedding") -> tuple[np.ndarray, bool]:
    arr = np.asarray(e, dtype=np.float64)
    if arr.shape[-1:] != (L.EMBED_DIM,) or arr.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (128,) or (N, 128), got {arr.shape}")
    single = arr.ndim == 1
    arr = arr.reshape(-1, L.EMBED_DIM)
    tags = arr[:, L.TYPE]
    allowed = np.zeros(tags.shape[1], dtype=bool)
    allowed[list(kinds)] = True
    if not np.all(tags[:, allowed].sum(axis=1) == 1.0):
        names = " or ".join(L.TYPE_NAMES[k] for k in kinds)
        raise ValueError(f"{name} is not a {names} embedding (check its type tag)")
    return arr, single


def _dims_of(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr[:, L.DIMS]).astype(np.int64)  # (N, 7)


class QuantityEncoder:
    """Encode quantities (value + unit) and units; convert, compare dimensions, multiply and divide.

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
        si = values * u.factor + u.offset
        _check_finite(si)
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
        """The value of quantity e expressed in `unit`; ValueError if the dimensions differ.

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
        values = (arr[:, L.LINEAR] * L.LINEAR_SCALE - u.offset) / u.factor
        return float(values[0]) if single else values

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
        out = np.concatenate([_rows(si[i : i + 1], _si_unit(tuple(d)), L.TYPE_QUANTITY) for i, d in enumerate(dims)])
        return out[0] if single_a and single_b else out


def _si_unit(dims: tuple[int, ...]) -> Unit:
    """The SI unit (factor 1) of a dimension vector; dimensionless gives a unit-less quantity."""
    if not any(dims):
        return Unit(symbol="", factor=1.0, offset=0.0, dimensions=dims, kind=None)
    return parse_unit(canonical_si_unit(dims))
