"""The `arithmetic` task: "12 + 7 * 3" -> "33" (non-negative integer operands, + - *, standard precedence).

A record (one JSON object per line, keys sorted):

    {"id": "train-000007", "split": "train", "task": "arithmetic", "text": "12 + 7 * 3", "target": "33",
     "n_ops": 2, "operands": [12, 7, 3], "ops": ["+", "*"], "roles": ["+", "+", "*"]}

`roles[i]` is the structure of operand i ("+"/"-" starts a signed product term, "*" multiplies into it),
for readers of the data; no model receives it at inference (`predict` takes raw text only).

Data: `generate_arithmetic` (ID and OOD-magnitude / OOD-length splits, docs/design.md §4). Generation is
deterministic: each split draws from its own `random.Random(f"{seed}/{split}")`, val and the test splits
are drawn first, and train excludes every text they contain (every text is unique across all files).
The same seed gives byte-identical files.
Teacher: the expression grammar of the mathds teacher (`fxlab.tasks.mathds.actions`): each state's
next operations are the innermost ones whose operands are both numbers, `*` before `+`/`-`.
Answer: the exact integer.
"""

from __future__ import annotations

import random

from fxlab import UserError
from fxlab.config import Config
from fxlab.executor import Value, render_number
from fxlab.tasks.base import Task

SPLITS = ("train", "val", "test_id", "test_ood_magnitude", "test_ood_length")
MAX_DRAWS = 1000  # attempts to draw one unseen expression before declaring the space exhausted


def evaluate(operands: list[int], ops: list[str]) -> int:
    """Exact value with standard precedence: `*` first, then `+`/`-` left to right.

    >>> evaluate([12, 7, 3], ["+", "*"])
    33
    """
    total, term = 0, operands[0]
    sign = 1
    for op, x in zip(ops, operands[1:]):
        if op == "*":
            term *= x
        else:
            total += sign * term
            sign, term = (1 if op == "+" else -1), x
    return total + sign * term


def roles_for(ops: list[str]) -> list[str]:
    """Per-operand role: the first operand starts a "+" term; operand i+1 takes the operator before it.

    >>> roles_for(["-", "*", "+"])
    ['+', '-', '*', '+']
    """
    return ["+"] + list(ops)


def arithmetic_record(split: str, index: int, operands: list[int], ops: list[str]) -> dict:
    parts = [str(operands[0])]
    for op, x in zip(ops, operands[1:]):
        parts += [op, str(x)]
    return {
        "id": f"{split}-{index:06d}", "split": split, "task": "arithmetic", "text": " ".join(parts),
        "target": str(evaluate(operands, ops)), "n_ops": len(ops), "operands": list(operands),
        "ops": list(ops), "roles": roles_for(ops),
    }


def _draw_split(split: str, size: int, seed: int, value_range, ops_range, operations, seen: set) -> list[dict]:
    """`size` expressions whose texts are not in `seen` (and adds them to it)."""
    rng = random.Random(f"{seed}/{split}")
    lo, hi = value_range
    records = []
    for i in range(size):
        n_ops = rng.randint(*ops_range)
        for _ in range(MAX_DRAWS):
            operands = [rng.randint(lo, hi) for _ in range(n_ops + 1)]
            ops = [rng.choice(operations) for _ in range(n_ops)]
            record = arithmetic_record(split, i, operands, ops)
            if record["text"] not in seen:
                break
        else:
            raise UserError(f"cannot draw {size} distinct '{split}' expressions: the {n_ops}-operation "
                            f"expressions over [{lo}, {hi}] are nearly all used; lower the data sizes "
                            "or widen data.id_range")
        seen.add(record["text"])
        records.append(record)
    return records


def generate_arithmetic(cfg: Config) -> dict[str, list[dict]]:
    d = cfg.data
    ops = list(d.operations)
    plan = [  # val and tests first, so train can exclude their texts
        ("val", d.val_size, d.id_range, d.id_ops),
        ("test_id", d.test_size, d.id_range, d.id_ops),
        ("test_ood_magnitude", d.test_size, d.ood_magnitude_range, d.id_ops),
        ("test_ood_length", d.test_size, d.id_range, d.ood_ops),
        ("train", d.train_size, d.id_range, d.id_ops),
    ]
    seen: set[str] = set()
    out = {split: _draw_split(split, size, cfg.seed, vr, opr, ops, seen) for split, size, vr, opr in plan}
    return {split: out[split] for split in SPLITS}


class ArithmeticTask(Task):
    name = "arithmetic"
    slot_kinds = ("number",)

    def test_splits(self, cfg) -> list[str]:
        return ["test_id", "test_ood_magnitude", "test_ood_length"]

    def generate(self, cfg) -> dict[str, list[dict]]:
        return generate_arithmetic(cfg)

    def actions(self, record: dict, state_text: str, n: int):
        from fxlab.tasks.mathds import actions  # the same expression grammar

        return actions(state_text)

    def answer(self, value: Value, fmt: str | None) -> str:
        return render_number(value)
