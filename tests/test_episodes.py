"""Closed-loop episodes and observations: the policy acts a step at a time and sees emx's feedback."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emx
from emx.episodes import ClosedLoopEpisode, plan_turns, run_closed_loop, run_episodes
from emx.observations import Observation, observe, schematic_image, state_text
from emx.policy import FilePolicy, OraclePolicy
from emx.policy.oracle import oracle_plan

BOTTLING = "eai-behavior:bottling_fruit"


@pytest.fixture(scope="module")
def eai_tasks():
    return emx.load_tasks("eai-behavior")


@pytest.fixture(scope="module")
def bottling():
    return emx.load_task(BOTTLING)


# ---------------------------------------------------------------- observations
def test_state_text_lists_true_facts_in_both_styles(bottling):
    eai = state_text(bottling).splitlines()
    assert "['inside', 'strawberry_0', 'fridge_97']" in eai
    assert not any("agent" in line for line in eai)          # the robot is not a thing to act on
    native = state_text(bottling, fmt="native")
    idx = {o.name: o.index for o in bottling.objects}
    assert f"{idx['strawberry_0']}: strawberry_0: inside {idx['fridge_97']}:fridge_97" in native
    with pytest.raises(ValueError, match="unknown text observation format"):
        state_text(bottling, fmt="yaml")


def test_state_text_follows_the_state(bottling):
    state = bottling.core.initial_state.copy()
    ok, _, _ = bottling.core.apply(state, bottling.core.eai_action("OPEN", ["fridge_97"]))
    assert ok
    assert "['open', 'fridge_97']" in state_text(bottling, state)
    assert "['open', 'fridge_97']" not in state_text(bottling)


def test_schematic_image_is_a_deterministic_rgb_array(bottling):
    pytest.importorskip("matplotlib")
    a = schematic_image(bottling)
    b = schematic_image(bottling)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and min(a.shape[:2]) > 100
    assert np.array_equal(a, b)
    assert a.std() > 10                                      # a drawing, not a blank page
    obs = observe(bottling, ("text", "schematic"))
    assert isinstance(obs, Observation) and obs.image_kind == "schematic"
    assert [p["type"] for p in obs.parts()] == ["image", "text"]


def test_observation_kinds_are_checked(bottling):
    with pytest.raises(ValueError, match="unknown observation kind"):
        observe(bottling, ("text", "smell"))
    with pytest.raises(ValueError, match="not both"):
        observe(bottling, ("schematic", "rgb"))
    with pytest.raises(ValueError, match="physics world"):
        observe(bottling, ("rgb",))


def test_rgb_observation_needs_a_render_device(bottling):
    pytest.importorskip("sapien")
    from emx.sim.evaluate import world_for
    from emx.sim.render import render_available
    from emx.sim.world import PhysicsUnavailable

    world = world_for(bottling)
    ok, why = render_available()
    if ok:
        img = observe(bottling, ("rgb",), world=world).image
        assert img.shape == (224, 224, 3) and img.dtype == np.uint8
    else:
        with pytest.raises(PhysicsUnavailable, match="render device"):
            observe(bottling, ("rgb",), world=world)


# ---------------------------------------------------------------- one episode
def test_failure_feedback_then_recovery(bottling):
    ep = ClosedLoopEpisode(bottling, max_turns=10)
    turn = ep.step('[{"action": "RIGHT_GRASP", "object": "strawberry_0"}]')   # inside the closed fridge
    assert not turn.done and turn.parsed and not turn.steps[0].ok
    assert turn.feedback.startswith("failed (") and "fridge_97" in turn.feedback
    assert ep.messages[-1] == {"role": "user", "content": turn.feedback}
    turn = ep.step('[{"action": "OPEN", "object": "fridge_97"}]')
    assert turn.steps[0].ok and "now true: ['open', 'fridge_97']" in turn.feedback
    turn = ep.step('[{"action": "RIGHT_GRASP", "object": "strawberry_0"}]')
    assert turn.steps[0].ok                                    # the policy recovered
    r = ep.result("default")
    assert r.plan_length == 3 and r.executed == 2 and r.executability == pytest.approx(2 / 3)
    assert r.first_error != "none" and r.format_ok


WRONG_ORDER_PLAN = [{"action": "OPEN", "object": "fridge_97"}, {"action": "CLOSE", "object": "fridge_97"},
                    {"action": "RIGHT_GRASP", "object": "strawberry_0"}]


@pytest.mark.parametrize("mode", ["symbolic", "physics"])
def test_closed_loop_reports_wrong_order_as_evaluate_does(bottling, mode):
    """One rule (the C++ executor's classify_failure) for plans and for closed-loop episodes."""
    if mode == "physics":
        pytest.importorskip("sapien")
    r = emx.evaluate(bottling, WRONG_ORDER_PLAN, mode=mode)
    assert (r.executed, r.first_error) == (2, "wrong_order")
    ep = ClosedLoopEpisode(bottling, mode=mode, max_turns=10)
    for a in WRONG_ORDER_PLAN:
        turn = ep.step(json.dumps([a]))
    assert turn.steps[-1].error == "wrong_order" and turn.steps[-1].message == r.trace[-1].message
    assert ep.result().first_error == "wrong_order"
    # a failed turn is no step of the run: after it, the rule still looks at the same earlier states
    turn = ep.step(json.dumps([{"action": "OPEN", "object": "fridge_97"}]))
    assert turn.steps[-1].ok
    assert ep.step(json.dumps([WRONG_ORDER_PLAN[-1]])).steps[-1].ok


def test_unparseable_turns_and_done(bottling):
    ep = ClosedLoopEpisode(bottling, max_turns=10)
    turn = ep.step("I think I should open the fridge first.")
    assert not turn.parsed and not turn.done and turn.feedback.startswith("could not read an action")
    ep.step('[{"action": "OPEN", "object": "fridge_97"}]')
    turn = ep.step('[{"action": "DONE"}]')
    assert turn.done and ep.end_reason == "policy_done"
    r = ep.result("default")
    assert r.format_ok and r.executability == pytest.approx(0.5)   # one action ran, one turn unreadable
    with pytest.raises(RuntimeError, match="episode is over"):
        ep.step("[]")


def test_an_episode_with_no_action_is_a_format_failure(bottling):
    ep = ClosedLoopEpisode(bottling, max_turns=3)
    for _ in range(3):
        ep.step("garbage")
    assert ep.done and ep.end_reason == "turn_budget"
    r = ep.result("embomatrix")
    assert not r.format_ok and r.error_type == "format" and r.reward == -1.0


def test_the_goal_ends_the_episode_with_the_plan_mode_reward(eai_tasks):
    """An oracle played a turn at a time scores what the whole oracle plan scores."""
    for task in eai_tasks[:12]:
        plan, _ = oracle_plan(task)
        if not plan:
            continue
        ep = ClosedLoopEpisode(task, max_turns=len(plan) + 2)
        for text in plan_turns(plan):
            if ep.done:
                break
            ep.step(text)
        assert ep.end_reason == "success"
        whole = emx.evaluate(task, plan, reward="default")
        mine = ep.result("default")
        assert mine.success and mine.reward == pytest.approx(whole.reward)
        assert mine.plan_length == whole.plan_length and mine.objects_named == whole.objects_named


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
                          st.sampled_from(['[{"action": "OPEN", "object": "fridge_97"}]', "done", '{"action": 3}',
                                           '[{"action": "RIGHT_GRASP", "object": "fridge_97\\"]"}]', "[[[[[[["])),
                min_size=1, max_size=6))
def test_no_model_output_crashes_an_episode(bottling, answers):
    ep = ClosedLoopEpisode(bottling, max_turns=4)
    for a in answers:
        if ep.done:
            break
        turn = ep.step(a)
        assert isinstance(turn.feedback, str)
    r = ep.result("default")
    assert -1.0 <= r.reward <= 3.0


def test_turn_rewards_sum_to_progress_and_the_episode_reward(bottling):
    ep = ClosedLoopEpisode(bottling, max_turns=10)
    ep.step("nonsense")
    ep.step('[{"action": "OPEN", "object": "fridge_97"}]')
    ep.step("done")
    cfg = emx._core.reward_preset("default")
    rewards = ep.turn_rewards(cfg)
    assert len(rewards) == 3 and rewards[0] == pytest.approx(-0.1)
    start = bottling.core.check(bottling.core.initial_state)[1]
    assert sum(rewards) == pytest.approx(ep.turns[-1].goal_fraction - start - 0.1 + ep.score().reward(cfg))


def test_bad_episode_settings_are_refused(bottling):
    with pytest.raises(ValueError, match="unit"):
        ClosedLoopEpisode(bottling, unit="word")
    with pytest.raises(ValueError, match="max_turns"):
        ClosedLoopEpisode(bottling, max_turns=0)


# ---------------------------------------------------------------- many episodes
def test_oracle_closed_loop_on_the_eai_tasks(eai_tasks):
    report = run_closed_loop(eai_tasks, OraclePolicy(), reward="default", max_turns=64)
    s = report.summary()
    assert s["n"] == 100 and s["success_rate"] >= 0.9
    assert {e["end"] for e in report.episodes} <= {"success", "policy_done", "turn_budget"}


def test_plans_file_is_replayed_one_action_a_turn(tmp_path, bottling):
    plan, _ = oracle_plan(bottling)
    path = tmp_path / "plans.jsonl"
    path.write_text(json.dumps({"task": bottling.id, "plan": plan}) + "\n")
    eps = run_episodes([bottling], FilePolicy(path), max_turns=40)
    assert eps[0].end_reason == "success" and len(eps[0].turns) == len(plan)


def test_physics_closed_loop_matches_symbolic(eai_tasks):
    pytest.importorskip("sapien")
    tasks = [t for t in eai_tasks if "bottling_fruit" in t.id or "boxing_books" in t.id]
    sym = run_closed_loop(tasks, OraclePolicy(), mode="symbolic").summary()
    phy = run_closed_loop(tasks, OraclePolicy(), mode="physics").summary()
    assert phy["success_rate"] == sym["success_rate"] == 1.0


def test_physics_episode_feedback_and_schematic_follow_the_world(bottling):
    pytest.importorskip("sapien")
    ep = ClosedLoopEpisode(bottling, mode="physics", observations=("text", "schematic"), max_turns=5)
    first = ep.messages[0]["content"]
    assert first[0]["type"] == "image"
    ep.step('[{"action": "OPEN", "object": "fridge_97"}, {"action": "RIGHT_GRASP", "object": "peach_0"}]')
    after = ep.messages[-1]["content"]
    assert after[0]["type"] == "image" and "ok: " in after[1]["text"]
    assert not np.array_equal(first[0]["image"], after[0]["image"])   # the peach moved with the hand


# ---------------------------------------------------------------- a served model over real HTTP
@pytest.fixture()
def oracle_chat(bottling, chat_server):
    """A stand-in chat model answering the oracle's next action (after a think block)."""
    from conftest import chat_reply

    plan, _ = oracle_plan(bottling)

    def reply(req):
        k = sum(1 for m in req["messages"] if m["role"] == "assistant")
        return chat_reply("<think>next step</think>" + json.dumps(plan[k: k + 1] or [{"action": "DONE"}]))

    url, seen = chat_server(reply, model="stub")
    return url, seen, plan


def test_openai_policy_closed_loop_sends_images_and_history(oracle_chat, bottling):
    pytest.importorskip("matplotlib")
    from emx.policy.openai_policy import OpenAICompatiblePolicy

    url, seen, plan = oracle_chat
    policy = OpenAICompatiblePolicy(url, "stub", observations=("text", "schematic"), retries=0)
    eps = run_episodes([bottling], policy, max_turns=len(plan) + 2)
    assert eps[0].end_reason == "success" and len(seen) == len(plan)
    last = seen[-1][0]["messages"]
    assert len(last) == 2 * len(plan) - 1                      # the whole conversation, every turn
    first_user = last[0]["content"]
    assert first_user[0]["type"] == "image_url" and first_user[0]["image_url"]["url"].startswith("data:image/png;base64,")


# ---------------------------------------------------------------- CLI
def _emx(*args):
    return subprocess.run([sys.executable, "-m", "emx.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_eval_closed_loop_json():
    p = _emx("eval", "--tasks", "eai-behavior", "--policy", "oracle", "--episode", "closed-loop", "--limit", "5",
             "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n"] == 5 and out["success_rate"] == 1.0
    assert out["episode"]["kind"] == "closed-loop" and out["episode"]["ended"] == {"success": 5}
    assert all(row["turns"] == row["plan_length"] for row in out["per_task"])


def test_cli_closed_loop_refuses_worker_processes():
    p = _emx("eval", "--tasks", "eai-behavior", "--policy", "oracle", "--episode", "closed-loop", "--workers", "2",
             "--limit", "2")
    assert p.returncode == 2 and "closed-loop episodes run in this process" in p.stderr


def test_cli_scores_hierarchical_answers_level_by_level(tmp_path, bottling):
    plan, _ = oracle_plan(bottling)
    answer = json.dumps({"reasoning": "The fruit is in the fridge; open it, take the fruit out and slice it "
                                      "before putting the slices in the jars.",
                         "subgoals": ["(open fridge_97)"], "actions": plan})
    path, plain = tmp_path / "plans.jsonl", tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"task": bottling.id, "plan": answer}) + "\n")
    plain.write_text(json.dumps({"task": bottling.id, "plan": plan}) + "\n")
    flat = json.loads(_emx("eval", "--tasks", BOTTLING, "--policy", f"file:{plain}", "--json").stdout)
    p = _emx("eval", "--tasks", BOTTLING, "--policy", f"file:{path}", "--scoring", "hierarchical", "--json")
    assert p.returncode == 0, p.stderr
    levels = json.loads(p.stdout)
    assert levels["success_rate"] == flat["success_rate"] == 1.0
    assert levels["hierarchy"]["reasoning"] > 0.5 and levels["hierarchy"]["subgoals_valid"] == 1.0
    assert levels["hierarchy"]["subgoals_achieved_in_order"] == 1.0
    assert levels["mean_reward"] > flat["mean_reward"]


def test_subtask_episodes_check_each_named_subgoal(bottling):
    """unit="subtask": one WALL-OSS-style next sub-task a turn, its sub-goal checked after it."""
    plan, _ = oracle_plan(bottling)
    ep = ClosedLoopEpisode(bottling, unit="subtask", max_turns=10)
    assert "sub-task" in ep.messages[0]["content"].lower() or "subtask" in ep.messages[0]["content"].lower()
    turn = ep.step(json.dumps({"subtask": "open the fridge", "subgoal": "(open fridge_97)",
                               "actions": [{"action": "OPEN", "object": "fridge_97"}]}))
    assert turn.subgoal_holds is True and "sub-goal (open fridge_97): holds" in turn.feedback
    turn = ep.step(json.dumps({"subtask": "take the peach", "subgoal": "(ontop peach_0 countertop_84)",
                               "actions": [{"action": "RIGHT_GRASP", "object": "peach_0"}]}))
    assert turn.subgoal_holds is False and "does not hold" in turn.feedback
    turn = ep.step("no idea")
    assert not turn.parsed and "could not read" in turn.feedback
    rest = [a for a in plan if a != {"action": "OPEN", "object": "fridge_97"}]
    turn = ep.step(json.dumps({"subtask": "finish", "actions": rest[:0] or [{"action": "RIGHT_RELEASE", "object": "peach_0"}]}))
    assert turn.parsed and turn.subgoal_holds is None
    turn = ep.step(json.dumps({"done": True}))
    assert turn.done and ep.end_reason == "policy_done"
