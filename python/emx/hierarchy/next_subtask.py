"""The next-sub-task query (WALL-OSS's ``next_subtask`` mode): the policy names only the sub-task
to do now, the state it should reach and the actions for it -- or says the task is done.

Accepted answers, with the tolerance of `parse_hierarchical` (``<think>``, fences, prose):

* ``{"subtask": "open the fridge", "subgoal": "(open fridge_0)", "actions": [...]}``
  (``"subgoal"`` may be an EAI token list; ``"plan"`` is read as ``"actions"``);
* ``{"done": true}`` (also the string "true"/"yes");
* tags: ``<subtask>...</subtask><subgoal>...</subgoal><actions>...</actions>``, or ``<done/>`` /
  ``<done>true</done>``; an answer that is just the word "done" counts too.

A closed-loop runner calls `parse_next_subtask`, executes ``actions``, then checks
``compile_subgoal(task, subgoal).holds(state)``. ``error`` is None exactly when the answer is
usable: it is done, or it carries a non-empty plan. Never raises.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from ..plans import MAX_CHARS, Plan, json_values, parse_plan
from .format import _ASCII_LOWER, _split_think, _strip_fences, _tag
from .subgoals import subgoal_text

__all__ = ["NextSubtask", "parse_next_subtask"]

MAX_SUBTASK_CHARS = 1_000
_TRUE = ("true", "yes", "1")
_DONE_WORDS = {"done", "finished", "task complete", "task completed", "complete"}


@dataclass(frozen=True)
class NextSubtask:
    subtask: str                 # the sub-task in words ("" when not given)
    subgoal: str | None          # BDDL text of the state it should reach (None when not given)
    actions: Plan | None         # a parsed, non-empty plan, or None
    done: bool                   # the policy says the task is finished
    error: str | None            # why the answer is unusable; None when usable

    def to_dict(self) -> dict[str, Any]:
        return {"subtask": self.subtask, "subgoal": self.subgoal, "done": self.done, "error": self.error,
                "actions": None if self.actions is None else [
                    {"action": a.name, "args": list(a.args), "params": dict(a.params or {})}
                    for a in self.actions.actions]}


def _fail(reason: str, subtask: str = "", subgoal: str | None = None) -> NextSubtask:
    return NextSubtask(subtask, subgoal, None, False, reason)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def _build(subtask: Any, subgoal: Any, actions: Any, done: bool) -> NextSubtask:
    text = subtask.strip()[:MAX_SUBTASK_CHARS] if isinstance(subtask, str) else ""
    goal = None
    if subgoal is not None and not (isinstance(subgoal, str) and not subgoal.strip()):
        goal = subgoal_text(_strip_fences(subgoal) if isinstance(subgoal, str) else subgoal)
    plan: Plan | None = None
    reason: str | None = None
    if actions is None:
        reason = "no actions"
    else:
        if isinstance(actions, str):
            actions = _strip_fences(actions)
        parsed = parse_plan(actions)
        if parsed.ok and parsed.actions:
            plan = parsed
        else:
            reason = "actions: " + (parsed.error or "no actions in the plan")
    if done:
        return NextSubtask(text, goal, plan, True, None)
    return NextSubtask(text, goal, plan, False, reason)


def _from_object(doc: dict) -> NextSubtask:
    actions = doc.get("actions", doc.get("plan"))
    subgoal = doc.get("subgoal", doc.get("sub_goal"))
    return _build(doc.get("subtask", doc.get("sub_task", "")), subgoal, actions, _truthy(doc.get("done")))


def _parse_text(text: str) -> NextSubtask:
    if len(text) > MAX_CHARS:
        return _fail(f"output too long: {len(text)} characters (limit {MAX_CHARS})")
    _, answer = _split_think(text)
    if not answer.strip():
        return _fail("empty output")
    lower = answer.translate(_ASCII_LOWER)
    if answer.strip().strip(string.punctuation + " ").translate(_ASCII_LOWER) in _DONE_WORDS:
        return NextSubtask("", None, None, True, None)

    actions = _tag(answer, lower, "actions")
    subtask = _tag(answer, lower, "subtask")
    if actions is not None or subtask is not None:
        done_tag = _tag(answer, lower, "done")
        done = "<done/>" in lower or (done_tag is not None and _truthy(done_tag.strip() or "true"))
        return _build(subtask, _tag(answer, lower, "subgoal"), actions, done)
    if "<done/>" in lower or "<done />" in lower:
        return NextSubtask("", None, None, True, None)
    done_tag = _tag(answer, lower, "done")
    if done_tag is not None and _truthy(done_tag.strip() or "true"):
        return NextSubtask("", None, None, True, None)

    for value in json_values(answer):
        if isinstance(value, dict) and any(k in value for k in ("subtask", "sub_task", "done", "actions", "plan")):
            return _from_object(value)
    # A bare plan: no words, no sub-goal, but something to execute.
    return _build("", None, answer, False)


def parse_next_subtask(text: Any) -> NextSubtask:
    """A next-sub-task answer (str, bytes or a decoded dict) as a `NextSubtask`. Never raises."""
    try:
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = bytes(text).decode("utf-8", errors="replace")
        if isinstance(text, dict):
            return _from_object(text)
        if isinstance(text, str):
            return _parse_text(text)
        return _fail(f"expected text, got {type(text).__name__}")
    except Exception as e:  # noqa: BLE001 - the never-raises contract; should be unreachable
        return _fail(f"unparseable output ({type(e).__name__})")
