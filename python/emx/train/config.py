"""Training configuration: one dataclass, and presets that fill it (verl's way: configure, do not
subclass). ``emx train --preset tiny`` is the embedded default; ``--model PATH`` trains a real
Hugging Face model directory with the same loop."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    out: str = "runs/tiny"
    seed: int = 0
    split_seed: int | None = None        # seed of the train / held-out split (None: seed); fixed to compare training seeds on the same tasks
    # --- policy model: None builds the tiny local model (no downloads)
    model: str | None = None
    tiny_vocab: int = 1024
    tiny_hidden: int = 256
    tiny_layers: int = 2
    tiny_intermediate: int = 512
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    dtype: str = "auto"                  # "auto": bf16 on a GPU that supports it, else fp32
    # --- tasks
    tasks: str | None = None             # a task source; None: generated household tasks
    task_generator: str = "template"     # "template" | "datagen" (emx.datagen.offline) for the tiny tasks
    n_train_tasks: int = 1024
    n_eval_tasks: int = 128              # held-out in distribution: split between compositional and novel categories
    ood_limit: int = 16                  # EAI BEHAVIOR tasks in the out-of-distribution held-out set (0: none)
    semantics: str | None = None         # "eai" | "embomatrix" | "emx"; None: each task source's own
    prompt_format: str = "compact"       # "compact" | "eai" | "native"
    # --- episodes: "plan" (the whole plan in one completion) or "closed-loop" (one action a turn,
    # emx's feedback between turns, loss on the policy's tokens only)
    episode: str = "plan"
    max_turns: int = 12                  # closed-loop: turn budget of an episode
    credit: str = "episode"              # closed-loop: "episode" (one advantage per episode) | "turn" | "gigpo"
    # GiGPO credit (emx.train.credit): A = A_episode + gigpo_step_weight * A_step, A_step from the
    # turn's return discounted by gigpo_gamma, normalised among turns acting from the same state.
    # Defaults are GiGPO's (arXiv 2505.10978) and verl-agent's.
    gigpo_step_weight: float = 1.0
    gigpo_gamma: float = 0.95
    # --- reward
    reward: str = "default"              # preset: default | embomatrix | eai
    mode: str = "symbolic"               # symbolic | physics
    reward_backend: str = "auto"         # auto | engine (emx.RolloutEngine) | inprocess
    reward_workers: int = 1              # RolloutEngine worker processes
    # --- where episodes run: None here (local episodes, or the rollout engine); a URL: an `emx
    # serve` on another machine plays them (closed-loop: /v1/episodes; plan: /v1/evaluate). Its
    # token comes from $EMX_SERVER_TOKEN (never written to the run directory).
    env_url: str | None = None
    env_concurrency: int = 16            # requests in flight to the environment server
    # --- SFT warm start on oracle plans (0 steps: none)
    sft_steps: int = 40
    sft_batch: int = 32
    sft_lr: float = 2e-3
    # --- GRPO
    max_steps: int = 100
    prompts_per_step: int = 16
    group_size: int = 8
    max_new_tokens: int = 96
    temperature: float = 1.0
    lr: float = 5e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 5
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    micro_batch: int = 32                # sequences per forward/backward (gradient accumulation)
    clip_low: float = 0.2
    clip_high: float = 0.28
    kl_beta: float = 0.0                 # > 0 loads a frozen reference model
    scale_std: bool = True
    adv_eps: float = 1e-6
    overlap: bool = True                 # sample batch k+1 while learning on batch k
    # --- evaluation, checkpoints
    eval_every: int = 20
    eval_max_tasks: int | None = None
    checkpoint_every: int = 20
    keep_checkpoints: int = 2
    stop_after: int | None = None        # stop (with a checkpoint) after this many steps, as an interruption would
                                         # (0: after SFT and the step-0 evaluation, with no GRPO step)
    # --- engine
    max_model_len: int = 1024
    gpu_memory_utilization: float | None = None
    trainer_threads: int | None = None   # CPU: torch threads of the learner (None: cores - 1)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "adam_betas" in d:
            d["adam_betas"] = tuple(d["adam_betas"])
        return cls(**d)

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)


_TINY: dict[str, Any] = dict(
    # success-only reward (the EAI preset): the shaped presets pay a small model for stopping early
    reward="eai", sft_steps=100, sft_lr=2e-3, max_steps=300, prompts_per_step=16, group_size=8, lr=1e-4,
    warmup_steps=10, scale_std=True, eval_every=25, checkpoint_every=25,
)

PRESETS: dict[str, dict[str, Any]] = {
    # The embedded default: about 10-15 minutes on 2 CPU cores.
    "tiny": dict(_TINY),
    # CI's shortened run: same pipeline, a few steps.
    "tiny-ci": {**_TINY, **dict(out="runs/tiny-ci", n_train_tasks=128, n_eval_tasks=32, ood_limit=4, sft_steps=10, max_steps=4,
                                prompts_per_step=4, group_size=4, max_new_tokens=64, eval_every=2,
                                checkpoint_every=2)},
    # Closed-loop episodes with the tiny model: one action a turn, feedback between turns.
    # The shaped default reward: success alone is too sparse for episodes a small model rarely finishes.
    "tiny-closed-loop": {**_TINY, **dict(out="runs/tiny-closed-loop", episode="closed-loop", reward="default",
                                         max_new_tokens=32, max_turns=8, max_steps=100, sft_steps=200,
                                         prompts_per_step=8, group_size=8, eval_every=20, checkpoint_every=20)},
    "tiny-closed-loop-ci": {**_TINY, **dict(out="runs/tiny-closed-loop-ci", episode="closed-loop", n_train_tasks=64,
                                            n_eval_tasks=16, ood_limit=4, sft_steps=10, max_steps=3, prompts_per_step=4,
                                            group_size=4, max_new_tokens=32, max_turns=8, eval_every=3,
                                            checkpoint_every=3)},
    # A real model (--model PATH): EAI prompts on the EAI tasks, no SFT, LoRA off by default.
    "model": dict(out="runs/model", tasks="eai-behavior", prompt_format="eai", n_eval_tasks=20, sft_steps=0,
                  max_steps=200, prompts_per_step=8, group_size=8, max_new_tokens=1024, temperature=1.0,
                  lr=1e-6, warmup_steps=10, micro_batch=4, max_model_len=8192, eval_every=25,
                  checkpoint_every=25),
}


CREDITS = ("episode", "turn", "gigpo")


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown training preset {name!r} (available: {', '.join(PRESETS)})")
    values = dict(PRESETS[name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = TrainConfig.from_dict(values)
    if config.episode not in ("plan", "closed-loop"):
        raise ValueError(f"unknown episode kind {config.episode!r} (expected 'plan' or 'closed-loop')")
    if config.credit not in CREDITS:
        raise ValueError(f"unknown credit {config.credit!r} (expected one of {', '.join(CREDITS)})")
    if config.credit == "gigpo" and config.episode != "closed-loop":
        # a whole plan is a one-turn episode: every turn acts from the initial state, and GiGPO
        # would only rescale the episode advantage by (1 + w)
        raise ValueError("--credit gigpo needs closed-loop episodes (--episode closed-loop)")
    if config.credit == "gigpo" and config.env_url:
        # anchor states are exact WorldStates; a remote episode's state stays on its server
        raise ValueError("--credit gigpo needs local episodes (the states it groups by are not sent over --env-url)")
    if not 0.0 <= config.gigpo_gamma <= 1.0:
        raise ValueError(f"gigpo_gamma must be in [0, 1], got {config.gigpo_gamma}")
    if config.max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {config.max_turns}")
    if config.semantics not in (None, "eai", "embomatrix", "emx"):
        raise ValueError(f"unknown semantics {config.semantics!r} (expected eai, embomatrix or emx)")
    return config
