"""Find numbers, quantities and units in free text: `detect_spans(text) -> list[Span]`.

Every decision below has a hand-labelled case in tests/test_spans.py.

Cost: linear in len(text)
- One left-to-right pass. A one-character-class regex jumps to the next digit (or vulgar fraction
  such as ½); a second search finds the next number word, "a"/"an" before a fraction word, "how many"
  or "(" before a label, and is searched again only once the cursor has passed its match, so each
  search scans a stretch of text once. The rest is read with anchored `re.match` calls on patterns
  without nested or overlapping repetition, so each call costs O(characters it consumes) or a small
  constant (exponents, units, scale words: at most ~40 characters; a cardinal in words: a bounded
  number of words, since its scale words must fall). The cursor only moves forward; look-back is at
  most 8 characters (sign, currency, leading dot; "**" and a sign before an exponent; the word before
  "one"). Hence O(len(text)) with no backtracking blow-up. Unit lookups are dict/set probes, built once
  from the registry and cached.
- A numeral longer than MAX_NUMERAL_CHARS (1000) gives no span: no reader means it, and CPython
  refuses int() of more than 4300 digits.
- A literal whose float is not finite or underflows to zero ("1e999", "1e12345 kg", "5e-400 m",
  "2×10^99999", "0.000...0001" with 400 zeros, an integer of 309+ digits past 1.8e308) gives no span
  at all, never a wrong one: the literal is read to its last digit, so none of its digits is read
  again as another number, and the unit after it is not read either. So every span's value encodes
  (`NumberEncoder.encode(span.exact)`), and a non-zero literal never becomes 0.

Values: `value` and `exact`
- `value` is what docs/design.md §7 names: an int for an integer literal ("123", "1,500,000", any size), a float
  otherwise ("1.5", ".5", "6.02e23", "1E-5", "3/4 cup"). A trailing dot is punctuation: "3." is the int 3.
- `exact` is the literal's exact value as written: the same int for integers, else a Fraction: "0.1" ->
  Fraction(1, 10) (never the float 0.1000000000000000055), "6.02e23" -> 602 * 10**21, "2 1/2" -> 5/2.
  A scaled value that comes out integral is an int in both fields ("1.5 million", "$2.1bn", "0.5k"),
  except on scientific notation, which stays float-valued as written. Always float(exact) == value.

Numbers
- Digits are ASCII 0-9 (other Unicode digits are not read), plus the vulgar fractions ¼ ½ ¾ ⅓ ... ⅞.
- Thousands separators: 1-3 digits, then comma groups of exactly 3 ("1,500,000" -> 1500000). Anything
  else splits: "1,5" -> 1, 5 and "1,2,3" -> 1, 2, 3. Decimal commas are not supported.
- A dotted chain is a date, version or address, one int per group: "25.12.2024" -> 25, 12, 2024.
- Sign rule: a "-", "+", "−" (U+2212) or "–" (en dash U+2013, a minus in typeset text: "–5 °C" is
  -5 °C) touching the number is part of it (unary) when it starts the
  text, follows whitespace, or follows a character that cannot end an operand (anything but a letter,
  digit, ")", "]", "}", "%", "°", "!", "_"). So "5-3" -> 5, 3; "x-3" -> 3; "5 - 3" -> 5, 3;
  "5 - -3" -> 5, -3; "3*-4" -> 3, -4; "(-15" -> -15; "5--3" -> 5, -3; "9–17" -> 9, 17 (a range). A sign
  after a space that
  touches the number is unary too: "5 -3" -> 5, -3, as in the list "5 -3 2". This reads DeepMind
  mathematics_dataset questions as written: "(-5)", "-2 + -2", "*-17", "2/(-8)", "-0.4+15954360082"
  ("+" after a digit is binary); tests/test_spans.py measures it on every question of ../shared/mathds.
- Currency: one of $ € £ ¥ ₹ ₩ ₽ right before the number (or before its sign) is part of the span
  text ("$5", "-$5", "$-5"). The span has kind "number" and `unit` the ISO 4217 code (USD EUR GBP JPY
  INR KRW RUB), so $5 and €5 differ; value and exact are the amount as the reader means it ("$2.1bn" ->
  2100000000). A currency is not a physical unit, so the span's vector is the number's. A currency
  number never takes a physical unit, which is what lets "$5m" mean five million. "¢" (a subunit of
  an unknown currency) is not read: "50¢" is the number 50.
- Percent: "12.5%", "5 %" and "3 percent" are quantities with unit "%" or "percent" as written, a
  dimensionless unit of factor 1/100 in the registry (fluxem.units), so 12.5% converts to 0.125.
- Scale words (any case, optional space): hundred, thousand, million, billion, trillion. Abbreviations
  bn, bln, mn, mln, tn, trn (optional space), and "k" attached ("0.5k" -> 500). Attached K, M, m, B,
  b, T are scales only after a currency sign ("$5m", "£2B"); otherwise "5m" is 5 metres and "300K" is
  300 kelvin. The scaled value is exact: an int when integral ("$2.1bn" -> 2100000000), else a float.
- Powers of ten: mantissa, optional space, one of × x X * · ⋅, optional space, then 10^n, 10**n,
  10^(n), 10⁻³⁴, or (after × · ⋅ only, as copied from PDFs) 10−34, 10–34 and 10-34 -> float 6.6e-34.
  Exponents take the same minus signs ("2.5e–3", "10^−3").
  A bare "×10" is just multiplication by ten.
- Between numbers, "/" is division: "21/45" in "2 + 21/45", "(-5940)/(-945)", "1/4," and the answer
  "-52304477/3" are two numbers each (the quotient is their ratio). One fraction value only for: a
  mixed number "2 1/2" -> 5/2 (one space); a proper fraction (numerator < denominator) of plain
  integers followed by a word or unit, attached or after one space or hyphen ("3/4 cup", "1/2 of",
  "3/4-inch" -> 3/4); the fraction slash U+2044 ("3⁄4"); vulgar "½" -> 1/2, "2½" and "2 ½" -> 5/2.
  "24/7" and "12/5 of" stay two numbers. A slash chain is a date: "12/25/2024" -> 12, 25, 2024.
- Exponents: a numeral directly after "^" or "**" (a sign may come between: "s^-1") is an exponent,
  not a number of the text, and gets no span: "x^2 + 3" -> 3 only; "the area is m^2", "(a+b)^2" -> none.
  Only where a number span ends right at the "^" is the exponent a number too, as a reader of "2^10"
  expects: "2^10" -> 2, 10 and "10^-3" -> 10, -3. "x ^ 2", with spaces, is not an exponent here.
- Ordinals ("1st", "3rd") are plain numbers and never take a unit. "1990s" (two or more digits ending
  in 0, with "s" attached) is a decade, not seconds.

Number words
- Cardinals in words, as English and DeepMind mathematics_dataset write them: "three", "seventy-one",
  "one million", "one hundred thousand", "one-hundred-and-one". Words are joined by one space or hyphen;
  "and" comes only after "hundred" or a scale word (thousand, million, billion, trillion, each smaller
  than the one before) and before a number word; "zero" stands alone. The generator's misspellings
  "fourteeen", "fourty", "twelth(s)" are read too. The first word may be capitalized. Value: an int.
- Fractions in words: a cardinal, one space or hyphen, and a fraction word: singular after "one" ("one
  half", "one third"), plural otherwise ("seventy-one fifths", "two-thirds", "three halves"). Fraction
  words: half/halves, third, quarter, fifth ... twentieth, hundredth, thousandth. Also "a half" and "a
  quarter"; "a third", "an eighth" and the others only before "of" ("a third of the vote"), since "a
  third attempt" is an ordinal. `exact` is the Fraction (71/5), `value` its float.
- A fraction (in words, "p/q" of integers, a mixed or a vulgar fraction) followed by " of a " or " of
  an " and a unit is a quantity whose span runs through the unit: "three tenths of a day", "37/2 of a
  millennium" (p/q is one value here even when improper); span.unit is the unit after "of a". A
  fraction or a cardinal may also take a unit directly, as digits do: "a quarter mile", "five
  minutes", "three-day".
- Span text: from the first number word (or "a"/"an") to its last word, or to the end of the unit.
- Not numbers: a number word inside a hyphenated word that is neither a number, a fraction nor a unit
  ("twenty-third", "one-off": no span); "one" after the, this, that, which, no, any, every, each, some
  or another ("the one", "no one"). Not read: signs in words ("minus three"), "two and a half" (the
  spans "two" and "a half"), scale words alone ("hundred").

Ordinals and places (after "the")
- "the first" ... "the twentieth" (and the generator's "twelth"), followed by a space: kind "ordinal",
  value and exact the int k; the span is the ordinal word alone ("the third biggest value" -> "third",
  3). Without "the" an ordinal word is no span ("a third attempt"), and "a third of" is a fraction.
- A place name after "the" and before " digit" or " place": "units", "tens", "hundreds", "thousands",
  "ten thousands", "hundred thousands", ... "hundred decillions": kind "place", value and exact the
  place's value 10**p as an int ("the ten thousands digit" -> "ten thousands", 10000). A place name is
  never a number ("ten" in "the ten thousands digit" is not 10).

Clock times
- "5:28 AM", "12:25 PM", also "5:28pm" and "5:28 p.m." (hour 1-12, two-digit minutes): kind "time",
  value and exact the minutes since midnight, an int ("12:25 AM" -> 25, "12:25 PM" -> 745, "5:28 PM" ->
  1048), unit None. Without AM/PM ("17:28", "5:28") the numbers are read as numbers: mathematics_dataset
  writes no 24-hour time, and "17:28" may be a score or a ratio. "5 pm" is the number 5.

Choice labels
- "(a)" ... "(z)" with whitespace (or the text's edge) on both sides, each the letter after the previous
  label or "(a)" again, as in "Which is the biggest?  (a) -2/7  (b) 3": kind "label", value and exact the
  letter's index (0 for a), unit None. So "f(x)" and a lone "(x)" give no span, and the letter is never a
  unit ("(c)" is not centi- or the speed of light).

Quantities and units
- A number followed by a unit: attached ("5km"), after one space (or no-break / thin space), or after
  a hyphen ("a 5-km race"). The first unit atom matches longest-first among `unit_spellings()` and
  must end at a word boundary (no letter, digit or "_" next), so "5 mm" is millimetres, "3 min" is
  minutes and in "3 girls" only the 3 is a span. Case matters ("mm" is not "Mm").
- Compound units extend over / * · ⋅ and another atom, one level of parentheses ("J/(kg·K)"), and
  exponents ^n, ^-n, **n, superscripts; at most MAX_UNIT_ATOMS atoms. The unit is all of that text,
  and it must parse as a whole: a unit that does not is no unit, never a shorter one. So "5 °C/min"
  (an offset unit in a compound), "3 kg/m^123" (an exponent out of range), "5 km/person" (an operator
  and a word that is no unit) and a compound of more than MAX_UNIT_ATOMS atoms give the number alone,
  not "5 °C", "3 kg/m" or "5 km". An operator followed by a space, a digit or punctuation ends the
  unit ("20 mph/32 km/h", "3 m/ 4 s"). Fuel consumption "L/100km" ("L/100 km"), the one unit with a
  number inside, is matched whole. Every span.unit parses.
- A quantity whose SI value leaves the float range ("1e308 km" overflows, "5e-324 mm" underflows to 0)
  is the number alone: its unit is not read, so the span's vector is never inf or a wrong 0.
- A hyphen may join the words of a unit name, as in compound adjectives: "450,000-square-foot" ->
  quantity 450000, unit "square foot" (the one case where span.unit is not the text as written: it is
  the registry's spelling, with the hyphens read as spaces, so that it parses).
- English words that are also unit spellings are never units here (NEVER_UNITS: "a", "at", "as",
  "am", "pm", "us", ...: "at 5 pm" is a time, not picometres). Two capitals with a large SI prefix read
  as abbreviations ("5 TV", "at 5 ET", "5 PC"), so only MW GW TW PW MJ GJ TJ PJ EJ MV GV are kept.
- Area and volume names are atoms like any other spelling ("5 square feet", "2 sq. m", "3 cu in"), so
  "convert 5 square feet to sq m" -> quantity "5 square feet" and unit "sq m".
- "in" is an inch only when it ends the text, is followed by "to", "into", "=", "?" or ")", or is directly
  followed by an exponent or compound operator ("in^2", "in²", "in/s")
  ("convert 5 in to cm"), so "at 5 in the morning" and "1 in 5 adults" hold plain numbers. The same
  holds for "sq in", "square in", "cu in" and "cubic in": "5 square in the middle" is the number 5.
- Decades and ordinals are handled above; "5 years", "3 cups" and "2 hours" are quantities because the
  registry has those units.
- Bare units (kind "unit", value None) only where the text names a target unit: right after the word
  "to", "in" or "into" and one space, once a quantity has appeared earlier in the text, and right after
  "how many " ("How many minutes are there in 3 hours?": the unit the answer is in).
- Attached to a number, "us" is the microsecond ("13007037.1us", as mathematics_dataset writes it);
  after a space it is the word "us" and no unit.
  "convert 5 km to m" -> quantity "5 km" and unit "m"; "listen to me" has no span.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from fluxem.units import _try_parse, unit_spellings

__all__ = ["Span", "detect_spans"]

MAX_NUMERAL_CHARS = 1000
MAX_UNIT_ATOMS = 6
MAX_UNIT_CHARS = 40  # longest unit spelling considered

SIGNS = "-+\u2212\u2013"  # hyphen-minus, plus, minus sign, en dash
CURRENCY = "$€£¥₹₩₽"
NEVER_UNITS = frozenset(
    "a an am as at be by das do go he hi if is it me my no of on or pm so to up us we AM PM "
    "per pct ‰ ' \" st nd rd th x X e E".split()
)
# Two capitals that read as an abbreviation ("5 TV", "5 PT", "5 PC") are rarely exa/peta/tera/giga/mega units
# ("TV" would be the teravolt): only these common ones are kept.
KEPT_CAPITAL_PAIRS = frozenset("MW GW TW PW MJ GJ TJ PJ EJ MV GV".split())
# Currency signs before a number give its ISO 4217 code as the span's unit.
_CURRENCY_CODES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB"}
_HYPHEN_IN_NAME = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z])")
_NOT_BEFORE_UNARY = ")]}%°!_"  # characters that end an operand, so a sign after them is binary
_GAP = " \u00a0\u2009\u202f"  # one of these may separate a number from its unit
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"
_TO_ASCII = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺\u2212\u2013", "0123456789-+--")
_VULGAR = {c: Fraction(unicodedata.numeric(c)).limit_denominator(10) for c in "¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞"}
_SCALE_WORDS = {"hundred": 2, "thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_SCALE_ABBREVIATIONS = {"bn": 9, "bln": 9, "mn": 6, "mln": 6, "tn": 12, "trn": 12}
_SCALE_AFTER_CURRENCY = {"k": 3, "K": 3, "m": 6, "M": 6, "b": 9, "B": 9, "T": 12}

_NUM_ANCHOR = re.compile(r"[0-9\u00bc-\u00be\u2150-\u215e]")
# After the first quantity the scanner also stops at the words "to ", "in ", "into ": a bare unit may follow.
_ANY_ANCHOR = re.compile(r"[0-9\u00bc-\u00be\u2150-\u215e]|(?<!\w)(?:[Ii][Nn](?:[Tt][Oo])?|[Tt][Oo])[ \u00a0]")
_NUMERAL = re.compile(
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3}(?![0-9]))+|[0-9]+)?(?P<frac>\.[0-9]+)?"
    r"(?P<exp>[eE][-+\u2212\u2013]?[0-9]+)?"
)
_CHAIN = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_FRACTION = re.compile(r"[/⁄](?P<den>[0-9]{1,9})(?![0-9]|[.,/⁄][0-9])")
_MIXED = re.compile(r"[ \u00a0](?P<num>[0-9]{1,9})[/⁄](?P<den>[0-9]{1,9})(?![0-9]|[.,/⁄][0-9])")
_POW10 = re.compile(
    r"[ \u00a0]?(?P<op>[×xX*·⋅])[ \u00a0]?10"
    r"(?:(?:\^|\*\*)(?:\((?P<a>[-+\u2212\u2013]?[0-9]+)\)|(?P<b>[-+\u2212\u2013]?[0-9]+))"  # 10^-3, 10**3, 10^(-3)
    r"|(?P<c>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"  # 10⁻³
    r"|(?P<d>[-\u2212\u2013][0-9]+))"  # 10−34, accepted after × · ⋅ only
)
_SCALE = re.compile(r"(?P<gap>[ \u00a0]?)(?P<word>[A-Za-z]{1,8})(?!\w)")
_ORDINAL = re.compile(r"(?:st|nd|rd|th)(?!\w)")
_EXPONENT = re.compile(
    r"(?:\^|\*\*)[-+\u2212\u2013]?[0-9]{1,2}(?![0-9])|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,2}(?![⁰¹²³⁴⁵⁶⁷⁸⁹])"
)
_FUEL = re.compile(r"[Ll]/100[ \u00a0]?km(?!\w)")

# Number words, as DeepMind mathematics_dataset writes them (its misspellings "fourteeen", "fourty" and
# "twelth(s)" included) and as English does.
_UNIT_WORDS = {w: v for v, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())} | {"fourteeen": 14}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
               "eighty": 80, "ninety": 90}
_SMALL_WORDS = _UNIT_WORDS | _TENS_WORDS
_LARGE_WORDS = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
# Place names of mathematics_dataset's place_value questions ("the ten thousands digit"): not numbers.
_PLURAL_PLACES = frozenset(
    "hundreds thousands millions billions trillions quadrillions quintillions sextillions septillions "
    "octillions nonillions decillions".split())
_DENOMINATOR_WORDS = {"half": 2, "third": 3, "quarter": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
                      "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twelth": 12, "thirteenth": 13,
                      "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
                      "nineteenth": 19, "twentieth": 20, "hundredth": 100, "thousandth": 1000}
# Ordinals after "the" ("the third biggest"): kind "ordinal", value k.
_ORDINAL_WORDS = {w: k for k, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split(), 1)} | {"twelth": 12}
# Place names after "the" and before " digit" / " place": kind "place", value 10**p.
_PLACE_WORDS = {"units": 0, "tens": 1, "hundreds": 2}
for _i, _scale in enumerate(("thousands millions billions trillions quadrillions quintillions sextillions "
                             "septillions octillions nonillions decillions").split()):
    for _j, _first in enumerate(("", "ten ", "hundred ")):
        _PLACE_WORDS[_first + _scale] = 3 + 3 * _i + _j
_THE_WORD = re.compile(r"(?P<word>[a-z]+(?: [a-z]+)?)")
_PLACE_AFTER = re.compile(r"[ \u00a0](?:digit|place)(?!\w)")
_PLURAL_DENOMINATORS = {("halves" if w == "half" else w + "s"): d for w, d in _DENOMINATOR_WORDS.items()}
# "the one", "no one", "which one": the pronoun, not the number 1.
_ONE_PRONOUN_AFTER = frozenset("the this that which no any every each some another".split())


def _trie(words) -> str:
    """A regex matching exactly `words`, as a trie: "t(?:en|wo)". Much faster to search than an
    alternation of whole words, which the regex engine tries one by one at every position."""
    tree: dict = {}
    for word in words:
        node = tree
        for c in word:
            node = node.setdefault(c, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(c) + pattern(sub) for c, sub in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(tree)


# Where a number word, "a"/"an" before a fraction word, "how many" or a choice label starts (group "w").
# Searching for the character before the word (a space, a bracket, ...) keeps the search fast on text
# with no such word; _WORD_FIRST reads one at the very start of the text.
_WORD_BODY = (
    r"(?P<w>(?:" + _trie(list(_SMALL_WORDS) + [w.capitalize() for w in _SMALL_WORDS]) + r")\b"
    r"|[Aa]n?[ \u00a0](?=(?:" + _trie(_DENOMINATOR_WORDS) + r")\b)"
    r"|[Hh]ow many[ \u00a0]"
    r"|[Tt]he[ \u00a0](?=(?:" + _trie(list(_ORDINAL_WORDS) + list(_PLACE_WORDS)) + r")\b)"
    r"|\((?=[a-z]\)))"
)
_WORD_FIRST_CHARS = frozenset("(HhAa" + "".join({w[0] + w[0].upper() for w in _SMALL_WORDS}))
_WORD_ANCHOR = re.compile(
    r"[ \u00a0\u2009\u202f\n\r\t\"'(\[{/\-\u2013\u2014]"
    r"(?=[" + "".join(sorted(_WORD_FIRST_CHARS)) + "])" + _WORD_BODY
)
_WORD_FIRST = re.compile(_WORD_BODY)
_LETTERS = re.compile(r"[A-Za-z]+")
_OF_A = re.compile(r"[ \u00a0]of[ \u00a0]an?[ \u00a0]")
_OF = re.compile(r"[ \u00a0]of(?!\w)")
# A 12-hour clock time as mathematics_dataset writes it ("5:28 AM"), also "5:28pm" and "5:28 p.m.".
_CLOCK = re.compile(
    r"(?P<h>1[0-2]|0?[1-9]):(?P<m>[0-5][0-9])[ \u00a0]?(?:(?P<ap>[AaPp])[Mm]|(?P<dot>[ap])\.m\.)(?!\w)"
)
_INCH_CONTEXT = re.compile(r"[\^²³⁻/*·]|[ \u00a0]{0,3}(?:$|[?=)]|(?:to|into)(?!\w))")


@dataclass(frozen=True)
class Span:
    """One detected span; `text == source[start:end]`.

    - kind: "number", "quantity" (a number with a physical unit, percent included), "unit" (bare),
      "time" (a clock time, "5:28 PM"), "label" (a choice label, "(a)"), "ordinal" ("the third
      biggest") or "place" ("the ten thousands digit"). Numbers in words are
      "number" or "quantity" spans like digits ("seventy-one fifths of a milligram").
    - value: int for integer literals (and integral scaled ones, "$2.1bn"; cardinals in words), float
      otherwise; None for a bare unit. A time's value is its minutes since midnight ("5:28 PM" -> 1048),
      a label's the letter's index ("(c)" -> 2), an ordinal's k ("third" -> 3), a place's value ("tens"
      -> 10), all ints.
    - unit: for "quantity" and "unit", the unit as written ("km", "%", "percent"; hyphens inside a name
      read as spaces: "square-foot" -> "square foot"), always accepted by `parse_unit`. For "number":
      None, or the ISO 4217 code of a currency sign ("$5" -> "USD", "€5" -> "EUR"); a currency is not a
      physical unit, so the span's vector is the number's. None for "time", "label", "ordinal", "place".
    - exact: the literal's exact value: the int for an integer, else a Fraction ("0.1" -> 1/10,
      "6.02e23", "2 1/2" -> 5/2), so that it encodes exactly; float(exact) == value. None for a bare unit.

    >>> detect_spans("$0.1")[0]
    Span(start=0, end=4, text='$0.1', kind='number', value=0.1, unit='USD', exact=Fraction(1, 10))
    """

    start: int
    end: int
    text: str
    kind: str  # "number" | "quantity" | "unit" | "time" | "label" | "ordinal" | "place"
    value: int | float | None  # None for a bare unit
    unit: str | None = None  # the unit as written, or a currency's ISO code (see above)
    exact: int | Fraction | None = None  # the exact value as written; None for a bare unit


def detect_spans(text: str) -> list[Span]:
    """Return the numbers (in digits or words), quantities, units, clock times, choice labels, ordinals
    and place names in `text`, sorted and non-overlapping.

    Never raises on a str; raises TypeError on anything else. Linear time (see the module docstring).

    >>> [(s.text, s.kind, s.value, s.unit) for s in detect_spans("convert 5 km to m, then add $2.1bn")]
    [('5 km', 'quantity', 5, 'km'), ('m', 'unit', None, 'm'), ('$2.1bn', 'number', 2100000000, 'USD')]
    """
    if not isinstance(text, str):
        raise TypeError(f"detect_spans expects a str, got {type(text).__name__}")
    return _Scanner(text).run()


# ----------------------------------------------------------------------------- unit table


@lru_cache(maxsize=1)
def _unit_table() -> tuple[frozenset[str], dict[str, tuple[int, ...]]]:
    """Atomic spellings usable after a number, and for each first character the lengths, longest first.
    Multi-word names are also listed with hyphens ("square-foot"), so that matching stays one set probe."""
    usable = [s for s in unit_spellings() if _usable_spelling(s)]
    spellings = frozenset(usable + [s.replace(" ", "-") for s in usable if " " in s])
    lengths: dict[str, set[int]] = {}
    for s in spellings:
        lengths.setdefault(s[0], set()).add(len(s))
    return spellings, {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}


def _usable_spelling(s: str) -> bool:
    if not s or len(s) > MAX_UNIT_CHARS or s in NEVER_UNITS or s[0].isdigit() or s[0].isspace():
        return False
    return not (len(s) == 2 and s.isupper() and s[0] in "EPTGMZY" and s not in KEPT_CAPITAL_PAIRS)


@lru_cache(maxsize=4096)
def _is_unit(s: str) -> bool:
    # _try_parse never builds an error message: the "did you mean" list of parse_unit's errors runs
    # difflib over every spelling, and almost every candidate the scanner probes is not a unit.
    return _try_parse(s) is not None


def _si_fits(value: int | float, unit: str) -> bool:
    """Does value (in unit) have an SI value QuantityEncoder.encode accepts: finite, and value * factor
    not 0 for a non-zero value (an underflow)? The same float arithmetic as that method."""
    u = _try_parse(unit)
    scaled = float(value) * u.factor  # value is a finite float or an int within the float range
    return math.isfinite(scaled + u.offset) and (scaled != 0.0 or value == 0)


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _sign_is_unary(t: str, p: int) -> bool:
    """Is the sign at t[p] (which touches a number) unary? See "Sign rule" in the module docstring."""
    if p == 0:
        return True
    c = t[p - 1]
    return c.isspace() or not (c.isalnum() or c in _NOT_BEFORE_UNARY)


def _finish(exact: int | Fraction, as_int: bool) -> tuple[int | float, int | Fraction] | None:
    """(value, exact) as reported: both int for integer literals and integral scaled values; otherwise a
    float value and a Fraction exact. None when the float overflows, or underflows to 0 for a non-zero
    value (no span, never a wrong one): FluxEM's float channels cannot hold such a value."""
    try:
        number = float(exact)
    except OverflowError:
        return None
    if number == 0.0 and exact != 0:
        return None
    if isinstance(exact, int):
        return exact, exact
    if as_int and exact.denominator == 1:
        return exact.numerator, exact.numerator
    return number, exact


def _scientific(mantissa: str, exponent: str) -> Fraction | None:
    """The exact value of mantissa x 10^exponent (exponent in ASCII, signed), or None where its float
    overflows or underflows to zero: "1e99999" and "5e-400" are refused, never read as inf, 0.0 or 1."""
    number = float(f"{mantissa}e{exponent}")  # linear in the digits, however long the exponent
    if number == 0.0:
        return None if mantissa.strip("0.") else Fraction(0)
    if not math.isfinite(number):
        return None
    # A finite non-zero float bounds |exponent| by ~330 plus the mantissa's length (<= MAX_NUMERAL_CHARS),
    # so the power below is small; the strip drops leading zeros that int() would count against its limit.
    digits = exponent.lstrip("+-").lstrip("0") or "0"
    power = -int(digits) if exponent[0] == "-" else int(digits)
    return Fraction(mantissa) * Fraction(10) ** power


# ----------------------------------------------------------------------------- scanner


class _Scanner:
    def __init__(self, text: str):
        self.t = text
        self.n = len(text)
        self.spans: list[Span] = []
        self.spellings, self.lengths = _unit_table()
        self.seen_quantity = False
        self.labels = 0  # choice labels read so far: the next one must be the next letter

    def run(self) -> list[Span]:
        t, n, pos, anchor = self.t, self.n, 0, _NUM_ANCHOR
        # The next number word, label or "how many": searched again only once the cursor has reached it.
        word = t[:1] in _WORD_FIRST_CHARS and _WORD_FIRST.match(t) or _WORD_ANCHOR.search(t)
        word_at = word.start("w") if word else n
        while True:
            m = anchor.search(t, pos)
            at = m.start() if m else n
            while word_at < at:  # words before the next digit; its match stays valid while pos <= at
                if word_at >= pos:
                    pos = self._word(word_at, word["w"])
                word = _WORD_ANCHOR.search(t, pos - 1)
                word_at = word.start("w") if word else n
                if pos > at or (self.seen_quantity and anchor is _NUM_ANCHOR):
                    break  # search for the next digit again
            else:
                if m is None:
                    return self.spans
                if m.end() - at > 1:  # "to ", "in ", "into ": a bare unit may follow
                    pos = self._bare_unit(m.end())
                    continue
                pos = self._number(at, floor=pos)
            if self.seen_quantity:
                anchor = _ANY_ANCHOR

    def _emit(self, start: int, end: int, kind: str, value, unit: str | None, exact=None) -> None:
        self.spans.append(Span(start, end, self.t[start:end], kind, value, unit, exact))
        if kind == "quantity":
            self.seen_quantity = True

    def _bare_unit(self, j: int) -> int:
        end, unit = self._read_unit(j) if j < self.n else (-1, None)
        if end < 0:
            return j
        self._emit(j, end, "unit", None, unit)
        return end

    # ------------------------------------------------------------------------- numbers

    def _number(self, i: int, floor: int) -> int:
        """Read the number whose first digit (or vulgar fraction) is t[i]; emit its span; return the cursor."""
        read = self._numeral(i, floor)
        if isinstance(read, int):
            return read
        k, end, exact, plain, mantissa = read
        t = self.t
        if plain is not None and t.startswith(":", end) and len(plain) <= 2 and not (k and t[k - 1] in ".:"):
            m = _CLOCK.match(t, k)  # "5:28 AM"
            if m:
                return self._clock(m)
        if exact is None:  # "1e99999", "5e-400": no span, and the cursor is past all of its digits
            return end
        if self._is_exponent(k):
            return end
        start, negative, currency = self._lookback(k, floor)
        scientific = mantissa is None and plain is None and self.t[k] not in _VULGAR  # "6.02e23"
        fraction = self._fraction(k, end, plain) if plain is not None else None
        if fraction:
            end, exact = fraction
        elif mantissa:
            power_end, exact = self._power_of_ten(end, mantissa, exact)
            if exact is None:
                return power_end
            scientific, end = power_end > end, power_end
        end, scaled, exact = self._scale(end, exact, currency)
        # An integer literal stays int; a scale word keeps an integral value int ("$2.1bn"), except on
        # scientific notation, which is float-valued as written ("6.02e23 million").
        finished = _finish(-exact if negative else exact, scaled and not scientific)
        if finished is None:
            return end
        value, exact = finished
        if currency:
            self._emit(start, end, "number", value, _CURRENCY_CODES[currency], exact)
            return end
        bare_integer = plain is not None and not fraction and not scaled
        if bare_integer and self._no_unit_suffix(end, plain):
            self._emit(start, end, "number", value, None, exact)
            return end
        return self._number_and_unit(start, end, value, exact, fraction is not None or t[k] in _VULGAR)

    def _number_and_unit(self, start: int, end: int, value, exact, of_a: bool) -> int:
        """Emit the number t[start:end], or the quantity it begins when a unit follows; return the cursor.
        `of_a`: a fraction, which may take its unit after "of a" / "of an" ("3/4 of a cup")."""
        unit_end, unit = self._unit_after(end, of_a)
        if unit_end >= 0 and not _si_fits(value, unit):
            unit_end = -1  # "1e308 km": the number alone
        if unit_end < 0:
            self._emit(start, end, "number", value, None, exact)
            return end
        self._emit(start, unit_end, "quantity", value, unit, exact)
        return unit_end

    def _clock(self, m: re.Match) -> int:
        """A 12-hour clock time: a "time" span whose value is the minutes since midnight."""
        hour = int(m["h"]) % 12 + (12 if (m["ap"] or m["dot"]) in "Pp" else 0)
        minutes = hour * 60 + int(m["m"])
        self._emit(m.start(), m.end(), "time", minutes, None, minutes)
        return m.end()

    # ------------------------------------------------------------------------- words and labels

    def _word(self, i: int, w: str) -> int:
        """Read what the word anchor found at t[i] (its text is w); emit its span; return the cursor."""
        if w == "(":
            return self._label(i)
        if w[0] in "Hh":  # "how many ": the unit after it is the one the answer is in
            return self._bare_unit(i + len(w))
        if w[0] in "Tt" and w[1:3] == "he" and len(w) == 4:  # "the " before an ordinal or a place name
            return self._ordinal_or_place(i + 4)
        if w[0] in "Aa":  # "a half", "an eighth"
            return self._article_fraction(i, i + len(w))
        return self._number_words(i)

    def _label(self, i: int) -> int:
        """A choice label "(a)", "(b)", ... standing alone, each the next letter after the previous label
        (or "(a)" again): a "label" span whose value is the letter's index. "f(x)" and a lone "(x)" are
        not labels."""
        t, after = self.t, i + 3
        index = ord(t[i + 1]) - ord("a")
        alone = (i == 0 or t[i - 1].isspace()) and (after == self.n or t[after].isspace())
        if not alone or index not in (0, self.labels):
            return i + 1
        self.labels = index + 1
        self._emit(i, after, "label", index, None, index)
        return after

    def _ordinal_or_place(self, j: int) -> int:
        """After "the ": a place name before " digit"/" place" (longest first: "ten thousands"), else an
        ordinal word followed by a space; see "Ordinals and places". Returns the cursor."""
        t = self.t
        m = _THE_WORD.match(t, j)
        words = m["word"].split(" ") if m else []
        for count in (2, 1)[2 - len(words):]:
            name = " ".join(words[:count])
            end = j + len(name)
            if name in _PLACE_WORDS and _PLACE_AFTER.match(t, end):
                self._emit(j, end, "place", 10 ** _PLACE_WORDS[name], None, 10 ** _PLACE_WORDS[name])
                return end
        k = _ORDINAL_WORDS.get(words[0]) if words else None
        end = j + len(words[0]) if words else j
        if k is not None and end < self.n and t[end] in " \u00a0":
            self._emit(j, end, "ordinal", k, None, k)
            return end
        return j

    def _article_fraction(self, i: int, j: int) -> int:
        """"a half", "a quarter", and "a third of", "an eighth of" ...: without "of", "a third" is
        the ordinal of "a third attempt". t[j:] starts with the fraction word."""
        t = self.t
        end = _LETTERS.match(t, j).end()
        denominator = _DENOMINATOR_WORDS[t[j:end]]
        if denominator not in (2, 4) and not _OF.match(t, end):
            return j
        return self._words_value(i, end, Fraction(1, denominator))

    def _number_words(self, i: int) -> int:
        """A cardinal in words ("seventy-one", "one hundred thousand"), maybe the numerator of a fraction
        in words ("seventy-one fifths", "one half"); see "Number words" in the module docstring."""
        t, n = self.t, self.n
        value, end, words = self._cardinal(i)
        after = _LETTERS.match(t, end + 1) if end + 1 < n and t[end] in " -\u00a0" else None
        if after and (after.end() < n and _is_word_char(t[after.end()])):
            after = None
        if after is None:
            exact = value
        elif t[end] != "-" and after.group() in _PLURAL_PLACES:
            return after.end()  # "the ten thousands digit": a place name
        else:
            denominator = (_DENOMINATOR_WORDS if value == 1 else _PLURAL_DENOMINATORS).get(after.group())
            exact = Fraction(value, denominator) if denominator else value
        if exact is not value:
            return self._words_value(i, after.end(), exact)
        if words == 1 and value == 1 and self._word_before(i) in _ONE_PRONOUN_AFTER:
            return end  # "the one", "no one"
        if after and t[end] == "-" and self._unit_after(end)[0] < 0:
            return after.end()  # a hyphenated word such as "twenty-third" or "one-off" is no number
        return self._words_value(i, end, exact)

    def _words_value(self, start: int, end: int, exact: int | Fraction) -> int:
        value, exact = _finish(exact, as_int=False)  # a cardinal stays an int, a fraction is float-valued
        return self._number_and_unit(start, end, value, exact, of_a=isinstance(exact, Fraction))

    def _cardinal(self, i: int) -> tuple[int, int, int]:
        """(value, end, number of words) of the longest cardinal in words at t[i]: words joined by one
        space or hyphen; "and" only after "hundred" or a scale word and before a number word; each scale
        word smaller than the one before; "zero" alone. The first word may be capitalized."""
        t, n = self.t, self.n
        total = group = words = 0
        last, top, p, end = "", 99, i, i  # last: the previous word's role; top: scales must fall below it
        while True:
            m = _LETTERS.match(t, p)
            if m is None or (m.end() < n and _is_word_char(t[m.end()])):
                break
            w = m.group().lower() if p == i else m.group()
            small = _SMALL_WORDS.get(w)
            if small is not None:
                if last not in ("", "hundred", "scale", "and") and not (last == "tens" and 0 < small < 10):
                    break
                if small == 0 and last:
                    break
                group += small
                last = "tens" if w in _TENS_WORDS else "unit"
            elif w == "hundred" and last in ("unit", "tens") and 0 < group < 100:
                group *= 100
                last = "hundred"
            elif w in _LARGE_WORDS and last in ("unit", "tens", "hundred") and group and _LARGE_WORDS[w] < top:
                top = _LARGE_WORDS[w]
                total, group, last = total + group * 10**top, 0, "scale"
            elif w == "and" and last in ("hundred", "scale"):
                last = "and"
            else:
                break
            if last != "and":
                end, words = m.end(), words + 1
            if w == "zero" or not (m.end() + 1 < n and t[m.end()] in " -\u00a0"):
                break
            p = m.end() + 1
        return total + group, end, words

    def _word_before(self, i: int) -> str:
        """The word right before t[i] and one space, lower-cased (at most 8 letters are looked at)."""
        t, p = self.t, i - 1
        if p < 0 or t[p] not in _GAP:
            return ""
        q = p
        while q > 0 and p - q < 8 and t[q - 1].isalpha():
            q -= 1
        return t[q:p].lower()

    def _numeral(self, i: int, floor: int):
        """The literal at t[i], or at a leading dot just before it: (k, end, exact value, plain digits, mantissa).
        Returns the new cursor instead when the literal gets no span of its own (dotted chain, over-long)."""
        t = self.t
        if t[i] in _VULGAR:
            return i, i + 1, _VULGAR[t[i]], None, None
        before = t[i - 2] if i >= 2 else " "
        leading_dot = i - 1 >= floor and t[i - 1] == "." and not (_is_word_char(before) or before == ".")
        k = i - 1 if leading_dot else i
        m = _NUMERAL.match(t, k)
        if m.end() - k > MAX_NUMERAL_CHARS:
            return m.end()
        if _is_chain(m, t, m.end()):
            return self._chain(k)
        return (k, m.end(), *_literal_value(m))

    def _is_exponent(self, k: int) -> bool:
        """Is the literal at t[k] an exponent ("x^2", "s^-1", "m**3") rather than a number? See "Exponents"."""
        t, p = self.t, k
        if p >= 1 and t[p - 1] in SIGNS:
            p -= 1
        if p >= 1 and t[p - 1] == "^":
            caret = p - 1
        elif p >= 2 and t[p - 2 : p] == "**":
            caret = p - 2
        else:
            return False
        last = self.spans[-1] if self.spans else None
        return last is None or last.kind != "number" or last.end != caret

    def _power_of_ten(self, end: int, mantissa: str, exact):
        """Apply "×10^n" (and its spellings) after the mantissa: (new end, new exact value or None when
        the result is not a finite non-zero float; then the whole literal gets no span)."""
        m = _POW10.match(self.t, end)
        if m is None or (m["d"] is not None and m["op"] not in "×·⋅"):
            return end, exact
        exponent = next(g for g in (m["a"], m["b"], m["c"], m["d"]) if g is not None)
        return m.end(), _scientific(mantissa, exponent.translate(_TO_ASCII))

    def _chain(self, k: int) -> int:
        """A dotted chain such as "25.12.2024" or "192.168.0.1": one int span per group."""
        m = _CHAIN.match(self.t, k)
        pos = k
        for part in m.group().split("."):
            if len(part) <= MAX_NUMERAL_CHARS:
                self._emit(pos, pos + len(part), "number", int(part), None, int(part))
            pos += len(part) + 1
        return m.end()

    def _lookback(self, k: int, floor: int) -> tuple[int, bool, str]:
        """Extend the numeral at k back over a unary sign and a currency sign: (start, negative, currency
        sign or "")."""
        t, start, negative, signed, currency = self.t, k, False, False, ""
        if start - 1 >= floor and t[start - 1] in SIGNS and _sign_is_unary(t, start - 1):
            start, negative, signed = start - 1, t[start - 1] != "+", True
        if start - 1 >= floor and t[start - 1] in CURRENCY:
            start, currency = start - 1, t[start - 1]
            if not signed and start - 1 >= floor and t[start - 1] in SIGNS and _sign_is_unary(t, start - 1):
                start, negative = start - 1, t[start - 1] != "+"
        return start, negative, currency

    def _fraction(self, k: int, end: int, plain: str) -> tuple[int, Fraction] | None:
        """A proper fraction "3/4", a mixed "2 1/2", or a vulgar "2½" / "2 ½" after the integer t[k:end]."""
        t = self.t
        if len(plain) > 9 or (k >= 2 and t[k - 1] in "/⁄" and _is_ascii_digit(t[k - 2])):
            return None  # too long, or the tail of a date such as 12/25/2024
        whole = int(plain)
        m = _FRACTION.match(t, end)
        # Between numbers "/" is division ("2 + 21/45" is 21 and 45): "3/4" is one value only with the
        # fraction slash, or when a word or unit follows ("3/4 cup", "1/2 of", "3/4-inch").
        if m and whole < int(m["den"]) and (t[end] == "⁄" or self._word_at(m.end())):
            return m.end(), Fraction(whole, int(m["den"]))
        if m and int(m["den"]) and _OF_A.match(t, m.end()) and self._unit_after(m.end(), of_a=True)[0] >= 0:
            return m.end(), Fraction(whole, int(m["den"]))  # "37/2 of a millennium": one value, any size
        m = _MIXED.match(t, end)
        if m and int(m["num"]) < int(m["den"]):
            return m.end(), whole + Fraction(int(m["num"]), int(m["den"]))
        j = end + 1 if end < self.n and t[end] in " \u00a0" else end
        if j < self.n and t[j] in _VULGAR and not (j + 1 < self.n and _is_word_char(t[j + 1])):
            return j + 1, whole + _VULGAR[t[j]]
        return None

    def _word_at(self, p: int) -> bool:
        """Does a word start at p, or after one space or hyphen there?"""
        t, n = self.t, self.n
        if p < n and (t[p] in _GAP or t[p] == "-"):
            p += 1
        return p < n and t[p].isalpha()

    def _scale(self, end: int, exact, currency: str) -> tuple[int, bool, int | Fraction]:
        """Apply a scale word or suffix after the number: (new end, scaled?, new exact value)."""
        m = _SCALE.match(self.t, end)
        if m is None:
            return end, False, exact
        word, attached = m["word"], not m["gap"]
        power = _SCALE_WORDS.get(word.lower()) or _SCALE_ABBREVIATIONS.get(word)
        if power is None and attached and (word == "k" or currency):
            power = _SCALE_AFTER_CURRENCY.get(word)
        if power is None:
            return end, False, exact
        return m.end(), True, Fraction(exact) * 10**power

    def _no_unit_suffix(self, end: int, plain: str) -> bool:
        """Ordinals ("3rd") and decades ("1990s") are numbers whose letters are not units."""
        t = self.t
        if _ORDINAL.match(t, end):
            return True
        decade = len(plain) >= 2 and plain.endswith("0") and t.startswith("s", end)
        return decade and (end + 1 == self.n or not _is_word_char(t[end + 1]))

    # ------------------------------------------------------------------------- units

    def _unit_after(self, end: int, of_a: bool = False) -> tuple[int, str | None]:
        """The unit right after a number ending at `end`: (unit end or -1, unit). With `of_a`, also the
        unit after " of a " / " of an " ("three tenths of a day")."""
        t, j = self.t, end
        if of_a:
            m = _OF_A.match(t, end)
            if m and m.end() < self.n:
                read = self._read_unit(m.end())
                if read[0] >= 0:
                    return read
        if j < self.n and (t[j] in _GAP or t[j] == "-"):
            j += 1
        if j >= self.n:
            return -1, None
        read = self._read_unit(j)
        if read[0] < 0 and j == end and t.startswith("us", j) and not self._unit_continues(j + 2):
            return j + 2, "us"  # attached, "us" is the microsecond ("13007037.1us"), never the word
        return read

    def _read_unit(self, j: int) -> tuple[int, str | None]:
        """(End, unit) of the (compound) unit starting at j, or (-1, None). The unit is the text as
        written, or with hyphens inside a name read as spaces ("square-foot" -> "square foot"). All of
        the unit-like text must parse: no shorter unit is tried (see "Compound units")."""
        t, n = self.t, self.n
        if t[j] in "Ll":  # fuel consumption, the one unit with a number inside: "6.5 L/100km"
            m = _FUEL.match(t, j)
            if m and _is_unit(m.group()):
                return m.end(), m.group()
        end, atoms, e = -1, 0, (self._read_term(j) if t[j] != "(" else -1)  # parentheses only after an operator
        while e > 0:
            atoms += 1
            end = e
            if atoms >= MAX_UNIT_ATOMS or e + 1 >= n or t[e] not in "/*·⋅":
                break
            e = self._read_term(e + 1)
        if end < 0 or self._unit_continues(end):
            return -1, None
        unit = t[j:end]
        if _is_unit(unit):
            return end, unit
        if "-" in unit:
            unit = _HYPHEN_IN_NAME.sub(" ", unit)
            if _is_unit(unit):
                return end, unit
        return -1, None

    def _unit_continues(self, p: int) -> bool:
        """Does the unit-like text go on past p, where reading stopped? A letter or digit touching it
        ("m^2x", "m⁰⁰⁰"), an exponent that was not read ("m^123"), or an operator followed by something
        that starts a unit ("km/person", "m/(", a seventh atom): then the unit as written is longer than
        what was read, and a shorter unit would be a wrong one."""
        t, n = self.t, self.n
        if p >= n:
            return False
        c = t[p]
        if _is_word_char(c) or c == "^" or t.startswith("**", p) or c in _SUPERSCRIPTS:
            return True
        return c in "/*·⋅" and p + 1 < n and (t[p + 1].isalpha() or t[p + 1] in "(°℃℉%")

    def _read_term(self, j: int) -> int:
        """An atom with an optional exponent, or "(" atoms joined by * · ⋅ / ")" : its end or -1."""
        t = self.t
        if t[j] == "(":
            e = self._match_atom(j + 1) if j + 1 < self.n else -1
            for _ in range(MAX_UNIT_ATOMS):
                if e < 0 or e + 1 >= self.n or t[e] not in "/*·⋅":
                    break
                e = self._match_atom(e + 1)
            e = e + 1 if e > 0 and t.startswith(")", e) else -1
        else:
            e = self._match_atom(j)
        if e > 0:
            m = _EXPONENT.match(t, e)
            e = m.end() if m else e
        return e

    def _match_atom(self, j: int) -> int:
        """Longest atomic unit spelling at j ending at a word boundary (superscripts may follow); end or -1."""
        t, n = self.t, self.n
        for length in self.lengths.get(t[j], ()):
            e = j + length
            spelling = t[j:e] if e <= n else ""
            if spelling not in self.spellings:
                continue
            if e < n and _is_word_char(t[e]) and t[e] not in _SUPERSCRIPTS:
                continue
            if (spelling == "in" or spelling.endswith((" in", "-in"))) and not _INCH_CONTEXT.match(t, e):
                continue
            return e
        return -1


def _is_ascii_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _is_chain(m: re.Match, t: str, end: int) -> bool:
    """Is the `_NUMERAL` match "1.2" followed by ".3" (a date, version or address)?"""
    if not (m["int"] and m["frac"]) or m["exp"] or "," in m["int"]:
        return False
    return t.startswith(".", end) and end + 1 < len(t) and _is_ascii_digit(t[end + 1])


def _literal_value(m: re.Match) -> tuple[int | Fraction | None, str | None, str | None]:
    """(exact value or None if not a finite non-zero float, the digits if it is a plain integer, the
    mantissa text if a power of ten may follow)."""
    integer = (m["int"] or "").replace(",", "")
    if m["exp"]:
        return _scientific(integer + (m["frac"] or ""), m["exp"][1:].translate(_TO_ASCII)), None, None
    if m["frac"]:
        decimals = m["frac"][1:]
        return Fraction(int(integer + decimals), 10 ** len(decimals)), None, integer + m["frac"]
    return int(integer), (integer if "," not in m["int"] else None), integer
