"""OpenAICompatiblePolicy against a stub server on loopback (bounded: a few requests)."""

import json

import pytest
from conftest import chat_reply

import emx
from emx.policy.openai_policy import OpenAICompatiblePolicy
from emx.policy.oracle import oracle_plan
from emx.train.tiny_tasks import household_tasks


@pytest.fixture()
def server(chat_server):
    def reply(req):
        prompt = req["messages"][-1]["content"]
        if "candle" in prompt:
            return 500, {"error": "boom"}
        task = next(t for t in TASKS if t.command in prompt)
        return chat_reply("<think>hm</think>" + json.dumps(oracle_plan(task)[0]))

    return chat_server(reply)


TASKS = household_tasks(12, 4)


def test_openai_policy_plans_and_scores(server, monkeypatch):
    url, seen = server
    monkeypatch.setenv("EMX_TEST_KEY", "sekret")
    tasks = [t for t in TASKS if "candle" not in t.command][:4]
    policy = OpenAICompatiblePolicy(url, api_key_env="EMX_TEST_KEY", prompt_format="compact", retries=0)
    plans = policy.plan(tasks)
    assert policy.model == "stub-model"
    assert all(emx.evaluate(t, p).success for t, p in zip(tasks, plans))
    assert all(auth == "Bearer sekret" for _, auth in seen)
    assert seen[0][0]["model"] == "stub-model" and seen[0][0]["temperature"] == 0.0


def test_openai_policy_server_errors_become_empty_plans(server):
    url, _ = server
    opened = [t for t in TASKS if "candle" in t.command][:1]
    assert opened, "the generator should make a candle task among 12"
    policy = OpenAICompatiblePolicy(url, model="m", prompt_format="compact", retries=1)
    (plan,) = policy.plan(opened)
    assert plan == ""
    assert "500" in policy.errors[opened[0].id]
    assert not emx.evaluate(opened[0], plan).format_ok


def test_unreachable_server_is_a_format_failure_not_a_crash():
    policy = OpenAICompatiblePolicy("http://127.0.0.1:9", model="m", retries=0, timeout=2)
    (plan,) = policy.plan(TASKS[:1])
    assert plan == "" and TASKS[0].id in policy.errors
