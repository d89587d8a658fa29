"""GiGPO credit (``--credit gigpo``): advantages on hand-built trajectories with shared states
against numbers worked out by hand, anchor states from real episodes, and the trainer's wiring.
No vLLM needed."""

import json
import math

import pytest

torch = pytest.importorskip("torch")

from emx.episodes import ClosedLoopEpisode  # noqa: E402
from emx.episodes.anchors import anchor_ids, state_key  # noqa: E402
from emx.train.config import TrainConfig, preset  # noqa: E402
from emx.train.credit import discounted_returns, gigpo_advantages, step_advantages  # noqa: E402

# Three episodes of one GRPO group. Episode rewards R, per-turn rewards r, and the anchor state
# (the state each turn acted from) of every turn: A is the initial state (turn 0 of every episode,
# and turn 1 of episode 2, whose first action failed and left the state as it was); B is reached
# by episodes 0 and 1 along different paths; C only by episode 1.
R = [1.0, 0.0, 0.5]
TURN_REWARDS = [[0.0, 1.0], [-0.1, 0.0, 0.2], [-0.1, 0.5]]
A, B, C = 0, 1, 2
ANCHORS = [[A, B], [A, C, B], [A, A]]
TURN_IDS = [[0, 0, -1, 1], [0, -1, 1, -1, 2], [0, -1, 1]]        # tokens: policy turn, -1 = emx's feedback
MASKS = [[1, 1, 0, 1], [1, 0, 1, 0, 1], [1, 0, 1]]


def test_discounted_returns():
    assert discounted_returns([-0.1, 0.0, 0.2], 0.5) == pytest.approx([-0.05, 0.1, 0.2])
    assert discounted_returns([1.0, 1.0, 1.0], 1.0) == pytest.approx([3.0, 2.0, 1.0])
    assert discounted_returns([], 0.9) == []


def test_gigpo_advantages_equal_the_formula_worked_by_hand():
    # Episode level: mean R = 0.5, population std = sqrt((0.25 + 0.25 + 0) / 3) = sqrt(1/6)
    sd = math.sqrt(1 / 6)
    a_ep = [0.5 / sd, -0.5 / sd, 0.0]                                 # +-1.2247449, 0
    # Discounted returns, gamma = 0.5: G_t = r_t + 0.5 G_{t+1}
    #   ep0: [0 + 0.5*1, 1] = [0.5, 1.0]
    #   ep1: [-0.1 + 0.5*(0 + 0.5*0.2), 0 + 0.5*0.2, 0.2] = [-0.05, 0.1, 0.2]
    #   ep2: [-0.1 + 0.5*0.5, 0.5] = [0.15, 0.5]
    # Anchor group A: {0.5, -0.05, 0.15, 0.5}: mean 0.275, deviations 0.225, -0.325, -0.125, 0.225,
    #   population variance (0.050625 + 0.105625 + 0.015625 + 0.050625) / 4 = 0.055625
    sa = math.sqrt(0.055625)                                          # 0.2358495
    # Anchor group B: {1.0 (ep0 turn 1), 0.2 (ep1 turn 2)}: mean 0.6, std 0.4 -> +1, -1
    # Anchor group C: {0.1}: a group of one -> 0
    w = 0.5
    want = [
        [a_ep[0] + w * 0.225 / sa, a_ep[0] + w * 1.0],                              # 1.7017439, 1.7247449
        [a_ep[1] + w * -0.325 / sa, a_ep[1] + w * 0.0, a_ep[1] + w * -1.0],          # -1.9137435, -1.2247449, -1.7247449
        [a_ep[2] + w * -0.125 / sa, a_ep[2] + w * 0.225 / sa],                       # -0.2649995, 0.4769990
    ]
    assert want[0][0] == pytest.approx(1.7017439, abs=1e-6) and want[1][0] == pytest.approx(-1.9137435, abs=1e-6)
    step = step_advantages(TURN_REWARDS, ANCHORS, gamma=0.5, scale_std=True, eps=0.0)
    assert step == [pytest.approx(x) for x in ([0.225 / sa, 1.0], [-0.325 / sa, 0.0, -1.0], [-0.125 / sa, 0.225 / sa])]
    adv = gigpo_advantages(R, TURN_REWARDS, ANCHORS, TURN_IDS, MASKS, weight=w, gamma=0.5, scale_std=True, eps=0.0)
    # every policy token of turn t gets A(i, t); emx's feedback tokens get 0
    assert adv[0] == pytest.approx([want[0][0], want[0][0], 0.0, want[0][1]])
    assert adv[1] == pytest.approx([want[1][0], 0.0, want[1][1], 0.0, want[1][2]])
    assert adv[2] == pytest.approx([want[2][0], 0.0, want[2][1]])


def test_gigpo_mean_only_normalisation():
    # scale_std off: both levels are x - mean. Episode: [0.5, -0.5, 0]; group A: [0.225, -0.325,
    # -0.125, 0.225]; group B: [0.4, -0.4]; group C: 0. Weight 0.5.
    adv = gigpo_advantages(R, TURN_REWARDS, ANCHORS, TURN_IDS, MASKS, weight=0.5, gamma=0.5, scale_std=False)
    assert adv[0] == pytest.approx([0.6125, 0.6125, 0.0, 0.7])
    assert adv[1] == pytest.approx([-0.6625, 0.0, -0.5, 0.0, -0.7])
    assert adv[2] == pytest.approx([-0.0625, 0.0, 0.1125])


def test_gigpo_without_shared_states_or_signal():
    # no two turns share a state: the step level adds nothing, GiGPO is episode credit
    adv = gigpo_advantages([1.0, 0.0], [[0.3, 0.7], [0.1]], [[0, 1], [2]], [[0, 1], [0]], [[1, 1], [1]],
                           weight=1.0, gamma=0.95, eps=0.0)
    assert adv == [pytest.approx([1.0, 1.0]), pytest.approx([-1.0])]
    # equal rewards and equal returns from the same state: no signal at all
    flat = gigpo_advantages([1.0, 1.0], [[1.0], [1.0]], [[0], [0]], [[0], [0]], [[1], [1]])
    assert flat == [[0.0], [0.0]]
    with pytest.raises(ValueError, match="anchor states"):
        step_advantages([[1.0, 2.0]], [[0]], 0.9)


def _task(kind="inside_closed"):
    from emx.train.tiny_tasks import household_tasks

    return next(t for t in household_tasks(40, 1) if t.id.endswith(kind))


def _play(task, answers):
    """The states each turn acted from, as the trainer records them."""
    ep = ClosedLoopEpisode(task, max_turns=10, prompt_format="compact")
    states = []
    for a in answers:
        states.append(ep.current_state().copy())
        ep.step(json.dumps([a]))
    return ep, states


def test_anchor_states_of_real_episodes_are_exact_world_states():
    from emx.policy.oracle import oracle_plan

    task = _task()                                     # "put the X in the cabinet": OPEN, GRASP, PLACE
    open_, grasp, place = oracle_plan(task)[0]
    _, s0 = _play(task, [open_, grasp, place])
    _, s1 = _play(task, [grasp, open_, place])         # the same state after two turns, another path
    ep2, s2 = _play(task, [place, open_])              # placing with an empty hand fails: state unchanged
    assert not ep2.turns[0].steps[0].ok
    ids = anchor_ids(task, [s0, s1, s2])
    # initial state = 0; after OPEN = 1; after OPEN+GRASP (either order) = 2; after GRASP = 3
    assert ids == [[0, 1, 2], [0, 3, 2], [0, 0]]
    assert state_key(task, s0[2]) == state_key(task, s1[2]) and s0[2] == s1[2]


def test_anchor_grouping_is_exact_even_when_keys_collide():
    from emx.policy.oracle import oracle_plan

    task = _task()
    open_, grasp, place = oracle_plan(task)[0]
    _, s0 = _play(task, [open_, grasp, place])
    _, s1 = _play(task, [grasp, open_, place])
    same_key = anchor_ids(task, [s0, s1], key=lambda t, s: 0)   # every state in one bucket
    assert same_key == anchor_ids(task, [s0, s1]) == [[0, 1, 2], [0, 3, 2]]


def test_gigpo_config_and_cli():
    cfg = preset("tiny-closed-loop-ci", credit="gigpo")
    assert (cfg.gigpo_step_weight, cfg.gigpo_gamma) == (1.0, 0.95)
    assert TrainConfig.from_dict(json.loads(cfg.dumps())) == cfg
    with pytest.raises(ValueError, match="closed-loop"):
        preset("tiny-ci", credit="gigpo")
    with pytest.raises(ValueError, match="gigpo_gamma"):
        preset("tiny-closed-loop-ci", credit="gigpo", gigpo_gamma=1.5)
    with pytest.raises(ValueError, match="unknown credit"):
        preset("tiny-closed-loop-ci", credit="value")
    import argparse

    from emx.train.cli import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--episode", "closed-loop", "--credit", "gigpo", "--gigpo-step-weight", "0.5",
                         "--gigpo-gamma", "0.9"])
    cfg = config_from_args(args)
    assert (cfg.episode, cfg.credit, cfg.gigpo_step_weight, cfg.gigpo_gamma) == ("closed-loop", "gigpo", 0.5, 0.9)


def test_learn_uses_gigpo_advantages(tmp_path):
    """With the behaviour logprobs equal to the learner's, every ratio is 1 and the loss is minus
    the mean token advantage: it must be GiGPO's."""
    from emx.train.grpo import pad_batch, token_logprobs
    from emx.train.tiny_model import build_tiny_model
    from emx.train.trainer import Batch, Trainer

    d = build_tiny_model(tmp_path / "m", ["a b c d e f"] * 10, hidden_size=64, intermediate_size=128,
                         heads=1, kv_heads=1)
    cfg = TrainConfig(out=str(tmp_path / "run"), model=str(d), warmup_steps=0, max_steps=10, episode="closed-loop",
                      credit="gigpo", gigpo_step_weight=0.5, gigpo_gamma=0.5, adv_eps=0.0)
    tr = Trainer(cfg)
    tr._setup_torch()
    tr._load_model(d)
    tr.optimizer, tr.scheduler = tr._make_optimizer(1e-3, 10, 0)
    tok = tr.tokenizer
    prompt = tok("a b", add_special_tokens=False)["input_ids"]
    vocab = tok(" c d e f", add_special_tokens=False)["input_ids"]
    comps = [[vocab[k % len(vocab)] for k in range(len(m))] for m in MASKS]
    logprobs = []
    with torch.no_grad():
        for c, m in zip(comps, MASKS):
            ids, attn, _ = pad_batch([prompt + c], [len(prompt)], tok.pad_token_id)
            lp = token_logprobs(tr.model, ids, attn, cfg.temperature)[0, len(prompt) - 1:].tolist()
            logprobs.append([x if k else 0.0 for x, k in zip(lp, m)])
    batch = Batch(step=0, task_ids=["t"], prompt_ids=[prompt], completions=[comps], logprobs=[logprobs],
                  rewards=[R], texts=[["", "", ""]], masks=[MASKS], turn_ids=[TURN_IDS],
                  turn_rewards=[TURN_REWARDS], turn_anchors=[ANCHORS])
    stats = tr.learn(batch)
    adv = gigpo_advantages(R, TURN_REWARDS, ANCHORS, TURN_IDS, MASKS, 0.5, 0.5, True, 0.0)
    tokens = sum(map(sum, MASKS))
    assert stats["skipped"] == "" and stats["trained_sequences"] == 3
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-5)
    assert stats["loss"] == pytest.approx(-sum(map(sum, adv)) / tokens, abs=1e-5)
