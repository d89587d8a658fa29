"""Canonical goal form, for removing near-duplicate tasks.

Two tasks are near-duplicates when their goals ask for the same thing of the same kinds of
objects in the same rooms, whatever the instance names, the distractors or the literal order:
``(ontop apple.n.01_2 countertop.n.01_1)`` and ``(ontop apple.n.01_1 countertop.n.01_3)`` in a
kitchen are one task. Instance names become categories, quantified variables become their types,
literals are sorted (with multiplicity), and the rooms of the goal's furniture are appended.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from .bddl_text import parse_sexpr

__all__ = ["canonical_goal", "canonical_hash"]

_INSTANCE_RE = re.compile(r"^(.+\.n\.\d+)_(\d+|\*)$")


def _canon(node, cats: Mapping[str, str]) -> str:
    if isinstance(node, str):
        if node.startswith("?"):
            return "?" + _INSTANCE_RE.sub(r"\1", node[1:])
        if node in cats:
            return cats[node]
        m = _INSTANCE_RE.match(node)
        return m.group(1) if m else node
    parts = [_canon(p, cats) for p in node]
    if parts and parts[0] in ("and", "or"):
        parts = [parts[0]] + sorted(parts[1:])
    return "(" + " ".join(parts) + ")"


def canonical_goal(goal_exprs: list[str], categories: Mapping[str, str], rooms: Mapping[str, str] | None = None) -> str:
    """The canonical text of a conjunction of goal expressions. ``rooms``: instance -> room
    (the init's inroom facts), so "open the kitchen cabinet" and "open the bathroom cabinet" differ."""
    literals = sorted(_canon(parse_sexpr(g), categories) for g in goal_exprs)
    where = sorted({f"{categories.get(o, o)}@{r}" for o, r in (rooms or {}).items()
                    if any(o in g for g in goal_exprs)})
    return " ".join(literals) + (" | " + " ".join(where) if where else "")


def canonical_hash(canon: str, length: int = 10) -> str:
    return hashlib.sha1(canon.encode("utf-8")).hexdigest()[:length]
