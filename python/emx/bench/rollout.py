"""``emx bench rollout``: the rollout system's costs, each measured side by side in one run.

What is measured
  * Dispatch overhead per episode: the C++ scheduler with two no-op workers (``emx_worker --noop``
    answers every plan at once) on a batch of prebuilt one-action episodes, submit to last result,
    wall time / episodes (best of 3). Plan parsing is excluded here and in the HTTP baseline alike:
    both measure getting an episode to a worker and its result back. The Python facade's cost
    (futures, ``RolloutResult`` objects) is reported beside it.
  * Same work, end to end (the headline): identical plan texts (noisy-oracle GRPO groups over the
    100 EAI tasks), each parsed and evaluated for real, through (a) ``emx.RolloutEngine`` with 2
    symbolic workers, (b) an EmboMatrix-style gateway -- FastAPI under uvicorn with 2 processes,
    one POST per plan, the real ``emx.evaluate`` behind it, 2 concurrent clients -- and (c) emx
    serve's own batched ``/v1/evaluate`` (256 plans per request, 2 engine workers). The rewards of
    all three must agree. Ratios ``engine_vs_gateway_same_work``, ``engine_vs_batched_http_same_work``.
  * Micro-benchmark, transport only: the no-op dispatch above against a no-op HTTP handler (a
    pydantic model of task + plan text, returning a constant), driven by httpx with keep-alive,
    sequentially and from 8 threads (``dispatch_vs_http``: not the same work, not a headline).
  * Physics scaling: plans/s of 1 and 2 SAPIEN physics workers on the same independent plans
    (scenes load on first use in both runs; worker start-up is excluded).
  * End to end on GRPO groups (8 plans per task, sampled -- see ``emx.rollout.testing.
    sampled_groups``): the engine (snapshot reuse + prefix sharing), the engine with prefix sharing
    off, with snapshot reuse off (the scene is rebuilt for every plan), and a naive
    ``multiprocessing.Pool`` over the same physics code that rebuilds the scene per plan; all with
    2 processes. Every variant's rewards must agree.
  * Prefix-sharing saving: 1 - simulated actions / actions the plans needed on their own.
    The headline (``prefix_saving``, the design's target) is measured on GRPO groups *sampled from
    the tiny policy* (``tests/data/tiny_policy_groups.jsonl``, recorded by
    bench/record_tiny_policy_groups.py: the tiny preset's SFT model, 8 plans at temperature 1 for
    each of 20 training tasks, raw model text), symbolic and physics, 2 workers each. The older
    measure on oracle truncations (below) stays as ``prefix_saving_oracle_truncations``.

The engine-variant timings and ``prefix_saving_oracle_truncations`` use a noisy-oracle sampler
(``sampled_groups``: the oracle's plan cut short, steps repeated or swapped, some unparseable
text) over EAI tasks, not a trained policy. Without the recorded file (an installed wheel has no
tests/), the headline falls back to the oracle truncations and says so.
``run(quick)`` returns the contract's JSON object and prints nothing.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from . import Progress, machine_info, ratio

__all__ = ["run", "format_table", "main", "TARGETS"]

NAME = "rollout"
TARGETS = {"dispatch_us": 20.0, "engine_vs_gateway_same_work": 20.0, "physics_scaling_2_vs_1": 1.8,
           "prefix_saving": 0.30}
# Cheap EAI tasks whose oracle plans move things (grasp, place, open): a physics batch in seconds.
PHYSICS_TASKS = ("bringing_in_wood", "polishing_shoes", "sorting_books", "brushing_lint_off_clothing",
                 "laying_tile_floors", "throwing_away_leftovers", "moving_boxes_to_storage",
                 "cleaning_table_after_clearing", "cleaning_the_pool", "polishing_silver", "cleaning_carpets",
                 "washing_dishes", "cleaning_microwave_oven", "installing_alarms", "cleaning_toilet",
                 "cleaning_barbecue_grill")


def _say(progress: Progress, stage: str, done: int = 0, total: int = 0) -> None:
    if progress:
        progress(stage, done, total)


# --------------------------------------------------------------------------- dispatch

def _dispatch(n: int, progress: Progress) -> dict:
    import emx
    from emx.rollout import RolloutEngine

    tasks = emx.load_tasks("eai-behavior", limit=4)
    plans = [[t.core.describe(t.core.oracle(5)[1][0])] if t.core.oracle(5)[1] else [] for t in tasks]
    one_step = [[{"action": p[0].split("(")[0], "object": p[0].split("(")[1].rstrip(")")}] if p else [] for p in plans]
    with RolloutEngine(workers=["noop*2"], queue_capacity=max(4096, n)) as engine:
        items = engine._prepare([(tasks[i % len(tasks)], one_step[i % len(tasks)]) for i in range(n)], None)
        reqs = [it[0] for it in items]
        engine._core.evaluate(reqs[: min(n, 5000)], arrays=True)  # warm up
        best = math.inf
        for k in range(3):
            _say(progress, "dispatch: no-op workers", k, 3)
            t0 = time.perf_counter()
            out = engine._core.evaluate(reqs, arrays=True)
            best = min(best, time.perf_counter() - t0)
            assert bool(out["ok"].all())
        n_facade = max(1000, n // 10)
        batch = [(tasks[i % len(tasks)], one_step[i % len(tasks)]) for i in range(n_facade)]
        engine.evaluate(batch[:500])
        t0 = time.perf_counter()
        engine.evaluate(batch)
        facade = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.rewards(batch)
        rewards_path = time.perf_counter() - t0
    return {"episodes": n, "workers": 2, "us_per_episode": 1e6 * best / n,
            "facade_episodes": n_facade, "facade_us_per_episode": 1e6 * facade / n_facade,
            "rewards_us_per_episode": 1e6 * rewards_path / n_facade}


_HTTP_SERVER = textwrap.dedent("""
    import sys
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel

    app = FastAPI()

    class PlanRequest(BaseModel):
        task: str
        plan: str

    @app.post("/evaluate")
    async def evaluate(req: PlanRequest):
        return {"task": req.task, "reward": 0.0, "success": False}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(n: int, progress: Progress) -> dict:
    try:
        import httpx  # noqa: F401
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        return {"skipped": f"the HTTP baseline needs fastapi, uvicorn and httpx ({e})"}
    import httpx

    port = _free_port()
    try:
        server = _start_server([sys.executable, "-c", _HTTP_SERVER, str(port)], port)
    except RuntimeError as e:
        return {"skipped": f"the uvicorn server did not start: {e}"}
    try:
        url = f"http://127.0.0.1:{port}/evaluate"
        body = {"task": "bringing_in_wood", "plan": '[{"action": "RIGHT_GRASP", "object": "plywood_0"}]'}
        _say(progress, "http: sequential", 0, 2)
        with httpx.Client() as client:
            for _ in range(200):
                client.post(url, json=body)
            t0 = time.perf_counter()
            for _ in range(n):
                r = client.post(url, json=body)
            sequential = (time.perf_counter() - t0) / n
            assert r.status_code == 200

        _say(progress, "http: 8 threads", 1, 2)
        threads = 8
        per = max(1, n // threads)

        def drive(_: int) -> None:
            with httpx.Client() as c:
                for _ in range(per):
                    c.post(url, json=body)

        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(drive, range(threads)))          # warm up connections
            t0 = time.perf_counter()
            list(ex.map(drive, range(threads)))
            concurrent = (time.perf_counter() - t0) / (per * threads)
        return {"requests": n, "us_per_request_sequential": 1e6 * sequential,
                "us_per_request_8_threads": 1e6 * concurrent, "us_per_request": 1e6 * min(sequential, concurrent)}
    finally:
        _stop(server)


# --------------------------------------------------------------------------- same work, end to end

# The EmboMatrix way of scoring plans: a web gateway that takes one POST per plan and evaluates it
# for real behind the request (here with emx's own evaluator, so both sides do identical work).
_GATEWAY_APP = textwrap.dedent("""
    import emx
    from fastapi import FastAPI
    from pydantic import BaseModel

    TASKS = {t.id: t for t in emx.load_tasks("eai-behavior")}
    app = FastAPI()

    class PlanRequest(BaseModel):
        task: str
        plan: str

    @app.post("/evaluate")
    def evaluate(req: PlanRequest):
        r = emx.evaluate(TASKS[req.task], req.plan, reward="default")
        return {"task": req.task, "reward": r.reward, "success": r.success}
""")


def _start_server(argv: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                err = server.stderr.read().decode(errors="replace") if server.poll() is not None else "timed out"
                server.kill()
                raise RuntimeError(f"the server did not start: {err[-300:]}") from None
            time.sleep(0.05)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    with contextlib.suppress(Exception):
        server.wait(timeout=10)
    if server.poll() is None:
        server.kill()


def _same_work_plans(n: int) -> tuple[list, list[str]]:
    """n (task, plan text) pairs: GRPO-style groups from the noisy-oracle sampler over the 100 EAI
    tasks, as the raw text a model would write. Every implementation parses and evaluates each."""
    import json

    import emx
    from emx.rollout.testing import sampled_groups

    tasks = emx.load_tasks("eai-behavior")
    eps = sampled_groups(tasks, max(1, -(-n // len(tasks))), seed=7)[:n]
    texts = [e.plan if isinstance(e.plan, str) else json.dumps(e.plan) for e in eps]
    return [e.task for e in eps], texts


def _same_work(n: int, workers: int, progress: Progress) -> dict:
    """plans/s of the engine, an EmboMatrix-style gateway (one POST per plan, ``workers`` uvicorn
    processes and as many concurrent clients) and emx serve's batched /v1/evaluate, on the same
    plan texts, each evaluated for real; the rewards of all three must agree."""
    try:
        import httpx
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        return {"skipped": f"the HTTP baselines need fastapi, uvicorn and httpx ({e})"}
    import tempfile

    import numpy as np

    from emx.rollout import RolloutEngine

    tasks, texts = _same_work_plans(n)
    out: dict[str, Any] = {"plans": len(texts), "workers": workers,
                           "plans_from": "noisy-oracle sampler on the 100 EAI tasks, raw text"}

    _say(progress, "same work: engine", 0, 3)
    with RolloutEngine(workers=workers) as engine:
        engine.rewards(list(zip(tasks[:200], texts[:200])))           # warm: tasks loaded in the workers
        t0 = time.perf_counter()
        res = engine.rewards(list(zip(tasks, texts)))
        engine_s = time.perf_counter() - t0
    engine_rewards = np.asarray(res["reward"], dtype=float)
    out["engine"] = {"seconds": engine_s, "plans_per_s": len(texts) / engine_s}

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "emx_gateway.py"), "w") as f:
            f.write(_GATEWAY_APP)
        port = _free_port()
        _say(progress, "same work: gateway, one POST per plan", 1, 3)
        server = _start_server([sys.executable, "-m", "uvicorn", "emx_gateway:app", "--app-dir", tmp,
                                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                                "--log-level", "error", "--no-access-log"], port, env)
        try:
            url = f"http://127.0.0.1:{port}/evaluate"
            # Each uvicorn process loads its tasks on start; warm every one of them.
            with httpx.Client(timeout=120) as c:
                for i in range(20 * workers):
                    c.post(url, json={"task": tasks[i].id, "plan": texts[i]})
            gateway_rewards = np.zeros(len(texts))

            def drive(k: int) -> None:
                with httpx.Client(timeout=120) as c:
                    for i in range(k, len(texts), workers):
                        r = c.post(url, json={"task": tasks[i].id, "plan": texts[i]})
                        gateway_rewards[i] = r.json()["reward"]

            with ThreadPoolExecutor(workers) as ex:
                t0 = time.perf_counter()
                list(ex.map(drive, range(workers)))
                gateway_s = time.perf_counter() - t0
        finally:
            _stop(server)
    out["gateway"] = {"seconds": gateway_s, "plans_per_s": len(texts) / gateway_s, "processes": workers,
                      "concurrent_clients": workers}

    _say(progress, "same work: emx serve, batched /v1/evaluate", 2, 3)
    port = _free_port()
    batch = 256
    server = _start_server([sys.executable, "-m", "emx.cli", "serve", "--tasks", "eai-behavior", "--port", str(port),
                            "--workers", str(workers), "--max-items", str(batch), "--log-level", "error"], port, env)
    try:
        url = f"http://127.0.0.1:{port}/v1/evaluate"
        chunks = [list(range(i, min(i + batch, len(texts)))) for i in range(0, len(texts), batch)]
        batched_rewards = np.zeros(len(texts))

        def post(c, idx):
            r = c.post(url, json={"items": [{"task": tasks[i].id, "plan": texts[i]} for i in idx], "trace": False})
            r.raise_for_status()
            for i, item in zip(idx, r.json()["results"]):
                batched_rewards[i] = item["reward"]

        with httpx.Client(timeout=300) as c:
            post(c, chunks[0])                                                   # warm
            t0 = time.perf_counter()
            for idx in chunks:
                post(c, idx)
            batched_s = time.perf_counter() - t0
    finally:
        _stop(server)
    out["batched_http"] = {"seconds": batched_s, "plans_per_s": len(texts) / batched_s, "items_per_request": batch}
    out["rewards_agree"] = bool(np.allclose(engine_rewards, gateway_rewards) and
                                np.allclose(engine_rewards, batched_rewards))
    return out


# --------------------------------------------------------------------------- physics

def _physics_tasks(n: int) -> list:
    import emx
    chosen = [t for t in emx.load_tasks("eai-behavior") if t.id.startswith(PHYSICS_TASKS)]
    return chosen[:n]


def _timed_physics(episodes: list, workers: int, **opts: Any) -> tuple[float, list, dict]:
    """Seconds for a second pass over episodes (the first loads scenes into the workers' caches:
    the regime of training, where the same tasks come back every step), their rewards, stats."""
    from emx.rollout import RolloutEngine
    with RolloutEngine(workers=workers, mode="physics", **opts) as engine:
        first = engine.evaluate(episodes)
        bad = [r.error for r in first if r.status != "ok"]
        if bad:
            raise RuntimeError(f"{len(bad)} physics episodes failed: {bad[:3]}")
        t0 = time.perf_counter()
        out = engine.rewards(episodes)
        dt = time.perf_counter() - t0
        stats = engine.stats()
    if not bool(out["ok"].all()):
        raise RuntimeError("physics episodes failed in the timed pass")
    return dt, [float(x) for x in out["reward"]], stats


def _burn(n: int) -> float:
    t0 = time.perf_counter()
    s = 0
    for i in range(n):
        s += i * i
    return time.perf_counter() - t0


def _cpu_ceiling() -> float:
    """How much faster two processes burn CPU than one, on this machine, now: the best any
    2-worker scaling can show (other load on a shared machine lowers it)."""
    n = 3_000_000
    serial = _burn(n) + _burn(n)
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])
        t0 = time.perf_counter()
        pool.map(_burn, [n, n])
        parallel = time.perf_counter() - t0
    return serial / parallel


_POOL_TASKS: dict = {}


def _pool_episode(args: tuple[str, Any]) -> float:
    """The naive baseline: one plan per call, the scene rebuilt every time (task compile and the
    scene dict are cached per process, as any sensible script would)."""
    import emx
    from emx.evaluation import _parse, to_actions
    from emx.sim import PhysicsWorld, evaluate_physics, scene_for

    task_id, plan = args
    hit = _POOL_TASKS.get(task_id)
    if hit is None:
        task = emx.load_task(f"eai-behavior:{task_id}")
        hit = _POOL_TASKS[task_id] = (task, scene_for(task))
    task, scene = hit
    parsed = _parse(plan, "auto")
    actions = to_actions(task, parsed) if parsed.ok else []
    world = PhysicsWorld(task, scene) if parsed.ok else None
    return evaluate_physics(task, actions, parsed.ok, "default", scene=scene, world=world)["reward"]


def _pool_warm(_: int) -> None:
    import emx.sim  # noqa: F401
    time.sleep(0.2)   # both processes get a warm-up call


def _timed_pool(episodes: list, processes: int) -> tuple[float, list]:
    ctx = mp.get_context("spawn")
    args = [(e.task.id, e.plan) for e in episodes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ctx.Pool(processes) as pool:
            pool.map(_pool_warm, range(processes))
            pool.map(_pool_episode, args, chunksize=1)       # warm: tasks and scene dicts cached
            t0 = time.perf_counter()
            rewards = pool.map(_pool_episode, args, chunksize=1)
            dt = time.perf_counter() - t0
    return dt, rewards


def _physics(quick: bool, progress: Progress) -> dict:
    try:
        import sapien  # noqa: F401
        import emx.sim  # noqa: F401
    except Exception as e:
        return {"skipped": f"physics needs SAPIEN and emx.sim ({e})"}
    from emx.rollout import Episode
    from emx.rollout.testing import sampled_groups

    n_tasks = 8 if quick else 16
    tasks = _physics_tasks(n_tasks)
    out: dict[str, Any] = {"tasks": [t.id for t in tasks]}

    # Scaling: independent plans (no groups), 1 vs 2 workers.
    singles = [Episode(e.task, e.plan) for e in sampled_groups(tasks, 6 if quick else 10, seed=31, garbage=0.0)]
    _say(progress, "physics: 1 worker", 0, 6)
    t1, r1, _ = _timed_physics(singles, 1)
    _say(progress, "physics: 2 workers", 1, 6)
    t2, r2, _ = _timed_physics(singles, 2)
    ceiling = _cpu_ceiling()
    out["scaling"] = {"plans": len(singles), "plans_per_s_1_worker": len(singles) / t1,
                      "plans_per_s_2_workers": len(singles) / t2, "speedup": t1 / t2, "rewards_agree": r1 == r2,
                      "cpu_ceiling_2_vs_1": ceiling, "efficiency_vs_ceiling": (t1 / t2) / ceiling}

    # End to end on GRPO groups: engine variants and the naive pool.
    groups = sampled_groups(tasks, 8, seed=32)
    variants = {}
    for k, (name, opts) in enumerate((("engine", {}), ("engine_no_prefix_sharing", {"prefix_sharing": False}),
                                      ("engine_no_snapshot_reuse", {"snapshot_reuse": False}))):
        _say(progress, f"physics: {name}", 2 + k, 6)
        dt, rewards, stats = _timed_physics(groups, 2, **opts)
        saving = 1 - stats["simulated_actions"] / stats["plan_actions"] if stats["plan_actions"] else 0.0
        variants[name] = {"plans_per_s": len(groups) / dt, "seconds": dt, "prefix_saving": saving,
                          "simulated_actions": stats["simulated_actions"], "plan_actions": stats["plan_actions"],
                          "rewards": rewards}
    _say(progress, "physics: multiprocessing.Pool", 5, 6)
    dt, rewards = _timed_pool(groups, 2)
    variants["naive_pool"] = {"plans_per_s": len(groups) / dt, "seconds": dt, "rewards": rewards}
    reference = variants["engine"]["rewards"]
    agree = all(v["rewards"] == reference for v in variants.values())
    for v in variants.values():
        v.pop("rewards")
    out["groups"] = {"plans": len(groups), "group_size": 8, "variants": variants, "rewards_agree": agree}
    return out


def _tiny_policy_saving(progress: Progress, path: Any = None) -> dict:
    """Prefix saving on the GRPO groups recorded from the tiny policy, symbolic and physics."""
    from emx.rollout import RolloutEngine
    from emx.rollout.testing import TINY_POLICY_GROUPS, tiny_policy_groups

    try:
        groups, meta = tiny_policy_groups(path)
    except FileNotFoundError:
        return {"skipped": f"{path or TINY_POLICY_GROUPS} not found (a source checkout has it)"}
    out: dict[str, Any] = {"file": "tests/data/tiny_policy_groups.jsonl", "plans": len(groups),
                           "tasks": len({e.group for e in groups}), "group_size": meta.get("group_size"),
                           "policy": meta.get("what", "")}
    modes = ["symbolic"]
    try:
        import sapien  # noqa: F401
        import emx.sim  # noqa: F401
        modes.append("physics")
    except Exception as e:  # noqa: BLE001
        out["physics_skipped"] = f"physics needs SAPIEN and emx.sim ({e})"
    for k, mode in enumerate(modes):
        _say(progress, f"tiny-policy groups: {mode}", k, len(modes))
        with RolloutEngine(workers=2, mode=mode) as engine:
            results = engine.evaluate(groups)
            st = engine.stats()
        out[mode] = {"prefix_saving": 1 - st["simulated_actions"] / st["plan_actions"] if st["plan_actions"] else 0.0,
                     "simulated_actions": st["simulated_actions"], "plan_actions": st["plan_actions"],
                     "ok": all(r.status == "ok" for r in results),
                     "parsed": sum(bool(r.format_ok) for r in results) / len(results),
                     "success": sum(bool(r.success) for r in results) / len(results)}
    return out


def _symbolic_saving(progress: Progress) -> dict:
    import emx
    from emx.rollout import RolloutEngine
    from emx.rollout.testing import sampled_groups

    _say(progress, "symbolic groups", 0, 1)
    tasks = emx.load_tasks("eai-behavior")
    groups = sampled_groups(tasks, 8, seed=33)
    with RolloutEngine(workers=2) as engine:
        results = engine.evaluate(groups)
        s = engine.stats()
    return {"tasks": len(tasks), "plans": len(groups), "group_size": 8,
            "prefix_saving": 1 - s["simulated_actions"] / s["plan_actions"],
            "simulated_actions": s["simulated_actions"], "plan_actions": s["plan_actions"],
            "ok": all(r.status == "ok" for r in results)}


# --------------------------------------------------------------------------- run

def run(quick: bool = False, progress: Progress = None) -> dict:
    dispatch = _dispatch(50_000 if quick else 200_000, progress)
    http = _http(1_000 if quick else 4_000, progress)
    same = _same_work(2_000 if quick else 10_000, 2, progress)
    physics = _physics(quick, progress)
    symbolic = _symbolic_saving(progress)
    tiny = _tiny_policy_saving(progress)

    results: list[dict] = [
        {"name": "dispatch_noop", "us_per_episode": dispatch["us_per_episode"], "episodes": dispatch["episodes"],
         "workers": 2},
        {"name": "facade_noop", "us_per_episode": dispatch["facade_us_per_episode"],
         "episodes": dispatch["facade_episodes"], "workers": 2},
        {"name": "rewards_fast_path_noop", "us_per_episode": dispatch["rewards_us_per_episode"],
         "episodes": dispatch["facade_episodes"], "workers": 2},
    ]
    ratios: dict[str, float] = {}
    if "skipped" not in same:
        for name in ("engine", "gateway", "batched_http"):
            results.append({"name": f"same_work_{name}", "plans": same["plans"], "workers": same["workers"],
                            **same[name]})
        ratios["engine_vs_gateway_same_work"] = ratio(same["engine"]["plans_per_s"], same["gateway"]["plans_per_s"])
        ratios["engine_vs_batched_http_same_work"] = ratio(same["engine"]["plans_per_s"],
                                                           same["batched_http"]["plans_per_s"])
    if "skipped" not in http:
        # A micro-benchmark, labelled as such: no-op workers against a no-op HTTP handler. It
        # measures transport overhead only; the end-to-end comparison is the same-work one above.
        results.append({"name": "http_gateway_noop", **http})
        ratios["dispatch_vs_http"] = http["us_per_request"] / dispatch["us_per_episode"]
        ratios["facade_vs_http"] = http["us_per_request"] / dispatch["facade_us_per_episode"]
    if "skipped" not in physics:
        sc = physics["scaling"]
        results.append({"name": "physics_scaling", **sc})
        ratios["physics_scaling_2_vs_1"] = sc["speedup"]
        v = physics["groups"]["variants"]
        for name, x in v.items():
            results.append({"name": f"physics_{name}", "plans": physics["groups"]["plans"], **x})
        ratios["rollout_vs_pool"] = ratio(v["engine"]["plans_per_s"], v["naive_pool"]["plans_per_s"])
        ratios["prefix_sharing_on_vs_off"] = ratio(v["engine"]["plans_per_s"],
                                                   v["engine_no_prefix_sharing"]["plans_per_s"])
        ratios["snapshot_reuse_on_vs_off"] = ratio(v["engine"]["plans_per_s"],
                                                   v["engine_no_snapshot_reuse"]["plans_per_s"])
    # the old measure, on oracle truncations over the EAI tasks (symbolic; physics in physics_engine)
    results.append({"name": "prefix_saving_oracle_truncations", "groups": "oracle truncations", **symbolic})
    saving = {"oracle_truncations_symbolic": symbolic["prefix_saving"]}
    if "skipped" not in physics:
        saving["oracle_truncations_physics"] = physics["groups"]["variants"]["engine"]["prefix_saving"]
    if "skipped" not in tiny:
        for mode in ("symbolic", "physics"):
            if mode in tiny:
                results.append({"name": f"prefix_saving_tiny_policy_{mode}", "groups": "sampled from the tiny policy",
                                "file": tiny["file"], "tasks": tiny["tasks"], "plans": tiny["plans"],
                                "group_size": tiny["group_size"], **tiny[mode]})
                saving[f"tiny_policy_{mode}"] = tiny[mode]["prefix_saving"]
    # the target is judged on groups a policy sampled: physics where it ran, else symbolic; the
    # oracle truncations only when the recorded groups are absent
    for key in ("tiny_policy_physics", "tiny_policy_symbolic", "oracle_truncations_physics",
                "oracle_truncations_symbolic"):
        if key in saving:
            prefix_saving, measured_on = saving[key], key
            break
    met = {
        "dispatch_us": dispatch["us_per_episode"] <= TARGETS["dispatch_us"],
        "engine_vs_gateway_same_work": (ratios.get("engine_vs_gateway_same_work", 0.0)
                                        >= TARGETS["engine_vs_gateway_same_work"]),
        "physics_scaling_2_vs_1": ratios.get("physics_scaling_2_vs_1", 0.0) >= TARGETS["physics_scaling_2_vs_1"],
        "prefix_saving": prefix_saving >= TARGETS["prefix_saving"],
    }
    machine = machine_info()
    with contextlib.suppress(OSError):
        machine["load_average_1min"] = os.getloadavg()[0]
    return {
        "bench": NAME, "quick": quick, "machine": machine, "results": results, "ratios": ratios,
        "targets": TARGETS, "met": met,
        "agreement": {"same_work_rewards_agree": same.get("rewards_agree"),
                      "physics_rewards_agree": physics.get("groups", {}).get("rewards_agree"),
                      "physics_scaling_rewards_agree": physics.get("scaling", {}).get("rewards_agree")},
        "skipped": {k: v["skipped"] for k, v in (("http", http), ("same_work", same), ("physics", physics),
                                                  ("tiny_policy_groups", tiny)) if "skipped" in v},
        "prefix_saving": {**saving, "target_measured_on": measured_on},
        "groups": ("timings and prefix_saving_oracle_truncations: noisy-oracle sampler "
                   "(emx.rollout.testing.sampled_groups), 8 plans per task; prefix_saving_tiny_policy_*: 8 plans "
                   "per task sampled from the tiny policy (tests/data/tiny_policy_groups.jsonl)"),
    }


def format_table(result: dict) -> list[tuple[str, str]]:
    m, ra, met = result["machine"], result["ratios"], result["met"]
    by = {r["name"]: r for r in result["results"]}
    rows = [("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}")]
    d = by["dispatch_noop"]
    rows.append(("dispatch, no-op workers", f"{d['us_per_episode']:.2f} us/episode "
                                            f"(target <= {TARGETS['dispatch_us']:.0f}: {'met' if met['dispatch_us'] else 'NOT met'})"))
    rows.append(("facade (futures + results)", f"{by['facade_noop']['us_per_episode']:.2f} us/episode"))
    rows.append(("rewards() fast path", f"{by['rewards_fast_path_noop']['us_per_episode']:.2f} us/episode"))
    if "same_work_engine" in by:
        e, g, b = by["same_work_engine"], by["same_work_gateway"], by["same_work_batched_http"]
        rows.append((f"same work: engine ({e['workers']} workers)", f"{e['plans_per_s']:,.0f} plans/s "
                                                                    f"({e['plans']:,} plans evaluated for real)"))
        rows.append(("same work: gateway, 1 POST/plan", f"{g['plans_per_s']:,.0f} plans/s "
                                                         f"({g['processes']} uvicorn processes, "
                                                         f"{g['concurrent_clients']} clients)"))
        rows.append(("same work: emx serve, batched", f"{b['plans_per_s']:,.0f} plans/s "
                                                      f"({b['items_per_request']} plans per request)"))
        rows.append(("engine vs gateway, same work", f"{ra['engine_vs_gateway_same_work']:.1f}x (target >= "
                                                      f"{TARGETS['engine_vs_gateway_same_work']:.0f}x: "
                                                      f"{'met' if met['engine_vs_gateway_same_work'] else 'NOT met'})"))
        rows.append(("engine vs batched HTTP, same work", f"{ra['engine_vs_batched_http_same_work']:.2f}x"))
    if "http_gateway_noop" in by:
        h = by["http_gateway_noop"]
        rows.append(("micro: no-op HTTP gateway", f"{h['us_per_request']:.0f} us/request "
                                                 f"(sequential {h['us_per_request_sequential']:.0f}, "
                                                 f"8 threads {h['us_per_request_8_threads']:.0f})"))
        rows.append(("micro: no-op dispatch vs no-op HTTP", f"{ra['dispatch_vs_http']:.0f}x (transport only)"))
    if "physics_scaling" in by:
        s = by["physics_scaling"]
        rows.append(("physics 1 -> 2 workers", f"{s['plans_per_s_1_worker']:.1f} -> {s['plans_per_s_2_workers']:.1f} "
                                               f"plans/s = {s['speedup']:.2f}x (target >= "
                                               f"{TARGETS['physics_scaling_2_vs_1']}: "
                                               f"{'met' if met['physics_scaling_2_vs_1'] else 'NOT met'})"))
        rows.append(("  machine ceiling now", f"2 CPU-bound processes {s['cpu_ceiling_2_vs_1']:.2f}x one "
                                             f"(scaling is {s['efficiency_vs_ceiling']:.0%} of it)"))
        for name in ("engine", "engine_no_prefix_sharing", "engine_no_snapshot_reuse", "naive_pool"):
            x = by[f"physics_{name}"]
            extra = f", prefix saving {x['prefix_saving']:.0%}" if "prefix_saving" in x else ""
            rows.append((f"groups: {name.replace('_', ' ')}", f"{x['plans_per_s']:.1f} plans/s{extra}"))
        rows.append(("engine vs naive Pool", f"{ra['rollout_vs_pool']:.2f}x"))
        rows.append(("prefix sharing on vs off", f"{ra['prefix_sharing_on_vs_off']:.2f}x"))
        rows.append(("snapshot reuse on vs off", f"{ra['snapshot_reuse_on_vs_off']:.2f}x"))
    for mode in ("symbolic", "physics"):
        tp = by.get(f"prefix_saving_tiny_policy_{mode}")
        if tp:
            rows.append((f"prefix saving, tiny-policy groups, {mode}",
                         f"{tp['prefix_saving']:.0%} of {tp['plan_actions']:,} actions ({tp['tasks']} tasks x "
                         f"{tp['group_size']} sampled plans; {tp['parsed']:.0%} parse, {tp['success']:.0%} succeed)"))
    sg = by["prefix_saving_oracle_truncations"]
    rows.append(("prefix saving, oracle truncations, symbolic",
                 f"{sg['prefix_saving']:.0%} of {sg['plan_actions']:,} actions ({sg['tasks']} tasks x {sg['group_size']})"))
    ps = result.get("prefix_saving", {})
    if ps:
        rows.append(("prefix saving target", f">= {TARGETS['prefix_saving']:.0%} on {ps['target_measured_on']}: "
                                             f"{'met' if met['prefix_saving'] else 'NOT met'}"))
    for k, v in result.get("skipped", {}).items():
        rows.append((f"{k} skipped", v))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m emx.bench.rollout [--quick] [--json]`` (bench/rollout.py calls this)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="rollout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches: under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)

    def progress(stage, done, total):
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{stage}: {done}/{total}      " if total else f"\r{stage}      ")
            sys.stderr.flush()

    result = run(args.quick, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(len(k) for k, _ in format_table(result))
        for label, value in format_table(result):
            print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
