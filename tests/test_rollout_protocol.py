"""The worker protocol in Python (emx.rollout.protocol) against the C++ one: the same bytes for
actions, and a Python parent driving both worker implementations (the Python loop and the C++ loop)
with the same frames gets the same answers, equal to in-process evaluation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import emx
from emx import _core
from emx.evaluation import _parse, to_actions
from emx.rollout import protocol as P
from emx.rollout.testing import sampled_groups
from emx.task import knowledge_base


@pytest.fixture(scope="module")
def episodes():
    return sampled_groups(emx.load_tasks("eai-behavior", limit=4), 6, seed=21)


def test_error_names_match_the_core():
    assert list(P.ERRORS) == _core.error_names()
    assert P.PROTOCOL_VERSION == _core.PROTOCOL_VERSION


def test_action_records_round_trip_and_match_cpp_bytes(episodes):
    for e in episodes:
        parsed = _parse(e.plan, "auto")
        if not parsed.ok:
            continue
        acts = to_actions(e.task, parsed) + [e.task.core.eai_action("FLY", ["ghost_1"])]
        records = [P.record_of(a) for a in acts]
        back = [r.core() for r in records]
        assert [_core.action_fields(a) for a in back] == [_core.action_fields(a) for a in acts]
        # Python's encoding of the records is byte-for-byte C++'s.
        g = P.GroupMsg(1, 2, 3, 0, 0, 4, [P.PlanMsg(0, True, 0, (), records)])
        py_bytes = P.encode_group(g)
        cpp_actions = _core.encode_actions(acts)            # u32 count + records
        assert py_bytes.endswith(cpp_actions)
        assert P.decode_group(py_bytes[5:]).plans[0].suffix == records


def test_frame_reader_splits_any_chunking():
    frames = [P.encode_heartbeat(i) for i in range(50)] + [P.encode_hello(1, 2.5, 0.1, 8, 42, "x")]
    blob = b"".join(frames)
    for chunk in (1, 3, 7, 64, len(blob)):
        reader = P.FrameReader()
        got = []
        for i in range(0, len(blob), chunk):
            reader.feed(blob[i:i + chunk])
            got += list(reader.frames())
        assert len(got) == 51
        assert got[-1][0] == P.HELLO and P.decode_hello(got[-1][1])["pid"] == 42
    with pytest.raises(P.ProtocolError):
        P.decode_group(b"\x00" * 10)


def _worker(mode: str):
    parent, child = socket.socketpair()
    env = dict(os.environ)
    root = str(Path(emx.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "emx.rollout.worker", "--mode", mode], stdin=child, stdout=child,
                            env=env)
    child.close()
    parent.settimeout(30)
    return proc, parent


def _exchange(mode: str, episodes) -> dict:
    proc, sock = _worker(mode)
    try:
        reader = P.FrameReader()

        def next_frame():
            while True:
                for f in reader.frames():
                    if f[0] != P.HEARTBEAT:
                        return f
                data = sock.recv(1 << 16)
                assert data, "worker closed the socket"
                reader.feed(data)

        t, payload = next_frame()
        assert t == P.HELLO
        hello = P.decode_hello(payload)
        assert hello["capabilities"] & P.CAP_SYMBOLIC
        sock.sendall(P.encode_knowledge(_core.knowledge_base_bits(knowledge_base())))
        weights = {k: getattr(_core.reward_preset("embomatrix"), k) for k in P._REWARD_FIELDS}
        sock.sendall(P.encode_reward(5, "embomatrix", weights))
        tasks = {}
        groups: dict = {}
        for e in episodes:
            tasks.setdefault(e.task.id, (len(tasks) + 1, e.task))
            groups.setdefault(e.task.id, []).append(e)
        for tid, task in tasks.values():
            sock.sendall(P.encode_task(P.TaskMsg(tid, task.id, task.spec.filename, task.spec.bddl_text, "")))
        expected = 0
        for job, (task_id, members) in enumerate(groups.items(), start=1):
            tid, task = tasks[task_id]
            plans, oks = [], []
            for e in members:
                parsed = _parse(e.plan, "auto")
                plans.append(to_actions(task, parsed) if parsed.ok else [])
                oks.append(parsed.ok)
            g = P.GroupMsg(job, tid, 5, P.MODE_SYMBOLIC, P.KEEP_TRACE, 1)
            for index, resume, saves in _core.prefix_schedule(plans, True):
                g.plans.append(P.PlanMsg(index, oks[index], resume, tuple(saves),
                                         [P.record_of(a) for a in plans[index][resume:]]))
            sock.sendall(P.encode_group(g))
            expected += len(members)
        out = {}
        while len(out) < expected:
            t, payload = next_frame()
            assert t == P.RESULT
            r = P.decode_result(payload)
            out[(r["job"], r["index"])] = r
        sock.sendall(P.frame(P.SHUTDOWN))
        assert proc.wait(timeout=20) == 0
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()


def test_python_and_cpp_workers_answer_alike(episodes):
    py = _exchange("symbolic", episodes)
    cpp = _exchange("symbolic-cpp", episodes)
    assert py.keys() == cpp.keys()
    timing = {"run_seconds", "load_seconds"}
    for k in py:
        assert {a: b for a, b in py[k].items() if a not in timing} == {a: b for a, b in cpp[k].items() if a not in timing}
    # ... and equal to in-process evaluation (group order: tasks in first-seen order).
    by_task: dict = {}
    for e in episodes:
        by_task.setdefault(e.task.id, []).append(e)
    for job, members in enumerate(by_task.values(), start=1):
        for index, e in enumerate(members):
            ref = emx.evaluate(e.task, e.plan, reward="embomatrix")
            got = py[(job, index)]
            assert got["reward"] == ref.reward and got["executed"] == ref.executed
            assert [m for _, _, m in got["steps"]] == [s.message for s in ref.trace]
