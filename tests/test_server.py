"""The reward server in-process (FastAPI's TestClient): API, safety limits, errors, metrics."""

import json
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import emx  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.server.app import create_app  # noqa: E402
from emx.server.backend import ThreadBackend  # noqa: E402
from emx.server.limits import ServerLimits, check_bind, is_loopback, resolve_token  # noqa: E402
from emx.server.metrics import Registry  # noqa: E402

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def tasks():
    return emx.load_tasks("eai-behavior", limit=12)


@pytest.fixture(scope="module")
def client(tasks):
    app = create_app(tasks, sources=["eai-behavior"], token=TOKEN,
                     limits=ServerLimits(max_body_bytes=64 << 10, max_items=16, max_plan_chars=8000,
                                         max_plan_actions=64, max_concurrency=2))
    with TestClient(app) as c:
        c.app_outer = app
        yield c


def _oracle(task):
    plan, _ = oracle_plan(task)
    assert plan, task.id
    return plan


# ------------------------------------------------------------------ evaluate

def test_evaluate_matches_local_evaluation(client, tasks):
    items = [(tasks[0].id, _oracle(tasks[0])), (tasks[1].id, json.dumps(_oracle(tasks[1])[:3])),
             (tasks[2].id, "I refuse"), (tasks[3].id, {"action_sequence": [{"action": "open",
                                                                           "parameters": {"object_index": 1}}]})]
    for preset in ("default", "embomatrix", "eai"):
        r = client.post("/v1/evaluate", headers=AUTH,
                        json={"items": [{"task": t, "plan": p} for t, p in items], "reward": preset})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["n"] == 4 and body["reward_preset"] == preset and body["mode"] == "symbolic"
        local = emx.evaluate_batch([next(t for t in tasks if t.id == tid) for tid, _ in items],
                                   [p for _, p in items], reward=preset, keep_trace=True)
        for got, want in zip(body["results"], local):
            assert got["task"] == want.task_id
            assert got["reward"] == want.reward
            assert got["success"] == want.success and got["goal_fraction"] == want.goal_fraction
            assert got["error_type"] == want.error_type
            c = got["components"]
            assert c["executability"] == want.executability and c["plan_length"] == want.plan_length
            assert c["format_ok"] == want.format_ok and c["format_error"] == want.format_error
            assert [s["action"] for s in got["trace"]] == [s.action for s in want.trace]
    assert body["results"][0]["success"] is True
    assert body["results"][2]["error_type"] == "format"


def test_trace_off_and_empty_batch(client, tasks):
    r = client.post("/v1/evaluate", headers=AUTH,
                    json={"items": [{"task": tasks[0].id, "plan": _oracle(tasks[0])}], "trace": False})
    assert r.status_code == 200 and r.json()["results"][0]["trace"] == []
    r = client.post("/v1/evaluate", headers=AUTH, json={"items": []})
    assert r.status_code == 200 and r.json()["results"] == []


def test_plans_are_data_never_code(client, tasks, tmp_path):
    marker = tmp_path / "pwned"
    evil = [f"__import__('pathlib').Path({str(marker)!r}).write_text('x')",
            f"[{{'action': __import__('os').system('touch {marker}'), 'object': 'a'}}]",
            "{{7*7}} ${7*7} `touch /tmp/x`"]
    r = client.post("/v1/evaluate", headers=AUTH, json={"items": [{"task": tasks[0].id, "plan": p} for p in evil]})
    assert r.status_code == 200
    assert all(x["error_type"] == "format" for x in r.json()["results"])
    assert not marker.exists()


def test_deep_or_long_plan_data_is_a_format_failure_not_a_request_error(client, tasks):
    deep = json.loads("[" * 40 + "]" * 40)
    native = {"action_sequence": [{"action": "open", "parameters": {"object_index": 1}}] * 65}
    r = client.post("/v1/evaluate", headers=AUTH,
                    json={"items": [{"task": tasks[0].id, "plan": deep}, {"task": tasks[0].id, "plan": native},
                                    {"task": tasks[0].id, "plan": _oracle(tasks[0])}]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res[0]["error_type"] == "format" and "deeper" in res[0]["components"]["format_error"]
    assert res[1]["error_type"] == "format" and "too many actions" in res[1]["components"]["format_error"]
    assert res[2]["success"] is True


# ------------------------------------------------------------------ safety

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}])
def test_token_required_before_any_work(client, tasks, headers):
    items = client.app_outer.state.registry._metrics
    evaluated = next(m for m in items if m.name == "emx_evaluate_items_total")
    before = evaluated.value()
    for method, path, kw in [("post", "/v1/evaluate", {"json": {"items": [{"task": tasks[0].id, "plan": "x"}]}}),
                             ("get", "/v1/tasks", {}), ("get", "/metrics", {}),
                             ("get", f"/v1/tasks/{tasks[0].id}", {}),
                             ("post", "/v1/evaluate", {"content": b"x" * (1 << 20)})]:  # oversize too: 401 first
        r = getattr(client, method)(path, headers=headers, **kw)
        assert r.status_code == 401, (path, r.text)
        err = r.json()["error"]
        assert err["code"] == "unauthorized" and err["request_id"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert evaluated.value() == before  # nothing was evaluated


def test_health_and_openapi_are_public(client):
    assert client.get("/healthz").json()["status"] == "ok"
    doc = client.get("/openapi.json").json()
    assert "/v1/evaluate" in doc["paths"] and "bearer" in json.dumps(doc["components"]["securitySchemes"]).lower()
    req = doc["components"]["schemas"]["EvaluateRequest"]
    assert req["properties"]["items"]["maxItems"] == 16


def test_oversize_body_413_before_parsing(client, tasks):
    state = client.app_outer.state
    n_before = state.registry.render().count("body_too_large")
    big = json.dumps({"items": [{"task": tasks[0].id, "plan": "x" * 7000}] * 12})
    assert len(big) > 64 << 10
    r = client.post("/v1/evaluate", headers={**AUTH, "Content-Type": "application/json"}, content=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    # A chunked body (no Content-Length) is counted as it arrives (test_server_live checks it
    # is cut off on a real socket; the test client buffers the whole body first).
    r = client.post("/v1/evaluate", headers=AUTH, content=(b"x" * 8192 for _ in range(20)))
    assert r.status_code == 413
    assert state.registry.render().count("body_too_large") >= n_before


def test_schema_limits_and_errors(client, tasks):
    t = tasks[0].id
    cases = [
        ({"items": [{"task": t, "plan": "x" * 8001}]}, 422, "invalid_request"),                 # plan text
        ({"items": [{"task": t, "plan": [{"action": "OPEN", "object": "a"}] * 65}]}, 422, "invalid_request"),
        ({"items": [{"task": t, "plan": "x"}] * 17}, 422, "invalid_request"),                   # items
        ({"items": [{"task": "no_such_task", "plan": "x"}]}, 422, "unknown_task"),
        ({"items": [{"task": t, "plan": "x"}], "mode": "physics"}, 422, "invalid_request"),
        ({"items": [{"task": t, "plan": "x"}], "reward": "bogus"}, 422, "invalid_request"),
        ({"items": [{"task": t, "plan": "x"}], "trace": 1}, 422, "invalid_request"),
        ({"items": [{"task": t, "plan": "x", "code": "print(1)"}]}, 422, "invalid_request"),
        ({"items": [{"task": t, "plan": 42}]}, 422, "invalid_request"),
        ([1, 2], 422, "invalid_request"),
    ]
    for body, status, code in cases:
        r = client.post("/v1/evaluate", headers=AUTH, json=body)
        assert r.status_code == status, (body if len(str(body)) < 200 else code, r.text[:300])
        err = r.json()["error"]
        assert err["code"] == code and err["message"]
        keys = {"index", "task"} if code == "unknown_task" else {"loc", "msg", "type"}
        assert all(set(d) == keys for d in err.get("details", []))  # plans are never echoed
        assert "print(1)" not in r.text
    r = client.post("/v1/evaluate", headers={**AUTH, "Content-Type": "application/json"}, content=b'{"items": [')
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    r = client.post("/v1/evaluate", headers={**AUTH, "Content-Type": "application/json"},
                    content=b"[" * 5000 + b"]" * 5000)
    assert r.status_code in (400, 422) and "Traceback" not in r.text
    r = client.get("/v1/nothing", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/v1/evaluate", headers=AUTH)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_tasks_endpoints(client, tasks):
    r = client.get("/v1/tasks", headers=AUTH).json()
    assert r["n"] == len(tasks) and [t["id"] for t in r["tasks"]] == [t.id for t in tasks]
    d = client.get(f"/v1/tasks/{tasks[0].id}", headers=AUTH).json()
    assert d["id"] == tasks[0].id and d["goal"] == tasks[0].goal_conditions
    assert "Your task" in d["prompts"]["eai"] and d["prompts"]["native"]
    r = client.get("/v1/tasks/nope", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_task"


def test_metrics_prometheus_format(client, tasks):
    client.post("/v1/evaluate", headers=AUTH, json={"items": [{"task": tasks[0].id, "plan": _oracle(tasks[0])}]})
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name in ("emx_http_requests_total", "emx_http_request_duration_seconds_bucket", "emx_queue_depth",
                 "emx_worker_utilisation", "emx_evaluate_items_total", "emx_workers"):
        assert name in text, name
    prom = pytest.importorskip("prometheus_client.parser")
    families = {f.name: f for f in prom.text_string_to_metric_families(text)}
    assert families["emx_http_request_duration_seconds"].type == "histogram"
    ok = [s for s in families["emx_http_requests"].samples
          if s.labels.get("path") == "/v1/evaluate" and s.labels.get("status") == "200"]
    assert ok and ok[0].value >= 1
    util = [s for s in families["emx_worker_utilisation"].samples]
    assert len(util) == 2 and all(0.0 <= s.value <= 1.0 for s in util)


def test_request_id_echoed(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = client.get("/v1/tasks")
    assert r.json()["error"]["request_id"] == r.headers["x-request-id"]


# ------------------------------------------------------------------ deadlines and overload

class _GatedBackend(ThreadBackend):
    """Each evaluation waits for the test to open the gate: the tests below order events by what
    the server reports, never by sleeping, so machine load cannot change their outcome."""

    def __init__(self, slots):
        super().__init__(slots)
        self.gate = threading.Event()
        self.finished = 0

    def _run(self, *a):
        assert self.gate.wait(60), "the test never opened the gate"
        out = super()._run(*a)
        self.finished += 1
        return out


def _until(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout   # a hang guard, not a timing claim
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_timeout_gives_504_and_the_slot_stays_taken_until_the_work_ends(tasks):
    backend = _GatedBackend(1)
    app = create_app(tasks, token=None, backend=backend,
                     limits=ServerLimits(request_timeout_s=0.2, max_concurrency=1))
    with TestClient(app) as c:
        body = {"items": [{"task": tasks[0].id, "plan": "x"}]}
        r = c.post("/v1/evaluate", json=body)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert backend.finished == 0          # answered while the evaluation was still running
        assert app.state.running == 1  # the batch still runs; its slot is not handed out twice
        backend.gate.set()
        _until(lambda: app.state.running == 0, "the timed-out batch frees its slot")
        assert backend.finished == 1
        assert c.post("/v1/evaluate", json=body).status_code == 200


def test_overload_gives_503_with_retry_after(tasks):
    backend = _GatedBackend(1)
    app = create_app(tasks, token=None, backend=backend,
                     limits=ServerLimits(request_timeout_s=60, max_concurrency=1, max_queue=1))
    with TestClient(app) as c:
        body = {"items": [{"task": tasks[0].id, "plan": "x"}]}
        statuses = []

        def call():
            r = c.post("/v1/evaluate", json=body)
            statuses.append((r.status_code, r.headers.get("retry-after"), r.json()))

        threads = [threading.Thread(target=call) for _ in range(4)]
        threads[0].start()
        _until(lambda: app.state.running == 1, "the first request runs")
        threads[1].start()
        _until(lambda: app.state.waiting == 1, "the second request waits")
        for t in threads[2:]:          # the queue is full: both are turned away at once
            t.start()
            t.join(60)
        assert sorted(s for s, _, _ in statuses) == [503, 503], statuses
        backend.gate.set()
        for t in threads[:2]:
            t.join(60)
        codes = sorted(s for s, _, _ in statuses)
        assert codes.count(200) == 2 and codes.count(503) == 2, statuses
        assert all(ra == "1" and j["error"]["code"] == "overloaded" for s, ra, j in statuses if s == 503)


def test_internal_errors_hide_details(tasks):
    class Broken(ThreadBackend):
        def _run(self, *a):
            raise RuntimeError("secret internal detail /etc/passwd")

    app = create_app(tasks, backend=Broken(1))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/evaluate", json={"items": [{"task": tasks[0].id, "plan": "x"}]})
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal"
        assert "secret" not in r.text and "Traceback" not in r.text


# ------------------------------------------------------------------ binding rules

def test_bind_rules(monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.3.4.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.org")
    check_bind("127.0.0.1", None)
    with pytest.raises(ValueError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ValueError, match="at least 16"):
        check_bind("0.0.0.0", "short")
    check_bind("0.0.0.0", "x" * 32)
    monkeypatch.setenv("EMX_SERVER_TOKEN", "from-env-0123456789")
    assert resolve_token(None) == "from-env-0123456789"
    assert resolve_token("explicit-0123456789") == "explicit-0123456789"
    monkeypatch.setenv("EMX_SERVER_TOKEN", "  ")
    assert resolve_token(None) is None


def test_serve_refuses_public_bind_without_token(monkeypatch, capsys):
    from emx.server.launch import main

    monkeypatch.delenv("EMX_SERVER_TOKEN", raising=False)
    assert main(["--host", "0.0.0.0", "--port", "1"]) == 2
    assert "without a token" in capsys.readouterr().err


def test_duplicate_task_ids_refused(tasks):
    with pytest.raises(ValueError, match="served twice"):
        create_app([tasks[0], tasks[0]])


def test_metrics_registry_format():
    reg = Registry()
    c = reg.counter("x_total", "a counter", ("k",))
    c.inc(k='a"b\\c\nd')
    h = reg.histogram("lat_seconds", "h", buckets=(0.1, 1.0))
    h.observe(0.5)
    h.observe(2.0)
    text = reg.render()
    assert 'x_total{k="a\\"b\\\\c\\nd"} 1' in text
    assert 'lat_seconds_bucket{le="0.1"} 0' in text and 'lat_seconds_bucket{le="1"} 1' in text
    assert 'lat_seconds_bucket{le="+Inf"} 2' in text and "lat_seconds_sum 2.5" in text


def test_rollout_engine_backend(tasks):
    """`emx serve --workers N`: the same answers from worker processes behind the C++ scheduler."""
    from emx.server.launch import make_backend

    backend = make_backend(1, ServerLimits(max_concurrency=2))
    assert backend.name == "rollout-engine"
    app = create_app(tasks, backend=backend)
    items = [(t, _oracle(t)) for t in tasks[:4]] + [(tasks[4], "garbage")]
    with TestClient(app) as c:
        r = c.post("/v1/evaluate", json={"items": [{"task": t.id, "plan": p} for t, p in items],
                                         "reward": "embomatrix"})
        assert r.status_code == 200, r.text
        local = emx.evaluate_batch([t for t, _ in items], [p for _, p in items], reward="embomatrix",
                                   keep_trace=True)
        for got, want in zip(r.json()["results"], local):
            assert (got["task"], got["reward"], got["success"], got["error_type"]) == \
                   (want.task_id, want.reward, want.success, want.error_type)
            assert [s["action"] for s in got["trace"]] == [s.action for s in want.trace]
        text = c.get("/metrics").text
        assert 'emx_worker_utilisation{worker="' in text and "emx_episode_queue_depth 0" in text
    assert backend.engine.closed  # the app's shutdown closed the engine and its workers
