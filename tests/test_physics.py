"""Physics mode (emx.sim): relations from geometry, honest physical failures, snapshots, the same
error types as symbolic mode, bad input. A small hand-made kitchen keeps it fast and independent
of the scene builder."""

from __future__ import annotations

import copy

import numpy as np
import pytest

sapien = pytest.importorskip("sapien", reason="physics mode needs SAPIEN (pip install sapien==3.0.3)")

import emx  # noqa: E402
from emx import _core  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(_core, "relations_from_geometry"),
                                reason="emx._core was built without relations_from_geometry")

KITCHEN_BDDL = """
(define (problem physics_kitchen_0)
    (:domain omnigibson)
    (:objects
        apple_0 - apple.n.01
        rag_0 - rag.n.01
        carving_knife_0 - carving_knife.n.01
        jar_0 - jar.n.01
        plate_0 - plate.n.04
        saucepan_0 - saucepan.n.01
        bucket_0 - bucket.n.01
        breakfast_table_0 coffee_table_0 - table.n.02
        cabinet_0 - cabinet.n.01
        sink_0 - sink.n.01
        stove_0 - stove.n.01
        room_floor_kitchen_0 - floor.n.01
        agent.n.01_1 - agent.n.01
    )
    (:init
        (ontop apple_0 breakfast_table_0)
        (ontop rag_0 breakfast_table_0)
        (ontop carving_knife_0 breakfast_table_0)
        (ontop jar_0 breakfast_table_0)
        (open jar_0)
        (ontop plate_0 coffee_table_0)
        (ontop saucepan_0 stove_0)
        (onfloor bucket_0 room_floor_kitchen_0)
        (not (open cabinet_0))
        (onfloor agent.n.01_1 room_floor_kitchen_0)
        (inroom breakfast_table_0 kitchen)
        (inroom coffee_table_0 kitchen)
        (inroom cabinet_0 kitchen)
        (inroom sink_0 kitchen)
        (inroom stove_0 kitchen)
        (inroom room_floor_kitchen_0 kitchen)
    )
    (:goal
        (and
            (inside apple_0 cabinet_0)
            (not (open cabinet_0))
            (soaked rag_0)
        )
    )
)
"""


def _obj(name, category, kind, size, position, **extra):
    d = {"name": name, "category": category, "kind": kind, "size": list(size), "position": list(position),
         "yaw": 0.0, "mass": 1.0, "friction": 0.6, "material": "wood", "room": "kitchen",
         "fixed": kind in ("floor", "furniture") or extra.pop("fixed", False), "articulation": None,
         "interior": None, "placed_by": None}
    d.update(extra)
    return d


def kitchen_scene() -> dict:
    objs = [
        _obj("room_floor_kitchen_0", "floor.n.01", "floor", (5, 4, 0.02), (2.5, 2.0, -0.01)),
        # Legged furniture: the box is the top slab (the scene builder's convention).
        _obj("breakfast_table_0", "table.n.02", "furniture", (1.2, 0.8, 0.05), (2.5, 2.0, 0.725), legs={"height": 0.7}),
        _obj("coffee_table_0", "table.n.02", "furniture", (0.3, 0.3, 0.05), (4.2, 3.2, 0.425), legs={"height": 0.4}),
        _obj("cabinet_0", "cabinet.n.01", "container", (0.6, 0.5, 0.8), (0.3, 1.0, 0.4), fixed=True,
             interior={"min": [0.02, 0.77, 0.06], "max": [0.58, 1.23, 0.78]},
             articulation={"type": "revolute", "range": [0.0, 1.5708], "open_fraction": 0.0, "hinge_side": "left"}),
        _obj("sink_0", "sink.n.01", "container", (0.6, 0.5, 0.9), (0.3, 3.0, 0.45), fixed=True,
             interior={"min": [0.05, 2.8, 0.7], "max": [0.55, 3.2, 0.9]}),
        _obj("stove_0", "stove.n.01", "furniture", (0.6, 0.6, 0.9), (4.6, 0.5, 0.45)),
        _obj("saucepan_0", "saucepan.n.01", "container", (0.25, 0.25, 0.12), (4.6, 0.5, 0.96),
             interior={"min": [4.49, 0.39, 0.91], "max": [4.71, 0.61, 1.02]}),
        _obj("apple_0", "apple.n.01", "item", (0.08, 0.08, 0.08), (2.3, 2.0, 0.79), mass=0.2),
        _obj("rag_0", "rag.n.01", "item", (0.2, 0.2, 0.02), (2.7, 2.0, 0.76), mass=0.1),
        _obj("carving_knife_0", "carving_knife.n.01", "item", (0.25, 0.03, 0.02), (2.5, 2.25, 0.76), mass=0.2),
        _obj("jar_0", "jar.n.01", "container", (0.1, 0.1, 0.14), (2.9, 1.8, 0.82), mass=0.3,
             interior={"min": [2.87, 1.77, 0.77], "max": [2.93, 1.83, 0.89]}),
        _obj("plate_0", "plate.n.04", "item", (0.28, 0.28, 0.02), (4.2, 3.2, 0.46), mass=0.4),
        _obj("bucket_0", "bucket.n.01", "item", (0.4, 0.4, 0.45), (1.5, 3.2, 0.225), mass=1.5),
        _obj("agent.n.01_1", "agent.n.01", "agent", (0.5, 0.5, 1.2), (2.5, 1.0, 0.6)),
    ]
    return {"format": "emx-scene", "version": 1, "task_id": "physics_kitchen_0", "task_hash": "", "seed": 0,
            "rooms": [{"name": "kitchen", "floor": "room_floor_kitchen_0", "min": [0.0, 0.0], "max": [5.0, 4.0]}],
            "objects": objs, "unrealised": [], "settle": None}


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    path = tmp_path_factory.mktemp("physics") / "physics_kitchen_0.bddl"
    path.write_text(KITCHEN_BDDL)
    return emx.load_task(str(path))


@pytest.fixture()
def world(task):
    from emx.sim import PhysicsWorld
    return PhysicsWorld(task, kitchen_scene())


def eai(task, name, *objs):
    return task.core.eai_action(name, list(objs))


PLAN = [("OPEN", "cabinet_0"), ("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_INSIDE", "cabinet_0"), ("CLOSE", "cabinet_0"),
        ("RIGHT_GRASP", "rag_0"), ("RIGHT_PLACE_INSIDE", "sink_0"), ("TOGGLE_ON", "sink_0"), ("SOAK", "rag_0")]


def run_plan(world, task, plan):
    return world.run([eai(task, n, *o) for n, *o in plan])


def atoms(world, name):
    return {a for a in world.true_atoms() if name in a[1:]}


def scene_with(**changes):
    """The kitchen with some objects' fields replaced: scene_with(apple_0={"position": ...})."""
    scene = kitchen_scene()
    for o in scene["objects"]:
        if o["name"] in changes:
            o.update(copy.deepcopy(changes[o["name"]]))
    return scene


# --------------------------------------------------------------------------- geometry


def test_python_predicates_match_the_core():
    from emx.sim import geometry as G

    rng = np.random.default_rng(0)
    pairs = {"ontop": (G.ontop, _core.box_ontop), "inside": (G.inside, _core.box_inside),
             "nextto": (G.nextto, _core.box_nextto), "under": (G.under, _core.box_under),
             "onfloor": (G.onfloor, _core.box_onfloor)}
    assert (G.CONTACT_GAP, G.NEXTTO_GAP, G.OPEN_FRACTION) == pytest.approx(
        (_core.CONTACT_GAP, _core.NEXTTO_GAP, _core.OPEN_FRACTION))
    for _ in range(400):
        lo = rng.uniform(-1, 1, (2, 3)).round(2)
        size = rng.uniform(0.05, 1, (2, 3)).round(2)
        a = np.stack([lo[0], lo[0] + size[0]]).astype(np.float32)
        b = np.stack([lo[1], lo[1] + size[1]]).astype(np.float32)
        if rng.random() < 0.5:  # make contact likely
            a[:, 2] += b[1, 2] - a[0, 2]
        for name, (py, core) in pairs.items():
            assert py(a, b) == core(a, b), (name, a.tolist(), b.tolist())


def test_initial_relations_come_from_geometry(world):
    have = set(world.true_atoms())
    for rel in [("ontop", "apple_0", "breakfast_table_0"), ("ontop", "plate_0", "coffee_table_0"),
                ("ontop", "saucepan_0", "stove_0"), ("onfloor", "bucket_0", "room_floor_kitchen_0"),
                ("open", "jar_0", "")]:
        assert rel in have
    assert ("open", "cabinet_0", "") not in have
    report = world.settle_and_verify()
    assert report["relations_ok"] and report["violations"] == []
    assert report["steps"] <= world.config.initial_settle_steps


def test_oracle_style_plan_succeeds_and_the_goal_reads_physics(task, world):
    from emx.sim import evaluate_physics

    d = evaluate_physics(task, [eai(task, n, o) for n, o in PLAN], True, "default", world=world)
    assert d["success"] and d["first_error"] == "none" and d["executed"] == len(PLAN)
    assert ("inside", "apple_0", "cabinet_0") in world.true_atoms()
    assert world.joint_fraction(world.index["cabinet_0"]) < 0.1          # physically closed again
    box = world.body_box(world.index["apple_0"])
    assert box[0, 2] >= world.interior_box(world.index["cabinet_0"])[0, 2] - 0.01


def test_carrying_moves_contents_and_transfer_pours_them(task, world):
    executed, trace = run_plan(world, task, [("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_INSIDE", "saucepan_0"),
                                             ("LEFT_GRASP", "saucepan_0"), ("LEFT_PLACE_ONTOP", "breakfast_table_0")])
    assert executed == 4, trace
    assert {("inside", "apple_0", "saucepan_0"), ("ontop", "saucepan_0", "breakfast_table_0")} <= set(world.true_atoms())
    executed, trace = run_plan(world, task, [("LEFT_GRASP", "saucepan_0"), ("LEFT_TRANSFER_CONTENTS_ONTOP", "breakfast_table_0")])
    assert executed == 2, trace
    assert ("ontop", "apple_0", "breakfast_table_0") in world.true_atoms()


def test_place_under_needs_room_below_the_top(task, world):
    executed, trace = run_plan(world, task, [("RIGHT_GRASP", "bucket_0"), ("RIGHT_PLACE_UNDER", "breakfast_table_0")])
    assert executed == 2, trace
    assert ("under", "bucket_0", "breakfast_table_0") in world.true_atoms()


def test_cloth_is_folded_to_fit(task):
    from emx.sim import PhysicsWorld

    w = PhysicsWorld(task, scene_with(rag_0={"size": [0.36, 0.36, 0.005], "material": "fabric"}))
    executed, trace = run_plan(w, task, [("RIGHT_GRASP", "rag_0"), ("RIGHT_PLACE_INSIDE", "saucepan_0")])
    assert executed == 2, trace
    assert w.bodies[w.index["rag_0"]].variant >= 1
    assert ("inside", "rag_0", "saucepan_0") in w.true_atoms()


def test_slicing_puts_the_parts_where_the_whole_was(task, world):
    executed, trace = run_plan(world, task, [("LEFT_GRASP", "carving_knife_0"), ("SLICE", "apple_0")])
    assert executed == 2, trace
    have = set(world.true_atoms())
    assert {("ontop", "apple_0_part_0", "breakfast_table_0"), ("ontop", "apple_0_part_1", "breakfast_table_0"),
            ("sliced", "apple_0", "")} <= have


# --------------------------------------------------------------------------- honest failures


@pytest.mark.parametrize("plan, expected", [
    ([("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_ONTOP", "coffee_table_0")], "no room on coffee_table_0 for apple_0"),
    ([("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_INSIDE", "jar_0")], "apple_0 (0.08x0.08x0.08 m) does not fit inside jar_0"),
    ([("RIGHT_GRASP", "bucket_0"), ("RIGHT_PLACE_UNDER", "coffee_table_0")], "bucket_0 (0.45 m tall) does not fit under coffee_table_0"),
])
def test_physics_fails_honestly(task, world, plan, expected):
    executed, trace = run_plan(world, task, plan)
    assert executed == len(plan) - 1
    error, message = trace[-1]
    assert error == "physics" and message.startswith(expected), trace


def test_a_failed_step_changes_nothing(task, world):
    run_plan(world, task, [("RIGHT_GRASP", "apple_0")])
    poses, shadow = world.poses(), world.shadow
    out = world.step(eai(task, "RIGHT_PLACE_ONTOP", "coffee_table_0"))
    assert out.error == "physics"
    assert np.array_equal(world.poses(), poses) and world.shadow == shadow
    assert world.shadow.hands[1] == world.index["apple_0"]


def test_a_closed_container_is_a_symbolic_mistake(task, world):
    executed, trace = run_plan(world, task, [("RIGHT_GRASP", "bucket_0"), ("RIGHT_PLACE_INSIDE", "cabinet_0")])
    assert trace[-1] == ("missing_step", "cabinet_0 is closed, open it first")


def test_a_blocked_door_does_not_open(task):
    from emx.sim import PhysicsWorld

    # The stove right in front of the cabinet's door (its front faces +x).
    w = PhysicsWorld(task, scene_with(stove_0={"position": [0.91, 1.0, 0.45]},
                                      saucepan_0={"position": [0.91, 1.0, 0.96],
                                                  "interior": {"min": [0.8, 0.89, 0.91], "max": [1.02, 1.11, 1.02]}}))
    out = w.step(eai(task, "OPEN", "cabinet_0"))
    assert out.error == "physics" and "cabinet_0 is blocked" in out.message
    assert ("open", "cabinet_0", "") not in w.true_atoms()


def test_out_of_reach(task):
    from emx.sim import PhysicsWorld

    w = PhysicsWorld(task, scene_with(
        breakfast_table_0={"position": [2.5, 2.0, 2.325], "legs": {"height": 2.3}},
        apple_0={"position": [2.3, 2.0, 2.39]}, rag_0={"position": [2.7, 2.0, 2.36]},
        carving_knife_0={"position": [2.5, 2.25, 2.36]}, jar_0={"position": [2.9, 1.8, 2.42], "interior": {
            "min": [2.87, 1.77, 2.37], "max": [2.93, 1.83, 2.49]}}))
    out = w.step(eai(task, "RIGHT_GRASP", "apple_0"))
    assert out.error == "physics" and "apple_0 is out of reach" in out.message and "high" in out.message


# --------------------------------------------------------------------------- same errors as symbolic


MISTAKES = [
    [("RIGHT_GRASP", "breakfast_table_0")],
    [("RIGHT_PLACE_ONTOP", "breakfast_table_0")],
    [("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_INSIDE", "cabinet_0")],
    [("OPEN", "jar_0"), ("OPEN", "breakfast_table_0")],
    [("RIGHT_GRASP", "rag_0"), ("RIGHT_GRASP", "apple_0")],
    [("SOAK", "rag_0")],
    [("COOK", "apple_0")],
    [("SLICE", "apple_0")],
    [("LEFT_RELEASE", "apple_0")],
    [("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_INSIDE", "rag_0")],
    [("RIGHT_GRASP", "apple_0"), ("LEFT_GRASP", "rag_0"), ("TOGGLE_ON", "sink_0")],
    [("RIGHT_GRASP", "apple_0"), ("RIGHT_PLACE_ONTOP", "apple_0")],
    [("CLOSE", "cabinet_0")],
    [("OPEN", "cabinet_0"), ("RIGHT_GRASP", "bucket_0"), ("RIGHT_PLACE_INSIDE", "cabinet_0"), ("CLOSE", "cabinet_0"),
     ("RIGHT_GRASP", "bucket_0")],
]


@pytest.mark.parametrize("plan", MISTAKES, ids=lambda p: "+".join(a for a, *_ in p))
def test_same_error_types_as_symbolic_mode(task, world, plan):
    from emx.sim import evaluate_physics

    actions = [eai(task, n, *o) for n, *o in plan]
    reward = _core.reward_preset("default")
    sym = _core.evaluate(task.core, actions, True, reward)
    phys = evaluate_physics(task, actions, True, reward, world=world)
    assert [(s["error"], s["message"]) for s in phys["trace"]] == [(s["error"], s["message"]) for s in sym["trace"]]
    assert phys["first_error"] == sym["first_error"] and phys["executed"] == sym["executed"]
    assert any(step["error"] != "none" for step in sym["trace"])   # each plan holds a mistake


def test_unknown_names_are_reported_as_in_symbolic_mode(task, world):
    from emx.sim import evaluate_physics

    for action in (task.core.eai_action("FLY", ["apple_0"]), task.core.eai_action("RIGHT_GRASP", ["unicorn_0"])):
        sym = _core.evaluate(task.core, [action], True, _core.reward_preset("default"))
        phys = evaluate_physics(task, [action], True, "default", world=world)
        assert phys["first_error"] == sym["first_error"] in ("unknown_action", "unknown_object")


def test_native_vocabulary_moves_the_robot(task, world):
    idx = world.index
    native = task.core.native_action
    out = world.step(native("pick_up", [idx["apple_0"]]))
    sym = task.core.initial_state.copy()
    assert (out.error, out.message) == task.core.apply(sym, native("pick_up", [idx["apple_0"]]))[1:]
    before = list(world.robot_pose)
    assert world.step(native("move", [idx["apple_0"]])).ok
    assert world.robot_pose != before
    assert world.step(native("pick_up", [idx["apple_0"]])).ok
    assert world.step(native("move", [idx["saucepan_0"]])).ok
    assert world.step(native("place", [idx["saucepan_0"]], relation="inside")).ok
    assert ("inside", "apple_0", "saucepan_0") in world.true_atoms()
    assert world.step(native("turn", [], [1.0])).ok
    out = world.step(native("move_forward", [], [40.0, 0.0]))
    assert out.error == "physics" and "leave the rooms" in out.message
    assert world.step(native("go_to_room", [], [], "", "kitchen")).ok


# --------------------------------------------------------------------------- snapshots


def test_restore_is_exact_and_replays_identically(task, world):
    plan = [eai(task, n, o) for n, o in PLAN]
    snap = world.snapshot()
    poses, shadow = world.poses(), world.shadow
    runs = []
    for _ in range(3):
        world.restore(snap)
        assert np.array_equal(world.poses(), poses) and world.shadow == shadow and world.held == [None, None]
        executed, trace = world.run(plan)
        runs.append((executed, trace, sorted(world.true_atoms()), world.poses(), world.shadow))
    for r in runs[1:]:
        assert r[:3] == runs[0][:3] and r[4] == runs[0][4]
        # PhysX keeps contact caches pack() cannot hold: poses agree to well under a millimetre.
        assert np.abs(r[3] - runs[0][3]).max() < 1e-5


def test_a_plan_prefix_snapshot_continues_like_the_straight_run(task, world):
    plan = [eai(task, n, o) for n, o in PLAN]
    world.run(plan[:3])
    mid = world.snapshot()
    world.run(plan[3:])
    straight = (sorted(world.true_atoms()), world.poses(), world.goal())
    world.restore(mid)
    assert world.history == list(mid.history)
    world.run(plan[3:])
    assert sorted(world.true_atoms()) == straight[0] and world.goal() == straight[2]
    assert np.abs(world.poses() - straight[1]).max() < 1e-5


def test_a_snapshot_belongs_to_its_world(task, world):
    from emx.sim import PhysicsWorld

    other = PhysicsWorld(task, kitchen_scene())
    with pytest.raises(ValueError, match="another PhysicsWorld"):
        other.restore(world.snapshot())


# --------------------------------------------------------------------------- bad input, bounds


@pytest.mark.parametrize("field, value, message", [
    ("position", [2.3, float("nan"), 0.79], r"objects\[\d+\]\.position\[1\]: must be a finite number, got nan"),
    ("size", [0.08, 0.08, float("inf")], r"objects\[\d+\]\.size\[2\]: must be a finite number"),
    ("size", [0.08, -1.0, 0.08], r"objects\[\d+\]\.size\[1\]: must be a positive number"),
    ("yaw", float("nan"), r"objects\[\d+\]\.yaw: must be a finite number"),
])
def test_bad_scene_numbers_are_clear_errors(task, field, value, message):
    from emx.sim import PhysicsWorld, SceneError

    with pytest.raises(SceneError, match=message):
        PhysicsWorld(task, scene_with(apple_0={field: value}))


def test_unknown_scene_objects_are_clear_errors(task):
    from emx.sim import PhysicsWorld, SceneError

    scene = kitchen_scene()
    scene["objects"].append(copy.deepcopy(scene["objects"][-2]) | {"name": "ghost_0"})
    with pytest.raises(SceneError, match="'ghost_0' is not an object of the task"):
        PhysicsWorld(task, scene)


def test_non_finite_native_numbers_never_reach_the_simulator(task, world):
    a = task.core.native_action("move_forward", [], [float("nan"), 0.0])
    out = world.step(a)
    assert not out.ok and out.error == "wrong_arity"


def test_a_diverged_simulation_is_a_physics_error_and_is_undone(task, world, monkeypatch):
    poses = world.poses()
    monkeypatch.setattr(type(world), "check_finite", lambda self: "apple_0")
    out = world.step(eai(task, "RIGHT_GRASP", "apple_0"))
    assert out.error == "physics" and "diverged" in out.message
    monkeypatch.undo()
    assert np.array_equal(world.poses(), poses) and world.shadow.hands == (-1, -1)


def test_settling_is_bounded_in_steps_not_time(task):
    from emx.sim import PhysicsConfig, PhysicsWorld

    w = PhysicsWorld(task, scene_with(apple_0={"position": [2.3, 2.0, 3.0]}),
                     PhysicsConfig(initial_settle_steps=16, settle_check_every=8), settle=True)
    assert w.initial_settle_steps <= 16
    # An apple dropped from 30 m falls for ~2.5 s (600 steps): a budget of 400 steps ends the
    # settle, and the same budget always ends it at the same step and pose (no wall clock).
    runs = [PhysicsWorld(task, scene_with(apple_0={"position": [2.3, 2.0, 30.0]}),
                         PhysicsConfig(initial_settle_steps=400), settle=True) for _ in range(2)]
    assert [r.initial_settle_steps for r in runs] == [400, 400]
    assert np.array_equal(runs[0].poses(), runs[1].poses())


def test_format_failures_need_no_physics(task):
    from emx.sim import evaluate_physics

    d = evaluate_physics(task, [], False, "embomatrix", scene={"not": "a scene"})
    assert d["format_ok"] is False and d["reward"] == pytest.approx(_core.reward_preset("embomatrix").format_fail)


# --------------------------------------------------------------------------- camera


def test_rgb_camera_needs_a_render_device(world):
    from emx.sim import PhysicsUnavailable
    from emx.sim.render import RgbCamera, render_available

    ok, why = render_available()
    if ok:
        pytest.skip(f"a render device exists ({why}): the camera test below covers it")
    with pytest.raises(PhysicsUnavailable, match="render device"):
        RgbCamera(world)


def _render_skip_reason():
    try:
        from emx.sim.render import render_available
        ok, why = render_available()
    except Exception as e:  # pragma: no cover
        return f"rendering unavailable: {e}"
    return None if ok else f"needs a render device (GPU with Vulkan): {why}"


@pytest.mark.skipif(_render_skip_reason() is not None, reason=str(_render_skip_reason()))
def test_rgb_camera_observation(task, world):
    from emx.sim.render import RgbCamera

    cam = RgbCamera(world, width=64, height=48)
    img = cam.rgb()
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 0
    world.step(eai(task, "RIGHT_GRASP", "apple_0"))
    assert cam.rgb().shape == (48, 64, 3)


def test_batch_evaluation_matches_one_by_one(task, monkeypatch):
    import emx.sim.evaluate as E
    from emx.sim import evaluate_physics, evaluate_physics_batch

    scene = kitchen_scene()
    monkeypatch.setattr(E, "scene_for", lambda t: scene)
    plans = [[eai(task, n, o) for n, o in PLAN], [eai(task, n, *o) for n, *o in MISTAKES[2]], []]
    items = [(task, p, bool(p)) for p in plans]
    batch = evaluate_physics_batch(items, "default", threads=2)
    single = [evaluate_physics(task, p, ok, "default", scene) for _, p, ok in items]
    for b, s in zip(batch, single):
        assert (b["success"], b["first_error"], b["executed"], b["reward"]) == (s["success"], s["first_error"], s["executed"], s["reward"])
    assert batch[0]["success"] and batch[2]["format_ok"] is False


def test_placing_into_a_container_held_in_the_other_hand(task, world):
    executed, trace = run_plan(world, task, [("LEFT_GRASP", "saucepan_0"), ("RIGHT_GRASP", "apple_0"),
                                             ("RIGHT_PLACE_INSIDE", "saucepan_0"), ("LEFT_PLACE_ONTOP", "breakfast_table_0")])
    assert executed == 4, trace
    assert {("inside", "apple_0", "saucepan_0"), ("ontop", "saucepan_0", "breakfast_table_0")} <= set(world.true_atoms())
