"""``emx gen tasks|scenes|report``: the data engine on the command line.

    emx gen tasks --n 1000 --out DIR [--seed S] [--difficulty easy|medium|hard] [--max-objects 8]
                  [--physical layout|settle|none]                       # offline, no model
    emx gen tasks --agents vllm:MODEL_DIR|openai:URL[#MODEL]|scripted:MOD:FN --houses H --out DIR
                  [--needs-per-house 3] [--retries 3] [--concurrency 64] [--judge]
    emx gen scenes DIR [--seed S] [--no-settle] [--prune] [--force]
    emx gen report DIR [--no-compare] [--png PATH]

Every form resumes: run it again on the same DIR and it continues where it stopped. ``--json``
prints one JSON object on stdout.

Wiring (in emx/cli.py's build_parser): ``from emx.datagen.cli import add_parser; add_parser(sub)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "cmd_gen"]


STRICT_HELP = ("a bad task file in DIR (not UTF-8, does not parse or compile) is an error; by default it is "
               "skipped and listed (JSON: skipped_files)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    g = sub.add_parser("gen", help="generate tasks and scenes (the data engine), or report on a dataset")
    gs = g.add_subparsers(dest="action", required=True)

    t = gs.add_parser("tasks", help="generate validated tasks into a dataset directory (offline, or with LLM agents)")
    t.add_argument("--out", required=True, help="dataset directory (created; an existing one is resumed)")
    t.add_argument("--n", type=int, default=100, help="offline: tasks to add")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--difficulty", choices=["easy", "medium", "hard"], default=None,
                   help="offline: only this tier (default: a 40/35/25 mix)")
    t.add_argument("--max-objects", type=int, default=8, help="objects per task besides floors and the agent")
    t.add_argument("--physical", choices=["layout", "settle", "none"], default=None,
                   help="physical validation while generating (default: layout offline, settle with agents)")
    t.add_argument("--agents", default=None, metavar="BACKEND",
                   help="use the LLM agents on BACKEND: vllm:MODEL_DIR, openai:BASE_URL[#MODEL], scripted:MODULE:FN")
    t.add_argument("--houses", type=int, default=10, help="agents: houses to simulate")
    t.add_argument("--needs-per-house", type=int, default=3, help="agents: jobs (needs turned into tasks) per house")
    t.add_argument("--retries", type=int, default=3, help="agents: feedback rounds per role")
    t.add_argument("--concurrency", type=int, default=64, help="agents: jobs in flight (one batched call per round)")
    t.add_argument("--judge", action="store_true", help="agents: also score each scene with a judge agent")
    t.add_argument("--json", action="store_true")

    s = gs.add_parser("scenes", help="build, settle and verify the scene of every task of a dataset")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-settle", action="store_true", help="skip physics settling")
    s.add_argument("--prune", action="store_true", help="move tasks whose scene fails out of the dataset")
    s.add_argument("--force", action="store_true", help="rebuild scenes already built")
    s.add_argument("--strict", action="store_true", help=STRICT_HELP)
    s.add_argument("--json", action="store_true")

    r = gs.add_parser("report", help="quality figures of a dataset (acceptance, diversity vs BEHAVIOR-1K, PNG)")
    r.add_argument("dir", metavar="DIR")
    r.add_argument("--no-compare", action="store_true", help="skip the BEHAVIOR-1K comparison")
    r.add_argument("--png", default=None, help="summary PNG path (default DIR/report.png)")
    r.add_argument("--strict", action="store_true", help=STRICT_HELP)
    r.add_argument("--json", action="store_true")
    g.set_defaults(fn=cmd_gen)
    return g


def _console():
    from rich.console import Console

    return Console(), Console(stderr=True)


def _bar(disable: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_console()[1], disable=disable, transient=True)


def _table(title: str, rows: list[tuple[str, str]], header: tuple[str, str] = ("", "")):
    from rich.table import Table

    table = Table(title=title)
    table.add_column(header[0])
    table.add_column(header[1], justify="right")
    for k, v in rows:
        table.add_row(k, v)
    return table


def _emit(args: argparse.Namespace, obj: dict, human) -> int:
    if obj.get("skipped_files") and not args.json:
        from types import SimpleNamespace

        from ..tasks.corpus import print_skipped

        print_skipped([SimpleNamespace(**s) for s in obj["skipped_files"]], _console()[1])
    if args.json:
        from ..jsonout import print_json

        print_json(obj)
    else:
        human(obj)
    return 0


def cmd_gen(args: argparse.Namespace) -> int:
    quiet = args.json or not sys.stderr.isatty()
    out, _err = _console()
    if args.action == "tasks":
        if args.agents:
            return _gen_agents(args, quiet, out)
        return _gen_offline(args, quiet, out)
    if args.action == "scenes":
        from .scenes import generate_scenes

        with _bar(quiet) as bar:
            job = bar.add_task("scenes", total=None)
            rep = generate_scenes(args.dir, seed=args.seed, settle=not args.no_settle, prune=args.prune,
                                  force=args.force, progress=lambda d, t, i: bar.update(job, completed=d, total=t),
                                  strict=args.strict)

        def human(r):
            out.print(_table(f"emx gen scenes {r['dir']}", [
                ("tasks", str(r["n"])), ("built now", str(r["built"])), ("already done", str(r["skipped"])),
                ("build + settle ok", str(r["ok"])), ("failed", str(r["failed"])), ("settled", str(r["settled"])),
                ("physics", r["physics"]), ("pruned", str(len(r["pruned"]))), ("seconds", f"{r['seconds']:.1f}")]))
            if r["reasons"]:
                out.print(_table("failures by reason", [(k, str(v)) for k, v in r["reasons"].items()]))
        return _emit(args, rep, human)
    # report
    from .report import dataset_report

    rep = dataset_report(args.dir, compare=not args.no_compare, png=args.png, strict=args.strict)

    def human(r):
        rows = [("tasks", str(r["n"])), ("sources", ", ".join(f"{k} {v}" for k, v in r["sources"].items()))]
        for group, data in r["acceptance"].items():
            if group == "scenes":
                rows.append(("scenes: build + settle", f"{data['passed']}/{data['in']} ({data['rate']:.1%})"))
                continue
            for stage, c in data["stages"].items():
                if c["in"]:
                    rows.append((f"{group}: {stage}", f"{c['passed']}/{c['in']} ({c['rate']:.1%})"))
        out.print(_table(f"emx gen report {r['dir']} — acceptance per stage", rows))
        if "comparison" in r:
            from rich.table import Table

            t = Table(title="diversity: dataset vs BEHAVIOR-1K (bddl package)")
            for col in ("measure", "dataset", "BEHAVIOR-1K"):
                t.add_column(col, justify="right" if col != "measure" else "left")
            for k, v in r["comparison"].items():
                t.add_row(k.replace("_", " "), str(v["dataset"]), str(v["behavior1k"]))
            out.print(t)
        pl = r["diversity"].get("plan_length") or {}
        if pl.get("n"):
            out.print(f"oracle plan length: mean {pl['mean']}, median {pl['median']}, p90 {pl['p90']}, max {pl['max']}")
        if r.get("png"):
            out.print(f"summary: {r['png']}")
    return _emit(args, rep, human)


def _gen_offline(args: argparse.Namespace, quiet: bool, out) -> int:
    from .offline import generate_into

    physical = {"none": None, None: "layout"}.get(args.physical, args.physical)
    with _bar(quiet) as bar:
        job = bar.add_task("generating tasks", total=args.n)
        rep = generate_into(args.out, args.n, seed=args.seed, max_objects=args.max_objects,
                            difficulty=args.difficulty, physical=physical,
                            progress=lambda d, t: bar.update(job, completed=d))

    def human(r):
        rows = [("accepted", str(r["accepted"])), ("already there (resumed)", str(r["resumed"])),
                ("attempts", str(r["attempts"])), ("written", str(r["written"])), ("dataset size", str(r["dataset_size"])),
                ("seconds", f"{r['seconds']:.1f}")]
        rows += [(f"stage {s}", f"{c['passed']}/{c['in']}") for s, c in r["stages"].items()]
        out.print(_table(f"emx gen tasks (offline) -> {r['root']}", rows))
        if r["rejections"]:
            out.print(_table("rejections by reason", [(k, str(v)) for k, v in r["rejections"].items()]))
    return _emit(args, rep, human)


def _gen_agents(args: argparse.Namespace, quiet: bool, out) -> int:
    from .agents import AgentConfig, run_agents
    from .backends import make_backend

    physical = {"none": None, None: "settle"}.get(args.physical, args.physical)
    cfg = AgentConfig(retries=args.retries, max_objects=args.max_objects, needs_per_house=args.needs_per_house,
                      physical=physical, judge=args.judge)
    backend = make_backend(args.agents)
    with _bar(quiet) as bar:
        job = bar.add_task("agent jobs", total=None)
        run = run_agents(backend, args.out, houses=args.houses, seed=args.seed, config=cfg,
                         concurrency=args.concurrency, progress=lambda d, t: bar.update(job, completed=d, total=t))
    rep = {**run.summary(), "out": args.out, "backend": args.agents}

    def human(r):
        rows = [("accepted", str(r["accepted"])), ("rejected", str(r["rejected"])),
                ("already done", str(r["skipped"])), ("model calls", str(r["model_calls"])),
                ("cache hits", str(r["cache_hits"])), ("seconds", f"{r['seconds']:.1f}")]
        rows += [(f"{role} answers accepted", f"{c['passed']}/{c['in']}") for role, c in r["stages"].items()]
        out.print(_table(f"emx gen tasks (agents, {r['backend']}) -> {r['out']}", rows))
        if r["rejections"]:
            out.print(_table("rejected answers by reason", [(k, str(v)) for k, v in r["rejections"].items()]))
    return _emit(args, rep, human)
