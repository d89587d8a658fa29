"""The one place training gets rewards from: ``score(tasks, texts, mode, reward)``.

Symbolic mode uses the C++ batch evaluator (all cores, GIL released); physics mode executes in
SAPIEN through ``emx.sim``. When the rollout engine (``emx.RolloutEngine``) is installed it is
used for both by default, so worker supervision, snapshots and GRPO prefix sharing come from it. Model output never
raises here: unparseable, empty or looping text is a format failure with the preset's penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..evaluation import Result, _parse, _result, evaluate_batch, to_actions
from ..task import Task

COMPONENTS = ("format_ok", "executability", "goal_fraction", "success", "plan_length", "relevant_named")
_engines: dict[tuple[str, str, int], Any] = {}
_engine_failed: dict[tuple[str, str, int], str] = {}


def rollout_engine(mode: str, reward: Any, workers: int = 1):
    """A shared ``emx.RolloutEngine`` for (mode, reward), or None when it is not installed or
    cannot start (then the in-process evaluators are used)."""
    import emx

    cls = getattr(emx, "RolloutEngine", None)
    if cls is None:
        return None
    key = (mode, str(reward), workers)
    if key in _engine_failed:
        return None
    eng = _engines.get(key)
    if eng is None or getattr(eng, "closed", False):
        try:
            eng = _engines[key] = cls(workers=workers, mode=mode, reward=reward)
        except Exception as e:  # noqa: BLE001 - no worker binary, no SAPIEN, ...: fall back
            _engine_failed[key] = f"{type(e).__name__}: {e}"
            return None
    return eng


def close_engines() -> None:
    for eng in _engines.values():
        try:
            eng.close()
        except Exception:  # noqa: BLE001
            pass
    _engines.clear()


def _physics(tasks: Sequence[Task], texts: Sequence[Any], reward: Any, threads: int) -> list[Result]:
    from ..sim import evaluate_physics_batch

    parsed = [_parse(t, "auto") for t in texts]
    items = [(task, to_actions(task, p) if p.ok else [], p.ok) for task, p in zip(tasks, parsed)]
    out = evaluate_physics_batch(items, reward, threads=threads)
    return [_result(task, p, d) for task, p, d in zip(tasks, parsed, out)]


def score(tasks: Sequence[Task], texts: Sequence[Any], mode: str = "symbolic", reward: Any = "default",
          threads: int = 0, groups: Sequence[Any] | None = None, backend: str = "auto",
          workers: int = 1) -> list[Result]:
    """Rewards and their components for each (task, model text) pair.

    backend: "engine" (``emx.RolloutEngine``: supervised workers, GRPO groups share plan prefixes),
    "inprocess" (the C++ batch evaluator, or ``emx.sim`` for physics), or "auto" (the engine when it
    is installed and starts, else in process). groups: one key per pair (a GRPO group), or None.
    """
    if len(tasks) != len(texts):
        raise ValueError(f"{len(tasks)} tasks but {len(texts)} texts")
    if mode not in ("symbolic", "physics"):
        raise ValueError(f"unknown mode {mode!r} (expected 'symbolic' or 'physics')")
    if backend not in ("auto", "engine", "inprocess"):
        raise ValueError(f"unknown reward backend {backend!r} (expected auto, engine or inprocess)")
    if not tasks:
        return []
    if backend != "inprocess":
        engine = rollout_engine(mode, reward, workers)
        if engine is not None:
            from ..rollout import Episode

            keys = list(groups) if groups is not None else [None] * len(tasks)
            return list(engine.evaluate([Episode(t, x, group=g) for t, x, g in zip(tasks, texts, keys)]))
        if backend == "engine":
            raise RuntimeError("emx.RolloutEngine is not available: "
                               + (_engine_failed.get((mode, str(reward), workers)) or "not installed"))
    if mode == "physics":
        return _physics(tasks, texts, reward, threads)
    return evaluate_batch(tasks, texts, reward=reward, threads=threads)


def summarize(results: Sequence[Result], prefix: str = "") -> dict[str, float]:
    """Means of the reward and every component (the multi-level reward, level by level)."""
    n = max(len(results), 1)
    out = {f"{prefix}reward": sum(r.reward for r in results) / n}
    for key in COMPONENTS:
        out[f"{prefix}{key}"] = sum(float(getattr(r, key)) for r in results) / n
    return out
