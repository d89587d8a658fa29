"""n closed-loop episodes stepped as one batch: ``emx.make_vec_env(n, tasks=..., workers=W)``.

Every slot is an ``EmxEnv`` -- the single environment, unchanged -- so a vector environment's
results are those of n single environments by construction (tested). The slots live in ``W``
worker processes (slot i in worker ``i * W // n``); a ``step`` sends each worker its slots'
answers in one message and the workers run their slots at the same time, so a batch costs what
the largest shard costs. Physics slots hold their own SAPIEN world each, built once per task and
reset from its settled snapshot (``PhysicsWorld.reset``). ``workers=0`` runs every slot in this
process, one after another (no processes to start: small batches, debugging).

Why not ``emx.RolloutEngine``: its requests are whole plans, each run from a task's initial
snapshot and answered with a score, and it keeps nothing between requests. A closed-loop turn
needs the episode's world as the previous turn left it, and what a turn reports (the facts that
changed, a sub-goal's truth) reads that world. Replaying each episode's executed actions as a plan
request would re-simulate the whole prefix every turn (the engine shares prefixes within one
request group, not across requests) and still return no world state; and the plan executor labels
some failures ``wrong_order`` from the plan's history where a step-wise episode does not, so its
answers would differ from a single environment's. Holding sessions in the engine's workers needs
session messages in its C++ protocol and scheduler (routing every turn of an episode to the worker
that holds it); until then the episodes live in these worker processes.

Autoreset follows Gymnasium's default (``NEXT_STEP``): after an episode ends, the next ``step``
resets that slot (its action is ignored) and returns the new task's first observation.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .gym_env import EmxEnv


def _default_workers(n: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(n, cores))


# --------------------------------------------------------------------------- the worker process

def _rebuild_tasks(specs: list) -> list:
    """The driver's tasks, compiled again here from their (already semantics-resolved) specs."""
    from .. import _core
    from ..task import Task, knowledge_base

    kb = knowledge_base()
    return [Task(spec, _core.compile_task(spec.bddl_text, spec.filename, kb)) for spec in specs]


def _run(env: EmxEnv, kind: str, args: tuple) -> Any:
    """One slot's request: ("reset", (seed, options)) or ("step", (action,))."""
    if kind == "reset":
        return env.reset(seed=args[0], options=args[1])
    if kind == "step":
        return env.step(args[0])
    raise ValueError(f"unknown request {kind!r}")


def _serve(conn: Any) -> None:
    """The worker's loop: ("init", (specs, kwargs, count)), then ("run", requests) until "close"."""
    try:
        command, (specs, kwargs, count) = conn.recv()
        tasks = _rebuild_tasks(specs)
        envs = [EmxEnv(tasks, **kwargs) for _ in range(count)]
        conn.send(("ok", None))
    except BaseException:  # noqa: BLE001 - reported to the driver, which raises it
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            command, payload = conn.recv()
        except (EOFError, OSError):
            return                                   # the driver is gone
        try:
            if command == "run":
                out = [_run(envs[i], kind, args) for i, kind, args in payload]
            elif command == "close":
                for env in envs:
                    env.close()
                conn.send(("ok", None))
                return
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(("ok", out))
        except BaseException:  # noqa: BLE001
            conn.send(("error", traceback.format_exc()))


def main(argv: list[str] | None = None) -> int:
    """``python -m emx.envs.vector --fd N``: a worker, speaking on the socket it was given."""
    import argparse
    from multiprocessing.connection import Connection

    ap = argparse.ArgumentParser(prog="python -m emx.envs.vector")
    ap.add_argument("--fd", type=int, required=True)
    _serve(Connection(ap.parse_args(argv).fd))
    return 0


class _Shards:
    """Worker processes, each holding a contiguous run of slots. They are started as
    ``python -m emx.envs.vector`` (as the rollout engine starts its Python workers), not with
    multiprocessing: nothing of the caller is imported again or forked (no ``__main__`` guard
    needed, safe beside vLLM's and torch's threads), and a worker that dies is an EOF here."""

    def __init__(self, n: int, workers: int, tasks: list, kwargs: dict) -> None:
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection
        from pathlib import Path

        self.bounds = [(w * n // workers, (w + 1) * n // workers) for w in range(workers)]
        self.conns: list = []
        self.procs: list = []
        root = str(Path(__file__).resolve().parents[2])      # this emx, even from a source checkout
        path = [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONUNBUFFERED="1")
        specs = [t.spec for t in tasks]
        try:
            for lo, hi in self.bounds:
                mine, theirs = socket.socketpair()
                try:
                    proc = subprocess.Popen([sys.executable, "-m", "emx.envs.vector", "--fd", str(theirs.fileno())],
                                            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL)
                finally:
                    theirs.close()
                self.procs.append(proc)
                self.conns.append(Connection(mine.detach()))
            for conn, (lo, hi) in zip(self.conns, self.bounds):   # every worker is starting meanwhile
                conn.send(("init", (specs, kwargs, hi - lo)))
            self._gather(range(len(self.conns)))
        except BaseException:
            self.close()
            raise

    def _gather(self, workers: Any) -> list:
        out = []
        for w in workers:
            try:
                status, payload = self.conns[w].recv()
            except (EOFError, OSError) as e:
                raise RuntimeError(f"vector env worker {w} died (exit code {self.procs[w].poll()})") from e
            if status != "ok":
                raise RuntimeError(f"vector env worker {w} failed:\n{payload}")
            out.append(payload)
        return out

    def run(self, requests: list) -> list:
        """``requests[i]``: slot i's (kind, args). One message to each worker, every worker at
        work at once; returns each slot's answer."""
        for w, (lo, hi) in enumerate(self.bounds):
            try:
                self.conns[w].send(("run", [(i - lo, *requests[i]) for i in range(lo, hi)]))
            except OSError as e:
                raise RuntimeError(f"vector env worker {w} died (exit code {self.procs[w].poll()})") from e
        return [a for answers in self._gather(range(len(self.conns))) for a in answers]

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", None))
                conn.recv()
            except (EOFError, OSError):
                pass
            conn.close()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except Exception:  # noqa: BLE001 - a worker that does not stop is killed
                p.kill()
                p.wait()
        self.conns, self.procs = [], []


class _InProcess:
    """The same interface over EmxEnvs in this process."""

    def __init__(self, n: int, tasks: list, kwargs: dict) -> None:
        self.envs = [EmxEnv(tasks, **kwargs) for _ in range(n)]

    def run(self, requests: list) -> list:
        return [_run(env, kind, args) for env, (kind, args) in zip(self.envs, requests)]

    def close(self) -> None:
        for env in self.envs:
            env.close()


class EmxVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, tasks: Any = "eai-behavior", workers: int | None = None, **kwargs: Any) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        from .gym_env import resolve_tasks

        loaded = resolve_tasks(tasks)      # compiled once here; the workers compile the same specs
        probe = EmxEnv(loaded, **kwargs)   # checks the settings here, and gives the spaces
        workers = _default_workers(num_envs) if workers is None else int(workers)
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = min(workers, num_envs)
        self.num_envs = num_envs
        self.single_observation_space = probe.observation_space
        self.single_action_space = probe.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._slots = _Shards(num_envs, self.workers, loaded, kwargs) if self.workers else \
            _InProcess(num_envs, loaded, kwargs)

    @property
    def envs(self) -> list[EmxEnv] | None:
        """The slots' environments when they run in this process (``workers=0``), else None."""
        return getattr(self._slots, "envs", None)

    def _batch(self, obs: list[Any]) -> Any:
        if isinstance(self.single_observation_space, spaces.Dict):
            return {"text": tuple(o["text"] for o in obs), "image": np.stack([o["image"] for o in obs])}
        return tuple(obs)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """``seed``: one int (slot i gets seed + i) or one per slot; ``options={"tasks": [ID, ...]}``
        picks each slot's task (``{"task": ID}`` gives every slot the same one)."""
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
        options = dict(options or {})
        per_slot = options.pop("tasks", None)
        if per_slot is not None and len(per_slot) != self.num_envs:
            raise ValueError(f"{len(per_slot)} tasks for {self.num_envs} environments")
        requests = []
        for i in range(self.num_envs):
            opts = dict(options)
            if per_slot is not None:
                opts["task"] = per_slot[i]
            requests.append(("reset", (seeds[i], opts or None)))
        answers = self._slots.run(requests)
        obs, infos = [], {}
        for i, (o, info) in enumerate(answers):
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(obs), infos

    def step(self, actions: Any):
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"{len(actions)} actions for {self.num_envs} environments")
        # one batch: slots whose episode ended last step start the next (their action is ignored)
        answers = self._slots.run([("reset", (None, None)) if r else ("step", (a,))
                                   for r, a in zip(self._autoreset, actions)])
        obs: list[Any] = []
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            if self._autoreset[i]:
                o, info = answers[i]
            else:
                o, r, term, trunc, info = answers[i]
                rewards[i], terminated[i], truncated[i] = r, term, trunc
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset = terminated | truncated
        return self._batch(obs), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        slots, self._slots = getattr(self, "_slots", None), None
        if slots is not None:
            slots.close()


def make_vec_env(n: int, tasks: Any = "eai-behavior", workers: int | None = None, **kwargs: Any) -> EmxVectorEnv:
    """``n`` episodes stepped as one batch over ``workers`` processes (default: one per core, at
    most n; 0: in this process). ``kwargs`` as for ``emx.make_env``."""
    return EmxVectorEnv(n, tasks, workers, **kwargs)


if __name__ == "__main__":
    raise SystemExit(main())
