"""The `mathds` task: DeepMind mathematics_dataset files (official v1.0 layout) -> JSONL splits; one test
split per module file (docs/design.md §4).

Data: `fxlab.mathds_data.generate_mathds`. Teacher: `actions`, the expression grammar of the arithmetic
modules (symbolic and worded operators, parentheses, roots). Answer: the generator's written form
(`format_answer`): an integer, an exact decimal or a reduced fraction, chosen by the format head.
"""

from __future__ import annotations

from fractions import Fraction

import fluxem
from fxlab.executor import StepError, Value, format_answer
from fxlab.mathds_oracle import actions  # noqa: F401  (the grammar; training labels only)
from fxlab.tasks.base import Task

_numbers = fluxem.NumberEncoder()


class MathdsTask(Task):
    name = "mathds"
    slot_kinds = ("number",)
    formats = ("fraction", "decimal")  # how a non-integer answer is written: "p/q" or an exact decimal

    def test_splits(self, cfg) -> list[str]:
        from fxlab.mathds_data import mathds_test_splits

        return mathds_test_splits(cfg)

    def generate(self, cfg) -> dict[str, list[dict]]:
        from fxlab.mathds_data import generate_mathds

        return generate_mathds(cfg)

    def actions(self, record: dict, state_text: str, n: int):
        return actions(state_text)

    def format_label(self, record: dict) -> str | None:
        """The generator's rule: a decimal answer when a literal in the question is not an integer."""
        spans = [s for s in fluxem.detect_spans(record["text"]) if s.kind == "number"]
        literals = [Fraction(s.exact if s.exact is not None else s.value) for s in spans]
        return "decimal" if any(v.denominator != 1 for v in literals) else "fraction"

    def answer(self, value: Value, fmt: str | None) -> str:
        if value.kind != "number" or not _numbers.is_exact(value.vector):
            raise StepError("the answer is not an exact number")
        return format_answer(_numbers.decode_exact(value.vector), fmt or "fraction")
