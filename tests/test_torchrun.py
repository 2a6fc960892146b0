"""Training under torchrun: 2 CPU processes (gloo) train, are killed, resume exactly, and eval reads the result.

The slow test launches `python -m torch.distributed.run --standalone --nproc_per_node 2` on the real
training script, as a user would (README "Several processes: torchrun"). Run it with
    OMP_NUM_THREADS=1 python -m pytest tests/test_torchrun.py -m slow -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import train_hybrid
from fxlab import UserError
from fxlab.train import dist, loop
from fxlab.config import REPO_ROOT, load_config
from fxlab.data import load_split, write_dataset
from fxlab.tasks import generate
from fxlab.models import MODELS, build_model

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
SCRIPTS = REPO_ROOT / "experiments" / "scripts"
EPOCHS = 30  # tiny epochs take ~0.1 s; enough of them that the kill lands mid-run


# ---------------------------------------------------------------- the sampler (fast)


@given(n=st.integers(1, 300), world=st.integers(1, 8), seed=st.integers(0, 2**31))
def test_shards_are_disjoint_equal_and_cover_the_epoch(n, world, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    shards = [dist.shard(order, dist.Dist(rank=r, world_size=world, enabled=True)) for r in range(world)]
    per_rank = -(-n // world)
    assert all(len(s) == per_rank for s in shards)  # equal steps on every rank, or the all-reduce would hang
    flat = [i for s in shards for i in s]
    assert set(flat) == set(order)  # every record is trained on
    assert len(flat) - len(set(flat)) == per_rank * world - n  # repeats only to pad (as DistributedSampler)
    if world == 1:
        assert shards[0] == order  # one process: the single-process order, untouched


def test_environment_decides_single_or_distributed():
    assert dist.from_env({}) == dist.SINGLE and not dist.SINGLE.enabled
    assert dist.from_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}) == dist.Dist(1, 2, 1, True)
    for bad in ({"WORLD_SIZE": "two"}, {"WORLD_SIZE": "2", "RANK": "2"}):
        with pytest.raises(UserError, match="torchrun"):
            dist.from_env(bad)


def test_autocast_is_off_on_the_cpu():
    """A CPU run (every single-process test) never autocasts: its numbers stay the fp32 ones."""
    assert isinstance(loop.autocast("cpu"), type(loop.contextlib.nullcontext()))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_under_bf16_autocast(name, data_root):
    """CUDA runs use bf16 autocast (no GPU here): CPU bf16 autocast runs the same op casts, and shows that
    no model mixes a bf16 activation into an fp32-only op in its forward or backward pass."""
    cfg = load_config(TINY, {"paths.data_dir": str(data_root / "data")})
    model = build_model(name, cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, loss = model(model.collate(load_split(cfg, "train")[:32]))
    loss.backward()
    assert torch.isfinite(loss.detach()).item()
    assert all(p.grad is None or p.grad.dtype == p.dtype == torch.float32 for p in model.parameters())


# ---------------------------------------------------------------- the real thing (subprocesses)


def launcher(root, *extra, nproc=2):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            str(SCRIPTS / "train_hybrid.py"), "--config", str(TINY), "--set", f"paths.data_dir={root / 'data'}",
            "--set", f"paths.results_dir={root / 'results'}", "--epochs", str(EPOCHS), *extra]


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SCRIPTS)}


def run(cmd, timeout=240):
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def rows(run_dir):
    out = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in out:
        row.pop("seconds")
    return out


def saved_epoch(run_dir):
    try:
        return json.loads((run_dir / "last.json").read_text())["state"]["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchrun")
    cfg = load_config(TINY, {"paths.data_dir": str(root / "data")})
    write_dataset(cfg, generate(cfg), root / "data")
    return root


def test_two_processes_train_with_rank_0_writing(data_root, tmp_path, capsys):
    """About 10 s: 2 gloo processes, 2 epochs."""
    (tmp_path / "data").symlink_to(data_root / "data")
    out = run(launcher(tmp_path, "--epochs", "2"))
    rdir = tmp_path / "results" / "hybrid"
    assert out.stdout.count("] done: best val exact match") == 1  # rank 0 reports, rank 1 is quiet
    assert out.stdout.count("] epoch 1/2") == 1
    config = json.loads((rdir / "config.json").read_text())
    assert config["world_size"] == 2 and config["batch_size_per_step"] == 2 * config["config"]["training"]["batch_size"]
    assert [row["world_size"] for row in rows(rdir)] == [2, 2]
    assert json.loads((rdir / "last.json").read_text())["world_size"] == 2
    weights = torch.load(rdir / "last.pt", weights_only=True)["model"]
    assert weights.keys() == build_model("hybrid", load_config(TINY)).state_dict().keys()  # no "module."
    # 4 steps an epoch: 200 records, 100 a process, batches of 32
    assert [row["step"] for row in rows(rdir)] == [4, 8]
    # resuming it as one plain process would change the schedule: refused, with what to run instead
    with pytest.raises(SystemExit) as exc:
        train_hybrid.main(["--config", str(TINY), "--set", f"paths.data_dir={tmp_path / 'data'}",
                           "--set", f"paths.results_dir={tmp_path / 'results'}", "--epochs", "2", "--resume"])
    assert exc.value.code == 2
    assert "written by a run of 2 process(es)" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_train_kill_resume_eval(data_root, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for r in (straight, killed):
        r.mkdir()
        (r / "data").symlink_to(data_root / "data")

    # 1. an uninterrupted 2-process run
    run(launcher(straight))
    sdir = straight / "results" / "hybrid"
    assert len(rows(sdir)) == EPOCHS

    # 2. the same run, its launcher sent SIGTERM after the first checkpoint (as a scheduler would)
    kdir = killed / "results" / "hybrid"
    proc = subprocess.Popen(launcher(killed), env=env(), cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while saved_epoch(kdir) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        try:  # the workers are in the launcher's session: make sure none outlives the test
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stopped_at = saved_epoch(kdir)
    assert 1 <= stopped_at < EPOCHS, f"the kill came too late (epoch {stopped_at}); stderr: {err[-2000:]}"
    # (metrics.jsonl may lag last.json by the kill's epoch, or be absent: --resume rewrites it from last.json)
    assert "interrupted by SIGTERM" in err and "plus --resume" in err  # rank 0 says how to go on

    # 3. --resume under torchrun: every rank loads last.pt, and the run ends exactly as the straight one
    out = run(launcher(killed, "--resume"))
    assert f"resuming after epoch {stopped_at}" in out.stdout
    assert rows(kdir) == rows(sdir)
    for name in ("last.pt", "best.pt"):
        a, b = (torch.load(d / name, weights_only=True)["model"] for d in (kdir, sdir))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name

    # 4. eval (one process) reads the 2-process checkpoint as any other
    ev = subprocess.run([sys.executable, str(SCRIPTS / "eval.py"), "--config", str(TINY), "--models", "hybrid",
                         "--set", f"paths.data_dir={killed / 'data'}",
                         "--set", f"paths.results_dir={killed / 'results'}"],
                        env=env(), capture_output=True, text=True, timeout=240, cwd=REPO_ROOT)
    assert ev.returncode == 0, ev.stderr[-2000:]
    metrics = json.loads((killed / "results" / "metrics.json").read_text())
    assert set(metrics["hybrid"]) >= {"test_id", "test_ood_magnitude", "test_ood_length"}


@pytest.mark.slow
def test_one_process_under_torchrun_equals_a_plain_run(data_root, tmp_path):
    """torchrun --nproc_per_node 1 takes the distributed code path (process group, all-reduce) and must
    give the plain run's numbers bit for bit."""
    (tmp_path / "data").symlink_to(data_root / "data")
    plain = tmp_path / "plain"
    cmd = launcher(tmp_path, "--epochs", "2", nproc=1)
    run(cmd)
    run([sys.executable, str(SCRIPTS / "train_hybrid.py"), *cmd[cmd.index("--config"):],
         "--set", f"paths.results_dir={plain}"])
    a, b = tmp_path / "results" / "hybrid", plain / "hybrid"
    assert rows(a) == rows(b)
    ta, tb = (torch.load(d / "last.pt", weights_only=True)["model"] for d in (a, b))
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
