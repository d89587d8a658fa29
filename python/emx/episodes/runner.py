"""Runs many closed-loop episodes with one policy: every turn, the conversations of all episodes
still running go to the policy in one batch (one vLLM call, or concurrent server requests), then
each episode executes its answer. ``emx eval --episode closed-loop`` calls ``run_closed_loop``.

A policy takes part through ``respond(conversations) -> list[str]`` (model policies) or
``act(tasks, conversations) -> list[str]`` (fixed plans: oracle, plans file, replayed one action a
turn). Its ``observations`` attribute (default ``("text",)``) says whether the user turns carry a
schematic or RGB image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..eval.runner import EvalReport
from ..task import Task
from .episode import ClosedLoopEpisode


def policy_turns(policy: Any, tasks: Sequence[Task], conversations: Sequence[list[dict]]) -> list[str]:
    """One answer per conversation. Never raises for what the policy answers: a non-string
    becomes an empty (unparseable) turn."""
    if hasattr(policy, "act"):
        answers = policy.act(list(tasks), list(conversations))
    elif hasattr(policy, "respond"):
        answers = policy.respond(list(conversations))
    else:
        raise TypeError(f"policy {getattr(policy, 'name', policy)!r} cannot take part in closed-loop episodes "
                        "(it has neither respond(conversations) nor act(tasks, conversations))")
    answers = list(answers)
    if len(answers) != len(conversations):
        raise RuntimeError(f"policy {getattr(policy, 'name', policy)!r} gave {len(answers)} answers for "
                           f"{len(conversations)} conversations")
    return [a if isinstance(a, str) else "" for a in answers]


def run_episodes(tasks: Sequence[Task], policy: Any, *, mode: str = "symbolic", unit: str = "action",
                 max_turns: int = 30, prompt_format: str | None = None,
                 progress: Callable[[int], None] | None = None,
                 semantics: str | None = None) -> list[ClosedLoopEpisode]:
    """Plays one episode per task to its end; returns the finished episodes in task order.
    semantics: whose rules judge the actions (default: each task's own profile)."""
    fmt = prompt_format or getattr(policy, "prompt_format", None) or "eai"
    kinds = tuple(getattr(policy, "observations", ("text",)))
    episodes = [ClosedLoopEpisode(t.with_semantics(semantics), mode=mode, unit=unit, max_turns=max_turns,
                                  prompt_format=fmt, observations=kinds) for t in tasks]
    active = list(range(len(episodes)))
    while active:
        answers = policy_turns(policy, [episodes[i].task for i in active], [episodes[i].messages for i in active])
        still = []
        for i, text in zip(active, answers):
            episodes[i].step(text)
            if episodes[i].done:
                if progress:
                    progress(1)
            else:
                still.append(i)
        active = still
    return episodes


def run_closed_loop(tasks: Sequence[Task], policy: Any, *, reward: str = "default", mode: str = "symbolic",
                    unit: str = "action", max_turns: int = 30, chunk: int = 32,
                    progress: Callable[[int], None] | None = None, semantics: str | None = None) -> EvalReport:
    """``emx eval --episode closed-loop``: the same report as a plan evaluation, plus turns and
    how episodes ended."""
    report = EvalReport(policy=getattr(policy, "name", "policy"), reward=reward, mode=mode)
    for start in range(0, len(tasks), chunk):
        batch = list(tasks[start:start + chunk])
        eps = run_episodes(batch, policy, mode=mode, unit=unit, max_turns=max_turns, progress=progress,
                           semantics=semantics)
        report.results += [e.result(reward) for e in eps]
        report.episodes += [{"task": e.task.id, "turns": len(e.turns), "end": e.end_reason} for e in eps]
    return report
