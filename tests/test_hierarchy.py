"""Hierarchical (WALL-OSS-style) answers: parsing both formats, sub-goal compilation, the level
scores on crafted answers with known values, the next-sub-task query, never-raising parsers,
physics mode, and the ``wall:`` policy through real vLLM on a tiny local model."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emx
from emx.hierarchy import (HierarchyWeights, Subgoal, SubgoalError, compile_subgoal, evaluate_hierarchical,
                           evaluate_hierarchical_batch, goal_coverage, hierarchical_prompt, next_subtask_prompt,
                           parse_hierarchical, parse_next_subtask)
from emx.hierarchy.subgoals import Literal, goal_literal_count
from emx.policy.oracle import oracle_plan

REASONING = ("The fruit has to be sliced with the knife, each kind put in its own jar, and both jars closed "
             "at the end, so I open a jar only when I fill it.")   # 28 words: full reasoning credit


def A(action, obj):
    return {"action": action, "object": obj}


# bottling_fruit: strawberry_0 and peach_0 in the closed fridge_97, jar_0/jar_1 closed on the counter.
SOLUTION = [A("LEFT_GRASP", "carving_knife_0"), A("OPEN", "fridge_97"), A("SLICE", "strawberry_0"),
            A("SLICE", "peach_0"), A("OPEN", "jar_0"),                                       # step 5: jar_0 open
            A("RIGHT_GRASP", "strawberry_0_part_0"), A("RIGHT_PLACE_INSIDE", "jar_0"),
            A("RIGHT_GRASP", "strawberry_0_part_1"), A("RIGHT_PLACE_INSIDE", "jar_0"),       # step 9
            A("OPEN", "jar_1"), A("RIGHT_GRASP", "peach_0_part_0"), A("RIGHT_PLACE_INSIDE", "jar_1"),
            A("RIGHT_GRASP", "peach_0_part_1"), A("RIGHT_PLACE_INSIDE", "jar_1"),
            A("CLOSE", "jar_0"), A("CLOSE", "jar_1")]                                        # steps 15, 16
JAR0_OPEN = "(open jar_0)"                                                                    # holds at 5..14
JAR0_FILLED_AND_CLOSED = "(and (inside strawberry_0_part_1 jar_0) (not (open jar_0)))"        # from 15


@pytest.fixture(scope="module")
def task():
    return emx.load_task("eai-behavior:bottling_fruit")


def answer(subgoals, actions=SOLUTION, reasoning=REASONING):
    doc = {"subgoals": subgoals, "actions": actions}
    if reasoning is not None:
        doc["reasoning"] = reasoning
    return json.dumps(doc)


def tagged(subgoals, actions=SOLUTION, reasoning=REASONING):
    parts = [] if reasoning is None else [f"<reasoning>{reasoning}</reasoning>"]
    parts.append("<subgoals>\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(subgoals)) + "\n</subgoals>")
    parts.append("<actions>\n```json\n" + json.dumps(actions) + "\n```\n</actions>")
    return "Sure, here is my answer.\n" + "\n".join(parts)


# --------------------------------------------------------------------------- sub-goals

@pytest.mark.parametrize("literal, text", [
    ("(sliced strawberry_0)", "(sliced strawberry_0)"),
    ("(not (open jar_0))", "(not (open jar_0))"),
    (["ontop", "jar_0", "countertop_84"], "(ontop jar_0 countertop_84)"),
    (["not", "open", "jar_1"], "(not (open jar_1))"),
    ("(and (inside peach_0 jar_1)  (not (inside strawberry_0 jar_1)))",
     "(and (inside peach_0 jar_1) (not (inside strawberry_0 jar_1)))"),
    ([["sliced", "peach_0"], ["not", "open", "jar_0"]], "(and (sliced peach_0) (not (open jar_0)))"),
    ("sliced peach_0", "(sliced peach_0)"),
])
def test_subgoal_forms_compile(task, literal, text):
    sg = compile_subgoal(task, literal)
    assert isinstance(sg, Subgoal) and sg.ok and sg.text == text


@pytest.mark.parametrize("literal, reason", [
    ("(inside apple_0 jar_0)", "unknown object 'apple_0'"),
    ("(levitating jar_0)", "unknown predicate 'levitating'"),
    ("(ontop jar_0)", "takes 2 object(s), got 1"),
    ("(open jar_0 jar_1)", "takes 1 object(s), got 2"),
    ("(or (open jar_0) (open jar_1))", "'or' is not allowed"),
    ("(forall (?j - jar.n.01) (not (open ?j)))", "'forall' is not allowed"),
    ("(not (and (open jar_0) (open jar_1)))", "disjunction"),
    ("(inroom jar_0 kitchen)", "unknown predicate 'inroom'"),
    ("(open jar_0", "unbalanced"),
    ("(open jar_0) (open jar_1)", "exactly one"),
    ("", "empty"),
    (None, "no sub-goal"),
    (3.5, "expected a BDDL literal"),
    ("(" * 50 + ")" * 50, "nested deeper"),
    ("(and " + "(open jar_0) " * 40 + ")", "more than 32 literals"),
])
def test_bad_subgoals_are_errors_with_reasons_and_never_hold(task, literal, reason):
    sg = compile_subgoal(task, literal)
    assert isinstance(sg, SubgoalError) and not sg.ok and reason in sg.reason
    assert sg.holds(task.core.initial_state) is False


def test_subgoal_holds_reads_the_state(task):
    s0 = task.core.initial_state
    assert compile_subgoal(task, "(not (open jar_0))").holds(s0)
    assert not compile_subgoal(task, "(open jar_0)").holds(s0)
    assert compile_subgoal(task, "(inside strawberry_0 fridge_97)").holds(s0)
    s1 = s0.copy()
    ok, _, _ = task.core.apply(s1, task.core.eai_action("OPEN", ["jar_0"]))
    assert ok and compile_subgoal(task, ["open", "jar_0"]).holds(s1)
    assert not compile_subgoal(task, "(and (open jar_0) (open jar_1))").holds(s1)


def test_goal_expansion_matches_the_core_on_every_eai_task():
    for t in emx.load_tasks("eai-behavior"):
        assert goal_literal_count(t) == t.core.num_goal_literals, t.id


def test_goal_coverage_of_a_states_literals_is_the_cores_goal_fraction():
    """Naming exactly the goal atoms' truth in a state makes goal_coverage the core's goal
    fraction of that state: the coverage reader scores the goal as the core does."""
    checked = 0
    for t in emx.load_tasks("eai-behavior", limit=40):
        plan, _ = oracle_plan(t)
        if plan is None:
            continue
        atoms = [a for a, _ in emx.evaluate(t, plan).atoms]
        state = t.core.initial_state.copy()
        states = [state.copy()]
        for a in plan:
            t.core.apply(state, t.core.eai_action(a["action"], a["object"].split(",")))
            states.append(state.copy())
        for s in (states[0], states[len(states) // 2], states[-1]):
            lits = []
            for atom in atoms:
                pred, *args = atom.strip("()").split()
                lits.append(Literal(pred, tuple(args), t.core.holds(s, pred, *args)))
            named, total = goal_coverage(t, lits)
            assert named / total == pytest.approx(t.core.check(s)[1]), t.id
            checked += 1
    assert checked > 60


# --------------------------------------------------------------------------- parsing

def test_json_and_tagged_forms_parse_to_the_same_plan(task):
    subgoals = ["(sliced strawberry_0)", ["open", "jar_0"], "(not (open jar_1))"]
    j = parse_hierarchical("<think>plan it</think>```json\n" + answer(subgoals) + "\n```")
    t = parse_hierarchical(tagged(["(sliced strawberry_0)", "(open jar_0)", "(not (open jar_1))"]))
    for hp in (j, t):
        assert hp.format_ok and hp.error is None and hp.level_errors == {}
        assert hp.reasoning == REASONING
        assert hp.subgoals == ("(sliced strawberry_0)", "(open jar_0)", "(not (open jar_1))")
        assert emx.parse_plan(hp.actions_text).actions == emx.parse_plan(SOLUTION).actions


def test_native_actions_and_one_flat_subgoal_are_accepted():
    doc = {"reasoning": "r", "subgoals": ["open", "jar_0"],
           "actions": {"action_sequence": [{"action": "open", "parameters": {"object_index": 4}}]}}
    hp = parse_hierarchical(json.dumps(doc))
    assert hp.format_ok and hp.subgoals == ("(open jar_0)",)
    assert emx.parse_plan(hp.actions_text).format == "native"


def test_missing_levels_are_level_errors_and_a_bare_plan_still_parses():
    hp = parse_hierarchical(json.dumps({"actions": SOLUTION}))
    assert hp.format_ok and hp.level_errors == {"reasoning": "missing", "subgoals": "missing"}
    bare = parse_hierarchical("Here you go: " + json.dumps(SOLUTION))
    assert bare.format_ok and bare.subgoals == () and set(bare.level_errors) == {"reasoning", "subgoals"}
    think = parse_hierarchical("<think>I slice first.</think>" + json.dumps({"subgoals": [], "actions": SOLUTION}))
    assert think.reasoning == "I slice first." and think.level_errors == {"subgoals": "no sub-goals"}


@pytest.mark.parametrize("text, reason", [
    ("", "empty output"),
    ("I cannot help with that.", "no hierarchical answer"),
    (json.dumps({"reasoning": "r", "subgoals": ["(open jar_0)"]}), "actions: missing"),
    (json.dumps({"reasoning": "r", "subgoals": [], "actions": []}), "actions: no actions"),
    (json.dumps({"reasoning": "r", "actions": "open the jar"}), "actions: no JSON plan found"),
    ("<reasoning>r</reasoning><actions>[{'action': 'OPEN'}]</actions>", "actions: item 0"),
])
def test_format_failures_have_reasons(text, reason):
    hp = parse_hierarchical(text)
    assert not hp.format_ok and reason in hp.error


# --------------------------------------------------------------------------- level scores

def test_all_subgoals_achieved_in_order_on_the_solution(task):
    subgoals = ["(sliced strawberry_0)", JAR0_OPEN, JAR0_FILLED_AND_CLOSED]
    r = evaluate_hierarchical(task, answer(subgoals))
    assert r.format_ok and r.actions.success and r.actions.executed == len(SOLUTION) == len(r.states) - 1
    assert [s.achieved_at for s in r.subgoals] == [3, 5, 15]
    assert r.subgoals_valid == 1.0 and r.subgoals_achieved_in_order == 1.0 and r.reasoning == 1.0
    # the goal's best grounding has 8 ground literals; these sub-goals name 2 of them, (sliced
    # strawberry_0) and (not (open jar_0)): the goal speaks of strawberry_0, not of its slices
    assert (r.goal_literals_named, r.goal_literals_total) == (2.0, 8.0)
    w = HierarchyWeights()
    expected = r.actions.reward + w.reasoning + w.subgoals_valid + w.subgoals_achieved + w.goal_aligned * 2 / 8
    assert r.reward == pytest.approx(expected)
    assert r.actions.reward == emx.evaluate(task, SOLUTION).reward          # the action level is emx.evaluate's


def test_subgoals_out_of_order_lose_credit(task):
    r = evaluate_hierarchical(task, answer([JAR0_FILLED_AND_CLOSED, JAR0_OPEN]))
    assert [s.achieved_at for s in r.subgoals] == [15, None]   # jar_0 is never open again after 15
    assert r.subgoals_achieved_in_order == 0.5 and r.subgoals_valid == 1.0
    assert [s.holds_at_end for s in r.subgoals] == [True, False]
    in_order = evaluate_hierarchical(task, answer([JAR0_OPEN, JAR0_FILLED_AND_CLOSED]))
    assert in_order.subgoals_achieved_in_order == 1.0
    assert in_order.reward - r.reward == pytest.approx(0.5 * HierarchyWeights().subgoals_achieved)


def test_a_hallucinated_object_makes_an_invalid_subgoal(task):
    r = evaluate_hierarchical(task, answer(["(sliced strawberry_0)", "(inside apple_0 jar_0)", JAR0_OPEN]))
    bad = r.subgoals[1]
    assert not bad.valid and "apple_0" in bad.reason and bad.achieved_at is None
    assert r.subgoals_valid == pytest.approx(2 / 3) and r.subgoals_achieved_in_order == pytest.approx(2 / 3)


def test_missing_reasoning_costs_exactly_its_weight(task):
    subgoals = ["(sliced strawberry_0)"]
    with_r = evaluate_hierarchical(task, answer(subgoals))
    without = evaluate_hierarchical(task, answer(subgoals, reasoning=None))
    assert without.format_ok and without.reasoning == 0.0 and without.plan.level_errors == {"reasoning": "missing"}
    assert with_r.reward - without.reward == pytest.approx(HierarchyWeights().reasoning)
    short = evaluate_hierarchical(task, answer(subgoals, reasoning="slice then jar"))
    assert short.reasoning == pytest.approx(3 / 20) and short.reasoning_words == 3
    padded = evaluate_hierarchical(task, answer(subgoals, reasoning="word " * 500))
    assert padded.reasoning == 1.0                    # the length credit is bounded


def test_actions_failing_midway_leave_later_subgoals_unachieved(task):
    actions = [A("OPEN", "jar_0"), A("CLOSE", "jar_0"), A("RIGHT_GRASP", "strawberry_0"),  # fridge closed: fails
               A("OPEN", "jar_1")]
    r = evaluate_hierarchical(task, answer(["(open jar_0)", "(not (open jar_0))", "(open jar_1)"], actions))
    assert r.actions.executed == 2 and r.actions.first_error == "missing_step" and len(r.states) == 3
    assert [s.achieved_at for s in r.subgoals] == [1, 2, None]
    assert r.subgoals_achieved_in_order == pytest.approx(2 / 3)


def test_initial_state_alone_achieves_nothing(task):
    """A sub-goal true from the start counts only once an action has run."""
    r = evaluate_hierarchical(task, answer(["(not (open jar_0))"], [A("RIGHT_GRASP", "strawberry_0")]))
    assert r.actions.executed == 0 and r.subgoals_achieved_in_order == 0.0 and r.subgoals[0].holds_at_end


def test_oracle_plan_with_subgoals_from_its_goal_gets_full_marks():
    """For each oracle-solved task: one sub-goal per ground goal atom, with the truth it has when
    the oracle plan ends -> every level at 1."""
    w = HierarchyWeights()
    scored = 0
    for t in emx.load_tasks("eai-behavior", limit=12):
        plan, _ = oracle_plan(t)
        if plan is None:
            continue
        base = emx.evaluate(t, plan)
        assert base.success
        subgoals = [atom if truth else f"(not {atom})" for atom, truth in base.atoms]
        for text in (answer(subgoals, plan), tagged(subgoals, plan)):
            r = evaluate_hierarchical(t, text)
            assert r.format_ok and r.actions.success, t.id
            assert (r.reasoning, r.subgoals_valid, r.subgoals_achieved_in_order, r.goal_aligned) == (1, 1, 1, 1), t.id
            assert r.reward == pytest.approx(base.reward + w.reasoning + w.subgoals_valid + w.subgoals_achieved
                                             + w.goal_aligned)
        scored += 1
    assert scored >= 10


def test_unparseable_answers_get_the_format_failure_value(task):
    for reward in ("default", "embomatrix", "eai"):
        failure = emx.evaluate(task, "", reward=reward).reward
        for text in ("no plan here", json.dumps({"reasoning": REASONING, "subgoals": ["(open jar_0)"]})):
            r = evaluate_hierarchical(task, text, reward=reward)
            assert not r.format_ok and r.format_error and r.reward == failure
    r = evaluate_hierarchical(task, json.dumps({"reasoning": REASONING, "subgoals": ["(open jar_0)"]}))
    assert r.reasoning == 1.0 and r.subgoals_valid == 1.0     # still reported, never paid


def test_result_to_dict_carries_every_level(task):
    d = evaluate_hierarchical(task, answer(["(sliced strawberry_0)", "(inside apple_0 jar_0)"])).to_dict()
    json.dumps(d)
    assert set(d) >= {"reward", "format_ok", "reasoning", "subgoals", "actions", "weights", "level_errors"}
    assert d["subgoals"]["items"][1]["valid"] is False
    assert d["actions"]["success"] is True and d["weights"]["goal_aligned"] == 0.2


def test_batch_matches_single_calls(task):
    texts = [answer([JAR0_OPEN]), tagged([JAR0_FILLED_AND_CLOSED]), "garbage", b"\xff\xfe"]
    batch = evaluate_hierarchical_batch([task] * 4, texts, reward="embomatrix")
    single = [evaluate_hierarchical(task, x, reward="embomatrix") for x in texts]
    assert [b.reward for b in batch] == [s.reward for s in single]
    with pytest.raises(ValueError):
        evaluate_hierarchical_batch([task], [])


# --------------------------------------------------------------------------- never raises

@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet="<>/()[]{}\",:actionsubgoalreasoningthink ")))
def test_parsers_never_raise_on_garbage(task, text):
    hp = parse_hierarchical(text)
    assert isinstance(hp.format_ok, bool)
    ns = parse_next_subtask(text)
    assert ns.done or ns.error is not None or ns.actions is not None
    r = evaluate_hierarchical(task, text)
    assert r.format_ok == hp.format_ok


@pytest.mark.parametrize("text", [
    "x" * 1_000_000,
    "[" * 1_000_000,
    "{" * 200_000,
    "<actions>" * 100_000,
    "<subgoals>" + "(" * 150_000 + "</subgoals><actions>[]</actions>",
    "<subgoals>" + "(open jar_0)" * 15_000 + "</subgoals><actions>" + json.dumps(SOLUTION) + "</actions>",
    json.dumps({"reasoning": "r", "subgoals": ["(" * 5000 + ")" * 5000], "actions": SOLUTION}),
    bytes(range(256)) * 4000,
])
def test_huge_and_deep_inputs_are_bounded(task, text):
    t0 = time.perf_counter()
    hp = parse_hierarchical(text)
    ns = parse_next_subtask(text)
    r = evaluate_hierarchical(task, text)
    assert time.perf_counter() - t0 < 60.0   # a hang guard only: quadratic scanning would take minutes
    assert isinstance(hp.format_ok, bool) and isinstance(ns.done, bool) and isinstance(r.reward, float)


def test_too_many_subgoals_is_a_level_error(task):
    hp = parse_hierarchical("<subgoals>" + "(open jar_0)" * 100 + "</subgoals><actions>" + json.dumps(SOLUTION) + "</actions>")
    assert hp.format_ok and hp.subgoals == () and "more than 64" in hp.level_errors["subgoals"]


# --------------------------------------------------------------------------- next sub-task

def test_next_subtask_json_form(task):
    ns = parse_next_subtask('<think>the fridge first</think>{"subtask": "open the fridge", "subgoal": "(open fridge_97)", '
                            '"actions": [{"action": "OPEN", "object": "fridge_97"}]}')
    assert (ns.subtask, ns.subgoal, ns.done, ns.error) == ("open the fridge", "(open fridge_97)", False, None)
    assert [a.name for a in ns.actions.actions] == ["OPEN"]
    # what the episode runner does with it
    state = task.core.initial_state.copy()
    sg = compile_subgoal(task, ns.subgoal)
    assert not sg.holds(state)
    for action in emx.evaluation.to_actions(task, ns.actions):
        assert task.core.apply(state, action)[0]
    assert sg.holds(state)


@pytest.mark.parametrize("text", ['{"done": true}', '```json\n{"done": "yes"}\n```', "<done/>", "<done>true</done>",
                                  "Done.", "<think>all jars closed</think>DONE"])
def test_next_subtask_done_forms(text):
    ns = parse_next_subtask(text)
    assert ns.done and ns.error is None


def test_next_subtask_tagged_and_list_subgoal():
    ns = parse_next_subtask("<subtask>slice the peach</subtask><subgoal>['sliced', 'peach_0']</subgoal>"
                            '<actions>[{"action": "SLICE", "object": "peach_0"}]</actions>')
    assert ns.subtask == "slice the peach" and ns.error is None and ns.actions.ok
    assert ns.subgoal == "['sliced', 'peach_0']"           # text as written; compile_subgoal reads it
    ns2 = parse_next_subtask({"subtask": "close", "subgoal": ["not", "open", "jar_0"],
                              "actions": [{"action": "CLOSE", "object": "jar_0"}]})
    assert ns2.subgoal == "(not (open jar_0))" and ns2.error is None


@pytest.mark.parametrize("text, reason", [
    ('{"subtask": "open the fridge", "subgoal": "(open fridge_97)"}', "no actions"),
    ('{"subtask": "x", "actions": []}', "actions: no actions"),
    ('{"done": false}', "no actions"),
    ("", "empty output"),
    ("I am thinking", "actions: no JSON plan found"),
    (12, "expected text"),
])
def test_next_subtask_unusable_answers_have_reasons(text, reason):
    ns = parse_next_subtask(text)
    assert not ns.done and ns.actions is None and reason in ns.error


def test_bare_plan_is_a_next_subtask_without_words():
    ns = parse_next_subtask(json.dumps(SOLUTION[:2]))
    assert ns.error is None and ns.subtask == "" and ns.subgoal is None and len(ns.actions.actions) == 2


# --------------------------------------------------------------------------- prompts and policy spec

def test_prompts_carry_the_task_and_the_answer_format(task):
    p = hierarchical_prompt(task)
    assert "['sliced', 'strawberry_0']" in p and "{'name': 'jar_0', 'category': 'jar.n.01'}" in p
    assert '"subgoals"' in p and '"reasoning"' in p
    assert "Only output the list of action commands" not in p[p.rindex("interactable objects:"):]  # EAI's closing
    start = p.rindex("Example (for a different task):")
    example = p[start:p.index("Output:", start)]
    hp = parse_hierarchical(example)
    assert hp.format_ok and hp.level_errors == {}                    # the example is a valid answer
    q = next_subtask_prompt(task)
    assert '{"done": true}' in q and "jar_0" in q
    assert parse_next_subtask(q[q.rindex("Example (for a different task):"):]).error is None


def test_make_policy_wall_spec(tmp_path):
    from emx.hierarchy.policy import WallOSSStylePolicy
    from emx.policy import make_policy

    p = make_policy(f"wall:{tmp_path}")
    assert isinstance(p, WallOSSStylePolicy) and p.query == "plan" and p.observations == ("text",)
    q = make_policy(f"wall:{tmp_path}#next_subtask")
    assert q.query == "next_subtask" and q.name.endswith("#next_subtask")
    with pytest.raises(ValueError):
        make_policy(f"wall:{tmp_path}#everything")


# --------------------------------------------------------------------------- physics

def test_physics_mode_scores_the_same_levels(task):
    pytest.importorskip("sapien")
    text = answer(["(sliced strawberry_0)", JAR0_OPEN, JAR0_FILLED_AND_CLOSED])
    phys = evaluate_hierarchical(task, text, mode="physics")
    sym = evaluate_hierarchical(task, text)
    assert phys.actions.reward == pytest.approx(emx.evaluate(task, SOLUTION, mode="physics").reward)
    assert phys.actions.executed == len(phys.states) - 1 == len(SOLUTION)
    assert [s.achieved_at for s in phys.subgoals] == [s.achieved_at for s in sym.subgoals] == [3, 5, 15]
    assert phys.subgoals_achieved_in_order == 1.0
    failing = evaluate_hierarchical(task, answer([JAR0_OPEN], [A("RIGHT_GRASP", "strawberry_0")]), mode="physics")
    assert failing.actions.executed == 0 and failing.subgoals_achieved_in_order == 0.0


# --------------------------------------------------------------------------- the wall: policy through vLLM

@pytest.fixture(scope="module")
def wall_policy(tmp_path_factory, task):
    pytest.importorskip("vllm")
    pytest.importorskip("torch")
    from emx.hierarchy.policy import WallOSSStylePolicy
    from emx.train.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path_factory.mktemp("wall") / "model",
                             [hierarchical_prompt(task), next_subtask_prompt(task), json.dumps(SOLUTION)],
                             max_positions=4096)
    policy = WallOSSStylePolicy(model, max_tokens=48, max_model_len=4096)
    _ = policy.llm
    yield policy
    policy._llm = None   # shut the engine down with the module, not at interpreter exit
    import gc

    gc.collect()


def test_wall_policy_plans_through_vllm_and_every_output_is_scored(wall_policy, task):
    from emx.hierarchy.policy import WallOSSStylePolicy

    texts = wall_policy.plan([task, task])
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert texts[0] == texts[1]                                     # greedy, same prompt
    for r in evaluate_hierarchical_batch([task, task], texts):
        assert isinstance(r.reward, float) and isinstance(r.format_ok, bool)
        assert r.format_ok or r.reward == emx.evaluate(task, "").reward
    step = WallOSSStylePolicy(wall_policy.model, query="next_subtask", max_tokens=48, llm=wall_policy.llm)
    first = step.plan([task])
    conv = step.initial_conversation(task) + [{"role": "assistant", "content": first[0]},
                                              {"role": "user", "content": "The actions failed. Next sub-task?"}]
    replies = step.respond([conv, step.initial_conversation(task)])
    assert len(replies) == 2 and replies[1] == first[0]         # the one-turn conversation is plan()'s prompt
    for reply in replies:
        ns = parse_next_subtask(reply)
        assert ns.done or ns.error is not None or ns.actions is not None
    with pytest.raises(ValueError):
        step.respond([[{"role": "user"}]])


# --------------------------------------------------------------------------- the wall: policy against a chat server

def test_wall_policy_against_an_openai_compatible_server(task, chat_server):
    """Server mode: the hierarchical prompt goes out as chat messages, the answers come back as
    text and are scored; a failing request becomes "" (a format failure)."""
    from conftest import chat_reply

    from emx.policy import make_policy

    def reply(req):
        if req["messages"][-1]["content"] == "fail please":
            return 400, {"error": "bad"}
        return chat_reply("<think>ok</think>" + answer([JAR0_OPEN]))

    url, seen = chat_server(reply, model="wall-oss-stub")
    policy = make_policy(f"wall:{url}")
    texts = policy.plan([task])
    assert seen[0][0]["model"] == "wall-oss-stub" and seen[0][0]["messages"][0]["content"] == hierarchical_prompt(task)
    r = evaluate_hierarchical(task, texts[0])
    assert r.format_ok and r.actions.success and r.subgoals_achieved_in_order == 1.0
    step = make_policy(f"wall:{url}#next_subtask")
    replies = step.respond([step.initial_conversation(task), [{"role": "user", "content": "fail please"}]])
    assert sorted(m["messages"][0]["content"] for m, _ in seen[1:]) == sorted([next_subtask_prompt(task), "fail please"])
    assert replies[1] == "" and "HTTPError" in step.errors["1"]
