"""Tests for fluxem.units against exact NIST/BIPM definitions and against pint's registry."""

from __future__ import annotations

import math
import random
import time
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxem.units import (
    KINDS,
    Unit,
    canonical_si_unit,
    convert,
    convert_exact,
    format_value,
    parse_unit,
    parse_value,
    unit_spellings,
    units_by_kind,
)

LBF = Fraction("0.45359237") * Fraction("9.80665")
GALLON = 231 * Fraction("0.0254") ** 3

# Exact defined factors to SI (NIST SP 811 Appendix B, BIPM SI brochure; pint's choice where they differ).
EXACT_FACTORS = {
    "in": "0.0254",
    "ft": "0.3048",
    "yd": "0.9144",
    "mi": "1609.344",
    "nmi": "1852",
    "au": "149597870700",
    "ly": "9460730472580800",  # c * Julian year
    "Å": "1e-10",
    "km": "1000",
    "mm": "0.001",
    "µm": "1e-6",
    "g": "0.001",
    "lb": "0.45359237",
    "oz": Fraction("0.45359237") / 16,
    "ton": "907.18474",
    "t": "1000",
    "gr": "0.00006479891",
    "ct": "0.0002",
    "slug": LBF / Fraction("0.3048"),
    "min": "60",
    "h": "3600",
    "d": "86400",
    "wk": "604800",
    "year": "31557600",
    "µs": "1e-6",
    "mph": "0.44704",
    "kph": Fraction(1000, 3600),
    "kn": Fraction(1852, 3600),
    "g0": "9.80665",
    "ha": "10000",
    "acre": 43560 * Fraction(1200, 3937) ** 2,
    "L": "0.001",
    "mL": "1e-6",
    "gal": "0.003785411784",
    "qt": "0.000946352946",
    "pt": "0.000473176473",
    "cup": "0.0002365882365",
    "floz": "0.0000295735295625",
    "tbsp": GALLON / 256,
    "tsp": GALLON / 768,
    "lbf": "4.4482216152605",
    "dyn": "1e-5",
    "kgf": "9.80665",
    "cal": "4.184",
    "kcal": "4184",
    "eV": "1.602176634e-19",
    "MeV": "1.602176634e-13",
    "Wh": "3600",
    "kWh": "3600000",
    "erg": "1e-7",
    "BTU": "1055.056",
    "hp": "745.69987158227022",
    "kW": "1000",
    "atm": "101325",
    "psi": LBF / Fraction("0.0254") ** 2,
    "mmHg": "133.322387415",
    "torr": Fraction(101325, 760),
    "inHg": Fraction("133.322387415") * Fraction("25.4"),
    "bar": "100000",
    "hPa": "100",
    "rpm": Fraction(1, 60),
    "MHz": "1e6",
    "mAh": "3.6",
    "kohm": "1000",
    "degF": Fraction(5, 9),
    "degR": Fraction(5, 9),
    "degC": "1",
}


@pytest.mark.parametrize("spelling, exact", EXACT_FACTORS.items())
def test_exact_factor(spelling, exact):
    assert parse_unit(spelling).factor == float(Fraction(exact))


def test_exact_table_is_large():
    assert len(EXACT_FACTORS) >= 30


def test_temperature_offsets_are_exact():
    assert parse_unit("degC").offset == 273.15
    assert parse_unit("degF").offset == float(Fraction("459.67") * Fraction(5, 9))
    assert parse_unit("K").offset == 0.0 and parse_unit("degR").offset == 0.0
    assert parse_unit("degC").is_offset and not parse_unit("delta_degC").is_offset


# ----------------------------------------------------------------------------------------------
# Against pint

# Our spelling -> pint's spelling where pint lacks ours (or reads it differently, as with "amps").
PINT_SPELLING = {"Torr": "torr", "fl_oz": "floz", "wk": "week", "amps": "ampere", "µs": "microsecond"}
PINT_UNITS = [
    # length
    "m", "km", "cm", "mm", "µm", "um", "nm", "in", "inch", "inches", "ft", "foot", "feet", "yd", "mi", "mile",
    "miles", "nmi", "au", "ly", "pc", "kpc", "Å", "angstrom", "micron", "meter", "meters", "metre", "metres",
    "kilometer", "kilometres",
    # mass
    "g", "kg", "mg", "µg", "t", "tonne", "Mt", "kilotonne", "lb", "lbs", "pound", "pounds", "oz", "ounce", "ton",
    "stone", "gr", "grain", "Da", "slug", "carat", "ct", "gram", "kilograms", "milligram",
    # time
    "s", "sec", "ms", "µs", "ns", "min", "minutes", "h", "hr", "hour", "hours", "d", "day", "days", "wk", "week",
    "weeks", "fortnight", "year", "yr", "years", "month", "century", "second", "seconds",
    # temperature (intervals; points are tested below)
    "K", "kelvin", "mK", "degR", "delta_degC", "delta_degF",
    # velocity, acceleration
    "mph", "kph", "knot", "knots", "kn", "kt", "kts", "g0", "km/h", "ft/s", "m/s", "mi/h",
    "m/s^2", "ft/s^2",
    # area, volume
    "ha", "hectare", "acre", "acres", "m^2", "km^2", "ft^2", "L", "l", "liter", "liters", "litre", "mL", "ml",
    "dL", "cL", "µL", "cc", "gal", "gallon", "gallons", "qt", "quart", "pt", "pint", "cup", "floz", "fl_oz",
    "tbsp", "tsp", "teaspoon", "m^3", "cm^3", "ft^3",
    # force
    "N", "kN", "newton", "newtons", "lbf", "dyn", "dyne", "kgf", "kg*m/s^2",
    # energy
    "J", "kJ", "MJ", "joule", "joules", "cal", "calorie", "calories", "kcal", "kilocalorie", "eV", "keV", "MeV",
    "GeV", "electronvolt", "Wh", "kWh", "MWh", "erg", "BTU", "Btu", "N*m", "ft*lbf",
    # power
    "W", "kW", "MW", "GW", "mW", "watt", "watts", "hp", "horsepower", "J/s",
    # pressure
    "Pa", "kPa", "MPa", "GPa", "hPa", "pascal", "bar", "mbar", "atm", "psi", "mmHg", "torr", "Torr", "inHg",
    "N/m^2", "kg/(m*s^2)", "lbf/in^2",
    # frequency
    "Hz", "kHz", "MHz", "GHz", "hertz", "1/s", "s^-1",
    # electromagnetism
    "A", "mA", "µA", "amp", "amps", "ampere", "V", "kV", "mV", "volt", "volts", "ohm", "ohms", "kohm", "Ω", "kΩ",
    "C", "coulomb", "mC", "Ah", "mAh", "F", "µF", "nF", "pF", "farad", "H", "henry", "S", "siemens", "Wb", "T",
    "mT", "tesla",
    # amount, luminous intensity
    "mol", "mmol", "mole", "moles", "cd", "candela",
    # other compounds
    "kg/m^3", "g/cm^3", "mol/L", "J/(kg*K)", "W/(m*K)", "N*m/s", "kg*m^2", "m^3/s", "L/min",
    # dimensionless
    "%", "percent",
    # DeepMind mathematics_dataset's measurement module (names, plurals, symbols) where pint agrees
    "kilometers", "centimeters", "millimeters", "micrometers", "nanometers", "milliseconds", "microseconds",
    "nanoseconds", "us", "months", "centuries", "millennium", "millennia", "tonnes", "grams", "milligrams",
    "microgram", "micrograms", "ug", "nanogram", "nanograms", "ng", "litre", "litres", "millilitre", "millilitres",
]  # fmt: skip
PINT_DIMS = ("[length]", "[mass]", "[time]", "[current]", "[temperature]", "[substance]", "[luminosity]")


@pytest.fixture(scope="module")
def ureg():
    pint = pytest.importorskip("pint")
    return pint.UnitRegistry()


def _pint_factor_and_dims(ureg, spelling: str) -> tuple[float, tuple[int, ...]]:
    q = ureg.Quantity(1, PINT_SPELLING.get(spelling, spelling)).to_base_units()
    dims = q.dimensionality
    return float(q.magnitude), tuple(int(dims.get(name, 0)) for name in PINT_DIMS)


def test_pint_table_covers_80_units_and_12_kinds():
    kinds = {parse_unit(u).kind for u in PINT_UNITS}
    assert len(set(PINT_UNITS)) >= 80
    assert len(kinds - {None}) >= 12


@pytest.mark.parametrize("spelling", PINT_UNITS)
def test_factor_and_dimensions_match_pint(ureg, spelling):
    unit = parse_unit(spelling)
    factor, dims = _pint_factor_and_dims(ureg, spelling)
    assert unit.factor == pytest.approx(factor, rel=1e-9)
    assert unit.dimensions == dims


ATOMS_FOR_COMPOUNDS = ["m", "km", "ft", "kg", "lb", "s", "h", "min", "N", "J", "W", "Pa", "L", "A", "K", "mol"]


@given(
    st.lists(
        st.tuples(st.sampled_from(ATOMS_FOR_COMPOUNDS), st.sampled_from(["*", "/"]), st.integers(-3, 3).filter(bool)),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=60, deadline=None)
def test_random_compounds_match_pint(ureg, parts):
    text = parts[0][0] + "^" + str(parts[0][2])
    for atom, op, power in parts[1:]:
        text += f"{op}{atom}^{power}"
    factor, dims = _pint_factor_and_dims(ureg, text)
    if max(abs(e) for e in dims) > 12:  # beyond the exponent range (e.g. "L^3*L^3*m^3"): refused
        with pytest.raises(ValueError, match="dimension exponent"):
            parse_unit(text)
        return
    unit = parse_unit(text)
    assert unit.factor == pytest.approx(factor, rel=1e-9)
    assert unit.dimensions == dims


@pytest.mark.parametrize(
    "value, src, dst",
    [(100, "degC", "degF"), (0, "degC", "K"), (-40, "degC", "degF"), (300, "K", "degC"), (212, "degF", "degC"),
     (0, "degF", "K"), (491.67, "degR", "degC"), (37, "degC", "degR"), (-459.67, "degF", "K"), (1, "K", "mK")],
)  # fmt: skip
def test_temperature_points_match_pint(ureg, value, src, dst):
    expected = ureg.Quantity(value, src).to(dst).magnitude
    assert convert(value, src, dst) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_temperature_point_examples():
    # convert() works on the exact factors and rounds once, so these are exact.
    assert convert(100, "degC", "degF") == 212.0
    assert convert(0, "°C", "K") == 273.15
    assert convert(-40, "celsius", "fahrenheit") == -40.0
    assert convert(300, "K", "degC") == 26.85
    assert convert(98.6, "degF", "degC") == 37.0
    assert parse_unit("degC").to_si(100) == pytest.approx(373.15)
    assert parse_unit("degF").from_si(373.15) == pytest.approx(212)


def test_convert_rejects_mismatched_dimensions():
    assert convert(3.5, "km", "m") == 3500.0
    assert convert(60, "mph", parse_unit("km/h")) == 96.56064
    with pytest.raises(ValueError, match="cannot convert"):
        convert(1, "kg", "m")
    with pytest.raises(TypeError):
        convert("1", "kg", "g")


def test_decade_is_ten_years_where_pint_has_a_ratio(ureg):
    """pint's `decade` is the dimensionless logarithmic ratio 10; in text (and in mathematics_dataset's
    measurement table) a decade is ten years, so the registry follows the text."""
    assert _pint_factor_and_dims(ureg, "decade") == (pytest.approx(10), (0,) * 7)
    for spelling in ("decade", "decades"):
        unit = parse_unit(spelling)
        assert unit.factor == 10 * parse_unit("year").factor and unit.dimensions == parse_unit("year").dimensions
    assert convert_exact(1, "decade", "month") == 120 and convert_exact(1, "millennia", "decades") == 100


def test_can_add_agrees_with_pint_on_random_pairs(ureg):
    rng = random.Random(0)
    pool = [u for u in PINT_UNITS if u not in PINT_SPELLING] + ["degC", "degF", "°C", "°F"]
    for _ in range(400):
        a, b = rng.choice(pool), rng.choice(pool)
        ours = parse_unit(a).dimensions == parse_unit(b).dimensions
        theirs = ureg.Quantity(1, a).dimensionality == ureg.Quantity(1, b).dimensionality
        assert ours == theirs, (a, b)


# ----------------------------------------------------------------------------------------------
# Spellings, prefixes, compounds, clashes


@pytest.mark.parametrize(
    "spellings",
    [("m", "meter", "meters", "metre", "metres"), ("km", "kilometer", "kilometers", "kilometre", "kilometres"),
     ("mi", "mile", "miles"), ("ft", "foot", "feet"), ("in", "inch", "inches"), ("lb", "lbs", "pound", "pounds"),
     ("s", "sec", "second", "seconds"), ("h", "hr", "hour", "hours"), ("degC", "°C", "℃", "celsius", "Celsius"),
     ("degF", "°F", "℉", "fahrenheit"), ("K", "kelvin"), ("L", "l", "liter", "litres"), ("kn", "kt", "knots"),
     ("ohm", "Ω", "\u2126", "ohms"), ("µm", "um", "μm", "micron", "micrometer"), ("floz", "fl_oz", "fl oz"),
     ("mph", "miles per hour"), ("kph", "kilometres per hour"), ("BTU", "Btu"), ("Å", "\u212b", "angstroms")],
)  # fmt: skip
def test_aliases_resolve_to_one_canonical_symbol(spellings):
    units = [parse_unit(s) for s in spellings]
    assert all(u == units[0] for u in units)
    assert units[0].symbol == spellings[0]


BASES = {"m": 1, "g": Fraction(1, 1000), "s": 1, "L": Fraction(1, 1000), "N": 1, "J": 1, "W": 1, "Pa": 1, "Hz": 1,
         "A": 1, "V": 1, "C": 1, "eV": Fraction("1.602176634e-19"), "mol": 1, "bar": 100000}  # fmt: skip
PREFIXES = {"Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "da": 1, "d": -1,
            "c": -2, "m": -3, "µ": -6, "u": -6, "μ": -6, "n": -9, "p": -12, "f": -15, "a": -18, "z": -21,
            "y": -24}  # fmt: skip


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("base", BASES)
def test_si_prefixes(prefix, base):
    unit = parse_unit(prefix + base)
    assert unit.factor == float(Fraction(BASES[base]) * Fraction(10) ** PREFIXES[prefix])
    assert unit.dimensions == parse_unit(base).dimensions


@pytest.mark.parametrize(
    "name, symbol",
    [("kilometer", "km"), ("milligram", "mg"), ("megajoule", "MJ"), ("microseconds", "µs"), ("nanometre", "nm"),
     ("gigawatts", "GW"), ("hectopascal", "hPa"), ("decaliter", "daL"), ("dekaliter", "daL"),
     ("kilocalories", "kcal"), ("kilowatt hours", "kWh"), ("milliamp hours", "mAh"), ("megatonne", "Mt")],
)  # fmt: skip
def test_full_name_prefixes(name, symbol):
    assert parse_unit(name).symbol == symbol


@pytest.mark.parametrize("text", ["kmi", "kft", "klb", "mmin", "kh", "kgal", "Mmph", "khp", "kdegC", "katm"])
def test_non_si_units_take_no_prefix(text):
    with pytest.raises(ValueError, match="unknown unit"):
        parse_unit(text)


@pytest.mark.parametrize(
    "text, symbol, kind",
    [("C", "C", "charge"), ("°C", "degC", "temperature"), ("F", "F", "capacitance"), ("°F", "degF", "temperature"),
     ("min", "min", "time"), ("mm", "mm", "length"), ("Pa", "Pa", "pressure"), ("cd", "cd", "luminous_intensity"),
     ("ha", "ha", "area"), ("nmi", "nmi", "length"), ("ft", "ft", "length"), ("T", "T", "magnetic_flux_density"),
     ("t", "t", "mass"), ("kt", "kn", "velocity"), ("kilotonne", "kilotonne", "mass"), ("h", "h", "time"),
     ("H", "H", "inductance"), ("S", "S", "conductance"), ("ms", "ms", "time"), ("pt", "pt", "volume"),
     ("K", "K", "temperature"), ("g0", "g0", "acceleration"), ("yd", "yd", "length")],
)  # fmt: skip
def test_clashing_symbols_are_resolved_explicitly(text, symbol, kind):
    unit = parse_unit(text)
    assert (unit.symbol, unit.kind) == (symbol, kind)


@pytest.mark.parametrize(
    "text, symbol, factor, dims",
    [("km/h", "km/h", 1000 / 3600, (1, 0, -1, 0, 0, 0, 0)), ("m/s^2", "m/s^2", 1.0, (1, 0, -2, 0, 0, 0, 0)),
     ("kg*m/s^2", "kg*m/s^2", 1.0, (1, 1, -2, 0, 0, 0, 0)), ("kg/(m*s^2)", "kg/(m*s^2)", 1.0, (-1, 1, -2, 0, 0, 0, 0)),
     ("m²", "m^2", 1.0, (2, 0, 0, 0, 0, 0, 0)), ("s⁻¹", "s^-1", 1.0, (0, 0, -1, 0, 0, 0, 0)),
     ("m**-2", "m^-2", 1.0, (-2, 0, 0, 0, 0, 0, 0)), (" km / h ", "km/h", 1000 / 3600, (1, 0, -1, 0, 0, 0, 0)),
     ("kg · m² / s²", "kg*m^2/s^2", 1.0, (2, 1, -2, 0, 0, 0, 0)), ("m ^ −2", "m^-2", 1.0, (-2, 0, 0, 0, 0, 0, 0)),
     ("ft/s", "ft/s", 0.3048, (1, 0, -1, 0, 0, 0, 0)), ("1/s", "1/s", 1.0, (0, 0, -1, 0, 0, 0, 0)),
     ("(m/s)^2", "(m/s)^2", 1.0, (2, 0, -2, 0, 0, 0, 0)), ("(km)", "km", 1000.0, (1, 0, 0, 0, 0, 0, 0)),
     ("J/kg*K", "J/kg*K", 1.0, (2, 0, -2, 0, 1, 0, 0)),
     ("fl oz/h", "floz/h", float(GALLON / 128 / 3600), (3, 0, -1, 0, 0, 0, 0)),
     ("cm³", "cm^3", 1e-6, (3, 0, 0, 0, 0, 0, 0))],
)  # fmt: skip
def test_compound_units(text, symbol, factor, dims):
    unit = parse_unit(text)
    assert (unit.symbol, unit.dimensions) == (symbol, dims)
    assert unit.factor == pytest.approx(factor, rel=1e-15)


def test_compound_matches_named_unit():
    assert parse_unit("kg*m/s^2").factor == parse_unit("N").factor
    assert parse_unit("kg*m/s^2").kind == "force"
    assert parse_unit("kg/(m*s^2)").dimensions == parse_unit("Pa").dimensions
    assert parse_unit("km/h").factor == parse_unit("kph").factor == float(Fraction(1000, 3600))
    assert parse_unit("mi/h").factor == parse_unit("mph").factor


@pytest.mark.parametrize("text", ["degC/s", "degF*m", "degC^2", "1/degC", "J/degC", "°C·s", "(degC*s)"])
def test_offset_units_cannot_be_combined(text):
    with pytest.raises(ValueError, match="offset unit.*use 'K'"):
        parse_unit(text)


def test_percent_is_a_dimensionless_hundredth():
    for text in ("%", "percent"):
        unit = parse_unit(text)
        assert (unit.symbol, unit.factor, unit.dimensions, unit.kind) == ("%", 0.01, (0,) * 7, "dimensionless")
    assert convert(12.5, "%", "percent") == 12.5
    assert parse_unit("%/s").dimensions == (0, 0, -1, 0, 0, 0, 0)
    assert "%" in unit_spellings() and "percent" in unit_spellings()


@pytest.mark.parametrize("text", ["L/100km", "l/100km", "L/100 km", "l/100 km", " L / 100 km "])
def test_fuel_consumption_litres_per_100_km(ureg, text):
    unit = parse_unit(text)
    assert (unit.symbol, unit.dimensions, unit.kind) == ("L/100km", (2, 0, 0, 0, 0, 0, 0), "area")
    assert unit._exact[0] == Fraction(1, 10**8)  # 1e-3 m^3 / 1e5 m, exactly
    pint_factor, pint_dims = _pint_factor_and_dims(ureg, "L/km")
    assert unit.factor == pytest.approx(pint_factor / 100, rel=1e-12) and unit.dimensions == pint_dims
    assert parse_unit(unit.symbol) == unit
    assert convert(8, "L/100km", "mL/km") == 80.0


@pytest.mark.parametrize("text", ["L/100", "L/100mi", "L/10km", "m/100s", "100km", "L/100km^2"])
def test_numbers_inside_units_are_refused(text):
    with pytest.raises(ValueError):
        parse_unit(text)


def test_delta_temperature_units_combine():
    assert parse_unit("J/(kg*delta_degC)").dimensions == (2, 0, -2, 0, -1, 0, 0)
    assert parse_unit("(degC)").symbol == "degC"


@pytest.mark.parametrize("text", ["kmh", "meterz", "Km", "KG", "kilometerss", "Kilometers", "degrees", "mtr"])
def test_unknown_units_suggest_close_matches(text):
    with pytest.raises(ValueError, match=r"unknown unit .*did you mean") as info:
        parse_unit(text)
    assert "\n" not in str(info.value)


def test_unknown_message_format():
    with pytest.raises(ValueError, match=r"^unknown unit 'kmh'; did you mean 'km/h'"):
        parse_unit("kmh")
    with pytest.raises(ValueError, match=r"^unknown unit 'furlongz' in 'furlongz/s'; did you mean"):
        parse_unit("furlongz/s")


@pytest.mark.parametrize("text", ["G", "M", "u", "a", "deg", "degree", "Cal", "mil", "st", "bbl", "°K", "gramme"])
def test_ambiguous_spellings_are_unknown(text):
    with pytest.raises(ValueError, match="unknown unit"):
        parse_unit(text)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "m/", "^2", "((m)", "(m", "m)", "m^", "m^x", "m^2.5", "m^2^3", "*m", "m//s", "m**", "/s", "()",
     "m(s)", "²", "m⁻", "m^99", "km h", "2/s", "1", "m" * 300, "Ym^12*Ym^12*Ym^12", "(Ym^12)^12",
     "sq ft^2", "square feet²", "cubic m**3", "Square feet", "sq.ft", "cu mi"],
)  # fmt: skip
def test_malformed_input_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_unit(text)


@pytest.mark.parametrize("value", [None, 5, 1.5, b"m", ["m"], Unit("m", 1.0, 0.0, (1, 0, 0, 0, 0, 0, 0), "length")])
def test_non_str_raises_type_error(value):
    with pytest.raises(TypeError):
        parse_unit(value)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_fuzz_arbitrary_text(text):
    try:
        assert isinstance(parse_unit(text), Unit)
    except ValueError:
        pass


@given(st.text(alphabet="kmsgNJ/*^()²⁻¹ ·0123456789-.°C", max_size=20))
@settings(max_examples=300, deadline=None)
def test_fuzz_unit_like_text(text):
    try:
        unit = parse_unit(text)
    except ValueError:
        return
    assert isinstance(unit, Unit) and len(unit.dimensions) == 7
    assert math.isfinite(unit.factor) and unit.factor > 0
    again = parse_unit(unit.symbol)  # the canonical symbol parses back to the same unit
    assert again.dimensions == unit.dimensions and again.factor == pytest.approx(unit.factor, rel=1e-12)


def test_parse_unit_is_cached():
    assert parse_unit("km/h") is parse_unit("km/h")


# ----------------------------------------------------------------------------------------------
# Registry-wide properties


def test_unit_spellings():
    spellings = unit_spellings()
    assert isinstance(spellings, frozenset)
    assert len(spellings) < 3000
    assert {"m", "km", "mm", "kJ", "MHz", "°C", "°F", "mph", "kilometres", "fl oz"} <= spellings
    assert not any(c in s for s in spellings for c in "/*^()")


def test_every_spelling_parses_and_its_symbol_round_trips():
    for spelling in unit_spellings():
        unit = parse_unit(spelling)
        again = parse_unit(unit.symbol)
        assert (again.factor, again.offset, again.dimensions) == (unit.factor, unit.offset, unit.dimensions)
        assert unit.kind is not None, spelling


def test_no_prefixed_spelling_is_shadowed():
    from fluxem.units import _shadowed_prefixed

    assert _shadowed_prefixed() == []


# ----------------------------------------------------------------------------------------------
# Area and volume names

LENGTHS = {"m": "1", "km": "1000", "cm": "0.01", "mm": "0.001", "ft": "0.3048", "in": "0.0254", "yd": "0.9144",
           "mi": "1609.344"}  # fmt: skip
# (our spelling, length symbol, power): every spelling named in the spec, plus a few mixed forms.
POWER_NAMES = [
    ("square meter", "m", 2), ("square meters", "m", 2), ("square metre", "m", 2), ("square metres", "m", 2),
    ("square kilometer", "km", 2), ("square kilometers", "km", 2), ("square kilometre", "km", 2),
    ("square kilometres", "km", 2), ("square centimeter", "cm", 2), ("square centimeters", "cm", 2),
    ("square millimeter", "mm", 2), ("square millimeters", "mm", 2), ("square foot", "ft", 2),
    ("square feet", "ft", 2), ("square inch", "in", 2), ("square inches", "in", 2), ("square yard", "yd", 2),
    ("square yards", "yd", 2), ("square mile", "mi", 2), ("square miles", "mi", 2),
    ("sq m", "m", 2), ("sq km", "km", 2), ("sq cm", "cm", 2), ("sq mm", "mm", 2), ("sq ft", "ft", 2),
    ("sq in", "in", 2), ("sq yd", "yd", 2), ("sq mi", "mi", 2), ("sq. m", "m", 2), ("sq. ft", "ft", 2),
    ("sq. mi", "mi", 2), ("sq. feet", "ft", 2), ("square km", "km", 2), ("sq yds", "yd", 2),
    ("cubic meter", "m", 3), ("cubic meters", "m", 3), ("cubic metre", "m", 3), ("cubic metres", "m", 3),
    ("cubic centimeter", "cm", 3), ("cubic centimeters", "cm", 3), ("cubic millimeter", "mm", 3),
    ("cubic millimeters", "mm", 3), ("cubic foot", "ft", 3), ("cubic feet", "ft", 3), ("cubic inch", "in", 3),
    ("cubic inches", "in", 3), ("cubic yard", "yd", 3), ("cubic yards", "yd", 3), ("cubic kilometres", "km", 3),
    ("cu m", "m", 3), ("cu cm", "cm", 3), ("cu ft", "ft", 3), ("cu in", "in", 3), ("cu yd", "yd", 3),
    ("cubic cm", "cm", 3),
]  # fmt: skip


@pytest.mark.parametrize("spelling, base, power", POWER_NAMES)
def test_area_and_volume_names_are_exact_powers(spelling, base, power):
    unit = parse_unit(spelling)
    assert unit == parse_unit(f"{base}^{power}")
    assert (unit.symbol, unit.kind) == (f"{base}^{power}", "area" if power == 2 else "volume")
    assert unit.factor == float(Fraction(LENGTHS[base]) ** power)  # exact, rounded once
    assert spelling in unit_spellings()


def test_square_foot_is_exact():
    assert parse_unit("square foot").factor == float(Fraction("0.3048") ** 2) == 0.09290304
    assert convert(1, "cubic inch", "cu cm") == 16.387064
    assert convert(5, "square feet", "sq m") == float(5 * Fraction("0.3048") ** 2)


@pytest.mark.parametrize(
    "spelling, pint_spelling",
    [("square feet", "ft**2"), ("sq ft", "square_foot"), ("square inches", "square_inch"),
     ("sq yd", "square_yard"), ("square miles", "square_mile"), ("sq mi", "mi**2"), ("sq. m", "m**2"),
     ("square kilometres", "km**2"), ("sq cm", "cm**2"), ("square millimeter", "mm**2"), ("cubic feet", "cubic_foot"),
     ("cu in", "cubic_inch"), ("cubic yards", "cubic_yard"), ("cu ft", "ft**3"), ("cubic meters", "m**3"),
     ("cu cm", "cm**3"), ("cubic millimetre", "mm**3"), ("cu yd", "yd**3"), ("cubic kilometres", "km**3")],
)  # fmt: skip
def test_area_and_volume_names_match_pint(ureg, spelling, pint_spelling):
    q = ureg.Quantity(1, pint_spelling).to_base_units()
    dims = tuple(int(q.dimensionality.get(name, 0)) for name in PINT_DIMS)
    unit = parse_unit(spelling)
    assert unit.factor == pytest.approx(float(q.magnitude), rel=1e-12)
    assert unit.dimensions == dims


def test_area_and_volume_names_in_compounds():
    assert parse_unit("sq. m/s").symbol == "m^2/s"
    assert parse_unit("kg/cubic metre") == parse_unit("kg/m^3")
    assert parse_unit("sq  ft") == parse_unit("ft^2")  # runs of spaces collapse, as in "fl  oz"
    for text in ("(sq ft)^2", "(ft^2)^2"):  # the canonical symbol keeps its parentheses and parses back
        unit = parse_unit(text)
        assert unit.symbol == "(ft^2)^2" and parse_unit(unit.symbol) == unit
        assert (unit.factor, unit.dimensions) == (parse_unit("ft^4").factor, parse_unit("ft^4").dimensions)


def test_kinds_table():
    assert len(KINDS) >= 12
    assert len(set(KINDS.values())) == len(KINDS), "each dimension vector names one kind"
    assert all(len(v) == 7 for v in KINDS.values())
    assert KINDS["velocity"] == (1, 0, -1, 0, 0, 0, 0)


def test_units_by_kind():
    groups = units_by_kind()
    required = {"length", "mass", "time", "temperature", "velocity", "acceleration", "area", "volume", "force",
                "energy", "power", "pressure", "frequency", "current", "charge", "voltage", "amount"}  # fmt: skip
    assert required <= set(groups)
    assert sum(len(v) for v in groups.values()) >= 100
    for kind, symbols in groups.items():
        for symbol in symbols:
            assert parse_unit(symbol).kind == kind
            assert parse_unit(symbol).symbol == symbol
    assert {"km", "kg", "mL", "kWh"} <= {s for v in groups.values() for s in v}


@pytest.mark.parametrize(
    "kind, expected",
    [("force", "N"), ("energy", "J"), ("power", "W"), ("pressure", "Pa"), ("frequency", "Hz"), ("charge", "C"),
     ("voltage", "V"), ("velocity", "m/s"), ("acceleration", "m/s^2"), ("volume", "m^3"), ("area", "m^2"),
     ("density", "kg/m^3"), ("momentum", "kg*m/s"), ("temperature", "K"), ("mass", "kg"), ("dimensionless", "")],
)  # fmt: skip
def test_canonical_si_unit_examples(kind, expected):
    assert canonical_si_unit(KINDS[kind]) == expected


def test_canonical_si_unit_compounds():
    assert canonical_si_unit((2, 1, 0, 0, 0, 0, 0)) == "kg*m^2"
    assert canonical_si_unit((-1, 1, -1, 0, 0, 0, 0)) == "kg/(m*s)"
    assert canonical_si_unit((0, 0, -2, 0, 0, 0, 0)) == "1/s^2"
    with pytest.raises(TypeError):
        canonical_si_unit("m")
    with pytest.raises(ValueError):
        canonical_si_unit((1, 0, 0))


@given(st.tuples(*[st.integers(-4, 4)] * 7).filter(any))
def test_canonical_si_unit_round_trips(dims):
    unit = parse_unit(canonical_si_unit(dims))
    assert unit.factor == 1.0 and unit.dimensions == dims and unit.offset == 0.0


# ----------------------------------------------------------------------------------------------
# The canonical number format


@pytest.mark.parametrize(
    "x, text",
    [(3500.0, "3500"), (0.1, "0.1"), (1234567.0, "1.23457e+06"), (1e-7, "1e-07"), (-0.0, "0"), (0, "0"),
     (-2.5, "-2.5"), (123456.7, "123457"), (1e6, "1e+06"), (7, "7"), (10**20, "1e+20"), (Fraction(1, 3), "0.333333"),
     (Decimal("2.5"), "2.5"), (np.float32(0.5), "0.5"), (np.int64(42), "42"), (-1e-320, "-9.99989e-321")],
)  # fmt: skip
def test_format_value_examples(x, text):
    assert format_value(x) == text


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf, 10**400, np.float64("nan"), Decimal("NaN")])
def test_format_value_rejects_non_finite(x):
    with pytest.raises(ValueError):
        format_value(x)


@pytest.mark.parametrize("x", [True, False, np.bool_(True), "1", None, 1j, [1.0]])
def test_format_value_rejects_non_numbers(x):
    with pytest.raises(TypeError):
        format_value(x)


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**300), 10**300)))
def test_format_value_round_trip(x):
    text = format_value(x)
    assert abs(parse_value(text) - float(x)) <= 5e-6 * abs(float(x))
    assert format_value(parse_value(text)) == text


def test_parse_value():
    assert parse_value("3500") == 3500.0
    assert parse_value("1e-07") == 1e-7
    for bad in ["abc", "", "nan", "inf", "1,5"]:
        with pytest.raises(ValueError):
            parse_value(bad)
    with pytest.raises(TypeError):
        parse_value(3.5)


# ----------------------------------------------------------------------------------------------
# Exponents are read whole, and every dimension exponent stays in the parser's range

M = (1, 0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    "text, power",
    [("m^0000001", 1), ("m^-0000002", -2), ("m⁰⁰⁰⁰⁰⁰²", 2), ("m⁻⁰⁰⁰⁰⁰⁰³", -3), ("m**00000012", 12), ("m^+007", 7),
     ("m^–2", -2), ("m^−2", -2)],
)  # fmt: skip
def test_exponents_are_read_whole(text, power):
    """Leading zeros are part of the exponent (never cut to its first characters); an en dash or U+2212
    is a minus sign like "-"."""
    assert parse_unit(text).dimensions == tuple(power * e for e in M)


@pytest.mark.parametrize(
    "text", ["m^0000013", "m^1000001", "m⁰⁰⁰⁰⁰¹³", "m^-" + "0" * 150 + "13", "m^" + "1" * 150, "m**9999999"]
)
def test_exponents_beyond_the_range_are_refused_not_truncated(text):
    with pytest.raises(ValueError, match=r"^malformed unit .*exponent") as info:
        parse_unit(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["m^12*m^12", "(m^12)^2", "(m^6)^3", "m^12*m", "1/(s^12*s)", "m^7*m^6"])
def test_dimension_exponents_beyond_the_range_are_refused(text):
    """Compounds cannot build a dimension exponent past +-12 either, so every unit's DIMS fit the range
    that QuantityEncoder checks."""
    with pytest.raises(ValueError, match=r"dimension exponent .* beyond"):
        parse_unit(text)


def test_dimension_exponents_at_the_limit_parse():
    assert parse_unit("m^6*m^6").dimensions == tuple(12 * e for e in M)
    assert parse_unit("1/(s^6*s^6)").dimensions == (0, 0, -12, 0, 0, 0, 0)


# ----------------------------------------------------------------------------------------------
# Bounded time on huge Decimal exponents and huge exact values


@pytest.mark.parametrize("x", [Decimal("1e999999999"), Decimal("-1e-999999999"), Decimal("9.99e+999999"),
                               Decimal("1e4301"), Decimal("1e-4302")])  # fmt: skip
def test_huge_decimal_exponents_are_refused_up_front(x):
    from fluxem.units import convert_exact, to_si_exact

    start = time.perf_counter()
    for call in (format_value, lambda v: convert_exact(v, "km", "m"), lambda v: to_si_exact(v, "degC")):
        with pytest.raises(ValueError, match="out of range") as info:
            call(x)
        assert "\n" not in str(info.value)
    assert time.perf_counter() - start < 1.0


def test_decimal_exponents_inside_the_range_are_exact():
    from fluxem.units import convert_exact

    assert convert_exact(Decimal("0E+999999999"), "km", "m") == 0
    assert format_value(Decimal("0E-999999999")) == "0"
    assert convert_exact(Decimal("1e4300"), "km", "m") == 10**4303
    assert convert_exact(Decimal("1e-4300"), "m", "km") == Fraction(1, 10**4303)
    # many digits with a matching exponent: the cost follows the input's length
    assert format_value(Decimal("1." + "0" * 6000 + "1")) == "1"


def test_format_value_of_huge_exact_values_is_fast_and_exact():
    start = time.perf_counter()
    for x in (10**100_000, -Fraction(1, 10**100_000), Fraction(10**50_000, 3)):
        with pytest.raises(ValueError, match="float range|too small|too large"):
            format_value(x)
    # a value in range whose numerator and denominator have more digits than int/str conversion allows
    assert format_value(Fraction(10**5000 + 1, 3 * 10**5000)) == "0.333333"
    assert format_value(Fraction(7 * 10**6000, 10**6000 + 1)) == "7"
    assert time.perf_counter() - start < 1.0
