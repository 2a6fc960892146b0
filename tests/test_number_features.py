"""The network features of layout version 2 (decimal exponent and mantissa digits) against references
computed with Python's `decimal`, on every encoding path."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fluxem
from fluxem import layout as L
from fluxem.quantity import QuantityEncoder

enc = fluxem.NumberEncoder()
EXP = L.FEATURES.start + L.FEATURE_EXPONENT
MANT = slice(L.FEATURES.start + L.FEATURE_MANTISSA.start, L.FEATURES.start + L.FEATURE_MANTISSA.stop)
RESERVED_FEATURES = slice(L.FEATURES.start + L.FEATURE_MANTISSA.stop, L.FEATURES.start + L.FEATURE_DIMS.start)
_CONTEXT = decimal.Context(prec=L.MANTISSA_DIGITS, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999)


def reference(value) -> tuple[int, list[int]]:
    """(e, digits) of abs(value) rounded to 12 significant digits, half to even, by `decimal` (exact for
    floats, ints and Fractions); (0, []) for 0."""
    if value == 0:
        return 0, []
    if isinstance(value, Fraction):
        exact = _CONTEXT.divide(Decimal(abs(value.numerator)), Decimal(value.denominator))  # correctly rounded
    else:
        exact = _CONTEXT.plus(abs(Decimal(value)))  # Decimal(float) is the exact binary value
    sign, digits, _ = exact.as_tuple()
    digits = list(digits) + [0] * (L.MANTISSA_DIGITS - len(digits))
    return exact.adjusted(), digits


def expected_features(value) -> np.ndarray:
    """The 13 dims (exponent, 12 digits) the layout promises for a value, from `reference`."""
    e, digits = reference(value)
    if value == 0:
        return np.array([0.0] + [-1.0] * L.MANTISSA_DIGITS)
    return np.array([max(-1.0, min(1.0, e / L.EXPONENT_SCALE))] + [d / 4.5 - 1.0 for d in digits])


def read(row: np.ndarray) -> tuple[float, list[int]]:
    """(exponent feature * 32, digits) read back from a row; digits must sit exactly on the code."""
    codes = row[MANT]
    digits = np.rint((codes + 1.0) * 4.5).astype(int)
    np.testing.assert_array_equal(codes, digits / 4.5 - 1.0)  # exactly the code of a digit
    return row[EXP] * L.EXPONENT_SCALE, digits.tolist()


def all_paths(x) -> list[np.ndarray]:
    """The row of x from the scalar path, the short-list path, the object batch path and, where the value
    fits, the float64 / int64 batch paths."""
    rows = [enc.encode(x), enc.encode([x])[0], enc.encode(np.array([x] * 3, dtype=object))[2]]
    if type(x) is float:
        rows.append(enc.encode(np.array([x] * 3))[1])
    if type(x) is int and -(2**63) <= x < 2**63:
        rows.append(enc.encode(np.array([x] * 3, dtype=np.int64))[1])
    return rows


def check(x, value=None) -> None:
    """Every path gives the reference features of `value` (default: x itself), bit for bit."""
    want = expected_features(x if value is None else value)
    for row in all_paths(x):
        got = row[EXP : MANT.stop]
        np.testing.assert_array_equal(got, want, err_msg=f"{x!r}")
        assert not row[RESERVED_FEATURES].any()
        assert np.all(np.abs(row[L.FEATURES]) <= 1.0) and np.all(np.isfinite(row[L.FEATURES]))


# ----------------------------------------------------------------------------- the layout


def test_layout_version_2_constants():
    assert L.LAYOUT_VERSION == 2
    assert (L.FEATURE_SIGN, L.FEATURE_ZERO, L.FEATURE_INT, L.FEATURE_EXPONENT) == (0, 1, 2, 3)
    assert L.FEATURE_MANTISSA == slice(4, 16) and L.MANTISSA_DIGITS == 12 and L.EXPONENT_SCALE == 32
    assert L.FEATURE_DIMS == slice(28, 35) and L.FEATURE_OFFSET == 35 and L.N_FEATURES == 36
    assert L.FEATURES == slice(66, 102)
    for gone in ("LOG_PERIODS", "INT_MODULI", "FEATURE_LOGMAG", "FEATURE_LOG_PHASE", "FEATURE_INT_PHASE"):
        assert not hasattr(L, gone), gone


# ----------------------------------------------------------------------------- against decimal


@settings(max_examples=400, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_float_features_match_decimal(x):
    check(x)


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.integers(-(2**53), 2**53), st.integers(-(2**63), 2**63 - 1)))
def test_int_features_match_decimal(x):
    check(x, float(x))  # the features describe the float the LINEAR channel holds
    if abs(x) <= 2**53:
        check(x)  # ... which is the integer itself here: digits exactly those of x


@settings(max_examples=200, deadline=None)
@given(x=st.fractions(max_denominator=10**12))
def test_fraction_features_match_decimal(x):
    check(x, float(x))
    # float(x) is within half an ulp of x, so the digits of the exact fraction differ at most in the last place
    e, digits = reference(x)
    ef, digits_f = reference(float(x))
    if x:
        a = int("".join(map(str, digits))) * Fraction(10) ** (e - 11)
        b = int("".join(map(str, digits_f))) * Fraction(10) ** (ef - 11)
        assert abs(a - b) <= Fraction(10) ** (max(e, ef) - 11)


@settings(max_examples=200, deadline=None)
@given(x=st.integers(-(10**75), 10**75))
def test_huge_exact_int_features_describe_its_float(x):
    """An exact integer past 2**53 is described by float(x), as in the LINEAR channel: the same on every
    path (the scalar path does not use the int's own digits); they may differ from x's own rounding by one
    unit in the 12th digit (only where x is that close to a rounding tie)."""
    check(x, float(x))
    if x:
        e, digits = reference(x)
        ef, digits_f = reference(float(x))
        a = int("".join(map(str, digits))) * 10 ** (e - 11 + 40)
        b = int("".join(map(str, digits_f))) * 10 ** (ef - 11 + 40)
        assert abs(a - b) <= 10 ** (max(e, ef) - 11 + 40)


def test_decimal_inputs_use_their_float():
    check(Decimal("0.2850885506401"), float(Decimal("0.2850885506401")))
    check(Decimal("-1234567890123.5"), -1234567890123.5)


# ----------------------------------------------------------------------------- chosen values


@pytest.mark.parametrize("x", [0, 0.0, -0.0, Fraction(0), Decimal("0"), Decimal("-0.000")])
def test_zero(x):
    for row in all_paths(x):
        assert row[EXP] == 0.0 and np.all(row[MANT] == -1.0)
        assert row[L.FEATURES.start + L.FEATURE_ZERO] == 1.0 and row[L.FEATURES.start + L.FEATURE_SIGN] == 0.0


@pytest.mark.parametrize("k", range(-40, 41))
def test_powers_of_ten(k):
    for x in ({float(10**k) if k >= 0 else float(Fraction(1, 10**-k)), 10**k if k >= 0 else Fraction(1, 10**-k)}):
        for row in all_paths(x):
            e, digits = read(row)
            assert e == max(-32, min(32, k)) and digits == [1] + [0] * 11, (x, e, digits)


def test_thousand():
    row = enc.encode(1000)
    assert row[EXP] == 3 / 32 and read(row)[1] == [1] + [0] * 11


@pytest.mark.parametrize("x, e, digits", [
    (9.9999999999999, 1, "100000000000"),  # rounds up into the next decade
    (99999999999.6, 10, "999999999996"),  # 10**11 at one step, 12 digits at the next
    (99999999999.96, 11, "100000000000"),
    (9.999999999994, 0, "999999999999"),
    (999999999999.5, 12, "100000000000"),  # a tie: half to even rounds 999999999999 up
    (999999999998.5, 11, "999999999998"),  # a tie: half to even keeps 999999999998
    (123456789012.5, 11, "123456789012"),
    (407428812.5845, 8, "407428812585"),  # its float lies just above the tie
    (1350828, 6, "135082800000"),
    (1350812, 6, "135081200000"),
    (-0.00123, -3, "123000000000"),
    (5e-324, -324, "494065645841"),
    (1e-300, -300, "100000000000"),
    (1.7976931348623157e308, 308, "179769313486"),
    (10**75, 75, "100000000000"),
    (-(10**75) + 1, 75, "100000000000"),
    (2**63 - 1, 18, "922337203685"),
])
def test_chosen_values(x, e, digits):
    assert reference(x) == (e, [int(c) for c in digits])
    for row in all_paths(x):
        got_e, got = read(row)
        assert got_e == max(-32, min(32, e)) and "".join(map(str, got)) == digits
        assert row[L.FEATURES.start + L.FEATURE_SIGN] == (1.0 if x > 0 else -1.0)


def test_sign_is_separate_from_the_digits():
    pos, neg = enc.encode([1350828.5, -1350828.5])
    assert np.array_equal(pos[EXP : MANT.stop], neg[EXP : MANT.stop])
    assert pos[L.FEATURES.start + L.FEATURE_SIGN] == 1 and neg[L.FEATURES.start + L.FEATURE_SIGN] == -1


def test_exponent_is_clipped():
    rows = enc.encode(np.array([1e33, 1e32, 1e31, 1e-31, 1e-32, 1e-33, 1e300, 1e-300]))
    np.testing.assert_array_equal(rows[:, EXP], [1.0, 1.0, 31 / 32, -31 / 32, -1.0, -1.0, 1.0, -1.0])


def test_bounded_and_finite_for_extremes():
    xs = [1e-300, 5e-324, -5e-324, 1e308, -1.7976931348623157e308, -0.0, 10**75, -(10**75), 10**300,
          2.2250738585072014e-308, Fraction(1, 10**300), Decimal("1e-320")]
    for x in xs:
        for row in all_paths(x):
            assert np.all(np.isfinite(row[L.FEATURES])) and np.all(np.abs(row[L.FEATURES]) <= 1.0), x


def test_large_batches_and_chunks_agree_with_the_scalar_path():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**64, 40_000, dtype=np.uint64).view(np.float64)
    values = bits[np.isfinite(bits)]
    values[::97] = 0.0
    values[1::89] = 10.0 ** rng.integers(-300, 300, len(values[1::89]))
    batch = enc.encode(values)  # several chunks, threads
    for i in range(0, len(values), 37):
        x = float(values[i])
        np.testing.assert_array_equal(batch[i][L.FEATURES], enc.encode(x)[L.FEATURES])
        np.testing.assert_array_equal(batch[i][EXP : MANT.stop], expected_features(x))


# ----------------------------------------------------------------------------- order


@settings(max_examples=400, deadline=None)
@given(x=st.floats(min_value=5e-324, max_value=1e308), y=st.floats(min_value=5e-324, max_value=1e308))
def test_mantissa_is_monotone_within_an_exponent(x, y):
    x, y = min(x, y), max(x, y)
    rx, ry = enc.encode(np.array([x, y]))
    if reference(x)[0] != reference(y)[0]:  # the exponent orders the decades (up to its clipping)
        assert reference(x)[0] < reference(y)[0] and rx[EXP] <= ry[EXP]
        return
    assert rx[EXP] == ry[EXP]
    mx, my = tuple(rx[MANT]), tuple(ry[MANT])
    assert mx <= my  # lexicographic
    if reference(x) != reference(y):
        assert mx < my


@settings(max_examples=200, deadline=None)
@given(n=st.integers(10**6, 10**12 - 1), gap=st.integers(1, 10**4))
def test_close_integers_are_ordered(n, gap):
    """1350812 < 1350828: integers of the same length are ordered by their mantissa dims."""
    m = n + gap
    if len(str(m)) != len(str(n)):
        return
    a, b = enc.encode([n, m])
    assert a[EXP] == b[EXP] and tuple(a[MANT]) < tuple(b[MANT])


# ----------------------------------------------------------------------------- quantities and units


def test_quantity_features_describe_the_si_value():
    q = QuantityEncoder()
    v = q.encode(3.5, "km")
    assert read(v) == (3.0, [3, 5] + [0] * 10)
    np.testing.assert_array_equal(v[EXP : MANT.stop], expected_features(3500.0))
    v = q.encode(20, "degC")  # 293.15 K
    np.testing.assert_array_equal(v[EXP : MANT.stop], expected_features(293.15))
    u = q.encode_unit("km")  # a unit: its factor to SI
    np.testing.assert_array_equal(u[EXP : MANT.stop], expected_features(1000.0))
    batch = q.encode(np.linspace(-5, 5, 11), "mi")
    for row, value in zip(batch, np.linspace(-5, 5, 11) * 1609.344):
        np.testing.assert_array_equal(row[EXP : MANT.stop], expected_features(float(value)))
        assert not row[RESERVED_FEATURES].any() and row[L.FEATURES.start + L.FEATURE_INT] == 0


@pytest.mark.parametrize("n", [1, 20])  # one row (the per-row check) and a batch (the vectorised check)
@pytest.mark.parametrize("column, delta", [(EXP, 1 / 32), (MANT.start, 2 / 9), (MANT.stop - 1, -2 / 9)])
def test_quantity_validation_checks_exponent_and_digits(n, column, delta):
    q = QuantityEncoder()
    v = np.array(q.encode(np.full(n, 3.25), "m"))
    q.si_value(v)  # valid
    v[n - 1, column] += delta  # another exponent, or a neighbouring digit
    with pytest.raises(ValueError, match="disagree with its value"):
        q.si_value(v if n > 1 else v[0])
