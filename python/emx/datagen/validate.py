"""The validators every generated task passes, in order, each naming why it rejects:

1. ``syntax``     -- the C++ BDDL reader and compiler accept the text;
2. ``vocabulary`` -- categories exist in the knowledge base, predicates are allowed (``inroom``
                     only in the init), abilities are consistent with what the goal asks (no
                     ``open`` of a non-openable), at most ``max_objects`` objects, every piece of
                     furniture sits in a named room;
3. ``symbolic``   -- the oracle planner solves it, and its plan passes ``emx.evaluate``; a goal
                     that already holds at the start is rejected (nothing to do);
4. ``physical``   -- (optional, slower) the scene builder realises the init, and it settles
                     when ``emx.sim`` runs.

A rejection's ``reason`` is short and stable (the counters group by ``stage: kind``) and its
``message`` is what an agent is told to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import EmxError
from ..tasks.knowledge import load_abilities
from .bddl_text import atoms_of, parse_sexpr

__all__ = ["STAGES", "Verdict", "validate_bddl", "ALLOWED_GOAL_PREDICATES", "ALLOWED_INIT_PREDICATES"]

STAGES = ("syntax", "vocabulary", "symbolic", "physical")

ALLOWED_GOAL_PREDICATES = frozenset({
    "ontop", "inside", "nextto", "under", "onfloor", "open", "toggled_on", "cooked", "frozen", "sliced",
    "soaked", "dusty", "stained", "hot", "on_fire", "covered", "filled", "saturated",
})
ALLOWED_INIT_PREDICATES = ALLOWED_GOAL_PREDICATES | {"inroom"}
# goal predicate -> (argument position, ability it needs, alternatives that also do)
_NEEDS: dict[str, tuple[int, tuple[str, ...]]] = {
    "open": (0, ("openable",)),
    "toggled_on": (0, ("toggleable",)),
    "cooked": (0, ("cookable",)),
    "frozen": (0, ("freezable",)),
    "sliced": (0, ("sliceable",)),
    "soaked": (0, ("soakable",)),
    "dusty": (0, ("dustyable",)),
    "stained": (0, ("stainable",)),
    "inside": (1, ("container", "openable")),
}
_NON_MOVABLE = ("fixed", "floor", "agent")


@dataclass
class Verdict:
    ok: bool
    stage: str | None = None        # the stage that rejected, None when accepted
    reason: str = ""                # short kind, for counters: "unknown category"
    message: str = ""               # full text, for people and agents
    passed: list[str] = field(default_factory=list)
    plan: list[dict[str, str]] | None = None
    task: Any = None                # the compiled emx.Task when syntax passed
    scene: dict | None = None

    @property
    def key(self) -> str:
        return "accepted" if self.ok else f"{self.stage}: {self.reason}"

    def to_dict(self) -> dict:
        return {"ok": self.ok, "stage": self.stage, "reason": self.reason, "message": self.message,
                "passed": list(self.passed), "plan_length": None if self.plan is None else len(self.plan)}


def _reject(v: Verdict, stage: str, reason: str, message: str) -> Verdict:
    v.ok, v.stage, v.reason, v.message = False, stage, reason, message
    return v


def _syntax(bddl: str, task_id: str, v: Verdict):
    from ..tasks.sources import TaskSpec
    from ..task import compile_spec

    m = re.search(r";;\s*command:\s*(.+)", bddl)
    spec = TaskSpec(id=task_id, source="generated", bddl_text=bddl, filename=f"<{task_id}>",
                    command=m.group(1).strip() if m else task_id)
    try:
        task = compile_spec(spec)
    except EmxError as e:
        return None, _reject(v, "syntax", "BDDL error", str(e))
    except Exception as e:  # a binding error is still the text's fault
        return None, _reject(v, "syntax", type(e).__name__, str(e))
    return task, v


def _vocabulary(bddl: str, max_objects: int, v: Verdict) -> Verdict:
    from .. import _core

    parsed = _core.parse_problem(bddl, "<generated>")
    cats = dict(parsed["objects"])
    table = load_abilities()
    unknown = sorted({c for c in cats.values() if c not in table})
    if unknown:
        return _reject(v, "vocabulary", "unknown category",
                       f"categories not in the knowledge base: {', '.join(unknown)}")
    counted = [o for o, c in cats.items() if not (table[c] & {"floor", "agent"})]
    if len(counted) > max_objects:
        return _reject(v, "vocabulary", "too many objects",
                       f"{len(counted)} objects besides floors and the agent; at most {max_objects} allowed")
    rooms: dict[str, str] = {}
    for lit in parsed["init"]:
        words = lit.strip("()").split()
        pred = words[0] if words else ""
        if pred == "not":
            pred = lit.strip("()").replace("(", " ").split()[1]
        if pred not in ALLOWED_INIT_PREDICATES:
            return _reject(v, "vocabulary", "predicate not allowed", f"init predicate {pred!r} is not allowed")
        if pred == "inroom" and len(words) == 3:
            rooms[words[1]] = words[2]
    for o, c in cats.items():
        if "fixed" in table[c] and "floor" not in table[c] and o not in rooms:
            return _reject(v, "vocabulary", "furniture without a room",
                           f"{o} ({c}) is furniture but the init gives it no (inroom {o} ROOM)")
    for g in parsed["goal"]:
        try:
            expr = parse_sexpr(g)
        except ValueError as e:
            return _reject(v, "syntax", "unbalanced goal", f"goal {g[:80]!r}: {e}")
        for atom in atoms_of(expr, cats):
            if atom.predicate == "inroom":
                return _reject(v, "vocabulary", "inroom in goal", "inroom may appear only in the init")
            if atom.predicate not in ALLOWED_GOAL_PREDICATES:
                return _reject(v, "vocabulary", "predicate not allowed",
                               f"goal predicate {atom.predicate!r} is not allowed; use one of "
                               + ", ".join(sorted(ALLOWED_GOAL_PREDICATES)))
            need = _NEEDS.get(atom.predicate)
            if need is not None:   # (not (open x)) on a non-openable is as meaningless as (open x)
                pos, abilities = need
                if pos < len(atom.categories) and atom.categories[pos] is not None:
                    cat = atom.categories[pos]
                    if not (table.get(cat, frozenset()) & set(abilities)):
                        return _reject(v, "vocabulary", f"not {abilities[0]}",
                                       f"({atom.predicate} {' '.join(atom.args)}): {cat} is not {abilities[0]}")
            if atom.predicate in ("ontop", "inside", "nextto", "under") and not atom.negated and atom.categories:
                cat = atom.categories[0]
                if cat is not None and table.get(cat, frozenset()) & set(_NON_MOVABLE):
                    return _reject(v, "vocabulary", "moves furniture",
                                   f"({atom.predicate} {' '.join(atom.args)}): {cat} cannot be moved")
    v.passed.append("vocabulary")
    return v


def _symbolic(task, v: Verdict) -> Verdict:
    from ..evaluation import evaluate
    from ..policy.oracle import oracle_plan

    plan, reason = oracle_plan(task)
    if plan is None:
        kind = re.sub(r"'[^']*'", "X", reason.split(" (goal condition")[0])
        kind = re.sub(r"\b[\w.]+_\d+\b", "X", kind)[:60]
        return _reject(v, "symbolic", f"oracle: {kind}", f"the oracle planner cannot solve it: {reason}")
    if not plan:
        return _reject(v, "symbolic", "goal already holds", "the goal already holds in the initial state")
    result = evaluate(task, plan)
    if not result.success:
        return _reject(v, "symbolic", "oracle plan fails evaluation",
                       f"the oracle's plan does not reach the goal when executed ({result.first_error})")
    v.plan = plan
    v.passed.append("symbolic")
    return v


def _physical(task, v: Verdict, seed: int, settle: bool) -> Verdict:
    import warnings

    from ..scenes import SceneWarning, build_scene
    from ..scenes.build import _reason_kind, settle_scene

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SceneWarning)
            scene = build_scene(task, seed)
    except Exception as e:
        return _reject(v, "physical", f"layout error: {type(e).__name__}", str(e))
    if scene["unrealised"]:
        u = scene["unrealised"][0]
        kind = _reason_kind(u["reason"])
        return _reject(v, "physical", f"unrealised: {kind}",
                       f"{len(scene['unrealised'])} init literal(s) cannot be laid out, first {u['literal']}: {u['reason']}")
    if settle:
        try:
            record = settle_scene(task, scene)
        except Exception as e:
            return _reject(v, "physical", f"settle error: {type(e).__name__}", str(e))
        if record is not None:
            scene["settle"] = record
            bad = _settle_failures(record)
            if bad:
                return _reject(v, "physical", "does not settle", f"after settling: {bad}")
    v.scene = scene
    v.passed.append("physical")
    return v


def _settle_failures(record: dict) -> str:
    """'' when a settle record (PhysicsWorld.settle_and_verify) says the init's relations held."""
    broken = record.get("violations") or []
    if record.get("relations_ok") is False or broken:
        return f"{len(broken)} init relation(s) broken after settling, e.g. {broken[0] if broken else '?'}"
    return ""


def validate_bddl(bddl: str, task_id: str = "generated", max_objects: int = 8, physical: bool = False,
                  settle: bool = True, seed: int = 0) -> Verdict:
    """Runs the stages in order and stops at the first rejection."""
    v = Verdict(ok=True)
    task, v = _syntax(bddl, task_id, v)
    if task is None:
        return v
    v.task = task
    v.passed.append("syntax")
    try:
        _vocabulary(bddl, max_objects, v)
    except Exception as e:
        return _reject(v, "syntax", "unreadable", f"{type(e).__name__}: {e}")
    if not v.ok:
        return v
    _symbolic(task, v)
    if not v.ok or not physical:
        return v
    return _physical(task, v, seed, settle)
