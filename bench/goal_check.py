"""Goal checks per second: emx's C++ batch check vs the bddl package's Python evaluation.

    python bench/goal_check.py [--quick] [--json] [--pairs N] [--seed S]

The same as ``emx bench goal-check``; the logic lives in ``emx.bench.goal_check``.
Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.goal_check import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
