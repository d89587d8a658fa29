"""Ctrl-C stops emx: a SIGINT during a long batch raises KeyboardInterrupt in the caller within
0.5 s, kills what is in flight and leaves no process behind; the `emx` commands exit 130 with
one line saying what was interrupted; `emx serve` drains on SIGTERM and exits 0.

Children restore Python's SIGINT handler themselves: a process started with SIGINT ignored (a
background job of a non-interactive shell, which is how CI may run pytest) otherwise installs
none, and the interrupt is ignored by design of POSIX, not lost by emx."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import emx
from emx.rollout.testing import alive, wait_dead

PYTHON_DIR = str(Path(emx.__file__).resolve().parent.parent)

# One child runs the scenario ROUNDS times: two slow symbolic workers (50 ms per action;
# each of the 200 episodes stops at its first action, on an unknown object, so results stream in
# every ~25 ms and the batch takes ~5 s), evaluate() inside `with engine:`, interrupted from
# outside 0.3 s after it starts. Odd rounds use the engine's C++ blocking path (rewards():
# Scheduler::evaluate, whose signal checks a steady stream of results once starved), even rounds
# the futures path (evaluate()).
_CHILD = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {python!r})
    import emx
    from emx.rollout import RolloutEngine, worker_command
    tasks = emx.load_tasks("eai-behavior", limit=2)
    slow = ["--slow-us", "50000"]
    batch = [(t, [{{"action": "OPEN", "object": "x"}}] * 40) for t in tasks] * 100
    for i in range({rounds}):
        engine = RolloutEngine(workers=[worker_command("symbolic", extra=slow),
                                        worker_command("symbolic-python", extra=slow)])
        pids = [w["pid"] for w in engine.stats()["workers"]]
        try:
            with engine:
                print("running", i, *pids, flush=True)
                if i % 2:
                    engine.rewards(batch)
                else:
                    engine.evaluate(batch)
            print("finished", i, flush=True)       # never: the batch takes ~5 s
        except KeyboardInterrupt:
            print("interrupted", i, repr(time.monotonic()), flush=True)
""")

ROUNDS = 20


def _env() -> dict:
    """The environment for an `emx` child: the emx package this test imported comes first."""
    path = os.pathsep.join(p for p in (PYTHON_DIR, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": path}


def test_sigint_during_a_batch_raises_within_half_a_second_and_leaves_no_process(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(python=PYTHON_DIR, rounds=ROUNDS))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    latencies = []
    try:
        for i in range(ROUNDS):
            line = proc.stdout.readline().split()
            assert line[:2] == ["running", str(i)], (line, proc.stderr.read()[-3000:] if proc.poll() else "")
            pids = [int(p) for p in line[2:]]
            assert len(pids) == 2 and all(alive(p) for p in pids)
            time.sleep(0.3)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            answer = proc.stdout.readline().split()
            assert answer[:2] == ["interrupted", str(i)], answer
            # CLOCK_MONOTONIC is system-wide: the child's clock reading compares with ours.
            latencies.append(float(answer[2]) - sent)
            assert not wait_dead(pids, timeout=5), f"round {i}: workers {pids} outlived the interrupt"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    slow = [(i, round(t, 3)) for i, t in enumerate(latencies) if t >= 0.5]
    assert not slow, f"KeyboardInterrupt later than 0.5 s in rounds {slow}; all: {latencies}"


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds marker (children inherit it)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker.encode() in (d / "environ").read_bytes() and alive(int(d.name)):
                found.append(int(d.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("workers", ["0", "2"])
def test_emx_eval_interrupted_exits_130_with_one_line_and_no_partial_json(tmp_path, workers):
    marker = f"EMX_INTERRUPT_TEST={os.getpid()}-{workers}-{time.monotonic_ns()}"
    env = {**_env(), "PYTHONUNBUFFERED": "1", marker.split("=")[0]: marker.split("=")[1]}
    # 1,016 BEHAVIOR-1K activities in physics: minutes of work, interrupted after 6 s (in threads,
    # or on 2 worker processes). Started with SIGINT ignored, as a background job of a script would
    # be: `emx` restores Python's handler.
    proc = subprocess.Popen([sys.executable, "-m", "emx.cli", "eval", "--tasks", "bddl", "--policy", "oracle",
                             "--mode", "physics", "--workers", workers, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        time.sleep(6)
        assert proc.poll() is None, proc.communicate()
        if workers != "0":
            assert len(_processes_with(marker)) >= 3   # emx and its two workers
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, errs[-2000:]
    assert out == ""                                   # nothing partial on stdout
    assert errs.strip().splitlines()[-1] == "interrupted: emx eval"
    assert "Traceback" not in errs
    left = _processes_with(marker)
    assert not left or not wait_dead(left, timeout=5), f"processes left behind: {left}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_drains_in_flight_requests_on_sigterm_and_exits_0(tmp_path):
    port = _free_port()
    env = _env()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "emx.cli", "serve", "--tasks", "eai-behavior:bottling_fruit",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:   # a hang guard while the server starts
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        task = emx.load_task("eai-behavior:bottling_fruit")
        body = json.dumps({"items": [{"task": task.id, "plan": "[]"}]}).encode()
        conn.settimeout(60)
        # A request in flight: headers and half the body, then SIGTERM, then the rest.
        conn.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, "the server quit with a request in flight"
        conn.sendall(body[10:])
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            more = conn.recv(65536)
            if not more:
                break
            data += more
        conn.close()
        assert data.split(b"\r\n")[0].endswith(b"200 OK"), data[:300]
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
