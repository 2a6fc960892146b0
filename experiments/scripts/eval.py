"""Evaluate the trained checkpoints on every test split and print the results table (SPEC section 4).

    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml --models token_only
    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml --data my_probe.jsonl

Loads <results_dir>/<model>/best.pt (the best validation checkpoint; its config fingerprint must match the
config) for each model (by default token_only and hybrid, plus xval if train_xval.py has run), calls
the model's `predict` on the raw test texts and writes into <results_dir>:
    predictions/<model>/<split>.jsonl   id, text, target, prediction, correct, rel_error
    metrics.json                        {model: {split: {exact_match, exact_match_ci95, median_rel_error, n, ...}}}
                                        merged into an existing metrics.json: the entries of models and
                                        splits evaluated now are replaced, all others are kept
    plots/exact_match_by_n_ops.png, plots/exact_match_by_magnitude.png   (if matplotlib is installed; a
                                        plot whose x takes one value only, e.g. units n_ops, is skipped)
An empty test split, a checkpoint of another model or config, or a damaged checkpoint exits 2 with a
one-line message.
Every number printed comes from running a checkpoint on the files. `--data FILE.jsonl` (repeatable) also
evaluates FILE (records need id, text, target); its results go under the file stem. FILE may also be in
mathematics_dataset's two-line format (a question line, then its answer line), e.g.
`--data ../shared/mathds/extrapolate/arithmetic__mul_big.txt` (with a mathds config, whose test splits
already use that stem, copy it to a new name such as arithmetic__mul_big_full.txt first: the stem keys
the results, and the mathds table files it under Extrapolate by its "_big"/"_longer" part).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from fxlab import UserError
from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.config import Config, resolve_device
from fxlab.data import TEST_SPLITS, atomic_write_bytes, load_split, make_dir, read_jsonl, write_jsonl
from fxlab.loop import load_checkpoint, load_weights, predict_texts, run_dir, run_lock
from fxlab.mathds_data import is_jsonl, load_problem_file, mathds_test_splits
from fxlab.metrics import MODEL_LABELS, format_table, max_operand_digits, rel_error, summarize
from fxlab.models import MODELS, build_model

PROG = "eval.py"
TRAIN_SCRIPTS = {"token_only": "train_token_only.py", "hybrid": "train_hybrid.py", "xval": "train_xval.py"}
REQUIRED_MODELS = ("token_only", "hybrid")  # evaluated by default; a missing checkpoint is an error


def default_models(cfg: Config) -> list[str]:
    """The models eval.py runs without --models: token_only and hybrid, plus every other registered model
    (xval) that has a trained checkpoint, in the table's column order (Token-Only, xVal, Hybrid)."""
    optional = [m for m in MODELS if m not in REQUIRED_MODELS and (run_dir(cfg, m) / "best.json").is_file()]
    names = list(REQUIRED_MODELS) + optional
    order = list(MODEL_LABELS)
    return sorted(names, key=lambda m: (order.index(m) if m in order else len(order), m))


def parse_models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if not names or unknown:
        raise UserError(f"--models takes a comma-separated subset of {', '.join(MODELS)}, got {text!r}")
    return list(dict.fromkeys(names))


def load_datasets(cfg: Config, extra: list[str]) -> dict[str, list[dict]]:
    """{split stem: records}: the task's test splits, then each --data file under its stem."""
    splits = mathds_test_splits(cfg) if cfg.task == "mathds" else TEST_SPLITS[cfg.task]
    datasets = {split: load_split(cfg, split) for split in splits}
    for item in extra:
        path = Path(item).expanduser()
        if path.stem in datasets:
            raise UserError(f"--data {item}: its name '{path.stem}' is already used by another split; rename it")
        two_line = path.is_file() and not is_jsonl(path)  # mathematics_dataset's question/answer lines
        datasets[path.stem] = load_problem_file(path) if two_line else read_jsonl(path)
        if not datasets[path.stem]:
            raise UserError(f"--data {item}: file has no records")
    return datasets


def load_trained(name: str, cfg: Config, device: str) -> torch.nn.Module:
    """The model `name` with the weights of its best validation checkpoint."""
    hint = (f"run {TRAIN_SCRIPTS.get(name, 'training')} --config {cfg.source} first "
            "(or choose models with --models)")
    stem = run_dir(cfg, name) / "best"
    tensors, meta = load_checkpoint(stem, cfg, hint, name)
    model = build_model(name, cfg)
    load_weights(model, tensors["model"], stem.with_suffix(".pt"))
    state = meta["state"]
    print(f"[{name}] loaded best.pt: epoch {state['best_epoch']}, "
          f"val exact match {100 * state['best_val_exact_match']:.1f}%", flush=True)
    return model.to(device).eval()


def evaluate_model(name: str, model, datasets: dict, cfg: Config) -> tuple[dict, dict]:
    """({split: summary}, {split: prediction rows}) of one model on every dataset."""
    summaries, rows = {}, {}
    for split, records in datasets.items():
        texts = [r["text"] for r in records]
        preds = predict_texts(model, texts, cfg.training.eval_batch_size, desc=f"{name}/{split}")
        targets = [r["target"] for r in records]
        summaries[split] = summarize(preds, targets)
        rows[split] = [
            {"id": r["id"], "text": r["text"], "target": r["target"], "prediction": p, "correct": p == r["target"],
             "rel_error": rel_error(p, r["target"]), "n_ops": r.get("n_ops"),
             "max_operand_digits": max_operand_digits(r)}
            for r, p in zip(records, preds)
        ]
    return summaries, rows


def merge_metrics(path: Path, new: dict) -> dict:
    """`new` merged into the metrics already in `path`: evaluating some models (or splits) again replaces
    only those entries; results of models not evaluated now are kept (and said to be kept)."""
    if not path.is_file():
        return new
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        old = None
    if not isinstance(old, dict) or not all(isinstance(v, dict) for v in old.values()):
        raise UserError(f"{path} is not a metrics file of eval.py; move it away (it would be overwritten)")
    kept = sorted(set(old) - set(new))
    if kept:
        print(f"info: keeping the earlier results of {', '.join(kept)} in {path}")
    return {**old, **{m: {**old.get(m, {}), **splits} for m, splits in new.items()}}


def save_plots(rows_by_model: dict, out_dir: Path) -> list[Path]:
    """Exact match by n_ops and by operand digits, per model, over all evaluated records."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print("info: matplotlib is not installed; skipping plots")
        return []
    saved = []
    for key, xlabel, fname in (("n_ops", "number of operations", "exact_match_by_n_ops.png"),
                               ("max_operand_digits", "digits of the largest operand",
                                "exact_match_by_magnitude.png")):
        fig = Figure(figsize=(6, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        plotted = False
        xs_seen = {r[key] for rows in rows_by_model.values() for split_rows in rows.values() for r in split_rows
                   if r.get(key) is not None}
        if len(xs_seen) < 2:  # one point per model says nothing (e.g. units items all have n_ops = 1)
            if xs_seen:
                print(f"info: skipping {fname}: every record has {key} = {xs_seen.pop()}")
            continue
        for model, rows in rows_by_model.items():
            groups: dict[int, list[bool]] = {}
            for row in (r for split_rows in rows.values() for r in split_rows if r.get(key) is not None):
                groups.setdefault(row[key], []).append(row["correct"])
            if groups:
                xs = sorted(groups)
                ax.plot(xs, [100 * sum(groups[x]) / len(groups[x]) for x in xs], marker="o", label=model)
                plotted = True
        if plotted:
            ax.set(xlabel=xlabel, ylabel="exact match (%)", ylim=(-2, 102), title=f"Exact match by {xlabel}")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend()
            make_dir(out_dir)  # a file in the way is a one-line error
            fig.savefig(out_dir / fname, dpi=120)
            saved.append(out_dir / fname)
    return saved


def _main(argv) -> int:
    parser = base_parser(PROG, __doc__)
    parser.add_argument("--models", default=None,
                        help="comma-separated, e.g. token_only,xval,hybrid (default: token_only and hybrid, "
                             "plus xval when it has a checkpoint)")
    parser.add_argument("--data", action="append", default=[], metavar="FILE.jsonl",
                        help="also evaluate this JSONL (or two-line question/answer) file (repeatable)")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    device = resolve_device(cfg.device)
    names = parse_models(args.models) if args.models is not None else default_models(cfg)
    datasets = load_datasets(cfg, args.data)
    models = {name: load_trained(name, cfg, device) for name in names}  # fail before any long work
    metrics, rows_by_model = {}, {}
    out = cfg.results_path
    with run_lock(out):  # two evals writing one results folder at once would lose one's results
        for name, model in models.items():
            metrics[name], rows_by_model[name] = evaluate_model(name, model, datasets, cfg)
            for split, rows in rows_by_model[name].items():
                write_jsonl(out / "predictions" / name / f"{split}.jsonl", rows)
        metrics = merge_metrics(out / "metrics.json", metrics)
        atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())
    print()
    print(format_table(metrics, cfg.task))
    print()
    for path in save_plots(rows_by_model, out / "plots"):
        print(f"saved {path}")
    print(f"wrote {out / 'metrics.json'} and {out / 'predictions'}/")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
