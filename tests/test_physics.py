"""Physics mode (emx.sim): relations from geometry, honest physical failures, snapshots, the same
error types as symbolic mode, bad input. A small hand-made kitchen keeps it fast and independent
of the scene builder."""

from __future__ import annotations

import copy
import math

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
