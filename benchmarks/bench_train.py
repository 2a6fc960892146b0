"""Training throughput of the experiment models, and the hybrid's input cost, on one process.

    python experiments/scripts/generate_data.py --config experiments/configs/arithmetic_full.yaml
    python benchmarks/bench_train.py                       # arithmetic_full, 3 runs, every model
    python benchmarks/bench_train.py --records 2000 --runs 3 --models hybrid   # a quicker look
    FLUXEM_THREADS=2 python benchmarks/bench_train.py      # torch threads (default 1, see README "Threads")

Per run it measures, on the config's train split:
- tokenize, cold: the hybrid's teacher-forced states of a record (spans, FluxEM values, the teacher's
  steps on the executor) from an empty number-row cache, per record; the hybrid computes them once per
  record and run (its first epoch pays this, later epochs read them from memory);
- per model in `fxlab.models.MODELS` (token_only, hybrid, xval and the peers when present), one training
  epoch (`fxlab.train.loop.run_epoch`) from a fresh model: wall seconds, CPU seconds, samples/s. The hybrid's
  states are computed before the timed epoch (its cost is tokenize_cold_ms).
It prints the median and range over `--runs` runs and writes every raw figure to
`benchmarks/results/bench_train-<UTC time>.json` (with the load average before and after, since a
shared machine makes wall time noisy; CPU seconds are steadier there).

`--nproc N` measures training epochs under torchrun instead: for 1 and for N CPU processes (gloo), each
launched with `python -m torch.distributed.run --standalone --nproc_per_node K` on this file in worker
mode, one epoch per model per run (the ranks split the epoch, as train_*.py do), samples/s of the whole
world. Tokenization is not re-measured there. On a 2-core machine, 2 processes of 1 thread each use both
cores; a competing job takes one of them away (say so with --note).

    python benchmarks/bench_train.py --nproc 2 --runs 3 --models token_only hybrid
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments" / "scripts"))

import torch  # noqa: E402

import fluxem  # noqa: E402
import fluxem.number  # noqa: E402
from fxlab import UserError  # noqa: E402
from fxlab.config import load_config  # noqa: E402
from fxlab.data import load_split, read_jsonl, split_path  # noqa: E402
from fxlab.train.loop import TrainState, make_optimizer, run_epoch  # noqa: E402
from fxlab.models import MODELS, build_model  # noqa: E402
from fxlab.train.threads import setup_threads  # noqa: E402


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_tokenize(cfg, jsonl: Path, n_cold: int) -> dict:
    """ms per record of the hybrid's teacher-forced states (spans, values, teacher steps), cold."""
    records = read_jsonl(jsonl)[:n_cold]
    model = build_model("hybrid", cfg)
    fluxem.number._cached_row.cache_clear()  # cold: no number row left over from an earlier run or epoch
    wall, cpu = timed(lambda: [model._states_of(r) for r in records])
    return {"tokenize_cold_ms": 1e3 * wall / len(records), "tokenize_cold_cpu_ms": 1e3 * cpu / len(records)}


def bench_epoch(name: str, cfg, records: list[dict]) -> dict | None:
    """One training epoch of a fresh model; None if the model is not available."""
    try:
        model = build_model(name, cfg)
    except UserError as e:
        print(f"skipping {name}: {e}", file=sys.stderr)
        return None
    if name == "hybrid":  # what the first epoch does; its cost is in tokenize_cold_ms
        for r in records:
            model._states_of(r)
    opt, state = make_optimizer(model, cfg), TrainState()
    wall, cpu = timed(lambda: run_epoch(model, opt, records, cfg, 0, state, "cpu"))
    return {f"{name}_epoch_s": wall, f"{name}_epoch_cpu_s": cpu, f"{name}_samples_per_s": len(records) / wall}


def torchrun_worker(args) -> int:
    """One rank of a `--nproc` measurement: one epoch per model; rank 0 writes the figures to --worker-out."""
    from fxlab.train import dist

    setup_threads()
    cfg = load_config(Path(args.config), {"device": "cpu"})
    records = load_split(cfg, "train")[: args.records]
    d = dist.init("cpu")
    run = {}
    for name in args.models or list(MODELS):
        dist.barrier()  # every rank starts the epoch together
        run.update(bench_epoch(name, cfg, records) or {})
    if d.is_main:
        Path(args.worker_out).write_text(json.dumps(run))
    dist.shutdown()
    return 0


def bench_torchrun(args, cfg, records, models) -> list[dict]:
    """Runs of one epoch per model under torchrun with 1 and with args.nproc processes; keys carry `_np<K>`."""
    import tempfile

    runs = []
    for i in range(args.runs):
        run = {}
        for nproc in sorted({1, args.nproc}):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "run.json"
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
                       str(Path(__file__).resolve()), "--worker-out", str(out), "--config", args.config,
                       "--models", *models] + (["--records", str(args.records)] if args.records else [])
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0 or not out.is_file():
                    raise SystemExit(f"bench_train.py: torchrun --nproc_per_node {nproc} failed (exit "
                                     f"{proc.returncode}):\n{proc.stderr[-3000:]}")
                run.update({f"{k}_np{nproc}": v for k, v in json.loads(out.read_text()).items()})
        runs.append(run)
        print(f"run {i + 1}/{args.runs}: " + ", ".join(f"{k} {v:.4g}" for k, v in run.items()), flush=True)
    return runs


def summarize(runs: list[dict]) -> dict:
    keys = sorted({k for r in runs for k in r})
    out = {}
    for k in keys:
        values = [r[k] for r in runs if k in r]
        out[k] = {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip() + (" (dirty)" if subprocess.run(
                                  ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                  capture_output=True, text=True).stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "experiments/configs/arithmetic_full.yaml"))
    p.add_argument("--runs", type=int, default=3, help="timed runs (median and range are reported)")
    p.add_argument("--models", nargs="+", default=None,
                   help="default: every model in fxlab.models.MODELS")
    p.add_argument("--records", type=int, default=None, help="use the first N train records (default: all)")
    p.add_argument("--cold-records", type=int, default=2000, help="records for the cold tokenize timing")
    p.add_argument("--nproc", type=int, default=1,
                   help="N > 1: epochs under torchrun with 1 and with N CPU processes (no tokenize figures)")
    p.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)  # internal: one torchrun rank
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for the JSON result")
    p.add_argument("--note", default="", help="free text stored in the result (e.g. 'one competing process')")
    args = p.parse_args(argv)
    if args.worker_out:
        return torchrun_worker(args)
    if args.runs < 1:
        p.error("--runs must be >= 1")
    if args.nproc < 1:
        p.error("--nproc must be >= 1")
    try:
        threads = setup_threads()
        cfg = load_config(Path(args.config), {"device": "cpu"})
        records = load_split(cfg, "train")[: args.records]
    except UserError as e:
        raise SystemExit(f"bench_train.py: {e}") from None
    models = args.models or list(MODELS)
    load_before = os.getloadavg()
    runs = []
    for i in range(args.runs if args.nproc == 1 else 0):
        run = bench_tokenize(cfg, split_path(cfg, "train"), args.cold_records)
        for name in models:
            run.update(bench_epoch(name, cfg, records) or {})
        runs.append(run)
        print(f"run {i + 1}/{args.runs}: " + ", ".join(f"{k} {v:.4g}" for k, v in run.items()), flush=True)
    if args.nproc > 1:
        runs = bench_torchrun(args, cfg, records, models)
    summary = summarize(runs)
    result = {
        "benchmark": "bench_train", "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "git_commit": git_commit(),
        "note": args.note, "config": cfg.source, "nproc": args.nproc, "n_records": len(records), "torch_threads": threads,
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                 "torch": torch.__version__, "fluxem": fluxem.__version__,
                 "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "runs": runs, "summary": summary,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_train-{result['utc'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"\n{len(records)} train records of {cfg.source}, torch threads {threads}, "
          f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}; median [min, max] of {args.runs} runs")
    for k, s in summary.items():
        print(f"  {k:34s} {s['median']:10.4g}  [{s['min']:.4g}, {s['max']:.4g}]")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
