"""Scene dict (format ``emx-scene`` v1, docs/scene-format.md) -> SAPIEN bodies, CPU physics only.

One function per body kind. Every body is boxes: items are one dynamic box (cloth also has its
folds, parked until used); fixed furniture a static box, or for legged furniture (tables, desks,
beds: ``legs``) the scene's box as the top slab on four legs, so there is room under it;
containers walls around their ``interior`` (fixed ones static, with shelf boards and a door,
drawer front or lid joint when they have an ``articulation``; movable ones a dynamic open box,
their lid symbolic); the robot base a kinematic box that collides with nothing. Floors are the
ground plane plus their thin boxes in the geometry. The front of furniture is its local +x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EmxError
from . import geometry as G

WALL_MIN = 0.01        # thinnest wall built when the interior reaches the outer box
DOOR_THICKNESS = 0.02
TABLE_LEG = 0.05       # leg side of legged furniture (the scene builder's LEG_SIDE)
SHELF_THICKNESS = 0.02  # shelf boards end at their listed height (the scene builder's)
KINDS = ("floor", "furniture", "container", "item", "agent")


class SceneError(EmxError, ValueError):
    """A scene dict that cannot be built: names the JSON path of the first problem."""


@dataclass
class Body:
    """One task object in the physics world (or the robot base)."""

    name: str
    index: int                    # task object index; -1 for an object the task does not know
    kind: str                     # floor | furniture | container | item | agent | part
    category: str = ""
    entity: Any = None            # sapien.Entity of the body (root link for articulations)
    rigid: Any = None             # PhysxRigidDynamicComponent for dynamic/kinematic bodies
    half: np.ndarray = field(default_factory=lambda: np.zeros(3))   # outer box half extents, body frame
    static_box: np.ndarray | None = None      # world AABB of a static body
    shelves: list = field(default_factory=list)  # heights of shelf boards' tops inside a fixed container
    foldable: bool = False        # cloth / thin paper: may be folded to fit
    variant: int = 0              # which fold this body is (0 flat, 1 in four, 2 in sixteen)
    interior_local: np.ndarray | None = None  # (2,3) interior in the body frame (movable containers)
    interior_world: np.ndarray | None = None  # (2,3) interior in the world (fixed containers)
    shapes: list = field(default_factory=list)  # [(centre (3,), half (3,))] in the body frame, or world for static
    articulation: Any = None
    joint: Any = None
    door: Any = None               # sapien.Entity of the door / drawer link
    door_shape: tuple | None = None  # (centre, half) in the door link frame
    joint_range: tuple[float, float] = (0.0, 0.0)
    room: str | None = None
    mass: float = 1.0

    @property
    def dynamic(self) -> bool:
        return self.rigid is not None


# --------------------------------------------------------------------------- validation

def _finite(value: Any, path: str, *, positive: bool = False, limit: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneError(f"{path}: must be a number, got {value!r:.40}")
    v = float(value)
    if not math.isfinite(v):
        raise SceneError(f"{path}: must be a finite number, got {v}")
    if positive and not v > 0:
        raise SceneError(f"{path}: must be a positive number, got {v}")
    if limit is not None and abs(v) > limit:
        raise SceneError(f"{path}: {v} is out of range (|x| <= {limit})")
    return v


def _vector(value: Any, n: int, path: str, **kw) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise SceneError(f"{path}: must be a list of {n} numbers, got {value!r:.60}")
    return np.array([_finite(v, f"{path}[{i}]", **kw) for i, v in enumerate(value)], dtype=np.float64)


def parse_box(value: Any, path: str) -> np.ndarray:
    if not isinstance(value, dict) or "min" not in value or "max" not in value:
        raise SceneError(f"{path}: must be an object with 'min' and 'max'")
    lo = _vector(value["min"], 3, f"{path}.min", limit=1e4)
    hi = _vector(value["max"], 3, f"{path}.max", limit=1e4)
    if not np.all(hi > lo):
        raise SceneError(f"{path}: max must exceed min on every axis, got min {lo.tolist()} max {hi.tolist()}")
    return np.stack([lo, hi])


def validate(scene: Any, object_names: set[str] | None = None) -> None:
    """Checks what the physics reads, before anything is built: types, finite numbers, sizes in
    (0, 20] m, unique names known to the task. Raises SceneError naming the JSON path."""
    if not isinstance(scene, dict):
        raise SceneError(f"scene: must be a dict (format emx-scene), got {type(scene).__name__}")
    if scene.get("format") != "emx-scene":
        raise SceneError(f"scene.format: expected 'emx-scene', got {scene.get('format')!r:.40}")
    if scene.get("version") != 1:
        raise SceneError(f"scene.version: expected 1, got {scene.get('version')!r:.40}")
    rooms = scene.get("rooms", [])
    if not isinstance(rooms, list):
        raise SceneError("scene.rooms: must be a list")
    for i, r in enumerate(rooms):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise SceneError(f"scene.rooms[{i}]: must be an object with a 'name'")
        lo = _vector(r.get("min"), 2, f"scene.rooms[{i}].min", limit=1e4)
        hi = _vector(r.get("max"), 2, f"scene.rooms[{i}].max", limit=1e4)
        if not np.all(hi > lo):
            raise SceneError(f"scene.rooms[{i}]: max must exceed min")
    objects = scene.get("objects")
    if not isinstance(objects, list):
        raise SceneError("scene.objects: must be a list")
    seen: set[str] = set()
    for i, o in enumerate(objects):
        p = f"scene.objects[{i}]"
        if not isinstance(o, dict):
            raise SceneError(f"{p}: must be an object")
        name = o.get("name")
        if not isinstance(name, str) or not name:
            raise SceneError(f"{p}.name: must be a non-empty string")
        if name in seen:
            raise SceneError(f"{p}.name: duplicate name {name!r}")
        seen.add(name)
        if object_names is not None and name not in object_names:
            raise SceneError(f"{p}.name: {name!r} is not an object of the task")
        if o.get("kind") not in KINDS:
            raise SceneError(f"{p}.kind: must be one of {', '.join(KINDS)}, got {o.get('kind')!r:.40}")
        size = _vector(o.get("size"), 3, f"{p}.size", positive=True)
        if np.any(size > 20):
            raise SceneError(f"{p}.size: {size.tolist()} exceeds 20 m")
        _vector(o.get("position"), 3, f"{p}.position", limit=1e4)
        _finite(o.get("yaw", 0.0), f"{p}.yaw", limit=1e3)
        if o.get("kind") in ("item", "container") and not o.get("fixed", False):
            _finite(o.get("mass", 1.0), f"{p}.mass", positive=True, limit=1e4)
        _finite(o.get("friction", 0.6), f"{p}.friction", limit=10)
        if o.get("interior") is not None:
            parse_box(o["interior"], f"{p}.interior")
        art = o.get("articulation")
        if art is not None:
            if not isinstance(art, dict):
                raise SceneError(f"{p}.articulation: must be an object or null")
            if art.get("type") not in ("revolute", "prismatic"):
                raise SceneError(f"{p}.articulation.type: must be 'revolute' or 'prismatic', got {art.get('type')!r:.40}")
            rng = _vector(art.get("range"), 2, f"{p}.articulation.range", limit=10)
            if not rng[1] > rng[0]:
                raise SceneError(f"{p}.articulation.range: upper must exceed lower, got {rng.tolist()}")
            f = _finite(art.get("open_fraction", 0.0), f"{p}.articulation.open_fraction")
            if not 0.0 <= f <= 1.0:
                raise SceneError(f"{p}.articulation.open_fraction: must be in [0, 1], got {f}")


# --------------------------------------------------------------------------- helpers

def is_foldable(material: str, size) -> bool:
    """Cloth, and paper no thicker than a newspaper, fold (as the scene builder folds them)."""
    return material == "fabric" or (material == "paper" and float(size[2]) <= 0.012)


def fold_sizes(size) -> list[np.ndarray]:
    """Flat, folded in four, folded in sixteen (while both sides stay >= 4 cm)."""
    out = [np.asarray(size, float)]
    d = np.asarray(size, float)
    for _ in range(2):
        d = np.array([d[0] / 2, d[1] / 2, d[2] * 4])
        if min(d[:2]) < 0.04:
            break
        out.append(d)
    return out


def _pose(p, q=(1.0, 0.0, 0.0, 0.0)):
    import sapien
    return sapien.Pose(np.asarray(p, dtype=np.float32), np.asarray(q, dtype=np.float32))


def _material(scene, friction: float):
    f = max(0.05, float(friction))
    return scene.create_physical_material(f, f, 0.0)


def _walls(interior: np.ndarray, outer: np.ndarray, open_sides: set[str], top: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Wall boxes (centre, half) between an outer box and its interior, both in one frame.
    ``open_sides`` ⊆ {'+x','-x','+y','-y'} get no wall (the door side); ``top`` adds a lid."""
    lo, hi = outer
    ilo, ihi = interior
    out = []

    def add(bmin, bmax):
        bmin, bmax = np.asarray(bmin, float), np.asarray(bmax, float)
        out.append(((bmin + bmax) / 2, (bmax - bmin) / 2))

    # Walls at least WALL_MIN thick, grown outward when the interior reaches the outer box.
    bot = min(lo[2], ilo[2] - WALL_MIN)
    add([min(lo[0], ilo[0] - WALL_MIN), min(lo[1], ilo[1] - WALL_MIN), bot],
        [max(hi[0], ihi[0] + WALL_MIN), max(hi[1], ihi[1] + WALL_MIN), ilo[2]])
    if top:
        add([min(lo[0], ilo[0] - WALL_MIN), min(lo[1], ilo[1] - WALL_MIN), ihi[2]],
            [max(hi[0], ihi[0] + WALL_MIN), max(hi[1], ihi[1] + WALL_MIN), max(hi[2], ihi[2] + WALL_MIN)])
    z0, z1 = ilo[2], (ihi[2] if top else min(ihi[2], hi[2]))
    if "-x" not in open_sides:
        add([min(lo[0], ilo[0] - WALL_MIN), min(lo[1], ilo[1] - WALL_MIN), z0], [ilo[0], max(hi[1], ihi[1] + WALL_MIN), z1])
    if "+x" not in open_sides:
        add([ihi[0], min(lo[1], ilo[1] - WALL_MIN), z0], [max(hi[0], ihi[0] + WALL_MIN), max(hi[1], ihi[1] + WALL_MIN), z1])
    if "-y" not in open_sides:
        add([ilo[0], min(lo[1], ilo[1] - WALL_MIN), z0], [ihi[0], ilo[1], z1])
    if "+y" not in open_sides:
        add([ilo[0], ihi[1], z0], [ihi[0], max(hi[1], ihi[1] + WALL_MIN), z1])
    return out


_SIDES = {"+x": np.array([1.0, 0, 0]), "-x": np.array([-1.0, 0, 0]), "+y": np.array([0, 1.0, 0]), "-y": np.array([0, -1.0, 0])}


def front_side(yaw: float) -> str:
    """The side a door is on: the object's local +x (docs/scene-format.md: furniture faces the
    room with its local +x), as a world side; furniture yaw is a multiple of a quarter turn."""
    n = np.array([math.cos(yaw), math.sin(yaw)])
    k = int(np.argmax(np.abs(n)))
    return ("+" if n[k] > 0 else "-") + "xy"[k]


def _frame_with_x(axis: np.ndarray) -> np.ndarray:
    """A rotation whose x column is ``axis`` (joints act along / about their frame's x)."""
    a = axis / np.linalg.norm(axis)
    helper = np.array([0, 0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0, 0])
    b = np.cross(helper, a)
    b /= np.linalg.norm(b)
    c = np.cross(a, b)
    return np.stack([a, b, c], axis=1)


# --------------------------------------------------------------------------- builders

def build_static_box(scene, body: Body, centre, half, friction) -> None:
    b = scene.create_actor_builder()
    b.add_box_collision(half_size=np.asarray(half, dtype=np.float32), material=_material(scene, friction))
    b.set_initial_pose(_pose(centre))
    body.entity = b.build_static(name=body.name)
    body.shapes = [(np.asarray(centre, float), np.asarray(half, float))]


def build_legged(scene, body: Body, slab: np.ndarray, legs: float, friction: float) -> None:
    """Tables, desks, beds: the scene's box is the top slab; four legs hold it up, so there is
    free space below (``under``)."""
    lo, hi = slab
    side = min(TABLE_LEG, (hi[0] - lo[0]) / 4, (hi[1] - lo[1]) / 4)
    shapes = [((lo + hi) / 2, (hi - lo) / 2)]
    if legs > 1e-4:
        for x in (lo[0] + side / 2, hi[0] - side / 2):
            for y in (lo[1] + side / 2, hi[1] - side / 2):
                shapes.append((np.array([x, y, lo[2] - legs / 2]), np.array([side / 2, side / 2, legs / 2])))
    b = scene.create_actor_builder()
    mat = _material(scene, friction)
    for c, h in shapes:
        b.add_box_collision(pose=_pose(c), half_size=h.astype(np.float32), material=mat)
    body.entity = b.build_static(name=body.name)
    body.shapes = shapes
    body.static_box = slab


def build_item(scene, body: Body, centre, yaw: float, size, mass: float, friction: float) -> None:
    half = np.asarray(size, float) / 2
    vol = float(np.prod(size))
    b = scene.create_actor_builder()
    b.add_box_collision(half_size=half.astype(np.float32), material=_material(scene, friction),
                        density=max(mass, 1e-3) / vol)
    b.set_initial_pose(_pose(centre, G.yaw_quat(yaw)))
    body.entity = b.build(name=body.name)
    body.rigid = _rigid(body.entity)
    body.half = half
    body.shapes = [(np.zeros(3), half)]
    body.mass = mass


def build_movable_container(scene, body: Body, centre, yaw: float, size, interior_world: np.ndarray,
                            mass: float, friction: float) -> None:
    """A dynamic open-top box: walls around the interior, in the body frame."""
    half = np.asarray(size, float) / 2
    r = G.quat_to_matrix(G.yaw_quat(yaw))
    ic = (interior_world[0] + interior_world[1]) / 2 - np.asarray(centre, float)
    ih = (interior_world[1] - interior_world[0]) / 2
    ic_local = r.T @ ic
    ih_local = np.abs(r.T) @ ih
    interior_local = np.stack([ic_local - ih_local, ic_local + ih_local])
    outer_local = np.stack([-half, half])
    shapes = _walls(interior_local, outer_local, set(), top=False)
    vol = sum(float(np.prod(2 * h)) for _, h in shapes)
    b = scene.create_actor_builder()
    mat = _material(scene, friction)
    for c, h in shapes:
        b.add_box_collision(pose=_pose(c), half_size=h.astype(np.float32), material=mat, density=max(mass, 1e-3) / vol)
    b.set_initial_pose(_pose(centre, G.yaw_quat(yaw)))
    body.entity = b.build(name=body.name)
    body.rigid = _rigid(body.entity)
    body.half = half
    body.shapes = shapes
    body.interior_local = interior_local
    body.mass = mass


def _shelf_boards(interior: np.ndarray, shelves) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for z in shelves or []:
        lo = np.array([interior[0, 0], interior[0, 1], float(z) - SHELF_THICKNESS])
        hi = np.array([interior[1, 0], interior[1, 1], float(z)])
        out.append(((lo + hi) / 2, (hi - lo) / 2))
    return out


def build_fixed_container(scene, body: Body, outer: np.ndarray, interior: np.ndarray, friction: float,
                          articulation: dict | None, yaw: float, shelves, drive: tuple) -> None:
    """Static walls around the interior (and shelf boards); with an articulation, the walls are
    the fixed root link of a SAPIEN articulation whose one joint is the door (revolute, hinged
    left / right / bottom of the front, or a lid hinged at the back of the top) or the drawer
    front (prismatic). The front is the object's local +x."""
    closed_top = interior[1, 2] < outer[1, 2] - 1e-4
    body.interior_world = interior
    body.static_box = outer
    body.shelves = sorted(float(z) for z in (shelves or []))
    mat = _material(scene, friction)
    boards = _shelf_boards(interior, body.shelves)
    hinge = (articulation or {}).get("hinge_side", "left")
    lid = articulation is not None and hinge == "top"
    side = front_side(yaw)
    if articulation is None:
        shapes = _walls(interior, outer, set(), top=closed_top) + boards
        b = scene.create_actor_builder()
        for c, h in shapes:
            b.add_box_collision(pose=_pose(c), half_size=h.astype(np.float32), material=mat)
        body.entity = b.build_static(name=body.name)
        body.shapes = shapes
        return
    shapes = (_walls(interior, outer, set(), top=False) if lid else _walls(interior, outer, {side}, top=closed_top)) + boards
    ab = scene.create_articulation_builder()
    root = ab.create_link_builder()
    root.set_name(body.name)
    for c, h in shapes:
        root.add_box_collision(pose=_pose(c), half_size=h.astype(np.float32), material=mat)
    t = DOOR_THICKNESS
    door_lo = np.array(interior[0], float)
    door_hi = np.array(interior[1], float)
    if lid:
        n = np.array([0, 0, 1.0])
        top = max(outer[1, 2], interior[1, 2]) if closed_top else outer[1, 2]
        door_lo[2], door_hi[2] = top, top + t
        front = _SIDES[side]
        u = front.copy()                       # from the hinge (back edge) towards the front
        axis = np.cross(u, n)
        k = 0 if side[1] == "x" else 1
        anchor = (door_lo + door_hi) / 2
        anchor[k] = door_hi[k] if front[k] < 0 else door_lo[k]
        anchor[2] = door_lo[2]
    else:
        n = _SIDES[side]
        axis_k = 0 if side[1] == "x" else 1     # the axis of the normal
        along_k = 1 - axis_k                    # the horizontal axis along the face
        face = outer[1, axis_k] if side[0] == "+" else outer[0, axis_k]
        inner = interior[1, axis_k] if side[0] == "+" else interior[0, axis_k]
        gap = abs(face - inner)
        # The panel fills the wall gap when it can, else stands proud of the face; either way
        # its inner side never enters the interior.
        mid = face - n[axis_k] * t / 2 if gap >= t else face + n[axis_k] * (t / 2 - gap)
        door_lo[axis_k], door_hi[axis_k] = mid - t / 2, mid + t / 2
        right = np.cross(-n, np.array([0, 0, 1.0]))  # a viewer facing the front: their right hand
        if articulation["type"] == "prismatic" or hinge == "front":
            axis = n
            anchor = (door_lo + door_hi) / 2
        elif hinge == "bottom":
            axis = np.cross(np.array([0, 0, 1.0]), n)
            anchor = (door_lo + door_hi) / 2
            anchor[2] = door_lo[2]
        else:
            u = right if hinge == "left" else -right
            axis = np.cross(u, n)
            anchor = (door_lo + door_hi) / 2 - u * (door_hi[along_k] - door_lo[along_k]) / 2
    jtype = "prismatic" if (articulation["type"] == "prismatic" or hinge == "front") and not lid else "revolute"
    door_c, door_h = (door_lo + door_hi) / 2, (door_hi - door_lo) / 2
    lo_q, hi_q = (float(v) for v in articulation["range"])
    rj = _frame_with_x(axis)
    qj = G.matrix_to_quat(rj)
    door = ab.create_link_builder(root)
    door.set_name(f"{body.name}/door")
    local_c = rj.T @ (door_c - anchor)
    door.add_box_collision(pose=_pose(local_c, G.matrix_to_quat(rj.T)), half_size=door_h.astype(np.float32),
                           material=mat, density=300.0)
    door.set_joint_properties(jtype, limits=[[lo_q, hi_q]], pose_in_parent=_pose(anchor, qj),
                              pose_in_child=_pose([0, 0, 0]), friction=0.0, damping=0.0)
    art = ab.build(fix_root_link=True)
    art.set_name(body.name)
    joint = art.active_joints[0]
    # A bounded effort: a door pushes light things aside but is stopped by furniture.
    joint.set_drive_property(drive[0], drive[1], force_limit=drive[2])
    frac = float(articulation.get("open_fraction", 0.0))
    q0 = lo_q + frac * (hi_q - lo_q)
    art.set_qpos(np.array([q0], dtype=np.float32))
    joint.set_drive_target(q0)
    for link in art.links[1:]:
        link.set_disable_gravity(True)
    body.articulation = art
    body.joint = joint
    body.entity = art.links[0].entity
    body.door = art.links[1].entity
    body.door_shape = (local_c, door_h, rj.T)
    body.joint_range = (lo_q, hi_q)
    body.shapes = shapes


def build_robot(scene, body: Body, centre, yaw: float, size) -> None:
    half = np.asarray(size, float) / 2
    b = scene.create_actor_builder()
    b.add_box_collision(half_size=half.astype(np.float32))
    b.set_initial_pose(_pose(centre, G.yaw_quat(yaw)))
    body.entity = b.build_kinematic(name=body.name)
    body.rigid = _rigid(body.entity)
    for s in body.rigid.collision_shapes:
        s.set_collision_groups([0, 0, 0, 0])
    body.half = half
    body.shapes = [(np.zeros(3), half)]


def _rigid(entity):
    import sapien
    return entity.find_component_by_type(sapien.physx.PhysxRigidDynamicComponent)
