"""The C++ oracle planner as a policy: the reference plans, and SFT demonstrations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..task import Task


def oracle_plan(task: Task, max_actions: int = 400) -> tuple[list[dict[str, str]] | None, str]:
    """(EAI action dicts, reason). None when the oracle cannot solve the task."""
    solved, actions, reason = task.core.oracle(max_actions)
    if not solved:
        return None, reason
    names = [o[0] for o in task.core.objects]
    return [{"action": a.name, "object": ",".join(names[i] for i in a.objects)} for a in actions], ""


def replay_turn(turns_of: Callable[[Task], list[str]], task: Task, conversation: Sequence[dict]) -> str:
    """The answer for the next turn of a fixed plan replayed one action a turn: the k-th turn's
    action after k answers, then DONE."""
    k = sum(1 for m in conversation if m.get("role") == "assistant")
    turns = turns_of(task)
    return turns[k] if k < len(turns) else '[{"action": "DONE"}]'


class OraclePolicy:
    name = "oracle"
    observations = ("text",)

    def __init__(self) -> None:
        self.unsolved: dict[str, str] = {}
        self._turns: dict[int, tuple[Task, list[str]]] = {}

    def plan(self, tasks: Sequence[Task]) -> list[list[dict[str, str]]]:
        out = []
        for task in tasks:
            plan, reason = oracle_plan(task)
            if plan is None:
                self.unsolved[task.id] = reason
                plan = []
            out.append(plan)
        return out

    def _turns_of(self, task: Task) -> list[str]:
        from ..episodes.episode import plan_turns

        hit = self._turns.get(id(task))
        if hit is None or hit[0] is not task:
            plan, reason = oracle_plan(task)
            if plan is None:
                self.unsolved[task.id] = reason
            hit = self._turns[id(task)] = (task, plan_turns(plan or []))
        return hit[1]

    def act(self, tasks: Sequence[Task], conversations: Sequence[Sequence[dict]]) -> list[str]:
        """Closed-loop episodes: the oracle plan, one action a turn."""
        return [replay_turn(self._turns_of, t, c) for t, c in zip(tasks, conversations)]
