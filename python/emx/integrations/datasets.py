"""emx tasks as a Hugging Face ``datasets.Dataset``: one row per task with the prompt and the
task id (what the reward adapters look the task up by), plus the columns verl's RL datasets use.

    from emx.integrations.datasets import tasks_dataset
    ds = tasks_dataset("eai-behavior", prompt_format="eai")          # columns: prompt, task_id, ...
    ds.to_parquet("train.parquet")                                   # verl: data.train_files
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..policy.vllm_policy import prompt_text
from ..task import Task, load_tasks


def task_rows(tasks: Sequence[Task], prompt_format: str = "eai", conversational: bool = True,
              source: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for t in tasks:
        text = prompt_text(t, prompt_format)
        src = source or t.source
        rows.append({
            # TRL: a conversational prompt (list of messages) or plain text
            "prompt": [{"role": "user", "content": text}] if conversational else text,
            "task_id": t.id,
            "task_source": src,
            "command": t.command,
            # verl's RL dataset fields (reward_model.ground_truth is what compute_score receives)
            "data_source": f"emx:{src}",
            "ability": "embodied_planning",
            "reward_model": {"style": "rule", "ground_truth": t.id},
            "extra_info": {"task_id": t.id, "task_source": src, "prompt_format": prompt_format},
        })
    return rows


def tasks_dataset(tasks: str | Sequence[Task], prompt_format: str = "eai", conversational: bool = True,
                  limit: int | None = None):
    """A ``datasets.Dataset`` of tasks (a task source string, or compiled tasks)."""
    import datasets

    source = tasks if isinstance(tasks, str) else None
    task_list = load_tasks(tasks, limit=limit) if isinstance(tasks, str) else list(tasks)[:limit]
    return datasets.Dataset.from_list(task_rows(task_list, prompt_format, conversational, source))
