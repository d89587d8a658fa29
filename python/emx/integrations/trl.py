"""A reward function for TRL's ``GRPOTrainer``.

    from emx.integrations.datasets import tasks_dataset
    from emx.integrations.trl import EmxRewardFunction
    ds = tasks_dataset("eai-behavior")                       # has a task_id column
    trainer = GRPOTrainer(model=..., reward_funcs=EmxRewardFunction("eai-behavior"), train_dataset=ds, ...)

TRL calls ``reward(prompts=..., completions=..., **columns)``: every dataset column arrives as a
keyword list, so the task of each completion is found by its ``task_id``. Completions may be
plain strings or conversational (a list of messages: the last assistant content is scored).
Model output never raises: empty, looping or garbage text is a format failure. The reward
components of the last call are kept in ``last_components`` (TRL logs only the sum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..task import Task, load_tasks


def completion_text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}, ...]
        for msg in reversed(completion):
            if isinstance(msg, dict) and msg.get("role", "assistant") == "assistant":
                content = msg.get("content", "")
                if isinstance(content, list):  # multimodal content parts
                    return "".join(p.get("text", "") for p in content if isinstance(p, dict))
                return content if isinstance(content, str) else ""
        return ""
    if isinstance(completion, dict):
        c = completion.get("content", "")
        return c if isinstance(c, str) else ""
    return ""


class EmxRewardFunction:
    """Callable with TRL's reward signature: (prompts, completions, **kwargs) -> list[float]."""

    def __init__(self, tasks: str | Sequence[Task], reward: str = "default", mode: str = "symbolic",
                 backend: str = "inprocess", missing_task_reward: float | None = None) -> None:
        task_list = load_tasks(tasks) if isinstance(tasks, str) else list(tasks)
        self.tasks: dict[str, Task] = {t.id: t for t in task_list}
        self.reward = reward
        self.mode = mode
        self.backend = backend
        self.missing_task_reward = missing_task_reward
        self.__name__ = f"emx_{reward}"   # TRL names the logged reward after this
        self.last_components: dict[str, float] = {}

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 task_id: Sequence[str] | None = None, **kwargs: Any) -> list[float]:
        from ..train.rewards import score, summarize

        completions = list(completions or [])
        if task_id is None:
            raise ValueError("the dataset needs a 'task_id' column (see emx.integrations.datasets.tasks_dataset)")
        ids = list(task_id)
        if len(ids) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(ids)} task ids")
        out: list[float | None] = [None] * len(completions)
        idx, tasks, texts = [], [], []
        for i, (tid, comp) in enumerate(zip(ids, completions)):
            task = self.tasks.get(tid)
            if task is None:
                if self.missing_task_reward is None:
                    raise KeyError(f"task id {tid!r} is not among the {len(self.tasks)} tasks this reward was built with")
                out[i] = self.missing_task_reward
                continue
            idx.append(i)
            tasks.append(task)
            texts.append(completion_text(comp))
        results = score(tasks, texts, mode=self.mode, reward=self.reward, backend=self.backend)
        for i, r in zip(idx, results):
            out[i] = float(r.reward)
        self.last_components = summarize(results)
        return [float(x) for x in out]


def reward_function(tasks: str | Sequence[Task], reward: str = "default", mode: str = "symbolic") -> EmxRewardFunction:
    return EmxRewardFunction(tasks, reward=reward, mode=mode)
