"""Exact identity of world states, for grouping the steps of different episodes that act from the
same state ("anchor states", GiGPO's step-level groups; ``emx.train.credit``).

emx's symbolic states are exact data, so two turns act from the same state when their
``WorldState``s are equal -- no text similarity, no fuzzy matching. ``anchor_ids`` buckets states by
a cheap Python key (the stored predicates that hold, as ``task.core.true_atoms`` reports them, and
what each hand holds: about 4 us on a tiny task) and then splits every bucket by ``WorldState ==``,
the C++ comparison of every array of the state (relations, unary bits, present objects, support
parents, hands, room, the object the robot stands at). The key only makes the grouping fast; the
equality makes it exact, so a key collision can never merge different states.

Physics mode: the state a turn acts from is the episode's *symbolic shadow* (``PhysicsWorld.shadow``:
the relations re-derived from the bodies' geometry after every step), not the geometry itself. Two
physics turns whose scenes differ only in poses that leave every relation unchanged are grouped
together: the shadow is the state the goal and the reward read.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

__all__ = ["anchor_ids", "state_key"]


def state_key(task: Any, state: Any) -> Hashable:
    """A hashable summary of ``state``: equal states have equal keys (unequal states usually
    differ too; ``anchor_ids`` resolves the rest by exact equality)."""
    return tuple(sorted(task.core.true_atoms(state))), tuple(state.hands)


def anchor_ids(task: Any, states: Sequence[Sequence[Any]],
               key: Callable[[Any, Any], Hashable] = state_key) -> list[list[int]]:
    """``states[i][t]``: the state episode i's turn t acted from (all episodes of one task).
    Returns the same shape of ints: equal ids exactly when the states are equal (``==``), numbered
    0, 1, 2, ... in order of first appearance."""
    buckets: dict[Hashable, list[tuple[Any, int]]] = {}
    out: list[list[int]] = []
    n = 0
    for episode in states:
        ids = []
        for s in episode:
            reps = buckets.setdefault(key(task, s), [])
            for rep, i in reps:
                if rep == s:
                    ids.append(i)
                    break
            else:
                reps.append((s, n))
                ids.append(n)
                n += 1
        out.append(ids)
    return out
