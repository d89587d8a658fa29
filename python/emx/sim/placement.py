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


def obstacle_boxes(world, exclude: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (M,2,3), owner (M,)) of every collision shape in the world except the ground, the
    robot, held and parked bodies, and ``exclude``."""
    held = world.held_members()
    boxes, owners = [], []
    for idx, b in world.bodies.items():
        if idx in exclude or idx in held or idx in world.parked or b.kind in ("floor", "agent") or b.entity is None:
            continue
        if b.static_box is not None or (b.articulation is not None):
            for c, h in b.shapes:
                boxes.append(np.stack([c - h, c + h]))
                owners.append(idx)
            if b.door is not None:
                pose = b.door.pose
                c, h, rot = b.door_shape
                r = G.quat_to_matrix(pose.q)
                cw = np.asarray(pose.p, float) + r @ c
                hw = np.abs(r @ rot) @ h
                boxes.append(np.stack([cw - hw, cw + hw]))
                owners.append(idx)
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
    if not boxes:
        return np.zeros((0, 2, 3)), np.zeros(0, int)
    return np.stack(boxes), np.array(owners)


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


def ring(target: np.ndarray, size: np.ndarray, region: Region, gaps=(0.03, 0.08, 0.15, 0.25)) -> np.ndarray:
    """Candidate centres beside ``target``'s box (nextto), around all four sides."""
    lo, hi = target[0, :2], target[1, :2]
    pts = []
    for g in gaps:
        for axis in (0, 1):
            other = 1 - axis
            n_along = max(1, int(round((hi[other] - lo[other] + size[other]) / 0.05)))
            along = np.linspace(lo[other] - size[other] / 2 + 0.01, hi[other] + size[other] / 2 - 0.01, n_along + 1)
            for sign in (-1, 1):
                c_axis = (hi[axis] + g + size[axis] / 2) if sign > 0 else (lo[axis] - g - size[axis] / 2)
                for a in along:
                    p = np.zeros(2)
                    p[axis], p[other] = c_axis, a
                    pts.append(p)
    if not pts:
        return np.zeros((0, 2))
    pts = np.array(pts)
    rlo, rhi = region.xy
    ok = np.all(pts - size[:2] / 2 >= rlo - 1e-9, axis=1) & np.all(pts + size[:2] / 2 <= rhi + 1e-9, axis=1)
    pts = pts[ok]
    # Nearest the target's centre first (ties: stable by position).
    centre = (lo + hi) / 2
    d = np.linalg.norm(pts - centre, axis=1)
    return pts[np.lexsort((pts[:, 1], pts[:, 0], np.round(d, 6)))]
