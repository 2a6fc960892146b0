"""NumberEncoder against Python's big integers and IEEE-754 floats."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fluxem
from fluxem import layout as L

enc = fluxem.NumberEncoder()
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}

ints_30 = st.integers(min_value=-(10**30), max_value=10**30)


def wrap(x):
    """Reduce phase-like channels mod 1 (the canonical form of vector sums)."""
    return np.mod(x, 1.0)


# ----------------------------------------------------------------------------- exactness


@settings(max_examples=300, deadline=None)
@given(a=ints_30, b=ints_30, op=st.sampled_from(sorted(OPS)))
def test_exact_ops_match_python_ints(a, b, op):
    result = getattr(enc, op)(enc.encode(a), enc.encode(b))
    assert enc.is_exact(result)
    assert enc.decode_int(result) == OPS[op](a, b)


def test_random_1_to_30_digit_operands_batched():
    rng = random.Random(0)
    a = [rng.choice([-1, 1]) * rng.randrange(10 ** rng.randint(0, 29), 10 ** rng.randint(30, 30)) for _ in range(500)]
    b = [rng.choice([-1, 1]) * rng.randrange(0, 10 ** rng.randint(1, 30)) for _ in range(500)]
    A, B = enc.encode(np.array(a, dtype=object)), enc.encode(np.array(b, dtype=object))
    for op, f in OPS.items():
        assert enc.decode_int(getattr(enc, op)(A, B)) == [f(x, y) for x, y in zip(a, b)]


def test_chains_of_four_12_to_15_digit_factors():
    rng = random.Random(1)
    for _ in range(200):
        factors = [rng.choice([-1, 1]) * rng.randrange(10**11, 10**15) for _ in range(4)]
        e = enc.encode(factors[0])
        for f in factors[1:]:
            e = enc.mul(e, enc.encode(f))
        assert enc.decode_int(e) == math.prod(factors)  # up to 60 digits


def test_25_to_60_digit_results():
    rng = random.Random(2)
    for digits in range(25, 61):
        a = rng.randrange(10 ** (digits // 2), 10 ** (digits // 2 + 1))
        b = rng.randrange(10 ** (digits - digits // 2 - 2), 10 ** (digits - digits // 2 - 1))
        for op, f in OPS.items():
            assert enc.decode_int(getattr(enc, op)(enc.encode(a), enc.encode(-b))) == f(a, -b)


def test_mixed_sum_of_products_like_the_hybrid_readout():
    # 98765 * 43210 - 12345 * 67890 * 11111 + 99999
    terms = [(1, [98765, 43210]), (-1, [12345, 67890, 11111]), (1, [99999])]
    total = enc.encode(0)
    for sign, factors in terms:
        prod = enc.encode(factors[0])
        for f in factors[1:]:
            prod = enc.mul(prod, enc.encode(f))
        total = enc.add(total, prod) if sign > 0 else enc.sub(total, prod)
    assert enc.decode_int(total) == 98765 * 43210 - 12345 * 67890 * 11111 + 99999


# ----------------------------------------------------------------------------- capacity


def test_capacity_boundary_is_never_wrong():
    assert enc.is_exact(enc.encode(L.EXACT_LIMIT))
    assert enc.decode_int(enc.encode(-L.EXACT_LIMIT)) == -L.EXACT_LIMIT
    past = enc.encode(L.EXACT_LIMIT + 1)
    assert not enc.is_exact(past)
    with pytest.raises(ValueError, match="not an exact integer"):
        enc.decode_int(past)


@settings(max_examples=200, deadline=None)
@given(a=st.integers(-(10**70), 10**70), b=st.integers(-(10**70), 10**70))
def test_products_past_capacity_are_flagged_not_wrong(a, b):
    e = enc.mul(enc.encode(a), enc.encode(b))
    if enc.is_exact(e):
        assert enc.decode_int(e) == a * b
    else:
        assert abs(a * b) > L.EXACT_LIMIT
        assert math.isclose(enc.decode(e), a * b, rel_tol=1e-12)


def test_past_capacity_inputs_make_results_inexact():
    big = enc.encode(10**76)
    assert not enc.is_exact(enc.add(big, enc.encode(1)))
    assert not enc.is_exact(enc.mul(big, enc.encode(0)))  # never claimed, even when trivially 0


# ----------------------------------------------------------------------------- vector algebra


@settings(max_examples=200, deadline=None)
@given(a=ints_30, b=ints_30)
def test_raw_vector_sums_are_the_algebra(a, b):
    ea, eb = enc.encode(a), enc.encode(b)
    s, p = enc.encode(a + b), enc.encode(a * b)
    # linear: the IEEE-754 sum of the two floats (not float(a + b): cancellation of 1e30-sized values)
    assert (ea + eb)[L.LINEAR] == float(a) + float(b)
    # residues: addition mod 1 is integer addition
    np.testing.assert_allclose(wrap(ea[L.RESIDUE] + eb[L.RESIDUE]), s[L.RESIDUE], atol=1e-12)
    if a * b != 0:
        # log channel: ln|a| + ln|b| = ln|ab|, sign phases add mod 1
        assert (ea + eb)[L.LOG_MAG] == pytest.approx(p[L.LOG_MAG], abs=1e-12)
        assert wrap(ea[L.LOG_SIGN] + eb[L.LOG_SIGN]) == p[L.LOG_SIGN]
        # discrete logs add mod 1 where no prime divides either factor
        ok = (ea[L.DZERO] + eb[L.DZERO]) == 0
        np.testing.assert_allclose(wrap(ea[L.DLOG] + eb[L.DLOG])[ok], p[L.DLOG][ok], atol=1e-12)
    else:
        assert min(1.0, (ea + eb)[L.LOG_ZERO]) == p[L.LOG_ZERO] == 1.0


@settings(max_examples=200, deadline=None)
@given(x=st.floats(min_value=-1e300, max_value=1e300, allow_nan=False), y=st.floats(-1e300, 1e300))
def test_float_add_is_ieee_add(x, y):
    assert enc.decode(enc.add(enc.encode(x), enc.encode(y))) == x + y


@settings(max_examples=200, deadline=None)
@given(x=st.floats(1e-150, 1e150), y=st.floats(1e-150, 1e150), sx=st.sampled_from([-1, 1]))
def test_float_mul_through_log_channel(x, y, sx):
    # measured bound: exp(ln x + ln y) is within a few ulp-of-log of x*y; 1e-12 relative covers it
    assert enc.decode(enc.mul(enc.encode(sx * x), enc.encode(y))) == pytest.approx(sx * x * y, rel=1e-12)


def test_division():
    assert enc.decode_int(enc.div(enc.encode(10**40), enc.encode(-(10**20)))) == -(10**20)
    q = enc.div(enc.encode(7), enc.encode(2))
    assert enc.is_exact(q) and enc.decode(q) == 3.5 and enc.decode_exact(q) == Fraction(7, 2)
    q = enc.div(enc.encode(7.5), enc.encode(2))  # a non-integral float is never exact
    assert not enc.is_exact(q) and enc.decode(q) == 3.75
    with pytest.raises(ZeroDivisionError):
        enc.div(enc.encode(1), enc.encode(0))


# ----------------------------------------------------------------------------- round trips and edge cases


@pytest.mark.parametrize("n", [0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, -(2**63), 2**63 - 1, 2**64 + 3, 10**60])
def test_int_round_trip(n):
    assert enc.decode_int(enc.encode(n)) == n
    assert type(enc.decode_int(enc.encode(n))) is int


@pytest.mark.parametrize("x", [0.0, -0.0, 1e-300, -1e-300, 1e300, 2.5, -3e9, 5e-324, 1.7976931348623157e308])
def test_float_round_trip(x):
    assert enc.decode(enc.encode(x)) == x


def test_negative_zero_is_zero():
    np.testing.assert_array_equal(enc.encode(-0.0), enc.encode(0))


def test_float_exactness_policy():
    assert enc.is_exact(enc.encode(2.0)) and enc.decode_int(enc.encode(2.0)) == 2
    assert enc.is_exact(enc.encode(float(2**53)))
    assert not enc.is_exact(enc.encode(1e20))  # above 2**53 a float does not pin down an integer
    assert not enc.is_exact(enc.encode(0.5))
    np.testing.assert_array_equal(enc.encode(np.float32(3)), enc.encode(3))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), [1.0, float("nan")]])
def test_nan_inf_raise_value_error(bad):
    with pytest.raises(ValueError, match="finite"):
        enc.encode(bad)


@pytest.mark.parametrize("bad", [True, np.bool_(False), "12", b"1", None, [1, "2"], {"a": 1}, 1 + 2j, [True]])
def test_non_numbers_raise_type_error(bad):
    with pytest.raises(TypeError):
        enc.encode(bad)


def test_huge_int_beyond_float_range():
    with pytest.raises(ValueError, match="float64 range"):
        enc.encode(10**400)


def test_batch_shapes_and_dtypes():
    assert enc.encode(5).shape == (128,)
    assert enc.encode([1, 2.5, -3e9]).shape == (3, 128)
    assert enc.encode(np.arange(10, dtype=np.uint8)).shape == (10, 128)
    assert enc.encode(np.array([], dtype=np.int64)).shape == (0, 128)
    assert enc.encode([Fraction(1, 2)])[0][L.LINEAR] == 0.5
    big = np.array([2**64 - 1], dtype=np.uint64)
    assert enc.decode_int(enc.encode(big)) == [2**64 - 1]


def test_int64_and_python_paths_agree_bit_for_bit():
    a = np.random.default_rng(0).integers(-(2**63), 2**63 - 1, 3000)
    np.testing.assert_array_equal(enc.encode(a), enc.encode(np.array([int(v) for v in a], dtype=object)))
    # The scalar fast path (pure Python) agrees bit for bit on every channel but the log magnitude, which
    # comes from `math` instead of NumPy's kernel: within one unit there. The features (exponent and
    # mantissa digits included) agree exactly.
    batch, small = enc.encode(a[:300]), enc.encode([int(v) for v in a[:60]])
    for i in range(60):
        scalar = enc.encode(int(a[i]))
        np.testing.assert_array_equal(small[i], scalar)
        same = np.ones(L.EMBED_DIM, dtype=bool)
        same[L.LOG_MAG] = False
        np.testing.assert_array_equal(batch[i][same], scalar[same])
        assert batch[i][L.LOG_MAG] == pytest.approx(scalar[L.LOG_MAG], rel=2.5e-16)


def test_batched_ops_broadcast_and_check_shapes():
    A = enc.encode([1, 2, 3])
    assert enc.decode_int(enc.add(A, enc.encode(10))) == [11, 12, 13]
    with pytest.raises(ValueError, match="batch sizes"):
        enc.add(A, enc.encode([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        enc.add(np.zeros(64), np.zeros(64))


def test_deterministic_bytes():
    a = np.random.default_rng(5).integers(-(10**12), 10**12, 1000)
    assert enc.encode(a).tobytes() == fluxem.NumberEncoder().encode(a).tobytes()


# ----------------------------------------------------------------------------- channels by name


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.integers(-(10**75), 10**75), st.floats(allow_nan=False, allow_infinity=False)))
def test_network_features_are_bounded(x):
    f = enc.encode(x)[L.FEATURES]
    assert np.all(np.abs(f) <= 1.0)


def test_channels_by_name():
    e = enc.encode(-12)
    assert e[L.TYPE].tolist() == [1, 0, 0, 0]
    assert e[L.LINEAR] == -12
    assert e[L.LOG_MAG] == pytest.approx(math.log(12)) and e[L.LOG_SIGN] == 0.5 and e[L.LOG_ZERO] == 0
    assert e[L.RESIDUE][0] == ((-12) % L.PRIMES[0]) / L.PRIMES[0]
    assert e[L.EXACT] == 1 and not e[L.DIMS].any() and e[L.OFFSET] == 0
    f = e[L.FEATURES]
    assert f[L.FEATURE_SIGN] == -1 and f[L.FEATURE_INT] == 1 and f[L.FEATURE_ZERO] == 0
    assert not e[L.RESERVED].any()
    z = enc.encode(0)
    assert z[L.LOG_ZERO] == 1 and z[L.DZERO].all() and z[L.FEATURES][L.FEATURE_ZERO] == 1


def test_layout_table_covers_128_without_overlap():
    rows = L.channel_table()
    assert rows[0][1] == 0 and rows[-1][2] == L.EMBED_DIM
    assert all(prev[2] == cur[1] for prev, cur in zip(rows, rows[1:]))
    assert math.prod(L.PRIMES) // 2 > 50 * L.EXACT_LIMIT


def test_core_imports_without_torch():
    import subprocess
    import sys

    code = "import sys; sys.modules['torch'] = None; import fluxem; fluxem.NumberEncoder().encode(1); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


# ----------------------------------------------------------------------------- raw vector sums (issue 9.16)


def test_readme_first_claim_raw_sum_decodes():
    # The README's first claim, to the letter: the linear channel of a raw vector sum holds the sum.
    assert enc.decode(enc.encode(2) + enc.encode(3)) == 5.0
    assert enc.decode(enc.encode([1.5, 2]) - enc.encode([0.5, 7])).tolist() == [1.0, -5.0]


def test_raw_sum_in_exact_decoders_and_operators_gets_the_right_hint():
    raw = enc.encode(2) + enc.encode(3)
    for call in (lambda: enc.decode_int(raw), lambda: enc.is_exact(raw), lambda: enc.add(raw, enc.encode(1))):
        with pytest.raises(ValueError, match=r"raw vector sum.*enc\.add") as info:
            call()
        assert "QuantityEncoder" not in str(info.value)
    q = fluxem.QuantityEncoder().encode(3, "km")
    with pytest.raises(ValueError, match="QuantityEncoder"):
        enc.decode(q)


# ----------------------------------------------------------------------------- API edges (issue 9.20)


def test_nd_arrays_keep_their_shape():
    grid = np.arange(6).reshape(2, 3)
    E = enc.encode(grid)
    assert E.shape == (2, 3, 128)
    np.testing.assert_array_equal(E[1, 2], enc.encode(np.arange(6))[5])
    assert enc.decode(E).shape == (2, 3) and enc.decode(E)[1, 2] == 5.0
    assert enc.decode_int(E) == [[0, 1, 2], [3, 4, 5]]
    assert enc.is_exact(E).shape == (2, 3)
    assert enc.encode([[1.5, 2], [3, 4]]).shape == (2, 2, 128)
    assert enc.encode(np.array(7)).shape == (128,)


@pytest.mark.parametrize("bad", [[1, True], [2.5, np.bool_(True)], np.array([1, True], dtype=object), [[1], [False]]])
def test_bool_inside_a_list_is_refused_like_a_scalar_bool(bad):
    with pytest.raises(TypeError, match="bool"):
        enc.encode(bad)


def test_float32_exactness_follows_its_own_integer_range():
    # float32 holds every integer only up to 2**24: 3e10 is the float32 30000001024, which nobody means
    big = np.float32(3e10)
    assert float(big) == 30000001024.0
    for x in (big, np.array([big]), [big]):
        e = enc.encode(x)
        assert not np.any(enc.is_exact(e)) and np.all(enc.decode(e) == 30000001024.0)
    assert enc.is_exact(enc.encode(np.float32(2**24))) and not enc.is_exact(enc.encode(np.float32(2**24 + 2)))
    assert not enc.is_exact(enc.encode(np.float16(4096)))  # float16: integers exact only up to 2**11
    assert enc.decode_int(enc.encode(np.float16(2048))) == 2048


# ----------------------------------------------------------------------------- out= and the fast paths (issue 10)


@pytest.mark.parametrize("order", ["C", "F"])
def test_encode_into_a_caller_buffer(order):
    values = np.random.default_rng(3).integers(-(10**15), 10**15, 5000)
    buf = np.full((5000, 128), np.nan, order=order)  # garbage in: every channel must be written
    assert enc.encode(values, out=buf) is buf
    np.testing.assert_array_equal(buf, enc.encode(values))
    floats = np.random.default_rng(4).normal(size=5000) * 1e6
    enc.encode(floats, out=buf)  # reuse: the previous (exact) content must not leak through
    np.testing.assert_array_equal(buf, enc.encode(floats))
    one = np.empty(128)
    np.testing.assert_array_equal(enc.encode(12, out=one), enc.encode(12))


@pytest.mark.parametrize("bad", [np.empty((3, 128), dtype=np.float32), np.empty((4, 128)), np.empty(128), [0.0] * 128])
def test_bad_out_is_refused(bad):
    with pytest.raises(ValueError, match="out must be"):
        enc.encode([1, 2, 3], out=bad)


def test_small_lists_and_batches_agree_on_all_exact_channels():
    xs = [0, -1, 7, 2**53, -(10**40), 2.5, -0.0, 1e300, 65521, 65521 * 65519]
    small, batch = enc.encode(xs), enc.encode(np.array(xs, dtype=object))
    cols = np.r_[0:5, L.LOG_SIGN, L.LOG_ZERO, L.RESIDUE.start : L.EXACT + 1, L.INTEGRAL, L.RESERVED.start : 128]
    np.testing.assert_array_equal(small[:, cols], batch[:, cols])
    np.testing.assert_array_equal(small[:, L.FEATURES], batch[:, L.FEATURES])
    assert enc.decode_int(small[:5]) == xs[:5]


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.integers(-(10**75), 10**75), st.integers(-(2**20), 2**20).map(lambda n: n * 65521),
                   st.fractions(max_denominator=10**6).filter(lambda f: all(f.denominator % p for p in L.PRIMES))))
def test_scalar_path_exact_channels_match_the_batch_path(x):
    """The generated straight-line residue/dlog code (number._exact_block_fn) against the batch path,
    multiples of a prime (a DZERO channel set: the generic branch) included."""
    from fluxem import number

    number._cached_row.cache_clear()  # a cached row would hide the code under test
    small, batch = enc.encode([x]), enc.encode(np.array([x], dtype=object))
    cols = np.r_[0:5, L.LOG_SIGN, L.LOG_ZERO, L.RESIDUE.start : L.EXACT + 1, L.INTEGRAL, L.RESERVED.start : 128]
    np.testing.assert_array_equal(small[:, cols], batch[:, cols])
    u = x if isinstance(x, int) else x.numerator * pow(x.denominator, -1, number.MODULUS) % number.MODULUS
    rs = [u % p for p in L.PRIMES]
    loop_form = [r / p for r, p in zip(rs, L.PRIMES)]
    loop_form += [tab[r] / (p - 1) for tab, r, p in zip(number._dlog_tabs(), rs, L.PRIMES)]
    assert number._exact_block_fn()(u) == (None if 0 in rs else tuple(loop_form))


def test_span_vectors_encode_exact_literals():
    pytest.importorskip("torch")
    from fluxem.nn import span_vectors

    spans = fluxem.detect_spans("What is 0.1 + 12 * -3 - 2.5? convert 5 km to m")
    V = span_vectors(spans)
    numbers = [i for i, s in enumerate(spans) if s.kind == "number"]
    assert enc.decode_exact(V[numbers]) == [Fraction(1, 10), 12, -3, Fraction(5, 2)]
    kinds = [s.kind for s in spans]
    assert kinds[-2:] == ["quantity", "unit"] and V[-2, L.TYPE_QUANTITY] == 1 and V[-1, L.TYPE_UNIT] == 1


def test_scalar_row_cache_returns_fresh_arrays_and_keys_by_type():
    a = enc.encode(424242)
    a[:] = 0.0  # mutating a result must not change later results
    assert enc.decode_int(enc.encode(424242)) == 424242
    assert enc.encode([7, 7])[0].flags.writeable
    np.testing.assert_array_equal(enc.encode(2.0), enc.encode(2))  # same value, same row
    assert enc.is_exact(enc.encode(3e10)) and not enc.is_exact(enc.encode(np.float32(3e10)))


def test_crt_decode_vectorised_path_over_the_full_range():
    from fluxem._modular import HALF_MODULUS, MODULUS, PRIMES, crt_decode

    rng = random.Random(3)
    xs = [0, 1, -1, HALF_MODULUS - 1, -HALF_MODULUS, 10**75, -(10**75), MODULUS // 3]
    xs += [rng.randrange(-HALF_MODULUS, HALF_MODULUS) for _ in range(200)]
    xs += [rng.randrange(-(2**63), 2**63) for _ in range(50)]
    residues = np.array([[x % p for p in PRIMES] for x in xs])
    assert crt_decode(residues) == xs  # > 32 rows: the vectorised Garner path
    assert crt_decode(residues[:5]) == xs[:5]  # the small path


def test_strided_and_reused_batches_match_contiguous_ones():
    rng = np.random.default_rng(4)
    ints = rng.integers(-(2**63), 2**63 - 1, 3000, dtype=np.int64)
    floats = rng.normal(size=3000) * 1e6
    np.testing.assert_array_equal(enc.encode(ints[::3]), enc.encode(ints[::3].copy()))
    np.testing.assert_array_equal(enc.encode(ints[::-1]), enc.encode(ints[::-1].copy()))
    first = enc.encode(ints)
    enc.encode(floats)  # other dtypes in between reuse the same per-thread temporaries
    enc.encode(np.array([10**70, Fraction(1, 3), 2.5] * 50, dtype=object))
    np.testing.assert_array_equal(enc.encode(ints), first)
    out = np.full((3000, 128), np.nan, order="F")
    np.testing.assert_array_equal(enc.encode(ints, out=out), first)
