"""Physical action primitives. ``realise(world, action, before, after)`` runs after the symbolic
executor accepted an action (``before`` -> ``after`` is its symbolic effect) and makes it happen
in SAPIEN. It returns None, or the honest reason physics could not do it (the step's ``physics``
error): "no room on shelf_3 for pot_1", "pot_1 (0.30 m) does not fit inside cabinet_2",
"apple_0 fell off plate_1", "fridge_97 is blocked: its door stopped at 35% open".
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import geometry as G
from . import placement as P
from .snapshot import Held

GRASP = {"LEFT_GRASP", "RIGHT_GRASP", "pick_up"}
RELEASE = {"LEFT_RELEASE", "RIGHT_RELEASE"}
PLACE = {
    "LEFT_PLACE_ONTOP": "ontop", "RIGHT_PLACE_ONTOP": "ontop",
    "LEFT_PLACE_INSIDE": "inside", "RIGHT_PLACE_INSIDE": "inside",
    "LEFT_PLACE_NEXTTO": "nextto", "RIGHT_PLACE_NEXTTO": "nextto",
    "LEFT_PLACE_UNDER": "under", "RIGHT_PLACE_UNDER": "under",
    "LEFT_PLACE_NEXTTO_ONTOP": "nextto_ontop", "RIGHT_PLACE_NEXTTO_ONTOP": "nextto_ontop",
}
TRANSFER = {"LEFT_TRANSFER_CONTENTS_INSIDE": "inside", "RIGHT_TRANSFER_CONTENTS_INSIDE": "inside",
            "LEFT_TRANSFER_CONTENTS_ONTOP": "ontop", "RIGHT_TRANSFER_CONTENTS_ONTOP": "ontop"}
JOINT = {"OPEN": True, "CLOSE": False, "open": True, "close": False}
NAVIGATION = {"move", "turn", "move_forward", "go_to_room"}
MAX_PLACE_TRIES = 3


# --------------------------------------------------------------------------- entry point

def realise(world, action, before, after) -> str | None:
    name = action.name
    objs = list(action.objects)
    native = name[:1].islower()
    if name in NAVIGATION:
        return navigate(world, action)
    if name in GRASP:
        hand = _changed_hand(before, after, gained=True)
        if hand is None:
            return None
        return grasp(world, hand, after.hands[hand], native)
    if name in RELEASE:
        hand = _changed_hand(before, after, gained=False)
        return None if hand is None else release(world, hand)
    if name in PLACE or name == "place":
        hand = _changed_hand(before, after, gained=False)
        if hand is None:
            return None
        relation = PLACE.get(name) or _native_relation(world, action)
        return place(world, hand, relation, objs, native)
    if name in TRANSFER:
        hand = 0 if name.startswith("LEFT") else 1
        return transfer(world, hand, TRANSFER[name], objs[0])
    if name in JOINT:
        return actuate(world, objs[0], JOINT[name], native)
    if name == "SLICE":
        err = _approach_and_reach(world, objs[0], native)
        if err:
            return err
        if objs[0] in world.bodies and objs[0] not in world.parked:
            realise_slice(world, objs[0])
        return None
    # Unary state changes (toggle, cook, clean, soak, dry, freeze, heat ...): a symbolic effect;
    # physics checks the robot can reach what it acts on.
    for o in objs:
        err = _approach_and_reach(world, o, native)
        if err:
            return err
    return None


def _changed_hand(before, after, gained: bool) -> int | None:
    hb, ha = before.hands, after.hands
    for h in (1, 0):
        if gained and ha[h] >= 0 and ha[h] != hb[h]:
            return h
        if not gained and hb[h] >= 0 and ha[h] < 0:
            return h
    return None


def _native_relation(world, action) -> str:
    text = world.core.describe(action)
    return "inside" if text.rstrip(")").endswith("inside") else "ontop"


# --------------------------------------------------------------------------- support tree

def parents(world, state) -> dict[int, int]:
    """child -> support parent, as the C++ core builds it from geometry (innermost container,
    else the highest top the object rests on; floors are never parents)."""
    cached = getattr(world, "_parents_cache", None)
    if cached is not None and cached[0] is state:
        return cached[1]
    fast = getattr(state, "parents", None)
    if fast is not None:
        out = {i: int(p) for i, p in enumerate(fast) if p >= 0}
        world._parents_cache = (state, out)
        return out
    idx = world.index
    inside: dict[int, list[int]] = {}
    ontop: dict[int, list[int]] = {}
    floors = {i for i, ab in enumerate(world.abilities) if "floor" in ab}
    for pred, a, b in world.core.true_atoms(state):
        if pred == "inside":
            inside.setdefault(idx[a], []).append(idx[b])
        elif pred == "ontop" and idx[b] not in floors:
            ontop.setdefault(idx[a], []).append(idx[b])
    out: dict[int, int] = {}
    vols: dict[int, float] = {}
    tops: dict[int, float] = {}

    def vol(c: int) -> tuple[float, int]:
        if c not in vols:
            box = world.interior_box(c)
            vols[c] = float(np.prod(box[1] - box[0])) if box is not None else math.inf
        return vols[c], c

    def top(s_: int) -> tuple[float, int]:
        if s_ not in tops:
            box = world.body_box(s_)
            tops[s_] = -(float(box[1, 2]) if box is not None else -math.inf)
        return tops[s_], s_

    for a in set(inside) | set(ontop):
        cs = inside.get(a)
        out[a] = min(cs, key=vol) if cs else min(ontop[a], key=top)
    # Shadow states are never changed in place, so the tree of one stays valid.
    world._parents_cache = (state, out)
    return out


def subtree(world, state, root: int) -> list[int]:
    """root and everything it carries, root first: its descendants in the support tree the core
    derives from geometry (innermost container, else highest support). Something resting on
    ``root`` inside a bigger container has that container as its parent, so it stays behind
    (the robot slides ``root`` out from under it), as the symbolic executor would leave it."""
    par = parents(world, state)
    children: dict[int, list[int]] = {}
    for c, p in par.items():
        children.setdefault(p, []).append(c)
    out, stack = [], [root]
    while stack:
        n = stack.pop()
        if n in out:
            continue
        out.append(n)
        stack.extend(sorted(children.get(n, []), reverse=True))
    return [m for m in out if m in world.bodies and m not in world.parked]


def root_of(world, state, o: int) -> int:
    par = parents(world, state)
    seen = 0
    while o in par and seen < len(world.names):
        o = par[o]
        seen += 1
    return o


# --------------------------------------------------------------------------- reach and navigation

def _base_half(world) -> float:
    return float(max(world.robot.half[0], world.robot.half[1]))


def reach_error(world, o: int, box: np.ndarray | None = None) -> str | None:
    if box is None:
        box = world.body_box(o)
    if box is None:
        return None
    x, y, _ = world.robot_pose
    d = G.xy_distance(box, (x, y))
    limit = _base_half(world) + world.config.reach_radius
    if d > limit + 1e-6:
        return f"{world.names[o]} is out of reach ({d:.2f} m from the robot, reach {limit:.2f} m)"
    if box[0, 2] > world.config.reach_height:
        return f"{world.names[o]} is out of reach ({box[0, 2]:.2f} m high, reach {world.config.reach_height:.2f} m)"
    return None


def _approach_and_reach(world, o: int, native: bool) -> str | None:
    if o < 0 or o in world.held_members():
        return None
    b = world.bodies.get(o)
    if b is None or o in world.parked or b.kind == "floor":
        return None
    if not native and world.config.auto_navigate:
        approach(world, o)
    return reach_error(world, o)


def room_of_point(world, x: float, y: float) -> str | None:
    for name, (lo, hi, _) in world.rooms.items():
        if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]:
            return name
    return None


def approach(world, o: int) -> None:
    """Walks the robot base to a free spot beside what ``o`` stands in or on, nearest to ``o``."""
    root = root_of(world, world.shadow, o)
    rbox = world.body_box(root)
    obox = world.body_box(o)
    if rbox is None or obox is None:
        return
    approach_point(world, obox, rbox)


def approach_point(world, obox: np.ndarray, rbox: np.ndarray) -> None:
    """Stands the base beside ``rbox`` (the furniture), at the free spot nearest to ``obox``."""
    bh = _base_half(world)
    gap = bh + 0.02
    cands = []
    lo, hi = rbox[0, :2], rbox[1, :2]
    for axis in (0, 1):
        other = 1 - axis
        n = max(1, int(math.ceil((hi[other] - lo[other]) / 0.2)))
        for t in np.linspace(lo[other] - bh, hi[other] + bh, n + 3):
            for sign in (-1, 1):
                p = np.zeros(2)
                p[axis] = hi[axis] + gap if sign > 0 else lo[axis] - gap
                p[other] = t
                yaw = math.atan2(-sign if axis == 1 else 0.0, -sign if axis == 0 else 0.0)
                cands.append((p[0], p[1], yaw))
    pts = np.array([(c[0], c[1]) for c in cands])
    target_c = (obox[0, :2] + obox[1, :2]) / 2
    dx = np.maximum(np.maximum(obox[0, 0] - pts[:, 0], pts[:, 0] - obox[1, 0]), 0.0)
    dy = np.maximum(np.maximum(obox[0, 1] - pts[:, 1], pts[:, 1] - obox[1, 1]), 0.0)
    dist = np.hypot(dx, dy) + 1e-3 * np.linalg.norm(pts - target_c, axis=1)
    in_room = _bases_in_room(world, pts, bh)
    h = world.config.robot_size[2]
    boxes = np.empty((len(pts), 2, 3))
    boxes[:, 0, :2] = pts - bh
    boxes[:, 1, :2] = pts + bh
    boxes[:, 0, 2] = 0.05
    boxes[:, 1, 2] = h
    obs, _ = P.obstacle_boxes(world, exclude=set())
    clear = P.free(boxes, obs)
    order = np.lexsort((np.arange(len(pts)), dist))
    for mask in (in_room & clear, in_room, np.ones(len(pts), bool)):
        ok = [i for i in order if mask[i]]
        if ok:
            x, y, yaw = cands[ok[0]]
            world.set_robot(x, y, yaw)
            return


def _bases_in_room(world, pts: np.ndarray, bh: float) -> np.ndarray:
    if not world.rooms:
        return np.ones(len(pts), bool)
    ok = np.zeros(len(pts), bool)
    for lo, hi, _ in world.rooms.values():
        ok |= ((pts[:, 0] >= lo[0] + bh) & (pts[:, 0] <= hi[0] - bh) & (pts[:, 1] >= lo[1] + bh) & (pts[:, 1] <= hi[1] - bh))
    return ok


def _base_in_room(world, p, bh) -> bool:
    for lo, hi, _ in world.rooms.values():
        if lo[0] + bh <= p[0] <= hi[0] - bh and lo[1] + bh <= p[1] <= hi[1] - bh:
            return True
    return not world.rooms


def _numbers(world, action) -> tuple[list[float], str]:
    """turn / move_forward numbers and go_to_room's room, from the core's description."""
    nums = getattr(action, "numbers", None)
    room = getattr(action, "room", None)
    text = world.core.describe(action)
    inner = text[text.find("(") + 1: text.rfind(")")]
    parts = [s.strip() for s in inner.split(",")] if inner else []
    if nums is None:
        nums = []
        for s in parts:
            try:
                nums.append(float(s))
            except ValueError:
                pass
    if room is None or isinstance(room, int):
        room = parts[-1] if parts else ""
    return list(nums), room


def navigate(world, action) -> str | None:
    name = action.name
    if name == "move":
        approach(world, action.objects[0])
        return None
    nums, room = _numbers(world, action)
    if any(not math.isfinite(v) for v in nums):
        return f"{name}: non-finite number"
    x, y, yaw = world.robot_pose
    if name == "turn":
        world.set_robot(x, y, _wrap(yaw + (nums[0] if nums else 0.0)))
        return None
    if name == "move_forward":
        d = nums[0] if nums else 0.0
        heading = _wrap(yaw + (nums[1] if len(nums) > 1 else 0.0))
        nx, ny = x + d * math.cos(heading), y + d * math.sin(heading)
        if world.rooms and room_of_point(world, nx, ny) is None:
            return f"move_forward({d:.2f}) would leave the rooms (to {nx:.2f}, {ny:.2f})"
        world.set_robot(nx, ny, heading)
        return None
    if name == "go_to_room":
        if room in world.rooms:
            lo, hi, _ = world.rooms[room]
            c = (lo + hi) / 2
            world.set_robot(c[0], c[1], yaw)
        return None
    return None


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


# --------------------------------------------------------------------------- grasp / release

def _missing(world, o: int) -> str | None:
    if o in world.bodies and o not in world.parked and world.bodies[o].kind != "floor":
        return None
    name = world.names[o]
    for lit, why in world.unrealised.items():
        if re.search(rf"[ (]{re.escape(name)}[ )]", lit):
            return f"{name} is not in the physical scene ({why})"
    return f"{name} is not in the physical scene"


def grasp(world, hand: int, o: int, native: bool) -> str | None:
    import sapien

    miss = _missing(world, o)
    if miss:
        return miss
    b = world.bodies[o]
    if not b.dynamic:
        return f"{world.names[o]} is fixed in the scene and cannot be picked up"
    err = _approach_and_reach(world, o, native)
    if err:
        return err
    members = subtree(world, world.shadow, o)
    hp = world.hand_pose(hand)
    # The unit hangs below the hand point: its box's top centre at the hand.
    boxes = [world.body_box(m) for m in members]
    lo = np.min([bx[0] for bx in boxes], axis=0)
    hi = np.max([bx[1] for bx in boxes], axis=0)
    shift = np.asarray(hp.p, float) - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2]])
    inv = hp.inv()
    rel_p, rel_q = [], []
    for m in members:
        pose = world.bodies[m].entity.pose
        moved = sapien.Pose(np.asarray(pose.p, np.float32) + shift.astype(np.float32), pose.q)
        rel = inv * moved
        rel_p.append(tuple(float(v) for v in rel.p))
        rel_q.append(tuple(float(v) for v in rel.q))
    world.held[hand] = Held(root=o, members=tuple(members), rel_p=tuple(rel_p), rel_q=tuple(rel_q))
    world._sync_body_modes(toggle=False)
    for m in members:
        r = world.bodies[m].rigid
        r.set_linear_velocity([0, 0, 0])
        r.set_angular_velocity([0, 0, 0])
    world._carry()
    world.settle()
    return None


def release(world, hand: int) -> str | None:
    """Puts the held unit down on the floor beside the robot (EAI's RELEASE drops it)."""
    held = world.held[hand]
    if held is None:
        return None
    x, y, _ = world.robot_pose
    floor = _floor_at(world, x, y)
    if floor is None:
        region = P.Region(xy=np.array([[x - 2.0, y - 2.0], [x + 2.0, y + 2.0]]), z=0.0)
    else:
        fb = world.floor_boxes[floor]
        region = P.Region(xy=fb[:, :2].copy(), z=float(fb[1, 2]))
    hp = world.hand_pose(hand)
    anchor = np.asarray(hp.p, float)
    res = _put(world, hand, region, anchor, verify=None, target_name="the floor near the robot")
    return res


def _floor_at(world, x: float, y: float) -> int | None:
    for idx, fb in sorted(world.floor_boxes.items()):
        if fb[0, 0] <= x <= fb[1, 0] and fb[0, 1] <= y <= fb[1, 1]:
            return idx
    return None


# --------------------------------------------------------------------------- placing

def _unit_box(world, members) -> np.ndarray:
    boxes = [world.body_box(m) for m in members]
    return np.stack([np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)])


def _is_floor(world, t: int) -> bool:
    return "floor" in world.abilities[t]


def _support_region(world, t: int) -> tuple[P.Region, int | None, str] | None:
    """Where things next to ``t`` go: the surface ``t`` stands on (a container's interior, a
    support's top, or its floor). (region, support object, how)."""
    par = parents(world, world.shadow)
    p = par.get(t)
    tb = world.body_box(t)
    if p is not None:
        inner = world.interior_box(p)
        if inner is not None and G.inside(tb, inner):
            return P.Region(xy=inner[:, :2].copy(), z=float(tb[0, 2]), max_top=float(inner[1, 2])), p, "inside"
        sb = world.body_box(p)
        return P.Region(xy=sb[:, :2].copy(), z=float(sb[1, 2])), p, "ontop"
    c = (tb[0] + tb[1]) / 2
    f = _floor_at(world, c[0], c[1])
    if f is None:
        return None
    fb = world.floor_boxes[f]
    return P.Region(xy=fb[:, :2].copy(), z=float(fb[1, 2])), f, "onfloor"


def _floor_region(world, f: int) -> P.Region:
    fb = world.floor_boxes[f]
    return P.Region(xy=fb[:, :2] + np.array([[0.02, 0.02], [-0.02, -0.02]]), z=float(fb[1, 2]))


def place(world, hand: int, relation: str, targets: list[int], native: bool) -> str | None:
    held = world.held[hand]
    if held is None:
        return None
    o = held.root
    on = world.names[o]
    t = targets[0]
    for x in targets:
        if not (_is_floor(world, x) and x in world.floor_boxes):
            miss = _missing(world, x)
            if miss:
                return miss
    tn = world.names[t]
    nav = not native and world.config.auto_navigate
    if nav and not _is_floor(world, t) and t not in world.held_members():
        approach(world, t)
    if relation == "ontop":
        if _is_floor(world, t):
            fb = world.floor_boxes[t]
            if nav:
                enter_room(world, fb)
            x, y, _ = world.robot_pose
            return _put(world, hand, _floor_region(world, t), np.array([x, y, 0.0]), lambda box: G.onfloor(box, fb),
                        tn, relation="on", nav=nav)
        tb = world.body_box(t)
        region = P.Region(xy=tb[:, :2].copy(), z=float(tb[1, 2]))
        return _put(world, hand, region, None, lambda box: G.ontop(box, world.body_box(t)), tn,
                    relation="on", overhang=True, nav=nav, near=t)
    if relation == "inside":
        inner = world.interior_box(t)
        if inner is None and _is_floor(world, t):
            return f"nothing can be inside the floor {tn}: place {on} on it"
        if inner is None:
            return f"{tn} has no inside in the physical scene"
        region = P.Region(xy=inner[:, :2].copy(), z=float(inner[0, 2]), max_top=float(inner[1, 2]))
        levels = _inside_levels(world, t, inner, held.members)
        return _put(world, hand, region, None, lambda box: G.inside(box, world.interior_box(t)), tn,
                    relation="in", levels=levels, interior=inner, lying=True, nav=nav, near=t)
    if relation == "under":
        if _is_floor(world, t):
            return f"nothing can go under the floor {tn}"
        cov = world.body_box(t)
        sup = _support_region(world, t)
        if sup is None:
            return f"{tn} stands on no floor: nothing can go under it"
        base = sup[0]
        xy = np.stack([np.maximum(base.xy[0], cov[0, :2]), np.minimum(base.xy[1], cov[1, :2])])
        if np.any(xy[1] <= xy[0]) or cov[0, 2] <= base.z + 1e-3:
            return f"there is no space under {tn}"
        region = P.Region(xy=xy, z=base.z, max_top=float(cov[0, 2]) + G.CONTACT_GAP - 0.001)
        return _put(world, hand, region, (cov[0] + cov[1]) / 2, lambda box: G.under(box, world.body_box(t)), tn,
                    relation="under", nav=nav, near=t)
    if relation in ("nextto", "nextto_ontop"):
        if relation == "nextto_ontop":
            s_ = targets[1]
            if _is_floor(world, s_):
                fb = world.floor_boxes[s_]
                region = _floor_region(world, s_)
                on_s = lambda box: G.onfloor(box, fb)  # noqa: E731
            else:
                sb = world.body_box(s_)
                region = P.Region(xy=sb[:, :2].copy(), z=float(sb[1, 2]))
                on_s = lambda box: G.ontop(box, world.body_box(s_))  # noqa: E731
        else:
            if _is_floor(world, t):
                return f"{on} cannot be placed next to the floor {tn}: place it on the floor"
            sup = _support_region(world, t)
            if sup is None:
                return f"{tn} stands on nothing: there is no surface next to it"
            region = sup[0]
            on_s = None
        verify = (lambda box: G.nextto(box, world.body_box(t)) and (on_s is None or on_s(box)))  # noqa: E731
        return _put(world, hand, region, None, verify, tn, relation="next to", beside=t, nav=nav, near=t)
    return None


def enter_room(world, floor_box: np.ndarray) -> None:
    """Walks into the room of a floor when the robot stands elsewhere."""
    x, y, yaw = world.robot_pose
    lo, hi = floor_box[0, :2], floor_box[1, :2]
    if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]:
        return
    bh = _base_half(world)
    nx = float(np.clip(x, lo[0] + bh + 0.05, hi[0] - bh - 0.05))
    ny = float(np.clip(y, lo[1] + bh + 0.05, hi[1] - bh - 0.05))
    world.set_robot(nx, ny, yaw)


def _inside_levels(world, container: int, inner: np.ndarray, exclude) -> list[tuple[float, float]]:
    """(floor z, ceiling z) of the surfaces inside a container: its floor and shelf boards, and
    the tops of what is already in it (things stack in a basket)."""
    b = world.bodies[container]
    floors = [float(inner[0, 2])] + [float(z) for z in b.shelves]
    from .scene_build import SHELF_THICKNESS
    ceilings = [float(z) - SHELF_THICKNESS for z in b.shelves] + [float(inner[1, 2])]
    levels = list(zip(floors, ceilings))
    held = world.held_members()
    tops = []
    for idx, ob in sorted(world.bodies.items()):
        if idx in exclude or idx in held or idx in world.parked or not ob.dynamic or ob.kind == "agent":
            continue
        box = world.body_box(idx)
        if G.inside(box, inner):
            z = float(box[1, 2])
            ceiling = min((c for f, c in levels if f <= z + 1e-6 and c > z), default=float(inner[1, 2]))
            tops.append((z, ceiling))
    return levels + sorted(set(tops))


_QX = np.array([math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0])   # a quarter turn about x
_QY = np.array([math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0])   # ... about y
_QZ = np.array([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)])   # ... about z
_Q1 = np.array([1.0, 0.0, 0.0, 0.0])


def _qmul(a, b) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _options(world, members, lying: bool) -> list[tuple[np.ndarray, np.ndarray, int | None]]:
    """Ways to put the unit down: (rotation about its centre, resulting AABB size, fold or None).
    As held, a quarter turn; a single object also on its sides (``lying``, inside containers) and,
    for cloth, folded in four and in sixteen (the scene builder's choices)."""
    size = _unit_box(world, members)[1] - _unit_box(world, members)[0]
    rots = [_Q1, _QZ]
    if lying and len(members) == 1:
        rots += [_QX, _qmul(_QZ, _QX), _QY, _qmul(_QZ, _QY)]
    out = []
    for q in rots:
        r = np.abs(G.quat_to_matrix(q))
        out.append((q, r @ size, None))
    o = members[0]
    if len(members) == 1 and o in world.variants:
        cur = world.bodies[o].variant
        for v, alt in enumerate(world.variants[o]):
            if v <= cur:
                continue
            fsize = 2 * alt.half
            for q in (_Q1, _QZ):
                out.append((q, np.abs(G.quat_to_matrix(q)) @ fsize, v))
    # Keep the first of equal sizes (a cube turned is the same cube).
    seen, uniq = [], []
    for opt in out:
        key = (tuple(np.round(opt[1], 4)), opt[2])
        if key not in seen:
            seen.append(key)
            uniq.append(opt)
    return uniq


def _put(world, hand: int, region: P.Region, anchor, verify, target_name: str, relation: str = "on",
         levels=None, interior=None, beside: int | None = None, overhang: bool = False, lying: bool = False,
         nav: bool = False, near: int | None = None) -> str | None:
    """Finds a free pose for the held unit in ``region`` (or beside ``beside``), releases it there,
    settles and checks ``verify`` on the held object's box. Tries a few candidates. With ``nav``
    the robot walks to a free spot it cannot reach from where it stands."""
    held = world.held[hand]
    o, members = held.root, list(held.members)
    on = world.names[o]
    # A target held in the other hand: the piece joins what that hand carries.
    carrier = world.held_members().get(near) if near is not None else None
    obstacles, _ = P.obstacle_boxes(world, exclude=set(members), carried_by=carrier)
    levels = levels or [(region.z, region.max_top)]
    fits_any = False
    tried = 0
    unverified = 0
    apart = False
    level_z = level_h = 0.0
    last_fail = None
    out_of_reach = False
    for q, size, variant in _options(world, members, lying):
        for z, ceiling in levels:
            if z + size[2] > min(ceiling, region.max_top) + 1e-9:
                continue
            lvl = P.Region(xy=region.xy, z=z, max_top=ceiling, full_footprint=True)
            if np.any(lvl.xy[1] - lvl.xy[0] < size[:2] - 1e-9):
                if not overhang:
                    continue
                lvl = P.Region(xy=region.xy, z=z, max_top=ceiling, full_footprint=False)
            fits_any = True
            level_z, level_h = z, float(size[2])
            if beside is not None:
                # Every free spot within reach of kNextToGap of the reference, nearest first.
                tb = world.body_box(beside)
                near_xy = np.stack([np.maximum(lvl.xy[0], tb[0, :2] - G.NEXTTO_GAP - size[:2]),
                                    np.minimum(lvl.xy[1], tb[1, :2] + G.NEXTTO_GAP + size[:2])])
                if np.any(near_xy[1] <= near_xy[0]):
                    apart = True
                    continue
                centres = P.grid(P.Region(xy=near_xy, z=z, max_top=ceiling, full_footprint=lvl.full_footprint),
                                 size[:2], (tb[0] + tb[1]) / 2)
            else:
                a = _corner_anchor(world, lvl) if anchor is None else np.asarray(anchor, float)
                centres = P.grid(lvl, size[:2], a)
            if len(centres) == 0:
                continue
            cboxes = P.candidate_boxes(centres, size, z + world.config.drop_clearance)
            mask = P.free(cboxes, obstacles)
            if beside is not None and len(members) == 1:
                # The same test as ``verify`` (with its millimetre to spare), for all at once.
                tb = world.body_box(beside)
                low = cboxes - np.array([0, 0, world.config.drop_clearance + 0.001])
                high = cboxes - np.array([0, 0, world.config.drop_clearance - 0.001])
                close = G.nextto_many(low, tb) & G.nextto_many(high, tb)
                unverified += int(np.count_nonzero(mask & ~close))
                mask &= close
            for k in np.flatnonzero(mask):
                root_box = cboxes[k].copy() if len(members) == 1 else _root_box_at(world, members, o, q, cboxes[k])
                root_box[:, 2] -= world.config.drop_clearance
                # Must hold with a millimetre to spare: where it lands is not exact.
                if verify is not None and not (verify(root_box) and verify(root_box - np.array([0, 0, 0.001]))
                                               and verify(root_box + np.array([0, 0, 0.001]))):
                    unverified += 1
                    continue
                if _reach(world, cboxes[k]) is not None:
                    if not nav:
                        out_of_reach = True
                        continue
                    rbox = world.body_box(root_of(world, world.shadow, near)) if near is not None else cboxes[k]
                    approach_point(world, cboxes[k], rbox)
                    if _reach(world, cboxes[k]) is not None:
                        out_of_reach = True
                        continue
                tried += 1
                snap = world.snapshot()
                failure = _release_at(world, hand, q, variant, cboxes[k], verify, on, target_name, relation, carrier)
                if failure is None:
                    return None
                last_fail = failure
                world.restore(snap)
                if tried >= MAX_PLACE_TRIES:
                    return last_fail
    if last_fail:
        return last_fail
    osz = _unit_box(world, members)
    odims = "x".join(f"{v:.2f}" for v in (osz[1] - osz[0]))
    if len(members) > 1:
        on = f"{on} with {', '.join(world.names[m] for m in members[1:])} on or in it"
    if not fits_any:
        if interior is not None:
            dims = "x".join(f"{v:.2f}" for v in (interior[1] - interior[0]))
            return f"{on} ({odims} m) does not fit inside {target_name} (interior {dims} m)"
        if relation == "under":
            return f"{on} ({osz[1, 2] - osz[0, 2]:.2f} m tall) does not fit under {target_name}"
        return f"{on} ({odims} m) does not fit {relation} {target_name}"
    if out_of_reach:
        return f"the free room {relation} {target_name} for {on} is out of the robot's reach"
    if apart and not unverified and beside is not None:
        return f"{target_name} is not within {G.NEXTTO_GAP:.2f} m of where {on} must go"
    if unverified and beside is not None:
        tb = world.body_box(beside)
        return (f"no free spot beside {target_name} makes {on} next to it (standing there it would span "
                f"{level_z:.2f}-{level_z + level_h:.2f} m high, {target_name} spans {tb[0, 2]:.2f}-{tb[1, 2]:.2f} m)")
    return f"no room {relation} {target_name} for {on}"


def _corner_anchor(world, region: P.Region) -> np.ndarray:
    """Pack from the region's corner nearest the robot, so that later things still find room."""
    x, y, _ = world.robot_pose
    lo, hi = region.xy
    return np.array([lo[0] if abs(x - lo[0]) <= abs(x - hi[0]) else hi[0],
                     lo[1] if abs(y - lo[1]) <= abs(y - hi[1]) else hi[1], region.z])


def _reach(world, box: np.ndarray) -> str | None:
    x, y, _ = world.robot_pose
    if G.xy_distance(box, (x, y)) > _base_half(world) + world.config.reach_radius + 1e-6:
        return "far"
    if box[0, 2] > world.config.reach_height:
        return "high"
    return None


def _root_box_at(world, members, o, q, cand_box) -> np.ndarray:
    """The held object's box if the unit's box were ``cand_box`` after turning by ``q`` (a turn
    about z: multi-object units only turn that way)."""
    unit = _unit_box(world, members)
    rb = world.body_box(o)
    uc = (unit[0] + unit[1]) / 2
    r = G.quat_to_matrix(q)
    corners = np.array([[x, y, z] for x in (rb[0, 0], rb[1, 0]) for y in (rb[0, 1], rb[1, 1])
                        for z in (rb[0, 2], rb[1, 2])]) - uc
    rc = corners @ r.T
    cc = (cand_box[0] + cand_box[1]) / 2
    return np.stack([cc + rc.min(axis=0), cc + rc.max(axis=0)])


def _release_at(world, hand: int, q, variant: int | None, cand_box: np.ndarray, verify, on: str, tn: str,
                relation: str, carrier: int | None = None) -> str | None:
    import sapien

    held = world.held[hand]
    members = list(held.members)
    unit = _unit_box(world, members)
    uc = (unit[0] + unit[1]) / 2
    cc = (cand_box[0] + cand_box[1]) / 2
    r = G.quat_to_matrix(q)
    world.held[hand] = None
    if variant is not None:
        world.set_fold(held.root, variant, sapien.Pose(cc.astype(np.float32), np.asarray(q, np.float32)))
    else:
        for m in members:
            e = world.bodies[m].entity
            pose = e.pose
            rel = r @ (np.asarray(pose.p, float) - uc)
            qn = _qmul(q, np.asarray(pose.q, float))
            e.pose = sapien.Pose((cc + rel).astype(np.float32), (qn / np.linalg.norm(qn)).astype(np.float32))
    if carrier is not None and world.held[carrier] is not None:
        # Into / onto something held in the other hand: carried with it, nothing to settle.
        c = world.held[carrier]
        inv = world.hand_pose(carrier).inv()
        rel = [inv * world.bodies[m].entity.pose for m in members]
        world.held[carrier] = Held(root=c.root, members=c.members + tuple(members),
                                   rel_p=c.rel_p + tuple(tuple(float(v) for v in r.p) for r in rel),
                                   rel_q=c.rel_q + tuple(tuple(float(v) for v in r.q) for r in rel))
        world._sync_body_modes(toggle=False)
        world._carry()
        box = world.body_box(held.root)
        return None if verify is None or verify(box) else f"{on} did not come to rest {relation} {tn}"
    world._sync_body_modes(toggle=False)
    for m in members:
        rig = world.bodies[m].rigid
        rig.set_linear_velocity([0, 0, 0])
        rig.set_angular_velocity([0, 0, 0])
    world.settle()
    bad = world.check_finite()
    if bad is not None:
        return f"the simulation diverged (non-finite pose of {bad})"
    if verify is None:
        return None
    box = world.body_box(held.root)
    if verify(box):
        return None
    if relation in ("on", "in") and box[0, 2] < cand_box[0, 2] - 0.05:
        return f"{on} fell {'off' if relation == 'on' else 'out of'} {tn}"
    if relation == "under":
        return f"{on} did not stay under {tn}"
    return f"{on} did not come to rest {relation} {tn}"


def transfer(world, hand: int, relation: str, t: int) -> str | None:
    """Pours what the held object carries into / onto ``t``, one piece (with what is on or in
    it) at a time; the held object stays in the hand."""
    held = world.held[hand]
    if held is None:
        return None
    miss = _missing(world, t)
    if miss:
        return miss
    if world.config.auto_navigate:
        approach(world, t)
    par = parents(world, world.shadow)
    spare = 1 - hand
    saved = world.held[spare]
    for c in [m for m in held.members if par.get(m) == held.root]:
        cur = world.held[hand]
        piece = [i for i, m in enumerate(cur.members) if m == c or _descends(par, m, c)]
        rest = [i for i in range(len(cur.members)) if i not in piece]
        world.held[hand] = Held(root=cur.root, members=tuple(cur.members[i] for i in rest),
                                rel_p=tuple(cur.rel_p[i] for i in rest), rel_q=tuple(cur.rel_q[i] for i in rest))
        # The piece is placed from the other hand's slot (restored afterwards): `place` puts down
        # whatever a hand holds.
        world.held[spare] = Held(root=c, members=tuple(cur.members[i] for i in piece),
                                 rel_p=tuple(cur.rel_p[i] for i in piece), rel_q=tuple(cur.rel_q[i] for i in piece))
        err = place(world, spare, relation, [t], native=True)
        world.held[spare] = saved
        world._sync_body_modes(toggle=False)
        world._carry()
        if err:
            return err
    return None


def _descends(par: dict[int, int], m: int, root: int) -> bool:
    seen = 0
    while m in par and seen < 1000:
        m = par[m]
        if m == root:
            return True
        seen += 1
    return False


# --------------------------------------------------------------------------- joints

def actuate(world, o: int, open_: bool, native: bool) -> str | None:
    """Drives a door or drawer to fully open / closed, in at most ``joint_steps`` steps."""
    b = world.bodies.get(o)
    if b is None or b.joint is None:
        return _approach_and_reach(world, o, native) if b is not None else None
    err = _approach_and_reach(world, o, native)
    if err:
        return err
    lo, hi = b.joint_range
    target = hi if open_ else lo
    b.joint.set_drive_target(target)
    cfg = world.config
    tol = cfg.joint_tolerance * (hi - lo)
    steps = 0
    while steps < cfg.joint_steps:
        for _ in range(cfg.settle_check_every):
            world.sim.step()
        steps += cfg.settle_check_every
        q = float(b.articulation.qpos[0])
        if abs(q - target) <= tol and abs(float(b.articulation.qvel[0])) < 0.05:
            break
    world.steps += steps
    world.settle()
    frac = world.joint_fraction(o)
    if open_ and frac < G.OPEN_FRACTION:
        return f"{world.names[o]} is blocked: it opened only to {100 * frac:.0f}%"
    if not open_ and frac >= G.OPEN_FRACTION:
        return f"{world.names[o]} is blocked: it closed only to {100 * frac:.0f}% open"
    return None


# --------------------------------------------------------------------------- slicing

def realise_slice(world, w: int, settle: bool = True) -> None:
    """The whole leaves (parked); its parts take its place, split along its longest side."""
    import sapien

    whole = world.bodies[w]
    parts = [p for p in range(len(world.names)) if world.whole_of[p] == w and p in world.bodies]
    if not parts:
        return
    pose = whole.entity.pose
    k = int(np.argmax(2 * whole.half[:2]))
    offset = np.zeros(3)
    offset[k] = whole.half[k] / 2
    for j, p in enumerate(parts[:2]):
        sign = -1.0 if j == 0 else 1.0
        world.bodies[p].entity.pose = pose * sapien.Pose((sign * offset).astype(np.float32))
        world.parked.discard(p)
    for h, held in enumerate(world.held):
        if held is not None and held.root == w:
            world.held[h] = None
    world.parked.add(w)
    whole.entity.pose = sapien.Pose(world._park_position(w).astype(np.float32))
    world._sync_body_modes(toggle=False)
    if settle:
        world.settle()
