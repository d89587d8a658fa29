"""Where the reward server's evaluations run.

``ThreadBackend`` calls ``emx.evaluate_batch`` (C++, GIL released) from a fixed
pool of threads; ``EngineBackend`` hands the batch to an ``emx.RolloutEngine``
(supervised worker processes, or Ray actors) when the server is started with
``--workers N``. Both report per-worker utilisation for /metrics.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..evaluation import Result, evaluate_batch
from ..task import Task

# Below this many items a batch runs on the calling thread only: spawning C++
# threads costs more than it saves, and other requests use the other slots.
_PARALLEL_BATCH = 64


class BusyTracker:
    """Fraction of the last `window_s` seconds each slot had work in hand."""

    def __init__(self, slots: int, window_s: float = 10.0) -> None:
        self.slots, self.window_s = slots, window_s
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}          # slot -> start
        self._done: deque[tuple[int, float, float]] = deque()  # (slot, start, end)
        self.busy_seconds = 0.0
        self._started = time.monotonic()

    def start(self, slot: int) -> None:
        with self._lock:
            self._running[slot] = time.monotonic()

    def stop(self, slot: int) -> None:
        now = time.monotonic()
        with self._lock:
            start = self._running.pop(slot, now)
            self._done.append((slot, start, now))
            self.busy_seconds += now - start
            while self._done and self._done[0][2] < now - self.window_s:
                self._done.popleft()

    def utilisation(self) -> list[float]:
        now = time.monotonic()
        lo = max(now - self.window_s, self._started)
        span = max(now - lo, 1e-9)
        busy = [0.0] * self.slots
        with self._lock:
            for slot, s, e in self._done:
                busy[slot] += max(0.0, min(e, now) - max(s, lo))
            for slot, s in self._running.items():
                busy[slot] += now - max(s, lo)
        return [min(1.0, b / span) for b in busy]


class ThreadBackend:
    """emx.evaluate_batch on `slots` threads."""

    name = "threads"

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = list(range(slots))
        self._free_lock = threading.Lock()
        self.busy = BusyTracker(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="emx-eval")

    def submit(self, tasks: Sequence[Task], plans: Sequence[Any], reward: str, fmt: str,
               keep_trace: bool) -> Future:
        return self._pool.submit(self._run, tasks, plans, reward, fmt, keep_trace)

    def _run(self, tasks, plans, reward, fmt, keep_trace) -> list[Result]:
        with self._free_lock:
            slot = self._free.pop()
        self.busy.start(slot)
        try:
            threads = 0 if len(tasks) >= _PARALLEL_BATCH else 1
            return evaluate_batch(tasks, plans, reward=reward, threads=threads, keep_trace=keep_trace, fmt=fmt)
        finally:
            self.busy.stop(slot)
            with self._free_lock:
                self._free.append(slot)

    def workers(self) -> list[tuple[str, float]]:
        return [(f"thread-{i}", u) for i, u in enumerate(self.busy.utilisation())]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class EngineBackend:
    """Batches go to an emx.RolloutEngine (worker processes, or Ray actors).

    The engine is built by the caller (so its transport, worker counts and
    resources are the caller's choice) and closed here. Results are
    RolloutResults; an episode the engine could not run (its workers died or
    hung too often) has status "failed"/"timeout" as its error_type.
    """

    name = "rollout-engine"

    def __init__(self, engine: Any, slots: int) -> None:
        self.engine = engine
        self.slots = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="emx-engine")

    def submit(self, tasks, plans, reward, fmt, keep_trace) -> Future:
        return self._pool.submit(self._run, list(tasks), list(plans), reward, fmt)

    def _run(self, tasks, plans, reward, fmt) -> list[Result]:
        from ..plans import parse_plan
        from ..rollout.engine import Episode

        if fmt != "auto":  # the engine detects the format; a forced one is applied here
            plans = [parse_plan(p, fmt=fmt) for p in plans]
        return self.engine.evaluate([Episode(t, p, reward=reward) for t, p in zip(tasks, plans)])

    def workers(self) -> list[tuple[str, float]]:
        try:
            stats = self.engine.stats()
        except Exception:  # a stats failure must not break /metrics
            return []
        return [(str(w.get("name") or f"worker-{i}"), float(w.get("utilisation", 0.0) or 0.0))
                for i, w in enumerate(stats.get("workers", []))]

    def queue_depth(self) -> int:
        try:
            return int(self.engine.stats().get("queue_depth", 0))
        except Exception:
            return 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.engine.close()
