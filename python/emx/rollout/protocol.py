"""The rollout worker protocol in pure Python (``struct``): what a worker process speaks on its
stdin/stdout. The C++ definition is ``cpp/include/emx/worker_protocol.hpp``; both sides are
tested against each other (tests/test_rollout_protocol.py).

Frame: ``u32 length | u8 type | payload`` (length counts the type byte), little-endian; a string
is ``u32 length + bytes``. Actions travel as 28-byte records plus their detail string.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
MAX_FRAME = 256 << 20

HELLO, KNOWLEDGE, TASK, REWARD, GROUP, RESULT, HEARTBEAT, SHUTDOWN = range(1, 9)

CAP_SYMBOLIC = 1 << 0
CAP_CPU_PHYSICS = 1 << 1
CAP_GPU_PHYSICS = 1 << 2
CAP_RENDERING = 1 << 3

KEEP_TRACE = 1 << 0
NO_SNAPSHOT_REUSE = 1 << 1
NOOP = 1 << 2

MODE_SYMBOLIC, MODE_PHYSICS = 0, 1
STATUS_OK, STATUS_ERROR = 0, 1

# Error names in emx::ErrorType order (the wire carries the index).
ERRORS = ("none", "format", "unknown_action", "unknown_object", "wrong_arity", "affordance", "missing_step",
          "wrong_order", "additional_step", "physics")
ERROR_INDEX = {name: i for i, name in enumerate(ERRORS)}

_FRAME_HEAD = struct.Struct("<IB")
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_ACTION = struct.Struct("<BBBxiiffiI")          # type, relation, error, pad, obj0, obj1, num0, num1, room, detail len
_HELLO = struct.Struct("<IIddIi")               # version, capabilities, speed, load_seconds, scene_cache, pid
_GROUP_HEAD = struct.Struct("<QIIBBQI")         # job, task, reward, mode, flags, seed, plans
_PLAN_HEAD = struct.Struct("<IBII")             # index, format_ok, resume_depth, save count
_RESULT_HEAD = struct.Struct("<QIBddI")         # job, index, status, run_seconds, load_seconds, simulated
_RESULT_OK = struct.Struct("<BBBBiidddiii")     # format_ok, success, completed, first_error, executed, plan_length,
#                                                 reward, executability, goal_fraction, objects, relevant, goal objects
_REWARD_FIELDS = ("format_fail", "format", "executability", "goal", "success", "length", "objects", "relevance")

assert _ACTION.size == 28


class ProtocolError(RuntimeError):
    """A malformed frame: the peer does not speak this protocol."""


# --------------------------------------------------------------------------- framing

def frame(msg_type: int, payload: bytes = b"") -> bytes:
    if len(payload) + 1 > MAX_FRAME:
        raise ProtocolError(f"frame too large: {len(payload) + 1} bytes")
    return _FRAME_HEAD.pack(len(payload) + 1, msg_type) + payload


class FrameReader:
    """Splits a byte stream into frames: ``feed(data)``, then iterate ``frames()``."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self) -> Iterator[tuple[int, bytes]]:
        off = 0
        buf = self._buf
        try:
            while len(buf) - off >= 4:
                (length,) = _U32.unpack_from(buf, off)
                if length == 0 or length > MAX_FRAME:
                    raise ProtocolError(f"bad frame length {length}")
                if len(buf) - off - 4 < length:
                    break
                msg_type = buf[off + 4]
                payload = bytes(buf[off + 5:off + 4 + length])
                off += 4 + length
                yield msg_type, payload
        finally:
            del buf[:off]


class Reader:
    """Reads scalars from a payload; raises ProtocolError when it runs short."""

    __slots__ = ("buf", "off")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.off = 0

    def _take(self, s: struct.Struct) -> tuple:
        if self.off + s.size > len(self.buf):
            raise ProtocolError("truncated frame")
        v = s.unpack_from(self.buf, self.off)
        self.off += s.size
        return v

    def u8(self) -> int:
        return self._take(_U8)[0]

    def u32(self) -> int:
        return self._take(_U32)[0]

    def u64(self) -> int:
        return self._take(_U64)[0]

    def f64(self) -> float:
        return self._take(_F64)[0]

    def str(self) -> str:
        return self.raw(self.u32()).decode("utf-8", errors="replace")

    def raw(self, n: int) -> bytes:
        if self.off + n > len(self.buf):
            raise ProtocolError("truncated frame")
        b = self.buf[self.off:self.off + n]
        self.off += n
        return b

    def struct(self, s: struct.Struct) -> tuple:
        return self._take(s)

    def count(self, min_bytes: int) -> int:
        n = self.u32()
        if min_bytes and n > (len(self.buf) - self.off) // min_bytes:
            raise ProtocolError("count exceeds frame")
        return n

    def done(self) -> None:
        if self.off != len(self.buf):
            raise ProtocolError("trailing bytes in frame")


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return _U32.pack(len(b)) + b


# --------------------------------------------------------------------------- messages

@dataclass(frozen=True)
class ActionRecord:
    """One action as the wire carries it; ``emx._core.make_action(*record)`` makes the core Action."""

    type: int
    obj0: int
    obj1: int
    num0: float
    num1: float
    relation: int
    room: int
    error: int
    detail: str

    def core(self) -> Any:
        from .. import _core
        return _core.make_action(self.type, self.obj0, self.obj1, self.num0, self.num1, self.relation, self.room,
                                 self.error, self.detail)


@dataclass
class PlanMsg:
    index: int
    format_ok: bool
    resume_depth: int
    save_depths: tuple[int, ...]
    suffix: list[ActionRecord]


@dataclass
class GroupMsg:
    job: int
    task: int
    reward: int
    mode: int
    flags: int
    seed: int
    plans: list[PlanMsg] = field(default_factory=list)


@dataclass(frozen=True)
class TaskMsg:
    id: int
    key: str
    filename: str
    bddl: str
    scene: str


def encode_hello(capabilities: int, speed: float, load_seconds: float, scene_cache: int, pid: int, name: str) -> bytes:
    return frame(HELLO, _HELLO.pack(PROTOCOL_VERSION, capabilities, speed, load_seconds, scene_cache, pid) + _str(name))


def encode_heartbeat(seq: int) -> bytes:
    return frame(HEARTBEAT, _U64.pack(seq))


def decode_knowledge(payload: bytes) -> dict[str, int]:
    r = Reader(payload)
    n = r.count(8)
    table = {}
    for _ in range(n):
        cat = r.str()
        table[cat] = r.u32()
    r.done()
    return table


def decode_task(payload: bytes) -> TaskMsg:
    r = Reader(payload)
    msg = TaskMsg(r.u32(), r.str(), r.str(), r.str(), r.str())
    r.done()
    return msg


def decode_reward(payload: bytes) -> tuple[int, str, dict[str, float]]:
    r = Reader(payload)
    rid = r.u32()
    name = r.str()
    weights = {k: r.f64() for k in _REWARD_FIELDS}
    r.done()
    return rid, name, weights


def _action(r: Reader) -> ActionRecord:
    t, rel, err, o0, o1, n0, n1, room, dlen = r.struct(_ACTION)
    detail = r.raw(dlen).decode("utf-8", errors="replace")
    return ActionRecord(t, o0, o1, n0, n1, rel if rel < 128 else rel - 256, room, err, detail)


def decode_group(payload: bytes) -> GroupMsg:
    r = Reader(payload)
    job, task, reward, mode, flags, seed, n = r.struct(_GROUP_HEAD)
    if n > len(payload) // 17:
        raise ProtocolError("count exceeds frame")
    g = GroupMsg(job, task, reward, mode, flags, seed)
    for _ in range(n):
        index, ok, resume, nsave = r.struct(_PLAN_HEAD)
        if nsave > len(payload) // 4:
            raise ProtocolError("count exceeds frame")
        saves = tuple(r.u32() for _ in range(nsave))
        na = r.count(_ACTION.size)
        g.plans.append(PlanMsg(index, bool(ok), resume, saves, [_action(r) for _ in range(na)]))
    r.done()
    return g


def encode_error_result(job: int, index: int, message: str, run_seconds: float = 0.0) -> bytes:
    return frame(RESULT, _RESULT_HEAD.pack(job, index, STATUS_ERROR, run_seconds, 0.0, 0) + _str(message))


def encode_result(job: int, index: int, d: dict, *, run_seconds: float, load_seconds: float, simulated: int,
                  keep_trace: bool, steps: list[tuple[str, str]] | None = None) -> bytes:
    """A RESULT from a score dict as ``emx._core.evaluate`` / ``score_execution`` return it.
    ``steps``: (error, message) per executed step, the failing one last (defaults to d["trace"])."""
    parts = [
        _RESULT_HEAD.pack(job, index, STATUS_OK, run_seconds, load_seconds, simulated),
        _RESULT_OK.pack(bool(d["format_ok"]), bool(d["success"]), d["executed"] == d["plan_length"],
                        ERROR_INDEX.get(d["first_error"], 0), d["executed"], d["plan_length"], d["reward"],
                        d["executability"], d["goal_fraction"], d["objects_named"], d["relevant_named"],
                        d["goal_objects"]),
    ]
    if keep_trace:
        if steps is None:
            steps = [(s["error"], s["message"]) for s in d.get("trace", ())]
        parts.append(_U32.pack(len(steps)))
        for err, msg in steps:
            ok = err in ("none", "additional_step")
            parts.append(_U8.pack(ERROR_INDEX.get(err, 0)) + _U8.pack(ok) + _str(msg))
    else:
        parts.append(_U32.pack(0))
    conds = bytes(bool(c) for c in d.get("condition_truth", ()))
    atoms = bytes(bool(t) for _, t in d.get("atoms", ()))
    parts += [_U32.pack(len(conds)), conds, _U32.pack(len(atoms)), atoms]
    return frame(RESULT, b"".join(parts))


def decode_result(payload: bytes) -> dict:
    """The parent's side, for tests of Python workers without the C++ scheduler."""
    r = Reader(payload)
    job, index, status, run_s, load_s, simulated = r.struct(_RESULT_HEAD)
    out: dict[str, Any] = {"job": job, "index": index, "status": status, "run_seconds": run_s,
                           "load_seconds": load_s, "simulated_actions": simulated}
    if status != STATUS_OK:
        out["error"] = r.str()
        r.done()
        return out
    (fmt, success, completed, first_error, executed, plan_length, reward, executability, goal_fraction, objects,
     relevant, goal_objects) = r.struct(_RESULT_OK)
    out.update(format_ok=bool(fmt), success=bool(success), completed=bool(completed), first_error=ERRORS[first_error],
               executed=executed, plan_length=plan_length, reward=reward, executability=executability,
               goal_fraction=goal_fraction, objects_named=objects, relevant_named=relevant, goal_objects=goal_objects)
    steps = []
    for _ in range(r.count(6)):
        err = ERRORS[r.u8()]
        ok = bool(r.u8())
        steps.append((err, ok, r.str()))
    out["steps"] = steps
    out["condition_truth"] = [bool(b) for b in r.raw(r.count(1))]
    out["atom_truth"] = [bool(b) for b in r.raw(r.count(1))]
    r.done()
    return out


def encode_group(g: GroupMsg) -> bytes:
    """The parent's side, for tests of Python workers without the C++ scheduler."""
    parts = [_GROUP_HEAD.pack(g.job, g.task, g.reward, g.mode, g.flags, g.seed, len(g.plans))]
    for p in g.plans:
        parts.append(_PLAN_HEAD.pack(p.index, p.format_ok, p.resume_depth, len(p.save_depths)))
        parts += [_U32.pack(d) for d in p.save_depths]
        parts.append(_U32.pack(len(p.suffix)))
        for a in p.suffix:
            detail = a.detail.encode("utf-8")
            parts.append(_ACTION.pack(a.type, a.relation & 0xFF, a.error, a.obj0, a.obj1, a.num0, a.num1, a.room,
                                      len(detail)) + detail)
    return frame(GROUP, b"".join(parts))


def encode_task(t: TaskMsg) -> bytes:
    return frame(TASK, _U32.pack(t.id) + _str(t.key) + _str(t.filename) + _str(t.bddl) + _str(t.scene))


def encode_reward(rid: int, name: str, weights: dict[str, float]) -> bytes:
    return frame(REWARD, _U32.pack(rid) + _str(name) + b"".join(_F64.pack(weights[k]) for k in _REWARD_FIELDS))


def encode_knowledge(table: dict[str, int]) -> bytes:
    return frame(KNOWLEDGE, _U32.pack(len(table)) + b"".join(_str(k) + _U32.pack(v) for k, v in table.items()))


def decode_hello(payload: bytes) -> dict:
    r = Reader(payload)
    version, caps, speed, load, cache, pid = r.struct(_HELLO)
    name = r.str()
    r.done()
    return {"version": version, "capabilities": caps, "speed": speed, "load_seconds": load, "scene_cache": cache,
            "pid": pid, "name": name}


def record_of(action: Any) -> ActionRecord:
    """The wire record of an ``emx._core.Action``."""
    from .. import _core
    t, o0, o1, n0, n1, rel, room, err, detail = _core.action_fields(action)
    return ActionRecord(t, o0, o1, n0, n1, rel, room, err, detail)
