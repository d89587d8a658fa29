"""``emx bench server``: a bounded load test of the reward server on loopback.

    python bench/server_load.py [--quick] [--clients N] [--requests R] [--items K] [--json]

What is measured
  * ``emx serve`` runs in a child process on 127.0.0.1 (a free port, a random token,
    its default limits and worker slots), serving the 100 EAI BEHAVIOR tasks.
  * N client threads, each with its own keep-alive connection (``emx.client.RewardClient``,
    retries off so that every refusal counts), send R ``POST /v1/evaluate`` requests of K
    (task, plan) items each: a deterministic mix of oracle plans, oracle plans cut in half,
    EmboMatrix-native text and unparseable text, with traces. Then the loop stops: the
    number of requests is fixed, the target is loopback only.
  * Every response is accounted for: its status, its item count, each item's task id and
    reward against ``emx.evaluate_batch`` on the same items in this process. Errors are
    any exception, non-200 status or mismatch.
  * Latency per request (client side, send to parsed response): p50, p90, p99, max;
    throughput: requests/s and plans/s over the whole run.
  * Baseline (``ratios.direct_vs_http``): the same K-item batches through
    ``emx.evaluate_batch`` in-process, one thread: how many times faster than one HTTP
    round trip. The client threads share the machine's cores with the server, as a trainer
    on the same host would.

``run(quick)`` returns the contract's JSON object and prints nothing.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from typing import Any, Optional

from . import Progress, load_average, machine_info, measure, ratio

NAME = "server"
FULL = {"clients": 8, "requests": 250, "items": 4}
QUICK = {"clients": 4, "requests": 50, "items": 4}


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def workload(tasks: list, n: int) -> list[tuple[str, Any]]:
    """n deterministic (task id, plan) items covering success, partial, native and format-failure cases."""
    import json

    from ..policy.oracle import oracle_plan

    oracle = {}
    for t in tasks:
        plan, _ = oracle_plan(t)
        oracle[t.id] = plan or []
    items = []
    for i in range(n):
        t = tasks[(i * 37) % len(tasks)]
        plan = oracle[t.id]
        kind = i % 4
        if kind == 0:
            items.append((t.id, plan))
        elif kind == 1:
            items.append((t.id, json.dumps(plan[: len(plan) // 2])))
        elif kind == 2:
            items.append((t.id, 'json: {"action_sequence": [{"action": "open", "parameters": {"object_index": 1}}]}'))
        else:
            items.append((t.id, f"<think>no idea</think> I would {i} grasp the thing"))
    return items


def run(quick: bool = False, progress: Progress = None, *, clients: int | None = None,
        requests: int | None = None, items: int | None = None, reward: str = "default") -> dict:
    import emx

    from ..server.client import RewardClient
    from ..server.process import ServerProcess

    cfg = dict(QUICK if quick else FULL)
    for k, v in (("clients", clients), ("requests", requests), ("items", items)):
        if v is not None:
            cfg[k] = v
    n_clients, n_requests, k_items = cfg["clients"], cfg["requests"], cfg["items"]
    total = n_clients * n_requests

    tasks = emx.load_tasks("eai-behavior")
    by_id = {t.id: t for t in tasks}
    pool = workload(tasks, 97)  # a prime: batches differ between requests
    batches = [[pool[(r * k_items + j) % len(pool)] for j in range(k_items)] for r in range(len(pool))]
    expected = []
    for b in batches:
        res = emx.evaluate_batch([by_id[t] for t, _ in b], [p for _, p in b], reward=reward, threads=1)
        expected.append([(r.task_id, r.reward, r.success) for r in res])

    # In-process baseline: one K-item batch per call, one thread.
    state = {"i": 0}

    def direct() -> None:
        b = batches[state["i"] % len(batches)]
        state["i"] += 1
        emx.evaluate_batch([by_id[t] for t, _ in b], [p for _, p in b], reward=reward, threads=1, keep_trace=True)

    direct_s, _ = measure(direct, min_time=0.2, repeats=3)

    load_before = load_average()
    token = secrets.token_urlsafe(24)
    latencies: list[float] = []
    errors: list[str] = []
    accounted = [0]
    lock = threading.Lock()
    done = [0]

    with ServerProcess(["eai-behavior"], token=token) as srv:
        warm = RewardClient(srv.url, token=token, retries=0)
        warm.evaluate_raw(batches[0], reward=reward)  # first request pays imports; not timed
        warm.close()
        barrier = threading.Barrier(n_clients + 1)

        def client_loop(c: int) -> None:
            client = RewardClient(srv.url, token=token, retries=0, timeout=60.0)
            mine: list[float] = []
            barrier.wait()
            for r in range(n_requests):
                bi = (c * n_requests + r) % len(batches)
                t0 = time.perf_counter()
                try:
                    out = client.evaluate_raw(batches[bi], reward=reward, trace=True)
                except Exception as e:  # every failure is counted, none is retried
                    with lock:
                        errors.append(f"client {c} request {r}: {type(e).__name__}: {e}"[:300])
                    continue
                mine.append(time.perf_counter() - t0)
                got = [(x["task"], x["reward"], x["success"]) for x in out["results"]]
                with lock:
                    if out["n"] != k_items or got != expected[bi]:
                        errors.append(f"client {c} request {r}: results differ from emx.evaluate_batch")
                    else:
                        accounted[0] += 1
                    done[0] += 1
                    if progress and done[0] % 100 == 0:
                        progress("requests", done[0], total)
            client.close()
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client_loop, args=(c,), daemon=True) for c in range(n_clients)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join(timeout=600)
        wall = time.perf_counter() - t0
        metrics_text = RewardClient(srv.url, token=token).metrics()

    latencies.sort()
    p50, p90, p99 = (_percentile(latencies, q) for q in (0.50, 0.90, 0.99))
    served = _served_count(metrics_text)
    result = {
        "bench": NAME,
        "machine": machine_info(),
        "config": {**cfg, "reward": reward, "host": "127.0.0.1", "total_requests": total,
                   "server": "emx serve, default limits (worker slots = cores)",
                   # Other work on the machine shares its cores with the server and the clients.
                   "load_average_1min": {"before": load_before, "after": load_average()}},
        "results": [
            {"name": "http-load", "requests": total, "ok": accounted[0], "errors": len(errors),
             "accounted": accounted[0] + len(errors) == total and len(latencies) + len(errors) == total,
             "seconds": wall, "requests_per_s": total / wall if wall > 0 else math.inf,
             "plans_per_s": total * k_items / wall if wall > 0 else math.inf,
             "p50_ms": 1e3 * p50, "p90_ms": 1e3 * p90, "p99_ms": 1e3 * p99,
             "max_ms": 1e3 * latencies[-1] if latencies else math.nan,
             "mean_ms": 1e3 * sum(latencies) / len(latencies) if latencies else math.nan,
             "server_counted_200": served - 1},  # less the untimed warm-up request
            {"name": "in-process", "batch": k_items, "mean_ms": 1e3 * direct_s,
             "requests_per_s": 1.0 / direct_s if direct_s > 0 else math.inf},
        ],
        "ratios": {"direct_vs_http": ratio(1.0 / direct_s, 1.0 / p50) if latencies else math.nan},
        "error_examples": errors[:5],
        "target": {"zero_errors": True, "met": not errors and accounted[0] == total},
    }
    return result


def _served_count(metrics_text: str) -> float:
    """The server's own count of 200 answers to /v1/evaluate (cross-checks the client side)."""
    n = 0.0
    for line in metrics_text.splitlines():
        if line.startswith('emx_http_requests_total{method="POST",path="/v1/evaluate",status="200"}'):
            n += float(line.rsplit(" ", 1)[1])
    return n


def format_table(result: dict) -> list[tuple[str, str]]:
    m, c = result["machine"], result["config"]
    by = {r["name"]: r for r in result["results"]}
    h, d = by["http-load"], by["in-process"]
    return [
        ("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}"),
        ("load", f"{c['clients']} clients x {c['requests']} requests x {c['items']} plans, loopback "
                 f"(machine load average {c['load_average_1min']['before']} -> {c['load_average_1min']['after']})"),
        ("answered / errors", f"{h['ok']} of {h['requests']} / {h['errors']}"
                              f" (the server counted {h['server_counted_200']:.0f} answers)"),
        ("latency p50 / p90 / p99 / max", f"{h['p50_ms']:.2f} / {h['p90_ms']:.2f} / {h['p99_ms']:.2f} / "
                                          f"{h['max_ms']:.2f} ms"),
        ("throughput", f"{h['requests_per_s']:,.0f} requests/s, {h['plans_per_s']:,.0f} plans/s"),
        ("in-process batch (1 thread)", f"{d['mean_ms']:.3f} ms ({result['ratios']['direct_vs_http']:,.1f}x "
                                        f"faster than an HTTP round trip at p50)"),
    ]


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m emx.bench.server`` (bench/server_load.py calls this)."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="server_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['clients']} clients x {QUICK['requests']} requests")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="per client")
    parser.add_argument("--items", type=int, default=None, help="plans per request")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    for name in ("clients", "requests", "items"):
        v = getattr(args, name)
        if v is not None and not 1 <= v <= 10_000:
            parser.error(f"--{name} must be between 1 and 10000")

    def progress(stage, done, total):
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{stage}: {done}/{total}   ")
            sys.stderr.flush()

    result = run(args.quick, progress=progress, clients=args.clients, requests=args.requests, items=args.items)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        rows = format_table(result)
        width = max(len(k) for k, _ in rows)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
        for e in result["error_examples"]:
            print("error:", e)
    return 0 if result["target"]["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
