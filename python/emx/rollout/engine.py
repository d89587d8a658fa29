"""``emx.RolloutEngine``: episodes in, results out, over supervised worker processes.

    with emx.RolloutEngine(workers=4, mode="physics") as engine:
        futures = engine.submit([(task, text) for text in group], group="step-7/task-3")
        results = engine.evaluate(batch, progress=bar.advance)      # blocking, input order
        rewards = engine.rewards(batch)                               # numpy, the trainer's fast path
        engine.stats()        # queue depth, episodes/s, per-worker utilisation, restarts

The scheduler is C++ (``emx::Scheduler``, ``cpp/include/emx/scheduler.hpp``): it routes episodes by
capability, scene affinity and expected cost, shares GRPO groups' plan prefixes, and replaces
workers that die or hang, re-running their episodes elsewhere -- each result is delivered once.
This module parses and resolves plans (model text never raises: it becomes a format failure),
registers tasks and rewards, and turns results into ``RolloutResult`` (an ``emx.Result`` that also
says which worker produced it, how often it ran and how long it took).
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import hashlib
import itertools
import json
import os
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _core
from ..evaluation import Result, Step, _parse, _reward_config, to_actions
from ..plans import Plan
from ..task import Task, knowledge_base

__all__ = ["Episode", "RolloutEngine", "RolloutResult", "QueueFull", "worker_command"]

QueueFull = _core.QueueFull


@dataclass(frozen=True)
class Episode:
    """One episode to run: a plan (model text, a parsed Plan, or a list of action dicts) on a task.

    group: episodes with the same group (any hashable) run on one worker from one snapshot, with
    shared plan prefixes simulated once (GRPO groups). priority: higher first. seed: None derives
    it from the task, so a result never depends on where or when it ran. scene: a physics scene
    dict (default: ``emx.sim.scene_for(task)``). timeout: seconds (default: the engine's).
    semantics: "eai", "embomatrix" or "emx" (default: the engine's, else the task's own profile)."""

    task: Task
    plan: Any
    group: Any = None
    priority: int = 0
    seed: int | None = None
    mode: str | None = None
    reward: Any = None
    scene: dict | None = None
    timeout: float | None = None
    tag: Any = None
    semantics: str | None = None


@dataclass(frozen=True)
class RolloutResult(Result):
    """An ``emx.Result`` plus where and how it ran. ``status`` is "ok", or "error" (the worker
    could not run it: e.g. the task's scene cannot be built), "failed"/"timeout" (its workers died
    or hung ``max_attempts`` times), "cancelled" (the engine closed first); then ``error`` says why
    and the reward fields are zero."""

    status: str = "ok"
    error: str = ""
    worker: str = ""
    worker_id: int = -1
    worker_pid: int = 0
    attempts: int = 0
    seconds: float = 0.0          # submit -> result
    queue_seconds: float = 0.0    # submit -> sent to the worker that answered
    run_seconds: float = 0.0      # the worker's own time on it
    load_seconds: float = 0.0     # loading the task/scene first (0 when cached)
    simulated_actions: int = 0    # actions it simulated itself (shared prefixes count once per group)
    plan_actions: int = 0         # actions it needed on its own
    group: Any = None
    tag: Any = None
    episode_id: int = 0

    @property
    def error_type(self) -> str | None:
        if self.status != "ok":
            return self.status
        return super().error_type


# --------------------------------------------------------------------------- worker commands

def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def _worker_binary() -> str | None:
    """The C++ ``emx_worker``: $EMX_WORKER_BIN, next to emx/_core (wheels), or on PATH."""
    env = os.environ.get("EMX_WORKER_BIN")
    if env:
        return env
    local = _package_dir() / "emx_worker"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("emx_worker")


def _python_env() -> list[str]:
    """Python workers import the same emx as this process, even from a source checkout."""
    root = str(_package_dir().parent)
    path = os.environ.get("PYTHONPATH", "")
    parts = [root] + [p for p in path.split(os.pathsep) if p and p != root]
    return [f"PYTHONPATH={os.pathsep.join(parts)}", "PYTHONUNBUFFERED=1"]


def worker_command(kind: str, *, scene_cache: int = 32, heartbeat: float = 0.25, extra: Sequence[str] = ()) -> dict:
    """A worker spec for ``emx._core.Scheduler``. kind: "symbolic" (the C++ emx_worker, or the same
    loop hosted by Python when the executable is missing), "symbolic-python" (the protocol and
    prefix sharing in Python: a check on the C++ worker), "physics" (SAPIEN), "noop" (answers
    every plan at once: dispatch benchmarks)."""
    py = [sys.executable, "-m", "emx.rollout.worker"]
    binary = _worker_binary()
    if kind in ("symbolic", "noop"):
        opts = ["--heartbeat", str(heartbeat)] + (["--noop"] if kind == "noop" else [])
        if binary:
            cmd = [binary, "--name", kind, *opts]
            env: list[str] = []
        else:
            cmd = py + ["--mode", "symbolic-cpp", "--name", kind, *opts]
            env = _python_env()
    elif kind == "symbolic-python":
        cmd = py + ["--mode", "symbolic", "--name", "symbolic-py", "--heartbeat", str(heartbeat),
                    "--scene-cache", str(scene_cache)]
        env = _python_env()
    elif kind == "physics":
        cmd = py + ["--mode", "physics", "--scene-cache", str(scene_cache), "--heartbeat", str(heartbeat)]
        env = _python_env()
    else:
        raise ValueError(f"unknown worker kind {kind!r}: expected symbolic, symbolic-python, physics or noop")
    return {"command": cmd + list(extra), "count": 1, "name": kind, "env": env}


def _specs(workers: Any, mode: str, scene_cache: int, heartbeat: float) -> list[dict]:
    default_kind = "physics" if mode == "physics" else "symbolic"
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            workers = os.cpu_count() or 1
    if isinstance(workers, int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        spec = worker_command(default_kind, scene_cache=scene_cache, heartbeat=heartbeat)
        spec["count"] = workers
        return [spec]
    specs = []
    for w in workers:
        if isinstance(w, str):
            kind, _, count = w.partition("*")
            spec = worker_command(kind, scene_cache=scene_cache, heartbeat=heartbeat)
            spec["count"] = int(count) if count else 1
        elif isinstance(w, dict):
            spec = dict(w)
            spec.setdefault("count", 1)
            spec.setdefault("name", "worker")
        else:
            raise TypeError(f"a worker is a kind string ('physics', 'symbolic*4') or a spec dict, not {w!r}")
        specs.append(spec)
    return specs


# --------------------------------------------------------------------------- the engine

_open_engines: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # At exit nobody reads the results of episodes still running: stop them at once.
    for e in list(_open_engines):
        try:
            e.close(cancel_running=True)
        except Exception:
            pass


class RolloutEngine:
    """Supervised worker processes behind a C++ scheduler. See the module docstring.

    workers: a count of ``mode``'s default worker, or a list of kinds ("physics", "symbolic*2",
    "symbolic-python", "noop") and spec dicts ({"command": [...], "count": n, "name": ..., "env": [...]}).
    semantics: the semantics profile episodes are judged by unless an Episode says (default: each
    task's own); the profile travels to the workers inside the task's compiled text.
    """

    def __init__(self, workers: int | Sequence[Any] | None = None, mode: str = "symbolic", *,
                 reward: str | Any = "default", queue_capacity: int = 4096, episode_timeout: float = 120.0,
                 heartbeat_timeout: float = 15.0, max_attempts: int = 3, prefix_sharing: bool = True,
                 snapshot_reuse: bool = True, scene_cache: int = 32, heartbeat: float = 0.25,
                 keep_trace: bool = True, startup_timeout: float = 60.0, wait: bool = True,
                 transport: str = "process", address: str | None = None, semantics: str | None = None) -> None:
        if mode not in ("symbolic", "physics"):
            raise ValueError(f"mode must be 'symbolic' or 'physics', not {mode!r}")
        if semantics not in (None, "eai", "embomatrix", "emx"):
            raise ValueError(f"semantics must be 'eai', 'embomatrix' or 'emx', not {semantics!r}")
        self.semantics = semantics
        self.mode = mode
        self.keep_trace = keep_trace
        self.default_reward = reward
        self.episode_timeout = episode_timeout
        config = {"queue_capacity": queue_capacity, "episode_timeout_s": episode_timeout,
                  "heartbeat_timeout_s": heartbeat_timeout, "max_attempts": max_attempts,
                  "prefix_sharing": prefix_sharing, "snapshot_reuse": snapshot_reuse,
                  "startup_timeout_s": startup_timeout}
        if transport == "ray":
            # Workers run as Ray actors; the C++ scheduler still routes (docs/cluster.md).
            from .ray_transport import ray_specs

            self._specs = ray_specs(address or "auto", workers or 2, mode, scene_cache=scene_cache, heartbeat=heartbeat)
        elif transport == "process":
            self._specs = _specs(workers, mode, scene_cache, heartbeat)
        else:
            raise ValueError(f"transport must be 'process' or 'ray', not {transport!r}")
        self._core = _core.Scheduler(self._specs, knowledge_base(), config)
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[cf.Future, Task, Plan, list, Any, Any]] = {}
        self._tags = itertools.count(1)
        self._task_keys: dict[tuple[int, str], tuple[int, Task]] = {}
        self._reprofiled: dict[tuple[int, str], tuple[Task, Task]] = {}   # (id(task), semantics) -> (task, as judged)
        self._reward_ids: dict[Any, int] = {}
        self._group_ids: dict[Any, int] = {}
        self._atom_texts: dict[int, list[str]] = {}
        self._collector: threading.Thread | None = None
        self._closed = False
        self._pid = os.getpid()
        _open_engines.add(self)
        if wait:
            self.wait_ready(startup_timeout)

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> RolloutEngine:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # Leaving on an exception (Ctrl-C above all) kills running episodes at once instead of
        # letting them finish: nobody will read their results.
        self.close(cancel_running=exc_type is not None)

    def close(self, cancel_running: bool = False) -> None:
        """Cancels what has not run, stops and reaps every worker. Running episodes may finish
        (up to the scheduler's shutdown grace) unless ``cancel_running``, which kills their
        workers at once. Ctrl-C while it waits cancels them too. Idempotent."""
        if self._closed or os.getpid() != self._pid:
            return   # closed already, or a forked child: the workers belong to the parent
        self._closed = True
        try:
            self._core.shutdown(0.0 if cancel_running else -1.0)
        finally:
            self._finish_close()

    def _finish_close(self) -> None:
        if self._collector is not None:
            self._collector.join(timeout=10)
        self._drain()
        # Anything still waiting (submitted while closing) is cancelled, never left hanging.
        with self._lock:
            rest, self._pending = self._pending, {}
        for fut, *_ in rest.values():
            if not fut.done():
                fut.set_exception(RuntimeError("the RolloutEngine closed before this episode was queued"))
        self._core.close()
        _open_engines.discard(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_ready(self, timeout: float = 60.0) -> int:
        """Waits until every worker has started (said HELLO); returns how many are ready."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n = self._core.wait_ready(min(0.2, max(0.0, deadline - time.monotonic())))
            s = self._core.stats()
            if all(w["state"] in ("ready", "disabled") for w in s["workers"]):
                break
        return n

    # ------------------------------------------------------------------ registration
    def _task_id(self, task: Task, mode: str, scene: dict | None) -> int:
        ck = (id(task), mode, id(scene) if scene is not None else None)
        hit = self._task_keys.get(ck)
        if hit is not None and hit[1] is task:
            return hit[0]
        scene_text = ""
        if mode == "physics":
            if scene is None:
                from ..sim import scene_for
                scene = scene_for(task)
            scene_text = json.dumps(scene, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha1((task.spec.bddl_text + "\0" + scene_text).encode("utf-8")).hexdigest()[:16]
        tid = self._core.add_task(f"{task.id}#{digest}", task.spec.bddl_text, task.spec.filename, scene_text)
        self._task_keys[ck] = (tid, task)
        return tid

    def _with_semantics(self, task: Task, semantics: str) -> Task:
        # compiled once per task and profile (the cache holds the task, so its id stays its own)
        key = (id(task), semantics)
        hit = self._reprofiled.get(key)
        if hit is None or hit[0] is not task:
            hit = self._reprofiled[key] = (task, task.with_semantics(semantics))
        return hit[1]

    def _reward_id(self, reward: Any) -> int:
        key = reward if isinstance(reward, str) else id(reward)
        rid = self._reward_ids.get(key)
        if rid is None:
            rid = self._reward_ids[key] = self._core.add_reward(_reward_config(reward))
        return rid

    def _group_id(self, group: Any) -> int:
        if group is None:
            return 0
        gid = self._group_ids.get(group)
        if gid is None:
            gid = self._group_ids[group] = len(self._group_ids) + 1
        return gid

    def _prepare(self, batch: Iterable[Any], group: Any) -> list[tuple[tuple, Task, Plan, list, Episode]]:
        out = []
        for item in batch:
            ep = _episode(item, group)
            semantics = ep.semantics or self.semantics
            if semantics is not None and semantics != ep.task.semantics:
                ep = Episode(**{**ep.__dict__, "task": self._with_semantics(ep.task, semantics)})
            mode = ep.mode or self.mode
            parsed = _parse(ep.plan, "auto")
            actions = to_actions(ep.task, parsed) if parsed.ok else []
            tid = self._task_id(ep.task, mode, ep.scene)
            rid = self._reward_id(ep.reward if ep.reward is not None else self.default_reward)
            tag = next(self._tags)
            req = (tid, actions, parsed.ok, mode, self._group_id(ep.group), int(ep.priority), int(ep.seed or 0),
                   float(ep.timeout or 0.0), self.keep_trace, tag, rid)
            out.append((req, ep.task, parsed, actions, ep))
        return out

    # ------------------------------------------------------------------ running
    def submit(self, batch: Iterable[Any], *, group: Any = None, timeout: float | None = None) -> list[cf.Future]:
        """Queues episodes; returns one future per episode (its ``RolloutResult``), resolved as each
        completes. Blocks while the queue is full (backpressure); with ``timeout`` raises QueueFull
        when it has not got room in time (episodes accepted before that still run)."""
        self._check_open()
        items = self._prepare(batch, group)
        futures = []
        with self._lock:
            for req, task, parsed, actions, ep in items:
                fut: cf.Future = cf.Future()
                fut.set_running_or_notify_cancel()
                self._pending[req[9]] = (fut, task, parsed, actions, ep.group, ep.tag)
                futures.append(fut)
        self._start_collector()
        reqs = [it[0] for it in items]
        deadline = None if timeout is None else time.monotonic() + timeout
        while reqs:
            # Short slices keep Ctrl-C responsive while the queue pushes back.
            ids = self._core.submit(reqs, 0.1)
            reqs = [r for r, i in zip(reqs, ids) if i == 0]
            if reqs and deadline is not None and time.monotonic() >= deadline:
                with self._lock:
                    for r in reqs:
                        self._pending.pop(r[9], None)
                raise QueueFull(f"the rollout queue stayed full for {timeout} s; {len(reqs)} episode(s) not queued")
        return futures

    def evaluate(self, batch: Iterable[Any], *, group: Any = None,
                 progress: Callable[[int], None] | None = None) -> list[RolloutResult]:
        """Runs a batch and returns its results in input order. ``progress(k)`` is called as k more
        results arrive."""
        futures = self.submit(batch, group=group)
        cv = threading.Condition()
        count = [0]

        def finished(_: cf.Future) -> None:
            with cv:
                count[0] += 1
                cv.notify()

        for f in futures:
            f.add_done_callback(finished)
        reported = 0
        with cv:
            while count[0] < len(futures):
                cv.wait(0.1)     # short waits: Ctrl-C gets through
                if progress and count[0] > reported:
                    progress(count[0] - reported)
                    reported = count[0]
        if progress and len(futures) > reported:
            progress(len(futures) - reported)
        return [f.result() for f in futures]

    def rewards(self, batch: Iterable[Any], *, group: Any = None) -> dict[str, Any]:
        """The trainer's fast path: runs a batch and returns numpy arrays in input order (reward,
        success, goal_fraction, executability, ok, worker, attempts, ...), no per-result objects."""
        self._check_open()
        reqs = [it[0] for it in self._prepare(batch, group)]
        return self._core.evaluate(reqs, arrays=True)

    def stats(self) -> dict[str, Any]:
        """Live figures: queue_depth, inflight, completed, failed, retried, restarts, episodes_per_s,
        prefix_saving, and per worker: state, pid, speed (actions/s), utilisation, episodes."""
        s = self._core.stats()
        s["prefix_saving"] = 1.0 - s["simulated_actions"] / s["plan_actions"] if s["plan_actions"] else 0.0
        return s

    def signal_worker(self, worker: int, sig: int) -> int:
        """Sends a signal to a worker's process (chaos tests); returns its pid."""
        return self._core.signal_worker(worker, sig)

    # ------------------------------------------------------------------ results
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this RolloutEngine is closed")

    def _start_collector(self) -> None:
        with self._lock:
            if self._collector is None:
                self._collector = threading.Thread(target=self._collect, name="emx-rollout-results", daemon=True)
                self._collector.start()

    def _collect(self) -> None:
        while not self._closed:
            try:
                results = self._core.poll(1024, 0.1)
            except RuntimeError:
                return
            self._deliver(results)

    def _drain(self) -> None:
        if self._core.closed:
            return
        while True:
            results = self._core.poll(1024, 0.0)
            if not results:
                return
            self._deliver(results)

    def _deliver(self, results: list[dict]) -> None:
        for d in results:
            with self._lock:
                entry = self._pending.pop(d["tag"], None)
            if entry is None:
                continue
            fut, task, parsed, actions, group, tag = entry
            try:
                fut.set_result(self._result(task, parsed, actions, group, tag, d))
            except Exception as e:  # a conversion bug must not kill the collector
                fut.set_exception(e)

    def _atoms(self, task: Task) -> list[str]:
        texts = self._atom_texts.get(id(task))
        if texts is None:
            d = _core.evaluate(task.core, [], True, _core.reward_preset("default"))
            texts = self._atom_texts[id(task)] = [t for t, _ in d["atoms"]]
        return texts

    def _result(self, task: Task, parsed: Plan, actions: list, group: Any, tag: Any, d: dict) -> RolloutResult:
        ok = d["status"] == "ok"
        trace = tuple(Step(task.core.describe(actions[i]) if i < len(actions) else "", s_ok, err, msg)
                      for i, (err, s_ok, msg) in enumerate(d["steps"]))
        atoms = tuple(zip(self._atoms(task), d["atom_truth"])) if ok else ()
        return RolloutResult(
            task_id=task.id, reward=d["reward"], format_ok=parsed.ok, format_error=parsed.error,
            executability=d["executability"], goal_fraction=d["goal_fraction"], success=d["success"],
            plan_length=len(actions), executed=d["executed"], objects_named=d["objects_named"],
            relevant_named=d["relevant_named"], first_error=d["first_error"], trace=trace,
            condition_truth=tuple(d["condition_truth"]), atoms=atoms, status=d["status"], error=d["error"],
            worker=d["worker_name"], worker_id=d["worker"], worker_pid=d["worker_pid"], attempts=d["attempts"],
            seconds=d["total_seconds"], queue_seconds=d["queue_seconds"], run_seconds=d["run_seconds"],
            load_seconds=d["load_seconds"], simulated_actions=d["simulated_actions"], plan_actions=d["plan_actions"],
            group=group, tag=tag, episode_id=d["id"])


def _episode(item: Any, group: Any) -> Episode:
    if isinstance(item, Episode):
        ep = item
    elif isinstance(item, dict):
        ep = Episode(**item)
    elif isinstance(item, tuple) and len(item) == 2:
        ep = Episode(item[0], item[1])
    else:
        raise TypeError(f"an episode is an Episode, a (task, plan) pair or a dict, not {type(item).__name__}")
    if group is not None and ep.group is None:
        ep = Episode(**{**ep.__dict__, "group": group})
    if not isinstance(ep.task, Task):
        raise TypeError(f"episode task must be an emx.Task, not {type(ep.task).__name__}")
    return ep
