"""The layout: a task's initial state -> a scene dict (docs/scene-format.md).

Deterministic for a (task, seed): every random choice comes from one numpy Generator seeded
with ``seed`` and consumed in a fixed order (objects in task order, rooms in task order).

How a scene is laid out
-----------------------
* **Rooms** are rectangles side by side along +x, 0.2 m apart (room for walls), each sized
  from the furniture that must stand along its walls and the floor area its items need; a
  room that cannot hold its contents is regrown (x1.2, up to 12 times).
* **Furniture** (objects with the ``fixed`` ability that no init relation puts on or in
  something else) stands along the walls of its room, front (local +x) facing the room,
  without overlap. Its room is its ``inroom`` fact, else the room of the floor it is on, else
  the room of the things related to it, else the category's room hint (a fridge goes to the
  kitchen), else the first room. Wall-mounted objects (windows, top cabinets) hang above the
  others. In front of every door, lid-less oven door and drawer a keep-out zone stays free so
  the joint can open.
* **Items** go where their init relation says, in dependency order (the plate before the
  hamburger on it): ``inside`` -> on the interior's floor (laid on its side when only that
  fits); ``ontop`` -> on the top face (a floor counts as ``onfloor``); ``under`` -> on the
  floor below a table's top, between its legs (tables, desks, beds have ``legs``: the body is
  the top slab, with free space below); ``nextto`` -> on the reference's own support, within
  ``kNextToGap`` of it; ``onfloor`` -> free floor of the room. A free spot is drawn at random
  (first keeping 0.31 m from everything, so that unrelated items are not ``nextto``), then
  searched exhaustively over bottom-left candidate positions, so "no room" means no room.
* **Check**: every geometric init literal (ontop, inside, nextto, under, onfloor) of the
  placed objects is evaluated with the predicates of ``geometry.hpp``; one that does not hold
  is reported in ``unrealised`` with the reason, as is every object that could not be placed.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from . import predicates as P
from .materials import mass_of, material
from .sizes import PriorTable, SizePrior, size_prior

__all__ = ["SceneWarning", "build_scene", "GENERATOR", "GEOMETRIC_PREDICATES", "scene_boxes", "check_relations",
           "object_box", "interior_box", "FORMAT", "VERSION"]

FORMAT = "emx-scene"
VERSION = 1
GENERATOR = "emx-layout/1"

GEOMETRIC_PREDICATES = ("ontop", "inside", "nextto", "under", "onfloor")
# B1K relations that are not geometric predicates but still say where a thing is.
_PLACEMENT_HINTS = {"draped": "ontop", "overlaid": "ontop", "attached": "ontop"}
_PRIMARY_ORDER = {"inside": 0, "ontop": 1, "under": 2, "nextto": 3, "onfloor": 4}

QUARTER = math.pi / 2
ROOM_GAP = 0.2            # between rooms: where the walls stand
WALL_THICKNESS = 0.1
WALL_HEIGHT = 3.0
FLOOR_THICKNESS = 0.05
FURNITURE_GAP = 0.05      # between pieces of furniture along a wall
WALL_CLEARANCE = 0.01     # furniture back to wall
ITEM_MARGIN = 0.015       # between items on a surface or floor
INSIDE_MARGIN = 0.005
APART = 0.31              # > kNextToGap: unrelated items first try to keep this far apart
LEG_SIDE = 0.05
HEAP_MIN, HEAP_MAX = 0.05, 0.15
SHELF_THICKNESS = 0.02
SHELF_SPACING = 0.3       # a closed container gets shelf boards at least this far apart, when needed
MAX_SHELVES = 4
CROWDED = 0.15            # items' footprint / surface area above which a surface is packed tightly
CROWDED_COUNT = 12        # ... or this many items on it
PACKED_MARGIN = 0.01
TIGHT_MARGIN = 0.002       # last resort between items
EDGE_MARGIN = 0.03        # items keep this far from the edge of what they stand on
WALL_MIN, WALL_MAX = 0.01, 0.03   # container wall thickness
AGENT_SIZE = (0.5, 0.5, 1.4)
MIN_ROOM = (3.0, 2.5)
ROOM_GROWTH = 1.2
ROOM_ATTEMPTS = 12
RANDOM_TRIES = 48
DIGITS = 5


def _r(v: float) -> float:
    return round(float(v), DIGITS) + 0.0  # + 0.0: no "-0.0" in files


def _fmt(v: Iterable[float]) -> str:
    return " x ".join(f"{x:.2f}" for x in v)


# --------------------------------------------------------------------------- geometry helpers

def _footprint(dims: np.ndarray, quarter: int) -> tuple[float, float]:
    """World x, y extents of a box with local extents ``dims`` turned by quarter * 90 degrees."""
    return (float(dims[1]), float(dims[0])) if quarter % 2 else (float(dims[0]), float(dims[1]))


def _rotate_local_box(lmin: np.ndarray, lmax: np.ndarray, quarter: int) -> tuple[np.ndarray, np.ndarray]:
    """A box given relative to an object's centre in its local frame -> relative world AABB."""
    x0, y0, z0 = lmin
    x1, y1, z1 = lmax
    q = quarter % 4
    if q == 0:
        a, b = (x0, y0), (x1, y1)
    elif q == 1:   # (x, y) -> (-y, x)
        a, b = (-y1, x0), (-y0, x1)
    elif q == 2:   # (x, y) -> (-x, -y)
        a, b = (-x1, -y1), (-x0, -y0)
    else:          # (x, y) -> (y, -x)
        a, b = (y0, -x1), (y1, -x0)
    return np.array([a[0], a[1], z0]), np.array([b[0], b[1], z1])


def _overlaps(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> bool:
    return bool(np.all(a[0] < b[1] - eps) and np.all(b[0] < a[1] - eps))


# --------------------------------------------------------------------------- bodies

@dataclass
class _Body:
    index: int
    name: str
    category: str
    abilities: frozenset[str]
    prior: SizePrior
    kind: str = "item"
    fixed: bool = False
    dims: np.ndarray = field(default_factory=lambda: np.zeros(3))   # local [depth, width, height]
    base_dims: np.ndarray = field(default_factory=lambda: np.zeros(3))  # as the prior says, before turning or folding
    legs: float | None = None
    mount: float | None = None
    interior_style: str | None = None   # front | top
    basin: float | None = None
    open_style: str | None = None       # articulation style, None when not articulated
    open_fraction: float = 0.0
    relations: list[tuple[str, str]] = field(default_factory=list)   # (pred, target), geometric + hints
    primary: tuple[str, str] | None = None
    room: str | None = None
    explicit_room: str | None = None
    # placement
    placed: bool = False
    centre: np.ndarray | None = None    # centre of the body box (the slab for legged furniture)
    quarter: int = 0
    placed_by: tuple[str | None, str | None] = (None, None)
    parent: str | None = None           # what it rests on or is inside (collision exclusion)
    support_kind: str | None = None     # floor | ontop | inside
    shelves: list[float] = field(default_factory=list)   # world z of the top of each shelf board
    hints: dict[tuple[str, str], str] = field(default_factory=dict)  # (placement, target) -> B1K relation
    warnings: list[str] = field(default_factory=list)

    # the body box: what the geometric predicates see
    @property
    def body_height(self) -> float:
        return float(self.dims[2]) - (self.legs or 0.0)

    def box(self) -> np.ndarray:
        fx, fy = _footprint(self.dims, self.quarter)
        half = np.array([fx / 2, fy / 2, self.body_height / 2])
        return np.stack([self.centre - half, self.centre + half])

    def size(self) -> list[float]:
        return [float(self.dims[0]), float(self.dims[1]), self.body_height]

    def wall_thickness(self) -> float:
        return float(np.clip(0.05 * min(self.dims), WALL_MIN, WALL_MAX))

    def interior(self) -> np.ndarray | None:
        if self.interior_style is None or self.centre is None:
            return None
        sx, sy, sz = self.dims[0], self.dims[1], self.body_height
        t = self.wall_thickness()
        if self.interior_style == "front":
            lmin = np.array([-sx / 2 + t, -sy / 2 + t, -sz / 2 + t])
            lmax = np.array([sx / 2 - t, sy / 2 - t, sz / 2 - t])
        elif self.basin is not None:   # a sink: basin on the left, drainboard on the right
            rim = max(t, 0.08)
            depth = min(self.basin, sz - t)
            lmin = np.array([-sx / 2 + rim, -sy / 2 + rim, sz / 2 - depth])
            lmax = np.array([sx / 2 - rim, min(sy / 2 - rim, 0.05 * sy), sz / 2])
        elif self.open_style == "lid":   # closed by a lid of wall thickness on top
            lmin = np.array([-sx / 2 + t, -sy / 2 + t, -sz / 2 + t])
            lmax = np.array([sx / 2 - t, sy / 2 - t, sz / 2 - t])
        else:   # open top: what is heaped in a bowl is still in it
            lmin = np.array([-sx / 2 + t, -sy / 2 + t, -sz / 2 + t])
            lmax = np.array([sx / 2 - t, sy / 2 - t, sz / 2 + self.heap()])
        rmin, rmax = _rotate_local_box(lmin, lmax, self.quarter)
        return np.stack([self.centre + rmin, self.centre + rmax])

    def heap(self) -> float:
        """How far an open-top movable container's interior reaches above its rim."""
        if self.interior_style != "top" or self.basin is not None or self.fixed or self.open_style == "lid":
            return 0.0
        return float(np.clip(0.5 * self.body_height, HEAP_MIN, HEAP_MAX))

    def solids(self) -> list[np.ndarray]:
        """Boxes that others must not overlap: the body, and a legged body's legs."""
        box = self.box()
        if not self.legs:
            return [box]
        z0 = box[0, 2] - self.legs
        out = [box]
        for x in (box[0, 0], box[1, 0] - LEG_SIDE):
            for y in (box[0, 1], box[1, 1] - LEG_SIDE):
                out.append(np.array([[x, y, z0], [x + LEG_SIDE, y + LEG_SIDE, box[0, 2]]]))
        return out

    def shelf_boxes(self) -> list[np.ndarray]:
        inner = self.interior()
        return [np.array([[inner[0, 0], inner[0, 1], z - SHELF_THICKNESS], [inner[1, 0], inner[1, 1], z]])
                for z in self.shelves]

    def keepouts(self) -> list[tuple[np.ndarray, str]]:
        """Space that stays free: in front of a door or drawer (so it opens), below a table top
        (only ``under`` placements may use it)."""
        out: list[tuple[np.ndarray, str]] = []
        box = self.box()
        if self.legs:
            out.append((np.array([[box[0, 0], box[0, 1], box[0, 2] - self.legs],
                                  [box[1, 0], box[1, 1], box[0, 2]]]), "under"))
        if self.open_style in ("door_left", "door_right", "door_bottom", "drawer") and self.fixed:
            sx, sy, sz = self.dims[0], self.dims[1], self.body_height
            reach = {"door_left": min(sy, 1.0), "door_right": min(sy, 1.0),
                     "door_bottom": min(sz, 0.7), "drawer": 0.8 * sx}[self.open_style]
            lmin = np.array([sx / 2, -sy / 2, -sz / 2])
            lmax = np.array([sx / 2 + reach, sy / 2, sz / 2])
            rmin, rmax = _rotate_local_box(lmin, lmax, self.quarter)
            out.append((np.stack([self.centre + rmin, self.centre + rmax]), "sweep"))
        return out


class _Obstacles:
    """Every placed solid and keep-out box, for collision queries."""

    def __init__(self) -> None:
        self.boxes: list[np.ndarray] = []
        self.owner: list[str] = []
        self.tag: list[str] = []     # solid | sweep | under | wall

    def add(self, box: np.ndarray, owner: str, tag: str) -> None:
        self.boxes.append(np.asarray(box, dtype=float))
        self.owner.append(owner)
        self.tag.append(tag)

    def add_body(self, body: _Body) -> None:
        for b in body.solids():
            self.add(b, body.name, "solid")
        for b, tag in body.keepouts():
            self.add(b, body.name, tag)

    def checkpoint(self) -> int:
        return len(self.boxes)

    def rollback(self, n: int) -> None:
        del self.boxes[n:], self.owner[n:], self.tag[n:]

    def query(self, z0: float, z1: float, region: np.ndarray, exclude: set[str] = frozenset(),
              under_ok: str | None = None, reach: float = 0.0, walls: bool = True) -> np.ndarray:
        """(M, 6) boxes overlapping the slab z0..z1 and the region (xmin, ymin, xmax, ymax)."""
        if not self.boxes:
            return np.zeros((0, 6))
        arr = np.array([b.reshape(6) for b in self.boxes])
        if walls:
            # a margin keeps things apart, not off the walls: walls are shrunk by it
            is_wall = np.array([t == "wall" for t in self.tag])
            if reach > 0 and is_wall.any():
                arr[is_wall, :2] += reach
                arr[is_wall, 3:5] -= reach
        keep = (arr[:, 2] < z1 - 1e-6) & (arr[:, 5] > z0 + 1e-6)
        keep &= (arr[:, 0] < region[2] + reach) & (arr[:, 3] > region[0] - reach)
        keep &= (arr[:, 1] < region[3] + reach) & (arr[:, 4] > region[1] - reach)
        for i, (own, tag) in enumerate(zip(self.owner, self.tag)):
            if not keep[i]:
                continue
            if own in exclude and tag not in ("wall", "shelf"):
                keep[i] = False
            elif tag == "under" and own == under_ok:
                keep[i] = False
        return arr[keep]

    def collides(self, box: np.ndarray, exclude: set[str] = frozenset(), margin: float = 0.0) -> bool:
        region = np.array([box[0, 0], box[0, 1], box[1, 0], box[1, 1]])
        obs = self.query(box[0, 2], box[1, 2], region, exclude, reach=margin)
        if not len(obs):
            return False
        return bool(np.any((obs[:, 0] < box[1, 0] + margin - 1e-6) & (obs[:, 3] > box[0, 0] - margin + 1e-6)
                           & (obs[:, 1] < box[1, 1] + margin - 1e-6) & (obs[:, 4] > box[0, 1] - margin + 1e-6)))


def find_spot(obstacles: _Obstacles, region: np.ndarray, z0: float, dims: tuple[float, float, float],
              rng: np.random.Generator, margins: tuple[float, ...] = (APART, ITEM_MARGIN),
              exclude: set[str] = frozenset(), under_ok: str | None = None, accept=None,
              packed: bool = False) -> tuple[float, float] | None:
    """A centre (x, y) for a box of world extents ``dims`` resting at ``z0`` inside ``region``
    that overlaps no obstacle (kept ``margin`` apart in xy), or None. Random draws first, then
    an exhaustive search over bottom-left candidate positions with the last margin. ``packed``
    (a crowded surface): no random draws, and the bottom-left-most free position wins, which
    leaves the most room for what comes next."""
    fx, fy, h = dims
    lo = np.array([region[0] + fx / 2, region[1] + fy / 2])
    hi = np.array([region[2] - fx / 2, region[3] - fy / 2])
    if np.any(lo > hi + 1e-9):
        return None
    hi = np.maximum(hi, lo)
    obs = obstacles.query(z0, z0 + h, region, exclude, under_ok, reach=max(margins))

    def free(cx: np.ndarray, cy: np.ndarray, m: float) -> np.ndarray:
        if not len(obs):
            return np.ones(len(cx), dtype=bool)
        hit = ((obs[None, :, 0] < cx[:, None] + fx / 2 + m - 1e-6) & (obs[None, :, 3] > cx[:, None] - fx / 2 - m + 1e-6)
               & (obs[None, :, 1] < cy[:, None] + fy / 2 + m - 1e-6) & (obs[None, :, 4] > cy[:, None] - fy / 2 - m + 1e-6))
        return ~hit.any(axis=1)

    def first_accepted(cx: np.ndarray, cy: np.ndarray) -> tuple[float, float] | None:
        for x, y in zip(cx, cy):
            if accept is None or accept(np.array([[x - fx / 2, y - fy / 2, z0], [x + fx / 2, y + fy / 2, z0 + h]])):
                return float(x), float(y)
        return None

    for k, m in enumerate(() if packed else margins):
        cx = rng.uniform(lo[0], hi[0], RANDOM_TRIES)
        cy = rng.uniform(lo[1], hi[1], RANDOM_TRIES)
        ok = free(cx, cy, m)
        found = first_accepted(cx[ok], cy[ok])
        if found is not None:
            return found
    m = margins[-1]
    xs = np.concatenate([[lo[0], hi[0]], obs[:, 3] + m + fx / 2, obs[:, 0] - m - fx / 2]) if len(obs) else np.array([lo[0], hi[0]])
    ys = np.concatenate([[lo[1], hi[1]], obs[:, 4] + m + fy / 2, obs[:, 1] - m - fy / 2]) if len(obs) else np.array([lo[1], hi[1]])
    xs = np.unique(xs[(xs >= lo[0] - 1e-9) & (xs <= hi[0] + 1e-9)])
    ys = np.unique(ys[(ys >= lo[1] - 1e-9) & (ys <= hi[1] + 1e-9)])
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    gx, gy = gx.ravel(), gy.ravel()
    ok = free(gx, gy, m)
    if not ok.any():
        return None
    gx, gy = gx[ok], gy[ok]
    order = np.lexsort((gx, gy))
    return first_accepted(gx[order], gy[order])


# --------------------------------------------------------------------------- the builder

class _Unplaceable(Exception):
    pass


class SceneWarning(UserWarning):
    """A scene was built on a guess: an unknown category's default size, an interior the size
    priors did not give. The same text is in ``scene["warnings"]``."""


class _Layout:
    def __init__(self, task, seed: int, priors: PriorTable | None) -> None:
        self.task = task
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.priors = priors
        self.warnings: list[str] = []
        self.unrealised: list[tuple[int, str, str]] = []     # (object index, literal, reason)
        self.bodies: dict[str, _Body] = {}
        self.floors: dict[str, str] = {}                      # floor name -> room
        self.rooms: list[str] = []
        self.room_rects: dict[str, np.ndarray] = {}           # room -> (x0, y0, x1, y1)
        self.room_floor: dict[str, str | None] = {}
        self.obstacles = _Obstacles()
        self.literals: list[tuple[str, str, str]] = []        # geometric init literals
        self.skipped: dict[str, str] = {}                     # objects not in the scene, by design
        self.supports: set[str] = set()                       # what something is placed on top of

    # ----------------------------------------------------------------- analysis
    def analyse(self) -> None:
        task = self.task
        atoms = stated_init_atoms(task)
        unary: dict[str, set[str]] = {}
        binary: list[tuple[str, str, str]] = []
        for pred, a, b in atoms:
            if b:
                binary.append((pred, a, b))
            else:
                unary.setdefault(a, set()).add(pred)

        rooms = list(task.core.rooms)
        for o in task.objects:
            if "floor" in o.abilities:
                room = o.room
                if room is None:
                    room = f"room_{len(rooms)}"
                    self.warnings.append(f"{o.name} has no inroom fact: it is the floor of a new room {room!r}")
                if room not in rooms:
                    rooms.append(room)
                self.floors[o.name] = room
        if not rooms:
            rooms.append("room_0")
        self.rooms = rooms
        for room in rooms:
            self.room_floor[room] = next((f for f, r in self.floors.items() if r == room), None)

        related_substance = {a for p, a, b in binary if p in GEOMETRIC_PREDICATES}
        for o in task.objects:
            if o.part_of is not None:
                self.skipped[o.name] = "slice part"
                continue
            if "future" in unary.get(o.name, ()):
                self.skipped[o.name] = "does not exist at init (future)"
                continue
            if "substance" in o.abilities and o.name not in related_substance:
                self.skipped[o.name] = "substance"
                continue
            if "floor" in o.abilities:
                continue
            fixed = "fixed" in o.abilities
            prior, warning = size_prior(o.category, o.name, fixed, self.priors)
            body = _Body(o.index, o.name, o.category, frozenset(o.abilities), prior)
            if warning:
                body.warnings.append(warning)
                self.warnings.append(warning)
            body.explicit_room = o.room
            body.open_fraction = 1.0 if "open" in unary.get(o.name, ()) else 0.0
            self.bodies[o.name] = body

        for pred, a, b in binary:
            hint = _PLACEMENT_HINTS.get(pred)
            if pred not in GEOMETRIC_PREDICATES and hint is None:
                continue
            if a in self.floors:
                continue
            if pred == "ontop" and b in self.floors:
                pred = "onfloor"
            if pred in GEOMETRIC_PREDICATES:
                self.literals.append((pred, a, b))
            if a in self.bodies:
                self.bodies[a].relations.append((hint or pred, b))
                if hint:
                    self.bodies[a].hints[(hint, b)] = pred

        for body in self.bodies.values():
            self._classify(body)
        for body in self.bodies.values():
            body.primary = self._primary(body)
        self.supports = {b.primary[1] for b in self.bodies.values() if b.primary and b.primary[0] == "ontop"}

    def _classify(self, body: _Body) -> None:
        prior, ab = body.prior, body.abilities
        if "agent" in ab:
            body.kind, body.fixed = "agent", False
            body.dims = np.array([AGENT_SIZE[1], AGENT_SIZE[0], AGENT_SIZE[2]])
            body.base_dims = body.dims.copy()
            return
        body.fixed = "fixed" in ab
        w, d, h = prior.size
        body.dims = np.array([d, w, h], dtype=float)     # local frame: x = depth (front +x), y = width
        is_inside_target = any(p == "inside" and b == body.name for p, _a, b in self.literals)
        style = prior.interior
        if style is None:
            style = ("front" if body.fixed else "top") if "container" in ab else "none"
        if style == "none" and is_inside_target:
            style = "front" if body.fixed else "top"
            body.warnings.append(f"{body.name} ({body.category}) has no interior in the size priors but "
                                 f"something is inside it at init: given a {'closed box' if body.fixed else 'open-top'} interior")
        if style == "front" and not body.fixed:
            style = "top"   # a movable container is open-top or lidded (its walls are one dynamic body)
        body.interior_style = None if style == "none" else style
        body.basin = prior.basin if body.interior_style == "top" else None
        if "openable" in ab:
            o = prior.open if prior.open not in (None, "none") else ("door_right" if body.fixed else "lid")
            if body.interior_style == "top" and o != "lid":
                o = "lid"
            elif body.interior_style == "front" and o == "lid":
                o = "door_right"
            body.open_style = o
        body.mount = prior.mount
        onfloor_literal = any(p == "onfloor" for p, _t in body.relations)
        if prior.legs and not onfloor_literal:
            body.legs = prior.legs
        body.kind = "container" if body.interior_style else ("furniture" if body.fixed else "item")
        body.base_dims = body.dims.copy()

    def _anchors(self, body: _Body, other: _Body | None) -> bool:
        """nextto is symmetric: of two objects next to each other, which one stays put (the
        other is placed beside it)? The one placed by something else, then the bolted-down
        one, then the bigger one, then the first."""
        if other is None or ("nextto", body.name) not in other.relations:
            return False

        def weight(b: _Body):
            placed_otherwise = any(p != "nextto" for p, _t in b.relations)
            return (placed_otherwise, b.fixed, float(np.prod(b.dims)), -b.index)
        return weight(body) > weight(other)

    def _primary(self, body: _Body) -> tuple[str, str] | None:
        cands = [(p, t) for p, t in body.relations if p in _PRIMARY_ORDER and (t in self.bodies or t in self.floors)
                 and not (p == "nextto" and self._anchors(body, self.bodies.get(t)))]
        if not cands:
            return None

        def rank(pt: tuple[str, str]):
            pred, target = pt
            other = self.bodies.get(target)
            # a geometric fact before a B1K hint; the nearer support first: on a plate that is on
            # a table means on the plate, in a box that is in a cabinet means in the box
            return (_PRIMARY_ORDER[pred], pt in body.hints, other is None, other is not None and "fixed" in other.abilities, target)
        cands.sort(key=rank)
        return cands[0]

    # ----------------------------------------------------------------- rooms of objects
    def assign_rooms(self) -> None:
        bodies = self.bodies
        for b in bodies.values():
            if b.primary and b.primary[0] == "onfloor" and b.primary[1] in self.floors:
                b.room = self.floors[b.primary[1]]
            elif b.primary is None or b.primary[1] not in bodies:
                if b.explicit_room in self.rooms:
                    b.room = b.explicit_room

        def propagate() -> None:
            changed = True
            while changed:
                changed = False
                for b in bodies.values():
                    if b.room is None and b.primary and b.primary[1] in bodies:
                        r = bodies[b.primary[1]].room
                        if r is not None:
                            b.room, changed = r, True

        propagate()
        # furniture (and anything else still roomless that stands on its own)
        for b in sorted(bodies.values(), key=lambda x: x.index):
            if b.room is not None or (b.primary and b.primary[1] in bodies):
                continue
            if b.explicit_room in self.rooms:
                b.room = b.explicit_room
                continue
            votes = []
            for o in bodies.values():
                if not any(t == b.name for _p, t in o.relations):
                    continue
                floors = [self.floors[t] for p, t in o.relations if p == "onfloor" and t in self.floors]
                if floors or o.room is not None:
                    votes.append(floors[0] if floors else o.room)
            votes.sort()
            if votes:
                b.room = max(set(votes), key=lambda r: (votes.count(r), -self.rooms.index(r)))
                continue
            hinted = [r for r in b.prior.rooms if r in self.rooms]
            b.room = hinted[0] if hinted else self.rooms[0]
        propagate()
        for b in bodies.values():   # unresolvable chains (cycles) still need a room for reports
            if b.room is None:
                b.room = self.rooms[0]

    # ----------------------------------------------------------------- placement
    def _unrealise(self, body: _Body, literal: str, reason: str) -> None:
        self.unrealised.append((body.index, literal, reason))

    def _literal(self, body: _Body) -> str:
        if body.primary is None:
            return f"(inroom {body.name} {body.room})"
        p, t = body.primary
        return f"({body.hints.get(body.primary, p)} {body.name} {t})"

    def _wall_bodies(self, room: str) -> list[_Body]:
        out = [b for b in self.bodies.values() if b.room == room and b.kind != "agent"
               and b.fixed and (b.primary is None or b.primary[0] == "onfloor")]
        return sorted(out, key=lambda b: b.index)

    def _floor_bodies(self, room: str) -> list[_Body]:
        out = [b for b in self.bodies.values() if b.room == room and not b.fixed
               and (b.primary is None or b.primary[0] == "onfloor")]
        return sorted(out, key=lambda b: b.index)

    def _room_size(self, walls: list[_Body], floor_items: list[_Body]) -> tuple[float, float]:
        standing = [b for b in walls if b.mount is None]
        wall_len = sum(float(b.dims[1]) + FURNITURE_GAP for b in standing)
        wall_len += 0.5 * sum(float(b.dims[1]) for b in walls if b.mount is not None)
        dmax = max([float(b.dims[0]) for b in standing] + [0.6])
        area = 2.0
        for b in standing:
            front = 1.0 if b.open_style in ("door_left", "door_right", "door_bottom", "drawer") else 0.2
            area += (float(b.dims[1]) + 0.1) * (float(b.dims[0]) + front)
        for b in floor_items:
            area += 2.0 * (float(b.dims[0]) + 0.1) * (float(b.dims[1]) + 0.1)
        aspect = 1.3
        # perimeter: 2 (W + D) - 4 dmax >= wall_len, with W = aspect * D
        d_perim = (wall_len + 4 * dmax) / (2 * (1 + aspect))
        d_area = math.sqrt(area / aspect)
        longest = max([float(b.dims[1]) for b in walls] + [float(max(b.dims[:2])) for b in floor_items] + [0.0])
        d = max(MIN_ROOM[1], d_perim, d_area, longest + 0.2)
        w = max(MIN_ROOM[0], aspect * d, longest + 0.2)
        return w, d

    def layout_rooms(self) -> None:
        x = 0.0
        for room in self.rooms:
            walls = self._wall_bodies(room)
            floor_items = self._floor_bodies(room)
            w, d = self._room_size(walls, floor_items)
            mark = self.obstacles.checkpoint()
            failure = ""
            for attempt in range(ROOM_ATTEMPTS):
                rect = np.array([x, 0.0, x + w, d])
                self.room_rects[room] = rect
                self._add_walls(rect)
                failure = self._place_room(room, rect, walls, floor_items)
                if not failure:
                    break
                self.obstacles.rollback(mark)
                for b in walls + floor_items:
                    b.placed, b.centre = False, None
                    b.dims, b.quarter = b.base_dims.copy(), 0
                w, d = w * ROOM_GROWTH, d * ROOM_GROWTH
            else:
                # the biggest room tried: keep what fits, report the rest
                rect = np.array([x, 0.0, x + w / ROOM_GROWTH, d / ROOM_GROWTH])
                self.room_rects[room] = rect
                self._add_walls(rect)
                self._place_room(room, rect, walls, floor_items, report=True)
            x = float(self.room_rects[room][2]) + ROOM_GAP

    def _add_walls(self, rect: np.ndarray) -> None:
        x0, y0, x1, y1 = rect
        t, h = WALL_THICKNESS, WALL_HEIGHT
        for box in ([[x0 - t, y0 - t, 0], [x1 + t, y0, h]], [[x0 - t, y1, 0], [x1 + t, y1 + t, h]],
                    [[x0 - t, y0, 0], [x0, y1, h]], [[x1, y0, 0], [x1 + t, y1, h]]):
            self.obstacles.add(np.array(box, dtype=float), "", "wall")

    def _place_room(self, room: str, rect: np.ndarray, walls: list[_Body], floor_items: list[_Body],
                    report: bool = False) -> str:
        """Places a room's furniture along the walls and its floor items; '' or why it failed."""
        rng = self.rng
        order = list(walls)
        rng.shuffle(order)
        order.sort(key=lambda b: (b.mount is not None, -float(b.dims[1]) if b.dims[1] > 1.5 else 0.0))
        wall_order = [int(k) for k in rng.permutation(4)]
        for i, body in enumerate(order):
            if not self._place_on_wall(body, rect, wall_order[i % 4:] + wall_order[:i % 4]):
                if not report:
                    return f"{body.name} does not fit along the walls"
                self._unrealise(body, self._literal(body) if body.primary else f"(inroom {body.name} {room})",
                                f"{body.name} ({_fmt(body.prior.size)} m) does not fit along the walls of {room}")
        for body in sorted(floor_items, key=lambda b: (b.kind != "agent", -float(b.dims[0] * b.dims[1]), b.index)):
            reason = self._place_on_floor(body, room, rect)
            if reason:
                if not report:
                    return reason
                self._unrealise(body, self._literal(body), reason)
        return ""

    def _place_on_wall(self, body: _Body, rect: np.ndarray, walls: list[int]) -> bool:
        x0, y0, x1, y1 = (float(v) for v in rect)
        depth, width = float(body.dims[0]), float(body.dims[1])
        z_bottom = body.mount if body.mount is not None else 0.0
        zc = z_bottom + (body.legs or 0.0) + body.body_height / 2
        for wall in walls:
            # wall 0 west (front +x), 1 south (+y), 2 east (-x), 3 north (-y): the wall's number
            # is the quarter turn that points the front into the room
            quarter = wall
            along = (y0, y1) if wall in (0, 2) else (x0, x1)
            length = along[1] - along[0]
            if width > length - 0.04:
                continue
            cands = [along[0] + 0.02]
            for box, tag in zip(self.obstacles.boxes, self.obstacles.tag):
                if tag == "wall":
                    continue
                hi = box[1, 1] if wall in (0, 2) else box[1, 0]
                if along[0] < hi < along[1]:
                    cands.append(float(hi) + FURNITURE_GAP)
            for u in sorted(set(cands)):
                if u + width > along[1] - 0.02 + 1e-9:
                    continue
                c_along = u + width / 2
                off = depth / 2 + WALL_CLEARANCE
                if wall == 0:
                    centre = (x0 + off, c_along)
                elif wall == 1:
                    centre = (c_along, y0 + off)
                elif wall == 2:
                    centre = (x1 - off, c_along)
                else:
                    centre = (c_along, y1 - off)
                body.centre = np.array([centre[0], centre[1], zc])
                body.quarter = quarter
                ok = all(not self.obstacles.collides(b, margin=FURNITURE_GAP - 1e-4) for b in body.solids())
                ok = ok and all(not self.obstacles.collides(b, margin=0.0) for b, _t in body.keepouts())
                ok = ok and self._inside_rect(body, rect)
                if ok:
                    self._commit(body, support_kind="floor", parent=None)
                    if body.primary is not None:
                        body.placed_by = body.primary
                    elif body.explicit_room:
                        body.placed_by = ("inroom", body.explicit_room)
                    return True
        body.centre = None
        return False

    def _inside_rect(self, body: _Body, rect: np.ndarray) -> bool:
        boxes = [b for b in body.solids()] + [b for b, _t in body.keepouts()]
        return all(b[0, 0] >= rect[0] - 1e-6 and b[0, 1] >= rect[1] - 1e-6 and b[1, 0] <= rect[2] + 1e-6
                   and b[1, 1] <= rect[3] + 1e-6 for b in boxes)

    def _commit(self, body: _Body, support_kind: str, parent: str | None) -> None:
        body.placed = True
        body.support_kind = support_kind
        body.parent = parent
        self.obstacles.add_body(body)

    def _orientations(self, body: _Body, allow_lying: bool, fold: bool = False) -> list[tuple[np.ndarray, int]]:
        """(local dims, quarter) to try: upright in a random turn, then the other turn, then
        (allow_lying) on its sides, lowest last; (fold) cloth folded in four, then in sixteen."""
        first = int(self.rng.integers(2))
        out = [(body.dims.copy(), first), (body.dims.copy(), 1 - first)]
        if body.name in self.supports:   # things rest on its top: it keeps its top up, unfolded
            return out
        if allow_lying and body.legs is None and body.interior_style is None:
            d, w, h = body.dims
            turned = sorted((np.array([d, h, w]), np.array([h, w, d])), key=lambda x: (x[2] > h, -x[2]))
            for dims in turned:   # lying down first, then on end
                if abs(dims[2] - h) > 1e-9:
                    out += [(dims, 0), (dims, 1)]
        foldable = body.prior.material == "fabric" or (body.prior.material == "paper" and body.dims[2] <= 0.012)
        if fold and foldable and body.interior_style is None and body.legs is None:
            dims = body.dims.copy()
            for _ in range(2):
                dims = np.array([dims[0] / 2, dims[1] / 2, dims[2] * 4])
                if min(dims[:2]) < 0.04:
                    break
                out += [(dims, 0), (dims, 1)]
        return out

    def _place_on_floor(self, body: _Body, room: str, rect: np.ndarray) -> str:
        inner = rect + np.array([0.02, 0.02, -0.02, -0.02])
        for dims, quarter in self._orientations(body, allow_lying=False):
            fx, fy = _footprint(dims, quarter)
            spot = find_spot(self.obstacles, inner, 0.0, (fx, fy, float(dims[2])), self.rng)
            if spot is not None:
                body.dims, body.quarter = dims, quarter
                body.centre = np.array([spot[0], spot[1], (body.legs or 0.0) + body.body_height / 2])
                self._commit(body, "floor", None)
                p = body.primary
                body.placed_by = p if p else (None, None)
                return ""
        return (f"no room on the floor of {room} for {body.name} (needs {_fmt(body.dims[:2])} m; "
                f"room {_fmt(rect[2:] - rect[:2])} m)")

    # ----------------------------------------------------------------- relative placement
    def _dependency_order(self) -> list[_Body]:
        rel = {n: b for n, b in self.bodies.items() if b.primary and b.primary[1] in self.bodies}
        depth: dict[str, int] = {}
        for name in sorted(rel, key=lambda n: self.bodies[n].index):
            chain, node = [], name
            while node in rel and node not in depth and node not in chain:
                chain.append(node)
                node = rel[node].primary[1]
            if node in chain:   # a cycle: everything on it is unplaceable
                cyc = chain[chain.index(node):]
                text = " -> ".join(f"{self.bodies[c].primary[0]} {c}" for c in cyc) + f" -> {node}"
                for c in cyc:
                    depth[c] = -1
                    self._unrealise(self.bodies[c], self._literal(self.bodies[c]),
                                    f"cyclic placement: {text}")
                base = -1
            else:
                base = depth.get(node, 0)
            for c in reversed(chain):
                if c in depth:
                    base = depth[c]
                    continue
                base = -1 if base < 0 else base + 1
                depth[c] = base
        order = [self.bodies[n] for n, dep in depth.items() if dep >= 0]
        order.sort(key=lambda b: (depth[b.name], b.primary[1], b.primary[0], -float(b.dims[0] * b.dims[1] * b.dims[2]), b.index))
        return order

    def place_relative(self) -> None:
        order = self._dependency_order()
        # what each target must hold: for shelves and for packing crowded surfaces tightly
        demand: dict[tuple[str, str], float] = {}
        for b in order:
            key = (b.primary[0], b.primary[1])
            demand[key] = demand.get(key, 0.0) + float(b.dims[0] * b.dims[1])
        k = 0
        while k < len(order):
            # a group: the bodies that go into one container (consecutive in the order)
            body = order[k]
            group = [body]
            while k + len(group) < len(order) and order[k + len(group)].primary == body.primary:
                group.append(order[k + len(group)])
            k += len(group)
            pred, tname = body.primary
            target = self.bodies[tname]
            crowded = self._crowded(target, pred, demand.get((pred, tname), 0.0), len(group))
            if pred == "inside" and target.placed and target.interior_style == "front":
                self._fill_with_shelves(target, group, crowded)
            else:
                for b in group:
                    self._place_one(b, crowded)

    def _crowded(self, target: _Body, pred: str, need: float, count: int) -> bool:
        if not target.placed:
            return False
        if pred == "inside":
            inner = target.interior()
            if inner is None:
                return False
            area = float((inner[1, 0] - inner[0, 0]) * (inner[1, 1] - inner[0, 1]))
        elif pred == "ontop":
            box = target.box()
            area = float((box[1, 0] - box[0, 0]) * (box[1, 1] - box[0, 1]))
        else:
            return False
        return need > CROWDED * area or count >= CROWDED_COUNT

    def _place_one(self, body: _Body, crowded: bool) -> bool:
        pred, tname = body.primary
        target = self.bodies[tname]
        literal = self._literal(body)
        if not target.placed:
            self._unrealise(body, literal, f"{tname} (what {body.name} is {pred} of) was not placed")
            return False
        try:
            if pred == "inside":
                self._place_inside(body, target, crowded)
            elif pred == "ontop":
                self._place_ontop(body, target, crowded)
            elif pred == "under":
                self._place_under(body, target)
            elif pred == "nextto":
                self._place_nextto(body, target)
            else:  # pragma: no cover - primaries are one of the above
                raise _Unplaceable(f"cannot place by {pred}")
        except _Unplaceable as e:
            if body.primary in body.hints and target.room in self.room_rects:
                # a B1K relation with no geometric test (attached, draped, overlaid): the object
                # still has to be somewhere, so it goes on the floor nearby, with a warning
                rect = self.room_rects[target.room]
                if not self._place_on_floor(body, target.room, rect):
                    body.room = target.room
                    body.placed_by = ("onfloor", self.room_floor.get(target.room))
                    body.warnings.append(f"{literal}: {e}; {body.name} was put on the floor of {target.room}")
                    return True
            self._unrealise(body, literal, str(e))
            return False
        body.placed_by = (body.hints.get(body.primary, pred), tname)
        return True

    def _fill_with_shelves(self, target: _Body, group: list[_Body], crowded: bool) -> None:
        """Puts a closed container's contents in, adding shelf boards when its floor is full."""
        inner = target.interior()
        height = float(inner[1, 2] - inner[0, 2])
        most = max(0, min(MAX_SHELVES, int(height // SHELF_SPACING) - 1))
        mark, n_unrealised = self.obstacles.checkpoint(), len(self.unrealised)
        best: tuple[int, int] | None = None   # (placed count, shelves)
        for shelves in range(most + 1):
            self._set_shelves(target, shelves, inner)
            placed = sum(self._place_one(b, crowded or shelves > 0) for b in group)
            if placed == len(group):
                return
            if best is None or placed > best[0]:
                best = (placed, shelves)
            self.obstacles.rollback(mark)
            del self.unrealised[n_unrealised:]
            for b in group:
                b.placed, b.centre, b.parent, b.support_kind, b.placed_by = False, None, None, None, (None, None)
                b.dims, b.quarter = b.base_dims.copy(), 0
        self._set_shelves(target, best[1], inner)
        for b in group:
            self._place_one(b, True)

    def _set_shelves(self, target: _Body, n: int, inner: np.ndarray) -> None:
        z0, z1 = float(inner[0, 2]), float(inner[1, 2])
        step = (z1 - z0) / (n + 1)
        target.shelves = [z0 + step * (i + 1) for i in range(n)]
        for box in target.shelf_boxes():
            self.obstacles.add(box, target.name, "shelf")

    def _ancestors(self, body: _Body) -> set[str]:
        out, node = set(), body
        while node is not None and node.parent is not None and node.parent not in out:
            out.add(node.parent)
            node = self.bodies.get(node.parent)
        return out

    def _place_inside(self, body: _Body, target: _Body, crowded: bool = False) -> None:
        inner = target.interior()
        if inner is None:
            raise _Unplaceable(f"{target.name} ({target.category}) has no interior to put {body.name} in")
        region = np.array([inner[0, 0], inner[0, 1], inner[1, 0], inner[1, 1]]) + np.array(
            [INSIDE_MARGIN, INSIDE_MARGIN, -INSIDE_MARGIN, -INSIDE_MARGIN])
        tolerance = float(P.INSIDE_TOLERANCE) * 0.5
        # levels: the interior's floor and the top of each shelf board, each up to the next board
        floors = [float(inner[0, 2])] + list(target.shelves)
        ceilings = [z - SHELF_THICKNESS for z in target.shelves] + [float(inner[1, 2]) + tolerance]
        exclude = {target.name} | self._ancestors(target)
        whole = float(inner[1, 2] - inner[0, 2]) + tolerance
        any_fits = False
        for dims, quarter in self._orientations(body, allow_lying=True, fold=True):
            fx, fy = _footprint(dims, quarter)
            if dims[2] > whole or fx > region[2] - region[0] + 1e-9 or fy > region[3] - region[1] + 1e-9:
                continue
            any_fits = True
            for z0, z1 in zip(floors, ceilings):
                if dims[2] > z1 - z0:
                    continue
                spot = find_spot(self.obstacles, region, z0, (fx, fy, float(dims[2])), self.rng,
                                 margins=(INSIDE_MARGIN,), exclude=exclude, packed=crowded)
                if spot is not None:
                    body.dims, body.quarter = dims, quarter
                    body.centre = np.array([spot[0], spot[1], z0 + body.body_height / 2])
                    self._commit(body, "inside", target.name)
                    return
        if any_fits and target.interior_style == "top" and self._stack_inside(body, target, region, ceilings[-1], exclude):
            return
        size = inner[1] - inner[0]
        if not any_fits:
            raise _Unplaceable(f"{body.name} ({_fmt(body.prior.size)} m) does not fit inside {target.name} "
                               f"(interior {_fmt(size)} m)")
        n = sum(1 for b in self.bodies.values() if b.placed and b.parent == target.name and b.support_kind == "inside")
        shelves = f" on {len(target.shelves) + 1} levels" if target.shelves else ""
        raise _Unplaceable(f"no room inside {target.name} for {body.name} (needs {_fmt(body.dims[:2])} m; "
                           f"{n} objects already inside its {_fmt(size[:2])} m floor{shelves})")

    def _stack_inside(self, body: _Body, target: _Body, region: np.ndarray, ceiling: float, exclude: set[str]) -> bool:
        """An open container whose floor is full: rest ``body`` on something already inside."""
        below = [b for b in self.bodies.values() if b.placed and b.parent == target.name and b.support_kind == "inside"]
        below.sort(key=lambda b: (-float(b.box()[1, 0] - b.box()[0, 0]) * float(b.box()[1, 1] - b.box()[0, 1]), b.index))
        for base in below:
            bb = base.box()
            top = float(bb[1, 2])
            area = np.array([max(region[0], bb[0, 0]), max(region[1], bb[0, 1]),
                             min(region[2], bb[1, 0]), min(region[3], bb[1, 1])])
            for dims, quarter in self._orientations(body, allow_lying=True, fold=True):
                fx, fy = _footprint(dims, quarter)
                if top + dims[2] > ceiling or fx > area[2] - area[0] or fy > area[3] - area[1]:
                    continue
                spot = find_spot(self.obstacles, area, top, (fx, fy, float(dims[2])), self.rng,
                                 margins=(PACKED_MARGIN,), exclude=exclude, packed=True)
                if spot is not None:
                    body.dims, body.quarter = dims, quarter
                    body.centre = np.array([spot[0], spot[1], top + body.body_height / 2])
                    self._commit(body, "inside", target.name)
                    return True
        return False

    def _enclosure(self, body: _Body) -> np.ndarray | None:
        """The interior of the innermost container ``body`` is (directly or through what it
        stands on) inside, or None."""
        node, seen = body, set()
        while node is not None and node.name not in seen:
            seen.add(node.name)
            if node.support_kind == "inside" and node.parent in self.bodies:
                return self.bodies[node.parent].interior()
            node = self.bodies.get(node.parent) if node.parent else None
        return None

    def _place_ontop(self, body: _Body, target: _Body, crowded: bool = False) -> None:
        tb = target.box()
        top = float(tb[1, 2])
        rect = np.array([tb[0, 0], tb[0, 1], tb[1, 0], tb[1, 1]])
        enclosure = self._enclosure(target)
        exclude = self._ancestors(target)
        opening = None
        inner = target.interior() if target.interior_style == "top" and target.open_style != "lid" else None
        # an open top deeper than the contact gap: what stands over it drops in (a plate's
        # shallow dish does not count)
        if inner is not None and top - float(inner[0, 2]) > float(P.CONTACT_GAP):
            opening = np.array([[inner[0, 0], inner[0, 1], top], [inner[1, 0], inner[1, 1], top + WALL_HEIGHT]])

        def accept(box: np.ndarray) -> bool:
            if enclosure is not None and not P.box_inside(box, enclosure):
                return False   # on something in a cabinet: still in the cabinet
            if opening is None or not _overlaps(box, opening):
                return True    # on a lid, on a sink's drainboard, on a rim
            # over an open top it falls in, unless it bridges the opening from rim to rim
            return any(box[0, k] <= opening[0, k] and box[1, k] >= opening[1, k] for k in (0, 1))

        for dims, quarter in self._orientations(body, allow_lying=False, fold=True):
            fx, fy = _footprint(dims, quarter)
            region = rect + np.array([EDGE_MARGIN, EDGE_MARGIN, -EDGE_MARGIN, -EDGE_MARGIN])
            # bigger than the top: overhang, centred on that axis, if enough stays supported
            frac = 1.0
            for k, f in ((0, fx), (1, fy)):
                span = rect[k + 2] - rect[k]
                if f > span - 2 * EDGE_MARGIN:
                    c = (rect[k] + rect[k + 2]) / 2
                    region[k], region[k + 2] = c - f / 2, c + f / 2
                    frac *= span / f
            if frac < 0.6:
                continue
            spot = find_spot(self.obstacles, region, top, (fx, fy, float(dims[2])), self.rng,
                             margins=(PACKED_MARGIN,) if crowded else (APART, ITEM_MARGIN),
                             exclude=exclude, accept=accept, packed=crowded)
            if spot is None:   # neighbours closer than the margin (a stack in a packed cabinet)
                spot = find_spot(self.obstacles, region, top, (fx, fy, float(dims[2])), self.rng,
                                 margins=(TIGHT_MARGIN,), exclude=exclude, accept=accept, packed=True)
            if spot is not None:
                body.dims, body.quarter = dims, quarter
                body.centre = np.array([spot[0], spot[1], top + body.body_height / 2])
                self._commit(body, "ontop", target.name)
                return
        on = [b for b in self.bodies.values() if b.placed and b.parent == target.name and b.support_kind == "ontop"]
        tsize = rect[2:] - rect[:2]
        if opening is not None and target.basin is None:
            size = opening[1, :2] - opening[0, :2]
            raise _Unplaceable(f"{body.name} cannot rest on top of {target.name}: its top is open "
                               f"({_fmt(size)} m) and {body.name} ({_fmt(body.prior.size)} m) would fall in")
        if max(body.dims[:2]) > 1.66 * max(tsize) or min(body.dims[:2]) > 1.66 * min(tsize):
            raise _Unplaceable(f"{body.name} ({_fmt(body.prior.size)} m) is too big to stand on {target.name} "
                               f"(top {_fmt(tsize)} m)")
        used = sum(float(b.box()[1, 0] - b.box()[0, 0]) * float(b.box()[1, 1] - b.box()[0, 1]) for b in on)
        free = max(0.0, float(tsize[0] * tsize[1]) - used)
        raise _Unplaceable(f"no room on {target.name} for {body.name} (needs {_fmt(body.dims[:2])} m; "
                           f"{len(on)} objects already on its {_fmt(tsize)} m top, {free:.2f} m2 left)")

    def _place_under(self, body: _Body, target: _Body) -> None:
        tb = target.box()
        if target.legs:
            clearance, z0 = float(target.legs), float(tb[0, 2] - target.legs)
            region = np.array([tb[0, 0] + LEG_SIDE, tb[0, 1] + LEG_SIDE, tb[1, 0] - LEG_SIDE, tb[1, 1] - LEG_SIDE])
        elif target.mount is not None:
            clearance, z0 = float(tb[0, 2]), 0.0
            region = np.array([tb[0, 0], tb[0, 1], tb[1, 0], tb[1, 1]])
        else:
            raise _Unplaceable(f"nothing fits under {target.name}: a {target.category} has no clear space below "
                               f"it{' (it must also be onfloor, so it has no legs here)' if target.prior.legs else ''}")
        limit = clearance + float(P.CONTACT_GAP) * 0.5
        fits = False
        for dims, quarter in self._orientations(body, allow_lying=True):
            fx, fy = _footprint(dims, quarter)
            if dims[2] > limit:
                continue
            fits = True
            spot = find_spot(self.obstacles, region, z0, (fx, fy, float(dims[2])), self.rng,
                             margins=(ITEM_MARGIN,), under_ok=target.name)
            if spot is None and (fx > region[2] - region[0] or fy > region[3] - region[1]):
                # wider than the space between the legs: it may stick out, as long as it overlaps
                wide = np.array([tb[0, 0] - fx / 2 + 0.05, tb[0, 1] - fy / 2 + 0.05,
                                 tb[1, 0] + fx / 2 - 0.05, tb[1, 1] + fy / 2 - 0.05])
                spot = find_spot(self.obstacles, wide, z0, (fx, fy, float(dims[2])), self.rng,
                                 margins=(ITEM_MARGIN,), under_ok=target.name)
            if spot is not None:
                body.dims, body.quarter = dims, quarter
                body.centre = np.array([spot[0], spot[1], z0 + body.body_height / 2])
                self._commit(body, "floor", None)
                return
        if not fits:
            raise _Unplaceable(f"{body.name} ({_fmt(body.prior.size)} m) does not fit under {target.name} "
                               f"({clearance:.2f} m clear below it)")
        raise _Unplaceable(f"no room under {target.name} for {body.name} (needs {_fmt(body.dims[:2])} m)")

    def _support_of(self, target: _Body) -> tuple[np.ndarray, float, set[str]]:
        """The region, height and exclusions of whatever ``target`` stands on or in."""
        if target.support_kind == "inside" and target.parent in self.bodies:
            inner = self.bodies[target.parent].interior()
            region = np.array([inner[0, 0], inner[0, 1], inner[1, 0], inner[1, 1]])
            return region, float(inner[0, 2]), {target.parent} | self._ancestors(self.bodies[target.parent])
        if target.support_kind == "ontop" and target.parent in self.bodies:
            sb = self.bodies[target.parent].box()
            return np.array([sb[0, 0], sb[0, 1], sb[1, 0], sb[1, 1]]), float(sb[1, 2]), self._ancestors(target)
        rect = self.room_rects[target.room]
        return rect + np.array([0.02, 0.02, -0.02, -0.02]), 0.0, set()

    def _place_nextto(self, body: _Body, target: _Body) -> None:
        support, z0, exclude = self._support_of(target)
        tb = target.box()
        reach = float(P.NEXT_TO_GAP) - 0.05
        region = np.array([max(support[0], tb[0, 0] - reach - 1.0), max(support[1], tb[0, 1] - reach - 1.0),
                           min(support[2], tb[1, 0] + reach + 1.0), min(support[3], tb[1, 1] + reach + 1.0)])

        def accept(box: np.ndarray) -> bool:
            return P.box_nextto(box, tb)

        for dims, quarter in self._orientations(body, allow_lying=False):
            fx, fy = _footprint(dims, quarter)
            near = np.array([max(region[0], tb[0, 0] - reach - fx), max(region[1], tb[0, 1] - reach - fy),
                             min(region[2], tb[1, 0] + reach + fx), min(region[3], tb[1, 1] + reach + fy)])
            spot = find_spot(self.obstacles, near, z0, (fx, fy, float(dims[2])), self.rng,
                             margins=(0.02,), exclude=exclude, accept=accept)
            if spot is not None:
                body.dims, body.quarter = dims, quarter
                body.centre = np.array([spot[0], spot[1], z0 + body.body_height / 2])
                kind = "floor" if target.support_kind == "floor" or target.parent is None else target.support_kind
                self._commit(body, kind, target.parent)
                return
        if target.legs or target.mount is not None:
            raise _Unplaceable(f"{body.name} cannot be next to {target.name}: its body is raised "
                               f"{float(tb[0, 2]):.2f} m above the floor and {body.name} is "
                               f"{float(body.dims[2]):.2f} m tall")
        raise _Unplaceable(f"no room next to {target.name} for {body.name} (needs {_fmt(body.dims[:2])} m)")

    # ----------------------------------------------------------------- check
    def floor_box(self, floor: str) -> np.ndarray:
        rect = self.room_rects[self.floors[floor]]
        return np.array([[rect[0], rect[1], -FLOOR_THICKNESS], [rect[2], rect[3], 0.0]])

    def check(self) -> None:
        failed_objects = {idx for idx, _l, _r in self.unrealised}
        for pred, a, b in self.literals:
            A = self.bodies.get(a)
            if A is None:
                continue
            literal = f"({'onfloor' if pred == 'onfloor' else pred} {a} {b})"
            if not A.placed:
                if A.index not in failed_objects:
                    self._unrealise(A, literal, f"{a} was not placed")
                continue
            if b in self.floors:
                holds = P.box_onfloor(A.box(), self.floor_box(b))
                target_box = self.floor_box(b)
            else:
                B = self.bodies.get(b)
                if B is None:
                    self._unrealise(A, literal, f"{b} is not in the scene ({self.skipped.get(b, 'skipped')})")
                    continue
                if not B.placed:
                    if (A.primary or (None, None))[1] != b:
                        self._unrealise(A, literal, f"{b} was not placed")
                    continue
                if pred == "inside":
                    inner = B.interior()
                    holds = inner is not None and P.box_inside(A.box(), inner)
                    target_box = inner if inner is not None else B.box()
                else:
                    holds = {"ontop": P.box_ontop, "nextto": P.box_nextto, "under": P.box_under,
                             "onfloor": P.box_onfloor}[pred](A.box(), B.box())
                    target_box = B.box()
            if not holds:
                how = f"{a} was placed {A.placed_by[0]} {A.placed_by[1]}" if A.placed_by[0] else f"{a} was placed"
                self._unrealise(A, literal, f"the layout does not satisfy it: {how}; {a} spans z "
                                f"{A.box()[0, 2]:.3f}..{A.box()[1, 2]:.3f} m, {b} z "
                                f"{target_box[0, 2]:.3f}..{target_box[1, 2]:.3f} m")

    # ----------------------------------------------------------------- output
    def scene(self) -> dict:
        task = self.task
        objects = []
        for body in sorted(self.bodies.values(), key=lambda b: b.index):
            if not body.placed:
                continue
            mat = body.prior.material
            size = body.size()
            obj = {
                "name": body.name,
                "category": body.category,
                "kind": body.kind,
                "size": [_r(v) for v in size],
                "position": [_r(v) for v in body.centre],
                "yaw": _r(body.quarter * QUARTER),
                "mass": mass_of(size, mat, body.kind) if body.kind != "agent" else 50.0,
                "friction": material(mat).friction,
                "material": mat,
                "room": body.room,
                "fixed": bool(body.fixed),
                "articulation": self._articulation(body),
                "interior": None,
                "legs": {"height": _r(body.legs)} if body.legs else None,
                "shelves": [_r(z) for z in body.shelves] if body.interior_style else None,
                "placed_by": {"relation": body.placed_by[0], "target": body.placed_by[1]},
            }
            inner = body.interior()
            if inner is not None:
                obj["interior"] = {"min": [_r(v) for v in inner[0]], "max": [_r(v) for v in inner[1]]}
            objects.append(obj)
        for floor, room in sorted(self.floors.items(), key=lambda fr: self.rooms.index(fr[1])):
            rect = self.room_rects[room]
            size = [rect[2] - rect[0], rect[3] - rect[1], FLOOR_THICKNESS]
            objects.append({
                "name": floor, "category": next(o.category for o in task.objects if o.name == floor),
                "kind": "floor", "size": [_r(v) for v in size],
                "position": [_r((rect[0] + rect[2]) / 2), _r((rect[1] + rect[3]) / 2), _r(-FLOOR_THICKNESS / 2)],
                "yaw": 0.0, "mass": 0.0, "friction": material("wood").friction, "material": "wood",
                "room": room, "fixed": True, "articulation": None, "interior": None, "legs": None, "shelves": None,
                "placed_by": {"relation": "inroom", "target": room},
            })
        index = {o.name: o.index for o in task.objects}
        objects.sort(key=lambda o: index[o["name"]])
        unrealised = [{"literal": lit, "reason": why} for _i, lit, why in sorted(self.unrealised, key=lambda u: (u[0], u[1]))]
        return {
            "format": FORMAT,
            "version": VERSION,
            "generator": GENERATOR,
            "task_id": task.id,
            "task_hash": hashlib.sha256(task.spec.bddl_text.encode("utf-8")).hexdigest(),
            "seed": self.seed,
            "rooms": [{"name": r, "floor": self.room_floor[r],
                       "min": [_r(self.room_rects[r][0]), _r(self.room_rects[r][1])],
                       "max": [_r(self.room_rects[r][2]), _r(self.room_rects[r][3])]} for r in self.rooms],
            "objects": objects,
            "unrealised": unrealised,
            "warnings": list(dict.fromkeys(self.warnings + [w for b in self.bodies.values() for w in b.warnings])),
            "settle": None,
        }

    def _articulation(self, body: _Body) -> dict | None:
        style = body.open_style
        if style is None:
            return None
        if style == "drawer":
            return {"type": "prismatic", "range": [0.0, _r(0.8 * float(body.dims[0]))],
                    "open_fraction": body.open_fraction, "hinge_side": "front"}
        side = {"door_left": "left", "door_right": "right", "door_bottom": "bottom", "lid": "top"}[style]
        return {"type": "revolute", "range": [0.0, _r(QUARTER)], "open_fraction": body.open_fraction,
                "hinge_side": side}


def build_scene(task, seed: int = 0, priors: PriorTable | None = None) -> dict:
    """Lays out ``task``'s initial state; returns a scene dict (docs/scene-format.md).

    Never raises for an init that cannot be realised: such literals are listed in
    ``scene["unrealised"]`` with the reason. ``scene["settle"]`` is left None (physics fills it).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    layout = _Layout(task, int(seed), priors)
    layout.analyse()
    layout.assign_rooms()
    layout.layout_rooms()
    layout.place_relative()
    layout.check()
    scene = layout.scene()
    for text in scene["warnings"]:
        warnings.warn(f"{task.id}: {text}", SceneWarning, stacklevel=2)
    return scene


# --------------------------------------------------------------------------- reading scenes back

def object_box(obj: dict) -> np.ndarray:
    """World AABB (2, 3) of a scene object's body (yaw is a multiple of 90 degrees)."""
    size = np.asarray(obj["size"], dtype=float)
    quarter = int(round(float(obj["yaw"]) / QUARTER)) % 4
    fx, fy = _footprint(size, quarter)
    half = np.array([fx / 2, fy / 2, size[2] / 2])
    pos = np.asarray(obj["position"], dtype=float)
    return np.stack([pos - half, pos + half])


def interior_box(obj: dict) -> np.ndarray | None:
    inner = obj.get("interior")
    if not inner:
        return None
    return np.array([inner["min"], inner["max"]], dtype=float)


def scene_boxes(scene: dict) -> dict[str, np.ndarray]:
    return {o["name"]: object_box(o) for o in scene["objects"]}


def stated_init_atoms(task) -> list[tuple[str, str, str]]:
    """The initial facts a scene realises: what the task states. The eai semantics profile adds
    facts EAI's graph takes from iGibson's geometry (furniture on its room's floor): a layout
    makes them hold anyway, and they are no constraints on it."""
    core = task.with_semantics("emx").core if getattr(task, "semantics", "emx") == "eai" else task.core
    return core.true_atoms(core.initial_state)


def check_relations(task, scene: dict) -> list[tuple[str, bool]]:
    """(literal, holds) for every geometric init literal whose objects are in the scene,
    evaluated on the scene's boxes with the geometry predicates."""
    objs = {o["name"]: o for o in scene["objects"]}
    out = []
    for pred, a, b in stated_init_atoms(task):
        if not b or pred not in GEOMETRIC_PREDICATES or a not in objs or b not in objs:
            continue
        if objs[a]["kind"] == "floor":
            continue
        A, B = object_box(objs[a]), object_box(objs[b])
        if objs[b]["kind"] == "floor":
            holds = P.box_onfloor(A, B) if pred in ("ontop", "onfloor") else False
        elif pred == "inside":
            inner = interior_box(objs[b])
            holds = inner is not None and P.box_inside(A, inner)
        else:
            holds = {"ontop": P.box_ontop, "nextto": P.box_nextto, "under": P.box_under,
                     "onfloor": P.box_onfloor}[pred](A, B)
        out.append((f"({pred} {a} {b})", bool(holds)))
    return out
