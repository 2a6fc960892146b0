"""Evaluate the trained checkpoints on every test split and print the results table (docs/design.md §4.4).

    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml --models token_only
    python experiments/scripts/eval.py --config experiments/configs/arithmetic_small.yaml --data my_probe.jsonl

Loads <results_dir>/<model>/best.pt (the best validation checkpoint; its config fingerprint must match the
config) for each model (by default token_only and hybrid, plus xval, abacus and fone where their training
scripts have run), calls
the model's `predict` on the raw test texts and writes into <results_dir>:
    predictions/<model>/<split>.jsonl   id, text, target, prediction, correct, rel_error
    metrics.json                        {model: {split: {exact_match, exact_match_ci95, median_rel_error, n, ...}}}
                                        merged into an existing metrics.json: the entries of models and
                                        splits evaluated now are replaced, all others are kept
    plots/exact_match.png               (if matplotlib is installed) exact match with 95% Wilson bands by
                                        magnitude and n_ops (arithmetic), by magnitude, unit kind and
                                        question kind (units), by module and n_ops (mathds); see save_plots
An empty test split, a checkpoint of another model or config, or a damaged checkpoint exits 2 with a
one-line message. So does a record with a field of the wrong type or an empty target (checked for every
file before any model is loaded), and a metrics.json that is not eval.py's (checked before inference,
and left untouched: fix or move it; merging would write its bad entry back and break every later eval).
A --data file whose records repeat a text, or share texts with train.jsonl, gets a one-line warning.
Nothing is written until every model has run: Ctrl-C or SIGTERM before that leaves the results folder as
it was (exit 130 / 143); the predictions are then written, and metrics.json last, with both signals held
back until they are all in place. Temp files an earlier killed eval left are removed first.
Every number printed comes from running a checkpoint on the files. `--data FILE.jsonl` (repeatable) also
evaluates FILE (records need id, text, target); its results go under the file stem. FILE may also be in
mathematics_dataset's two-line format (a question line, then its answer line), e.g.
`--data ../shared/mathds/extrapolate/arithmetic__mul_big.txt` (with a mathds config, whose test splits
already use that stem, copy it to a new name such as arithmetic__mul_big_full.txt first: the stem keys
the results, and the mathds table files it under Extrapolate by its "_big"/"_longer" part).
"""

from __future__ import annotations

import io
import json
import signal
import sys
from fractions import Fraction
from pathlib import Path

import torch

from fxlab import UserError
from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.config import Config, resolve_device
from fxlab.data import (atomic_write_bytes, iter_jsonl, load_split, read_jsonl, split_path,
                        write_jsonl)
from fxlab.train.loop import (_signals_deferred, _sigterm_raises, load_checkpoint, load_weights, predict_texts, run_dir,
                        run_lock)
from fxlab.tasks.mathds_data import is_jsonl, load_problem_file
from fxlab.tasks import get_task
from fxlab.metrics import (MODEL_LABELS, format_table, max_operand_digits, metrics_problem, rel_error, summarize,
                           wilson_interval)
from fxlab.models import MODELS, build_model
from fxlab.tasks.units_data import EXTRA_COMPOUNDS, UNITS

PROG = "eval.py"
TRAIN_SCRIPTS = {"token_only": "train_token_only.py", "hybrid": "train_hybrid.py", "xval": "train_xval.py",
                 "abacus": "train_abacus.py", "fone": "train_fone.py"}
REQUIRED_MODELS = ("token_only", "hybrid")  # evaluated by default; a missing checkpoint is an error


def default_models(cfg: Config) -> list[str]:
    """The models eval.py runs without --models: token_only and hybrid, plus every other registered model
    (xval, abacus, fone) that has a trained checkpoint, in the table's column order (metrics.MODEL_LABELS)."""
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
    """{split stem: records}: the task's test splits, then each --data file under its stem. The --data files
    are read first (a mistake in the file just named is the likelier one); each gets a warning line if
    its records repeat texts or share texts with train.jsonl (data_warnings)."""
    splits = list(get_task(cfg.task).test_splits(cfg))
    added: dict[str, list[dict]] = {}
    for item in extra:
        path = Path(item).expanduser()
        if path.stem in splits or path.stem in added:
            raise UserError(f"--data {item}: its name '{path.stem}' is already used by another split; rename it")
        two_line = path.is_file() and not is_jsonl(path)  # mathematics_dataset's question/answer lines
        added[path.stem] = load_problem_file(path) if two_line else read_jsonl(path)
        if not added[path.stem]:
            raise UserError(f"--data {item}: file has no records")
    datasets = {split: load_split(cfg, split) for split in splits}
    for line in data_warnings(cfg, dict(zip(extra, added.values()))):
        print(line, file=sys.stderr)
    return {**datasets, **added}


def data_warnings(cfg: Config, files: dict[str, list[dict]]) -> list[str]:
    """One warning line per --data file whose records repeat a text (each copy is scored, so it weighs
    more) or share texts with the training data (those measure recall, not generalisation)."""
    if not files:
        return []
    train = split_path(cfg, "train")
    wanted = {r["text"] for records in files.values() for r in records}
    in_train: set[str] = set()
    note = ""
    if train.is_file():
        try:
            in_train = {r["text"] for r in iter_jsonl(train) if r["text"] in wanted}
        except UserError as e:
            note = f"; not checked against the training data ({e})"
    lines = []
    for item, records in files.items():
        texts = [r["text"] for r in records]
        repeats = len(texts) - len(set(texts))
        shared = len(set(texts) & in_train)
        parts = ([f"{repeats} record(s) repeat the text of an earlier one (each copy is scored)"] if repeats else []) \
            + ([f"{shared} text(s) are also in {train} (they measure recall, not generalisation)"] if shared else [])
        if parts or note:
            lines.append(f"warning: --data {item}: " + ("; ".join(parts) or "no repeated texts") + note)
    return lines


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
             "max_operand_digits": max_operand_digits(r), **plot_fields(r)}
            for r, p in zip(records, preds)
        ]
    return summaries, rows


def read_metrics(path: Path) -> dict:
    """The metrics already in `path` ({} if there is none). A file that is not {model: {split: summary}}
    as eval.py writes it is refused, not repaired: its other entries may be results worth keeping."""
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UserError(f"{path} is not a metrics file of eval.py (not JSON); move it away "
                        "(it would be overwritten)") from None
    problem = metrics_problem(old)
    if problem:
        raise UserError(f"{path} is not a metrics file of eval.py: {problem}; fix that entry or move the file away")
    return old


def merge_metrics(path: Path, new: dict) -> dict:
    """`new` merged into the metrics already in `path`: evaluating some models (or splits) again replaces
    only those entries; results of models not evaluated now are kept (and said to be kept)."""
    old = read_metrics(path)
    if not old:
        return new
    kept = sorted(set(old) - set(new))
    if kept:
        print(f"info: keeping the earlier results of {', '.join(kept)} in {path}")
    return {**old, **{m: {**old.get(m, {}), **splits} for m, splits in new.items()}}


# The panels of the one figure per task, in order: (row field, x-axis label, scale). A panel is drawn when
# its field takes at least two values over the evaluated records, so each task gets its own panels:
# arithmetic magnitude + n_ops; units magnitude + unit kind + question kind (n_ops is always 1);
# mathds module + n_ops.
PLOT_PANELS = (
    ("magnitude_decade", "largest number in the question (log scale, by decade)", "log"),
    ("n_ops", "number of operations", "int"),
    ("unit_kind", "unit kind (of the first unit)", "category"),
    ("kind", "question kind", "category"),
    ("module", "module", "category"),
)
PLOT_FILE = "exact_match.png"
MODEL_COLORS = {"token_only": "tab:blue", "xval": "tab:orange", "abacus": "tab:purple", "fone": "tab:brown",
                "hybrid": "tab:green"}
MODEL_MARKERS = {"token_only": "o", "xval": "s", "abacus": "D", "fone": "v", "hybrid": "^"}  # tell apart lines that coincide (e.g. all at 0%)
_UNIT_KIND = {u: kind for kind, units in UNITS.items() for u in units} | {u: "velocity" for u in EXTRA_COMPOUNDS}


def _decade(x) -> int:
    """floor(log10 |x|), with 0 in the decade of 1..9 (its magnitude has no logarithm).

    >>> _decade(0), _decade(7), _decade(99999), _decade(0.05)
    (0, 0, 4, -2)
    """
    x = abs(Fraction(str(x)))  # exact: float log10 puts 1000 in decade 2 on some platforms
    if x == 0:
        return 0
    d = len(str(x.numerator)) - len(str(x.denominator))
    return d if Fraction(10) ** d <= x else d - 1


def plot_fields(record: dict) -> dict:
    """The fields of a test record the figure groups by (PLOT_PANELS), for its prediction row.

    >>> plot_fields({"kind": "convert", "units": ["km", "mi"], "values": [3.5]})
    {'magnitude_decade': 0, 'kind': 'convert', 'unit_kind': 'length'}
    """
    out = {}
    numbers = record.get("operands") or record.get("values")
    if numbers:
        out["magnitude_decade"] = max(_decade(x) for x in numbers)
    for key in ("kind", "module"):
        if record.get(key) is not None:
            out[key] = record[key]
    if record.get("units"):
        out["unit_kind"] = _UNIT_KIND.get(record["units"][0], "other")
    return out


def _row_value(row: dict, key: str):
    if key == "magnitude_decade" and key not in row and row.get("max_operand_digits") is not None:
        return row["max_operand_digits"] - 1  # prediction files written before magnitude_decade existed
    return row.get(key)


def plot_panels(records: dict) -> tuple[list, list]:
    """([(field, x label, scale, sorted x values)] of the panels to draw, [fields that take one value only])
    for {model: prediction rows}.

    >>> plot_panels({"m": [{"n_ops": 1, "kind": "convert"}, {"n_ops": 1, "kind": "combine"}]})
    ([('kind', 'question kind', 'category', ['combine', 'convert'])], ['n_ops'])
    """
    panels, single = [], []
    for key, xlabel, scale in PLOT_PANELS:
        xs = {_row_value(r, key) for rows in records.values() for r in rows} - {None}
        if len(xs) >= 2:  # one point per model says nothing (e.g. units items all have n_ops = 1)
            panels.append((key, xlabel, scale, sorted(xs, key=lambda x: (isinstance(x, str), x))))
        elif xs:
            single.append(key)
    return panels, single


def save_plots(rows_by_model: dict, out_dir: Path, title: str = "") -> list[Path]:
    """One figure, <out_dir>/exact_match.png: exact match (%) of every model on the same axes, with 95%
    Wilson bands (error bars on categorical axes), in one panel per PLOT_PANELS field that takes two or
    more values, over all evaluated records of every split (and seed, when the rows hold several).

    >>> save_plots({"hybrid": {"test_id": [{"n_ops": 1, "correct": True}]}}, Path("p"))  # one x: no plot
    info: skipping the exact match figure: every record has the same value of n_ops
    []
    """
    records = {model: [r for split_rows in rows.values() for r in split_rows] for model, rows in rows_by_model.items()}
    panels, single = plot_panels(records)
    if not panels:
        if single:
            print(f"info: skipping the exact match figure: every record has the same value of {', '.join(single)}")
        return []
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("info: matplotlib is not installed; skipping plots")
        return []
    fig = Figure(figsize=(4.6 * len(panels), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    models = [m for m in MODEL_LABELS if m in records] + sorted(m for m in records if m not in MODEL_LABELS)
    for ax, (key, xlabel, scale, xs) in zip(axes, panels):
        for i, model in enumerate(models):
            groups: dict = {}
            for row in records[model]:
                if _row_value(row, key) is not None:
                    groups.setdefault(_row_value(row, key), []).append(bool(row["correct"]))
            present = [x for x in xs if x in groups]
            if not present:
                continue
            rate = [100 * sum(groups[x]) / len(groups[x]) for x in present]
            ci = [wilson_interval(sum(groups[x]), len(groups[x])) for x in present]
            lo, hi = [100 * c[0] for c in ci], [100 * c[1] for c in ci]
            style = dict(color=MODEL_COLORS.get(model), label=MODEL_LABELS.get(model, model),
                         marker=MODEL_MARKERS.get(model, "o"), markersize=6 - 1.2 * i)
            if scale == "category":  # models side by side at each category, so the error bars do not overlap
                pos = [xs.index(x) + 0.15 * (i - (len(models) - 1) / 2) for x in present]
                ax.errorbar(pos, rate, yerr=[[max(0.0, r - a) for r, a in zip(rate, lo)],  # Wilson bounds at 0% / 100%
                                             [max(0.0, b - r) for r, b in zip(rate, hi)]],  # can round past r
                            linestyle="none", capsize=3, **style)
            else:  # a decade with no records breaks the line (units: none between 1e3 and 1e6)
                cuts = [0] + [j for j in range(1, len(present)) if scale == "log" and present[j] - present[j - 1] > 1]
                for a, b in zip(cuts, cuts[1:] + [len(present)]):
                    pos = [10.0 ** x for x in present[a:b]] if scale == "log" else present[a:b]
                    ax.plot(pos, rate[a:b], **(style if a == 0 else {**style, "label": None}))
                    if b - a > 1:
                        ax.fill_between(pos, lo[a:b], hi[a:b], alpha=0.15, color=style["color"], linewidth=0)
                    else:  # a lone decade has no band to draw: its interval as an error bar
                        yerr = [[max(0.0, rate[a] - lo[a])], [max(0.0, hi[a] - rate[a])]]
                        ax.errorbar(pos, rate[a:b], yerr=yerr, color=style["color"], capsize=3, linestyle="none")
        if scale == "category":
            ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=(55 if len(xs) > 8 else 30) if len(xs) > 5 else 0,
                          ha="right" if len(xs) > 5 else "center")
        elif scale == "log":
            ax.set_xscale("log")
        else:
            ax.set_xticks(xs)
        ax.set(xlabel=xlabel, ylim=(-2, 102))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("exact match (%)")
    axes[0].legend(loc="best", fontsize="small")
    n = {len(rows) for rows in records.values()}
    counted = f"{n.pop()} records" if len(n) == 1 else "all records"
    fig.suptitle(f"{title + ': ' if title else ''}exact match, 95% Wilson CI ({counted} per model)", fontsize="medium")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(out_dir / PLOT_FILE, buf.getvalue())  # an interrupted save leaves the old figure
    return [out_dir / PLOT_FILE]


def _main(argv) -> int:
    parser = base_parser(PROG, __doc__)
    parser.add_argument("--models", default=None,
                        help="comma-separated, e.g. token_only,xval,hybrid (default: token_only and hybrid, "
                             "plus xval, abacus and fone when they have a checkpoint)")
    parser.add_argument("--data", action="append", default=[], metavar="FILE.jsonl",
                        help="also evaluate this JSONL (or two-line question/answer) file (repeatable)")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    names = parse_models(args.models) if args.models is not None else default_models(cfg)
    out = cfg.results_path
    datasets = load_datasets(cfg, args.data)  # every record is checked here, before any model is loaded
    read_metrics(out / "metrics.json")  # a bad metrics.json fails now, not after inference
    device = resolve_device(cfg.device)
    models = {name: load_trained(name, cfg, device) for name in names}  # fail before any long work
    metrics, rows_by_model = {}, {}
    with run_lock(out), _sigterm_raises():  # two evals writing one results folder at once would lose one's results
        remove_stray_eval_tmp(out)
        try:
            for name, model in models.items():
                metrics[name], rows_by_model[name] = evaluate_model(name, model, datasets, cfg)
        except KeyboardInterrupt as e:
            signum = getattr(e, "signum", signal.SIGINT)
            print(f"{PROG}: interrupted by {signal.Signals(signum).name} before writing anything; "
                  f"{out / 'metrics.json'} and {out / 'predictions'}/ are as they were", file=sys.stderr)
            raise SystemExit(128 + signum) from None
        metrics = merge_metrics(out / "metrics.json", metrics)
        write_results(out, rows_by_model, metrics)
    print()
    print(format_table(metrics, cfg.task))
    print()
    for path in save_plots(rows_by_model, out / "plots", title=Path(cfg.source).stem):
        print(f"saved {path}")
    print(f"wrote {out / 'metrics.json'} and {out / 'predictions'}/")
    return 0


def remove_stray_eval_tmp(out: Path) -> list[Path]:
    """Delete the temp files of eval.py's own writes that a SIGKILL interrupted (see write_results); those
    of other writers (training, in <model>/) are theirs to clean."""
    stray = sorted(out.glob(".metrics.json.*.tmp")) + sorted((out / "predictions").glob("*/.*.jsonl.*.tmp"))
    for p in stray:
        p.unlink(missing_ok=True)
    return stray


def write_results(out: Path, rows_by_model: dict, metrics: dict) -> None:
    """The prediction files, then metrics.json last, with Ctrl-C and SIGTERM held back until all are in
    place, so that metrics.json never describes predictions that were not written."""
    with _signals_deferred():
        for name, rows in rows_by_model.items():
            for split, split_rows in rows.items():
                write_jsonl(out / "predictions" / name / f"{split}.jsonl", split_rows)
        atomic_write_bytes(out / "metrics.json", (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
