"""Scene builder (python/emx/scenes): layout, honest failures, scene files, schematic."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import emx
from emx import _core
from emx.scenes import (SceneFileError, SceneWarning, build_scene, build_scenes, cache_key, check_relations,
                        draw_schematic, interior_box, load_priors, load_scene, mass_of, object_box, save_scene,
                        scene_path, show_scene, size_prior)
from emx.scenes import predicates as P

EAI = "eai-behavior"


@pytest.fixture(scope="module")
def eai_tasks():
    return emx.load_tasks(EAI)


@pytest.fixture(scope="module")
def eai_scenes(eai_tasks):
    return {t.id: build_scene(t, 0) for t in eai_tasks}


def _bddl(tmp_path, name, objects, init, goal="(and (onfloor agent.n.01_1 floor.n.01_1))"):
    text = (f"(define (problem {name})\n (:domain omnigibson)\n (:objects\n  {objects}\n"
            f"  floor.n.01_1 - floor.n.01\n  agent.n.01_1 - agent.n.01\n )\n (:init\n  {init}\n"
            f"  (inroom floor.n.01_1 kitchen)\n  (ontop agent.n.01_1 floor.n.01_1)\n )\n (:goal {goal})\n)\n")
    path = tmp_path / f"{name}.bddl"
    path.write_text(text)
    return emx.load_task(str(path))


def _scene_dict(eai_tasks, k=0):
    t = eai_tasks[k]
    s = build_scene(t, 0)
    s["cache_key"] = cache_key(t.spec.bddl_text, 0)
    return t, s


# --------------------------------------------------------------------------- coverage and correctness

def test_coverage_eai(eai_scenes):
    bad = {tid: s["unrealised"] for tid, s in eai_scenes.items() if s["unrealised"]}
    realised = len(eai_scenes) - len(bad)
    assert len(eai_scenes) == 100
    assert realised >= 95, f"{realised}/100 fully realised; failures:\n" + "\n".join(
        f"{tid}: " + "; ".join(f"{u['literal']}: {u['reason']}" for u in us) for tid, us in bad.items())


def test_every_realised_init_relation_holds(eai_tasks, eai_scenes):
    for t in eai_tasks:
        scene = eai_scenes[t.id]
        unrealised = {u["literal"] for u in scene["unrealised"]}
        checked = check_relations(t, scene)
        assert checked, t.id
        wrong = [lit for lit, holds in checked if not holds and lit not in unrealised]
        assert not wrong, f"{t.id}: {wrong}"
        # every object is in the scene or explained
        names = {o["name"] for o in scene["objects"]}
        for o in t.visible_objects:
            if "substance" in o.abilities:
                continue
            assert o.name in names or any(o.name in u["literal"] for u in scene["unrealised"]), (t.id, o.name)


def _within(a, c, tol=0.011):
    return bool(np.all(a[0] >= c[0] - tol) and np.all(a[1] <= c[1] + tol))


def test_no_interpenetration(eai_scenes):
    for tid, scene in eai_scenes.items():
        objs = [o for o in scene["objects"] if o["kind"] not in ("floor", "agent")]
        boxes = [object_box(o) for o in objs]
        inner = [interior_box(o) for o in objs]
        for i in range(len(objs)):
            for j in range(i + 1, len(objs)):
                a, b = boxes[i], boxes[j]
                if np.all(np.minimum(a[1], b[1]) - np.maximum(a[0], b[0]) > 1e-4):
                    ok = (inner[j] is not None and _within(a, inner[j])) or (inner[i] is not None and _within(b, inner[i]))
                    assert ok, f"{tid}: {objs[i]['name']} and {objs[j]['name']} interpenetrate"
        for room in scene["rooms"]:   # everything stays inside its room
            for o in objs:
                if o["room"] == room["name"]:
                    box = object_box(o)
                    assert box[0, 0] >= room["min"][0] - 1e-6 and box[1, 0] <= room["max"][0] + 1e-6, (tid, o["name"])
                    assert box[0, 1] >= room["min"][1] - 1e-6 and box[1, 1] <= room["max"][1] + 1e-6, (tid, o["name"])


def test_deterministic(eai_tasks):
    t = eai_tasks[0]
    a = json.dumps(build_scene(t, 7), sort_keys=True)
    b = json.dumps(build_scene(t, 7), sort_keys=True)
    c = json.dumps(build_scene(t, 8), sort_keys=True)
    assert a == b
    assert a != c
    with pytest.raises(ValueError, match="seed"):
        build_scene(t, -1)


def test_furniture_articulations_and_legs(eai_tasks, eai_scenes):
    by_id = {t.id.split("_0_")[0]: eai_scenes[t.id] for t in eai_tasks}
    objs = {o["name"]: o for o in by_id["bottling_fruit"]["objects"]}
    fridge = objs["fridge_97"]
    assert fridge["kind"] == "container" and fridge["fixed"]
    assert fridge["articulation"]["type"] == "revolute" and fridge["articulation"]["open_fraction"] == 0.0
    assert fridge["yaw"] % (math.pi / 2) == pytest.approx(0.0, abs=1e-4) or \
        abs(fridge["yaw"] % (math.pi / 2) - math.pi / 2) < 1e-4
    assert objs["strawberry_0"]["placed_by"] == {"relation": "inside", "target": "fridge_97"}
    # open at init -> open_fraction 1
    doors = [o for o in by_id["locking_every_door"]["objects"] if o["category"] == "door.n.01"]
    assert doors and any(d["articulation"]["open_fraction"] == 1.0 for d in doors)
    # under a table: the table's body is its top, on legs
    misplaced = {o["name"]: o for o in by_id["collect_misplaced_items"]["objects"]}
    table = misplaced["coffee_table_33"]
    assert table["legs"]["height"] > 0
    assert P.box_under(object_box(misplaced["gym_shoe_0"]), object_box(table))
    # a tree that must stand on the floor keeps its whole box on the floor
    tree = {o["name"]: o for o in by_id["putting_up_Christmas_decorations_inside"]["objects"]}["christmas_tree_decorated_112"]
    assert tree["legs"] is None and object_box(tree)[0, 2] == pytest.approx(0.0, abs=1e-6)


def test_rooms_and_floors(eai_scenes):
    for tid, scene in eai_scenes.items():
        floors = [o for o in scene["objects"] if o["kind"] == "floor"]
        for f in floors:
            box = object_box(f)
            assert box[1, 2] == pytest.approx(0.0, abs=1e-6), tid
        rooms = scene["rooms"]
        for r1, r2 in zip(rooms, rooms[1:]):
            assert r1["max"][0] < r2["min"][0], tid   # side by side, not overlapping


# --------------------------------------------------------------------------- honest failures

def test_no_room_on_a_small_table(tmp_path):
    objects = " ".join(f"book.n.02_{k}" for k in range(1, 41)) + " - book.n.02\n  table.n.02_1 - table.n.02"
    init = "\n  ".join(f"(ontop book.n.02_{k} table.n.02_1)" for k in range(1, 41)) + "\n  (inroom table.n.02_1 kitchen)"
    task = _bddl(tmp_path, "crowded_table", objects, init)
    scene = build_scene(task, 0)
    reasons = [u["reason"] for u in scene["unrealised"]]
    assert reasons, "40 books cannot all lie on one table"
    assert all(r.startswith("no room on table.n.02_1 for book.n.02_") for r in reasons), reasons
    assert "needs" in reasons[0] and "left" in reasons[0]
    placed = [o for o in scene["objects"] if o["category"] == "book.n.02"]
    assert len(placed) + len(reasons) == 40
    assert all(h for lit, h in check_relations(task, scene) if lit not in {u["literal"] for u in scene["unrealised"]})


def test_fridge_does_not_fit_in_a_cup(tmp_path):
    task = _bddl(tmp_path, "fridge_in_cup",
                 "electric_refrigerator.n.01_1 - electric_refrigerator.n.01\n  cup.n.01_1 - cup.n.01\n  table.n.02_1 - table.n.02",
                 "(inside electric_refrigerator.n.01_1 cup.n.01_1)\n  (ontop cup.n.01_1 table.n.02_1)\n  (inroom table.n.02_1 kitchen)")
    scene = build_scene(task, 0)
    assert len(scene["unrealised"]) == 1
    u = scene["unrealised"][0]
    assert u["literal"] == "(inside electric_refrigerator.n.01_1 cup.n.01_1)"
    assert "does not fit inside cup.n.01_1" in u["reason"] and "interior" in u["reason"]
    assert "electric_refrigerator.n.01_1" not in {o["name"] for o in scene["objects"]}


def test_cyclic_and_orphan_placements(tmp_path):
    task = _bddl(tmp_path, "cycle", "box.n.01_1 box.n.01_2 - box.n.01",
                 "(ontop box.n.01_1 box.n.01_2)\n  (ontop box.n.01_2 box.n.01_1)")
    scene = build_scene(task, 0)
    assert {u["literal"] for u in scene["unrealised"]} == {"(ontop box.n.01_1 box.n.01_2)", "(ontop box.n.01_2 box.n.01_1)"}
    assert all("cyclic" in u["reason"] for u in scene["unrealised"])


def test_unknown_category_gets_default_size_and_warning(tmp_path):
    task = _bddl(tmp_path, "unknown_thing",
                 "flux_capacitor.n.01_1 - flux_capacitor.n.01\n  table.n.02_1 - table.n.02",
                 "(ontop flux_capacitor.n.01_1 table.n.02_1)\n  (inroom table.n.02_1 kitchen)")
    with pytest.warns(SceneWarning, match="flux_capacitor.n.01"):
        scene = build_scene(task, 0)
    assert any("unknown category" in w for w in scene["warnings"])
    obj = {o["name"]: o for o in scene["objects"]}["flux_capacitor.n.01_1"]
    assert sorted(obj["size"]) == [0.15, 0.15, 0.15]
    assert not scene["unrealised"]


# --------------------------------------------------------------------------- sizes and materials

def test_size_priors_cover_eai_without_defaults(eai_tasks):
    for t in eai_tasks:
        for o in t.visible_objects:
            prior, warning = size_prior(o.category, o.name, "fixed" in o.abilities)
            assert warning is None, warning
            assert all(0 < v <= 20 for v in prior.size)


def test_size_prior_fallbacks():
    assert size_prior("coffee_table.n.01")[0].source == "category:coffee_table.n.01"
    assert size_prior("table.n.02", "coffee_table_33", True)[0].source == "name:coffee_table"
    assert size_prior("liquid_soap__bottle.n.01")[0].source.startswith("compound:")
    assert size_prior("carton__of__milk.n.01")[0].size[0] < 0.2     # a milk carton, not a moving box
    half = size_prior("half__apple.n.01")[0]
    assert half.size[0] == pytest.approx(size_prior("apple.n.01")[0].size[0] / 2)
    anc = size_prior("artichoke.n.02")[0]
    assert anc.source.startswith("ancestor:")
    furniture = size_prior("some_unknown_cupboard.n.01", fixed=True)
    assert furniture[1] and max(furniture[0].size) >= 0.5


def test_priors_file_validation(tmp_path):
    table = load_priors()
    assert len(table.categories) > 500
    doc = json.loads(open(table.path).read())
    doc["categories"]["apple.n.01"]["size"][1] = -3
    bad = tmp_path / "priors.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"categories\.apple\.n\.01: size\[1\]"):
        load_priors(bad)
    bad.write_text("{ truncated")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_priors(bad)


def test_materials():
    assert mass_of([0.1, 0.1, 0.1], "metal", "item") > mass_of([0.1, 0.1, 0.1], "fabric", "item") > 0
    with pytest.raises(ValueError, match="unknown material"):
        mass_of([0.1, 0.1, 0.1], "unobtainium", "item")


# --------------------------------------------------------------------------- predicates

@pytest.mark.skipif(not P.using_core(), reason="emx._core has no geometry bindings in this build")
def test_python_predicates_match_core():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        lo = rng.uniform(-1, 1, (2, 3))
        a = np.stack([lo[0], lo[0] + rng.uniform(0.01, 0.6, 3)]).astype(np.float32)
        b = np.stack([lo[1], lo[1] + rng.uniform(0.01, 0.6, 3)]).astype(np.float32)
        if rng.random() < 0.5:   # make contact cases common
            a[:, 2] += b[1, 2] - a[0, 2] + rng.uniform(-0.03, 0.03)
        for name in ("ontop", "inside", "nextto", "under", "onfloor"):
            core = bool(getattr(_core, f"box_{name}")(a, b))
            assert P.python_predicates[name](a, b) == core, (name, a, b)


def test_python_predicates_basics():
    table = np.array([[0, 0, 0.7], [1.2, 0.8, 0.75]])
    cup = np.array([[0.1, 0.1, 0.75], [0.2, 0.2, 0.85]])
    shoe = np.array([[0.3, 0.3, 0.0], [0.6, 0.4, 0.12]])
    floor = np.array([[-1, -1, -0.05], [3, 3, 0.0]])
    assert P.py_ontop(cup, table) and not P.py_ontop(table, cup)
    assert P.py_under(shoe, table) and P.py_onfloor(shoe, floor)
    assert P.py_inside(cup, np.array([[0, 0, 0.7], [1, 1, 1.0]]))
    assert P.py_nextto(cup, np.array([[0.25, 0.1, 0.75], [0.35, 0.2, 0.85]]))


# --------------------------------------------------------------------------- scene files

def test_round_trip_and_atomic_write(tmp_path, eai_tasks):
    t, scene = _scene_dict(eai_tasks)
    path = save_scene(scene, tmp_path)
    assert path == scene_path(tmp_path, t.id, scene["cache_key"])
    assert load_scene(path, t) == scene
    assert [p.name for p in tmp_path.iterdir()] == [path.name]   # no temporary left behind
    again = save_scene(scene, tmp_path / "named.json")
    assert load_scene(again) == scene


def test_cache_key():
    k = cache_key("(define (problem x))", 0)
    assert k == cache_key("(define (problem x))", 0)
    assert k != cache_key("(define (problem x))", 1)
    assert k != cache_key("(define (problem y))", 0)
    assert len(k) == 64


def _write(tmp_path, text, name="scene.json"):
    p = tmp_path / name
    p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    return p


def _expect(path, match, task=None):
    with pytest.raises(SceneFileError) as e:
        load_scene(path, task)
    assert str(path) in str(e.value)
    assert e.value.file == str(path)
    assert match in str(e.value), str(e.value)
    return e.value


def test_bad_scene_files(tmp_path, eai_tasks):
    t, scene = _scene_dict(eai_tasks, 1)   # bottling_fruit: a fridge with a door
    good = json.dumps(scene)

    _expect(_write(tmp_path, good[: len(good) // 2]), "truncated")
    _expect(_write(tmp_path, ""), "empty file")
    _expect(_write(tmp_path, b"\xff\xfe\x00garbage"), "not UTF-8")
    _expect(_write(tmp_path, "[1, 2"), "not valid JSON")
    _expect(tmp_path / "missing.json", "no such scene file")

    def mutated(fn, name="m.json"):
        d = json.loads(good)
        fn(d)
        return _write(tmp_path, json.dumps(d), name)

    e = _expect(mutated(lambda d: d["objects"][3]["size"].__setitem__(1, float("nan"))), "objects[3].size[1]")
    assert "NaN" in str(e) and e.path == "objects[3].size[1]"
    _expect(mutated(lambda d: d["objects"][2]["size"].__setitem__(0, 500.0)), "objects[2].size[0]: must be a number in (0, 20] m, got 500.0")
    _expect(mutated(lambda d: d["objects"][1]["position"].__setitem__(2, float("inf"))), "objects[1].position[2]")
    _expect(mutated(lambda d: d["objects"][0].__setitem__("yaw", float("nan"))), "objects[0].yaw")
    _expect(mutated(lambda d: d.__setitem__("version", 2)), "version: unsupported scene format version 2")
    _expect(mutated(lambda d: d.__setitem__("format", "something")), "format:")
    _expect(mutated(lambda d: d["objects"][0].__setitem__("kind", "spaceship")), "objects[0].kind")
    _expect(mutated(lambda d: d["objects"][1].__setitem__("name", d["objects"][0]["name"])), "duplicate object name")
    _expect(mutated(lambda d: d["objects"][0].pop("size")), "objects[0].size: missing")
    _expect(mutated(lambda d: d["rooms"][0].__setitem__("max", [0, 0])), "rooms[0].max[0]")
    _expect(mutated(lambda d: d["objects"][0].__setitem__("name", "ghost_1")), "not an object of task", task=t)
    _expect(mutated(lambda d: d.__setitem__("task_hash", "0" * 64)), "task_hash", task=t)
    fridge = next(k for k, o in enumerate(scene["objects"]) if o["articulation"])
    _expect(mutated(lambda d: d["objects"][fridge]["articulation"].__setitem__("open_fraction", 3)),
            f"objects[{fridge}].articulation.open_fraction")
    with pytest.raises(SceneFileError, match="objects"):
        save_scene({**scene, "objects": "nope"}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------- batch and schematic

def test_build_scenes_report_and_cache(tmp_path, eai_tasks):
    tasks = eai_tasks[:5]
    calls = []
    report = build_scenes(tasks, tmp_path, seed=0, progress=lambda d, n, tid: calls.append((d, n, tid)), settle=False)
    assert report["n"] == 5 and report["built"] == 5 and report["errors"] == 0
    assert report["fully_realised"] == 5 and calls[-1][:2] == (5, 5)
    assert all(os.path.exists(e["path"]) and e["settle"] is None for e in report["per_task"])
    again = build_scenes(tasks, tmp_path, seed=0, settle=False)
    assert again["cached"] == 5 and again["built"] == 0
    # a corrupt cache file is rebuilt, not trusted
    victim = report["per_task"][0]["path"]
    with open(victim, "w") as f:
        f.write('{"format": "emx-scene", "vers')
    third = build_scenes(tasks, tmp_path, seed=0, settle=False)
    assert third["built"] == 1 and third["cached"] == 4
    assert any("rebuilt" in w for w in third["per_task"][0]["warnings"])
    assert load_scene(victim, tasks[0])["task_id"] == tasks[0].id


def test_build_scenes_settles_when_physics_exists(tmp_path, eai_tasks):
    pytest.importorskip("sapien")
    try:
        import emx.sim  # noqa: F401
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"emx.sim not importable: {e}")
    report = build_scenes(eai_tasks[:1], tmp_path, seed=0)
    entry = report["per_task"][0]
    assert report["physics"] == "available", report["physics"]
    assert entry["settle"] is not None and {"steps", "relations_ok"} <= set(entry["settle"]), entry


def test_schematic_png(tmp_path, eai_tasks):
    pytest.importorskip("matplotlib")
    t, scene = _scene_dict(eai_tasks, 1)
    path = save_scene(scene, tmp_path)
    info = show_scene(path, tmp_path / "plan.png")
    data = (tmp_path / "plan.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert info["task"] == t.id and info["objects"] == len(scene["objects"])
    draw_schematic(scene, tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == data   # deterministic pixels
    with pytest.raises(SceneFileError):
        show_scene(tmp_path / "nope.json", tmp_path / "x.png")


def test_nextto_and_under_placements(tmp_path):
    task = _bddl(
        tmp_path, "beside",
        "apple.n.01_1 - apple.n.01\n  pear.n.01_1 - pear.n.01\n  bucket.n.01_1 - bucket.n.01\n"
        "  gym_shoe.n.01_1 - gym_shoe.n.01\n  table.n.02_1 - table.n.02\n"
        "  electric_refrigerator.n.01_1 - electric_refrigerator.n.01",
        "(ontop apple.n.01_1 table.n.02_1)\n  (nextto pear.n.01_1 apple.n.01_1)\n"
        "  (nextto bucket.n.01_1 electric_refrigerator.n.01_1)\n  (under gym_shoe.n.01_1 table.n.02_1)\n"
        "  (inroom table.n.02_1 kitchen)\n  (inroom electric_refrigerator.n.01_1 kitchen)")
    for seed in range(5):
        scene = build_scene(task, seed)
        assert not scene["unrealised"], scene["unrealised"]
        checked = dict(check_relations(task, scene))
        assert checked["(nextto pear.n.01_1 apple.n.01_1)"] and checked["(under gym_shoe.n.01_1 table.n.02_1)"]
        assert checked["(nextto bucket.n.01_1 electric_refrigerator.n.01_1)"]
        objs = {o["name"]: o for o in scene["objects"]}
        # the pear shares the apple's support: the table top
        assert object_box(objs["pear.n.01_1"])[0, 2] == pytest.approx(object_box(objs["table.n.02_1"])[1, 2], abs=1e-4)
        # the bucket stands on the floor, out of the fridge door's way
        assert object_box(objs["bucket.n.01_1"])[0, 2] == pytest.approx(0.0, abs=1e-6)


def test_nothing_rests_over_an_open_top(tmp_path):
    task = _bddl(tmp_path, "over_the_bowl",
                 "apple.n.01_1 - apple.n.01\n  plate.n.04_1 - plate.n.04\n  bowl.n.01_1 bowl.n.01_2 - bowl.n.01\n"
                 "  table.n.02_1 - table.n.02",
                 "(ontop bowl.n.01_1 table.n.02_1)\n  (ontop bowl.n.01_2 table.n.02_1)\n"
                 "  (ontop apple.n.01_1 bowl.n.01_1)\n  (ontop plate.n.04_1 bowl.n.01_2)\n"
                 "  (inroom table.n.02_1 kitchen)")
    scene = build_scene(task, 0)
    assert [u["literal"] for u in scene["unrealised"]] == ["(ontop apple.n.01_1 bowl.n.01_1)"]
    assert "would fall in" in scene["unrealised"][0]["reason"]
    # a plate wider than the bowl's mouth bridges it
    assert dict(check_relations(task, scene))["(ontop plate.n.04_1 bowl.n.01_2)"]
