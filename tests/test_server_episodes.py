"""Stateful closed-loop episodes over HTTP (POST /v1/episodes ...): oracle rewards equal `emx eval
--episode closed-loop`, session limits, TTL, and 1,000 abandoned sessions leaving nothing behind."""

import gc
import os
import threading
import time
import tracemalloc
import warnings

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import emx  # noqa: E402
from emx.episodes import plan_turns, run_closed_loop  # noqa: E402
from emx.policy import OraclePolicy  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.server.app import create_app  # noqa: E402
from emx.server.limits import ServerLimits  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

TOKEN = "episode-token-0123456789abcdef"
OTHER = "another-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def tasks():
    return emx.load_tasks("eai-behavior", limit=10)


def make_client(tasks, **limits):
    app = create_app(tasks, sources=["eai-behavior"], token=TOKEN, limits=ServerLimits(max_concurrency=1, **limits))
    return TestClient(app)


@pytest.fixture(scope="module")
def client(tasks):
    with make_client(tasks) as c:
        yield c


def play(client, task, preset="default", auth=AUTH):
    plan, _ = oracle_plan(task)
    answers = plan_turns(plan or [])
    r = client.post("/v1/episodes", headers=auth, json={"task": task.id, "reward": preset, "max_turns": 64})
    assert r.status_code == 201, r.text
    eid, total = r.json()["episode_id"], 0.0
    assert r.json()["info"]["task"] == task.id and "DONE" in r.json()["observation"]
    for k in range(70):
        text = answers[k] if k < len(answers) else '[{"action": "DONE"}]'
        s = client.post(f"/v1/episodes/{eid}/step", headers=auth, json={"action": text})
        assert s.status_code == 200, s.text
        body = s.json()
        total += body["reward"]
        if body["terminated"] or body["truncated"]:
            return eid, total, body
    raise AssertionError("the episode did not end")


@pytest.mark.parametrize("preset", ["default", "eai"])
def test_oracle_episodes_over_http_score_as_closed_loop_eval(client, tasks, preset):
    report = run_closed_loop(tasks, OraclePolicy(), reward=preset, max_turns=64)
    for task, want in zip(tasks, report.results):
        eid, total, last = play(client, task, preset)
        assert total == pytest.approx(want.reward, abs=1e-12)
        assert last["info"]["components"]["success"] == want.success
        g = client.get(f"/v1/episodes/{eid}", headers=AUTH).json()
        assert g["done"] and g["episode_reward"] == pytest.approx(want.reward) and g["turns"] == len(g["actions"])
        # the episode is over: a further step is refused, DELETE ends it, then it is gone
        assert client.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": "x"}).status_code == 409
        assert client.delete(f"/v1/episodes/{eid}", headers=AUTH).status_code == 204
        assert client.get(f"/v1/episodes/{eid}", headers=AUTH).status_code == 404


def test_replaying_the_actions_rebuilds_an_episode(client, tasks):
    r = client.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id, "shaping": "progress"}).json()
    eid = r["episode_id"]
    for a in ["nonsense", '[{"action": "OPEN", "object": "fridge_97"}]']:
        client.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": a})
    g = client.get(f"/v1/episodes/{eid}", headers=AUTH).json()
    r2 = client.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id, "shaping": "progress"}).json()
    rewards = [client.post(f"/v1/episodes/{r2['episode_id']}/step", headers=AUTH, json={"action": a}).json()["reward"]
               for a in g["actions"]]
    assert sum(rewards) == pytest.approx(g["total_reward"])
    g2 = client.get(f"/v1/episodes/{r2['episode_id']}", headers=AUTH).json()
    assert g2["transcript"] == g["transcript"]


def test_episode_requests_are_checked(client, tasks):
    assert client.post("/v1/episodes", json={"task": tasks[0].id}).status_code == 401
    bad = [{"task": "nope"}, {"task": tasks[0].id, "mode": "dream"}, {"task": tasks[0].id, "max_turns": 0},
           {"task": tasks[0].id, "semantics": "x"}, {"task": tasks[0].id, "extra": 1}]
    for body in bad:
        r = client.post("/v1/episodes", headers=AUTH, json=body)
        assert r.status_code == 422, (body, r.text)
    eid = client.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id}).json()["episode_id"]
    r = client.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": "x" * 70_000})
    assert r.status_code == 422                                  # over max_action_chars
    assert client.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": 3}).status_code == 422
    assert client.post("/v1/episodes/nope/step", headers=AUTH, json={"action": "x"}).status_code == 404
    # another token does not see (or delete) this client's episode
    other = {"Authorization": f"Bearer {OTHER}"}
    assert client.get(f"/v1/episodes/{eid}", headers=other).status_code == 401   # wrong token: refused outright
    assert client.delete(f"/v1/episodes/{eid}", headers=AUTH).status_code == 204


def test_action_limit_fits_the_body_limit(tasks):
    # An answer the schema allows must fit a body the guard allows: one character over the
    # declared maxLength is the schema's 422, not the guard's 413 (what schemathesis checks).
    with make_client(tasks, max_body_bytes=4096, max_action_chars=65_536) as c:
        limit = c.get("/openapi.json").json()["components"]["schemas"]["StepEpisode"]["properties"]["action"]["maxLength"]
        assert limit == 2048
        eid = c.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id, "max_turns": 8}).json()["episode_id"]
        assert c.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": "a" * (limit + 1)}).status_code == 422
        assert c.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": "a" * limit}).status_code == 200
        assert c.post(f"/v1/episodes/{eid}/step", headers=AUTH, json={"action": "a" * 5000}).status_code == 413


def test_session_caps_overall_and_per_client(tasks):
    with make_client(tasks, max_sessions=5, max_sessions_per_client=3) as c:
        made = [c.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id}) for _ in range(4)]
        assert [r.status_code for r in made] == [201, 201, 201, 429]
        assert made[-1].json()["error"]["code"] == "too_many_episodes"
        c.delete(f"/v1/episodes/{made[0].json()['episode_id']}", headers=AUTH)
        assert c.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id}).status_code == 201
        store = c.app.state.episodes
        # a second client (another owner key) fills the server's overall cap
        for _ in range(2):
            store.add(store_session(tasks[0]), owner="someone-else")
        with pytest.raises(Exception, match="overall"):
            store.add(store_session(tasks[0]), owner="third")
        text = c.get("/metrics", headers=AUTH).text
        assert 'emx_episode_sessions_refused_total{limit="per_client"} 1' in text
        assert "emx_episode_sessions_live 5" in text


def store_session(task):
    from emx.envs import EpisodeSession

    return EpisodeSession(task)


def test_idle_sessions_expire(tasks):
    with make_client(tasks, session_ttl_s=0.3) as c:
        eid = c.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id}).json()["episode_id"]
        time.sleep(0.15)
        assert c.get(f"/v1/episodes/{eid}", headers=AUTH).status_code == 200     # use keeps it alive
        time.sleep(0.8)                                                          # the sweeper reaps it
        assert len(c.app.state.episodes) == 0
        assert c.get(f"/v1/episodes/{eid}", headers=AUTH).json()["error"]["code"] == "unknown_episode"
        assert "emx_episode_sessions_expired_total 1" in c.get("/metrics", headers=AUTH).text


def _threads_and_children():
    kids = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    kids += f.read().rsplit(")", 1)[1].split()[1] == str(os.getpid())
            except OSError:
                pass
    return threading.active_count(), kids


def test_a_thousand_abandoned_sessions_leave_nothing_behind(tasks):
    ttl = 120.0
    with make_client(tasks, session_ttl_s=ttl, max_sessions=2000, max_sessions_per_client=2000) as c:
        store = c.app.state.episodes
        c.post("/v1/episodes", headers=AUTH, json={"task": tasks[0].id})   # warm up caches, thread pool
        store.reap(time.monotonic() + ttl + 1)
        gc.collect()
        threads0, kids0 = _threads_and_children()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            r = c.post("/v1/episodes", headers=AUTH, json={"task": tasks[i % len(tasks)].id})
            assert r.status_code == 201
            if i % 3 == 0:       # some get a turn before they are abandoned
                c.post(f"/v1/episodes/{r.json()['episode_id']}/step", headers=AUTH, json={"action": "nonsense"})
        assert len(store) == 1000
        held = tracemalloc.get_traced_memory()[0] - base
        # the clock moved past the TTL (the sweeper itself is test_idle_sessions_expire's)
        assert store.reap(time.monotonic() + ttl + 1) == 1000
        assert len(store) == 0
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        assert held > 1_000_000                    # the sessions did hold memory ...
        print(f"\n1000 sessions held {held / 1e6:.1f} MB; after the TTL {left / 1e6:.2f} MB")
        assert left < held / 20, (held, left)      # ... and it is back
        assert _threads_and_children() == (threads0, kids0)
        text = c.get("/metrics", headers=AUTH).text
        assert "emx_episode_sessions_live 0" in text
        assert "emx_episode_sessions_created_total 1001" in text
        assert "emx_episode_sessions_expired_total 1001" in text
