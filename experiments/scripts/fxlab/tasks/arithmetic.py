"""The `arithmetic` task: "12 + 7 * 3" -> "33" (non-negative integer operands, + - *, standard precedence).

Data: `fxlab.data.generate_arithmetic` (ID and OOD-magnitude / OOD-length splits, docs/design.md §4).
Teacher: the expression grammar of the mathds teacher (`fxlab.tasks.mathds.actions`): each state's
next operations are the innermost ones whose operands are both numbers, `*` before `+`/`-`.
Answer: the exact integer.
"""

from __future__ import annotations

from fxlab.executor import Value, render_number
from fxlab.tasks.base import Task


class ArithmeticTask(Task):
    name = "arithmetic"
    slot_kinds = ("number",)

    def test_splits(self, cfg) -> list[str]:
        return ["test_id", "test_ood_magnitude", "test_ood_length"]

    def generate(self, cfg) -> dict[str, list[dict]]:
        from fxlab.data import generate_arithmetic

        return generate_arithmetic(cfg)

    def actions(self, record: dict, state_text: str, n: int):
        from fxlab.tasks.mathds import actions

        return actions(state_text)

    def answer(self, value: Value, fmt: str | None) -> str:
        return render_number(value)
