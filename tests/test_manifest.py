"""The reproducibility manifest in --json results of emx eval, emx train and emx bench."""

from __future__ import annotations

import json

import pytest

import emx
from emx.cli import main
from emx.manifest import PACKAGES, build_manifest, task_set_hash


def _run(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_manifest_fields_and_no_git_is_none(monkeypatch):
    m = build_manifest(tasks=emx.load_tasks("eai-behavior", limit=3), reward="eai", seeds={"seed": 1})
    assert m["emx_version"] == emx.__version__
    assert m["semantics"] == "default" and m["reward"] == "eai" and m["seeds"] == {"seed": 1}
    assert m["tasks"]["n"] == 3 and m["tasks"]["hash"].startswith("sha256:")
    assert set(m["packages"]) == set(PACKAGES) == {"bddl", "eai-eval", "sapien", "torch", "vllm", "transformers"}
    assert m["packages"]["bddl"] == "3.6.0"
    assert "git_revision" in m
    # the semantics flag, where a command has it
    assert build_manifest(args=type("A", (), {"semantics": "eai"})())["semantics"] == "eai"
    # no git on PATH: the revision is None, never an error
    from emx import manifest as mod

    mod.git_revision.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        assert build_manifest()["git_revision"] is None
    finally:
        mod.git_revision.cache_clear()


def test_task_set_hash_follows_content_and_order():
    tasks = emx.load_tasks("eai-behavior", limit=3)
    h = task_set_hash(tasks)
    assert task_set_hash(list(tasks)) == h
    assert task_set_hash(tasks[:2]) != h
    assert task_set_hash(list(reversed(tasks))) != h
    texts = [t.spec.bddl_text for t in tasks]
    assert task_set_hash(texts) == h
    assert task_set_hash([texts[0] + texts[1], texts[2]]) != task_set_hash(texts)


def test_equal_manifests_give_equal_eval_results(capsys):
    argv = ["eval", "--tasks", "eai-behavior", "--limit", "6", "--policy", "oracle", "--mode", "symbolic", "--json"]
    a, b = _run(capsys, argv), _run(capsys, argv)
    assert a["manifest"] == b["manifest"]
    assert a["manifest"]["reward"] == "default" and a["manifest"]["mode"] == "symbolic"
    strip = lambda r: {k: v for k, v in r.items() if k != "manifest"}  # noqa: E731
    assert strip(a) == strip(b)
    # another task set: another hash
    c = _run(capsys, argv[:4] + ["5"] + argv[5:])
    assert c["manifest"]["tasks"]["hash"] != a["manifest"]["tasks"]["hash"] and c["manifest"]["tasks"]["n"] == 5
    d = _run(capsys, argv + ["--reward", "eai"])
    assert d["manifest"]["tasks"] == a["manifest"]["tasks"] and d["manifest"]["reward"] == "eai"


def test_train_writes_manifest_json(tmp_path, capsys):
    out = tmp_path / "run"
    summary = _run(capsys, ["train", "--preset", "tiny-ci", "--max-steps", "0", "--out", str(out), "--json"])
    on_disk = json.loads((out / "manifest.json").read_text())
    assert summary["manifest"] == on_disk
    assert on_disk["reward"] == "eai" and on_disk["seeds"] == {"seed": 0}
    split = json.loads((out / "split.json").read_text())
    assert on_disk["tasks"]["n"] == sum(split["counts"].values())
    # the same run elsewhere has the same manifest; another seed, another task set
    again = _run(capsys, ["train", "--preset", "tiny-ci", "--max-steps", "0", "--out", str(tmp_path / "b"), "--json"])
    assert again["manifest"] == on_disk
    other = _run(capsys, ["train", "--preset", "tiny-ci", "--max-steps", "0", "--seed", "1",
                          "--out", str(tmp_path / "c"), "--json"])
    assert other["manifest"]["tasks"]["hash"] != on_disk["tasks"]["hash"]


def test_bench_json_has_a_manifest(capsys, monkeypatch):
    from emx import bench

    name = next(iter(bench.BENCHMARKS))
    monkeypatch.setitem(bench.BENCHMARKS, "fake", "tests._fake_bench")
    import sys
    import types

    fake = types.ModuleType("tests._fake_bench")
    fake.run = lambda quick=False, progress=None: {"bench": "fake", "machine": {}, "results": [], "ratios": {}}
    fake.format_table = lambda r: []
    monkeypatch.setitem(sys.modules, "tests._fake_bench", fake)
    out = _run(capsys, ["bench", "fake", "--quick", "--json"])
    assert out["bench"] == "fake" and out["manifest"]["quick"] is True
    assert out["manifest"]["tasks"] is None and "packages" in out["manifest"]
    assert name  # the real benchmarks are registered the same way
