"""Box geometry for the physics layer: world AABBs of posed boxes, and the relation predicates
of ``cpp/include/emx/geometry.hpp`` mirrored in Python.

The mirrors are for *sampling* placements and for naming what went wrong (a candidate pose is
tested before it is committed, and a failed placement says which relation broke). The relations
a goal reads always come from the C++ core (``emx._core.relations_from_geometry``); a test checks
that the two agree.
"""

from __future__ import annotations

import math

import numpy as np

# Thresholds of cpp/include/emx/geometry.hpp (kept equal; tests/test_physics.py checks them
# against the core's predicates on the same boxes).
CONTACT_GAP = 0.02
SUPPORT_OVERLAP = 0.5
INSIDE_TOLERANCE = 0.01
NEXTTO_GAP = 0.30
OPEN_FRACTION = 0.10


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def ontop(a: np.ndarray, b: np.ndarray) -> bool:
    if not abs(a[0, 2] - b[1, 2]) <= CONTACT_GAP:
        return False
    ox = overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0])
    oy = overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1])
    fx, fy = a[1, 0] - a[0, 0], a[1, 1] - a[0, 1]
    if not (fx > 0 and fy > 0):
        return centre_in_xy(a, b)
    if not (ox > 0 and oy > 0):
        return False
    return ox * oy >= SUPPORT_OVERLAP * fx * fy


def inside(a: np.ndarray, interior: np.ndarray) -> bool:
    return bool(np.all(a[0] >= interior[0] - INSIDE_TOLERANCE) and np.all(a[1] <= interior[1] + INSIDE_TOLERANCE))


def nextto(a: np.ndarray, b: np.ndarray) -> bool:
    if not overlap(a[0, 2], a[1, 2], b[0, 2], b[1, 2]) > 0:
        return False
    ox = overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0])
    oy = overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1])
    if not min(ox, oy) <= CONTACT_GAP:
        return False
    dx, dy = max(0.0, -ox), max(0.0, -oy)
    return dx * dx + dy * dy <= NEXTTO_GAP * NEXTTO_GAP


def under(a: np.ndarray, b: np.ndarray) -> bool:
    if not a[1, 2] <= b[0, 2] + CONTACT_GAP:
        return False
    return overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0]) > 0 and overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1]) > 0


def centre_in_xy(a: np.ndarray, b: np.ndarray) -> bool:
    c = 0.5 * (a[0, :2] + a[1, :2])
    return bool(np.all(c >= b[0, :2]) and np.all(c <= b[1, :2]))


def onfloor(a: np.ndarray, floor: np.ndarray) -> bool:
    return a[0, 2] <= floor[1, 2] + CONTACT_GAP and centre_in_xy(a, floor)


def boxes_intersect(a: np.ndarray, b: np.ndarray, clearance: float = 0.0) -> bool:
    """True when the open boxes overlap by more than ``clearance`` on every axis."""
    return bool(np.all(np.minimum(a[1], b[1]) - np.maximum(a[0], b[0]) > clearance))


def box_from_centre(centre, half) -> np.ndarray:
    c = np.asarray(centre, dtype=np.float64)
    h = np.asarray(half, dtype=np.float64)
    return np.stack([c - h, c + h])


def quat_to_matrix(q) -> np.ndarray:
    """SAPIEN quaternions are (w, x, y, z)."""
    w, x, y, z = (float(v) for v in q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> (w, x, y, z), numerically stable branch choice."""
    t = m[0, 0] + m[1, 1] + m[2, 2]
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.asarray(q)
    return q / np.linalg.norm(q)


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def posed_box_aabb(p, q, half) -> np.ndarray:
    """World AABB of a box with half extents ``half`` centred at the body origin, posed (p, q).
    Plain floats: this runs for every body after every step."""
    w, x, y, z = float(q[0]), float(q[1]), float(q[2]), float(q[3])
    hx, hy, hz = float(half[0]), float(half[1]), float(half[2])
    ex = abs(1 - 2 * (y * y + z * z)) * hx + abs(2 * (x * y - w * z)) * hy + abs(2 * (x * z + w * y)) * hz
    ey = abs(2 * (x * y + w * z)) * hx + abs(1 - 2 * (x * x + z * z)) * hy + abs(2 * (y * z - w * x)) * hz
    ez = abs(2 * (x * z - w * y)) * hx + abs(2 * (y * z + w * x)) * hy + abs(1 - 2 * (x * x + y * y)) * hz
    px, py, pz = float(p[0]), float(p[1]), float(p[2])
    return np.array([[px - ex, py - ey, pz - ez], [px + ex, py + ey, pz + ez]])


def yawed_half(size, yaw: float) -> np.ndarray:
    """Half extents of a box of full ``size`` turned by ``yaw`` about z, as an AABB."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    sx, sy, sz = (0.5 * float(v) for v in size)
    return np.array([c * sx + s * sy, s * sx + c * sy, sz])


def xy_distance(box: np.ndarray, point) -> float:
    """Distance in the xy plane from ``point`` to the nearest point of ``box``."""
    dx = max(box[0, 0] - point[0], 0.0, point[0] - box[1, 0])
    dy = max(box[0, 1] - point[1], 0.0, point[1] - box[1, 1])
    return math.hypot(dx, dy)


def nextto_many(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """nextto for many boxes ``a`` (K,2,3) against one box ``b``: a vectorised ``nextto``."""
    oz = np.minimum(a[:, 1, 2], b[1, 2]) - np.maximum(a[:, 0, 2], b[0, 2])
    ox = np.minimum(a[:, 1, 0], b[1, 0]) - np.maximum(a[:, 0, 0], b[0, 0])
    oy = np.minimum(a[:, 1, 1], b[1, 1]) - np.maximum(a[:, 0, 1], b[0, 1])
    dx, dy = np.maximum(0.0, -ox), np.maximum(0.0, -oy)
    return (oz > 0) & (np.minimum(ox, oy) <= CONTACT_GAP) & (dx * dx + dy * dy <= NEXTTO_GAP * NEXTTO_GAP)
