"""run_seeds.py (one config over several seeds: per-seed folders, aggregate table) and eval.py's figure."""

from __future__ import annotations

import json
import os
import statistics
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import eval as eval_script
import run_seeds
from fxlab import UserError
from fxlab.config import REPO_ROOT

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
UNITS_TINY = REPO_ROOT / "experiments" / "configs" / "units_tiny.yaml"


def split(em, n=40, **extra):
    return {"exact_match": em, "n": n, "n_correct": round(em * n), "median_rel_error": 1 - em, **extra}


def write_seeds(root, per_seed: dict):
    for seed, metrics in per_seed.items():
        (root / f"seed{seed}").mkdir(parents=True)
        (root / f"seed{seed}" / "metrics.json").write_text(json.dumps(metrics))


def aggregate_only(config, root, seeds, capsys):
    code = run_seeds.main([str(config), "--seeds", seeds, "--aggregate-only",
                           "--set", f"paths.results_dir={root}", "--set", f"paths.data_dir={root / 'data'}"])
    return code, capsys.readouterr().out


def test_parse_seeds():
    assert run_seeds.parse_seeds("42,43,44") == [42, 43, 44]
    assert run_seeds.parse_seeds("7") == [7]
    for bad in ("", "42,x", "42,42", "4.5"):
        with pytest.raises(UserError, match="--seeds"):
            run_seeds.parse_seeds(bad)


def test_aggregate_of_synthetic_metrics_files(tmp_path, capsys):
    # Hand-chosen rates whose mean and range are exact in binary: 0.25, 0.5, 0.75 -> 50.0 (25.0-75.0).
    per_seed = {
        42: {"token_only": {"test_id": split(0.25), "test_ood_length": split(0.0)},
             "hybrid": {"test_id": split(1.0), "test_ood_length": split(0.5)}},
        43: {"token_only": {"test_id": split(0.5), "test_ood_length": split(0.125)},
             "hybrid": {"test_id": split(1.0), "test_ood_length": split(0.75)}},
        44: {"token_only": {"test_id": split(0.75), "test_ood_length": split(0.125)},
             "hybrid": {"test_id": split(1.0)}},  # one cell missing in one seed: shown, with its count
    }
    write_seeds(tmp_path, per_seed)
    code, out = aggregate_only(TINY, tmp_path, "42,43,44", capsys)
    assert code == 0
    doc = json.loads((tmp_path / "aggregate.json").read_text())
    assert doc["seeds"] == [42, 43, 44] and doc["task"] == "arithmetic"
    assert doc["per_seed"] == {str(s): m for s, m in per_seed.items()}  # the per-seed numbers are kept
    cell = doc["aggregate"]["token_only"]["test_id"]["exact_match"]
    assert cell == {"mean": 0.5, "min": 0.25, "max": 0.75, "n_seeds": 3}
    ood = doc["aggregate"]["token_only"]["test_ood_length"]["exact_match"]
    assert Fraction(ood["mean"]).limit_denominator(1000) == Fraction(1, 12) and ood["max"] == 0.125
    assert doc["aggregate"]["hybrid"]["test_ood_length"]["exact_match"]["n_seeds"] == 2
    table = (tmp_path / "aggregate.txt").read_text()
    assert table.strip() in out
    lines = table.splitlines()
    assert lines[0] == "=== Arithmetic Evaluation, seeds 42, 43, 44 ==="
    id_row = next(line for line in lines if line.startswith("ID Test"))
    assert id_row.split() == ["ID", "Test", "50.0", "(25.0-75.0)", "100.0", "(100.0-100.0)"]
    ood_row = next(line for line in lines if line.startswith("OOD-B (length)"))
    assert "8.3 (0.0-12.5)" in ood_row and "62.5 (50.0-75.0) [2/3]" in ood_row
    assert "Median relative error (mean, min-max)" in table and "Exact match per seed, %:" in table


def test_units_aggregate_has_the_units_sections(tmp_path, capsys):
    extra = {"dimensional_correctness": 0.5, "boolean_accuracy": 1.0}
    write_seeds(tmp_path, {1: {"hybrid": {"test_ood_types": split(0.5, **extra)}},
                           2: {"hybrid": {"test_ood_types": split(1.0, **extra)}}})
    code, out = aggregate_only(UNITS_TINY, tmp_path, "1,2", capsys)
    assert code == 0
    assert "=== Units Evaluation, seeds 1, 2 ===" in out and "OOD types" in out
    assert "Dimensional correctness" in out and "Boolean accuracy" in out and "75.0 (50.0-100.0)" in out


def test_wide_cells_keep_the_columns_apart():
    per_seed = {s: {"xval": {"test_id": split(0.5, median_rel_error=e)}, "hybrid": {"test_id": split(1.0)}}
                for s, e in ((1, 1.23e7), (2, 4.97e6))}
    table = run_seeds.format_aggregate(run_seeds.aggregate(per_seed), "units", [1, 2])
    row = table.splitlines()[table.splitlines().index("Median relative error (mean, min-max)") + 2]
    assert row.split("  ")[0] == "ID Test" and "8.64e+06 (4.97e+06-1.23e+07)  " in row and row.endswith("0 (0-0)")


def test_aggregate_of_a_missing_seed_is_a_one_line_error(tmp_path, capsys):
    write_seeds(tmp_path, {42: {"hybrid": {"test_id": split(1.0)}}})
    with pytest.raises(SystemExit) as exc:
        run_seeds.main([str(TINY), "--seeds", "42,43", "--aggregate-only", "--set", f"paths.results_dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err and "seed43" in err and "run seed 43 first" in err


@pytest.mark.parametrize("bad", [{"xval": {"test_id": "oops"}}, {"hybrid": {"test_id": {**split(1.0), "n": "40"}}},
                                 {"hybrid": {"test_id": {**split(1.0), "exact_match": None}}}, [1, 2]])
def test_aggregate_of_a_bad_seed_metrics_file_is_a_one_line_error(tmp_path, capsys, bad):
    write_seeds(tmp_path, {42: {"hybrid": {"test_id": split(1.0)}}, 43: bad})
    with pytest.raises(SystemExit) as exc:
        aggregate_only(TINY, tmp_path, "42,43", capsys)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err, err
    assert f"{tmp_path / 'seed43' / 'metrics.json'} is not a metrics file of eval.py: " in err
    assert err.endswith("run eval.py for seed 43 again") and not (tmp_path / "aggregate.json").exists()


@pytest.mark.parametrize("value, decade", [(0, 0), (1, 0), (9, 0), (10, 1), (999, 2), (1000, 3), (99999, 4),
                                           (0.01, -2), (0.0099, -3), (1.0e12, 12), (-40, 1)])
def test_decade(value, decade):
    assert eval_script._decade(value) == decade


@given(st.integers(min_value=1, max_value=10**30))
def test_decade_of_an_integer_is_its_digit_count_minus_one(n):
    assert eval_script._decade(n) == len(str(n)) - 1 == eval_script._decade(-n)


def test_plot_fields_of_each_task():
    arith = {"operands": [12, 7, 3000], "n_ops": 2}
    assert eval_script.plot_fields(arith) == {"magnitude_decade": 3}
    units = [({"kind": "convert", "units": ["km", "mi"], "values": [3.5]}, "length", 0),
             ({"kind": "can_add", "units": ["kg", "lb"], "values": [3.0, 2.0e8]}, "mass", 8),
             ({"kind": "combine", "units": ["mi/min", "s"], "values": [0.05, 2.0]}, "velocity", 0),
             ({"kind": "convert", "units": ["degC", "degF"], "values": [-40.0]}, "temperature", 1)]
    for record, unit_kind, decade in units:
        assert eval_script.plot_fields(record) == {"magnitude_decade": decade, "kind": record["kind"],
                                                   "unit_kind": unit_kind}
    assert eval_script.plot_fields({"module": "mul", "n_ops": 1}) == {"module": "mul"}


def test_each_task_gets_its_own_panels(tmp_path):
    pytest.importorskip("matplotlib")
    arith = [{"n_ops": k, "magnitude_decade": d, "correct": d < 2} for k in (1, 2, 3) for d in (0, 1, 4)]
    units = [{"n_ops": 1, "magnitude_decade": d, "kind": k, "unit_kind": u, "correct": k == "convert"}
             for d in (-2, 9) for k in ("convert", "combine", "can_add") for u in ("length", "mass")]
    mathds = [{"n_ops": k, "module": m, "correct": k == 1} for k in (1, 2) for m in ("add_or_sub", "mul", "div")]
    expect = {"arithmetic": (arith, ["magnitude_decade", "n_ops"]),
              "units": (units, ["magnitude_decade", "unit_kind", "kind"]),  # not n_ops: it is always 1
              "mathds": (mathds, ["n_ops", "module"])}
    for task, (rows, fields) in expect.items():
        panels, _ = eval_script.plot_panels({"token_only": rows, "hybrid": rows})
        assert [p[0] for p in panels] == fields
        saved = eval_script.save_plots({"token_only": {"test_id": rows}, "xval": {"test_id": rows[::-1]},
                                        "hybrid": {"test_id": rows}}, tmp_path / task, title=task)
        assert saved == [tmp_path / task / "exact_match.png"]
        assert saved[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_old_prediction_rows_plot_by_operand_digits():
    # rows written before magnitude_decade existed: digits of the largest operand, minus one
    panels, _ = eval_script.plot_panels({"m": [{"max_operand_digits": d, "correct": True} for d in (1, 5)]})
    assert panels == [("magnitude_decade", eval_script.PLOT_PANELS[0][1], "log", [0, 4])]


@pytest.mark.slow
def test_two_seeds_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYTHON", sys.executable)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    code = run_seeds.main([str(TINY), "--seeds", "3,4", "--set", f"paths.data_dir={tmp_path / 'data'}",
                           "--set", f"paths.results_dir={tmp_path / 'results'}"])
    out = capsys.readouterr().out
    assert code == 0 and "=== Arithmetic Evaluation, seeds 3, 4 ===" in out
    results = tmp_path / "results"
    per_seed = {s: json.loads((results / f"seed{s}" / "metrics.json").read_text()) for s in (3, 4)}
    # the data depend on the seed: each seed has its own folder and its own records
    train = [(tmp_path / "data" / f"seed{s}" / "train.jsonl").read_bytes() for s in (3, 4)]
    assert train[0] != train[1]
    assert json.loads((results / "seed3" / "token_only" / "config.json").read_text())["config"]["seed"] == 3
    doc = json.loads((results / "aggregate.json").read_text())
    for model in ("token_only", "xval", "hybrid"):
        for split_name in ("test_id", "test_ood_magnitude", "test_ood_length"):
            ems = [per_seed[s][model][split_name]["exact_match"] for s in (3, 4)]
            cell = doc["aggregate"][model][split_name]["exact_match"]
            assert cell == {"mean": statistics.fmean(ems), "min": min(ems), "max": max(ems), "n_seeds": 2}
    assert os.path.isfile(results / "aggregate.txt")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (results / "plots" / "exact_match.png").is_file()
    assert (results / "seed3" / "plots" / "exact_match.png").is_file()


@pytest.mark.parametrize("hits", [0, 1, 3, 7, 10, 49, 50])
def test_figure_at_0_and_100_percent(tmp_path, hits):
    # Wilson bounds at p = 0 or 1 can differ from the rate by float rounding; error bars must not fail on it
    pytest.importorskip("matplotlib")
    rows = [{"magnitude_decade": d, "kind": k, "correct": i < hits}
            for d in (0, 4) for k in ("convert", "combine") for i in range(hits or 5)]
    rows += [{"magnitude_decade": 9, "kind": "can_add", "correct": True}] * hits  # a lone decade: an error bar
    assert eval_script.save_plots({"hybrid": {"test_id": rows}}, tmp_path) == [tmp_path / "exact_match.png"]


def test_a_failing_seed_stops_with_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYTHON", "false")  # every pipeline step exits 1 at once
    with pytest.raises(SystemExit) as exc:
        run_seeds.main([str(TINY), "--seeds", "3,4", "--set", f"paths.data_dir={tmp_path / 'data'}",
                        "--set", f"paths.results_dir={tmp_path / 'results'}"])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert exc.value.code == 2 and err.startswith("run_seeds.py: error: seed 3 failed (exit 1)")
    assert "==> seed 4" not in captured.out and not (tmp_path / "results" / "aggregate.json").exists()
