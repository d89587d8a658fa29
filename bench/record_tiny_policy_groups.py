"""Records GRPO groups sampled from the tiny policy: tests/data/tiny_policy_groups.jsonl.

    python bench/record_tiny_policy_groups.py [--out tests/data/tiny_policy_groups.jsonl]
        [--tasks 20] [--group-size 8] [--sft-steps 100] [--seed 0]

The tiny preset's policy as GRPO first samples from it: the locally built 2-layer Qwen2 warm-started
by SFT on oracle plans (the preset's 100 steps), no GRPO step. For ``--tasks`` training tasks of
the preset's split, ``--group-size`` plans each are sampled with vLLM at the preset's temperature
(1.0) and token limit -- exactly the call the trainer makes for a GRPO batch -- and saved as the
raw model text. ``emx bench rollout`` measures prefix sharing on this file
(``emx.rollout.testing.tiny_policy_groups``).

File: a first line ``{"meta": {...}}`` (how it was made), then one line per group
``{"task", "command", "bddl", "plans": [raw text, ...]}``; the task's BDDL text is stored, so the
file does not depend on the task generator staying the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (makes emx importable from a source checkout)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tiny_policy_groups.jsonl"


def record(out: Path, n_tasks: int, group_size: int, sft_steps: int, seed: int) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from emx.manifest import build_manifest
    from emx.train import Trainer, preset
    from emx.train.checkpoint import atomic_write_text

    with tempfile.TemporaryDirectory(prefix="emx-record-groups-") as tmp:
        cfg = preset("tiny", out=tmp, seed=seed, sft_steps=sft_steps, stop_after=0, max_steps=1, n_eval_tasks=32,
                     ood_limit=0, trainer_threads=1)
        trainer = Trainer(cfg)
        t0 = time.perf_counter()
        summary = trainer.run()
        tasks = trainer.train_tasks[:n_tasks]
        groups = trainer.policy.sample(tasks, n=group_size, temperature=cfg.temperature, seed=seed + 12345)
        seconds = time.perf_counter() - t0
        meta = {
            "what": "GRPO groups sampled from the tiny policy (preset tiny: SFT on oracle plans, no GRPO step)",
            "command": "python bench/record_tiny_policy_groups.py " + " ".join(sys.argv[1:]),
            "preset": "tiny", "seed": seed, "sft_steps": sft_steps, "temperature": cfg.temperature,
            "max_new_tokens": cfg.max_new_tokens, "prompt_format": cfg.prompt_format, "group_size": group_size,
            "tasks": len(tasks), "task_origin": "the first training tasks of the preset's split (split seed "
                                                f"{seed})",
            "policy_held_out_success_sft": summary["sft_eval"].get("eval_success"),
            "seconds": round(seconds, 1),
            "manifest": build_manifest(tasks=tasks, reward=cfg.reward, seeds={"seed": seed}, mode="symbolic",
                                       config={"sft_steps": sft_steps, "group_size": group_size}),
        }
        lines = [json.dumps({"meta": meta})]
        for t, g in zip(tasks, groups):
            lines.append(json.dumps({"task": t.id, "command": t.command, "bddl": t.spec.bddl_text,
                                     "plans": [c.text for c in g]}))
        trainer.close()
        # drop every reference to the vLLM engine now, so its process shuts down before exit
        trainer.policy = trainer.llm = None
        del trainer
        import gc

        gc.collect()
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "\n".join(lines) + "\n")
    return meta


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--tasks", type=int, default=20)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--sft-steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    meta = record(args.out, args.tasks, args.group_size, args.sft_steps, args.seed)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB): {meta['tasks']} groups of "
          f"{meta['group_size']}; the policy's held-out success after SFT {meta['policy_held_out_success_sft']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
