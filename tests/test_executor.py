"""The hybrid's executor (fxlab/executor.py): each instruction against a Python reference (Fraction, int,
exact unit factors), the registry that sizes the network's heads, `step`, and the written answers."""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
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


def test_nearest_root_reference_is_the_nearest_integer():
    """The reference itself, on exact integer comparisons: n - 1/2 <= x^(1/k) < n + 1/2."""
    for x, k, n in ((0, 3, 0), (1, 7, 1), (2, 2, 1), (3, 2, 2), (8, 3, 2), (63250968, 10, 6), (10**30, 10, 1000)):
        assert _nearest_root_reference(x, k) == n, (x, k)
    for x in range(0, 3000, 7):
        for k in (1, 2, 3, 5):
            n = _nearest_root_reference(x, k)
            assert (2 * n - 1) ** k <= 2**k * x < (2 * n + 1) ** k or n == 0 and 2**k * x < 1


def ordinal(k: int) -> X.Value:
    """An ordinal slot ("the third" -> 3), as value_of_span makes it."""
    return X.Value("ordinal", enc.encode(k))


def place(p: int) -> X.Value:
    """A place slot ("the ten thousands" -> 10**4), as value_of_span makes it."""
    return X.Value("place", enc.encode(10**p))


@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 10**18), k=st.sampled_from(X.ROOT_ORDERS))
def test_root_k_unary_matches_integer_reference(x, k):
    """root2 / root3: "the square / cube root of x"; equal to root_of with the ordinal k."""
    assert exact(X.execute(f"root{k}", X.number(x))) == _nearest_root_reference(x, k)
    assert exact(X.execute("root_of", ordinal(k), X.number(x))) == _nearest_root_reference(x, k)


@settings(max_examples=80, deadline=None)
@given(x=st.one_of(st.integers(0, 10**40), st.integers(0, 2000)), k=st.integers(1, 20))
def test_root_of_matches_integer_reference(x, k):
    """root_of(ordinal k, x): the integer nearest the real k-th root (exact comparisons, any k the
    detector reads: "the first" ... "the twentieth")."""
    out = X.execute("root_of", ordinal(k), X.number(x))
    assert exact(out) == _nearest_root_reference(x, k)


@pytest.mark.parametrize("k, x, n", [(3, 98521710, 462), (7, 98521710, 14), (10, 63250968, 6), (4, 3567987185, 244),
                                     (9, 28320261, 7)])
def test_root_of_reads_the_ordinal_span(k, x, n):
    """The generator's question: the ordinal span, then the number (round(x ** (1/k)) is its answer)."""
    words = "- - second third fourth fifth sixth seventh eighth ninth tenth".split()
    k_value, x_value = span_values(f"What is the {words[k]} root of {x} to the nearest integer?")
    assert (k_value.kind, x_value.kind) == ("ordinal", "number")
    assert exact(X.execute("root_of", k_value, x_value)) == n == round(x ** (1 / k))


def test_root_of_refuses_wrong_kinds_and_values():
    x = X.number(64)
    for bad in ((X.number(3), x), (place(1), x), (x, ordinal(3)), (ordinal(3), ordinal(2)), (ordinal(3), place(2)),
                (ordinal(2), X.number(-4)), (ordinal(2), X.number(Fraction(9, 4))), (ordinal(0), x)):
        with pytest.raises(X.StepError):
            X.execute("root_of", *bad)
    with pytest.raises(X.StepError):
        X.execute("root_of", ordinal(2))  # arity 2


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
    assert X.TERMINAL == {n for n, i in X.INSTRUCTIONS.items() if i.terminal} >= {f"root{k}" for k in X.ROOT_ORDERS}
    # terminal ops of both arities: the slot ops, and the gap ops that read k or a place from a span
    assert X.ROOT_ORDERS == (2, 3)
    assert {n for n in X.TERMINAL if X.INSTRUCTIONS[n].arity == 2} == {"kth_big", "kth_small", "root_of", "digit_at"}
    assert {"root2", "root3", "max", "min", "sort_asc", "sort_desc"} <= {
        n for n in X.TERMINAL if X.INSTRUCTIONS[n].arity == 1}
    # k and the place are operands now: no op per k or per place is left in the heads
    numbered = [n for n in X.INSTRUCTIONS if re.fullmatch(r"(?:kth_big|kth_small|digit|root)\d+", n)]
    assert sorted(numbered) == ["root2", "root3"]


def test_terminal_slot_examples():
    assert X.terminal_slot({}, {}) is None
    assert X.terminal_slot({0: "+", 2: "join"}, {4: "unwrap"}) is None
    assert X.terminal_slot({0: "kth_big"}, {}) == 0
    assert X.terminal_slot({1: "digit_at"}, {}) == 1
    assert X.terminal_slot({0: "+", 3: "kth_big"}, {}) == 2  # the doctest
    assert X.terminal_slot({0: "+", 2: "-", 5: "root_of"}, {}) == 3
    assert X.terminal_slot({0: "+"}, {2: "sort_asc"}) == 1
    assert X.terminal_slot({3: "+"}, {1: "max"}) == 1  # gaps after it do not move it
    assert X.terminal_slot({}, {0: "unwrap", 2: "root3"}) == 2
    with pytest.raises(X.StepError, match="two terminal"):
        X.terminal_slot({0: "kth_big"}, {3: "max"})
    with pytest.raises(X.StepError, match="two terminal"):
        X.terminal_slot({0: "kth_big", 2: "digit_at"}, {})
    for gaps in ({1: "+"}, {2: "+"}, {2: "kth_small"}):  # a binary op would swallow the root's slot
        with pytest.raises(X.StepError):
            X.terminal_slot(gaps, {2: "root2"})


_NON_TERMINAL_GAPS = ("+", "join", "tag")
_TERMINAL_GAPS = ("kth_big", "kth_small", "root_of", "digit_at")
_TERMINAL_SLOTS = ("root2", "max", "sort_asc")


@st.composite
def _steps_with_one_terminal(draw):
    """(number of slots, gaps, unary) with exactly one terminal instruction, never overlapping."""
    n = draw(st.integers(1, 12))
    gaps, k = {}, 0
    while k + 1 < n:
        if draw(st.booleans()):
            gaps[k] = draw(st.sampled_from(_NON_TERMINAL_GAPS))
            k += 2
        else:
            k += 1
    free = [k for k in range(n) if k not in gaps and k - 1 not in gaps]
    unary = {k: "keep" for k in free if draw(st.booleans())}
    choices = [("gap", k) for k in gaps] + [("slot", k) for k in free]
    kind, k = draw(st.sampled_from(choices))
    if kind == "gap":
        gaps[k] = draw(st.sampled_from(_TERMINAL_GAPS))
    else:
        unary[k] = draw(st.sampled_from(_TERMINAL_SLOTS))
    return n, gaps, unary


@settings(max_examples=200, deadline=None)
@given(case=_steps_with_one_terminal())
def test_terminal_slot_is_where_step_writes_the_terminal_result(case):
    """After `step`, the slot terminal_slot names holds the terminal instruction's result, for gap and
    slot ops alike."""
    n, gaps, unary = case
    S, B, E, T = 9, 1, 2, 5
    ids = [B] + [t for _ in range(n) for t in (S, T)][:-1] + [E]
    _, slots = X.step(ids, list(range(n)), gaps, unary, slot_id=S, edges=(S, B, E),
                      apply=lambda op, *args: (op, *args))
    k = X.terminal_slot(gaps, unary)
    assert slots[k][0] in X.TERMINAL
    assert [s for s in slots if isinstance(s, tuple) and s[0] in X.TERMINAL] == [slots[k]]


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


# ----------------------------------------------------------------------------- mathematics_dataset modules

import datetime  # noqa: E402
import decimal  # noqa: E402
import math  # noqa: E402
import operator  # noqa: E402

small_fracs = st.fractions(min_value=-(10**4), max_value=10**4, max_denominator=1000)


def ordered(v: X.Value) -> list[Fraction]:
    assert v.kind == "list"
    return [exact(item) for item in v.items]


def as_list(values) -> X.Value:
    out = None
    for x in values:
        item = X.number(x)
        out = item if out is None else X.execute("join", out, item)
    return out


def test_value_of_span_reads_ordinals_and_places():
    values = span_values("What is the twelth biggest value, the ten thousands digit, the units place?")
    assert [v.kind for v in values] == ["ordinal", "place", "place"]
    assert [enc.decode_exact(v.vector) for v in values] == [12, 10000, 1]
    assert all(v.form is None and v.unit is None for v in values)


def test_value_of_span_reads_time_label_and_the_written_form():
    values = span_values("Is -3/74 less than 1?") + span_values("Which is it?  (a) 0.2  (b) 4085  (c) 5:28 PM")
    assert [(v.kind, v.form) for v in values] == [("number", "fraction"), ("number", "int"), ("label", None),
                                                  ("number", "decimal"), ("label", None), ("number", "int"),
                                                  ("label", None), ("time", None)]
    assert [exact(v) if v.kind == "number" else enc.decode_exact(v.vector) for v in values] == \
        [Fraction(-3, 74), 1, 0, Fraction(1, 5), 1, 4085, 2, 17 * 60 + 28]


def test_division_of_two_integer_literals_is_written_as_a_fraction():
    a, b = span_values("-2/7")
    assert (a.form, b.form) == ("int", "int")
    q = X.execute("/", a, b)
    assert exact(q) == Fraction(-2, 7) and q.form == "fraction"
    assert X.render_mathds(q) == "-2/7"
    assert X.execute("/", X.execute("+", a, b), b).form is None  # a computed operand: the format decides
    assert X.render_mathds(X.number(Fraction(1, 8)), "decimal") == "0.125"


@settings(max_examples=60, deadline=None)
@given(a=st.one_of(ints, small_fracs), b=st.one_of(ints, small_fracs))
def test_relations_match_fraction_comparisons(a, b):
    va, vb = X.number(a), X.number(b)
    for name, rel in (("lt", operator.lt), ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge),
                      ("eq", operator.eq), ("ne", operator.ne)):
        out = X.execute(name, va, vb)
        assert out.kind == "boolean" and out.truth is rel(Fraction(a), Fraction(b)), name
    assert X.execute("eq", va, va).truth


@settings(max_examples=60, deadline=None)
@given(a=st.one_of(ints, small_fracs), b=st.one_of(ints, small_fracs))
def test_max2_min2_return_an_operand_itself(a, b):
    va, vb = X.number(a), X.number(b)
    big, small = X.execute("max2", va, vb), X.execute("min2", va, vb)
    assert exact(big) == max(Fraction(a), Fraction(b)) and exact(small) == min(Fraction(a), Fraction(b))
    # the operand itself, so it keeps its written form and label
    assert any(big is v for v in (va, vb)) and any(small is v for v in (va, vb))


def test_tag_gives_a_value_its_choice_letter():
    label, value = span_values("Which?  (a) 1  (b) 2  (c) 0.25")[-2:]
    out = X.execute("tag", label, value)
    assert out.label == 2 and exact(out) == Fraction(1, 4) and out.form == "decimal"
    assert X.render_mathds(out) == "c"
    with pytest.raises(X.StepError):
        X.execute("tag", value, label)


def test_join_keeps_text_order_for_values_and_lists():
    a, b, c, d = (X.number(x) for x in (3, -1, Fraction(1, 2), 7))
    ab, cd = X.execute("join", a, b), X.execute("join", c, d)
    assert ordered(X.execute("join", ab, c)) == [3, -1, Fraction(1, 2)]
    assert ordered(X.execute("join", a, cd)) == [3, Fraction(1, 2), 7]
    assert ordered(X.execute("join", ab, cd)) == [3, -1, Fraction(1, 2), 7]
    assert np.array_equal(ab.vector, b.vector)  # the network reads a list as its last item
    with pytest.raises(X.StepError):
        X.execute("join", a, span_values("Which?  (a) 1  (b) 2")[0])


@settings(max_examples=40, deadline=None)
@given(xs=st.lists(st.one_of(st.integers(-(10**9), 10**9), small_fracs), min_size=2, max_size=12, unique=True))
def test_list_orders_match_sorted(xs):
    fx, v = [Fraction(x) for x in xs], as_list(xs)
    assert ordered(v) == fx
    assert ordered(X.execute("sort_asc", v)) == sorted(fx)
    assert ordered(X.execute("sort_desc", v)) == sorted(fx, reverse=True)
    assert exact(X.execute("max", v)) == max(fx) and exact(X.execute("min", v)) == min(fx)
    assert set(X.TERMINAL) >= {"sort_asc", "sort_desc", "max", "min", "kth_big", "kth_small"}


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.one_of(st.integers(-(10**12), 10**12), small_fracs), min_size=2, max_size=12, unique=True),
       k=st.integers(0, 15))
def test_kth_big_and_small_match_sorted(xs, k):
    """kth_big / kth_small (ordinal k, list): the k-th of sorted(); k past the list (or 0) is a StepError.
    The item itself comes back (it keeps its label and written form); kth 1 is max / min."""
    fx, v = [Fraction(x) for x in xs], as_list(xs)
    if 1 <= k <= len(fx):
        big, small = X.execute("kth_big", ordinal(k), v), X.execute("kth_small", ordinal(k), v)
        assert exact(big) == sorted(fx, reverse=True)[k - 1] and exact(small) == sorted(fx)[k - 1]
        assert any(big is item for item in v.items) and any(small is item for item in v.items)
        if k == 1:
            assert exact(big) == exact(X.execute("max", v)) and exact(small) == exact(X.execute("min", v))
    else:
        for name in ("kth_big", "kth_small"):
            with pytest.raises(X.StepError):
                X.execute(name, ordinal(k), v)


def test_kth_reads_the_ordinal_span_and_keeps_the_label():
    k, la, a, lb, b_num, b_den, lc, c, ld, d = span_values(
        "Which is the third biggest value?  (a) 5  (b) -2/7  (c) 0.4  (d) 9")
    assert k.kind == "ordinal" and enc.decode_exact(k.vector) == 3
    b = X.execute("/", b_num, b_den)  # "-2/7": divide first, as the teacher does
    tagged = [X.execute("tag", label, value) for label, value in ((la, a), (lb, b), (lc, c), (ld, d))]
    listed = tagged[0]
    for item in tagged[1:]:
        listed = X.execute("join", listed, item)
    third = X.execute("kth_big", k, listed)  # 9, 5, 0.4, -2/7: the third biggest is (c)
    assert exact(third) == Fraction(2, 5) and X.render_mathds(third) == "c"
    assert X.render_mathds(X.execute("kth_small", k, listed)) == "a"


def test_kth_refuses_wrong_kinds():
    v = as_list([3, 1, 2])
    for bad in ((X.number(2), v), (place(0), v), (v, ordinal(2)), (ordinal(2), X.number(3)), (ordinal(2), ordinal(3))):
        for name in ("kth_big", "kth_small"):
            with pytest.raises(X.StepError):
                X.execute(name, *bad)
    with pytest.raises(X.StepError):
        X.execute("kth_big", v)  # arity 2


@settings(max_examples=60, deadline=None)
@given(t=small_fracs, xs=st.lists(st.one_of(st.integers(-(10**6), 10**6), small_fracs), min_size=3, max_size=8,
                                  unique=True))
def test_closest_matches_the_smallest_distance(t, xs):
    distances = [abs(Fraction(x) - t) for x in xs]
    v = X.execute("closest", X.number(t), as_list(xs))
    if distances.count(min(distances)) == 1:
        assert exact(v) == Fraction(xs[distances.index(min(distances))])


def test_closest_refuses_a_tie():
    with pytest.raises(X.StepError, match="equally close"):
        X.execute("closest", X.number(0), as_list([1, -1, 5]))


@settings(max_examples=80, deadline=None)
@given(a=st.integers(-(10**20), 10**20), b=st.integers(-(10**12), 10**12).filter(bool))
def test_mod_gcd_lcm_divisibility_match_python_ints(a, b):
    va, vb = X.number(a), X.number(b)
    assert exact(X.execute("mod", va, vb)) == a % b
    assert exact(X.execute("gcd", va, vb)) == math.gcd(a, b)
    assert exact(X.execute("lcm", va, vb)) == math.lcm(a, b)
    assert X.execute("divides", vb, va).truth is (a % b == 0)  # "Is b a factor of a?"
    assert X.execute("multiple_of", va, vb).truth is (a % b == 0)  # "Is a a multiple of b?"
    assert X.execute("is_even", va).truth is (a % 2 == 0)
    a_multiple = X.number(a * b)
    assert X.execute("divides", vb, a_multiple).truth and X.execute("multiple_of", a_multiple, vb).truth


def test_integer_ops_refuse_non_integers_and_zero():
    with pytest.raises(X.StepError):
        X.execute("mod", X.number(5), X.number(0))
    with pytest.raises(X.StepError):
        X.execute("gcd", X.number(Fraction(1, 2)), X.number(4))
    with pytest.raises(X.StepError):
        X.execute("divides", X.number(0), X.number(4))


@settings(max_examples=60, deadline=None)
@given(a=small_fracs, b=small_fracs)
def test_common_den_is_the_lcm_of_the_denominators(a, b):
    out = X.execute("common_den", X.number(a), X.number(b))
    assert exact(out) == math.lcm(a.denominator, b.denominator)


def _is_prime_reference(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _prime_factors_reference(n: int) -> list[int]:
    found, d = [], 2
    while d * d <= n:
        if n % d == 0:
            found.append(d)
            while n % d == 0:
                n //= d
        d += 1
    return found + ([n] if n > 1 else [])


def test_is_prime_and_prime_factors_match_trial_division():
    for n in range(0, 3000):
        assert X.is_prime(n) is _is_prime_reference(n), n
    for n in list(range(0, 60)) + list(range(60, 3000, 7)):
        v = X.number(n)
        assert X.execute("is_prime", v).truth is _is_prime_reference(n)
        assert X.execute("is_composite", v).truth is (n > 1 and not _is_prime_reference(n))
        if n >= 2:
            assert ordered(X.execute("prime_factors", v)) == _prime_factors_reference(n)


@pytest.mark.parametrize("n", [
    561, 41041, 3215031751,  # Carmichael numbers; 3215031751 fools the witnesses 2, 3, 5 and 7
    3825123056546413051,  # a strong pseudoprime to every prime witness up to 23
    318665857834031151167461,  # up to 37
])
def test_is_prime_is_not_fooled_by_strong_pseudoprimes(n):
    assert not X.is_prime(n) and X.execute("is_composite", X.number(n)).truth
    factors = X.prime_factors(n)
    assert len(factors) > 1 and all(n % p == 0 and X.is_prime(p) for p in factors)
    rest = n
    for p in factors:
        while rest % p == 0:
            rest //= p
    assert rest == 1


@settings(max_examples=40, deadline=None)
@given(ps=st.lists(st.sampled_from([2, 3, 5, 7, 1009, 65537, 999983, 1000003, 2147483647, 998244353]),
                   min_size=1, max_size=3))
def test_prime_factors_of_products_of_known_primes(ps):
    n = math.prod(ps)
    assume(n < X.PRIME_LIMIT)
    assert X.prime_factors(n) == sorted(set(ps))
    assert X.is_prime(n) is (len(ps) == 1)


def test_primality_past_the_proven_bound_is_refused():
    # PRIME_LIMIT is the least composite that every witness passes: refused, never called prime
    with pytest.raises(X.StepError, match="cannot be decided exactly"):
        X.execute("is_prime", X.number(X.PRIME_LIMIT))
    with pytest.raises(X.StepError):
        X.execute("prime_factors", X.number(1))


@settings(max_examples=80, deadline=None)
@given(n=st.one_of(st.integers(0, 10**13), st.integers(-(10**40), 10**40)), p=st.integers(0, 45))
def test_digit_at_matches_the_decimal_digits(n, p):
    """digit_at(place 10**p, n): the digit of 10**p of abs(n) as str() writes it; 0 past its length."""
    digits = str(abs(n))[::-1]
    out = X.execute("digit_at", place(p), X.number(n))
    assert exact(out) == (int(digits[p]) if p < len(digits) else 0)
    assert out.form == "int" and X.render_mathds(out) == str(exact(out))


@pytest.mark.parametrize("question, digit", [("What is the units digit of 7417?", 7),
                                             ("What is the ten thousands digit of 95648687?", 4),
                                             ("What is the hundred billions digit of 851192963223?", 8),
                                             ("What is the trillions digit of 1000000000001?", 1),
                                             ("What is the hundreds digit of 42?", 0)])
def test_digit_at_reads_the_place_span(question, digit):
    where, n = span_values(question)
    assert (where.kind, n.kind) == ("place", "number")
    assert exact(X.execute("digit_at", where, n)) == digit


def test_digit_at_refuses_wrong_kinds():
    n = X.number(12345)
    for bad in ((X.number(10), n), (ordinal(1), n), (n, place(1)), (place(1), place(2)),
                (place(1), X.number(Fraction(5, 2))), (place(0), as_list([1, 2]))):
        with pytest.raises(X.StepError):
            X.execute("digit_at", *bad)
    with pytest.raises(X.StepError):
        X.execute("digit_at", n)  # arity 2


def _round_reference(x: decimal.Decimal, places: int) -> Fraction:
    """x to `places` decimal places (negative: to a power of ten) with Decimal's ROUND_HALF_UP: a tie away
    from zero."""
    return Fraction(x.scaleb(places).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)) / \
        Fraction(10) ** places


decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=8, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(x=decimals, places=st.integers(0, 8), power=st.integers(1, 6))
def test_rounding_matches_decimal_half_up(x, places, power):
    v = X.number(Fraction(x))
    out = X.execute("round_dp", v, X.number(places))
    assert exact(out) == _round_reference(x, places)
    assert X.render_mathds(out) == X.format_answer(exact(out), "decimal")
    assert exact(X.execute("round_int", v)) == _round_reference(x, 0)
    assert exact(X.execute("round_to", v, X.number(10**power))) == _round_reference(x, -power)


@pytest.mark.parametrize("text, want", [  # mathematics_dataset's questions and answers
    ("What is -0.0000337312451 rounded to 6 decimal places?", "-0.000034"),
    ("What is 56.0177 rounded to 1 decimal place?", "56"), ("Round -1.86425405661 to one dp.", "-1.9"),
    ("Round -89628606.2 to the nearest 1000.", "-89629000"),
    ("What is 73471547 rounded to the nearest one hundred thousand?", "73500000"),
])
def test_rounding_writes_the_generators_answers(text, want):
    x, n = span_values(text)
    op = "round_to" if "nearest" in text else "round_dp"
    assert X.render_mathds(X.execute(op, x, n)) == want


def test_round_half_away_from_zero_on_ties():
    assert [X.round_half_away(Fraction(k, 2)) for k in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 1, 2, 3]


@pytest.mark.parametrize("text, want", [  # mathematics_dataset's questions and answers
    ("How many hours are there in 5358.6207 microseconds?", "0.00000148850575"),
    ("How many minutes are there in fourty-two fifths of a week?", "84672"),
    ("How many decades are there in 37/2 of a millennium?", "1850"),
    ("How many kilometers are there in 6676.26739 micrometers?", "0.00000667626739"),
    ("How many months are there in one quarter of a century?", "300"),
])
def test_rconvert_answers_how_many_units_in_a_quantity(text, want):
    u, q = span_values(text)
    out = X.execute("rconvert", u, q)
    assert out.exact == convert_exact(q.exact, q.unit, u.unit) and out.unit == u.unit
    assert X.render_mathds(out) == want
    with pytest.raises(X.StepError):
        X.execute("rconvert", q, u)


def _clock_reference(minutes: int) -> str:
    t = datetime.datetime(2000, 1, 1) + datetime.timedelta(minutes=minutes)
    return t.strftime("%I:%M %p").lstrip("0")


@settings(max_examples=80, deadline=None)
@given(start=st.integers(0, 24 * 60 - 1), duration=st.integers(0, 3 * 24 * 60))
def test_clock_arithmetic_matches_datetime(start, duration):
    t = X.value_of_span(fluxem.detect_spans(_clock_reference(start))[0])
    d = X.value_of_span(fluxem.detect_spans(f"{duration} minutes")[0])
    assert t.kind == "time" and d.kind == "quantity"
    assert X.render_mathds(X.execute("time_after", d, t)) == _clock_reference(start + duration)
    assert X.render_mathds(X.execute("time_before", d, t)) == _clock_reference(start - duration)
    end = X.clock_time(start + duration)
    between = X.execute("minutes_between", t, end)
    assert between.exact == duration % (24 * 60)
    unit = X.value_of_span(fluxem.detect_spans("How many minutes")[0])
    assert X.render_mathds(X.execute("rconvert", unit, between)) == str(duration % (24 * 60))


def test_time_ops_take_a_duration_in_any_time_unit_and_refuse_other_kinds():
    t = X.value_of_span(fluxem.detect_spans("11:30 PM")[0])
    hours = X.value_of_span(fluxem.detect_spans("2 hours")[0])
    assert X.render_mathds(X.execute("time_after", hours, t)) == "1:30 AM"
    assert X.render_mathds(X.execute("time_after", X.number(30), t)) == "12:00 AM"
    with pytest.raises(X.StepError):
        X.execute("time_after", t, hours)
    with pytest.raises(ValueError):
        X.execute("time_after", X.value_of_span(fluxem.detect_spans("2 km")[0]), t)
    with pytest.raises(X.StepError, match="not whole"):
        X.execute("time_after", X.number(Fraction(1, 2)), t)


@pytest.mark.parametrize("value, want", [
    (X.boolean(True), "True"), (X.boolean(False), "False"),
    (X.clock_time(0), "12:00 AM"), (X.clock_time(12 * 60), "12:00 PM"), (X.clock_time(5 * 60 + 28), "5:28 AM"),
    (X.integer(-8), "-8"), (X.Value("number", enc.encode(Fraction(1, 10)), form="decimal"), "0.1"),
    (X.Value("number", enc.encode(Fraction(-2, 107)), form="fraction"), "-2/107"),
    (X.Value("number", enc.encode(Fraction(1, 8)), form="fraction"), "1/8"),
    (X.Value("number", enc.encode(Fraction(1, 8)), label=25), "z"),
    (X.Value("quantity", fluxem.QuantityEncoder().encode(1.5e-6, "h"), "h", Fraction(148850575, 10**14)),
     "0.00000148850575"),
])
def test_render_mathds_writes_every_answer_form(value, want):
    assert X.render_mathds(value) == want


def test_render_mathds_lists_and_refusals():
    items = (X.integer(-66), X.Value("number", enc.encode(Fraction(-2, 7)), form="fraction"),
             X.Value("number", enc.encode(Fraction(3, 10)), form="decimal"), X.integer(9))
    assert X.render_mathds(X.Value("list", items[-1].vector, items=items)) == "-66, -2/7, 0.3, 9"
    for v in span_values("Which?  (a) 1")[:1] + span_values("convert 3 km to m")[1:]:
        with pytest.raises(X.StepError):
            X.render_mathds(v)


@settings(max_examples=60, deadline=None)
@given(x=fracs, fmt=st.sampled_from(["fraction", "decimal", None]))
def test_render_mathds_of_a_computed_number_is_format_answer(x, fmt):
    """The arithmetic modules' answers are unchanged: a computed number is written as the format says."""
    v = X.execute("+", X.number(x), X.number(0))
    if enc.is_exact(v.vector):
        assert X.render_mathds(v, fmt) == X.format_answer(x, fmt or "fraction")


def test_executor_doctests():
    import doctest

    result = doctest.testmod(X)
    assert result.failed == 0 and result.attempted > 0
