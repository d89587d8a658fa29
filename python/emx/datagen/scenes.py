"""``emx gen scenes DIR``: the scene of every task of a dataset, built, settled and verified.

Scenes go to ``DIR/scenes/`` (the scene builder's content-keyed cache: a re-run or a resumed
run reuses what exists), and one line per task to ``DIR/scenes.jsonl`` (resume by id: a task
with a line is not rebuilt). A task whose init cannot be laid out, or whose relations break when
it settles, is reported; with ``prune=True`` its BDDL file is moved to ``DIR/rejected/`` (renamed
``.bddl.rejected`` so task loaders skip it) and it stops being part of the dataset.
"""

from __future__ import annotations

import collections
import os
import time
from typing import Callable

from .dataset import Dataset, append_jsonl, read_jsonl

__all__ = ["generate_scenes", "SCENES_LOG"]

SCENES_LOG = "scenes.jsonl"


def _verdict(entry: dict) -> tuple[bool, str]:
    if entry.get("error"):
        return False, "error: " + entry["error"].split(":")[0]
    if entry.get("unrealised"):
        from ..scenes.build import _reason_kind

        return False, "unrealised: " + _reason_kind(entry["unrealised"][0]["reason"])
    settle = entry.get("settle")
    if settle is not None and (settle.get("relations_ok") is False or settle.get("violations")):
        return False, "does not settle"
    return True, ""


def generate_scenes(out_dir: str | os.PathLike[str], seed: int = 0, settle: bool = True, prune: bool = False,
                    force: bool = False, progress: Callable[[int, int, str], None] | None = None,
                    limit: int | None = None, strict: bool = False) -> dict:
    """Builds the scenes of the dataset at ``out_dir``. Returns {"n", "built", "ok", "failed",
    "settled", "physics", "reasons", "pruned", "skipped" (tasks already done), "skipped_files"
    (bad task files left out; ``strict`` raises the first instead), "seconds"}."""
    from ..scenes import build_scenes
    from ..tasks.corpus import load_reporting, skipped_json

    t0 = time.perf_counter()
    ds = Dataset(out_dir)
    log_path = ds.root / SCENES_LOG
    done = {} if force else {row["task"]: row for row in read_jsonl(log_path) if isinstance(row.get("task"), str)}
    tasks = load_reporting(str(ds.root), limit=limit, strict=strict, show=False)
    todo = [t for t in tasks if t.id not in done]
    reasons: collections.Counter = collections.Counter()
    ok = failed = settled = 0
    pruned: list[str] = []
    physics = "not run"
    # chunks, so that a long run records its progress as it goes (resume loses at most a chunk,
    # and even that is read back from the scene cache)
    chunk = 32
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]

        def prog(done_k: int, total: int, task_id: str, _s=start) -> None:
            if progress is not None:
                progress(_s + done_k, len(todo), task_id)

        report = build_scenes(part, ds.scene_dir(), seed=seed, progress=prog, settle=settle, force=force)
        physics = report["physics"]
        rows = []
        for entry in report["per_task"]:
            good, reason = _verdict(entry)
            rows.append({"task": entry["task"], "ok": good, "reason": reason, "path": os.path.relpath(entry["path"], ds.root),
                         "objects": entry["objects"], "settle": entry["settle"], "seed": seed,
                         "unrealised": entry["unrealised"][:5]})
        append_jsonl(log_path, rows)
        for r in rows:
            done[r["task"]] = r
    for r in done.values():
        if r["ok"]:
            ok += 1
            settled += r.get("settle") is not None
        else:
            failed += 1
            reasons[r["reason"]] += 1
            if prune:
                src = ds.bddl_path(r["task"])
                if src.exists():
                    dst = ds.root / "rejected" / f"{r['task']}.bddl.rejected"
                    dst.parent.mkdir(exist_ok=True)
                    os.replace(src, dst)
                    pruned.append(r["task"])
    return {"dir": str(ds.root), "n": len(tasks) + len(pruned) if prune else len(tasks), "built": len(todo),
            "skipped": len(tasks) - len(todo), "ok": ok, "failed": failed, "settled": settled, "physics": physics,
            "reasons": dict(reasons.most_common()), "pruned": pruned, "skipped_files": skipped_json(tasks.skipped),
            "seconds": round(time.perf_counter() - t0, 3)}
