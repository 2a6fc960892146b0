"""Metrics (docs/design.md §4.4) and the results table.

- exact_match: the predicted string equals the canonical target string.
- rel_error: |pred - target| / max(|target|, 1), computed exactly (Python ints / Fractions) and then
  rounded to float; an unparsable prediction counts as 1.0.
- dimensional_correctness (units): over "value unit" targets, the predicted unit parses and has the
  target unit's dimension vector.
- boolean_accuracy (units): exact match over the "true"/"false" targets (the can_add items).
- wilson_interval: the 95% Wilson score interval of an accuracy.

mathds (DeepMind mathematics_dataset): exact match is string equality with the dataset's answer (an
integer, a reduced fraction `-52304477/3`, an exact decimal `-80348.83919`); `parse_number` reads the
fraction form, so the relative error covers fraction answers too.
"""

from __future__ import annotations

import math
import re
import statistics
from fractions import Fraction

from fluxem.units import parse_unit
from fxlab.config import short

Z95 = 1.959963984540054  # two-sided 95% normal quantile

# A plain decimal number, optionally with a short exponent (bounded, so "1e999999999" cannot blow up).
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?")
_FRACTION = re.compile(r"[-+]?\d+/0*[1-9]\d*")  # p/q with q != 0 (mathds answers such as -52304477/3)

SPLIT_LABELS = {
    "test_id": "ID Test",
    "test_ood_magnitude": "OOD-A (magnitude)",
    "test_ood_length": "OOD-B (length)",
    "test_ood_types": "OOD types",
}
MODEL_LABELS = {"token_only": "Token-Only", "xval": "xVal", "abacus": "Abacus", "fone": "FoNE",
                "hybrid": "Hybrid"}  # column order
TITLES = {"arithmetic": "Arithmetic", "units": "Units"}
LABEL_WIDTH, COLUMN_WIDTH = 20, 14


def parse_number(text: str, leading: bool = False) -> Fraction | None:
    """The exact value of `text` if it is a number; with leading=True, of its first word ("3500 m").

    >>> parse_number("-4396"), parse_number("2.5e3 m", leading=True), parse_number("2.5e3 m"), parse_number("x")
    (Fraction(-4396, 1), Fraction(2500, 1), None, None)
    >>> parse_number("-52304477/3"), parse_number("1/0")
    (Fraction(-52304477, 3), None)
    """
    text = text.strip()
    head = text.split(" ", 1)[0] if leading else text
    if not (_NUMBER.fullmatch(head) or _FRACTION.fullmatch(head)):
        return None
    return Fraction(head)


def rel_error(prediction: str, target: str) -> float | None:
    """|pred - target| / max(|target|, 1); 1.0 if pred is unparsable; None if the target is not a number.

    A bare-number target needs a bare-number prediction; a "value unit" target compares leading values.

    >>> rel_error("33", "30"), rel_error("", "30"), rel_error("123456789123456789123", "123456789123456789124")
    (0.1, 1.0, 8.10000006561e-21)
    """
    leading = " " in target.strip()
    t = parse_number(target, leading)
    if t is None:
        return None
    p = parse_number(prediction, leading)
    if p is None:
        return 1.0
    err = abs(p - t) / max(abs(t), 1)
    try:
        return float(err)
    except OverflowError:
        return math.inf


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for successes / n; (0.0, 1.0) when n == 0.

    >>> [round(x, 4) for x in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def _unit_dims(text: str):
    """Dimension vector of the unit after the value in "value unit", or None if there is none / it is unknown."""
    parts = text.strip().split(" ", 1)
    if len(parts) != 2:
        return None
    try:
        return parse_unit(parts[1]).dimensions
    except ValueError:
        return None


def _rate(name: str, hits: int, n: int) -> dict:
    return {name: hits / n, f"{name}_ci95": list(wilson_interval(hits, n)), f"{name}_n": n} if n else {}


def summarize(predictions: list[str], targets: list[str]) -> dict:
    """The metrics of one (model, split): exact_match, its Wilson CI, median_rel_error, n, n_correct, and,
    where the targets have them, dimensional_correctness and boolean_accuracy (each with CI and n).

    >>> m = summarize(["4 m/s", "3 kg", "true"], ["4 m/s", "3 m", "false"])
    >>> m["exact_match"], m["dimensional_correctness"], m["boolean_accuracy"]
    (0.3333333333333333, 0.5, 0.0)
    """
    n = len(targets)
    if n == 0 or len(predictions) != n:  # an accuracy of nothing would print as a misleading 0.0%
        raise ValueError(f"summarize needs one prediction per target and at least one target, got "
                         f"{len(predictions)} predictions for {n} targets")
    if any(not t.strip() for t in targets):  # "" is the model's "no answer": it must never count as correct
        raise ValueError("summarize needs non-empty targets; an empty target cannot be scored")
    correct = sum(p == t for p, t in zip(predictions, targets))
    errors = [e for e in (rel_error(p, t) for p, t in zip(predictions, targets)) if e is not None]
    lo, hi = wilson_interval(correct, n)
    out = {
        "exact_match": correct / n,
        "exact_match_ci95": [lo, hi],
        "median_rel_error": statistics.median(errors) if errors else None,
        "n": n,
        "n_correct": correct,
        "n_numeric_targets": len(errors),
    }
    quantity = [(p, _unit_dims(t)) for p, t in zip(predictions, targets) if _unit_dims(t) is not None]
    out.update(_rate("dimensional_correctness", sum(_unit_dims(p) == d for p, d in quantity), len(quantity)))
    boolean = [(p, t) for p, t in zip(predictions, targets) if t in ("true", "false")]
    out.update(_rate("boolean_accuracy", sum(p == t for p, t in boolean), len(boolean)))
    return out


def _row(label: str, cells: list[str]) -> str:
    return (label.ljust(LABEL_WIDTH) + "".join(c.ljust(COLUMN_WIDTH) for c in cells)).rstrip()


def _fmt_rel(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def format_table(metrics: dict, task: str = "arithmetic") -> str:
    """The results table (docs/design.md §4.4) for {model: {split: summary}}, plus a Wilson 95% CI section.

    Rows: the standard test splits in their fixed order, then any other splits (extra --data files) by name.
    The mathds task has its own layout (format_mathds_table).
    """
    if task == "mathds":
        return format_mathds_table(metrics)
    models = [m for m in MODEL_LABELS if m in metrics] + sorted(m for m in metrics if m not in MODEL_LABELS)
    present = {s for m in models for s in metrics[m]}
    splits = [s for s in SPLIT_LABELS if s in present] + sorted(present - set(SPLIT_LABELS))
    label = lambda s: SPLIT_LABELS.get(s, s)  # noqa: E731
    cell = lambda m, s, f: f(metrics[m][s]) if s in metrics[m] else "-"  # noqa: E731
    lines = [f"=== {TITLES.get(task, task.title())} Evaluation ===", "",
             _row("", [MODEL_LABELS.get(m, m) for m in models])]
    lines += [_row(label(s), [cell(m, s, lambda r: f"{100 * r['exact_match']:.1f}%") for m in models])
              for s in splits]
    lines += ["", "Relative Error (median):"]
    lines += [_row(label(s), [cell(m, s, lambda r: _fmt_rel(r.get("median_rel_error"))) for m in models])
              for s in splits]
    sections = (("exact_match", None, "Exact Match 95% CI (Wilson, %):"),
                ("dimensional_correctness", "Dimensional Correctness:", "Dimensional Correctness 95% CI (Wilson, %):"),
                ("boolean_accuracy", "Boolean Accuracy:", "Boolean Accuracy 95% CI (Wilson, %):"))
    for key, title, ci_title in sections[1:]:
        if any(key in metrics[m].get(s, {}) for m in models for s in splits):
            pct = lambda r, k=key: f"{100 * r[k]:.1f}%" if k in r else "-"  # noqa: E731
            lines += ["", title] + [_row(label(s), [cell(m, s, pct) for m in models]) for s in splits]
    for key, _, ci_title in sections:
        if any(key in metrics[m].get(s, {}) for m in models for s in splits):
            ci = lambda r, k=key + "_ci95": f"{100 * r[k][0]:.1f}-{100 * r[k][1]:.1f}" if k in r else "-"  # noqa: E731
            lines += ["", ci_title] + [_row(label(s), [cell(m, s, ci) for m in models]) for s in splits]
    return "\n".join(lines)


MATHDS_SECTIONS = (("interpolate", "Interpolate"), ("extrapolate", "Extrapolate"), ("other", "Other files"))
MATHDS_MODEL_LABELS = {**MODEL_LABELS, "xval": "xVal"}
MATHDS_LABEL_WIDTH, MATHDS_N_WIDTH, MATHDS_COLUMN_WIDTH = 28, 7, 22


def _n_correct(summary: dict) -> int:
    """n_correct, or exact_match * n for a summary written before n_correct existed."""
    return summary["n_correct"] if "n_correct" in summary else round(summary["exact_match"] * summary["n"])


def _pct_ci(hits: int, n: int) -> str:
    lo, hi = wilson_interval(hits, n)
    return f"{100 * hits / n:.1f} ({100 * lo:.1f}-{100 * hi:.1f})" if n else "-"


def format_mathds_table(metrics: dict) -> str:
    """The mathds table for {model: {split: summary}}: exact match in % with its Wilson 95% CI, an
    Interpolate and an Extrapolate section (extra --data files that are neither go to "Other files"). In
    each section the modules (split "<family>__<module>") are grouped by family: a family row pooled over
    its modules' records, then one row per module; the section closes with an overall row pooled over all
    its records.

    >>> m = {"token_only": {"arithmetic__mul": {"n": 10, "n_correct": 5},
    ...                     "arithmetic__mul_big": {"n": 10, "n_correct": 0}}}
    >>> print("\\n".join(format_mathds_table(m).splitlines()[5:7]))
      arithmetic                     10 50.0 (23.7-76.3)
        mul                          10 50.0 (23.7-76.3)
    """
    from fxlab.config import MATHDS_EXTRAPOLATE, MATHDS_MODULES
    from fxlab.tasks.mathds_data import FAMILIES, module_of, section_of

    known = ["token_only", "hybrid", "xval", "abacus", "fone"]
    models = [m for m in known if m in metrics] + sorted(m for m in metrics if m not in known)
    order = list(MATHDS_MODULES) + list(MATHDS_EXTRAPOLATE)
    family = lambda s: s.split("__", 1)[0] if "__" in s and s.split("__", 1)[0] in FAMILIES else ""  # noqa: E731
    splits = sorted({s for m in models for s in metrics[m]},
                    key=lambda s: (FAMILIES.index(family(s)) if family(s) else len(FAMILIES),
                                   order.index(module_of(s)) if module_of(s) in order else len(order), s))

    def row(label: str, n, cells: list[str]) -> str:
        return (label.ljust(MATHDS_LABEL_WIDTH) + str(n).rjust(MATHDS_N_WIDTH) + " "
                + "".join(c.ljust(MATHDS_COLUMN_WIDTH) for c in cells)).rstrip()

    def pooled(label: str, rows: list[str]) -> str:
        total = sum(next(metrics[m][s]["n"] for m in models if s in metrics[m]) for s in rows)
        cells = [_pct_ci(sum(_n_correct(metrics[m][s]) for s in rows), sum(metrics[m][s]["n"] for s in rows))
                 if all(s in metrics[m] for s in rows) else "-" for m in models]
        return row(label, total, cells)

    lines = ["=== Mathematics Dataset Evaluation ===", "",
             "Exact match, % (Wilson 95% CI); a family's row and overall = pooled over their problems", ""]
    for section, title in MATHDS_SECTIONS:
        rows = [s for s in splits if section_of(s) == section]
        if not rows:
            continue
        lines.append(row(title, "n", [MATHDS_MODEL_LABELS.get(m, m) for m in models]))
        for fam in dict.fromkeys(family(s) for s in rows):
            members = [s for s in rows if family(s) == fam]
            indent = "    " if fam else "  "
            if fam:
                lines.append(pooled(f"  {fam}", members))
            for s in members:
                n = next(metrics[m][s]["n"] for m in models if s in metrics[m])
                lines.append(row(f"{indent}{module_of(s)}", n, [
                    _pct_ci(_n_correct(metrics[m][s]), metrics[m][s]["n"]) if s in metrics[m] else "-"
                    for m in models]))
        lines += [pooled("  overall", rows), ""]
    return "\n".join(lines).rstrip()


def _real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def _summary_problem(s) -> str | None:
    """What is wrong with one {split: summary} value of metrics.json, or None."""
    if not isinstance(s, dict):
        return f"is not a summary object (got {short(s)})"
    n = s.get("n")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
        return f"has no count n >= 1 (got {short(n)})"
    rates = ("exact_match", "dimensional_correctness", "boolean_accuracy")
    if "exact_match" not in s:
        return "has no exact_match"
    for key in rates:
        if key in s and not (_real(s[key]) and 0 <= s[key] <= 1):
            return f"has {key} {short(s[key])}, not a number in [0, 1]"
        ci = s.get(f"{key}_ci95")
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(_real(x) and 0 <= x <= 1 for x in ci)):
            return f"has {key}_ci95 {short(ci)}, not two numbers in [0, 1]"
    for key in ("n_correct", "n_numeric_targets", "dimensional_correctness_n", "boolean_accuracy_n"):
        v = s.get(key)
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= n):
            return f"has {key} {short(v)}, not an integer in [0, n]"
    err = s.get("median_rel_error")
    if err is not None and not (_real(err) and err >= 0):
        return f"has median_rel_error {short(err)}, not a number >= 0 or null"
    return None


def metrics_problem(doc) -> str | None:
    """What makes `doc` (a parsed metrics.json) unusable, naming the first bad entry; None if it is
    {model: {split: summary}} with the fields the tables and the seed aggregate read.

    >>> metrics_problem({"xval": {"test_id": "oops"}})
    "entry 'xval' / 'test_id' is not a summary object (got 'oops')"
    """
    if not isinstance(doc, dict):
        return f"is not a JSON object of models (got {type(doc).__name__})"
    for model, splits in doc.items():
        if not isinstance(splits, dict):
            return f"entry {short(model)} is not an object of splits (got {short(splits)})"
        for split, summary in splits.items():
            problem = _summary_problem(summary)
            if problem:
                return f"entry {short(model)} / {short(split)} {problem}"
    return None


def max_operand_digits(record: dict) -> int | None:
    """Digits of the largest operand (for the by-magnitude plot); None if the record has no operands."""
    operands = record.get("operands")
    if not operands:
        return None
    return max(len(str(abs(int(x)))) for x in operands)
