"""``emx gen report DIR``: quality figures of a dataset, and the same measures on BEHAVIOR-1K.

* acceptance per validator stage: offline runs (``dataset.json``), agent roles
  (``agent_log.jsonl``, per attempt), scenes (``scenes.jsonl``);
* diversity: distinct object categories, goal categories, goal predicates and rooms; goal sizes
  (ground goal literals); oracle plan lengths; quantifier use; entropy of the goal categories;
  distinct canonical goals;
* the same diversity measures over the BEHAVIOR-1K activities of the bddl package (1,016 tasks),
  so a generator can be compared with hand-written tasks on equal terms;
* a PNG summary.

Every measure is computed from the BDDL files themselves (compiled, oracle-planned), not from
what a generator says about its tasks.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .agents import AGENT_LOG, agent_stats
from .bddl_text import atoms_of, parse_sexpr
from .canonical import canonical_goal
from .dataset import Dataset, read_jsonl
from .scenes import SCENES_LOG

__all__ = ["dataset_report", "diversity", "behavior1k_diversity", "draw_report"]

_QUANTIFIERS = ("forall", "exists", "forn", "forpairs", "fornpairs")


def _entropy(counter: collections.Counter) -> float:
    total = sum(counter.values())
    return -sum(c / total * math.log2(c / total) for c in counter.values() if c) if total else 0.0


def _dist(values: Sequence[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    v = sorted(values)
    return {"n": len(v), "mean": round(statistics.fmean(v), 3), "median": statistics.median(v),
            "p90": v[min(len(v) - 1, int(0.9 * len(v)))], "max": v[-1],
            "histogram": dict(sorted(collections.Counter(v).items()))}


def diversity(tasks: Sequence[Any], plans: bool = True) -> dict[str, Any]:
    """The diversity measures of compiled tasks (emx.Task)."""
    from .. import _core
    from ..policy.oracle import oracle_plan

    cats: collections.Counter = collections.Counter()
    goal_cats: collections.Counter = collections.Counter()
    preds: collections.Counter = collections.Counter()
    rooms: collections.Counter = collections.Counter()
    goal_sizes, conditions, plan_lengths, objects = [], [], [], []
    quantified = 0
    canon: set[str] = set()
    unsolved = 0
    for t in tasks:
        parsed = _core.parse_problem(t.spec.bddl_text, t.spec.filename)
        obj_cats = dict(parsed["objects"])
        inst = [c for c in obj_cats.values() if c not in ("floor.n.01", "agent.n.01")]
        cats.update(set(inst))
        objects.append(len(inst))
        task_rooms = set()
        for lit in parsed["init"]:
            w = lit.strip("()").split()
            if len(w) == 3 and w[0] == "inroom":
                task_rooms.add(w[2])
        rooms.update(task_rooms)
        task_preds, task_goal_cats = set(), set()
        any_q = False
        for g in parsed["goal"]:
            any_q = any_q or any(f"({q} " in g or f"({q}\n" in g for q in _QUANTIFIERS)
            try:
                expr = parse_sexpr(g)
            except ValueError:
                continue
            for a in atoms_of(expr, obj_cats):
                task_preds.add(a.predicate)
                task_goal_cats.update(c for c in a.categories if c and c not in ("floor.n.01", "agent.n.01"))
        preds.update(task_preds)
        goal_cats.update(task_goal_cats)
        quantified += any_q
        goal_sizes.append(int(t.core.num_goal_literals))
        conditions.append(len(parsed["goal"]))
        rooms_of = {w[1]: w[2] for w in (lit.strip("()").split() for lit in parsed["init"]) if len(w) == 3 and w[0] == "inroom"}
        try:
            canon.add(canonical_goal(list(parsed["goal"]), obj_cats, rooms_of))
        except ValueError:
            pass
        if plans:
            plan, _why = oracle_plan(t)
            if plan is None:
                unsolved += 1
            else:
                plan_lengths.append(len(plan))
    n = len(tasks)
    return {
        "n": n,
        "distinct_categories": len(cats),
        "distinct_goal_categories": len(goal_cats),
        "distinct_goal_predicates": len(preds),
        "goal_predicates": dict(preds.most_common()),
        "distinct_rooms": len(rooms),
        "rooms": dict(rooms.most_common()),
        "goal_category_entropy_bits": round(_entropy(goal_cats), 3),
        "top_goal_categories": dict(goal_cats.most_common(15)),
        "distinct_canonical_goals": len(canon),
        "quantified_fraction": round(quantified / n, 3) if n else 0.0,
        "objects_per_task": _dist(objects),
        "goal_literals": _dist(goal_sizes),
        "goal_conditions": _dist(conditions),
        "oracle_solved": n - unsolved if plans else None,
        "plan_length": _dist(plan_lengths) if plans else None,
    }


@functools.lru_cache(maxsize=2)
def behavior1k_diversity(plans: bool = True) -> dict[str, Any]:
    """diversity() of every BEHAVIOR-1K activity shipped in the bddl package."""
    from ..task import load_tasks

    return diversity(load_tasks("bddl"), plans=plans)


def _acceptance(ds: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    offline = [r for r in ds.summaries() if r.get("source", "offline") == "offline" and "stages" in r]
    if offline:
        stages: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"in": 0, "passed": 0})
        rejections: collections.Counter = collections.Counter()
        for run in offline:
            for s, c in run["stages"].items():
                stages[s]["in"] += c["in"]
                stages[s]["passed"] += c["passed"]
            rejections.update(run.get("rejections", {}))
        out["offline"] = {"stages": {s: {**c, "rate": round(c["passed"] / c["in"], 4) if c["in"] else None}
                                     for s, c in stages.items()},
                          "attempts": sum(r.get("attempts", 0) for r in offline),
                          "accepted": sum(r.get("accepted", 0) for r in offline),
                          "seconds": round(sum(r.get("seconds", 0.0) for r in offline), 3),
                          "rejections": dict(rejections.most_common())}
    rows = list(read_jsonl(ds.root / AGENT_LOG))
    if rows:
        st = agent_stats(rows)
        st["stages"] = {s: {**c, "rate": round(c["passed"] / c["in"], 4) if c["in"] else None} for s, c in st["stages"].items()}
        st["jobs"] = len(rows)
        st["accepted"] = sum(1 for r in rows if r.get("outcome") == "accepted")
        out["agents"] = st
    scenes = {r["task"]: r for r in read_jsonl(ds.root / SCENES_LOG) if "task" in r}
    if scenes:
        ok = sum(1 for r in scenes.values() if r.get("ok"))
        out["scenes"] = {"in": len(scenes), "passed": ok, "rate": round(ok / len(scenes), 4),
                         "settled": sum(1 for r in scenes.values() if r.get("settle") is not None),
                         "reasons": dict(collections.Counter(r["reason"] for r in scenes.values() if not r.get("ok")))}
    return out


def dataset_report(out_dir: str | os.PathLike[str], compare: bool = True, png: str | os.PathLike[str] | None = None,
                   plans: bool = True, strict: bool = False) -> dict[str, Any]:
    """The figures of a dataset directory; ``compare``: also BEHAVIOR-1K's; ``png``: where to
    draw the summary (default DIR/report.png; "" for none). Bad task files are left out and
    listed under ``skipped_files`` (``strict``: the first one raises)."""
    from ..tasks.corpus import load_reporting, skipped_json

    t0 = time.perf_counter()
    ds = Dataset(out_dir)
    tasks = load_reporting(str(ds.root), strict=strict, show=False)
    meta = ds.metadata()
    sources = collections.Counter(meta.get(t.id, {}).get("source", "unknown") for t in tasks)
    difficulty = collections.Counter(meta.get(t.id, {}).get("difficulty", "-") for t in tasks)
    report: dict[str, Any] = {
        "dir": str(ds.root), "n": len(tasks), "sources": dict(sources), "difficulty": dict(difficulty),
        "acceptance": _acceptance(ds), "diversity": diversity(tasks, plans=plans),
        "skipped_files": skipped_json(tasks.skipped),
    }
    if compare:
        b1k = behavior1k_diversity(plans)
        report["behavior1k"] = b1k
        ours = report["diversity"]
        keys = ("distinct_categories", "distinct_goal_categories", "distinct_goal_predicates", "distinct_rooms",
                "goal_category_entropy_bits", "distinct_canonical_goals", "quantified_fraction")
        report["comparison"] = {k: {"dataset": ours[k], "behavior1k": b1k[k]} for k in keys}
        for k in ("goal_literals", "plan_length", "objects_per_task"):
            if ours.get(k) and b1k.get(k):
                report["comparison"][f"mean_{k}"] = {"dataset": ours[k].get("mean"), "behavior1k": b1k[k].get("mean")}
    if png != "":
        path = Path(png) if png else ds.root / "report.png"
        try:
            report["png"] = str(draw_report(report, path))
        except ImportError as e:   # matplotlib is an optional extra
            report["png"] = None
            report["png_error"] = str(e)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def draw_report(report: dict, path: str | os.PathLike[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours, b1k = report["diversity"], report.get("behavior1k")
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    fig.suptitle(f"emx dataset {Path(report['dir']).name}: {report['n']} tasks "
                 + ", ".join(f"{k} {v}" for k, v in report["sources"].items()), fontsize=12)

    ax = axes[0][0]
    labels, rates = [], []
    for group, data in report["acceptance"].items():
        if group == "scenes":
            labels.append("scenes: build+settle")
            rates.append(data["rate"])
            continue
        for s, c in data["stages"].items():
            if c.get("rate") is not None:
                labels.append(f"{group}: {s}")
                rates.append(c["rate"])
    ax.barh(labels[::-1], rates[::-1], color="#4c72b0")
    ax.set_xlim(0, 1)
    ax.set_title("acceptance per validator stage")
    for i, r in enumerate(rates[::-1]):
        ax.text(min(r, 0.85) + 0.01, i, f"{r:.0%}", va="center", fontsize=8)

    def hist(ax, key, title, cap):
        def series(d):
            h = (d.get(key) or {}).get("histogram") or {}
            xs = list(range(0, cap + 1))
            tot = sum(h.values()) or 1
            return xs, [sum(v for k, v in h.items() if (min(int(k), cap) == x)) / tot for x in xs]
        xs, ys = series(ours)
        ax.bar([x - 0.2 for x in xs], ys, width=0.4, label="dataset", color="#4c72b0")
        if b1k:
            xs2, ys2 = series(b1k)
            ax.bar([x + 0.2 for x in xs2], ys2, width=0.4, label="BEHAVIOR-1K", color="#dd8452")
        ax.set_title(title)
        ax.set_ylabel("fraction of tasks")
        ax.legend(fontsize=8)

    hist(axes[0][1], "plan_length", f"oracle plan length (last bin: >= 40)", 40)
    hist(axes[0][2], "goal_literals", "ground goal literals (last bin: >= 20)", 20)

    ax = axes[1][0]
    keys = ["distinct_categories", "distinct_goal_categories", "distinct_canonical_goals"]
    x = range(len(keys))
    ax.bar([i - 0.2 for i in x], [ours[k] for k in keys], width=0.4, label="dataset", color="#4c72b0")
    if b1k:
        ax.bar([i + 0.2 for i in x], [b1k[k] for k in keys], width=0.4, label="BEHAVIOR-1K", color="#dd8452")
    ax.set_xticks(list(x), ["categories", "goal categories", "distinct goals"], fontsize=8)
    ax.set_title("diversity (counts)")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    preds = sorted(set(ours["goal_predicates"]) | set((b1k or {}).get("goal_predicates", {})))
    n_ours, n_b = max(ours["n"], 1), max((b1k or {}).get("n", 1), 1)
    ax.barh([p for p in preds], [ours["goal_predicates"].get(p, 0) / n_ours for p in preds], height=0.4,
            align="edge", label="dataset", color="#4c72b0")
    if b1k:
        ax.barh([p for p in preds], [b1k["goal_predicates"].get(p, 0) / n_b for p in preds], height=-0.4,
                align="edge", label="BEHAVIOR-1K", color="#dd8452")
    ax.set_title("goal predicates (fraction of tasks using)")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=8)

    ax = axes[1][2]
    rooms = sorted(set(ours["rooms"]) | set((b1k or {}).get("rooms", {})),
                   key=lambda r: -(ours["rooms"].get(r, 0) / n_ours + (b1k or {}).get("rooms", {}).get(r, 0) / n_b))[:14]
    ax.barh(rooms, [ours["rooms"].get(r, 0) / n_ours for r in rooms], height=0.4, align="edge", label="dataset",
            color="#4c72b0")
    if b1k:
        ax.barh(rooms, [b1k["rooms"].get(r, 0) / n_b for r in rooms], height=-0.4, align="edge",
                label="BEHAVIOR-1K", color="#dd8452")
    ax.set_title("rooms (fraction of tasks using)")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=8)

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return path
