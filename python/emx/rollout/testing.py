"""Helpers for testing and benchmarking rollouts: GRPO-like sampled groups, process liveness
(tests/test_rollout*.py, emx.bench.rollout)."""

from __future__ import annotations

import os
import random
import time

from .. import load_tasks
from ..policy import OraclePolicy
from .engine import Episode


def sampled_groups(tasks, group_size: int, seed: int = 0, garbage: float = 0.1,
                   hallucinate: float = 0.0) -> list[Episode]:
    """Groups as a sampling policy writes them: the oracle's plan cut short, with a repeated or
    misplaced step here and there, sometimes text that does not parse, and (with probability
    ``hallucinate``) a step naming an object the task does not have."""
    rng = random.Random(seed)
    plans = OraclePolicy().plan(tasks)
    out = []
    for t, p in zip(tasks, plans):
        p = list(p)
        for _ in range(group_size):
            q = p[:rng.randint(len(p) // 2, len(p))]
            if q and rng.random() < 0.5:
                q = q + [q[rng.randrange(len(q))]]
            if q and rng.random() < 0.3:
                i, j = rng.randrange(len(q)), rng.randrange(len(q))
                q[i], q[j] = q[j], q[i]
            if q and hallucinate and rng.random() < hallucinate:
                q = list(q)
                q.insert(rng.randrange(len(q) + 1), {"action": "RIGHT_GRASP", "object": "unicorn_0"})
            plan = "I cannot help with that" if rng.random() < garbage else q
            out.append(Episode(t, plan, group=t.id))
    return out


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2] != "Z"
    except OSError:
        return False


def wait_dead(pids, timeout: float = 10.0) -> list[int]:
    """Pids still alive after timeout (empty: all gone)."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


def same(a, b) -> bool:
    """Two results agree on everything an evaluation decides."""
    return (a.reward == b.reward and a.executed == b.executed and a.success == b.success
            and a.goal_fraction == b.goal_fraction and a.first_error == b.first_error
            and a.condition_truth == b.condition_truth and a.format_ok == b.format_ok)


def eai_tasks(limit: int):
    return load_tasks("eai-behavior", limit=limit)
