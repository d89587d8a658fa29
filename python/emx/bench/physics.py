"""``emx bench physics``: physics-mode throughput on the EAI BEHAVIOR tasks, and snapshot restore
against rebuilding the scene.

What is measured (one thread, so every rate is per core)
  * Tasks: the EAI BEHAVIOR tasks whose oracle plan succeeds symbolically (``--quick``: the first
    ``QUICK_TASKS`` of them). Scenes come from ``emx.scenes.build_scene`` (not timed).
  * rebuild: ``PhysicsWorld(task, scene, settle=False)`` -- creating the SAPIEN scene and every
    body from the scene dict -- and, separately, the same plus the initial settle, which is what
    it takes to get back the state a snapshot holds.
  * snapshot restore: ``world.restore(world.initial)`` (SAPIEN's packed state plus emx's own).
    ``ratios.snapshot_vs_rebuild`` = rebuild (without settle: the conservative figure) / restore;
    target >= 20.
  * plans: each oracle plan run in physics from a restored snapshot (symbolic preconditions,
    physical realisation, relations from geometry after every step, final goal check). Reported
    as actions/s, plans/s and physics steps/s, against the C++ symbolic executor on the same plans
    (``ratios.symbolic_vs_physics``).
  * agreement: oracle plans that succeed in physics, of those that succeed symbolically (the
    issue's >= 90%), with each disagreement and its reason.

``run(quick)`` returns the contract's JSON object and prints nothing.
"""

from __future__ import annotations

import time
from typing import Optional

from . import Progress, machine_info, measure, rate, ratio

__all__ = ["run", "format_table", "main", "TARGET_SNAPSHOT_VS_REBUILD", "TARGET_AGREEMENT"]

NAME = "physics"
TARGET_SNAPSHOT_VS_REBUILD = 20.0
TARGET_AGREEMENT = 0.90
QUICK_TASKS = 12


def _tasks(quick: bool, progress: Progress):
    import emx
    from emx import _core

    from ..sim.evaluate import scene_for

    tasks = emx.load_tasks("eai-behavior")
    reward = _core.reward_preset("default")
    out = []
    for k, t in enumerate(tasks):
        solved, plan, _ = t.core.oracle()
        if solved and _core.evaluate(t.core, plan, True, reward)["success"]:
            out.append((t, plan, scene_for(t)))
        if progress:
            progress("scenes", k + 1, len(tasks))
        if quick and len(out) >= QUICK_TASKS:
            break
    return out


def run(quick: bool = False, progress: Progress = None, min_time: float = 0.2) -> dict:
    from emx import _core

    from ..sim import PhysicsWorld, evaluate_physics

    items = _tasks(quick, progress)
    reward = _core.reward_preset("default")
    build_s = build_settle_s = restore_s = 0.0
    plan_s = sym_s = 0.0
    actions = steps = 0
    successes = 0
    disagreements = []
    bodies = 0
    for k, (task, plan, scene) in enumerate(items):
        t_build, _ = measure(lambda: PhysicsWorld(task, scene, settle=False), min_time=min_time / 4, repeats=2)
        t_full, _ = measure(lambda: PhysicsWorld(task, scene), min_time=min_time / 4, repeats=2)
        world = PhysicsWorld(task, scene)
        bodies += len(world.bodies)
        t_restore, _ = measure(lambda: world.restore(world.initial), min_time=min_time / 4, repeats=3)
        build_s += t_build
        build_settle_s += t_full
        restore_s += t_restore
        # The plan, timed once from a restored snapshot (it is long enough to time).
        world.reset()
        s0 = world.steps
        t0 = time.perf_counter()
        d = evaluate_physics(task, plan, True, reward, world=world)
        plan_s += time.perf_counter() - t0
        steps += world.steps - s0
        actions += len(d["trace"])
        t_sym, _ = measure(lambda: _core.evaluate(task.core, plan, True, reward), min_time=min_time / 8, repeats=2)
        sym_s += t_sym
        if d["success"]:
            successes += 1
        else:
            fail = next((s for s in d["trace"] if not s["ok"]), None)
            reason = (f"{fail['action']}: {fail['error']}: {fail['message']}" if fail else
                      "plan ran; goal not met: " + ", ".join(a for a, ok in d["atoms"] if not ok)[:200])
            disagreements.append({"task": task.id, "reason": reason})
        if progress:
            progress("physics", k + 1, len(items))
    n = len(items)
    restore_rate = rate(n, restore_s)
    rebuild_rate = rate(n, build_s)
    rebuild_settled_rate = rate(n, build_settle_s)
    phys_actions_rate = rate(actions, plan_s)
    sym_actions = sum(len(p) for _, p, _ in items)
    sym_actions_rate = rate(sym_actions, sym_s)
    agreement = successes / n if n else 0.0
    ratios = {
        "snapshot_vs_rebuild": ratio(restore_rate, rebuild_rate),
        "snapshot_vs_rebuild_settled": ratio(restore_rate, rebuild_settled_rate),
        "symbolic_vs_physics": ratio(sym_actions_rate, phys_actions_rate),
    }
    return {
        "bench": NAME,
        "machine": machine_info(),
        "quick": quick,
        "tasks": n,
        "mean_bodies": bodies / n if n else 0.0,
        "results": [
            {"name": "snapshot-restore", "per_s": restore_rate, "mean_us": 1e6 * restore_s / max(n, 1)},
            {"name": "rebuild", "per_s": rebuild_rate, "mean_ms": 1e3 * build_s / max(n, 1)},
            {"name": "rebuild+settle", "per_s": rebuild_settled_rate, "mean_ms": 1e3 * build_settle_s / max(n, 1)},
            {"name": "physics-plans", "actions": actions, "actions_per_s": phys_actions_rate,
             "plans_per_s": rate(n, plan_s), "steps_per_s": rate(steps, plan_s), "steps": steps,
             "mean_plan_ms": 1e3 * plan_s / max(n, 1)},
            {"name": "symbolic-plans", "actions": sym_actions, "actions_per_s": sym_actions_rate,
             "plans_per_s": rate(n, sym_s)},
        ],
        "ratios": ratios,
        "agreement": {"symbolic_successes": n, "physics_successes": successes, "fraction": agreement,
                      "disagreements": disagreements},
        "target": {"snapshot_vs_rebuild": TARGET_SNAPSHOT_VS_REBUILD, "agreement": TARGET_AGREEMENT,
                   "met": ratios["snapshot_vs_rebuild"] >= TARGET_SNAPSHOT_VS_REBUILD and agreement >= TARGET_AGREEMENT},
    }


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s" if x >= 100 else f"{x:,.1f}/s"


def format_table(result: dict) -> list[tuple[str, str]]:
    """(label, value) rows for a human table."""
    m, ra, ag = result["machine"], result["ratios"], result["agreement"]
    by = {r["name"]: r for r in result["results"]}
    p, s = by["physics-plans"], by["symbolic-plans"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}"),
        ("tasks", f"{result['tasks']} EAI tasks (oracle succeeds symbolically), {result['mean_bodies']:.0f} bodies on average"),
        ("snapshot restore", f"{by['snapshot-restore']['mean_us']:,.0f} µs"),
        ("rebuild (build / build+settle)", f"{by['rebuild']['mean_ms']:,.1f} ms / {by['rebuild+settle']['mean_ms']:,.1f} ms"),
        ("snapshot vs rebuild", f"{ra['snapshot_vs_rebuild']:,.0f}x (settled: {ra['snapshot_vs_rebuild_settled']:,.0f}x; "
                                f"target >= {TARGET_SNAPSHOT_VS_REBUILD:.0f}x)"),
        ("physics, 1 core", f"{_fmt_rate(p['actions_per_s'])} actions, {_fmt_rate(p['plans_per_s'])} plans, "
                            f"{_fmt_rate(p['steps_per_s'])} physics steps ({p['mean_plan_ms']:.0f} ms per plan)"),
        ("symbolic, 1 core", f"{_fmt_rate(s['actions_per_s'])} actions, {_fmt_rate(s['plans_per_s'])} plans "
                             f"({ra['symbolic_vs_physics']:,.0f}x physics)"),
        ("oracle agreement", f"{ag['physics_successes']} of {ag['symbolic_successes']} "
                             f"({100 * ag['fraction']:.1f}%; target >= {100 * TARGET_AGREEMENT:.0f}%)"),
    ]
    for d in ag["disagreements"]:
        rows.append(("  " + d["task"][:48], d["reason"][:160]))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m emx.bench.physics [--quick] [--json]`` (bench/physics.py calls this)."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="physics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_TASKS} tasks only")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)

    def progress(stage, done, total):
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{stage}: {done}/{total}   " if total else f"\r{stage}   ")
            if total and done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    result = run(args.quick, progress=progress)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        width = max(len(k) for k, _ in format_table(result))
        for label, value in format_table(result):
            print(f"{label:<{width}}  {value}")
    return 0 if result["target"]["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
