"""What ``emx scenes build`` and ``emx scenes show`` call: plain functions returning data.

``build_scenes`` builds (or finds in the cache) one scene file per task, settles it in physics
when ``emx.sim`` can run, and returns a report; nothing is printed. A task whose layout or
settling fails is reported in its entry (``error``) and the batch goes on.
"""

from __future__ import annotations

import collections
import os
import re
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable

from .layout import SceneWarning, build_scene
from .scene_file import SceneFileError, cache_key, load_scene, save_scene, scene_path
from .schematic import draw_schematic

__all__ = ["build_scenes", "show_scene", "settle_scene", "ProgressFn"]

ProgressFn = Callable[[int, int, str], None]   # (done, total, task id just finished)

_REASON_WORDS = re.compile(r"[A-Za-z_][\w.\-]*\.n\.\d+_\d+|[a-z][a-z_]*_\d+|[\d.]+")


def _physics():
    """PhysicsWorld, or None and why not."""
    try:
        from ..sim import PhysicsWorld  # type: ignore[attr-defined]
    except Exception as e:  # ImportError, or SAPIEN failing to load
        return None, f"emx.sim is not available ({type(e).__name__}: {e})"
    return PhysicsWorld, ""


def settle_scene(task, scene: dict) -> dict | None:
    """Runs ``PhysicsWorld(task, scene).settle_and_verify()``; the ``settle`` record, or None
    when physics is not available. Errors of the physics run propagate."""
    world_cls, _why = _physics()
    if world_cls is None:
        return None
    try:
        world = world_cls(task, scene, settle=False)
    except TypeError:   # a PhysicsWorld without the settle keyword
        world = world_cls(task, scene)
    return world.settle_and_verify()


def _reason_kind(reason: str) -> str:
    """'no room on countertop_84 for jar_7 (needs ...)' -> 'no room on X for X': for tallies."""
    head = re.sub(r"\s*\([^()]*\)", "", reason).split(":")[0]
    return " ".join(_REASON_WORDS.sub("X", head).split())[:80]


def build_scenes(src_or_tasks: str | Iterable, out_dir: str | os.PathLike[str], seed: int = 0,
                 progress: ProgressFn | None = None, settle: bool = True, force: bool = False) -> dict:
    """Builds the scene of every task of a source (``"eai-behavior"``, ``"bddl:ACTIVITY"``, a
    path...) or of an iterable of ``emx.Task``, into ``out_dir``.

    A scene whose cache file (``scene_path(out_dir, task.id, cache_key(bddl, seed))``) exists
    and loads is reused; a corrupt one is rebuilt. ``settle``: run physics settling when
    ``emx.sim`` is importable (else ``settle`` stays null). ``progress(done, total, task_id)``
    is called after each task.

    Returns ``{"source", "out", "seed", "n", "built", "cached", "fully_realised", "errors",
    "settled", "physics", "seconds", "reasons": {kind: count}, "per_task": [{"task", "path",
    "cached", "objects", "unrealised": [{"literal", "reason"}], "warnings", "settle",
    "error"}]}``.
    """
    from ..task import load_tasks

    t0 = time.perf_counter()
    source = src_or_tasks if isinstance(src_or_tasks, str) else None
    tasks = load_tasks(src_or_tasks) if isinstance(src_or_tasks, str) else list(src_or_tasks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world_cls, why_not = _physics() if settle else (None, "settling not requested")
    report: dict = {
        "source": source, "out": str(out), "seed": int(seed), "n": len(tasks), "built": 0, "cached": 0,
        "fully_realised": 0, "errors": 0, "settled": 0,
        "physics": "available" if world_cls is not None else f"unavailable: {why_not}",
        "seconds": 0.0, "reasons": {}, "per_task": [],
    }
    reasons: collections.Counter = collections.Counter()
    for done, task in enumerate(tasks, 1):
        key = cache_key(task.spec.bddl_text, seed)
        path = scene_path(out, task.id, key)
        entry = {"task": task.id, "path": str(path), "cached": False, "objects": 0, "unrealised": [],
                 "warnings": [], "settle": None, "error": None}
        try:
            scene = None
            if path.exists() and not force:
                try:
                    scene = load_scene(path, task)
                    entry["cached"] = True
                except SceneFileError as e:
                    entry["warnings"].append(f"cached scene unusable, rebuilt: {e}")
            dirty = scene is None
            if scene is None:
                with warnings.catch_warnings():   # they are in the report
                    warnings.simplefilter("ignore", SceneWarning)
                    scene = build_scene(task, seed)
                scene["cache_key"] = key
            if world_cls is not None and scene.get("settle") is None:
                try:
                    scene["settle"] = settle_scene(task, scene)
                    dirty = True
                except Exception as e:  # the layout is still worth keeping
                    entry["warnings"].append(f"settling failed: {type(e).__name__}: {e}")
            if dirty:
                save_scene(scene, path)
            report["cached" if entry["cached"] else "built"] += 1
            entry["objects"] = len(scene["objects"])
            entry["unrealised"] = scene["unrealised"]
            entry["warnings"] += scene.get("warnings", [])
            entry["settle"] = scene.get("settle")
            if not scene["unrealised"]:
                report["fully_realised"] += 1
            for u in scene["unrealised"]:
                reasons[_reason_kind(u["reason"])] += 1
            if entry["settle"] is not None:
                report["settled"] += 1
        except Exception as e:  # one bad task must not stop a batch of a thousand
            entry["error"] = f"{type(e).__name__}: {e}"
            report["errors"] += 1
        report["per_task"].append(entry)
        if progress is not None:
            progress(done, len(tasks), task.id)
    report["reasons"] = dict(reasons.most_common())
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def show_scene(path: str | os.PathLike[str], out_png: str | os.PathLike[str], dpi: int = 110) -> dict:
    """Loads (and validates) a scene file and draws its top-down schematic to ``out_png``.
    Returns ``{"scene", "png", "task", "rooms", "objects", "unrealised"}``."""
    scene = load_scene(path)
    png = draw_schematic(scene, out_png, dpi=dpi)
    return {"scene": os.fspath(path), "png": str(png), "task": scene["task_id"], "rooms": len(scene["rooms"]),
            "objects": len(scene["objects"]), "unrealised": len(scene["unrealised"])}
