"""``emx bench state-check``: batched goal checks and rewards from geometry (physics mode) --
the bddl package's Python evaluation against emx's C++ state check (one thread, all threads) and
its CUDA kernels where a GPU is usable, at batch sizes 1 ... 65,536 worlds of one task.

What is measured
  * Tasks: EAI BEHAVIOR tasks with many geometric goal atoms (``QUICK_TASKS`` / ``FULL_TASKS``).
    Worlds: ``random_worlds`` -- every object's box placed on, in, beside or under another one
    (goal pairs preferred, so goals are sometimes met), floors, containers with interiors,
    joints, held objects; symbolic bits (cooked, sliced, open without a joint) at random.
    Deterministic for a seed. Slice parts do not exist (as before slicing), so the Python
    reference needs no sliced-whole rule.
  * Python reference: ``bddl.activity`` compiles each task's :goal once (``Conditions`` on the
    task's BDDL text, ``get_goal_conditions(..., generate_ground_options=False)``) over a backend
    whose predicates compute ontop/inside/nextto/under/onfloor from the world's boxes in Python
    (geometry.hpp's definitions: floors, present objects, interiors), open from the joint
    fraction and the other predicates from the symbolic bits. Timed: ``evaluate_goal_conditions``
    per world (plus reading that world's arrays), one thread, on min(B, ``PY_WORLDS``) worlds;
    the rate is per world, whatever the batch.
  * emx: ``_core.StateCheck(task)(boxes, ...)`` on numpy arrays (threads=1 and threads=0), output
    arrays reused (``out=``); CUDA on device arrays (torch CUDA tensors when torch sees a GPU,
    else ``_core.cuda_array``), wall time to completion (``cuda_synchronize``) and the kernels'
    GPU time (``timed=True``). Each figure is the best of ``repeats`` measurements lasting
    >= ``min_time``.
  * Rates: worlds/s and atoms/s (worlds x goal atoms) over all tasks together (total worlds /
    total time). CUDA bandwidth: ``bytes_per_world`` (the least a check must move: boxes of the
    objects the atoms involve, interiors and joints read, symbolic row, rollout fields, outputs)
    x worlds / GPU time / the device's peak memory bandwidth.
  * Agreement (untimed): success and every atom of the Python reference against the C++ check on
    the Python-timed worlds; CUDA against the CPU (bit-exact) at every batch size.

``run(quick)`` returns the contract's JSON object and prints nothing.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import time
from typing import Optional

import numpy as np

from . import Progress, calibrate, load_average, machine_info, rate, ratio, time_calls_cpu

__all__ = ["run", "format_table", "main", "random_worlds", "goal_atoms", "PythonReference",
           "TARGET_CPP_THREADS_VS_PYTHON", "TARGET_CUDA_VS_CPP_THREADS", "TARGET_BANDWIDTH_FACTOR"]

NAME = "state-check"
TARGET_CPP_THREADS_VS_PYTHON = 100.0
TARGET_CUDA_VS_CPP_THREADS = 10.0      # at batch >= CUDA_TARGET_BATCH
TARGET_BANDWIDTH_FACTOR = 3.0          # CUDA within 3x of the memory-bandwidth bound
CUDA_TARGET_BATCH = 4096
FULL_BATCHES = (1, 16, 256, 4096, 65536)
QUICK_BATCHES = (1, 64, 4096, 65536)
FULL_TASKS = ("packing_picnics", "assembling_gift_baskets", "sorting_groceries", "serving_a_meal",
              "chopping_vegetables", "bottling_fruit")
QUICK_TASKS = ("packing_picnics", "sorting_groceries", "bottling_fruit")
PY_WORLDS = 256                         # Python reference: worlds timed per batch at most
QUICK_PY_WORLDS = 96

_GEOMETRIC = ("ontop", "inside", "nextto", "under", "onfloor")
_UNARY = frozenset({
    "open", "closed", "toggled_on", "cooked", "frozen", "sliced", "soaked", "dusty", "stained", "hot",
    "on_fire", "broken", "folded", "unfolded", "future", "real", "empty",
})
_ATOM = re.compile(r"^\((\S+) (\S+)(?: (\S+))?\)$")


# --------------------------------------------------------------------------- worlds

def goal_atoms(check) -> list[tuple[str, str, str]]:
    """The goal's atoms (the columns of ``atom_truth``) as (predicate, a, b) names, b "" for unary."""
    out = []
    for text in check.atoms:
        m = _ATOM.match(text)
        out.append((m.group(1), m.group(2), m.group(3) or ""))
    return out


def random_worlds(task, check, worlds: int, seed: int = 0, *, edges: bool = False,
                  per_world_interior: bool = False, missing: float = 0.03) -> dict:
    """Random geometry for ``worlds`` worlds of ``task`` (an emx.Task or _core.Task): numpy inputs
    for ``StateCheck`` -- boxes, interiors, has_interior, joint_fraction, present, plus
    ``symbolic`` (random bits for the program's symbolic columns, sliced wholes never sliced) and
    ``exists`` (slice parts absent). Objects are placed on, in, beside or under earlier ones (a
    goal atom's partner half of the time). ``edges``: offsets at and around every threshold
    (for parity tests) instead of continuous ones. ``missing``: chance of a held (not present)
    object and of a non-finite box."""
    core = getattr(task, "core", task)
    objects = core.objects  # (name, category, abilities, whole, room)
    n = len(objects)
    rng = np.random.default_rng(seed)
    B = worlds
    floor = np.array(["floor" in o[2] for o in objects])
    fixed = np.array(["fixed" in o[2] for o in objects]) & ~floor
    container = np.array(["container" in o[2] for o in objects])
    openable = np.array(["openable" in o[2] for o in objects])
    part = np.array([o[3] >= 0 for o in objects])
    boxes = np.zeros((B, n, 2, 3), np.float32)
    interiors = np.zeros((B, n, 2, 3), np.float32)

    # goal partner of each object, by relation
    index = {o[0]: i for i, o in enumerate(objects)}
    partners: dict[int, list[tuple[str, int]]] = {}
    for text in check.atoms:
        m = _ATOM.match(text)
        if m and m.group(3) and m.group(1) in _GEOMETRIC:
            a, b = index.get(m.group(2)), index.get(m.group(3))
            if a is not None and b is not None:
                partners.setdefault(a, []).append((m.group(1), b))

    def pick(values, size):
        return np.asarray(values, np.float32)[rng.integers(0, len(values), size)]

    def uniform(lo, hi, size):
        return rng.uniform(lo, hi, size).astype(np.float32)

    floors = np.flatnonzero(floor)
    order = list(np.flatnonzero(floor)) + list(np.flatnonzero(fixed)) + \
        [i for i in range(n) if not floor[i] and not fixed[i]]
    placed: list[int] = []
    for k, i in enumerate(order):
        if floor[i]:
            f = int(np.searchsorted(floors, i))
            boxes[:, i, 0] = (4.0 * f, 0.0, -0.05)
            boxes[:, i, 1] = (4.0 * f + 4.0, 4.0, 0.0)
            placed.append(i)
            continue
        size = np.stack([pick((0.5, 1.0), B), pick((0.5, 1.0), B), pick((0.4, 0.8, 1.0), B)], 1) if fixed[i] else \
            np.stack([pick((0.0, 0.1, 0.2), B) if edges else uniform(0.05, 0.3, B),
                      pick((0.1, 0.2), B) if edges else uniform(0.05, 0.3, B),
                      pick((0.0, 0.1, 0.2), B) if edges else uniform(0.05, 0.3, B)], 1)
        span = max(1, len(floors)) * 4.0
        lo = np.stack([uniform(0, span - 1, B), uniform(0, 3, B), np.zeros(B, np.float32)], 1)
        if edges:
            lo[:, 2] = pick((0.0, 0.01, 0.02, 0.03), B)
        movable = [j for j in placed if not floor[j]]
        if not fixed[i] and movable:
            # relative to an earlier object: a goal partner half of the time
            ref = np.asarray(movable)[rng.integers(0, len(movable), B)]
            mode = rng.integers(0, 5, B)  # 0 on, 1 in, 2 beside, 3 under, 4 free
            for rel, j in partners.get(i, []):
                if j in placed and not floor[j]:
                    take = rng.random(B) < 0.5 / len(partners[i])
                    ref[take] = j
                    mode[take] = {"ontop": 0, "inside": 1, "nextto": 2, "under": 3}.get(rel, 4)
            q = boxes[np.arange(B), ref]            # (B, 2, 3)
            qi = interiors[np.arange(B), ref]
            dz = pick((-0.021, -0.02, 0.0, 0.005, 0.02, 0.0201, 0.05), B) if edges else uniform(0.0, 0.012, B)
            dx = pick((-0.03, -0.02, 0.0, 0.1, 0.29, 0.3, 0.31), B) if edges else uniform(0.0, 0.25, B)
            on = mode == 0
            lo[on, 0] = q[on, 0, 0] + uniform(-0.1, 0.1, int(on.sum()))
            lo[on, 1] = q[on, 0, 1] + uniform(-0.1, 0.1, int(on.sum()))
            lo[on, 2] = q[on, 1, 2] + dz[on]
            inn = mode == 1
            lo[inn] = qi[inn, 0] + (pick((-0.02, -0.011, -0.01, 0.0, 0.01), (int(inn.sum()), 1)) if edges else 0.005)
            size[inn] = np.minimum(size[inn], np.maximum(qi[inn, 1] - qi[inn, 0] - 0.01, 0.0))
            bes = mode == 2
            lo[bes, 0] = q[bes, 1, 0] + dx[bes]
            lo[bes, 1] = q[bes, 0, 1] + uniform(-0.1, 0.1, int(bes.sum()))
            lo[bes, 2] = q[bes, 0, 2]
            und = mode == 3
            lo[und, 0] = q[und, 0, 0] + 0.05
            lo[und, 1] = q[und, 0, 1] + 0.05
            lo[und, 2] = q[und, 0, 2] - size[und, 2] - (pick((0.0, 0.01, 0.02, 0.03), int(und.sum())) if edges
                                                        else uniform(0.0, 0.03, int(und.sum())))
        boxes[:, i, 0] = lo
        boxes[:, i, 1] = lo + size
        if container[i]:
            margin = pick((0.0, 0.02, 0.05), (B, 1)) if edges else np.float32(0.02)
            interiors[:, i, 0] = boxes[:, i, 0] + margin
            interiors[:, i, 1] = boxes[:, i, 1] - margin
        placed.append(i)

    has_interior = np.tile(container.astype(np.uint8), (B, 1)) if per_world_interior else container.astype(np.uint8)
    if per_world_interior:
        has_interior &= (rng.random((B, n)) > 0.1).astype(np.uint8)
    joint = np.full((B, n), -1.0, np.float32)
    if openable.any():
        choices = (-1.0, 0.0, 0.05, 0.0999, 0.1, 0.5, np.nan) if edges else (-1.0, 0.0, 0.05, 0.5, 1.0)
        joint[:, openable] = pick(choices, (B, int(openable.sum())))
    present = (rng.random((B, n)) >= missing).astype(np.uint8)
    present[:, floor] = 1
    if missing > 0:
        bad = rng.random((B, n)) < missing / 2
        boxes[bad, rng.integers(0, 2), rng.integers(0, 3)] = np.nan
        bad = (rng.random((B, n)) < missing / 2) & container
        interiors[bad, rng.integers(0, 2), rng.integers(0, 3)] = np.inf
    exists = np.tile((~part).astype(np.uint8), (B, 1))
    columns = check.symbolic_atoms
    symbolic = (rng.random((B, len(columns))) < 0.5).astype(np.uint8)
    for c, text in enumerate(columns):
        if text.startswith("(sliced "):
            symbolic[:, c] = 0 if not edges else symbolic[:, c]
    return {"boxes": boxes, "interiors": interiors, "has_interior": has_interior, "joint_fraction": joint,
            "present": present, "exists": exists, "symbolic": symbolic}


def random_rollouts(worlds: int, seed: int = 0) -> dict:
    """Rollout fields for the reward: format_ok, plan_length, executed, objects_named, relevant_named."""
    rng = np.random.default_rng(seed + 7919)
    length = rng.integers(0, 30, worlds).astype(np.int32)
    return {
        "format_ok": (rng.random(worlds) > 0.1).astype(np.uint8),
        "plan_length": length,
        "executed": (length * rng.random(worlds)).astype(np.int32),
        "objects_named": rng.integers(0, 10, worlds).astype(np.int32),
        "relevant_named": rng.integers(0, 5, worlds).astype(np.int32),
    }


# --------------------------------------------------------------------------- Python reference

_F32 = {name: float(np.float32(v)) for name, v in
        (("gap", 0.02), ("support", 0.5), ("tol", 0.01), ("near", 0.30), ("open", 0.10))}
_NEAR2 = float(np.float32(np.float32(0.30) * np.float32(0.30)))


def _finite(b) -> bool:
    return all(math.isfinite(v) for v in b)


def _ovl(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0)


def _centre_in(a, b) -> bool:
    cx, cy = 0.5 * (a[0] + a[3]), 0.5 * (a[1] + a[4])
    return b[0] <= cx <= b[3] and b[1] <= cy <= b[4]


def _ontop(a, b) -> bool:
    if not abs(a[2] - b[5]) <= _F32["gap"]:
        return False
    fx, fy = a[3] - a[0], a[4] - a[1]
    if not (fx > 0 and fy > 0):
        return _centre_in(a, b)
    ox, oy = _ovl(a[0], a[3], b[0], b[3]), _ovl(a[1], a[4], b[1], b[4])
    return ox > 0 and oy > 0 and ox * oy >= _F32["support"] * (fx * fy)


def _inside(a, i) -> bool:
    t = _F32["tol"]
    return (a[0] >= i[0] - t and a[3] <= i[3] + t and a[1] >= i[1] - t and a[4] <= i[4] + t
            and a[2] >= i[2] - t and a[5] <= i[5] + t)


def _nextto(a, b) -> bool:
    if not _ovl(a[2], a[5], b[2], b[5]) > 0:
        return False
    ox, oy = _ovl(a[0], a[3], b[0], b[3]), _ovl(a[1], a[4], b[1], b[4])
    if not min(ox, oy) <= _F32["gap"]:
        return False
    dx, dy = max(0.0, -ox), max(0.0, -oy)
    return dx * dx + dy * dy <= _NEAR2


def _under(a, b) -> bool:
    return a[5] <= b[2] + _F32["gap"] and _ovl(a[0], a[3], b[0], b[3]) > 0 and _ovl(a[1], a[4], b[1], b[4]) > 0


def _onfloor(a, f) -> bool:
    return a[2] <= f[5] + _F32["gap"] and _centre_in(a, f)


class _GeoWorld:
    """One world as the Python predicates read it (set per world, inside the timed loop)."""

    __slots__ = ("boxes", "interiors", "has_interior", "joint", "scene", "exists", "symbolic")

    def load(self, inputs: dict, w: int, floor: list) -> None:
        self.boxes = inputs["boxes"][w].reshape(-1, 6).tolist()
        self.interiors = inputs["interiors"][w].reshape(-1, 6).tolist()
        hi = inputs["has_interior"]
        self.has_interior = (hi[w] if hi.ndim == 2 else hi).tolist()
        self.joint = inputs["joint_fraction"][w].tolist()
        self.exists = inputs["exists"][w].tolist()
        present = inputs["present"][w].tolist()
        self.scene = [bool(p) and bool(e) and _finite(b) for p, e, b in zip(present, self.exists, self.boxes)]
        self.symbolic = inputs["symbolic"][w].tolist()


class PythonReference:
    """One task's :goal compiled by the bddl package, its predicates computed in Python from the
    boxes of the world loaded in ``world`` (geometry.hpp's definitions, no sliced-whole rule)."""

    def __init__(self, task, check) -> None:
        from bddl.activity import Conditions, get_goal_conditions, get_object_scope
        from bddl.backend_abc import BDDLBackend

        core = task.core
        self.names = [o[0] for o in core.objects]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.floor = ["floor" in o[2] for o in core.objects]
        self.world = _GeoWorld()
        self.columns = {}
        for c, text in enumerate(check.symbolic_atoms):
            m = _ATOM.match(text)
            self.columns[(m.group(1), self.index.get(m.group(2), -1),
                          self.index.get(m.group(3), -1) if m.group(3) else -1)] = c
        classes: dict[str, type] = {}
        ref = self

        class Backend(BDDLBackend):
            def get_predicate_class(self, name):
                if name not in classes:
                    classes[name] = ref._predicate_class(name)
                return classes[name]

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            conds = Conditions(task.id, 0, "omnigibson", predefined_problem=task.spec.bddl_text)
            scope = get_object_scope(conds)
            for name in scope:
                scope[name] = _Obj(name, self.index.get(name.lower(), -1))
            self.conditions = get_goal_conditions(conds, Backend(), scope, generate_ground_options=False) or []

    def relation(self, pred: str, a: int, b: int) -> bool:
        w = self.world
        if a == b or a < 0 or b < 0 or not w.scene[a] or self.floor[a] or not w.scene[b]:
            return False
        A, Bx = w.boxes[a], w.boxes[b]
        if self.floor[b]:
            return pred in ("ontop", "onfloor") and _onfloor(A, Bx)
        if pred == "ontop":
            return _ontop(A, Bx)
        if pred == "nextto":
            return _nextto(A, Bx)
        if pred == "under":
            return _under(A, Bx)
        if pred == "inside":
            i = w.interiors[b]
            return bool(w.has_interior[b]) and _finite(i) and _inside(A, i)
        return False

    def unary(self, pred: str, a: int) -> bool:
        w = self.world
        if pred == "open" and a >= 0:
            jf = w.joint[a]
            if jf >= 0 and w.exists[a]:
                return jf >= _F32["open"]
        c = self.columns.get((pred, a, -1))
        return bool(w.symbolic[c]) if c is not None else False

    def binary_symbolic(self, pred: str, a: int, b: int) -> bool:
        c = self.columns.get((pred, a, b))
        return bool(self.world.symbolic[c]) if c is not None else False

    def _predicate_class(self, name: str):
        from bddl.logic_base import BinaryAtomicFormula, UnaryAtomicFormula

        ref = self
        if name in _UNARY:
            class Unary(UnaryAtomicFormula):
                STATE_NAME = name

                def _evaluate(self, obj):
                    return ref.unary(name, obj.index)

                def _sample(self, obj, binary_state):
                    raise NotImplementedError

            return Unary
        geometric = name in _GEOMETRIC

        class Binary(BinaryAtomicFormula):
            STATE_NAME = name

            def _evaluate(self, obj1, obj2):
                if geometric:
                    return ref.relation(name, obj1.index, obj2.index)
                return ref.binary_symbolic(name, obj1.index, obj2.index)

            def _sample(self, obj1, obj2, binary_state):
                raise NotImplementedError

        return Binary

    def evaluate(self, inputs: dict, w: int) -> bool:
        from bddl.activity import evaluate_goal_conditions

        self.world.load(inputs, w, self.floor)
        success, _ = evaluate_goal_conditions(self.conditions)
        return bool(success)


class _Obj:
    __slots__ = ("name", "index")

    def __init__(self, name: str, index: int) -> None:
        self.name, self.index = name, index

    def __repr__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- run

def _slice(inputs: dict, n: int) -> dict:
    return {k: (v if (k == "has_interior" and v.ndim == 1) else np.ascontiguousarray(v[:n])) for k, v in inputs.items()}


def _cuda_env():
    """(usable, info, to_device): a device array maker and the device's facts, or (False, reason, None)."""
    from .. import _core

    if _core.cuda_device_count() == 0:
        why = "built without CUDA" if not _core.built_with_cuda() else "no usable CUDA device"
        return False, why, None
    if _core.backend() != "cuda":
        return False, "EMX_DEVICE=cpu", None
    info = _core.cuda_device_info(0)
    try:
        import torch

        if torch.cuda.is_available():
            info["arrays"] = "torch"
            return True, info, lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda()
    except Exception:  # torch absent or without CUDA: our own device arrays do
        pass
    info["arrays"] = "emx DeviceArray"
    return True, info, _core.cuda_array


def run(quick: bool = False, progress: Progress = None, *, tasks: Optional[tuple] = None,
        batches: Optional[tuple] = None, seed: int = 0, repeats: int = 3, min_time: Optional[float] = None,
        py_worlds: Optional[int] = None) -> dict:
    """Times every implementation at every batch size; returns the result object
    (``{"bench", "machine", "results", "ratios", "target", "agreement", ...}``)."""
    import emx
    from .. import _core

    started = time.perf_counter()
    load_before = load_average()
    tasks = tasks or (QUICK_TASKS if quick else FULL_TASKS)
    batches = tuple(sorted(batches or (QUICK_BATCHES if quick else FULL_BATCHES)))
    min_time = min_time if min_time is not None else (0.05 if quick else 0.2)
    py_worlds = py_worlds or (QUICK_PY_WORLDS if quick else PY_WORLDS)
    biggest = batches[-1]
    cuda_ok, cuda_info, to_device = _cuda_env()

    items = []
    for k, key in enumerate(tasks):
        task = emx.load_task(f"eai-behavior:{key}")
        check = _core.StateCheck(task.core, "default")
        inputs = random_worlds(task, check, biggest, seed=seed + k)
        inputs.update(random_rollouts(biggest, seed=seed + k))
        reference = PythonReference(task, check)
        items.append((key, task, check, inputs, reference))
        if progress:
            progress("worlds", k + 1, len(tasks))

    # Agreement (untimed): the Python reference against C++ on the worlds Python is timed on.
    agree = {"worlds": 0, "success_disagreements": 0, "atoms": 0, "atom_disagreements": 0, "examples": []}
    for key, task, check, inputs, reference in items:
        n = min(biggest, py_worlds)
        sub = _slice(inputs, n)
        got = check(**sub, threads=0)
        atoms = [(p, reference.index.get(a, -1), reference.index.get(b, -1) if b else -1)
                 for p, a, b in goal_atoms(check)]
        for w in range(n):
            py_success = reference.evaluate(sub, w)  # loads world w into reference.world
            py_atoms = [reference.relation(p, a, b) if p in _GEOMETRIC else
                        reference.unary(p, a) if b < 0 else reference.binary_symbolic(p, a, b) for p, a, b in atoms]
            bad_atoms = [check.atoms[k] for k, v in enumerate(py_atoms) if v != bool(got["atom_truth"][w, k])]
            agree["worlds"] += 1
            agree["atoms"] += len(atoms)
            agree["atom_disagreements"] += len(bad_atoms)
            if py_success != bool(got["success"][w]) or bad_atoms:
                agree["success_disagreements"] += py_success != bool(got["success"][w])
                if len(agree["examples"]) < 5:
                    agree["examples"].append({"task": key, "world": w, "python": py_success,
                                              "cpp": bool(got["success"][w]), "atoms": bad_atoms[:10]})

    results = []
    cuda_vs_cpu_mismatches = 0
    total_steps = len(batches) * len(items)
    step = 0
    for B in batches:
        t = {"python": 0.0, "cpp": 0.0, "cpp_threads": 0.0, "cuda": 0.0, "cuda_gpu": 0.0, "python_cpu": 0.0,
             "cpp_cpu": 0.0}
        py_worlds_timed = 0
        worlds = atoms = bytes_moved = 0
        successes = 0
        for key, task, check, inputs, reference in items:
            sub = _slice(inputs, B)
            out = check(**sub, threads=0)
            successes += int(out["success"].sum())
            n_py = min(B, py_worlds)

            def python_pass(sub=sub, reference=reference, n_py=n_py):
                for w in range(n_py):
                    reference.evaluate(sub, w)

            # (key, fn, seconds scale): the Python rate is per world, scaled to the batch
            variants = [("python", python_pass, B / n_py),
                        ("cpp", lambda sub=sub, out=out: check(**sub, threads=1, out=out), 1.0),
                        ("cpp_threads", lambda sub=sub, out=out: check(**sub, threads=0, out=out), 1.0)]
            if cuda_ok:
                dev = {k: to_device(v) for k, v in sub.items()}
                dout = check(**dev)
                got = {k: (np.asarray(dout[k].cpu()) if hasattr(dout[k], "cpu") else dout[k].numpy())
                       for k in ("atom_truth", "success", "fraction", "reward")}
                cuda_vs_cpu_mismatches += int(sum(not np.array_equal(got[k], out[k]) for k in got))

                def cuda_call(dev=dev, dout=dout):
                    check(**dev, out=dout)
                    _core.cuda_synchronize()

                variants.append(("cuda", cuda_call, 1.0))
            # Rounds interleave the variants, so that a burst of load on the machine hits all of
            # them alike; each keeps its best round (wall, and this thread's CPU time).
            calls = {name: calibrate(fn, min_time) for name, fn, _ in variants}
            best = {name: (math.inf, math.inf) for name, _, _ in variants}
            for _round in range(max(1, repeats)):
                for name, fn, _ in variants:
                    wall, cpu = time_calls_cpu(fn, calls[name])
                    best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            for name, _, scale in variants:
                t[name] += best[name][0] * scale
            t["python_cpu"] += best["python"][1] * B / n_py
            t["cpp_cpu"] += best["cpp"][1]
            py_worlds_timed += n_py
            if cuda_ok:
                t["cuda_gpu"] += min(check(**dev, out=dout, timed=True)["gpu_seconds"] for _ in range(max(3, repeats)))
            worlds += B
            atoms += B * check.num_atoms
            bytes_moved += B * check.bytes_per_world
            step += 1
            if progress:
                progress("timing", step, total_steps)

        def impl(name, implementation, threads, seconds, extra=None):
            r = rate(worlds, seconds)
            entry = {"name": name, "implementation": implementation, "batch": B, "threads": threads,
                     "worlds": worlds, "seconds": seconds, "worlds_per_s": r,
                     "atoms_per_s": rate(atoms, seconds)}
            entry.update(extra or {})
            return entry

        cores = machine_info()["cores"]
        rows = [
            impl("python", "bddl evaluate_goal_conditions, predicates from boxes in Python", 1, t["python"],
                 {"worlds_timed": py_worlds_timed, "cpu_seconds": t["python_cpu"],
                  "cpu_worlds_per_s": rate(worlds, t["python_cpu"])}),
            impl("cpp", "emx _core.StateCheck(threads=1)", 1, t["cpp"],
                 {"cpu_seconds": t["cpp_cpu"], "cpu_worlds_per_s": rate(worlds, t["cpp_cpu"])}),
            impl("cpp-threads", "emx _core.StateCheck(threads=0)", cores, t["cpp_threads"]),
        ]
        if cuda_ok:
            peak = cuda_info["peak_bandwidth_bytes_per_s"]
            bound = bytes_moved / peak
            rows.append(impl("cuda", f"emx CUDA kernels ({cuda_info['name']}), wall time to completion", 0,
                             t["cuda"], {"gpu_seconds": t["cuda_gpu"], "bytes": bytes_moved,
                                         "bandwidth_bound_s": bound,
                                         "bandwidth_fraction": bound / t["cuda_gpu"] if t["cuda_gpu"] else None,
                                         "times_bound": t["cuda_gpu"] / bound if bound else None}))
        by = {r["name"]: r["worlds_per_s"] for r in rows}
        for r in rows:
            r["goal_successes"] = successes
        rows[1]["vs_python"] = ratio(by["cpp"], by["python"])
        rows[2]["vs_python"] = ratio(by["cpp-threads"], by["python"])
        if cuda_ok:
            rows[3]["vs_cpp_threads"] = ratio(by["cuda"], by["cpp-threads"])
        results.extend(rows)

    def at(name, B):
        return next(r for r in results if r["name"] == name and r["batch"] == B)

    ratios = {
        "cpp_vs_python": ratio(at("cpp", biggest)["worlds_per_s"], at("python", biggest)["worlds_per_s"]),
        "cpp_threads_vs_python": ratio(at("cpp-threads", biggest)["worlds_per_s"],
                                       at("python", biggest)["worlds_per_s"]),
        "cuda_vs_cpp_threads": (ratio(at("cuda", biggest)["worlds_per_s"], at("cpp-threads", biggest)["worlds_per_s"])
                                if cuda_ok else None),
        "cpp_threads_vs_cpp": ratio(at("cpp-threads", biggest)["worlds_per_s"], at("cpp", biggest)["worlds_per_s"]),
        # one thread each, by this thread's CPU time: robust to other load on the machine
        "cpp_vs_python_cpu_time": ratio(at("cpp", biggest)["cpu_worlds_per_s"], at("python", biggest)["cpu_worlds_per_s"]),
    }
    target = {
        "cpp_threads_vs_python": TARGET_CPP_THREADS_VS_PYTHON,
        "cpp_threads_met": ratios["cpp_threads_vs_python"] >= TARGET_CPP_THREADS_VS_PYTHON,
        "cuda_vs_cpp_threads": TARGET_CUDA_VS_CPP_THREADS,
        "cuda_batch": CUDA_TARGET_BATCH,
        "bandwidth_factor": TARGET_BANDWIDTH_FACTOR,
        "cuda_met": None,
        "bandwidth_met": None,
    }
    if cuda_ok:
        big = [r for r in results if r["name"] == "cuda" and r["batch"] >= CUDA_TARGET_BATCH]
        target["cuda_met"] = all(r["vs_cpp_threads"] >= TARGET_CUDA_VS_CPP_THREADS for r in big) if big else None
        target["bandwidth_met"] = all(r["times_bound"] <= TARGET_BANDWIDTH_FACTOR for r in big) if big else None
    machine = machine_info()
    machine["load_average_1min_before"] = load_before
    machine["gpu"] = ({k: v for k, v in cuda_info.items() if k != "arrays"} if cuda_ok else None)
    return {
        "bench": NAME,
        "machine": machine,
        "results": results,
        "ratios": ratios,
        "target": target,
        "cuda": {"measured": cuda_ok, "reason": None if cuda_ok else cuda_info,
                 "arrays": cuda_info.get("arrays") if cuda_ok else None,
                 "mismatches_vs_cpu": cuda_vs_cpu_mismatches if cuda_ok else None},
        "agreement": agree,
        "tasks": [{"task": task.id, "objects": check.num_objects, "atoms": check.num_atoms,
                   "symbolic_columns": check.num_symbolic, "pairs": check.num_pairs, "nodes": check.num_nodes,
                   "bytes_per_world": check.bytes_per_world} for _, task, check, _, _ in items],
        "batches": list(batches),
        "quick": bool(quick),
        "method": {
            "python": "bddl.activity.evaluate_goal_conditions per world over conditions compiled once per task "
                      "(generate_ground_options=False); predicates computed from the boxes in Python; "
                      f"timed on min(B, {py_worlds}) worlds, rate per world",
            "cpp": "emx._core.StateCheck on numpy arrays, out= reused; threads=1 and threads=0",
            "cuda": "device-resident inputs; wall = call + cuda_synchronize; gpu_seconds = kernel events",
            "bandwidth": "bytes_per_world x worlds / gpu_seconds / peak (2 x memory clock x bus width)",
            "timing": f"rounds interleave the implementations (a burst of load hits all alike); best of "
                      f"{repeats} rounds, each >= {min_time} s; wall time (time.perf_counter), and for Python "
                      "and C++ 1 thread also this thread's CPU time (time.thread_time: robust to other load)",
        },
        "wall_s": time.perf_counter() - started,
    }


def _fmt(r: Optional[float], unit: str = "") -> str:
    if r is None or not math.isfinite(r):
        return str(r)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if r >= div:
            return f"{r / div:,.2f}{suffix}{unit}"
    return f"{r:,.1f}{unit}"


def format_table(result: dict) -> list[tuple[str, str]]:
    """(label, value) rows for a human table."""
    m, ra, ag = result["machine"], result["ratios"], result["agreement"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}"
                    + (f"; GPU {m['gpu']['name']}" if m.get("gpu") else "")
                    + (f"; load {m['load_average_1min_before']} -> {m.get('load_average_1min')}"
                       if m.get("load_average_1min_before") is not None else "")),
        ("tasks", ", ".join(f"{t['task'].split('_0_')[0]} ({t['atoms']} atoms, {t['objects']} objects)"
                            for t in result["tasks"])),
    ]
    for B in result["batches"]:
        by = {r["name"]: r for r in result["results"] if r["batch"] == B}
        line = (f"python {_fmt(by['python']['worlds_per_s'])} | C++ 1t {_fmt(by['cpp']['worlds_per_s'])} "
                f"({by['cpp']['vs_python']:,.0f}x) | C++ {by['cpp-threads']['threads']}t "
                f"{_fmt(by['cpp-threads']['worlds_per_s'])} ({by['cpp-threads']['vs_python']:,.0f}x)")
        if "cuda" in by:
            c = by["cuda"]
            line += (f" | CUDA {_fmt(c['worlds_per_s'])} ({c['vs_cpp_threads']:,.1f}x C++ threads; "
                     f"{c['bandwidth_fraction']:.0%} of bandwidth bound)")
        rows.append((f"worlds/s, batch {B:,}", line))
    big = result["batches"][-1]
    by = {r["name"]: r for r in result["results"] if r["batch"] == big}
    rows.append((f"atoms/s, batch {big:,}", " | ".join(f"{k} {_fmt(v['atoms_per_s'])}" for k, v in by.items())))
    tg = result["target"]
    rows.append(("C++ threads vs Python", f"{ra['cpp_threads_vs_python']:,.0f}x (target >= "
                                          f"{tg['cpp_threads_vs_python']:.0f}x: "
                                          f"{'met' if tg['cpp_threads_met'] else 'NOT met'})"))
    rows.append(("C++ 1 thread vs Python", f"{ra['cpp_vs_python']:,.0f}x (by CPU time, robust to other load: "
                                           f"{ra['cpp_vs_python_cpu_time']:,.0f}x)"))
    if result["cuda"]["measured"]:
        rows.append(("CUDA vs C++ threads", f"{ra['cuda_vs_cpp_threads']:,.1f}x (target >= "
                                            f"{tg['cuda_vs_cpp_threads']:.0f}x at batch >= {tg['cuda_batch']:,}: "
                                            f"{'met' if tg['cuda_met'] else 'NOT met'}; bandwidth within "
                                            f"{tg['bandwidth_factor']:.0f}x: {'met' if tg['bandwidth_met'] else 'NOT met'})"))
        rows.append(("CUDA vs CPU", f"{result['cuda']['mismatches_vs_cpu']} mismatching outputs"))
    else:
        rows.append(("CUDA", f"not measured: {result['cuda']['reason']}"))
    rows.append(("agreement", f"Python vs C++: {ag['success_disagreements']} success and "
                              f"{ag['atom_disagreements']} atom disagreements in {ag['worlds']:,} worlds "
                              f"({ag['atoms']:,} atoms)"))
    rows.append(("wall time", f"{result['wall_s']:.1f} s"))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m emx.bench.state_check [--quick] [--json]`` (bench/state_check.py calls this)."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="state_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks and batch sizes (under a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    def progress(stage, done, total):
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{stage}: {done}/{total}   " if total else f"\r{stage}   ")
            if total and done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    result = run(args.quick, progress=progress, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = format_table(result)
        width = max(len(k) for k, _ in rows)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
    ag = result["agreement"]
    return 0 if ag["success_disagreements"] == 0 and ag["atom_disagreements"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
