"""The ``emx`` command. Human tables with progress bars by default; ``--json``
prints exactly one JSON object on stdout."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

err = Console(stderr=True)
out = Console()


def _progress(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=disable, transient=True)


def _print_json(obj: Any) -> None:
    from emx.jsonout import print_json

    print_json(obj)


def _table(title: str, header: tuple[str, str], rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column(header[0])
    table.add_column(header[1], justify="right")
    for k, v in rows:
        table.add_row(k, v)
    return table


def _load(src: str | list[str], args: argparse.Namespace, limit: int | None = None):
    """The tasks of SRC; bad files of a corpus are skipped and shown (or raised with --strict)."""
    from emx.tasks.corpus import load_reporting

    return load_reporting(src, limit=limit, strict=getattr(args, "strict", False), console=err,
                          show=not getattr(args, "json", False), semantics=getattr(args, "semantics", None))


def cmd_tasks(args: argparse.Namespace) -> int:
    from emx.tasks.corpus import skipped_json

    tasks = _load(args.source, args, limit=args.limit)
    skipped = skipped_json(tasks.skipped)
    if args.action == "list":
        rows = [{"id": t.id, "source": t.source, "objects": len(t.visible_objects),
                 "goal_conditions": len(t.goal_conditions), "command": t.command} for t in tasks]
        if args.json:
            _print_json({"source": args.source, "n": len(rows), "tasks": rows, "skipped": skipped})
            return 0
        table = Table(title=f"{len(rows)} tasks from {args.source}")
        for col in ("id", "objects", "goal", "command"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(r["id"], str(r["objects"]), str(r["goal_conditions"]), r["command"])
        out.print(table)
        return 0
    # show
    from emx.prompts import build_prompt
    if len(tasks) != 1:
        err.print(f"[red]error:[/] {args.source!r} holds {len(tasks)} tasks; name one, e.g. eai-behavior:ID")
        return 2
    t = tasks[0]
    info = {"id": t.id, "source": t.source, "command": t.command, "file": t.spec.filename,
            "rooms": t.core.rooms,
            "objects": [{"index": o.index, "name": o.name, "category": o.category, "abilities": list(o.abilities),
                         "room": o.room} for o in t.visible_objects],
            "goal": t.goal_conditions, "warnings": t.warnings, "skipped": skipped}
    if args.prompt:
        info["prompt"] = build_prompt(t, args.prompt)
    if args.json:
        _print_json(info)
        return 0
    out.print(f"[bold]{t.id}[/]  ({t.source})\n[italic]{t.command}[/]\nfile: {t.spec.filename}")
    table = Table(title="objects")
    for col in ("#", "name", "category", "abilities"):
        table.add_column(col, overflow="fold")
    for o in t.visible_objects:
        table.add_row(str(o.index), o.name, o.category, ", ".join(o.abilities))
    out.print(table)
    out.print("[bold]goal[/]")
    for g in t.goal_conditions:
        out.print("  " + g)
    for w in t.warnings:
        out.print(f"[yellow]warning:[/] {w}")
    if args.prompt:
        out.print(info["prompt"], markup=False, highlight=False)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from emx.eval import run_eval
    from emx.policy import make_policy
    from emx.tasks.corpus import skipped_json

    tasks = _load(args.tasks, args, limit=args.limit)
    policy = make_policy(args.policy)
    if hasattr(policy, "unknown_ids"):
        unknown = policy.unknown_ids(tasks)
        if unknown:
            err.print(f"[yellow]warning:[/] {len(unknown)} plan(s) name tasks not in {args.tasks!r}, e.g. {unknown[:3]}")
    with _progress(args.json or not sys.stderr.isatty()) as bar:
        job = bar.add_task(f"eval {policy.name}", total=len(tasks))
        advance = lambda k: bar.advance(job, k)  # noqa: E731
        if args.episode == "closed-loop":
            if args.ray or args.workers > 0:
                raise ValueError("closed-loop episodes run in this process (the policy answers every turn): "
                                 "drop --workers/--ray")
            from emx.episodes import run_closed_loop

            report = run_closed_loop(tasks, policy, reward=args.reward, mode=args.mode, unit=args.unit,
                                     max_turns=args.max_turns, progress=advance)
        elif args.ray or args.workers > 0:
            from emx.eval.runner import scoring_of

            if scoring_of(policy, args.scoring) == "hierarchical":
                raise ValueError("hierarchical scoring runs in this process: drop --workers/--ray")
            # Worker processes (or Ray actors) driven by the C++ rollout scheduler.
            from emx.rollout.eval import run_eval_rollout

            workers: Any = args.workers or 2
            if args.ray:
                from emx.rollout.ray_transport import ray_specs

                workers = ray_specs(args.ray, args.workers or 2, mode=args.mode)
            report = run_eval_rollout(tasks, policy, reward=args.reward, mode=args.mode, workers=workers,
                                      progress=advance)
        else:
            report = run_eval(tasks, policy, reward=args.reward, mode=args.mode, progress=advance, scoring=args.scoring)
    summary = report.summary()
    summary["skipped"] = skipped_json(tasks.skipped)
    from emx.manifest import build_manifest

    summary["manifest"] = build_manifest(
        tasks=tasks, reward=args.reward, args=args, seeds={"policy": getattr(policy, "seed", None)},
        mode=args.mode, policy=args.policy, episode=args.episode, scoring=args.scoring)
    if args.episode == "closed-loop":
        from collections import Counter

        eps = report.episodes
        summary["episode"] = {"kind": "closed-loop", "unit": args.unit, "max_turns": args.max_turns,
                              "mean_turns": sum(e["turns"] for e in eps) / max(len(eps), 1),
                              "ended": dict(Counter(e["end"] for e in eps))}
        for row, e in zip(summary["per_task"], eps):
            row["turns"], row["end"] = e["turns"], e["end"]
    if getattr(policy, "unsolved", None):
        summary["oracle_unsolved"] = policy.unsolved
    if args.json:
        _print_json(summary)
        return 0
    out.print(_table(f"emx eval — {len(tasks)} tasks from {args.tasks}, policy {policy.name}, reward {args.reward}",
                     ("metric", "value"),
                     [("success rate", f"{summary['success_rate']:.3f}"),
                      ("goal fraction", f"{summary['goal_fraction']:.3f}"),
                      ("executability", f"{summary['executability']:.3f}"),
                      ("mean reward", f"{summary['mean_reward']:.3f}")]
                     + ([("mean turns", f"{summary['episode']['mean_turns']:.1f}"),
                         ("ended by", ", ".join(f"{k} {v}" for k, v in summary["episode"]["ended"].items()))]
                        if "episode" in summary else [])))
    if summary.get("hierarchy"):
        out.print(_table("hierarchical levels (mean score)", ("level", "score"),
                         [(k.replace("_", " "), f"{v:.3f}") for k, v in summary["hierarchy"].items()]))
    if summary["errors"]:
        out.print(_table("errors by type", ("type", "count"), [(k, str(v)) for k, v in summary["errors"].items()]))
    if "eai" in summary:
        eai, traj = summary["eai"], summary["eai"]["trajectory_evaluation"]
        out.print(_table("EAI's metrics (rates over all plans)", ("metric", "value"),
                         [("task_success_rate", f"{eai['goal_evaluation']['task_success_rate']:.4f}"),
                          ("execution_success_rate", f"{traj['execution_success_rate']:.4f}")]
                         + [(f"{group}.{k}", f"{v:.4f}") for group in ("grammar_error", "runtime_error")
                            for k, v in traj[group].items()]))
    return 0


def cmd_scenes(args: argparse.Namespace) -> int:
    from emx.scenes import build_scenes, show_scene

    if args.action == "show":
        info = show_scene(args.target, args.out)
        if args.json:
            _print_json(info)
        else:
            out.print(f"wrote {info['png']} ({info['task']}: {info['rooms']} room(s), {info['objects']} objects, "
                      f"{info['unrealised']} unrealised)")
        return 0
    with _progress(args.json or not sys.stderr.isatty()) as bar:
        job = bar.add_task("building scenes", total=None)

        def progress(done: int, total: int, task_id: str) -> None:
            bar.update(job, completed=done, total=total, description=f"scene {task_id[:40]}")

        report = build_scenes(args.tasks, args.out, seed=args.seed, progress=progress,
                              settle=not args.no_settle, force=args.force)
    if args.json:
        _print_json(report)
        return 0
    out.print(_table(f"emx scenes build — {report['n']} tasks from {args.tasks} into {report['out']}", ("", "count"),
                     [("fully realised", str(report["fully_realised"])), ("built", str(report["built"])),
                      ("from cache", str(report["cached"])), ("settled and verified", str(report["settled"])),
                      ("errors", str(report["errors"])), ("seconds", f"{report['seconds']:.1f}")]))
    if report["reasons"]:
        out.print(_table("unrealised init relations by reason", ("reason", "count"),
                         [(k, str(v)) for k, v in report["reasons"].items()]))
    for t in report["per_task"]:
        for u in t["unrealised"][:3]:
            out.print(f"[yellow]{t['task']}[/]: {u['literal']}: {u['reason']}", highlight=False)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib

    from emx.bench import BENCHMARKS as names

    if args.name not in names:
        err.print(f"[red]error:[/] unknown benchmark {args.name!r}; available: {', '.join(names)}")
        return 2
    if (args.out or args.only) and args.name != "all":
        err.print("[red]error:[/] --out and --only belong to `emx bench all`")
        return 2
    mod = importlib.import_module(names[args.name])
    extra = {"out_dir": args.out, "only": args.only} if args.name == "all" else {}
    with _progress(args.json or not sys.stderr.isatty()) as bar:
        job = bar.add_task(f"bench {args.name}", total=None)
        result = mod.run(quick=args.quick, progress=lambda *a, **k: bar.advance(job), **extra)
    if args.json:
        from emx.manifest import build_manifest

        _print_json({**result, "manifest": build_manifest(args=args, quick=args.quick)})
    else:
        out.print(_table(f"emx bench {args.name}", ("measure", "value"), mod.format_table(result)))
    # `all` records a failing benchmark and runs the rest; the exit status still says so.
    if args.name == "all" and not all(r["ok"] for r in result["results"]):
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from emx.server.launch import cmd_serve as serve

    return serve(args)


STRICT_HELP = ("a bad task file (not UTF-8, does not parse or compile) is an error; by default a "
               "directory/bddl/eai-behavior source skips it and lists it")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emx", description="emx: a training ground for embodied decision-making")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("tasks", help="list or show tasks of a source")
    t.add_argument("action", choices=["list", "show"])
    t.add_argument("--source", required=True, help="eai-behavior[:ID], bddl[:ACTIVITY], a .bddl file or a directory")
    t.add_argument("--limit", type=int, default=None)
    t.add_argument("--prompt", choices=["eai", "native"], default=None, help="show: also print the policy prompt")
    t.add_argument("--strict", action="store_true", help=STRICT_HELP)
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_tasks)

    e = sub.add_parser("eval", help="evaluate a policy on a task source")
    e.add_argument("--tasks", required=True)
    e.add_argument("--policy", required=True, help="oracle | file:PLANS.jsonl | vllm:MODEL_DIR | openai:BASE_URL[#MODEL] | mimo:MODEL_DIR[#think] | "
                        "wall:MODEL_DIR[#next_subtask]")
    e.add_argument("--mode", choices=["symbolic", "physics"], default="symbolic")
    e.add_argument("--workers", type=int, default=0,
                   help="worker processes run by the rollout scheduler (0: evaluate in-process on all cores)")
    e.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the workers as Ray actors on this cluster (HOST:PORT or 'auto'); --workers N actors (default 2)")
    e.add_argument("--episode", choices=["plan", "closed-loop"], default="plan",
                   help="plan: the policy writes the whole plan at once; closed-loop: one step a turn, "
                        "with emx's feedback after each")
    e.add_argument("--unit", choices=["action", "subtask"], default="action",
                   help="closed-loop: what one turn is (subtask: WALL-OSS-style next sub-task with its actions)")
    e.add_argument("--max-turns", type=int, default=64, help="closed-loop: the turn budget of an episode")
    e.add_argument("--scoring", choices=["auto", "plan", "hierarchical"], default="auto",
                   help="hierarchical: score reasoning, sub-goals and actions level by level (auto: what the "
                        "policy's answers are; wall: policies are hierarchical)")
    e.add_argument("--reward", choices=["embomatrix", "eai", "default"], default="default")
    e.add_argument("--semantics", choices=["eai", "embomatrix", "emx"], default=None,
                   help="whose action rules judge the plans (default: the task source's own: "
                        "eai-behavior -> eai, others -> emx); see docs/actions.md")
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--strict", action="store_true", help=STRICT_HELP)
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)

    sc = sub.add_parser("scenes", help="build scene files, or draw one")
    sc_sub = sc.add_subparsers(dest="action", required=True)
    scb = sc_sub.add_parser("build", help="lay out, settle and verify the scenes of a task source")
    scb.add_argument("--tasks", required=True)
    scb.add_argument("--out", required=True, help="directory of scene files (a content-hash keyed cache)")
    scb.add_argument("--seed", type=int, default=0)
    scb.add_argument("--force", action="store_true", help="rebuild even when a cached scene exists")
    scb.add_argument("--no-settle", action="store_true", help="skip the physics settling check")
    scb.add_argument("--json", action="store_true")
    scs = sc_sub.add_parser("show", help="draw a top-down schematic PNG of a scene file")
    scs.add_argument("target", metavar="SCENE")
    scs.add_argument("--out", required=True, help="PNG path")
    scs.add_argument("--json", action="store_true")
    sc.set_defaults(fn=cmd_scenes)

    from emx.datagen.cli import add_parser as add_gen_parser

    add_gen_parser(sub)  # emx gen tasks|scenes|report

    b = sub.add_parser("bench", help="run a benchmark")
    b.add_argument("name")
    b.add_argument("--quick", action="store_true")
    b.add_argument("--json", action="store_true")
    b.add_argument("--out", default=None, help="all: folder for the JSON file and the PNG chart "
                   "(default $EMX_BENCH_DIR, else ./bench-results)")
    b.add_argument("--only", nargs="+", default=None, metavar="NAME", help="all: run only these benchmarks")
    b.set_defaults(fn=cmd_bench)
    from emx.train.cli import add_arguments as add_train_arguments, cmd_train

    tr = sub.add_parser("train", help="GRPO training with vLLM sampling (--preset tiny runs on 2 CPU cores)")
    add_train_arguments(tr)
    tr.set_defaults(fn=cmd_train)

    from emx.server.launch import add_serve_arguments

    sv = sub.add_parser("serve", help="run the reward server (HTTP) for trainers that are not emx's own")
    add_serve_arguments(sv)
    sv.set_defaults(fn=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from emx.errors import EmxError

    if argv is None:
        # As the `emx` process, Ctrl-C (SIGINT) always stops the command, even when it was started
        # with SIGINT ignored (a background job of a non-interactive shell inherits that, and
        # Python then installs no handler of its own).
        import signal

        signal.signal(signal.SIGINT, signal.default_int_handler)

    import contextlib

    from emx.jsonout import json_mode

    try:
        # As the `emx` process (no argv given) fd 1 stays on stderr to the end: engines log while
        # the interpreter shuts down. Called from Python with argv, stdout is given back.
        with json_mode(restore=argv is not None) if getattr(args, "json", False) else contextlib.nullcontext():
            return args.fn(args)
    except (EmxError, ValueError, FileNotFoundError) as e:
        # Bad input from the user: say what and where, no traceback.
        err.print(f"[red]error:[/] {e}", markup=True, highlight=False)
        return 2
    except KeyboardInterrupt:
        # One line on stderr; with --json nothing partial has reached stdout.
        what = " ".join(str(x) for x in (getattr(args, "command", None), getattr(args, "action", None)) if x)
        err.print(f"interrupted: emx {what}".rstrip(), highlight=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
