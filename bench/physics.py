"""Physics-mode throughput and snapshot restore vs scene rebuild, on the EAI BEHAVIOR tasks.

    python bench/physics.py [--quick] [--json]

The same as ``emx bench physics``; the logic lives in ``emx.bench.physics``.
Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.physics import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
