"""Runs a policy over tasks and aggregates EAI-style metrics.

Tasks are evaluated in chunks through the C++ batch API (all cores, GIL
released) so a progress bar can advance between chunks.
"""

from __future__ import annotations

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


def run_eval(tasks: Sequence[Task], policy: Policy, reward: str = "default", mode: str = "symbolic",
             workers: int = 0, chunk: int = 16, progress: Callable[[int], None] | None = None) -> EvalReport:
    report = EvalReport(policy=policy.name, reward=reward, mode=mode)
    for start in range(0, len(tasks), chunk):
        batch = list(tasks[start:start + chunk])
        plans = policy.plan(batch)
        report.results += evaluate_batch(batch, plans, reward=reward, threads=workers, keep_trace=True, mode=mode)
        if progress:
            progress(len(batch))
    return report
