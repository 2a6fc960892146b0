"""run_all_experiments.sh: the whole tiny pipeline, then `--resume` after it finished, after damage, and
after a stop at each stage."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import script_args

import generate_data
import train_token_only
from fxlab.train import loop
from fxlab.config import REPO_ROOT

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
SCRIPT = REPO_ROOT / "experiments" / "scripts" / "run_all_experiments.sh"
MODELS = ("token_only", "xval", "hybrid")

pytestmark = pytest.mark.usefixtures("one_thread")


def run_all(root: Path, *extra: str) -> subprocess.CompletedProcess:
    """The runner on the tiny config with data and results under `root`; `extra` goes after the config."""
    args = [str(a) for a in script_args(TINY, root)[1:]]  # the flags without "--config"
    return subprocess.run(["bash", str(SCRIPT), args[0], *extra, *args[1:]], cwd=REPO_ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=300)


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """{path: (sha256, mtime_ns)} of the data and of every checkpoint file."""
    files = [p for d in (root / "data", *(root / "results" / m for m in MODELS)) for p in d.iterdir()
             if p.suffix in (".pt", ".json", ".jsonl")]  # checkpoints and data files only
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in files}


def weights(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One whole run of the tiny pipeline."""
    root = tmp_path_factory.mktemp("run_all")
    done = run_all(root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all((root / "results" / m / "best.pt").is_file() for m in MODELS)
    return root


def copy_of(finished: Path, tmp_path: Path) -> Path:
    root = tmp_path / "run"
    shutil.copytree(finished, root)
    return root


def test_resume_after_a_finished_run_retrains_nothing_and_evaluates(finished, tmp_path):
    root = copy_of(finished, tmp_path)
    before = snapshot(root)
    metrics = root / "results" / "metrics.json"
    metrics.unlink()
    done = run_all(root, "--resume", "--seed", "0")  # flags after --resume still reach every script
    assert done.returncode == 0, done.stderr[-2000:]
    assert snapshot(root) == before  # no byte and no mtime changed: nothing regenerated or retrained
    assert "==> keeping the data" in done.stdout
    for script in ("train_token_only.py", "train_xval.py", "train_hybrid.py"):
        assert f"==> skipping {script}: " in done.stdout
    assert "=== Arithmetic Evaluation ===" in done.stdout and metrics.is_file()


@pytest.mark.slow
def test_resume_continues_an_interrupted_model_and_retrains_a_damaged_one(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    results = root / "results"
    for name in ("best.pt", "best.json"):
        (results / "hybrid" / name).unlink()
    shutil.rmtree(results / "token_only")  # then train token_only again, stopped by Ctrl-C in epoch 2
    real_epoch = loop.run_epoch

    def ctrl_c_in_epoch_2(model, opt, records, cfg, epoch, *rest):
        if epoch == 1:
            raise KeyboardInterrupt
        return real_epoch(model, opt, records, cfg, epoch, *rest)

    monkeypatch.setattr(loop, "run_epoch", ctrl_c_in_epoch_2)
    with pytest.raises(SystemExit) as e:
        train_token_only.main(script_args(TINY, root))
    assert e.value.code == 130
    monkeypatch.undo()
    (root / "data" / "manifest.json").unlink()  # as if generation had stopped before its manifest
    xval_before = {k: v for k, v in snapshot(root).items() if k.startswith("results/xval/")}

    done = run_all(root, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "==> generating the data: " in out and (root / "data" / "manifest.json").is_file()
    assert "[token_only] resuming after epoch 1" in out
    assert "==> skipping train_xval.py: " in out
    assert "best.pt/best.json is missing or damaged" in out and "[hybrid] epoch 2/2" in out
    assert "=== Arithmetic Evaluation ===" in out
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k.startswith("results/xval/")} == xval_before
    assert after["data/train.jsonl"][0] == snapshot(finished)["data/train.jsonl"][0]  # the same seed, the same bytes
    for model in ("token_only", "hybrid"):  # resumed / retrained: the weights of the uninterrupted run
        assert same_weights(results / model / "best.pt", finished / "results" / model / "best.pt"), model


@pytest.mark.slow
def test_resume_after_a_stop_following_the_data_trains_every_model(tmp_path):
    assert generate_data.main(script_args(TINY, tmp_path)) == 0
    data = sorted((tmp_path / "data").glob("*.json*"))
    before = [p.stat().st_mtime_ns for p in data]
    done = run_all(tmp_path, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "==> keeping the data" in done.stdout
    assert [p.stat().st_mtime_ns for p in data] == before and len(data) == 6
    for model in MODELS:
        assert f"[{model}] nothing to resume" in done.stdout and (tmp_path / "results" / model / "best.pt").is_file()
    assert "=== Arithmetic Evaluation ===" in done.stdout


def test_resume_with_a_bad_flag_is_one_line_exit_2(tmp_path):
    done = run_all(tmp_path, "--resume", "--set", "training.nope=1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("run_all_experiments.sh: error: --set training.nope=1: unknown config key")
