"""GRPO pieces, checkpoints, tiny tasks/model and bad model output: no vLLM needed."""

import json
import math

import pytest

torch = pytest.importorskip("torch")

import emx  # noqa: E402
from emx.train import grpo  # noqa: E402
from emx.train.config import PRESETS, TrainConfig, preset  # noqa: E402
from emx.train.rewards import score, summarize  # noqa: E402
from emx.train.tiny_tasks import household_tasks  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402


def test_group_advantages_normalise_and_skip_std():
    adv = grpo.group_advantages([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5]], scale_std=True, eps=0.0)
    assert adv[0] == pytest.approx([1.0, -1.0, -1.0, 1.0])
    assert adv[1] == [0.0, 0.0]                       # equal rewards: no signal
    raw = grpo.group_advantages([[2.0, 0.0]], scale_std=False)
    assert raw[0] == pytest.approx([1.0, -1.0])


def test_clipped_loss_low_high_clip_and_token_aggregation():
    logp = torch.log(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    old = torch.log(torch.tensor([[0.25, 0.5], [0.5, 0.9]]))   # ratios 2, 1 | 1, 0.556
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 1], [1, 1]])
    loss, st = grpo.clipped_loss(logp, old, adv, mask, total_tokens=4, clip_low=0.2, clip_high=0.28)
    # row 0: min(2*1, 1.28*1)=1.28, min(1,1)=1 ; row 1: -min(-1,-1)=1, min(-0.556, -0.8) -> -0.8
    expected = -(1.28 + 1.0 + (-1.0) + (-0.8)) / 4
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert st.clip_fraction == pytest.approx(0.5)
    # aggregation divides by the whole batch's tokens, not this micro-batch's
    loss8, _ = grpo.clipped_loss(logp, old, adv, mask, total_tokens=8)
    assert float(loss8) == pytest.approx(float(loss) / 2, rel=1e-5)


def test_k3_kl_is_zero_at_reference_and_positive_elsewhere():
    logp = torch.log(torch.tensor([[0.5, 0.2]]))
    adv = torch.tensor([0.0])
    mask = torch.ones(1, 2)
    _, same = grpo.clipped_loss(logp, logp.clone(), adv, mask, 2, ref_logp=logp.clone(), beta=0.1)
    assert same.kl == pytest.approx(0.0, abs=1e-7)
    ref = torch.log(torch.tensor([[0.3, 0.6]]))
    loss, st = grpo.clipped_loss(logp, logp.clone(), adv, mask, 2, ref_logp=ref, beta=0.1)
    assert st.kl > 0 and float(loss) == pytest.approx(0.1 * st.kl, rel=1e-5)


def test_pad_batch_marks_completion_positions():
    ids, attn, comp = grpo.pad_batch([[5, 6, 7, 8], [5, 6, 9]], [2, 2], pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 8], [5, 6, 9, 0]]
    assert attn.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    # next-token positions: predicting 7, 8 (row 0) and 9 (row 1)
    assert comp.tolist() == [[False, True, True], [False, True, False]]


def test_tiny_tasks_are_deterministic_and_oracle_solvable():
    a = household_tasks(40, 3)
    b = household_tasks(40, 3)
    assert [t.spec.bddl_text for t in a] == [t.spec.bddl_text for t in b]
    lengths = set()
    for t in a:
        plan, reason = oracle_plan(t)
        assert plan is not None, reason
        assert emx.evaluate(t, plan).success
        lengths.add(len(plan))
    assert min(lengths) >= 1 and max(lengths) <= 6


@pytest.mark.parametrize("text", ["", "   ", "[[[[[[[[", "garbage ]} {[ \x00\xff", '[{"action": "OPEN", ' * 500,
                                  "<think>" + "loop " * 5000, '[{"action": "FLY", "object": "moon"}]'])
def test_bad_model_output_is_a_format_or_step_failure_never_a_crash(text):
    task = household_tasks(1, 0)[0]
    (r,) = score([task], [text], backend="inprocess")
    assert math.isfinite(r.reward)
    assert not r.success
    if not r.format_ok:
        assert r.reward == -1.0


def test_summarize_logs_every_reward_level():
    tasks = household_tasks(4, 0)
    texts = [json.dumps(oracle_plan(t)[0]) for t in tasks[:2]] + ["", "nonsense"]
    s = summarize(score(tasks, texts, backend="inprocess"))
    for key in ("reward", "format_ok", "executability", "goal_fraction", "success", "plan_length"):
        assert key in s
    assert s["success"] == pytest.approx(0.5) and s["format_ok"] == pytest.approx(0.5)


def test_presets_and_config_roundtrip():
    assert set(PRESETS) >= {"tiny", "tiny-ci", "model"}
    cfg = preset("tiny-ci", max_steps=3, out="x")
    assert cfg.max_steps == 3 and cfg.out == "x"
    assert TrainConfig.from_dict(json.loads(cfg.dumps())) == cfg
    with pytest.raises(ValueError, match="unknown training preset"):
        preset("huge")


def test_tiny_model_and_tokenizer_roundtrip(tmp_path):
    from emx.policy.vllm_policy import load_tokenizer
    from emx.train.tiny_model import build_tiny_model
    from transformers import AutoModelForCausalLM

    texts = ["command: put the apple on the table", '[{"action": "RIGHT_GRASP", "object": "apple.n.01_1"}]']
    d = build_tiny_model(tmp_path / "m", texts * 20, hidden_size=64, intermediate_size=128, heads=1, kv_heads=1)
    tok = load_tokenizer(d)
    ids = tok(texts[1], add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == texts[1]
    assert len(ids) < 10                     # names and JSON fragments are whole tokens
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(str(d))
    assert model.config.head_dim == 64 and model.config.num_hidden_layers == 2


def _tiny_trainer(tmp_path):
    """A Trainer with a small model and an optimiser, without vLLM."""
    from emx.train.tiny_model import build_tiny_model
    from emx.train.trainer import Trainer

    d = build_tiny_model(tmp_path / "m", ["a b c d e f"] * 10, hidden_size=64, intermediate_size=128,
                         heads=1, kv_heads=1)
    tr = Trainer(TrainConfig(out=str(tmp_path / "run"), model=str(d), warmup_steps=0, max_steps=10))
    tr._setup_torch()
    tr._load_model(d)
    tr.optimizer, tr.scheduler = tr._make_optimizer(1e-3, 10, 0)
    return tr


def _batch(tok):
    from emx.train.trainer import Batch

    p = tok("a b c", add_special_tokens=False)["input_ids"]
    c1, c2 = tok(" d e", add_special_tokens=False)["input_ids"], tok(" f", add_special_tokens=False)["input_ids"]
    return Batch(step=0, task_ids=["t"], prompt_ids=[p], completions=[[c1, c2]],
                 logprobs=[[[-1.0] * len(c1), [-2.0] * len(c2)]], rewards=[[1.0, 0.0]], texts=[["", ""]])


def test_learn_step_updates_weights(tmp_path):
    tr = _tiny_trainer(tmp_path)
    before = [p.detach().clone() for p in tr.model.parameters()]
    stats = tr.learn(_batch(tr.tokenizer))
    assert stats["skipped"] == "" and stats["trained_sequences"] == 2 and math.isfinite(stats["grad_norm"])
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.model.parameters()))


def test_nan_loss_skips_the_step_and_says_so(tmp_path):
    tr = _tiny_trainer(tmp_path)
    with torch.no_grad():
        tr.model.model.norm.weight.fill_(float("nan"))
    before = [p.detach().clone() for p in tr.model.parameters()]
    stats = tr.learn(_batch(tr.tokenizer))
    assert stats["skipped"] == "non-finite loss"
    after = list(tr.model.parameters())
    assert all(torch.equal(a, b) or (torch.isnan(a).all() and torch.isnan(b).all()) for a, b in zip(before, after))


def test_corrupt_checkpoint_names_the_file(tmp_path):
    from emx.train import checkpoint as ckpt

    tr = _tiny_trainer(tmp_path)
    path = ckpt.save(tmp_path / "ck", 2, tr.save_model, {"step": 2})
    assert ckpt.latest(tmp_path / "ck") == path
    assert ckpt.load_state(path)["step"] == 2
    ckpt.check_model_dir(path / "model")
    state_file = path / "trainer_state.pt"
    state_file.write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="trainer_state.pt"):
        ckpt.load_state(path)
    weights = path / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ckpt.CheckpointError, match="model.safetensors"):
        ckpt.check_model_dir(path / "model")


def test_lora_sync_state_is_the_merged_base_model(tmp_path):
    pytest.importorskip("peft")
    from emx.train.tiny_model import build_tiny_model
    from emx.train.trainer import Trainer

    d = build_tiny_model(tmp_path / "m", ["a b c d e f"] * 10, hidden_size=64, intermediate_size=128,
                         heads=1, kv_heads=1)
    tr = Trainer(TrainConfig(out=str(tmp_path / "run"), model=str(d), lora=True, lora_r=4))
    tr._setup_torch()
    tr._load_model(d)
    from safetensors.torch import load_file

    base_keys = set(load_file(str(d / "model.safetensors")))
    state = tr.state_dict_for_sync()
    assert set(state) >= base_keys - {"lm_head.weight"} and not any("lora_" in k for k in state)
    q = "model.layers.0.self_attn.q_proj.weight"
    before = state[q].clone()
    with torch.no_grad():
        for name, p in tr.model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.1)
    after = tr.state_dict_for_sync()[q]
    assert not torch.allclose(before, after)                # the adapter is merged into the synced weight
    assert torch.allclose(tr.state_dict_for_sync()[q], after)  # and unmerged again in the model
