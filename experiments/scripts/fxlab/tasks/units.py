"""The `units` task: "convert 3.5 km to m" -> "3500 m", "can you add 3 kg and 20 lb?" -> "true",
"12 m / 3 s" -> "4 m/s" (docs/design.md §4).

Data: `fxlab.tasks.units_data.generate_units`. Teacher: one step on the two slots, from the record's kind
(`convert`, `can_add`, or the combine operator `*` / `/`). Answer: the value with 6 significant digits
and its unit (`render_quantity`), or true / false.
"""

from __future__ import annotations

from fxlab.executor import Value, render_quantity
from fxlab.tasks.base import Task

_ONE_STEP = {"convert": "convert", "can_add": "can_add"}


class UnitsTask(Task):
    name = "units"

    def test_splits(self, cfg) -> list[str]:
        return ["test_id", "test_ood_magnitude", "test_ood_types"]

    def generate(self, cfg) -> dict[str, list[dict]]:
        from fxlab.tasks.units_data import generate_units

        return generate_units(cfg)

    def actions(self, record: dict, state_text: str, n: int):
        if n > 0:
            return {}, {}
        kind = record.get("kind")
        op = _ONE_STEP.get(kind) or (record["roles"][1] if kind == "combine" else None)
        if op is None:
            raise ValueError(f"units record of unknown kind {kind!r}")
        return {0: op}, {}

    def answer(self, value: Value, fmt: str | None) -> str:
        return render_quantity(value)
