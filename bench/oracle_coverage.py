"""How many tasks the oracle planner solves, and why the rest fail.

    python bench/oracle_coverage.py [--source eai-behavior|bddl] [--markdown]

Every solved plan is re-checked with emx.evaluate (it must succeed); reasons of
unsolved tasks are grouped by their first clause (e.g. "no action makes
'real' true") for the bddl source.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import time

import emx
from emx.policy.oracle import oracle_plan


def coverage(source: str) -> dict:
    tasks = emx.load_tasks(source)
    t0 = time.perf_counter()
    solved, unsolved, bad = 0, {}, []
    for task in tasks:
        plan, reason = oracle_plan(task)
        if plan is None:
            unsolved[task.id] = reason
            continue
        # An empty plan means the goal holds at the start (emx.evaluate scores an
        # empty plan as a format failure, so check the initial state directly).
        ok = task.core.check(task.core.initial_state)[0] if not plan else emx.evaluate(task, plan).success
        if not ok:
            bad.append(task.id)
        solved += 1
    seconds = time.perf_counter() - t0
    groups = collections.Counter(_reason_class(r) for r in unsolved.values())
    return {"source": source, "n": len(tasks), "solved": solved, "solved_but_failed_evaluation": bad,
            "seconds": seconds, "unsolved": unsolved, "reason_classes": groups.most_common()}


def _reason_class(reason: str) -> str:
    m = re.match(r"(no action makes '\w+' (true|false))", reason)
    if m:
        return m.group(1)
    return re.sub(r"\b[\w.]+_\d+\b", "X", reason.split(" (goal condition")[0])[:90]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="eai-behavior")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    r = coverage(args.source)
    if not args.markdown:
        print(json.dumps(r, indent=1))
        return
    print(f"{args.source}: solved {r['solved']}/{r['n']} in {r['seconds']:.2f} s; "
          f"solved plans failing evaluation: {len(r['solved_but_failed_evaluation'])}\n")
    if args.source.startswith("eai"):
        print("| task | reason |\n|---|---|")
        for tid, reason in r["unsolved"].items():
            print(f"| {tid} | {reason} |")
    else:
        print("| unsolved | reason |\n|---|---|")
        for reason, count in r["reason_classes"]:
            print(f"| {count} | {reason} |")


if __name__ == "__main__":
    main()
