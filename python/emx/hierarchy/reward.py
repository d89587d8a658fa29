"""Scoring a hierarchical answer level by level: reasoning, sub-goals, actions.

The actions are executed step by step from the task's initial state (symbolic: ``task.core.apply``
on a copy; physics: a `PhysicsWorld`'s ``step``, reading its ``shadow``) until the first failing
step, and the state after every executed step is kept. Then:

* reasoning -- ``min(1, words / HierarchyWeights.reasoning_full_words)``: 0 when absent or empty,
  full credit from 20 words on. It pays for a stated rationale and cannot grow by padding; emx
  cannot judge whether the reasoning is right, so its weight is small.
* sub-goals --
  ``valid``: the fraction of the sub-goals that compile against the task (`compile_subgoal`);
  ``achieved_in_order``: EAI's sub-goal-decomposition idea, each sub-goal a state that must be
  reached, in order. Over the states after steps 1..k of the execution (the initial state does
  not count: a sub-goal is credited for what the actions did), sub-goal i counts when it holds
  at the earliest step t_i >= t_prev, where t_prev is the step of the last sub-goal counted
  (0 at first); a sub-goal never reached from t_prev on is skipped and the next is searched from
  the same t_prev. The score is counted / number of sub-goals (invalid ones never count);
  ``goal_aligned``: `goal_coverage` -- the goal fraction of the state the valid sub-goals
  describe: the task's goal scored with the core's best-grounding rule, a ground goal literal
  counting as met when some sub-goal names it with the same polarity. 0 when no sub-goal is
  valid or the goal has no literals.
* actions -- `emx.evaluate`'s multi-level reward and components, unchanged (physics mode scores
  the same execution with the same C++ scoring that `emx.evaluate(mode="physics")` uses).

``reward = actions.reward + w.reasoning * reasoning + w.subgoals_valid * valid
+ w.subgoals_achieved * achieved_in_order + w.goal_aligned * goal_aligned``.
An answer that is not ``format_ok`` (no hierarchy found, or the actions do not parse as a
non-empty plan) gets the reward preset's format-failure value and nothing else: sub-goals and
reasoning without a plan must not pay. Its level scores are still reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import _core
from ..evaluation import Result, _parse, _reward_config, _result, evaluate, to_actions
from ..plans import Plan
from ..task import Task
from .format import HierarchicalPlan, parse_hierarchical
from .subgoals import Subgoal, compile_subgoal, goal_coverage

__all__ = ["HierarchyWeights", "SubgoalOutcome", "HierarchicalResult", "evaluate_hierarchical",
           "evaluate_hierarchical_batch"]


@dataclass(frozen=True)
class HierarchyWeights:
    """Weights of the level scores added to the action reward (each score is in [0, 1]).

    With the ``default`` preset an executed, successful plan earns about 1.5 at the action level;
    the levels together add at most 0.7, so a good decomposition never outweighs reaching the goal.
    """

    reasoning: float = 0.1
    subgoals_valid: float = 0.1
    subgoals_achieved: float = 0.3
    goal_aligned: float = 0.2
    reasoning_full_words: int = 20


@dataclass(frozen=True)
class SubgoalOutcome:
    text: str
    valid: bool
    reason: str | None            # why it does not compile
    achieved_at: int | None       # step (1-based) at which it was counted in order
    holds_at_end: bool            # holds in the final state


@dataclass(frozen=True)
class HierarchicalResult:
    task_id: str
    reward: float
    format_ok: bool
    format_error: str | None
    reasoning: float
    reasoning_words: int
    subgoals_valid: float
    subgoals_achieved_in_order: float
    goal_aligned: float
    goal_literals_named: float
    goal_literals_total: float
    subgoals: tuple[SubgoalOutcome, ...]
    actions: Result
    plan: HierarchicalPlan
    weights: HierarchyWeights
    states: tuple = field(default=(), repr=False)   # state after each executed step (index 0: initial)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "reward": self.reward,
            "format_ok": self.format_ok,
            "format_error": self.format_error,
            "level_errors": dict(self.plan.level_errors),
            "reasoning": {"score": self.reasoning, "words": self.reasoning_words},
            "subgoals": {
                "valid": self.subgoals_valid,
                "achieved_in_order": self.subgoals_achieved_in_order,
                "goal_aligned": self.goal_aligned,
                "goal_literals_named": self.goal_literals_named,
                "goal_literals_total": self.goal_literals_total,
                "items": [asdict(s) for s in self.subgoals],
            },
            "actions": self.actions.to_dict(),
            "weights": asdict(self.weights),
        }


def _execute_symbolic(task: Task, actions: list) -> list:
    state = task.core.initial_state.copy()
    states = [state.copy()]
    for action in actions:
        nxt = state.copy()
        ok, _error, _message = task.core.apply(nxt, action)
        if not ok:
            break
        state = nxt
        states.append(state.copy())
    return states


def _execute_physics(task: Task, plan: Plan, actions: list, reward: _core.RewardConfig) -> tuple[list, Result]:
    from ..sim.evaluate import world_for

    world = world_for(task)
    world.reset()
    states = [world.shadow.copy()]
    steps0 = world.steps
    trace: list[tuple[str, str]] = []
    for action in actions:
        out = world.step(action)
        trace.append((out.error, out.message))
        if not out.ok:
            break
        states.append(world.shadow.copy())
    d = _core.score_execution(task.core, actions, True, reward, world.shadow, len(states) - 1, trace)
    d["physics"] = {"steps": world.steps - steps0}
    return states, _result(task, plan, d)


def _achieved_in_order(compiled: list, states: list) -> list[int | None]:
    """Step at which each sub-goal is counted (greedy earliest, in order), None when skipped."""
    out: list[int | None] = []
    prev = 1
    for sg in compiled:
        at = None
        if isinstance(sg, Subgoal):
            for t in range(prev, len(states)):
                if sg.holds(states[t]):
                    at = t
                    break
        out.append(at)
        if at is not None:
            prev = at
    return out


def _reasoning_score(text: str, weights: HierarchyWeights) -> tuple[float, int]:
    words = len(text.split())
    full = max(1, weights.reasoning_full_words)
    return min(1.0, words / full), words


def evaluate_hierarchical(task: Task, text: Any, mode: str = "symbolic", reward: str | _core.RewardConfig = "default",
                          weights: HierarchyWeights = HierarchyWeights()) -> HierarchicalResult:
    """Scores one hierarchical answer (raw model text) on a task. Never raises for any `text`."""
    if mode not in ("symbolic", "physics"):
        raise ValueError(f"unknown mode {mode!r} (expected 'symbolic' or 'physics')")
    config = _reward_config(reward)
    hp = parse_hierarchical(text)
    plan = _parse(hp.actions_text, "auto") if hp.format_ok else Plan("none", (), hp.error or "unparseable")

    if not plan.ok:
        action_result = evaluate(task, plan, mode="symbolic", reward=config)  # the format-failure value
        states = [task.core.initial_state.copy()]
    elif mode == "physics":
        states, action_result = _execute_physics(task, plan, to_actions(task, plan), config)
    else:
        action_result = evaluate(task, plan, mode="symbolic", reward=config)
        states = _execute_symbolic(task, to_actions(task, plan))

    compiled = [compile_subgoal(task, s) for s in hp.subgoals]
    achieved = _achieved_in_order(compiled, states) if plan.ok else [None] * len(compiled)
    final = states[-1]
    outcomes = tuple(SubgoalOutcome(sg.text if isinstance(sg, Subgoal) else text_,
                                    isinstance(sg, Subgoal), sg.reason, at, sg.holds(final) if plan.ok else False)
                     for sg, text_, at in zip(compiled, hp.subgoals, achieved))
    n = len(compiled)
    valid = sum(o.valid for o in outcomes) / n if n else 0.0
    in_order = sum(at is not None for at in achieved) / n if n else 0.0
    literals = [lit for sg in compiled if isinstance(sg, Subgoal) for lit in sg.literals]
    named, total = goal_coverage(task, literals) if literals else (0.0, 0.0)
    aligned = named / total if total > 0 else 0.0
    r_score, words = _reasoning_score(hp.reasoning, weights)

    if plan.ok:
        total_reward = (action_result.reward + weights.reasoning * r_score + weights.subgoals_valid * valid
                        + weights.subgoals_achieved * in_order + weights.goal_aligned * aligned)
    else:
        total_reward = action_result.reward
    return HierarchicalResult(
        task_id=task.id, reward=float(total_reward), format_ok=plan.ok,
        format_error=None if plan.ok else (hp.error or plan.error),
        reasoning=r_score, reasoning_words=words, subgoals_valid=valid, subgoals_achieved_in_order=in_order,
        goal_aligned=aligned, goal_literals_named=named, goal_literals_total=total, subgoals=outcomes,
        actions=action_result, plan=hp, weights=weights, states=tuple(states))


def evaluate_hierarchical_batch(tasks: Sequence[Task], texts: Sequence[Any], mode: str = "symbolic",
                                reward: str | _core.RewardConfig = "default",
                                weights: HierarchyWeights = HierarchyWeights()) -> list[HierarchicalResult]:
    """`evaluate_hierarchical` over (task, text) pairs, in order. Each answer is executed step by
    step (the per-step states are what the sub-goal level needs), so this is a loop, not one
    batched C++ call; symbolic steps are microseconds each."""
    if len(tasks) != len(texts):
        raise ValueError(f"{len(tasks)} tasks but {len(texts)} texts")
    config = _reward_config(reward)
    return [evaluate_hierarchical(t, x, mode=mode, reward=config, weights=weights) for t, x in zip(tasks, texts)]
