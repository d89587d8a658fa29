"""Malformed BDDL never crashes emx: it raises emx.BddlError (a ValueError) whose text starts
with "file:line:col" naming the offending token, and whose attributes say the same."""

from __future__ import annotations

import random
import time

import pytest

import emx
from emx import _core
from emx.task import compile_spec, knowledge_base
from emx.tasks.sources import TaskSpec

FILE = "x.bddl"

# Line numbers matter below: every test edits one spot of this text and checks where the error
# points, found with where() so the expectations read as "at that token".
BASE = """\
(define (problem stow_the_apple-0)
  (:domain omnigibson)
  (:objects
    apple.n.01_1 apple.n.01_2 - apple.n.01
    electric_refrigerator.n.01_1 - electric_refrigerator.n.01
    floor.n.01_1 - floor.n.01
    agent.n.01_1 - agent.n.01)
  (:init
    (ontop apple.n.01_1 floor.n.01_1)
    (ontop apple.n.01_2 floor.n.01_1)
    (inroom electric_refrigerator.n.01_1 kitchen)
    (ontop agent.n.01_1 floor.n.01_1))
  (:goal
    (and
      (inside ?apple.n.01_1 ?electric_refrigerator.n.01_1)
      (not (open ?electric_refrigerator.n.01_1)))))
"""

GOAL_1 = "(inside ?apple.n.01_1 ?electric_refrigerator.n.01_1)"


def where(text: str, needle: str, nth: int = 1, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of needle (plus offset characters)."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    pos += offset
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def compile_text(text: str, filename: str = FILE):
    return _core.compile_task(text, filename, knowledge_base())


def error_of(text: str, filename: str = FILE) -> emx.BddlError:
    with pytest.raises(emx.BddlError) as info:
        compile_text(text, filename)
    return info.value


def expect_error(text: str, line: int, col: int, fragment: str, filename: str = FILE) -> emx.BddlError:
    e = error_of(text, filename)
    assert isinstance(e, ValueError) and isinstance(e, emx.EmxError)
    assert str(e).startswith(f"{filename}:{line}:{col}: "), str(e)
    assert fragment in str(e), str(e)
    assert (e.file, e.line, e.column) == (filename, line, col)
    assert e.message and str(e) == f"{filename}:{line}:{col}: {e.message}"
    return e


def test_base_compiles():
    task = compile_text(BASE)
    assert task.num_objects >= 5
    assert task.goal_conditions == [GOAL_1, "(not (open ?electric_refrigerator.n.01_1))"]


def test_error_through_compile_spec_names_the_spec_file():
    spec = TaskSpec(id="t", source="file", bddl_text=edit("(ontop apple.n.01_2", "(ontopp apple.n.01_2"),
                    filename="/data/tasks/t.bddl", command="t")
    with pytest.raises(emx.BddlError) as info:
        compile_spec(spec)
    line, col = where(spec.bddl_text, "ontopp")
    assert (line, col) == (10, 6)
    assert str(info.value).startswith(f"/data/tasks/t.bddl:{line}:{col}: unknown predicate 'ontopp'")


def test_parse_problem_raises_the_same_error():
    text = edit("(:init\n", "(:init\n  )\n")
    with pytest.raises(emx.BddlError) as info:
        _core.parse_problem(text, FILE)
    assert str(info.value).startswith(f"{FILE}:") and isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------- parentheses

def test_missing_close_paren_at_end():
    text = BASE.rstrip()[:-1]                   # the (define ...) is never closed
    expect_error(text, 1, 1, "'(' is never closed")


def test_truncated_file_points_at_innermost_open_paren():
    text = BASE[:BASE.index(GOAL_1) + len(GOAL_1) - 1]  # cut inside the (inside ...) literal
    line, col = where(text, "(inside")
    assert (line, col) == (15, 7)
    expect_error(text, line, col, "unbalanced parentheses: '(' is never closed")


def test_missing_close_paren_inside_a_literal():
    # "(ontop apple.n.01_2 floor.n.01_1" swallows the rest; only (define is left open at EOF
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop apple.n.01_2 floor.n.01_1")
    expect_error(text, 1, 1, "'(' is never closed")


def test_extra_close_paren_at_end():
    text = BASE + ")\n"
    line, col = where(text, ")\n", nth=BASE.count(")\n") + 1)
    assert (line, col) == (17, 1)
    expect_error(text, 17, 1, "unbalanced parentheses: extra ')'")


def test_extra_close_paren_at_start():
    expect_error(")" + BASE, 1, 1, "unexpected ')'")


def test_extra_close_paren_inside():
    # The extra ')' closes (:init early and the following ')' closes (define: what follows
    # is reported at its first token.
    text = edit("(inroom electric_refrigerator.n.01_1 kitchen)",
                "(inroom electric_refrigerator.n.01_1 kitchen))")
    line, col = where(text, "(:goal")
    assert (line, col) == (13, 3)
    expect_error(text, line, col, "after the end of the expression")


def test_empty_file():
    expect_error("", 1, 1, "empty input")
    expect_error("   \n\n\t", 1, 1, "empty input")
    expect_error("; only a comment\n;another\n", 1, 1, "empty input")


def test_not_a_define():
    expect_error("(problem x)", 1, 1, "expected '(define (problem NAME) ...)'")
    expect_error("\n  define", 2, 3, "expected '(define (problem NAME) ...)'")


def test_unknown_section():
    text = edit("(:init\n", "(:initial\n")
    expect_error(text, *where(text, "(:initial"), "unknown section ':initial'")


# ---------------------------------------------------------------------------- predicates / objects

def test_unknown_predicate_in_init():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(on_top apple.n.01_2 floor.n.01_1)")
    expect_error(text, 10, 6, "unknown predicate 'on_top'")


def test_unknown_predicate_in_goal():
    text = edit(GOAL_1, GOAL_1.replace("inside", "in"))
    expect_error(text, 15, 8, "unknown predicate 'in'")


def test_unknown_predicate_inside_quantifier():
    text = edit(GOAL_1, "(forall (?a - apple.n.01) (frobbed ?a))")
    expect_error(text, *where(text, "frobbed"), "unknown predicate 'frobbed'")


def test_undeclared_object_in_init():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop apple.n.01_2 floor.n.01_7)")
    line, col = where(text, "floor.n.01_7")
    assert (line, col) == (10, 25)
    expect_error(text, line, col, "undeclared object 'floor.n.01_7'")


def test_undeclared_first_argument_in_init():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop pear.n.01_1 floor.n.01_1)")
    expect_error(text, 10, 12, "undeclared object 'pear.n.01_1'")


def test_undeclared_object_in_goal():
    text = edit(GOAL_1, "(inside apple.n.01_3 ?electric_refrigerator.n.01_1)")
    expect_error(text, 15, 15, "undeclared object 'apple.n.01_3'")


def test_undeclared_question_mark_object_in_goal():
    text = edit(GOAL_1, "(inside ?apple.n.01_1 ?fridge.n.01_1)")
    expect_error(text, *where(text, "?fridge"), "no object 'fridge.n.01_1'")


def test_wildcard_of_absent_category():
    text = edit(GOAL_1, "(inside pear.n.01_* ?electric_refrigerator.n.01_1)")
    expect_error(text, *where(text, "pear.n.01_*"), "no object of category 'pear.n.01'")


def test_unary_predicate_with_two_arguments():
    text = edit("(not (open ?electric_refrigerator.n.01_1))", "(not (open ?electric_refrigerator.n.01_1 ?apple.n.01_1))")
    e = expect_error(text, *where(text, "(open"), "'open' takes 1 argument(s), got 2")
    assert (e.line, e.column) == (16, 12)


def test_unary_predicate_with_two_arguments_in_init():
    text = edit("(inroom electric_refrigerator.n.01_1 kitchen)",
                "(open electric_refrigerator.n.01_1 apple.n.01_1)")
    expect_error(text, 11, 5, "'open' takes 1 argument(s), got 2")


def test_binary_predicate_with_one_argument():
    text = edit(GOAL_1, "(inside ?apple.n.01_1)")
    expect_error(text, 15, 7, "'inside' takes 2 argument(s), got 1")


def test_binary_predicate_with_one_argument_in_init():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop apple.n.01_2)")
    expect_error(text, 10, 5, "'ontop' takes 2 argument(s), got 1")


def test_inroom_in_goal():
    text = edit(GOAL_1, "(inroom ?apple.n.01_1 kitchen)")
    expect_error(text, 15, 8, "'inroom' is only allowed in :init")


def test_list_as_init_argument():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop apple.n.01_2 (floor.n.01_1))")
    expect_error(text, *where(text, "(floor.n.01_1)"), "expected an object name, got a list")


def test_init_not_with_two_formulas():
    text = edit("(ontop apple.n.01_2 floor.n.01_1)", "(not (open apple.n.01_2) (open apple.n.01_1))")
    expect_error(text, 10, 5, "expected (not (pred args...))")


# ---------------------------------------------------------------------------- quantifiers

def test_unbound_variable():
    text = edit(GOAL_1, "(forall (?a - apple.n.01) (inside ?b ?electric_refrigerator.n.01_1))")
    expect_error(text, *where(text, "?b "), "unbound variable '?b'")


def test_variable_used_outside_its_quantifier():
    text = edit(GOAL_1, "(and (exists (?a - apple.n.01) (open ?a)) (inside ?a ?electric_refrigerator.n.01_1))")
    expect_error(text, *where(text, "?a ?electric"), "unbound variable '?a'")


@pytest.mark.parametrize("binding", [
    "(?a apple.n.01)",            # no '-'
    "(a - apple.n.01)",           # no '?'
    "(?a - apple.n.01 extra)",    # too long
    "(?a -)",                     # no type
    "?a",                         # not a list
    "((?a) - apple.n.01)",        # a list as the variable
])
def test_malformed_forall_binding(binding):
    text = edit(GOAL_1, f"(forall {binding} (inside ?a ?electric_refrigerator.n.01_1))")
    expect_error(text, *where(text, binding), "expected a typed variable '(?var - type)'")


def test_forall_with_missing_body():
    text = edit(GOAL_1, "(forall (?a - apple.n.01))")
    expect_error(text, *where(text, "(forall"), "'forall' takes (?var - type) and one formula")


def test_forn_without_count():
    text = edit(GOAL_1, "(forn (?a - apple.n.01) (inside ?a ?electric_refrigerator.n.01_1))")
    expect_error(text, *where(text, "(forn"), "'forn' takes (N), (?var - type) and one formula")


@pytest.mark.parametrize("count", ["(two)", "(-1)", "(1 2)", "(1.5)", "(9999999)"])
def test_forn_with_bad_count(count):
    text = edit(GOAL_1, f"(forn {count} (?a - apple.n.01) (inside ?a ?electric_refrigerator.n.01_1))")
    line, col = where(text, count)
    e = error_of(text)
    assert str(e).startswith(f"{FILE}:{line}:"), str(e)
    assert col <= e.column <= col + 1   # the '(N)' list or the token in it
    assert "count" in e.message


def test_fornpairs_without_count():
    text = edit(GOAL_1, "(fornpairs (?a - apple.n.01) (?b - electric_refrigerator.n.01) (inside ?a ?b))")
    expect_error(text, *where(text, "(fornpairs"), "'fornpairs' takes (N), two (?var - type) and one formula")


def test_not_with_two_formulas_in_goal():
    text = edit(GOAL_1, "(not (open ?apple.n.01_1) (open ?apple.n.01_2))")
    expect_error(text, 15, 7, "'not' takes exactly one formula, got 2")


def test_imply_with_one_formula():
    text = edit(GOAL_1, "(imply (open ?apple.n.01_1))")
    expect_error(text, 15, 7, "'imply' takes two formulas, got 1")


def test_bare_atom_as_goal_condition():
    text = edit(GOAL_1, "done")
    expect_error(text, *where(text, "done"), "expected a formula")


def test_goal_with_non_formula():
    text = edit("  (:goal\n    (and", "  (:goal done\n    (and")
    expect_error(text, *where(text, "done"), "expected a formula '(...)' in :goal, got 'done'")


# ---------------------------------------------------------------------------- sections

def test_missing_goal():
    text = BASE[:BASE.index("  (:goal")] + ")\n"
    expect_error(text, 1, 1, "missing (:goal ...) section")


def test_missing_objects():
    start, end = BASE.index("  (:objects"), BASE.index("  (:init")
    expect_error(BASE[:start] + BASE[end:], 1, 1, "missing (:objects ...) section")


def test_missing_init():
    start, end = BASE.index("  (:init"), BASE.index("  (:goal")
    expect_error(BASE[:start] + BASE[end:], 1, 1, "missing (:init ...) section")


def test_empty_goal_section():
    text = edit("  (:goal\n    (and", "  (:goal)\n  (:requirements\n    (and")
    expect_error(text, *where(text, "(:goal)"), "expected a formula in (:goal ...)")


def test_dash_without_type_at_end_of_objects():
    text = edit("agent.n.01_1 - agent.n.01)", "agent.n.01_1 -)")
    line, col = where(text, "-)")
    assert (line, col) == (7, 18)
    expect_error(text, line, col, "expected a type after '-' in :objects")


def test_dash_followed_by_a_list():
    text = edit("agent.n.01_1 - agent.n.01)", "agent.n.01_1 - (agent.n.01))")
    expect_error(text, 7, 18, "expected a type after '-' in :objects")


def test_dash_with_no_names_before_it():
    text = edit("floor.n.01_1 - floor.n.01", "- floor.n.01")
    expect_error(text, 6, 5, "'-' with no object names before it")


def test_object_declared_twice_with_different_types():
    text = edit("floor.n.01_1 - floor.n.01", "floor.n.01_1 - floor.n.01 apple.n.01_1 - floor.n.01")
    expect_error(text, *where(text, "apple.n.01_1 - floor"), "declared twice with different types")


# ---------------------------------------------------------------------------- nesting

def nested_nots(k: int) -> str:
    return edit(GOAL_1, "(not " * k + GOAL_1 + ")" * k)


def test_nesting_beyond_256_levels_is_an_error():
    # (define > (:goal > (and > k nots > (inside ...)): the literal is at level k + 4.
    text = nested_nots(300)
    line, col = where(text, GOAL_1)                   # first '(' too deep: the 257th level
    col_first_not = where(text, "(not ")[1]
    too_deep = col_first_not + 5 * (256 - 3)          # the list at level 257
    assert col > too_deep
    expect_error(text, line, too_deep, "nested too deeply")


def test_nesting_boundary():
    text = nested_nots(253)
    expect_error(text, *where(text, GOAL_1), "nested too deeply")  # literal at level 257
    task = compile_text(nested_nots(252))             # literal at level 256: fine
    assert task.num_goal_atoms == 2


def test_deep_nesting_below_the_limit_compiles_with_the_right_meaning():
    even = compile_text(nested_nots(200))             # not^200 (x) == x: false at the start
    odd = compile_text(nested_nots(201))              # not^201 (x) == not x: true at the start
    assert even.check(even.initial_state)[2] == [False, True]
    assert odd.check(odd.initial_state)[2] == [True, True]


# ---------------------------------------------------------------------------- hostile input

def test_non_utf8_file_in_a_directory_source(tmp_path):
    good = tmp_path / "a_good.bddl"
    good.write_text(BASE)
    bad = tmp_path / "b_bad.bddl"
    bad.write_bytes(b"(define (problem p)\n  ; caf\xe9 au lait\n" + BASE.split("\n", 1)[1].encode())
    # by default the good file loads and the bad one is listed; strict=True makes it the error
    with pytest.warns(emx.SkippedTasksWarning):
        tasks = emx.load_tasks(str(tmp_path))
    assert [t.id for t in tasks] == ["a_good"]
    (skipped,) = tasks.skipped
    assert (skipped.file, skipped.line, skipped.column) == (str(bad), 2, 8) and "UTF-8" in skipped.message
    with pytest.raises(emx.BddlError) as info:
        emx.load_tasks(str(tmp_path), strict=True)
    e = info.value
    assert isinstance(e, ValueError)
    # the undecodable byte is on line 2, column 8
    assert str(e).startswith(f"{bad}:2:8: "), str(e)
    assert "UTF-8" in str(e)


def test_non_utf8_file_is_a_value_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.bddl"
    bad.write_bytes(b"(define (problem p)\n  ; caf\xe9\n")
    with pytest.raises(ValueError) as info:
        emx.load_tasks(str(tmp_path))
    assert isinstance(info.value, emx.EmxError)
    # nothing in the directory loads: an error that names the bad file and where
    assert f"{bad}:2:8" in str(info.value) and "UTF-8" in str(info.value)


def _timed_error(text: str) -> emx.BddlError:
    t0 = time.perf_counter()
    e = error_of(text)
    assert time.perf_counter() - t0 < 60.0   # a hang guard only: a quadratic scan would take hours
    return e


def test_five_megabytes_of_random_garbage():
    rng = random.Random(1234)
    alphabet = "()abc -?;\n\t.:_0123456789é"
    text = "".join(rng.choice(alphabet) for _ in range(5_000_000))
    e = _timed_error(text)
    assert e.line >= 1 and e.column >= 1 and str(e).startswith(f"{FILE}:{e.line}:{e.column}: ")


def test_five_megabytes_of_open_parens():
    e = _timed_error("(" * 5_000_000)
    assert (e.line, e.column) == (1, 257) and "nested too deeply" in str(e)


def test_five_megabytes_of_close_parens():
    e = _timed_error(")" * 5_000_000)
    assert (e.line, e.column) == (1, 1)


def test_five_megabytes_of_binary_bytes():
    rng = random.Random(99)
    text = bytes(rng.randrange(256) for _ in range(5_000_000)).decode("latin-1")
    e = _timed_error(text)
    assert str(e).startswith(f"{FILE}:{e.line}:{e.column}: ")


def test_five_megabytes_of_balanced_nonsense():
    rng = random.Random(7)
    words = ["foo", "bar", "?x", "-", "and", "not", "forall", "1"]
    parts = ["(define (problem p) (:domain d) (:objects a - b) (:init) (:goal (and"]
    size = 0
    while size < 5_000_000:
        chunk = "(" + " ".join(rng.choice(words) for _ in range(6)) + ")"
        parts.append(chunk)
        size += len(chunk) + 1
    text = " ".join(parts) + ")))"
    e = _timed_error(text)
    assert e.line == 1 and e.column > 1


def test_nul_bytes():
    e = error_of(edit("(ontop apple.n.01_2 floor.n.01_1)", "(ontop apple.n.01_2\x00 floor.n.01_1)"))
    assert e.line == 10


# ---------------------------------------------------------------------------- unknown categories

def test_unknown_category_compiles_with_no_abilities_and_a_warning():
    text = edit("floor.n.01_1 - floor.n.01\n", "floor.n.01_1 - floor.n.01\n    gizmo.n.01_1 - zorblax.n.99\n")
    text = edit("(ontop agent.n.01_1 floor.n.01_1)", "(ontop agent.n.01_1 floor.n.01_1)\n    (ontop gizmo.n.01_1 floor.n.01_1)",
                text)
    task = compile_spec(TaskSpec(id="t", source="file", bddl_text=text, filename=FILE, command="t"))
    gizmo = next(o for o in task.objects if o.name == "gizmo.n.01_1")
    assert gizmo.category == "zorblax.n.99"
    assert gizmo.abilities == ()
    assert any("zorblax.n.99" in w and "unknown category" in w for w in task.warnings)
    # and it is usable: grasp it, place it, the goal checker runs
    r = emx.evaluate(task, '[{"action": "RIGHT_GRASP", "object": "gizmo.n.01_1"}]')
    assert r.format_ok and r.executed == 1


def test_unknown_category_in_quantifier_warns_and_has_empty_domain():
    text = edit(GOAL_1, "(forall (?z - zorblax.n.99) (open ?z))")
    task = compile_text(text)
    assert any("zorblax.n.99" in w for w in task.warnings)
    assert task.check(task.initial_state)[2][0] is True  # forall over nothing holds
