"""Relations from geometry through the binding (emx._core.relations_from_geometry
and the box_* predicates), on a small compiled task with boxes built by hand."""

import numpy as np
import pytest

import emx.task
from emx import _core

BDDL = """
(define (problem stow_apple-0)
  (:domain omnigibson)
  (:objects
    breakfast_table.n.01_1 - breakfast_table.n.01
    cabinet.n.01_1 - cabinet.n.01
    apple.n.01_1 - apple.n.01
    floor.n.01_1 - floor.n.01
  )
  (:init
    (ontop apple.n.01_1 breakfast_table.n.01_1)
    (onfloor breakfast_table.n.01_1 floor.n.01_1)
    (onfloor cabinet.n.01_1 floor.n.01_1)
    (inroom floor.n.01_1 kitchen)
  )
  (:goal (and (inside ?apple.n.01_1 ?cabinet.n.01_1) (not (open ?cabinet.n.01_1))))
)
"""

TABLE, CABINET, APPLE, FLOOR = "breakfast_table.n.01_1", "cabinet.n.01_1", "apple.n.01_1", "floor.n.01_1"


def box(lo, hi):
    return np.array([lo, hi], dtype=np.float32)


@pytest.fixture(scope="module")
def task():
    return _core.compile_task(BDDL, "t.bddl", emx.task.knowledge_base())


class Scene:
    """Arrays for every task object (slice parts included), absent until placed."""

    def __init__(self, task):
        self.task = task
        self.index = {o[0]: i for i, o in enumerate(task.objects)}
        n = task.num_objects
        self.boxes = np.zeros((n, 2, 3), np.float32)
        self.interiors = np.zeros((n, 2, 3), np.float32)
        self.has_interior = np.zeros(n, bool)
        self.joint_fraction = np.full(n, -1.0, np.float32)
        self.present = np.zeros(n, bool)

    def put(self, name, lo, hi, interior=None):
        i = self.index[name]
        self.boxes[i] = box(lo, hi)
        self.present[i] = True
        if interior is not None:
            self.interiors[i] = box(*interior)
            self.has_interior[i] = True
        return self

    def relations(self, state=None):
        state = self.task.initial_state if state is None else state
        return _core.relations_from_geometry(self.task, state, self.boxes, self.interiors, self.has_interior,
                                             self.joint_fraction, self.present)


def kitchen(task):
    """Floor, a table (top at 0.8 m) and a cabinet with its door closed."""
    s = Scene(task)
    s.put(FLOOR, [0, 0, -0.05], [6, 6, 0])
    s.put(TABLE, [1, 1, 0], [2, 2, 0.8])
    s.put(CABINET, [3, 1, 0], [4, 2, 1], interior=([3.05, 1.05, 0.05], [3.95, 1.95, 0.95]))
    s.joint_fraction[s.index[CABINET]] = 0.0
    return s


def test_constants_match_the_header():
    assert _core.CONTACT_GAP == pytest.approx(0.02)
    assert _core.SUPPORT_OVERLAP == pytest.approx(0.5)
    assert _core.INSIDE_TOLERANCE == pytest.approx(0.01)
    assert _core.NEXTTO_GAP == pytest.approx(0.30)
    assert _core.OPEN_FRACTION == pytest.approx(0.10)


def test_single_predicates_at_their_thresholds():
    gap = np.float32(_core.CONTACT_GAP)
    table = box([0, 0, 0], [1, 1, 1])
    assert _core.box_ontop(box([0.2, 0.2, 1 + gap - 0.001], [0.4, 0.4, 1.2]), table)
    assert not _core.box_ontop(box([0.2, 0.2, 1 + gap + 0.001], [0.4, 0.4, 1.2]), table)
    assert _core.box_ontop(box([0.49, 0.4, 1], [1.49, 0.6, 1.1]), table)  # 51% over it
    assert not _core.box_ontop(box([0.51, 0.4, 1], [1.51, 0.6, 1.1]), table)  # 49%
    assert _core.box_inside(box([0.5, 0.5, -0.009], [0.6, 0.6, 0.1]), table)
    assert not _core.box_inside(box([0.5, 0.5, -0.011], [0.6, 0.6, 0.1]), table)
    assert _core.box_nextto(box([1.29, 0, 0], [2, 1, 1]), table)
    assert not _core.box_nextto(box([1.31, 0, 0], [2, 1, 1]), table)
    assert not _core.box_nextto(box([0, 0, 1], [1, 1, 2]), table)  # stacked
    assert _core.box_under(box([0.2, 0.2, -0.5], [0.4, 0.4, 0]), table)
    assert not _core.box_under(box([1.2, 0.2, -0.5], [1.4, 0.4, 0]), table)
    floor = box([0, 0, -0.05], [5, 5, 0])
    assert _core.box_onfloor(box([1, 1, 0.01], [2, 2, 1]), floor)
    assert not _core.box_onfloor(box([1, 1, 0.03], [2, 2, 1]), floor)
    # Lists work as well as arrays.
    assert _core.box_ontop([[0, 0, 1], [1, 1, 2]], [[0, 0, 0], [1, 1, 1]])


def test_apple_on_the_table(task):
    s = kitchen(task).put(APPLE, [1.2, 1.2, 0.8], [1.3, 1.3, 0.9])
    state = s.relations()
    assert task.holds(state, "ontop", APPLE, TABLE)
    assert not task.holds(state, "onfloor", APPLE, FLOOR)
    assert not task.holds(state, "ontop", APPLE, FLOOR)
    assert task.holds(state, "onfloor", TABLE, FLOOR) and task.holds(state, "ontop", TABLE, FLOOR)
    assert not task.holds(state, "nextto", TABLE, CABINET)  # 1 m apart
    assert not task.holds(state, "open", CABINET)
    assert task.check(state)[0] is False


def test_goal_flips_with_the_boxes(task):
    s = kitchen(task)
    s.put(APPLE, [1.2, 1.2, 0.8], [1.3, 1.3, 0.9])
    on_table = s.relations()
    assert not task.holds(on_table, "inside", APPLE, CABINET)
    # The apple moves into the cabinet; the door is still closed.
    s.put(APPLE, [3.4, 1.4, 0.05], [3.5, 1.5, 0.15])
    inside = s.relations(on_table)
    assert task.holds(inside, "inside", APPLE, CABINET)
    assert not task.holds(inside, "ontop", APPLE, TABLE)
    assert task.check(inside)[0] is True
    # Door open: the (not (open cabinet)) condition fails.
    s.joint_fraction[s.index[CABINET]] = 0.8
    opened = s.relations(inside)
    assert task.holds(opened, "open", CABINET)
    success, fraction, conditions = task.check(opened)
    assert not success and conditions == [True, False]
    # A millimetre outside the tolerance of the interior's top face: not inside.
    s.joint_fraction[s.index[CABINET]] = 0.0
    s.put(APPLE, [3.4, 1.4, 0.86], [3.5, 1.5, 0.95 + _core.INSIDE_TOLERANCE + 0.001])
    assert not task.holds(s.relations(), "inside", APPLE, CABINET)


def test_held_apple_has_no_relations(task):
    s = kitchen(task).put(APPLE, [1.2, 1.2, 0.8], [1.3, 1.3, 0.9])
    s.present[s.index[APPLE]] = False
    state = s.relations()
    assert not any(a == APPLE or b == APPLE for _, a, b in task.true_atoms(state) if b)


def test_the_input_state_is_not_changed(task):
    start = task.initial_state
    assert task.holds(start, "ontop", APPLE, TABLE)
    s = kitchen(task).put(APPLE, [5, 5, 0], [5.1, 5.1, 0.1])
    out = s.relations(start)
    assert task.holds(start, "ontop", APPLE, TABLE)
    assert not task.holds(out, "ontop", APPLE, TABLE) and task.holds(out, "onfloor", APPLE, FLOOR)
    assert out != start


def test_geometry_object_gives_the_same_state(task):
    s = kitchen(task).put(APPLE, [3.4, 1.4, 0.05], [3.5, 1.5, 0.15])
    geo = _core.Geometry(s.boxes, s.interiors, s.has_interior, s.joint_fraction, s.present)
    assert geo.num_objects == task.num_objects
    assert _core.relations_from_geometry(task, task.initial_state, geo) == s.relations()


@pytest.mark.parametrize("field, bad", [
    ("boxes", np.zeros((3, 2, 3), np.float32)),
    ("interiors", np.zeros((1, 6), np.float32)),
    ("has_interior", np.zeros((2, 1), bool)),
    ("joint_fraction", np.zeros(1, np.float32)),
    ("present", np.zeros(100, bool)),
])
def test_wrong_shapes_raise_value_error_naming_the_argument(task, field, bad):
    s = kitchen(task)
    setattr(s, field, bad)
    n = task.num_objects
    with pytest.raises(ValueError, match=rf"^{field} must have shape \({n},") as info:
        s.relations()
    assert str(info.value).endswith(f"got {bad.shape}")
    # Without a task, N is the first dimension of boxes: a bad boxes array
    # shows up as a mismatch of the next argument.
    with pytest.raises(ValueError, match="interiors" if field == "boxes" else field):
        _core.Geometry(s.boxes, s.interiors, s.has_interior, s.joint_fraction, s.present)


def test_single_predicate_shape_error():
    with pytest.raises(ValueError, match=r"a must have shape \(2, 3\)"):
        _core.box_ontop(np.zeros(6, np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="floor must have shape"):
        _core.box_onfloor(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="b must be finite"):
        _core.box_nextto(np.zeros((2, 3), np.float32), np.full((2, 3), np.nan, np.float32))


def test_a_box_that_is_not_finite_is_left_out(task):
    s = kitchen(task).put(APPLE, [1.2, 1.2, 0.8], [1.3, 1.3, 0.9])
    assert task.holds(s.relations(), "ontop", APPLE, TABLE)
    s.boxes[s.index[APPLE], 1, 2] = np.nan
    state = s.relations()
    assert not any(APPLE in (a, b) for _, a, b in task.true_atoms(state) if b)


def test_state_of_another_task_is_refused(task):
    other = _core.compile_task(BDDL.replace("apple.n.01_1 - apple.n.01", "apple.n.01_1 apple.n.01_2 - apple.n.01"),
                               "o.bddl", emx.task.knowledge_base())
    s = kitchen(task)
    with pytest.raises(ValueError, match="does not belong"):
        _core.relations_from_geometry(task, other.initial_state, s.boxes, s.interiors, s.has_interior,
                                      s.joint_fraction, s.present)
