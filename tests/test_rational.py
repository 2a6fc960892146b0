"""Exact rationals in the residue channel (docs/design.md §3) against Python's Fraction, and the exact decoders'
refusal of corrupted vectors (issue 9.7)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fluxem
from fluxem import layout as L

enc = fluxem.NumberEncoder()
M = math.prod(L.PRIMES)
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


def exact_value(x) -> Fraction:
    return Fraction(x)


def claims_exact_within_capacity(v: Fraction) -> bool:
    """The documented capacity: integers up to 10**75; n/d (d > 1) up to 10**38 each, d coprime to M."""
    if v.denominator == 1:
        return abs(v.numerator) <= L.EXACT_LIMIT
    return (abs(v.numerator) <= L.RATIONAL_LIMIT and v.denominator <= L.RATIONAL_LIMIT
            and math.gcd(v.denominator, M) == 1)


# ----------------------------------------------------------------------------- encoding and decoding


@pytest.mark.parametrize("x, want", [
    (Decimal("0.2850885506401"), Fraction(2850885506401, 10**13)),
    (Decimal("0.1"), Fraction(1, 10)),
    (Decimal("-80348.83919"), Fraction(-8034883919, 10**5)),
    (Decimal("2.50"), Fraction(5, 2)),
    (Decimal("1e-5"), Fraction(1, 10**5)),
    (Fraction(-52304477, 3), Fraction(-52304477, 3)),
])
def test_decimals_and_fractions_round_trip_exactly(x, want):
    e = enc.encode(x)
    assert enc.is_exact(e)
    got = enc.decode_exact(e)
    assert type(got) is Fraction and got == want
    assert enc.decode(e) == float(want)
    assert e[L.INTEGRAL] == 0 and e[L.FEATURES][L.FEATURE_INT] == 0


@pytest.mark.parametrize("x", [Fraction(6, 3), Decimal("12.000"), Decimal("1E+3"), Fraction(-10**75, 1), 7])
def test_integral_rationals_decode_as_int(x):
    e = enc.encode(x)
    got = enc.decode_exact(e)
    assert type(got) is int and got == Fraction(x)
    assert enc.decode_int(e) == got
    np.testing.assert_array_equal(e, enc.encode(int(Fraction(x))))


def test_decode_int_refuses_a_fraction_and_points_to_decode_exact():
    with pytest.raises(ValueError, match="decode_exact"):
        enc.decode_int(enc.encode(Fraction(1, 3)))


def test_float_stays_inexact_unless_integral():
    assert not enc.is_exact(enc.encode(0.1))  # the float 0.1 is not 1/10
    with pytest.raises(ValueError, match="not exact"):
        enc.decode_exact(enc.encode(0.1))


@pytest.mark.parametrize("x", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_non_finite_decimals_raise(x):
    with pytest.raises(ValueError, match="finite"):
        enc.encode(x)


def test_decimal_past_float_range_raises():
    with pytest.raises(ValueError, match="float64 range"):
        enc.encode(Decimal("1e400"))


def test_batches_of_rationals_and_nested_shapes():
    xs = [Fraction(1, 3), Decimal("0.5"), 7, -2.0, 10**40, Fraction(22, 7)]
    E = enc.encode(np.array(xs, dtype=object))
    assert E.shape == (6, 128)
    assert enc.decode_exact(E) == [Fraction(1, 3), Fraction(1, 2), 7, -2, 10**40, Fraction(22, 7)]
    # the small-list (pure Python) path and the batch path agree on the exact channels
    small = enc.encode(xs)
    exact_part = slice(L.RESIDUE.start, L.EXACT + 1)
    np.testing.assert_array_equal(small[:, exact_part], E[:, exact_part])
    np.testing.assert_array_equal(small[:, L.INTEGRAL], E[:, L.INTEGRAL])
    grid = enc.encode(np.array(xs * 2, dtype=object).reshape(2, 6))
    assert grid.shape == (2, 6, 128)
    assert enc.decode_exact(grid)[1][5] == Fraction(22, 7)


# ----------------------------------------------------------------------------- capacity


def test_rational_capacity_boundary():
    top = Fraction(L.RATIONAL_LIMIT, L.RATIONAL_LIMIT - 1)  # both at the bound, coprime, no prime factor 65xxx
    assert math.gcd(top.denominator, M) == 1
    assert enc.decode_exact(enc.encode(top)) == top
    for past in [Fraction(L.RATIONAL_LIMIT + 1, 3), Fraction(1, L.RATIONAL_LIMIT + 1)]:
        assert not enc.is_exact(enc.encode(past))
        assert enc.decode(enc.encode(past)) == float(past)


@pytest.mark.parametrize("p", [L.PRIMES[0], L.PRIMES[7], L.PRIMES[-1]])
def test_denominator_divisible_by_a_prime_is_never_claimed(p):
    x = Fraction(1, p)
    e = enc.encode(x)
    assert not enc.is_exact(e) and enc.decode(e) == float(x)
    # ... nor as the result of an operator: 1 / p and 3 / (2 p)
    assert not enc.is_exact(enc.div(enc.encode(1), enc.encode(p)))
    q = enc.div(enc.encode(Fraction(3, 2)), enc.encode(p))
    assert not enc.is_exact(q) and enc.decode(q) == pytest.approx(3 / (2 * p), rel=1e-15)
    # while p / p is the integer 1 again, and p * (1/p) stays honest (the inverse was never exact)
    assert enc.decode_exact(enc.div(enc.encode(p), enc.encode(p))) == 1
    assert not enc.is_exact(enc.mul(enc.encode(p), e))


# ----------------------------------------------------------------------------- algebra against Fraction

small_ints = st.integers(-(10**12), 10**12)
decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)
fractions_ = st.fractions(max_denominator=10**6)
operands = st.one_of(small_ints, decimals, fractions_)
# near the capacity boundary: numerators/denominators around 10**19 square to ~10**38
big_fractions = st.builds(Fraction, st.integers(-(10**20), 10**20), st.integers(1, 10**20))


def check_chain(x0, steps):
    e, ref = enc.encode(x0), Fraction(x0)
    for op, y in steps:
        if op == "div" and Fraction(y) == 0:
            continue
        e, ref = getattr(enc, op)(e, enc.encode(y)), OPS[op](ref, Fraction(y))
        if enc.is_exact(e):
            got = enc.decode_exact(e)  # any claim of exactness must be right
            assert got == ref and (type(got) is int) == (ref.denominator == 1)
        else:
            # the only excuse for not being exact is leaving the documented capacity (on this step or an earlier one)
            assert enc.decode(e) == pytest.approx(float(ref), rel=1e-9, abs=1e-300)
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(x0=operands, steps=st.lists(st.tuples(st.sampled_from(sorted(OPS)), operands), min_size=1, max_size=6))
def test_chains_of_exact_ops_match_fraction(x0, steps):
    ref = Fraction(x0)
    stays_small = claims_exact_within_capacity(ref)
    for op, y in steps:
        if op == "div" and Fraction(y) == 0:
            continue
        ref = OPS[op](ref, Fraction(y))
        stays_small &= claims_exact_within_capacity(ref) and claims_exact_within_capacity(Fraction(y))
    exact = check_chain(x0, steps)
    if stays_small:
        assert exact  # within capacity all along: FluxEM must not give up exactness


@settings(max_examples=300, deadline=None)
@given(a=big_fractions, b=big_fractions, op=st.sampled_from(sorted(OPS)))
def test_capacity_boundary_results_are_right_or_flagged(a, b, op):
    if op == "div" and b == 0:
        return
    ea, eb = enc.encode(a), enc.encode(b)
    ref = OPS[op](a, b)
    e = getattr(enc, op)(ea, eb)
    if enc.is_exact(ea) and enc.is_exact(eb) and claims_exact_within_capacity(ref):
        assert enc.is_exact(e)
    if enc.is_exact(e):
        assert enc.decode_exact(e) == ref
    else:
        assert not claims_exact_within_capacity(ref) or not (enc.is_exact(ea) and enc.is_exact(eb))


def test_integer_division_is_exact_with_full_integer_capacity():
    q = enc.div(enc.encode(10**74 * 3), enc.encode(7))  # numerator 3e74 is past the rational capacity
    assert not enc.is_exact(q) and enc.decode(q) == pytest.approx(3e74 / 7, rel=1e-15)
    q = enc.div(enc.encode(10**74 * 7), enc.encode(-7))
    assert enc.decode_exact(q) == -(10**74)


def test_mixed_int_and_rational_batch_ops():
    A = enc.encode(np.array([1, Fraction(1, 2), 10**30, Decimal("0.25")], dtype=object))
    B = enc.encode(np.array([3, Fraction(1, 3), 10**30, 4], dtype=object))
    assert enc.decode_exact(enc.add(A, B)) == [4, Fraction(5, 6), 2 * 10**30, Fraction(17, 4)]
    assert enc.decode_exact(enc.mul(A, B)) == [3, Fraction(1, 6), 10**60, 1]
    assert enc.decode_exact(enc.div(A, B)) == [Fraction(1, 3), Fraction(3, 2), 1, Fraction(1, 16)]


# ----------------------------------------------------------------------------- validation (issue 9.7)


def test_nan_residue_raises_instead_of_a_wrong_integer():
    e = enc.encode(12345).copy()
    e[L.RESIDUE.start + 3] = np.nan
    assert not enc.is_exact(e)
    for decoder in (enc.decode_int, enc.decode_exact):
        with pytest.raises(ValueError, match="inconsistent"):
            decoder(e)


@pytest.mark.parametrize("edit", [
    lambda e: e.__setitem__(L.RESIDUE.start, 0.5),  # not a multiple of 1/p
    lambda e: e.__setitem__(L.RESIDUE.start, 1.5),  # out of range
    lambda e: e.__setitem__(L.RESIDUE.start, 7 / L.PRIMES[0]),  # a valid residue that disagrees with DLOG
    lambda e: e.__setitem__(L.DZERO.start, 1.0),
    lambda e: e.__setitem__(L.INTEGRAL, 0.5),
    lambda e: e.__setitem__(L.DLOG.start, np.inf),
])
def test_inconsistent_exact_channels_raise(edit):
    e = enc.encode(-987654321).copy()
    edit(e)
    assert not enc.is_exact(e)
    with pytest.raises(ValueError, match="inconsistent"):
        enc.decode_int(e)


def test_consistent_channels_of_another_value_disagree_with_linear_channel():
    e = enc.encode(5).copy()
    e[L.RESIDUE.start : L.EXACT + 1] = enc.encode(6)[L.RESIDUE.start : L.EXACT + 1]  # self-consistent, but 6
    with pytest.raises(ValueError, match="linear channel"):
        enc.decode_int(e)


def test_exact_flag_other_than_one_is_not_exact():
    e = enc.encode(5).copy()
    e[L.EXACT] = 2.0
    assert not enc.is_exact(e)
    with pytest.raises(ValueError):
        enc.decode_int(e)
