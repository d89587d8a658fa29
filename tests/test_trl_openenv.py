"""TRL's own GRPOTrainer trains the tiny local model with every rollout played on an emx OpenEnv
server over loopback (rollout_func), rewards from emx; the optimiser step changes the weights."""

import json

import pytest
from conftest import app_in_thread

trl = pytest.importorskip("trl")
pytest.importorskip("openenv.core")
pytest.importorskip("uvicorn")
pytest.importorskip("datasets")

import emx  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.train.tiny_tasks import household_tasks  # noqa: E402

TOKEN = "trl-openenv-token-0123456789ab"
TASKS = household_tasks(4, 21)


@pytest.fixture(scope="module")
def server():
    """emx serve's app (OpenEnv mounted at /openenv) on a loopback port, in a thread."""
    from emx.server.app import create_app

    app = create_app(TASKS, token=TOKEN)
    with app_in_thread(app) as port:
        yield app, f"http://emx:{TOKEN}@127.0.0.1:{port}/openenv"


@pytest.mark.slow
def test_trl_grpo_trains_through_the_openenv_server(server, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from emx.integrations.trl_openenv import env_reward, openenv_rollout_func
    from emx.policy.vllm_policy import chat_prompt, load_tokenizer, prompt_text
    from emx.train.tiny_model import build_tiny_model

    app, url = server
    first = [json.dumps([oracle_plan(t)[0][0]]) for t in TASKS]
    texts = [prompt_text(t, "compact") for t in TASKS] + first
    model_dir = build_tiny_model(tmp_path / "m", texts * 4, hidden_size=64, intermediate_size=128, heads=1, kv_heads=1)
    tok = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    # A few supervised steps on the oracle's first action, so sampled answers differ in reward
    # (a group with equal rewards has no advantage and no GRPO update).
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rows = []
    for t, a in zip(TASKS, first):
        p = tok(chat_prompt(tok, prompt_text(t, "compact")), add_special_tokens=False)["input_ids"]
        c = tok(a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append((p, c))
    for _ in range(25):
        for p, c in rows:
            ids = torch.tensor([p + c])
            logits = model(ids).logits[0, len(p) - 1:-1]
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(c))
            loss.backward()
            opt.step()
            opt.zero_grad()

    seen = []

    def emx_reward(completions, env_reward=None, **kw):      # emx's reward, recorded
        seen.append(list(env_reward))
        return env_reward_from_emx(completions, env_reward=env_reward)

    env_reward_from_emx = env_reward
    args = trl.GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=8,
                          max_completion_length=64, max_steps=2, learning_rate=1e-3, report_to=[], logging_steps=1,
                          save_strategy="no", use_cpu=True, bf16=False, seed=0, dataloader_num_workers=0,
                          beta=0.0)
    ds = Dataset.from_dict({"prompt": [t.id for t in TASKS]})
    before = [p.detach().clone() for p in model.parameters()]
    created0 = app.state.openenv.created
    trainer = trl.GRPOTrainer(model=model, reward_funcs=emx_reward, args=args, train_dataset=ds, processing_class=tok,
                              rollout_func=openenv_rollout_func(url, max_turns=2, max_new_tokens=24,
                                                                reward="embomatrix"))
    trainer.train()
    assert trainer.state.global_step == 2
    assert len(seen) == 2 and all(len(r) == 8 for r in seen)
    assert any(len(set(r)) > 1 for r in seen), seen                  # rewards differ within a group
    assert app.state.openenv.created - created0 >= 2                  # the rollouts went through the server
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))   # the optimiser moved the weights
    print("\nrewards per step:", [sorted(round(x, 3) for x in r) for r in seen])
