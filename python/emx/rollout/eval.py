"""``emx eval --workers N`` over a RolloutEngine: the policy plans chunk after chunk while worker
processes run the previous chunks; the progress bar advances as each episode completes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ..eval.runner import EvalReport
from ..policy.base import Policy
from ..task import Task
from .engine import RolloutEngine


def run_eval_rollout(tasks: Sequence[Task], policy: Policy, reward: str = "default", mode: str = "symbolic",
                     workers: int = 2, chunk: int = 64,
                     progress: Callable[[int], None] | None = None, **engine_options) -> EvalReport:
    """Evaluates ``policy`` on ``tasks`` with ``workers`` worker processes (symbolic C++ workers, or
    SAPIEN physics workers with mode="physics"). Results in task order; an episode a worker could
    not run counts under its status ("error", "timeout", ...) in the report's errors."""
    report = EvalReport(policy=policy.name, reward=reward, mode=mode)
    finished = threading.Semaphore(0)
    reported = 0

    def advance(block: bool) -> bool:
        nonlocal reported
        # Short waits when blocking: Ctrl-C gets through.
        if not finished.acquire(timeout=0.1) if block else not finished.acquire(blocking=False):
            return False
        reported += 1
        if progress:
            progress(1)
        return True

    with RolloutEngine(workers=workers, mode=mode, reward=reward, **engine_options) as engine:
        futures = []
        for start in range(0, len(tasks), chunk):
            batch = list(tasks[start:start + chunk])
            for f in engine.submit(list(zip(batch, policy.plan(batch)))):
                f.add_done_callback(lambda _f: finished.release())
                futures.append(f)
            while advance(block=False):
                pass
        while reported < len(futures):
            advance(block=True)
        report.results = [f.result() for f in futures]
    return report
