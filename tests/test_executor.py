"""The hybrid's executor (fxlab/executor.py): each instruction against a Python reference (Fraction, int,
exact unit factors), the registry that sizes the network's heads, `step`, and the written answers."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fluxem
from fluxem.units import canonical_si_unit, convert_exact, to_si_exact
from fxlab import executor as X

SCRIPTS = Path(__file__).resolve().parents[1] / "experiments" / "scripts"
enc = fluxem.NumberEncoder()
ints = st.integers(-(10**30), 10**30)
fracs = st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**6)


def exact(v: X.Value):
    assert v.kind == "number" and enc.is_exact(v.vector)
    return Fraction(enc.decode_exact(v.vector))


def exact_or_documented_inexact(v: X.Value, reference: Fraction, *operands) -> None:
    """Exact and right, or inexact where the layout says so: the result or an operand has a denominator
    divisible by one of the residue primes, or a numerator / denominator past RATIONAL_LIMIT."""
    if enc.is_exact(v.vector):
        assert Fraction(enc.decode_exact(v.vector)) == reference
    else:
        L = fluxem.layout
        assert any(any(x.denominator % p == 0 for p in L.PRIMES)
                   or max(abs(x.numerator), x.denominator) > L.RATIONAL_LIMIT
                   for x in (reference, *map(Fraction, operands))), reference


def span_values(text: str) -> list[X.Value]:
    return [X.value_of_span(s) for s in fluxem.detect_spans(text)]


# ----------------------------------------------------------------------------- one test per instruction


@settings(max_examples=60, deadline=None)
@given(a=st.one_of(ints, fracs), b=st.one_of(ints, fracs))
def test_add_sub_rsub_dist_match_fractions(a, b):
    fa, fb = Fraction(a), Fraction(b)
    va, vb = X.number(a), X.number(b)
    exact_or_documented_inexact(X.execute("+", va, vb), fa + fb, a, b)
    exact_or_documented_inexact(X.execute("-", va, vb), fa - fb, a, b)
    exact_or_documented_inexact(X.execute("rsub", va, vb), fb - fa, a, b)
    exact_or_documented_inexact(X.execute("dist", va, vb), abs(fa - fb), a, b)


@settings(max_examples=60, deadline=None)
@given(a=st.one_of(st.integers(-(10**30), 10**30), fracs), b=st.one_of(st.integers(-(10**30), 10**30), fracs))
def test_mul_div_match_fractions(a, b):
    va, vb = X.number(a), X.number(b)
    exact_or_documented_inexact(X.execute("*", va, vb), Fraction(a) * Fraction(b), a, b)
    if b != 0:
        exact_or_documented_inexact(X.execute("/", va, vb), Fraction(a) / Fraction(b), a, b)


def test_mul_of_big_integers_is_exact_past_float():
    a, b = 123456789123456789, 987654321987654321
    assert exact(X.execute("*", X.number(a), X.number(b))) == a * b


def _nearest_root_reference(x: int, k: int) -> int:
    """Smallest n with 2^k x < (2n + 1)^k (the integer nearest the real root), by bisection."""
    lo, hi = 0, max(1, x)
    while lo < hi:
        mid = (lo + hi) // 2
        if (2 * mid + 1) ** k <= 2**k * x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 10**18), k=st.sampled_from(X.ROOT_ORDERS))
def test_root_k_unary_matches_integer_reference(x, k):
    assert exact(X.execute(f"root{k}", X.number(x))) == _nearest_root_reference(x, k)


def test_root_binary_takes_the_exponent_one_over_k():
    assert exact(X.execute("root", X.number(2003429123), X.number(Fraction(1, 3)))) == 1261
    with pytest.raises(X.StepError, match="not 1/k"):
        X.execute("root", X.number(8), X.number(Fraction(2, 3)))


@pytest.mark.parametrize("text, want", [
    ("convert 3.5 km to m", Fraction(3500)),
    ("convert 1 in to mm", Fraction(254, 10)),  # inch = 0.0254 m exactly (NIST SP 811)
    ("convert 1 lb to g", Fraction(45359237, 100000)),  # pound = 0.45359237 kg exactly
    ("convert 100 degC to degF", Fraction(212)),
    ("convert -40 degF to degC", Fraction(-40)),
])
def test_convert_is_exact_with_defined_factors(text, want):
    q, u = span_values(text)
    out = X.execute("convert", q, u)
    assert out.kind == "quantity" and out.exact == want == convert_exact(q.exact, q.unit, u.unit)
    assert out.unit == u.unit


def test_convert_refuses_wrong_kinds_and_dimensions():
    q, u = span_values("convert 3 kg to m")
    with pytest.raises(ValueError):
        X.execute("convert", q, u)
    with pytest.raises(X.StepError):
        X.execute("convert", u, q)


@pytest.mark.parametrize("text, truth", [
    ("can you add 3 kg and 20 lb?", True), ("can you add 3 kg and 20 m?", False),
    ("can you add 5 km/h and 3 mph?", True), ("can you add 100 degC and 3 K?", True),
])
def test_can_add_compares_dimension_vectors(text, truth):
    a, b = span_values(text)
    out = X.execute("can_add", a, b)
    assert out.kind == "boolean" and out.truth is truth
    assert X.render_quantity(out) == ("true" if truth else "false")


@pytest.mark.parametrize("text, op", [("12 m / 3 s", "/"), ("5 m/s * 3 s", "*"), ("3 N * 2 m", "*")])
def test_quantity_products_are_exact_in_the_canonical_si_unit(text, op):
    a, b = span_values(text)
    out = X.execute(op, a, b)
    sa, sb = to_si_exact(a.exact, a.unit), to_si_exact(b.exact, b.unit)
    assert out.exact == (sa / sb if op == "/" else sa * sb)
    assert out.unit == canonical_si_unit(fluxem.QuantityEncoder().dimensions(out.vector))


def test_wrong_operand_kinds_and_arity_are_step_errors():
    q, u = span_values("convert 3 km to m")
    with pytest.raises(X.StepError):
        X.execute("+", q, X.number(1))
    with pytest.raises(X.StepError):
        X.execute("+", X.number(1))
    with pytest.raises(X.StepError):
        X.execute("no_such_op", X.number(1), X.number(2))


# ----------------------------------------------------------------------------- registry and step


def test_heads_are_sized_from_the_registry():
    binary = {n for n, i in X.INSTRUCTIONS.items() if i.arity == 2}
    unary = {n for n, i in X.INSTRUCTIONS.items() if i.arity == 1}
    assert set(X.BINARY_OPS) == binary | {"none"} and set(X.UNARY_OPS) == unary | {"keep", "unwrap"}
    assert X.TERMINAL == {f"root{k}" for k in X.ROOT_ORDERS}


def test_step_reduces_adjacent_pairs_and_unwraps():
    S, B, E, P, L, R = 9, 1, 2, 5, 6, 7  # slot, BOS, EOS, "+", "(", ")"
    add = lambda op, *xs: sum(xs)  # noqa: E731
    ids, slots = X.step([B, S, P, L, S, R, E], [1, 2], {}, {1: "unwrap"}, slot_id=S, edges=(S, B, E), apply=add)
    assert ids == [B, S, P, S, E] and slots == [1, 2]
    ids, slots = X.step(ids, slots, {0: "+"}, {}, slot_id=S, edges=(S, B, E), apply=add)
    assert ids == [B, S, E] and slots == [3]
    with pytest.raises(X.StepError, match="overlaps"):
        X.step([B, S, P, S, P, S, E], [1, 2, 3], {0: "+", 1: "+"}, {}, slot_id=S, edges=(S, B, E), apply=add)
    with pytest.raises(X.StepError, match="edge"):
        X.step([B, S, E], [1], {}, {0: "unwrap"}, slot_id=S, edges=(S, B, E), apply=add)


def test_executor_reads_no_text():
    """The executor imports no regex and never calls the span detector on a question: its inputs are
    Values (docs/design.md §5)."""
    tree = ast.parse((SCRIPTS / "fxlab" / "executor.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "re" not in imported and not any(m and m.startswith("fxlab.tasks") for m in imported)


# ----------------------------------------------------------------------------- written answers


@pytest.mark.parametrize("value, fmt, want", [
    (Fraction(-571713169, 100000), "decimal", "-5717.13169"), (Fraction(409052, 5), "fraction", "409052/5"),
    (Fraction(1, 3), "decimal", "1/3"), (Fraction(-7), "decimal", "-7"), (Fraction(1, 8), "decimal", "0.125"),
])
def test_format_answer(value, fmt, want):
    assert X.format_answer(value, fmt) == want


def test_render_number_and_quantity():
    assert X.render_number(X.number(10**40 + 1)) == str(10**40 + 1)
    q, u = span_values("convert 0.391325 in to mm")
    assert X.render_quantity(X.execute("convert", q, u)) == "9.93966 mm"  # an exact tie, rounded to even
    with pytest.raises(X.StepError):
        X.render_number(q)
