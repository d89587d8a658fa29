"""emx.RolloutEngine with SAPIEN physics workers (``python -m emx.rollout.worker --mode physics``):
results equal in-process ``emx.sim.evaluate_physics``; a worker killed with SIGKILL or hung
mid-batch is replaced and every episode is reported exactly once with the reward of an undisturbed
run; prefix sharing and snapshot reuse change the cost, never a result."""

from __future__ import annotations

import signal
import threading
import time

import pytest

pytest.importorskip("sapien")

import emx  # noqa: E402
from emx.evaluation import _parse, to_actions  # noqa: E402
from emx.rollout import RolloutEngine  # noqa: E402
from emx.rollout.testing import alive, sampled_groups  # noqa: E402

try:
    from emx.sim import evaluate_physics, scene_for
except ImportError as e:  # the physics layer is not in this build
    pytest.skip(f"emx.sim unavailable: {e}", allow_module_level=True)

# Cheap EAI tasks whose oracle plans move things around (grasp, place, open).
TASKS = ("bringing_in_wood", "polishing_shoes", "sorting_books", "brushing_lint_off_clothing", "laying_tile_floors",
         "throwing_away_leftovers", "moving_boxes_to_storage", "cleaning_table_after_clearing")


@pytest.fixture(scope="module")
def tasks():
    chosen = [t for t in emx.load_tasks("eai-behavior") if t.id.startswith(TASKS)]
    assert len(chosen) == len(TASKS)
    return chosen


def in_process(episodes) -> list[dict]:
    out = []
    for e in episodes:
        parsed = _parse(e.plan, "auto")
        acts = to_actions(e.task, parsed) if parsed.ok else []
        out.append(evaluate_physics(e.task, acts, parsed.ok, "default", scene=scene_for(e.task)))
    return out


def agree(r, d) -> bool:
    return (r.status == "ok" and r.reward == d["reward"] and r.executed == d["executed"]
            and r.success == d["success"] and r.goal_fraction == d["goal_fraction"])


def test_physics_results_equal_in_process(tasks):
    episodes = sampled_groups(tasks, 5, seed=11)
    ref = in_process(episodes)
    with RolloutEngine(workers=2, mode="physics") as engine:
        results = engine.evaluate(episodes)
        stats = engine.stats()
    bad = [(r.task_id, r.reward, d["reward"], r.error) for r, d in zip(results, ref) if not agree(r, d)]
    assert not bad, bad[:5]
    assert stats["prefix_saving"] > 0.2
    assert all("cpu_physics" in w["capabilities"] for w in stats["workers"])


def test_sharing_and_snapshots_change_cost_not_results(tasks):
    episodes = sampled_groups(tasks[:4], 6, seed=12)
    runs = {}
    for name, opts in {"default": {}, "no_sharing": {"prefix_sharing": False},
                       "no_snapshots": {"snapshot_reuse": False}}.items():
        with RolloutEngine(workers=2, mode="physics", **opts) as engine:
            runs[name] = [r.reward for r in engine.evaluate(episodes)]
            if name == "default":
                assert engine.stats()["prefix_saving"] > 0.2
            else:
                assert engine.stats()["prefix_saving"] == 0.0
    assert runs["default"] == runs["no_sharing"] == runs["no_snapshots"]


def _chaos(engine, episodes, sig, worker, fraction):
    futures = engine.submit(episodes)
    hit = {}

    def strike():
        while sum(f.done() for f in futures) < fraction * len(futures):
            time.sleep(0.005)
        hit["pid"] = engine.signal_worker(worker, sig)

    t = threading.Thread(target=strike)
    t.start()
    results = [f.result(timeout=55) for f in futures]
    t.join()
    return results, hit["pid"]


def test_chaos_sigkill_mid_batch(tasks):
    """2 physics workers, 320 plans; one worker is SIGKILLed a quarter of the way through."""
    episodes = sampled_groups(tasks, 40, seed=13)
    ref = in_process(episodes)
    with RolloutEngine(workers=2, mode="physics") as engine:
        results, pid = _chaos(engine, episodes, signal.SIGKILL, 0, 0.25)
        stats = engine.stats()
    assert pid > 0 and not alive(pid)
    assert len(results) == len(episodes) == 320
    assert len({r.episode_id for r in results}) == len(episodes)        # none reported twice
    assert all(r.status == "ok" for r in results)                         # none lost
    bad = [(r.task_id, r.reward, d["reward"]) for r, d in zip(results, ref) if not agree(r, d)]
    assert not bad, bad[:5]
    assert stats["restarts"] >= 1 and stats["retried"] >= 1


def test_hung_physics_worker_is_replaced(tasks):
    episodes = sampled_groups(tasks[:4], 20, seed=14)
    ref = in_process(episodes)
    with RolloutEngine(workers=2, mode="physics", heartbeat_timeout=1.5, heartbeat=0.1) as engine:
        results, pid = _chaos(engine, episodes, signal.SIGSTOP, 1, 0.2)
        stats = engine.stats()
    assert pid > 0 and not alive(pid)
    assert all(agree(r, d) for r, d in zip(results, ref))
    assert "hung" in stats["workers"][1]["last_exit"]
