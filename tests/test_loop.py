"""The training loop: determinism, exact resume after Ctrl-C, atomic two-part checkpoints, early stopping."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

import train_token_only
from fxlab import UserError, loop
from fxlab.config import REPO_ROOT, load_config
from fxlab.data import generate, write_dataset
from fxlab.models import MODELS, build_model

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    cfg = load_config(TINY, {"paths.data_dir": str(out)})
    write_dataset(cfg, generate(cfg), out)
    return out


def tiny(data_dir, results, **overrides):
    return load_config(TINY, {"paths.data_dir": str(data_dir), "paths.results_dir": str(results),
                              "training.epochs": 3, **overrides})


def rows_without_time(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds")
    return rows


def tensors(path):
    return torch.load(path, weights_only=True)


def assert_same_tensors(a, b):
    flat_a, flat_b = _flatten(a), _flatten(b)
    assert flat_a.keys() == flat_b.keys()
    for key in flat_a:
        assert torch.equal(flat_a[key], flat_b[key]), key


def _flatten(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else []
    out = {}
    for k, v in items:
        out.update(_flatten(v, f"{prefix}/{k}"))
    return out


@pytest.fixture(scope="module")
def straight_run(data_dir, tmp_path_factory):
    """An uninterrupted 3-epoch run: the reference for determinism and resume."""
    results = tmp_path_factory.mktemp("straight")
    loop.train("token_only", tiny(data_dir, results))
    return results / "token_only"


def test_run_dir_contents_and_checkpoint_format(straight_run):
    names = {p.name for p in straight_run.iterdir()}
    assert names == {"config.json", "metrics.jsonl", "last.pt", "last.json", "best.pt", "best.json", ".lock"}
    last = tensors(straight_run / "last.pt")  # weights_only=True: tensors and plain types only
    assert set(last) == {"model", "optimizer", "rng"} and set(tensors(straight_run / "best.pt")) == {"model"}
    meta = json.loads((straight_run / "last.json").read_text())
    assert meta["state"]["epoch"] == 3 and meta["seed"] == 0 and len(meta["state"]["history"]) == 3
    assert {"fingerprint", "config", "python_random", "fluxem_version", "pt_sha256", "data_sha256"} <= set(meta)
    info = json.loads((straight_run / "config.json").read_text())
    assert info["seed"] == 0 and "fluxem_version" in info and info["config"]["model"]["hidden_dim"] == 32
    rows = rows_without_time(straight_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_exact_match", "lr", "step", "best_val_exact_match"} <= set(rows[0])


def test_same_seed_gives_identical_metrics_and_tensors(straight_run, data_dir, tmp_path):
    loop.train("token_only", tiny(data_dir, tmp_path))
    again = tmp_path / "token_only"
    assert rows_without_time(again) == rows_without_time(straight_run)
    assert_same_tensors(tensors(again / "last.pt"), tensors(straight_run / "last.pt"))
    assert_same_tensors(tensors(again / "best.pt"), tensors(straight_run / "best.pt"))


def test_other_seed_gives_other_weights(straight_run, data_dir, tmp_path):
    loop.train("token_only", tiny(data_dir, tmp_path, seed=1, **{"training.epochs": 1}))
    a = tensors(tmp_path / "token_only" / "last.pt")["model"]["wte.weight"]
    assert not torch.equal(a, tensors(straight_run / "last.pt")["model"]["wte.weight"])


@pytest.mark.parametrize("mid_epoch", [False, True])
def test_ctrl_c_then_resume_reproduces_the_straight_run(straight_run, data_dir, tmp_path, monkeypatch, mid_epoch):
    """Ctrl-C in epoch 2 (at its start, or after its updates) leaves epoch 1's checkpoint; --resume
    then ends exactly where the uninterrupted run ends."""
    original = loop.run_epoch

    def interrupted(model, opt, records, cfg, epoch, state, device):
        if epoch == 1:
            if mid_epoch:
                original(model, opt, records, cfg, epoch, state, device)  # weights move, nothing saved
            raise KeyboardInterrupt
        return original(model, opt, records, cfg, epoch, state, device)

    monkeypatch.setattr(loop, "run_epoch", interrupted)
    with pytest.raises(SystemExit) as exc:
        loop.train("token_only", tiny(data_dir, tmp_path))
    assert exc.value.code == 130
    run = tmp_path / "token_only"
    assert json.loads((run / "last.json").read_text())["state"]["epoch"] == 1
    assert len(rows_without_time(run)) == 1
    tensors(run / "last.pt")  # intact and loadable
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(loop, "run_epoch", original)
    loop.train("token_only", tiny(data_dir, tmp_path), resume=True)
    assert rows_without_time(run) == rows_without_time(straight_run)
    assert_same_tensors(tensors(run / "last.pt"), tensors(straight_run / "last.pt"))
    assert_same_tensors(tensors(run / "best.pt"), tensors(straight_run / "best.pt"))


def test_resume_via_main_and_its_errors(data_dir, tmp_path, capsys):
    argv = ["--config", str(TINY), "--set", f"paths.data_dir={data_dir}", "--set", f"paths.results_dir={tmp_path}"]

    def fails_with(extra, expected):
        with pytest.raises(SystemExit) as exc:
            train_token_only.main(argv + extra)
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and expected in err and "\n" not in err, err

    fails_with(["--resume"], "run without --resume")
    assert train_token_only.main(argv + ["--epochs", "1"]) == 0
    fails_with(["--resume", "--epochs", "3"], "resume with --epochs 1")
    fails_with(["--resume", "--epochs", "1", "--set", "model.hidden_dim=64"], "different config")
    assert train_token_only.main(argv + ["--resume", "--epochs", "1"]) == 0  # already done: no-op
    assert "nothing to do" in capsys.readouterr().out


def test_tampered_checkpoint_is_detected(data_dir, tmp_path):
    cfg = tiny(data_dir, tmp_path, **{"training.epochs": 1})
    loop.train("token_only", cfg)
    pt = tmp_path / "token_only" / "last.pt"
    pt.write_bytes(pt.read_bytes()[:-10])
    with pytest.raises(UserError, match="does not match"):
        loop.train("token_only", cfg, resume=True)


def test_missing_data_says_which_command_to_run(tmp_path):
    cfg = load_config(TINY, {"paths.data_dir": str(tmp_path / "nowhere"), "paths.results_dir": str(tmp_path)})
    with pytest.raises(UserError, match=r"run generate_data.py --config .*arithmetic_tiny.yaml first"):
        loop.train("token_only", cfg)


def test_early_stopping_on_val_exact_match(data_dir, tmp_path):
    cfg = tiny(data_dir, tmp_path, **{"training.epochs": 6, "training.patience": 1})
    summary = loop.train("token_only", cfg)  # val exact match stays 0.0 on tiny: no improvement after epoch 1
    assert summary["stopped_early"] and summary["epochs"] == 2
    # equal val exact match: the checkpoint with the lower val loss is kept
    rows = rows_without_time(tmp_path / "token_only")
    assert summary["best_epoch"] == min(rows, key=lambda r: r["val_loss"])["epoch"]


def test_early_stopping_waits_for_min_epochs(data_dir, tmp_path):
    cfg = tiny(data_dir, tmp_path, **{"training.epochs": 6, "training.patience": 1, "training.min_epochs": 4})
    summary = loop.train("token_only", cfg)
    assert summary["stopped_early"] and summary["epochs"] == 4


def test_eval_every_skips_validation_but_not_the_last_epoch(data_dir, tmp_path):
    loop.train("token_only", tiny(data_dir, tmp_path, **{"training.eval_every": 2}))
    rows = rows_without_time(tmp_path / "token_only")
    assert [r["val_exact_match"] is not None for r in rows] == [False, True, True]


def test_sigint_during_a_save_is_deferred():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with loop._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_unknown_or_missing_model_module_is_a_user_error(monkeypatch):
    cfg = load_config(TINY)
    with pytest.raises(UserError, match="unknown model"):
        build_model("nope", cfg)
    monkeypatch.setitem(MODELS, "ghost", "fxlab.ghost_model_that_does_not_exist")
    with pytest.raises(UserError, match="not available"):
        build_model("ghost", cfg)
