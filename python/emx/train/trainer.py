"""emx's GRPO trainer: one process, a PyTorch learner and a vLLM sampler beside it.

    from emx.train import Trainer, preset
    summary = Trainer(preset("tiny", out="runs/tiny")).run()

Per step k the sampler (a background thread driving vLLM) draws batch k+1 from the weights
vLLM holds while the learner takes an optimiser step on batch k; then the learner waits for the
sampler (that wait is measured), and the new weights are synced into vLLM. Batch k was sampled
one update behind the learner, and its sampled-token logprobs (vLLM's, after temperature) are the
behaviour policy in the importance ratio, so the clipped objective accounts for the lag.

Resuming: a checkpoint written after step k holds the weights after k updates, the optimiser,
the schedule, the RNG states and the batch already sampled for step k+1; batches are drawn with
seeds that depend only on (seed, step), so a resumed run takes the same next step as an
uninterrupted one.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from ..policy.oracle import oracle_plan  # noqa: E402
from ..policy.vllm_policy import (POLICY_FILE, VLLMPolicy, chat_prompt, create_llm, mark_tokenizer,  # noqa: E402
                                  on_gpu, prompt_text)
from ..task import Task  # noqa: E402
from . import checkpoint as ckpt  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .metrics import MetricsLog  # noqa: E402
from .rewards import score, summarize  # noqa: E402


@dataclass
class Batch:
    """One GRPO batch, as plain data (it is stored in checkpoints)."""

    step: int
    task_ids: list[str]
    prompt_ids: list[list[int]]
    completions: list[list[list[int]]]     # [task][sample] -> token ids
    logprobs: list[list[list[float]]]      # behaviour logprobs of those tokens
    rewards: list[list[float]]
    texts: list[list[str]]
    summary: dict[str, float] = field(default_factory=dict)
    sample_seconds: float = 0.0
    # closed-loop episodes: which completion tokens the policy sampled (1) or emx wrote (0), the
    # policy turn of each token (-1 for emx's), and the per-turn rewards (for per-turn credit)
    masks: list[list[list[int]]] | None = None
    turn_ids: list[list[list[int]]] | None = None
    turn_rewards: list[list[list[float]]] | None = None
    # closed-loop: per policy turn, the id of the world state it acted from, within its group
    # (equal ids: equal states; emx.episodes.anchors), for GiGPO's step-level groups
    turn_anchors: list[list[list[int]]] | None = None


def _seed_for(seed: int, step: int, salt: int = 0) -> int:
    return (seed * 1_000_003 + step * 7919 + salt * 104_729) % (2**31 - 1)


def plan_text(plan: list[dict[str, str]]) -> str:
    """An oracle plan as the model is taught to write it (EAI JSON list)."""
    return json.dumps(plan)


def split_tasks(config: TrainConfig) -> tuple[list[Task], list[Task]]:
    """(train, held-out in distribution) tasks; ``emx.train.splits.make_split`` has the held-out
    sets one by one."""
    from .splits import OOD, make_split

    split = make_split(config)
    return split.train, [t for name, ts in split.held_out.items() if name != OOD for t in ts]


def _combine(parts: dict[str, dict[str, float]]) -> dict[str, float]:
    """Task-weighted means of per-set eval summaries (eval_n: the sum)."""
    total = sum(p.get("eval_n", 0) for p in parts.values())
    out: dict[str, float] = {"eval_n": total}
    keys = {k for p in parts.values() for k in p if k != "eval_n"}
    for k in sorted(keys):
        num = [(p[k], p.get("eval_n", 0)) for p in parts.values() if isinstance(p.get(k), (int, float))]
        w = sum(n for _, n in num)
        if w:
            out[k] = sum(v * n for v, n in num) / w
    return out


class Trainer:
    def __init__(self, config: TrainConfig, llm: Any = None,
                 progress: Callable[[dict[str, Any]], None] | None = None, env_token: str | None = None) -> None:
        self.config = config
        self.out = Path(config.out)
        self._llm = llm
        self._env_token = env_token        # None: $EMX_SERVER_TOKEN
        self.env: Any = None               # emx.envs.remote.RemoteEnv with config.env_url
        self.progress = progress or (lambda row: None)
        self.wait_seconds: list[float] = []
        self.step_seconds: list[float] = []

    # ------------------------------------------------------------------ setup
    def _setup_torch(self) -> None:
        import torch

        torch.manual_seed(self.config.seed)
        random.seed(self.config.seed)
        if not on_gpu():
            threads = self.config.trainer_threads or max(1, (os.cpu_count() or 2) - 1)
            torch.set_num_threads(threads)
        self.device = "cuda" if on_gpu() else "cpu"
        bf16 = self.device == "cuda" and torch.cuda.is_bf16_supported()
        want = self.config.dtype
        self.dtype = torch.bfloat16 if (want == "bf16" or (want == "auto" and bf16)) else torch.float32

    def _base_model_dir(self, train: Sequence[Task]) -> Path:
        if self.config.model:
            path = Path(self.config.model)
            if not path.is_dir():
                raise FileNotFoundError(f"{path}: not a model directory (emx never downloads models)")
            return path
        from .tiny_model import build_tiny_model

        path = self.out / "base_model"
        if not (path / "config.json").is_file():
            texts = []
            for t in train:
                texts.append(prompt_text(t, self.config.prompt_format))
                plan, _ = oracle_plan(t)
                if plan:
                    texts.append(plan_text(plan))
            if self.config.episode == "closed-loop":
                # the tokenizer also learns the episode's own words: prompts, one-action answers, feedback
                from ..episodes import run_episodes
                from ..policy.oracle import OraclePolicy

                for ep in run_episodes(train[:256], OraclePolicy(), unit="action", max_turns=self.config.max_turns,
                                       prompt_format=self.config.prompt_format):
                    texts += [m["content"] for m in ep.transcript()]
            build_tiny_model(path, texts, seed=self.config.seed, vocab_size=self.config.tiny_vocab,
                             hidden_size=self.config.tiny_hidden, layers=self.config.tiny_layers,
                             intermediate_size=self.config.tiny_intermediate,
                             max_positions=max(self.config.max_model_len, 512))
        return path

    def _load_model(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        from transformers.utils import logging as hf_logging

        from ..policy.vllm_policy import load_tokenizer

        hf_logging.disable_progress_bar()
        self.tokenizer = load_tokenizer(model_dir)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=self.dtype)
        model.to(self.device)
        if self.config.lora:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=self.config.lora_r, lora_alpha=self.config.lora_alpha,
                                                     target_modules="all-linear", task_type="CAUSAL_LM"))
        self.model = model
        self.model.train()
        # dropout off: logprobs must match the sampler's
        for m in self.model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0

    def _make_optimizer(self, lr: float, total: int, warmup: int):
        import torch

        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, betas=tuple(self.config.adam_betas),
                                weight_decay=self.config.weight_decay, foreach=False)
        floor = self.config.min_lr_ratio

        def schedule(i: int) -> float:
            if i < warmup:
                return (i + 1) / max(warmup, 1)
            progress = (i - warmup) / max(total - warmup, 1)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    # ------------------------------------------------------------------ weights
    def state_dict_for_sync(self) -> dict[str, Any]:
        import torch

        model = self.model
        if self.config.lora:
            model.merge_adapter()
            try:
                raw = model.get_base_model().state_dict()
                state = {}
                for k, v in raw.items():
                    if "lora_" in k:
                        continue
                    state[k.replace(".base_layer.", ".")] = v.detach().to("cpu", torch.float32).clone()
            finally:
                model.unmerge_adapter()
            return state
        return {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}

    def sync_weights(self) -> float:
        """The learner's weights into vLLM (in process, through the worker extension)."""
        from .weight_sync import push_state_dict

        return push_state_dict(self.llm, self.state_dict_for_sync(), self.sync_dir,
                               getattr(self.model.config, "tie_word_embeddings", False))

    def save_model(self, path: Path) -> None:
        path = Path(path)
        if self.config.lora:
            self.model.save_pretrained(str(path))  # the adapter
        else:
            self.model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))
        if self.config.model is None:
            mark_tokenizer(path)
        (path / POLICY_FILE).write_text(json.dumps({
            "prompt_format": self.config.prompt_format, "max_tokens": self.config.max_new_tokens,
            "trained_by": "emx train", "reward": self.config.reward}))

    # ------------------------------------------------------------------ SFT
    def sft(self, train: Sequence[Task]) -> dict[str, float]:
        import torch

        from .grpo import pad_batch, sft_loss, token_logprobs

        cfg = self.config
        # (ids, prompt length, mask of the tokens after the prompt that are learnt)
        if cfg.episode == "closed-loop":
            from .closed_loop import sft_examples

            examples = sft_examples(self, train)
        else:
            examples = self._plan_sft_examples(train)
        if not examples:
            raise ValueError("SFT: the oracle solves none of the training tasks")
        opt, sched = self._make_optimizer(cfg.sft_lr, cfg.sft_steps, max(1, cfg.sft_steps // 10))
        rng = random.Random(_seed_for(cfg.seed, 0, salt=1))
        last = {}
        t0 = time.perf_counter()
        for i in range(cfg.sft_steps):
            chosen = [examples[rng.randrange(len(examples))] for _ in range(cfg.sft_batch)]
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for s in range(0, len(chosen), cfg.micro_batch):
                mb = chosen[s: s + cfg.micro_batch]
                ids, attn, comp = pad_batch([e[0] for e in mb], [e[1] for e in mb], self.tokenizer.pad_token_id,
                                            [e[2] for e in mb])
                logp = token_logprobs(self.model, ids, attn, autocast_dtype=self._autocast())
                loss = sft_loss(logp, comp.to(logp.device)) * len(mb) / len(chosen)
                loss.backward()
                total += loss.item()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            last = {"kind": "sft", "sft_step": i + 1, "step": 0, "sft_loss": total, "lr": sched.get_last_lr()[0],
                    "seconds": time.perf_counter() - t0}
            self.metrics.log(last)
            self.progress(last)
        return last

    def _plan_sft_examples(self, train: Sequence[Task]) -> list[tuple[list[int], int, list[int]]]:
        """Oracle plans as whole completions (every completion token learnt)."""
        examples = []
        for t in train:
            plan, _ = oracle_plan(t)
            if not plan:
                continue
            prompt = list(self.prompt_ids(t))
            target = self.tokenizer(plan_text(plan), add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
            examples.append((prompt + list(target), len(prompt), [1] * len(target)))
        return examples

    def _autocast(self):
        import torch

        return torch.bfloat16 if (self.device == "cuda" and self.dtype == torch.bfloat16) else None

    # ------------------------------------------------------------------ sampling
    def prompt_ids(self, task: Task) -> list[int]:
        text = chat_prompt(self.tokenizer, prompt_text(task, self.config.prompt_format))
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sample_batch(self, step: int) -> Batch:
        cfg = self.config
        t0 = time.perf_counter()
        rng = random.Random(_seed_for(cfg.seed, step, salt=2))
        tasks = rng.sample(self.train_tasks, min(cfg.prompts_per_step, len(self.train_tasks)))
        if cfg.episode == "closed-loop":
            from .closed_loop import sample_batch

            return sample_batch(self, step, tasks, _seed_for(cfg.seed, step, salt=3))
        groups = self.policy.sample(tasks, n=cfg.group_size, temperature=cfg.temperature,
                                    seed=_seed_for(cfg.seed, step, salt=3), logprobs=True)
        flat_tasks = [t for t, g in zip(tasks, groups) for _ in g]
        flat_texts = [c.text for g in groups for c in g]
        flat_groups = [f"{step}/{i}" for i, g in enumerate(groups) for _ in g]
        results = self._score(flat_tasks, flat_texts, cfg.reward, groups=flat_groups)
        rewards, k = [], 0
        for g in groups:
            rewards.append([float(r.reward) for r in results[k: k + len(g)]])
            k += len(g)
        summary = summarize(results)
        lengths = [len(c.token_ids) for g in groups for c in g]
        summary["completion_tokens"] = sum(lengths) / max(len(lengths), 1)
        summary["truncated"] = sum(c.finish_reason == "length" for g in groups for c in g) / max(len(lengths), 1)
        return Batch(step=step, task_ids=[t.id for t in tasks], prompt_ids=[self.policy.prompt_ids(t) for t in tasks],
                     completions=[[list(c.token_ids) for c in g] for g in groups],
                     logprobs=[[list(c.logprobs) for c in g] for g in groups], rewards=rewards,
                     texts=[[c.text for c in g] for g in groups], summary=summary,
                     sample_seconds=time.perf_counter() - t0)

    def _score(self, tasks: Sequence[Task], texts: Sequence[Any], reward: str, groups: Any = None) -> list[Any]:
        """Whole plans scored here (engine or in process), or by the environment server."""
        cfg = self.config
        if self.env is not None:
            return self.env.evaluate(tasks, texts, reward=reward, mode=cfg.mode)
        return score(tasks, texts, mode=cfg.mode, reward=reward, groups=groups, backend=cfg.reward_backend,
                     workers=cfg.reward_workers)

    def connect_env(self, tasks: Sequence[Task]) -> Any:
        """With ``config.env_url``: the remote environment, checked to serve ``tasks``."""
        if self.env is None and self.config.env_url:
            from ..envs.remote import RemoteEnv

            env = RemoteEnv(self.config.env_url, token=self._env_token, concurrency=self.config.env_concurrency)
            try:
                env.check_tasks(tasks)
            except BaseException:
                env.close()
                raise
            self.env = env
        return self.env

    def evaluate(self, tasks: Sequence[Task]) -> dict[str, float]:
        if self.config.episode == "closed-loop":
            from .closed_loop import evaluate

            return evaluate(self, tasks)
        groups = self.policy.sample(tasks, n=1, temperature=0.0, seed=0)
        texts = [g[0].text if g else "" for g in groups]
        results = self._score(tasks, texts, self.config.reward)
        s = summarize(results, prefix="eval_")
        s["eval_n"] = len(results)
        # the same plans under every reward preset, so runs with different presets compare
        for name in ("default", "embomatrix", "eai"):
            if name == self.config.reward:
                s[f"eval_reward_{name}"] = s["eval_reward"]
            else:
                other = (self.env.evaluate(tasks, texts, reward=name, mode="symbolic") if self.env is not None else
                         score(tasks, texts, mode=self.config.mode, reward=name, backend="inprocess")) \
                    if self.config.mode == "symbolic" else []
                if other:
                    s[f"eval_reward_{name}"] = sum(r.reward for r in other) / len(other)
        return s

    def evaluate_held_out(self) -> dict[str, Any]:
        """Every held-out set evaluated on its own (keys "SET/eval_..."), and eval_* over the
        in-distribution sets together (the out-of-distribution set stays apart)."""
        from .splits import OOD

        parts = {name: self.evaluate(ts) for name, ts in self.eval_sets.items()}
        row: dict[str, Any] = _combine({k: v for k, v in parts.items() if k != OOD})
        for name, part in parts.items():
            row.update({f"{name}/{k}": v for k, v in part.items()})
        return row

    @staticmethod
    def _per_set(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for k, v in row.items():
            if "/eval_" in k:
                name, key = k.split("/", 1)
                out.setdefault(name, {})[key] = v
        return out

    def _manifest(self, split: Any) -> dict[str, Any]:
        from ..manifest import build_manifest

        cfg = self.config
        return build_manifest(
            tasks=[t for ts in [split.train, *split.held_out.values()] for t in ts], reward=cfg.reward,
            semantics=getattr(cfg, "semantics", None) or cfg.extra.get("semantics"),
            seeds={"seed": cfg.seed, **({} if cfg.split_seed is None else {"split_seed": cfg.split_seed})},
            mode=cfg.mode, model=cfg.model,
            # where a run is written, and where its episodes run, change nothing
            config={k: v for k, v in cfg.to_dict().items() if k not in ("out", "env_url", "env_concurrency")})

    def _split_only(self, split: Any, wall0: float) -> dict[str, Any]:
        """``max_steps == 0``: the split (and the run's manifest) is written; nothing is trained."""
        summary = {"out": str(self.out), "steps": 0, "wall_seconds": time.perf_counter() - wall0,
                   "split": str(self.out / "split.json"),
                   "counts": {"train": len(split.train), **{k: len(v) for k, v in split.held_out.items()}},
                   "manifest": self.manifest}
        ckpt.atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=1))
        return summary

    # ------------------------------------------------------------------ learning
    def learn(self, batch: Batch) -> dict[str, float]:
        import torch

        from .grpo import clipped_loss, group_advantages, pad_batch, token_logprobs

        cfg = self.config
        t0 = time.perf_counter()
        n_groups = len(batch.completions)
        masks = batch.masks or [[[1] * len(c) for c in comps] for comps in batch.completions]
        if cfg.credit == "turn" and batch.turn_rewards is not None and batch.turn_ids is not None:
            from .closed_loop import turn_advantages

            token_advs = [turn_advantages(batch.turn_rewards[g], batch.turn_ids[g], masks[g], cfg.scale_std,
                                          cfg.adv_eps) for g in range(n_groups)]
        elif cfg.credit == "gigpo" and batch.turn_anchors is not None and batch.turn_rewards is not None:
            from .credit import gigpo_advantages

            token_advs = [gigpo_advantages(batch.rewards[g], batch.turn_rewards[g], batch.turn_anchors[g],
                                           batch.turn_ids[g], masks[g], cfg.gigpo_step_weight, cfg.gigpo_gamma,
                                           cfg.scale_std, cfg.adv_eps) for g in range(n_groups)]
        else:
            advs = group_advantages(batch.rewards, cfg.scale_std, cfg.adv_eps)
            token_advs = [[[a * m for m in mask] for a, mask in zip(ga, gm)] for ga, gm in zip(advs, masks)]
        rows = []  # (sequence, prompt length, behaviour logprobs, per-token advantages, mask)
        total_tokens = 0
        for g in range(n_groups):
            p = batch.prompt_ids[g]
            for c, lp, adv, mask in zip(batch.completions[g], batch.logprobs[g], token_advs[g], masks[g]):
                total_tokens += sum(mask)   # token-level aggregation over the policy's tokens only
                if not c or len(lp) != len(c) or len(mask) != len(c):
                    continue  # nothing generated: no token to learn from
                if not any(adv) and cfg.kl_beta == 0:
                    continue  # contributes exactly zero to the loss and its gradient
                rows.append((p + c, len(p), lp, adv, mask))
        rows.sort(key=lambda r: len(r[0]))
        self.optimizer.zero_grad(set_to_none=True)
        stats = {"loss": 0.0, "clip_fraction": 0.0, "ratio_mean": 0.0, "kl": 0.0, "approx_kl_behaviour": 0.0}
        n_tok = 0
        skipped = ""
        autocast = self._autocast()
        for s in range(0, len(rows), cfg.micro_batch):
            mb = rows[s: s + cfg.micro_batch]
            ids, attn, comp = pad_batch([r[0] for r in mb], [r[1] for r in mb], self.tokenizer.pad_token_id,
                                        [r[4] for r in mb])
            old = torch.zeros(comp.shape, dtype=torch.float32)
            adv = torch.zeros(comp.shape, dtype=torch.float32)
            for i, r in enumerate(mb):
                old[i, r[1] - 1: r[1] - 1 + len(r[2])] = torch.tensor(r[2], dtype=torch.float32)
                adv[i, r[1] - 1: r[1] - 1 + len(r[3])] = torch.tensor(r[3], dtype=torch.float32)
            dev = self.device
            logp = token_logprobs(self.model, ids, attn, cfg.temperature, autocast)
            ref = None
            if cfg.kl_beta > 0:
                with torch.no_grad():
                    ref = self._ref_logprobs(ids, attn, autocast)
            loss, st = clipped_loss(logp, old.to(dev), adv.to(dev), comp.to(dev), total_tokens, cfg.clip_low,
                                    cfg.clip_high, ref, cfg.kl_beta)
            if not torch.isfinite(loss):
                skipped = "non-finite loss"
                break
            loss.backward()
            with torch.no_grad():
                m = comp.to(dev)
                stats["approx_kl_behaviour"] += float(((old.to(dev) - logp) * m).sum())
            stats["loss"] += st.loss
            for key in ("clip_fraction", "ratio_mean", "kl"):
                stats[key] += getattr(st, key) * st.tokens
            n_tok += st.tokens
        grad_norm = 0.0  # no trainable row (every advantage zero): no gradient at all
        if not skipped and rows:
            params = [p for p in self.model.parameters() if p.requires_grad]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
            if not math.isfinite(grad_norm):
                skipped = "non-finite gradient"
        if rows and not skipped:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # "scheduler.step() before optimizer.step()"
            self.scheduler.step()  # the schedule follows steps, skipped or not, so resume stays aligned
        for key in ("clip_fraction", "ratio_mean", "kl", "approx_kl_behaviour"):
            stats[key] = stats[key] / max(n_tok, 1)
        stats.update(grad_norm=grad_norm, learn_seconds=time.perf_counter() - t0, trained_sequences=len(rows),
                     lr=self.scheduler.get_last_lr()[0], skipped=skipped)
        return stats

    def _ref_logprobs(self, ids, attn, autocast):
        from .grpo import token_logprobs

        if self.config.lora:
            with self.model.disable_adapter():
                return token_logprobs(self.model, ids, attn, self.config.temperature, autocast)
        return token_logprobs(self.ref_model, ids, attn, self.config.temperature, autocast)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, step: int, pending: Batch | None) -> Path:
        import torch

        state = {
            "step": step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
            "pending": None if pending is None else pending.__dict__,
            "config": self.config.to_dict(),
            "wait_seconds": list(self.wait_seconds),
            "step_seconds": list(self.step_seconds),
        }
        return ckpt.save(self.out / "checkpoints", step, self.save_model, state, keep=self.config.keep_checkpoints)

    # ------------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> dict[str, Any]:
        cfg = self.config
        wall0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        from .splits import OOD, make_split

        split = make_split(cfg)
        split.write(self.out / "split.json")
        self.train_tasks = split.train
        self.eval_sets = {name: (ts[: cfg.eval_max_tasks] if cfg.eval_max_tasks else ts)
                          for name, ts in split.held_out.items() if ts}
        # the in-distribution held-out tasks: what "held-out success" (eval_*) has always meant
        self.eval_tasks = [t for name, ts in self.eval_sets.items() if name != OOD for t in ts]
        self.manifest = self._manifest(split)
        ckpt.atomic_write_text(self.out / "manifest.json", json.dumps(self.manifest, indent=1) + "\n")
        if cfg.max_steps == 0:
            return self._split_only(split, wall0)
        # the environment server must serve every task the run plays (fail before any training)
        self.connect_env([t for ts in [split.train, *self.eval_sets.values()] for t in ts])
        import torch

        self._setup_torch()

        state = None
        last = ckpt.latest(self.out / "checkpoints") if resume else None
        if resume and last is None:
            raise ckpt.CheckpointError(f"{self.out / 'checkpoints'}: no checkpoint to resume from")
        base_dir = self._base_model_dir(self.train_tasks)
        if last is not None:
            state = ckpt.load_state(last)
            ckpt.check_model_dir(last / "model")
            model_dir = last / "model"
        else:
            model_dir = base_dir
        if cfg.lora and last is not None:
            self._load_model(base_dir)
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(self.model, load_file(str(last / "model" / "adapter_model.safetensors")))
        else:
            self._load_model(model_dir)
        if cfg.episode == "closed-loop":
            from .closed_loop import FeedbackTokens

            self._feedback_tokens = FeedbackTokens(self.tokenizer)
        start = 0 if state is None else int(state["step"])
        self.metrics = MetricsLog(self.out, resume_step=start if state is not None else None)
        (self.out / "config.json").write_text(cfg.dumps())

        if state is None and cfg.sft_steps > 0:
            self.sft(self.train_tasks)
        if cfg.kl_beta > 0 and not cfg.lora:
            self.ref_model = copy.deepcopy(self.model).eval()
            for p in self.ref_model.parameters():
                p.requires_grad_(False)

        self.optimizer, self.scheduler = self._make_optimizer(cfg.lr, cfg.max_steps, cfg.warmup_steps)
        if state is not None:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
            except (KeyError, ValueError) as e:
                raise ckpt.CheckpointError(f"{last / 'trainer_state.pt'}: optimizer state does not fit this model ({e})") from None
            torch.set_rng_state(state["torch_rng"])
            random.setstate(state["python_rng"])
            self.wait_seconds = list(state.get("wait_seconds", []))
            self.step_seconds = list(state.get("step_seconds", []))

        # the engine: vLLM beside the learner, holding the learner's weights from here on
        self.sync_dir = self.out / ".sync"
        self.sync_dir.mkdir(exist_ok=True)
        if self._llm is None:
            self._llm = create_llm(base_dir, seed=cfg.seed, max_model_len=cfg.max_model_len,
                                   gpu_memory_utilization=cfg.gpu_memory_utilization, weight_sync=True,
                                   processed_logprobs=True)
        self.llm = self._llm
        self.policy = VLLMPolicy(str(base_dir), prompt_format=cfg.prompt_format, max_tokens=cfg.max_new_tokens,
                                 temperature=cfg.temperature, seed=cfg.seed, llm=self.llm)
        self.sync_weights()

        if state is None:
            self.save_checkpoint(0, None)
            ev = self.evaluate_held_out()
            row = {"kind": "eval", "step": 0, **ev}
            self.metrics.log(row)
            self.progress(row)
            sft_eval = ev
        else:
            sft_eval = next((r for r in self.metrics.rows if r.get("kind") == "eval" and r.get("step") == 0), {})
        pending: Batch | None = None
        if state is not None and state.get("pending"):
            pending = Batch(**state["pending"])

        self.steps_done = start
        # stop_after=0: SFT and the step-0 evaluation only (an untrained or SFT-only baseline)
        end = start if cfg.stop_after == 0 else cfg.max_steps
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emx-sampler")
        try:
            if pending is None and start < end:
                pending = self.sample_batch(start)
            for k in range(start, end):
                t_step = time.perf_counter()
                batch = pending
                fut: Future | None = None
                if cfg.overlap and k + 1 < cfg.max_steps:
                    fut = pool.submit(self.sample_batch, k + 1)   # from the weights vLLM holds (k updates)
                stats = self.learn(batch)
                t_wait = time.perf_counter()
                pending = fut.result() if fut is not None else None
                wait = time.perf_counter() - t_wait
                sync_s = self.sync_weights()
                if not cfg.overlap and k + 1 < cfg.max_steps:
                    t_s = time.perf_counter()
                    pending = self.sample_batch(k + 1)
                    wait += time.perf_counter() - t_s   # without overlap the learner waits for all sampling
                step_s = time.perf_counter() - t_step
                self.wait_seconds.append(wait)
                self.step_seconds.append(step_s)
                row = {"kind": "train", "step": k + 1, **batch.summary, **stats, "sample_seconds": batch.sample_seconds,
                       "wait_seconds": wait, "sync_seconds": sync_s, "step_seconds": step_s,
                       "idle_fraction": wait / max(step_s, 1e-9), "wall_seconds": time.perf_counter() - wall0}
                if stats["skipped"]:
                    row["warning"] = f"step skipped: {stats['skipped']}"
                self.metrics.log(row)
                self.progress(row)
                done = self.steps_done = k + 1
                if done % cfg.eval_every == 0 or done == cfg.max_steps:
                    ev = self.evaluate_held_out()
                    erow = {"kind": "eval", "step": done, **ev}
                    self.metrics.log(erow)
                    self.progress(erow)
                stopping = cfg.stop_after is not None and done >= cfg.stop_after
                if done % cfg.checkpoint_every == 0 or done == cfg.max_steps or stopping:
                    self.save_checkpoint(done, pending)
                if stopping:
                    break
        finally:
            pool.shutdown(wait=True)

        final = self.out / "final"
        tmp = self.out / ".final.tmp"
        if tmp.exists():
            import shutil
            shutil.rmtree(tmp)
        self.save_model(tmp)
        if final.exists():
            import shutil
            shutil.rmtree(final)
        os.replace(tmp, final)
        png = self.metrics.plot()
        evals = [r for r in self.metrics.rows if r.get("kind") == "eval"]
        last_eval = evals[-1] if evals else {}
        waits = self.wait_seconds[1:] or self.wait_seconds  # the first step has no batch in flight to wait on
        summary = {
            "out": str(self.out), "steps": self.steps_done, "wall_seconds": time.perf_counter() - wall0,
            "split": str(self.out / "split.json"),
            "sft_eval": {k: v for k, v in sft_eval.items() if k.startswith("eval_")},
            "final_eval": {k: v for k, v in last_eval.items() if k.startswith("eval_")},
            "held_out": {"sft": self._per_set(sft_eval), "final": self._per_set(last_eval)},
            "learner_wait_seconds_per_step": sum(waits) / max(len(waits), 1),
            "step_seconds": sum(self.step_seconds) / max(len(self.step_seconds), 1),
            "idle_fraction": sum(waits) / max(sum(self.step_seconds[-len(waits):]) if waits else 1.0, 1e-9),
            "final_model": str(final), "metrics": str(self.metrics.path), "plot": str(png) if png else None,
            "manifest": self.manifest,
        }
        ckpt.atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=1))
        self.metrics.close()
        return summary

    def close(self) -> None:
        """Shuts the engine down (only when this trainer created it), and the environment client."""
        env, self.env = self.env, None
        if env is not None:
            env.close()
        llm, self._llm = self._llm, None
        if llm is not None:
            del llm
