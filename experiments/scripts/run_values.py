"""The "reading values" study in one command: train and evaluate the pointer-readout hybrid with each slot
embedding over several seeds, then tabulate exact match per split group and plot it against how close the
deciding values are.

    python experiments/scripts/run_values.py --config experiments/configs/values_small.yaml \\
        --embeddings fluxem,fone,xval,digits,hidden --seeds 42,43,44 --reference
    python experiments/scripts/run_values.py --config experiments/configs/values_small.yaml \\
        --embeddings fluxem,fone,xval,digits,hidden --seeds 42,43,44 --reference --report-only

For each seed N with a run still to do: generate_data.py into <paths.data_dir>/seed<N> (the data depend on
the seed). Then for each seed and embedding E: train_hybrid.py (with --resume, so an interrupted training
continues and a finished one is not redone) and eval.py --models hybrid with one --data per file of
--splits-dir (default experiments/data/values_splits, made by make_values_splits.py), all with
    --seed N --set model.slot_embedding=E --set paths.results_dir=<paths.results_dir>_<E>/seed<N>
    --set paths.data_dir=<paths.data_dir>/seed<N>
`--reference` adds the row the pointer heads are measured against: slot embedding fluxem with
model.value_readout=executor (the shipped hybrid, whose executor compares exact values), in
<paths.results_dir>_executor/seed<N>. A run whose metrics.json already holds every split is skipped, so an
interrupted study resumes where it stopped. Extra --set KEY=VALUE and --device go to every script.

Always at the end (alone with --report-only), into <paths.results_dir>_values/:
    values_table.txt     exact match %, one block per split group (interpolate, _more, mag_up, mag_down,
                         close): rows = embedding, columns = module and the group pooled; each cell the mean
                         over seeds and the min-max; "—" where no seed has the split
    values_table.json    the same numbers (with each seed's), and the accuracy-vs-gap bins
    accuracy_vs_gap.png  exact match against the relative gap between the two closest deciding values
                         (fxlab/tasks/values_splits.relative_gap), pooled over seeds and every split's questions
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fxlab import UserError
from fxlab.cli import config_from_args, run_main
from fxlab.config import DEVICES, REPO_ROOT, SLOT_EMBEDDINGS, resolve_path
from fxlab.data import atomic_write_bytes, read_jsonl
from fxlab.metrics import wilson_interval
from run_seeds import parse_seeds

PROG = "run_values.py"
HERE = Path(__file__).resolve().parent
MODEL = "hybrid"
REFERENCE, REFERENCE_LABEL = "executor", "executor (reference)"
MISSING = "—"
DEFAULT_SPLITS_DIR = REPO_ROOT / "experiments" / "data" / "values_splits"
MODULES = ("pair", "closest", "kth_biggest", "sort")
# (key, title, {column: split}) in print order; a split absent from every run shows as MISSING.
GROUPS = (
    ("interpolate", "Interpolate (the config's test files)", {m: f"comparison__{m}" for m in MODULES}),
    ("more", "_more (more values per question)", {m: f"comparison__{m}_more" for m in MODULES[1:]}),
    ("mag_up", "mag_up (every number times 10**6..12)", {m: f"comparison__{m}_mag_up" for m in MODULES}),
    ("mag_down", "mag_down (every number times 10**-6..-12)", {m: f"comparison__{m}_mag_down" for m in MODULES}),
    ("close", "close (deciding values under 1% apart)", {m: f"comparison__{m}_close" for m in MODULES}),
)
POOLED = "pooled"
# Relative-gap bins [lo, hi); a gap of exactly 0 (two equal literals) is its own bin, inf (no pair) is left out.
GAP_EDGES = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, math.inf)
GAP_LABELS = ("<1e-4", "1e-4-1e-3", "1e-3-3e-3", "3e-3-0.01", "0.01-0.03", "0.03-0.1", "0.1-0.3", "0.3-1", ">=1")
EQUAL = "equal"
MIN_BIN_N = 10  # a bin with fewer questions is not drawn (its rate says little)
PREDICTION_KEYS = ("text", "correct")


# ---- what to run ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One training + evaluation: a table row (an embedding, or the executor reference) and a seed."""
    row: str
    seed: int
    results_dir: str  # as passed on (repo-root relative or absolute)
    data_dir: str

    def overrides(self) -> list[str]:
        """The --set flags that make the config this run's (after the user's, so these win)."""
        embedding = "fluxem" if self.row == REFERENCE else self.row
        flags = ["--set", f"model.slot_embedding={embedding}"]
        if self.row == REFERENCE:
            flags += ["--set", "model.value_readout=executor"]
        return flags + ["--set", f"paths.results_dir={self.results_dir}", "--set", f"paths.data_dir={self.data_dir}"]


def parse_embeddings(text: str) -> list[str]:
    """'fluxem, hidden' -> ['fluxem', 'hidden']; each a model.slot_embedding, no repeats."""
    names = [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in names if e not in SLOT_EMBEDDINGS]
    if not names or bad or len(set(names)) != len(names):
        raise UserError(f"--embeddings takes distinct comma-separated names from {', '.join(SLOT_EMBEDDINGS)}, "
                        f"got {text!r}")
    return names


def row_dir(results_dir: str, row: str) -> str:
    """The results folder of a row's seeds: <results_dir>_<row>."""
    return f"{results_dir.rstrip('/')}_{row}"


def report_dir(results_dir: str) -> Path:
    return resolve_path(f"{results_dir.rstrip('/')}_values")


def plan_runs(rows: list[str], seeds: list[int], results_dir: str, data_dir: str) -> list[Run]:
    """Every (row, seed) run, seed by seed, so that a study cut short has every row for its first seeds."""
    return [Run(row, seed, f"{row_dir(results_dir, row)}/seed{seed}", f"{data_dir.rstrip('/')}/seed{seed}")
            for seed in seeds for row in rows]


def split_files(splits_dir: Path) -> list[Path]:
    """The --data files of eval: every .txt (two-line) or .jsonl file of the splits folder, sorted."""
    if not splits_dir.is_dir():
        raise UserError(f"--splits-dir {splits_dir} is not a folder; run experiments/scripts/make_values_splits.py "
                        "first, or pass --splits-dir")
    files = sorted(p for p in splits_dir.iterdir() if p.is_file() and p.suffix in (".txt", ".jsonl"))
    if not files:
        raise UserError(f"--splits-dir {splits_dir} holds no .txt or .jsonl files; run "
                        "experiments/scripts/make_values_splits.py first")
    return files


def read_metrics_file(path: Path) -> dict | None:
    """The parsed metrics.json at `path`, or None when it is missing or not JSON (eval.py reports the latter)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def run_complete(results_path: Path, splits: list[str]) -> bool:
    """Whether <results_path>/metrics.json already holds the hybrid's result on every split."""
    doc = read_metrics_file(results_path / "metrics.json")
    done = doc.get(MODEL) if doc else None
    return isinstance(done, dict) and all(isinstance(done.get(s), dict) for s in splits)


def step(label: str, cmd: list[str]) -> float:
    """Run one script, printing it and its wall time; a failure stops the study with one line."""
    print(f"==> {label}: {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}", flush=True)
    start = time.perf_counter()
    rc = subprocess.run(cmd).returncode
    seconds = time.perf_counter() - start
    if rc != 0:
        raise UserError(f"{label} failed (exit {rc}) after {seconds:.0f}s; its output is above. Fix it and rerun "
                        "the same command (finished runs are skipped)")
    print(f"<== {label}: done in {seconds:.1f}s", flush=True)
    return seconds


def run_study(args, cfg, runs: list[Run], files: list[Path], splits: list[str]) -> None:
    """Generate each pending seed's data once, then train and evaluate every run not yet complete."""
    python = os.environ.get("PYTHON", sys.executable)
    kept = [o for o in args.overrides if o.partition("=")[0].strip() not in ("paths.data_dir", "paths.results_dir")]
    common = ["--config", args.config] + [f"--set={o}" for o in kept]
    common += ["--device", args.device] if args.device else []
    pending = [r for r in runs if not run_complete(resolve_path(r.results_dir), splits)]
    for r in runs:
        if r not in pending:
            print(f"skip {r.row} seed {r.seed}: {resolve_path(r.results_dir) / 'metrics.json'} holds every split")
    for seed in dict.fromkeys(r.seed for r in pending):
        data_dir = next(r.data_dir for r in pending if r.seed == seed)
        step(f"data seed {seed}", [python, str(HERE / "generate_data.py"), *common, "--seed", str(seed),
                                   "--set", f"paths.data_dir={data_dir}"])
    data_flags = [x for f in files for x in ("--data", str(f))]
    for r in pending:
        flags = [*common, "--seed", str(r.seed), *r.overrides()]
        step(f"train {r.row} seed {r.seed}", [python, str(HERE / "train_hybrid.py"), *flags, "--resume"])
        step(f"eval {r.row} seed {r.seed}", [python, str(HERE / "eval.py"), *flags, "--models", MODEL, *data_flags])


# ---- the table --------------------------------------------------------------------------------------------

def load_row_metrics(root: Path, seeds: list[int]) -> dict:
    """{seed: {split: summary}} of the hybrid in <root>/seed<N>/metrics.json; seeds without one are left out."""
    out = {}
    for seed in seeds:
        doc = read_metrics_file(root / f"seed{seed}" / "metrics.json")
        if doc and isinstance(doc.get(MODEL), dict):
            out[seed] = doc[MODEL]
    return out


def _n_correct(summary: dict) -> int:
    return summary["n_correct"] if "n_correct" in summary else round(summary["exact_match"] * summary["n"])


def seed_stats(values: dict) -> dict | None:
    """{mean, min, max, n_seeds, per_seed} of {seed: rate}; None when no seed has a value.

    >>> seed_stats({1: 0.5, 2: 1.0})["mean"], seed_stats({}) is None
    (0.75, True)
    """
    if not values:
        return None
    v = list(values.values())
    return {"mean": statistics.fmean(v), "min": min(v), "max": max(v), "n_seeds": len(v),
            "per_seed": {str(s): x for s, x in values.items()}}


def pooled_rate(summaries: dict, splits: list[str]) -> float | None:
    """Exact match over the questions of every split in `splits` of one seed; None if one split is missing."""
    if not all(s in summaries for s in splits):
        return None
    n = sum(summaries[s]["n"] for s in splits)
    return sum(_n_correct(summaries[s]) for s in splits) / n if n else None


def build_table(per_row: dict) -> dict:
    """{row: {group: {column: stats or None}}} from {row: {seed: {split: summary}}}: per module the seeds'
    exact match, and per group the seeds' pooled exact match (a seed counts only when it has every split)."""
    table: dict = {}
    for row, per_seed in per_row.items():
        for group, _, columns in GROUPS:
            cells = {col: seed_stats({seed: m[split]["exact_match"] for seed, m in per_seed.items() if split in m})
                     for col, split in columns.items()}
            pooled = {seed: pooled_rate(m, list(columns.values())) for seed, m in per_seed.items()}
            cells[POOLED] = seed_stats({s: v for s, v in pooled.items() if v is not None})
            table.setdefault(row, {})[group] = cells
    return table


def _pct(x: float) -> str:
    """A rate in % with one decimal, 100% as "100" (keeps the columns narrow)."""
    text = f"{100 * x:.1f}"
    return "100" if text == "100.0" else text


def format_cell(stats: dict | None, n_seeds: int) -> str:
    """'99.5 (99.0-100)': mean over seeds (min-max); '*' when fewer seeds than asked; MISSING without any.

    >>> format_cell({"mean": 0.995, "min": 0.99, "max": 1.0, "n_seeds": 2}, 3)
    '99.5 (99.0-100)*'
    """
    if stats is None:
        return MISSING
    text = f"{_pct(stats['mean'])} ({_pct(stats['min'])}-{_pct(stats['max'])})"
    return text + ("*" if stats["n_seeds"] < n_seeds else "")


def row_label(row: str) -> str:
    return REFERENCE_LABEL if row == REFERENCE else row


def format_table(table: dict, seeds: list[int], title: str = "") -> str:
    """One block per split group: rows = table rows, columns = the group's modules and the pooled rate. Six
    rows of five columns fit in 110 characters: a '*' takes one of the two spaces after its cell."""
    label_width = max(len(row_label(r)) for r in table) + 1 if table else 10
    lines = [f"=== {title + ': ' if title else ''}exact match %, mean over seeds {', '.join(map(str, seeds))} "
             "(min-max) ==="]
    starred = False
    for group, group_title, columns in GROUPS:
        cols = list(columns) + [POOLED]
        cells = {(r, c): format_cell(table[r][group][c], len(seeds)) for r in table for c in cols}
        starred |= any(c.endswith("*") for c in cells.values())
        width = max([len(c) for c in cols] + [len(c.rstrip("*")) for c in cells.values()]) + 2
        lines += ["", group_title, ("".ljust(label_width) + "".join(c.ljust(width) for c in cols)).rstrip()]
        lines += [(row_label(r).ljust(label_width) + "".join(cells[r, c].ljust(width) for c in cols)).rstrip()
                  for r in table]
    if starred:
        lines += ["", "* from fewer seeds than asked (a run is missing or lacks that split)"]
    return "\n".join(lines)


# ---- accuracy against the relative gap ----------------------------------------------------------------------

def gap_bin(gap: float) -> str | None:
    """The bin label of a relative gap: EQUAL for 0, None for inf / nan (no two values to compare).

    >>> gap_bin(0.0), gap_bin(5e-5), gap_bin(0.005), gap_bin(1.5), gap_bin(math.inf)
    ('equal', '<1e-4', '3e-3-0.01', '>=1', None)
    """
    if gap == 0:
        return EQUAL
    if not (0 < gap < math.inf):
        return None
    for lo, hi, label in zip(GAP_EDGES, GAP_EDGES[1:], GAP_LABELS):
        if lo <= gap < hi:
            return label
    return None


def bin_records(records: list[tuple[float, bool]]) -> list[dict]:
    """[{bin, n, n_correct, exact_match, ci95}] of (gap, correct) pairs, in bin order, empty bins left out."""
    counts: dict = {}
    for gap, correct in records:
        label = gap_bin(gap)
        if label is not None:
            n, k = counts.get(label, (0, 0))
            counts[label] = (n + 1, k + bool(correct))
    return [{"bin": label, "n": counts[label][0], "n_correct": counts[label][1],
             "exact_match": counts[label][1] / counts[label][0], "ci95": list(wilson_interval(*counts[label][::-1]))}
            for label in (EQUAL, *GAP_LABELS) if label in counts]


def load_gap_records(root: Path, seeds: list[int], gaps: dict | None = None) -> list[tuple[float, bool]]:
    """(relative gap, correct) of every hybrid prediction under <root>/seed<N>/predictions/, all splits and
    seeds pooled. `gaps` caches relative_gap by text (the rows share their questions)."""
    from fxlab.tasks.values_splits import relative_gap

    gaps = {} if gaps is None else gaps
    out = []
    for seed in seeds:
        for path in sorted((root / f"seed{seed}" / "predictions" / MODEL).glob("*.jsonl")):
            for r in read_jsonl(path, PREDICTION_KEYS):
                if r["text"] not in gaps:
                    gaps[r["text"]] = relative_gap(r["text"])
                out.append((gaps[r["text"]], bool(r["correct"])))
    return out


def save_gap_figure(bins_by_row: dict, path: Path, title: str = "") -> Path | None:
    """accuracy_vs_gap.png: one line per row over the gap bins (categorical, log-spaced), Wilson 95% bands;
    bins with under MIN_BIN_N questions are not drawn. None when there is nothing to draw."""
    order = [EQUAL, *GAP_LABELS]
    kept = {row: [b for b in bins if b["n"] >= MIN_BIN_N] for row, bins in bins_by_row.items()}
    present = [label for label in order if any(b["bin"] == label for bins in kept.values() for b in bins)]
    if not present:
        print("info: no gap bin has enough questions; skipping the accuracy-vs-gap figure")
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("info: matplotlib is not installed; skipping the accuracy-vs-gap figure")
        return None
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, (row, bins) in enumerate(kept.items()):
        if not bins:
            continue
        x = [present.index(b["bin"]) for b in bins]
        y = [100 * b["exact_match"] for b in bins]
        lo, hi = [100 * b["ci95"][0] for b in bins], [100 * b["ci95"][1] for b in bins]
        style = dict(color="black", linestyle="--") if row == REFERENCE else dict(color=f"C{i % 10}")
        cut = 1 if bins[0]["bin"] == EQUAL else 0  # "equal" is no gap size: a point of its own, not on the line
        if cut:
            ax.errorbar(x[:1], y[:1], yerr=[[max(0.0, y[0] - lo[0])], [max(0.0, hi[0] - y[0])]], marker="o", capsize=3,
                        color=style["color"], linestyle="none")
        ax.plot(x[cut:], y[cut:], marker="o", label=row_label(row), **style)
        ax.fill_between(x[cut:], lo[cut:], hi[cut:], alpha=0.12, color=style["color"], linewidth=0)
    ns = {label: sorted({b["n"] for bins in kept.values() for b in bins if b["bin"] == label}) for label in present}
    ticks = [f"{label}\nn={n[0]}" if len(n) == 1 else f"{label}\nn={n[0]}-{n[-1]}" for label, n in ns.items()]
    ax.set_xticks(range(len(present)), ticks, fontsize="small")
    ax.set(xlabel="relative gap between the two closest deciding values (log-spaced bins)",
           ylabel="exact match (%)", ylim=(-2, 102))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"{title + ': ' if title else ''}exact match vs relative gap, 95% Wilson bands "
                 f"(bins with n < {MIN_BIN_N} dropped)", fontsize="medium")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())
    return path


# ---- the report -------------------------------------------------------------------------------------------

def write_report(results_dir: str, rows: list[str], seeds: list[int], title: str = "", config: str = "") -> str:
    """Read every row's seed folders under <results_dir>_<row>/, write values_table.txt/.json and the figure
    into <results_dir>_values/, and return the table with the paths written."""
    roots = {row: resolve_path(row_dir(results_dir, row)) for row in rows}
    per_row = {row: load_row_metrics(root, seeds) for row, root in roots.items()}
    missing = [f"{row} seed {s}" for row in rows for s in seeds if s not in per_row[row]]
    table = build_table(per_row)
    text = format_table(table, seeds, title)
    gaps: dict = {}
    bins = {row: bin_records(load_gap_records(root, seeds, gaps)) for row, root in roots.items()}
    out = report_dir(results_dir)
    doc = {"config": config, "seeds": seeds, "rows": rows, "row_labels": {r: row_label(r) for r in rows},
           "groups": {g: columns for g, _, columns in GROUPS}, "table": table, "missing_runs": missing,
           "gap_bins": {"edges": [e if math.isfinite(e) else None for e in GAP_EDGES], "labels": [EQUAL, *GAP_LABELS],
                        "min_n_drawn": MIN_BIN_N, "rows": bins}}
    atomic_write_bytes(out / "values_table.json", (json.dumps(doc, indent=2) + "\n").encode())
    atomic_write_bytes(out / "values_table.txt", (text + "\n").encode())
    figure = save_gap_figure(bins, out / "accuracy_vs_gap.png", title)
    if missing:
        text += f"\nwarning: no metrics.json for {', '.join(missing)} (shown as {MISSING} or *)"
    text += f"\nwrote {out / 'values_table.txt'} and {out / 'values_table.json'}"
    return text + (f"\nsaved {figure}" if figure else "")


# ---- command line -----------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config, e.g. experiments/configs/values_small.yaml")
    p.add_argument("--embeddings", required=True,
                   help=f"comma-separated slot embeddings, a subset of {','.join(SLOT_EMBEDDINGS)}")
    p.add_argument("--seeds", required=True, help="comma-separated seeds, e.g. 42,43,44")
    p.add_argument("--reference", action="store_true",
                   help="add the executor row (fluxem slots, model.value_readout=executor)")
    p.add_argument("--report-only", action="store_true", help="skip the runs; tabulate what the folders hold")
    p.add_argument("--splits-dir", type=Path, default=DEFAULT_SPLITS_DIR,
                   help="folder of extra test files for eval --data (default experiments/data/values_splits)")
    p.add_argument("--device", choices=DEVICES, default=None, help="passed to every script")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override passed to every script, e.g. --set training.epochs=2 (repeatable)")
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    seeds = parse_seeds(args.seeds)
    rows = ([REFERENCE] if args.reference else []) + parse_embeddings(args.embeddings)
    cfg = config_from_args(argparse.Namespace(config=args.config, overrides=args.overrides, seed=None,
                                              device=args.device))  # a bad config or --set fails here
    if cfg.task != "mathds":
        raise UserError(f"{args.config} has task {cfg.task!r}; the study needs a mathds config of the comparison "
                        "modules, e.g. experiments/configs/values_small.yaml")
    if not args.report_only:
        from fxlab.tasks import get_task

        files = [f.resolve() for f in split_files(args.splits_dir.expanduser())]
        splits = list(get_task(cfg.task).test_splits(cfg)) + [f.stem for f in files]
        start = time.perf_counter()
        run_study(args, cfg, plan_runs(rows, seeds, cfg.paths.results_dir, cfg.paths.data_dir), files, splits)
        print(f"study done in {time.perf_counter() - start:.1f}s")
    print(write_report(cfg.paths.results_dir, rows, seeds, title=Path(args.config).stem, config=args.config))
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
