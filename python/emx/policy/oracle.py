"""The C++ oracle planner as a policy: the reference plans, and SFT demonstrations."""

from __future__ import annotations

from collections.abc import Sequence

from ..task import Task


def oracle_plan(task: Task, max_actions: int = 400) -> tuple[list[dict[str, str]] | None, str]:
    """(EAI action dicts, reason). None when the oracle cannot solve the task."""
    solved, actions, reason = task.core.oracle(max_actions)
    if not solved:
        return None, reason
    names = [o[0] for o in task.core.objects]
    return [{"action": a.name, "object": ",".join(names[i] for i in a.objects)} for a in actions], ""


class OraclePolicy:
    name = "oracle"

    def __init__(self) -> None:
        self.unsolved: dict[str, str] = {}

    def plan(self, tasks: Sequence[Task]) -> list[list[dict[str, str]]]:
        out = []
        for task in tasks:
            plan, reason = oracle_plan(task)
            if plan is None:
                self.unsolved[task.id] = reason
                plan = []
            out.append(plan)
        return out
