"""Semantics profiles (eai / embomatrix / emx): EAI's gold plans under the eai profile, the
profile still rejecting plans with a necessary step removed, and docs/actions.md holding the
C++ rule table."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

import emx
from emx import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Gold plans the eai profile rejects, and why EAI's own evaluator rejects them too
# (docs/actions.md, "Gold plans EAI rejects"), or where emx's port still differs
# ("not yet reproduced"). The test holds the line: no other plan may fail.
KNOWN_FAILURES = {
    "preserving_food": "unknown_action",        # RIGHT_REALEASE: evaluate_format, hallucination
    "cleaning_oven": "wrong_order",             # TOGGLE_OFF with both hands full: HighLevelActionPrecond
    "serving_hors_d_oeuvres": "missing_step",   # UNFREEZE with both hands full: HighLevelActionPrecond
    "making_tea": "missing_step",               # SLICE with both hands full: HighLevelActionPrecond
    "cleaning_stove": "missing_step",           # SOAK a towel placed next to (not in) the sink: soak_dry_precond
    # not yet reproduced: goals EAI judges from iGibson geometry
    "cleaning_bedroom": None, "cleaning_sneakers": None, "packing_child_s_bag": None,
    "sorting_mail": None, "thawing_frozen_food": None,
}


def _annotations() -> dict[str, list]:
    import importlib.util

    base = os.path.dirname(importlib.util.find_spec("behavior_eval").origin)
    d = os.path.join(base, "evaluation", "action_sequencing", "resources", "human_annotations")
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "*.json"))):
        with open(p) as f:
            out[os.path.basename(p)[:-5]] = json.load(f)
    return out


@pytest.fixture(scope="module")
def gold() -> dict[str, list]:
    g = _annotations()
    assert len(g) == 100
    return g


def _eval_cli(plans_path: str, *extra: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.path.join(ROOT, "python"))
    out = subprocess.run([sys.executable, "-m", "emx.cli", "eval", "--tasks", "eai-behavior", "--policy",
                          f"file:{plans_path}", "--json", *extra], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def _activity(identifier: str) -> str:
    return next(k for k in KNOWN_FAILURES if identifier.startswith(k + "_")) if any(
        identifier.startswith(k + "_") for k in KNOWN_FAILURES) else identifier


def test_gold_plans_under_eai(gold, tmp_path):
    plans = tmp_path / "gold.jsonl"
    plans.write_text("".join(json.dumps({"task": k, "plan": v}) + "\n" for k, v in gold.items()))
    r = _eval_cli(str(plans), "--semantics", "eai")
    failed = {_activity(t["task"]): t["error"] for t in r["per_task"] if not t["success"]}
    assert set(failed) <= set(KNOWN_FAILURES), f"new failures: {set(failed) - set(KNOWN_FAILURES)}"
    for k, err in failed.items():
        if KNOWN_FAILURES[k] is not None:
            assert err == KNOWN_FAILURES[k], (k, err)
    assert r["success_rate"] >= 0.90
    # emx's own rules are stricter (closed cartons, furniture cannot be grasped).
    assert _eval_cli(str(plans), "--semantics", "emx")["success_rate"] < r["success_rate"]


def _run(identifier: str, plan: list, semantics: str = "eai"):
    return emx.evaluate(emx.load_task(f"eai-behavior:{identifier}", semantics=semantics), plan)


def _without(plan: list, index: int) -> list:
    return plan[:index] + plan[index + 1:]


def test_default_semantics_by_source(gold):
    k = next(iter(gold))
    assert emx.load_task(f"eai-behavior:{k}").semantics == "eai"
    assert emx.load_task(f"eai-behavior:{k}", semantics="emx").semantics == "emx"


def test_removing_open_before_place_inside_fails(gold):
    checked = 0
    for k, plan in gold.items():
        for i, a in enumerate(plan):
            later = [b for b in plan[i + 1:] if b["action"].endswith("PLACE_INSIDE") and b["object"] == a["object"]]
            if a["action"] == "OPEN" and "fridge" in a["object"] and later and _run(k, plan).success:
                r = _run(k, _without(plan, i))
                assert not r.success and r.first_error == "missing_step", (k, r.first_error)
                assert any("closed" in s.message for s in r.trace if not s.ok)
                checked += 1
                break
        if checked >= 3:
            break
    assert checked >= 1


def test_removing_toggle_on_before_soak_fails(gold):
    checked = 0
    for k, plan in gold.items():
        names = [a["action"] for a in plan]
        if "SOAK" not in names or names.count("TOGGLE_ON") != 1:
            continue
        full = _run(k, plan)
        i = names.index("TOGGLE_ON")
        soak = names.index("SOAK")
        # only where both steps did something (an object already soaked needs no running sink)
        if not full.success or full.trace[i].error != "none" or full.trace[soak].error != "none":
            continue
        if i > names.index("SOAK") or "sink" not in plan[i]["object"]:
            continue
        r = _run(k, _without(plan, i))
        assert not r.success, k
        assert r.first_error == "missing_step", (k, r.first_error)
        checked += 1
    assert checked >= 1


def test_removing_a_grasp_fails(gold):
    checked = 0
    for k, plan in list(gold.items())[:40]:
        # a GRASP whose very next step places with the same hand
        i = next((j for j, a in enumerate(plan[:-1]) if a["action"].endswith("_GRASP")
                  and plan[j + 1]["action"].startswith(a["action"].split("_")[0] + "_PLACE")), None)
        if i is None or not _run(k, plan).success:
            continue
        r = _run(k, _without(plan, i))
        assert not r.success, k
        assert r.first_error in ("missing_step", "wrong_order"), (k, r.first_error)
        checked += 1
    assert checked >= 10


def test_eai_grasp_has_no_furniture_rule_but_a_size_rule(gold):
    k = next(k for k in gold if k.startswith("cleaning_barbecue_grill"))
    assert _run(k, gold[k]).success
    assert _run(k, gold[k], semantics="emx").first_error == "affordance"


def test_embomatrix_open_twice_is_not_an_additional_step(gold):
    k = next(k for k, p in gold.items() if p and p[0]["action"] == "OPEN")
    twice = [gold[k][0], gold[k][0]]
    assert _run(k, twice, "emx").trace[1].error == "additional_step"
    assert _run(k, twice, "embomatrix").trace[1].error == "none"


def _doc_row(r: dict) -> str:
    return f"| `{r['id']}` | {r['emx']} | {r['eai']} | {r['embomatrix']} | {r['eai_source']} |"


def test_docs_hold_the_rule_table():
    with open(os.path.join(ROOT, "docs", "actions.md")) as f:
        doc = f.read()
    for r in _core.semantics_table():
        assert _doc_row(r) in doc, f"docs/actions.md lacks (or differs on) rule {r['id']}:\n{_doc_row(r)}"
