"""Tasks as plugins. A task owns its data, its teacher (training labels for the hybrid), its answer form
and which metrics apply; the training loop, eval and the models know a task only through `Task`.

Adding a task is one module here with a `Task` subclass, one line in `TASKS`, and a config.
"""

from __future__ import annotations

from fxlab import UserError
from fxlab.tasks.base import Task


def _registry() -> dict[str, type[Task]]:
    from fxlab.tasks.arithmetic import ArithmeticTask
    from fxlab.tasks.mathds import MathdsTask
    from fxlab.tasks.units import UnitsTask

    return {"arithmetic": ArithmeticTask, "units": UnitsTask, "mathds": MathdsTask}


TASK_NAMES = ("arithmetic", "units", "mathds")


def generate(cfg) -> dict[str, list[dict]]:
    """All splits of the config's task: {split name: records} (the task plugin's generator)."""
    return get_task(cfg.task).generate(cfg)


def get_task(name: str) -> Task:
    """The task registered under `name` (UserError naming the known tasks otherwise)."""
    tasks = _registry()
    if name not in tasks:
        raise UserError(f"unknown task {name!r}; known: {', '.join(tasks)}")
    return tasks[name]()
