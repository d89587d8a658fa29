"""``emx bench train``: rollout/learning overlap of the GRPO trainer on the tiny preset.

The same shortened tiny run is trained twice on one vLLM engine: with overlap (batch k+1 is
sampled while the learner steps on batch k) and without (sample, then learn). Reported per run:
the learner's wait per step (the design target: idle < 10% of a step), step time, weight-sync
time; ``ratios.overlap_vs_sequential`` is how many times faster a step is with overlap.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from . import Progress, machine_info


def run(quick: bool = False, *, steps: int | None = None, progress: Progress = None) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ..train import Trainer, preset

    steps = steps or (6 if quick else 20)
    results = []
    llm = None
    trainers = []
    with tempfile.TemporaryDirectory(prefix="emx-bench-train-") as tmp:
        for overlap in (True, False):
            cfg = preset("tiny", out=os.path.join(tmp, f"overlap-{overlap}"), max_steps=steps,
                         sft_steps=20 if quick else 60, n_eval_tasks=16, eval_every=10**6,
                         checkpoint_every=10**6, overlap=overlap)
            t0 = time.perf_counter()
            tr = Trainer(cfg, llm=llm,
                         progress=(lambda row, o=overlap: progress(f"overlap={o}", int(row.get("step", 0)), steps))
                         if progress else None)
            summary = tr.run()
            llm = tr.llm
            trainers.append(tr)
            rows = [r for r in tr.metrics.rows if r.get("kind") == "train"][1:]  # step 1 has no batch in flight
            n = max(len(rows), 1)
            results.append({
                "name": "overlap" if overlap else "sequential",
                "steps": steps,
                "learner_wait_s_per_step": sum(r["wait_seconds"] for r in rows) / n,
                "step_s": sum(r["step_seconds"] for r in rows) / n,
                "learn_s": sum(r["learn_seconds"] for r in rows) / n,
                "sample_s": sum(r["sample_seconds"] for r in rows) / n,
                "sync_ms": 1000 * sum(r["sync_seconds"] for r in rows) / n,
                "idle_fraction": sum(r["wait_seconds"] for r in rows) / max(sum(r["step_seconds"] for r in rows), 1e-9),
                "wall_s": time.perf_counter() - t0,
                "final_eval_success": summary["final_eval"].get("eval_success"),
            })
    for tr in trainers:
        tr.close()
    by = {r["name"]: r for r in results}
    return {
        "bench": "train",
        "machine": machine_info(),
        "results": results,
        "ratios": {"overlap_vs_sequential": by["sequential"]["step_s"] / max(by["overlap"]["step_s"], 1e-9)},
        "target": "learner idle < 10% of a step with overlap",
    }


def format_table(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for r in result["results"]:
        rows.append((f"{r['name']}: learner wait per step", f"{r['learner_wait_s_per_step']:.3f} s "
                     f"({100 * r['idle_fraction']:.1f}% of {r['step_s']:.2f} s)"))
        rows.append((f"{r['name']}: learn / sample / sync", f"{r['learn_s']:.2f} s / {r['sample_s']:.2f} s / "
                     f"{r['sync_ms']:.0f} ms"))
    rows.append(("step time, sequential / overlap", f"{result['ratios']['overlap_vs_sequential']:.2f}x"))
    return rows
