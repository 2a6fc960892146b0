"""Smoke runs of the benchmark scripts: they run, and their result files hold what they printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_bench_row_cache_sweeps_the_sizes_and_counts_hits(tmp_path):
    pytest.importorskip("torch")
    data = tmp_path / "texts.jsonl"
    # 10 distinct numbers, each repeated: a 16-row cache holds them all, a 2-row cache thrashes
    data.write_text("".join(json.dumps({"text": f"What is {i % 5} + {i % 5 + 100}?"}) + "\n" for i in range(200)))
    out = subprocess.run([sys.executable, str(BENCH / "bench_row_cache.py"), str(data), "--sizes", "2", "16",
                          "--rounds", "3", "--results-dir", str(tmp_path)], capture_output=True, text=True, check=True)
    (result,) = tmp_path.glob("bench_row_cache-*.json")
    rows = {r["size"]: r for r in json.loads(result.read_text())["results"]}
    assert rows[16]["hit_rate"] == pytest.approx(1 - 10 / 400)  # 10 distinct values, 400 numbers
    assert rows[2]["hit_rate"] == 0.0  # each text brings 2 new values: LRU over a cycle of 10
    assert all(len(r["runs"]) == 3 and r["min"] <= r["median"] <= r["max"] for r in rows.values())
    assert "| 16 |" in out.stdout


@pytest.mark.parametrize("content, message", [("{\"text\": \"1 + 2\"}\n{bad\n", "texts.jsonl:2: not a JSON object"),
                                              ("", "holds no records")])
def test_bench_row_cache_refuses_bad_data_in_one_line(tmp_path, content, message):
    pytest.importorskip("torch")
    data = tmp_path / "texts.jsonl"
    data.write_text(content)
    out = subprocess.run([sys.executable, str(BENCH / "bench_row_cache.py"), str(data), "--results-dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.glob("bench_row_cache-*.json"))
