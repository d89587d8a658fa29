"""Every benchmark in one run: one JSON file with all results and a PNG chart of every ratio.

    python bench/all.py [--quick] [--json] [--out DIR] [--only NAME ...]

The same as ``emx bench all``; the logic lives in ``emx.bench.all``.
Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.all import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
