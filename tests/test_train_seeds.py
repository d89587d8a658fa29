"""bench/train_seeds.py's aggregation on fake run directories (no training): the interval math,
which evaluation each variant reads, separations, and the reports."""

import json
import math

import pytest

from emx.bench import train_seeds as ts


def test_t_interval_math():
    iv = ts.t_interval([0.5, 0.6, 0.7])
    # mean 0.6; s = sqrt((0.01 + 0 + 0.01) / 2) = 0.1; t(0.975, 2) = 4.302653; half = 4.302653 * 0.1 / sqrt(3)
    assert iv.mean == pytest.approx(0.6)
    assert iv.half == pytest.approx(4.302653 * 0.1 / math.sqrt(3))          # 0.248414
    assert iv.half == pytest.approx(0.248414, abs=1e-6)
    assert (iv.low, iv.high, iv.n) == (pytest.approx(0.351586, abs=1e-6), pytest.approx(0.848414, abs=1e-6), 3)
    assert ts.t_interval([0.2, 0.2, 0.2]).half == 0.0
    one = ts.t_interval([0.4])
    assert one.mean == 0.4 and math.isnan(one.half) and one.text() == "0.400 (n=1)"
    assert ts.t_interval([]).n == 0
    assert ts.t_interval([1.0, None, 3.0]).mean == 2.0                     # a missing value is left out
    # critical values: two seeds, three seeds, thirty, and the large-df expansion
    assert ts.t_quantile_975(1) == pytest.approx(12.706205)
    assert ts.t_quantile_975(2) == pytest.approx(4.302653)
    assert ts.t_quantile_975(30) == pytest.approx(2.042272)
    assert ts.t_quantile_975(60) == pytest.approx(2.000298, abs=2e-4)
    assert ts.t_quantile_975(10_000) == pytest.approx(1.960201, abs=1e-4)


def test_separation():
    a, b = ts.t_interval([0.8, 0.82, 0.84]), ts.t_interval([0.4, 0.45, 0.5])
    assert a.separates(b) == "higher" and b.separates(a) == "lower"
    c = ts.t_interval([0.3, 0.6, 0.9])
    assert a.separates(c) == "overlap"
    assert ts.t_interval([0.9]).separates(b) == "overlap"                 # no interval: no claim


def _fake_run(root, run, seed, sft, final, steps=(0, 5, 10)):
    """A run directory as emx train writes it: summary.json, config.json, metrics.jsonl with eval
    rows (in-distribution aggregate keys and per-set keys). ``sft``/``final``: {set: success}."""
    d = root / "runs" / run / f"seed{seed}"
    d.mkdir(parents=True)
    rows = [{"kind": "sft", "step": 0, "sft_loss": 1.0}]
    for st in steps:
        frac = st / steps[-1] if steps[-1] else 1.0
        row = {"kind": "eval", "step": st}
        for name in ("compositional", "novel_categories", "eai_behavior"):
            v = sft[name] + frac * (final[name] - sft[name])
            row[f"{name}/eval_success"] = v
            row[f"{name}/eval_reward_default"] = 2 * v
            row[f"{name}/eval_n"] = 4
        idv = (row["compositional/eval_success"] + row["novel_categories/eval_success"]) / 2
        row.update(eval_success=idv, eval_reward_default=2 * idv, eval_n=8)
        rows.append(row)
        if st:
            rows.insert(-1, {"kind": "train", "step": st, "reward": 0.1})
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "summary.json").write_text(json.dumps({"steps": steps[-1], "wall_seconds": 12.0}))
    (d / "config.json").write_text(json.dumps({"episode": "closed-loop" if "closed" in run else "plan",
                                               "sft_steps": 10, "max_steps": steps[-1], "split_seed": 0}))
    return d


def _sets(c, n, o):
    return {"compositional": c, "novel_categories": n, "eai_behavior": o}


def test_aggregate_reads_each_variant_from_its_run_and_point(tmp_path):
    for seed, (sft_c, fin_c) in enumerate([(0.40, 0.70), (0.45, 0.72), (0.50, 0.74)]):
        _fake_run(tmp_path, "grpo-plan", seed, _sets(sft_c, 0.2, 0.0), _sets(fin_c, 0.2 + 0.01 * seed, 0.0))
        _fake_run(tmp_path, "untrained-plan", seed, _sets(0.0, 0.0, 0.0), _sets(0.0, 0.0, 0.0), steps=(0,))
    for seed in range(3):
        _fake_run(tmp_path, "sft-closed-loop", seed, _sets(0.1 + 0.01 * seed, 0.1, 0.0), _sets(0.1 + 0.01 * seed, 0.1, 0.0),
                  steps=(0,))
    for credit, gain in (("episode", 0.0), ("turn", 0.05), ("gigpo", 0.3)):
        for seed in range(3):
            _fake_run(tmp_path, f"grpo-closed-loop-{credit}", seed, _sets(0.1 + 0.01 * seed, 0.1, 0.0),
                      _sets(0.1 + gain + 0.01 * seed, 0.1, 0.0))
    # an unfinished run (no summary.json) is left out and reported
    (tmp_path / "runs" / "untrained-closed-loop" / "seed0").mkdir(parents=True)

    res = ts.aggregate(tmp_path)
    t = res["intervals"]
    sft = t["SFT (plan)"]["compositional"]["success"]
    assert sft.n == 3 and sft.mean == pytest.approx(0.45) and sft.values == (0.40, 0.45, 0.50)
    assert sft.half == pytest.approx(4.302653 * 0.05 / math.sqrt(3))        # s = 0.05
    fin = t["SFT+GRPO (plan)"]["compositional"]["success"]
    assert fin.mean == pytest.approx(0.72) and fin.half == pytest.approx(4.302653 * 0.02 / math.sqrt(3))
    assert t["SFT+GRPO (plan)"]["compositional"]["reward"].mean == pytest.approx(1.44)
    idv = t["SFT+GRPO (plan)"]["in_distribution"]["success"]
    assert idv.values == pytest.approx(((0.70 + 0.20) / 2, (0.72 + 0.21) / 2, (0.74 + 0.22) / 2))
    assert t["untrained (plan)"]["eai_behavior"]["success"].mean == 0.0
    assert t["untrained (closed loop)"]["compositional"]["success"].n == 0
    assert res["unfinished"] == [str(tmp_path / "runs" / "untrained-closed-loop" / "seed0")]
    # SFT (closed loop) is the SFT-only closed-loop run
    assert t["SFT (closed loop)"]["compositional"]["success"].values == pytest.approx((0.10, 0.11, 0.12))

    sep = {(c["a"], c["b"], c["set"], c["measure"]): c["result"] for c in res["comparisons"]}
    assert sep[("SFT+GRPO (plan)", "SFT (plan)", "compositional", "success")] == "higher"
    assert sep[("SFT+GRPO (plan)", "SFT (plan)", "eai_behavior", "success")] == "overlap"   # 0 vs 0
    gigpo, episode = "SFT+GRPO (closed loop, gigpo credit)", "SFT+GRPO (closed loop, episode credit)"
    assert sep[(episode, gigpo, "compositional", "success")] == "lower"
    assert sep[(episode, "SFT+GRPO (closed loop, turn credit)", "compositional", "success")] == "lower"

    # curves: every eval step, mean over the seeds
    cur = res["curves"]["grpo-plan"]["compositional/success"]
    assert cur["steps"] == [0, 5, 10] and cur["mean"] == pytest.approx([0.45, 0.585, 0.72]) and cur["n"] == [3, 3, 3]

    out = ts.write_reports(tmp_path, command="python bench/train_seeds.py --out X")
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("Command: `python bench/train_seeds.py --out X`")
    assert "| SFT+GRPO (plan) | 3 | 0.465 ± " in md and "0.720 ± 0.050" in md
    assert "SFT+GRPO (plan) higher than SFT (plan): compositional success (0.720 vs 0.450)" in md
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["table"]["SFT (plan)"]["compositional"]["success"]["n"] == 3
    if out["plot"]:
        assert (tmp_path / "curves.png").stat().st_size > 0


def test_run_configs_follow_the_protocol(tmp_path):
    s = ts.Settings.quick()
    by = {r.name: r for r in ts.RUNS}
    untrained = ts.run_config(by["untrained-closed-loop"], 2, s, tmp_path / "u")
    assert (untrained.sft_steps, untrained.stop_after, untrained.episode) == (0, 0, "closed-loop")
    gigpo = ts.run_config(by["grpo-closed-loop-gigpo"], 1, s, tmp_path / "g")
    assert (gigpo.credit, gigpo.seed, gigpo.split_seed, gigpo.max_steps) == ("gigpo", 1, 0, s.grpo_steps_closed_loop)
    assert gigpo.stop_after is None and by["grpo-closed-loop-gigpo"].start_from == "sft-closed-loop"
    sft = ts.run_config(by["sft-closed-loop"], 1, s, tmp_path / "s")
    assert (sft.sft_steps, sft.stop_after) == (s.sft_steps_closed_loop, 0)
    plan = ts.run_config(by["grpo-plan"], 0, s, tmp_path / "p")
    assert (plan.episode, plan.reward, plan.sft_steps) == ("plan", "eai", s.sft_steps_plan)
    # every seed of a kind sees the same split: the split seed, not the training seed, decides it
    from emx.train.splits import make_split

    a, b = make_split(ts.run_config(by["grpo-plan"], 0, s, tmp_path / "a")), make_split(ts.run_config(by["grpo-plan"], 1, s, tmp_path / "b"))
    assert [t.id for t in a.train] == [t.id for t in b.train]
