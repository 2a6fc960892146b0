"""Test splits for mathematics_dataset's comparison modules (pair, closest, kth_biggest, sort) that separate
reading values from memorising them.

- `scale_problem(question, answer, k)`: every number of a problem times 10**k. A positive factor keeps
  every order, so the letter, truth value or chosen slot of the answer is unchanged, while the numbers
  move far from the magnitudes seen in training (mag_up / mag_down splits).
- `close_problem(module, rng)`: new problems in the generator's own wording whose deciding values differ by
  under 1% relative, so the answer needs the digits, not a rough size (close split).
- `relative_gap(question)`: how close the deciding values are, for plotting accuracy against it.

Numbers are written as mathematics_dataset 1.0.1 writes them (util/display.py, sympy): integers `-94`,
decimals `-0.055` (exact, no exponent, no trailing zeros), fractions `-2/51` in lowest terms. Everything is
exact (fractions.Fraction); pure Python, no torch or numpy.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
import re
from fractions import Fraction

MODULES = ("pair", "closest", "kth_biggest", "sort")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")  # choice labels "(a)" and ordinal words have no digits
MAX_GAP = Fraction(1, 100)  # close problems: deciding values differ by under 1% relative

# The templates of modules/comparison.py, verbatim ({values}: "x, y, z"; {choices}: "  (a) x  (b) y").
WHICH = {"Which is bigger: {left} or {right}?": max, "Which is greater: {left} or {right}?": max,
         "Which is smaller: {left} or {right}?": min}
RELATIONS = {
    operator.lt: ["Is {left} < {right}?", "Is {left} less than {right}?", "Is {left} smaller than {right}?"],
    operator.le: ["Is {left} <= {right}?", "Is {left} less than or equal to {right}?",
                  "Is {left} at most {right}?", "Is {left} at most as big as {right}?"],
    operator.gt: ["Is {left} > {right}?", "Is {left} greater than {right}?", "Is {left} bigger than {right}?"],
    operator.ge: ["Is {left} >= {right}?", "Is {left} greater than or equal to {right}?",
                  "Is {left} at least {right}?", "Is {left} at least as big as {right}?"],
    operator.eq: ["Does {left} = {right}?", "Are {left} and {right} equal?", "Is {left} equal to {right}?",
                  "Do {left} and {right} have the same value?"],
    operator.ne: ["Is {left} != {right}?", "Is {left} not equal to {right}?", "Are {left} and {right} unequal?",
                  "Are {left} and {right} nonequal?", "Are {left} and {right} non-equal?",
                  "Do {left} and {right} have different values?"],
}
KTH = ("What is the {adjective} value in {values}?", "Which is the {adjective} value?{choices}")
CLOSEST = ("What is the {adjective} to {target} in {values}?", "Which is the {adjective} to {target}?{choices}")
SORT = ("Sort {values} in {direction} order.", "Put {values} in {direction} order.", "Sort {values}.")
# display.StringOrdinal (its spelling "twelth"); ordinal 1 is not written ("the biggest value").
ORDINALS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
            "tenth", "eleventh", "twelth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth"]


# ---- numbers -------------------------------------------------------------------------------------------

def parse(text: str) -> Fraction:
    """The exact value of a number literal: `-94`, `-0.055`, `-2/51`."""
    return Fraction(text)


def decimal_text(value: Fraction) -> str:
    """`value` as display.Decimal writes it: exact, no exponent, no trailing zeros (integers plain)."""
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
        if places > 400:
            raise ValueError(f"{value} has no terminating decimal")
    digits = str(abs(value.numerator * 10**places // value.denominator)).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return sign + (digits[:-places] + "." + digits[-places:] if places else digits)


def fraction_text(value: Fraction) -> str:
    """`value` as sympy writes a Rational: `p/q` in lowest terms, or an integer when q == 1."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def scale_literal(text: str, k: int) -> str:
    """A number literal times 10**k, in its own style: a fraction stays a fraction (or an integer); an integer
    or decimal becomes an integer when the result is one, else a decimal."""
    value = parse(text) * Fraction(10) ** k
    return fraction_text(value) if "/" in text else decimal_text(value)


# ---- the answer, recomputed from the question -------------------------------------------------------------

def _regex(template: str) -> re.Pattern:
    """A template as a regex over the question with every number replaced by `#`."""
    pattern = re.escape(template)
    for name, sub in (("left", "#"), ("right", "#"), ("target", "#"), ("values", r"#(?:, #)*"),
                      ("choices", r"(?:  \([a-z]\) #)+"), ("adjective", r"(?P<adjective>[a-z ]+)"),
                      ("direction", r"(?P<direction>[a-z]+)")):
        pattern = pattern.replace(re.escape("{" + name + "}"), sub)
    return re.compile(pattern + r"\Z")


_PAIR = [(_regex(t), "which", fn) for t, fn in WHICH.items()] + \
        [(_regex(t), "relation", fn) for fn, ts in RELATIONS.items() for t in ts]
_LISTS = [(_regex(t), "kth_biggest") for t in KTH] + [(_regex(t), "closest") for t in CLOSEST] + \
         [(_regex(t), "sort") for t in SORT]


def solve(question: str) -> str | None:
    """The answer of a comparison question, recomputed exactly from its text in the generator's answer form;
    None when the wording is none of the four modules' templates (then nothing can be checked)."""
    texts = NUMBER.findall(question)
    values = [parse(t) for t in texts]
    masked = NUMBER.sub("#", question)
    for regex, kind, fn in _PAIR:
        if regex.match(masked):
            if kind == "relation":
                return str(fn(*values))
            return texts[values.index(fn(values))]
    for regex, module in _LISTS:
        m = regex.match(masked)
        if not m:
            continue
        choices = "(a)" in question
        if module == "sort":
            descending = m.groupdict().get("direction") in ("descending", "decreasing")
            order = sorted(range(len(values)), key=values.__getitem__, reverse=descending)
            return ", ".join(texts[i] for i in order)
        if module == "closest":
            target, texts, values = values[0], texts[1:], values[1:]
            index = min(range(len(values)), key=lambda i: abs(values[i] - target))
        else:
            words = m["adjective"].split()
            kth = ORDINALS.index(words[0]) if len(words) == 2 else 1
            order = sorted(range(len(values)), key=values.__getitem__, reverse=words[-1] == "biggest")
            index = order[kth - 1]
        return chr(ord("a") + index) if choices else texts[index]
    return None


# ---- magnitude splits -------------------------------------------------------------------------------------

def scale_problem(question: str, answer: str, k: int) -> tuple[str, str]:
    """The problem with every number of the question times 10**k, and its answer to match: a letter or
    True/False unchanged, a value (or each value of a sorted list) scaled like the question's literal it
    names. Raises AssertionError when the scaled answer disagrees with the one recomputed from the scaled
    question."""
    new_question = NUMBER.sub(lambda m: scale_literal(m.group(), k), question)
    if answer in ("True", "False") or re.fullmatch(r"[a-z]", answer):
        new_answer = answer
    else:
        items = answer.split(", ")
        literals = NUMBER.findall(question)
        assert all(item in literals for item in items), f"answer {answer!r} is not a literal of {question!r}"
        new_answer = ", ".join(scale_literal(item, k) for item in items)
    expected = solve(new_question)
    assert expected is None or expected == new_answer, \
        f"scaled {question!r} -> {answer!r} by 10**{k}: got {new_answer!r}, recomputed {expected!r}"
    return new_question, new_answer


# ---- close-value problems ------------------------------------------------------------------------------

def _near(x: Fraction, tol: Fraction, rng: random.Random, styles=("integer", "decimal", "fraction")):
    """A literal within `tol` of `x` in a style tried in random order (integer, non-integer decimal,
    non-integer fraction), with at most 10 digits like the generator's numbers; None if no style fits."""
    for style in rng.sample(styles, len(styles)):
        if style == "integer":
            value = Fraction(round(x))
            text = str(value.numerator)
        elif style == "decimal":
            places = max(1, math.ceil(-math.log10(tol * 2))) + rng.randint(0, 1)
            value = Fraction(round(x * 10**places), 10**places)
            text = decimal_text(value)
        else:
            low = max(2, math.ceil(1 / (2 * tol)))
            value = Fraction(round(x * (q := rng.randint(low, 3 * low))), q)
            text = fraction_text(value)
        integral = value.denominator == 1
        if abs(value - x) <= tol and integral == (style == "integer") and len(re.sub(r"\D", "", text)) <= 10:
            return value, text
    return None


def _center(rng: random.Random, low: int, high: int) -> Fraction:
    """A random signed value with 4 significant digits and decimal exponent in [low, high]."""
    return rng.choice((-1, 1)) * Fraction(rng.randint(1000, 9999), 1000) * Fraction(10) ** rng.randint(low, high)


def _gap(x: Fraction, y: Fraction) -> Fraction:
    """|x - y| / max(|x|, |y|); 0 for two zeros."""
    top = max(abs(x), abs(y))
    return abs(x - y) / top if top else Fraction(0)


def _close_list(rng: random.Random, count: int, only_integers: bool = False) -> list[tuple[Fraction, str]]:
    """`count` distinct literals in a band of about 1% around a random centre: every two neighbours in
    sorted order differ by under 1% relative."""
    while True:
        if only_integers:
            centre, tol, styles = _center(rng, 4, 7), Fraction(1, 2), ("integer",)
        else:
            centre, styles = _center(rng, -2, 6), ("integer", "decimal", "fraction")
            tol = abs(centre) / 2000
        items = [_near(centre * (1 + Fraction(rng.randint(-4500, 4500), 10**6)), tol, rng, styles)
                 for _ in range(count)]
        if None in items:
            continue
        values = sorted(v for v, _ in items)
        if len(set(values)) == count and all(_gap(a, b) < MAX_GAP for a, b in zip(values, values[1:])):
            return items


def _list_text(texts: list[str]) -> str:
    return ", ".join(texts)


def _choices_text(texts: list[str]) -> str:
    return "".join(f"  ({chr(ord('a') + i)}) {t}" for i, t in enumerate(texts))


def _pair(rng: random.Random) -> tuple[str, str]:
    while True:
        centre = _center(rng, -2, 7)
        tol = abs(centre) / 500
        offset = rng.choice((-1, 1)) * Fraction(rng.randint(5, 90), 10**4)
        left, right = _near(centre, tol, rng), _near(centre * (1 + offset), tol, rng)
        if left and right and left[0] != right[0] and _gap(left[0], right[0]) < MAX_GAP:
            break
    (a, a_text), (b, b_text) = rng.sample([left, right], 2)
    if rng.choice((False, True)):  # as _make_comparison_question: "Which is ...", else a relation
        template = rng.choice(list(WHICH))
        return template.format(left=a_text, right=b_text), (a_text if WHICH[template]((a, b)) == a else b_text)
    relation = rng.choice(list(RELATIONS))
    return rng.choice(RELATIONS[relation]).format(left=a_text, right=b_text), str(relation(a, b))


def _kth_biggest(rng: random.Random) -> tuple[str, str]:
    items = _close_list(rng, rng.randint(3, 8))
    values, texts = [v for v, _ in items], [t for _, t in items]
    multichoice = rng.choice((False, True))
    kth = rng.randint(1, len(items))
    biggest = rng.choice((False, True))
    index = sorted(range(len(values)), key=values.__getitem__, reverse=biggest)[kth - 1]
    adjective = ("biggest" if biggest else "smallest") if kth == 1 else \
        f"{ORDINALS[kth]} {'biggest' if biggest else 'smallest'}"
    if multichoice:
        return KTH[1].format(adjective=adjective, choices=_choices_text(texts)), chr(ord("a") + index)
    return KTH[0].format(adjective=adjective, values=_list_text(texts)), texts[index]


def _closest(rng: random.Random) -> tuple[str, str]:
    """Target t; the two nearest candidates at distances D and about D * (1 +- 0.9%), on random sides of t
    (so candidates of both signs happen); the others at 1.5 D to 10 D."""
    count = rng.randint(3, 6)
    multichoice = rng.choice((False, True))
    while True:
        t = Fraction(rng.randint(-10, 10)) if rng.random() < 0.25 else _center(rng, -2, 5)
        target = _near(t, abs(t) / 100 or Fraction(1, 2), rng)
        d = abs(_center(rng, -2, 5))
        if target is None:
            continue
        t = target[0]
        factors = [Fraction(1), 1 + rng.choice((-1, 1)) * Fraction(rng.randint(5, 90), 10**4)]
        factors += [Fraction(rng.randint(1500, 10000), 1000) for _ in range(count - 2)]
        items = [_near(t + rng.choice((-1, 1)) * d * f, d / 5000, rng) for f in factors]
        if None in items:
            continue
        distances = sorted(abs(v - t) for v, _ in items)
        if len(set(distances)) == count and _gap(distances[0], distances[1]) < MAX_GAP:
            break
    items = rng.sample(items, count)
    texts = [text for _, text in items]
    index = min(range(count), key=lambda i: abs(items[i][0] - t))
    adjective = rng.choice(("closest", "nearest"))
    if multichoice:
        return (CLOSEST[1].format(adjective=adjective, target=target[1], choices=_choices_text(texts)),
                chr(ord("a") + index))
    return CLOSEST[0].format(adjective=adjective, target=target[1], values=_list_text(texts)), texts[index]


def _sort(rng: random.Random) -> tuple[str, str]:
    items = _close_list(rng, rng.randint(3, 8), only_integers=rng.choice((False, True)))
    ascending = rng.choice((False, True))
    templates = list(SORT) if ascending else list(SORT[:2])  # "Sort x, y." only for ascending
    direction = rng.choice(("ascending", "increasing") if ascending else ("descending", "decreasing"))
    question = rng.choice(templates).format(values=_list_text([t for _, t in items]), direction=direction)
    answer = ", ".join(t for _, t in sorted(items, key=lambda item: item[0], reverse=not ascending))
    return question, answer


_GENERATORS = {"pair": _pair, "closest": _closest, "kth_biggest": _kth_biggest, "sort": _sort}


def close_problem(module: str, rng: random.Random) -> tuple[str, str]:
    """A new `module` problem (pair, closest, kth_biggest or sort) in the generator's wording, template drawn
    at random as comparison.py draws it, whose deciding values differ by under 1% relative: pair's two
    operands; every two neighbours (sorted) of a sort or kth_biggest list; closest's two smallest distances
    to the target (all distances distinct, so the answer is unique). Only `rng` is used: a seed gives the
    same problems. The answer is checked against `solve`."""
    if module not in _GENERATORS:
        raise ValueError(f"unknown comparison module {module!r}; expected one of {', '.join(MODULES)}")
    question, answer = _GENERATORS[module](rng)
    assert solve(question) == answer, (question, answer, solve(question))
    return question, answer


def relative_gap(question: str) -> float:
    """How close the deciding values of a question are. For a closest question ("closest"/"nearest" in its
    wording): the relative gap |d1 - d2| / max(d1, d2) between the two smallest distances to the target
    (the first number). Otherwise: the smallest |x - y| / max(|x|, |y|) over every two number literals
    (choice labels are not numbers); two equal literals give 0.0. A question with fewer than two numbers
    (or closest candidates) gives inf."""
    values = [parse(t) for t in NUMBER.findall(question)]
    if re.search(r"\b(closest|nearest)\b", question) and len(values) >= 3:
        values = sorted(abs(v - values[0]) for v in values[1:])
        return float(_gap(values[0], values[1]))
    if len(values) < 2:
        return math.inf
    return float(min(_gap(a, b) for a, b in itertools.combinations(values, 2)))
