"""Benchmarks behind ``emx bench NAME``: shared helpers.

Every benchmark module (``emx.bench.goal_check``, ...) has ``run(quick: bool, ...) -> dict``
returning the contract's JSON object ``{"bench", "machine", "results", "ratios", ...}`` and prints
nothing; ``format_table(result)`` gives (label, value) rows for the CLI's human table.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from typing import Callable, Optional

__all__ = ["BENCHMARKS", "Progress", "calibrate", "load_average", "machine_info", "measure", "rate", "ratio",
           "time_calls", "time_calls_cpu"]

# progress(stage, done, total): called as long parts advance; total may be 0 when unknown.
Progress = Optional[Callable[[str, int, int], None]]

# name on the command line -> module under emx.bench
BENCHMARKS = {
    "goal-check": "emx.bench.goal_check",
    "physics": "emx.bench.physics",
    "server": "emx.bench.server",
    "datagen": "emx.bench.datagen",
    "rollout": "emx.bench.rollout",
    "state-check": "emx.bench.state_check", "all": "emx.bench.all",
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info() -> dict:
    """What a figure was measured on, so results from different runs can be compared."""
    info = {
        "cpu": _cpu_model(),
        "cores": _usable_cores(),
        "logical_cpus": os.cpu_count() or 1,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "load_average_1min": load_average(),
    }
    try:
        import emx

        info["emx"] = emx.__version__
        info["backend"] = emx.backend()
    except Exception:  # a benchmark may run half-built; the machine facts still count
        pass
    return info


def calibrate(fn: Callable[[], object], min_time: float = 0.2) -> int:
    """How many calls of ``fn`` last at least ``min_time`` seconds (one untimed call first warms
    caches and sizes the loop)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    return max(1, math.ceil(min_time / first)) if first > 0 else 1000


def time_calls(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` back-to-back calls (time.perf_counter)."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def time_calls_cpu(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) per call over ``calls`` calls. For work that runs
    on the calling thread, the CPU time leaves out the time other processes held the core: the
    figure to trust on a busy machine."""
    c0, t0 = time.thread_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    t1, c1 = time.perf_counter(), time.thread_time()
    return (t1 - t0) / calls, (c1 - c0) / calls


def measure(fn: Callable[[], object], *, min_time: float = 0.2, repeats: int = 3) -> tuple[float, int]:
    """Best (lowest) seconds per call of ``fn`` over ``repeats`` measurements, each of which
    calls ``fn`` enough times to last at least ``min_time`` seconds. Returns (seconds per call,
    calls per measurement)."""
    calls = calibrate(fn, min_time)
    return min(time_calls(fn, calls) for _ in range(max(1, repeats))), calls


def load_average() -> Optional[float]:
    """The 1-minute load average: timings from a busy machine are not comparable."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.inf


def ratio(a_rate: float, b_rate: float) -> float:
    """How many times faster A is than B (the contract's ``A_vs_B``)."""
    return a_rate / b_rate if b_rate > 0 else math.inf
