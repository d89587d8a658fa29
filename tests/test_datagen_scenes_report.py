"""`emx gen scenes` and `emx gen report` on a small generated dataset, and the CLI wiring."""

from __future__ import annotations

import argparse
import json

import pytest

from emx.datagen.agents import AgentConfig, run_agents
from emx.datagen.backends import ScriptedBackend
from emx.datagen.cli import add_parser
from emx.datagen.dataset import read_jsonl
from emx.datagen.offline import generate_into
from emx.datagen.report import dataset_report, diversity
from emx.datagen.scenes import generate_scenes
from emx.datagen.scripted import demo_agent


def _physics_available() -> bool:
    try:
        import emx.sim  # noqa: F401

        from emx.scenes.build import _physics
        return _physics()[0] is not None
    except Exception:
        return False


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    generate_into(root, 40, seed=9)
    run_agents(ScriptedBackend(demo_agent), root, houses=1, config=AgentConfig(physical="layout"))
    return root


def test_gen_scenes_builds_settles_and_resumes(dataset):
    rep = generate_scenes(dataset)
    assert rep["failed"] == 0, rep["reasons"]
    assert rep["ok"] == rep["n"] >= 40
    if _physics_available():
        assert rep["settled"] == rep["n"]
    rows = list(read_jsonl(dataset / "scenes.jsonl"))
    assert len(rows) == rep["n"] and all(r["ok"] for r in rows)
    assert all((dataset / r["path"]).exists() for r in rows)
    again = generate_scenes(dataset)
    assert again["built"] == 0 and again["skipped"] == rep["n"]


def test_gen_scenes_prunes_a_task_that_cannot_be_laid_out(tmp_path):
    bad = """(define (problem sofa_in_a_bowl-0) (:domain omnigibson)
      (:objects sofa.n.01_1 - sofa.n.01 bowl.n.01_1 - bowl.n.01 apple.n.01_1 - apple.n.01
                floor.n.01_1 - floor.n.01 agent.n.01_1 - agent.n.01)
      (:init (inside sofa.n.01_1 bowl.n.01_1) (ontop bowl.n.01_1 floor.n.01_1) (ontop apple.n.01_1 floor.n.01_1)
             (inroom sofa.n.01_1 kitchen) (inroom floor.n.01_1 kitchen) (ontop agent.n.01_1 floor.n.01_1))
      (:goal (and (inside apple.n.01_1 bowl.n.01_1))))"""
    generate_into(tmp_path, 3, seed=1)
    (tmp_path / "sofa_in_a_bowl.bddl").write_text(bad)
    rep = generate_scenes(tmp_path, settle=False, prune=True)
    assert rep["failed"] == 1 and rep["pruned"] == ["sofa_in_a_bowl"]
    assert any(k.startswith("unrealised") for k in rep["reasons"])
    assert not (tmp_path / "sofa_in_a_bowl.bddl").exists()
    assert (tmp_path / "rejected" / "sofa_in_a_bowl.bddl.rejected").exists()


def test_report_figures_and_png(dataset, tmp_path):
    generate_scenes(dataset)
    png = tmp_path / "r.png"
    rep = dataset_report(dataset, compare=True, png=png)
    assert rep["n"] >= 40 and rep["sources"]["offline"] == 40 and rep["sources"]["agents"] >= 1
    acc = rep["acceptance"]
    assert set(acc) == {"offline", "agents", "scenes"}
    assert acc["offline"]["stages"]["symbolic"]["rate"] == 1.0
    assert acc["agents"]["stages"]["writer"]["rate"] < 1.0       # the scripted writer's first answers
    assert acc["agents"]["rejections"]
    d = rep["diversity"]
    assert d["oracle_solved"] == rep["n"] and d["plan_length"]["n"] == rep["n"]
    for k in ("distinct_categories", "distinct_goal_predicates", "distinct_rooms", "goal_literals"):
        assert d[k]
    b = rep["behavior1k"]
    assert b["n"] > 1000 and b["distinct_categories"] > 500
    assert set(rep["comparison"]) >= {"distinct_categories", "mean_plan_length", "mean_goal_literals"}
    assert png.exists() and png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    json.dumps(rep)


def test_diversity_counts_quantifiers():
    import emx

    d = diversity(emx.load_tasks("bddl:putting_away_Halloween_decorations"))
    assert d["quantified_fraction"] == 1.0 and "inside" in d["goal_predicates"]


def _cli(argv):
    p = argparse.ArgumentParser(prog="emx")
    sub = p.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = p.parse_args(argv)
    return args.fn(args)


def test_cli_gen_tasks_scenes_report(tmp_path, capsys):
    out = tmp_path / "d"
    assert _cli(["gen", "tasks", "--n", "12", "--out", str(out), "--difficulty", "easy", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["accepted"] == 12 and rep["dataset_size"] == 12
    assert _cli(["gen", "tasks", "--n", "12", "--out", str(out), "--difficulty", "easy", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["accepted"] == 0 and rep["resumed"] == 12 and rep["dataset_size"] == 12
    assert _cli(["gen", "tasks", "--agents", "scripted:emx.datagen.scripted:demo_agent", "--houses", "1",
                 "--physical", "layout", "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["accepted"] + rep["rejected"] == 3
    assert _cli(["gen", "scenes", str(out), "--no-settle", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["failed"] == 0
    assert _cli(["gen", "report", str(out), "--no-compare", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] >= 12 and "comparison" not in rep and rep["png"]
