"""Training runs with error bars: untrained / SFT / SFT+GRPO (plan; closed loop with episode, turn
and gigpo credit) on the tiny preset, several seeds each, held-out success and reward per held-out
set as mean ± 95% t-interval, learning curves in one PNG and a markdown table.

    python bench/train_seeds.py --out runs/seeds [--quick] [--seeds 0 1 2] [--grpo-steps N ...]
    python bench/train_seeds.py --out runs/seeds --aggregate      # reports from finished runs only

The logic lives in ``emx.bench.train_seeds``. Figures are recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

from emx.bench.train_seeds import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
