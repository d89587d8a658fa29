"""GRPO's pieces as plain functions: group-normalised advantages, per-token logprobs, the
PPO-clipped objective with separate low/high clip (DAPO's clip-higher), and the k3 KL estimator.

Loss aggregation is token-level: every completion token in the whole batch weighs the same,
so the sum over micro-batches is divided by the batch's total completion tokens (passed in),
which keeps gradient accumulation exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


def group_advantages(rewards: Sequence[Sequence[float]], scale_std: bool = True, eps: float = 1e-6) -> list[list[float]]:
    """(r - mean(group)) / (std(group) + eps), or r - mean(group) when `scale_std` is off.
    A group whose rewards are all equal carries no signal: its advantages are 0."""
    out = []
    for group in rewards:
        r = torch.tensor(list(group), dtype=torch.float64)
        if r.numel() == 0:
            out.append([])
            continue
        centred = r - r.mean()
        if scale_std:
            std = r.std(unbiased=False) if r.numel() > 1 else torch.tensor(0.0, dtype=torch.float64)
            centred = centred / (std + eps) if float(std) > 0 else torch.zeros_like(centred)
        out.append([float(x) for x in centred])
    return out


def pad_batch(sequences: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int,
              masks: Sequence[Sequence[int]] | None = None):
    """Right-padded input ids, attention mask and a mask of the positions whose *next* token is a
    completion token (the positions whose logprob the loss uses). starts[i]: prompt length;
    masks[i] (optional): which completion tokens count (see completion_mask)."""
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attn = torch.zeros((len(sequences), length), dtype=torch.long)
    comp = torch.zeros((len(sequences), length - 1), dtype=torch.bool)
    for i, (seq, start) in enumerate(zip(sequences, starts)):
        ids[i, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        attn[i, : len(seq)] = 1
        comp[i, max(start - 1, 0): len(seq) - 1] = True
    if masks is not None:
        comp = completion_mask(comp, starts, masks)
    return ids, attn, comp


def completion_mask(comp: torch.Tensor, starts: Sequence[int], masks: Sequence[Sequence[int]]) -> torch.Tensor:
    """``comp`` (from pad_batch) with each sequence's completion positions set from its mask:
    1 for tokens the policy sampled, 0 for tokens the environment wrote (closed-loop episodes),
    so the loss and its gradient see the policy's tokens only."""
    comp = comp.clone()
    for i, (start, m) in enumerate(zip(starts, masks)):
        lo = max(start - 1, 0)
        comp[i, lo: lo + len(m)] = torch.tensor(list(m), dtype=torch.bool)
    return comp


def token_logprobs(model, ids: torch.Tensor, attn: torch.Tensor, temperature: float = 1.0,
                   autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """log p(ids[:, t+1] | ids[:, :t+1]) for every t, shape [B, L-1], in fp32."""
    device = next(model.parameters()).device
    ids, attn = ids.to(device), attn.to(device)
    if autocast_dtype is not None:
        with torch.autocast(device_type=device.type, dtype=autocast_dtype):
            logits = model(input_ids=ids, attention_mask=attn).logits
    else:
        logits = model(input_ids=ids, attention_mask=attn).logits
    logits = logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


@dataclass
class LossStats:
    loss: float
    clip_fraction: float
    ratio_mean: float
    kl: float
    tokens: int


def clipped_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
                 total_tokens: int, clip_low: float = 0.2, clip_high: float = 0.28,
                 ref_logp: torch.Tensor | None = None, beta: float = 0.0) -> tuple[torch.Tensor, LossStats]:
    """The token-level GRPO objective of one micro-batch, to minimise.

    logp, old_logp, ref_logp, mask: [B, T]; adv: [B] (one advantage per completion) or [B, T] (one
    per token: per-turn credit in closed-loop episodes).
    old_logp are the behaviour policy's logprobs (the sampler's, one step behind when rollout and
    learning overlap): the ratio exp(logp - old_logp) corrects for that lag, and the clip keeps
    the step near the policy that sampled.
    """
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp)
    a = (adv.unsqueeze(-1) if adv.dim() == 1 else adv).to(logp.dtype)
    unclipped = ratio * a
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * a
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logp)
    if ref_logp is not None and beta > 0:
        # k3 estimator of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1 >= 0, unbiased, low variance
        d = ref_logp - logp
        kl = torch.exp(d) - d - 1.0
        per_token = per_token + beta * kl
    denom = max(int(total_tokens), 1)
    loss = (per_token * mask).sum() / denom
    with torch.no_grad():
        n = mask.sum().clamp(min=1.0)
        was_clipped = ((ratio < 1.0 - clip_low) & (a < 0)) | ((ratio > 1.0 + clip_high) & (a > 0))
        stats = LossStats(loss=float(loss), clip_fraction=float((was_clipped.to(mask.dtype) * mask).sum() / n),
                          ratio_mean=float((ratio * mask).sum() / n), kl=float((kl * mask).sum() / n),
                          tokens=int(mask.sum()))
    return loss, stats


def sft_loss(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the completion tokens."""
    mask = mask.to(logp.dtype)
    return -(logp * mask).sum() / mask.sum().clamp(min=1.0)
