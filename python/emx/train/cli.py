"""``emx train``: argument wiring and the live progress display (the lead's cli.py calls
``add_arguments`` and ``cmd_train``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .config import PRESETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="tiny: local tiny model, no downloads (default); model: a real model given by --model")
    p.add_argument("--model", default=None, help="a local Hugging Face model directory (nothing is downloaded)")
    p.add_argument("--tasks", default=None, help="task source to train on (default: generated household tasks)")
    p.add_argument("--task-generator", choices=["template", "datagen"], default=None,
                   help="tiny preset's tasks: the built-in template (default) or emx.datagen.offline (harder)")
    p.add_argument("--out", default=None, help="run directory (metrics, TensorBoard, curves.png, checkpoints)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="GRPO steps (0: write DIR/split.json and DIR/manifest.json, then exit)")
    p.add_argument("--ood-limit", type=int, default=None,
                   help="EAI BEHAVIOR tasks in the out-of-distribution held-out set (0: none; generated tasks only)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--reward", choices=["default", "embomatrix", "eai"], default=None)
    p.add_argument("--semantics", choices=["eai", "embomatrix", "emx"], default=None,
                   help="whose action rules judge the plans (default: each task source's own)")
    p.add_argument("--mode", choices=["symbolic", "physics"], default=None)
    p.add_argument("--prompt-format", choices=["compact", "eai", "native"], default=None)
    p.add_argument("--sft-steps", type=int, default=None, help="SFT warm-start steps on oracle plans (0: none)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--prompts-per-step", type=int, default=None)
    p.add_argument("--group-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--kl-beta", type=float, default=None, help="KL to a frozen reference (0: no reference model)")
    p.add_argument("--lora", action="store_true", help="train a LoRA adapter (peft) instead of all weights")
    p.add_argument("--no-overlap", action="store_true", help="sample and learn one after the other")
    p.add_argument("--gpu-memory-utilization", type=float, default=None,
                   help="vLLM's share of GPU memory (CPU: of RAM for the KV cache)")
    p.add_argument("--episode", choices=["plan", "closed-loop"], default=None,
                   help="plan: one completion is the whole plan (default); closed-loop: one action a turn with "
                        "emx's feedback between turns (loss on the policy's tokens only)")
    p.add_argument("--credit", choices=["episode", "turn", "gigpo"], default=None,
                   help="closed-loop: one advantage per episode (default), per turn (return-to-go), or gigpo "
                        "(episode advantage + step advantage among turns acting from the same exact state)")
    p.add_argument("--gigpo-step-weight", type=float, default=None,
                   help="gigpo: weight w of the step-level advantage (default 1.0)")
    p.add_argument("--gigpo-gamma", type=float, default=None,
                   help="gigpo: discount of the per-turn rewards in the step-level return (default 0.95)")
    p.add_argument("--max-turns", type=int, default=None, help="closed-loop: turn budget of an episode")
    p.add_argument("--env-url", default=None,
                   help="an emx serve (http://HOST:PORT) that plays the episodes (closed-loop: /v1/episodes, "
                        "plan: /v1/evaluate), so simulation runs on other machines than the learner; it must serve "
                        "the training tasks (--tasks SRC on both); token: $EMX_SERVER_TOKEN")
    p.add_argument("--json", action="store_true")


def config_from_args(args: argparse.Namespace):
    from .config import preset

    closed = getattr(args, "episode", None) == "closed-loop"
    name = args.preset or ("model" if args.model else "tiny-closed-loop" if closed else "tiny")
    overrides: dict[str, Any] = dict(
        model=args.model, tasks=args.tasks, task_generator=args.task_generator, out=args.out, max_steps=args.max_steps, seed=args.seed,
        ood_limit=getattr(args, "ood_limit", None),
        reward=args.reward, mode=args.mode, prompt_format=args.prompt_format, sft_steps=args.sft_steps,
        lr=args.lr, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        max_new_tokens=args.max_new_tokens, kl_beta=args.kl_beta,
        gpu_memory_utilization=args.gpu_memory_utilization, episode=getattr(args, "episode", None),
        credit=getattr(args, "credit", None), max_turns=getattr(args, "max_turns", None),
        semantics=getattr(args, "semantics", None), env_url=getattr(args, "env_url", None),
        gigpo_step_weight=getattr(args, "gigpo_step_weight", None), gigpo_gamma=getattr(args, "gigpo_gamma", None))
    if args.lora:
        overrides["lora"] = True
    if args.no_overlap:
        overrides["overlap"] = False
    return preset(name, **overrides)


def _fmt(row: dict[str, Any], key: str, spec: str = ".3f") -> str:
    v = row.get(key)
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def cmd_train(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from .trainer import Trainer

    cfg = config_from_args(args)
    err = Console(stderr=True)
    quiet = args.json or not sys.stderr.isatty()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[info]}"), console=err, disable=quiet)
    state = {"eval": "", "sft": None, "grpo": None}

    def on_row(row: dict[str, Any]) -> None:
        kind = row.get("kind")
        if kind == "sft":
            if state["sft"] is None:
                state["sft"] = progress.add_task("SFT warm start", total=cfg.sft_steps, info="")
            progress.update(state["sft"], completed=row["sft_step"], info=f"loss {_fmt(row, 'sft_loss')}")
        elif kind == "eval":
            per_set = " ".join(f"{k.split('/')[0][:5]} {_fmt(row, k)}" for k in row if k.endswith("/eval_success"))
            state["eval"] = (f"held-out success {_fmt(row, 'eval_success')} reward {_fmt(row, 'eval_reward')}"
                             f" [{per_set}] (step {row['step']})")
            if quiet:
                err.print(state["eval"]) if not args.json else None
        elif kind == "train":
            if state["grpo"] is None:
                state["grpo"] = progress.add_task("GRPO", total=cfg.max_steps, info="")
            info = (f"reward {_fmt(row, 'reward')} success {_fmt(row, 'success')} format {_fmt(row, 'format_ok', '.2f')}"
                    f" wait {_fmt(row, 'wait_seconds', '.2f')}s | {state['eval']}")
            if row.get("warning"):
                info = f"[yellow]{row['warning']}[/] " + info
            progress.update(state["grpo"], completed=row["step"], info=info)

    with progress:
        trainer = Trainer(cfg, progress=on_row)
        summary = trainer.run(resume=args.resume)
    if args.json:
        from ..jsonout import print_json

        print_json(summary)
        return 0
    if summary["steps"] == 0 and "final_eval" not in summary:
        counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items())
        Console().print(f"wrote {summary['split']} ({counts}); --max-steps 0: nothing trained")
        return 0
    from rich.table import Table

    table = Table(title=f"emx train — {summary['out']}")
    table.add_column("held-out (greedy)")
    table.add_column("SFT only", justify="right")
    table.add_column(f"after {summary['steps']} GRPO steps", justify="right")
    for key, label in (("eval_success", "success rate"), ("eval_reward", "mean reward"),
                       ("eval_goal_fraction", "goal fraction"), ("eval_format_ok", "format ok"),
                       ("eval_turns", "turns per episode")):
        if key not in summary["final_eval"]:
            continue
        table.add_row(label, _fmt(summary["sft_eval"], key), _fmt(summary["final_eval"], key))
    for name, final in summary.get("held_out", {}).get("final", {}).items():
        sft = summary["held_out"]["sft"].get(name, {})
        table.add_row(f"  {name.replace('_', ' ')}: success ({final.get('eval_n', 0)} tasks)",
                      _fmt(sft, "eval_success"), _fmt(final, "eval_success"))
    Console().print(table)
    Console().print(f"learner wait {summary['learner_wait_seconds_per_step']:.3f} s/step "
                    f"(idle {100 * summary['idle_fraction']:.1f}%), wall {summary['wall_seconds']:.0f} s; "
                    f"curves: {summary['plot']}; model: {summary['final_model']}")
    return 0
