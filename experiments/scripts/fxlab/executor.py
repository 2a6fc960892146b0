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

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

import fluxem
from fluxem import layout as FL
from fluxem.units import canonical_si_unit, convert_exact, to_si_exact

_numbers = fluxem.NumberEncoder()
_quantities = fluxem.QuantityEncoder()

# root<k> for the roots named by a word of their own ("the square root", "the cube root"); "the eighth
# root of x" names its k with an ordinal span and is `root_of`.
ROOT_ORDERS = (2, 3)


class StepError(ValueError):
    """A predicted step cannot be carried out (wrong operand kinds, overlapping ops); the answer is ""."""


@dataclass(frozen=True)
class Value:
    """One slot's payload.

    kind: "number" | "quantity" | "unit" | "boolean" | "time" | "label" | "ordinal" | "place" | "list".
    `vector` is the FluxEM vector (128,) float64 (a boolean holds the number 1 or 0, a time its minutes
    since midnight, a label its letter's index, an ordinal its k, a place its value 10**p, a list the
    vector of its last item, so every slot can re-enter the network). A
    quantity or unit keeps the unit as written (`unit`), and a quantity its exact value in that unit
    (`exact`, a Fraction) when the span detector read one: the vectors' float channels hold SI values,
    and text answers are exact.

    What a written answer needs besides the value, set by rules on values and where they came from:
    `items` (a list's Values, in order), `label` (the index of the choice letter a value was tagged
    with, by `tag`) and `form` (how a number is written: "int" or "decimal" for a literal written so,
    "fraction" for a literal p/q or the `/` of two integer literals, "decimal" for a rounded value;
    None for a computed value, which the answer's format decides)."""

    kind: str
    vector: np.ndarray
    unit: str | None = None
    exact: Fraction | None = None
    items: tuple[Value, ...] | None = None
    label: int | None = None
    form: str | None = None

    @property
    def truth(self) -> bool:
        return self.kind == "boolean" and _numbers.decode(self.vector) == 1.0


def value_of_span(span) -> Value:
    """The Value of a span from `fluxem.detect_spans`. A number's `form` follows its literal: an integer is
    "int", a non-integer "decimal" when written with a decimal point, else "fraction" ("-3/74", "two
    thirds"); a clock time holds its minutes since midnight, a choice label its letter's index, an
    ordinal its k, a place name its value 10**p."""
    exact = None if span.exact is None else Fraction(span.exact)
    if span.kind == "number":
        x = span.exact if span.exact is not None else span.value
        form = "int" if exact is not None and exact.denominator == 1 else "decimal" if "." in span.text \
            else "fraction"
        return Value("number", _numbers.encode(x), form=form)
    if span.kind == "quantity":
        return Value("quantity", _quantities.encode(span.value, span.unit), span.unit, exact)
    if span.kind in ("time", "label", "ordinal", "place"):
        return Value(span.kind, _numbers.encode(int(span.value)))
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
    # A terminal op's result is the answer (`terminal_slot`). A unary op leaves the text as it was, so
    # the reduction stops after it rather than asking the network whether it has already run; a gap op
    # that finishes a question ("the eighth root of x", "the third biggest value") is terminal so that
    # the leftover words ("What is the # to the nearest integer?") are never read as a new question.
    terminal: bool = False


INSTRUCTIONS: dict[str, Instruction] = {}


def instruction(name: str, arity: int, terminal: bool = False):
    def register(fn):
        if name in INSTRUCTIONS:
            raise RuntimeError(f"instruction {name!r} is registered twice")
        INSTRUCTIONS[name] = Instruction(name, arity, fn, terminal)
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
    out = _product(a, b, divide=True)
    if a.form == b.form == "int":  # "-2/7" read as two integer literals: the fraction as written
        return Value("number", out.vector, form="fraction")
    return out


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
    instruction(f"root{_k}", 1, terminal=True)(lambda a, k=_k: nearest_root(a, k))


def _index(v: Value, kind: str) -> int:
    """The int an ordinal (k) or a place (10**p) span holds."""
    _need(kind, v)
    return int(_exact_of(v))


@instruction("root_of", 2, terminal=True)  # "the eighth root of x to the nearest integer": an ordinal, then x
def _root_of(k: Value, a: Value) -> Value:
    return nearest_root(a, _index(k, "ordinal"))


# ----------------------------------------------------------------------------- mathematics_dataset modules
# Comparison, measurement and number questions (mathematics_dataset's comparison, measurement and numbers
# modules). Numbers are compared and computed exactly (the residue channels); an inexact operand is a
# StepError, never a float guess.


def _rational(v: Value) -> Fraction:
    _need("number", v)
    return Fraction(_exact_of(v))


def _integer(v: Value) -> int:
    x = _rational(v)
    if x.denominator != 1:
        raise StepError(f"needs an integer, got {x}")
    return int(x)


def integer(n: int) -> Value:
    """A computed integer, written as an integer wherever it appears (a list item, a digit)."""
    return Value("number", _numbers.encode(int(n)), form="int")


for _name, _relation in (("lt", Fraction.__lt__), ("le", Fraction.__le__), ("gt", Fraction.__gt__),
                         ("ge", Fraction.__ge__), ("eq", Fraction.__eq__), ("ne", Fraction.__ne__)):
    # "Is a < b?", "Is a at least as big as b?", "Are a and b unequal?": a boolean
    instruction(_name, 2)(lambda a, b, rel=_relation: boolean(rel(_rational(a), _rational(b))))


@instruction("max2", 2)  # "Which is bigger: a or b?": the operand itself, so it is written as in the question
def _max2(a: Value, b: Value) -> Value:
    return a if _rational(a) >= _rational(b) else b


@instruction("min2", 2)  # "Which is smaller: a or b?"
def _min2(a: Value, b: Value) -> Value:
    return a if _rational(a) <= _rational(b) else b


@instruction("tag", 2)  # a choice label, then its value: the value, answered by the label's letter
def _tag(a: Value, b: Value) -> Value:
    _need("label", a)
    _need("number", b)
    return replace(b, label=int(_exact_of(a)))


def _members(v: Value) -> tuple[Value, ...]:
    if v.kind == "list":
        return v.items
    _need("number", v)
    return (v,)


@instruction("join", 2)  # a list of the two operands' values (a value or a list each), in text order
def _join(a: Value, b: Value) -> Value:
    items = _members(a) + _members(b)
    return Value("list", items[-1].vector, items=items)


def _items(v: Value) -> tuple[Value, ...]:
    _need("list", v)
    return v.items


def _sorted(v: Value, descending: bool) -> list[Value]:
    return sorted(_items(v), key=_rational, reverse=descending)


def _as_list(items) -> Value:
    items = tuple(items)
    return Value("list", items[-1].vector, items=items)


@instruction("sort_asc", 1, terminal=True)
def _sort_asc(v: Value) -> Value:
    return _as_list(_sorted(v, descending=False))


@instruction("sort_desc", 1, terminal=True)
def _sort_desc(v: Value) -> Value:
    return _as_list(_sorted(v, descending=True))


@instruction("max", 1, terminal=True)  # "the biggest value in a, b, c"
def _max(v: Value) -> Value:
    return _sorted(v, descending=True)[0]


@instruction("min", 1, terminal=True)
def _min(v: Value) -> Value:
    return _sorted(v, descending=False)[0]


def kth(v: Value, k: int, descending: bool) -> Value:
    """The k-th biggest (descending) or smallest item of a list, k from 1."""
    ordered = _sorted(v, descending)
    if not 1 <= k <= len(ordered):
        raise StepError(f"the {k}th of a list of {len(ordered)}")
    return ordered[k - 1]


# "the third biggest value": an ordinal span (k), then the list; any k, so the _more files' ninth and
# tenth (training lists have 3 to 8 values) need nothing new. "the biggest value" is `max` / `min`.
@instruction("kth_big", 2, terminal=True)
def _kth_big(k: Value, v: Value) -> Value:
    return kth(v, _index(k, "ordinal"), descending=True)


@instruction("kth_small", 2, terminal=True)
def _kth_small(k: Value, v: Value) -> Value:
    return kth(v, _index(k, "ordinal"), descending=False)


@instruction("closest", 2)  # a target, then a list: the item nearest the target
def _closest(a: Value, b: Value) -> Value:
    target = _rational(a)
    distances = [abs(_rational(item) - target) for item in _items(b)]
    best = min(distances)
    if distances.count(best) > 1:
        raise StepError(f"two items are equally close to {target}")
    return b.items[distances.index(best)]


@instruction("mod", 2)  # "the remainder when a is divided by b": a mod b, the sign of b (Python's %)
def _mod(a: Value, b: Value) -> Value:
    x, y = _integer(a), _integer(b)
    if y == 0:
        raise StepError("remainder of a division by 0")
    return integer(x % y)


@instruction("gcd", 2)  # "the greatest common divisor of a and b"
def _gcd(a: Value, b: Value) -> Value:
    return integer(math.gcd(_integer(a), _integer(b)))


@instruction("lcm", 2)  # "the least common multiple of a and b"
def _lcm(a: Value, b: Value) -> Value:
    return integer(math.lcm(_integer(a), _integer(b)))


@instruction("common_den", 2)  # "the common denominator of p and q": the lcm of their denominators
def _common_den(a: Value, b: Value) -> Value:
    return integer(math.lcm(_rational(a).denominator, _rational(b).denominator))


def _is_multiple(x: int, d: int) -> bool:
    if d == 0:
        raise StepError("divisibility by 0")
    return x % d == 0


@instruction("divides", 2)  # "Is a a factor of b?", "Does a divide b?": b is a multiple of a
def _divides(a: Value, b: Value) -> Value:
    return boolean(_is_multiple(_integer(b), _integer(a)))


@instruction("multiple_of", 2)  # "Is a a multiple of b?"
def _multiple_of(a: Value, b: Value) -> Value:
    return boolean(_is_multiple(_integer(a), _integer(b)))


@instruction("is_even", 1, terminal=True)  # "Is a even?"
def _is_even(a: Value) -> Value:
    return boolean(_integer(a) % 2 == 0)


_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
# Miller-Rabin with the 13 primes up to 41 as witnesses decides primality exactly below this bound
# (Sorenson and Webster, 2015); above it a test would only be probable, so it is refused.
PRIME_LIMIT = 3317044064679887385961981


def is_prime(n: int) -> bool:
    """Exact primality of an integer below PRIME_LIMIT (StepError above).

    >>> [n for n in range(30) if is_prime(n)]
    [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    """
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    if n >= PRIME_LIMIT:
        raise StepError(f"primality of {n}: past {PRIME_LIMIT}, where it cannot be decided exactly")
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _split(n: int) -> int:
    """A non-trivial factor of an odd composite n (Pollard's rho, Brent's cycle search, fixed seeds)."""
    for c in range(1, n):
        x = y = 2
        d, power, steps = 1, 1, 0
        while d == 1:
            if steps == power:
                x, power, steps = y, power * 2, 0
            y = (y * y + c) % n
            steps += 1
            d = math.gcd(abs(x - y), n)
        if d != n:
            return d
    raise StepError(f"cannot factor {n}")


def prime_factors(n: int) -> list[int]:
    """The distinct prime factors of an integer 2 <= n < PRIME_LIMIT, ascending.

    >>> prime_factors(703505751), prime_factors(2**10)
    ([3, 13, 29, 89, 241], [2])
    """
    if not 2 <= n < PRIME_LIMIT:
        raise StepError(f"prime factors of {n}: needs 2 <= n < {PRIME_LIMIT}")
    found = set()
    for p in range(2, 1000):
        while n % p == 0:
            found.add(p)
            n //= p
    pending = [n] if n > 1 else []
    while pending:
        m = pending.pop()
        if is_prime(m):
            found.add(m)
        else:
            d = _split(m)
            pending += [d, m // d]
    return sorted(found)


@instruction("is_prime", 1, terminal=True)  # "Is n prime?", "Is n a prime number?"
def _is_prime(a: Value) -> Value:
    return boolean(is_prime(_integer(a)))


@instruction("is_composite", 1, terminal=True)  # "Is n composite?": n > 1 and not prime
def _is_composite(a: Value) -> Value:
    n = _integer(a)
    return boolean(n > 1 and not is_prime(n))


@instruction("prime_factors", 1, terminal=True)  # "List the prime factors of n.": a list, ascending
def _prime_factors(a: Value) -> Value:
    return _as_list(integer(p) for p in prime_factors(_integer(a)))


@instruction("digit_at", 2, terminal=True)  # "the ten thousands digit of n": a place span (10**p), then n
def _digit_at(place: Value, a: Value) -> Value:
    return integer(abs(_integer(a)) // _index(place, "place") % 10)


def round_half_away(x: Fraction) -> int:
    """The integer nearest x, a tie away from zero (mathematics_dataset's rounding).

    >>> round_half_away(Fraction(5, 2)), round_half_away(Fraction(-5, 2)), round_half_away(Fraction(-7, 3))
    (3, -3, -2)
    """
    n = math.floor(abs(x) + Fraction(1, 2))
    return n if x >= 0 else -n


def _rounded(x: Fraction) -> Value:
    return Value("number", _numbers.encode(x), form="int" if x.denominator == 1 else "decimal")


@instruction("round_dp", 2)  # "Round x to n decimal places." / "to n dps"
def _round_dp(a: Value, b: Value) -> Value:
    places = _integer(b)
    if places < 0:
        raise StepError(f"{places} decimal places")
    scale = 10**places
    return _rounded(Fraction(round_half_away(_rational(a) * scale), scale))


@instruction("round_to", 2)  # "Round x to the nearest 1000" / "the nearest one hundred thousand"
def _round_to(a: Value, b: Value) -> Value:
    unit = _rational(b)
    if unit <= 0:
        raise StepError(f"rounding to the nearest {unit}")
    return _rounded(round_half_away(_rational(a) / unit) * unit)


@instruction("round_int", 1, terminal=True)  # "Round x to the nearest integer."
def _round_int(a: Value) -> Value:
    return _rounded(Fraction(round_half_away(_rational(a))))


@instruction("rconvert", 2)  # a unit, then a quantity: "How many grams are there in 3 kg?"
def _rconvert(a: Value, b: Value) -> Value:
    return _convert(b, a)


MINUTES_PER_DAY = 24 * 60


def _minutes(v: Value) -> int:
    """A duration in whole minutes: a quantity of time (exact), or a number of minutes."""
    if v.kind == "number":
        x = _rational(v)
    else:
        _need("quantity", v)
        if v.exact is None:
            raise StepError("needs an exact duration")
        x = convert_exact(v.exact, v.unit, "min")
    if x.denominator != 1:
        raise StepError(f"a duration of {x} minutes is not whole")
    return int(x)


def _clock(v: Value) -> int:
    _need("time", v)
    return int(_exact_of(v))


def clock_time(minutes: int) -> Value:
    """The time of day `minutes` after midnight (any integer; days wrap)."""
    return Value("time", _numbers.encode(minutes % MINUTES_PER_DAY))


@instruction("time_after", 2)  # a duration, then a time: "What is 107 minutes after 2:41 AM?"
def _time_after(a: Value, b: Value) -> Value:
    return clock_time(_clock(b) + _minutes(a))


@instruction("time_before", 2)  # "What is 692 minutes before 5:00 PM?"
def _time_before(a: Value, b: Value) -> Value:
    return clock_time(_clock(b) - _minutes(a))


@instruction("minutes_between", 2)  # two times: the minutes from the first to the next following second
def _minutes_between(a: Value, b: Value) -> Value:
    minutes = (_clock(b) - _clock(a)) % MINUTES_PER_DAY
    # A quantity in minutes, so that "How many minutes are there between ..." is one `rconvert` more.
    return Value("quantity", _quantities.encode(minutes, "min"), "min", Fraction(minutes))


# The network's label sets, sized from the registry.
BINARY_OPS = ("none",) + tuple(n for n, i in INSTRUCTIONS.items() if i.arity == 2)
UNARY_OPS = ("keep", "unwrap") + tuple(n for n, i in INSTRUCTIONS.items() if i.arity == 1)
TERMINAL = frozenset(n for n, i in INSTRUCTIONS.items() if i.terminal)  # its result is the answer


def terminal_slot(gaps: dict[int, str], unary: dict[int, str]) -> int | None:
    """The index, after the step, of the slot that a terminal instruction of this step writes (that
    slot is the answer), or None when no instruction is terminal. StepError for two terminal
    instructions, or a binary op that would swallow a terminal unary op's slot.

    >>> terminal_slot({0: "+", 3: "kth_big"}, {}), terminal_slot({0: "+"}, {2: "sort_asc"}), terminal_slot({0: "+"}, {})
    (2, 1, None)
    """
    found = [k for k, op in unary.items() if op in TERMINAL] + [k for k, op in gaps.items() if op in TERMINAL]
    if not found:
        return None
    if len(found) > 1:
        raise StepError("two terminal instructions in one step")
    k = found[0]
    if unary.get(k) in TERMINAL and (k in gaps or k - 1 in gaps):
        raise StepError(f"a binary op on the slot of terminal {unary[k]}")
    return k - sum(1 for g in gaps if g < k)


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


def clock_text(minutes: int) -> str:
    """ "5:28 AM": a time of day in mathematics_dataset's 12-hour form (12:05 AM is just past midnight)."""
    hours, minutes = divmod(minutes % MINUTES_PER_DAY, 60)
    return f"{(hours - 1) % 12 + 1}:{minutes:02d} {'AM' if hours < 12 else 'PM'}"


def render_mathds(v: Value, fmt: str | None = None) -> str:
    """mathematics_dataset's written answer of a reduced value: "True" / "False"; the letter of a value
    tagged with a choice label; a list as "a, b, c"; a time as "5:28 AM"; a quantity as its exact value
    in its unit (an exact decimal, "0.00000148850575"); a number as its `form` says ("-2/107", "0.1",
    "-8"), or, for a computed number, as `format_answer` writes it in the format `fmt` (the arithmetic
    modules). StepError for a value that is not an answer (a bare unit or label, an inexact number).

    >>> render_mathds(clock_time(-32)), render_mathds(_as_list([integer(3), number(Fraction(1, 8))]))
    ('11:28 PM', '3, 1/8')
    """
    if v.kind == "boolean":
        return "True" if v.truth else "False"
    if v.label is not None:
        if not 0 <= v.label < 26:
            raise StepError(f"choice label {v.label} has no letter")
        return chr(ord("a") + v.label)
    if v.kind == "list":
        return ", ".join(render_mathds(item, fmt) for item in v.items)
    if v.kind == "time":
        return clock_text(_clock(v))
    if v.kind == "quantity":
        if v.exact is None:
            raise StepError("the answer is not an exact quantity")
        return format_answer(v.exact, "decimal")
    if v.kind != "number":
        raise StepError(f"a {v.kind} is not an answer")
    form = v.form if v.form in ("fraction", "decimal") else fmt or "fraction"
    return format_answer(_rational(v), form)
