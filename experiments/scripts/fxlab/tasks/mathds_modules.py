"""Teacher for mathematics_dataset's comparison, measurement and numbers modules (training labels only).

`actions_for(module, state_text, n, record)` says which executor instructions (fxlab/executor.py) run
next on a reduction state of a question of `module`, like `fxlab.tasks.mathds.actions` does for the
arithmetic modules. The module name is known to the teacher only: the network tells the modules apart
from the wording. Every template of the generator's source (modules/comparison.py, measurement.py,
numbers.py) is covered.

The reduction of each module, one line a step (S is a slot):

- every module whose numbers may be fractions (comparison, the common denominator): first `/` on every
  `S/S` (a fraction such as "-2/7" is often read as two integers joined by the division sign);
- pair: `max2` / `min2` ("Which is bigger / greater / smaller: a or b?") or a relation `lt le gt ge eq
  ne` ("Is a at most b?", "Are a and b non-equal?");
- sort, kth_biggest, closest: `tag` every choice label with its value ("  (a) 0.2"), then `join` the first
  two values of the list (`S, S` or `S  S`) until one list is left; then `sort_asc` / `sort_desc`,
  `max` / `min` ("the biggest value"), `kth_big` / `kth_small` (the ordinal span, then the list: "the
  third biggest value"), or `closest` (the target, then the list);
- conversion: `convert` (quantity, unit) or `rconvert` ("How many <unit> are there in <quantity>?");
- time: `time_before` / `time_after` (the duration, then the time), or `minutes_between` then `rconvert`
  ("How many minutes are there between <time> and <time>?");
- div_remainder `mod`, gcd `gcd`, lcm `lcm` or `common_den`, is_factor `divides` ("Is a a factor of b?",
  "Does a divide b?") / `multiple_of` ("Is a a multiple of b?") / `is_even`, is_prime `is_prime` /
  `is_composite`, list_prime_factors `prime_factors`, place_value `digit_at` (the place span, then the number),
  round_number `round_dp`,
  `round_to` or `round_int`.

>>> actions_for("comparison__sort", "Sort \\x00, \\x00/\\x00, \\x00.", 0, {})
({1: '/'}, {})
>>> actions_for("comparison__kth_biggest_more", "Which is the \\x00 biggest value?  \\x00 \\x00  \\x00 \\x00", 0, {})
({1: 'tag', 3: 'tag'}, {})
>>> actions_for("kth_biggest", "Which is the \\x00 biggest value?  \\x00", 3, {})
({0: 'kth_big'}, {})
>>> actions_for("measurement__time", "How many \\x00 are there between \\x00 and \\x00?", 0, {})
({1: 'minutes_between'}, {})
"""

from __future__ import annotations

import re

from fxlab.tasks.base import SLOT_CHAR

_S = SLOT_CHAR
MODULES = ("closest", "kth_biggest", "pair", "sort", "conversion", "time", "div_remainder", "gcd",
           "is_factor", "is_prime", "lcm", "list_prime_factors", "place_value", "round_number")
_FAMILY = re.compile(r"^(?:comparison|measurement|numbers)__")
# The extrapolation modules: same templates, more or bigger numbers ("_extrapolate": the conversion
# module's extrapolation split, whose file has the training module's name).
_EXTRA = re.compile(r"_(?:more|big|extrapolate)$")

_FRACTION = re.compile(f"{_S}/{_S}")
_CHOICE = re.compile(f"  {_S} {_S}")  # "  (a) 0.2": a label and its value
_LIST = re.compile(f"{_S}(?:, |  ){_S}")  # two adjacent values of a list: "a, b" or "(a) x  (b) y"

# "the [<ordinal>] biggest value": the ordinal (display.StringOrdinal) is a span, so a slot here.
_KTH = re.compile(rf"the ({_S} )?(biggest|smallest) value")
# numbers.place_value: "What is the <place> digit of n?", the place name a span.
_PLACE = re.compile(f"What is the {_S} digit of {_S}\\?")

# comparison._make_comparison_question's templates. The relation is read from the question's own text:
# the state text has the same words, but the hybrid's character set may not hold "<", ">" and "!".
_OPERAND = r"\S+"
_RELATIONS = tuple((re.compile(p.replace("X", _OPERAND)), op) for p, op in (
    (r"Which is (?:bigger|greater): X or X\?", "max2"),
    (r"Which is smaller: X or X\?", "min2"),
    (r"Is X (?:<|less than|smaller than) X\?", "lt"),
    (r"Is X (?:<=|less than or equal to|at most|at most as big as) X\?", "le"),
    (r"Is X (?:>|greater than|bigger than) X\?", "gt"),
    (r"Is X (?:>=|greater than or equal to|at least|at least as big as) X\?", "ge"),
    (r"(?:Does X = X|Are X and X equal|Is X equal to X|Do X and X have the same value)\?", "eq"),
    (r"(?:Is X != X|Is X not equal to X|Are X and X (?:unequal|nonequal|non-equal)"
     r"|Do X and X have different values)\?", "ne"),
))


def _oracle_error(message: str) -> ValueError:
    from fxlab.tasks.mathds import OracleError  # here, so that tasks.mathds may import this module

    return OracleError(message)


def module_name(module: str) -> str:
    """The teacher's name of a module or file stem: "comparison__sort_more" -> "sort"."""
    name = _EXTRA.sub("", _FAMILY.sub("", module))
    if name not in MODULES:
        raise _oracle_error(f"no teacher for module {module!r}; known: {', '.join(MODULES)}")
    return name


def handles(module: str) -> bool:
    """True for a module (or file stem) this teacher labels; the arithmetic modules are tasks.mathds's."""
    return _EXTRA.sub("", _FAMILY.sub("", module)) in MODULES


def actions_for(module: str, state_text: str, n: int, record: dict) -> tuple[dict[int, str], dict[int, str]]:
    """({left slot k: binary op}, {slot k: unary op}) for state `n` of a question of `module` whose state
    text is `state_text` (characters, SLOT_CHAR for each slot); ({}, {}) when the state is the answer.
    OracleError (a ValueError) for a state no template of the module gives."""
    name = module_name(module)
    slots = state_text.count(_S)
    if slots == 0:
        raise _oracle_error(f"no slot in {state_text!r}")
    if name in ("closest", "kth_biggest", "pair", "sort", "lcm"):
        fractions = {_slot_before(state_text, m.start()): "/" for m in _FRACTION.finditer(state_text)}
        if fractions:
            return fractions, {}
    if name in ("closest", "kth_biggest", "sort"):
        tags = {_slot_before(state_text, m.start()): "tag" for m in _CHOICE.finditer(state_text)}
        if tags:
            return tags, {}
        m = _LIST.search(state_text)
        if m:
            return {_slot_before(state_text, m.start()): "join"}, {}
    return _FINAL[name](state_text, slots, record)


def _slot_before(text: str, pos: int) -> int:
    return text.count(_S, 0, pos)


def _need(slots: int, count: int, text: str) -> None:
    if slots != count:
        raise _oracle_error(f"expected {count} slots in {text!r}")


def _binary(op: str):
    """A module whose last step is one binary op on its two slots; one slot left is the answer."""

    def final(text: str, slots: int, record: dict):
        if slots == 1:
            return {}, {}
        _need(slots, 2, text)
        return {0: op}, {}

    return final


def _pair(text, slots, record):
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    question = record.get("text", text)
    for pattern, op in _RELATIONS:
        if pattern.fullmatch(question):
            return {0: op}, {}
    raise _oracle_error(f"no comparison template matches {question!r}")


def _sort(text, slots, record):
    _need(slots, 1, text)
    return {}, {0: "sort_desc" if re.search(r"\b(?:descending|decreasing) order", text) else "sort_asc"}


def _kth(text, slots, record):
    m = _KTH.search(text)
    if not m:
        raise _oracle_error(f"no 'the k-th biggest/smallest value' in {text!r}")
    big = m.group(2) == "biggest"
    if not m.group(1):
        _need(slots, 1, text)
        return {}, {0: "max" if big else "min"}
    _need(slots, 2, text)
    return {0: "kth_big" if big else "kth_small"}, {}


def _closest(text, slots, record):
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    if not re.search(r"\b(?:closest|nearest) to ", text):
        raise _oracle_error(f"not a closest question: {text!r}")
    return {0: "closest"}, {}


def _conversion(text, slots, record):
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    return {0: "rconvert" if text.startswith("How many ") else "convert"}, {}


def _time(text, slots, record):
    if slots == 1:
        return {}, {}
    if slots == 3 and re.fullmatch(f"How many {_S} are there between {_S} and {_S}\\?", text):
        return {1: "minutes_between"}, {}
    _need(slots, 2, text)
    if text.startswith("How many "):
        return {0: "rconvert"}, {}
    m = re.fullmatch(f"What is {_S} (before|after) {_S}\\?", text)
    if not m:
        raise _oracle_error(f"no time template matches {text!r}")
    return {0: f"time_{m.group(1)}"}, {}


def _lcm(text, slots, record):
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    return {0: "common_den" if "common denominator" in text else "lcm"}, {}


def _is_factor(text, slots, record):
    if re.fullmatch(f"Is {_S} even\\?", text):
        return {}, {0: "is_even"}
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    return {0: "multiple_of" if " a multiple of " in text else "divides"}, {}


def _is_prime(text, slots, record):
    _need(slots, 1, text)
    return {}, {0: "is_composite" if "composite" in text else "is_prime"}


def _prime_factors(text, slots, record):
    _need(slots, 1, text)
    return {}, {0: "prime_factors"}


def _place_value(text, slots, record):
    _need(slots, 2, text)
    if not _PLACE.fullmatch(text):
        raise _oracle_error(f"no place name in {text!r}")
    return {0: "digit_at"}, {}


def _round(text, slots, record):
    if re.search(r"to the nearest integer\b", text):
        _need(slots, 1, text)
        return {}, {0: "round_int"}
    if slots == 1:
        return {}, {}
    _need(slots, 2, text)
    if re.search(f"to the nearest {_S}", text):
        return {0: "round_to"}, {}
    if re.search(f"to {_S} (?:decimal places?|dps?)\\b", text):
        return {0: "round_dp"}, {}
    raise _oracle_error(f"no rounding template matches {text!r}")


_FINAL = {
    "pair": _pair, "sort": _sort, "kth_biggest": _kth, "closest": _closest, "conversion": _conversion,
    "time": _time, "div_remainder": _binary("mod"), "gcd": _binary("gcd"), "lcm": _lcm,
    "is_factor": _is_factor, "is_prime": _is_prime, "list_prime_factors": _prime_factors,
    "place_value": _place_value, "round_number": _round,
}
