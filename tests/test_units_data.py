"""Units data generation (docs/design.md §4.2): determinism, targets against pint, held-out disjointness.

The targets come from fluxem's exact registry; pint (an independent registry) checks them here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import pytest

from fluxem import detect_spans, format_value, parse_unit, parse_value
from fxlab import UserError
from fxlab.config import config_from_dict, load_config
from fxlab.data import jsonl_bytes
from fxlab.tasks.units_data import (
    DEFAULT_KINDS,
    EXTRA_COMPOUNDS,
    SPLITS,
    combine_target,
    convert_target,
    generate_units,
    held_out,
)

CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
ID_SPLITS = ("train", "val", "test_id", "test_ood_magnitude")


def units_config(seed: int = 42, **data):
    raw = {
        "task": "units", "seed": seed,
        "data": {"train_size": 600, "val_size": 100, "test_size": 100, "id_magnitude_range": [0.01, 1000],
                 "ood_magnitude_range": [1.0e6, 1.0e12], **data},
        "paths": {"data_dir": "experiments/data/units_test", "results_dir": "experiments/results/units_test"},
    }
    return config_from_dict(raw)


@lru_cache(maxsize=None)
def small():
    """The units_small dataset (2000 train, 200 val, 200 per test split) and its config."""
    cfg = load_config(CONFIGS / "units_small.yaml")
    return cfg, generate_units(cfg)


def all_records():
    return [r for records in small()[1].values() for r in records]


def split_target(target: str) -> tuple[float, str]:
    value, _, unit = target.partition(" ")
    return parse_value(value), unit


# ----------------------------------------------------------------------------- determinism and shape


def test_same_seed_gives_identical_bytes_and_other_seed_differs():
    a, b, c = generate_units(units_config(7)), generate_units(units_config(7)), generate_units(units_config(8))
    assert list(a) == list(SPLITS)
    for split in SPLITS:
        assert jsonl_bytes(a[split]) == jsonl_bytes(b[split])
        assert jsonl_bytes(a[split]) != jsonl_bytes(c[split])


@pytest.mark.parametrize("name", ["units_tiny", "units_small", "units_full"])
def test_configs_load(name):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.task == "units"
    assert cfg.data.ood_magnitude_range[0] > cfg.data.id_magnitude_range[1]


def test_units_full_keeps_the_specified_values():
    cfg = load_config(CONFIGS / "units_full.yaml")
    assert (cfg.seed, cfg.data.train_size, cfg.data.test_size, cfg.data.include_can_add) == (42, 5000, 500, True)
    assert cfg.data.unit_types == ["length", "mass", "time", "temperature", "velocity"]
    assert (cfg.model.hidden_dim, cfg.model.num_layers, cfg.model.num_heads, cfg.model.dropout) == (256, 3, 8, 0.1)
    assert (cfg.training.epochs, cfg.training.batch_size, cfg.training.learning_rate) == (30, 64, 0.0005)
    assert (cfg.paths.data_dir, cfg.paths.results_dir) == ("experiments/data/units", "experiments/results/units")


def test_split_sizes_and_unique_texts():
    cfg, data = small()
    sizes = {"train": cfg.data.train_size, "val": cfg.data.val_size}
    for split, records in data.items():
        assert len(records) == sizes.get(split, cfg.data.test_size)
        assert all(r["split"] == split and r["task"] == "units" and r["n_ops"] == 1 for r in records)
        assert len({r["id"] for r in records}) == len(records)
    texts = [r["text"] for r in all_records()]
    assert len(set(texts)) == len(texts)  # so in particular no val or test text is in train


def test_kind_proportions_follow_the_weights():
    cfg, data = small()
    for split in ID_SPLITS:
        counts = Counter(r["kind"] for r in data[split])
        for kind, weight in DEFAULT_KINDS.items():
            assert abs(counts[kind] / len(data[split]) - weight) < 0.02, (split, counts)
        booleans = Counter(r["target"] for r in data[split] if r["kind"] == "can_add")
        assert abs(booleans["true"] - booleans["false"]) <= 1
    ood = Counter(r["kind"] for r in data["test_ood_types"])
    assert set(ood) == {"convert", "combine"} and ood["convert"] > 2 * ood["combine"]


def test_include_can_add_false_and_bad_kinds():
    data = generate_units(units_config(include_can_add=False))
    assert not any(r["kind"] == "can_add" for records in data.values() for r in records)
    with pytest.raises(UserError, match="data.kinds"):
        generate_units(units_config(kinds={"convert": 1.0, "divide": 1.0}))
    with pytest.raises(UserError, match="unit_types"):
        generate_units(units_config(unit_types=["length", "money"]))


def test_magnitudes_and_signs():
    cfg, data = small()
    for split, records in data.items():
        lo, hi = cfg.data.ood_magnitude_range if split == "test_ood_magnitude" else cfg.data.id_magnitude_range
        for r in records:
            for value, unit in zip(r["values"], r["units"]):
                assert lo * (1 - 1e-5) <= abs(value) <= hi * (1 + 1e-5), r
                if value < 0:
                    assert parse_unit(unit).is_offset and parse_unit(unit).to_si(value) > 0, r
    assert any(v < 0 for r in all_records() for v in r["values"])  # -40 degC style items exist


@pytest.mark.parametrize(
    "ood, message",
    [([0.1, 10], "overlaps"), ([0.001, 0.02], "overlaps"), ([1000, 1e6], "overlaps"),
     ([1e300, 1e308], "within"), ([1e6, 1e101], "within"), ([1e-120, 1e-110], "within"),
     ([10, 1], "0 < lo < hi"), (["a", 5], "int or float"), ([1e6], "0 < lo < hi")],
)  # fmt: skip
def test_bad_ood_magnitude_ranges_are_one_line_user_errors(ood, message):
    with pytest.raises(UserError, match=message) as info:
        generate_units(units_config(ood_magnitude_range=ood, train_size=5, val_size=2, test_size=2))
    assert "\n" not in str(info.value) and "ood_magnitude_range" in str(info.value)


def test_ood_ranges_below_id_and_at_the_bounds_are_accepted():
    for ood in ([1e-6, 1e-3], [1e90, 1e100]):
        data = generate_units(units_config(ood_magnitude_range=ood, train_size=5, val_size=2, test_size=20))
        assert len(data["test_ood_magnitude"]) == 20
    with pytest.raises(UserError, match="id_magnitude_range.*within"):
        generate_units(units_config(id_magnitude_range=[1e-200, 1]))


def test_generate_data_script_exits_2_on_overlapping_ranges(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "experiments/scripts/generate_data.py"), "--config",
           str(CONFIGS / "units_tiny.yaml"), "--set", f"paths.data_dir={tmp_path / 'd'}",
           "--set", "data.ood_magnitude_range=[1e300, 1e308]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "ood_magnitude_range" in proc.stderr


def test_targets_round_the_exact_value_of_the_shown_text():
    assert convert_target(0.391325, "in", "mm") == "9.93966 mm"  # 9.939655 exactly: a six-digit tie
    assert convert_target(32.0, "degF", "degC") == "0 degC"
    assert convert_target(0.0, "degC", "degF") == "32 degF"
    assert convert_target(98.6, "degF", "degC") == "37 degC"
    # 2.00011 * 0.5 = 1.000055 exactly, a tie (half to even: up); the float product lies below it
    assert float(Fraction("2.00011") * Fraction("0.5")) < Fraction("1.000055")
    assert combine_target(2.00011, "m", "*", 0.5, "s") == "1.00006 m*s"


def test_every_target_is_the_rounded_exact_answer():
    from fluxem.units import convert_exact

    for r in all_records():
        if r["kind"] == "convert":
            value = Fraction(r["text"].split()[1])  # the decimal as the text shows it
            exact = convert_exact(value, r["units"][0], r["units"][1])
            assert r["target"] == f"{format_value(exact)} {r['units'][1]}"


# ----------------------------------------------------------------------------- spans and roles


def test_detect_spans_finds_one_span_per_role():
    expected = {"convert": ("quantity", "unit"), "can_add": ("quantity", "quantity"),
                "combine": ("quantity", "quantity")}
    for r in all_records():
        spans = detect_spans(r["text"])
        assert len(spans) == len(r["roles"]), r
        assert tuple(s.kind for s in spans) == expected[r["kind"]], r
        assert [s.unit for s in spans] == r["units"], r


def test_roles_and_answer_types():
    for r in all_records():
        if r["kind"] == "convert":
            assert (r["roles"], r["answer_type"]) == (["+", "to"], "quantity")
            assert r["target"].endswith(" " + r["units"][1])
        elif r["kind"] == "can_add":
            assert (r["roles"], r["answer_type"]) == (["cmp", "cmp"], "boolean")
            assert r["target"] in ("true", "false")
        else:
            op = r["roles"][1]
            assert r["roles"][0] == "+" and op in ("*", "/") and f" {op} " in r["text"], r
            assert r["answer_type"] == "quantity"
            assert not any(parse_unit(u).is_offset for u in r["units"])


def test_examples_from_the_spec():
    assert convert_target(3.5, "km", "m") == "3500 m"
    assert convert_target(100.0, "degC", "degF") == "212 degF"
    assert convert_target(-40.0, "degC", "degF") == "-40 degF"
    assert combine_target(12.0, "m", "/", 3.0, "s") == "4 m/s"
    assert combine_target(5.0, "m/s", "*", 3.0, "s") == "15 m"
    with pytest.raises(ValueError):
        combine_target(6.0, "m", "/", 2.0, "km")


# ----------------------------------------------------------------------------- targets against pint


@pytest.fixture(scope="module")
def ureg():
    pint = pytest.importorskip("pint")
    return pint.UnitRegistry()


def test_convert_targets_match_pint(ureg):
    records = [r for r in all_records() if r["kind"] == "convert"]
    assert len(records) > 1000
    for r in records:
        value, unit = split_target(r["target"])
        assert unit == r["units"][1]
        shown = parse_value(r["text"].split()[1])  # the value as the text shows it
        expected = ureg.Quantity(shown, r["units"][0]).to(r["units"][1]).magnitude
        assert math.isclose(value, expected, rel_tol=1e-5), (r["text"], r["target"], expected)


def test_combine_targets_match_pint(ureg):
    records = [r for r in all_records() if r["kind"] == "combine"]
    assert len(records) > 300
    for r in records:
        v1, u1, op, v2, u2 = r["text"].split()
        q1, q2 = ureg.Quantity(parse_value(v1), u1), ureg.Quantity(parse_value(v2), u2)
        result = (q1 * q2 if op == "*" else q1 / q2).to_base_units()
        value, unit = split_target(r["target"])
        assert math.isclose(value, result.magnitude, rel_tol=1e-5), (r["text"], r["target"], result)
        assert ureg.Quantity(1, unit).dimensionality == result.dimensionality, (r["text"], r["target"])
        assert ureg.Quantity(1, unit).to_base_units().magnitude == pytest.approx(1.0)  # coherent SI unit
        assert not result.dimensionless


def test_can_add_targets_match_pint(ureg):
    records = [r for r in all_records() if r["kind"] == "can_add"]
    assert len(records) > 300
    for r in records:
        u1, u2 = r["units"]
        same = ureg.Quantity(1, u1).dimensionality == ureg.Quantity(1, u2).dimensionality
        assert r["target"] == ("true" if same else "false"), r["text"]


# ----------------------------------------------------------------------------- held-out unit combinations


def _unit_in_text(unit: str, text: str) -> bool:
    """`unit` as a whole unit token ("m/h" does not occur in "5 km/h")."""
    return re.search(rf"(?<![\w/]){re.escape(unit)}(?![\w/])", text) is not None


def test_held_out_partition_depends_on_the_seed():
    a, b = held_out(units_config(1)), held_out(units_config(2))
    assert a == held_out(units_config(1))
    assert a != b
    assert a.units <= set(EXTRA_COMPOUNDS) and len(a.units) == 5
    assert all((v, u) in a.pairs for u, v in a.pairs)  # both directions
    assert not any(u in a.units or v in a.units for u, v in a.pairs)


def test_ood_types_pairs_never_seen_in_id_splits():
    cfg, data = small()
    held = held_out(cfg)
    ood_pairs = {tuple(r["units"]) for r in data["test_ood_types"] if r["kind"] == "convert"}
    assert ood_pairs
    seen = {tuple(r["units"]) for split in ("train", "val", "test_id") for r in data[split]
            if r["kind"] == "convert"}
    assert not ood_pairs & seen
    assert not ood_pairs & {(v, u) for u, v in seen}  # not even the reverse direction
    for split in ID_SPLITS:  # no ID record of any kind uses a held-out combination
        assert not any(held.touches(*r["units"]) for r in data[split]), split
    assert all(held.touches(*r["units"]) for r in data["test_ood_types"])
    reasons = Counter(r["held_out"] for r in data["test_ood_types"])
    assert reasons["pair"] > 0 and reasons["unit"] > 0


def test_held_out_compound_units_appear_in_no_train_text():
    cfg, data = small()
    held = held_out(cfg)
    for r in data["train"]:
        assert not any(_unit_in_text(u, r["text"]) or _unit_in_text(u, r["target"]) for u in held.units), r
        assert not {s.unit for s in detect_spans(r["text"])} & held.units
    used = {u for r in data["test_ood_types"] for u in r["units"]}
    assert held.units <= used  # each held-out compound is actually tested
    assert _unit_in_text("m/h", "convert 5 m/h to ft/s") and not _unit_in_text("m/h", "convert 5 km/h to m/s")
