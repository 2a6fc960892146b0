"""Training labels for the mathds reduction hybrid: the gold next step of a reduction state.

This module is the *teacher*. It reads a state's text (characters, with each number slot shown as
SLOT_CHAR) and says which reductions may be carried out next. It is used only to build training targets
(`fxlab.reducer.ReductionHybrid.collate`) and to check the data; the inference path (`predict`) never
imports it, and a test checks that (tests/test_reducer.py). The network must learn these decisions.

A step has two kinds of action, carried out together (they never touch the same slot):
- a gap op: the two adjacent slots k and k+1 are the operands of one operation whose operands are both
  plain numbers, so it can be carried out now: `+ - * /` (and worded forms), `rsub` (b - a: "Subtract a
  from b", "a less than b") and `dist` (|a - b|: "the distance between a and b");
- slot ops: `unwrap` (slot k is a lone number in parentheses, `(k)`: drop the two parentheses), or
  `root<k>` (the k-th root of slot k to the nearest integer; terminal).
Roots written as powers ("x to the power of 1/4") are two gap ops: `/` makes the exponent 1/4, then
`root` (a ** b to the nearest integer).

>>> actions("What is \\x00 - (\\x00 + \\x00)?")
({1: '+'}, {})
>>> actions("(\\x00)*\\x00 - \\x00/\\x00")
({2: '/'}, {0: 'unwrap'})
>>> actions("Subtract \\x00 from \\x00.")
({0: 'rsub'}, {})
>>> actions("What is the cube root of \\x00 to the nearest integer?")
({}, {0: 'root3'})
"""

from __future__ import annotations

import re
from fractions import Fraction

SLOT_CHAR = "\x00"

# Worded two-operand templates of the generator (arithmetic__add_or_sub, mul, div). Everything else is
# symbolic. Each pattern names the operation between its two slots.
_S = SLOT_CHAR
WORDED = tuple((re.compile(p), op) for p, op in (
    (rf"{_S} less than {_S}", "rsub"),
    (rf"Subtract {_S} from {_S}", "rsub"),
    (rf"difference between {_S} and {_S}", "dist"),  # |a - b|: matches every such answer in ../shared/mathds
    (rf"distance between {_S} and {_S}", "dist"),
    (rf"{_S} take away {_S}", "-"),
    (rf"{_S} minus {_S}", "-"),
    (rf"(?:Total of|Sum|Add together|Add|Put together) {_S} and {_S}", "+"),
    (rf"{_S} plus {_S}", "+"),
    (rf"(?:[Pp]roduct of|Multiply) {_S} and {_S}", "*"),
    (rf"{_S} times {_S}", "*"),
    (rf"Divide {_S} by {_S}", "/"),
    (rf"{_S} divided by {_S}", "/"),
))

_PRIORITY = {"+": 1, "-": 1, "*": 2, "/": 2}
_POWER_FRACTION = re.compile(rf"{_S} to the power of ({_S})/{_S}")
_POWER = re.compile(rf"{_S} to the power of {_S}")
_ORDINALS = {"square": 2, "third": 3, "cube": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10}
_ROOT_WORD = re.compile(rf"the ({'|'.join(_ORDINALS)}) root of ({_S})")


class OracleError(ValueError):
    """The state text is not one the teacher understands (the record is left out of training)."""


def actions(state_text: str) -> tuple[dict[int, str], dict[int, str]]:
    """({left slot index: gap op}, {slot index: slot op}) for one reduction state."""
    slot_before = lambda pos: state_text.count(SLOT_CHAR, 0, pos)  # noqa: E731
    m = _POWER_FRACTION.search(state_text)
    if m:
        return {slot_before(m.start(1)): "/"}, {}
    m = _POWER.search(state_text)
    if m:
        return {slot_before(m.start()): "root"}, {}
    m = _ROOT_WORD.search(state_text)
    if m:
        return {}, {slot_before(m.start(2)): f"root{_ORDINALS[m.group(1)]}"}
    for pattern, op in WORDED:
        m = pattern.search(state_text)
        if m:
            return {slot_before(m.start()): op}, {}
    tokens = []
    slot = 0
    for ch in state_text:
        if ch == SLOT_CHAR:
            tokens.append(slot)
            slot += 1
        elif ch in "+-*/()":
            tokens.append(ch)
    if slot == 0:
        raise OracleError(f"no number in {state_text!r}")
    tree, rest = _expr(tokens, 0)
    if rest != len(tokens):
        raise OracleError(f"cannot parse {state_text!r}")
    gaps, unwrap = {}, {}
    _collect(tree, gaps, unwrap)
    return gaps, unwrap


# Tree nodes: int (a slot), ("()", node), (op, left, right).
def _expr(tokens, i, min_priority=1):
    left, i = _atom(tokens, i)
    while i < len(tokens) and tokens[i] in _PRIORITY and _PRIORITY[tokens[i]] >= min_priority:
        op = tokens[i]
        right, i = _expr(tokens, i + 1, _PRIORITY[op] + 1)
        left = (op, left, right)
    return left, i


def _atom(tokens, i):
    if i >= len(tokens):
        raise OracleError("expression ends early")
    t = tokens[i]
    if isinstance(t, int):
        return t, i + 1
    if t == "(":
        inner, i = _expr(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != ")":
            raise OracleError("unbalanced parentheses")
        return ("()", inner), i + 1
    raise OracleError(f"unexpected {t!r}")


def _collect(node, gaps: dict, unwrap: set) -> None:
    if isinstance(node, int):
        return
    if node[0] == "()":
        if isinstance(node[1], int):
            unwrap[node[1]] = "unwrap"
        else:
            _collect(node[1], gaps, unwrap)
        return
    op, left, right = node
    if isinstance(left, int) and isinstance(right, int):
        gaps[left] = op
        return
    _collect(left, gaps, unwrap)
    _collect(right, gaps, unwrap)


def apply_exact(op: str, a: Fraction, b: Fraction) -> Fraction:
    """The reference value of one gap op on exact rationals (used to check the FluxEM executor)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "rsub":
        return b - a
    if op == "dist":
        return abs(a - b)
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "root":
        if b <= 0 or (1 / b).denominator != 1:
            raise OracleError(f"root: exponent {b} is not 1/k")
        return exact_nearest_root(a, int(1 / b))
    raise OracleError(f"unknown op {op!r}")


def exact_nearest_root(x: Fraction, k: int) -> Fraction:
    """The integer nearest to the real k-th root of a non-negative integer x (reference for the executor).

    >>> exact_nearest_root(Fraction(63250968), 10), exact_nearest_root(Fraction(3567987185), 4)
    (Fraction(6, 1), Fraction(244, 1))
    """
    if x.denominator != 1 or x < 0:
        raise OracleError(f"root of {x}")
    lo, hi = 0, 1
    while (2 * hi + 1) ** k <= 2**k * x.numerator:
        hi *= 2
    while lo < hi:  # the smallest n with 2^k x < (2n + 1)^k
        mid = (lo + hi) // 2
        if (2 * mid + 1) ** k <= 2**k * x.numerator:
            lo = mid + 1
        else:
            hi = mid
    return Fraction(lo)


# ----------------------------------------------------------------------------- teacher-forced states


def state_text(ids: list[int]) -> str:
    """A state's characters, with SLOT_CHAR for each slot (BOS/EOS dropped)."""
    from fxlab.hybrid import SLOT
    from fxlab.token_model import CHARS, SPECIALS

    out = []
    for t in ids:
        if t == SLOT:
            out.append(SLOT_CHAR)
        elif t >= len(SPECIALS):
            out.append(CHARS[t - len(SPECIALS)])
        elif t == SPECIALS.index("<unk>"):
            out.append("\ufffd")
    return "".join(out)


def teacher_states(text: str, target: str) -> list[tuple]:
    """The gold reduction of one training question: [(ids, slot vectors, gaps, unwrap, format or None)],
    one entry per state including the final one (no action). The format label ("decimal" when a literal
    in the question is not an integer, the generator's rule) rides on the first state only.

    The FluxEM executor (`fxlab.reducer.step`) makes every next state, exactly as at inference; a
    parallel reduction on Python Fractions checks it. Returns [] when the teacher cannot follow the
    question or the reduction does not give `target` (the record is left out of training).
    """
    import fluxem
    from fxlab.reducer import format_answer, initial_state, number_spans, step

    spans = number_spans(text)
    if not spans:
        return []
    ids, vectors = initial_state(text, spans)
    exact = [Fraction(s.exact if s.exact is not None else s.value) for s in spans]
    fmt = "decimal" if any(v.denominator != 1 for v in exact) else "fraction"
    states = []
    try:
        for n in range(64):
            gaps, slot_ops = actions(state_text(ids))
            states.append((ids, vectors, gaps, slot_ops, fmt if n == 0 else None))
            if not gaps and not slot_ops:
                break
            _, exact = step(ids, exact, gaps, slot_ops, apply=apply_exact, apply_root=exact_nearest_root)
            ids, vectors = step(ids, vectors, gaps, slot_ops)
            roots = [k for k, op in slot_ops.items() if op.startswith("root")]
            if roots:  # terminal: the rooted slot is the answer
                exact, vectors = [exact[roots[0]]], [vectors[roots[0]]]
                break
        else:
            return []
    except (OracleError, ValueError, ZeroDivisionError, OverflowError):
        return []
    if len(vectors) != 1 or format_answer(exact[0], fmt) != target:
        return []
    numbers = fluxem.NumberEncoder()
    if not numbers.is_exact(vectors[0]) or numbers.decode_exact(vectors[0]) != exact[0]:
        return []
    return states
