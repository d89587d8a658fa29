"""Sampling collision-free placements, and the robot's approach poses.

Deterministic: candidates lie on a grid over the target region and are tried in a fixed order,
so the same state always gives the same placement (replays after a snapshot restore match).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import geometry as G

CLEARANCE = 0.002     # candidates may touch obstacles up to this depth (rounding)
MAX_CANDIDATES = 4000


@dataclass(frozen=True)
class Region:
    """Where a unit may go: its box bottom at ``z``, its footprint inside ``xy`` (2x2: min, max),
    and its top at most ``max_top`` (under a table, inside a shelf)."""

    xy: np.ndarray
    z: float
    max_top: float = math.inf
    full_footprint: bool = True   # the footprint must lie inside xy (else half of it, centred)


def _static_obstacles(world) -> tuple[np.ndarray, np.ndarray]:
    """Shape boxes of bodies that never move (furniture, container walls), computed once."""
    cached = getattr(world, "_static_obstacle_cache", None)
    if cached is not None:
        return cached
    boxes, owners = [], []
    for idx, b in world.bodies.items():
        if b.kind in ("floor", "agent") or b.entity is None or b.dynamic:
            continue
        for c, h in b.shapes:
            boxes.append(np.stack([c - h, c + h]))
            owners.append(idx)
    out = (np.stack(boxes), np.array(owners)) if boxes else (np.zeros((0, 2, 3)), np.zeros(0, int))
    world._static_obstacle_cache = out
    return out


def obstacle_boxes(world, exclude: set[int], carried_by: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (M,2,3), owner (M,)) of every collision shape in the world except the ground, the
    robot, parked bodies, ``exclude`` and what the hands hold -- except what hand ``carried_by``
    holds (placing into a container held in the other hand)."""
    held = {m: h for m, h in world.held_members().items() if h != carried_by}
    sboxes, sowners = _static_obstacles(world)
    boxes, owners = [], []
    for idx, b in world.bodies.items():
        if not b.dynamic or idx in exclude or idx in held or idx in world.parked or b.kind == "agent":
            continue
        pose = b.entity.pose
        r = G.quat_to_matrix(pose.q)
        p = np.asarray(pose.p, float)
        ar = np.abs(r)
        for c, h in b.shapes:
            cw = p + r @ c
            hw = ar @ h
            boxes.append(np.stack([cw - hw, cw + hw]))
            owners.append(idx)
    for b in world._articulated:
        if b.door is None:
            continue
        pose = b.door.pose
        c, h, rot = b.door_shape
        r = G.quat_to_matrix(pose.q)
        cw = np.asarray(pose.p, float) + r @ c
        hw = np.abs(r @ rot) @ h
        boxes.append(np.stack([cw - hw, cw + hw]))
        owners.append(b.index)
    if exclude:
        keep = ~np.isin(sowners, list(exclude))
        sboxes, sowners = sboxes[keep], sowners[keep]
    if not boxes:
        return sboxes, sowners
    return np.concatenate([sboxes, np.stack(boxes)]), np.concatenate([sowners, np.array(owners)])


def free(cands: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """Mask of candidate boxes (K,2,3) that overlap no obstacle (M,2,3) by more than CLEARANCE."""
    if len(obstacles) == 0 or len(cands) == 0:
        return np.ones(len(cands), bool)
    lo = np.maximum(cands[:, None, 0, :], obstacles[None, :, 0, :])
    hi = np.minimum(cands[:, None, 1, :], obstacles[None, :, 1, :])
    hit = np.all(hi - lo > CLEARANCE, axis=2)
    return ~np.any(hit, axis=1)


def grid(region: Region, size: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Candidate centres (K,2) for a footprint of ``size`` (2,) in ``region``, nearest to
    ``anchor`` first."""
    lo, hi = region.xy
    if region.full_footprint:
        cmin, cmax = lo + size / 2, hi - size / 2
    else:
        cmin = cmax = (lo + hi) / 2
    if np.any(cmax < cmin - 1e-9):
        return np.zeros((0, 2))
    span = np.maximum(cmax - cmin, 0.0)
    area = max(span[0] * span[1], 1e-6)
    step = max(0.02, math.sqrt(area / MAX_CANDIDATES))
    xs = np.arange(cmin[0], cmax[0] + 1e-9, step) if span[0] > 0 else np.array([cmin[0]])
    ys = np.arange(cmin[1], cmax[1] + 1e-9, step) if span[1] > 0 else np.array([cmin[1]])
    # Include the far edges, so a tight fit is still found.
    if span[0] > 0 and xs[-1] < cmax[0] - 1e-6:
        xs = np.append(xs, cmax[0])
    if span[1] > 0 and ys[-1] < cmax[1] - 1e-6:
        ys = np.append(ys, cmax[1])
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    d = np.linalg.norm(pts - anchor[None, :2], axis=1)
    order = np.lexsort((pts[:, 1], pts[:, 0], np.round(d, 6)))
    return pts[order]


def candidate_boxes(centres: np.ndarray, size: np.ndarray, z: float) -> np.ndarray:
    k = len(centres)
    out = np.empty((k, 2, 3))
    out[:, 0, :2] = centres - size[:2] / 2
    out[:, 1, :2] = centres + size[:2] / 2
    out[:, 0, 2] = z
    out[:, 1, 2] = z + size[2]
    return out
