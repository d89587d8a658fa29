"""Honest held-out sets: ``emx train --out DIR --max-steps 0`` writes DIR/split.json, and no
held-out task shares a (command, goal) or a (goal template, goal categories) with training."""

from __future__ import annotations

import json

import pytest

import emx
from emx.cli import main
from emx.train.config import preset
from emx.train.splits import (COMPOSITIONAL, NOVEL, OOD, Split, check_disjoint, make_split, source_split,
                              task_signature)


def _object_categories(task):
    return {o.category for o in task.objects} - {"floor.n.01", "agent.n.01"}


def _assert_honest(train_rows, held_rows, train_cats):
    """The split.json rows of a held-out set against training's, recomputed from the file."""
    pairs = {(r["command"], r["goal"]) for r in train_rows}
    keys = {(r["goal_template"], frozenset(r["goal_categories"])) for r in train_rows}
    for r in held_rows:
        assert (r["command"], r["goal"]) not in pairs, r
        assert (r["goal_template"], frozenset(r["goal_categories"])) not in keys, r


def test_emx_train_max_steps_0_writes_an_honest_split(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--preset", "tiny", "--max-steps", "0", "--out", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 0 and summary["split"] == str(out / "split.json")
    assert not list(out.glob(".*.tmp"))                       # written by rename, nothing left behind
    assert not (out / "checkpoints").exists() and not (out / "base_model").exists()   # nothing trained
    split = json.loads((out / "split.json").read_text())
    assert split["counts"] == {"train": 1024, COMPOSITIONAL: 64, NOVEL: 64, OOD: 16}
    assert set(split["held_out"]) == {COMPOSITIONAL, NOVEL, OOD}
    for rows in [split["train"], *split["held_out"].values()]:
        for r in rows:
            assert r["id"] and r["command"] and r["goal"]
    ids = [r["id"] for rows in [split["train"], *split["held_out"].values()] for r in rows]
    assert len(ids) == len(set(ids))
    for name in (COMPOSITIONAL, NOVEL):
        _assert_honest(split["train"], split["held_out"][name], None)
    # the old split had 80 of 128 held-out tasks with a twin in training; now none
    train_cats = {c for r in split["train"] for c in r["goal_categories"]}
    novel = split["rule"]["novel_categories"]
    assert novel and not (train_cats & set(novel))
    assert all(set(r["goal_categories"]) & set(novel) for r in split["held_out"][NOVEL])
    assert all(set(r["goal_categories"]) <= train_cats for r in split["held_out"][COMPOSITIONAL])
    # a goal shape training never sees is among the compositional tasks
    train_templates = {r["goal_template"] for r in split["train"]}
    assert any(r["goal_template"] not in train_templates for r in split["held_out"][COMPOSITIONAL])
    assert [r["id"] for r in split["held_out"][OOD]] == [t.id for t in emx.load_tasks("eai-behavior", limit=16)]


def test_template_split_never_shows_novel_categories_in_training(tmp_path):
    split = make_split(preset("tiny-ci", out=str(tmp_path)))
    check_disjoint(split)
    novel = split.rule.novel_categories
    for t in split.train:                         # not even as a distractor
        assert not (_object_categories(t) & novel), t.id
    assert len(split.held_out[OOD]) == 4
    # deterministic: the same config gives the same split
    again = make_split(preset("tiny-ci", out=str(tmp_path)))
    assert Split.to_json(again) == Split.to_json(split)


def test_ood_limit_zero_leaves_eai_out(tmp_path):
    split = make_split(preset("tiny-ci", out=str(tmp_path), ood_limit=0))
    assert OOD not in split.held_out


def test_check_disjoint_catches_a_leak(tmp_path):
    split = make_split(preset("tiny-ci", out=str(tmp_path), ood_limit=0))
    leaked = Split(split.train + [split.held_out[COMPOSITIONAL][0]], split.held_out, split.rule)
    with pytest.raises(ValueError, match="command and goal of a training task"):
        check_disjoint(leaked)


def test_source_split_is_disjoint_by_signature():
    tasks = emx.load_tasks("eai-behavior")
    split = source_split(tasks, None, 20, seed=0)
    check_disjoint(split)
    held = [t for ts in split.held_out.values() for t in ts]
    assert 10 <= len(held) <= 40 and len(split.train) >= 50
    train_keys = {task_signature(t).key for t in split.train}
    assert not any(task_signature(t).key in train_keys for t in held)
    assert not {t.id for t in held} & {t.id for t in split.train}
