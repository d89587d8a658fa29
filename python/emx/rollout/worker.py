"""A rollout worker process: ``python -m emx.rollout.worker --mode physics|symbolic|symbolic-cpp``.

Started by the scheduler (``emx.RolloutEngine`` / ``emx::Scheduler``) with a socket as stdin and
stdout; speaks the protocol of ``emx.rollout.protocol`` until SHUTDOWN or end of input.

* ``physics``: SAPIEN rigid-body physics through ``emx.sim.PhysicsWorld``; also runs symbolic jobs.
  Worlds are cached per task (LRU); every plan starts from the world's settled snapshot, and a
  GRPO group's shared prefixes run once, from snapshots taken where the plans branch.
* ``symbolic``: the same loop over the C++ executor (``Task.apply``): the protocol, the prefix
  schedule and the scoring done in Python -- what proves a Python worker against the C++ one.
* ``symbolic-cpp``: the C++ worker loop (``emx_worker``) hosted in this process, for when the
  ``emx_worker`` executable is not installed.

Determinism: a step's randomness (if any) is seeded from the episode seed and the step's depth, so
a plan's result does not depend on which worker ran it or whether its prefix was shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import sys
import time
import traceback
from collections import OrderedDict
from typing import Any, Callable

from . import protocol as P


# --------------------------------------------------------------------------- worlds

class SymbolicWorld:
    """A task's symbolic state with snapshot/restore, stepping exactly as ``emx::execute``."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.state = core.initial_state.copy()
        self.history: list = []          # states before each executed step of this run
        self.initial = (core.initial_state, ())

    def snapshot(self) -> tuple:
        return (self.state.copy(), tuple(self.history))

    def restore(self, snap: tuple) -> None:
        self.state = snap[0].copy()
        self.history = list(snap[1])

    def step(self, action: Any) -> tuple[bool, str, str]:
        before = self.state.copy()
        ok, error, message = self.core.apply(self.state, action)
        if not ok:  # EAI's wrong temporal order, by the executor's own rule
            error, message = self.core.classify_failure(self.history, action, error, message)
        if ok:
            self.history.append(before)
        return ok, error, message

    def final_state(self) -> Any:
        return self.state


class PhysicsAdapter:
    """``emx.sim.PhysicsWorld`` behind the interface the group runner uses."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.core = world.core
        self.initial = world.initial

    def snapshot(self) -> Any:
        return self.world.snapshot()

    def restore(self, snap: Any) -> None:
        self.world.restore(snap)

    def step(self, action: Any) -> tuple[bool, str, str]:
        out = self.world.step(action)
        return out.ok, out.error, out.message

    def final_state(self) -> Any:
        return self.world.shadow


def _seed_step(seed: int, depth: int) -> None:
    s = (seed * 1000003 + depth * 7919) % (1 << 32)
    random.seed(s)
    try:
        import numpy as np
        np.random.seed(s)
    except Exception:  # pragma: no cover - numpy is a dependency
        pass


# --------------------------------------------------------------------------- groups

def run_group(world: Any, reward: Any, g: P.GroupMsg, emit: Callable[[int, bytes], None],
              alive: Callable[[], None], *, fresh_world: Callable[[], Any] | None = None,
              slow_s: float = 0.0, load_seconds: float = 0.0) -> None:
    """Runs a GROUP in its prefix-schedule order and emits one RESULT frame per plan.

    The state after depth d of the current path is kept only where the schedule says a later plan
    branches (``save_depths``); a plan resumes from the state saved at its ``resume_depth``. When
    the shared prefix already failed, the plan fails at the same step without running."""
    from .. import _core

    keep_trace = bool(g.flags & P.KEEP_TRACE)
    saved: dict[int, Any] = {}
    actions: list = []
    trace: list[tuple[str, str]] = []           # (error, message) per step of the current path
    fail_depth = -1
    fail_state = None
    first = True
    for p in g.plans:
        t0 = time.perf_counter()
        r = p.resume_depth
        if r > len(actions):
            raise P.ProtocolError("resume depth beyond the shared path")
        del actions[r:]
        actions.extend(a.core() for a in p.suffix)
        simulated = 0
        if not p.format_ok:
            d = _core.score_execution(world.core, [], False, reward, world.core.initial_state, 0, [])
            steps: list[tuple[str, str]] = []
        else:
            if 0 <= fail_depth < r:
                executed = fail_depth
                steps = trace[:fail_depth + 1]
                state = fail_state
            else:
                fail_depth = -1
                if fresh_world is not None:
                    world = fresh_world()            # no snapshot reuse: a new scene per plan
                    world.restore(world.initial)
                else:
                    world.restore(world.initial if r == 0 else saved[r])
                del trace[r:]
                saves = set(p.save_depths)
                executed = len(actions)
                for depth in range(r, len(actions)):
                    if depth in saves:
                        saved[depth] = world.snapshot()
                    _seed_step(g.seed, depth)
                    ok, error, message = world.step(actions[depth])
                    simulated += 1
                    trace.append((error, message))
                    if slow_s:
                        time.sleep(slow_s)
                    alive()
                    if not ok:
                        fail_depth = depth
                        fail_state = world.final_state()
                        executed = depth
                        break
                else:
                    if len(actions) in saves:
                        saved[len(actions)] = world.snapshot()
                state = world.final_state() if fail_depth < 0 else fail_state
                steps = trace[:executed + (1 if fail_depth >= 0 else 0)]
            rejected = world.core.plan_rejection(actions)
            if rejected is not None:  # eai: EAI rejects the whole plan before running it
                executed, state, steps = 0, world.core.initial_state, [rejected[1:]]
            d = _core.score_execution(world.core, list(actions), True, reward, state, executed, steps)
        emit(p.index, P.encode_result(g.job, p.index, d, run_seconds=time.perf_counter() - t0,
                             load_seconds=load_seconds if first else 0.0, simulated=simulated,
                             keep_trace=keep_trace, steps=steps))
        first = False


# --------------------------------------------------------------------------- executors

class SymbolicExecutor:
    capabilities = P.CAP_SYMBOLIC
    speed = 2e5            # actions/s: a prior the scheduler replaces with what it measures
    load_seconds = 2e-3

    def build(self, task_msg: P.TaskMsg, kb: Any, mode: int) -> Any:
        from .. import _core
        if mode != P.MODE_SYMBOLIC:
            raise RuntimeError("this worker runs symbolic episodes only (start it with --mode physics)")
        return SymbolicWorld(_core.compile_task(task_msg.bddl, task_msg.filename, kb))


class PhysicsExecutor(SymbolicExecutor):
    capabilities = P.CAP_SYMBOLIC | P.CAP_CPU_PHYSICS
    speed = 50.0
    load_seconds = 0.2

    def __init__(self) -> None:
        from ..sim import PhysicsWorld  # fail at start, not at the first episode
        self._world_cls = PhysicsWorld

    def build(self, task_msg: P.TaskMsg, kb: Any, mode: int) -> Any:
        from .. import _core
        if mode == P.MODE_SYMBOLIC:
            return super().build(task_msg, kb, mode)
        core = _core.compile_task(task_msg.bddl, task_msg.filename, kb)
        task = _task_for(task_msg, core)
        if task_msg.scene:
            scene = json.loads(task_msg.scene)
        else:
            from ..sim import scene_for
            scene = scene_for(task)
        return PhysicsAdapter(self._world_cls(task, scene))


def _task_for(msg: P.TaskMsg, core: Any) -> Any:
    """An emx.Task around a core task compiled here (scene builders read .id, .spec, .objects)."""
    from ..task import Task
    from ..tasks.sources import TaskSpec
    task_id = msg.key.split("#", 1)[0]
    return Task(TaskSpec(id=task_id, source="rollout", bddl_text=msg.bddl, filename=msg.filename,
                         command=task_id.replace("_", " ")), core)


# --------------------------------------------------------------------------- the loop

class Worker:
    def __init__(self, in_fd: int, out_fd: int, executor: SymbolicExecutor, *, name: str, cache: int,
                 heartbeat_s: float, slow_s: float = 0.0, load_s: float = 0.0) -> None:
        self.in_fd, self.out_fd = in_fd, out_fd
        self.executor = executor
        self.name = name
        self.cache = max(1, cache)
        self.heartbeat_s = heartbeat_s
        self.slow_s = slow_s
        self.load_s = load_s
        self.reader = P.FrameReader()
        self.out = bytearray()
        self.last_write = time.monotonic()
        self.beats = 0
        self.kb = None
        self.tasks: dict[int, P.TaskMsg] = {}
        self.rewards: dict[int, Any] = {}
        self.worlds: OrderedDict = OrderedDict()

    def write(self, data: bytes) -> None:
        self.out += data

    def flush(self) -> None:
        data = bytes(self.out)
        self.out.clear()
        off = 0
        while off < len(data):
            off += os.write(self.out_fd, data[off:])
        self.last_write = time.monotonic()

    def alive(self) -> None:
        """Called between steps: lets liveness out during long episodes."""
        if time.monotonic() - self.last_write >= self.heartbeat_s:
            self.beats += 1
            self.write(P.encode_heartbeat(self.beats))
            self.flush()

    def run(self) -> int:
        from .. import _core
        self.write(P.encode_hello(self.executor.capabilities, self.executor.speed, self.executor.load_seconds,
                                  self.cache, os.getpid(), self.name))
        self.flush()
        poller = select.poll()
        poller.register(self.in_fd, select.POLLIN)
        timeout_ms = max(1, int(self.heartbeat_s * 1000))
        while True:
            if not poller.poll(timeout_ms):
                self.beats += 1
                self.write(P.encode_heartbeat(self.beats))
                self.flush()
                continue
            try:
                data = os.read(self.in_fd, 1 << 16)
            except ConnectionResetError:
                data = b""      # the scheduler closed its end (shutdown, Ctrl-C): as at EOF
            if not data:
                return 0
            self.reader.feed(data)
            for msg_type, payload in self.reader.frames():
                if msg_type == P.SHUTDOWN:
                    self.flush()
                    return 0
                if msg_type == P.KNOWLEDGE:
                    self.kb = _core.knowledge_base_from_bits(P.decode_knowledge(payload))
                    self.worlds.clear()
                elif msg_type == P.TASK:
                    t = P.decode_task(payload)
                    self.tasks[t.id] = t
                elif msg_type == P.REWARD:
                    rid, name, weights = P.decode_reward(payload)
                    cfg = _core.RewardConfig()
                    cfg.name = name
                    for k, v in weights.items():
                        setattr(cfg, k, v)
                    self.rewards[rid] = cfg
                elif msg_type == P.GROUP:
                    self.group(P.decode_group(payload))
                else:
                    raise P.ProtocolError(f"unexpected frame type {msg_type}")
            self.flush()

    def _world(self, task_id: int, mode: int) -> tuple[Any, float]:
        key = (task_id, mode)
        w = self.worlds.get(key)
        if w is not None:
            self.worlds.move_to_end(key)
            return w, 0.0
        t0 = time.perf_counter()
        w = self.executor.build(self.tasks[task_id], self.kb, mode)
        if self.load_s:
            time.sleep(self.load_s)
        self.worlds[key] = w
        while len(self.worlds) > self.cache:
            self.worlds.popitem(last=False)
        return w, time.perf_counter() - t0

    def group(self, g: P.GroupMsg) -> None:
        def fail(message: str) -> None:
            for p in g.plans:
                self.write(P.encode_error_result(g.job, p.index, message))

        if g.flags & P.NOOP:
            for p in g.plans:
                d = {"format_ok": p.format_ok, "success": False, "executed": 0, "plan_length": 0, "first_error": "none",
                     "reward": 0.0, "executability": 0.0, "goal_fraction": 0.0, "objects_named": 0,
                     "relevant_named": 0, "goal_objects": 0}
                self.write(P.encode_result(g.job, p.index, d, run_seconds=0.0, load_seconds=0.0, simulated=0,
                                           keep_trace=False))
            return
        if g.task not in self.tasks:
            return fail(f"unknown task id {g.task}")
        if g.reward not in self.rewards:
            return fail(f"unknown reward id {g.reward}")
        try:
            world, load = self._world(g.task, g.mode)
        except Exception as e:
            return fail(f"task {self.tasks[g.task].key} cannot be loaded: {type(e).__name__}: {e}")

        answered: set[int] = set()

        def emit(index: int, frame: bytes) -> None:
            answered.add(index)
            self.write(frame)
            self.flush()

        fresh = None
        if g.flags & P.NO_SNAPSHOT_REUSE:
            def fresh() -> Any:
                return self.executor.build(self.tasks[g.task], self.kb, g.mode)
        try:
            run_group(world, self.rewards[g.reward], g, emit, self.alive, fresh_world=fresh, slow_s=self.slow_s,
                      load_seconds=load)
        except P.ProtocolError:
            raise
        except Exception as e:
            # An executor crash fails the plans not yet answered (not retried: it would crash
            # again); the world may be in any state now, so it is dropped.
            traceback.print_exc(file=sys.stderr)
            self.worlds.pop((g.task, g.mode), None)
            for p in g.plans:
                if p.index not in answered:
                    self.write(P.encode_error_result(g.job, p.index, f"{type(e).__name__}: {e}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emx.rollout.worker", description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["physics", "symbolic", "symbolic-cpp"], default="physics")
    ap.add_argument("--name", default=None)
    ap.add_argument("--scene-cache", type=int, default=32, help="worlds (physics) or tasks kept, least recently used out")
    ap.add_argument("--heartbeat", type=float, default=0.25, help="seconds between heartbeats while idle or stepping")
    ap.add_argument("--slow-us", type=int, default=0, help="sleep per action: emulates a slower machine (tests)")
    ap.add_argument("--load-us", type=int, default=0, help="sleep per task load: emulates a costly scene (tests)")
    ap.add_argument("--noop", action="store_true", help="symbolic-cpp: answer every plan with an empty result")
    args = ap.parse_args(argv)

    from .. import _core
    in_fd, out_fd = _core.prepare_worker_process()
    name = args.name or args.mode
    if args.mode == "symbolic-cpp":
        return _core.run_worker(in_fd, out_fd, name=name, task_cache=max(1, args.scene_cache * 32),
                                noop=args.noop, slow_us=args.slow_us, load_us=args.load_us, heartbeat=args.heartbeat)
    executor = PhysicsExecutor() if args.mode == "physics" else SymbolicExecutor()
    worker = Worker(in_fd, out_fd, executor, name=name, cache=args.scene_cache, heartbeat_s=args.heartbeat,
                    slow_s=args.slow_us / 1e6, load_s=args.load_us / 1e6)
    try:
        return worker.run()
    except BrokenPipeError:
        return 0
    except P.ProtocolError as e:
        print(f"emx.rollout.worker {name}: protocol error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
