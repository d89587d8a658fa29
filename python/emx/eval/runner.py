"""Runs a policy over tasks and aggregates EAI-style metrics.

Tasks are evaluated in chunks through the C++ batch API (all cores, GIL
released) so a progress bar can advance between chunks.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..evaluation import Result, evaluate_batch
from ..policy.base import Policy
from ..task import Task


@dataclass
class EvalReport:
    policy: str
    reward: str
    mode: str
    results: list[Result] = field(default_factory=list)
    levels: dict[str, float] = field(default_factory=dict)   # hierarchical scoring: mean score per level
    episodes: list[dict[str, Any]] = field(default_factory=list)  # closed loop: turns and end of each episode

    @property
    def n(self) -> int:
        return len(self.results)

    def _mean(self, key: str) -> float:
        return sum(float(getattr(r, key)) for r in self.results) / self.n if self.results else 0.0

    def errors(self) -> dict[str, int]:
        return dict(sorted(Counter(r.error_type for r in self.results if r.error_type).items()))

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "policy": self.policy,
            "mode": self.mode,
            "reward_preset": self.reward,
            "success_rate": self._mean("success"),
            "goal_fraction": self._mean("goal_fraction"),
            "executability": self._mean("executability"),
            "mean_reward": self._mean("reward"),
            "errors": self.errors(),
            **({"hierarchy": dict(self.levels)} if self.levels else {}),
            **({"eai": eai_metrics(self.results)} if self.reward == "eai" else {}),
            "per_task": [
                {
                    "task": r.task_id,
                    "success": r.success,
                    "goal_fraction": r.goal_fraction,
                    "executability": r.executability,
                    "reward": r.reward,
                    "plan_length": r.plan_length,
                    "error": r.error_type,
                    "message": (r.format_error or (r.trace[-1].message if r.trace and not r.trace[-1].ok else "")),
                }
                for r in self.results
            ],
        }


# emx error -> (EAI's summary group, EAI's name) as behavior_eval's evaluate_results.py writes them.
_EAI_ERRORS = {
    "format": ("grammar_error", "parsing"),
    "unknown_action": ("grammar_error", "hallucination"),
    "unknown_object": ("grammar_error", "hallucination"),
    "wrong_arity": ("grammar_error", "predicate_argument_number"),
    "wrong_order": ("runtime_error", "wrong_order"),
    "missing_step": ("runtime_error", "missing_step"),
    "affordance": ("runtime_error", "affordance"),
}


def eai_metrics(results: Sequence[Result]) -> dict[str, Any]:
    """EAI's action-sequencing summary (``behavior_eval/evaluation/action_sequencing/scripts/
    evaluate_results.py``), same keys and arithmetic: each figure is a count of plans over all
    plans, rounded to 4 places. task_success_rate counts plans whose goal holds after executing
    up to the first fatal step (``all_goal_satisfied_graph``; a plan that fails the format check
    never runs); execution_success_rate counts plans every step of which ran; a plan counts under
    its fatal error, and under additional_step too if any of its steps was one. EAI's
    state/relation/total goal rates come from iGibson's geometric check and are not reported."""
    n = len(results)
    counts = {"grammar_error": dict.fromkeys(("parsing", "hallucination", "predicate_argument_number"), 0),
              "runtime_error": dict.fromkeys(("wrong_order", "missing_step", "affordance", "additional_step"), 0)}
    success = executed = 0
    for r in results:
        success += bool(r.success)
        executed += bool(r.format_ok and r.first_error == "none")
        if r.error_type in _EAI_ERRORS:
            group, name = _EAI_ERRORS[r.error_type]
            counts[group][name] += 1
        if r.format_ok and any(s.error == "additional_step" for s in r.trace):
            counts["runtime_error"]["additional_step"] += 1

    def rate(k: int) -> float:
        return round(k / n, 4) if n else 0

    return {
        "goal_evaluation": {"task_success_rate": rate(success)},
        "trajectory_evaluation": {
            "execution_success_rate": rate(executed),
            **{group: {k: rate(v) for k, v in c.items()} for group, c in counts.items()},
        },
    }


SCORINGS = ("auto", "plan", "hierarchical")


def scoring_of(policy: Policy, scoring: str = "auto") -> str:
    """How a policy's answers are scored: as plans, or level by level (reasoning -> sub-goals ->
    actions, emx.hierarchy) for policies whose answers say they are hierarchical."""
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r} (expected one of {', '.join(SCORINGS)})")
    if scoring != "auto":
        return scoring
    return getattr(policy, "answers", "plan")


def run_eval(tasks: Sequence[Task], policy: Policy, reward: str = "default", mode: str = "symbolic",
             workers: int = 0, chunk: int = 16, progress: Callable[[int], None] | None = None,
             scoring: str = "auto") -> EvalReport:
    report = EvalReport(policy=policy.name, reward=reward, mode=mode)
    hierarchical = scoring_of(policy, scoring) == "hierarchical"
    levels: list[dict[str, float]] = []
    for start in range(0, len(tasks), chunk):
        batch = list(tasks[start:start + chunk])
        plans = policy.plan(batch)
        if hierarchical:
            from ..hierarchy import evaluate_hierarchical_batch

            texts = [p if isinstance(p, str) else json.dumps(p, default=str) for p in plans]
            for h in evaluate_hierarchical_batch(batch, texts, mode=mode, reward=reward):
                # the action level's components, with the total of every level as the reward
                report.results.append(dataclasses.replace(h.actions, reward=h.reward))
                levels.append({"reasoning": h.reasoning, "subgoals_valid": h.subgoals_valid,
                               "subgoals_achieved_in_order": h.subgoals_achieved_in_order,
                               "goal_aligned": h.goal_aligned})
        else:
            report.results += evaluate_batch(batch, plans, reward=reward, threads=workers, keep_trace=True, mode=mode)
        if progress:
            progress(len(batch))
    if levels:
        report.levels = {k: sum(d[k] for d in levels) / len(levels) for k in levels[0]}
    return report
