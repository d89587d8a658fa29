"""The offline (model-free) task generator and the dataset directory it writes."""

from __future__ import annotations

import json
import os

import pytest

import emx
from emx.datagen import generate_tasks, write_dataset
from emx.datagen.dataset import Dataset, append_jsonl, read_jsonl
from emx.datagen.offline import generate, generate_into
from emx.policy.oracle import oracle_plan


@pytest.fixture(scope="module")
def tasks():
    return generate_tasks(120, seed=3)


def test_generated_tasks_compile_and_the_oracle_solves_them(tasks, tmp_path):
    assert len(tasks) == 120
    assert len({t.id for t in tasks}) == 120
    write_dataset(tasks, tmp_path)
    loaded = emx.load_tasks(str(tmp_path))
    assert sorted(t.id for t in loaded) == sorted(t.id for t in tasks)
    for task in loaded:
        plan, why = oracle_plan(task)
        assert plan, f"{task.id}: {why}"
        assert emx.evaluate(task, plan).success
        assert not task.warnings or not any("unknown category" in w for w in task.warnings)


def test_metadata_and_command(tasks, tmp_path):
    write_dataset(tasks, tmp_path)
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "metadata.jsonl")}
    for t in tasks:
        m = rows[t.id]
        assert m["source"] == "offline" and m["seed"] == 3 and m["command"] == t.command
        assert m["difficulty"] in ("easy", "medium", "hard")
        assert m["validation"]["ok"] and m["validation"]["passed"] == ["syntax", "vocabulary", "symbolic", "physical"]
        assert m["plan_length"] >= 1 and 1 <= m["goal_literals"] <= 8 and m["n_objects"] <= 8
        assert t.command.endswith(".") and t.command[0].isupper()
        assert f";; command: {t.command}" in t.bddl
        assert "(inroom" in t.bddl and "(:goal" in t.bddl.split("(:init")[1]
        assert "inroom" not in t.bddl.split("(:goal")[1]


def test_easy_tasks_have_one_or_two_goal_literals():
    easy = generate_tasks(60, seed=1, difficulty="easy")
    assert len(easy) == 60
    for t in easy:
        assert t.metadata["goal_literals"] in (1, 2)
        assert len(t.metadata["rooms"]) == 1
    templates = {x for t in easy for x in t.metadata["templates"]}
    assert {"place_inside", "place_ontop", "open", "close", "toggle_on"} <= templates
    hard = generate_tasks(20, seed=1, difficulty="hard")
    assert all(5 <= t.metadata["goal_literals"] <= 8 for t in hard)


def test_deterministic_and_prefix_stable():
    a = [t.id for t in generate_tasks(30, seed=7)]
    b = [t.id for t in generate_tasks(60, seed=7)]
    assert a == b[:30]
    assert a != [t.id for t in generate_tasks(30, seed=8)]


def test_no_near_duplicates(tasks):
    canon = [t.metadata["canonical_goal"] for t in tasks]
    assert len(set(canon)) == len(canon)


def test_max_objects_respected():
    for t in generate_tasks(30, seed=2, max_objects=4):
        assert t.metadata["n_objects"] <= 4


def test_generate_into_resumes_after_interruption(tmp_path):
    whole = tmp_path / "whole"
    generate_into(whole, 80, seed=5)
    want = sorted(Dataset(whole).ids())
    assert len(want) == 80

    # an interrupted run: the process dies after the first 50 accepted tasks were written
    cut = tmp_path / "cut"

    class Killed(Exception):
        pass

    def progress(done, total):
        if done == 50:
            raise Killed()
    with pytest.raises(Killed):
        generate_into(cut, 80, seed=5, progress=progress, batch=10)
    have = Dataset(cut).ids()
    assert 40 <= len(have) <= 50
    # a torn metadata line (a crash mid-append) is dropped and repaired
    with open(cut / "metadata.jsonl", "ab") as f:
        f.write(b'{"id": "torn", "comm')
    rep = generate_into(cut, 80, seed=5)
    assert rep["resumed"] == len(have) and rep["accepted"] == 80 - len(have)
    assert sorted(Dataset(cut).ids()) == want
    assert Dataset(cut).verify() == []
    ids = [r["id"] for r in read_jsonl(cut / "metadata.jsonl")]
    assert len(ids) == len(set(ids)) == 80
    # run again: nothing to do
    rep = generate_into(cut, 80, seed=5)
    assert rep["accepted"] == 0 and rep["written"] == 0 and rep["resumed"] == 80


def test_other_runs_in_the_same_directory_are_not_duplicated(tmp_path):
    generate_into(tmp_path, 40, seed=0)
    generate_into(tmp_path, 40, seed=0, difficulty="easy")
    ids = [r["id"] for r in read_jsonl(tmp_path / "metadata.jsonl")]
    assert len(ids) == len(set(ids)) == 80
    assert len(emx.load_tasks(str(tmp_path))) == 80


def test_jsonl_append_is_line_atomic_and_repairs_torn_tail(tmp_path):
    p = tmp_path / "m.jsonl"
    append_jsonl(p, [{"id": "a"}])
    with open(p, "ab") as f:
        f.write(b'{"id": "b", "x": [1, 2')         # torn: no newline
    assert [r["id"] for r in read_jsonl(p)] == ["a"]
    append_jsonl(p, [{"id": "c"}])
    assert [r["id"] for r in read_jsonl(p)] == ["a", "c"]
    assert p.read_text().count("\n") == 2


def test_dataset_verify_finds_a_damaged_problem(tasks, tmp_path):
    ds = Dataset(tmp_path)
    ds.add_all(tasks[:5])
    assert ds.verify() == []
    os.truncate(ds.bddl_path(tasks[0].id), 10)
    assert ds.verify() == [tasks[0].id]
    assert not list(tmp_path.glob(".*.tmp"))


def test_1000_tasks_all_compile_and_validate():
    """1000 offline tasks (with the layout check of every init); their speed is measured by
    `emx bench datagen`, not here."""
    run = generate(1000, seed=11)
    assert len(run.tasks) == 1000
    # templates only draw what the knowledge base allows: the compiler and the vocabulary
    # validator never reject an offline draft
    assert not [k for k in run.rejections if k.startswith(("syntax", "vocabulary"))], run.rejections
    assert run.stage_counts["physical"]["passed"] == 1000
    print(json.dumps(run.summary()))


def test_the_bddl_package_reads_generated_problems(tasks):
    """BEHAVIOR-1K compatibility: the bddl package's own reader takes every generated problem."""
    from bddl.activity import Conditions, get_object_scope

    for t in tasks[:60]:
        cond = Conditions(t.id, 0, "omnigibson", predefined_problem=t.bddl)
        scope = get_object_scope(cond)
        declared = {name for name, _cat in emx._core.parse_problem(t.bddl, t.id)["objects"]}
        assert set(scope) == declared and "agent.n.01_1" in scope
