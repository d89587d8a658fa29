"""Property tests of the symbolic executor on EAI BEHAVIOR tasks.

Random EAI action sequences (real and made-up action names, the task's objects and hallucinated
ones, right and wrong arities) must never make ``emx.evaluate`` raise, must give a consistent
Result, and must keep the world physically sensible after every successful step:

* an object is in at most one hand;
* an object is never ``inside X`` and ``ontop Y`` at once (X, Y not floors);
* a held object is neither inside nor on top of anything;
* the contents of a closed container are unreachable: GRASPing them fails with "missing_step".
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import emx
from emx import _core
from emx.plans import Plan, PlanAction

TASKS = ("bottling_fruit", "cleaning_up_refrigerator", "putting_leftovers_away", "chopping_vegetables")
ACTIONS = dict(_core.action_names("eai"))               # name -> number of objects
MADE_UP_ACTIONS = ("JUMP", "PICK_UP", "GRASP", "RIGHT_GRASP_", "", "open")
HALLUCINATED = ("apple_999", "fridge_0", "Fridge_97", "strawberry", "agent", "knife_0_part_0", "?")
# The actions that move things around and open containers get drawn more often, so runs reach
# nested and closed-container states.
# Optional openings that a random walk rarely finds on its own: a knife in hand and things sliced.
PREFIXES = {
    "bottling_fruit": [("OPEN", ("fridge_97",)), ("LEFT_GRASP", ("carving_knife_0",)), ("SLICE", ("peach_0",)),
                       ("SLICE", ("strawberry_0",))],
    "chopping_vegetables": [("RIGHT_GRASP", ("carving_knife_69",)), ("SLICE", ("tomato_61",)),
                            ("OPEN", ("fridge_40",)), ("SLICE", ("vidalia_onion_67",)),
                            ("OPEN", ("top_cabinet_50",))],
    "cleaning_up_refrigerator": [("OPEN", ("bottom_cabinet_no_top_80",)), ("RIGHT_GRASP", ("rag_0",)),
                                 ("TOGGLE_ON", ("sink_82",))],
}
FREQUENT = ("RIGHT_GRASP", "LEFT_GRASP", "RIGHT_PLACE_INSIDE", "LEFT_PLACE_INSIDE", "RIGHT_PLACE_ONTOP",
            "LEFT_PLACE_ONTOP", "OPEN", "CLOSE", "SLICE", "RIGHT_RELEASE", "LEFT_RELEASE")


_TASK_CACHE: dict[str, emx.Task] = {}


def task_named(key: str) -> emx.Task:
    if key not in _TASK_CACHE:
        _TASK_CACHE[key] = emx.load_task(f"eai-behavior:{key}")
    return _TASK_CACHE[key]


@st.composite
def plans(draw, max_len: int = 40):
    """(task key, [(action, objects)]): a random EAI plan. Most steps are drawn "guided": up to
    16 candidates are tried on a running state and the first that succeeds is kept, so plans get
    deep into a task (things inside things, closed containers, sliced parts; no-ops are passed
    over); the other steps are
    anything at all, hallucinations and wrong arities included."""
    key = draw(st.sampled_from(TASKS))
    task = task_named(key)
    names = [o.name for o in task.objects]
    movable = [o.name for o in task.objects
               if not {"fixed", "floor", "agent"} & set(o.abilities) or "openable" in o.abilities]
    object_name = st.one_of(st.sampled_from(movable), st.sampled_from(movable), st.sampled_from(names),
                            st.sampled_from(HALLUCINATED))
    action_name = st.one_of(st.sampled_from(FREQUENT), st.sampled_from(FREQUENT), st.sampled_from(sorted(ACTIONS)),
                            st.sampled_from(MADE_UP_ACTIONS))

    def candidate():
        name = draw(action_name)
        arity = ACTIONS.get(name, 1)
        if draw(st.integers(0, 9)) == 0:                 # sometimes the wrong number of objects
            arity = draw(st.integers(0, 3))
        return name, tuple(draw(object_name) for _ in range(arity))

    state = task.core.initial_state.copy()
    steps = list(PREFIXES.get(key, ())) if draw(st.booleans()) else []
    for name, objs in steps:
        assert task.core.apply(state, task.core.eai_action(name, list(objs)))[:2] == (True, "none"), (key, name)
    for _ in range(draw(st.integers(0, max_len))):
        chosen = candidate()
        if draw(st.integers(0, 4)) > 0:                  # guided
            for _ in range(16):
                probe = state.copy()
                if task.core.apply(probe, task.core.eai_action(chosen[0], list(chosen[1])))[:2] == (True, "none"):
                    break
                chosen = candidate()
        task.core.apply(state, task.core.eai_action(chosen[0], list(chosen[1])))
        steps.append(chosen)
    return key, steps


# ------------------------------------------------------------------------------------ invariants

class World:
    """Reads a state through the public binding: holds() and hands."""

    def __init__(self, task: emx.Task):
        self.task = task
        self.core = task.core
        self.names = [o.name for o in task.objects]
        self.floors = {o.name for o in task.objects if "floor" in o.abilities}
        self.openable = {o.name for o in task.objects if "openable" in o.abilities}
        self.graspable = {o.name for o in task.objects
                          if not {"fixed", "substance", "agent", "floor"} & set(o.abilities)}
        self.targets = [n for n in self.names if n not in self.floors]

    def relations(self, state, pred: str, subject: str) -> list[str]:
        return [x for x in self.targets if x != subject and self.core.holds(state, pred, subject, x)]

    def present(self, state, name: str) -> bool:
        # eai: slice parts are scene objects from the start (EAI's object list holds them)
        whole = self.task.objects[self.names.index(name)].part_of
        return whole is None or self.task.semantics == "eai" or self.core.holds(state, "sliced", whole)

    def sliced_whole(self, state, name: str) -> bool:
        return self.task.objects[self.names.index(name)].part_of is None and self.core.holds(state, "sliced", name)

    def closed(self, state, name: str) -> bool:
        return name in self.openable and not self.core.holds(state, "open", name)

    def check(self, state, context: str) -> None:
        left, right = state.hands
        assert left == -1 or left != right, f"{context}: one object in both hands ({left})"
        held = {self.names[h] for h in (left, right) if h >= 0}
        for h in held:
            assert self.present(state, h), f"{context}: holding {h}, which does not exist"
        inside = {n: self.relations(state, "inside", n) for n in self.names}
        ontop = {n: self.relations(state, "ontop", n) for n in self.names}
        for n in self.names:
            assert not (inside[n] and ontop[n]), f"{context}: {n} inside {inside[n]} and ontop {ontop[n]}"
            if n in held:
                assert not inside[n] and not ontop[n], \
                    f"{context}: held {n} is inside {inside[n]} / ontop {ontop[n]}"
        # Closed containers: everything inside one, at any depth of inside/ontop links, is unreachable.
        enclosed = {n for n in self.names if any(self.closed(state, x) for x in inside[n])}
        grew = True
        while grew:
            grew = False
            for n in self.names:
                if n not in enclosed and any(p in enclosed for p in inside[n] + ontop[n]):
                    enclosed.add(n)
                    grew = True
        for n in sorted(enclosed & self.graspable):
            if n in held or self.sliced_whole(state, n):
                continue  # a sliced whole: test_sliced_whole_in_a_closed_fridge_is_unreachable
            for hand in ("LEFT_GRASP", "RIGHT_GRASP"):
                probe = state.copy()
                ok, error, message = self.core.apply(probe, self.core.eai_action(hand, [n]))
                assert not ok and error == "missing_step", \
                    f"{context}: {hand}({n}) inside a closed container gave {ok, error, message}"
                assert probe == state, f"{context}: a failed {hand}({n}) changed the state"


def run_and_check(task: emx.Task, steps) -> tuple[int, str, object, int]:
    """Applies every step in turn with the core's pure step function, checking the invariants
    after each success. A failing step must leave the state as it was; unlike a plan's execution
    the walk goes on past it, so random plans reach deep states. Returns (steps before the first
    failure, first error, state at the first failure, successful steps)."""
    world = World(task)
    state = task.core.initial_state.copy()
    world.check(state, "initial state")
    executed, first_error, at_failure, successes = len(steps), "none", None, 0
    for i, (name, objs) in enumerate(steps):
        action = task.core.eai_action(name, list(objs))
        before = state.copy()
        ok, error, message = task.core.apply(state, action)
        context = f"after step {i} {name}{objs} ({error}: {message})"
        if not ok:
            assert error not in ("none", "additional_step"), context
            assert state == before, f"{context}: a failed step changed the state"
            if first_error == "none":
                executed, first_error, at_failure = i, error, state.copy()
            continue
        successes += 1
        assert error in ("none", "additional_step"), context
        if error == "additional_step":
            assert state == before, f"{context}: an additional (no-op) step changed the state"
        world.check(state, context)
    return executed, first_error, at_failure if at_failure is not None else state, successes


# ------------------------------------------------------------------------------------ properties

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plans())
def test_random_plans_keep_the_world_sensible(case):
    key, steps = case
    task = task_named(key)
    executed, first_error, final, _ = run_and_check(task, steps)

    plan = Plan("eai", tuple(PlanAction(n, objs) for n, objs in steps))
    r = emx.evaluate(task, plan, reward="embomatrix")
    if not steps:                        # an empty plan is a format failure (EAI: "No actions found")
        assert not r.format_ok and r.reward == -1.0 and r.plan_length == 0 and r.trace == ()
        return
    # Result fields agree with each other ...
    assert r.format_ok and r.format_error is None
    assert r.plan_length == len(steps)
    assert 0 <= r.executed <= r.plan_length
    assert 0.0 <= r.executability <= 1.0
    assert r.executability == (r.executed / r.plan_length if r.plan_length else 0.0)
    fatal = r.first_error != "none"
    assert fatal == (r.executed < r.plan_length)
    assert len(r.trace) == r.executed + (1 if fatal else 0)
    assert all(s.ok for s in r.trace[:r.executed])
    if fatal:
        assert not r.trace[-1].ok and r.trace[-1].error == r.first_error
        assert r.error_type == r.first_error
    assert 0.0 <= r.goal_fraction <= 1.0
    assert not r.success or r.goal_fraction == 1.0
    assert len(r.condition_truth) == len(task.goal_conditions)
    assert r.success == all(r.condition_truth)
    # ... with stepping the core by hand (eai: EAI checks the whole plan's actions, objects and
    # arities before running any step) ...
    static = [task.core.apply(task.core.initial_state.copy(), task.core.eai_action(n, list(objs)))[1]
              for n, objs in steps]
    rejected = next((e for e in static if e in ("unknown_action", "unknown_object")), None) or \
        next((e for e in static if e == "wrong_arity"), None)
    if task.semantics == "eai" and rejected:
        assert (r.executed, r.first_error) == (0, rejected)
        final = task.core.initial_state
    else:
        assert r.executed == executed
        if first_error == "missing_step" or (first_error == "affordance" and task.semantics != "eai"):
            assert r.first_error in (first_error, "wrong_order")
        else:
            assert r.first_error == first_error
    success, fraction, conditions = task.core.check(final)
    assert (r.success, r.goal_fraction, list(r.condition_truth)) == (success, fraction, conditions)
    # ... and with the EmboMatrix reward formula.
    all_names = {o.name for o in task.objects}
    valid_names = {n for _, objs in steps for n in objs if n in all_names}
    assert r.objects_named <= len(valid_names)
    expected = 0.5 - 0.01 * r.plan_length + 0.1 * r.objects_named + r.goal_fraction
    assert r.reward == pytest.approx(expected, abs=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(max_len=12), st.sampled_from(["default", "eai", "embomatrix"]))
def test_evaluate_never_raises_on_model_text(case, reward):
    key, steps = case
    task = task_named(key)
    text = json.dumps([{"action": n, "object": ",".join(objs)} for n, objs in steps])
    for variant in (text, "<think>hmm</think>```json\n" + text + "\n```", text[: len(text) // 2], "garbage"):
        r = emx.evaluate(task, variant, reward=reward)
        assert 0.0 <= r.executability <= 1.0 and r.executed <= r.plan_length
        if not r.format_ok:
            assert r.reward == _core.reward_preset(reward).format_fail and r.plan_length == 0


# ------------------------------------------------------------------------------------ directed cases

def step(task: emx.Task, state, name: str, *objs: str) -> tuple[bool, str, str]:
    return task.core.apply(state, task.core.eai_action(name, list(objs)))


def test_contents_of_a_closed_fridge_are_unreachable():
    task = task_named("bottling_fruit")
    s = task.core.initial_state.copy()
    assert task.core.holds(s, "inside", "strawberry_0", "fridge_97")
    ok, error, message = step(task, s, "RIGHT_GRASP", "strawberry_0")
    assert (ok, error) == (False, "missing_step") and "fridge_97" in message
    assert step(task, s, "OPEN", "fridge_97")[:2] == (True, "none")
    assert step(task, s, "RIGHT_GRASP", "strawberry_0")[:2] == (True, "none")
    assert s.hands == (-1, [o.name for o in task.objects].index("strawberry_0"))
    assert not task.core.holds(s, "inside", "strawberry_0", "fridge_97")
    World(task).check(s, "holding the strawberry")


def test_nested_closed_containers():
    task = task_named("bottling_fruit")
    s = task.core.initial_state.copy()
    world = World(task)
    for name, *objs in [("OPEN", "fridge_97"), ("RIGHT_GRASP", "jar_0"), ("RIGHT_PLACE_INSIDE", "fridge_97"),
                        ("OPEN", "jar_0"), ("LEFT_GRASP", "peach_0"), ("LEFT_PLACE_INSIDE", "jar_0"),
                        ("CLOSE", "jar_0")]:
        assert step(task, s, name, *objs)[:2] == (True, "none"), (name, objs)
        world.check(s, f"after {name}{objs}")
    assert task.core.holds(s, "inside", "peach_0", "jar_0")
    assert step(task, s.copy(), "LEFT_GRASP", "peach_0")[:2] == (False, "missing_step")   # jar closed
    assert step(task, s, "OPEN", "jar_0")[:2] == (True, "none")
    assert step(task, s, "CLOSE", "fridge_97")[:2] == (True, "none")
    world.check(s, "jar open inside the closed fridge")
    for obj in ("peach_0", "jar_0"):                     # the fridge hides the jar and its contents
        ok, error, message = step(task, s.copy(), "RIGHT_GRASP", obj)
        assert (ok, error) == (False, "missing_step") and "fridge_97" in message, (obj, message)
    assert step(task, s.copy(), "CLOSE", "jar_0")[:2] == (False, "missing_step")  # can't reach it either


def test_evaluate_reports_wrong_order_for_a_step_that_worked_earlier():
    task = task_named("bottling_fruit")
    plan = [{"action": "OPEN", "object": "fridge_97"}, {"action": "CLOSE", "object": "fridge_97"},
            {"action": "RIGHT_GRASP", "object": "strawberry_0"}]
    r = emx.evaluate(task, plan)
    assert (r.executed, r.first_error) == (2, "wrong_order")
    assert [s.ok for s in r.trace] == [True, True, False]


def test_sliced_whole_in_a_closed_fridge_is_unreachable():
    # Slicing the peach inside the open fridge leaves its parts inside the fridge, and the whole
    # reads as inside it too (its relations are what its parts share). Once the fridge is closed,
    # the peach is in a closed container: reaching for it is a missing step, as for its parts.
    task = task_named("bottling_fruit")
    s = task.core.initial_state.copy()
    for name, obj in [("OPEN", "fridge_97"), ("LEFT_GRASP", "carving_knife_0"), ("SLICE", "peach_0"),
                      ("CLOSE", "fridge_97")]:
        assert step(task, s, name, obj)[:2] == (True, "none"), name
    for part in ("peach_0_part_0", "peach_0_part_1", "peach_0"):
        assert task.core.holds(s, "inside", part, "fridge_97"), part
    for part in ("peach_0_part_0", "peach_0_part_1"):
        assert step(task, s.copy(), "RIGHT_GRASP", part)[:2] == (False, "missing_step"), part
    ok, error, message = step(task, s.copy(), "RIGHT_GRASP", "peach_0")
    assert (ok, error) == (False, "missing_step"), message
