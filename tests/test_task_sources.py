"""Task sources: the EAI BEHAVIOR tasks and their BDDL form, the ability table, SRC resolution.

The bddl package's own reader is the judge of the generated BDDL: if ``bddl.activity`` accepts
a problem and compiles its goal against the declared objects, so should emx's compiler.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from emx.tasks import (
    ABILITY_NAMES,
    EaiTask,
    SOURCE_FORMS,
    TaskSpec,
    abilities_of,
    ability_names,
    bddl_activities,
    eai_to_bddl,
    load_abilities,
    load_eai_tasks,
    parse_flat_goal,
    resolve_source,
    unknown_categories,
)
from emx.tasks.eai import BINARY_PREDICATES, UNARY_PREDICATES, eai_data_dir


# --------------------------------------------------------------------------- helpers

def _task(prefix: str) -> EaiTask:
    (task,) = [t for t in load_eai_tasks() if t.identifier.startswith(prefix)]
    return task


def _flatten(expr: object) -> list[str]:
    """Undo parse_flat_goal: drop the structure and the '?' of variables."""
    if isinstance(expr, tuple):
        return [tok for sub in expr for tok in _flatten(sub)]
    return [str(expr).lstrip("?")]


def _quiet(fn, *args, **kwargs):
    # bddl prints diagnostics to stdout; keep test output readable
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def _permissive_backend():
    """A bddl backend knowing every predicate EAI uses (TrivialBackend lacks dusty, stained...)."""
    from bddl.backend_abc import BDDLBackend
    from bddl.logic_base import BinaryAtomicFormula, UnaryAtomicFormula

    class Unary(UnaryAtomicFormula):
        def _evaluate(self, obj):
            return False

        def _sample(self, obj, binary_state):
            pass

    class Binary(BinaryAtomicFormula):
        def _evaluate(self, obj1, obj2):
            return False

        def _sample(self, obj1, obj2, binary_state):
            pass

    class Backend(BDDLBackend):
        def get_predicate_class(self, name):
            if name in UNARY_PREDICATES:
                return type(name, (Unary,), {"STATE_NAME": name})
            if name in BINARY_PREDICATES:
                return type(name, (Binary,), {"STATE_NAME": name})
            raise KeyError(name)

    return Backend()


# --------------------------------------------------------------------------- EAI tasks

def test_eai_tasks_load():
    tasks = load_eai_tasks()
    assert len(tasks) == 100
    assert len({t.identifier for t in tasks}) == 100
    assert len({t.activity for t in tasks}) == 100
    first = tasks[0]
    assert first.identifier == "assembling_gift_baskets_0_Beechwood_0_int_0_2021-10-26_12-46-37"
    assert first.activity == "assembling_gift_baskets"
    assert first.objects[0] == ("basket_0", "basket.n.01")
    assert first.init[0] == ("onfloor", "basket_0", "room_floor_living_room_0")
    for t in tasks:
        assert t.objects and t.init and t.goal
        assert "Your task:" in t.prompt
        # the task block, not the prompt's worked example, was read
        last = t.prompt[t.prompt.rfind("Your task:"):]
        assert str(list(t.goal[0])) in last
        assert t.identifier.startswith(t.activity + "_")
    assert load_eai_tasks() == tasks  # cached and stable


def test_goal_parse_consumes_every_token_and_round_trips():
    n = 0
    for t in load_eai_tasks():
        for line in t.goal:
            expr = parse_flat_goal(line)
            assert _flatten(expr) == list(line), (t.identifier, line)
            n += 1
    assert n > 100


def test_goal_shape_matches_behavior100_problem_files():
    """eai-eval also ships each task's BEHAVIOR-100 problem (generic object names); the greedy
    and/or reading must give exactly its goal tree, variables included."""
    from bddl.parsing import scan_tokens

    pddl_dir = os.path.join(eai_data_dir(), "evaluation", "transition_modeling", "resources",
                            "pddl_behavior")
    if not os.path.isdir(pddl_dir):
        pytest.skip("eai-eval without its BEHAVIOR-100 problem files")

    def norm(x):
        if isinstance(x, (list, tuple)):
            if len(x) == 3 and x[1] == "-":
                return ("decl", x[0].lower(), x[2].lower())
            return tuple(norm(e) for e in x)
        x = str(x).lower()
        if re.fullmatch(r"\?[a-z_\-]+\.n\.\d+", x) or x.isdigit():
            return x  # a quantified variable or a count
        return "OBJECT" if re.search(r"_\d+$", x) else x

    for t in load_eai_tasks():
        tokens = scan_tokens(filename=os.path.join(pddl_dir, t.identifier + ".pddl"))
        goal = next(g for g in tokens if isinstance(g, list) and g[0] == ":goal")[1]
        assert goal[0] == "and"
        assert [norm(g) for g in goal[1:]] == [norm(parse_flat_goal(l)) for l in t.goal], \
            t.identifier


def test_goal_structures():
    # forpairs: two typed variables, then the body
    g = parse_flat_goal(_task("assembling_gift_baskets").goal[0])
    assert g == ("forpairs", ("?basket.n.01", "-", "basket.n.01"),
                 ("?candle.n.01", "-", "candle.n.01"),
                 ("inside", "?candle.n.01", "?basket.n.01"))
    # forn: the count is its own list, as BDDL writes (forn (2) ...)
    g = parse_flat_goal(["forn", "2", "gym_shoe.n.01", "-", "gym_shoe.n.01",
                         "nextto", "gym_shoe.n.01", "coffee_table_4"])
    assert g == ("forn", ("2",), ("?gym_shoe.n.01", "-", "gym_shoe.n.01"),
                 ("nextto", "?gym_shoe.n.01", "coffee_table_4"))
    # exists + greedy and: every remaining formula of the line is a conjunct
    g = parse_flat_goal(_task("packing_picnics").goal[2])
    assert g[0] == "exists" and g[1] == ("?carton.n.02", "-", "carton.n.02")
    body = g[2]
    assert body[0] == "and" and len(body) == 4
    assert [c[0] for c in body[1:]] == ["forall", "forall", "forall"]
    assert body[1] == ("forall", ("?pop.n.02", "-", "pop.n.02"),
                       ("inside", "?pop.n.02", "?carton.n.02"))
    # and nested in forall, with an exists inside the and
    g = parse_flat_goal(_task("washing_pots_and_pans").goal[0])
    assert g == ("forall", ("?pan.n.01", "-", "pan.n.01"),
                 ("and", ("not", ("stained", "?pan.n.01")),
                  ("exists", ("?cabinet.n.01", "-", "cabinet.n.01"),
                   ("inside", "?pan.n.01", "?cabinet.n.01"))))
    assert parse_flat_goal(["or", "nextto", "rag_80", "sink_37", "inside", "rag_80", "sink_37"]) \
        == ("or", ("nextto", "rag_80", "sink_37"), ("inside", "rag_80", "sink_37"))
    assert parse_flat_goal(["fornpairs", "2", "a.n.01", "-", "a.n.01", "b.n.01", "-", "b.n.01",
                            "ontop", "a.n.01", "b.n.01"]) == (
        "fornpairs", ("2",), ("?a.n.01", "-", "a.n.01"), ("?b.n.01", "-", "b.n.01"),
        ("ontop", "?a.n.01", "?b.n.01"))
    assert parse_flat_goal(["imply", "open", "x_1", "not", "dusty", "x_1"]) == (
        "imply", ("open", "x_1"), ("not", ("dusty", "x_1")))


@pytest.mark.parametrize("tokens", [
    ["inside", "a_1", "b_1", "c_1"],               # unconsumed token
    ["inside", "a_1"],                             # ran out
    ["forall", "jar.n.01", "jar.n.01", "open", "jar.n.01"],  # missing '-'
    ["forn", "two", "a.n.01", "-", "a.n.01", "open", "a.n.01"],
    ["levitating", "a_1"],
    ["and"],
    ["open", "and"],
    [],
])
def test_goal_parse_errors(tokens):
    with pytest.raises(ValueError):
        parse_flat_goal(tokens)


def test_every_eai_problem_is_accepted_by_bddl():
    from bddl.activity import (Conditions, get_goal_conditions, get_initial_conditions,
                               get_object_scope)
    from bddl.parsing import scan_tokens

    backend = _permissive_backend()
    for t in load_eai_tasks():
        text = eai_to_bddl(t)
        assert scan_tokens(string=text)[0] == "define"
        conds = _quiet(Conditions, t.identifier, 0, "omnigibson", predefined_problem=text)
        scope = get_object_scope(conds)
        # compiling resolves every term against the declared objects (UncontrolledCategoryError
        # otherwise) and every quantifier's type against the object map
        goals = _quiet(get_goal_conditions, conds, backend, scope)
        assert len(goals) == len(t.goal), t.identifier
        inits = _quiet(get_initial_conditions, conds, backend, scope,
                       generate_ground_options=False)
        assert len(inits) == len(t.init), t.identifier
        declared = {name for names in conds.parsed_objects.values() for name in names}
        assert {n for n, _ in t.objects} <= declared


def test_eai_bddl_declarations_and_rooms():
    t = _task("assembling_gift_baskets")
    text = eai_to_bddl(t)
    assert text.startswith(f"(define (problem {t.identifier})")
    assert "(:domain omnigibson)" in text
    assert "basket_0 basket_1 basket_2 basket_3 - basket.n.01" in text
    assert "breakfast_table_13 coffee_table_12 - table.n.02" in text
    assert "agent.n.01_1 - agent.n.01" in text  # mentioned in init, absent from the object list
    assert "(inroom room_floor_living_room_0 living_room)" in text
    text = eai_to_bddl(_task("cleaning_windows"))
    assert "(not (soaked rag_0))" in text

    # names missing from the object list get a category from their own name
    synthetic = EaiTask(
        identifier="x_0_Rs_int_0_2021-01-01_00-00-00", activity="x", prompt="",
        objects=(("apple_0", "apple.n.01"),),
        init=(("onfloor", "apple_0", "room_floor_home_office_0"),
              ("onfloor", "agent.n.01_1", "room_floor_home_office_0")),
        goal=(("ontop", "apple_0", "table.n.02_1"),))
    text = eai_to_bddl(synthetic)
    assert "room_floor_home_office_0 - floor.n.01" in text
    assert "table.n.02_1 - table.n.02" in text
    assert "(inroom room_floor_home_office_0 home_office)" in text
    from bddl.activity import Conditions
    _quiet(Conditions, "x", 0, "omnigibson", predefined_problem=text)


# --------------------------------------------------------------------------- ability table

def test_ability_names():
    assert ability_names() == ABILITY_NAMES
    assert len(ABILITY_NAMES) == 23 == len(set(ABILITY_NAMES))
    assert ABILITY_NAMES[0] == "openable" and ABILITY_NAMES[-1] == "soap"
    table = load_abilities()
    assert load_abilities() is table
    assert len(table) > 3000
    assert set().union(*table.values()) == set(ABILITY_NAMES)


@pytest.mark.parametrize("synset, expected", [
    ("cabinet.n.01", {"openable", "container", "fixed"}),
    ("knife.n.01", {"slicer"}),
    ("carving_knife.n.01", {"slicer"}),
    ("sink.n.01", {"water_source", "toggleable", "fixed"}),
    ("rag.n.01", {"cleaning_tool", "soakable"}),
    ("scrub_brush.n.01", {"cleaning_tool", "soakable"}),
    ("electric_refrigerator.n.01", {"cold_source", "openable", "container", "fixed"}),
    ("stove.n.01", {"heat_source", "toggleable"}),
    ("microwave.n.02", {"heat_source", "openable"}),
    ("saucepan.n.01", {"cooking_vessel", "container"}),
    ("pan.n.01", {"cooking_vessel", "container"}),
    ("dishwasher.n.01", {"dishwasher", "openable", "toggleable"}),
    ("floor.n.01", {"floor", "fixed"}),
    ("agent.n.01", {"agent"}),
    ("soap.n.01", {"soap"}),
    ("detergent.n.02", {"soap", "substance"}),
    ("bottle__of__detergent.n.01", {"soap"}),
    ("pot_plant.n.01", {"soakable"}),
    ("apple.n.01", {"cookable", "freezable", "sliceable"}),
    ("tomato.n.01", {"sliceable", "cookable"}),   # abstract in B1K: majority of its kinds
    ("package.n.02", {"openable", "container"}),  # override: iGibson packages open
    ("teapot.n.01", {"water_source"}),            # override: EAI soaks tea bags in teapots
    ("water.n.06", {"substance"}),
])
def test_abilities_spot_checks(synset, expected):
    abilities = abilities_of(synset)
    assert abilities is not None
    assert expected <= abilities, sorted(abilities)


def test_ability_negatives():
    assert "fixed" not in abilities_of("apple.n.01")
    assert "slicer" not in abilities_of("apple.n.01")
    assert "openable" not in abilities_of("table.n.02")
    assert "soakable" not in abilities_of("diced__chives.n.01")  # a substance, not a plant
    assert abilities_of("no_such_thing.n.01") is None


def test_every_eai_category_resolves():
    categories = {c for t in load_eai_tasks() for _, c in t.objects}
    assert len(categories) > 150
    assert unknown_categories(categories) == []
    assert unknown_categories(["apple.n.01", "no_such_thing.n.01", "no_such_thing.n.01"]) == \
        ["no_such_thing.n.01"]


@pytest.mark.parametrize("synset, expected", [
    # BEHAVIOR-100 synsets absent from BEHAVIOR-1K, resolved through stand-ins
    ("duffel_bag.n.01", {"container", "cleaning_tool"}),
    ("highlighter.n.02", {"dustyable"}),
    ("perfume.n.02", {"dustyable"}),
    ("pop.n.02", {"dustyable", "freezable"}),
    ("stocking.n.01", {"container", "soakable"}),
    ("sunglass.n.01", {"dustyable"}),
    ("underwear.n.01", {"soakable"}),
])
def test_missing_behavior100_synsets(synset, expected):
    abilities = abilities_of(synset)
    assert abilities is not None and expected <= abilities
    assert "fixed" not in abilities


def test_eai_state_predicates_have_abilities():
    """Every state an EAI task's init or goal mentions is one its object can have."""
    need = {"open": "openable", "toggled_on": "toggleable", "cooked": "cookable",
            "frozen": "freezable", "sliced": "sliceable", "soaked": "soakable",
            "dusty": "dustyable", "stained": "stainable"}
    table = load_abilities()
    bad = []

    def visit(expr, cat, tid):
        if not isinstance(expr, tuple):
            return
        if expr[0] in need:
            obj = expr[1]
            c = obj[1:] if obj.startswith("?") else cat[obj]
            if need[expr[0]] not in table[c]:
                bad.append((tid, expr))
        for sub in expr[1:]:
            visit(sub, cat, tid)

    for t in load_eai_tasks():
        cat = dict(t.objects)
        for lit in t.init:
            core = lit[1:] if lit[0] == "not" else lit
            if core[0] in need and need[core[0]] not in table[cat[core[1]]]:
                bad.append((t.identifier, lit))
        for line in t.goal:
            visit(parse_flat_goal(line), cat, t.identifier)
    assert bad == []


# --------------------------------------------------------------------------- sources

def test_source_eai_all_and_one():
    specs = resolve_source("eai-behavior")
    assert len(specs) == 100
    s = specs[0]
    assert isinstance(s, TaskSpec)
    assert s.source == "eai-behavior" and s.id == s.eai.identifier
    assert s.filename == f"<eai:{s.id}>"
    assert s.command == "assembling gift baskets"
    assert s.bddl_text == eai_to_bddl(s.eai)
    assert [x.id for x in resolve_source("eai-behavior", limit=3)] == [x.id for x in specs[:3]]

    one = resolve_source("eai-behavior:" + specs[5].id)
    assert [x.id for x in one] == [specs[5].id]
    by_activity = resolve_source("eai-behavior:making_tea")
    assert len(by_activity) == 1 and by_activity[0].id.startswith("making_tea_0_")
    assert resolve_source("eai-behavior:assembling_gift")[0].id == specs[0].id  # unique prefix


def test_source_bddl_all_and_one():
    specs = resolve_source("bddl")
    assert len(specs) == 1016 == len(bddl_activities())
    ids = [s.id for s in specs]
    assert ids == sorted(ids)
    s = resolve_source("bddl:assembling_gift_baskets")[0]
    assert s.source == "bddl" and s.id == "assembling_gift_baskets"
    assert s.command == "assembling gift baskets"
    assert s.filename.endswith(os.path.join("assembling_gift_baskets", "problem0.bddl"))
    assert "(:goal" in s.bddl_text
    assert len(resolve_source("bddl", limit=5)) == 5
    assert resolve_source("bddl", limit=0) == []


@pytest.mark.parametrize("src, message", [
    ("eai-behaviour", "did you mean eai-behavior"),
    ("nonsense", "valid task sources"),
    ("", "empty task source"),
    ("eai-behavior:", "needs a task identifier"),
    ("eai-behavior:makin_tea", "did you mean"),
    ("eai-behavior:cleaning", "ambiguous"),
    ("bddl:assembling_gift_basket", "assembling_gift_baskets"),
    ("bddl:", "needs an activity name"),
    ("/no/such/dir/task.bddl", "no such file"),
])
def test_source_errors(src, message):
    from emx.errors import TaskSourceError  # a ValueError

    with pytest.raises(TaskSourceError, match=re.escape(message)):
        resolve_source(src)


def test_source_limit_must_be_non_negative():
    with pytest.raises(ValueError):
        resolve_source("bddl", limit=-1)


_PROBLEM = """(define (problem {name})
    (:domain omnigibson)
    (:objects apple.n.01_1 - apple.n.01 table.n.02_1 - table.n.02 floor.n.01_1 - floor.n.01
              agent.n.01_1 - agent.n.01)
    (:init (ontop apple.n.01_1 table.n.02_1) (inroom floor.n.01_1 kitchen)
           (ontop agent.n.01_1 floor.n.01_1))
    (:goal (and (not (ontop apple.n.01_1 table.n.02_1))))
)
"""


def test_source_file_and_directory(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a.bddl").write_text(_PROBLEM.format(name="put_the_apple_in_the_fridge"),
                                     encoding="utf-8")
    (tmp_path / "b" / "deep" / "problem0.bddl").write_text(_PROBLEM.format(name="x-0"),
                                                           encoding="utf-8")
    (tmp_path / "b" / "c.bddl").write_text(_PROBLEM.format(name="clean_table-0"),
                                           encoding="utf-8")
    (tmp_path / "b" / "notes.txt").write_text("not a task", encoding="utf-8")
    (tmp_path / "domain_omnigibson.bddl").write_text(
        "; a domain\n(define (domain omnigibson) (:predicates))\n", encoding="utf-8")

    specs = resolve_source(str(tmp_path))
    assert [s.id for s in specs] == ["a", "b/c", "b/deep/problem0"]
    assert all(s.source == "file" and s.eai is None for s in specs)
    # problem names that are sentences are the command; otherwise the file (or its folder)
    assert [s.command for s in specs] == ["put the apple in the fridge", "clean table", "deep"]
    assert specs[0].filename == str(tmp_path / "a.bddl")
    assert [s.id for s in resolve_source(str(tmp_path), limit=2)] == ["a", "b/c"]

    (single,) = resolve_source(str(tmp_path / "b" / "c.bddl"))
    assert single.id == "c" and single.source == "file"
    assert single.bddl_text == _PROBLEM.format(name="clean_table-0")

    from bddl.activity import Conditions
    for s in specs:
        _quiet(Conditions, s.id, 0, "omnigibson", predefined_problem=s.bddl_text)

    with pytest.raises(ValueError, match="not a .bddl file"):
        resolve_source(str(tmp_path / "b" / "notes.txt"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .bddl problem files"):
        resolve_source(str(empty))


def test_source_non_utf8_file_names_the_file(tmp_path):
    bad = tmp_path / "latin1.bddl"
    bad.write_bytes(_PROBLEM.format(name="caf\xe9").encode("latin-1"))
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        resolve_source(str(bad))
    with pytest.raises(ValueError, match="not UTF-8"):
        resolve_source(str(tmp_path))


def test_source_forms_documented():
    assert any(f.startswith("eai-behavior:") for f in SOURCE_FORMS)
    assert "bddl" in SOURCE_FORMS
