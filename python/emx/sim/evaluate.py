"""Scoring plans in physics: the same dict ``emx._core.evaluate`` returns, with the execution run
by a PhysicsWorld and the goal checked on its geometric shadow state.

Worlds are cached per thread (a few per thread, least recently used dropped): evaluating another
plan on the same task restores the world's initial snapshot instead of rebuilding the scene.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .. import _core
from ..errors import EmxError
from .world import PhysicsConfig, PhysicsWorld

__all__ = ["evaluate_physics", "evaluate_physics_batch", "world_for", "scene_for", "clear_cache", "SceneUnavailable"]

_local = threading.local()
CACHE_SIZE = 4


class SceneUnavailable(EmxError, RuntimeError):
    """Physics mode was asked for a task with no scene, and no scene builder is installed."""


def scene_for(task: Any) -> dict:
    """The task's scene from ``emx.scenes.build_scene`` (cached by that module)."""
    try:
        try:
            from ..scenes import build_scene  # type: ignore[attr-defined]
        except ImportError:
            from ..scenes.layout import build_scene  # type: ignore[no-redef]
    except ImportError as e:
        raise SceneUnavailable(
            f"physics mode needs a scene for {getattr(task, 'id', task)!r}, and emx.scenes.build_scene is not "
            f"available ({e}); pass scene=... explicitly") from e
    return build_scene(task)


def _cache() -> OrderedDict:
    c = getattr(_local, "worlds", None)
    if c is None:
        c = _local.worlds = OrderedDict()
    return c


def clear_cache() -> None:
    _cache().clear()


def world_for(task: Any, scene: dict | None = None, config: PhysicsConfig | None = None) -> PhysicsWorld:
    """A PhysicsWorld for ``task`` at its settled initial state, reused when this thread built
    one for the same task and scene before."""
    cache = _cache()
    key = (id(task), id(scene) if scene is not None else None, config)
    w = cache.get(key)
    if w is not None and w.task is task:
        cache.move_to_end(key)
        w.reset()
        return w
    world = PhysicsWorld(task, scene if scene is not None else scene_for(task), config)
    cache[key] = world
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return world


def _reward_config(reward: Any) -> _core.RewardConfig:
    if isinstance(reward, _core.RewardConfig):
        return reward
    return _core.reward_preset(reward or "default")


def evaluate_physics(task: Any, parsed_actions: list, format_ok: bool, reward_config: Any = "default",
                     scene: dict | None = None, *, world: PhysicsWorld | None = None,
                     config: PhysicsConfig | None = None) -> dict:
    """Runs ``parsed_actions`` (``emx._core.Action`` list) in physics from the task's initial
    state and scores the run. Returns the dict ``emx._core.evaluate`` returns, plus ``physics``:
    steps simulated and the world's build time."""
    core = task.core if hasattr(task, "core") else task
    reward = _reward_config(reward_config)
    actions = list(parsed_actions) if format_ok else []
    if not format_ok:
        return _core.score_execution(core, [], False, reward, core.initial_state, 0, [])
    w = world if world is not None else world_for(task, scene, config)
    if world is not None:
        w.reset()
    steps0 = w.steps
    executed, trace = w.run(actions)
    d = _core.score_execution(core, actions, True, reward, w.shadow, executed, trace)
    d["physics"] = {"steps": w.steps - steps0, "build_seconds": w.build_seconds,
                    "initial_settle_steps": w.initial_settle_steps}
    return d


def evaluate_physics_batch(items, reward_config: Any = "default", threads: int = 0,
                           config: PhysicsConfig | None = None) -> list[dict]:
    """Scores many ``(task, actions, format_ok)`` in physics on a thread pool (``threads`` 0: one
    per core). SAPIEN and the C++ core release the GIL while they work; each thread keeps its own
    worlds, and scenes are laid out once per task before the threads start. Results come back in
    the order of ``items``."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)
    reward = _reward_config(reward_config)
    scenes: dict[int, dict] = {}
    for task, _actions, ok in items:
        if ok and id(task) not in scenes:
            scenes[id(task)] = scene_for(task)

    def one(item):
        task, actions, ok = item
        return evaluate_physics(task, actions, ok, reward, scenes.get(id(task)), config=config)

    n = threads if threads > 0 else (os.cpu_count() or 1)
    if n <= 1 or len(items) <= 1:
        return [one(it) for it in items]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, items))
