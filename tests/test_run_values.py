"""run_values.py (the reading-values study): run planning, skip-if-complete, the table and the gap bins, on
small fake metrics.json / prediction files; nothing is trained."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import run_values as rv
from fxlab import UserError
from fxlab.config import REPO_ROOT

SCRIPT = REPO_ROOT / "experiments" / "scripts" / "run_values.py"


def summary(em: float, n: int = 100) -> dict:
    return {"exact_match": em, "n": n, "n_correct": round(em * n)}


def write_metrics(root, seed: int, splits: dict) -> None:
    """<root>/seed<N>/metrics.json holding the hybrid's {split: summary}."""
    (root / f"seed{seed}").mkdir(parents=True, exist_ok=True)
    (root / f"seed{seed}" / "metrics.json").write_text(json.dumps({"hybrid": splits}))


def write_predictions(root, seed: int, split: str, rows: list[tuple[str, bool]]) -> None:
    folder = root / f"seed{seed}" / "predictions" / "hybrid"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(
        json.dumps({"id": f"{split}-{i}", "text": t, "target": "x", "prediction": "x" if c else "y", "correct": c})
        + "\n" for i, (t, c) in enumerate(rows)))


def test_help_works():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    assert "--embeddings" in out and "--report-only" in out and "--reference" in out


def test_parse_embeddings():
    assert rv.parse_embeddings("fluxem, hidden") == ["fluxem", "hidden"]
    for bad in ("bogus", "fluxem,fluxem", ""):
        with pytest.raises(UserError, match="--embeddings"):
            rv.parse_embeddings(bad)


def test_plan_runs_folders_and_overrides():
    runs = rv.plan_runs(["executor", "fone"], [1, 2], "res/v", "data/v/")
    assert [(r.row, r.seed) for r in runs] == [("executor", 1), ("fone", 1), ("executor", 2), ("fone", 2)]
    assert runs[0].results_dir == "res/v_executor/seed1" and runs[0].data_dir == "data/v/seed1"
    ref, fone = runs[0].overrides(), runs[1].overrides()
    assert "model.slot_embedding=fluxem" in ref and "model.value_readout=executor" in ref
    assert "model.slot_embedding=fone" in fone and not any("value_readout" in x for x in fone)
    assert "paths.results_dir=res/v_fone/seed1" in fone and "paths.data_dir=data/v/seed1" in fone


def test_run_complete_needs_every_split(tmp_path):
    splits = ["comparison__pair", "comparison__pair_close"]
    assert not rv.run_complete(tmp_path / "seed1", splits)  # no metrics.json
    write_metrics(tmp_path, 1, {"comparison__pair": summary(1.0)})
    assert not rv.run_complete(tmp_path / "seed1", splits)  # a split missing: run it again
    write_metrics(tmp_path, 1, {s: summary(1.0) for s in splits})
    assert rv.run_complete(tmp_path / "seed1", splits)
    (tmp_path / "seed1" / "metrics.json").write_text("{not json")
    assert not rv.run_complete(tmp_path / "seed1", splits)  # eval.py will say what is wrong with it


def test_split_files(tmp_path):
    with pytest.raises(UserError, match="make_values_splits"):
        rv.split_files(tmp_path / "absent")
    with pytest.raises(UserError, match="make_values_splits"):
        rv.split_files(tmp_path)
    for name in ("b.txt", "a.jsonl", "notes.md"):
        (tmp_path / name).write_text("x\n")
    assert [p.name for p in rv.split_files(tmp_path)] == ["a.jsonl", "b.txt"]


def test_table_means_min_max_pooled_and_missing(tmp_path):
    interp = rv.GROUPS[0][2]
    per_seed = {
        1: {interp["pair"]: summary(1.0, 100), interp["closest"]: summary(0.5, 300),
            interp["kth_biggest"]: summary(0.0), interp["sort"]: summary(0.0)},
        2: {interp["pair"]: summary(0.9, 100), interp["closest"]: summary(0.7, 300),
            interp["kth_biggest"]: summary(0.0)},  # sort missing in seed 2
    }
    for seed, splits in per_seed.items():
        write_metrics(tmp_path / "v_fone", seed, splits)
    per_row = {"fone": rv.load_row_metrics(tmp_path / "v_fone", [1, 2, 3])}
    assert set(per_row["fone"]) == {1, 2}  # seed 3 has no folder
    table = rv.build_table(per_row)["fone"]
    pair = table["interpolate"]["pair"]
    assert pair["mean"] == pytest.approx(0.95) and (pair["min"], pair["max"], pair["n_seeds"]) == (0.9, 1.0, 2)
    assert table["interpolate"]["sort"]["n_seeds"] == 1
    # pooled over the questions of the four modules, only for seed 1 (seed 2 lacks sort): (100 + 150) / 600
    pooled = table["interpolate"][rv.POOLED]
    assert pooled["n_seeds"] == 1 and pooled["mean"] == pytest.approx(250 / 600)
    assert table["close"]["pair"] is None and table["close"][rv.POOLED] is None

    text = rv.format_table({"fone": table}, [1, 2])
    line = next(ln for ln in text.splitlines() if ln.startswith("fone") and "95.0" in ln)
    assert line.split()[:3] == ["fone", "95.0", "(90.0-100)"]
    close = text.splitlines()[text.splitlines().index(rv.GROUPS[-1][1]) + 2]
    assert close.split() == ["fone"] + [rv.MISSING] * 5  # missing splits are "—", never 0
    assert "0.0 (0.0-0.0)" not in close
    assert "* from fewer seeds" in text  # sort and pooled come from one seed of two


def test_format_cell():
    assert rv.format_cell(None, 3) == rv.MISSING
    assert rv.format_cell({"mean": 1.0, "min": 1.0, "max": 1.0, "n_seeds": 3}, 3) == "100 (100-100)"
    assert rv.format_cell({"mean": 0.0, "min": 0.0, "max": 0.0, "n_seeds": 3}, 3) == "0.0 (0.0-0.0)"
    assert rv.format_cell({"mean": 0.995, "min": 0.99, "max": 1.0, "n_seeds": 2}, 3).endswith("*")


def test_table_fits_110_columns():
    worst = {"mean": 0.999, "min": 0.985, "max": 0.995, "n_seeds": 2}  # '99.9 (98.5-99.5)*'
    table = {row: {g: {c: worst for c in [*cols, rv.POOLED]} for g, _, cols in rv.GROUPS}
             for row in ["executor", "fluxem", "fone", "xval", "digits", "hidden"]}
    text = rv.format_table(table, [42, 43, 44])
    assert "executor (reference)" in text
    assert max(len(line) for line in text.splitlines()) <= 110


def test_gap_bins():
    assert rv.gap_bin(0.0) == rv.EQUAL
    assert rv.gap_bin(1e-4) == "1e-4-1e-3"  # bins are [lo, hi)
    assert rv.gap_bin(0.02) == "0.01-0.03" and rv.gap_bin(2.0) == ">=1"
    assert rv.gap_bin(math.inf) is None and rv.gap_bin(math.nan) is None
    bins = rv.bin_records([(0.0, True), (0.5, True), (0.5, False), (0.6, True), (math.inf, True)])
    assert [(b["bin"], b["n"], b["n_correct"]) for b in bins] == [("equal", 1, 1), ("0.3-1", 3, 2)]
    assert bins[1]["exact_match"] == pytest.approx(2 / 3) and bins[1]["ci95"][0] < 2 / 3 < bins[1]["ci95"][1]


def test_gap_records_pool_seeds_and_splits(tmp_path):
    root = tmp_path / "v_hidden"
    write_predictions(root, 1, "comparison__pair", [("Which is bigger: 100 or 101?", True),
                                                    ("Is 5 equal to 5?", False)])
    write_predictions(root, 2, "comparison__pair_close", [("Which is bigger: 100 or 101?", False)])
    records = rv.load_gap_records(root, [1, 2, 3])
    assert sorted(records) == [(0.0, False), (pytest.approx(1 / 101), False), (pytest.approx(1 / 101), True)]


def test_write_report_end_to_end(tmp_path):
    """Fake seed folders for two rows -> values_table.txt/.json (and the figure when matplotlib is there)."""
    base = str(tmp_path / "res" / "vs")
    texts = [(f"Which is bigger: {1000 + i} or {1000 + i + 1}?", i % 2 == 0) for i in range(12)]  # gap ~1e-3
    for row, em in (("executor", 1.0), ("hidden", 0.5)):
        for seed in (1, 2):
            write_metrics(tmp_path / "res" / f"vs_{row}", seed,
                          {s: summary(em) for _, _, cols in rv.GROUPS for s in cols.values()})
            write_predictions(tmp_path / "res" / f"vs_{row}", seed, "comparison__pair", texts)
    text = rv.write_report(base, ["executor", "hidden"], [1, 2, 3], title="t")
    out = tmp_path / "res" / "vs_values"
    assert (out / "values_table.txt").read_text().strip() in text
    doc = json.loads((out / "values_table.json").read_text())
    assert doc["row_labels"]["executor"] == "executor (reference)"
    assert doc["missing_runs"] == ["executor seed 3", "hidden seed 3"]
    assert doc["table"]["hidden"]["close"]["pooled"]["mean"] == 0.5
    assert doc["table"]["hidden"]["close"]["pooled"]["n_seeds"] == 2
    assert [(b["bin"], b["n"]) for b in doc["gap_bins"]["rows"]["hidden"]] == [("1e-4-1e-3", 24)]
    lines = text.splitlines()
    assert lines.index(next(ln for ln in lines if ln.startswith("executor (reference)"))) < \
        lines.index(next(ln for ln in lines if ln.startswith("hidden")))
    pytest.importorskip("matplotlib")
    assert (out / "accuracy_vs_gap.png").stat().st_size > 0


def test_report_only_on_empty_folders(tmp_path, capsys):
    code = rv.main(["--config", str(REPO_ROOT / "experiments" / "configs" / "values_small.yaml"),
                    "--embeddings", "hidden", "--seeds", "1", "--report-only",
                    "--set", f"paths.results_dir={tmp_path / 'r'}", "--set", f"paths.data_dir={tmp_path / 'd'}"])
    out = capsys.readouterr().out
    assert code == 0 and "no metrics.json for hidden seed 1" in out
    assert (tmp_path / "r_values" / "values_table.json").is_file()
