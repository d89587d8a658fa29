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


def make_env(tasks="eai-behavior", semantics=None, mode="symbolic", reward="default", unit="action",
             max_turns=30, observation="text", **kwargs):
    """A Gymnasium environment of closed-loop episodes (needs ``pip install 'emx[env]'``);
    see ``emx.envs.gym_env.EmxEnv`` and docs/environments.md."""
    from .envs.gym_env import make_env as _make_env

    return _make_env(tasks, semantics=semantics, mode=mode, reward=reward, unit=unit, max_turns=max_turns,
                     observation=observation, **kwargs)


def make_vec_env(n, tasks="eai-behavior", **kwargs):
    """``n`` closed-loop episodes stepped as one batch (a ``gymnasium.vector.VectorEnv``)."""
    from .envs.vector import make_vec_env as _make_vec_env

    return _make_vec_env(n, tasks, **kwargs)


def backend() -> str:
    """Which state-check backend is active: "cuda" when emx was built with nvcc and a usable GPU
    is present (EMX_DEVICE=cpu forces the CPU path), else "cpu"."""
    return _core.backend()


__all__ = [
    "BddlError", "EmxError", "Episode", "Plan", "PlanAction", "Result", "RolloutEngine", "RolloutResult", "Step",
    "SkippedFile", "SkippedTasksWarning", "Task", "TaskList", "TaskSourceError",
    "backend", "evaluate", "evaluate_batch", "load_task", "load_tasks", "make_env", "make_vec_env", "parse_plan",
    "plan_to_text",
]
