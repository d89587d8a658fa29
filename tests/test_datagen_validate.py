"""The data engine's validators reject crafted bad tasks, each with the right stage and reason."""

from __future__ import annotations

import pytest

from emx.datagen.canonical import canonical_goal
from emx.datagen.validate import validate_bddl


def problem(objects: str, init: str, goal: str) -> str:
    return f"""(define (problem crafted-0)
    (:domain omnigibson)
    (:objects
        {objects}
        floor.n.01_1 - floor.n.01
        agent.n.01_1 - agent.n.01
    )
    (:init
        {init}
        (inroom floor.n.01_1 kitchen)
        (ontop agent.n.01_1 floor.n.01_1)
    )
    (:goal (and {goal}))
)"""


APPLE = "apple.n.01_1 - apple.n.01\n countertop.n.01_1 - countertop.n.01\n electric_refrigerator.n.01_1 - electric_refrigerator.n.01"
APPLE_INIT = ("(ontop apple.n.01_1 countertop.n.01_1) (inroom countertop.n.01_1 kitchen) "
              "(inroom electric_refrigerator.n.01_1 kitchen)")
GOOD = problem(APPLE, APPLE_INIT, "(inside apple.n.01_1 electric_refrigerator.n.01_1)")


def test_a_good_task_passes_every_stage():
    v = validate_bddl(GOOD, "good", physical=True)
    assert v.ok, v.message
    assert v.passed == ["syntax", "vocabulary", "symbolic", "physical"]
    assert [a["action"] for a in v.plan][-1].endswith("PLACE_INSIDE")
    assert v.scene is not None and v.scene["settle"] is not None


BAD = [
    ("unbalanced", GOOD[:-3], "syntax", "BDDL error"),
    ("undeclared object", GOOD.replace("(inside apple.n.01_1", "(inside pear.n.01_1"), "syntax", "BDDL error"),
    ("unknown category",
     problem("apple.n.01_1 - apple.n.01\n gizmo.n.99_1 - gizmo.n.99", "(ontop apple.n.01_1 floor.n.01_1)",
             "(ontop apple.n.01_1 gizmo.n.99_1)"), "vocabulary", "unknown category"),
    ("open a non-openable",
     problem(APPLE, APPLE_INIT, "(open countertop.n.01_1)"), "vocabulary", "not openable"),
    ("toggle a non-toggleable",
     problem(APPLE, APPLE_INIT, "(toggled_on apple.n.01_1)"), "vocabulary", "not toggleable"),
    ("inside a non-container",
     problem(APPLE, APPLE_INIT, "(inside apple.n.01_1 countertop.n.01_1)"), "vocabulary", "not container"),
    # the C++ compiler already refuses it, naming file:line:col
    ("inroom in the goal",
     problem(APPLE, APPLE_INIT, "(inroom apple.n.01_1 kitchen)"), "syntax", "BDDL error"),
    ("predicate not allowed",
     problem(APPLE, APPLE_INIT, "(grasped apple.n.01_1 agent.n.01_1)"), "vocabulary", "predicate not allowed"),
    ("moves furniture",
     problem(APPLE, APPLE_INIT, "(ontop countertop.n.01_1 floor.n.01_1)"), "vocabulary", "moves furniture"),
    ("furniture without a room",
     problem(APPLE, "(ontop apple.n.01_1 countertop.n.01_1)", "(ontop apple.n.01_1 floor.n.01_1)"),
     "vocabulary", "furniture without a room"),
    ("too many objects",
     problem(APPLE + "\n " + " ".join(f"plate.n.04_{i}" for i in range(1, 8)) + " - plate.n.04",
             APPLE_INIT + " " + " ".join(f"(ontop plate.n.04_{i} countertop.n.01_1)" for i in range(1, 8)),
             "(inside apple.n.01_1 electric_refrigerator.n.01_1)"), "vocabulary", "too many objects"),
    ("contradictory goal",
     problem(APPLE, APPLE_INIT, "(open electric_refrigerator.n.01_1) (not (open electric_refrigerator.n.01_1))"),
     "symbolic", "oracle:"),
    ("goal already holds",
     problem(APPLE, APPLE_INIT, "(ontop apple.n.01_1 countertop.n.01_1)"), "symbolic", "goal already holds"),
    ("cannot be laid out",
     problem("sofa.n.01_1 - sofa.n.01\n bowl.n.01_1 - bowl.n.01\n apple.n.01_1 - apple.n.01",
             "(inside sofa.n.01_1 bowl.n.01_1) (ontop bowl.n.01_1 floor.n.01_1) (inroom sofa.n.01_1 kitchen) "
             "(ontop apple.n.01_1 floor.n.01_1)",
             "(inside apple.n.01_1 bowl.n.01_1)"), "physical", "unrealised"),
]


@pytest.mark.parametrize("name,bddl,stage,reason", BAD, ids=[b[0] for b in BAD])
def test_crafted_bad_tasks_are_rejected_with_the_right_reason(name, bddl, stage, reason):
    v = validate_bddl(bddl, name.replace(" ", "_"), physical=True)
    assert not v.ok, f"{name}: accepted"
    assert v.stage == stage, (name, v.stage, v.reason, v.message)
    assert v.reason.startswith(reason), (name, v.reason, v.message)
    assert v.message
    if name == "inroom in the goal":
        assert "only allowed in :init" in v.message
    assert v.key == f"{stage}: {v.reason}"


def test_canonical_goal_ignores_instance_names_and_order():
    cats = {"apple.n.01_1": "apple.n.01", "apple.n.01_2": "apple.n.01", "bowl.n.01_3": "bowl.n.01"}
    a = canonical_goal(["(inside apple.n.01_1 bowl.n.01_3)", "(not (open bowl.n.01_3))"], cats)
    b = canonical_goal(["(not (open bowl.n.01_3))", "(inside apple.n.01_2 bowl.n.01_3)"], cats)
    assert a == b
    assert a != canonical_goal(["(ontop apple.n.01_1 bowl.n.01_3)"], cats)
    rooms = {"bowl.n.01_3": "kitchen"}
    assert canonical_goal(["(inside apple.n.01_1 bowl.n.01_3)"], cats, rooms) != \
        canonical_goal(["(inside apple.n.01_1 bowl.n.01_3)"], cats, {"bowl.n.01_3": "bedroom"})
