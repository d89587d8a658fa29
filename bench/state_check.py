"""Batched state checks from geometry: bddl's Python evaluation vs emx's C++ (1 thread, all
threads) and CUDA, at batch sizes 1 ... 65,536 worlds.

    python bench/state_check.py [--quick] [--json] [--seed S]

The same as ``emx bench state-check``; the logic lives in ``emx.bench.state_check``.
Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.state_check import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
