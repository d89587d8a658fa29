"""Snapshots: the complete state of a PhysicsWorld, restorable in microseconds.

A snapshot is SAPIEN's packed physics state (``PhysxCpuSystem.pack()``: poses, velocities,
joint positions and drive targets) plus what emx keeps beside it: the symbolic shadow state,
the states before each step of the current run (for EAI's wrong-order rule), what each hand holds,
the robot base pose, and which bodies are parked (sliced wholes, slice parts not yet cut).
Snapshots are immutable and belong to the world that took them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Held:
    """What one hand carries: the grasped object and everything on or in it (the support
    subtree), with their poses relative to the hand frame."""

    root: int
    members: tuple[int, ...]          # root first
    rel_p: tuple[tuple[float, float, float], ...]
    rel_q: tuple[tuple[float, float, float, float], ...]


@dataclass(frozen=True)
class Snapshot:
    world_id: int
    physx: bytes
    shadow: Any                       # emx._core.WorldState (never mutated once stored)
    history: tuple                    # WorldStates before each step of the current run
    held: tuple[Held | None, Held | None]
    robot: tuple[float, float, float]  # x, y, yaw
    parked: frozenset[int]
    sleeping: tuple[bool, ...]        # per dynamic body, in the world's body order
    steps: int                        # physics steps simulated so far (for statistics)
    folds: tuple = ()                 # (object index, fold in use) of foldable objects

    @property
    def nbytes(self) -> int:
        return len(self.physx) + int(getattr(self.shadow, "nbytes", 0)) * (1 + len(self.history))


def same_poses(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))
