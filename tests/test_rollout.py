"""emx.RolloutEngine with symbolic workers: results equal in-process evaluation whatever the
workers, the order and the kind of worker (C++ or the Python protocol implementation); groups stay
on one worker; the queue pushes back; killed and hung workers are replaced with every episode
reported exactly once; shutdown leaves no process behind."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import emx
from emx.rollout import Episode, QueueFull, RolloutEngine, RolloutResult, worker_command

from emx.rollout.testing import alive, eai_tasks, same, sampled_groups, wait_dead


@pytest.fixture(scope="module")
def tasks():
    return eai_tasks(12)


@pytest.fixture(scope="module")
def batch(tasks):
    # hallucinated steps: the eai profile (these tasks' default) rejects such plans before they run
    return sampled_groups(tasks, 8, seed=1, hallucinate=0.15)


@pytest.fixture(scope="module")
def reference(batch):
    return emx.evaluate_batch([e.task for e in batch], [e.plan for e in batch], keep_trace=True)


def slow(kind: str, ms: float) -> dict:
    """A worker that sleeps ms per action: emulates a slower machine or longer episodes."""
    return worker_command(kind, extra=["--slow-us", str(int(ms * 1000))])


@pytest.mark.parametrize("kind", ["symbolic", "symbolic-python"])
def test_results_equal_in_process_evaluation(kind, batch, reference):
    with RolloutEngine(workers=[f"{kind}*2"]) as engine:
        results = engine.evaluate(batch)
        stats = engine.stats()
    assert len(results) == len(batch)
    for r, ref in zip(results, reference):
        assert isinstance(r, RolloutResult) and r.status == "ok"
        assert same(r, ref)
        assert r.trace == ref.trace
        assert r.atoms == ref.atoms
        assert r.format_error == ref.format_error
        assert r.worker and r.worker_pid > 0 and r.attempts == 1 and r.seconds >= 0
    # Sampled groups share prefixes; each shared prefix ran once.
    assert stats["prefix_saving"] > 0.3
    assert stats["completed"] == len(batch) and stats["failed"] == 0
    rejected = [r for r in reference if r.first_error == "unknown_object"]
    assert rejected and all(r.executed == 0 for r in rejected)


def test_results_do_not_depend_on_worker_count_or_order(batch, reference):
    rewards = []
    for n, reverse in ((1, False), (3, True)):
        items = [Episode(e.task, e.plan, group=e.group, priority=(i if reverse else 0)) for i, e in enumerate(batch)]
        with RolloutEngine(workers=n) as engine:
            rewards.append([r.reward for r in engine.evaluate(items)])
    assert rewards[0] == rewards[1] == [r.reward for r in reference]


def test_futures_complete_as_they_finish(batch, reference):
    with RolloutEngine(workers=2) as engine:
        futures = engine.submit(batch[:40])
        assert all(isinstance(f, cf.Future) for f in futures)
        done = [f.result(timeout=30) for f in cf.as_completed(futures, timeout=30)]
        assert len(done) == 40
        for f, ref in zip(futures, reference[:40]):
            assert same(f.result(), ref)
        s = engine.stats()
        assert {"queue_depth", "inflight", "episodes_per_s", "workers", "restarts"} <= set(s)
        assert all(0.0 <= w["utilisation"] <= 1.0 for w in s["workers"])


def test_rewards_fast_path(batch, reference):
    with RolloutEngine(workers=2) as engine:
        out = engine.rewards(batch)
    assert list(out["reward"]) == [r.reward for r in reference]
    assert out["ok"].all()


def test_group_members_land_on_one_worker(tasks):
    items = sampled_groups(tasks, 8, seed=2)
    with RolloutEngine(workers=[slow("symbolic", 0.2)] * 3) as engine:
        # Half the groups arrive member by member.
        together = [e for i, e in enumerate(items) if (i // 8) % 2 == 0]
        apart = [e for i, e in enumerate(items) if (i // 8) % 2 == 1]
        futures = engine.submit(together)
        for e in apart:
            futures += engine.submit([e])
        results = [f.result(timeout=30) for f in futures]
    by_group: dict = {}
    for r in results:
        by_group.setdefault(r.group, set()).add(r.worker)
    assert len(by_group) == len(tasks)
    assert all(len(ws) == 1 for ws in by_group.values()), by_group
    assert len({next(iter(ws)) for ws in by_group.values()}) >= 2


def test_backpressure(tasks):
    items = [Episode(e.task, e.plan) for e in sampled_groups(tasks, 4, seed=3, garbage=0)]
    with RolloutEngine(workers=[slow("symbolic", 20)], queue_capacity=8) as engine:
        with pytest.raises(QueueFull):
            engine.submit(items[:40], timeout=0.2)
        s = engine.stats()
        assert s["queue_depth"] <= 8
        assert s["submitted"] >= 8


def _collect_with_chaos(engine, items, sig, worker, fraction):
    """Runs items and signals a worker once `fraction` of the results are in (from a thread of
    its own, polling: a moment unrelated to any one result, so the worker is mid-job)."""
    futures = engine.submit(items)
    pid = {}

    def chaos():
        while sum(f.done() for f in futures) < fraction * len(futures):
            time.sleep(0.005)
        pid["pid"] = engine.signal_worker(worker, sig)

    t = threading.Thread(target=chaos)
    t.start()
    results = [f.result(timeout=50) for f in futures]
    t.join()
    return results, pid["pid"]


@pytest.mark.parametrize("kind", ["symbolic", "symbolic-python"])
def test_sigkill_mid_batch(kind, tasks):
    items = sampled_groups(tasks, 20, seed=4)  # 240 episodes in 12 groups
    ref = emx.evaluate_batch([e.task for e in items], [e.plan for e in items])
    with RolloutEngine(workers=[slow(kind, 3.0)] * 2) as engine:
        results, pid = _collect_with_chaos(engine, items, signal.SIGKILL, 0, 0.25)
        s = engine.stats()
    assert pid > 0 and not alive(pid)
    assert len(results) == len(items)
    assert len({r.episode_id for r in results}) == len(items)       # none twice
    assert all(r.status == "ok" for r in results)                    # none lost
    assert all(same(a, b) for a, b in zip(results, ref))
    assert s["restarts"] >= 1 and s["retried"] >= 1
    assert any(r.attempts > 1 for r in results)


def test_hung_worker_is_replaced(tasks):
    items = sampled_groups(tasks, 10, seed=5)
    ref = emx.evaluate_batch([e.task for e in items], [e.plan for e in items])
    t0 = time.monotonic()
    with RolloutEngine(workers=[slow("symbolic-python", 1.0)] * 2, heartbeat_timeout=1.0, heartbeat=0.1) as engine:
        results, pid = _collect_with_chaos(engine, items, signal.SIGSTOP, 1, 0.25)
        s = engine.stats()
    assert time.monotonic() - t0 < 120   # a hang guard: without the heartbeat timeout it never ends
    assert pid > 0 and not alive(pid)
    assert all(r.status == "ok" for r in results)
    assert all(same(a, b) for a, b in zip(results, ref))
    assert "hung" in s["workers"][1]["last_exit"]


def test_episode_timeout_gives_up_after_max_attempts(tasks):
    long_plan = next(e for e in sampled_groups(tasks, 1, seed=6, garbage=0) if len(e.plan) >= 6)
    with RolloutEngine(workers=[slow("symbolic", 200)], max_attempts=2) as engine:
        r = engine.evaluate([Episode(long_plan.task, long_plan.plan, timeout=0.3)])[0]
    assert r.status == "timeout" and r.attempts == 2 and "timeout" in r.error
    assert r.error_type == "timeout"


def test_physics_episodes_without_physics_workers_fail_fast(tasks):
    with RolloutEngine(workers=1) as engine:
        r = engine.evaluate([Episode(tasks[0], [], mode="physics", scene={"stub": True})])[0]
    assert r.status == "error" and "physics" in r.error


def test_emx_eval_with_workers(tasks):
    from emx.eval import run_eval
    from emx.policy import make_policy
    from emx.rollout.eval import run_eval_rollout

    policy = make_policy("oracle")
    seen = []
    report = run_eval_rollout(tasks, policy, reward="embomatrix", workers=2, chunk=5, progress=seen.append)
    reference = run_eval(tasks, policy, reward="embomatrix")
    assert sum(seen) == len(tasks)
    assert report.summary()["per_task"] == reference.summary()["per_task"]


def test_a_forked_child_leaves_the_parents_engine_alone(tasks, batch, reference):
    with RolloutEngine(workers=1) as engine:
        pid = os.fork()
        if pid == 0:  # the child: what its exit would run must neither hang nor touch the workers
            try:
                from emx.rollout.engine import _close_all
                engine.close()
                _close_all()
                engine._core.close()     # the C++ destructor: the scheduler is the parent's
                code = 0
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        results = engine.evaluate(batch[:16])
    assert [r.reward for r in results] == [r.reward for r in reference[:16]]


def test_closed_engine_refuses_work(tasks):
    engine = RolloutEngine(workers=1)
    pids = [w["pid"] for w in engine.stats()["workers"]]
    engine.close()
    engine.close()
    assert not wait_dead(pids)
    with pytest.raises(RuntimeError):
        engine.submit([(tasks[0], [])])


_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    # Python installs no SIGINT handler when it starts with SIGINT ignored (a background job of a
    # non-interactive shell, as CI may run us): restore it, so the test does not depend on that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {python!r})
    import emx
    from emx.rollout import RolloutEngine, worker_command
    how = sys.argv[1]
    tasks = emx.load_tasks("eai-behavior", limit=2)
    slow = ["--slow-us", "50000"]
    engine = RolloutEngine(workers=[worker_command("symbolic", extra=slow),
                                    worker_command("symbolic-python", extra=slow)])
    print(" ".join(str(w["pid"]) for w in engine.stats()["workers"]), flush=True)
    batch = [(t, [{{"action": "OPEN", "object": "x"}}] * 40) for t in tasks] * 100
    if how == "normal":
        with engine:
            engine.evaluate(batch[:2])
    elif how == "exception":
        with engine:
            engine.submit(batch)
            raise RuntimeError("boom")
    elif how == "forgotten":
        engine.submit(batch)          # never closed: atexit does it
    elif how in ("sigint", "sigkill"):
        print("running", flush=True)
        with engine:
            engine.evaluate(batch)    # long: interrupted from outside
""")


@pytest.mark.parametrize("how", ["normal", "exception", "forgotten", "sigint", "sigkill"])
def test_no_orphans_whatever_the_exit(how, tmp_path):
    script = tmp_path / "engine_script.py"
    python_dir = str(Path(emx.__file__).resolve().parent.parent)
    script.write_text(_SCRIPT.format(python=python_dir))
    proc = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        if how in ("sigint", "sigkill"):
            assert proc.stdout.readline().strip() == "running"
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert not wait_dead(pids), f"orphaned workers after {how!r} exit; stderr:\n{stderr[-2000:]}"
    # An uncaught KeyboardInterrupt ends Python by SIGINT (exit status -2), after the with-block
    # closed the engine.
    expected = {"normal": 0, "forgotten": 0, "exception": 1, "sigint": -signal.SIGINT, "sigkill": -signal.SIGKILL}[how]
    assert rc == expected, stderr[-2000:]
    if how == "sigint":
        assert "KeyboardInterrupt" in stderr
