"""Plans from a JSONL file: one ``{"task": TASK_ID, "plan": "raw text" | [actions]}`` per line.

Structural problems of the file itself (not JSON, no "task" key, a task twice)
raise an error naming file:line; what is inside "plan" is model output and is
only ever scored, never trusted. Tasks with no line get an empty plan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EmxError
from ..task import Task


class PlansFileError(EmxError, ValueError):
    pass


def read_plans(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlansFileError(f"{path}: no such plans file") from None
    except UnicodeDecodeError as e:
        raise PlansFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    plans: dict[str, Any] = {}
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            col = getattr(e, "colno", 0)
            raise PlansFileError(f"{path}:{lineno}:{col}: not a JSON object ({getattr(e, 'msg', 'too deeply nested')})") from None
        if not isinstance(row, dict) or not isinstance(row.get("task"), str):
            raise PlansFileError(f'{path}:{lineno}: expected {{"task": TASK_ID, "plan": ...}} with a string "task"')
        if "plan" not in row:
            raise PlansFileError(f'{path}:{lineno}: missing "plan" for task {row["task"]!r}')
        task_id = row["task"]
        if task_id in plans:
            raise PlansFileError(f"{path}:{lineno}: a second plan for task {task_id!r} (first on line {first_line[task_id]})")
        plans[task_id] = row["plan"]
        first_line[task_id] = lineno
    return plans


class FilePolicy:
    observations = ("text",)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self.plans = read_plans(self.path)
        self._turns: dict[str, list[str]] = {}

    def plan(self, tasks: Sequence[Task]) -> list[Any]:
        return [self.plans.get(t.id, "") for t in tasks]

    def unknown_ids(self, tasks: Sequence[Task]) -> list[str]:
        """Plan lines whose task is not among `tasks` (usually a typo in an id)."""
        ids = {t.id for t in tasks}
        return sorted(k for k in self.plans if k not in ids)

    def act(self, tasks: Sequence[Task], conversations: Sequence[Sequence[dict]]) -> list[str]:
        """Closed-loop episodes: each task's plan replayed one action a turn."""
        from ..episodes.episode import plan_turns
        from .oracle import replay_turn

        def turns_of(task: Task) -> list[str]:
            if task.id not in self._turns:
                self._turns[task.id] = plan_turns(self.plans.get(task.id, ""))
            return self._turns[task.id]

        return [replay_turn(turns_of, t, c) for t, c in zip(tasks, conversations)]
