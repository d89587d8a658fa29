"""emx: a training ground where language models learn embodied decision-making.

    import emx
    task = emx.load_task("eai-behavior:bottling_fruit")
    result = emx.evaluate(task, model_text, reward="embomatrix")
"""

from . import _core
from .errors import BddlError, EmxError, TaskSourceError
from .evaluation import Result, Step, evaluate, evaluate_batch
from .plans import Plan, PlanAction, parse_plan, plan_to_text
from .rollout import Episode, RolloutEngine, RolloutResult
from .task import SkippedTasksWarning, Task, TaskList, load_task, load_tasks
from .tasks.sources import SkippedFile

__version__ = "0.1.0"


def backend() -> str:
    """Which state-check backend is active ("cpu" until the CUDA kernels land)."""
    return _core.backend()


__all__ = [
    "BddlError", "EmxError", "Episode", "Plan", "PlanAction", "Result", "RolloutEngine", "RolloutResult", "Step",
    "SkippedFile", "SkippedTasksWarning", "Task", "TaskList", "TaskSourceError",
    "backend", "evaluate", "evaluate_batch", "load_task", "load_tasks", "parse_plan", "plan_to_text",
]
