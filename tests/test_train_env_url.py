"""`emx train --env-url URL`: closed-loop GRPO whose episodes run in an `emx serve` (here on
loopback), not in the learner's process. A short run trains through the server; the episodes it
plays there score exactly as local episodes of the same answers do, and greedy held-out
evaluation gives the same per-episode rewards locally and remotely."""

import json
import re

import pytest

pytest.importorskip("vllm")
pytest.importorskip("torch")
pytest.importorskip("fastapi")

from emx import _core  # noqa: E402
from emx.episodes import ClosedLoopEpisode  # noqa: E402
from emx.server.process import ServerProcess  # noqa: E402
from emx.train import Trainer, preset  # noqa: E402
from emx.train.closed_loop import play  # noqa: E402
from emx.train.tiny_tasks import household_tasks  # noqa: E402

TOKEN = "train-env-token-0123456789abcdef"
STEPS = 2


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    """Generated household tasks as .bddl files: the source both the server and the trainer load."""
    root = tmp_path_factory.mktemp("tasks")
    for t in household_tasks(48, 3):
        text = re.sub(r"\(problem [^)]+\)", "(problem " + t.command.replace(" ", "_") + ")", t.spec.bddl_text, count=1)
        (root / f"{t.id}.bddl").write_text(text)
    return root


@pytest.fixture(scope="module")
def served(task_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with ServerProcess([str(task_dir)], token=TOKEN, log_path=log) as srv:
        yield srv
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def run(served, task_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("env_url_run")
    # the shaped default reward: the CI preset's success-only reward gives a barely trained model no signal
    cfg = preset("tiny-closed-loop-ci", out=str(out), tasks=str(task_dir), env_url=served.url, max_steps=STEPS,
                 reward="default", n_eval_tasks=8, sft_steps=10, eval_every=STEPS, checkpoint_every=STEPS, trainer_threads=1)
    trainer = Trainer(cfg, env_token=TOKEN)
    summary = trainer.run()
    yield trainer, summary
    trainer.close()


def _metric(text, name):
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_training_runs_through_the_server_and_updates_the_weights(run, served):
    from safetensors.torch import load_file

    trainer, summary = run
    assert summary["steps"] == STEPS and summary["final_eval"]["eval_n"] > 0
    rows = [json.loads(line) for line in open(trainer.out / "metrics.jsonl")]
    train = [r for r in rows if r.get("kind") == "train"]
    assert [r["step"] for r in train] == [1, 2]
    assert all(r["policy_tokens"] > 0 and r["env_tokens"] > 0 for r in train)
    # the SFT-only checkpoint (step 0) and the final model differ: GRPO learnt from remote episodes
    before = load_file(str(trainer.out / "checkpoints" / "ckpt-000000" / "model" / "model.safetensors"))
    after = load_file(str(trainer.out / "final" / "model.safetensors"))
    assert any(not before[k].equal(after[k]) for k in before)
    # every episode (SFT demonstrations, GRPO groups, evaluations) ran on the server, and was ended
    metrics = trainer.env.client.metrics()
    created = _metric(metrics, "emx_episode_sessions_created_total")
    assert created >= STEPS * trainer.config.prompts_per_step * trainer.config.group_size
    assert _metric(metrics, "emx_episode_steps_total") >= created
    assert _metric(metrics, "emx_episode_sessions_live") == 0
    assert trainer.env.rebuilds == 0
    # where episodes run is not part of what the run is
    manifest = json.loads((trainer.out / "manifest.json").read_text())
    assert "env_url" not in manifest["config"]


def test_remote_episodes_score_as_local_ones_for_the_same_answers(run):
    trainer, _ = run
    cfg = trainer.config
    reward = _core.reward_preset(cfg.reward)
    tasks = trainer.train_tasks[:4]
    groups = play(trainer, tasks, 2, cfg.temperature, seed=11)        # sampled by vLLM, played on the server
    n = 0
    for task, group in zip(tasks, groups):
        for remote, _tokens in group:
            local = ClosedLoopEpisode(task, mode=cfg.mode, unit="action", max_turns=cfg.max_turns,
                                      prompt_format=cfg.prompt_format)
            for text in remote.actions:
                local.step(text)
            assert remote.turns == local.turns                      # feedback, steps, goal fraction, end
            assert remote.result(reward).reward == local.result(reward).reward
            assert remote.turn_rewards(reward) == local.turn_rewards(reward)
            n += 1
    assert n == 8


def test_greedy_episodes_are_the_same_locally_and_remotely(run):
    """What evaluation plays (greedy, one episode per task): per episode, the same answers and the
    same reward whether the episodes run on the server or in the learner's process."""
    trainer, _ = run
    reward = _core.reward_preset(trainer.config.reward)
    tasks = trainer.eval_tasks[:6]

    def episodes():
        return [(g[0][0].transcript(), g[0][0].result(reward).reward, g[0][1].completion)
                for g in play(trainer, tasks, 1, 0.0, 0, logprobs=False)]

    remote = episodes()
    env, trainer.env = trainer.env, None
    try:
        local = episodes()
    finally:
        trainer.env = env
    assert [r for _, r, _ in remote] == [r for _, r, _ in local]
    assert remote == local
