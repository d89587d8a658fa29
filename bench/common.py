"""Shared helpers for the scripts in bench/: a thin re-export of ``emx.bench``.

Scripts here run from a source checkout (``python bench/NAME.py``) as well as against an
installed wheel; importing this module makes ``emx`` importable from ``python/`` when it is not
installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import emx.bench  # noqa: F401
except ImportError:  # a source checkout: use python/ next to bench/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from emx.bench import (  # noqa: E402
    BENCHMARKS, Progress, calibrate, load_average, machine_info, measure, rate, ratio, time_calls, time_calls_cpu,
)

__all__ = ["BENCHMARKS", "Progress", "calibrate", "load_average", "machine_info", "measure", "rate", "ratio",
           "time_calls", "time_calls_cpu"]
