"""``emx bench datagen``: throughput of the data engine.

What is measured (one process, so the figure holds for the issue's 2-core bar):
  * offline generation: ``emx.datagen.offline.generate`` of N tasks with every stage on (compile,
    vocabulary, oracle plan, layout of the init) -- tasks/s, and the same without the layout;
  * scenes: ``emx gen scenes`` (layout + physics settling + relation check) on a sample of them;
  * the agent engine with the scripted backend (no model): jobs/s of the batching, caching and
    validation machinery itself, then the same jobs resumed from the cache (no model calls).

``ratios``: ``offline_vs_target`` (offline tasks/s over the issue's 1000 tasks per minute),
``cached_vs_uncached_agents`` (how much faster a fully cached re-run of the agents is).
``run(quick)`` returns the contract's JSON object and prints nothing.
"""

from __future__ import annotations

import tempfile
import time
from typing import Optional

from . import Progress, machine_info, rate, ratio

__all__ = ["run", "format_table", "TARGET_TASKS_PER_S"]

NAME = "datagen"
TARGET_TASKS_PER_S = 1000 / 60.0


def run(quick: bool = False, *, seed: int = 0, progress: Progress = None) -> dict:
    from ..datagen.agents import AgentConfig, run_agents
    from ..datagen.backends import ScriptedBackend
    from ..datagen.offline import generate, write_dataset
    from ..datagen.scenes import generate_scenes
    from ..datagen.scripted import demo_agent

    def tick(stage: str, done: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(stage, done, total)

    n = 200 if quick else 1000
    n_scenes = 40 if quick else 200
    houses = 4 if quick else 20
    results = []

    generate(5, seed=seed + 1)       # warm the catalog and the knowledge base (untimed)
    tick("offline", 0, n)
    t0 = time.perf_counter()
    full = generate(n, seed=seed)
    t_full = time.perf_counter() - t0
    results.append({"name": "offline-generate", "n": len(full.tasks), "seconds": round(t_full, 3),
                    "tasks_per_s": round(rate(len(full.tasks), t_full), 1), "stages": full.stage_counts,
                    "rejections": full.rejections})
    tick("offline", n, n)
    t0 = time.perf_counter()
    symbolic = generate(n, seed=seed, physical=None)
    t_sym = time.perf_counter() - t0
    results.append({"name": "offline-generate-no-layout", "n": len(symbolic.tasks), "seconds": round(t_sym, 3),
                    "tasks_per_s": round(rate(len(symbolic.tasks), t_sym), 1)})

    with tempfile.TemporaryDirectory(prefix="emx-bench-datagen-") as tmp:
        write_dataset(full.tasks[:n_scenes], tmp)
        tick("scenes", 0, n_scenes)
        t0 = time.perf_counter()
        rep = generate_scenes(tmp)
        t_sc = time.perf_counter() - t0
        results.append({"name": "scenes-build-settle", "n": rep["n"], "ok": rep["ok"], "settled": rep["settled"],
                        "physics": rep["physics"], "seconds": round(t_sc, 3),
                        "scenes_per_s": round(rate(rep["n"], t_sc), 1)})

    with tempfile.TemporaryDirectory(prefix="emx-bench-agents-") as tmp, \
            tempfile.TemporaryDirectory(prefix="emx-bench-agents2-") as tmp2:
        tick("agents", 0, houses)
        backend = ScriptedBackend(demo_agent)
        cfg = AgentConfig(physical="layout")
        t0 = time.perf_counter()
        a = run_agents(backend, tmp, houses=houses, seed=seed, config=cfg, cache_dir=f"{tmp}/cache")
        t_a = time.perf_counter() - t0
        jobs = a.accepted + a.rejected
        results.append({"name": "agents-scripted", "jobs": jobs, "accepted": a.accepted, "prompts": backend.prompts,
                        "seconds": round(t_a, 3), "jobs_per_s": round(rate(jobs, t_a), 2)})
        # the same jobs into a fresh dataset, answers from the first run's cache: the model is never asked
        again = ScriptedBackend(demo_agent)
        t0 = time.perf_counter()
        b = run_agents(again, tmp2, houses=houses, seed=seed, config=cfg, cache_dir=f"{tmp}/cache")
        t_b = time.perf_counter() - t0
        results.append({"name": "agents-from-cache", "jobs": b.accepted + b.rejected, "prompts": again.prompts,
                        "cache_hits": b.cache_hits, "seconds": round(t_b, 3),
                        "jobs_per_s": round(rate(b.accepted + b.rejected, t_b), 2)})

    offline_rate = rate(len(full.tasks), t_full)
    return {
        "bench": NAME,
        "machine": machine_info(),
        "quick": quick,
        "results": results,
        "ratios": {"offline_vs_target": round(ratio(offline_rate, TARGET_TASKS_PER_S), 2),
                   "cached_vs_uncached_agents": round(ratio(rate(1, t_b), rate(1, t_a)), 2)},
        "target": {"offline_tasks_per_s": round(TARGET_TASKS_PER_S, 2), "met": offline_rate >= TARGET_TASKS_PER_S},
    }


def format_table(result: dict) -> list[tuple[str, str]]:
    by = {r["name"]: r for r in result["results"]}
    m = result["machine"]
    rows = [("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}")]
    o = by["offline-generate"]
    rows.append(("offline tasks (all stages)", f"{o['n']} in {o['seconds']:.1f} s = {o['tasks_per_s']:.0f}/s"))
    s = by["offline-generate-no-layout"]
    rows.append(("offline tasks (no layout check)", f"{s['n']} in {s['seconds']:.1f} s = {s['tasks_per_s']:.0f}/s"))
    sc = by["scenes-build-settle"]
    rows.append(("scenes (layout + settle)", f"{sc['ok']}/{sc['n']} ok in {sc['seconds']:.1f} s = {sc['scenes_per_s']:.1f}/s"))
    a, b = by["agents-scripted"], by["agents-from-cache"]
    rows.append(("agent jobs, scripted model", f"{a['jobs']} in {a['seconds']:.2f} s ({a['prompts']} prompts)"))
    rows.append(("agent jobs, from cache", f"{b['jobs']} in {b['seconds']:.2f} s ({b['prompts']} prompts)"))
    rows.append(("offline vs 1000 tasks/min", f"{result['ratios']['offline_vs_target']:.1f}x "
                                              f"({'met' if result['target']['met'] else 'NOT met'})"))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = run(args.quick)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in format_table(result):
            print(f"{k:34s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
