"""The hybrid's executor: a registry of named instructions over exact FluxEM values.

The network emits a small program, one step at a time: for each pair of adjacent slots a *binary*
instruction (or `none`), and for each slot a *unary* instruction (or `keep`, or `unwrap`: drop the two
tokens around a lone slot). `step` carries one step out; each binary instruction's two slots and the
tokens between them become ONE new slot that holds the result. Nothing here reads the question text
(docs/design.md §5): an instruction sees `Value`s, which hold FluxEM vectors and, for quantities, the
unit as the span detector gave it.

Adding an instruction is one `@instruction` entry here and one test (tests/test_executor.py); the
network's heads are sized from `BINARY_OPS` and `UNARY_OPS`.

>>> from fluxem import detect_spans
>>> a, b = (value_of_span(s) for s in detect_spans("convert 3.5 km to m"))
>>> render_quantity(execute("convert", a, b))
'3500 m'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

import fluxem
from fluxem import layout as FL
from fluxem.units import canonical_si_unit, convert_exact, to_si_exact

_numbers = fluxem.NumberEncoder()
_quantities = fluxem.QuantityEncoder()

ROOT_ORDERS = tuple(range(2, 11))


class StepError(ValueError):
    """A predicted step cannot be carried out (wrong operand kinds, overlapping ops); the answer is ""."""


@dataclass(frozen=True)
class Value:
    """One slot's payload.

    kind: "number" | "quantity" | "unit" | "boolean". `vector` is the FluxEM vector (128,) float64 (a
    boolean holds the number 1 or 0, so it can re-enter the network). A quantity or unit keeps the unit
    as written (`unit`), and a quantity its exact value in that unit (`exact`, a Fraction) when the
    span detector read one: the vectors' float channels hold SI values, and text answers are exact."""

    kind: str
    vector: np.ndarray
    unit: str | None = None
    exact: Fraction | None = None

    @property
    def truth(self) -> bool:
        return self.kind == "boolean" and _numbers.decode(self.vector) == 1.0


def value_of_span(span) -> Value:
    """The Value of a span from `fluxem.detect_spans`."""
    exact = None if span.exact is None else Fraction(span.exact)
    if span.kind == "number":
        return Value("number", _numbers.encode(span.exact if span.exact is not None else span.value))
    if span.kind == "quantity":
        return Value("quantity", _quantities.encode(span.value, span.unit), span.unit, exact)
    return Value("unit", _quantities.encode_unit(span.unit), span.unit)


def number(x) -> Value:
    return Value("number", _numbers.encode(x))


def boolean(truth: bool) -> Value:
    return Value("boolean", _numbers.encode(int(bool(truth))))


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Instruction:
    name: str
    arity: int  # 1: a slot op, 2: a gap op on slots k and k+1
    fn: Callable[..., Value]


INSTRUCTIONS: dict[str, Instruction] = {}


def instruction(name: str, arity: int):
    def register(fn):
        if name in INSTRUCTIONS:
            raise RuntimeError(f"instruction {name!r} is registered twice")
        INSTRUCTIONS[name] = Instruction(name, arity, fn)
        return fn

    return register


def _need(kind: str, *values: Value) -> None:
    for v in values:
        if v.kind != kind:
            raise StepError(f"needs a {kind}, got a {v.kind}")


@instruction("+", 2)
def _add(a: Value, b: Value) -> Value:
    _need("number", a, b)
    return Value("number", _numbers.add(a.vector, b.vector))


@instruction("-", 2)
def _sub(a: Value, b: Value) -> Value:
    _need("number", a, b)
    return Value("number", _numbers.sub(a.vector, b.vector))


@instruction("rsub", 2)  # b - a: "Subtract a from b", "a less than b"
def _rsub(a: Value, b: Value) -> Value:
    return _sub(b, a)


@instruction("dist", 2)  # |a - b|
def _dist(a: Value, b: Value) -> Value:
    d = _sub(a, b)
    return Value("number", _numbers.mul(d.vector, _numbers.encode(-1))) if _numbers.decode(d.vector) < 0 else d


def _si(v: Value):
    """Exact SI value of a quantity (None if the span gave no exact value)."""
    return None if v.exact is None else to_si_exact(v.exact, v.unit)


def _product(a: Value, b: Value, divide: bool) -> Value:
    if a.kind == b.kind == "number":
        op = _numbers.div if divide else _numbers.mul
        return Value("number", op(a.vector, b.vector))
    _need("quantity", a, b)
    op = _quantities.div if divide else _quantities.mul
    vector = op(a.vector, b.vector)
    # The result is written in the canonical SI unit of its dimensions (factor 1, no offset), so its
    # exact SI value is its value in that unit.
    sa, sb = _si(a), _si(b)
    exact = None if sa is None or sb is None else (sa / sb if divide else sa * sb)
    return Value("quantity", vector, canonical_si_unit(_quantities.dimensions(vector)), exact)


@instruction("*", 2)
def _mul(a: Value, b: Value) -> Value:
    return _product(a, b, divide=False)


@instruction("/", 2)
def _div(a: Value, b: Value) -> Value:
    return _product(a, b, divide=True)


@instruction("root", 2)  # a ** b with b = 1/k, to the nearest integer ("x to the power of 1/4")
def _root_power(a: Value, b: Value) -> Value:
    _need("number", a, b)
    inverse = Fraction(_exact_of(b))
    if inverse <= 0 or (1 / inverse).denominator != 1:
        raise StepError(f"root: exponent {inverse} is not 1/k")
    return nearest_root(a, int(1 / inverse))


@instruction("convert", 2)  # a quantity, then a unit: the quantity in that unit
def _convert(a: Value, b: Value) -> Value:
    _need("quantity", a)
    _need("unit", b)
    if a.exact is not None:  # exact literal x exact factors (offsets included): format_value rounds the true value
        value = convert_exact(a.exact, a.unit, b.unit)
    else:
        value = Fraction(_quantities.convert(a.vector, b.unit))
    return Value("quantity", _quantities.encode(float(value), b.unit), b.unit, value)


@instruction("can_add", 2)  # the two quantities have the same dimension vector
def _can_add(a: Value, b: Value) -> Value:
    if a.kind not in ("quantity", "unit") or b.kind not in ("quantity", "unit"):
        raise StepError(f"can_add of a {a.kind} and a {b.kind}")
    return boolean(_quantities.can_add(a.vector, b.vector))


def _exact_of(v: Value):
    if not _numbers.is_exact(v.vector):
        raise StepError("needs an exact number")
    return _numbers.decode_exact(v.vector)


def nearest_root(a: Value, k: int) -> Value:
    """The integer nearest to the real k-th root of a non-negative exact integer.

    The log channel gives the estimate (exp(ln a / k)); exact integer comparisons settle it: n is the
    nearest integer iff (2n - 1)^k <= 2^k a < (2n + 1)^k.

    >>> int(_numbers.decode_exact(nearest_root(number(2003429123), 3).vector))
    1261
    """
    _need("number", a)
    x = _exact_of(a)
    if Fraction(x).denominator != 1 or x < 0 or k < 1:
        raise StepError(f"root of {x}: needs a non-negative integer")
    x = int(x)
    n = 0 if x == 0 else max(0, round(float(np.exp(a.vector[FL.LOG_MAG] / k))))
    target = (2**k) * x
    while n > 0 and (2 * n - 1) ** k > target:
        n -= 1
    while (2 * n + 1) ** k <= target:
        n += 1
    return number(n)


for _k in ROOT_ORDERS:  # root<k>: "the cube root of x to the nearest integer"; terminal
    instruction(f"root{_k}", 1)(lambda a, k=_k: nearest_root(a, k))

# The network's label sets, sized from the registry.
BINARY_OPS = ("none",) + tuple(n for n, i in INSTRUCTIONS.items() if i.arity == 2)
UNARY_OPS = ("keep", "unwrap") + tuple(n for n, i in INSTRUCTIONS.items() if i.arity == 1)
TERMINAL = frozenset(n for n in UNARY_OPS if n.startswith("root"))  # its result is the answer


def execute(name: str, *args: Value) -> Value:
    """Run one instruction; StepError for an unknown name, a wrong arity or wrong operand kinds."""
    ins = INSTRUCTIONS.get(name)
    if ins is None or ins.arity != len(args):
        raise StepError(f"no instruction {name!r} of arity {len(args)}")
    return ins.fn(*args)


# ----------------------------------------------------------------------------- one step


def step(ids: list[int], slots: list, gaps: dict[int, str], unary: dict[int, str], slot_id: int,
         edges: tuple[int, ...], apply=execute):
    """Carry out one step: the unary ops {slot k: op} (unwrap, root<k>), then every binary op
    {left slot k: op}, all at once.

    `ids` are token ids with `slot_id` at each slot; `slots` holds one payload per slot (Values, or any
    payload `apply(op, *payloads)` takes: the teacher runs the same step on Fractions). `edges` are the
    token ids that `unwrap` may not delete (slots, BOS, EOS). Returns the new (ids, slots); raises
    StepError for a step that cannot be carried out.

    >>> step([1, 9, 5, 9, 2], [1, 2], {0: "+"}, {}, slot_id=9, edges=(9, 1, 2), apply=lambda op, a, b: a + b)
    ([1, 9, 2], [3])
    """
    positions = [p for p, t in enumerate(ids) if t == slot_id]
    if len(positions) != len(slots):
        raise StepError("state has a different number of slots and payloads")
    slots = list(slots)
    delete = set()
    for k, op in unary.items():
        if not 0 <= k < len(slots):
            raise StepError(f"{op} of slot {k} of {len(slots)}")
        if op != "unwrap":
            slots[k] = apply(op, slots[k])
            continue
        p = positions[k]
        for q in (p - 1, p + 1):
            if ids[q] in edges:
                raise StepError(f"unwrap of slot {k} would delete a slot or an edge")
            delete.add(q)
    if delete:
        ids = [t for p, t in enumerate(ids) if p not in delete]
        positions = [p for p, t in enumerate(ids) if t == slot_id]
    used = set()
    for k in gaps:
        if k < 0 or k + 1 >= len(slots) or k in used or k + 1 in used:
            raise StepError(f"binary op on slots {k}, {k + 1} overlaps another or does not exist")
        used |= {k, k + 1}
    if not gaps:
        return ids, slots
    new_ids, new_slots, p, k = [], [], 0, 0
    while p < len(ids):
        if ids[p] == slot_id:
            if k in gaps:
                new_ids.append(slot_id)
                new_slots.append(apply(gaps[k], slots[k], slots[k + 1]))
                p = positions[k + 1] + 1
                k += 2
                continue
            new_slots.append(slots[k])
            k += 1
        new_ids.append(ids[p])
        p += 1
    return new_ids, new_slots


# ----------------------------------------------------------------------------- written answers


def render_number(v: Value) -> str:
    """An exact integer as an integer; any other number in the library's canonical 6-digit form."""
    if v.kind != "number":
        raise StepError(f"the answer is a {v.kind}, not a number")
    if _numbers.is_exact(v.vector):
        x = _numbers.decode_exact(v.vector)
        if Fraction(x).denominator == 1:
            return str(int(x))
    return fluxem.format_value(_numbers.decode(v.vector))


def render_quantity(v: Value) -> str:
    """ "3500 m": the value (exact when known) in its unit, 6 significant digits; a boolean as true/false."""
    if v.kind == "boolean":
        return "true" if v.truth else "false"
    if v.kind != "quantity":
        raise StepError(f"the answer is a {v.kind}, not a quantity")
    value = v.exact if v.exact is not None else _quantities.convert(v.vector, v.unit) if v.unit else \
        _quantities.si_value(v.vector)
    return f"{fluxem.format_value(value)} {v.unit}" if v.unit else fluxem.format_value(value)


def format_answer(value: int | Fraction, fmt: str) -> str:
    """mathematics_dataset's written form: an integer; else an exact decimal (when `fmt` is "decimal" and
    the value has one) or a reduced fraction with the sign on the numerator.

    >>> format_answer(Fraction(-571713169, 100000), "decimal"), format_answer(Fraction(409052, 5), "fraction")
    ('-5717.13169', '409052/5')
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    if fmt == "decimal":
        den, twos, fives = value.denominator, 0, 0
        while den % 2 == 0:
            den, twos = den // 2, twos + 1
        while den % 5 == 0:
            den, fives = den // 5, fives + 1
        if den == 1:
            places = max(twos, fives)
            scaled = abs(value.numerator) * (10**places // value.denominator)
            digits = str(scaled).rjust(places + 1, "0")
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return f"{value.numerator}/{value.denominator}"
