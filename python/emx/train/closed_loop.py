"""Closed-loop episodes as GRPO samples (``emx train --episode closed-loop``).

An episode is one token sequence: the prompt, then the policy's turns interleaved with emx's
feedback turns. Only the policy's tokens are trained: every token carries a mask (1 = sampled by
the policy, 0 = written by the environment) and the behaviour logprob vLLM gave it (0 for
environment tokens). Turns are sampled with vLLM a turn at a time for all episodes still running,
each from the whole sequence so far (token ids in, so the sequence trained on is exactly the one
sampled).

With ``emx train --env-url URL`` the episodes are ``emx.envs.remote.RemoteEpisode``s: the same
interface, their worlds in an ``emx serve`` on another machine, each turn one request (the
running episodes' requests in parallel); nothing else here changes.

Credit: ``episode`` (default) gives every policy token of an episode its group-normalised
episode reward; ``turn`` gives each turn's tokens the group-normalised return-to-go of per-turn
rewards (``ClosedLoopEpisode.turn_rewards``: goal-fraction gained, a penalty for a failed turn,
the episode reward on the last turn), normalised over all turns of the group; ``gigpo``
(``emx.train.credit``) adds to the episode advantage a step advantage: the turn's discounted
return normalised among the group's turns that acted from the same exact world state. Every
sampled turn records the state it acted from (``EpisodeTokens.states``); ``sample_batch`` turns
them into anchor-state ids (``emx.episodes.anchors``) whatever the credit, and logs how often
turns share a state (``anchor_shared``, ``anchor_group_size``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import _core
from ..envs.remote import step_episodes
from ..episodes import ClosedLoopEpisode
from ..episodes.anchors import anchor_ids
from ..policy.oracle import oracle_plan
from ..policy.vllm_policy import chat_prompt
from ..task import Task


@dataclass
class EpisodeTokens:
    """One episode as the learner sees it; ``completion``/``mask``/``logprobs``/``turn`` are
    aligned and cover everything after the prompt."""

    prompt: list[int]
    completion: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)          # 1: policy token, 0: environment token
    logprobs: list[float] = field(default_factory=list)    # behaviour logprob (0.0 for environment tokens)
    turn: list[int] = field(default_factory=list)          # the policy turn a token belongs to (-1: environment)
    states: list = field(default_factory=list)             # per policy turn: a copy of the state it acted from

    def add(self, ids: Sequence[int], policy: bool, turn: int, logprobs: Sequence[float] | None = None) -> None:
        self.completion += list(ids)
        self.mask += [1 if policy else 0] * len(ids)
        self.logprobs += list(logprobs) if logprobs is not None else [0.0] * len(ids)
        self.turn += [turn if policy else -1] * len(ids)

    def __len__(self) -> int:
        return len(self.prompt) + len(self.completion)


class FeedbackTokens:
    """Turns emx's feedback into the tokens that follow a policy turn in the chat template.

    The template's text between the end of an assistant message and the next assistant turn is
    found once (by rendering a probe conversation), so any chat template works, not only ChatML.
    That text usually starts with the template's end-of-turn token (``<|im_end|>``). When the policy
    stopped on that very token it is not written twice; a turn cut at the token limit gets it.
    The stop token need not be the tokenizer's eos: a base model's eos is ``<|endoftext|>`` while
    vLLM also stops on the generation config's ``<|im_end|>``.
    """

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer
        a_mark, f_mark = "\x00A\x00", "\x00F\x00"
        head = [{"role": "user", "content": "u"}, {"role": "assistant", "content": a_mark}]
        if getattr(tokenizer, "chat_template", None):
            a = tokenizer.apply_chat_template(head, tokenize=False)
            b = tokenizer.apply_chat_template(head + [{"role": "user", "content": f_mark}], tokenize=False,
                                              add_generation_prompt=True)
        else:
            a, b = "u\n" + a_mark, "u\n" + a_mark + "\n" + f_mark + "\n"
        after_answer = a[a.index(a_mark) + len(a_mark):]
        if b.startswith(a):
            between = after_answer + b[len(a):]
        else:  # the template rewrites earlier turns: take what follows the answer in the longer one
            between = b[b.index(a_mark) + len(a_mark):]
        self.prefix, _, self.suffix = between.partition(f_mark)
        # tokens that can end a turn: special tokens only (a sampled "\n" is the policy's own text)
        decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._special = set(getattr(tokenizer, "all_special_ids", []) or []) | {
            i for i, t in decoder.items() if getattr(t, "special", False)}

    def ids(self, feedback: str, sampled: Sequence[int]) -> list[int]:
        text = self.prefix + feedback + self.suffix
        if sampled and sampled[-1] in self._special:
            closing = self.tok.decode([sampled[-1]], skip_special_tokens=False)
            if closing and text.startswith(closing):
                text = text[len(closing):]   # the policy closed its turn with the template's own token
        return list(self.tok(text, add_special_tokens=False)["input_ids"])


def _episodes(trainer, tasks: Sequence[Task]) -> list:
    """Local ``ClosedLoopEpisode``s, or, with ``emx train --env-url``, ``RemoteEpisode``s on that
    server (same interface, the same numbers: the server runs the same episode logic)."""
    cfg = trainer.config
    env = getattr(trainer, "env", None)
    if env is not None:
        return env.episodes(tasks, mode=cfg.mode, unit="action", max_turns=cfg.max_turns,
                            prompt_format=cfg.prompt_format, reward=cfg.reward)
    return [ClosedLoopEpisode(t, mode=cfg.mode, unit="action", max_turns=cfg.max_turns,
                              prompt_format=cfg.prompt_format) for t in tasks]


def _close(episodes) -> None:
    """Ends remote episodes' server sessions (no-op for local ones)."""
    for ep in episodes:
        close = getattr(ep, "close", None)
        if close is not None:
            close()


def _prompt_ids(trainer, ep: ClosedLoopEpisode) -> list[int]:
    text = chat_prompt(trainer.tokenizer, ep.messages[0]["content"])
    return list(trainer.tokenizer(text, add_special_tokens=False)["input_ids"])


def play(trainer, tasks: Sequence[Task], n: int, temperature: float, seed: int | None,
         logprobs: bool = True) -> list[list[tuple[ClosedLoopEpisode, EpisodeTokens]]]:
    """n episodes per task, sampled turn by turn with vLLM. Returns [task][sample]."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    cfg = trainer.config
    fb = trainer._feedback_tokens
    limit = cfg.max_model_len - cfg.max_new_tokens - 1
    order = [(i, t) for i, t in enumerate(tasks) for _ in range(n)]
    episodes = _episodes(trainer, [t for _, t in order])
    runs = [(i, ep, EpisodeTokens(_prompt_ids(trainer, ep))) for (i, _), ep in zip(order, episodes)]
    active = list(range(len(runs)))
    turn = 0
    while active:
        prompts = [TokensPrompt(prompt_token_ids=runs[r][2].prompt + runs[r][2].completion) for r in active]
        params = [SamplingParams(n=1, temperature=temperature, max_tokens=cfg.max_new_tokens,
                                 seed=None if seed is None else seed + r * 1009 + turn * 7,
                                 logprobs=0 if logprobs else None) for r in active]
        outs = trainer.llm.generate(prompts, params, use_tqdm=False)
        sampled, texts = [], []
        for r, out in zip(active, outs):
            c = out.outputs[0]
            ids = list(c.token_ids)
            lps = None
            if logprobs and c.logprobs is not None:
                lps = [float(step[tok].logprob) for step, tok in zip(c.logprobs, ids)]
            runs[r][2].add(ids, True, turn, lps)
            # the anchor state of this turn (GiGPO); a remote episode's state stays on its server
            state = getattr(runs[r][1], "current_state", None)
            runs[r][2].states.append(state().copy() if state is not None else None)
            sampled.append(ids)
            texts.append(trainer.tokenizer.decode(ids, skip_special_tokens=True))
        # every running episode executes its answer: one batch (remote episodes: in parallel)
        results = step_episodes([runs[r][1] for r in active], texts)
        still = []
        for r, ids, result in zip(active, sampled, results):
            _, ep, toks = runs[r]
            if ep.done:
                continue
            nxt = fb.ids(result.feedback, ids)
            if len(toks) + len(nxt) > limit:
                ep.done, ep.end_reason = True, "context_full"
                _close([ep])
                continue
            toks.add(nxt, False, turn)
            still.append(r)
        active = still
        turn += 1
    grouped: list[list[tuple[ClosedLoopEpisode, EpisodeTokens]]] = [[] for _ in tasks]
    for i, ep, toks in runs:
        grouped[i].append((ep, toks))
    return grouped


def sample_batch(trainer, step: int, tasks: Sequence[Task], seed: int):
    """A GRPO batch of closed-loop episodes (the trainer's Batch with masks and turns)."""
    from .rewards import summarize
    from .trainer import Batch

    cfg = trainer.config
    t0 = time.perf_counter()
    reward = _core.reward_preset(cfg.reward)
    groups = play(trainer, tasks, cfg.group_size, cfg.temperature, seed)
    results = [ep.result(reward) for g in groups for ep, _ in g]
    summary = summarize(results)
    eps = [ep for g in groups for ep, _ in g]
    summary["turns"] = sum(len(e.turns) for e in eps) / max(len(eps), 1)
    summary["episodes_completed"] = sum(e.end_reason in ("success", "policy_done") for e in eps) / max(len(eps), 1)
    toks_all = [t for g in groups for _, t in g]
    summary["policy_tokens"] = sum(sum(t.mask) for t in toks_all) / max(len(toks_all), 1)
    summary["env_tokens"] = sum(len(t.mask) - sum(t.mask) for t in toks_all) / max(len(toks_all), 1)
    if cfg.env_url:   # remote episodes keep their states on the server (gigpo refuses --env-url)
        anchors = None
    else:
        anchors = [anchor_ids(task, [t.states for _, t in g]) for task, g in zip(tasks, groups)]
        summary.update(anchor_stats(anchors))
    return Batch(step=step, task_ids=[t.id for t in tasks], prompt_ids=[g[0][1].prompt for g in groups],
                 completions=[[t.completion for _, t in g] for g in groups],
                 logprobs=[[t.logprobs for _, t in g] for g in groups],
                 rewards=[[r.reward for r in results[k * cfg.group_size:(k + 1) * cfg.group_size]] for k in range(len(groups))],
                 texts=[[json.dumps(e.transcript()[1:])[:2000] for e, _ in g] for g in groups], summary=summary,
                 sample_seconds=time.perf_counter() - t0,
                 masks=[[t.mask for _, t in g] for g in groups],
                 turn_ids=[[t.turn for _, t in g] for g in groups],
                 turn_rewards=[[e.turn_rewards(reward) for e, _ in g] for g in groups],
                 turn_anchors=anchors)


def anchor_stats(anchors: Sequence[Sequence[Sequence[int]]]) -> dict[str, float]:
    """How much the turns of a batch share states, per group: ``anchor_shared``, the fraction of
    turns whose anchor group holds another turn (GiGPO's step advantage is 0 for the rest), and
    ``anchor_group_size``, the mean size of a turn's anchor group."""
    from collections import Counter

    sizes = []
    for group in anchors:
        count = Counter(a for ep in group for a in ep)
        sizes += [count[a] for ep in group for a in ep]
    n = max(len(sizes), 1)
    return {"anchor_shared": sum(s > 1 for s in sizes) / n, "anchor_group_size": sum(sizes) / n}


def evaluate(trainer, tasks: Sequence[Task]) -> dict[str, float]:
    """Greedy closed-loop episodes on held-out tasks."""
    from .rewards import summarize

    reward = _core.reward_preset(trainer.config.reward)
    groups = play(trainer, tasks, 1, 0.0, 0, logprobs=False)
    eps = [g[0][0] for g in groups]
    s = summarize([e.result(reward) for e in eps], prefix="eval_")
    s["eval_n"] = len(eps)
    s["eval_turns"] = sum(len(e.turns) for e in eps) / max(len(eps), 1)
    # the same episodes under every reward preset, so runs with different presets compare; remote
    # episodes (--env-url) are scored by their server under the run's preset only
    rescorable = not trainer.config.env_url
    for name in ("default", "embomatrix", "eai"):
        if name == trainer.config.reward:
            s[f"eval_reward_{name}"] = s["eval_reward"]
        elif rescorable:
            s[f"eval_reward_{name}"] = sum(e.result(name).reward for e in eps) / max(len(eps), 1)
    return s


def sft_examples(trainer, tasks: Sequence[Task]) -> list[tuple[list[int], int, list[int]]]:
    """Oracle episodes as (ids, prompt length, mask): the oracle's actions one a turn, emx's real
    feedback in between (masked), ending on the turn that reaches the goal."""
    fb = trainer._feedback_tokens
    eos = trainer.tokenizer.eos_token_id
    out = []
    for t in tasks:
        plan, _ = oracle_plan(t)
        if not plan or len(plan) > trainer.config.max_turns:
            continue
        ep = _episodes(trainer, [t])[0]
        toks = EpisodeTokens(_prompt_ids(trainer, ep))
        for k, action in enumerate(plan):
            ids = list(trainer.tokenizer(json.dumps([action]), add_special_tokens=False)["input_ids"]) + [eos]
            toks.add(ids, True, k)
            turn = ep.step(json.dumps([action]))
            if ep.done:
                break
            toks.add(fb.ids(turn.feedback, ids), False, k)
        _close([ep])
        if ep.done and ep.end_reason == "success" and len(toks) < trainer.config.max_model_len:
            out.append((toks.prompt + toks.completion, len(toks.prompt), toks.mask))
    return out


def turn_advantages(turn_rewards: Sequence[Sequence[float]], turn_ids: Sequence[Sequence[int]],
                    masks: Sequence[Sequence[int]], scale_std: bool = True, eps: float = 1e-6) -> list[list[float]]:
    """Per-token advantages of one group under per-turn credit: the return-to-go of each turn,
    normalised over every turn of the group, given to that turn's policy tokens (0 elsewhere)."""
    import torch

    returns = []
    for rs in turn_rewards:
        g, acc = [], 0.0
        for r in reversed(list(rs)):
            acc += r
            g.append(acc)
        returns.append(list(reversed(g)))
    flat = torch.tensor([x for g in returns for x in g], dtype=torch.float64)
    if flat.numel() == 0:
        return [[0.0] * len(m) for m in masks]
    mean = flat.mean()
    std = flat.std(unbiased=False) if flat.numel() > 1 else torch.tensor(0.0, dtype=torch.float64)
    if scale_std and float(std) <= 0:
        return [[0.0] * len(m) for m in masks]
    scale = (std + eps) if scale_std else 1.0
    out = []
    for g, ids, m in zip(returns, turn_ids, masks):
        out.append([float((g[t] - mean) / scale) if (mk and 0 <= t < len(g)) else 0.0 for t, mk in zip(ids, m)])
    return out
