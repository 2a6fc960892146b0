"""Run one config's whole pipeline over several seeds and aggregate the results (mean and min-max).

    python experiments/scripts/run_seeds.py experiments/configs/arithmetic_small.yaml --seeds 42,43,44
    python experiments/scripts/run_seeds.py experiments/configs/units_small.yaml --seeds 42,43,44 \\
        --set paths.data_dir=experiments/data/seeds/units_small \\
        --set paths.results_dir=experiments/results/seeds/units_small
    python experiments/scripts/run_seeds.py experiments/configs/arithmetic_small.yaml --seeds 42,43,44 --aggregate-only

Each seed N runs run_all_experiments.sh (data -> token-only -> xVal -> Abacus -> FoNE -> hybrid -> eval; the
arithmetic task runs Abacus and FoNE) with `--seed N` and
its own folders, since the data depend on the seed:
    <paths.data_dir>/seed<N>/          that seed's data
    <paths.results_dir>/seed<N>/       that seed's checkpoints, predictions/ and metrics.json (kept)
Then it writes into <paths.results_dir>/:
    aggregate.json    {"seeds": [...], "task": ..., "per_seed": {seed: metrics.json}, "aggregate":
                      {model: {split: {metric: {"mean", "min", "max", "n_seeds"}}}}}
    aggregate.txt     the table it prints: each cell is the mean over seeds and the min-max
    plots/exact_match.png   the eval.py figure over the predictions of every seed (pooled records)
`--aggregate-only` skips the runs and aggregates the seed folders already there (each must hold a
metrics.json). Extra flags (--set KEY=VALUE, --device) go to every script. A single-seed run is
run_all_experiments.sh as before; this script adds nothing to it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from fxlab import UserError
from fxlab.cli import config_from_args, run_main
from fxlab.config import DEVICES
from fxlab.data import atomic_write_bytes, read_jsonl
from fxlab.metrics import MODEL_LABELS, SPLIT_LABELS, TITLES, metrics_problem

PROG = "run_seeds.py"
HERE = Path(__file__).resolve().parent
# The rates the table aggregates, in print order: (metrics.json key, section title, as a percentage).
METRICS = (("exact_match", "Exact match, % (mean over seeds, min-max)", True),
           ("dimensional_correctness", "Dimensional correctness, % (mean, min-max)", True),
           ("boolean_accuracy", "Boolean accuracy, % (mean, min-max)", True),
           ("median_rel_error", "Median relative error (mean, min-max)", False))
LABEL_WIDTH, COLUMN_WIDTH = 22, 20
PREDICTION_KEYS = ("id", "text", "target", "correct")  # of eval.py's prediction rows, as the figure reads them


def parse_seeds(text: str) -> list[int]:
    """'42,43,44' -> [42, 43, 44]; at least one seed, no repeats.

    >>> parse_seeds("42, 43,44")
    [42, 43, 44]
    """
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers such as 42,43,44, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds takes distinct comma-separated integers such as 42,43,44, got {text!r}")
    return seeds


def seed_dirs(data_dir: str, results_dir: str, seed: int) -> tuple[str, str]:
    """The data and results folders of one seed, below the config's (as written, repo-root relative)."""
    return f"{data_dir.rstrip('/')}/seed{seed}", f"{results_dir.rstrip('/')}/seed{seed}"


def aggregate(per_seed: dict) -> dict:
    """{model: {split: {metric: {mean, min, max, n_seeds}}}} over {seed: metrics.json contents}.

    A metric that is None in a seed (no numeric targets) is left out of that seed's count.

    >>> a = aggregate({42: {"hybrid": {"test_id": {"exact_match": 0.5}}},
    ...                43: {"hybrid": {"test_id": {"exact_match": 1.0}}}})
    >>> a["hybrid"]["test_id"]["exact_match"]
    {'mean': 0.75, 'min': 0.5, 'max': 1.0, 'n_seeds': 2}
    """
    out: dict = {}
    for metrics in per_seed.values():
        for model, splits in metrics.items():
            for split, summary in splits.items():
                for key, _, _ in METRICS:
                    if summary.get(key) is not None:
                        out.setdefault(model, {}).setdefault(split, {}).setdefault(key, []).append(summary[key])
    return {model: {split: {key: {"mean": statistics.fmean(v), "min": min(v), "max": max(v), "n_seeds": len(v)}
                            for key, v in cells.items()}
                    for split, cells in splits.items()}
            for model, splits in out.items()}


def _cell(stats: dict | None, percent: bool, n_seeds: int) -> str:
    if stats is None:
        return "-"
    f = (lambda x: f"{100 * x:.1f}") if percent else (lambda x: f"{x:.3g}")
    text = f"{f(stats['mean'])} ({f(stats['min'])}-{f(stats['max'])})"
    return text if stats["n_seeds"] == n_seeds else f"{text} [{stats['n_seeds']}/{n_seeds}]"  # a seed lacks it


def format_aggregate(agg: dict, task: str, seeds: list[int], per_seed: dict | None = None) -> str:
    """The aggregate table: one section per metric present, rows = splits, columns = models; then, given
    per_seed ({seed: metrics.json contents}), the exact match of each seed.

    >>> agg = aggregate({1: {"hybrid": {"test_id": {"exact_match": 0.5}}},
    ...                  2: {"hybrid": {"test_id": {"exact_match": 1.0}}}})
    >>> print(format_aggregate(agg, "arithmetic", [1, 2]).splitlines()[4])
    ID Test               75.0 (50.0-100.0)
    """
    models = [m for m in MODEL_LABELS if m in agg] + sorted(m for m in agg if m not in MODEL_LABELS)
    present = {s for m in models for s in agg[m]}
    splits = [s for s in SPLIT_LABELS if s in present] + sorted(present - set(SPLIT_LABELS))
    cells = {(key, s, m): _cell(agg[m].get(s, {}).get(key), percent, len(seeds))
             for key, _, percent in METRICS for s in splits for m in models}
    # columns as wide as the widest cell (an xVal relative error can read "1.23e+07 (4.97e+06-1.97e+07)")
    width = max([COLUMN_WIDTH] + [len(c) + 2 for c in cells.values()])
    label_width = max([LABEL_WIDTH] + [len(SPLIT_LABELS.get(s, s)) + 4 for s in splits])
    def row(label: str, cells: list[str]) -> str:
        return (label.ljust(label_width) + "".join(c.ljust(width) for c in cells)).rstrip()

    title = TITLES.get(task, "Mathematics Dataset" if task == "mathds" else task.title())
    lines = [f"=== {title} Evaluation, seeds {', '.join(map(str, seeds))} ==="]
    for key, section, _ in METRICS:
        if not any(key in agg[m].get(s, {}) for m in models for s in splits):
            continue
        lines += ["", section, row("", [MODEL_LABELS.get(m, m) for m in models])]
        lines += [row(SPLIT_LABELS.get(s, s), [cells[key, s, m] for m in models]) for s in splits]
    if per_seed:
        lines += ["", "Exact match per seed, %:"]
        for seed, metrics in per_seed.items():
            lines += [row(f"seed {seed}", [MODEL_LABELS.get(m, m) for m in models])]
            lines += [row(f"  {SPLIT_LABELS.get(s, s)}", [f"{100 * metrics[m][s]['exact_match']:.1f}"
                                                         if s in metrics.get(m, {}) else "-" for m in models])
                      for s in splits]
    return "\n".join(lines)


def load_seed_metrics(results_dir: Path, seeds: list[int]) -> dict:
    per_seed = {}
    for seed in seeds:
        path = results_dir / f"seed{seed}" / "metrics.json"
        if not path.is_file():
            raise UserError(f"{path} is missing: run seed {seed} first (without --aggregate-only)")
        try:
            per_seed[seed] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UserError(f"{path} is not a metrics file of eval.py; run eval.py for seed {seed} again") from None
        problem = metrics_problem(per_seed[seed])
        if problem:
            raise UserError(f"{path} is not a metrics file of eval.py: {problem}; run eval.py for seed {seed} again")
    return per_seed


def pooled_rows(results_dir: Path, seeds: list[int]) -> dict:
    """{model: {"seed<N>/<split>": prediction rows}} over every seed's predictions/ folder."""
    rows: dict = {}
    for seed in seeds:
        for path in sorted((results_dir / f"seed{seed}" / "predictions").glob("*/*.jsonl")):
            rows.setdefault(path.parent.name, {})[f"seed{seed}/{path.stem}"] = read_jsonl(path, PREDICTION_KEYS)
    return rows


def write_aggregate(cfg, seeds: list[int]) -> str:
    """Aggregate the seed folders under cfg's results_dir; write aggregate.json/.txt and the figure."""
    from eval import save_plots  # matplotlib and torch only when aggregating

    out = cfg.results_path
    per_seed = load_seed_metrics(out, seeds)
    agg = aggregate(per_seed)
    table = format_aggregate(agg, cfg.task, seeds, per_seed)
    doc = {"seeds": seeds, "task": cfg.task, "config": cfg.source, "aggregate": agg,
           "per_seed": {str(s): m for s, m in per_seed.items()}}
    atomic_write_bytes(out / "aggregate.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    atomic_write_bytes(out / "aggregate.txt", (table + "\n").encode())
    stem = Path(cfg.source).stem
    for path in save_plots(pooled_rows(out, seeds), out / "plots",
                           title=f"{stem}, seeds {', '.join(map(str, seeds))} pooled"):
        table += f"\nsaved {path}"
    return table + f"\nwrote {out / 'aggregate.json'} and {out / 'aggregate.txt'}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML config, e.g. experiments/configs/arithmetic_small.yaml")
    p.add_argument("--seeds", required=True, help="comma-separated seeds, e.g. 42,43,44")
    p.add_argument("--aggregate-only", action="store_true",
                   help="skip the runs; aggregate the seed<N>/ folders already under results_dir")
    p.add_argument("--device", choices=DEVICES, default=None, help="passed to every script")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override passed to every script, e.g. --set training.epochs=5 (repeatable)")
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    seeds = parse_seeds(args.seeds)
    ns = argparse.Namespace(config=args.config, overrides=args.overrides, seed=None, device=args.device)
    cfg = config_from_args(ns)  # a bad config or --set fails here, before any run
    if not args.aggregate_only:
        python = os.environ.get("PYTHON", sys.executable)
        for seed in seeds:
            data_dir, results_dir = seed_dirs(cfg.paths.data_dir, cfg.paths.results_dir, seed)
            # the config's paths are in the per-seed paths already; every other --set goes on as given
            kept = [o for o in args.overrides
                    if o.partition("=")[0].strip() not in ("paths.data_dir", "paths.results_dir")]
            extra = [f"--set={o}" for o in kept] + (["--device", args.device] if args.device else [])
            cmd = ["bash", str(HERE / "run_all_experiments.sh"), args.config, "--seed", str(seed), *extra,
                   "--set", f"paths.data_dir={data_dir}", "--set", f"paths.results_dir={results_dir}"]
            print(f"==> seed {seed}: {' '.join(cmd[2:])}", flush=True)
            rc = subprocess.run(cmd, env={**os.environ, "PYTHON": python}).returncode
            if rc != 0:
                raise UserError(f"seed {seed} failed (exit {rc}); its output is above. Fix it, then rerun "
                                f"(finished seeds can be aggregated with --aggregate-only --seeds ...)")
    print(write_aggregate(cfg, seeds))
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
