"""Data generation, training and the hybrid's input limits under interruption, damage and hostile input.

Every script is driven through its main() in a temp dir with the tiny arithmetic config; each failure must
be exit 2 with one line on stderr (or 130 / 143 for Ctrl-C / SIGTERM), and must leave nothing behind that
a later run would use by mistake.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import time

import pytest
import torch
from conftest import script_args

import eval as eval_script
import generate_data
import train_hybrid
import train_token_only
from fxlab import UserError, data
from fxlab.config import REPO_ROOT, load_config
from fxlab.data import dir_lock, load_split, write_dataset, write_manifest
from fxlab.tasks import generate
from fxlab.tasks.arithmetic import SPLITS, arithmetic_record
from fxlab.models import hybrid as H
from fxlab.models.hybrid import MAX_BATCH_CELLS, MAX_INPUT_CHARS, token_groups
from fxlab.models import build_model

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
MATHDS = REPO_ROOT / "experiments" / "configs" / "mathds_small.yaml"

pytestmark = pytest.mark.usefixtures("one_thread")


def run(main, argv, capsys) -> tuple[int, str]:
    """(exit code, stderr) of a script's main()."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip()


def snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


def texts(split_records) -> set[str]:
    return {r["text"] for r in split_records}


# ---------------------------------------------------------------- D4: generate_data.py cut short


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_generate_leaves_data_that_training_and_eval_refuse(tmp_path, monkeypatch, capsys, signum):
    """A second generate_data.py (another seed) interrupted while it writes its files: train.jsonl is the
    new seed's, val and the tests the old seed's. Nothing may use that mixture; a rerun repairs it."""
    base = script_args(TINY, tmp_path)
    assert generate_data.main(base) == 0
    folder = tmp_path / "data"
    fsync, calls = os.fsync, []

    def fsync_then_signal(fd):  # fsync 1: the manifest marked incomplete, 2: train.jsonl, 3: val.jsonl
        calls.append(fd)
        fsync(fd)
        if len(calls) == 3:  # val's temp file is on disk, not yet renamed
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(os, "fsync", fsync_then_signal)
    code, err = run(generate_data.main, base + ["--seed", "1"], capsys)
    monkeypatch.setattr(os, "fsync", fsync)
    assert code == 128 + signum, err
    cfg = load_config(TINY, {"paths.data_dir": str(folder)})
    for split in ("train", "val", "test_id"):
        with pytest.raises(UserError, match="unfinished dataset.*rerun generate_data.py"):
            load_split(cfg, split)
    assert "unfinished" in err and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    names = {p.name for p in folder.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")] and ".lock" not in names, names
    for main, extra in ((train_token_only.main, []), (eval_script.main, ["--models", "token_only"])):
        code, err = run(main, base + extra, capsys)
        assert code == 2 and "rerun generate_data.py" in err and "\n" not in err, err
    assert generate_data.main(base + ["--seed", "1"]) == 0  # the rerun: one seed's files, checked
    train = texts(load_split(cfg, "train"))
    assert not train & texts(load_split(cfg, "val")) and not train & texts(load_split(cfg, "test_id"))


def test_generate_removes_the_temp_files_of_a_killed_run(tmp_path):
    base = script_args(TINY, tmp_path)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / ".train.jsonl.x1y2z3.tmp").write_text("half a file")  # what SIGKILL mid-write leaves
    assert generate_data.main(base) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{s}.jsonl" for s in SPLITS] + ["manifest.json"])


def test_two_generate_runs_on_one_folder_cannot_interleave(tmp_path, capsys):
    base = script_args(TINY, tmp_path)
    assert generate_data.main(base) == 0
    folder = tmp_path / "data"
    before = snapshot(folder)
    with dir_lock(folder, keep_file=False):  # another run holds the folder (a flock of another open file)
        code, err = run(generate_data.main, base + ["--seed", "1"], capsys)
        assert code == 2 and f"pid {os.getpid()}) is writing {folder}" in err and "\n" not in err, err
    assert snapshot(folder) == before  # untouched, lock file gone with its holder
    assert generate_data.main(base + ["--seed", "1"]) == 0 and snapshot(folder) != before


def test_the_lock_of_a_finished_holder_is_taken_again(tmp_path):
    """The flock dies with its holder; a lock file left behind (SIGKILL) is simply locked again."""
    (tmp_path / ".lock").write_text("999999999\n")
    with dir_lock(tmp_path, keep_file=False):
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / ".lock").exists()


def _edit(folder, name, change):
    path = folder / name
    path.write_text(change(path.read_text()))


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "manifest.json").unlink(), "has no manifest.json"),
    (lambda d: _edit(d, "train.jsonl", lambda t: t.replace("+", "-", 1)), "train.jsonl does not match"),
    (lambda d: _edit(d, "manifest.json", lambda t: t.replace('"task": "arithmetic"', '"task": "units"')),
     "data of task 'units'"),
    (lambda d: _edit(d, "manifest.json", lambda t: t.replace('"train.jsonl"', '"old.jsonl"')),
     "does not list train.jsonl"),
    (lambda d: (d / "manifest.json").write_text("[]"), "manifest.json is damaged"),
])
def test_training_refuses_a_split_its_manifest_does_not_vouch_for(tmp_path, capsys, damage, message):
    base = script_args(TINY, tmp_path)
    assert generate_data.main(base) == 0
    damage(tmp_path / "data")
    code, err = run(train_token_only.main, base, capsys)
    assert code == 2 and message in err and "rerun generate_data.py --config" in err and "\n" not in err, err
    assert snapshot(tmp_path / "results" / "token_only") == {}  # no checkpoint, no config.json


def test_files_given_by_path_need_no_manifest_and_hand_made_data_gets_one(tmp_path):
    base = script_args(TINY, tmp_path)
    assert generate_data.main(base) == 0
    cfg = load_config(TINY, {"paths.data_dir": str(tmp_path / "data")})
    probe = tmp_path / "elsewhere" / "probe.jsonl"
    probe.parent.mkdir()
    probe.write_text(json.dumps({"id": "p", "text": "1 + 2", "target": "3"}) + "\n")
    assert [r["id"] for r in eval_script.load_datasets(cfg, [str(probe)])["probe"]] == ["p"]
    own = tmp_path / "own"
    own.mkdir()
    for split in ("train", "val"):
        shutil.copy(tmp_path / "data" / f"{split}.jsonl", own / f"{split}.jsonl")
    mine = load_config(TINY, {"paths.data_dir": str(own)})
    with pytest.raises(UserError, match="no manifest.json"):
        load_split(mine, "train")
    manifest = write_manifest(own, "arithmetic")
    assert manifest["files"]["train.jsonl"]["n"] == 200
    assert load_split(mine, "train") == load_split(cfg, "train")


# ---------------------------------------------------------------- D21: symbolic link loops


@pytest.mark.parametrize("script, key, below", [
    (generate_data.main, "data_dir", ""), (generate_data.main, "data_dir", "/sub"),
    (train_token_only.main, "data_dir", ""), (train_token_only.main, "results_dir", ""),
    (train_token_only.main, "results_dir", "/sub"),
])
def test_a_symlink_loop_as_a_folder_is_a_one_line_error(tmp_path, capsys, script, key, below):
    base = script_args(TINY, tmp_path)
    if script is not generate_data.main:
        assert generate_data.main(base) == 0
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    code, err = run(script, base + ["--set", f"paths.{key}={loop}{below}"], capsys)
    assert code == 2 and f"{loop} is a" in err and "\n" not in err, err
    assert "symbolic link loop" in err or "broken symlink" in err, err


# ---------------------------------------------------------------- D10: a record the model cannot take


@pytest.fixture()
def earlier_run(tmp_path):
    """The checkpoint files of an earlier run in results/<model>/, as bytes, to check nothing is deleted."""
    def make(model):
        run_dir = tmp_path / "results" / model
        run_dir.mkdir(parents=True)
        for name in ("best.pt", "best.json", "last.pt", "last.json", "metrics.jsonl"):
            (run_dir / name).write_text(f"earlier {name}")
        return run_dir
    return make


@pytest.mark.parametrize("model, operands, ops", [
    ("hybrid", [10 ** 309, 2], ["+"]),  # a number beyond FluxEM's float range
    ("hybrid", [1] * 600, ["+"] * 599),  # 2395 characters: past MAX_INPUT_CHARS
    ("token_only", [10 ** 40, 10 ** 40], ["*"]),  # longer than model.max_seq_len (48)
])
def test_a_record_the_model_cannot_take_is_named_before_anything_is_deleted(tmp_path, capsys, earlier_run, model,
                                                                          operands, ops):
    cfg = load_config(TINY, {"paths.data_dir": str(tmp_path / "data")})
    splits = generate(cfg)
    splits["train"].insert(150, arithmetic_record("train", 999, operands, ops))
    write_dataset(cfg, splits, cfg.data_path)
    run_dir = earlier_run(model)
    before = snapshot(run_dir)
    main = {"hybrid": train_hybrid.main, "token_only": train_token_only.main}[model]
    code, err = run(main, script_args(TINY, tmp_path), capsys)
    assert code == 2 and f"{cfg.data_path / 'train.jsonl'}:151: " in err and "\n" not in err, err
    assert "train-000999" in err and len(err) < 700, err
    assert snapshot(run_dir) == before


# ---------------------------------------------------------------- D14: the hybrid's input limit


@contextlib.contextmanager
def address_space_limit(extra: int):
    """At most `extra` more bytes of address space while the block runs, so a regression fails with a
    MemoryError instead of taking the machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("config", [TINY, MATHDS])
def test_a_text_past_the_limit_gets_an_empty_answer_in_bounded_time_and_memory(tmp_path, config):
    """100k characters would need ~51 GB of attention masks; the answer is "" (counted wrong) at once,
    and the other texts of the batch get the answers they get alone."""
    cfg = load_config(config, {"paths.data_dir": str(tmp_path / "data")})
    model = build_model("hybrid", cfg)
    normal = "What is 12 + 7?" if cfg.task == "mathds" else "12 + 7 * 3"
    alone = model.predict([normal])
    huge = "1 + " * 25_000
    start = time.perf_counter()
    with address_space_limit(1 << 30):
        answers = model.predict([huge, normal, huge[: MAX_INPUT_CHARS + 1]])
    assert answers == ["", alone[0], ""]
    assert time.perf_counter() - start < 2.0


def test_the_limit_is_inclusive_and_a_longer_text_is_never_tokenized(tmp_path, monkeypatch):
    model = build_model("hybrid", load_config(TINY, {"paths.data_dir": str(tmp_path / "data")}))
    at_limit = ("1 + " * MAX_INPUT_CHARS)[:MAX_INPUT_CHARS - 2] + " 1"
    assert len(at_limit) == MAX_INPUT_CHARS
    read = []
    real = H.initial_state
    monkeypatch.setattr(H, "initial_state", lambda text, task: (read.append(len(text)), real(text, task))[1])
    model.predict([at_limit])
    assert read == [MAX_INPUT_CHARS]  # read, not refused
    assert model.predict([at_limit + "1"]) == [""]
    assert read[-1] == MAX_INPUT_CHARS + 1  # refused by its length, before any span is detected


@pytest.mark.parametrize("lengths, max_items, expected", [
    ([60] * 256, None, [list(range(256))]),  # an eval batch of ordinary texts is never split
    ([2002, 10, 10], None, [[0], [1, 2]]),  # a text at the limit fits alone
    ([10, 2002, 10], None, [[0], [1], [2]]),
    ([5] * 130, 64, [list(range(64)), list(range(64, 128)), [128, 129]]),
])
def test_token_groups_keep_each_batch_within_the_budget(lengths, max_items, expected):
    groups = token_groups(lengths, max_items=max_items)
    assert groups == expected
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(len(g) * max(lengths[i] for i in g) ** 2 <= MAX_BATCH_CELLS for g in groups)


# ---------------------------------------------------------------- D19: damaged checkpoints


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch tiny token_only run, copied afresh for each test."""
    root = tmp_path_factory.mktemp("trained")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    assert train_token_only.main(base) == 0
    return root


@pytest.fixture()
def run_copy(trained, tmp_path):
    shutil.copytree(trained / "data", tmp_path / "data")
    shutil.copytree(trained / "results", tmp_path / "results", ignore=shutil.ignore_patterns(".lock"))
    return tmp_path, script_args(TINY, tmp_path), tmp_path / "results" / "token_only"


def _set(path, *keys, value):
    meta = json.loads(path.read_text())
    target = meta
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    path.write_text(json.dumps(meta))


def _set_pt(stem, change):
    """Change the tensors of `<stem>.pt` and keep the sha256 in `<stem>.json` matching (a consistent edit)."""
    tensors = torch.load(stem.with_suffix(".pt"), weights_only=True)
    change(tensors)
    buf = io.BytesIO()
    torch.save(tensors, buf)
    stem.with_suffix(".pt").write_bytes(buf.getvalue())
    _set(stem.with_suffix(".json"), "pt_sha256", value=hashlib.sha256(buf.getvalue()).hexdigest())


DAMAGED_META = [
    (("state",), {}, "state lacks epoch"),
    (("state", "epoch"), "1", "state.epoch must be an integer in [0, 2]"),
    (("state", "epoch"), -5, "state.epoch must be an integer in [0, 2]"),
    (("state", "epoch"), True, "state.epoch must be an integer"),
    (("state", "history"), "oops", "state.history must be a list of 2 metrics rows"),
    (("state", "history"), [{"epoch": 1}, 2], "state.history[1] must be a metrics row of epoch 2"),
    (("state", "best_val_exact_match"), "x", "state.best_val_exact_match must be"),
    (("state", "best_val_exact_match"), 7, "state.best_val_exact_match must be"),
    (("state", "best_epoch"), 3, "state.best_epoch must be an integer in [0, 2]"),
    (("state", "best_val_loss"), "low", "state.best_val_loss must be null or a finite number"),
    (("state", "stopped_early"), "no", "state.stopped_early must be true or false"),
    (("state", "surprise"), 1, "state has unknown key(s)"),
    (("config", "training"), 1, "config.training.epochs must be an integer >= 1"),
    (("world_size",), "2", "world_size must be an integer >= 1"),
    (("model",), 1, "model must be a string"),
]


@pytest.mark.parametrize("keys, value, message", DAMAGED_META)
def test_a_damaged_last_json_stops_resume_with_one_line_naming_file_and_field(run_copy, capsys, keys, value, message):
    root, base, run_dir = run_copy
    _set(run_dir / "last.json", *keys, value=value)
    before = snapshot(run_dir)
    code, err = run(train_token_only.main, base + ["--resume"], capsys)
    assert code == 2 and f"{run_dir / 'last.json'}: corrupt checkpoint metadata ({message}" in err, err
    assert "\n" not in err
    assert snapshot(run_dir) == before  # metrics.jsonl not rewritten from a bad history


@pytest.mark.parametrize("keys, value, message", DAMAGED_META[:4] + DAMAGED_META[6:8])
def test_a_damaged_best_json_stops_eval_with_one_line(run_copy, capsys, keys, value, message):
    root, base, run_dir = run_copy
    _set(run_dir / "best.json", *keys, value=value)
    code, err = run(eval_script.main, base + ["--models", "token_only"], capsys)
    assert code == 2 and f"{run_dir / 'best.json'}: corrupt checkpoint metadata ({message}" in err, err
    assert "\n" not in err


def _first_state(tensors):
    return tensors["optimizer"]["state"][0]


@pytest.mark.parametrize("change, field", [
    (lambda t: t.__setitem__("optimizer", "x"), "optimizer: expected an object"),
    (lambda t: t["optimizer"].__setitem__("x", 1), "optimizer: expected an object"),
    (lambda t: t["optimizer"]["param_groups"][0].__setitem__("lr", "x"), "optimizer.param_groups[0].lr"),
    (lambda t: t["optimizer"]["param_groups"][0].__setitem__("betas", "x"), "optimizer.param_groups[0].betas"),
    (lambda t: t["optimizer"]["param_groups"][0].__setitem__("params", [0]), "optimizer.param_groups[0].params"),
    (lambda t: t["optimizer"]["state"].__setitem__(0, "x"), "optimizer.state[0]"),
    (lambda t: _first_state(t).__setitem__("exp_avg", "x"), "optimizer.state[0].exp_avg"),
    (lambda t: _first_state(t).__setitem__("exp_avg", torch.zeros(3)), "optimizer.state[0].exp_avg"),
    (lambda t: _first_state(t).__setitem__("step", "x"), "optimizer.state[0].step"),
])
def test_a_damaged_optimizer_state_stops_resume_with_one_line(trained, tmp_path, capsys, change, field):
    """The .pt is changed and its sha256 in last.json with it, so only the contents can tell."""
    base = script_args(TINY, tmp_path)
    shutil.copytree(trained / "data", tmp_path / "data")
    run_dir = tmp_path / "results" / "token_only"
    shutil.copytree(trained / "results" / "token_only", run_dir, ignore=shutil.ignore_patterns(".lock"))
    _set_pt(run_dir / "last", change)
    code, err = run(train_token_only.main, base + ["--resume", "--epochs", "2"], capsys)
    # the run is complete (2 of 2 epochs), so a resume that got past the checks would only say so
    assert code == 2 and f"{run_dir / 'last.pt'}: damaged optimizer state ({field}" in err and "\n" not in err, err


def test_an_intact_checkpoint_still_resumes(run_copy):
    root, base, run_dir = run_copy
    assert train_token_only.main(base + ["--resume"]) == 0


def test_a_loop_state_of_an_earlier_version_without_best_val_loss_still_resumes(run_copy):
    root, base, run_dir = run_copy
    meta = json.loads((run_dir / "last.json").read_text())
    del meta["state"]["best_val_loss"]
    (run_dir / "last.json").write_text(json.dumps(meta))
    assert train_token_only.main(base + ["--resume"]) == 0  # loaded and checked; all epochs done
