"""NumberEncoder under forged and unusual input: corrupted vectors, values at the edges of float64,
inputs that Python or NumPy reject with their own messages, and scalar/batch/cache agreement."""

from __future__ import annotations

import importlib
import sys
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fluxem
from fluxem import layout as L
from fluxem import number
from fluxem._modular import MODULUS

enc = fluxem.NumberEncoder()
OPS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
       "div": lambda x, y: x / y}


# ----------------------------------------------------------------------------- forged operands


def test_operators_refuse_a_row_the_decoders_refuse():
    v = enc.encode(10**50 + 7)
    v[L.INTEGRAL] = 0.0  # the residues now reconstruct to some fraction, not to 1e50
    with pytest.raises(ValueError, match="linear channel"):
        enc.decode_exact(v)
    assert not enc.is_exact(v)
    for op in ("add", "sub", "mul", "div"):
        with pytest.raises(ValueError, match=r"a \(row 0\).*linear channel"):
            getattr(enc, op)(v, enc.encode(1))
        with pytest.raises(ValueError, match=r"b \(row 0\).*linear channel"):
            getattr(enc, op)(enc.encode([1, 2]), v)


def test_operators_refuse_inconsistent_exact_channels():
    v = enc.encode(12345)
    v[L.RESIDUE.start + 3] = np.nan
    with pytest.raises(ValueError, match="inconsistent"):
        enc.add(v, enc.encode(0))


def test_mul_refuses_a_forged_log_channel():
    a, b = -(-MODULUS // 10**40), 10**40  # a * b is just past M, about 1.13e77
    va = enc.encode(a)
    va[L.LOG_MAG] = 0.0  # its magnitude would say the product is small enough for the exact channel
    with pytest.raises(ValueError, match=r"a \(row 0\): the log channel"):
        enc.mul(va, enc.encode(b))
    for channel, value in ((L.LOG_SIGN, 0.5), (L.LOG_ZERO, 1.0), (L.LOG_MAG, np.nan)):
        v = enc.encode([3, 2.5])
        v[1, channel] = value
        with pytest.raises(ValueError, match=r"b \(row 1\): the log channel"):
            enc.mul(enc.encode(2), v)
    # honest rows pass, including zero and values from the batch path (np.log) and the scalar path (math.log)
    xs = [0, -7, 2.5, 1e-300, -(10**75)]
    assert enc.decode(enc.mul(enc.encode(np.array(xs, dtype=object)), enc.encode(xs))).tolist() == pytest.approx(
        [float(x) * float(x) for x in xs], rel=1e-12)


def test_div_past_float_range_says_so():
    with pytest.raises(ValueError, match="quotient exceeds the float64 range"):
        enc.div(enc.encode([1e300, 1.0]), enc.encode(1e-300))


def test_div_by_zero_is_read_from_the_linear_channel():
    zero = enc.encode(0)
    zero[L.LOG_ZERO] = 0.0
    with pytest.raises(ZeroDivisionError):
        enc.div(enc.encode(1), zero)
    seven = enc.encode(7)
    seven[L.LOG_ZERO] = 1.0  # ignored by div, whose quotient comes from the linear and exact channels
    assert enc.decode_exact(enc.div(enc.encode(14), seven)) == 2


# Operands of every kind: exact integers up to the capacity, small integers (many share residues with
# each other's multiples), exact fractions, and floats (never exact unless integral).
_operand = st.one_of(
    st.integers(-(10**75), 10**75),
    st.integers(-1000, 1000),
    st.fractions(max_denominator=10**6).filter(lambda f: all(f.denominator % p for p in L.PRIMES)),
    st.floats(-1e30, 1e30, allow_nan=False),
)
_GROUPS = {  # channel groups a swap moves together: every prime's (residue, dlog, zero flag), whole blocks
    "exact block": np.r_[L.RESIDUE.start : L.EXACT + 1, L.INTEGRAL],
    "residues": np.r_[L.RESIDUE],
    "log": np.r_[L.LOG],
}
_CHANNELS = [L.TYPE.start, L.LINEAR, L.LOG_MAG, L.LOG_SIGN, L.LOG_ZERO, L.EXACT, L.INTEGRAL,
             *range(L.RESIDUE.start, L.DZERO.stop), *range(L.FEATURES.start, L.FEATURES.stop, 7)]


def _channels(draw):
    kind = draw(st.sampled_from(["one", "group", "prime"]))
    if kind == "one":
        return np.array([draw(st.sampled_from(_CHANNELS))])
    if kind == "group":
        return _GROUPS[draw(st.sampled_from(sorted(_GROUPS)))]
    i = draw(st.integers(0, L.N_PRIMES - 1))
    return np.array([L.RESIDUE.start + i, L.DLOG.start + i, L.DZERO.start + i])


@st.composite
def _forged(draw):
    """(xs, ys, A, B): true operands and their vectors, one of which has been damaged."""
    n = draw(st.integers(1, 4))
    xs, ys = draw(st.lists(_operand, min_size=n, max_size=n)), draw(st.lists(_operand, min_size=n, max_size=n))
    batch = draw(st.booleans())  # the vectorised object path or the pure-Python small-list path
    A, B = (np.array(enc.encode(np.array(v, dtype=object) if batch else v)) for v in (xs, ys))
    target, values = draw(st.sampled_from([(A, xs), (B, ys)]))
    row, cols = draw(st.integers(0, n - 1)), _channels(draw)
    how = draw(st.sampled_from(["zero", "set", "perturb", "swap"]))
    if how == "zero":
        target[row, cols] = 0.0
    elif how == "set":
        target[row, cols] = draw(st.sampled_from([1.0, 0.5, -1.0, np.nan, np.inf, 7 / 65521, 1e300]))
    elif how == "perturb":
        target[row, cols] += draw(st.sampled_from([1e-15, -1e-9, 1 / 65521, 0.25, 1.0, 1e20]))
    else:
        other = draw(st.integers(0, n - 1))
        # Two different values with the same float64 (10**50 and 10**50 + 7) give rows whose swapped exact
        # blocks are each the other value's own encoding in every validated channel: nothing can tell.
        assume(float(values[row]) != float(values[other]) or Fraction(values[row]) == Fraction(values[other]))
        target[np.ix_([row, other], cols)] = target[np.ix_([other, row], cols)]
    return xs, ys, A, B


@settings(max_examples=150, deadline=None)
@given(case=_forged())
def test_forged_operands_never_give_a_wrong_exact_result(case):
    xs, ys, A, B = case
    for arr, values in ((A, xs), (B, ys)):  # what is_exact claims, decode_exact keeps, and it is the truth
        try:
            claims = enc.is_exact(arr)
        except ValueError:  # a damaged type tag: not a number vector at all
            with pytest.raises(ValueError):
                enc.decode_exact(arr)
            continue
        for i, x in enumerate(values):
            if claims[i]:
                assert enc.decode_exact(arr[i]) == Fraction(x)
            else:
                with pytest.raises(ValueError):
                    enc.decode_exact(arr[i])
    for name, op in OPS.items():
        try:
            result = getattr(enc, name)(A, B)
        except (ValueError, ZeroDivisionError):
            continue
        for i, exact in enumerate(enc.is_exact(result)):
            if exact:
                assert enc.decode_exact(result[i]) == op(Fraction(xs[i]), Fraction(ys[i])), (name, i)


# ----------------------------------------------------------------------------- values below float range


@pytest.mark.parametrize("x", [Decimal("1e-350"), Decimal("-2E-324"), Decimal("1e-5000"), Fraction(1, 10**350),
                               Fraction(-3, 10**400), np.array([Decimal("1e-350")], dtype=object)])
def test_a_nonzero_value_below_float_range_is_refused_not_zeroed(x):
    with pytest.raises(ValueError, match="not zero but below the float64 range"):
        enc.encode(x)
    with pytest.raises(ValueError, match="not zero but below"):
        enc.encode([1, x] if not isinstance(x, np.ndarray) else x.tolist())


def test_the_smallest_float_values_still_encode():
    for x in (Decimal("3e-324"), Fraction(3, 10**324), Decimal("-1e-320")):
        e = enc.encode(x)
        assert e[L.LINEAR] != 0.0 and e[L.LOG_ZERO] == 0.0 and not enc.is_exact(e)
    for zero in (Decimal("0E-9999"), Decimal("-0E-5"), Decimal("0E+400")):
        assert enc.decode_exact(enc.encode(zero)) == 0


# ----------------------------------------------------------------------------- errors in the library's words


def test_signaling_nan_in_a_list_gets_the_nan_error():
    for bad in ([Decimal("sNaN"), 1], (2, Decimal("-sNaN")), np.array([Decimal("sNaN")], dtype=object),
                Decimal("sNaN")):
        with pytest.raises(ValueError, match="only finite numbers"):
            enc.encode(bad)


@pytest.mark.parametrize("x", [10**5000, -(10**5000), [1, 10**5000], np.array([10**5000, 1], dtype=object),
                               Fraction(10**5000, 3), Fraction(-(10**5000) - 1, 10**10)],
                         ids=["int", "negative", "in a list", "object array", "fraction", "negative fraction"])
def test_numbers_past_the_int_str_limit_get_a_fluxem_error(x):
    with pytest.raises(ValueError, match="float64 range of FluxEM") as info:
        enc.encode(x)
    assert "4300" not in str(info.value) and "\n" not in str(info.value)


def test_digit_count_in_the_error_is_right():
    with pytest.raises(ValueError, match="integer with 5001 digits"):
        enc.encode(10**5000)
    with pytest.raises(ValueError, match="integer with 309 digits"):
        enc.encode(-(10**308) * 2)


@pytest.mark.parametrize("bad", [[1, [2, 3]], [[1, 2], [3]], ([1], 2), [[1, [2]], [3, 4]]])
def test_ragged_lists_raise_type_error(bad):
    with pytest.raises(TypeError, match="rectangular"):
        enc.encode(bad)


def test_nan_vector_is_called_invalid_not_a_quantity():
    for call in (enc.is_exact, enc.decode, enc.decode_int, lambda v: enc.add(v, enc.encode(1))):
        with pytest.raises(ValueError, match="not a valid embedding") as info:
            call(np.full(128, np.nan))
        assert "quantity" not in str(info.value)


def test_raw_division_of_vectors_names_the_operators():
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = enc.encode(6) / enc.encode(3)
    for call in (enc.decode_int, enc.decode_exact, enc.is_exact, lambda v: enc.mul(v, enc.encode(1))):
        with pytest.raises(ValueError, match=r"type tag.*NumberEncoder\.add/sub/mul/div.*raw \+, -, \*, /") as info:
            call(raw)
        assert "quantity" not in str(info.value)
    with pytest.raises(ValueError, match=r"type tag .*not \[1, 0, 0, 0\].*NumberEncoder\.add/sub/mul/div"):
        enc.decode_int(np.r_[1.0, 1.0, 0.0, 0.0, enc.encode(2)[4:]])  # mixed tag, finite
    q = fluxem.QuantityEncoder().encode(3, "km")
    with pytest.raises(ValueError, match="QuantityEncoder"):
        enc.decode(q)


def test_complex_embeddings_are_refused_everywhere():
    z = np.zeros(128, complex)
    z[:] = enc.encode(5)
    calls = [enc.decode, enc.is_exact, enc.decode_exact, enc.decode_int]
    calls += [lambda v, op=op: getattr(enc, op)(v, enc.encode(1)) for op in ("add", "sub", "mul", "div")]
    calls += [lambda v, op=op: getattr(enc, op)(enc.encode(1), v) for op in ("add", "sub", "mul", "div")]
    for call in calls:
        with pytest.raises(TypeError, match="complex"):
            call(z)
        with pytest.raises(TypeError, match="complex"):
            call(z.tolist())


def test_nn_refuses_complex_vectors():
    torch = pytest.importorskip("torch")
    from fluxem.nn import FluxEMEmbedding

    emb = FluxEMEmbedding(hidden_dim=4)
    with pytest.raises(TypeError, match="complex"):
        emb.embed_vectors(np.zeros((2, 128), complex))
    with pytest.raises(TypeError, match="complex"):
        emb(torch.zeros(2, 128, dtype=torch.complex128), torch.zeros(2, dtype=torch.long))
    assert emb.embed_vectors(enc.encode([1, 2])).shape == (2, 4)


def test_nn_import_error_names_the_editable_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    monkeypatch.delitem(sys.modules, "fluxem.nn", raising=False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[train\]' from the FluxEM repository root"):
        importlib.import_module("fluxem.nn")


# ----------------------------------------------------------------------------- same value, same bytes


def _same_value_decimals(d: Decimal, k: int) -> Decimal:
    """d written with k more trailing zeros: the same value, another representation."""
    sign, digits, exponent = d.as_tuple()
    return Decimal((sign, digits + (0,) * k, exponent - k))


def test_decimal_row_does_not_depend_on_the_row_cache():
    long_two = Decimal("2." + "0" * 401)
    number._cached_row.cache_clear()
    cold = enc.encode(long_two).tobytes()
    enc.encode(Decimal(2))
    assert enc.encode(long_two).tobytes() == cold == enc.encode(2).tobytes()
    assert enc.decode_exact(enc.encode(long_two)) == 2


@settings(max_examples=200, deadline=None)
@given(d=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30, places=8),
       k=st.sampled_from([0, 1, 5, 390, 401, 420]), first=st.booleans())
def test_value_equal_decimals_encode_alike_whatever_the_cache_holds(d, k, first):
    other = _same_value_decimals(d, k)
    number._cached_row.cache_clear()
    pair = (d, other) if first else (other, d)
    rows = [enc.encode(x).tobytes() for x in pair]
    number._cached_row.cache_clear()
    rows += [enc.encode(x).tobytes() for x in reversed(pair)]
    rows.append(enc.encode(Fraction(d)).tobytes())  # and the Fraction of that value
    assert len(set(rows)) == 1
    batch = enc.encode(np.array(pair, dtype=object))
    np.testing.assert_array_equal(batch[0].view(np.int64), batch[1].view(np.int64))


# The channels the scalar path writes bit for bit like the batch path (docs/speed.md): type, linear, log sign
# and zero flag, the exact block, the dimensions, every network feature (the exponent and mantissa digits
# included, layout version 2), INTEGRAL and reserved: everything but LOG_MAG.
_BIT_COLS = np.r_[0 : L.LOG_MAG, L.LOG_SIGN, L.LOG_ZERO, L.RESIDUE.start : L.EMBED_DIM]


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.just(-0.0), st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**63 - 1),
                   st.integers(-(10**80), 10**80), st.fractions(max_denominator=10**40)))
def test_scalar_and_batch_paths_are_bit_identical(x):
    scalar = enc.encode(x)
    rows = [enc.encode([x])[0], enc.encode(np.array([x], dtype=object))[0]]
    if isinstance(x, float) or (isinstance(x, int) and -(2**63) <= x < 2**63):
        rows.append(enc.encode(np.array([x]))[0])  # the float64 / int64 fast paths
    for row in rows:
        np.testing.assert_array_equal(row[_BIT_COLS].view(np.int64), scalar[_BIT_COLS].view(np.int64))


def test_negative_zero_linear_channel_is_positive_zero_on_every_path():
    for e in (enc.encode(-0.0), enc.encode(np.array([-0.0, -0.0]))[1], enc.encode(np.array([-0.0], np.float32))[0],
              enc.encode(np.zeros(3) * -1.0, out=np.empty((3, 128)))[2]):
        assert not np.signbit(e[L.LINEAR]) and not np.signbit(e[L.FEATURES.start + L.FEATURE_SIGN])
