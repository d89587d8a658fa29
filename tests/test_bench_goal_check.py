"""emx bench goal-check: the result's shape, emx agreeing with the bddl package on every state,
and the bddl reference being a real check (it sees goals become true). No timing assertions."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("bddl")

import emx  # noqa: E402
from emx.bench import goal_check, machine_info, measure  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return goal_check.run(quick=True, n_pairs=200, repeats=1, min_time=0.005)


def test_json_shape(result):
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["bench"] == "goal-check"
    for key in ("cpu", "cores", "python", "platform"):
        assert key in result["machine"]
    assert result["machine"]["cores"] >= 1
    names = [r["name"] for r in result["results"]]
    assert names[:3] == ["bddl-python", "emx-cpp", "emx-cpp-threads"]
    assert names[3:] in ([], ["emx-cpp-fraction", "emx-cpp-fraction-threads"])
    for r in result["results"]:
        assert r["checks"] == result["states"]["pairs"]
        assert r["checks_per_s"] > 0 and r["seconds"] > 0 and r["threads"] >= 1
    assert set(result["ratios"]) >= {"cpp_vs_python", "cpp_threads_vs_python"}
    for value in result["ratios"].values():
        assert isinstance(value, float) and value > 0 and math.isfinite(value)


def test_pairs(result):
    states = result["states"]
    assert states["pairs"] == 200
    assert states["eai_tasks"] >= 1 and states["bddl_activities"] >= 1
    assert states["by_kind"]["initial"] == states["eai_tasks"] + states["bddl_activities"]
    assert sum(states["by_kind"].values()) == 200
    assert states["by_kind"].get("walk", 0) > 0 and states["by_kind"].get("goal-seeking", 0) > 0


def test_agreement(result):
    ag = result["agreement"]
    assert ag["pairs"] == 200
    assert ag["disagreements"] == 0, ag["examples"]
    assert ag["condition_disagreements"] == 0, ag["examples"]
    assert ag["batch_vs_single_disagreements"] == 0
    assert ag.get("truth_only_vs_fraction_disagreements", 0) == 0


def test_format_table(result):
    rows = goal_check.format_table(result)
    assert rows and all(isinstance(k, str) and isinstance(v, str) for k, v in rows)
    labels = [k for k, _ in rows]
    assert "C++ vs Python" in labels and "agreement" in labels


def test_pairs_are_deterministic():
    a = goal_check.generate_pairs(40, seed=3)
    b = goal_check.generate_pairs(40, seed=3)
    assert [(p.task.id, p.kind, p.atoms) for p in a.pairs] == [(p.task.id, p.kind, p.atoms) for p in b.pairs]


def test_reference_sees_a_goal_satisfied():
    # forpairs over 4 baskets x 4 items of each kind: one of each kind per basket satisfies it
    task = emx.load_task("eai-behavior:assembling_gift_baskets")
    goal = goal_check.BddlGoal(task)
    state = task.core.initial_state.copy()
    before = goal.evaluate(frozenset(task.core.true_atoms(state)))
    assert before == (False, [False] * 4)
    for i in range(4):
        for kind in ("candle", "cheese", "cookie", "bow"):
            for name, objects in (("RIGHT_GRASP", [f"{kind}_{i}"]), ("RIGHT_PLACE_INSIDE", [f"basket_{i}"])):
                ok, error, message = task.core.apply(state, task.core.eai_action(name, objects))
                assert ok, (name, objects, error, message)
        # after each basket is filled, both agree condition by condition
        success, _, truth = task.core.check(state)
        assert goal.evaluate(frozenset(task.core.true_atoms(state))) == (success, list(truth))
    assert goal.evaluate(frozenset(task.core.true_atoms(state))) == (True, [True] * 4)


def test_machine_info_and_measure():
    info = machine_info()
    assert info["cores"] >= 1 and info["python"]
    seconds, calls = measure(lambda: sum(range(100)), min_time=0.001, repeats=2)
    assert seconds > 0 and calls >= 1
