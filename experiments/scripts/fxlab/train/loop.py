"""The one training loop (both training scripts call `train`) and the two-part checkpoint format.

Run directory: `<results_dir>/<model_name>/`
    config.json          resolved config, fingerprint, seed, fluxem/torch versions, data hashes
    metrics.jsonl        one line per epoch: epoch, step, train_loss, val_loss, val_exact_match, best, lr, seconds,
                         world_size
    last.pt + last.json  state after the last completed epoch (weights, optimizer, RNG) -> `--resume`
    best.pt + best.json  weights with the best validation exact match -> what eval.py loads

Checkpoints: the `.pt` holds tensors only (loads with `torch.load(weights_only=True)`); the `.json` beside
it holds the metadata (model name, config fingerprint, loop state) and the sha256 of the `.pt`. The `.json`
is the single commit point of a save (protocol at `save_checkpoint`), so a kill at any moment, SIGKILL
included, leaves a pair that loads. A .json or optimizer state that parses but holds wrong types or
ranges (`check_meta`, `check_optimizer_state`) is a one-line error naming the field. Ctrl-C and SIGTERM
during a save are deferred until it is done; at any other time they stop training cleanly (exit 130 / 143)
with a message saying how to resume. A lock on the
run directory (`.lock`) makes a second run or `--resume` on it exit 2 while one is training. A NaN / inf
loss stops training (exit 2) and keeps the last good checkpoint.

Schedule: AdamW (weight decay on matrices only), linear warmup over `training.warmup_steps`, then cosine
decay to 10% of the peak at the end of `training.epochs`. The schedule depends on the planned number of
epochs, so `--resume` must use the same `--epochs` as the interrupted run (checked; exit 2 otherwise). `--resume` on a
run directory without a last checkpoint (a run stopped in its first epoch) starts from epoch 1.

Validation runs `model.predict` on val texts (exact match) every `training.eval_every` epochs and at the
last epoch. With `training.patience > 0`, training stops after `patience` validations without a strictly
better val exact match (so a run that reaches 100% stops `patience` evals later), but never before
`training.min_epochs` epochs: a slow starter (the token model sits near 0% for many epochs) is not cut off.

Determinism: the model init is seeded by cfg.seed, each epoch's shuffle by a torch.Generator seeded from
(seed, epoch), and the global torch RNG (dropout) is saved in `last.pt`. Resuming from `last.*` therefore
reproduces an uninterrupted run exactly: the same metrics.jsonl (apart from `seconds`) and tensors.

Under torchrun (fxlab/train/dist.py; WORLD_SIZE set) the same loop runs in every process: each rank trains on
its shard of the epoch's order with batch_size records a step (world_size x batch_size in all), the
gradients are averaged by an all-reduce, and rank 0 alone holds the lock, validates, saves, logs and then
broadcasts the loop state (best, early stop, divergence) so that all ranks stop together. Dropout is
reseeded per (seed, epoch, rank), so a resumed multi-process run also reproduces an uninterrupted one.
A run resumes only with the number of processes that wrote its last.json (the steps per epoch, and so the
schedule, depend on it). On CUDA the training forward passes use bf16 autocast where the GPU supports it
(FLUXEM_BF16=0 turns it off).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from tqdm import tqdm

from fxlab import UserError
from fxlab.train import dist
from fxlab.config import Config, fingerprint, fluxem_version, resolve_device, short
from fxlab.data import (Interrupted, atomic_write_bytes, dir_lock, file_sha256, load_split, make_dir,
                        remove_stray_tmp, split_path, text_lines)
from fxlab.data import sigterm_raises as _sigterm_raises
from fxlab.models import MODELS, build_model, count_parameters

CHECKPOINT_FORMAT = 1
MIN_LR_FRACTION = 0.1  # the cosine schedule ends at 10% of training.learning_rate


@dataclass
class TrainState:
    """The JSON-able part of the loop state, saved in last.json / best.json."""
    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps taken
    best_val_exact_match: float = -1.0
    best_epoch: int = 0
    best_val_loss: float | None = None  # tie-breaker between checkpoints with equal val exact match
    bad_evals: int = 0  # validations since the last improvement
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)  # the metrics.jsonl rows


def run_dir(cfg: Config, model_name: str) -> Path:
    return cfg.results_path / model_name


def progress(iterable, **kwargs):
    """tqdm with a slow refresh when stderr is not a terminal (CI logs stay short)."""
    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 30.0, dynamic_ncols=True,
                disable=not dist.current().is_main, **kwargs)  # under torchrun, rank 0's bars only


# ---------------------------------------------------------------- checkpoints


DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_deferred():
    """Hold back Ctrl-C and SIGTERM until the block finishes, then raise Interrupted: a save is never cut
    short by them (SIGKILL cannot be held back; the save protocol itself survives that)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    # A signal the process was told to ignore (a job started in the background by a non-interactive
    # shell, or under nohup, inherits SIGINT ignored) stays ignored: deferring it would turn it into an exit.
    watched = [s for s in DEFERRED_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in watched}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if received:
            raise Interrupted(received[0])


_sigint_deferred = _signals_deferred  # the older name


def run_lock(directory: Path):
    """Hold an exclusive lock on `directory` (`<directory>/.lock`, fxlab.data.dir_lock), or raise UserError if
    another process holds it: two runs in one folder would delete each other's checkpoints."""
    return dir_lock(directory)


# The save protocol. The .json is the single commit point; it names its weights by sha256.
#   1. write the weights to <stem>.<sha16>.pt (temp file + rename: complete or absent)
#   2. replace <stem>.json (temp file + rename)   <- commit
#   3. rename <stem>.<sha16>.pt -> <stem>.pt
# A kill before 2 leaves the old pair intact (plus a stray file, deleted later). A kill between 2 and 3
# leaves the new .json and its weights in <stem>.<sha16>.pt: `load_checkpoint` reads them from there and
# `tidy_checkpoint` finishes the rename. So every kill point leaves a loadable, consistent pair.
META_KEYS = ("format", "kind", "model", "fingerprint", "config", "state", "pt_sha256")
RESUME_KEYS = ("python_random", "data_sha256")


def _pending_pt(stem: Path, sha: str) -> Path:
    return stem.with_name(f"{stem.name}.{sha[:16]}.pt")


def save_checkpoint(stem: Path, tensors: dict, meta: dict) -> None:
    """Write `<stem>.pt` (tensors only) and `<stem>.json` (metadata + sha256 of the .pt) so that a kill at
    any point leaves a consistent pair (see the protocol above)."""
    buf = io.BytesIO()
    torch.save(tensors, buf)
    blob = buf.getvalue()
    sha = hashlib.sha256(blob).hexdigest()
    meta = {**meta, "pt_sha256": sha}
    pending = _pending_pt(stem, sha)
    with _signals_deferred():
        atomic_write_bytes(pending, blob)
        atomic_write_bytes(stem.with_suffix(".json"), (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
        os.replace(pending, stem.with_suffix(".pt"))


def tidy_checkpoint(stem: Path) -> None:
    """Finish a save that a kill cut between its commit and its rename; delete leftovers of other saves.
    Call only while holding `run_lock` (it renames and deletes)."""
    remove_stray_tmp(stem.parent)
    try:
        sha = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8")).get("pt_sha256")
    except (OSError, ValueError, AttributeError):
        sha = None  # no readable metadata: load_checkpoint will say what is wrong
    for path in sorted(stem.parent.glob(f"{stem.name}.*.pt")):
        if isinstance(sha, str) and path == _pending_pt(stem, sha) and file_sha256(path) == sha:
            os.replace(path, stem.with_suffix(".pt"))
        else:
            path.unlink(missing_ok=True)


def read_meta(meta_path: Path, required: tuple[str, ...] = META_KEYS) -> dict:
    """The checkpoint metadata of `meta_path`; anything but a JSON object with the `required` keys is a
    UserError."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{meta_path}: corrupt checkpoint metadata (not UTF-8 at byte {e.start}); "
                        "retrain, or restore the file") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{meta_path}:{e.lineno}: corrupt checkpoint metadata ({e.msg}); retrain, or restore "
                        "the file") from None
    if not isinstance(meta, dict):
        raise UserError(f"{meta_path}: corrupt checkpoint metadata (a JSON {type(meta).__name__}, not an "
                        "object); retrain, or restore the file")
    missing = [k for k in required if k not in meta]
    if missing:
        raise UserError(f"{meta_path}: corrupt checkpoint metadata (missing {', '.join(missing)}); retrain, "
                        "or restore the file")
    return meta


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# TrainState keys that checkpoints of earlier versions lack; TrainState's default stands in for them.
LATER_STATE_KEYS = ("best_val_loss",)


def check_meta(meta_path: Path, meta: dict) -> None:
    """The types and ranges of the metadata `read_meta` returned, loop state included, so that a damaged but
    well-formed .json is a one-line UserError naming the field, never a traceback or a run that trains
    epochs -4..2 or writes metrics.jsonl one character per line."""
    def damaged(why: str) -> UserError:
        return UserError(f"{meta_path}: corrupt checkpoint metadata ({why}); retrain, or restore the file")

    def bad(field: str, want: str, got) -> UserError:
        return damaged(f"{field} must be {want}, got {short(got)}")

    if not _is_int(meta["format"]) or meta["format"] != CHECKPOINT_FORMAT:
        raise bad("format", str(CHECKPOINT_FORMAT), meta["format"])
    for key in ("kind", "model", "fingerprint", "pt_sha256"):
        if not isinstance(meta[key], str):
            raise bad(key, "a string", meta[key])
    config = meta["config"]
    training = config.get("training") if isinstance(config, dict) else None
    planned = training.get("epochs") if isinstance(training, dict) else None
    if not _is_int(planned) or planned < 1:
        raise bad("config.training.epochs", "an integer >= 1", planned)
    if "world_size" in meta and (not _is_int(meta["world_size"]) or meta["world_size"] < 1):
        raise bad("world_size", "an integer >= 1", meta["world_size"])
    state = meta["state"]
    fields = [f.name for f in dataclasses.fields(TrainState)]
    if not isinstance(state, dict):
        raise bad("state", "an object", state)
    missing = [k for k in fields if k not in state and k not in LATER_STATE_KEYS]
    unknown = sorted(set(state) - set(fields))
    if missing:
        raise damaged(f"state lacks {', '.join(missing)}")
    if unknown:
        raise damaged(f"state has unknown key(s) {short(', '.join(unknown))}")
    epoch = state["epoch"]
    if not _is_int(epoch) or not 0 <= epoch <= planned:
        raise bad("state.epoch", f"an integer in [0, {planned}] (config.training.epochs)", epoch)
    if not _is_int(state["step"]) or state["step"] < 0:
        raise bad("state.step", "an integer >= 0", state["step"])
    em = state["best_val_exact_match"]
    if not _is_number(em) or not (em == -1 or 0 <= em <= 1):  # -1: no validation yet
        raise bad("state.best_val_exact_match", "-1 or a number in [0, 1]", em)
    if not _is_int(state["best_epoch"]) or not 0 <= state["best_epoch"] <= epoch:
        raise bad("state.best_epoch", f"an integer in [0, {epoch}] (state.epoch)", state["best_epoch"])
    if state.get("best_val_loss") is not None and not _is_number(state["best_val_loss"]):
        raise bad("state.best_val_loss", "null or a finite number", state["best_val_loss"])
    if not _is_int(state["bad_evals"]) or not 0 <= state["bad_evals"] <= epoch:
        raise bad("state.bad_evals", f"an integer in [0, {epoch}] (state.epoch)", state["bad_evals"])
    if not isinstance(state["stopped_early"], bool):
        raise bad("state.stopped_early", "true or false", state["stopped_early"])
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        raise bad("state.history", f"a list of {epoch} metrics rows (one per completed epoch)", history)
    for i, row in enumerate(history):
        if not isinstance(row, dict) or row.get("epoch") != i + 1:
            raise bad(f"state.history[{i}]", f"a metrics row of epoch {i + 1}", row)


def load_checkpoint(stem: Path, cfg: Config, hint: str, model: str | None = None) -> tuple[dict, dict]:
    """(tensors, meta) of `<stem>.pt/.json`, checked against cfg's fingerprint and the model name (`model`,
    by default the run directory's name); `hint` says what to run if there is no checkpoint."""
    meta_path, pt_path = stem.with_suffix(".json"), stem.with_suffix(".pt")
    if not meta_path.is_file():
        if pt_path.is_file():
            raise UserError(f"checkpoint metadata {meta_path} is missing, so {pt_path} cannot be checked or "
                            "used; restore it, or retrain")
        raise UserError(f"no checkpoint at {pt_path}; {hint}")
    meta = read_meta(meta_path)
    check_meta(meta_path, meta)
    if model is None and stem.parent.name in MODELS:
        model = stem.parent.name
    if model is not None and meta["model"] != model:
        raise UserError(f"{meta_path} is a checkpoint of model '{meta['model']}', not '{model}'; put the "
                        f"{model} checkpoint there (train_{model}.py), or retrain")
    expected = fingerprint(cfg, meta["model"])
    if meta["fingerprint"] not in (expected, fingerprint(cfg)):  # the whole-config hash: older checkpoints
        raise UserError(f"checkpoint {meta_path} was written with a different config (fingerprint "
                        f"{meta['fingerprint']} != {expected} of {cfg.source}); use the config "
                        "it was trained with, another paths.results_dir, or retrain without --resume")
    sha = meta["pt_sha256"]
    candidates = [pt_path] + ([_pending_pt(stem, sha)] if isinstance(sha, str) else [])
    blob = None
    for path in candidates:  # the second: a save killed between its commit and its rename
        if path.is_file():
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == sha:
                pt_path, blob = path, data
                break
    if blob is None:
        if not pt_path.is_file():
            raise UserError(f"no checkpoint weights at {pt_path} (its metadata {meta_path} is there); retrain")
        raise UserError(f"{pt_path} does not match {meta_path} (sha256 differs: changed or damaged); "
                        "delete both and retrain")
    try:
        tensors = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever the bytes hold, the answer is one line, not a traceback
        raise UserError(f"{pt_path} cannot be loaded ({type(e).__name__}): not a FluxEM checkpoint or damaged "
                        "(its sha256 matches the .json, so both were changed); retrain") from None
    if not isinstance(tensors, dict) or not isinstance(tensors.get("model"), dict):
        raise UserError(f"{pt_path} holds no model weights; retrain")
    return tensors, meta


def load_weights(module: nn.Module, state_dict: dict, pt_path: Path) -> None:
    """module.load_state_dict, with a mismatch as a one-line UserError."""
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{pt_path} does not fit the model of this config ({first[:200]}); retrain") from None


def _meta(kind: str, model_name: str, cfg: Config, state: TrainState, data_sha: dict) -> dict:
    return {
        "format": CHECKPOINT_FORMAT, "kind": kind, "model": model_name, "fingerprint": fingerprint(cfg, model_name),
        "config": cfg.to_dict(), "seed": cfg.seed, "state": dataclasses.asdict(state),
        "python_random": _json_random_state(), "data_sha256": data_sha,
        "fluxem_version": fluxem_version(), "torch_version": torch.__version__,
        "world_size": dist.current().world_size,
    }


def _json_random_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _rng_tensors() -> dict:
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


# ---------------------------------------------------------------- the loop


def make_optimizer(model: nn.Module, cfg: Config) -> torch.optim.AdamW:
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]  # matrices and embeddings; not biases / LayerNorm gains
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.training.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.training.learning_rate, betas=(0.9, 0.99), foreach=False)


def lr_at(step: int, cfg: Config, steps_per_epoch: int) -> float:
    """Linear warmup over warmup_steps, then cosine decay to MIN_LR_FRACTION at the end of training.epochs."""
    t = cfg.training
    total = max(1, t.epochs * steps_per_epoch)
    warm = min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps > 0 else 1.0
    progress_frac = min(1.0, step / total)
    cosine = MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress_frac))
    return t.learning_rate * warm * cosine


def autocast(device: str):
    """bf16 autocast on a CUDA device that supports it (FLUXEM_BF16=0 turns it off); fp32 everywhere else.
    Only the training / val-loss forward passes use it: `predict` (what exact match measures) stays fp32."""
    if (device == "cuda" and os.environ.get("FLUXEM_BF16", "1").strip() != "0" and torch.cuda.is_available()
            and torch.cuda.is_bf16_supported()):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch: dict, device: str) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def predict_texts(model: nn.Module, texts: list[str], batch_size: int, desc: str = "predict") -> list[str]:
    """model.predict over chunks of `batch_size`, in eval mode, with a progress bar."""
    model.eval()
    answers: list[str] = []
    with torch.no_grad():
        for i in progress(range(0, len(texts), batch_size), desc=desc, leave=False):
            chunk = model.predict(texts[i : i + batch_size])
            if len(chunk) != len(texts[i : i + batch_size]) or not all(isinstance(a, str) for a in chunk):
                raise RuntimeError(f"{type(model).__name__}.predict must return one str per input text")
            answers += chunk
    return answers


class Diverged(UserError):
    """The loss or the weights turned NaN / inf: training stops, the last good checkpoint stays."""


def run_epoch(model: nn.Module, opt, records: list[dict], cfg: Config, epoch: int, state: TrainState,
              device: str) -> tuple[float, float]:
    """One pass over train in a (seed, epoch)-determined order; returns (mean train loss, last lr).

    Under torchrun each rank takes a disjoint shard of that same order (`dist.shard`), so one step sees
    world_size x batch_size records, and the gradients are averaged over the ranks before the step."""
    model.train()
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    order = torch.randperm(len(records), generator=gen).tolist()
    d = dist.current()
    if d.world_size > 1:
        order = dist.shard(order)
        # Dropout differs per rank and restarts each epoch from (seed, epoch, rank), so a resumed run
        # reproduces an uninterrupted one without saving every rank's RNG (last.pt holds rank 0's).
        torch.manual_seed((cfg.seed * 1_000_003 + epoch) * 1_009 + d.rank + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    bs = cfg.training.batch_size
    batches = [order[i : i + bs] for i in range(0, len(order), bs)]
    total, lr = 0.0, 0.0
    bar = progress(batches, desc=f"epoch {epoch + 1}/{cfg.training.epochs}", leave=False)
    for ids in bar:
        lr = lr_at(state.step, cfg, len(batches))
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast(device):
            _, loss = model(to_device(model.collate([records[i] for i in ids]), device))
        value = loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        summed = dist.all_reduce_grads(params, value)  # one process: value; several: every rank's NaN is seen
        if not math.isfinite(summed):  # stop before a NaN step poisons the weights (all ranks together)
            where = "" if not d.enabled else " (on some process)"
            raise Diverged(f"the training loss is {value if not math.isfinite(value) else summed} at epoch "
                           f"{epoch + 1}, step {state.step + 1}{where}")
        if cfg.training.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.training.grad_clip)
        opt.step()
        state.step += 1
        total += value * len(ids)
        bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    total, count = dist.all_reduce_sum([total, float(len(order))])  # one process: unchanged
    return total / count, lr


def validate(model: nn.Module, records: list[dict], cfg: Config, device: str) -> tuple[float, float]:
    """(exact match of `predict` on val texts, mean val loss). Only the exact match selects checkpoints;
    the loss is logged because it keeps moving while a slow learner's exact match sits at 0."""
    answers = predict_texts(model, [r["text"] for r in records], cfg.training.eval_batch_size, "val")
    exact_match = sum(a == r["target"] for a, r in zip(answers, records)) / len(records)
    total, bs = 0.0, cfg.training.batch_size
    with torch.no_grad():
        for i in range(0, len(records), bs):
            chunk = records[i : i + bs]
            with autocast(device):
                total += model(to_device(model.collate(chunk), device))[1].item() * len(chunk)
    return exact_match, total / len(records)


def _end_epoch(ctx: dict, state: TrainState, epoch: int, loss: float, lr: float, val, seconds: float) -> None:
    """Update early stopping, append the metrics row, save best (if better) and last. val: (em, loss) or None."""
    cfg, model, out = ctx["cfg"], ctx["model"], ctx["out"]
    val_em, val_loss = val if val is not None else (None, None)
    state.epoch = epoch + 1
    # Early stopping counts validations without a strictly better exact match. The best checkpoint is
    # the highest val exact match, ties broken by the lower val loss (the later, better-fit model).
    better = val_em is not None and val_em > state.best_val_exact_match
    tie_better = (val_em is not None and val_em == state.best_val_exact_match and val_loss is not None
                  and (state.best_val_loss is None or val_loss < state.best_val_loss))
    improved = better or tie_better
    if improved:
        state.best_val_exact_match, state.best_epoch, state.best_val_loss = val_em, epoch + 1, val_loss
    if better:
        state.bad_evals = 0
    elif val_em is not None:
        state.bad_evals += 1
    t = cfg.training
    state.stopped_early = (t.patience > 0 and state.bad_evals >= t.patience
                           and t.min_epochs <= state.epoch < t.epochs)
    state.history.append({
        "epoch": epoch + 1, "step": state.step, "train_loss": loss, "val_loss": val_loss,
        "val_exact_match": val_em, "best_val_exact_match": state.best_val_exact_match, "lr": lr,
        "seconds": round(seconds, 3), "world_size": ctx["world_size"],
    })
    if not all(torch.isfinite(p).all() for p in model.parameters()) or (val_loss is not None
                                                                       and not math.isfinite(val_loss)):
        raise Diverged(f"the weights or the val loss are not finite after epoch {epoch + 1}")
    if improved:
        save_checkpoint(out / "best", {"model": model.state_dict()},
                        _meta("best", ctx["name"], cfg, state, ctx["data_sha"]))
    tensors = {"model": model.state_dict(), "optimizer": ctx["opt"].state_dict(), "rng": _rng_tensors()}
    save_checkpoint(out / "last", tensors, _meta("last", ctx["name"], cfg, state, ctx["data_sha"]))
    write_metrics(out, state.history)
    shown = "-" if val is None else f"{val_loss:.4f}  val_em {100 * val_em:.1f}%"
    print(f"[{ctx['name']}] epoch {epoch + 1}/{cfg.training.epochs}  train_loss {loss:.4f}  val_loss {shown}  "
          f"best {100 * state.best_val_exact_match:.1f}% (epoch {state.best_epoch})  lr {lr:.2e}  {seconds:.1f}s",
          flush=True)


def write_metrics(out: Path, history: list[dict]) -> None:
    """metrics.jsonl is rewritten from the checkpointed history, so it always matches last.json."""
    lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in history)
    atomic_write_bytes(out / "metrics.jsonl", lines.encode())


def _resume(ctx: dict) -> TrainState:
    out, cfg = ctx["out"], ctx["cfg"]
    tensors, meta = load_checkpoint(out / "last", cfg, "run without --resume to start training", ctx["name"])
    missing = [k for k in RESUME_KEYS if k not in meta] + [k for k in ("optimizer", "rng") if k not in tensors]
    if missing or not isinstance(meta["config"], dict) or not isinstance(meta["state"], dict):
        raise UserError(f"{out / 'last.json'} is not a resumable checkpoint (missing "
                        f"{', '.join(missing) or 'config/state'}); retrain without --resume")
    planned = meta["config"].get("training", {}).get("epochs")
    if planned != cfg.training.epochs:
        raise UserError(f"{out / 'last.json'} belongs to a {planned}-epoch run (its learning-rate schedule "
                        f"depends on it); resume with --epochs {planned}, or retrain without --resume")
    saved_world = meta.get("world_size", 1)
    if saved_world != ctx["world_size"]:  # another shard size changes the steps per epoch and so the schedule
        how = ("without torchrun" if saved_world == 1 else f"under torchrun --nproc_per_node {saved_world}")
        raise UserError(f"{out / 'last.json'} was written by a run of {saved_world} process(es), this one has "
                        f"{ctx['world_size']}; resume it {how}, or retrain without --resume")
    if meta.get("data_sha256") != ctx["data_sha"]:
        raise UserError(f"the data in {cfg.data_path} changed since {out / 'last.json'} was written; "
                        "regenerate it with the same seed, or retrain without --resume")
    pt = out / "last.pt"
    load_weights(ctx["model"], tensors["model"], pt)
    check_optimizer_state(tensors["optimizer"], ctx["opt"], pt)
    random_state = meta["python_random"]
    if not (isinstance(random_state, list) and len(random_state) == 3 and isinstance(random_state[1], list)):
        raise UserError(f"{out / 'last.json'}: corrupt checkpoint metadata (python_random must be [version, "
                        f"[internal state], gauss], got {short(random_state)}); retrain without --resume")
    try:
        ctx["opt"].load_state_dict(tensors["optimizer"])
        torch.set_rng_state(tensors["rng"]["torch"])
        if "cuda" in tensors["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(tensors["rng"]["cuda"])
        version, internal, gauss = meta["python_random"]
        random.setstate((version, tuple(internal), gauss))
        state = TrainState(**meta["state"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise UserError(f"{pt} / last.json hold a damaged loop state ({type(e).__name__}); retrain without "
                        "--resume") from None
    if dist.current().is_main:
        print(f"[{ctx['name']}] resuming after epoch {state.epoch} from {out / 'last.pt'}", flush=True)
    return state


def check_optimizer_state(saved, opt: torch.optim.Optimizer, pt: Path) -> None:
    """`saved` (the optimizer entry of last.pt) has the structure of `opt`'s own state: the same parameter
    groups, hyperparameters of the same types, and per-parameter tensors of the parameter's shape. A
    damaged entry is a UserError naming the field here, not a traceback at the first step or a value that
    load_state_dict takes silently."""
    def bad(field: str, why: str) -> UserError:
        return UserError(f"{pt}: damaged optimizer state ({field}: {why}); retrain without --resume")

    live = opt.state_dict()
    if not isinstance(saved, dict) or set(saved) != set(live):
        got = f"the keys {short(sorted(map(str, saved)))}" if isinstance(saved, dict) else short(saved)
        raise bad("optimizer", f"expected an object with the keys {', '.join(sorted(live))}, got {got}")
    groups = saved["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(live["param_groups"]):
        raise bad("optimizer.param_groups", f"expected {len(live['param_groups'])} groups, got {short(groups)}")
    shapes = {}
    for g, (group, ref, params) in enumerate(zip(groups, live["param_groups"], opt.param_groups)):
        where = f"optimizer.param_groups[{g}]"
        if not isinstance(group, dict) or group.get("params") != ref["params"]:
            raise bad(f"{where}.params", f"expected the parameter ids {short(ref['params'])}")
        for key in set(group) & set(ref) - {"params"}:  # keys of another torch version are left to torch
            value, want = group[key], ref[key]
            if isinstance(want, bool) or want is None:
                ok = value is None or isinstance(value, bool)
            elif isinstance(want, (int, float)):
                ok = _is_number(value)
            elif isinstance(want, (tuple, list)):
                ok = isinstance(value, (tuple, list)) and len(value) == len(want) and all(map(_is_number, value))
            else:
                ok = type(value) is type(want)
            if not ok:
                raise bad(f"{where}.{key}", f"expected a value like {short(want)}, got {short(value)}")
        shapes.update(zip(ref["params"], (p.shape for p in params["params"])))
    state = saved["state"]
    if not isinstance(state, dict):
        raise bad("optimizer.state", f"expected an object, got {short(state)}")
    for pid, entry in state.items():
        if pid not in shapes or not isinstance(entry, dict):
            raise bad(f"optimizer.state[{short(pid)}]", "not the state of a parameter of this model")
        for key, value in entry.items():
            if not torch.is_tensor(value) or (key != "step" and value.shape != shapes[pid]) or (
                    key == "step" and value.numel() != 1):
                raise bad(f"optimizer.state[{pid}].{key}",
                          f"expected a tensor of shape {tuple(shapes[pid]) if key != 'step' else '()'}, got {short(value)}")


def _start_fresh(out: Path, name: str) -> None:
    """Delete the checkpoints of an earlier run in `out`, saying so (and what they held) first."""
    stale = [p for p in (out / n for n in ("last.pt", "last.json", "best.pt", "best.json", "metrics.jsonl"))
             if p.exists()]
    stale += sorted(out.glob("last.*.pt")) + sorted(out.glob("best.*.pt"))  # leftovers of a killed save
    if stale:
        try:
            old = json.loads((out / "last.json").read_text(encoding="utf-8"))["state"]
            what = (f" (epoch {old['epoch']}, best val exact match {100 * old['best_val_exact_match']:.1f}% "
                    f"at epoch {old['best_epoch']})")
        except Exception:  # noqa: BLE001 - the description is optional; the warning is not
            what = ""
        print(f"[{name}] starting a new run in {out}: replacing the checkpoints of the earlier run{what}; "
              "use --resume to continue it, or another paths.results_dir to keep it", flush=True)
        for p in stale:
            p.unlink()
    remove_stray_tmp(out)


def _check_records(ctx: dict) -> None:
    """Every train and val record through the model's `collate` (tokenization, encoding, labels), so that
    a record the model cannot take stops the run here, before `_start_fresh` deletes anything, as a
    UserError naming its file:line. The work is not lost: the models keep what collate computes (the
    hybrid's teacher-forced states)."""
    model, cfg = ctx["model"], ctx["cfg"]
    bs = cfg.training.batch_size
    for split in ("train", "val"):
        records = ctx[split]
        for start in range(0, len(records), bs):
            try:
                model.collate(records[start : start + bs])
            except Exception as e:  # noqa: BLE001 - whatever collate raises, the answer names the record
                # The hybrid tokenizes a whole split at its first batch, so the culprit may lie further on.
                culprit = _first_bad_record(model, records[start : start + bs], start) or _first_bad_record(
                    model, records, 0)
                path = split_path(cfg, split)
                if culprit is None:
                    raise UserError(f"{path}: the {ctx['name']} model cannot batch records {start + 1}-"
                                    f"{min(start + bs, len(records))} ({_one_line(e)})") from None
                index, error = culprit
                where = f"{path}:{_line_of_record(path, index)}"
                if isinstance(error, UserError):  # the model's own message says what to do
                    raise UserError(f"{where}: {_clip(str(error))}") from None
                raise UserError(f"{where}: record {short(records[index].get('id'))} cannot be used by the "
                                f"{ctx['name']} model ({_one_line(error)}); fix or remove it, or regenerate the "
                                f"data with generate_data.py --config {cfg.source}") from None


def _first_bad_record(model: nn.Module, records: list[dict], offset: int) -> tuple[int, Exception] | None:
    """(offset + index, error) of the first record that `collate` refuses on its own, or None."""
    for i, record in enumerate(records):
        try:
            model.collate([record])
        except Exception as e:  # noqa: BLE001 - see _check_records
            return offset + i, e
    return None


def _clip(text: str, limit: int = 400) -> str:
    """The first line of `text`, at most `limit` characters: its middle (a message may quote a whole record)
    gives way to "...", its end (what to do) stays."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit // 2] + "..." + first[-(limit // 2 - 3):]


def _one_line(error: Exception) -> str:
    return f"{type(error).__name__}: {_clip(str(error), 200)}"


def _line_of_record(path: Path, index: int) -> int | str:
    """The line number of the index-th record of a JSONL file (read_jsonl skips blank lines)."""
    for lineno, line in text_lines(path, "JSONL"):
        if line.strip():
            if index == 0:
                return lineno
            index -= 1
    return "?"


def _write_run_config(ctx: dict) -> None:
    cfg = ctx["cfg"]
    info = {"model": ctx["name"], "config": cfg.to_dict(), "config_file": cfg.source,
            "fingerprint": fingerprint(cfg, ctx["name"]), "seed": cfg.seed, "fluxem_version": fluxem_version(),
            "torch_version": torch.__version__, "n_parameters": count_parameters(ctx["model"]),
            "data_sha256": ctx["data_sha"], "device": ctx["device"], "world_size": ctx["world_size"],
            "batch_size_per_step": cfg.training.batch_size * ctx["world_size"],
            "torch_threads": torch.get_num_threads()}  # the weights depend on it bit for bit (README, Threads)
    atomic_write_bytes(ctx["out"] / "config.json", (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())


def _context(model_name: str, cfg: Config, device: str) -> dict:
    """Data, model and optimizer of a run; reads only (every rank builds its own)."""
    torch.use_deterministic_algorithms(True, warn_only=device == "cuda")
    out = run_dir(cfg, model_name)
    train_records, val_records = load_split(cfg, "train"), load_split(cfg, "val")  # non-empty, or UserError
    data_sha = {s: file_sha256(split_path(cfg, s)) for s in ("train", "val")}
    model = build_model(model_name, cfg).to(device)  # seeded by cfg.seed inside: the same on every rank
    return {"name": model_name, "cfg": cfg, "model": model, "opt": make_optimizer(model, cfg), "out": out,
            "device": device, "data_sha": data_sha, "train": train_records, "val": val_records,
            "world_size": dist.current().world_size}


def _setup(model_name: str, cfg: Config, resume: bool, device: str) -> tuple[dict, TrainState]:
    """Everything is validated (data, model, resume state) before anything is deleted. Call under run_lock
    (rank 0 only, under torchrun). ctx["resumed"] says whether it resumed."""
    ctx = _context(model_name, cfg, device)
    _check_records(ctx)
    out = ctx["out"]
    make_dir(out)
    if resume:
        tidy_checkpoint(out / "last")
        tidy_checkpoint(out / "best")
    if resume and not (out / "last.json").exists() and not (out / "last.pt").exists():
        # A run stopped before its first epoch ended (or never started) has nothing to resume; starting
        # it from the beginning is what resuming it means, so a requeued `--resume` job just works.
        print(f"[{model_name}] nothing to resume in {out} (no last.json: no epoch was completed); starting "
              "from epoch 1", flush=True)
        resume = False
    if resume:
        state = _resume(ctx)
        write_metrics(out, state.history)  # a kill may have come between last.json and metrics.jsonl
    else:
        _start_fresh(out, model_name)
        state = TrainState()
    _write_run_config(ctx)
    ctx["resumed"] = resume
    return ctx, state


def train(model_name: str, cfg: Config, resume: bool = False) -> dict:
    """Train `model_name` on cfg's data; returns a summary.

    Ctrl-C / SIGTERM -> SystemExit(130 / 143) after a clean save; a NaN loss -> UserError (exit 2), with the
    last good checkpoint kept; a second run on the same run directory -> UserError."""
    device = resolve_device(cfg.device)
    d = dist.init(device)  # a no-op unless torchrun launched this process
    # Under torchrun, rank 0 alone holds the lock, deletes / tidies / writes; the others build the same
    # model and (on --resume) load the same last.pt once rank 0 has checked and tidied it.
    with (run_lock(run_dir(cfg, model_name)) if d.is_main else contextlib.nullcontext()), _sigterm_raises():
        summary = _train_locked(model_name, cfg, resume, device)
    dist.shutdown()  # a no-op in one process
    return summary


def _saved_epoch(out: Path) -> int:
    try:
        return int(json.loads((out / "last.json").read_text(encoding="utf-8"))["state"]["epoch"])
    except Exception:  # noqa: BLE001 - only for a message
        return 0


def _setup_all_ranks(model_name: str, cfg: Config, resume: bool, device: str) -> tuple[dict, TrainState]:
    """_setup. Under torchrun, rank 0 runs it and broadcasts whether it worked (and whether it resumed);
    the other ranks then build their own context and load the same last.pt."""
    d = dist.current()
    if d.is_main:
        try:
            ctx, state = _setup(model_name, cfg, resume, device)
        except BaseException as e:
            dist.broadcast({"error": f"{type(e).__name__}: {e}"})
            raise
        dist.broadcast({"error": None, "resumed": ctx["resumed"]})
        return ctx, state
    news = dist.broadcast(None)
    if news["error"] is not None:
        raise UserError(f"rank {d.rank}: rank 0 stopped before training ({news['error'][:300]})")
    ctx = _context(model_name, cfg, device)
    state = _resume(ctx) if news["resumed"] else TrainState()
    return ctx, state


def _train_locked(model_name: str, cfg: Config, resume: bool, device: str) -> dict:
    d = dist.current()
    ctx, state = _setup_all_ranks(model_name, cfg, resume, device)
    t = cfg.training
    say = print if d.is_main else (lambda *a, **k: None)  # rank 0 alone writes logs
    per_rank = f" ({d.world_size} processes x batch {t.batch_size})" if d.enabled else ""
    say(f"[{model_name}] {count_parameters(ctx['model']):,} parameters, {len(ctx['train'])} train / "
        f"{len(ctx['val'])} val examples, device {ctx['device']}{per_rank}, run dir {ctx['out']}", flush=True)
    if state.stopped_early or state.epoch >= t.epochs:
        say(f"[{model_name}] nothing to do: {state.epoch} epochs done (stopped early: {state.stopped_early})")
    start = time.perf_counter()
    try:
        for epoch in range(state.epoch, t.epochs):
            if state.stopped_early:
                break
            t0 = time.perf_counter()
            loss, lr = run_epoch(ctx["model"], ctx["opt"], ctx["train"], cfg, epoch, state, ctx["device"])
            evaluate_now = (epoch + 1) % t.eval_every == 0 or epoch + 1 == t.epochs
            state = _validate_and_save(ctx, state, epoch, loss, lr, evaluate_now, t0)
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        if d.is_main:
            print(f"[{model_name}] interrupted by {signal.Signals(signum).name}; {ctx['out'] / 'last.pt'} holds "
                  f"epoch {_saved_epoch(ctx['out'])}; resume with the same command plus --resume", file=sys.stderr)
        raise SystemExit(128 + signum) from None
    except Diverged as e:
        saved = _saved_epoch(ctx["out"])
        kept = (f"{ctx['out'] / 'last.pt'} keeps the last good state (epoch {saved})" if saved
                else "no checkpoint was saved")
        raise Diverged(f"training diverged: {e}; stopped, and {kept}; lower training.learning_rate "
                       f"(now {t.learning_rate:g}) and retrain") from None
    if state.stopped_early:
        say(f"[{model_name}] early stop: no val improvement in {t.patience} evals")
    return {"run_dir": str(ctx["out"]), "epochs": state.epoch, "best_epoch": state.best_epoch,
            "best_val_exact_match": state.best_val_exact_match, "stopped_early": state.stopped_early,
            "seconds": time.perf_counter() - start, "rank": d.rank, "world_size": d.world_size}


def _validate_and_save(ctx: dict, state: TrainState, epoch: int, loss: float, lr: float, evaluate_now: bool,
                       t0: float) -> TrainState:
    """Validate (if due), update the loop state and save. Under torchrun rank 0 alone does it, and every
    rank gets its TrainState (best, early stop) or its divergence, so they all stop together; the weights
    are the same on every rank (same init, same averaged steps; checked)."""
    d = dist.current()
    dist.check_in_sync(list(ctx["model"].parameters()), f"after epoch {epoch + 1}")
    if d.is_main:
        try:
            val = validate(ctx["model"], ctx["val"], ctx["cfg"], ctx["device"]) if evaluate_now else None
            _end_epoch(ctx, state, epoch, loss, lr, val, time.perf_counter() - t0)
        except Diverged as e:
            dist.broadcast({"diverged": str(e)})
            raise
        dist.broadcast({"diverged": None, "state": dataclasses.asdict(state)})
        return state
    news = dist.broadcast(None)
    if news["diverged"] is not None:
        raise Diverged(news["diverged"])
    return TrainState(**news["state"])
