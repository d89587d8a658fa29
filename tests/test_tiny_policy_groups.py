"""The GRPO groups recorded from the tiny policy (tests/data/tiny_policy_groups.jsonl, written by
bench/record_tiny_policy_groups.py) and the prefix saving emx bench rollout measures on them."""

import json
from pathlib import Path

import pytest

from emx.rollout.testing import tiny_policy_groups

# The file in this checkout (the tests may run against an installed emx, which has no tests/).
TINY_POLICY_GROUPS = Path(__file__).resolve().parent / "data" / "tiny_policy_groups.jsonl"


def test_the_recorded_file_is_small_and_whole():
    assert TINY_POLICY_GROUPS.is_file()
    assert TINY_POLICY_GROUPS.stat().st_size < 500_000
    lines = TINY_POLICY_GROUPS.read_text().splitlines()
    meta = json.loads(lines[0])["meta"]
    assert meta["group_size"] == 8 and meta["tasks"] == len(lines) - 1 >= 20
    assert meta["temperature"] == 1.0 and meta["command"].startswith("python bench/record_tiny_policy_groups.py")


def test_groups_load_as_episodes_of_compiled_tasks():
    episodes, meta = tiny_policy_groups(TINY_POLICY_GROUPS)
    assert len(episodes) == meta["tasks"] * meta["group_size"]
    groups = {}
    for e in episodes:
        groups.setdefault(e.group, []).append(e)
        assert e.group == e.task.id and isinstance(e.plan, str)   # the raw model text
    assert len(groups) == meta["tasks"] and all(len(g) == 8 for g in groups.values())
    # sampled, not copied: groups hold different plans
    assert sum(len({e.plan for e in g}) > 1 for g in groups.values()) >= len(groups) // 2


def test_bench_measures_prefix_saving_on_the_recorded_groups():
    from emx.bench.rollout import _tiny_policy_saving

    out = _tiny_policy_saving(None, TINY_POLICY_GROUPS)
    s = out["symbolic"]
    assert out["plans"] == 160 and s["ok"]
    assert 0 < s["simulated_actions"] < s["plan_actions"]
    assert s["prefix_saving"] == pytest.approx(1 - s["simulated_actions"] / s["plan_actions"])
    if "physics" in out:
        assert out["physics"]["ok"] and out["physics"]["plan_actions"] == s["plan_actions"]
