"""Rollout workers on a Ray cluster: Ray carries the frames, emx's scheduler decides.

emx's scheduler (C++, ``emx/scheduler.hpp``) starts every worker as a process
that speaks the framed worker protocol (``emx/worker_protocol.hpp``) on its
stdin/stdout. With this transport, that process is a *bridge*:

    scheduler ──socket── bridge process ──Ray calls── WorkerHost actor ──socket── worker loop
    (routing, retries,    (this module,                (on a Ray node chosen        (emx's C++ symbolic
     exactly-once)         ``bridge`` mode)              by resources)               loop, or any worker command)

* The bridge connects to the cluster, creates one ``WorkerHost`` actor with the
  worker kind's Ray resources (CPU simulation nodes, GPU physics/render nodes
  through ``num_gpus`` or a custom resource such as ``{"emx_gpu_physics": 1}``,
  or a placement group bundle), and relays bytes both ways, unchanged. Pushes
  carry sequence numbers (a threaded actor may run calls out of order); pulls
  are long polls.
* The actor runs the same worker loop a local worker process runs: emx's C++
  symbolic loop (``_core.run_worker``) in a thread, or, for other kinds
  (physics), the worker *command* as a child process on the actor's node.
* Routing (capabilities, group affinity, speed, scene caches), timeouts,
  heartbeats and re-dispatch stay in the scheduler. When a node dies, its
  actor dies, the bridge's next call fails and the bridge exits; the scheduler
  sees a worker exit, runs that worker's unanswered episodes elsewhere (each
  reported exactly once) and starts a new bridge, whose actor Ray places on a
  node that is still alive.

Use: ``ray_worker_specs(address, workers=4)`` gives the scheduler's worker
specs (``emx._core.Scheduler(specs, kb, config)``, or
``emx.RolloutEngine(transport="ray", address=...)``). The bridge's command line:

    python -m emx.rollout.ray_transport --address HOST:PORT [--num-cpus 1] [--num-gpus 0]
        [--resource NAME=AMOUNT ...] [--placement-group NAME --bundle-index I]
        [--worker-command 'ARGV ...'] [--name NAME] [--slow-us N] [--task-cache N]
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "emx"
PYTHON_PLACEHOLDER = "{python}"
ACTOR_PREFIX = "emx-worker-"
_PULL_MAX_BYTES = 4 << 20
_PULL_WAIT_S = 0.5
_SHUTDOWN_FRAME = b"\x01\x00\x00\x00\x08"  # u32 length 1, type SHUTDOWN (emx/worker_protocol.hpp)


# --------------------------------------------------------------------------- the actor

class WorkerHost:
    """Hosts one rollout worker on a Ray node and exposes its socket as push/pull calls.

    Created by a bridge with ``ray.remote(WorkerHost).options(max_concurrency=4, ...)``:
    push and pull run on different threads, so a full socket in one direction
    never blocks the other.
    """

    def __init__(self, command: Sequence[str] | None = None, name: str = "ray", task_cache: int = 256,
                 slow_us: int = 0, load_us: int = 0, heartbeat_s: float = 0.25, env: dict[str, str] | None = None,
                 noop: bool = False):
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        if command:
            # "{python}" is this node's interpreter: paths differ between the driver and the nodes.
            argv = [sys.executable if a == PYTHON_PLACEHOLDER else a for a in command]
            penv = dict(os.environ, EMX_PARENT_PID=str(os.getpid()), **(env or {}))
            self._proc = subprocess.Popen(argv, stdin=child, stdout=child, env=penv, start_new_session=True)
            child.close()
        else:
            from emx import _core  # absolute: this class is unpickled on Ray nodes

            def serve() -> None:
                try:
                    _core.run_worker(child.fileno(), child.fileno(), name=name, task_cache=task_cache,
                                     noop=noop, slow_us=slow_us, load_us=load_us, heartbeat=heartbeat_s)
                finally:
                    child.close()

            self._thread = threading.Thread(target=serve, name="emx-worker-loop", daemon=True)
            self._thread.start()
        self._cond = threading.Condition()
        self._next_seq = 1
        self._pending: dict[int, bytes] = {}
        self._read_lock = threading.Lock()
        self._closed = False

    def push(self, seq: int, data: bytes) -> int:
        """Delivers bytes to the worker in sequence order; returns the next sequence number expected."""
        with self._cond:
            self._pending[seq] = data
            while self._next_seq in self._pending:
                self._sock.sendall(self._pending.pop(self._next_seq))
                self._next_seq += 1
            return self._next_seq

    def pull(self, wait_s: float = _PULL_WAIT_S) -> bytes | None:
        """What the worker wrote since the last pull (b"" after wait_s with nothing); None once it ended."""
        with self._read_lock:
            chunks: list[bytes] = []
            size = 0
            ready, _, _ = select.select([self._sock], [], [], wait_s)
            if not ready:
                return b""
            while size < _PULL_MAX_BYTES:
                try:
                    data = self._sock.recv(min(1 << 20, _PULL_MAX_BYTES - size), socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if not data:
                    return b"".join(chunks) if chunks else None
                chunks.append(data)
                size += len(data)
            return b"".join(chunks)

    def where(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        return {"node_id": ctx.get_node_id(), "pid": os.getpid(), "host": socket.gethostname()}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_WR)  # end of input: the worker loop returns
        except OSError:
            pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        elif self._thread is not None:
            self._thread.join(timeout=2)


# --------------------------------------------------------------------------- worker kinds and specs

@dataclass
class RayWorkerKind:
    """One kind of worker and the Ray resources each of its actors takes.

    command: None runs emx's C++ symbolic loop inside the actor; otherwise the
    argv of a worker process (e.g. a physics worker) started on the actor's node.
    """

    count: int = 1
    name: str = "ray"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)
    placement_group: str | None = None      # a named placement group (created by the caller)
    bundle_index: int = -1
    command: Sequence[str] | None = None
    task_cache: int = 256
    slow_us: int = 0                        # tests: emulate slower simulation
    noop: bool = False                      # dispatch benchmarks: answer every plan at once
    heartbeat_s: float = 0.25
    env: dict[str, str] = field(default_factory=dict)


def bridge_command(address: str, kind: RayWorkerKind) -> list[str]:
    argv = [sys.executable, "-m", "emx.rollout.ray_transport", "--address", address, "--name", kind.name,
            "--num-cpus", repr(float(kind.num_cpus)), "--num-gpus", repr(float(kind.num_gpus)),
            "--task-cache", str(kind.task_cache)]
    for k, v in sorted(kind.resources.items()):
        argv += ["--resource", f"{k}={v}"]
    if kind.placement_group:
        argv += ["--placement-group", kind.placement_group, "--bundle-index", str(kind.bundle_index)]
    if kind.command:
        argv += ["--worker-command", shlex.join(kind.command)]
    if kind.slow_us:
        argv += ["--slow-us", str(kind.slow_us)]
    if kind.noop:
        argv += ["--noop"]
    if kind.heartbeat_s != 0.25:
        argv += ["--heartbeat", repr(float(kind.heartbeat_s))]
    if kind.env:
        argv += ["--worker-env", json.dumps(kind.env)]
    return argv


def ray_worker_specs(address: str, workers: int | Sequence[RayWorkerKind] = 1) -> list[dict[str, Any]]:
    """Worker specs for emx._core.Scheduler / emx.RolloutEngine: one bridge process per Ray actor.

    address: the cluster's GCS address (HOST:PORT, as `ray start --head` prints) or "auto".
    """
    kinds = [RayWorkerKind(count=workers)] if isinstance(workers, int) else list(workers)
    env = []
    # The bridge must import the same emx as the scheduler's process (a source checkout included).
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join([pkg_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.append(f"PYTHONPATH={path}")
    return [{"command": bridge_command(address, k), "count": k.count, "name": k.name, "env": env}
            for k in kinds if k.count > 0]


def _kind_for(name: str, count: int, scene_cache: int, heartbeat: float) -> RayWorkerKind:
    """A RolloutEngine worker kind ("symbolic", "physics", ...) as a Ray worker kind."""
    if name in ("symbolic", "noop"):  # the C++ loop inside the actor
        return RayWorkerKind(count=count, name=name, noop=name == "noop", heartbeat_s=heartbeat)
    from .engine import worker_command  # the same Python worker processes a local engine starts

    spec = worker_command(name, scene_cache=scene_cache, heartbeat=heartbeat)
    command = [PYTHON_PLACEHOLDER if a == sys.executable else a for a in spec["command"]]
    # Only portable settings travel: the nodes' own environment provides emx.
    env = {k: v for k, v in (e.split("=", 1) for e in spec.get("env", [])) if k != "PYTHONPATH"}
    return RayWorkerKind(count=count, name=name, command=command, env=env)


def ray_specs(address: str, workers: Any = 1, mode: str = "symbolic", *, scene_cache: int = 32,
              heartbeat: float = 0.25) -> list[dict[str, Any]]:
    """Worker specs for ``emx.RolloutEngine(workers=...)`` running every worker as a Ray actor.

    workers: a count of ``mode``'s default kind, or a list of kind strings ("physics",
    "symbolic*4") and RayWorkerKind (which name their Ray resources). String kinds take one CPU
    each; "physics" GPU nodes are picked with a RayWorkerKind(resources=..., num_gpus=...).
    """
    if isinstance(workers, int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        workers = [f"{'physics' if mode == 'physics' else 'symbolic'}*{workers}"]
    kinds = []
    for w in workers:
        if isinstance(w, RayWorkerKind):
            kinds.append(w)
        elif isinstance(w, str):
            name, _, count = w.partition("*")
            kinds.append(_kind_for(name, int(count) if count else 1, scene_cache, heartbeat))
        else:
            raise TypeError(f"a Ray worker is a kind string ('physics', 'symbolic*4') or a RayWorkerKind, not {w!r}")
    return ray_worker_specs(address, kinds)


# --------------------------------------------------------------------------- the bridge process

def _log(msg: str) -> None:
    sys.stderr.write(f"emx ray bridge[{os.getpid()}]: {msg}\n")
    sys.stderr.flush()


def run_bridge(address: str, kind: RayWorkerKind, in_fd: int, out_fd: int) -> int:
    """Relays the worker protocol between (in_fd, out_fd) and a WorkerHost actor until either side ends.

    Exit status: 0 when the scheduler closed the stream (shutdown), 3 when the actor or its node died.
    """
    import ray
    from ray.exceptions import RayError

    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR")
    options: dict[str, Any] = {"num_cpus": kind.num_cpus, "max_concurrency": 4, "max_restarts": 0,
                               "max_task_retries": 0, "name": f"{ACTOR_PREFIX}{os.getpid()}"}
    if kind.num_gpus:
        options["num_gpus"] = kind.num_gpus
    if kind.resources:
        options["resources"] = dict(kind.resources)
    if kind.placement_group:
        from ray.util.placement_group import get_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            placement_group=get_placement_group(kind.placement_group),
            placement_group_bundle_index=kind.bundle_index)
    # Imported by name so Ray pickles the class by reference (this file may be running as __main__).
    from emx.rollout.ray_transport import WorkerHost as host_class

    actor = ray.remote(host_class).options(**options).remote(
        command=list(kind.command) if kind.command else None, name=kind.name, task_cache=kind.task_cache,
        slow_us=kind.slow_us, heartbeat_s=kind.heartbeat_s, env=kind.env or None, noop=kind.noop)

    failure: list[str] = []
    stop = threading.Event()
    eof = threading.Event()

    def pump_in() -> None:
        """Scheduler -> actor. Pushes are pipelined; their sequence numbers keep them in order."""
        seq = 0
        outstanding: list[Any] = []
        try:
            while not stop.is_set():
                data = os.read(in_fd, 1 << 20)
                if not data:
                    eof.set()  # the scheduler closed the stream: shut down
                    break
                if data.endswith(_SHUTDOWN_FRAME):
                    eof.set()  # the worker loop ends after this: not a failure
                seq += 1
                outstanding.append(actor.push.remote(seq, data))
                if len(outstanding) > 64:
                    done, outstanding = ray.wait(outstanding, num_returns=len(outstanding) - 32)
                    ray.get(done)
            ray.get(outstanding)
        except (RayError, OSError) as e:
            failure.append(f"push: {type(e).__name__}: {e}"[:500])
        finally:
            stop.set()

    reader = threading.Thread(target=pump_in, name="emx-bridge-in", daemon=True)
    reader.start()
    status = 0
    try:
        while not stop.is_set():
            data = ray.get(actor.pull.remote(_PULL_WAIT_S))
            if data is None:
                failure.append("the worker loop on the Ray node ended")
                break
            if data:
                view = memoryview(data)
                while view:
                    n = os.write(out_fd, view)
                    view = view[n:]
    except (RayError, OSError) as e:
        failure.append(f"pull: {type(e).__name__}: {e}"[:500])
    stop.set()
    if failure and not eof.is_set():
        # The actor, its node or its worker loop is gone while the scheduler still needs it.
        _log("; ".join(failure))
        status = 3
    try:
        ray.get(actor.close.remote(), timeout=5)
    except Exception:  # the actor may be gone with its node
        pass
    try:
        ray.kill(actor)
    except Exception:
        pass
    return status


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m emx.rollout.ray_transport",
                                description="bridge between emx's rollout scheduler and a worker actor on Ray "
                                            "(started by the scheduler with a socket as stdin/stdout)")
    p.add_argument("--address", required=True, help="Ray cluster address (HOST:PORT of the head's GCS, or 'auto')")
    p.add_argument("--name", default="ray")
    p.add_argument("--num-cpus", type=float, default=1.0)
    p.add_argument("--num-gpus", type=float, default=0.0)
    p.add_argument("--resource", action="append", default=[], metavar="NAME=AMOUNT",
                   help="a custom Ray resource the actor needs (repeatable), e.g. emx_gpu_physics=1")
    p.add_argument("--placement-group", default=None)
    p.add_argument("--bundle-index", type=int, default=-1)
    p.add_argument("--worker-command", default=None, help="argv of the worker process to run on the node "
                                                          "(default: emx's C++ symbolic loop inside the actor)")
    p.add_argument("--worker-env", default=None, help="JSON object of extra environment for --worker-command")
    p.add_argument("--task-cache", type=int, default=256)
    p.add_argument("--slow-us", type=int, default=0)
    p.add_argument("--noop", action="store_true")
    p.add_argument("--heartbeat", type=float, default=0.25)
    args = p.parse_args(argv)
    resources = {}
    for r in args.resource:
        k, sep, v = r.partition("=")
        if not sep or not k:
            p.error(f"--resource expects NAME=AMOUNT, got {r!r}")
        resources[k] = float(v)
    kind = RayWorkerKind(count=1, name=args.name, num_cpus=args.num_cpus, num_gpus=args.num_gpus,
                         resources=resources, placement_group=args.placement_group, bundle_index=args.bundle_index,
                         command=shlex.split(args.worker_command) if args.worker_command else None,
                         task_cache=args.task_cache, slow_us=args.slow_us, noop=args.noop,
                         heartbeat_s=args.heartbeat,
                         env=json.loads(args.worker_env) if args.worker_env else {})

    # Like any worker process: die with the scheduler, and keep the protocol off stdout
    # (Ray and its libraries print; those lines go to stderr instead of corrupting frames).
    from .. import _core

    in_fd, out_fd = _core.prepare_worker_process()
    try:
        return run_bridge(args.address, kind, in_fd, out_fd)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 -- report, exit non-zero: the scheduler restarts the slot
        _log(f"{type(e).__name__}: {e}")
        return 3


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    os._exit(rc)  # Ray's atexit hooks can take seconds; the scheduler waits for this exit
