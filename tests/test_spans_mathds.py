"""detect_spans on DeepMind mathematics_dataset's comparison, measurement and numbers modules.

The references are written from the generator's source (mathematics_dataset 1.0.1: modules/comparison.py,
measurement.py, numbers.py, util/display.py), not from the detector: its number-word code (with its
spellings "fourteeen", "fourty", "twelth"), its unit table, its clock format and its templates. Exhaustive
tests cover everything the generator can write there; the tests on ../shared/mathds read every question
of every interpolate and extrapolate file of these families and check the answers through the spans.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxem import NumberEncoder, detect_spans
from fluxem.units import convert_exact, parse_unit

MATHDS = Path(__file__).resolve().parent.parent.parent / "shared" / "mathds"  # ../shared/mathds beside the repo
needs_mathds = pytest.mark.skipif(
    not (MATHDS / "interpolate").is_dir(),
    reason="../shared/mathds (DeepMind mathematics_dataset files laid beside the repository) is absent; "
           "see README (mathds data)")
FAMILIES = ("comparison__", "measurement__", "numbers__")

# ----------------------------------------------------------------------------- the generator's own code

# util/display.py, as written there (spellings included)
GEN_LOW = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteeen fifteen "
           "sixteen seventeen eighteen nineteen").split()
GEN_MID = ["", "", "twenty", "thirty", "fourty", "fifty", "sixty", "seventy", "eighty", "ninety"]
GEN_HIGH = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")]
GEN_SINGULAR = ("- - half third quarter fifth sixth seventh eighth ninth tenth eleventh twelth thirteenth "
                "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()
GEN_PLURAL = ("- - halves thirds quarters fifths sixths sevenths eighths ninths tenths elevenths twelths "
              "thirteenths fourteenths fifteenths sixteenths seventeenths eighteenths nineteenths twentieths").split()
GEN_ORDINALS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelth "
                "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()
# numbers.place_value's place names, units first (place_names[p] is the digit of 10**p)
GEN_PLACE_NAMES = ["units", "tens", "hundreds"] + [
    first + second
    for second in ("thousands millions billions trillions quadrillions quintillions sextillions septillions "
                   "octillions nonillions decillions").split()
    for first in ("", "ten ", "hundred ")]


def gen_integer_words(n: int) -> list[str]:
    """display.StringNumber._integer_to_words."""
    if n < 20:
        return [GEN_LOW[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [GEN_MID[tens]] + ([GEN_LOW[ones]] if ones else [])
    for value, word in GEN_HIGH:
        if n >= value:
            den, rem = divmod(n, value)
            words = gen_integer_words(den) + [word]
            if rem:
                words += (["and"] if rem < 100 else []) + gen_integer_words(rem)
            return words
    raise AssertionError(n)


def gen_string_number(value, hyphens: bool = True) -> str:
    """str(display.StringNumber(value, join_number_words_with_hyphens=hyphens))."""
    value = Fraction(value)
    numerator = ("-" if hyphens else " ").join(gen_integer_words(value.numerator))
    if value.denominator == 1:
        return numerator
    words = GEN_SINGULAR if value.numerator == 1 else GEN_PLURAL
    return f"{numerator} {words[value.denominator]}"


def gen_clock(minutes: int) -> str:
    """measurement.time's format_12hr."""
    hours, minutes = (minutes // 60) % 24, minutes % 60
    am_pm = "AM" if hours < 12 else "PM"
    return f"{(hours - 1) % 12 + 1}:{minutes:02} {am_pm}"


# measurement.py: {(name, symbol): factor} per dimension; conversions stay within one dimension.
GEN_UNITS = {
    "length": {("meter", "m"): 1, ("kilometer", "km"): 1000, ("centimeter", "cm"): Fraction(1, 100),
               ("millimeter", "mm"): Fraction(1, 1000), ("micrometer", "um"): Fraction(1, 10**6),
               ("nanometer", "nm"): Fraction(1, 10**9)},
    "time": {("second", "s"): 1, ("minute", None): 60, ("hour", None): 3600, ("day", None): 86400,
             ("week", None): 604800, ("millisecond", "ms"): Fraction(1, 1000),
             ("microsecond", "us"): Fraction(1, 10**6), ("nanosecond", "ns"): Fraction(1, 10**9)},
    "time_yearly": {("year", None): 1, ("decade", None): 10, ("century", None): 100, ("millennium", None): 1000,
                    ("month", None): Fraction(1, 12)},
    "mass": {("kilogram", "kg"): 1, ("tonne", "t"): 1000, ("gram", "g"): Fraction(1, 1000),
             ("milligram", "mg"): Fraction(1, 10**6), ("microgram", "ug"): Fraction(1, 10**9),
             ("nanogram", "ng"): Fraction(1, 10**12)},
    "volume": {("litre", "l"): 1, ("millilitre", "ml"): Fraction(1, 1000)},
}


def gen_pluralize(name: str) -> str:
    return {"century": "centuries", "millennium": "millennia"}.get(name, name + "s")


GEN_DECIMAL_TEMPLATES = [
    "How many {target_name} are there in {base_value} {base_name}?",
    "What is {base_value} {base_name} in {target_name}?",
    "Convert {base_value} {base_name} to {target_name}.",
]
GEN_SYMBOL_TEMPLATES = [
    "How many {target_name} are there in {base_value}{base_symbol}?",
    "What is {base_value}{base_symbol} in {target_name}?",
    "Convert {base_value}{base_symbol} to {target_name}.",
]
GEN_FRACTION_TEMPLATES = [
    "How many {target_name} are there in {base_value} of a {base_name}?",
    "What is {base_value} of a {base_name} in {target_name}?",
]

# ----------------------------------------------------------------------------- the reference reader


def _alternation(strings) -> str:
    return "|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True))


# Every fraction _conversion_fraction writes in words: numerators up to 101 (non_integer_rational with
# entropy 2), denominators up to 20 (display.StringNumber's table), non-integer.
FRACTION_WORDS = {gen_string_number(Fraction(p, q)): Fraction(p, q)
                  for q in range(2, 21) for p in range(1, 102) if math.gcd(p, q) == 1}
ROUND_WORDS = {gen_string_number(10**k, hyphens=False): 10**k for k in range(1, 7)}  # "the nearest one million"
DPS_WORDS = {gen_string_number(d): d for d in range(0, 8)}  # "to four dps", "to zero decimal places"
# comparison.kth_biggest: "the {StringOrdinal(k)} biggest/smallest value" for k >= 2 (k = 1 has no ordinal)
ORDINAL_WORDS = {GEN_ORDINALS[k]: k for k in range(2, len(GEN_ORDINALS))}
# numbers.place_value: "What is the {place_name} digit of {integer}?"
PLACE_WORDS = {name: 10**p for p, name in enumerate(GEN_PLACE_NAMES)}
# The numbers a question holds, in order: the templates put number words only in these three places,
# literals are [-]digits[.digits][/digits] (no subtraction in these families: "-" is always a sign).
# Ordinals and place names only where kth_biggest and place_value write them.
_REFERENCE = re.compile(
    r"(?P<time>\b(?P<h>1[0-2]|[1-9]):(?P<m>[0-5][0-9]) (?P<ap>AM|PM))"
    r"|(?<=the )(?P<ord>" + _alternation(ORDINAL_WORDS) + r")(?= (?:biggest|smallest) value)"
    r"|(?<=^What is the )(?P<place>" + _alternation(PLACE_WORDS) + r")(?= digit of )"
    r"|(?P<label>(?<!\S)\([a-z]\)(?!\S))"
    r"|(?<=nearest )(?P<round>" + _alternation(ROUND_WORDS) + r")(?=[.?])"
    r"|(?<=to )(?P<dps>" + _alternation(DPS_WORDS) + r")(?= (?:decimal|dp))"
    r"|(?<=in |is )(?P<frac>" + _alternation(FRACTION_WORDS) + r")(?= of a )"
    r"|(?P<lit>-?[0-9]+(?:\.[0-9]+)?(?:/[0-9]+)?)"
)


def reference(question: str) -> tuple[list, list]:
    """(numbers as ("num", Fraction), ("time", minutes), ("ordinal", k) or ("place", 10**p), label indexes)
    of a generated question."""
    items, labels = [], []
    for m in _REFERENCE.finditer(question):
        if m["time"]:
            items.append(("time", (int(m["h"]) % 12 + (12 if m["ap"] == "PM" else 0)) * 60 + int(m["m"])))
        elif m["ord"]:
            items.append(("ordinal", ORDINAL_WORDS[m["ord"]]))
        elif m["place"]:
            items.append(("place", PLACE_WORDS[m["place"]]))
        elif m["label"]:
            labels.append(ord(m["label"][1]) - ord("a"))
        else:
            words = m["round"] or m["dps"] or m["frac"]
            table = ROUND_WORDS if m["round"] else DPS_WORDS if m["dps"] else FRACTION_WORDS
            items.append(("num", Fraction(table[words] if words else m["lit"])))
    return items, labels


def read(question: str) -> tuple[list, list, list]:
    """What the spans give, in the reference's terms: number and quantity spans by exact value (two
    integer number spans joined by exactly "/" are the fraction p/q: division between numbers), time
    spans by minutes, ordinals by k, places by 10**p (ints, as written), labels by index; and the spans
    of any other kind but "unit"."""
    items, labels, other, last_int = [], [], [], None
    for s in detect_spans(question):
        if s.kind == "label":
            labels.append(s.value)
        elif s.kind in ("time", "ordinal", "place"):
            if type(s.exact) is not int or s.value != s.exact:
                other.append(s)
                continue
            items.append((s.kind, s.exact))
            last_int = None
        elif s.kind in ("number", "quantity"):
            if (s.kind == "number" and type(s.exact) is int and s.exact and last_int is not None
                    and question[last_int.end:s.start] == "/" and items[-1] == ("num", last_int.exact)):
                items[-1] = ("num", Fraction(last_int.exact, s.exact))
                last_int = None
                continue
            items.append(("num", Fraction(s.exact)))
            last_int = s if s.kind == "number" and type(s.exact) is int else None
        elif s.kind != "unit":
            other.append(s)
    return items, labels, other


def test_reference_reads_the_generators_words():
    assert reference("What is seventy-one fifths of a milligram in micrograms?") == ([("num", Fraction(71, 5))], [])
    assert reference("Round 2.5 to the nearest one hundred thousand.") == (
        [("num", Fraction(5, 2)), ("num", Fraction(100000))], [])
    assert reference("Which is smaller?  (a) -2/7  (b) 3") == ([("num", Fraction(-2, 7)), ("num", Fraction(3))], [0, 1])
    assert reference("What is the ten thousands digit of 12345?") == ([("place", 10000), ("num", Fraction(12345))], [])
    assert reference("What is the units digit of 7?") == ([("place", 1), ("num", Fraction(7))], [])
    assert reference("Which is the twelth biggest value?  (a) 3") == ([("ordinal", 12), ("num", Fraction(3))], [0])
    assert reference("What is the smallest value in 3, 4?") == ([("num", Fraction(3)), ("num", Fraction(4))], [])
    assert PLACE_WORDS["hundred decillions"] == 10**35 and len(PLACE_WORDS) == 36
    assert gen_string_number(Fraction(101, 3)) == "one-hundred-and-one thirds"
    assert gen_string_number(Fraction(14, 5)) == "fourteeen fifths" and gen_string_number(Fraction(5, 12)) == "five twelths"


def mathds_family_rates(root: Path = MATHDS) -> dict[str, tuple[int, int, list]]:
    """Per comparison/measurement/numbers file of interpolate/ and extrapolate/: (questions whose spans give
    every number, time and label of the reference, in order, and no span of another kind but "unit";
    questions; first misses)."""
    rates = {}
    for section in ("interpolate", "extrapolate"):
        for path in sorted((root / section).glob("*.txt")):
            if not path.name.startswith(FAMILIES):
                continue
            questions = path.read_text(encoding="utf-8").splitlines()[0::2]
            good, misses = 0, []
            for question in questions:
                items, labels, other = read(question)
                if (items, labels) == reference(question) and not other:
                    good += 1
                elif len(misses) < 5:
                    misses.append(question)
            rates[f"{section}/{path.stem}"] = (good, len(questions), misses)
    return rates


@needs_mathds
def test_mathds_families_give_every_number_time_and_label():
    """Every question of every comparison, measurement and numbers file of interpolate/ and extrapolate/:
    the spans give every number the question holds (digits, number words, fractions), every clock time
    and every choice label, in order. >= 99% per file (all read 100% on the shipped draw)."""
    rates = mathds_family_rates()
    assert len(rates) == 20, sorted(rates)
    for name, (good, total, misses) in rates.items():
        print(f"{name}: {good}/{total} = {good / total:.4f}")
        assert total >= 100 and good / total >= 0.99, (name, good, total, misses)
        if "comparison__" in name or "numbers__" in name:  # ordinals and place names included: all of them
            assert good == total, (name, good, total, misses)


@needs_mathds
def test_mathds_ordinals_and_places_are_read():
    """kth_biggest(_more) and place_value(_big): the reference expects an ordinal in every question with
    "the <ordinal> biggest/smallest" and a place in every place_value question, and the spans give them."""
    for section, stem, kind, distinct in (("interpolate", "comparison__kth_biggest", "ordinal", 5),
                                          ("extrapolate", "comparison__kth_biggest_more", "ordinal", 8),
                                          ("interpolate", "numbers__place_value", "place", 6),
                                          ("extrapolate", "numbers__place_value_big", "place", 10)):
        questions = (MATHDS / section / f"{stem}.txt").read_text(encoding="utf-8").splitlines()[0::2]
        seen = set()
        for question in questions:
            want = [v for k, v in reference(question)[0] if k == kind]
            got = [s.exact for s in detect_spans(question) if s.kind == kind]
            assert got == want, question
            seen.update(got)
            if kind == "place":
                assert len(want) == 1, question
        # the draws hold many distinct ks and places (the _more file up to the tenth, _big up to 10**11)
        assert len(seen) >= distinct, (stem, sorted(seen))


# ----------------------------------------------------------------------------- exhaustive: what the generator can write


def test_every_fraction_in_words_of_a_unit():
    """_conversion_fraction: every numerator 1..101 over every denominator 2..20, in words, "of a" every
    unit name of the table: one quantity span, exact value, the unit after "of a"; the target unit too."""
    names = [name for table in GEN_UNITS.values() for name, _ in table]
    for i, (words, value) in enumerate(sorted(FRACTION_WORDS.items(), key=lambda kv: kv[1])):
        name = names[i % len(names)]
        template = GEN_FRACTION_TEMPLATES[i % 2]
        question = template.format(target_name="seconds", base_value=words, base_name=name)
        spans = [s for s in detect_spans(question) if s.kind != "unit"]
        assert [(s.text, s.kind, s.exact, s.unit) for s in spans] == [
            (f"{words} of a {name}", "quantity", value, name)], question
        assert [s.text for s in detect_spans(question) if s.kind == "unit"] == ["seconds"], question


@pytest.mark.parametrize("value", [Fraction(37, 2), Fraction(1, 2), Fraction(3, 40), Fraction(101, 21)])
def test_fraction_in_digits_of_a_unit(value):
    """base_value as sympy prints it ("37/2"): one value even when improper, as the generator means it."""
    for table in GEN_UNITS.values():
        for name, _ in table:
            question = f"What is {value} of a {name} in months?"
            q, unit = detect_spans(question)
            assert (q.text, q.kind, q.exact, q.unit) == (f"{value} of a {name}", "quantity", value, name)
            assert (unit.kind, unit.unit) == ("unit", "months")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**15 - 1), st.booleans(), st.sampled_from(["", "Round 5 to ", "the nearest "]))
def test_cardinals_in_words_match_the_generators_words(n, hyphens, before):
    """Any integer below 10**15 written by the generator's own _integer_to_words, joined with hyphens or
    spaces, is one number span of that value."""
    words = ("-" if hyphens else " ").join(gen_integer_words(n))
    spans = detect_spans(f"{before}{words}.")
    assert [(s.text, s.kind, type(s.exact), s.exact) for s in spans][-1] == (words, "number", int, n)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.integers(2, 20))
def test_fractions_in_words_match_the_generators_words(numerator, denominator):
    value = Fraction(numerator, denominator)
    if value.denominator == 1:
        return
    words = gen_string_number(value)
    spans = detect_spans(f"What is {words} of a day in hours?")
    assert [(s.text, s.exact, s.unit) for s in spans] == [(f"{words} of a day", value, "day"), ("hours", None, "hours")]


def test_every_clock_time():
    """format_12hr of every minute of the day: one time span, its minutes since midnight."""
    for minutes in range(24 * 60):
        clock = gen_clock(minutes)
        for question in (f"What is 5 minutes after {clock}?", f"How many minutes are there between {clock} and 1:00 AM?"):
            times = [s for s in detect_spans(question) if s.kind == "time"]
            assert (times[0].text, times[0].value, times[0].exact, times[0].unit) == (clock, minutes, minutes, None)
    spans = detect_spans("How many minutes are there between 1:58 PM and 5:30 PM?")
    assert [(s.text, s.kind, s.value) for s in spans] == [
        ("minutes", "unit", None), ("1:58 PM", "time", 13 * 60 + 58), ("5:30 PM", "time", 17 * 60 + 30)]


def test_every_duration():
    for duration in range(1, 12 * 60):
        (q, t) = detect_spans(f"What is {duration} minutes before 12:05 AM?")
        assert (q.kind, q.exact, q.unit, t.kind, t.exact) == ("quantity", duration, "minutes", "time", 5)


def _round_descriptions():
    """Every description numbers.round_number writes, with the number in it (None: no number)."""
    out = [("the nearest integer", None)]
    for power in range(1, 7):
        out += [(f"the nearest {10**power}", 10**power), (f"the nearest {gen_string_number(10**power, False)}", 10**power)]
    for power in range(-7, 1):
        dps = -power
        for form in ("{dps} decimal place", "{dps} dp"):
            form += "s" if power != -1 else ""
            out += [(form.format(dps=dps), dps), (form.format(dps=gen_string_number(dps)), dps)]
    return out


@pytest.mark.parametrize("description, number", _round_descriptions())
def test_every_rounding_description(description, number):
    for template in ("Round {input} to {description}.", "What is {input} rounded to {description}?"):
        question = template.format(input="-0.12470017", description=description)
        spans = detect_spans(question)
        want = [Fraction("-0.12470017")] + ([number] if number is not None else [])
        assert [s.exact for s in spans] == want and all(s.kind == "number" for s in spans), question
        assert type(spans[-1].exact) is (int if number is not None else Fraction)


def _place_names():
    firsts = ["", "ten ", "hundred "]
    seconds = ["thousands", "millions", "billions", "trillions", "quadrillions", "quintillions", "sextillions",
               "septillions", "octillions", "nonillions", "decillions"]
    return ["units", "tens", "hundreds"] + [first + second for second in seconds for first in firsts]


@pytest.mark.parametrize("p, place", list(enumerate(_place_names())))
def test_place_names_are_place_spans(p, place):
    """numbers.place_value: "the ten thousands digit" names a place: one "place" span, the name alone,
    value 10**p as an int (the digit of 10**p); no number in it ("ten" is not 10)."""
    assert _place_names() == GEN_PLACE_NAMES
    question = f"What is the {place} digit of 653026814276?"
    spans = detect_spans(question)
    assert [(s.text, s.kind, type(s.value), s.value, s.exact, s.unit) for s in spans] == [
        (place, "place", int, 10**p, 10**p, None), ("653026814276", "number", int, 653026814276, 653026814276, None)]
    assert question[spans[0].start : spans[0].end] == place
    assert read(question) == ([("place", 10**p), ("num", 653026814276)], [], [])


def _unit_cases():
    for dimension, table in GEN_UNITS.items():
        for (name, symbol) in table:
            yield dimension, name, symbol


@pytest.mark.parametrize("dimension, name, symbol", list(_unit_cases()))
def test_every_unit_spelling_and_template(dimension, name, symbol):
    """_conversion_decimal: every unit as base (plural name, and attached symbol where it has one) and as
    target (plural name), in every template: a quantity with the unit as written, a bare target unit, and
    the exact factor ratio of the generator's table."""
    table = GEN_UNITS[dimension]
    target = next(other for other in table if other[0] != name)
    target_name = gen_pluralize(target[0])
    forms = [(t, gen_pluralize(name)) for t in GEN_DECIMAL_TEMPLATES]
    forms += [(t, symbol) for t in GEN_SYMBOL_TEMPLATES] if symbol else []
    for template, written in forms:
        question = template.format(target_name=target_name, base_value="84651.76", base_name=written,
                                   base_symbol=written)
        spans = detect_spans(question)
        quantity = next(s for s in spans if s.kind == "quantity")
        units = [s.unit for s in spans if s.kind == "unit"]
        assert (quantity.exact, quantity.unit, units) == (Fraction("84651.76"), written, [target_name]), question
        ratio = Fraction(table[(name, symbol)]) / Fraction(table[target])
        assert convert_exact(1, quantity.unit, target_name) == ratio, question


def test_every_generator_unit_ratio_matches_its_table():
    """Within each dimension of measurement.py, every pair: the registry's exact ratio is the table's."""
    for table in GEN_UNITS.values():
        for (a, a_symbol), fa in table.items():
            for (b, b_symbol), fb in table.items():
                want = Fraction(fa) / Fraction(fb)
                assert convert_exact(1, a, gen_pluralize(b)) == want, (a, b)
                if a_symbol and b_symbol:
                    assert convert_exact(1, a_symbol, b_symbol) == want, (a_symbol, b_symbol)


COMPARISON_TEMPLATES = [
    "Which is bigger: {left} or {right}?", "Which is greater: {left} or {right}?", "Which is smaller: {left} or {right}?",
    "Is {left} < {right}?", "Is {left} less than {right}?", "Is {left} smaller than {right}?",
    "Is {left} <= {right}?", "Is {left} less than or equal to {right}?", "Is {left} at most {right}?",
    "Is {left} at most as big as {right}?", "Is {left} > {right}?", "Is {left} greater than {right}?",
    "Is {left} bigger than {right}?", "Is {left} >= {right}?", "Is {left} greater than or equal to {right}?",
    "Is {left} at least {right}?", "Is {left} at least as big as {right}?", "Does {left} = {right}?",
    "Are {left} and {right} equal?", "Is {left} equal to {right}?", "Do {left} and {right} have the same value?",
    "Is {left} != {right}?", "Is {left} not equal to {right}?", "Are {left} and {right} unequal?",
    "Are {left} and {right} nonequal?", "Are {left} and {right} non-equal?",
    "Do {left} and {right} have different values?",
]
VALUES = ["-2/7", "0.3", "-0.055", "3", "-1", "1113/8", "0", "-2834739"]


@pytest.mark.parametrize("template", COMPARISON_TEMPLATES)
def test_every_comparison_pair_template(template):
    for left, right in zip(VALUES, VALUES[1:] + VALUES[:1]):
        question = template.format(left=left, right=right)
        items, labels, other = read(question)
        assert (items, labels, other) == ([("num", Fraction(left)), ("num", Fraction(right))], [], []), question


def test_choice_lists_and_ordinals():
    """kth_biggest and closest, as lists and as choices: every ordinal the generator writes is an
    "ordinal" span of its k, labels are labels, every value is read after its label, up to (z); "the
    biggest value" (k = 1) has no ordinal."""
    values = [VALUES[i % len(VALUES)] for i in range(26)]
    choices = "".join(f"  ({chr(ord('a') + i)}) {v}" for i, v in enumerate(values))
    for k in range(2, 21):
        for question in (f"Which is the {GEN_ORDINALS[k]} biggest value?{choices}",
                         f"Which is the {GEN_ORDINALS[k]} smallest value?{choices}",
                         f"What is the {GEN_ORDINALS[k]} biggest value in {', '.join(values[:9])}?"):
            items, labels, other = read(question)
            n = 9 if question.startswith("What") else 26
            assert items == [("ordinal", k)] + [("num", Fraction(v)) for v in values[:n]] and not other, question
            assert labels == (list(range(26)) if n == 26 else []), question
            (ordinal,) = [s for s in detect_spans(question) if s.kind == "ordinal"]
            assert (ordinal.text, ordinal.value, ordinal.exact) == (GEN_ORDINALS[k], k, k), question
    for adjective in ("biggest", "smallest"):
        items, labels, other = read(f"Which is the {adjective} value?{choices}")
        assert items == [("num", Fraction(v)) for v in values] and labels == list(range(26)) and not other
    for adjective in ("closest", "nearest"):
        items, labels, _ = read(f"Which is the {adjective} to -1/6?  (a) 2  (b) -0.2")
        assert (items, labels) == ([("num", Fraction(-1, 6)), ("num", 2), ("num", Fraction(-1, 5))], [0, 1])


# ----------------------------------------------------------------------------- the answers, through the spans


@needs_mathds
def test_conversion_answers_follow_from_the_spans():
    """measurement__conversion: the quantity span converted exactly into the target unit span
    (convert_exact, the registry's exact factors) is the generator's answer, on every question."""
    for path in (MATHDS / "interpolate" / "measurement__conversion.txt", MATHDS / "extrapolate" / "measurement__conversion.txt"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for question, answer in zip(lines[0::2], lines[1::2]):
            spans = detect_spans(question)
            (quantity,) = [s for s in spans if s.kind == "quantity"]
            (target,) = [s for s in spans if s.kind == "unit"]
            assert convert_exact(quantity.exact, quantity.unit, target.unit) == Fraction(answer), question


@needs_mathds
def test_time_answers_follow_from_the_spans():
    """measurement__time: the minutes of the time spans and the duration give the generator's answer."""
    lines = (MATHDS / "interpolate" / "measurement__time.txt").read_text(encoding="utf-8").splitlines()
    for question, answer in zip(lines[0::2], lines[1::2]):
        spans = [s for s in detect_spans(question) if s.kind != "unit"]
        if question.startswith("How many minutes are there between"):
            start, end = spans
            assert (end.value - start.value) % 1440 == int(answer), question
            continue
        duration, clock = spans
        sign = -1 if " before " in question else 1
        (want,) = detect_spans(answer)
        assert (want.kind, (clock.value + sign * duration.value) % 1440) == ("time", want.value), question


# ----------------------------------------------------------------------------- encoding


def test_time_label_ordinal_and_place_spans_encode_as_their_numbers():
    torch = pytest.importorskip("torch")  # noqa: F841 - fluxem.nn needs it
    from fluxem import layout as L
    from fluxem.nn import N_TYPES, TYPE_IDS, FluxEMEmbedding, span_vectors

    spans = detect_spans("How many minutes are there between 1:58 PM and 5:30 PM?  (a) 3  (b) seventy-one fifths"
                         " The third biggest, the ten thousands digit, the twelth smallest, the units place.")
    assert [s.kind for s in spans] == ["unit", "time", "time", "label", "number", "label", "number",
                                       "ordinal", "place", "ordinal", "place"]
    vectors = span_vectors(spans)
    numbers = NumberEncoder().decode_exact(vectors[1:])
    assert numbers == [838, 1050, 0, 3, 1, Fraction(71, 5), 3, 10000, 12, 1]
    assert (vectors[1:, L.TYPE_NUMBER] == 1).all()  # every one of them is a FluxEM number vector
    # a clock time is a number to the network; labels, ordinals and places have types of their own
    assert TYPE_IDS["time"] == TYPE_IDS["number"]
    assert (TYPE_IDS["label"], TYPE_IDS["ordinal"], TYPE_IDS["place"]) == (4, 5, 6)
    assert len({TYPE_IDS[k] for k in ("number", "quantity", "unit", "text", "label", "ordinal", "place")}) == 7
    assert N_TYPES == 7
    assert FluxEMEmbedding(8).embed_spans(spans).shape == (11, 8)


def test_quantities_in_words_encode():
    from fluxem import QuantityEncoder

    (span,) = [s for s in detect_spans("What is three tenths of a day in hours?") if s.kind == "quantity"]
    vector = QuantityEncoder().encode(span.value, span.unit)
    assert QuantityEncoder().convert(vector, "hours") == pytest.approx(7.2)
    assert parse_unit(span.unit).symbol == "d"
