"""Step-level credit from exact states: GiGPO (Group-in-Group Policy Optimization, Feng et al.
2025, arXiv 2505.10978; the verl-agent release), for closed-loop episodes (``--credit gigpo``).

A GRPO group is the ``group_size`` episodes of one task. GiGPO gives each policy turn

    A(i, t) = A_episode(i) + w * A_step(i, t)

* ``A_episode(i)`` -- the group-normalised episode reward, exactly as ``--credit episode`` gives it
  (``grpo.group_advantages``: (R_i - mean) / (std + eps), population std; 0 when the group's rewards
  are all equal; R_i - mean without ``scale_std``).
* ``A_step(i, t)`` -- the turn's discounted return G(i, t) = sum_k gamma^k r(i, t + k) over the
  per-turn rewards (``ClosedLoopEpisode.turn_rewards``: goal fraction gained, a penalty for a failed
  turn, the episode reward added on the last turn), normalised within its *anchor group*: every
  turn of the group's episodes that acted from the same world state (``emx.episodes.anchors``,
  exact ``WorldState`` equality; in physics mode the symbolic shadow state). (G - mean) / (std +
  eps) over the anchor group, population std; 0 for an anchor group of one turn or of equal
  returns; G - mean without ``scale_std``. Turns of one episode that act from the same state (a
  failed action leaves it unchanged) are in the same anchor group, as in GiGPO.

Defaults (``TrainConfig.gigpo_step_weight`` w = 1.0, ``gigpo_gamma`` = 0.95) are the paper's and
verl-agent's. Where we differ from verl-agent: the std is the population std (emx's GRPO
convention, not torch's unbiased default) and the normalisation is switched by emx's one
``scale_std`` flag for both levels (verl-agent's ``mode``: ``mean_std_norm`` / ``mean_norm``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

__all__ = ["discounted_returns", "gigpo_advantages", "step_advantages"]


def discounted_returns(rewards: Sequence[float], gamma: float) -> list[float]:
    """G_t = r_t + gamma * G_{t+1}, G after the last turn = 0."""
    out, acc = [], 0.0
    for r in reversed(list(rewards)):
        acc = float(r) + gamma * acc
        out.append(acc)
    return out[::-1]


def _normalise(values: Sequence[float], scale_std: bool, eps: float) -> list[float]:
    n = len(values)
    if n < 2:
        return [0.0] * n
    mean = sum(values) / n
    if max(values) == min(values):
        return [0.0] * n
    if not scale_std:
        return [v - mean for v in values]
    std = (sum((v - mean) ** 2 for v in values) / n) ** 0.5
    return [(v - mean) / (std + eps) for v in values]


def step_advantages(turn_rewards: Sequence[Sequence[float]], anchors: Sequence[Sequence[int]], gamma: float,
                    scale_std: bool = True, eps: float = 1e-6) -> list[list[float]]:
    """A_step(i, t) for one group: ``turn_rewards[i][t]`` and ``anchors[i][t]`` (anchor-state id
    of the state turn t acted from) per episode i."""
    returns = [discounted_returns(rs, gamma) for rs in turn_rewards]
    members: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for i, (g, ids) in enumerate(zip(returns, anchors)):
        if len(ids) != len(g):
            raise ValueError(f"episode {i}: {len(g)} turn rewards but {len(ids)} anchor states")
        for t, a in enumerate(ids):
            members[a].append((i, t))
    out = [[0.0] * len(g) for g in returns]
    for cells in members.values():
        for (i, t), a in zip(cells, _normalise([returns[i][t] for i, t in cells], scale_std, eps)):
            out[i][t] = a
    return out


def gigpo_advantages(rewards: Sequence[float], turn_rewards: Sequence[Sequence[float]],
                     anchors: Sequence[Sequence[int]], turn_ids: Sequence[Sequence[int]],
                     masks: Sequence[Sequence[int]], weight: float = 1.0, gamma: float = 0.95,
                     scale_std: bool = True, eps: float = 1e-6) -> list[list[float]]:
    """Per-token advantages of one group under GiGPO credit: A_episode(i) + weight * A_step(i, t)
    on the policy tokens of turn t (``turn_ids``/``masks`` as in ``EpisodeTokens``), 0 on emx's."""
    from .grpo import group_advantages

    episode = group_advantages([list(rewards)], scale_std, eps)[0]
    step = step_advantages(turn_rewards, anchors, gamma, scale_std, eps)
    out = []
    for a_ep, a_step, ids, mask in zip(episode, step, turn_ids, masks):
        out.append([a_ep + weight * a_step[t] if (m and 0 <= t < len(a_step)) else 0.0 for t, m in zip(ids, mask)])
    return out
