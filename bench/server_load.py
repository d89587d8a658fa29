"""Bounded load test of the reward server on loopback (127.0.0.1 only).

    python bench/server_load.py [--quick] [--clients N] [--requests R] [--items K] [--json]

N concurrent clients send a fixed number of requests each; every response is
checked against in-process evaluation. Reports p50/p99 latency, requests/s and
errors (the target is zero). The logic lives in ``emx.bench.server``; figures
are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.server import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
