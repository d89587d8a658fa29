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

__all__ = ["Progress", "machine_info", "measure", "rate", "ratio", "BENCHMARKS"]

# progress(stage, done, total): called as long parts advance; total may be 0 when unknown.
Progress = Optional[Callable[[str, int, int], None]]

# name on the command line -> module under emx.bench
BENCHMARKS = {"goal-check": "emx.bench.goal_check", "physics": "emx.bench.physics"}


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
    }
    try:
        import emx

        info["emx"] = emx.__version__
        info["backend"] = emx.backend()
    except Exception:  # a benchmark may run half-built; the machine facts still count
        pass
    return info


def measure(fn: Callable[[], object], *, min_time: float = 0.2, repeats: int = 3) -> tuple[float, int]:
    """Best (lowest) seconds per call of ``fn`` over ``repeats`` measurements, each of which
    calls ``fn`` enough times to last at least ``min_time`` seconds. Returns (seconds per call,
    calls per measurement). One untimed call first warms caches and sizes the loop."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    calls = max(1, math.ceil(min_time / first)) if first > 0 else 1000
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best, calls


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.inf


def ratio(a_rate: float, b_rate: float) -> float:
    """How many times faster A is than B (the contract's ``A_vs_B``)."""
    return a_rate / b_rate if b_rate > 0 else math.inf
