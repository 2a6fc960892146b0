"""Physical units: an exact unit registry, a compound-unit parser, and the canonical number format.

A `Unit` maps a value in that unit to SI base units: ``si = value * factor + offset``. Dimensions are
exponent vectors in the order (L, M, T, I, Θ, N, J) = (m, kg, s, A, K, mol, cd), the order of
`fluxem.layout.DIM_NAMES`.

Exact factors. Every factor is built from its defining value with `fractions.Fraction` (inch = 0.0254 m,
pound = 0.45359237 kg, gallon = 231 in^3, lbf = pound * 9.80665 m/s^2, ...). Prefixes and compound units
multiply those fractions exactly, and each `Unit` rounds to float once, so ``parse_unit("mph").factor``
is the float nearest to 1609.344 / 3600.

Where authorities differ we follow the defaults of pint's registry (pint 0.25):

- calorie `cal` = 4.184 J (thermochemical; the International Table calorie is 4.1868 J);
- gallon `gal` = US liquid gallon, 231 in^3 = 3.785411784 L (imperial gallon 4.54609 L is not included);
- ton `ton` = short ton, 2000 lb; `t` / `tonne` = 1000 kg; the long ton is not included;
- horsepower `hp` = mechanical horsepower, 550 ft*lbf/s (about 745.7 W; metric hp is not included);
- year `year` / `yr` = Julian year, 365.25 d; `month` = year / 12; `decade`, `century`, `millennium` =
  10, 100, 1000 years (DeepMind mathematics_dataset's measurement module uses the same ratios between
  these; it never converts years to days);
- Btu `BTU` / `Btu` = 1055.056 J, pint's default (ISO 31-4); NIST's International Table Btu is
  1055.05585262 J, 1.4e-7 smaller;
- acre = 43560 US survey ft^2 (pint's value, 4046.8726 m^2; the international acre is 4046.8564 m^2);
- mmHg = 133.322387415 Pa, torr = atm / 760, inHg = 25.4 mmHg;
- dalton `Da` = 1.66053906892e-27 kg (CODATA 2022, measured rather than defined).

Three deliberate departures from pint: `decade` = 10 years (pint's `decade` is the dimensionless
logarithmic ratio 10, as in "dB per decade"; in text a decade is a span of time), `rpm` = 1/60 Hz (NIST
SP 811: 60 rpm = 1 Hz; pint counts a revolution as 2*pi rad, so its rpm is 2*pi/60 s^-1), and parsec
`pc` = 648000/pi au (IAU 2015; pint uses 1/tan(1 arcsec) au, 8e-12 away).

Clashing symbols, resolved explicitly (case matters everywhere):

- `C` is the coulomb; Celsius is `degC`, `°C`, `℃`, `celsius`, `Celsius`, `degree Celsius`.
- `F` is the farad; Fahrenheit is `degF`, `°F`, `℉`, `fahrenheit`. `K` is the kelvin (`k` is kilo).
- `T` is the tesla, `t` the tonne (with `Mt`, `Gt`); `kt` is the knot, as in pint (`kilotonne` works).
- `h` is the hour, `H` the henry; `s` the second, `S` the siemens; `g` the gram, `g0` standard gravity.
- Exact spellings win over prefix + unit: `min` is the minute (not milli-inch), `mm` the millimetre,
  `Pa` the pascal, `cd` the candela, `ha` the hectare, `nmi` the nautical mile, `ft` the foot, `pt` the
  pint, `yd` the yard. Non-SI units take no prefixes (`kmi` is unknown), and no prefixed spelling of
  the registry collides with an exact one (tests check `_shadowed_prefixed() == []`).
- Micro is written `µ` (U+00B5) in canonical symbols; `μ` (Greek mu) and `u` are accepted (`um`, `us`).
  Canonical symbols are otherwise ASCII where a common ASCII form exists: `degC`, `degF`, `ohm`, `floz`.
- Deliberately unknown, because they are ambiguous: `G`, `M`, `u`, `a`, `deg`, `degree(s)`, `Cal`, `mil`,
  `st`, `bbl`, `kmh`, `°K`. Unknown spellings raise `ValueError`; they are never mapped to a near match.

Grammar of compound units: atoms joined by `*`, `·` or `/`, each optionally raised to an integer power
with `^n`, `**n` or superscripts (`m²`, `s⁻¹`), with at most one level of parentheses (`kg/(m*s^2)`)
and `1/s` for a pure reciprocal. Whitespace around operators is ignored. Operators apply left to right,
as in pint: `J/kg*K` is J*K/kg, so write `J/(kg*K)`. Offset units (degC, degF) cannot appear in a
compound; use `K`, `delta_degC` or `delta_degF`. An exponent is read whole (leading zeros included:
`m^007` is m^7), and its minus sign may be `-`, `−` (U+2212) or an en dash `–` (U+2013). Every
exponent, and every exponent of the resulting dimension vector, lies in +-MAX_EXPONENT (12): `m^13`
and `(m^12)^2` raise, so every unit's dimensions fit the range that `QuantityEncoder` checks.

Area and volume names: "square X", "sq X", "sq. X" mean X^2 for X in m, km, cm, mm, ft, in, yd, mi, and
"cubic X", "cu X" mean X^3 for X in m, km, cm, mm, ft, in, yd; X is the symbol or any full name of that
unit ("square feet", "sq ft", "sq. metres", "cubic centimetres", "cu in"). Like "fl oz" they are atomic
spellings in the registry, built from the registry's own X (so factors are exact: square foot =
0.3048^2 m^2, rounded once), and their canonical symbol is the power: `parse_unit("square feet") ==
parse_unit("ft^2")`. They take no further exponent ("sq ft^2" is malformed); lower case only.

`unit_spellings()` includes spellings that are also English words (`in`, `min`, `as` = attosecond,
`am` = attometre, `pt`, `cup`, `day`, `us`); a text scanner must use context to reject them.

Temperature convention (pint's): converting a temperature *point* applies the offset (100 degC ->
373.15 K -> 212 degF). Addability means "same dimension vector", so degC, degF and K are all addable.
A point on an offset scale (degC, degF) and a difference on one (delta_degC, delta_degF) never convert
into each other (`check_convertible`); K and degR are absolute and convert to both. Adding and
subtracting quantities (points, differences) is `QuantityEncoder.add`/`sub`.

Dimensionless and numeric units: `%` / `percent` is 1/100 (pint's percent). Fuel consumption
`L/100km` (`l/100km`, spaces allowed) is the only unit with a number in it: 1e-8 m^2 exactly, whose
dimension is an area (volume / length).

Exact values: `convert_exact` and `to_si_exact` compute with the exact factors and offsets and return a
`Fraction` for int / Fraction / Decimal / float inputs; `format_value` rounds the true value of any of
these to six significant digits, ties to even, so an exact conversion prints its correctly rounded
answer (32 degF -> "0" degC; 0.391325 in -> "9.93966" mm, a tie). A Decimal's exponent costs nothing
to write but 10**exponent to make exact, so a non-zero Decimal of magnitude beyond 10**+-4300
(`Decimal("1e999999999")`) raises ValueError up front; `format_value` estimates the magnitude of an
exact value from bit lengths before it prints any digit, so every call takes time bounded by the size
of its input.
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from .layout import DIM_NAMES

__all__ = [
    "KINDS",
    "MAX_EXPONENT",
    "Unit",
    "as_fraction",
    "canonical_si_unit",
    "check_convertible",
    "convert",
    "convert_exact",
    "format_value",
    "parse_unit",
    "parse_value",
    "to_si_exact",
    "unit_spellings",
    "units_by_kind",
]

F = Fraction
N_DIMS = len(DIM_NAMES)  # 7: (L, M, T, I, Θ, N, J)


def _dims(L=0, M=0, T=0, I=0, Th=0, N=0, J=0) -> tuple[int, ...]:  # noqa: E741, N803
    return (L, M, T, I, Th, N, J)


# Quantity kinds by dimension vector; each vector names at most one kind.
KINDS: dict[str, tuple[int, ...]] = {
    "dimensionless": _dims(),
    "length": _dims(L=1),
    "mass": _dims(M=1),
    "time": _dims(T=1),
    "current": _dims(I=1),
    "temperature": _dims(Th=1),
    "amount": _dims(N=1),
    "luminous_intensity": _dims(J=1),
    "area": _dims(L=2),
    "volume": _dims(L=3),
    "velocity": _dims(L=1, T=-1),
    "acceleration": _dims(L=1, T=-2),
    "frequency": _dims(T=-1),
    "force": _dims(L=1, M=1, T=-2),
    "energy": _dims(L=2, M=1, T=-2),
    "power": _dims(L=2, M=1, T=-3),
    "pressure": _dims(L=-1, M=1, T=-2),
    "momentum": _dims(L=1, M=1, T=-1),
    "density": _dims(L=-3, M=1),
    "concentration": _dims(L=-3, N=1),
    "charge": _dims(T=1, I=1),
    "voltage": _dims(L=2, M=1, T=-3, I=-1),
    "resistance": _dims(L=2, M=1, T=-3, I=-2),
    "conductance": _dims(L=-2, M=-1, T=3, I=2),
    "capacitance": _dims(L=-2, M=-1, T=4, I=2),
    "inductance": _dims(L=2, M=1, T=-2, I=-2),
    "magnetic_flux": _dims(L=2, M=1, T=-2, I=-1),
    "magnetic_flux_density": _dims(M=1, T=-2, I=-1),
}
_KIND_BY_DIMS = {dims: kind for kind, dims in KINDS.items()}


@dataclass(frozen=True)
class Unit:
    """A parsed unit: ``si_value = value * factor + offset``.

    >>> u = parse_unit("km/h")
    >>> (u.symbol, u.kind, u.dimensions)
    ('km/h', 'velocity', (1, 0, -1, 0, 0, 0, 0))
    """

    symbol: str  # canonical spelling, e.g. "km/h", "kg/(m*s^2)", "degC"
    factor: float  # multiply a value in this unit by factor (then add offset) to get SI base units
    offset: float  # 273.15 for degC, 459.67*5/9 for degF, else 0.0
    dimensions: tuple[int, ...]  # 7 exponents (L, M, T, I, Θ, N, J)
    kind: str | None  # a KINDS name, or None when no named kind has these dimensions
    # Exact (factor, offset) from the registry, so `convert` rounds once; not part of equality.
    _exact: tuple[Fraction, Fraction] | None = field(default=None, compare=False, repr=False)

    @property
    def is_offset(self) -> bool:
        """True for affine temperature scales (degC, degF).

        >>> parse_unit("degC").is_offset, parse_unit("K").is_offset
        (True, False)
        """
        return self.offset != 0.0

    @property
    def is_delta(self) -> bool:
        """True for a temperature *difference* on an offset scale (delta_degC, delta_degF).

        Its factor equals K's (or degR's), but pint refuses to convert it to or from a point (degC),
        and so does FluxEM: see `check_convertible`.

        >>> parse_unit("delta_degC").is_delta, parse_unit("K").is_delta
        (True, False)
        """
        return self.dimensions == TEMP and "delta_" in self.symbol

    def to_si(self, value: float) -> float:
        """Convert a value in this unit to SI base units (a temperature point to kelvin).

        >>> parse_unit("degC").to_si(100.0)
        373.15
        """
        return value * self.factor + self.offset

    def from_si(self, si_value: float) -> float:
        """Convert a value in SI base units to this unit.

        >>> parse_unit("km").from_si(3500.0)
        3.5
        """
        return (si_value - self.offset) / self.factor


# ----------------------------------------------------------------------------------------------
# Exact definitions (NIST SP 811, BIPM SI brochure; pint's defaults where authorities differ)

INCH = F("0.0254")
FOOT = 12 * INCH
YARD = 3 * FOOT
MILE = 5280 * FOOT  # 1609.344 m
SURVEY_FOOT = F(1200, 3937)  # only for pint's acre
AU = F(149597870700)
DAY = F(86400)
YEAR = F("365.25") * DAY  # Julian year
LIGHT_YEAR = 299792458 * YEAR
PARSEC = AU * 648000 / F(math.pi)  # IAU 2015; pi is irrational, so this one is not exact
POUND = F("0.45359237")
STANDARD_GRAVITY = F("9.80665")
LBF = POUND * STANDARD_GRAVITY
GALLON = 231 * INCH**3
FLUID_OUNCE = GALLON / 128
ATM = F(101325)
MMHG = F("133.322387415")


@dataclass(frozen=True)
class _Def:
    """One registry entry: all spellings of one unit, its exact factor, and which prefixes it takes."""

    symbols: tuple[str, ...]  # first is canonical
    names: tuple[str, ...]
    factor: Fraction
    dims: tuple[int, ...]
    offset: Fraction = F(0)
    prefixes: tuple[str, ...] = ()  # SI prefix symbols this unit accepts
    name_prefixes: tuple[str, ...] | None = None  # for full names; None means same as prefixes
    common: tuple[str, ...] = ()  # prefixed forms listed by units_by_kind()


# (symbol, name, power of ten); "µ" also accepts "μ" (Greek mu) and "u", "da" also "deka".
_PREFIXES = (
    ("Y", "yotta", 24), ("Z", "zetta", 21), ("E", "exa", 18), ("P", "peta", 15),
    ("T", "tera", 12), ("G", "giga", 9), ("M", "mega", 6), ("k", "kilo", 3),
    ("h", "hecto", 2), ("da", "deca", 1), ("d", "deci", -1), ("c", "centi", -2),
    ("m", "milli", -3), ("µ", "micro", -6), ("n", "nano", -9), ("p", "pico", -12),
    ("f", "femto", -15), ("a", "atto", -18), ("z", "zepto", -21), ("y", "yocto", -24),
)  # fmt: skip
_PREFIX_POWER = {sym: power for sym, _, power in _PREFIXES}
_PREFIX_SYMBOLS = {"µ": ("µ", "μ", "u")}
_PREFIX_NAMES = {sym: (name,) for sym, name, _ in _PREFIXES} | {"da": ("deca", "deka")}
ALL = tuple(sym for sym, _, _ in _PREFIXES)

L1, M1, T1 = _dims(L=1), _dims(M=1), _dims(T=1)
AREA, VOLUME, VELOCITY = _dims(L=2), _dims(L=3), _dims(L=1, T=-1)
FORCE, ENERGY, POWER = KINDS["force"], KINDS["energy"], KINDS["power"]
PRESSURE, TEMP = KINDS["pressure"], KINDS["temperature"]


def _plural(*names: str) -> tuple[str, ...]:
    """("meter", "metre") -> ("meter", "meters", "metre", "metres")."""
    return tuple(form for name in names for form in (name, name + "s"))


_DEFS = (
    # length
    _Def(("m",), _plural("meter", "metre"), F(1), L1, prefixes=ALL, common=("k", "c", "m", "µ", "n")),
    _Def(("in",), ("inch", "inches"), INCH, L1),
    _Def(("ft",), ("foot", "feet"), FOOT, L1),
    _Def(("yd", "yds"), _plural("yard"), YARD, L1),
    _Def(("mi",), _plural("mile", "statute mile"), MILE, L1),
    _Def(("nmi",), _plural("nautical mile"), F(1852), L1),
    _Def(("au",), _plural("astronomical unit"), AU, L1),
    _Def(("ly",), _plural("light year", "light-year", "lightyear"), LIGHT_YEAR, L1),
    _Def(("pc",), _plural("parsec"), PARSEC, L1, prefixes=("k", "M", "G")),
    _Def(("Å", "\u212b"), _plural("angstrom"), F(1, 10**10), L1),
    # mass
    _Def(("g",), _plural("gram"), F(1, 1000), M1, prefixes=ALL, common=("k", "m", "µ")),
    _Def(("t",), _plural("tonne", "metric ton"), F(1000), M1, prefixes=("M", "G"), name_prefixes=("k", "M", "G")),
    _Def(("lb", "lbs"), _plural("pound"), POUND, M1),
    _Def(("oz",), _plural("ounce"), POUND / 16, M1),
    _Def(("ton",), ("tons", "short ton", "short tons"), 2000 * POUND, M1),
    _Def((), _plural("stone"), 14 * POUND, M1),
    _Def(("gr",), _plural("grain"), POUND / 7000, M1),
    _Def(("Da",), _plural("dalton"), F("1.66053906892e-27"), M1),
    _Def((), _plural("slug"), LBF / FOOT, M1),
    _Def(("ct",), _plural("carat"), F(1, 5000), M1),
    # time
    _Def(("s", "sec", "secs"), _plural("second"), F(1), T1, prefixes=ALL, common=("m", "µ", "n")),
    _Def(("min", "mins"), _plural("minute"), F(60), T1),
    _Def(("h", "hr", "hrs"), _plural("hour"), F(3600), T1),
    _Def(("d",), _plural("day"), DAY, T1),
    _Def(("wk",), _plural("week"), 7 * DAY, T1),
    _Def((), _plural("fortnight"), 14 * DAY, T1),
    _Def(("month",), ("months",), YEAR / 12, T1),
    _Def(("year", "yr", "yrs"), ("years",), YEAR, T1),
    _Def(("decade",), ("decades",), 10 * YEAR, T1),
    _Def(("century",), ("centuries",), 100 * YEAR, T1),
    _Def(("millennium",), ("millennia", "millenniums"), 1000 * YEAR, T1),
    # temperature: degC and degF are offset (affine) scales
    _Def(("K",), ("kelvin", "kelvins", "Kelvin"), F(1), TEMP, prefixes=ALL),
    _Def(("degC", "°C", "\u2103"), ("celsius", "Celsius", "degree Celsius", "degrees Celsius"), F(1), TEMP,
         offset=F("273.15")),
    _Def(("degF", "°F", "\u2109"), ("fahrenheit", "Fahrenheit", "degree Fahrenheit", "degrees Fahrenheit"),
         F(5, 9), TEMP, offset=F("459.67") * F(5, 9)),
    _Def(("degR", "°R"), ("rankine", "Rankine", "degree Rankine", "degrees Rankine"), F(5, 9), TEMP),
    _Def(("delta_degC",), (), F(1), TEMP),
    _Def(("delta_degF",), (), F(5, 9), TEMP),
    # velocity and acceleration
    _Def(("mph",), ("mile per hour", "miles per hour"), MILE / 3600, VELOCITY),
    _Def(("kph",), ("kilometer per hour", "kilometers per hour", "kilometre per hour", "kilometres per hour"),
         F(1000, 3600), VELOCITY),
    _Def(("kn", "kt", "kts"), _plural("knot"), F(1852, 3600), VELOCITY),
    _Def(("g0",), ("standard gravity",), STANDARD_GRAVITY, KINDS["acceleration"]),
    # area and volume
    _Def(("ha",), _plural("hectare"), F(10**4), AREA),
    _Def((), _plural("acre"), 43560 * SURVEY_FOOT**2, AREA),
    _Def(("L", "l"), _plural("liter", "litre"), F(1, 1000), VOLUME, prefixes=ALL, common=("m",)),
    _Def(("cc",), (), F(1, 10**6), VOLUME),
    _Def(("gal",), _plural("gallon"), GALLON, VOLUME),
    _Def(("qt",), _plural("quart"), GALLON / 4, VOLUME),
    _Def(("pt",), _plural("pint"), GALLON / 8, VOLUME),
    _Def(("cup",), ("cups",), GALLON / 16, VOLUME),
    _Def(("floz", "fl_oz", "fl oz"), _plural("fluid ounce"), FLUID_OUNCE, VOLUME),
    _Def(("tbsp",), _plural("tablespoon"), FLUID_OUNCE / 2, VOLUME),
    _Def(("tsp",), _plural("teaspoon"), FLUID_OUNCE / 6, VOLUME),
    # force
    _Def(("N",), _plural("newton"), F(1), FORCE, prefixes=ALL, common=("k",)),
    _Def(("lbf",), ("pound-force", "pound force", "pounds-force", "pounds force"), LBF, FORCE),
    _Def(("dyn",), _plural("dyne"), F(1, 10**5), FORCE),
    _Def(("kgf",), ("kilogram-force", "kilogram force"), STANDARD_GRAVITY, FORCE),
    # energy
    _Def(("J",), _plural("joule"), F(1), ENERGY, prefixes=ALL, common=("k", "M")),
    _Def(("cal",), _plural("calorie"), F("4.184"), ENERGY, prefixes=("k",), common=("k",)),
    _Def(("eV",), _plural("electronvolt", "electron volt", "electron-volt"), F("1.602176634e-19"), ENERGY,
         prefixes=ALL, common=("k", "M", "G")),
    _Def(("Wh",), _plural("watt hour", "watt-hour"), F(3600), ENERGY, prefixes=ALL, common=("k", "M")),
    _Def(("erg",), ("ergs",), F(1, 10**7), ENERGY),
    _Def(("BTU", "Btu"), _plural("British thermal unit"), F("1055.056"), ENERGY),
    # power
    _Def(("W",), _plural("watt"), F(1), POWER, prefixes=ALL, common=("k", "M", "G")),
    _Def(("hp",), ("horsepower",), 550 * FOOT * LBF, POWER),
    # pressure
    _Def(("Pa",), _plural("pascal"), F(1), PRESSURE, prefixes=ALL, common=("h", "k", "M")),
    _Def(("bar",), ("bars",), F(10**5), PRESSURE, prefixes=ALL, common=("m",)),
    _Def(("atm",), _plural("atmosphere"), ATM, PRESSURE),
    _Def(("psi",), (), LBF / INCH**2, PRESSURE),
    _Def(("mmHg",), (), MMHG, PRESSURE),
    _Def(("torr", "Torr"), (), ATM / 760, PRESSURE),
    _Def(("inHg",), (), MMHG * F("25.4"), PRESSURE),
    # frequency
    _Def(("Hz",), ("hertz",), F(1), KINDS["frequency"], prefixes=ALL, common=("k", "M", "G")),
    _Def(("rpm", "RPM"), ("revolution per minute", "revolutions per minute"), F(1, 60), KINDS["frequency"]),
    # electromagnetism
    _Def(("A",), _plural("ampere", "amp"), F(1), KINDS["current"], prefixes=ALL, common=("m",)),
    _Def(("C",), _plural("coulomb"), F(1), KINDS["charge"], prefixes=ALL),
    _Def(("Ah",), _plural("ampere hour", "amp hour", "ampere-hour", "amp-hour"), F(3600), KINDS["charge"],
         prefixes=("m", "k"), common=("m",)),
    _Def(("V",), _plural("volt"), F(1), KINDS["voltage"], prefixes=ALL, common=("k", "m")),
    _Def(("ohm", "Ω", "\u2126"), ("ohms",), F(1), KINDS["resistance"], prefixes=ALL, common=("k", "M")),
    _Def(("S",), ("siemens",), F(1), KINDS["conductance"], prefixes=ALL),
    _Def(("F",), _plural("farad"), F(1), KINDS["capacitance"], prefixes=ALL, common=("µ", "n", "p")),
    _Def(("H",), ("henry", "henries", "henrys"), F(1), KINDS["inductance"], prefixes=ALL),
    _Def(("Wb",), _plural("weber"), F(1), KINDS["magnetic_flux"], prefixes=ALL),
    _Def(("T",), _plural("tesla"), F(1), KINDS["magnetic_flux_density"], prefixes=ALL),
    # amount and luminous intensity
    _Def(("mol",), _plural("mole"), F(1), KINDS["amount"], prefixes=ALL, common=("m",)),
    _Def(("cd",), _plural("candela"), F(1), KINDS["luminous_intensity"], prefixes=ALL),
    # dimensionless ratios (pint has percent too); "12.5%" is a quantity of 0.125
    _Def(("%",), ("percent",), F(1, 100), KINDS["dimensionless"]),
)

# Aliases of prefixed forms, entered after the prefix expansion.
_PREFIXED_ALIASES = {"micron": "µm", "microns": "µm"}

# Area and volume names, entered last: (power, leading words, length symbols). Each word is combined with
# every spelling of each length unit ("sq" + "ft", "sq" + "feet", ...), see _power_spellings().
_POWER_NAMES = (
    (2, ("square ", "sq ", "sq. "), ("m", "km", "cm", "mm", "ft", "in", "yd", "mi")),
    (3, ("cubic ", "cu "), ("m", "km", "cm", "mm", "ft", "in", "yd")),
)

# Suggested in "did you mean" messages, alongside the atomic spellings.
_SUGGESTED_COMPOUNDS = ("km/h", "m/s", "m/s^2", "ft/s", "kg*m/s^2", "N*m", "kg/m^3", "g/cm^3", "W/m^2", "L/100km")

# Fuel consumption, the one unit with a number inside: litres per 100 km = 1e-3 m^3 / 1e5 m = 1e-8 m^2
# (volume / length, so its dimension is an area, as in pint). Matched whole, spaces ignored ("l/100 km");
# a number anywhere else in a unit is malformed, because "m/100s" is more likely a typo than a unit.
_FUEL_SYMBOL = "L/100km"
_FUEL_SPELLINGS = frozenset({"L/100km", "l/100km"})
_FUEL_FACTOR = F(1, 1000) / (100 * 1000)


@dataclass(frozen=True)
class _Atom:
    """An atomic spelling resolved to exact values."""

    symbol: str
    factor: Fraction
    offset: Fraction
    dims: tuple[int, ...]


def _def_symbol(d: _Def) -> str:
    return d.symbols[0] if d.symbols else d.names[0]


def _prefixed_spellings(d: _Def):
    """Yield (spelling, canonical symbol, factor) for every prefixed form of an entry."""
    name_prefixes = d.prefixes if d.name_prefixes is None else d.name_prefixes
    for p in dict.fromkeys(d.prefixes + name_prefixes):
        factor = d.factor * F(10) ** _PREFIX_POWER[p]
        # A name-only prefix (kilotonne: "kt" is the knot) keeps its full name as the canonical symbol.
        canonical = p + _def_symbol(d) if p in d.prefixes else _PREFIX_NAMES[p][0] + d.names[0]
        if p in d.prefixes:
            for p_spelling in _PREFIX_SYMBOLS.get(p, (p,)):
                for s in d.symbols:
                    yield p_spelling + s, canonical, factor
        if p in name_prefixes:
            for p_name in _PREFIX_NAMES[p]:
                for n in d.names:
                    yield p_name + n, canonical, factor


@functools.lru_cache(maxsize=None)
def _registry() -> dict[str, _Atom]:
    """Every atomic spelling -> exact atom. Exact spellings are entered first and always win."""
    table: dict[str, _Atom] = {}
    for d in _DEFS:
        atom = _Atom(_def_symbol(d), d.factor, d.offset, d.dims)
        for spelling in d.symbols + d.names:
            if spelling in table:  # pragma: no cover - guards edits to _DEFS
                raise RuntimeError(f"unit spelling {spelling!r} is defined twice")
            table[spelling] = atom
    for d in _DEFS:
        for spelling, canonical, factor in _prefixed_spellings(d):
            # An exact spelling (min, cd, Pa, ...) shadows a prefix reading; see _shadowed_prefixed().
            table.setdefault(spelling, _Atom(canonical, factor, F(0), d.dims))
    for alias, target in _PREFIXED_ALIASES.items():
        table[alias] = table[target]
    for spelling, atom in _power_spellings(table):
        if spelling in table:  # pragma: no cover - guards edits to _POWER_NAMES
            raise RuntimeError(f"unit spelling {spelling!r} is defined twice")
        table[spelling] = atom
    return table


def _power_spellings(table: dict[str, _Atom]):
    """Yield ("square feet", atom of ft^2), ... for `_POWER_NAMES`, given the table of length spellings."""
    for power, words, bases in _POWER_NAMES:
        for base in bases:
            atom = table[base]
            powered = _Atom(f"{atom.symbol}^{power}", atom.factor**power, F(0), tuple(power * e for e in atom.dims))
            # Every spelling of this length unit: its symbols and full names, prefixed names included.
            spellings = sorted(s for s, a in table.items() if a.symbol == atom.symbol and a.factor == atom.factor)
            for word in words:
                for spelling in spellings:
                    yield word + spelling, powered


def _shadowed_prefixed() -> list[str]:
    """Prefixed spellings that resolve to something else (an exact entry wins); for tests and docs."""
    table = _registry()
    return sorted(s for d in _DEFS for s, canonical, _ in _prefixed_spellings(d) if table[s].symbol != canonical)


def unit_spellings() -> frozenset[str]:
    """Every atomic (non-compound) spelling `parse_unit` accepts, prefixed forms included.

    >>> {"km", "kilometres", "°C", "MHz"} <= unit_spellings()
    True
    """
    return frozenset(_registry())


def units_by_kind() -> dict[str, list[str]]:
    """Canonical symbols of the registry's units (plus common prefixed forms), grouped by kind.

    >>> units_by_kind()["length"][:4]
    ['m', 'km', 'cm', 'mm']
    """
    groups: dict[str, list[str]] = {}
    for d in _DEFS:
        symbol = _def_symbol(d)
        groups.setdefault(_KIND_BY_DIMS[d.dims], []).extend([symbol] + [p + symbol for p in d.common])
    return groups


# ----------------------------------------------------------------------------------------------
# Parsing

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))
_MUL = frozenset("*·⋅")
_BREAK = frozenset("*/^()·⋅") | frozenset(_SUPERSCRIPTS)  # characters that end an atom
_MAX_TEXT = 200
MAX_EXPONENT = 12  # bound on every exponent written in a unit and on every exponent of its dimensions
_MAX_SUGGEST = 40  # longer unknown atoms get no "did you mean" (difflib cost)


def _read_exponent(text: str, i: int) -> tuple[int, int]:
    """Read an integer exponent after '^' or '**' starting at text[i]; return (value, next index)."""
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    sign = 1
    if i < n and text[i] in _EXPONENT_SIGNS:
        sign = -1 if text[i] != "+" else 1
        i += 1
    j = i
    while j < n and text[j] in "0123456789":
        j += 1
    if j == i:
        raise ValueError(f"malformed unit {text!r}: expected an integer exponent after '^'")
    if j < n and text[j] == ".":
        raise ValueError(f"malformed unit {text!r}: exponents must be integers")
    return _check_exponent(sign, text[i:j], text), j


_EXPONENT_SIGNS = "+-\u2212\u2013"  # "+", "-", the minus sign and the en dash (a minus in typeset text)


def _check_exponent(sign: int, digits: str, text: str) -> int:
    """sign * int(digits), all of the digits (text is at most _MAX_TEXT long, so int() is cheap); ValueError
    beyond +-MAX_EXPONENT."""
    value = sign * int(digits)
    if abs(value) > MAX_EXPONENT:
        shown = f"{value}" if len(digits) <= 20 else f"{'-' if sign < 0 else ''}{digits[:20]}... ({len(digits)} digits)"
        raise ValueError(f"malformed unit {text!r}: exponent {shown} is beyond +-{MAX_EXPONENT}")
    return value


def _tokenize(text: str) -> list[tuple[str, object]]:
    """Split unit text into ("atom", str), ("pow", int), ("*"|"/"|"("|")", None) tokens."""
    tokens: list[tuple[str, object]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "^" or text.startswith("**", i):
            value, i = _read_exponent(text, i + (1 if ch == "^" else 2))
            tokens.append(("pow", value))
        elif ch in _SUPERSCRIPTS:
            j = i
            while j < n and text[j] in _SUPERSCRIPTS:
                j += 1
            digits = "".join(_SUPERSCRIPTS[c] for c in text[i:j])
            if not digits.lstrip("+-").isdigit() or "-" in digits[1:] or "+" in digits[1:]:
                raise ValueError(f"malformed unit {text!r}: bad superscript exponent")
            tokens.append(("pow", _check_exponent(-1 if digits[0] == "-" else 1, digits.lstrip("+-"), text)))
            i = j
        elif ch in _MUL or ch in "/()":
            tokens.append(("*" if ch in _MUL else ch, None))
            i += 1
        else:
            j = i
            while j < n and text[j] not in _BREAK:
                j += 1
            atom = " ".join(text[i:j].split())  # also collapses runs of spaces in "fl  oz"
            if atom:
                tokens.append(("atom", atom))
            i = j
    return tokens


class _UnknownUnit(ValueError):
    """An unknown atom (args: the atom, the whole unit text). Its "did you mean" list, difflib over every
    spelling, is built only where `parse_unit` reports the error (`_suggest`), so a caller that only
    asks whether a text is a unit (the span scanner, `_try_parse`) never pays for it."""

    def __str__(self) -> str:
        atom, context = self.args
        return f"unknown unit {atom!r}" + (f" in {context!r}" if context and context != atom else "")


@functools.lru_cache(maxsize=1024)
def _suggest(atom: str, context: str = "") -> str:
    """A one-line 'unknown unit' message (naming the whole text if different) with close matches."""
    message = f"unknown unit {atom!r}" + (f" in {context!r}" if context and context != atom else "")
    if len(atom) <= _MAX_SUGGEST:
        candidates = sorted(_registry()) + list(_SUGGESTED_COMPOUNDS)
        same_case = [c for c in candidates if c.lower() == atom.lower()]
        close = difflib.get_close_matches(atom, candidates, n=3, cutoff=0.6)
        matches = list(dict.fromkeys(same_case + close))[:3]
        if matches:
            message += "; did you mean " + ", ".join(repr(m) for m in matches) + "?"
    return message


@dataclass
class _Term:
    """A partial parse result: exact factor, dimension vector, canonical text."""

    factor: Fraction
    dims: tuple[int, ...]
    symbol: str
    compound: bool  # True if symbol contains an operator (needs parentheses when grouped)


class _Parser:
    """Recursive descent over tokens; grammar in the module docstring."""

    def __init__(self, text: str, tokens: list[tuple[str, object]]):
        self.text, self.tokens, self.pos = text, tokens, 0
        self.atoms: list[_Atom] = []

    def error(self, what: str) -> ValueError:
        return ValueError(f"malformed unit {self.text!r}: {what}")

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def expression(self, depth: int) -> _Term:
        left = self.term(depth)
        while self.peek() in ("*", "/"):
            op = self.tokens[self.pos][0]
            self.pos += 1
            if self.peek() not in ("atom", "("):
                raise self.error(f"expected a unit after {op!r}")
            right = self.term(depth)
            sign = 1 if op == "*" else -1
            dims = tuple(a + sign * b for a, b in zip(left.dims, right.dims))
            factor = left.factor * right.factor if op == "*" else left.factor / right.factor
            left = _Term(factor, dims, f"{left.symbol}{op}{right.symbol}", True)
        return left

    def term(self, depth: int) -> _Term:
        kind = self.peek()
        if kind == "(":
            if depth >= 1:
                raise self.error("only one level of parentheses is supported")
            self.pos += 1
            inner = self.expression(depth + 1)
            if self.peek() != ")":
                raise self.error("missing ')'")
            self.pos += 1
            symbol = f"({inner.symbol})" if inner.compound else inner.symbol
            base = _Term(inner.factor, inner.dims, symbol, False)
        elif kind == "atom":
            base = self.atom()
            if "^" in base.symbol and self.peek() == "pow":  # "sq ft^2"
                raise self.error(f"{base.symbol!r} already has an exponent")
        else:
            raise self.error("expected a unit" + (" at the start" if self.pos == 0 else ""))
        if self.peek() == "pow":
            power = self.tokens[self.pos][1]
            self.pos += 1
            if self.peek() == "pow":
                raise self.error("two exponents in a row")
            # "(ft^2)^2" and "(sq ft)^2" keep their parentheses, so the symbol parses back.
            symbol = f"({base.symbol})" if "^" in base.symbol and not base.symbol.startswith("(") else base.symbol
            base = _Term(base.factor**power, tuple(power * e for e in base.dims), f"{symbol}^{power}", False)
        return base

    def atom(self) -> _Term:
        text = self.tokens[self.pos][1]
        next_kind = self.tokens[self.pos + 1][0] if self.pos + 1 < len(self.tokens) else None
        if text == "1" and self.pos == 0 and next_kind == "/":  # "1/s"
            atom = _Atom("1", F(1), F(0), _dims())
        elif text in _registry():
            atom = _registry()[text]
        else:
            raise _UnknownUnit(text, self.text)
        self.pos += 1
        self.atoms.append(atom)
        return _Term(atom.factor, atom.dims, atom.symbol, False)


def _parse(text: str) -> Unit:
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty unit string")
    if len(stripped) > _MAX_TEXT:
        raise ValueError(f"unit text too long ({len(stripped)} characters; at most {_MAX_TEXT})")
    if stripped in _registry():  # fast path, also for spellings with spaces such as "fl oz"
        atom = _registry()[stripped]
        return _make_unit(atom.symbol, atom.factor, atom.offset, atom.dims)
    if "".join(stripped.split()) in _FUEL_SPELLINGS:
        return _make_unit(_FUEL_SYMBOL, _FUEL_FACTOR, F(0), AREA)
    tokens = _tokenize(stripped)
    parser = _Parser(stripped, tokens)
    term = parser.expression(depth=0)
    if parser.pos != len(tokens):
        raise parser.error(f"unexpected {tokens[parser.pos][0]!r}")
    offset_atoms = [a for a in parser.atoms if a.offset != 0]
    if offset_atoms:
        single = len(parser.atoms) == 1 and all(v == 1 for k, v in tokens if k == "pow")
        if not single:
            name = offset_atoms[0].symbol
            raise ValueError(
                f"offset unit {name!r} can't be combined in a compound unit ({stripped!r}); "
                f"use 'K' or 'delta_{name}' for temperature differences"
            )
        return _make_unit(offset_atoms[0].symbol, term.factor, offset_atoms[0].offset, term.dims)
    return _make_unit(term.symbol, term.factor, F(0), term.dims)


def _make_unit(symbol: str, factor: Fraction, offset: Fraction, dims: tuple[int, ...]) -> Unit:
    if any(abs(e) > MAX_EXPONENT for e in dims):
        raise ValueError(f"malformed unit {symbol!r}: a dimension exponent of {dims} is beyond +-{MAX_EXPONENT}")
    try:
        value = float(factor)
    except OverflowError:
        value = math.inf
    if value == 0.0 or not math.isfinite(value):
        raise ValueError(f"unit {symbol!r} has a factor outside the float range")
    return Unit(symbol, value, float(offset), dims, _KIND_BY_DIMS.get(dims), (factor, offset))


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Unit | str | tuple[str, str]:
    """Parse, caching a failure as its message, or as (atom, text) for an unknown atom, whose message
    `parse_unit` builds (with difflib's close matches, cached in `_suggest`) only when it raises."""
    try:
        return _parse(text)
    except _UnknownUnit as exc:
        return exc.args
    except ValueError as exc:
        return str(exc)


def _try_parse(text: str) -> Unit | None:
    """The unit a str spells, or None; never builds an error message (for scanners probing candidates)."""
    result = _parse_cached(text)
    return result if isinstance(result, Unit) else None


def parse_unit(text: str) -> Unit:
    """Parse a unit spelling or compound unit into a `Unit`; `ValueError` names close matches.

    >>> u = parse_unit("kg/(m*s^2)")
    >>> (u.symbol, u.factor, u.kind)
    ('kg/(m*s^2)', 1.0, 'pressure')
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_unit expects a str, got {type(text).__name__}")
    result = _parse_cached(str(text))
    if isinstance(result, tuple):
        raise ValueError(_suggest(*result))
    if isinstance(result, str):
        raise ValueError(result)
    return result


def check_convertible(src: Unit, dst: Unit) -> None:
    """Raise ValueError unless a quantity in `src` can be expressed in `dst` (pint's rules).

    Same dimension vector, and never between a temperature point on an offset scale (degC, degF) and a
    temperature difference on one (delta_degC, delta_degF), in either direction: 10 delta_degC is not
    a temperature. K and degR are absolute, so they convert to both (10 K -> -263.15 degC, and
    10 K -> 10 delta_degC), as in pint.

    >>> check_convertible(parse_unit("delta_degC"), parse_unit("degC"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: cannot convert a temperature difference ('delta_degC') to a temperature point ('degC'); ...
    """
    if src.dimensions != dst.dimensions:
        raise ValueError(f"cannot convert {src.symbol!r} ({src.kind}) to {dst.symbol!r} ({dst.kind})")
    if src.is_delta and dst.is_offset:
        raise ValueError(f"cannot convert a temperature difference ({src.symbol!r}) to a temperature point "
                         f"({dst.symbol!r}); use 'K' or {src.symbol!r} for differences, or add it to a point")
    if src.is_offset and dst.is_delta:
        raise ValueError(f"cannot convert a temperature point ({src.symbol!r}) to a temperature difference "
                         f"({dst.symbol!r}); subtract another point to get a difference, or convert to 'K'")


def convert(value: float, from_unit: str | Unit, to_unit: str | Unit) -> float:
    """Convert a value (a temperature point, for offset units) between units of the same dimensions.

    Uses the registry's exact factors and rounds once, so the result is the float nearest the exact answer
    for the float's exact value. For decimal inputs use `convert_exact`, which keeps 0.1 as 1/10.

    >>> convert(100, "degC", "degF")
    212.0
    """
    return float(convert_exact(_as_float(value), from_unit, to_unit))  # exact, rounded once


def convert_exact(value, from_unit: str | Unit, to_unit: str | Unit) -> Fraction:
    """The exact value of `value` `from_unit` in `to_unit`, as a Fraction (offsets included).

    `value` is an int, a `Fraction` (any `numbers.Rational`), a finite `Decimal` (exact: Decimal("0.1") is
    1/10) or a float (its exact binary value). Factors and offsets are the registry's exact fractions,
    so format_value(convert_exact(32, "degF", "degC")) is "0". This is the path for values read from
    text: pass `Span.exact`. ValueError for NaN/inf, mismatched dimensions, or a delta <-> point
    temperature conversion (`check_convertible`); TypeError for bools and non-numbers.

    >>> convert_exact(Fraction("0.391325"), "in", "mm"), convert_exact(0, "degC", "degF")
    (Fraction(1987931, 200000), Fraction(32, 1))
    """
    src = from_unit if isinstance(from_unit, Unit) else parse_unit(from_unit)
    dst = to_unit if isinstance(to_unit, Unit) else parse_unit(to_unit)
    check_convertible(src, dst)
    x = as_fraction(value)
    (src_factor, src_offset), (dst_factor, dst_offset) = _exact_of(src), _exact_of(dst)
    return (x * src_factor + src_offset - dst_offset) / dst_factor


def to_si_exact(value, unit: str | Unit) -> Fraction:
    """The exact value in SI base units (kelvin for a temperature point); inputs as in `convert_exact`.

    >>> to_si_exact(Fraction(1, 2), "km"), to_si_exact(Decimal("-40"), "degF") == to_si_exact(-40, "degC")
    (Fraction(500, 1), True)
    """
    u = unit if isinstance(unit, Unit) else parse_unit(unit)
    factor, offset = _exact_of(u)
    return as_fraction(value) * factor + offset


def _exact_of(unit: Unit) -> tuple[Fraction, Fraction]:
    return unit._exact if unit._exact is not None else (Fraction(unit.factor), Fraction(unit.offset))


# Named SI units for exact dimension vectors; J rather than N*m for energy, Hz rather than 1/s.
_NAMED_SI = {
    L1: "m", M1: "kg", T1: "s", KINDS["current"]: "A", TEMP: "K", KINDS["amount"]: "mol",
    KINDS["luminous_intensity"]: "cd", FORCE: "N", ENERGY: "J", POWER: "W", PRESSURE: "Pa",
    KINDS["frequency"]: "Hz", KINDS["charge"]: "C", KINDS["voltage"]: "V", KINDS["resistance"]: "ohm",
    KINDS["conductance"]: "S", KINDS["capacitance"]: "F", KINDS["inductance"]: "H",
    KINDS["magnetic_flux"]: "Wb", KINDS["magnetic_flux_density"]: "T",
}  # fmt: skip
_BASE_ORDER = (("kg", 1), ("m", 0), ("s", 2), ("A", 3), ("K", 4), ("mol", 5), ("cd", 6))


def canonical_si_unit(dimensions) -> str:
    """Canonical SI spelling of a dimension vector; "" for dimensionless (which `parse_unit` rejects).

    A named unit where one has exactly this vector (N, J, W, Pa, Hz, C, V, ...), else base symbols
    ordered kg, m, s, A, K, mol, cd, with negative powers after one "/" (parenthesised if several).

    >>> canonical_si_unit((1, 0, -2, 0, 0, 0, 0)), canonical_si_unit((2, 1, -2, 0, 0, 0, 0))
    ('m/s^2', 'J')
    """
    dims = _check_dims(dimensions)
    if dims in _NAMED_SI:
        return _NAMED_SI[dims]

    def power(symbol: str, e: int) -> str:
        return symbol if e == 1 else f"{symbol}^{e}"

    numerator = [power(s, dims[i]) for s, i in _BASE_ORDER if dims[i] > 0]
    denominator = [power(s, -dims[i]) for s, i in _BASE_ORDER if dims[i] < 0]
    if not denominator:
        return "*".join(numerator)
    below = "*".join(denominator)
    if len(denominator) > 1:
        below = f"({below})"
    return ("*".join(numerator) or "1") + "/" + below


def _check_dims(dimensions) -> tuple[int, ...]:
    if not isinstance(dimensions, (tuple, list)):
        raise TypeError(f"dimensions must be a tuple of {N_DIMS} ints, got {type(dimensions).__name__}")
    if len(dimensions) != N_DIMS:
        raise ValueError(f"dimensions must have {N_DIMS} entries (L, M, T, I, Θ, N, J), got {len(dimensions)}")
    for e in dimensions:
        if isinstance(e, bool) or not isinstance(e, numbers.Integral):
            raise TypeError(f"dimension exponents must be ints, got {e!r}")
    return tuple(int(e) for e in dimensions)


# ----------------------------------------------------------------------------------------------
# The canonical number format


def _as_float(x) -> float:
    """float(x) for real numbers; TypeError for bools and non-numbers, ValueError for NaN/inf/overflow."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, Decimal)):
        raise TypeError(f"expected a real number, got {type(x).__name__}")
    try:
        value = float(x)
    except OverflowError:
        raise ValueError(f"number too large for a float: {x!r:.60}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def as_fraction(x) -> Fraction:
    """The exact value of a real number: int, Fraction/Rational, finite Decimal, or float (binary value).

    >>> as_fraction(Decimal("0.1")), as_fraction(0.5), as_fraction(7)
    (Fraction(1, 10), Fraction(1, 2), Fraction(7, 1))
    """
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, Decimal)):
        raise TypeError(f"expected a real number, got {type(x).__name__}")
    if isinstance(x, numbers.Rational):  # int, Fraction, numpy ints
        return Fraction(int(x.numerator), int(x.denominator))
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ValueError(f"expected a finite number, got {x}")
        if not x:
            return Fraction(0)  # "0E+999999999" is zero, whatever its exponent
        if abs(x.adjusted()) > _MAX_DECIMAL_MAGNITUDE:
            raise ValueError(f"Decimal out of range: {x!r:.60} is beyond 10**+-{_MAX_DECIMAL_MAGNITUDE}, where "
                             "exact values stop (its exact value would take 10**|exponent| digits)")
        return Fraction(x)
    value = float(x)  # float, numpy floats: exact
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return Fraction(value)


# Beyond 10**+-4300 an exact value has more digits than CPython converts between int and str by default;
# bounding the magnitude bounds 10**|exponent| by the Decimal's own length plus 4300 digits.
_MAX_DECIMAL_MAGNITUDE = 4300
_EXACT_FLOAT_INT = 2**53  # ints below this are exact floats, so the fast float path rounds them exactly


def format_value(x) -> str:
    """THE canonical number format: the TRUE value of x rounded to six significant digits (".6g").

    Trailing zeros dropped, exponent form below 1e-4 and from 1e6, "-0" written "0": "3500", "0.1",
    "1.23457e+06", "1e-07". Accepts floats, ints, Fractions and Decimals, and rounds the exact value
    once, ties to even. That is what ``format(x, ".6g")`` does with a float (whose binary value is exact),
    so format_value(x) == format_value(Fraction(x)) for every float. A float that only approximates a
    tie rounds the other way: the float 1.000055 lies below 1.000055 and prints "1.00005", while
    Fraction("1.000055") prints "1.00006"; float conversion of 0.391325 in to mm gives 9.939654999999998
    ("9.93965") where the exact 9.939655 prints "9.93966". So format exact values (`convert_exact`).
    ValueError if the rounded value is outside the float range (parse_value must read it back);
    TypeError for bools and non-numbers.

    >>> format_value(3500.0), format_value(0.1), format_value(1234567.0), format_value(1e-07)
    ('3500', '0.1', '1.23457e+06', '1e-07')
    >>> format_value(Fraction(1, 3)), format_value(Decimal("2.5")), format_value(Fraction("9.939655"))
    ('0.333333', '2.5', '9.93966')
    """
    if isinstance(x, numbers.Integral) and not isinstance(x, bool) and abs(int(x)) < _EXACT_FLOAT_INT:
        x = float(x)
    if isinstance(x, (float, np.floating)):
        text = format(_as_float(x), ".6g")
    else:
        text = _format_exact(as_fraction(x))
    return "0" if text == "-0" else text


def _format_exact(q: Fraction) -> str:
    """format(q, ".6g") computed on the exact rational (round half to even), range-checked like a float."""
    if q == 0:
        return "0"
    sign = "-" if q < 0 else ""
    a = abs(q)
    # a lies in [2**(k-1), 2**(k+1)) for k the difference of bit lengths: decide the float range from k
    # before any big power or digit string is made (str() of a 5000-digit int raises, 10**k is slow).
    k = a.numerator.bit_length() - a.denominator.bit_length()
    if k > 1025:
        raise ValueError(f"number too large for a float: {sign}2**{k - 1} or more")
    if k < -1076:
        raise ValueError(f"number too small for a float (it underflows to 0): {sign}2**{k + 1} or less")
    e = math.floor(k * math.log10(2))  # floor(log10(a)) is within 1 of this
    while a < Fraction(10) ** e:
        e -= 1
    while a >= Fraction(10) ** (e + 1):
        e += 1
    digits = round(a / Fraction(10) ** (e - 5))  # in [10^5, 10^6]; Fraction rounds half to even
    if digits == 10**6:
        digits, e = 10**5, e + 1
    mantissa = str(digits)
    if -4 <= e < 6:  # fixed notation, as ".6g" chooses
        if e >= 5:
            text = mantissa + "0" * (e - 5)
        elif e >= 0:
            text = mantissa[: e + 1] + "." + mantissa[e + 1 :]
        else:
            text = "0." + "0" * (-e - 1) + mantissa
        text = text.rstrip("0").rstrip(".") if "." in text else text
    else:
        tail = mantissa[1:].rstrip("0")
        text = mantissa[0] + ("." + tail if tail else "") + f"e{'+' if e >= 0 else '-'}{abs(e):02d}"
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number too large for a float: {sign}{text}")
    if value == 0.0:
        raise ValueError(f"number too small for a float (it underflows to 0): {sign}{text}")
    return sign + text


def parse_value(text: str) -> float:
    """Inverse of `format_value`: the float a canonical number string denotes.

    >>> parse_value("1.23457e+06")
    1234570.0
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_value expects a str, got {type(text).__name__}")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r:.60}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r:.60}")
    return value
