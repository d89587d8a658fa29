"""End-to-end behaviour of emx.evaluate, the reward presets, prompts, the
plans-file policy and the CLI contract."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import emx
from emx.cli import main as cli_main
from emx.policy.file import PlansFileError, read_plans
from emx.prompts import build_prompt

DATA = Path(__file__).parent / "data"
FRIDGE = str(DATA / "kitchen" / "put_the_apple_in_the_fridge.bddl")

GOOD_EAI = json.dumps([
    {"action": "OPEN", "object": "electric_refrigerator.n.01_1"},
    {"action": "RIGHT_GRASP", "object": "apple.n.01_1"},
    {"action": "RIGHT_PLACE_INSIDE", "object": "electric_refrigerator.n.01_1"},
    {"action": "CLOSE", "object": "electric_refrigerator.n.01_1"},
])


@pytest.fixture(scope="module")
def fridge():
    return emx.load_task(FRIDGE)


def test_embomatrix_style_file_keeps_command_sentence(fridge):
    assert fridge.command == "put the apple in the fridge and close it"
    assert fridge.core.rooms == ["kitchen"]


def test_correct_plan_succeeds_with_every_component(fridge):
    r = emx.evaluate(fridge, GOOD_EAI, reward="default")
    assert r.success and r.format_ok and r.executability == 1.0 and r.goal_fraction == 1.0
    assert r.plan_length == 4 and r.executed == 4 and r.first_error == "none"
    assert [s.action for s in r.trace] == [
        "OPEN(electric_refrigerator.n.01_1)", "RIGHT_GRASP(apple.n.01_1)",
        "RIGHT_PLACE_INSIDE(electric_refrigerator.n.01_1)", "CLOSE(electric_refrigerator.n.01_1)"]
    assert r.condition_truth == (True, True)


def test_embomatrix_reward_formula_exact(fridge):
    # 0.5 - 0.01*len + 0.1*distinct objects + goal fraction
    r = emx.evaluate(fridge, GOOD_EAI, reward="embomatrix")
    assert r.reward == pytest.approx(0.5 - 0.04 + 0.1 * 2 + 1.0)
    # Stops at step 2 (closed fridge): the goal fraction is taken where execution stopped.
    bad = json.dumps([{"action": "RIGHT_GRASP", "object": "apple.n.01_1"},
                      {"action": "RIGHT_PLACE_INSIDE", "object": "electric_refrigerator.n.01_1"},
                      {"action": "CLOSE", "object": "electric_refrigerator.n.01_1"}])
    r = emx.evaluate(fridge, bad, reward="embomatrix")
    assert not r.success and r.executed == 1 and r.first_error == "missing_step"
    assert "closed" in r.trace[-1].message
    assert r.reward == pytest.approx(0.5 - 0.03 + 0.2 + r.goal_fraction)
    assert r.goal_fraction == pytest.approx(0.5)  # the fridge is still closed: 1 of 2 literals
    assert emx.evaluate(fridge, "I would open the fridge.", reward="embomatrix").reward == -1.0


def test_eai_preset_is_success(fridge):
    assert emx.evaluate(fridge, GOOD_EAI, reward="eai").reward == 1.0
    assert emx.evaluate(fridge, "[]", reward="eai").reward == 0.0


def test_model_output_never_raises_and_is_classified(fridge):
    cases = {
        "": "format",
        "[]": "format",  # EAI: "No actions found"
        "\x00\xff garbage": "format",
        "[" * 10000: "format",
        json.dumps([{"action": "TELEPORT", "object": "apple.n.01_1"}]): "unknown_action",
        json.dumps([{"action": "RIGHT_GRASP", "object": "banana_7"}]): "unknown_object",
        json.dumps([{"action": "RIGHT_GRASP", "object": "apple.n.01_1,countertop.n.01_1"}]): "wrong_arity",
        json.dumps([{"action": "OPEN", "object": "apple.n.01_1"}]): "affordance",
        json.dumps([{"action": "RIGHT_GRASP", "object": "countertop.n.01_1"}]): "affordance",
        json.dumps([{"action": "RIGHT_GRASP", "object": 'ap"ple\u00e9'}]): "unknown_object",
    }
    for text, expected in cases.items():
        r = emx.evaluate(fridge, text)
        assert r.error_type == expected, (text[:40], r)


def test_wrong_order_and_additional_step(fridge):
    # Grasp, then open the fridge with both... simpler: closing an open fridge twice is an additional step.
    plan = [{"action": "OPEN", "object": "electric_refrigerator.n.01_1"},
            {"action": "OPEN", "object": "electric_refrigerator.n.01_1"},
            {"action": "RIGHT_GRASP", "object": "apple.n.01_1"},
            {"action": "RIGHT_PLACE_INSIDE", "object": "electric_refrigerator.n.01_1"},
            {"action": "CLOSE", "object": "electric_refrigerator.n.01_1"}]
    r = emx.evaluate(fridge, plan)
    assert r.success and r.trace[1].error == "additional_step" and r.trace[1].ok
    # Releasing the apple after placing it: EAI calls it a missing step, and since it would have
    # worked one step earlier (apple in hand), a wrong temporal order.
    plan = [{"action": "RIGHT_GRASP", "object": "apple.n.01_1"},
            {"action": "RIGHT_PLACE_ONTOP", "object": "countertop.n.01_1"},
            {"action": "RIGHT_RELEASE", "object": "apple.n.01_1"}]
    r = emx.evaluate(fridge, plan)
    assert r.error_type == "wrong_order" and r.executed == 2, r.trace
    # The same release with the apple never grasped: a plain missing step.
    r = emx.evaluate(fridge, [{"action": "RIGHT_RELEASE", "object": "apple.n.01_1"}])
    assert r.error_type == "missing_step"


def test_native_vocabulary_needs_navigation(fridge):
    idx = {o.name: o.index for o in fridge.objects}
    apple, fridge_i = idx["apple.n.01_1"], idx["electric_refrigerator.n.01_1"]
    counter = idx["countertop.n.01_1"]
    no_move = {"action_sequence": [{"action": "pick_up", "parameters": {"object_index": apple}}]}
    r = emx.evaluate(fridge, no_move)
    assert r.error_type == "missing_step" and "move to it" in r.trace[-1].message
    plan = {"action_sequence": [
        {"action": "go_to_room", "parameters": {"room_name": "kitchen"}},
        {"action": "move", "parameters": {"object_index": fridge_i}},
        {"action": "open", "parameters": {"object_index": fridge_i}},
        {"action": "move", "parameters": {"object_index": counter}},
        {"action": "pick_up", "parameters": {"object_index": apple}},
        {"action": "move", "parameters": {"object_index": fridge_i}},
        {"action": "place", "parameters": {"object_index": fridge_i, "relation": "inside"}},
        {"action": "close", "parameters": {"object_index": fridge_i}},
    ], "task_status_summary": "done"}
    r = emx.evaluate(fridge, "json: " + json.dumps(plan))
    assert r.success, r.trace
    bad = {"action_sequence": [{"action": "move", "parameters": {"object_index": 999}}]}
    assert emx.evaluate(fridge, bad).error_type == "unknown_object"
    bad = {"action_sequence": [{"action": "go_to_room", "parameters": {"room_name": "moon"}}]}
    assert emx.evaluate(fridge, bad).error_type == "unknown_object"
    bad = {"action_sequence": [{"action": "place", "parameters": {"object_index": fridge_i, "relation": "beside"}}]}
    assert emx.evaluate(fridge, bad).error_type == "wrong_arity"


def test_batch_equals_single_and_is_thread_count_independent(fridge):
    texts = [GOOD_EAI, "", "[]", json.dumps([{"action": "OPEN", "object": "apple.n.01_1"}])] * 10
    single = [emx.evaluate(fridge, t).to_dict() for t in texts]
    for threads in (1, 2, 4):
        batch = [r.to_dict() for r in emx.evaluate_batch([fridge] * len(texts), texts, threads=threads, keep_trace=True)]
        assert batch == single


def test_prompts():
    eai = emx.load_task("eai-behavior:bottling_fruit")
    assert build_prompt(eai, "eai") == eai.spec.eai.prompt
    fridge = emx.load_task(FRIDGE)
    p = build_prompt(fridge, "eai")
    assert "{'name': 'apple.n.01_1', 'category': 'apple.n.01'}" in p
    assert "['inside', 'apple.n.01_1', 'electric_refrigerator.n.01_1']" in p
    assert "RIGHT_PLACE_INSIDE" in p and "Your task:" in p
    n = build_prompt(fridge, "native")
    assert "put the apple in the fridge" in n and "action_sequence" in n and "Rooms: kitchen" in n
    with pytest.raises(ValueError):
        build_prompt(fridge, "yaml")


def test_plans_file_errors_name_the_line(tmp_path):
    p = tmp_path / "plans.jsonl"
    p.write_text('{"task": "a", "plan": "[]"}\n\nnot json\n')
    with pytest.raises(PlansFileError, match=r"plans.jsonl:3:1"):
        read_plans(p)
    p.write_text('{"task": "a", "plan": "[]"}\n{"task": "a", "plan": "[]"}\n')
    with pytest.raises(PlansFileError, match=r":2: a second plan for task 'a' \(first on line 1\)"):
        read_plans(p)
    p.write_text('{"plan": "[]"}\n')
    with pytest.raises(PlansFileError, match=r":1: expected"):
        read_plans(p)


def test_cli_eval_json_contract(tmp_path, capsys):
    plans = tmp_path / "plans.jsonl"
    plans.write_text(json.dumps({"task": "put_the_apple_in_the_fridge", "plan": GOOD_EAI}) + "\n")
    assert cli_main(["eval", "--tasks", str(DATA / "kitchen"), "--policy", f"file:{plans}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"n", "success_rate", "goal_fraction", "executability", "errors", "per_task"} <= out.keys()
    assert out["n"] == 1 and out["success_rate"] == 1.0 and out["errors"] == {}
    # A task with no line is an empty plan: a format failure.
    plans.write_text("")
    assert cli_main(["eval", "--tasks", str(DATA / "kitchen"), "--policy", f"file:{plans}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["success_rate"] == 0.0 and out["errors"] == {"format": 1}


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["eval", "--tasks", "no-such-source", "--policy", "oracle"]) == 2
    assert "unknown task source" in capsys.readouterr().err
    bad = tmp_path / "bad.bddl"
    bad.write_text("(define (problem x) (:objects a - b.n.01) (:init (ontop a c)) (:goal (open a)))")
    assert cli_main(["tasks", "show", "--source", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.bddl:1:" in err and "undeclared object 'c'" in err


def test_tasks_list_json(capsys):
    assert cli_main(["tasks", "list", "--source", "eai-behavior", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 100 and out["tasks"][0]["id"].startswith("assembling_gift_baskets")


def test_console_script_runs():
    # The installed `emx` entry point (the README's command), with the real package.
    proc = subprocess.run([sys.executable, "-m", "emx.cli", "tasks", "list", "--source", "bddl", "--limit", "2", "--json"],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 2
