"""The task interface, and the teacher driver that turns a task's labels into training states.

A task's teacher sees a training record and the text of each reduction state (characters, with
`SLOT_CHAR` for each slot), and says which instructions may run next. It is used only to build
training targets: the hybrid's `predict` never calls it (docs/design.md §5, tested).
"""

from __future__ import annotations

from fxlab.executor import StepError, Value

SLOT_CHAR = "\x00"  # a slot in a state's text, as the teacher sees it
MAX_STEPS = 64  # a reduction longer than this is not followed (teacher) or answered (inference)


class Task:
    name: str = ""
    # Which span kinds become slots (the others stay characters). The span detector decides the spans;
    # this only says which of them the task computes with.
    slot_kinds: tuple[str, ...] = ("number", "quantity", "unit")
    # The answer forms the hybrid's format head chooses between; () when the task has one form.
    formats: tuple[str, ...] = ()
    # True where the generator and the teacher are ours, so every training record must be followed to its
    # target: one that is not is a data error (refused before training). False for external data
    # (mathds), where a question the teacher cannot follow is left out of training.
    every_record_labelled: bool = True

    # -- data
    def splits(self, cfg) -> tuple[str, ...]:
        """Every split the generator writes (train and val first)."""
        return ("train", "val") + tuple(self.test_splits(cfg))

    def test_splits(self, cfg) -> list[str]:
        raise NotImplementedError

    def generate(self, cfg) -> dict[str, list[dict]]:
        """{split: records} for the config (deterministic in cfg.seed)."""
        raise NotImplementedError

    # -- teacher (training labels only)
    def actions(self, record: dict, state_text: str, n: int) -> tuple[dict[int, str], dict[int, str]]:
        """({left slot k: binary op}, {slot k: unary op}) for state n of `record`'s reduction; ({}, {})
        when the state is the answer."""
        raise NotImplementedError

    def format_label(self, record: dict) -> str | None:
        """The answer form (one of `formats`) of a training record; None if the task has one form."""
        return None

    # -- answers
    def answer(self, value: Value, fmt: str | None) -> str:
        """The written answer of the reduced value; StepError when it is not a valid answer."""
        raise NotImplementedError


def teacher_states(task: Task, record: dict, initial, step, state_text) -> list[tuple]:
    """The gold reduction of one training record: [(ids, slot Values, binary ops, unary ops, format or
    None)], one entry per state including the final one (no action); the format rides on the first.

    The FluxEM executor (`step`) makes every next state, exactly as at inference, and the record is
    kept only if the reduction writes the record's target: [] otherwise (left out of training).
    `initial(record) -> (ids, Values)`, `state_text(ids) -> str` come from the model's tokenization.
    """
    from fxlab.executor import terminal_slot

    ids, values = initial(record)  # a text the model cannot read raises here: an input error, not a left-out record
    if not values:
        return []
    fmt = task.format_label(record)
    states = []
    try:
        for n in range(MAX_STEPS):
            gaps, unary = task.actions(record, state_text(ids), n)
            states.append((ids, values, gaps, unary, fmt if n == 0 else None))
            if not gaps and not unary:
                break
            answer_slot = terminal_slot(gaps, unary)
            ids, values = step(ids, values, gaps, unary)
            if answer_slot is not None:  # terminal: that slot is the answer
                values = [values[answer_slot]]
                break
        else:
            return []
        if len(values) != 1 or task.answer(values[0], fmt) != record["target"]:
            return []
    except (StepError, ValueError, ZeroDivisionError, OverflowError):
        return []
    return states
