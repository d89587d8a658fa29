"""Closed-loop episodes on an `emx serve` (emx.envs.remote): the same turns, rewards and
per-turn credit as local ClosedLoopEpisodes; lost sessions rebuilt by replay; a server that does
not serve the task (or serves another one under its id) refused."""

import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import emx  # noqa: E402
from emx import _core  # noqa: E402
from emx.envs.remote import RemoteEnv, RemoteEnvError, step_episodes  # noqa: E402
from emx.episodes import ClosedLoopEpisode, plan_turns  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.server.process import ServerProcess  # noqa: E402

TOKEN = "remote-env-token-0123456789abcdef"
SOURCE = "eai-behavior"


@pytest.fixture(scope="module")
def tasks():
    return emx.load_tasks(SOURCE, limit=6)


@pytest.fixture(scope="module")
def env():
    with ServerProcess([SOURCE], token=TOKEN) as srv, RemoteEnv(srv.url, token=TOKEN, concurrency=4) as e:
        yield e


def _answers(task):
    plan, _ = oracle_plan(task)
    # a failing and an unparseable turn first, so credit has penalties to count
    return ['[{"action": "RIGHT_PLACE_INSIDE", "object": "nothing_0"}]', "no json here"] + plan_turns(plan or [])


@pytest.mark.parametrize("fmt,preset", [("compact", "default"), ("eai", "embomatrix")])
def test_remote_episodes_equal_local_ones(env, tasks, fmt, preset):
    config = _core.reward_preset(preset)
    settings = dict(mode="symbolic", unit="action", max_turns=40, prompt_format=fmt)
    local = [ClosedLoopEpisode(t, **settings) for t in tasks]
    remote = env.episodes(tasks, reward=preset, **settings)
    answers = [_answers(t) for t in tasks]
    k = 0
    while not all(e.done for e in local):
        live = [i for i, e in enumerate(local) if not e.done]
        texts = [answers[i][k] if k < len(answers[i]) else '[{"action": "DONE"}]' for i in live]
        want = [local[i].step(x) for i, x in zip(live, texts)]
        got = step_episodes([remote[i] for i in live], texts)
        assert got == want                                     # Turn for Turn: feedback, steps, goal, end
        k += 1
    for lo, re in zip(local, remote):
        assert re.done and re.end_reason == lo.end_reason and re.messages == lo.messages
        a, b = lo.result(config), re.result(config)
        assert (a.reward, a.success, a.goal_fraction, a.executability, a.plan_length, a.executed,
                a.objects_named, a.relevant_named, a.first_error) == \
               (b.reward, b.success, b.goal_fraction, b.executability, b.plan_length, b.executed,
                b.objects_named, b.relevant_named, b.first_error)
        assert re.turn_rewards(config) == lo.turn_rewards(config)
        assert re.episode_id is None                           # finished: its server session is gone
    with pytest.raises(ValueError):
        remote[0].result("eai" if preset != "eai" else "default")   # scored by the server with one preset


def test_a_lost_session_is_rebuilt_by_replay(env, tasks):
    task = tasks[0]
    answers = _answers(task)
    local = ClosedLoopEpisode(task, max_turns=40, prompt_format="compact")
    remote = env.episode(task, max_turns=40, prompt_format="compact", reward="default")
    before = env.rebuilds
    for k, text in enumerate(answers):
        if k == 3:
            env.client.delete_episode(remote.episode_id)       # reaped, or the server restarted
        assert remote.step(text) == local.step(text)
        if local.done:
            break
    assert env.rebuilds == before + 1
    assert remote.result("default").reward == local.result("default").reward


def test_a_server_without_the_task_is_refused(env, tasks):
    other = emx.load_tasks("bddl:assembling_gift_baskets")
    with pytest.raises(RemoteEnvError, match="does not serve"):
        env.check_tasks(list(tasks) + other)
    with pytest.raises(RemoteEnvError, match="does not serve"):
        env.episode(other[0])


def test_a_different_task_under_the_same_id_is_refused(env, tasks):
    import dataclasses

    from emx.task import compile_spec

    impostor = compile_spec(dataclasses.replace(tasks[1].spec, id=tasks[0].id))    # another task, same id
    assert impostor.id == tasks[0].id
    with pytest.raises(RemoteEnvError, match="another prompt"):
        env.episode(impostor, prompt_format="compact")


def test_trainer_scores_whole_plans_on_the_server(env, tasks, tmp_path):
    """`emx train --episode plan --env-url URL`: plans scored by the server's /v1/evaluate, as locally."""
    import argparse

    from emx.train import Trainer
    from emx.train.cli import add_arguments, config_from_args
    from emx.train.rewards import score

    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--tasks", SOURCE, "--env-url", env.url, "--out", str(tmp_path)]))
    assert cfg.env_url == env.url and cfg.episode == "plan"
    trainer = Trainer(cfg, env_token=TOKEN)
    try:
        trainer.connect_env(tasks)
        texts = [json.dumps(oracle_plan(t)[0] or []) for t in tasks] + ["nonsense", '[{"action": "OPEN"}]']
        both = list(tasks) + list(tasks[:2])
        for preset in ("default", "embomatrix"):
            remote = trainer._score(both, texts, preset)
            local = score(both, texts, reward=preset, backend="inprocess")
            assert [(r.reward, r.success, r.goal_fraction, r.executability) for r in remote] == \
                   [(r.reward, r.success, r.goal_fraction, r.executability) for r in local]
    finally:
        trainer.close()
