"""TRL's GRPOTrainer with every rollout played against an emx OpenEnv server.

TRL documents ``GRPOTrainer(rollout_func=...)`` for environments that own the interaction: the
function receives the batch's prompts and the trainer and returns ``prompt_ids``,
``completion_ids``, ``logprobs`` (plus ``env_mask`` for tokens the environment wrote, and any
other field, handed to the reward functions). Here each prompt names an emx task; the rollout
opens an OpenEnv session (``EmxEnvClient``, WebSocket), resets it on that task, and plays up to
``max_turns`` turns — the model answers, emx replies — as one token sequence whose feedback
tokens are masked out. The reward is emx's: the sum of the step rewards the server returned.

    from emx.integrations.trl_openenv import openenv_rollout_func, env_reward
    trainer = trl.GRPOTrainer(model=model, reward_funcs=env_reward, args=args, processing_class=tok,
                              train_dataset=Dataset.from_dict({"prompt": task_ids}),
                              rollout_func=openenv_rollout_func("http://emx:TOKEN@127.0.0.1:8000/openenv"))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def env_reward(completions: Sequence[Any], env_reward: Sequence[float] | None = None, **_: Any) -> list[float]:
    """The reward emx returned for each rollout (a TRL reward function)."""
    if env_reward is None:
        raise ValueError("env_reward is missing: use it with openenv_rollout_func")
    return [float(r) for r in env_reward]


def _task_of(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt.strip()
    if isinstance(prompt, list) and prompt:          # conversational: the last user message
        content = prompt[-1].get("content", "")
        return (content if isinstance(content, str) else "").strip()
    raise ValueError(f"a prompt must name an emx task id, got {type(prompt).__name__}")


def openenv_rollout_func(base_url: str, *, max_turns: int = 2, max_new_tokens: int = 32, temperature: float = 1.0,
                         prompt_format: str = "compact", reward: str = "default", shaping: str = "final"):
    """A TRL ``rollout_func`` playing closed-loop episodes on the emx OpenEnv server at ``base_url``
    (``http://emx:TOKEN@HOST:PORT/openenv``; the token travels as the URL's password)."""
    import torch

    from ..envs.openenv import EmxAction, EmxEnvClient
    from ..policy.vllm_policy import chat_prompt
    from ..train.closed_loop import FeedbackTokens

    feedback: dict[int, FeedbackTokens] = {}

    @torch.no_grad()
    def sample(model, tok, ids: list[int]) -> tuple[list[int], list[float]]:
        device = next(model.parameters()).device
        inp = torch.tensor([ids], device=device)
        out = model.generate(inp, attention_mask=torch.ones_like(inp), do_sample=temperature > 0,
                             temperature=temperature if temperature > 0 else None, top_p=1.0, top_k=0,
                             max_new_tokens=max_new_tokens, output_scores=True, return_dict_in_generate=True,
                             pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                             eos_token_id=tok.eos_token_id)
        new = out.sequences[0, len(ids):].tolist()
        lps = [float(torch.log_softmax(s[0].float(), -1)[t]) for s, t in zip(out.scores, new)]
        if tok.eos_token_id in new:      # keep the turn up to and with its end token
            k = new.index(tok.eos_token_id) + 1
            new, lps = new[:k], lps[:k]
        return new, lps

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, list]:
        tok = trainer.processing_class
        fb = feedback.setdefault(id(tok), FeedbackTokens(tok))
        model = trainer.accelerator.unwrap_model(trainer.model)
        was_training = model.training
        model.eval()
        out: dict[str, list] = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [],
                                "env_reward": [], "env_success": [], "env_turns": []}
        try:
            with EmxEnvClient(base_url=base_url).sync() as env:
                for p in prompts:
                    r = env.reset(task=_task_of(p), max_turns=max_turns, prompt_format=prompt_format, reward=reward,
                                  shaping=shaping)
                    prompt = list(tok(chat_prompt(tok, r.observation.text), add_special_tokens=False)["input_ids"])
                    comp: list[int] = []
                    mask: list[int] = []
                    lps: list[float] = []
                    total, turns = 0.0, 0
                    while True:
                        ids, lp = sample(model, tok, prompt + comp)
                        comp += ids
                        mask += [1] * len(ids)
                        lps += lp
                        r = env.step(EmxAction(text=tok.decode(ids, skip_special_tokens=True)))
                        total += float(r.reward or 0.0)
                        turns += 1
                        if r.done:
                            break
                        nxt = fb.ids(r.observation.text, ids)
                        comp += nxt
                        mask += [0] * len(nxt)
                        lps += [0.0] * len(nxt)
                    out["prompt_ids"].append(prompt)
                    out["completion_ids"].append(comp)
                    out["logprobs"].append(lps)
                    out["env_mask"].append(mask)
                    out["env_reward"].append(total)
                    out["env_success"].append(bool(r.observation.info.get("components", {}).get("success", False)))
                    out["env_turns"].append(turns)
        finally:
            if was_training:
                model.train()
        return out

    return rollout
