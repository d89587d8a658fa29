"""Rollout workers as Ray actors on a local multi-node cluster (ray.cluster_utils.Cluster).

The C++ scheduler routes and retries; the Ray transport (emx.rollout.ray_transport)
only carries the framed worker protocol to actors on the cluster's nodes. A node
removed mid-batch: its episodes run again elsewhere, none lost or duplicated.
"""

import dataclasses
import os
import time
from pathlib import Path

import pytest

# Loopback only: every node, the GCS and the bridges use 127.0.0.1 (Ray reads this when imported;
# otherwise it picks the machine's outward address).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")

import emx  # noqa: E402
from emx import _core  # noqa: E402

if not hasattr(_core, "Scheduler"):
    pytest.skip("this build of emx._core has no rollout scheduler", allow_module_level=True)

from ray.cluster_utils import Cluster  # noqa: E402

from emx.evaluation import _parse, to_actions  # noqa: E402
from emx.policy.oracle import oracle_plan  # noqa: E402
from emx.rollout import RolloutEngine  # noqa: E402
from emx.rollout.ray_transport import (ACTOR_PREFIX, NAMESPACE, RayWorkerKind, _kind_for, ray_specs,  # noqa: E402
                                       ray_worker_specs)
from emx.task import knowledge_base  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    # Nodes start worker processes with this environment: make a source checkout importable there.
    pkg_parent = str(Path(emx.__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([pkg_parent] + ([old] if old else []))
    system = {"health_check_period_ms": 500, "health_check_failure_threshold": 4, "health_check_timeout_ms": 500}
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False, "_system_config": system})
    # Three simulation nodes; the last also carries a tag for the GPU physics kind of worker.
    tags = [{"emx_sim": 1}, {"emx_sim": 1}, {"emx_sim": 1, "emx_gpu_physics": 1}]
    nodes = [c.add_node(num_cpus=1, resources=t, node_ip_address="127.0.0.1") for t in tags]
    c.wait_for_nodes()
    ray.init(address=c.address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR")
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def workload():
    tasks = emx.load_tasks("eai-behavior", limit=24)
    plans = []
    for i, t in enumerate(tasks):
        plan = oracle_plan(t)[0] or []
        plans.append(plan if i % 3 else plan[: len(plan) // 2])  # some partial plans
    plans[5] = "not a plan"
    return tasks, plans


def _requests(sched, tasks, plans, tag0=0):
    reqs = []
    for i, (t, p) in enumerate(zip(tasks, plans)):
        tid = sched.add_task(t.id, t.spec.bddl_text, t.spec.filename)
        parsed = _parse(p, "auto")
        reqs.append((tid, to_actions(t, parsed) if parsed.ok else [], parsed.ok, "symbolic", 0, 0, 0, 0.0,
                     False, tag0 + i, 0))
    return reqs


def _expected(tasks, plans):
    return [(r.reward, r.success, r.goal_fraction) for r in emx.evaluate_batch(tasks, plans)]


def _actor_node(bridge_pid: int) -> str:
    actor = ray.get_actor(f"{ACTOR_PREFIX}{bridge_pid}", namespace=NAMESPACE)
    return ray.get(actor.where.remote(), timeout=10)["node_id"]


def test_rollout_engine_on_ray_equals_local_evaluation(cluster, workload):
    """emx.RolloutEngine with its workers on Ray: a Python worker process started by the actor on the
    node tagged for GPU physics (how physics workers run there; the C++ loop inside an actor is the
    node-failure test's kind)."""
    c, nodes = cluster
    tasks, plans = workload
    gpu = dataclasses.replace(_kind_for("symbolic-python", 1, 32, 0.25), name="gpu", num_cpus=0,
                              resources={"emx_gpu_physics": 1})
    with RolloutEngine(workers=ray_specs(c.address, [gpu]), heartbeat_timeout=10.0) as engine:
        results = engine.evaluate(list(zip(tasks, plans)))
        local = emx.evaluate_batch(tasks, plans, keep_trace=True)
        assert [r.status for r in results] == ["ok"] * len(tasks), [r.error for r in results]
        key = lambda r: (r.task_id, r.reward, r.success, r.goal_fraction, r.executability, r.first_error,  # noqa: E731
                         r.error_type, r.condition_truth, r.trace)
        assert [key(r) for r in results] == [key(r) for r in local]
        [worker] = engine.stats()["workers"]
        assert worker["state"] == "ready" and worker["episodes"] == len(tasks)
        # Resource tags decide placement: the "gpu" kind's actor is on the tagged node.
        assert _actor_node(worker["pid"]) == nodes[2].node_id


def test_eval_and_reward_server_on_ray(cluster, workload):
    """What `emx eval --ray ADDRESS --workers 2` and `emx serve --workers 2 --ray ADDRESS` run."""
    pytest.importorskip("fastapi")
    import warnings

    from emx.policy import OraclePolicy
    from emx.rollout.eval import run_eval_rollout
    from emx.server.app import create_app
    from emx.server.launch import make_backend
    from emx.server.limits import ServerLimits

    c, _ = cluster
    tasks, plans = workload
    report = run_eval_rollout(tasks[:8], OraclePolicy(), workers=ray_specs(c.address, 2))
    assert report.n == 8 and report.summary()["success_rate"] == 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    backend = make_backend(2, ServerLimits(max_concurrency=2), transport="ray", address=c.address)
    with TestClient(create_app(tasks, backend=backend)) as client:
        r = client.post("/v1/evaluate", json={"items": [{"task": t.id, "plan": p} for t, p in zip(tasks, plans)]})
        assert r.status_code == 200, r.text
        assert [x["reward"] for x in r.json()["results"]] == [w[0] for w in _expected(tasks, plans)]
        assert client.get("/healthz").json()["backend"] == "rollout-engine"
    assert backend.engine.closed


def test_node_removed_mid_batch_reruns_its_episodes_exactly_once(cluster, workload):
    c, nodes = cluster
    tasks, plans = workload
    # 20 ms per simulated action: the batch takes seconds, so a node can be removed while it runs.
    specs = ray_worker_specs(c.address, [RayWorkerKind(count=2, name="sim", resources={"emx_sim": 1},
                                                       slow_us=20_000)])
    sched = _core.Scheduler(specs, knowledge_base(), {"heartbeat_timeout_s": 6.0, "startup_timeout_s": 60.0})
    try:
        assert sched.wait_ready(60) == 2
        reqs = _requests(sched, tasks, plans, tag0=1000)
        ids = sched.submit(reqs)
        assert all(ids)
        got = []
        removed = None
        deadline = time.monotonic() + 75
        while len(got) < len(reqs) and time.monotonic() < deadline:
            got += sched.poll(64, 0.2)
            if removed is None and len(got) >= 2:
                busy = [w for w in sched.stats()["workers"] if w["inflight"] > 0 and w["pid"] > 0]
                if busy:
                    node_id = _actor_node(busy[0]["pid"])
                    removed = next(n for n in nodes if n.node_id == node_id)
                    c.remove_node(removed, allow_graceful=False)
        assert removed is not None, "no worker had work in hand to interrupt"
        tags = sorted(r["tag"] for r in got)
        assert tags == list(range(1000, 1000 + len(reqs))), "an episode was lost or reported twice"
        assert all(r["status"] == "ok" for r in got), [(r["tag"], r["status"], r["error"]) for r in got
                                                       if r["status"] != "ok"]
        by_tag = {r["tag"]: r for r in got}
        assert [(by_tag[1000 + i]["reward"], by_tag[1000 + i]["success"], by_tag[1000 + i]["goal_fraction"])
                for i in range(len(reqs))] == _expected(tasks, plans)
        assert any(r["attempts"] > 1 for r in got), "nothing was re-run after the node went away"
        stats = sched.stats()
        assert stats["retried"] >= 1 and stats["restarts"] >= 1
        assert sched.poll(64, 0.5) == []  # nothing arrives twice later

        # The slot came back on a surviving node and serves new work.
        assert sched.wait_ready(60) == 2
        again = sched.evaluate(_requests(sched, tasks[:4], plans[:4], tag0=5000))
        assert [r["status"] for r in again] == ["ok"] * 4
        live = {n.node_id for n in nodes if n is not removed}
        assert {_actor_node(w["pid"]) for w in sched.stats()["workers"]} <= live
    finally:
        sched.close()
