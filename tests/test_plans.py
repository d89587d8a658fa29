"""Tests for emx.plans: model output is parsed into plans or format failures, and never raises."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from emx.plans import MAX_ACTIONS, Plan, PlanAction, parse_plan, plan_to_text

EAI = '[{"action": "RIGHT_GRASP", "object": "apple_0"}, ' \
      '{"action": "LEFT_PLACE_NEXTTO_ONTOP", "object": "window_0, table_1"}]'
NATIVE = ('json: {"action_sequence": [{"action": "pick_up", "parameters": {"object_index": 3}}, '
          '{"action": "place", "parameters": {"object_index": 5, "relation": "inside"}}], '
          '"task_status_summary": "apple is in the fridge"}')
EAI_ACTIONS = (PlanAction("RIGHT_GRASP", ("apple_0",)),
               PlanAction("LEFT_PLACE_NEXTTO_ONTOP", ("window_0", "table_1")))


def failed(plan: Plan, reason: str) -> bool:
    return plan.format == "none" and plan.actions == () and not plan.ok and reason in plan.error


# --- both formats ---------------------------------------------------------------------------

def test_eai():
    p = parse_plan(EAI)
    assert p.ok and p.format == "eai" and p.error is None
    assert p.actions == EAI_ACTIONS and p.actions[0].params is None


def test_native():
    p = parse_plan(NATIVE)
    assert p.ok and p.format == "native" and p.summary == "apple is in the fridge"
    assert [a.name for a in p.actions] == ["pick_up", "place"]
    assert p.actions[1].params == {"object_index": 5, "relation": "inside"}
    assert p.actions[0].args == ()
    assert parse_plan(NATIVE.removeprefix("json: ")) == p  # the prefix is optional


def test_names_normalised_and_extra_keys_ignored():
    p = parse_plan('[{"action": " right_grasp ", "object": " apple_0 ", "thoughts": "x"}]')
    assert p.actions == (PlanAction("RIGHT_GRASP", ("apple_0",)),)
    q = parse_plan('{"action_sequence": [{"action": "Pick_Up"}]}')
    assert q.actions == (PlanAction("pick_up", (), {}),) and q.summary is None


def test_forced_format_and_mismatch():
    assert parse_plan(EAI, fmt="eai").ok and parse_plan(NATIVE, fmt="native").ok
    assert failed(parse_plan(EAI, fmt="native"), "found a list")
    assert failed(parse_plan(NATIVE, fmt="eai"), "found a native plan")
    with pytest.raises(ValueError):
        parse_plan(EAI, fmt="yaml")  # a caller bug, not model output


def test_already_parsed_input():
    assert parse_plan(json.loads(EAI)).actions == EAI_ACTIONS
    assert parse_plan(json.loads(NATIVE[6:])) == parse_plan(NATIVE)
    p = parse_plan(EAI)
    assert parse_plan(p) is p
    assert failed(parse_plan([{"action": "OPEN"}]), 'item 0: missing "object"')
    assert failed(parse_plan({"steps": []}), 'without "action_sequence"')


def test_not_format_failures():
    # Unknown names, hallucinated objects, wrong arity: the executor's business, not the parser's.
    p = parse_plan('[{"action": "FLY", "object": "unicorn_9, a, b"}, {"action": "OPEN", "object": ""}]')
    assert p.ok and p.actions == (PlanAction("FLY", ("unicorn_9", "a", "b")), PlanAction("OPEN"))
    assert parse_plan("[]") == Plan("eai", ())
    assert parse_plan('{"action_sequence": []}') == Plan("native", ())


# --- tolerated noise ------------------------------------------------------------------------

def test_think_fences_and_prose():
    text = ("<think>Maybe [{\"action\": \"OPEN\", \"object\": \"x\"}]? no.</think>\n"
            "Here's my plan:\n```json\n" + EAI + "\n```\nHope it helps! {cheers}")
    assert parse_plan(text).actions == EAI_ACTIONS
    assert parse_plan("<think>a</think><think>b</think>" + NATIVE).format == "native"
    assert parse_plan("Step [1] is key; [see notes]. " + EAI).actions == EAI_ACTIONS


def test_empty_list_in_prose_does_not_hide_plan():
    assert parse_plan("Start with [] then: " + EAI).actions == EAI_ACTIONS
    assert failed(parse_plan('Start with [] then: [{"action": 1, "object": "a"}]'),
                  'item 0: "action" must be a string, got int')


def test_unclosed_think():
    assert failed(parse_plan("<think>I should grasp the apple first and"), "unterminated <think>")
    # Documented choice: a plan that is there anyway is accepted.
    assert parse_plan("<think>ok " + EAI).actions == EAI_ACTIONS


def test_eai_prompt_example_style():
    text = """Output: [
        {'action': 'RIGHT_GRASP', 'object': 'apple_0'}, # grasp the robot's apple
        {'action': 'LEFT_PLACE_NEXTTO_ONTOP', 'object': 'window_0, table_1'},  # then place it
    ]"""
    assert parse_plan(text).actions == EAI_ACTIONS
    native = "{'action_sequence': [{'action': 'open', 'parameters': {'object_index': 2, " \
             "'flag': True, 'x': None,},},], 'task_status_summary': 'done',}"
    p = parse_plan(native)
    assert p.ok and p.actions[0].params == {"object_index": 2, "flag": True, "x": None}


def test_quotes_and_unicode_survive():
    p = parse_plan(r'''[{"action": "GRASP", "object": "the \"big\" box, café_0, 苹果_1, it's"}]''')
    assert p.actions[0].args == ('the "big" box', "café_0", "苹果_1", "it's")
    q = parse_plan(r"""[{'action': 'GRASP', 'object': 'it\'s "q" # not a comment, ü'}]""")
    assert q.actions[0].args == ('it\'s "q" # not a comment', "ü")
    assert parse_plan(plan_to_text(p)) == p and parse_plan(plan_to_text(q)) == q


# --- round trip -----------------------------------------------------------------------------

def test_round_trip():
    for text in (EAI, NATIVE, "[]", '{"action_sequence": []}'):
        p = parse_plan(text)
        assert parse_plan(plan_to_text(p)) == p
    assert plan_to_text(parse_plan(EAI)).startswith("[")
    assert plan_to_text(parse_plan(NATIVE)).startswith('json: {"action_sequence"')
    with pytest.raises(ValueError):
        plan_to_text(parse_plan(""))


def test_think_tag_inside_a_name_round_trips():
    p = parse_plan([{"action": "x</think>y", "object": "a</think>"}])
    assert "</think>" not in plan_to_text(p) and parse_plan(plan_to_text(p)) == p


def test_plans_are_hashable():
    assert len({parse_plan(NATIVE), parse_plan(NATIVE), parse_plan(EAI)}) == 2


# --- failure reasons ------------------------------------------------------------------------

@pytest.mark.parametrize("text, reason", [
    ("", "empty output"),
    (" \n\t ", "empty output"),
    ("<think>hmm</think>  ", "empty output"),
    ("I cannot help with that.", "no JSON plan found"),
    ('[{"action": "OPEN", "object": "door_0"}, ', "no JSON plan found"),  # truncated
    ("[1, 2, 3]", "no JSON plan found"),
    ('{"action": "OPEN", "object": "door_0"}', "single action object"),
    ('[{"action": "OPEN", "object": 3}]', 'item 0: "object" must be a string, got int'),
    ('[{"action": "OPEN", "object": "a"}, 7]', "item 1: expected an object, got int"),
    ('[{"object": "a"}]', 'item 0: missing "action"'),
    ('[{"action": "OPEN"}]', 'item 0: missing "object"'),
    ('[{"action": null, "object": "a"}]', 'item 0: "action" must be a string, got NoneType'),
    ('[{"action": "A", "object": ["a", "b"]}]', 'item 0: "object" must be a string, got list'),
    ('{"action_sequence": {"action": "open"}}', '"action_sequence" must be a list, got dict'),
    ('{"action_sequence": [{"parameters": {}}]}', 'item 0: missing "action"'),
    ('{"action_sequence": [{"action": 4}]}', 'item 0: "action" must be a string, got int'),
    ('{"action_sequence": [{"action": "open", "parameters": [3]}]}',
     'item 0: "parameters" must be an object, got list'),
    ('{"action_sequence": [{"action": "open", "parameters": null}]}', '"parameters" must be an'),
    ('{"action_sequence": [{"action": "open", "parameters": {"o": {"a": 1}}}]}',
     'parameter "o" must be a JSON scalar'),
    ('{"action_sequence": [{"action": "turn", "parameters": {"yaw": NaN}}]}', "finite number"),
    ("[" * 33 + "]" * 33, "nesting deeper than 32 levels"),
])
def test_failure_reasons(text, reason):
    assert failed(parse_plan(text), reason)


def test_non_text_inputs():
    assert failed(parse_plan(None), "expected text, got NoneType")
    assert failed(parse_plan(42), "expected text, got int")
    assert failed(parse_plan(object()), "expected text, got object")
    assert failed(parse_plan([1, 2]), "item 0: expected an object, got int")


def test_too_many_actions():
    item = {"action": "OPEN", "object": "door_0"}
    assert parse_plan(json.dumps([item] * MAX_ACTIONS)).ok
    assert failed(parse_plan(json.dumps([item] * (MAX_ACTIONS + 1))), "too many actions: 513")
    seq = {"action_sequence": [{"action": "open"}] * (MAX_ACTIONS + 1)}
    assert failed(parse_plan(seq), "too many actions")


def test_one_megabyte():
    text = EAI + " " * 1_000_000
    assert parse_plan(text).error == f"output too long: {len(text)} characters (limit 200000)"
    assert failed(parse_plan(text.encode()), "output too long")


def test_deep_nesting_never_recurses():
    assert failed(parse_plan("[" * 100_000), "nesting deeper than 32 levels")
    assert failed(parse_plan("{\"a\": " * 30_000), "nesting deeper")
    assert parse_plan("[" * 31 + "]" * 31).format == "none"  # deep but legal JSON: not a plan


def test_binary_garbage():
    for seed in range(20):
        data = os.urandom(4096) + EAI.encode() if seed % 2 else os.urandom(50_000)
        p = parse_plan(data)
        assert isinstance(p, Plan) and (p.ok or p.error)
    assert parse_plan(b"\xff\xfe junk " + EAI.encode("utf-8")).actions == EAI_ACTIONS


# --- properties -----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(),
                 st.text(alphabet="[]{}\"',:#\\ \nTrueFalsNn0123action_sequence"),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=4)
                              | st.dictionaries(st.sampled_from(["action", "object",
                                                                 "action_sequence",
                                                                 "parameters", "x"]), c),
                              max_leaves=12)))
def test_never_raises(value):
    for fmt in ("auto", "eai", "native"):
        p = parse_plan(value, fmt)
        assert isinstance(p, Plan)
        assert p.ok == (p.error is None)
        if p.ok:
            assert parse_plan(plan_to_text(p)) == p
        else:
            assert p.format == "none" and p.actions == () and isinstance(p.error, str)


names = st.text(min_size=1, max_size=12)
scalars = (st.none() | st.booleans() | st.integers(-10**9, 10**9)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"action": names, "object": st.text(max_size=20)}),
                max_size=20))
def test_eai_round_trip(items):
    p = parse_plan(items)
    assert p.ok and p.format == "eai" and len(p.actions) == len(items)
    assert parse_plan(plan_to_text(p)) == p
    assert parse_plan("<think>x</think>```json\n" + plan_to_text(p) + "\n```") == p


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"action": names,
                                       "parameters": st.dictionaries(st.text(max_size=6),
                                                                     scalars, max_size=3)}),
                max_size=20),
       st.none() | st.text(max_size=30))
def test_native_round_trip(items, summary):
    doc = {"action_sequence": items}
    if summary is not None:
        doc["task_status_summary"] = summary
    p = parse_plan(doc)
    assert p.ok and p.format == "native" and p.summary == summary
    assert parse_plan(plan_to_text(p)) == p
