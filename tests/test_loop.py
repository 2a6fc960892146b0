"""The training loop: determinism, exact resume after Ctrl-C, atomic two-part checkpoints, early stopping."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest
import torch

import train_token_only
from fxlab import UserError
from fxlab.train import loop
from fxlab.config import REPO_ROOT, load_config
from fxlab.data import atomic_write_bytes, write_dataset
from fxlab.tasks import generate
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
    assert info["torch_threads"] == 1  # the one_thread fixture; the weights depend on it
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

    assert train_token_only.main(argv + ["--resume", "--epochs", "1"]) == 0  # nothing to resume: a fresh start
    assert "nothing to resume" in capsys.readouterr().out
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
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive run
    try:
        with pytest.raises(KeyboardInterrupt):
            with loop._sigint_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                finished.append(True)
        assert finished == [True]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_ignored_sigint_stays_ignored_during_a_save():
    """A background job (`cmd &` in a script, nohup) inherits SIGINT ignored: a save must not turn it
    into an exit."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with loop._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_unknown_or_missing_model_module_is_a_user_error(monkeypatch):
    cfg = load_config(TINY)
    with pytest.raises(UserError, match="unknown model"):
        build_model("nope", cfg)
    monkeypatch.setitem(MODELS, "ghost", "fxlab.ghost_model_that_does_not_exist")
    with pytest.raises(UserError, match="not available"):
        build_model("ghost", cfg)


# ---------------------------------------------------------------- reliability (issue 9)


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in the loop catches it."""


@pytest.mark.parametrize("kill_at", [1, 2, 5, 8, *range(9, 16), 20, 21, 22])
def test_kill_at_every_rename_of_an_epoch_then_resume(straight_run, data_dir, tmp_path, monkeypatch, kill_at):
    """A kill at any rename of epoch 2's saves (best: 3, last: 3, metrics: 1; rename 1 is config.json, 2-8
    are epoch 1's) leaves a state that --resume completes into exactly the uninterrupted run; so does a
    kill in epoch 1, before any last checkpoint exists (--resume then starts from epoch 1), and one in the
    last epoch's saves (20-22: --resume has no epoch left to run, but completes the files)."""
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == kill_at:
            raise Killed
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        loop.train("token_only", tiny(data_dir, tmp_path))
    monkeypatch.setattr(os, "replace", real_replace)
    run = tmp_path / "token_only"
    (run / ".last.pt.stray.tmp").write_bytes(b"half a file")  # what a real SIGKILL mid-write leaves
    loop.train("token_only", tiny(data_dir, tmp_path), resume=True)
    assert rows_without_time(run) == rows_without_time(straight_run)
    assert_same_tensors(tensors(run / "last.pt"), tensors(straight_run / "last.pt"))
    assert_same_tensors(tensors(run / "best.pt"), tensors(straight_run / "best.pt"))
    assert sorted(p.name for p in run.iterdir()) == [".lock", "best.json", "best.pt", "config.json", "last.json",
                                                     "last.pt", "metrics.jsonl"]


def test_a_save_killed_between_commit_and_rename_still_loads(data_dir, tmp_path, monkeypatch):
    cfg = tiny(data_dir, tmp_path, **{"training.epochs": 1})
    loop.train("token_only", cfg)
    stem = tmp_path / "token_only" / "best"
    real_replace = os.replace
    def replace(src, dst):  # killed at step 3: the .json names the new weights, best.pt is still the old
        if os.path.basename(dst) == "best.pt":
            raise Killed
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    model = build_model("token_only", cfg)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(Killed):
        loop.save_checkpoint(stem, {"model": model.state_dict()}, json.loads(stem.with_suffix(".json").read_text()))
    loaded, _ = loop.load_checkpoint(stem, cfg, "")  # the .json names the new weights; they are found
    assert_same_tensors(loaded["model"], model.state_dict())


def test_sigterm_stops_cleanly_and_resume_reproduces_the_straight_run(straight_run, data_dir, tmp_path,
                                                                      monkeypatch, capsys):
    original = loop.run_epoch

    def terminated(model, opt, records, cfg, epoch, state, device):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(model, opt, records, cfg, epoch, state, device)

    monkeypatch.setattr(loop, "run_epoch", terminated)
    with pytest.raises(SystemExit) as exc:
        loop.train("token_only", tiny(data_dir, tmp_path))
    assert exc.value.code == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "interrupted by SIGTERM" in err and "plus --resume" in err, err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    monkeypatch.setattr(loop, "run_epoch", original)
    loop.train("token_only", tiny(data_dir, tmp_path), resume=True)
    run = tmp_path / "token_only"
    assert rows_without_time(run) == rows_without_time(straight_run)
    assert_same_tensors(tensors(run / "last.pt"), tensors(straight_run / "last.pt"))


def test_sigterm_during_a_save_is_deferred():
    finished = []
    with pytest.raises(loop.Interrupted) as exc:
        with loop._signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            finished.append(True)
    assert finished == [True] and exc.value.signum == signal.SIGTERM


def test_a_second_run_on_the_same_folder_exits_2(data_dir, tmp_path, capsys):
    """Another process holds the run directory's lock: train and --resume exit 2 and delete nothing."""
    run = tmp_path / "token_only"
    run.mkdir()
    (run / "last.json").write_text("{}")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242'); print('locked', flush=True); time.sleep(60)",
         str(run / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        argv = ["--config", str(TINY), "--set", f"paths.data_dir={data_dir}", "--set", f"paths.results_dir={tmp_path}"]
        for extra in ([], ["--resume"]):
            with pytest.raises(SystemExit) as exc:
                train_token_only.main(argv + extra)
            err = capsys.readouterr().err.strip()
            assert exc.value.code == 2 and "another process (pid 4242)" in err and "\n" not in err, err
        assert (run / "last.json").read_text() == "{}"
    finally:
        holder.kill()
        holder.wait()
    with loop.run_lock(run):  # released when its holder died
        with pytest.raises(UserError, match="another process"):
            with loop.run_lock(run):
                pass


def _data_copy(data_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    return copy


def _rewrite_split(data, split, text):
    """Replace a split's file and its manifest entry, as if generate_data.py had written it so."""
    (data / f"{split}.jsonl").write_text(text)
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["files"][f"{split}.jsonl"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (data / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("split", ["train", "val"])
def test_empty_train_or_val_is_refused_before_anything_is_deleted(data_dir, tmp_path, split):
    copy = _data_copy(data_dir, tmp_path)
    loop.train("token_only", tiny(copy, tmp_path / "r", **{"training.epochs": 1}))
    _rewrite_split(copy, split, "")
    with pytest.raises(UserError, match=f"{split}.jsonl has no records"):
        loop.train("token_only", tiny(copy, tmp_path / "r", **{"training.epochs": 1}))
    assert (tmp_path / "r" / "token_only" / "last.pt").is_file()


def test_a_record_the_teacher_cannot_follow_is_a_user_error(data_dir, tmp_path):
    """Arithmetic data is ours: a training record whose reduction does not give its target is a data
    error, named by file and line before training, not a record silently left out."""
    copy = _data_copy(data_dir, tmp_path)
    rows = [json.loads(line) for line in (copy / "train.jsonl").read_text().splitlines()]
    rows[3]["target"] = str(int(rows[3]["target"]) + 1)
    _rewrite_split(copy, "train", "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"train.jsonl:4: .*teacher cannot reduce this record"):
        loop.train("hybrid", tiny(copy, tmp_path / "r"))


def test_nan_loss_stops_with_exit_2_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, monkeypatch, capsys):
    original, calls = loop.build_model, []

    def poisoned(name, cfg):
        model = original(name, cfg)
        forward = model.forward

        def nan_after_epoch_1(batch):
            out, loss = forward(batch)
            calls.extend([1] if model.training else [])  # validation batches do not count
            return out, loss * float("nan") if len(calls) > 7 else loss  # 7 batches per tiny epoch

        model.forward = nan_after_epoch_1
        return model

    monkeypatch.setattr(loop, "build_model", poisoned)
    argv = ["--config", str(TINY), "--set", f"paths.data_dir={data_dir}", "--set", f"paths.results_dir={tmp_path}"]
    with pytest.raises(SystemExit) as exc:
        train_token_only.main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "training diverged: the training loss is nan at epoch 2" in err, err
    assert json.loads((tmp_path / "token_only" / "last.json").read_text())["state"]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in tensors(tmp_path / "token_only" / "last.pt")["model"].values())


@pytest.fixture()
def one_epoch_run(data_dir, tmp_path):
    cfg = tiny(data_dir, tmp_path, **{"training.epochs": 1})
    loop.train("token_only", cfg)
    return cfg, tmp_path / "token_only"


def _corrupt_pt_with_matching_sha(stem):
    blob = b"\x80\x04not a checkpoint" + os.urandom(8)
    stem.with_suffix(".pt").write_bytes(blob)
    meta = json.loads(stem.with_suffix(".json").read_text())
    meta["pt_sha256"] = hashlib.sha256(blob).hexdigest()
    stem.with_suffix(".json").write_text(json.dumps(meta))


@pytest.mark.parametrize("damage, message", [
    (lambda stem: stem.with_suffix(".json").write_text("[1, 2]"), "a JSON list, not an object"),
    (lambda stem: stem.with_suffix(".json").write_text('{"model": "token_only"}'), "missing format"),
    (lambda stem: stem.with_suffix(".json").write_bytes(b'{"model": "\xff"}'), "not UTF-8"),
    (lambda stem: stem.with_suffix(".json").unlink(), "best.json is missing"),
    (_corrupt_pt_with_matching_sha, "cannot be loaded"),
])
def test_damaged_checkpoints_give_one_line_errors(one_epoch_run, damage, message):
    cfg, run = one_epoch_run
    damage(run / "best")
    with pytest.raises(UserError, match=message) as exc:
        loop.load_checkpoint(run / "best", cfg, "train first")
    assert "\n" not in str(exc.value)


def test_a_checkpoint_of_the_other_model_is_refused(one_epoch_run):
    cfg, run = one_epoch_run
    other = run.parent / "hybrid"
    other.mkdir()
    for name in ("best.pt", "best.json"):
        shutil.copy(run / name, other / name)
    with pytest.raises(UserError, match="is a checkpoint of model 'token_only', not 'hybrid'"):
        loop.load_checkpoint(other / "best", cfg, "train first")


def test_results_dir_that_is_a_file_is_a_user_error(data_dir, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is a file"):
        loop.train("token_only", tiny(data_dir, tmp_path / "file"))


def test_a_fresh_run_says_it_replaces_the_earlier_checkpoints(one_epoch_run, capsys):
    cfg, run = one_epoch_run
    capsys.readouterr()
    loop.train("token_only", cfg)
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "replacing the checkpoints of the earlier run (epoch 1" in first, out


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_output_files_respect_the_umask(tmp_path, umask):
    before = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "f.json", b"{}")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o666 & ~umask


def test_a_checkpoint_with_the_whole_config_fingerprint_still_loads(straight_run, data_dir, tmp_path):
    """Checkpoints written before per-model fingerprints hold the hash of the whole config."""
    from fxlab.config import fingerprint

    cfg = tiny(data_dir, straight_run.parent)
    run = tmp_path / "token_only"
    shutil.copytree(straight_run, run, ignore=shutil.ignore_patterns(".lock"))
    meta = json.loads((run / "best.json").read_text())
    assert meta["fingerprint"] == fingerprint(cfg, "token_only") != fingerprint(cfg)
    for stored, loads in [(fingerprint(cfg), True), ("0123456789abcdef", False)]:
        (run / "best.json").write_text(json.dumps({**meta, "fingerprint": stored}))
        if loads:
            assert loop.load_checkpoint(run / "best", cfg, "train first")[1]["fingerprint"] == stored
        else:
            with pytest.raises(UserError, match="different config"):
                loop.load_checkpoint(run / "best", cfg, "train first")
