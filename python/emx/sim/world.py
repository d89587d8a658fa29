"""PhysicsWorld: one task's scene in SAPIEN (CPU physics), with a symbolic shadow state whose
relations are read from geometry.

Each action is checked by the symbolic executor first (``task.core.apply`` on a copy of the
shadow), so a symbolic mistake gets exactly the error symbolic mode reports. An action that
passes is then realised physically (``emx.sim.primitives``); if physics cannot do it (no room,
too big, fell off, blocked door) the step fails with error ``physics`` and the world is put back
as it was before the step. After every step the shadow's relations are rebuilt from the bodies'
boxes, interiors and joint positions by the C++ core (``_core.relations_from_geometry``), so the
same compiled goal program checks physics and symbolic rollouts. Unary states physics does not
model (cooked, soaked, toggled_on, ...) stay what the symbolic effect made them.

Held objects are kinematic and follow the robot's hand without colliding. For the relations they
are reported in a frame far from the scene, so the held object relates to nothing in the room
while what it carries stays on or in it -- exactly the symbolic executor's picture.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from . import geometry as G
from . import scene_build as SB
from .scene_build import Body, SceneError
from .snapshot import Held, Snapshot

__all__ = ["PhysicsConfig", "PhysicsWorld", "StepOutcome", "SceneError", "PhysicsUnavailable"]

_log = logging.getLogger("emx.sim")
HAND_FRAME_OFFSET = 1000.0   # metres: where held objects are reported for the relations
PARK_OFFSET = 2000.0         # metres: where bodies not in the world (sliced wholes, uncut parts) wait
_DEFAULT_GROUPS = [1, 1, 0, 0]
_NO_COLLISION = [0, 0, 0, 0]
_world_ids = iter(range(1, 1 << 62))


class PhysicsUnavailable(RuntimeError):
    """SAPIEN (or a render device, for cameras) is not available."""


@dataclass(frozen=True)
class PhysicsConfig:
    timestep: float = 1.0 / 240.0
    # Budgets are counted in physics steps, never in seconds: a settle ends at rest or after
    # settle_steps, so the outcome is the same on a quiet and on a loaded machine.
    settle_steps: int = 240          # most physics steps one settle may take
    settle_check_every: int = 8
    initial_settle_steps: int = 480
    rest_linear: float = 0.02        # m/s: at rest below this ...
    rest_angular: float = 0.3        # ... and this (rad/s)
    joint_steps: int = 240           # most steps to drive a door or drawer
    joint_tolerance: float = 0.05    # fraction of the joint range
    drive_stiffness: float = 4000.0
    drive_damping: float = 400.0
    drive_force_limit: float = 150.0  # N·m (doors) / N (drawers)
    reach_radius: float = 1.1        # arm reach beyond the base's edge, horizontal (a Fetch-like arm, leaning)
    reach_height: float = 2.0        # highest point the hand reaches
    robot_size: tuple[float, float, float] = (0.5, 0.5, 1.2)
    hand_height: float = 1.0
    drop_clearance: float = 0.003    # placed objects start this far above their support
    auto_navigate: bool = True       # EAI actions walk the robot to their object first


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    error: str       # "none", "additional_step", ..., "physics"
    message: str


def _sapien():
    try:
        import sapien  # noqa: F401
    except Exception as e:  # pragma: no cover - depends on the machine
        raise PhysicsUnavailable(f"physics mode needs SAPIEN (pip install sapien==3.0.3): {e}") from e
    return sapien


class PhysicsWorld:
    """A task's scene in SAPIEN plus the symbolic shadow. Not thread-safe: one per thread."""

    def __init__(self, task: Any, scene: dict, config: PhysicsConfig | None = None, *, settle: bool = True) -> None:
        self.config = config or PhysicsConfig()
        self.task = task
        self.core = task.core if hasattr(task, "core") else task
        self.scene_dict = scene
        self.id = next(_world_ids)
        names = [o[0] for o in self.core.objects]
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.abilities = [set(o[2]) for o in self.core.objects]
        self.whole_of = [o[3] for o in self.core.objects]
        SB.validate(scene, set(names))
        self.unrealised = {}
        for u in scene.get("unrealised", []) or []:
            if isinstance(u, dict):
                self.unrealised[str(u.get("literal", ""))] = str(u.get("reason", ""))
        self._build(scene)
        self.held: list[Held | None] = [None, None]
        self.parked: set[int] = set(self._initial_parked)
        self.steps = 0
        self.history: list = []
        self.shadow = self.core.initial_state.copy()
        self._kinematic: dict[int, bool | None] = {}
        self._groups: dict[int, list] = {}
        self._sync_body_modes(toggle=False)
        self._apply_initial_slices()
        self.initial_settle_steps = self.settle(self.config.initial_settle_steps) if settle else 0
        self.shadow = self.relations(self.shadow)
        self.initial = self.snapshot()

    # ------------------------------------------------------------------ building
    def _build(self, scene: dict) -> None:
        sapien = _sapien()
        cfg = self.config
        t0 = time.perf_counter()
        self.sim = sapien.Scene([sapien.physx.PhysxCpuSystem()])
        self.sim.set_timestep(cfg.timestep)
        self.sim.add_ground(0.0, render=False)
        self.system = self.sim.physx_system
        self.rooms = {}
        for r in scene.get("rooms", []):
            self.rooms[r["name"]] = (np.array(r["min"], float), np.array(r["max"], float), r.get("floor"))
        self.bodies: dict[int, Body] = {}
        self.variants: dict[int, list[Body]] = {}   # foldable objects: flat, in four, in sixteen
        self.floor_boxes: dict[int, np.ndarray] = {}
        self._initial_parked: set[int] = set()
        self.robot: Body | None = None
        drive = (cfg.drive_stiffness, cfg.drive_damping, cfg.drive_force_limit)
        for k, o in enumerate(scene["objects"]):
            name, kind = o["name"], o["kind"]
            idx = self.index[name]
            size = np.array(o["size"], float)
            pos = np.array(o["position"], float)
            yaw = float(o.get("yaw", 0.0))
            friction = float(o.get("friction", 0.6))
            body = Body(name=name, index=idx, kind=kind, category=o.get("category", self.core.objects[idx][1]),
                        room=o.get("room"), mass=float(o.get("mass", 1.0)))
            half_w = G.yawed_half(size, yaw)
            outer = np.stack([pos - half_w, pos + half_w])
            if kind == "floor":
                self.floor_boxes[idx] = outer
                body.static_box = outer
                self.bodies[idx] = body
                continue
            if kind == "agent":
                self.robot = body
                SB.build_robot(self.sim, body, pos, yaw, size)
                self.bodies[idx] = body
                continue
            fixed = bool(o.get("fixed", kind == "furniture"))
            interior = SB.parse_box(o["interior"], f"scene.objects[{k}].interior") if o.get("interior") else None
            legs = o.get("legs")
            if kind == "furniture" or fixed:
                if interior is not None:
                    SB.build_fixed_container(self.sim, body, outer, interior, friction, o.get("articulation"), yaw,
                                             o.get("shelves"), drive)
                elif isinstance(legs, dict):
                    SB.build_legged(self.sim, body, outer, float(legs.get("height", 0.0)), friction)
                else:
                    SB.build_static_box(self.sim, body, pos, half_w, friction)
                    body.static_box = outer
            elif kind == "container" and interior is not None:
                SB.build_movable_container(self.sim, body, pos, yaw, size, interior, body.mass, friction)
            else:  # an item (or a container without an interior: a closed box)
                SB.build_item(self.sim, body, pos, yaw, size, body.mass, friction)
                if SB.is_foldable(str(o.get("material", "")), size):
                    self._build_folds(body, size, friction)
            self.bodies[idx] = body
        if self.robot is None:
            self.robot = Body(name="<robot>", index=-1, kind="agent")
            start = self._default_robot_start()
            SB.build_robot(self.sim, self.robot, start, 0.0, np.array(self.config.robot_size))
        rp = self.robot.entity.pose.p
        self.robot_pose = [float(rp[0]), float(rp[1]), float(_yaw_of(self.robot.entity.pose.q))]
        self.robot_z = float(rp[2])
        self._build_slice_parts()
        self._dynamic = [b for b in self.bodies.values() if b.dynamic and b.kind != "agent"]
        self._dynamic += [alt for vs in self.variants.values() for alt in vs[1:]]
        self._articulated = [b for b in self.bodies.values() if b.articulation is not None]
        self.build_seconds = time.perf_counter() - t0

    def _default_robot_start(self) -> np.ndarray:
        h = self.config.robot_size[2] / 2
        if self.rooms:
            lo, hi, _ = next(iter(self.rooms.values()))
            c = (lo + hi) / 2
            return np.array([c[0], c[1], h])
        return np.array([0.0, 0.0, h])

    def _build_slice_parts(self) -> None:
        """Slice parts exist from the start (so the packed state never changes shape), parked
        far away until their whole is cut: each is one half of the whole's box."""
        for part in range(len(self.names)):
            w = self.whole_of[part]
            if w < 0 or w not in self.bodies or part in self.bodies:
                continue
            whole = self.bodies[w]
            if not whole.dynamic:
                continue
            size = 2 * whole.half
            k = int(np.argmax(size[:2]))
            psize = size.copy()
            psize[k] /= 2
            body = Body(name=self.names[part], index=part, kind="part", category=whole.category, mass=whole.mass / 2)
            SB.build_item(self.sim, body, self._park_position(part), 0.0, psize, body.mass, 0.6)
            self.bodies[part] = body
            self._initial_parked.add(part)

    def _build_folds(self, body: Body, size: np.ndarray, friction: float) -> None:
        """Cloth and thin paper may be folded to fit: each fold is its own body (so the packed
        physics state never changes shape), parked until used. The scene's size is as laid out."""
        body.foldable = True
        variants = [body]
        # Folds of the size as laid out (the scene builder may have folded it already).
        for v, fsize in enumerate(SB.fold_sizes(size)[1:], start=1):
            alt = Body(name=f"{body.name}#fold{v}", index=body.index, kind="item", category=body.category,
                       room=body.room, mass=body.mass, foldable=True, variant=v)
            SB.build_item(self.sim, alt, self._park_position(body.index, v), 0.0, fsize, body.mass, friction)
            variants.append(alt)
        if len(variants) > 1:
            self.variants[body.index] = variants

    def _park_position(self, idx: int, slot: int = 0) -> np.ndarray:
        return np.array([PARK_OFFSET + 3.0 * (idx % 64), 3.0 * (idx // 64), 10.0 + 3.0 * slot])

    def _apply_initial_slices(self) -> None:
        """Wholes sliced in the initial state: their parts take the whole's place."""
        from .primitives import realise_slice
        for w, body in list(self.bodies.items()):
            if body.kind == "part":
                continue
            parts = [p for p in range(len(self.names)) if self.whole_of[p] == w]
            if parts and self.core.holds(self.shadow, "sliced", self.names[w]) and all(p in self.bodies for p in parts):
                realise_slice(self, w, settle=False)

    # ------------------------------------------------------------------ body modes
    def held_members(self) -> dict[int, int]:
        """object index -> hand, for everything a hand carries."""
        out = {}
        for h, held in enumerate(self.held):
            if held is not None:
                for m in held.members:
                    out[m] = h
        return out

    def _sync_body_modes(self, toggle: bool) -> None:
        """Kinematic and collision flags follow from what is held, parked and which fold of a
        cloth is in use. ``toggle`` flips every dynamic body through kinematic, which drops most
        of PhysX's contact caches (see ``restore``)."""
        held = self.held_members()
        for b in self._dynamic:
            key = id(b)
            kin = self.bodies.get(b.index) is not b or b.index in held or b.index in self.parked
            if toggle:
                b.rigid.set_kinematic(True)
                if not kin:
                    b.rigid.set_kinematic(False)
            elif self._kinematic.get(key) != kin:
                b.rigid.set_kinematic(kin)
            self._kinematic[key] = kin
            groups = _NO_COLLISION if kin else _DEFAULT_GROUPS
            if self._groups.get(key) != groups:
                for s in b.rigid.collision_shapes:
                    s.set_collision_groups(groups)
                self._groups[key] = groups

    def set_fold(self, idx: int, variant: int, pose) -> None:
        """Swaps a foldable object for its ``variant`` fold at ``pose``; the old fold is parked."""
        old = self.bodies[idx]
        new = self.variants[idx][variant]
        if new is old:
            old.entity.pose = pose
            return
        new.entity.pose = pose
        old.entity.pose = SB._pose(self._park_position(idx, old.variant))
        self.bodies[idx] = new
        self._sync_body_modes(toggle=False)

    def is_kinematic(self, body: Body) -> bool:
        return bool(self._kinematic.get(id(body)))

    # ------------------------------------------------------------------ geometry
    def body_box(self, idx: int) -> np.ndarray | None:
        """World AABB of an object as it physically is (None when it has no body)."""
        b = self.bodies.get(idx)
        if b is None:
            return None
        if b.static_box is not None:
            return b.static_box
        pose = b.entity.pose
        return G.posed_box_aabb(pose.p, pose.q, b.half)

    def interior_box(self, idx: int) -> np.ndarray | None:
        b = self.bodies.get(idx)
        if b is None:
            return None
        if b.interior_world is not None:
            return b.interior_world
        if b.interior_local is not None:
            pose = b.entity.pose
            r = G.quat_to_matrix(pose.q)
            c = (b.interior_local[0] + b.interior_local[1]) / 2
            h = (b.interior_local[1] - b.interior_local[0]) / 2
            cw = np.asarray(pose.p, float) + r @ c
            hw = np.abs(r) @ h
            return np.stack([cw - hw, cw + hw])
        return None

    def joint_fraction(self, idx: int) -> float:
        b = self.bodies.get(idx)
        if b is None or b.joint is None:
            return -1.0
        lo, hi = b.joint_range
        q = float(b.articulation.qpos[0])
        return (q - lo) / (hi - lo)

    def robot_box(self) -> np.ndarray:
        x, y, yaw = self.robot_pose
        half = G.yawed_half(2 * self.robot.half, yaw)
        c = np.array([x, y, self.robot_z])
        return np.stack([c - half, c + half])

    def geometry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(boxes, interiors, has_interior, joint_fraction, present) for every task object, as
        relations_from_geometry takes them."""
        n = len(self.names)
        boxes = np.zeros((n, 2, 3), np.float32)
        interiors = np.zeros((n, 2, 3), np.float32)
        has_interior = np.zeros(n, bool)
        joint = np.full(n, -1.0, np.float32)
        present = np.zeros(n, bool)
        held = self.held_members()
        for idx, b in self.bodies.items():
            if idx < 0 or idx in self.parked:
                continue
            if b.kind == "agent":
                boxes[idx] = self.robot_box()
                present[idx] = True
                continue
            box = self.body_box(idx)
            inner = self.interior_box(idx)
            if idx in held:
                shift = np.array([HAND_FRAME_OFFSET * (1 + held[idx]), 0.0, 0.0])
                box = box + shift
                inner = inner + shift if inner is not None else None
            boxes[idx] = box
            if inner is not None:
                interiors[idx] = inner
                has_interior[idx] = True
            joint[idx] = self.joint_fraction(idx)
            present[idx] = True
        return boxes, interiors, has_interior, joint, present

    def relations(self, state) -> Any:
        """A copy of ``state`` whose geometric relations (and support tree) are read from the world."""
        fn = getattr(_core, "relations_from_geometry", None)
        if fn is None:
            raise PhysicsUnavailable("emx._core.relations_from_geometry is missing: rebuild the extension")
        boxes, interiors, has_interior, joint, present = self.geometry()
        if not np.all(np.isfinite(boxes)):
            bad = [self.names[i] for i in range(len(self.names)) if not np.all(np.isfinite(boxes[i]))]
            raise FloatingPointError(f"non-finite pose of {', '.join(bad[:3])}")
        return fn(self.core, state, boxes, interiors, has_interior, joint, present)

    # ------------------------------------------------------------------ stepping
    def settle(self, max_steps: int | None = None) -> int:
        """Steps until every dynamic body is at rest, at most ``max_steps`` steps (a step budget:
        no wall clock, so load never changes the outcome). Returns the steps taken."""
        cfg = self.config
        max_steps = cfg.settle_steps if max_steps is None else max_steps
        movers = [b.rigid for b in self._dynamic if not self._kinematic.get(id(b))]
        joints = [b.articulation for b in self._articulated]
        steps = 0
        lin2, ang2 = cfg.rest_linear ** 2, cfg.rest_angular ** 2
        while steps < max_steps:
            k = min(cfg.settle_check_every, max_steps - steps)
            for _ in range(k):
                self.sim.step()
            steps += k
            if self._at_rest(movers, joints, lin2, ang2):
                break
        self.steps += steps
        return steps

    @staticmethod
    def _at_rest(movers, joints, lin2: float, ang2: float) -> bool:
        for r in movers:
            if r.is_sleeping:
                continue
            v = r.linear_velocity
            if v[0] * v[0] + v[1] * v[1] + v[2] * v[2] > lin2:
                return False
            w = r.angular_velocity
            if w[0] * w[0] + w[1] * w[1] + w[2] * w[2] > ang2:
                return False
        for a in joints:
            if abs(float(a.qvel[0])) > 0.05:
                return False
        return True

    def check_finite(self) -> str | None:
        """Names a body whose pose is no longer finite (a diverged simulation), else None."""
        poses = [b.entity.pose for b in self._dynamic]
        flat = np.array([[*p.p, *p.q] for p in poses], dtype=np.float64) if poses else np.zeros((0, 7))
        if not np.all(np.isfinite(flat)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(flat), axis=1))[0])
            return self._dynamic[bad].name
        for b in self._articulated:
            if not np.all(np.isfinite(b.articulation.qpos)):
                return b.name
        return None

    def step(self, action: Any) -> StepOutcome:
        """Executes one action (an ``emx._core.Action``): symbolic preconditions, then physics."""
        from .primitives import realise

        before = self.shadow
        state = before.copy()
        ok, error, message = self.core.apply(state, action)
        if not ok:
            error, message = self._wrong_order(action, error, message)
            return StepOutcome(False, error, message)
        if error == "additional_step":
            self.history.append(before)
            return StepOutcome(True, error, message)
        snap = self.snapshot()
        try:
            failure = realise(self, action, before, state)
            if failure is None:
                bad = self.check_finite()
                if bad is not None:
                    failure = f"the simulation diverged (non-finite pose of {bad})"
            if failure is None:
                new_shadow = self.relations(state)
        except FloatingPointError as e:
            failure = f"the simulation diverged ({e})"
        except Exception as e:  # a bug here must not end a whole evaluation: report it as the step's failure
            _log.exception("physics step %s failed", self.core.describe(action))
            failure = f"internal error in the physics layer: {type(e).__name__}: {e}"
        if failure is not None:
            self.restore(snap)
            return StepOutcome(False, "physics", failure)
        self.history.append(before)
        self.shadow = new_shadow
        return StepOutcome(True, error, message)

    def _wrong_order(self, action, error: str, message: str) -> tuple[str, str]:
        """EAI's wrong temporal order by the executor's own rule (``classify_failure`` in the C++
        core), judged on this run's earlier states: they come from geometry, not from a replay."""
        return self.core.classify_failure(self.history, action, error, message)

    def run(self, actions) -> tuple[int, list[tuple[str, str]]]:
        """Executes a plan from the current state until the first failing step.
        Returns (executed, [(error, message) per step run, the failing one last])."""
        executed = 0
        trace: list[tuple[str, str]] = []
        actions = list(actions)
        rejected = self.core.plan_rejection(actions)   # eai: EAI checks the plan before running it
        if rejected is not None:
            return 0, [rejected[1:]]
        for a in actions:
            out = self.step(a)
            trace.append((out.error, out.message))
            if not out.ok:
                break
            executed += 1
        return executed, trace

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> Snapshot:
        sleeping = tuple(bool(b.rigid.is_sleeping) for b in self._dynamic)
        folds = tuple((idx, self.bodies[idx].variant) for idx in sorted(self.variants))
        return Snapshot(world_id=self.id, physx=self.system.pack(), shadow=self.shadow, history=tuple(self.history),
                        held=tuple(self.held), robot=tuple(self.robot_pose), parked=frozenset(self.parked),
                        sleeping=sleeping, steps=self.steps, folds=folds)

    def restore(self, snap: Snapshot) -> None:
        """Puts the world back exactly as it was at ``snap`` (bodies, joints, hands, robot,
        shadow and this run's history). Velocities come back as zero: snapshots are taken at
        rest, after a settle."""
        if snap.world_id != self.id:
            raise ValueError("this snapshot belongs to another PhysicsWorld")
        # PhysX keeps contact-pair caches across unpack() that pack() does not capture. Flipping
        # every moving body through kinematic drops most of them: a replay then reproduces the
        # same steps, errors and relations, with poses equal to well under a micrometre (bit for
        # bit when the snapshot has no resting contacts; tests/test_physics.py checks both).
        self.system.unpack(snap.physx)
        self.held = list(snap.held)
        self.parked = set(snap.parked)
        self.robot_pose = list(snap.robot)
        for idx, v in snap.folds:
            self.bodies[idx] = self.variants[idx][v]
        self._sync_body_modes(toggle=True)
        for b, asleep in zip(self._dynamic, snap.sleeping):
            if asleep and not self._kinematic[id(b)]:
                b.rigid.put_to_sleep()
        self.shadow = snap.shadow
        self.history = list(snap.history)
        self.steps = snap.steps

    def reset(self) -> None:
        """Back to the settled initial state."""
        self.restore(self.initial)

    # ------------------------------------------------------------------ inspection
    def poses(self) -> np.ndarray:
        """(n_bodies, 7) poses [x y z qw qx qy qz] of every dynamic body and joint positions
        appended: for tests of exact restore."""
        rows = [np.concatenate([b.entity.pose.p, b.entity.pose.q]) for b in self._dynamic]
        rows += [np.concatenate([b.articulation.qpos, np.zeros(6, np.float32)]) for b in self._articulated]
        rows.append(np.array([*self.robot_pose, 0, 0, 0, 0], np.float32))
        return np.stack(rows).astype(np.float64)

    def goal(self) -> tuple[bool, float]:
        ok, frac, _ = self.core.check(self.shadow)
        return bool(ok), float(frac)

    def true_atoms(self) -> list[tuple[str, str, str]]:
        return self.core.true_atoms(self.shadow)

    def settle_and_verify(self, max_steps: int | None = None) -> dict:
        """Settles from the current state and checks the task's initial relations geometrically:
        the scene file's ``settle`` record (docs/scene-format.md)."""
        start = {id(b): np.array(b.entity.pose.p, float) for b in self._dynamic if not self._kinematic.get(id(b))}
        steps = self.settle(max_steps or self.config.initial_settle_steps)
        disp = 0.0
        for b in self._dynamic:
            if id(b) in start:
                disp = max(disp, float(np.linalg.norm(np.asarray(b.entity.pose.p, float) - start[id(b)])))
        geo = self.relations(self.shadow)
        self.shadow = geo
        self.initial = self.snapshot()
        from ..scenes.layout import stated_init_atoms

        want = set(stated_init_atoms(self.task))
        have = set(self.core.true_atoms(geo))
        violations = []
        for pred, a, b in sorted(want - have):
            if pred not in ("ontop", "inside", "nextto", "under", "onfloor", "open"):
                continue
            lit = f"({pred} {a} {b})" if b else f"({pred} {a})"
            if lit in self.unrealised:
                continue
            if self.index[a] not in self.bodies or (b and self.index[b] not in self.bodies):
                continue
            violations.append(lit)
        return {"steps": int(steps), "max_displacement": round(disp, 6), "relations_ok": not violations,
                "violations": violations}

    # ------------------------------------------------------------------ robot
    def set_robot(self, x: float, y: float, yaw: float) -> None:
        self.robot_pose = [float(x), float(y), float(yaw)]
        pose = SB._pose([x, y, self.robot_z], G.yaw_quat(yaw))
        self.robot.entity.pose = pose
        self._carry()

    def hand_pose(self, hand: int):
        x, y, yaw = self.robot_pose
        side = 0.25 if hand == 0 else -0.25
        c, s = math.cos(yaw), math.sin(yaw)
        p = [x + 0.4 * c - side * s, y + 0.4 * s + side * c, self.config.hand_height]
        return SB._pose(p, G.yaw_quat(yaw))

    def _carry(self) -> None:
        """Moves held objects with the hand (kinematic, no collisions)."""
        import sapien
        for h, held in enumerate(self.held):
            if held is None:
                continue
            hp = self.hand_pose(h)
            for m, p, q in zip(held.members, held.rel_p, held.rel_q):
                self.bodies[m].entity.pose = hp * sapien.Pose(np.array(p, np.float32), np.array(q, np.float32))


def _yaw_of(q) -> float:
    w, x, y, z = (float(v) for v in q)
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
