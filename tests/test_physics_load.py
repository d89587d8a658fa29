"""Physics results do not depend on machine load: the same physics evaluation, once on a quiet
machine and once while two busy processes load every core, gives identical per-task results
(rewards, traces with their messages, final poses). Simulation budgets are counted in steps."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import emx

pytest.importorskip("sapien")

from emx.sim import PhysicsWorld, scene_for  # noqa: E402

TASKS = ["bottling_fruit", "chopping_vegetables", "boxing_books_up_for_storage", "assembling_gift_baskets"]


def _run_all() -> dict:
    out = {}
    for ident in TASKS:
        task = emx.load_task(f"eai-behavior:{ident}")
        actions = _oracle(task)
        world = PhysicsWorld(task, scene_for(task))
        executed, trace = world.run(actions)
        out[ident] = (executed, [tuple(t) for t in trace], sorted(world.true_atoms()), world.goal(),
                      world.poses().tolist(), world.steps)
    return out


def _oracle(task):
    solved, actions, reason = task.core.oracle()
    assert solved, reason
    return actions


def _busy_processes(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_physics_results_are_identical_under_load():
    quiet = _run_all()
    hogs = _busy_processes(max(2, os.cpu_count() or 2))
    try:
        loaded = _run_all()
    finally:
        for p in hogs:
            p.kill()
            p.wait()
    assert quiet.keys() == loaded.keys()
    for ident in TASKS:
        a, b = quiet[ident], loaded[ident]
        assert a[:4] == b[:4], ident
        assert np.array_equal(np.asarray(a[4]), np.asarray(b[4])), ident
        assert a[5] == b[5], ident   # the same number of simulated steps
