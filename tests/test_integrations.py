"""Reward adapters for TRL and verl, and task export as a Hugging Face dataset."""

import json
import math

import pytest

import emx
from emx.integrations.trl import EmxRewardFunction, completion_text
from emx.integrations.verl import compute_score
from emx.policy.oracle import oracle_plan
from emx.train.tiny_tasks import household_tasks

TASKS = household_tasks(6, 21)


def _oracle(t):
    return json.dumps(oracle_plan(t)[0])


def test_trl_reward_signature_with_task_id_column():
    reward = EmxRewardFunction(TASKS, reward="default")
    ids = [t.id for t in TASKS[:3]]
    completions = [_oracle(TASKS[0]), "", [{"role": "assistant", "content": _oracle(TASKS[2])}]]
    out = reward(prompts=["p"] * 3, completions=completions, task_id=ids, other_column=[1, 2, 3])
    assert len(out) == 3 and all(isinstance(x, float) for x in out)
    assert out[0] > 1.0 and out[1] == -1.0 and out[2] > 1.0
    assert reward.last_components["success"] == pytest.approx(2 / 3)
    assert reward.__name__ == "emx_default"
    with pytest.raises(KeyError, match="not among"):
        reward(prompts=["p"], completions=["x"], task_id=["no-such-task"])
    with pytest.raises(ValueError, match="task_id"):
        reward(prompts=["p"], completions=["x"])


@pytest.mark.parametrize("garbage", ["", "loop " * 20000, "\x00\x01{[", None, 42, [{"role": "assistant"}]])
def test_trl_reward_never_crashes_on_model_output(garbage):
    reward = EmxRewardFunction(TASKS[:1])
    (r,) = reward(prompts=["p"], completions=[garbage], task_id=[TASKS[0].id])
    assert r == -1.0
    assert completion_text(garbage) == (garbage if isinstance(garbage, str) else "")


def test_verl_compute_score_contract(tmp_path):
    import inspect

    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    t = TASKS[0]
    good = compute_score("emx:tiny", _oracle(t), t.id, {"bddl": t.spec.bddl_text})
    assert good["score"] > 1.0 and good["success"] == 1.0
    bad = compute_score("emx:tiny", "no plan here", t.id, {"bddl": t.spec.bddl_text})
    assert bad["score"] == -1.0 and bad["format_ok"] == 0.0
    eai = compute_score("emx:tiny", _oracle(t), t.id, {"bddl": t.spec.bddl_text, "reward": "eai"})
    assert eai["score"] == 1.0
    # a task source on disk: ground_truth is the task id of that source
    (tmp_path / "a.bddl").write_text(t.spec.bddl_text)
    from_dir = compute_score(f"emx:{tmp_path}", _oracle(t), "a")
    assert from_dir["success"] == 1.0 and math.isfinite(from_dir["score"])


def test_tasks_export_as_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    from emx.integrations.datasets import tasks_dataset

    ds = tasks_dataset(TASKS, prompt_format="compact")
    assert isinstance(ds, datasets.Dataset) and len(ds) == len(TASKS)
    assert {"prompt", "task_id", "data_source", "reward_model", "extra_info"} <= set(ds.column_names)
    row = ds[0]
    assert row["task_id"] == TASKS[0].id and row["prompt"][0]["role"] == "user"
    assert row["reward_model"]["ground_truth"] == TASKS[0].id
    ds.to_parquet(str(tmp_path / "train.parquet"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.bddl").write_text(TASKS[1].spec.bddl_text)
    ds2 = tasks_dataset(str(tmp_path / "d"), prompt_format="native", conversational=False)
    assert ds2[0]["task_id"] == "x" and isinstance(ds2[0]["prompt"], str)
    assert ds2[0]["data_source"] == f"emx:{tmp_path / 'd'}"


@pytest.mark.slow
def test_trl_grpo_step_on_the_tiny_model(tmp_path):
    """One real GRPOTrainer step with emx's reward, on a tiny local model (CPU, no vLLM)."""
    trl = pytest.importorskip("trl")
    pytest.importorskip("datasets")
    from emx.integrations.datasets import tasks_dataset
    from emx.policy.vllm_policy import load_tokenizer, prompt_text
    from emx.train.tiny_model import build_tiny_model

    texts = [prompt_text(t, "compact") for t in TASKS] + [_oracle(t) for t in TASKS]
    model_dir = build_tiny_model(tmp_path / "m", texts * 4, hidden_size=64, intermediate_size=128, heads=1, kv_heads=1)
    tok = load_tokenizer(model_dir)
    ds = tasks_dataset(TASKS[:4], prompt_format="compact")
    reward = EmxRewardFunction(TASKS)
    calls = []

    def logged(prompts, completions, **kw):
        out = reward(prompts=prompts, completions=completions, **kw)
        calls.append(out)
        return out

    logged.__name__ = "emx_default"
    args = trl.GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                          max_completion_length=16, max_steps=1, learning_rate=1e-4, report_to=[],
                          logging_steps=1, save_strategy="no", use_cpu=True, bf16=False, seed=0,
                          dataloader_num_workers=0)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    before = [p.detach().clone() for p in model.parameters()]
    trainer = trl.GRPOTrainer(model=model, reward_funcs=logged, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    assert calls and len(calls[0]) == 4 and all(isinstance(x, float) for x in calls[0])
    assert trainer.state.global_step == 1
    assert any(not (a == b).all() for a, b in zip(before, model.parameters())) or all(
        len(set(c)) == 1 for c in calls)   # equal rewards give zero advantages: no update is correct then
