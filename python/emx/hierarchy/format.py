"""The three-level answer of a hierarchical (WALL-OSS-style, "Unified Cross-Level CoT") policy:
reasoning -> sub-goals -> actions, in one output.

Two spellings are accepted:

* JSON: ``{"reasoning": "...", "subgoals": ["(ontop apple_0 table_1)", ...], "actions": [...]}``
  (``"sub_goals"`` and ``"plan"`` are read as ``"subgoals"`` and ``"actions"``);
* tags: ``<reasoning>...</reasoning><subgoals>...</subgoals><actions>...</actions>``, where the
  sub-goals are a JSON list or parenthesised literals one after another (one per line, numbered
  or not) and the actions are any plan text.

Around either: ``<think>...</think>`` (its content is taken as the reasoning when the answer has
none of its own), markdown fences and prose. A bare plan with no hierarchy is still read: its
reasoning and sub-goals are missing (``level_errors``), so those levels score nothing.

Like `emx.parse_plan`, `parse_hierarchical` never raises and its work is bounded: the text is
cut at `emx.plans.MAX_CHARS`, tags are found with ``str.find`` (linear), and JSON is read with
the bounded scanner of `emx.plans`.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any

from ..plans import MAX_CHARS, json_values, parse_plan
from .subgoals import MAX_LITERALS, subgoal_text

__all__ = ["HierarchicalPlan", "parse_hierarchical", "MAX_SUBGOALS", "MAX_REASONING_CHARS"]

MAX_SUBGOALS = 64
MAX_REASONING_CHARS = 20_000      # kept text; the reward's length credit saturates far earlier
_REASONING_KEYS = ("reasoning", "thought", "thoughts")
_SUBGOAL_KEYS = ("subgoals", "sub_goals", "sub-goals")
_ACTION_KEYS = ("actions", "plan")
_PAREN_GROUP_LIMIT = MAX_SUBGOALS + 1
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True)
class HierarchicalPlan:
    reasoning: str
    subgoals: tuple[str, ...]             # each as BDDL text (EAI token lists converted)
    actions_text: str | list              # what `emx.parse_plan` reads: text, or a decoded list
    format_ok: bool                       # structure found AND the actions parse as a non-empty plan
    error: str | None                     # why format_ok is False
    level_errors: dict = field(default_factory=dict)   # level -> reason ("reasoning", "subgoals", "actions")

    def to_dict(self) -> dict[str, Any]:
        return {"reasoning": self.reasoning, "subgoals": list(self.subgoals),
                "actions_text": self.actions_text, "format_ok": self.format_ok, "error": self.error,
                "level_errors": dict(self.level_errors)}


def _fail(reason: str, reasoning: str = "", subgoals: tuple[str, ...] = (), level_errors: dict | None = None,
          actions: str | list = "") -> HierarchicalPlan:
    return HierarchicalPlan(reasoning, subgoals, actions, False, reason, dict(level_errors or {}))


def _split_think(text: str) -> tuple[str, str]:
    """(think content, the answer after the last </think>)."""
    cut = text.rfind("</think>")
    if cut < 0:
        return "", text
    head, answer = text[:cut], text[cut + len("</think>"):]
    start = head.find("<think>")
    return (head[start + len("<think>"):] if start >= 0 else head).strip(), answer


def _tag(text: str, lower: str, name: str) -> str | None:
    """Content of the first <name>...</name>; an unclosed tag runs to the end of the text."""
    start = lower.find(f"<{name}>")
    if start < 0:
        return None
    start += len(name) + 2
    end = lower.find(f"</{name}>", start)
    return text[start:] if end < 0 else text[start:end]


def _strip_fences(s: str) -> str:
    s = s.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else ""
    if s.rstrip().endswith("```"):
        s = s.rstrip()[:-3]
    return s.strip()


def _paren_groups(text: str) -> list[str]:
    """Top-level balanced '(...)' groups of `text`, in order (at most MAX_SUBGOALS + 1)."""
    out: list[str] = []
    depth, start = 0, -1
    for i, c in enumerate(text):
        if c == "(":
            if depth == 0:
                start = i
            depth += 1
        elif c == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                out.append(text[start:i + 1])
                if len(out) >= _PAREN_GROUP_LIMIT:
                    break
    return out


def _subgoals_from_value(value: Any) -> tuple[tuple[str, ...], str | None]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return (), f"sub-goals must be a list, got {type(value).__name__}"
    if value and all(isinstance(v, str) for v in value) and not any(v.lstrip().startswith("(") for v in value) \
            and len(value) <= 1 + 2 * MAX_LITERALS and " " not in "".join(value).strip():
        value = [value]   # one EAI flat list, ["ontop", "apple_0", "table_1"], not a list of sub-goals
    if len(value) > MAX_SUBGOALS:
        return (), f"{len(value)} sub-goals (limit {MAX_SUBGOALS})"
    if not value:
        return (), "no sub-goals"
    return tuple(subgoal_text(v) for v in value), None


def _subgoals_from_text(content: str) -> tuple[tuple[str, ...], str | None]:
    content = _strip_fences(content)
    if content.startswith("["):
        for value in json_values(content, limit=1):
            return _subgoals_from_value(value)
    groups = _paren_groups(content)
    if groups:
        if len(groups) > MAX_SUBGOALS:
            return (), f"more than {MAX_SUBGOALS} sub-goals"
        return tuple(g.strip() for g in groups), None
    lines = [re.sub(r"^\s*(?:[-*]|\d+[.)])\s*", "", ln).strip() for ln in content.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return (), "no sub-goals"
    if len(lines) > MAX_SUBGOALS:
        return (), f"{len(lines)} sub-goals (limit {MAX_SUBGOALS})"
    return tuple(subgoal_text(ln) for ln in lines), None


def _reasoning(value: Any, think: str) -> tuple[str, str | None]:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_REASONING_CHARS], None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n".join(value).strip()[:MAX_REASONING_CHARS], None
    if think:
        return think[:MAX_REASONING_CHARS], None
    return "", "missing" if value is None else "empty or not text"


def _finish(reasoning_value: Any, think: str, subgoals: tuple[str, ...], sub_err: str | None,
            actions: Any) -> HierarchicalPlan:
    reasoning, r_err = _reasoning(reasoning_value, think)
    level_errors: dict[str, str] = {}
    if r_err:
        level_errors["reasoning"] = r_err
    if sub_err:
        level_errors["subgoals"] = sub_err
    if isinstance(actions, dict):
        actions = "json: " + json.dumps(actions)   # a native plan object, as native text
    if isinstance(actions, str):
        actions = _strip_fences(actions)
    if actions is None or not isinstance(actions, (str, list)):
        level_errors["actions"] = "missing" if actions is None else f"actions must be a list, got {type(actions).__name__}"
        return _fail(f"actions: {level_errors['actions']}", reasoning, subgoals, level_errors)
    plan = parse_plan(actions)
    if plan.ok and not plan.actions:
        level_errors["actions"] = "no actions in the plan"
    elif not plan.ok:
        level_errors["actions"] = plan.error or "unparseable"
    if "actions" in level_errors:
        return _fail(f"actions: {level_errors['actions']}", reasoning, subgoals, level_errors, actions)
    return HierarchicalPlan(reasoning, subgoals, actions, True, None, level_errors)


def _first(doc: dict, keys: tuple[str, ...]) -> tuple[bool, Any]:
    for k in keys:
        if k in doc:
            return True, doc[k]
    return False, None


def _from_object(doc: dict, think: str) -> HierarchicalPlan:
    _, reasoning = _first(doc, _REASONING_KEYS)
    has_sub, sub = _first(doc, _SUBGOAL_KEYS)
    subgoals, sub_err = _subgoals_from_value(sub) if has_sub else ((), "missing")
    _, actions = _first(doc, _ACTION_KEYS)
    return _finish(reasoning, think, subgoals, sub_err, actions)


def _parse_text(text: str) -> HierarchicalPlan:
    if len(text) > MAX_CHARS:
        return _fail(f"output too long: {len(text)} characters (limit {MAX_CHARS})")
    if not text.strip():
        return _fail("empty output")
    think, answer = _split_think(text)
    lower = answer.translate(_ASCII_LOWER)  # str.lower() can change lengths ("İ"); indices must match

    actions_tag = _tag(answer, lower, "actions")
    if actions_tag is not None:
        reasoning = _tag(answer, lower, "reasoning")
        sub_content = _tag(answer, lower, "subgoals")
        subgoals, sub_err = _subgoals_from_text(sub_content) if sub_content is not None else ((), "missing")
        return _finish(reasoning, think, subgoals, sub_err, actions_tag)

    for value in json_values(answer):
        if isinstance(value, dict) and any(k in value for k in _ACTION_KEYS + _SUBGOAL_KEYS):
            return _from_object(value, think)

    # No hierarchy: a bare plan still scores at the action level.
    plan = parse_plan(answer)
    if plan.ok and plan.actions:
        return _finish(None, think, (), "missing", answer)
    return _fail("no hierarchical answer found (JSON with \"actions\" or an <actions> block)"
                 + (f"; as a plan: {plan.error}" if plan.error else ""))


def parse_hierarchical(text: Any) -> HierarchicalPlan:
    """Model output (str, bytes, or an already decoded dict) as a `HierarchicalPlan`. Never raises."""
    try:
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = bytes(text).decode("utf-8", errors="replace")
        if isinstance(text, dict):
            return _from_object(text, "")
        if isinstance(text, str):
            return _parse_text(text)
        return _fail(f"expected text, got {type(text).__name__}")
    except Exception as e:  # noqa: BLE001 - the never-raises contract; should be unreachable
        return _fail(f"unparseable output ({type(e).__name__})")
