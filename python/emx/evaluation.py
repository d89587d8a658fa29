"""Evaluating plans: parse -> resolve to core actions -> execute -> check goal -> reward.

``evaluate`` never raises because of what a model wrote: unparseable text is a
format failure, an unknown action or object is an error at its step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _core
from .plans import Plan, PlanAction, parse_plan
from .task import Task

# EmboMatrix native parameters, in the order the core takes them.
_NATIVE_OBJECT_PARAMS = ("object_index", "source_index")
_NATIVE_NUMBER_PARAMS = {"turn": ("yaw",), "move_forward": ("distance", "yaw")}


@dataclass(frozen=True)
class Step:
    action: str
    ok: bool
    error: str          # "none", "affordance", "missing_step", ...
    message: str


@dataclass(frozen=True)
class Result:
    """Every reward component of one evaluated plan, and its per-step trace."""

    task_id: str
    reward: float
    format_ok: bool
    format_error: str | None
    executability: float
    goal_fraction: float
    success: bool
    plan_length: int
    executed: int
    objects_named: int
    relevant_named: int
    first_error: str            # "none" when every step ran
    trace: tuple[Step, ...] = ()
    condition_truth: tuple[bool, ...] = ()
    atoms: tuple[tuple[str, bool], ...] = field(default=(), repr=False)

    @property
    def error_type(self) -> str | None:
        """The error that decided this plan: "format", a fatal step error, or None."""
        if not self.format_ok:
            return "format"
        return None if self.first_error == "none" else self.first_error

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("trace", "atoms")}
        d["condition_truth"] = list(self.condition_truth)
        d["trace"] = [s.__dict__ for s in self.trace]
        return d


def _parse(plan: Any, fmt: str) -> Plan:
    parsed = parse_plan(plan, fmt=fmt)
    if parsed.ok and not parsed.actions:
        # EAI counts an empty plan as a parsing failure ("No actions found"):
        # rewarding it would pay a policy for saying nothing.
        return Plan(format="none", actions=(), error="no actions in the plan")
    return parsed


def _reward_config(reward: str | _core.RewardConfig) -> _core.RewardConfig:
    return reward if isinstance(reward, _core.RewardConfig) else _core.reward_preset(reward)


def _native_action(task: Task, a: PlanAction) -> _core.Action:
    params = dict(a.params or {})
    objects: list[int] = []
    for key in _NATIVE_OBJECT_PARAMS:
        if key in params:
            v = params[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
                return task.core.invalid_action("wrong_arity", f"{a.name}: {key} must be an integer, got {v!r:.40}")
            objects.append(int(v))
    numbers: list[float] = []
    for key in _NATIVE_NUMBER_PARAMS.get(a.name, ()):
        v = params.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return task.core.invalid_action("wrong_arity", f"{a.name}: {key} must be a number, got {v!r:.40}")
        numbers.append(float(v))
    relation = params.get("relation", "")
    room = params.get("room_name", "")
    if not isinstance(relation, str) or not isinstance(room, str):
        return task.core.invalid_action("wrong_arity", f"{a.name}: relation and room_name must be strings")
    return task.core.native_action(a.name, objects, numbers, relation, room)


def to_actions(task: Task, plan: Plan) -> list[_core.Action]:
    """Resolves a parsed plan against a task. Never raises: problems become per-step errors."""
    if plan.format == "native":
        return [_native_action(task, a) for a in plan.actions]
    return [task.core.eai_action(a.name, list(a.args)) for a in plan.actions]


def _result(task: Task, plan: Plan, d: dict[str, Any]) -> Result:
    return Result(
        task_id=task.id,
        reward=d["reward"],
        format_ok=plan.ok,
        format_error=plan.error,
        executability=d["executability"],
        goal_fraction=d["goal_fraction"],
        success=d["success"],
        plan_length=d["plan_length"],
        executed=d["executed"],
        objects_named=d["objects_named"],
        relevant_named=d["relevant_named"],
        first_error=d["first_error"],
        trace=tuple(Step(**s) for s in d["trace"]),
        condition_truth=tuple(d["condition_truth"]),
        atoms=tuple(d["atoms"]),
    )


def evaluate(task: Task, plan: str | Plan | Sequence | dict, mode: str = "symbolic",
             reward: str | _core.RewardConfig = "default", fmt: str = "auto",
             semantics: str | None = None) -> Result:
    """Scores one plan (raw model text or a parsed plan) on a task. semantics: "eai",
    "embomatrix" or "emx" (default: the profile the task was loaded with)."""
    _check_mode(mode)
    task = task.with_semantics(semantics)
    parsed = _parse(plan, fmt)
    if mode == "physics":
        from .sim import evaluate_physics

        d = evaluate_physics(task, to_actions(task, parsed) if parsed.ok else [], parsed.ok, _reward_config(reward))
        return _result(task, parsed, d)
    d = _core.evaluate(task.core, to_actions(task, parsed) if parsed.ok else [], parsed.ok, _reward_config(reward))
    return _result(task, parsed, d)


def _check_mode(mode: str) -> None:
    if mode not in ("symbolic", "physics"):
        raise ValueError(f"unknown mode {mode!r} (expected 'symbolic' or 'physics')")


def evaluate_batch(tasks: Sequence[Task], plans: Sequence, reward: str | _core.RewardConfig = "default",
                   threads: int = 0, keep_trace: bool = False, fmt: str = "auto", mode: str = "symbolic",
                   semantics: str | None = None) -> list[Result]:
    """Scores many (task, plan) pairs: symbolic in one C++ call (GIL released, all cores);
    physics on a pool of SAPIEN worlds, one per thread. semantics: as in evaluate."""
    _check_mode(mode)
    if semantics is not None:
        tasks = [t.with_semantics(semantics) for t in tasks]
    if len(tasks) != len(plans):
        raise ValueError(f"{len(tasks)} tasks but {len(plans)} plans")
    parsed = [_parse(p, fmt) for p in plans]
    if mode == "physics":
        from .sim import evaluate_physics_batch

        items = [(t, to_actions(t, p) if p.ok else [], p.ok) for t, p in zip(tasks, parsed)]
        out = evaluate_physics_batch(items, _reward_config(reward), threads=threads)
        return [_result(t, p, d) for t, p, d in zip(tasks, parsed, out)]
    items = [(t.core, to_actions(t, p) if p.ok else [], p.ok) for t, p in zip(tasks, parsed)]
    out = _core.evaluate_batch(items, _reward_config(reward), threads, keep_trace)
    return [_result(t, p, d) for t, p, d in zip(tasks, parsed, out)]
