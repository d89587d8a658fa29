"""GRPO over closed-loop episodes with the tiny model and vLLM: a shortened run, and the masks
that keep emx's feedback tokens out of the loss."""

import json

import pytest

pytest.importorskip("vllm")
torch = pytest.importorskip("torch")

from emx.train import Trainer, preset  # noqa: E402
from emx.train.closed_loop import FeedbackTokens, turn_advantages  # noqa: E402

STEPS = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("closed_loop")
    trainer = Trainer(preset("tiny-closed-loop-ci", out=str(out), max_steps=STEPS, trainer_threads=1))
    summary = trainer.run()
    yield trainer, summary
    trainer.close()


def _rows(path, kind):
    return [r for r in map(json.loads, open(path)) if r.get("kind") == kind]


def test_closed_loop_run_writes_metrics_and_plays_episodes(run):
    trainer, summary = run
    train = _rows(trainer.out / "metrics.jsonl", "train")
    assert [r["step"] for r in train] == list(range(1, STEPS + 1))
    for r in train:
        assert 1 <= r["turns"] <= trainer.config.max_turns
        assert r["policy_tokens"] > 0 and r["env_tokens"] > 0
        assert 0.0 <= r["episodes_completed"] <= 1.0
    assert summary["final_eval"]["eval_n"] == 16 and summary["final_eval"]["eval_turns"] >= 1
    assert (trainer.out / "curves.png").is_file()


def test_sft_demonstrations_are_real_episodes_with_masked_feedback(run):
    from emx.train.closed_loop import sft_examples
    from emx.train.tiny_tasks import household_tasks

    trainer, _ = run
    examples = sft_examples(trainer, household_tasks(8, 3))
    assert examples
    tok = trainer.tokenizer
    multi_turn = 0
    for ids, start, mask in examples:
        assert len(ids) == start + len(mask) and 1 in mask
        policy_text = tok.decode([t for t, m in zip(ids[start:], mask) if m], skip_special_tokens=True)
        env_text = tok.decode([t for t, m in zip(ids[start:], mask) if not m], skip_special_tokens=True)
        assert '"action"' in policy_text and '"action"' not in env_text
        if policy_text.count('"action"') > 1:         # feedback between the turns, never learnt
            multi_turn += 1
            assert 0 in mask and "ok: " in env_text
    assert multi_turn > 0


def test_sampled_episodes_mask_exactly_the_environment_tokens(run):
    trainer, _ = run
    batch = trainer.sample_batch(99)
    fb = trainer._feedback_tokens
    for g in range(len(batch.completions)):
        for comp, lps, mask, turns in zip(batch.completions[g], batch.logprobs[g], batch.masks[g], batch.turn_ids[g]):
            assert len(comp) == len(lps) == len(mask) == len(turns)
            # environment tokens have no behaviour logprob and no turn; policy tokens have both
            assert all(lp == 0.0 and t == -1 for lp, t, m in zip(lps, turns, mask) if not m)
            assert all(t >= 0 for t, m in zip(turns, mask) if m)
            # every run of environment tokens decodes to a feedback turn of the chat template
            runs, cur = [], []
            for tok_id, m in zip(comp, mask):
                if not m:
                    cur.append(tok_id)
                elif cur:
                    runs.append(cur)
                    cur = []
            for r in runs:
                text = trainer.tokenizer.decode(r, skip_special_tokens=False)
                # the template's between-turn text, less the end-of-turn token when the policy sampled it
                eot = trainer.tokenizer.eos_token
                assert text.startswith(fb.prefix) or (fb.prefix.startswith(eot) and text.startswith(fb.prefix[len(eot):]))
                assert text.endswith(fb.suffix)


def test_the_loss_has_no_gradient_through_environment_tokens(run):
    """Gradient of the learner's loss w.r.t. the logits: zero at every position whose next token
    emx wrote, non-zero at the policy's."""
    from emx.train.grpo import clipped_loss, completion_mask, pad_batch, token_logprobs

    trainer, _ = run
    batch = trainer.sample_batch(98)
    comp_ids, lps, mask = batch.completions[0][0], batch.logprobs[0][0], batch.masks[0][0]
    prompt = batch.prompt_ids[0]
    ids, attn, comp = pad_batch([prompt + comp_ids], [len(prompt)], trainer.tokenizer.pad_token_id)
    comp = completion_mask(comp, [len(prompt)], [mask])
    captured = {}

    def hook(_module, _inp, output):
        output.logits.retain_grad()
        captured["logits"] = output.logits

    handle = trainer.model.register_forward_hook(hook)
    try:
        logp = token_logprobs(trainer.model, ids, attn, trainer.config.temperature)
    finally:
        handle.remove()
    old = torch.zeros(comp.shape)
    old[0, len(prompt) - 1: len(prompt) - 1 + len(lps)] = torch.tensor(lps)
    loss, st = clipped_loss(logp, old, torch.ones(1), comp, int(sum(mask)))
    loss.backward()
    grad = captured["logits"].grad[0, :-1].abs().sum(-1)         # position t predicts token t+1
    trainer.model.zero_grad(set_to_none=True)
    env_pos = [len(prompt) - 1 + j for j, m in enumerate(mask) if not m]
    pol_pos = [len(prompt) - 1 + j for j, m in enumerate(mask) if m]
    assert env_pos and pol_pos and st.tokens == sum(mask)
    assert float(grad[env_pos].max()) == 0.0
    assert float(grad[pol_pos].min()) > 0.0


def test_gigpo_credit_on_sampled_episodes(run):
    """Sampled episodes carry the anchor state of every turn (turn 0 of every episode acts from the
    task's initial state), and the learner takes a GiGPO step on them."""
    import dataclasses

    from emx.train.credit import gigpo_advantages

    trainer, _ = run
    batch = trainer.sample_batch(97)
    assert 0.0 <= batch.summary["anchor_shared"] <= 1.0 and batch.summary["anchor_group_size"] >= 1.0
    for g in range(len(batch.completions)):
        for anchors, rewards, turns in zip(batch.turn_anchors[g], batch.turn_rewards[g], batch.turn_ids[g]):
            assert len(anchors) == len(rewards) == max(turns) + 1 and anchors[0] == 0
    saved = trainer.config
    trainer.config = dataclasses.replace(saved, credit="gigpo")
    try:
        stats = trainer.learn(batch)
    finally:
        trainer.config = saved
    advs = [gigpo_advantages(batch.rewards[g], batch.turn_rewards[g], batch.turn_anchors[g], batch.turn_ids[g],
                             batch.masks[g]) for g in range(len(batch.completions))]
    trainable = sum(1 for ga in advs for a in ga if any(a))
    assert stats["skipped"] == "" and stats["trained_sequences"] == trainable


def test_turn_credit_normalises_returns_over_the_group():
    rewards = [[0.5, 0.0, 1.0], [-0.1, 0.2]]                      # two episodes' per-turn rewards
    turn_ids = [[0, 0, -1, 1, -1, 2], [0, -1, 1, 1]]
    masks = [[1, 1, 0, 1, 0, 1], [1, 0, 1, 1]]
    adv = turn_advantages(rewards, turn_ids, masks)
    returns = torch.tensor([1.5, 1.0, 1.0, 0.1, 0.2], dtype=torch.float64)
    z = ((returns - returns.mean()) / (returns.std(unbiased=False) + 1e-6)).tolist()
    assert adv[0] == pytest.approx([z[0], z[0], 0.0, z[1], 0.0, z[2]])
    assert adv[1] == pytest.approx([z[3], 0.0, z[4], z[4]])
    flat = turn_advantages([[1.0], [1.0]], [[0], [0]], [[1], [1]])
    assert flat == [[0.0], [0.0]]                                 # equal returns: no signal


def test_feedback_tokens_work_with_another_chat_template(run):
    """Not only ChatML: the text between turns is found from the template itself."""
    import copy

    trainer, _ = run
    tok = copy.deepcopy(trainer.tokenizer)
    tok.chat_template = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}<|im_end|>{% endfor %}"
                         "{% if add_generation_prompt %}[assistant] {% endif %}")
    fb = FeedbackTokens(tok)
    assert fb.prefix == "<|im_end|>[user] " and fb.suffix == "<|im_end|>[assistant] "
    ids = fb.ids("ok: OPEN(fridge_1)", [5, tok.eos_token_id])
    assert tok.decode(ids) == "[user] ok: OPEN(fridge_1)<|im_end|>[assistant] "
    cut = fb.ids("ok", [5, 6])                                    # a turn cut at max tokens is closed first
    assert tok.decode(cut).startswith("<|im_end|>[user] ok")


def test_feedback_tokens_when_eos_is_not_the_end_of_turn_or_there_is_no_template(run):
    """A base model's tokenizer: eos is <|endoftext|> while the template ends turns with
    <|im_end|>; and a tokenizer with no chat template at all. Both give the template's own text."""
    import copy

    trainer, _ = run
    tok = copy.deepcopy(trainer.tokenizer)
    tok.add_special_tokens({"eos_token": "<|endoftext|>"})
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    fb = FeedbackTokens(tok)
    assert fb.prefix == "<|im_end|>\n<|im_start|>user\n" and fb.suffix == "<|im_end|>\n<|im_start|>assistant\n"
    for sampled in ([5, tok.eos_token_id], [5, 6]):     # stopped on <|endoftext|>, or cut: the turn is closed
        assert tok.decode(fb.ids("ok", sampled)) == "<|im_end|>\n<|im_start|>user\nok<|im_end|>\n<|im_start|>assistant\n"
    im_end = tok.convert_tokens_to_ids("<|im_end|>")     # stopped on the generation config's <|im_end|>
    assert tok.decode(fb.ids("ok", [5, im_end])) == "\n<|im_start|>user\nok<|im_end|>\n<|im_start|>assistant\n"

    plain = copy.deepcopy(trainer.tokenizer)
    plain.chat_template = None
    fb = FeedbackTokens(plain)
    assert (fb.prefix, fb.suffix) == ("\n", "\n")
    assert plain.decode(fb.ids("failed: no fridge", [5, 6])) == "\nfailed: no fridge\n"


def test_vllm_policy_plays_closed_loop_episodes(run):
    """emx eval --episode closed-loop with a vllm: policy: the chat history goes back to the model
    every turn; whatever it says is scored."""
    from emx.episodes import run_closed_loop
    from emx.policy.vllm_policy import VLLMPolicy
    from emx.train.tiny_tasks import household_tasks

    trainer, _ = run
    policy = VLLMPolicy(str(trainer.out / "final"), max_tokens=32, llm=trainer.llm)
    assert policy.prompt_format == "compact"                 # from the trained model's emx_policy.json
    report = run_closed_loop(household_tasks(4, 5), policy, reward="default", max_turns=3)
    s = report.summary()
    assert s["n"] == 4 and all(1 <= e["turns"] <= 3 for e in report.episodes)
    assert all(-1.0 <= r["reward"] <= 3.0 for r in s["per_task"])


def test_cli_json_stays_clean_with_a_vllm_engine(run):
    """vLLM (and its engine process) log to stdout; with --json stdout still holds one JSON object."""
    import os
    import subprocess
    import sys

    trainer, _ = run
    env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_LOGGING_LEVEL="INFO")
    p = subprocess.run([sys.executable, "-m", "emx.cli", "eval", "--tasks", "eai-behavior", "--limit", "2",
                        "--policy", f"vllm:{trainer.out / 'final'}", "--episode", "closed-loop", "--max-turns", "2",
                        "--json"], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)                                # the whole of stdout is the object
    assert out["n"] == 2 and out["episode"]["max_turns"] == 2
    assert "INFO" in p.stderr                                 # the engine's logs went to stderr


def test_train_a_model_directory_with_a_base_model_tokenizer(run, tmp_path):
    """`emx train --model DIR --episode closed-loop` end to end on a model directory whose
    tokenizer's eos (<|endoftext|>) is not the template's end of turn (<|im_end|>), as in base
    models: episodes are played, masked and learnt from."""
    import os
    import shutil
    import subprocess
    import sys

    trainer, _ = run
    model = tmp_path / "base-like"
    shutil.copytree(trainer.out / "final", model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["eos_token"] = "<|endoftext|>"
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    out = tmp_path / "run"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    p = subprocess.run([sys.executable, "-m", "emx.cli", "train", "--preset", "model", "--model", str(model),
                        "--tasks", "eai-behavior", "--prompt-format", "compact", "--episode", "closed-loop",
                        "--credit", "turn", "--max-turns", "2", "--max-steps", "1", "--prompts-per-step", "2",
                        "--group-size", "2", "--max-new-tokens", "16", "--out", str(out), "--json"],
                       capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads(p.stdout)
    assert summary["steps"] == 1 and summary["final_eval"]["eval_n"] == 20
    train = _rows(out / "metrics.jsonl", "train")
    assert len(train) == 1 and train[0]["policy_tokens"] > 0 and train[0]["env_tokens"] > 0
    assert (out / "final" / "model.safetensors").is_file()
