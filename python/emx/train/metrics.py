"""Training metrics: JSONL (rewritten atomically, so a crash never leaves half a line),
TensorBoard events when ``tensorboard`` is installed, and a PNG of the reward, success and KL
curves."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_text


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class MetricsLog:
    def __init__(self, out: str | os.PathLike, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "metrics.jsonl"
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                # rows of steps after the checkpoint are replayed by the resumed run
                if isinstance(row, dict) and (row.get("kind") == "sft" or int(row.get("step", 0)) <= resume_step):
                    self.rows.append(row)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.dir / "tb"), purge_step=None if resume_step is None else resume_step + 1)
            except Exception:  # noqa: BLE001 - tensorboard is optional
                self.tb = None

    def log(self, row: dict[str, Any]) -> None:
        row = {k: _clean(v) for k, v in row.items()}
        self.rows.append(row)
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
        if self.tb is not None:
            step = int(row.get("step", 0))
            for k, v in row.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
                    self.tb.add_scalar(f"{row.get('kind', 'train')}/{k}", v, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

    def plot(self, path: str | os.PathLike | None = None) -> Path | None:
        """reward / success / KL curves of the training batches and the held-out evaluations."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except Exception:  # noqa: BLE001 - matplotlib is optional
            return None
        path = Path(path or self.dir / "curves.png")
        train = [r for r in self.rows if r.get("kind") == "train"]
        ev = [r for r in self.rows if r.get("kind") == "eval"]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        panels = [("mean reward", "reward", "eval_reward"), ("success rate", "success", "eval_success"),
                  ("KL to the reference / ratio drift", "kl", None)]
        for ax, (title, key, ekey) in zip(axes, panels):
            if train:
                ax.plot([r["step"] for r in train], [r.get(key, float("nan")) for r in train], lw=1,
                        label="training batches", color="tab:blue")
            if ekey and ev:
                ax.plot([r["step"] for r in ev], [r.get(ekey, float("nan")) for r in ev], "o-",
                        label="held-out (greedy)", color="tab:red")
                # each held-out set on its own (keys "SET/eval_...", emx.train.splits)
                for name in sorted({k.split("/", 1)[0] for r in ev for k in r if k.endswith("/" + ekey)}):
                    ax.plot([r["step"] for r in ev], [r.get(f"{name}/{ekey}", float("nan")) for r in ev], ".--",
                            lw=1, label=name.replace("_", " "))
            if key == "kl" and train:
                ax.plot([r["step"] for r in train], [r.get("approx_kl_behaviour", float("nan")) for r in train],
                        lw=1, label="KL(behaviour || learner)", color="tab:green")
            ax.set_title(title)
            ax.set_xlabel("GRPO step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        os.replace(tmp, path)
        return path
