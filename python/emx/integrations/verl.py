"""A reward function for verl: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

verl config::

    custom_reward_function:
      path: <site-packages>/emx/integrations/verl.py     # or any file that imports it
      name: compute_score

Rows come from ``emx.integrations.datasets.tasks_dataset(...).to_parquet(...)``: ground_truth is the
task id and data_source is ``emx:SOURCE`` (any emx task source: eai-behavior, bddl, a directory).
``extra_info`` may carry ``reward`` (preset), ``mode`` (symbolic/physics) and ``bddl`` (the task's
BDDL text, for tasks that exist only in the dataset). Returns a dict with ``score`` and every
reward component (verl logs the extra keys). Model output never raises.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ..task import Task, load_tasks


@functools.lru_cache(maxsize=16)
def _source_tasks(source: str) -> dict[str, Task]:
    return {t.id: t for t in load_tasks(source)}


@functools.lru_cache(maxsize=4096)
def _bddl_task(text: str, task_id: str) -> Task:
    from ..task import compile_spec
    from ..tasks.sources import TaskSpec

    return compile_spec(TaskSpec(id=task_id, source="verl", bddl_text=text, filename=f"<verl:{task_id}>",
                                 command=task_id.replace("_", " ")))


def resolve_task(data_source: str, ground_truth: Any, extra_info: dict | None = None) -> Task:
    extra = extra_info or {}
    task_id = str(ground_truth if ground_truth is not None else extra.get("task_id", ""))
    if isinstance(extra.get("bddl"), str):
        return _bddl_task(extra["bddl"], task_id)
    source = extra.get("task_source") or (data_source[4:] if str(data_source).startswith("emx:") else data_source)
    tasks = _source_tasks(str(source))
    if task_id not in tasks:
        raise KeyError(f"task {task_id!r} is not in emx task source {source!r}")
    return tasks[task_id]


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    from ..train.rewards import score

    extra = extra_info or {}
    task = resolve_task(data_source, ground_truth, extra)
    reward = extra.get("reward") or os.environ.get("EMX_REWARD", "default")
    mode = extra.get("mode") or os.environ.get("EMX_MODE", "symbolic")
    text = solution_str if isinstance(solution_str, str) else ""
    r = score([task], [text], mode=mode, reward=reward, backend="inprocess")[0]
    return {"score": float(r.reward), "success": float(r.success), "goal_fraction": float(r.goal_fraction),
            "executability": float(r.executability), "format_ok": float(r.format_ok),
            "plan_length": float(r.plan_length)}
