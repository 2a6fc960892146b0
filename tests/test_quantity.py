"""Tests for fluxem.QuantityEncoder: conversions, temperature points vs differences, add/sub, exact paths.

References: pint's registry (offset rules, conversions) and exact `Fraction` arithmetic.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fluxem
from fluxem import QuantityEncoder, format_value
from fluxem import layout as L
from fluxem.units import as_fraction, check_convertible, convert, convert_exact, parse_unit, to_si_exact

q = QuantityEncoder()
TEMPERATURES = ["degC", "degF", "K", "degR", "delta_degC", "delta_degF"]


@pytest.fixture(scope="module")
def ureg():
    pint = pytest.importorskip("pint")
    return pint.UnitRegistry()


def _pint_outcome(ureg, thunk):
    """('error', None) or ('ok', (kelvin value, is a difference)) for a pint computation."""
    pint = pytest.importorskip("pint")
    try:
        result = thunk()
    except (pint.errors.DimensionalityError, pint.errors.OffsetUnitCalculusError):
        return "error", None
    return "ok", (result.to("K").magnitude, "delta_" in str(result.units))


# ----------------------------------------------------------------------------------------------
# 9.9: temperature points and differences convert as in pint


@pytest.mark.parametrize("src", TEMPERATURES)
@pytest.mark.parametrize("dst", TEMPERATURES)
def test_temperature_conversions_follow_pint(ureg, src, dst):
    outcome, _ = _pint_outcome(ureg, lambda: ureg.Quantity(10, src).to(dst))
    e = q.encode(10, src)
    if outcome == "error":
        for call in (lambda: q.convert(e, dst), lambda: convert(10, src, dst), lambda: convert_exact(10, src, dst)):
            with pytest.raises(ValueError, match="temperature (difference|point)"):
                call()
    else:
        want = ureg.Quantity(10, src).to(dst).magnitude  # pint computes in floats
        assert float(convert_exact(10, src, dst)) == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert q.convert(e, dst) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_delta_to_point_error_is_one_clear_line():
    with pytest.raises(ValueError) as info:
        q.convert(q.encode(10, "delta_degC"), "degC")
    message = str(info.value)
    assert "\n" not in message and "difference" in message and "'K'" in message
    with pytest.raises(ValueError, match="point to a temperature difference"):
        q.convert(q.encode(10, "degF"), "delta_degC")
    with pytest.raises(ValueError, match="difference"):
        check_convertible(parse_unit("delta_degF"), parse_unit("°C"))


def test_compound_offset_units_are_refused_and_delta_compounds_convert(ureg):
    for text in ("degC/s", "degF*m", "degC^2"):
        with pytest.raises(ValueError, match="offset unit"):
            q.encode(1, text)
    rate = q.encode(10, "delta_degC/min")
    assert q.convert(rate, "K/s") == pytest.approx(ureg.Quantity(10, "delta_degC/min").to("K/s").magnitude)


def test_point_difference_flags_in_the_offset_channel():
    assert q.encode(1, "degC")[L.OFFSET] == 1.0 and q.encode(1, "delta_degF")[L.OFFSET] == -1.0
    assert q.encode(1, "K")[L.OFFSET] == 0.0 and q.encode(1, "m")[L.OFFSET] == 0.0
    assert q.encode_unit("delta_degC")[L.OFFSET] == -1.0
    features = q.encode([1, -300], "delta_degC")[:, L.FEATURES]
    assert np.all(np.abs(features) <= 1.0)


def test_scaling_a_difference_keeps_it_a_difference():
    doubled = q.mul(fluxem.NumberEncoder().encode(2), q.encode(5, "delta_degC"))
    assert q.convert(doubled, "delta_degF") == pytest.approx(18.0)
    with pytest.raises(ValueError, match="difference"):
        q.convert(doubled, "degC")
    per_second = q.div(q.encode(5, "delta_degC"), q.encode(1, "s"))
    assert per_second[L.OFFSET] == 0.0  # K/s: no offset scale left


# ----------------------------------------------------------------------------------------------
# 9.17: add and sub


@pytest.mark.parametrize("op", ["+", "-"])
@pytest.mark.parametrize("ua", TEMPERATURES)
@pytest.mark.parametrize("ub", TEMPERATURES)
def test_temperature_add_sub_follow_pint(ureg, op, ua, ub):
    a, b = ureg.Quantity(20, ua), ureg.Quantity(5, ub)
    outcome, result = _pint_outcome(ureg, lambda: a + b if op == "+" else a - b)
    ours = q.add if op == "+" else q.sub
    ea, eb = q.encode(20, ua), q.encode(5, ub)
    a_is_difference = ua.startswith("delta_")
    if outcome == "error" or (op == "-" and a_is_difference and ub in ("degC", "degF")):
        # pint errors, or the documented departure: difference - point (pint gives a unit-dependent answer)
        with pytest.raises(ValueError, match="temperature"):
            ours(ea, eb)
        return
    kelvin, is_difference = result
    got = ours(ea, eb)
    assert q.convert(got, "K") == pytest.approx(kelvin, rel=1e-12, abs=1e-9)
    if is_difference:
        with pytest.raises(ValueError):
            q.convert(got, "degC")
        assert q.convert(got, "delta_degC") == pytest.approx(kelvin, abs=1e-9)
    elif "deg" in str(result) or ua in ("degC", "degF") or ub in ("degC", "degF"):
        q.convert(got, "degC")  # a point (or absolute) reads on the Celsius scale


def test_add_sub_examples():
    assert q.convert(q.add(q.encode(3, "km"), q.encode(2, "mi")), "km") == pytest.approx(6.218688, rel=1e-15)
    assert q.convert(q.sub(q.encode(1, "h"), q.encode(30, "min")), "s") == 1800.0
    diff = q.sub(q.encode(20, "degC"), q.encode(50, "degF"))  # 20 degC - 10 degC
    assert q.convert(diff, "delta_degC") == pytest.approx(10.0, abs=1e-12)
    warmer = q.add(q.encode(20, "degC"), q.encode(9, "delta_degF"))
    assert q.convert(warmer, "degC") == pytest.approx(25.0, abs=1e-12)
    assert q.convert(q.sub(warmer, diff), "degC") == pytest.approx(15.0, abs=1e-12)


def test_add_refuses_different_dimensions_naming_both():
    with pytest.raises(ValueError) as info:
        q.add(q.encode(3, "km"), q.encode(2, "kg"))
    message = str(info.value)
    assert "(1, 0, 0, 0, 0, 0, 0) (length)" in message and "(0, 1, 0, 0, 0, 0, 0) (mass)" in message
    with pytest.raises(ValueError, match="subtract.*velocity.*time"):
        q.sub(q.encode(3, "m/s"), q.encode(2, "s"))
    with pytest.raises(ValueError, match="quantity embedding"):
        q.add(fluxem.NumberEncoder().encode(1), q.encode(2, "m"))
    with pytest.raises(ValueError, match="overflows"):
        q.add(q.encode(1e308, "m"), q.encode(1e308, "m"))


def test_add_is_batched_and_one_rounding():
    a = q.encode([1.5, 2.0, 1e-3], "km")
    b = q.encode([250.0, 0.5, 7.0], "m")
    got = q.convert(q.add(a, b), "m")
    assert got.tolist() == [1750.0, 2000.5, 8.0]
    assert q.add(a, q.encode(1, "m")).shape == (3, 128)
    xs = [0.1, 0.2, 1e20, -3.25]
    for x in xs:
        for y in xs:
            got = q.si_value(q.add(q.encode(x, "m"), q.encode(y, "m")))
            assert got == float(Fraction(x) + Fraction(y))  # the sum of the two SI floats, rounded once


# ----------------------------------------------------------------------------------------------
# 9.10 / issue 7: exact conversions of exact inputs


def test_temperature_conversions_of_exact_inputs_are_exact():
    assert convert_exact(32, "degF", "degC") == 0
    assert format_value(convert_exact(32, "degF", "degC")) == "0"
    assert format_value(convert_exact(0, "degC", "degF")) == "32"
    assert format_value(QuantityEncoder.convert_exact(-40, "°C", "°F")) == "-40"
    assert convert_exact(Decimal("98.6"), "degF", "degC") == 37
    assert convert_exact(Fraction(1, 10), "degC", "K") == Fraction("273.25")
    assert convert(32, "degF", "degC") == 0.0  # the float function rounds the exact answer once


def test_the_six_digit_tie_of_units_small():
    # "convert 0.391325 in to mm": 9.939655 exactly, a tie at six digits; half-even keeps the 6... rounds 5 up
    exact = convert_exact(Fraction("0.391325"), "in", "mm")
    assert exact == Fraction("9.939655")
    assert format_value(exact) == "9.93966"
    float_path = q.convert(q.encode(0.391325, "in"), "mm")
    assert format_value(float_path) == "9.93965"  # why the float path missed the target


@given(
    st.fractions(min_value=-(10**12), max_value=10**12, max_denominator=10**6),
    st.sampled_from(["km", "mi", "in", "lb", "oz", "h", "mph", "km/h", "degC", "degF", "K", "psi", "kcal", "%"]),
    st.sampled_from(["m", "ft", "kg", "s", "m/s", "K", "degC", "degF", "Pa", "J", "percent", "mi", "lb"]),
)
def test_convert_exact_matches_fraction_arithmetic(x, src, dst):
    a, b = parse_unit(src), parse_unit(dst)
    if a.dimensions != b.dimensions:
        with pytest.raises(ValueError):
            convert_exact(x, src, dst)
        return
    got = convert_exact(x, src, dst)
    assert isinstance(got, Fraction)
    assert got == (x * a._exact[0] + a._exact[1] - b._exact[1]) / b._exact[0]
    assert to_si_exact(got, dst) == to_si_exact(x, src)  # round trip through SI, exactly
    assert convert(float(x), src, dst) == float(convert_exact(Fraction(float(x)), src, dst))


def test_convert_exact_input_types():
    assert convert_exact(Decimal("0.1"), "km", "m") == 100
    assert convert_exact(0.1, "km", "m") == Fraction(0.1) * 1000  # a float is its binary value
    assert convert_exact(np.int64(3), "ft", "in") == 36
    for bad in (True, "1", None, 1j):
        with pytest.raises(TypeError):
            convert_exact(bad, "m", "km")
    for bad in (math.nan, math.inf, Decimal("NaN"), Decimal("-Infinity")):
        with pytest.raises(ValueError):
            convert_exact(bad, "m", "km")
    with pytest.raises(ValueError, match="cannot convert"):
        convert_exact(1, "m", "kg")
    assert as_fraction(Decimal("2.50")) == Fraction(5, 2)


# ----------------------------------------------------------------------------------------------
# format_value on exact values


@given(st.fractions(max_denominator=10**12).filter(lambda f: f == 0 or 1e-300 < abs(f) < 1e300))
def test_format_value_of_fractions_matches_decimal_rounding(x):
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 40, ROUND_HALF_EVEN
        quotient = Decimal(x.numerator) / Decimal(x.denominator)  # 40 digits: enough to see ties
        exact_tie = Fraction(quotient) == x
        ctx.prec = 6
        want = +quotient
    got = Decimal(format_value(x))
    assert got == want or not exact_tie and abs(Fraction(got) - x) <= abs(x) * Fraction(5, 10**6)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_of_a_float_equals_its_exact_value(x):
    assert format_value(x) == format_value(Fraction(x)) == format_value(Decimal(x))


@given(st.integers(-(10**30), 10**30))
def test_format_value_rounds_big_ints_exactly(n):
    with localcontext() as ctx:  # the reference: decimal's own 6-digit rounding, ties to even
        ctx.prec, ctx.rounding = 6, ROUND_HALF_EVEN
        want = +Decimal(n)
    assert Decimal(format_value(n)) == want


@pytest.mark.parametrize(
    "x, text",
    [(Fraction("1.000055"), "1.00006"), (Fraction("1.000045"), "1.00004"), (Fraction("999999.5"), "1e+06"),
     (Fraction("0.00001234565"), "1.23456e-05"), (Fraction("-123456.5"), "-123456"), (Fraction(-1, 10**9), "-1e-09"),
     (Decimal("-0"), "0"), (Fraction(0), "0"), (2**53 + 1, "9.0072e+15"), (123456500000000000001, "1.23457e+20"),
     (Fraction(1, 3), "0.333333"), (Decimal("12.5"), "12.5"), (Fraction(10**300), "1e+300")],
)  # fmt: skip
def test_format_value_exact_examples(x, text):
    assert format_value(x) == text


@pytest.mark.parametrize("x", [10**400, Fraction(1, 10**400), -Fraction(10**309), Decimal("1e-400")])
def test_format_value_refuses_values_outside_the_float_range(x):
    with pytest.raises(ValueError, match="float"):
        format_value(x)


def test_percent_and_fuel_quantities():
    assert q.si_value(q.encode(12.5, "%")) == 0.125
    assert q.dimensions(q.encode(6.5, "L/100km")) == (2, 0, 0, 0, 0, 0, 0)
    assert format_value(convert_exact(Fraction("6.5"), "L/100km", "mL/km")) == "65"


def test_error_units_benchmark_runs_and_the_exact_path_is_exact():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "error_units.py"
    spec = importlib.util.spec_from_file_location("error_units", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = {name: (median, worst, wrong) for name, median, worst, wrong in module.measure(60, seed=1)}
    assert len(rows) == 6
    for name, (median, worst, wrong) in rows.items():
        if name.startswith("convert_exact"):
            assert (median, worst, wrong) == (0, 0, 0), name
        else:
            assert worst < 1e-12, name  # the README quotes the 20,000-case maxima (7e-14 at worst)


# ----------------------------------------------------------------------------------------------
# Malformed vectors: raw sums, corrupted type tags, dimensions and flags raise, never give a number

enc = fluxem.NumberEncoder()


def _every_reader(v):
    """Each QuantityEncoder entry point applied to v (with a valid partner where it takes two)."""
    partner = q.encode(2, "m")
    return [
        lambda: q.dimensions(v), lambda: q.si_value(v), lambda: q.convert(v, "m"), lambda: q.can_add(v, partner),
        lambda: q.can_add(partner, v), lambda: q.add(v, partner), lambda: q.sub(partner, v), lambda: q.mul(v, partner),
        lambda: q.div(partner, v),
    ]  # fmt: skip


def _assert_refused(v):
    for read in _every_reader(v):
        with pytest.raises(ValueError) as info:
            read()
        assert "\n" not in str(info.value)


def _with(v, channel, value):
    v = np.array(v, dtype=np.float64)
    v[channel] = value
    return v


def test_raw_sums_are_refused():
    """Operators refuse raw sums, as the README promises: convert must not read 2 + 3 m as 5.0 m."""
    raw = enc.encode(2) + q.encode(3, "m")
    with pytest.raises(ValueError, match=r"type tag \[1\.0, 1\.0, 0\.0, 0\.0\].*raw vector sum.*q\.add"):
        q.convert(raw, "m")
    for v in (raw, q.encode(3, "m") + q.encode(2, "m"), q.encode(3, "m") - q.encode(2, "m"), 2 * q.encode(3, "m"),
              q.encode(3, "m") + q.encode(2, "m") - q.encode(4, "m"), q.encode_unit("km") + q.encode(3, "m")):
        _assert_refused(v)


@pytest.mark.parametrize("tag", [[1, 1, 0, 0], [-1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 0, 1], [0, 0.5, 0, 0],
                                 [0, 1 + 1e-12, 0, 0], [0, 0, 0, 1], [np.nan, 1, 0, 0]])  # fmt: skip
def test_corrupted_type_tags_are_refused(tag):
    _assert_refused(_with(q.encode(3, "m"), L.TYPE, tag))


@pytest.mark.parametrize("value", [1.5, 1 + 1e-9, np.nan, np.inf, -np.inf, 13.0, -13.0, 1e300])
def test_corrupted_dimensions_are_refused(value):
    """Non-integer dimensions are refused, never rounded; NaN is refused, never cast to -2**63."""
    v = _with(q.encode(3, "m"), L.DIMS.start, value)
    with pytest.raises(ValueError, match="dimension"):
        q.dimensions(v)
    _assert_refused(v)


def test_a_dimension_changed_without_its_feature_is_refused():
    _assert_refused(_with(q.encode(3, "m"), L.DIMS.start, 2.0))  # m -> m^2, FEATURE_DIMS still says m


@pytest.mark.parametrize("value", [0.5, 2.0, -0.5, np.nan])
def test_corrupted_offset_flags_are_refused(value):
    _assert_refused(_with(q.encode(20, "degC"), L.OFFSET, value))


def test_offset_flags_outside_temperatures_are_refused():
    v = _with(q.encode(3, "m"), L.OFFSET, 1.0)
    v[L.FEATURES.start + L.FEATURE_OFFSET] = 1.0
    _assert_refused(v)


def test_products_beyond_the_exponent_range_are_refused():
    m6 = q.encode(2, "m^6")
    assert q.dimensions(q.mul(m6, m6)) == (12, 0, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match=r"dimension exponents .* beyond"):
        q.mul(q.mul(m6, m6), q.encode(1, "m"))
    with pytest.raises(ValueError, match=r"dimension exponents .* beyond"):
        q.div(q.encode(1, "s^-12"), q.encode(2, "s"))


def test_valid_vectors_of_every_kind_still_pass():
    """Numbers (scalar and batch paths), quantities, units and operator results are accepted."""
    number_rows = [enc.encode(3), enc.encode(Fraction(1, 3)), enc.encode([2.5, -7, 0, 10**300])[1], enc.encode(0)]
    for n in number_rows:
        assert q.dimensions(q.mul(n, q.encode(2, "m"))) == (1, 0, 0, 0, 0, 0, 0)
    for unit in ("km", "degC", "delta_degF", "K", "kg/(m*s^2)", "%", "L/100km", "s^-12"):
        assert q.dimensions(q.encode_unit(unit)) == parse_unit(unit).dimensions
        assert q.dimensions(q.encode([0, -1.5, 1e-300, 1e300], unit)) == [parse_unit(unit).dimensions] * 4
    d = q.sub(q.encode(20, "degC"), q.encode(5, "degC"))
    assert q.convert(q.add(q.encode(1, "degF"), d), "degF") == pytest.approx(28.0)


_VALUES = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e12, 1e12, allow_nan=False), st.floats(1e-300, 1e-290))
_UNITS = st.sampled_from(["m", "km", "s", "kg", "degC", "delta_degC", "K", "m/s", "%", "J", "ft^2"])


@st.composite
def _valid_vectors(draw):
    kind = draw(st.sampled_from(["quantity", "unit", "number"]))
    if kind == "number":
        value = draw(_VALUES)
        return enc.encode(value), value
    unit = parse_unit(draw(_UNITS))
    if kind == "unit":
        return q.encode_unit(unit), unit.factor
    value = draw(_VALUES)
    return q.encode(value, unit), value * unit.factor + unit.offset


@given(st.lists(_valid_vectors(), min_size=2, max_size=3),
       st.lists(st.sampled_from([-2, -1, 1, 2]), min_size=3, max_size=3))
def test_fuzz_raw_combinations_are_refused(terms, coefficients):
    """Any raw integer combination of two or three encoder outputs raises, except where it is itself an
    encoder output: one vector, or terms that cancel exactly (x + 1 s - 1 kg is the canonical vector of
    x m*s/kg: every channel of a unit value 1 is neutral). So the terms' SI values are kept distinct."""
    from hypothesis import assume

    values = [abs(si) for _, si in terms]
    assume(all(abs(a - b) > 1e-6 * max(a, b) for i, a in enumerate(values) for b in values[i + 1 :]))
    v = sum(c * vec for c, (vec, _) in zip(coefficients, terms))
    _assert_refused(v)


@given(_valid_vectors(), st.sampled_from(["tag", "dims", "offset"]), st.integers(0, 6),
       st.floats(allow_nan=True, allow_infinity=True))  # fmt: skip
def test_fuzz_corrupted_channels_are_refused(vector, channel, index, value):
    v = np.array(vector[0])
    target = {"tag": L.TYPE.start + index % 4, "dims": L.DIMS.start + index, "offset": L.OFFSET}[channel]
    from hypothesis import assume

    assume(not v[target] == value)  # a real change (NaN always is)
    v[target] = value
    _assert_refused(v)


@given(st.lists(st.tuples(_valid_vectors(), st.sampled_from(["none", "tag", "dims", "offset", "log", "sum"]),
                          st.integers(0, 6), st.floats(allow_nan=True, allow_infinity=True)),
                min_size=9, max_size=20))  # fmt: skip
def test_batches_find_the_rows_the_row_check_finds(rows):
    """Batches of more than 8 rows are checked column-wise (`_bad_rows`); they must flag exactly the rows
    the per-row reference (`_row_problem`) flags, and the error names the first of them."""
    from fluxem.quantity import _bad_rows, _row_problem

    batch = []
    for (vector, _), how, index, value in rows:
        v = np.array(vector)
        if how == "sum":
            v = v + q.encode(3, "m")
        elif how != "none":
            v[{"tag": index % 4, "dims": L.DIMS.start + index, "offset": L.OFFSET, "log": L.LOG_MAG}[how]] = value
        batch.append(v)
    batch = np.array(batch)
    for kinds in ((L.TYPE_QUANTITY,), (L.TYPE_QUANTITY, L.TYPE_UNIT), (L.TYPE_NUMBER, L.TYPE_QUANTITY)):
        with np.errstate(invalid="ignore", over="ignore"):
            fast = _bad_rows(batch, kinds).tolist()
        assert fast == [_row_problem(v.tolist(), kinds) is not None for v in batch]
    bad = [i for i, v in enumerate(batch) if _row_problem(v.tolist(), (L.TYPE_QUANTITY, L.TYPE_UNIT)) is not None]
    if bad:
        with pytest.raises(ValueError, match=rf"^embedding \(row {bad[0]}\) "):
            q.dimensions(batch)
    else:
        assert len(q.dimensions(batch)) == len(batch)


def test_encode_refuses_si_values_outside_the_float_range():
    """A non-zero value whose SI value underflows to 0 would be a silent wrong zero; one that overflows
    names the SI value, not an inf the caller never wrote."""
    with pytest.raises(ValueError, match=r"underflows to 0"):
        q.encode(5e-324, "mm")
    with pytest.raises(ValueError, match=r"row 1\): its SI value underflows to 0"):
        q.encode([1.0, 1e-320, 0.0], "nm")
    with pytest.raises(ValueError, match=r"beyond the float range"):
        q.encode(1e308, "km")
    assert q.si_value(q.encode(1e-320, "degC")) == 273.15  # an offset scale: rounding, not underflow
    assert q.si_value(q.encode(0, "mm")) == 0.0 and q.si_value(q.encode(5e-324, "m")) == 5e-324


def test_complex_vectors_are_refused_not_cast():
    """A complex array would lose its imaginary part in a cast; every QuantityEncoder method refuses it."""
    q = QuantityEncoder()
    v = q.encode(3, "m").astype(complex)
    for call in (lambda: q.convert(v, "m"), lambda: q.dimensions(v), lambda: q.can_add(v, v), lambda: q.mul(v, v)):
        with pytest.raises(TypeError, match="complex"):
            call()
