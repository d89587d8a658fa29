"""The geometric predicates of ``cpp/include/emx/geometry.hpp``, on (2, 3) boxes [min, max].

The C++ core is the reference: when the module exposes its bindings (``emx._core.box_ontop``
and friends) they are used; until then a replica of the same definitions and thresholds, in
float32 as the C++ code computes, keeps the layout honest. Tests compare the two when both
exist.
"""

from __future__ import annotations

import numpy as np

from .. import _core

__all__ = [
    "CONTACT_GAP", "SUPPORT_OVERLAP", "INSIDE_TOLERANCE", "NEXT_TO_GAP", "OPEN_FRACTION",
    "box_ontop", "box_inside", "box_nextto", "box_under", "box_onfloor", "python_predicates",
    "using_core",
]

# geometry.hpp: kContactGap, kSupportOverlap, kInsideTolerance, kNextToGap, kOpenFraction
CONTACT_GAP = np.float32(0.02)
SUPPORT_OVERLAP = np.float32(0.5)
INSIDE_TOLERANCE = np.float32(0.01)
NEXT_TO_GAP = np.float32(0.30)
OPEN_FRACTION = np.float32(0.10)


def _box(b) -> np.ndarray:
    a = np.asarray(b, dtype=np.float32)
    if a.shape != (2, 3):
        raise ValueError(f"a box is a (2, 3) array [min, max], got shape {a.shape}")
    return a


def _overlap(a0, a1, b0, b1):
    return np.minimum(a1, b1) - np.maximum(a0, b0)


def _centre_in_xy(a, b) -> bool:
    for k in range(2):
        c = np.float32(0.5) * (a[0, k] + a[1, k])
        if not (b[0, k] <= c <= b[1, k]):
            return False
    return True


def py_ontop(a, b) -> bool:
    a, b = _box(a), _box(b)
    if not abs(a[0, 2] - b[1, 2]) <= CONTACT_GAP:
        return False
    ox = _overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0])
    oy = _overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1])
    fx, fy = a[1, 0] - a[0, 0], a[1, 1] - a[0, 1]
    if not (fx > 0 and fy > 0):
        return _centre_in_xy(a, b)
    if not (ox > 0 and oy > 0):
        return False
    return bool(ox * oy >= SUPPORT_OVERLAP * (fx * fy))


def py_inside(a, interior) -> bool:
    a, c = _box(a), _box(interior)
    return bool(np.all(a[0] >= c[0] - INSIDE_TOLERANCE) and np.all(a[1] <= c[1] + INSIDE_TOLERANCE))


def py_nextto(a, b) -> bool:
    a, b = _box(a), _box(b)
    if not _overlap(a[0, 2], a[1, 2], b[0, 2], b[1, 2]) > 0:
        return False
    ox = _overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0])
    oy = _overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1])
    if not min(ox, oy) <= CONTACT_GAP:
        return False
    dx, dy = max(np.float32(0), -ox), max(np.float32(0), -oy)
    return bool(dx * dx + dy * dy <= NEXT_TO_GAP * NEXT_TO_GAP)


def py_under(a, b) -> bool:
    a, b = _box(a), _box(b)
    if not a[1, 2] <= b[0, 2] + CONTACT_GAP:
        return False
    return bool(_overlap(a[0, 0], a[1, 0], b[0, 0], b[1, 0]) > 0 and _overlap(a[0, 1], a[1, 1], b[0, 1], b[1, 1]) > 0)


def py_onfloor(a, floor) -> bool:
    a, f = _box(a), _box(floor)
    return bool(a[0, 2] <= f[1, 2] + CONTACT_GAP and _centre_in_xy(a, f))


python_predicates = {"ontop": py_ontop, "inside": py_inside, "nextto": py_nextto, "under": py_under,
                     "onfloor": py_onfloor}


def _pick(name: str):
    core = getattr(_core, f"box_{name}", None)
    if core is None:
        return python_predicates[name]

    def call(a, b, _core_fn=core) -> bool:
        return bool(_core_fn(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))
    call.__name__ = f"box_{name}"
    return call


box_ontop = _pick("ontop")
box_inside = _pick("inside")
box_nextto = _pick("nextto")
box_under = _pick("under")
box_onfloor = _pick("onfloor")


def using_core() -> bool:
    """Whether the predicates come from the C++ bindings (else the Python replica)."""
    return hasattr(_core, "box_ontop")
