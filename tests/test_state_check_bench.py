"""``emx bench state-check`` and ``emx bench all``: the contract's JSON object, the ratio keys, the
agreement of the Python reference with C++, and the files ``all`` writes (on tiny settings)."""

from __future__ import annotations

import json
import sys
import types

import pytest

from emx import bench
from emx.bench import all as bench_all
from emx.bench import state_check


@pytest.fixture(scope="module")
def result():
    return state_check.run(quick=True, tasks=("bottling_fruit", "putting_away_toys"), batches=(1, 64),
                           py_worlds=8, min_time=0.005, repeats=1)


def test_contract(result):
    assert result["bench"] == "state-check"
    assert {"bench", "machine", "results", "ratios"} <= set(result)
    assert {"cpp_vs_python", "cpp_threads_vs_python", "cuda_vs_cpp_threads"} <= set(result["ratios"])
    assert result["ratios"]["cpp_vs_python"] > 1
    json.dumps(result)  # serialisable as it is


def test_rows_per_batch_and_implementation(result):
    names = {(r["name"], r["batch"]) for r in result["results"]}
    for B in (1, 64):
        assert {("python", B), ("cpp", B), ("cpp-threads", B)} <= names
    for r in result["results"]:
        assert r["worlds_per_s"] > 0 and r["atoms_per_s"] >= r["worlds_per_s"]
    if not result["cuda"]["measured"]:
        assert result["ratios"]["cuda_vs_cpp_threads"] is None
        assert result["cuda"]["reason"]


def test_python_reference_agrees(result):
    assert result["agreement"]["worlds"] > 0
    assert result["agreement"]["success_disagreements"] == 0, result["agreement"]["examples"]
    assert result["agreement"]["atoms"] > 0
    assert result["agreement"]["atom_disagreements"] == 0, result["agreement"]["examples"]


def test_table(result):
    rows = state_check.format_table(result)
    labels = [label for label, _ in rows]
    assert "worlds/s, batch 64" in labels and "C++ threads vs Python" in labels


def test_registered():
    assert bench.BENCHMARKS["state-check"] == "emx.bench.state_check"
    assert bench.BENCHMARKS["all"] == "emx.bench.all"


def test_all_writes_json_and_chart_and_survives_a_failure(tmp_path, monkeypatch):
    ok = types.ModuleType("emx_fake_ok")
    ok.run = lambda quick=False, progress=None: {"bench": "fake-ok", "machine": {}, "results": [],
                                                 "ratios": {"a_vs_b": 12.5, "c_vs_d": None},
                                                 "target": {"a_vs_b": 10.0}}
    bad = types.ModuleType("emx_fake_bad")

    def broken(quick=False, progress=None):
        raise RuntimeError("no such hardware")

    bad.run = broken
    monkeypatch.setitem(sys.modules, "emx_fake_ok", ok)
    monkeypatch.setitem(sys.modules, "emx_fake_bad", bad)
    monkeypatch.setattr(bench_all, "BENCHMARKS", {"fake-ok": "emx_fake_ok", "fake-bad": "emx_fake_bad", "all": "x"})
    out = bench_all.run(quick=True, out_dir=str(tmp_path))
    by = {r["name"]: r for r in out["results"]}
    assert by["fake-ok"]["ok"] and by["fake-ok"]["targets"] == {"a_vs_b": 10.0}
    assert not by["fake-bad"]["ok"] and "no such hardware" in by["fake-bad"]["error"]
    assert out["ratios"]["fake-ok.a_vs_b"] == 12.5
    saved = json.loads(open(out["files"]["json"]).read())
    assert saved["bench"] == "all" and saved["ratios"]["fake-ok.a_vs_b"] == 12.5
    if out["files"]["png"]:  # matplotlib is optional
        assert open(out["files"]["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
    rows = dict(bench_all.format_table(out))
    assert "FAILED" in rows["fake-bad"] and "12.5x" in rows["fake-ok"]
    with pytest.raises(ValueError, match="unknown benchmark"):
        bench_all.run(only=["nope"], write=False)


def test_cli_bench_all_out_only_and_exit_status(tmp_path, monkeypatch, capsys):
    """`emx bench all --only ... --out DIR`: only those run, the files land in DIR, and a failed
    benchmark makes the exit status 1 (its figures are still written)."""
    from emx.cli import main as cli_main

    ok = types.ModuleType("emx_fake_ok2")
    ok.run = lambda quick=False, progress=None: {"bench": "fake-ok", "machine": {}, "results": [],
                                                 "ratios": {"a_vs_b": 3.0}, "targets": {"a_vs_b": 2.0}}
    bad = types.ModuleType("emx_fake_bad2")
    bad.run = lambda quick=False, progress=None: 1 / 0
    monkeypatch.setitem(sys.modules, "emx_fake_ok2", ok)
    monkeypatch.setitem(sys.modules, "emx_fake_bad2", bad)
    monkeypatch.setattr(bench_all, "BENCHMARKS",
                        {"fake-ok": "emx_fake_ok2", "fake-bad": "emx_fake_bad2", "never": "no_such_module", "all": "x"})
    out_dir = tmp_path / "figures"
    assert cli_main(["bench", "all", "--only", "fake-ok", "--out", str(out_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in printed["results"]] == ["fake-ok"]
    assert printed["results"][0]["targets"] == {"a_vs_b": 2.0}  # `targets` counts as well as `target`
    assert printed["files"]["json"].startswith(str(out_dir)) and len(list(out_dir.glob("bench-all-*.json"))) == 1
    assert cli_main(["bench", "all", "--only", "fake-ok", "fake-bad", "--out", str(out_dir)]) == 1
    assert cli_main(["bench", "all", "--only", "nope"]) == 2
    assert cli_main(["bench", "goal-check", "--out", str(out_dir)]) == 2
