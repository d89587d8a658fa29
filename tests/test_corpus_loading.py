"""Corpus loading: one bad .bddl file in a directory no longer aborts the directory. Good files
load; each bad one is reported with file:line:col (a table on stderr, ``skipped`` in --json,
``.skipped`` on the list emx.load_tasks returns); --strict / strict=True make it an error."""

from __future__ import annotations

import json
import warnings

import pytest

import emx
from emx.cli import main

GOOD = """\
(define (problem {name})
    (:domain omnigibson)
    (:objects
        apple.n.01_1 - apple.n.01
        table.n.02_1 - table.n.02
        floor.n.01_1 - floor.n.01
        agent.n.01_1 - agent.n.01
    )
    (:init
        (ontop apple.n.01_1 floor.n.01_1)
        (inroom table.n.02_1 kitchen)
        (inroom floor.n.01_1 kitchen)
        (ontop agent.n.01_1 floor.n.01_1)
    )
    (:goal
        (and
            (ontop ?apple.n.01_1 ?table.n.02_1)
        )
    )
)
"""


@pytest.fixture()
def corpus(tmp_path):
    """Three good files and three bad ones (syntax error, unknown predicate, not UTF-8)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a_good.bddl").write_text(GOOD.format(name="put_the_apple_on_the_table"), encoding="utf-8")
    (tmp_path / "sub" / "b_good.bddl").write_text(GOOD.format(name="b-0"), encoding="utf-8")
    (tmp_path / "z_good.bddl").write_text(GOOD.format(name="z-0"), encoding="utf-8")
    # line 16: one close paren too few at the end -> the parser names the open paren
    (tmp_path / "c_syntax.bddl").write_text(GOOD.format(name="c-0").rstrip().rstrip(")") + "\n", encoding="utf-8")
    (tmp_path / "d_predicate.bddl").write_text(
        GOOD.format(name="d-0").replace("(ontop ?apple", "(ontopp ?apple"), encoding="utf-8")
    (tmp_path / "e_latin1.bddl").write_bytes(GOOD.format(name="caf\xe9-0").encode("latin-1"))
    return tmp_path


BAD = ("c_syntax.bddl", "d_predicate.bddl", "e_latin1.bddl")
GOOD_IDS = ["a_good", "sub/b_good", "z_good"]


def _check_skipped(rows, root):
    assert [r["file"] for r in rows] == [str(root / b) for b in BAD]
    for r in rows:
        assert r["line"] >= 1 and r["column"] >= 1 and r["message"]
    by_file = {r["file"].rsplit("/", 1)[-1]: r for r in rows}
    assert "unknown predicate 'ontopp'" in by_file["d_predicate.bddl"]["message"]
    assert (by_file["d_predicate.bddl"]["line"], by_file["d_predicate.bddl"]["column"]) == (17, 14)  # "ontopp"
    assert "not UTF-8" in by_file["e_latin1.bddl"]["message"]
    assert (by_file["e_latin1.bddl"]["line"], by_file["e_latin1.bddl"]["column"]) == (1, 21)  # the byte of "café"
    assert "byte 0xe9" in by_file["e_latin1.bddl"]["message"]


def test_load_tasks_skips_bad_files_and_lists_them(corpus):
    with pytest.warns(emx.SkippedTasksWarning, match="skipped 3 bad task file"):
        tasks = emx.load_tasks(str(corpus))
    assert isinstance(tasks, emx.TaskList) and isinstance(tasks, list)
    assert [t.id for t in tasks] == GOOD_IDS
    assert all(isinstance(s, emx.SkippedFile) for s in tasks.skipped)
    _check_skipped([s.to_dict() for s in tasks.skipped], corpus)
    assert str(tasks.skipped[1]).startswith(f"{corpus / 'd_predicate.bddl'}:17:14: unknown predicate")


def test_load_tasks_limit_counts_loaded_tasks(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emx.SkippedTasksWarning)
        tasks = emx.load_tasks(str(corpus), limit=2)
    assert [t.id for t in tasks] == GOOD_IDS[:2]
    assert [s.file.rsplit("/", 1)[-1] for s in tasks.skipped] == list(BAD)   # sorted before sub/


def test_load_tasks_strict_raises_the_first_bad_file(corpus):
    with pytest.raises(emx.BddlError) as info:
        emx.load_tasks(str(corpus), strict=True)
    assert info.value.file == str(corpus / "c_syntax.bddl")
    assert str(info.value).startswith(f"{corpus / 'c_syntax.bddl'}:")


def test_single_file_and_all_bad_directory_still_raise(corpus, tmp_path_factory):
    with pytest.raises(emx.BddlError, match="unknown predicate"):
        emx.load_tasks(str(corpus / "d_predicate.bddl"))
    only_bad = tmp_path_factory.mktemp("only_bad")
    (only_bad / "x.bddl").write_text("(define (problem x)", encoding="utf-8")
    with pytest.raises(emx.TaskSourceError, match="no task loads; 1 bad file"):
        emx.load_tasks(str(only_bad))


def test_good_directory_has_no_skipped_and_no_warning(corpus):
    for b in BAD:
        (corpus / b).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tasks = emx.load_tasks(str(corpus))
    assert [t.id for t in tasks] == GOOD_IDS and tasks.skipped == []


def _json(capsys, argv):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, (json.loads(captured.out) if rc == 0 else None), captured.err


def test_cli_tasks_list_json_has_skipped(corpus, capsys):
    rc, out, _ = _json(capsys, ["tasks", "list", "--source", str(corpus), "--json"])
    assert rc == 0
    assert [t["id"] for t in out["tasks"]] == GOOD_IDS and out["n"] == 3
    _check_skipped(out["skipped"], corpus)


def test_cli_tasks_list_table_on_stderr(corpus, capsys):
    rc = main(["tasks", "list", "--source", str(corpus)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "skipped 3 bad task file" in captured.err
    assert "unknown predicate 'ontopp'" in captured.err
    assert ":17:14" in captured.err


def test_cli_strict_fails_naming_the_file(corpus, capsys):
    for argv in (["tasks", "list", "--source", str(corpus), "--strict"],
                 ["eval", "--tasks", str(corpus), "--policy", "oracle", "--strict", "--json"]):
        rc, _, err = _json(capsys, argv)
        assert rc == 2
        assert "c_syntax.bddl" in err


def test_cli_eval_json_has_skipped(corpus, capsys):
    rc, out, _ = _json(capsys, ["eval", "--tasks", str(corpus), "--policy", "oracle", "--json"])
    assert rc == 0
    assert out["n"] == 3 and out["success_rate"] == 1.0
    _check_skipped(out["skipped"], corpus)


def test_gen_report_lists_skipped_files(corpus, capsys):
    rc, out, _ = _json(capsys, ["gen", "report", str(corpus), "--no-compare", "--png", "", "--json"])
    assert rc == 0 and out["n"] == 3
    _check_skipped(out["skipped_files"], corpus)
    rc, _, err = _json(capsys, ["gen", "report", str(corpus), "--no-compare", "--png", "", "--json", "--strict"])
    assert rc == 2 and "c_syntax.bddl" in err


def test_serve_app_loads_good_files_and_strict_refuses(corpus, capsys):
    pytest.importorskip("fastapi")
    from emx.server.launch import build_app

    app = build_app([str(corpus)])
    assert sorted(app.state.tasks) == sorted(GOOD_IDS)
    assert "skipped 3 bad task file" in capsys.readouterr().err
    with pytest.raises(emx.BddlError):
        build_app([str(corpus)], strict=True)
