"""The `mathds` task: DeepMind mathematics_dataset files (official v1.0 layout) -> JSONL splits; one test
split per module file (docs/design.md §4).

Data: `fxlab.tasks.mathds_data.generate_mathds`. Answer: the generator's written form
(`fxlab.executor.render_mathds`): an integer, an exact decimal or a reduced fraction (for a computed
number, the format head chooses between the last two), True / False, a choice letter, a list "a, b, c",
a clock time "5:28 AM", or a quantity's exact value.

Slots: numbers, quantities, units, clock times and choice labels (fluxem.detect_spans' kinds).

Teacher: `actions`, the expression grammar of the arithmetic modules; the comparison, measurement and
numbers modules have theirs in `fxlab.tasks.mathds_modules` (the record's `module` picks it). It reads a state's text
(characters, with SLOT_CHAR for each slot) and says which reductions may be carried out next; the
hybrid's `predict` never calls it (tested).

A step has two kinds of action, carried out together (they never touch the same slot):
- a gap op: the two adjacent slots k and k+1 are the operands of one operation whose operands are both
  plain numbers, so it can be carried out now: `+ - * /` (and worded forms), `rsub` (b - a: "Subtract a
  from b", "a less than b") and `dist` (|a - b|: "the distance between a and b");
- slot ops: `unwrap` (slot k is a lone number in parentheses, `(k)`: drop the two parentheses), or
  `root2` / `root3` ("the square / cube root of x to the nearest integer"; terminal). "The eighth root
  of x" is the gap op `root_of` on the ordinal span and x (terminal).
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
>>> actions("What is the \\x00 root of \\x00 to the nearest integer?")
({0: 'root_of'}, {})
"""

from __future__ import annotations

import re
from fractions import Fraction

import fluxem
from fxlab.executor import Value, render_mathds
from fxlab.tasks import mathds_modules
from fxlab.tasks.base import SLOT_CHAR, Task

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
_ROOT_NAMES = {"square": 2, "cube": 3}
_ROOT_WORD = re.compile(rf"the ({'|'.join(_ROOT_NAMES)}) root of ({_S})")
_ROOT_ORDINAL = re.compile(rf"the {_S} root of {_S}")  # "the eighth root of x": the ordinal is a span


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
        return {}, {slot_before(m.start(2)): f"root{_ROOT_NAMES[m.group(1)]}"}
    m = _ROOT_ORDINAL.search(state_text)
    if m:
        return {slot_before(m.start()): "root_of"}, {}
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



class MathdsTask(Task):
    name = "mathds"
    slot_kinds = ("number", "quantity", "unit", "time", "label", "ordinal", "place")
    formats = ("fraction", "decimal")  # how a non-integer answer is written: "p/q" or an exact decimal
    every_record_labelled = False  # external data: a question the teacher cannot follow is left out

    def test_splits(self, cfg) -> list[str]:
        from fxlab.tasks.mathds_data import mathds_test_splits

        return mathds_test_splits(cfg)

    def generate(self, cfg) -> dict[str, list[dict]]:
        from fxlab.tasks.mathds_data import generate_mathds

        return generate_mathds(cfg)

    def actions(self, record: dict, state_text: str, n: int):
        module = record.get("module") or ""
        if mathds_modules.handles(module):
            return mathds_modules.actions_for(module, state_text, n, record)
        return actions(state_text)

    def format_label(self, record: dict) -> str | None:
        """The generator's rule: a decimal answer when a literal in the question is not an integer."""
        spans = [s for s in fluxem.detect_spans(record["text"]) if s.kind == "number"]
        literals = [Fraction(s.exact if s.exact is not None else s.value) for s in spans]
        return "decimal" if any(v.denominator != 1 for v in literals) else "fraction"

    def answer(self, value: Value, fmt: str | None) -> str:
        return render_mathds(value, fmt)
