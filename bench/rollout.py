"""Rollout system costs: scheduler dispatch vs an HTTP gateway, physics scaling, prefix sharing.

    python bench/rollout.py [--quick] [--json]

The same as ``emx bench rollout``; the logic lives in ``emx.bench.rollout``.
Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.rollout import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
