"""The words of a closed-loop episode: the opening prompt (the task, asking for one step at a
time) and emx's answer after each turn (what ran, what failed and why, what changed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..evaluation import Step
from ..task import Task

_ACTION_TAIL = (
    "\n\nThis is an interactive episode. Do not write the whole plan: answer with the next action only, "
    'as a JSON list holding one action, e.g. [{"action": "RIGHT_GRASP", "object": "apple_0"}] '
    "(a few actions in the list are run in order). After each answer you are told whether it worked "
    'and what changed. Answer [{"action": "DONE"}] when the task is complete.'
)
_NATIVE_TAIL = (
    "\n\nThis is an interactive episode. Do not write the whole plan: answer with the next action only, "
    'in the same json: {"action_sequence": [...]} form with one action. After each answer you are told '
    'whether it worked and what changed. Answer DONE when the task is complete.'
)


def closed_loop_prompt(task: Task, fmt: str, unit: str) -> str:
    """The first user message. ``compact`` (the tiny model's format) is the command, the objects
    and ``act:``; ``eai`` / ``native`` are the benchmark prompts turned into step-at-a-time."""
    if unit == "subtask":
        from ..hierarchy.prompts import next_subtask_prompt

        return next_subtask_prompt(task)
    if fmt == "compact":
        names = " ".join(o.name for o in task.visible_objects)
        return f"command: {task.command}\nobjects: {names}\nact:"
    from ..prompts import build_prompt

    if fmt == "eai":
        return build_prompt(task, "eai") + _ACTION_TAIL
    if fmt == "native":
        return build_prompt(task, "native") + _NATIVE_TAIL
    raise ValueError(f"unknown prompt format {fmt!r} (expected compact, eai or native)")


def _facts(atoms: Iterable[tuple[str, str, str]]) -> str:
    return ", ".join(str([p, a, b] if b else [p, a]) for p, a, b in sorted(atoms))


def feedback_text(task: Task, steps: Sequence[Step], parsed: bool, problem: str, before: set, after: set,
                  fmt: str, *, subgoal: str | None = None, subgoal_holds: bool | None = None, done: bool = False) -> str:
    """emx's reply to one turn. The compact format says only ok / failed (short sequences for a
    small model); the others also list the facts that became true or false."""
    if not parsed:
        return "could not read an action" if fmt == "compact" else f"could not read an action: {problem[:200]}"
    lines = []
    for s in steps:
        lines.append(f"ok: {s.action}" if s.ok else f"failed ({s.error}): {s.message}")
    if not steps:
        lines.append("done" if done else "no action")
    if subgoal is not None:
        lines.append(f"sub-goal {subgoal[:120]}: " + ("holds" if subgoal_holds else
                                                      "does not hold" if subgoal_holds is False else "not understood"))
    if fmt == "compact":
        return "\n".join(lines)
    added, removed = after - before, before - after
    visible = {o.name for o in task.visible_objects}
    added = {a for a in added if a[1] in visible}
    removed = {a for a in removed if a[1] in visible}
    if added:
        lines.append("now true: " + _facts(added))
    if removed:
        lines.append("no longer true: " + _facts(removed))
    return "\n".join(lines)
