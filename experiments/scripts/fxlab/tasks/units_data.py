"""Units data generation (docs/design.md §4.2): `generate_units(cfg) -> {split: records}`.

Three kinds of question, mixed by the weights in `data.kinds` (default convert 0.6, can_add 0.2,
combine 0.2; `data.include_can_add: false` drops can_add):

    {"kind": "convert", "text": "convert 3.5 km to m",         "target": "3500 m",  "roles": ["+", "to"]}
    {"kind": "can_add", "text": "can you add 3 kg and 20 lb?", "target": "true",    "roles": ["cmp", "cmp"]}
    {"kind": "combine", "text": "12 m / 3 s",                  "target": "4 m/s",   "roles": ["+", "/"]}

Every record also has "id", "split", "task": "units", "answer_type" ("quantity" | "boolean"),
"units": [u1, u2] as written, "values": the displayed numbers as floats, "n_ops": 1 and "held_out"
(null, or why a test_ood_types record is out of distribution: "pair" or "unit"). `roles[i]` labels the
i-th span that `fluxem.detect_spans(text)` finds; generation checks that the detector finds exactly
those spans, so every record is what the hybrid model will see.

Values. A magnitude is log-uniform in `data.id_magnitude_range` (`data.ood_magnitude_range` for
test_ood_magnitude) and written with `fluxem.format_value` (six significant digits). The target is
computed exactly from the decimal the text shows (`Fraction(format_value(x))`, so "0.391325" is
391325/10^6, not the nearest float) with the registry's exact `Fraction` factors and offsets, and
`format_value` rounds that true value to six digits, ties to even ("convert 0.391325 in to mm" ->
"9.93966 mm", as 9.939655 is exactly a tie). The hybrid's executor gets the same answer from the spans'
exact values with `fluxem.units.convert_exact`. The two ranges must not overlap (the OOD split would
hold in-distribution values) and must lie within [MIN_MAGNITUDE, MAX_MAGNITUDE] = [1e-100, 1e100], so
that every value, conversion and product stays far inside the float range. A convert target keeps
the target unit as written in the text; a combine target is in `canonical_si_unit` of the result's
dimensions ("5 m/s * 3 s" -> "15 m"). Values are positive, except that a degC / degF value is negated
with probability 0.3 when the negated temperature is still above absolute zero ("convert -40 degC to
degF" -> "-40 degF"). Combine never uses an offset unit (temperature appears there as K) and skips
dimensionless results ("6 m / 2 km").

Held-out unit combinations (test_ood_types). Before drawing anything, `held_out(cfg)` partitions the
units with `random.Random(f"{seed}/held_out")`:

- compound units: HELD_OUT_COMPOUNDS of the EXTRA_COMPOUNDS velocity units (e.g. "mi/min", "km/s") are
  held out; the others join the velocity units of the ID splits;
- conversion pairs: in every kind, HELD_OUT_PAIR_FRACTION of the unordered pairs of ID units (at least
  one) is held out, in both directions.

train, val, test_id and test_ood_magnitude never use a held-out unit, and never put a held-out pair in
one record (whatever its kind). test_ood_types holds only convert records whose pair is held out (half
from held-out pairs of ID units, half involving a held-out compound unit) and combine records with a
held-out compound unit, in the ratio of their `data.kinds` weights; its magnitudes are ID. Without
"velocity" in `data.unit_types` nothing compound is held out and test_ood_types is all convert.

Determinism: each split draws from its own `random.Random(f"{seed}/{split}")`; val and the test splits
are drawn first and train excludes their texts (every text is unique across all files). Kind counts
per split follow the weights exactly (largest remainder), and can_add is exactly half true.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from fluxem import detect_spans, format_value, parse_unit, parse_value
from fluxem.units import KINDS, canonical_si_unit, convert_exact, to_si_exact
from fxlab import UserError
from fxlab.config import Config

SPLITS = ("train", "val", "test_id", "test_ood_magnitude", "test_ood_types")
QUESTION_KINDS = ("convert", "can_add", "combine")
DEFAULT_KINDS = {"convert": 0.6, "can_add": 0.2, "combine": 0.2}

# Unit spellings of the ID splits, per quantity kind (before held-out compounds join velocity).
UNITS = {
    "length": ("m", "km", "cm", "mm", "in", "ft", "yd", "mi"),
    "mass": ("kg", "g", "mg", "lb", "oz"),
    "time": ("s", "ms", "min", "h", "d"),
    "temperature": ("K", "degC", "degF"),
    "velocity": ("m/s", "km/h", "ft/s", "mph", "mi/h", "kn"),
}
# Velocity compounds built from ID atoms; HELD_OUT_COMPOUNDS of them (chosen by the seed) are held out.
EXTRA_COMPOUNDS = ("mi/min", "km/s", "ft/min", "m/min", "mi/s", "cm/s", "km/min", "m/h", "ft/h", "yd/s")
HELD_OUT_COMPOUNDS = 5
HELD_OUT_PAIR_FRACTION = 0.15
# "in" is read as an inch only before "to" / "?" / ")" or at the end ("1 in 5 adults" is not a length),
# so it appears in convert questions only.
CONVERT_ONLY = frozenset({"in"})
NEGATIVE_TEMPERATURE_P = 0.3
MAX_DRAWS = 1000  # attempts to draw one unseen text before declaring the space exhausted
# Magnitude ranges must lie inside these bounds: a product of two values times unit factors (up to
# ~1e5 apart here) then stays within about 1e-215..1e215, far from the float limits (1e308, 2e-308).
MIN_MAGNITUDE, MAX_MAGNITUDE = 1e-100, 1e100

EXPECTED_SPANS = {  # kind -> span kinds that detect_spans must find, in order
    "convert": ("quantity", "unit"),
    "can_add": ("quantity", "quantity"),
    "combine": ("quantity", "quantity"),
}


@dataclass(frozen=True)
class HeldOut:
    """The unit combinations reserved for test_ood_types."""

    units: frozenset[str]  # compound units that appear in no other split
    pairs: frozenset[tuple[str, str]]  # ordered conversion pairs (both directions) of ID units

    def touches(self, u1: str, u2: str) -> bool:
        """True if a record with these two units would leak a held-out combination.

        >>> HeldOut(frozenset({"mi/min"}), frozenset({("km", "mi"), ("mi", "km")})).touches("mi", "km")
        True
        """
        return u1 in self.units or u2 in self.units or (u1, u2) in self.pairs


@dataclass(frozen=True)
class UnitPlan:
    kinds: tuple[str, ...]  # configured quantity kinds, in UNITS order
    id_units: dict[str, tuple[str, ...]]  # quantity kind -> units the ID splits use
    held_out: HeldOut


def unit_kinds(cfg: Config) -> tuple[str, ...]:
    """The configured `data.unit_types` (all supported kinds when empty), checked, in UNITS order."""
    wanted = list(cfg.data.unit_types) or list(UNITS)
    unknown = [k for k in wanted if k not in UNITS]
    if unknown:
        raise UserError(f"config key 'data.unit_types' has unsupported kind {unknown[0]!r}; "
                        f"supported: {', '.join(UNITS)}")
    return tuple(k for k in UNITS if k in wanted)


def kind_weights(cfg: Config) -> dict[str, float]:
    """Question-kind weights: `data.kinds` (DEFAULT_KINDS when absent or empty), minus can_add if disabled."""
    weights = dict(getattr(cfg.data, "kinds", None) or DEFAULT_KINDS)
    unknown = [k for k in weights if k not in QUESTION_KINDS]
    if unknown:
        raise UserError(f"config key 'data.kinds' has unknown kind {unknown[0]!r}; "
                        f"allowed: {', '.join(QUESTION_KINDS)}")
    if any(w < 0 for w in weights.values()):
        raise UserError("config key 'data.kinds' must have weights >= 0")
    if not getattr(cfg.data, "include_can_add", True):
        weights.pop("can_add", None)
    weights = {k: float(weights[k]) for k in QUESTION_KINDS if weights.get(k, 0) > 0}
    if not weights:
        raise UserError("config key 'data.kinds' leaves no question kind with a positive weight")
    return weights


def plan_units(cfg: Config) -> UnitPlan:
    """Partition units and pairs into ID and held-out, from the seed alone (see the module docstring)."""
    kinds = unit_kinds(cfg)
    rng = random.Random(f"{cfg.seed}/held_out")
    compounds = list(EXTRA_COMPOUNDS)
    rng.shuffle(compounds)
    held_units = frozenset(compounds[:HELD_OUT_COMPOUNDS]) if "velocity" in kinds else frozenset()
    id_units = {k: UNITS[k] for k in kinds}
    if "velocity" in kinds:
        id_units["velocity"] = UNITS["velocity"] + tuple(c for c in EXTRA_COMPOUNDS if c not in held_units)
    pairs = set()
    for kind in kinds:
        unordered = [(a, b) for i, a in enumerate(id_units[kind]) for b in id_units[kind][i + 1:]]
        n_held = max(1, round(HELD_OUT_PAIR_FRACTION * len(unordered)))
        for a, b in rng.sample(unordered, n_held):
            pairs |= {(a, b), (b, a)}
    return UnitPlan(kinds, id_units, HeldOut(held_units, frozenset(pairs)))


def held_out(cfg: Config) -> HeldOut:
    """The compound units and conversion pairs that only test_ood_types uses.

    >>> from fxlab.config import config_from_dict
    >>> cfg = config_from_dict({"task": "units", "paths": {"data_dir": "d", "results_dir": "r"}})
    >>> len(held_out(cfg).units)
    5
    """
    return plan_units(cfg).held_out


# ----------------------------------------------------------------------------- values and targets


def draw_value(rng: random.Random, magnitude_range, unit: str) -> float:
    """A log-uniform magnitude as the text will show it (six significant digits), maybe negative for degC/degF."""
    lo, hi = magnitude_range
    x = parse_value(format_value(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
    u = parse_unit(unit)
    if u.is_offset and rng.random() < NEGATIVE_TEMPERATURE_P and u.to_si(-x) > 0:
        x = -x
    return x


def shown(value) -> Fraction:
    """The exact decimal the text shows for a value: format_value's six digits, as a Fraction.

    >>> shown(0.391325), shown(1234567.0)
    (Fraction(15653, 40000), Fraction(1234570, 1))
    """
    return Fraction(format_value(value))


def convert_target(value: float, u1: str, u2: str) -> str:
    """The exact conversion of the shown value, rounded once by format_value; the target keeps u2 as written.

    >>> convert_target(100.0, "degC", "degF"), convert_target(32.0, "degF", "degC")
    ('212 degF', '0 degC')
    >>> convert_target(0.391325, "in", "mm")  # 9.939655 exactly: a tie, rounded half to even
    '9.93966 mm'
    """
    return f"{format_value(convert_exact(shown(value), u1, u2))} {u2}"


def combine_target(v1: float, u1: str, op: str, v2: float, u2: str) -> str:
    """Product or quotient of the shown values in the canonical SI unit of its dimensions, exactly.

    >>> combine_target(12.0, "m", "/", 3.0, "s"), combine_target(5.0, "m/s", "*", 3.0, "s")
    ('4 m/s', '15 m')
    """
    a, b = parse_unit(u1), parse_unit(u2)
    if a.is_offset or b.is_offset:
        raise ValueError(f"combine cannot use offset units ({u1!r}, {u2!r})")
    x1, x2 = to_si_exact(shown(v1), a), to_si_exact(shown(v2), b)
    sign = 1 if op == "*" else -1
    dims = tuple(p + sign * q for p, q in zip(a.dimensions, b.dimensions))
    si_unit = canonical_si_unit(dims)
    if not si_unit:
        raise ValueError(f"{u1} {op} {u2} is dimensionless")
    return f"{format_value(x1 * x2 if op == '*' else x1 / x2)} {si_unit}"


def can_add_target(u1: str, u2: str) -> str:
    return "true" if parse_unit(u1).dimensions == parse_unit(u2).dimensions else "false"


# ----------------------------------------------------------------------------- records


def units_record(split: str, index: int, kind: str, units: list[str], values: list[float], op: str = "",
                 held: str | None = None) -> dict:
    """One record; raises RuntimeError if detect_spans does not see the intended spans."""
    u1, u2 = units
    if kind == "convert":
        (v1,) = values
        text = f"convert {format_value(v1)} {u1} to {u2}"
        target, roles, answer_type = convert_target(v1, u1, u2), ["+", "to"], "quantity"
    elif kind == "can_add":
        v1, v2 = values
        text = f"can you add {format_value(v1)} {u1} and {format_value(v2)} {u2}?"
        target, roles, answer_type = can_add_target(u1, u2), ["cmp", "cmp"], "boolean"
    else:
        v1, v2 = values
        text = f"{format_value(v1)} {u1} {op} {format_value(v2)} {u2}"
        target, roles, answer_type = combine_target(v1, u1, op, v2, u2), ["+", op], "quantity"
    check_spans(text, kind, units, values)
    return {
        "id": f"{split}-{index:06d}", "split": split, "task": "units", "kind": kind, "text": text,
        "target": target, "answer_type": answer_type, "roles": roles, "units": list(units),
        "values": list(values), "n_ops": 1, "held_out": held,
    }


def check_spans(text: str, kind: str, units: list[str], values: list[float]) -> None:
    """The detector must find exactly the generator's spans: kinds, units and the displayed values."""
    spans = detect_spans(text)
    got = [(s.kind, s.unit) for s in spans]
    want = list(zip(EXPECTED_SPANS[kind], units))
    seen_values = [float(s.value) for s in spans if s.kind == "quantity"]
    if got != want or seen_values != [float(v) for v in values]:
        raise RuntimeError(f"detect_spans({text!r}) found {[(s.text, s.kind, s.unit) for s in spans]}; "
                           f"the generator meant {want} with values {values}")


def _kind_counts(size: int, weights: dict[str, float]) -> list[str]:
    """Exactly proportional kind labels (largest remainder), in QUESTION_KINDS order."""
    total = sum(weights.values())
    quotas = {k: size * w / total for k, w in weights.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (counts[k] - quotas[k], QUESTION_KINDS.index(k)))
    for k in by_remainder[: size - sum(counts.values())]:
        counts[k] += 1
    return [k for k in weights for _ in range(counts[k])]


class _Sampler:
    """Draws the units of one question from a UnitPlan: ID draws avoid the held-out combinations,
    the `ood_*` draws use only them."""

    def __init__(self, plan: UnitPlan):
        self.plan, held = plan, plan.held_out
        units = plan.id_units
        self.convert_pairs = {k: [(a, b) for a in us for b in us if a != b and (a, b) not in held.pairs]
                              for k, us in units.items()}
        self.addable = {k: [u for u in us if u not in CONVERT_ONLY] for k, us in units.items()}
        self.same_pairs = {k: [(a, b) for a in us for b in us if (a, b) not in held.pairs]
                           for k, us in self.addable.items()}
        self.combine_units = {k: [u for u in us if not parse_unit(u).is_offset] for k, us in self.addable.items()}
        # (kind1, op, kind2) whose result has a dimension; the units are then drawn within the kinds.
        self.combine_kinds = [(k1, op, k2) for k1 in plan.kinds for op in ("*", "/") for k2 in plan.kinds
                              if any(_combined_dims(k1, op, k2))]
        ood_pairs = sorted(held.pairs)
        compound_pairs = []
        if held.units:
            velocity = list(units["velocity"]) + sorted(held.units)
            compound_pairs = [(a, b) for a in velocity for b in velocity
                              if a != b and (a in held.units or b in held.units)]
        self.ood_groups = [(g, ps) for g, ps in (("pair", ood_pairs), ("unit", compound_pairs)) if ps]

    def convert(self, rng: random.Random) -> list[str]:
        return list(rng.choice(self.convert_pairs[rng.choice(self.plan.kinds)]))

    def can_add(self, rng: random.Random, same: bool) -> list[str]:
        if same:
            return list(rng.choice(self.same_pairs[rng.choice(self.plan.kinds)]))
        k1, k2 = rng.sample(self.plan.kinds, 2)
        return [rng.choice(self.addable[k1]), rng.choice(self.addable[k2])]

    def combine(self, rng: random.Random) -> tuple[list[str], str]:
        k1, op, k2 = rng.choice(self.combine_kinds)
        for _ in range(MAX_DRAWS):
            u1, u2 = rng.choice(self.combine_units[k1]), rng.choice(self.combine_units[k2])
            if (u1, u2) not in self.plan.held_out.pairs:
                return [u1, u2], op
        raise RuntimeError(f"no combine units for {k1} {op} {k2}")

    def ood_convert(self, rng: random.Random) -> tuple[list[str], str]:
        group, pairs = rng.choice(self.ood_groups)
        return list(rng.choice(pairs)), group

    def ood_combine(self, rng: random.Random) -> tuple[list[str], str]:
        held = sorted(self.plan.held_out.units)
        partners = [(k, op) for k in self.plan.kinds for op in ("*", "/")
                    if any(_combined_dims("velocity", op, k))]
        k, op = rng.choice(partners)
        pool = self.combine_units[k] + (held if k == "velocity" else [])
        u1, u2 = rng.choice(held), rng.choice(pool)
        if rng.random() < 0.5 and any(_combined_dims(k, op, "velocity")):
            u1, u2 = u2, u1
        return [u1, u2], op


def _combined_dims(k1: str, op: str, k2: str) -> tuple[int, ...]:
    sign = 1 if op == "*" else -1
    return tuple(a + sign * b for a, b in zip(KINDS[k1], KINDS[k2]))


def _draw_split(split: str, size: int, seed: int, magnitude_range, plan: UnitPlan, weights: dict[str, float],
                seen: set[str]) -> list[dict]:
    """`size` records whose texts are not in `seen` (and adds them to it)."""
    rng = random.Random(f"{seed}/{split}")
    sampler = _Sampler(plan)
    ood = split == "test_ood_types"
    if ood:
        weights = {k: w for k, w in weights.items() if k != "can_add"}
        if not weights:
            raise UserError("test_ood_types needs convert or combine questions; give one a weight in data.kinds")
        if not sampler.plan.held_out.units:
            weights.pop("combine", None)  # held-out combine questions need held-out compound units
            weights = weights or {"convert": 1.0}
    labels = _kind_counts(size, weights)
    rng.shuffle(labels)
    n_can_add = labels.count("can_add")
    n_true = n_can_add // 2 + (n_can_add % 2 == 1 and rng.random() < 0.5)
    truths = [True] * n_true + [False] * (n_can_add - n_true)
    rng.shuffle(truths)
    records = []
    for i, kind in enumerate(labels):
        same = truths.pop() if kind == "can_add" else False
        for _ in range(MAX_DRAWS):
            op, held = "", None
            if kind == "convert":
                units, held = sampler.ood_convert(rng) if ood else (sampler.convert(rng), None)
            elif kind == "can_add":
                units = sampler.can_add(rng, same)
            else:
                (units, op), held = (sampler.ood_combine(rng), "unit") if ood else (sampler.combine(rng), None)
            n_values = 1 if kind == "convert" else 2
            values = [draw_value(rng, magnitude_range, u) for u in units[:n_values]]
            record = units_record(split, i, kind, units, values, op, held)
            if record["text"] not in seen:
                break
        else:
            raise UserError(f"cannot draw {size} distinct '{split}' units questions; lower the data sizes "
                            "or widen the magnitude ranges")
        seen.add(record["text"])
        records.append(record)
    return records


def _check_ranges(cfg: Config) -> None:
    """One-line UserErrors for magnitude ranges that are malformed, overlap, or leave the safe float range."""
    for key in ("id_magnitude_range", "ood_magnitude_range"):
        lo_hi = getattr(cfg.data, key)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lo_hi)
        if len(lo_hi) != 2 or not numeric or not 0 < lo_hi[0] < lo_hi[1]:
            raise UserError(f"config key 'data.{key}' must be [lo, hi] with 0 < lo < hi, got {lo_hi}")
        if not MIN_MAGNITUDE <= lo_hi[0] < lo_hi[1] <= MAX_MAGNITUDE:
            raise UserError(f"config key 'data.{key}' must lie within [{MIN_MAGNITUDE:g}, {MAX_MAGNITUDE:g}] "
                            f"(conversions and products must stay inside the float range), got {lo_hi}")
    (id_lo, id_hi), (ood_lo, ood_hi) = cfg.data.id_magnitude_range, cfg.data.ood_magnitude_range
    if not (ood_lo > id_hi or ood_hi < id_lo):
        raise UserError(f"config key 'data.ood_magnitude_range' {list(cfg.data.ood_magnitude_range)} overlaps "
                        f"data.id_magnitude_range {list(cfg.data.id_magnitude_range)}; put it above {id_hi:g} "
                        f"or below {id_lo:g} (otherwise it is not out of distribution)")


def generate_units(cfg: Config) -> dict[str, list[dict]]:
    """All units splits: {split name: records}. Same seed, same records.

    >>> from fxlab.config import config_from_dict
    >>> cfg = config_from_dict({"task": "units", "paths": {"data_dir": "d", "results_dir": "r"},
    ...                         "data": {"train_size": 3, "val_size": 1, "test_size": 1}})
    >>> {split: len(records) for split, records in generate_units(cfg).items()}["train"]
    3
    """
    _check_ranges(cfg)
    d, plan, weights = cfg.data, plan_units(cfg), kind_weights(cfg)
    if "can_add" in weights and len(plan.kinds) < 2:
        raise UserError("can_add questions need at least two data.unit_types (or set include_can_add: false)")
    order = [  # val and tests first, so train can exclude their texts
        ("val", d.val_size, d.id_magnitude_range),
        ("test_id", d.test_size, d.id_magnitude_range),
        ("test_ood_magnitude", d.test_size, d.ood_magnitude_range),
        ("test_ood_types", d.test_size, d.id_magnitude_range),
        ("train", d.train_size, d.id_magnitude_range),
    ]
    seen: set[str] = set()
    out = {split: _draw_split(split, size, cfg.seed, magnitudes, plan, weights, seen)
           for split, size, magnitudes in order}
    return {split: out[split] for split in SPLITS}
