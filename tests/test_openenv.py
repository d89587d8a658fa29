"""emx as an OpenEnv environment (openenv-core): OpenEnv's own clients drive `emx serve` over
loopback, and the oracle's episodes score what `emx eval --episode closed-loop` scores."""

import json
import urllib.error
import urllib.request

import pytest

pytest.importorskip("openenv.core")
pytest.importorskip("uvicorn")

import emx  # noqa: E402
from emx.envs.openenv import EmxAction, EmxEnvClient, EmxEnvironment  # noqa: E402
from emx.episodes import plan_turns, run_closed_loop  # noqa: E402
from emx.policy import OraclePolicy  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.server.process import ServerProcess  # noqa: E402

TOKEN = "openenv-token-0123456789abcdef"
N_TASKS = 6


@pytest.fixture(scope="module")
def tasks():
    return emx.load_tasks("eai-behavior")[:N_TASKS]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("openenv") / "server.log"
    with ServerProcess(["eai-behavior"], token=TOKEN, log_path=log,
                       extra_args=["--max-sessions-per-client", "3"]) as srv:
        yield srv


def with_token(url):
    return url.replace("http://", f"http://emx:{TOKEN}@")


def oracle_answers(task):
    plan, _ = oracle_plan(task)
    return plan_turns(plan or [])


def play(env, task, step):
    r = env.reset(task=task.id, max_turns=64)
    assert r.observation.task == task.id and "DONE" in r.observation.text and not r.done
    answers, total = oracle_answers(task), 0.0
    for k in range(70):
        r = step(answers[k] if k < len(answers) else '[{"action": "DONE"}]')
        total += r.reward
        if r.done:
            return total, r
    raise AssertionError("the episode did not end")


def test_environment_in_process(tasks):
    env = EmxEnvironment(tasks)
    obs = env.reset(seed=3)
    assert obs.task in {t.id for t in tasks} and env.reset(seed=3).task == obs.task
    out = env.step(EmxAction(text="nonsense"))
    assert out.reward == 0.0 and not out.done and "could not read" in out.text
    assert env.state.step_count == 1 and env.state.actions == ["nonsense"]


def test_openenv_client_oracle_rewards_equal_closed_loop_eval(server, tasks):
    report = run_closed_loop(tasks, OraclePolicy(), reward="default", max_turns=64)
    with EmxEnvClient(base_url=with_token(server.url) + "/openenv").sync() as env:
        for task, want in zip(tasks, report.results):
            total, last = play(env, task, lambda text: env.step(EmxAction(text=text)))
            assert total == pytest.approx(want.reward, abs=1e-12)
            assert last.observation.info["components"]["success"] == want.success
            assert last.observation.terminated or last.observation.truncated
            st = env.state()
            assert st.task == task.id and st.done and st.total_reward == pytest.approx(total)


def test_openenvs_generic_client_drives_it_unchanged(server, tasks):
    from openenv import GenericEnvClient

    task = tasks[1]
    want = run_closed_loop([task], OraclePolicy(), reward="embomatrix", max_turns=64).results[0]
    with GenericEnvClient(base_url=with_token(server.url) + "/openenv").sync() as env:
        r = env.reset(task=task.id, reward="embomatrix", max_turns=64)
        assert r.observation["task"] == task.id
        total = 0.0
        for text in oracle_answers(task):
            r = env.step({"text": text})
            total += r.reward
            if r.done:
                break
        assert total == pytest.approx(want.reward, abs=1e-12)


def test_openenv_needs_the_token_and_is_capped_per_client(server, tasks):
    with pytest.raises(ConnectionError):
        EmxEnvClient(base_url=server.url + "/openenv").sync().connect()
    with pytest.raises(ConnectionError):
        EmxEnvClient(base_url=server.url.replace("http://", "http://emx:wrong-token-123456789@") + "/openenv") \
            .sync().connect()
    open_ = [EmxEnvClient(base_url=with_token(server.url) + "/openenv").sync() for _ in range(3)]
    for c in open_:
        c.connect()
        c.reset(task=tasks[0].id)
    fourth = EmxEnvClient(base_url=with_token(server.url) + "/openenv").sync()
    with pytest.raises(Exception):
        fourth.connect()
        fourth.reset(task=tasks[0].id)
    for c in open_:
        c.close()
    req = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    assert "emx_openenv_sessions_created_total" in text and 'emx_http_rejected_total{code="too_many_sessions"}' in text


def test_openenv_http_routes_schema_and_health(server):
    with urllib.request.urlopen(server.url + "/openenv/health", timeout=10) as r:
        assert json.load(r)["status"] == "healthy"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.url + "/openenv/schema", timeout=10)
    assert e.value.code == 401
    req = urllib.request.Request(server.url + "/openenv/schema", headers={"Authorization": f"Bearer {TOKEN}"})
    schema = json.load(urllib.request.urlopen(req, timeout=10))
    assert "text" in schema["action"]["properties"] and "terminated" in schema["observation"]["properties"]


def test_openenv_only_server(tmp_path, tasks):
    with ServerProcess(["eai-behavior"], token=TOKEN, log_path=tmp_path / "log",
                       extra_args=["--openenv-only"]) as srv:
        with EmxEnvClient(base_url=with_token(srv.url)).sync() as env:
            task = tasks[0]
            total, last = play(env, task, lambda text: env.step(EmxAction(text=text)))
            want = run_closed_loop([task], OraclePolicy(), max_turns=64).results[0]
            assert total == pytest.approx(want.reward, abs=1e-12)
