"""Helpers for testing and benchmarking rollouts: GRPO-like groups (oracle truncations, and groups
recorded from the tiny policy), process liveness (tests/test_rollout*.py, emx.bench.rollout)."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from .. import load_tasks
from ..policy import OraclePolicy
from .engine import Episode


# Written by bench/record_tiny_policy_groups.py; present in a source checkout, not in a wheel: found
# next to the package when it runs from its checkout, else under the working directory (a checkout).
_GROUPS_FILE = Path("tests") / "data" / "tiny_policy_groups.jsonl"
_GROUPS_NEXT_TO_PACKAGE = Path(__file__).resolve().parents[3] / _GROUPS_FILE
TINY_POLICY_GROUPS = _GROUPS_NEXT_TO_PACKAGE if _GROUPS_NEXT_TO_PACKAGE.is_file() else Path.cwd() / _GROUPS_FILE


def tiny_policy_groups(path: str | os.PathLike | None = None) -> tuple[list[Episode], dict]:
    """GRPO groups sampled from the tiny policy (raw model text, 8 plans per task), recorded in
    ``tests/data/tiny_policy_groups.jsonl``: (episodes with ``group`` = task id, the file's meta).
    Each task is compiled from the BDDL text stored with its group. FileNotFoundError when the
    file is absent (an installed wheel has no tests/)."""
    from ..task import compile_spec
    from ..tasks.sources import TaskSpec

    path = Path(path) if path is not None else TINY_POLICY_GROUPS
    meta: dict = {}
    episodes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "meta" in row:
            meta = row["meta"]
            continue
        task = compile_spec(TaskSpec(id=row["task"], source="tiny", bddl_text=row["bddl"],
                                     filename=f"<recorded:{row['task']}>", command=row.get("command", "")))
        episodes += [Episode(task, plan, group=task.id) for plan in row["plans"]]
    return episodes, meta


def sampled_groups(tasks, group_size: int, seed: int = 0, garbage: float = 0.1,
                   hallucinate: float = 0.0) -> list[Episode]:
    """Groups as a sampling policy might write them, made from the oracle's plans (no model):
    the plan cut short, with a repeated or misplaced step here and there, sometimes text that
    does not parse, and (with probability ``hallucinate``) a step naming an object the task does
    not have. ``tiny_policy_groups`` has groups a real (tiny) policy sampled."""
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
