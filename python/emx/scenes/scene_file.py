"""Scene files: versioned JSON (docs/scene-format.md), validated on the way in and out.

* ``save_scene`` validates, then writes to a temporary name in the same folder, flushes,
  fsyncs and ``os.replace``s it into place: a crash leaves the old file or the new one, never
  half of one.
* ``load_scene`` reports the first problem as ``FILE: JSON.PATH: what is wrong``, e.g.
  ``scene.json: objects[3].size[1]: must be a number in (0, 20] m, got NaN``.
* The cache key is ``sha256(format, version, generator, seed, BDDL text)``: a scene is built
  once per (task text, seed, layout generator) and found again by its file name.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ..errors import EmxError
from .layout import FORMAT, GENERATOR, VERSION

__all__ = ["SceneFileError", "validate_scene", "save_scene", "load_scene", "cache_key", "scene_path",
           "FORMAT", "VERSION", "KINDS"]

KINDS = ("floor", "furniture", "container", "item", "agent")
HINGE_SIDES = ("left", "right", "bottom", "top", "front")
JOINT_TYPES = ("revolute", "prismatic")
MAX_SIZE = 20.0          # m, any object extent
MAX_COORD = 10_000.0     # m, any coordinate: a scene is a house, not a continent
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SceneFileError(EmxError, ValueError):
    """A scene file (or dict) that is not a valid emx scene. ``str(e)`` is
    ``"FILE: PATH: message"``; the parts are attributes."""

    def __init__(self, file: str, path: str, message: str) -> None:
        where = ": ".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.path = path
        self.message = message


# --------------------------------------------------------------------------- validation

class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> None:
        raise SceneFileError(self.file, path, message)

    def obj(self, v: Any, path: str, required: tuple[str, ...] = ()) -> dict:
        if not isinstance(v, dict):
            self.fail(path, f"must be an object, got {_kind(v)}")
        for key in required:
            if key not in v:
                self.fail(f"{path}.{key}" if path else key, "missing")
        return v

    def lst(self, v: Any, path: str, length: int | None = None) -> list:
        if not isinstance(v, list):
            self.fail(path, f"must be a list, got {_kind(v)}")
        if length is not None and len(v) != length:
            self.fail(path, f"must have {length} entries, got {len(v)}")
        return v

    def string(self, v: Any, path: str, nonempty: bool = True) -> str:
        if not isinstance(v, str) or (nonempty and not v):
            self.fail(path, f"must be a{' non-empty' if nonempty else ''} string, got {_show(v)}")
        return v

    def opt_string(self, v: Any, path: str) -> str | None:
        return None if v is None else self.string(v, path)

    def boolean(self, v: Any, path: str) -> bool:
        if not isinstance(v, bool):
            self.fail(path, f"must be true or false, got {_show(v)}")
        return v

    def integer(self, v: Any, path: str, lo: int | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo):
            self.fail(path, f"must be an integer{'' if lo is None else f' >= {lo}'}, got {_show(v)}")
        return v

    def number(self, v: Any, path: str, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False, what: str | None = None) -> float:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if ok:
            ok = (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            if what is None:
                if math.isinf(lo) and math.isinf(hi):
                    what = "a finite number"
                else:
                    left = "(" if lo_open else "["
                    what = f"a number in {left}{_g(lo)}, {_g(hi)}]"
            self.fail(path, f"must be {what}, got {_show(v)}")
        return float(v)

    def vec(self, v: Any, path: str, n: int, lo: float = -MAX_COORD, hi: float = MAX_COORD,
            lo_open: bool = False, unit: str = " m") -> list[float]:
        self.lst(v, path, n)
        left = "(" if lo_open else "["
        what = f"a number in {left}{_g(lo)}, {_g(hi)}]{unit}"
        return [self.number(x, f"{path}[{k}]", lo, hi, lo_open, what) for k, x in enumerate(v)]

    def one_of(self, v: Any, path: str, allowed: tuple[str, ...]) -> str:
        if v not in allowed:
            self.fail(path, f"must be one of {', '.join(allowed)}, got {_show(v)}")
        return v


def _g(x: float) -> str:
    return f"{x:g}"


def _kind(v: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    text = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else _kind(v)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_scene(scene: Any, file: str = "", task=None) -> dict:
    """Checks a scene dict against the format; raises SceneFileError naming the JSON path of the
    first problem. With ``task``, object names must be the task's and the task text must be the
    one the scene was built from."""
    c = _Checker(file)
    c.obj(scene, "", ("format", "version", "task_id", "task_hash", "seed", "rooms", "objects", "unrealised"))
    if scene["format"] != FORMAT:
        c.fail("format", f"must be {FORMAT!r}, got {_show(scene['format'])}: not an emx scene file")
    version = scene["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        c.fail("version", f"must be an integer, got {_show(version)}")
    if version != VERSION:
        c.fail("version", f"unsupported scene format version {version} (this emx reads version {VERSION}); "
                          f"rebuild the scene with `emx scenes build`")
    c.string(scene["task_id"], "task_id")
    if not (isinstance(scene["task_hash"], str) and _HEX64.match(scene["task_hash"])):
        c.fail("task_hash", f"must be 64 lowercase hex digits (sha256), got {_show(scene['task_hash'])}")
    c.integer(scene["seed"], "seed", 0)
    if "generator" in scene:
        c.string(scene["generator"], "generator")
    if "warnings" in scene:
        for k, w in enumerate(c.lst(scene["warnings"], "warnings")):
            c.string(w, f"warnings[{k}]", nonempty=False)

    rooms: set[str] = set()
    for k, room in enumerate(c.lst(scene["rooms"], "rooms")):
        p = f"rooms[{k}]"
        c.obj(room, p, ("name", "floor", "min", "max"))
        name = c.string(room["name"], f"{p}.name")
        if name in rooms:
            c.fail(f"{p}.name", f"duplicate room name {name!r}")
        rooms.add(name)
        c.opt_string(room["floor"], f"{p}.floor")
        lo = c.vec(room["min"], f"{p}.min", 2)
        hi = c.vec(room["max"], f"{p}.max", 2)
        for axis in range(2):
            if not hi[axis] > lo[axis]:
                c.fail(f"{p}.max[{axis}]", f"must be greater than min[{axis}] ({_g(lo[axis])}), got {_g(hi[axis])}")

    names: set[str] = set()
    known = None if task is None else {o.name for o in task.objects}
    for k, o in enumerate(c.lst(scene["objects"], "objects")):
        p = f"objects[{k}]"
        c.obj(o, p, ("name", "category", "kind", "size", "position", "yaw", "mass", "friction", "material",
                     "room", "fixed", "articulation", "interior", "placed_by"))
        name = c.string(o["name"], f"{p}.name")
        if name in names:
            c.fail(f"{p}.name", f"duplicate object name {name!r}")
        names.add(name)
        if known is not None and name not in known:
            c.fail(f"{p}.name", f"{name!r} is not an object of task {task.id}")
        c.string(o["category"], f"{p}.category")
        c.one_of(o["kind"], f"{p}.kind", KINDS)
        c.vec(o["size"], f"{p}.size", 3, 0.0, MAX_SIZE, lo_open=True)
        c.vec(o["position"], f"{p}.position", 3)
        c.number(o["yaw"], f"{p}.yaw", -4 * math.pi, 4 * math.pi, what="a finite angle in radians")
        c.number(o["mass"], f"{p}.mass", 0.0, 1e5, what="a mass in [0, 100000] kg")
        c.number(o["friction"], f"{p}.friction", 0.0, 10.0)
        c.string(o["material"], f"{p}.material")
        room = c.opt_string(o["room"], f"{p}.room")
        if room is not None and room not in rooms:
            c.fail(f"{p}.room", f"{room!r} is not one of the scene's rooms")
        c.boolean(o["fixed"], f"{p}.fixed")
        art = o["articulation"]
        if art is not None:
            ap = f"{p}.articulation"
            c.obj(art, ap, ("type", "range", "open_fraction", "hinge_side"))
            c.one_of(art["type"], f"{ap}.type", JOINT_TYPES)
            r = c.vec(art["range"], f"{ap}.range", 2, -2 * math.pi, 2 * math.pi, unit="")
            if not r[1] > r[0]:
                c.fail(f"{ap}.range", f"must be [lower, upper] with upper > lower, got {r}")
            c.number(art["open_fraction"], f"{ap}.open_fraction", 0.0, 1.0)
            c.one_of(art["hinge_side"], f"{ap}.hinge_side", HINGE_SIDES)
        inner = o["interior"]
        if inner is not None:
            ip = f"{p}.interior"
            c.obj(inner, ip, ("min", "max"))
            lo = c.vec(inner["min"], f"{ip}.min", 3)
            hi = c.vec(inner["max"], f"{ip}.max", 3)
            for axis in range(3):
                if not hi[axis] > lo[axis]:
                    c.fail(f"{ip}.max[{axis}]", f"must be greater than min[{axis}] ({_g(lo[axis])}), got {_g(hi[axis])}")
        legs = o.get("legs")
        if legs is not None:
            c.obj(legs, f"{p}.legs", ("height",))
            c.number(legs["height"], f"{p}.legs.height", 0.0, MAX_SIZE, lo_open=True)
        shelves = o.get("shelves")
        if shelves is not None:
            for j, z in enumerate(c.lst(shelves, f"{p}.shelves")):
                c.number(z, f"{p}.shelves[{j}]", -MAX_COORD, MAX_COORD)
            if shelves and inner is None:
                c.fail(f"{p}.shelves", "shelves need an interior")
        pb = c.obj(o["placed_by"], f"{p}.placed_by", ("relation", "target"))
        c.opt_string(pb["relation"], f"{p}.placed_by.relation")
        c.opt_string(pb["target"], f"{p}.placed_by.target")

    for k, u in enumerate(c.lst(scene["unrealised"], "unrealised")):
        c.obj(u, f"unrealised[{k}]", ("literal", "reason"))
        c.string(u["literal"], f"unrealised[{k}].literal")
        c.string(u["reason"], f"unrealised[{k}].reason")

    settle = scene.get("settle")
    if settle is not None:
        c.obj(settle, "settle")
        if "steps" in settle:
            c.integer(settle["steps"], "settle.steps", 0)
        if "max_displacement" in settle:
            c.number(settle["max_displacement"], "settle.max_displacement", 0.0)
        if "relations_ok" in settle:
            c.boolean(settle["relations_ok"], "settle.relations_ok")
        if "violations" in settle:
            c.lst(settle["violations"], "settle.violations")

    if task is not None:
        want = hashlib.sha256(task.spec.bddl_text.encode("utf-8")).hexdigest()
        if scene["task_hash"] != want:
            c.fail("task_hash", f"the scene was built from another text of task {scene['task_id']} "
                                f"(task_hash {scene['task_hash'][:12]}..., the task's is {want[:12]}...); rebuild it")
    return scene


# --------------------------------------------------------------------------- files

def cache_key(bddl_text: str, seed: int) -> str:
    """sha256 over what determines a scene: the file format, the layout generator (its version
    and size-prior table), the seed and the task's BDDL text."""
    from .sizes import PRIORS_PATH

    h = hashlib.sha256()
    h.update(f"{FORMAT}/{VERSION}\0{GENERATOR}\0".encode())
    with open(PRIORS_PATH, "rb") as f:
        h.update(hashlib.sha256(f.read()).digest())
    h.update(f"\0seed={int(seed)}\0".encode())
    h.update(bddl_text.encode("utf-8"))
    return h.hexdigest()


def scene_path(out_dir: str | os.PathLike[str], task_id: str, key: str) -> Path:
    """Where the scene of (task, key) lives in ``out_dir``: readable id, then the key."""
    safe = _UNSAFE.sub("_", task_id).strip("._") or "task"
    return Path(out_dir) / f"{safe[:120]}.{key[:16]}.json"


def save_scene(scene: dict, dest: str | os.PathLike[str]) -> Path:
    """Validates and writes ``scene`` atomically. ``dest`` is a file path (``*.json``) or a
    directory, where the name comes from ``scene_path`` (the scene needs a ``cache_key``)."""
    validate_scene(scene, "<scene to save>")
    dest = Path(dest)
    if dest.suffix.lower() != ".json":
        key = scene.get("cache_key")
        if not isinstance(key, str) or not key:
            raise ValueError("save_scene to a directory needs scene['cache_key'] (build_scenes sets it); "
                             "or give a .json file path")
        dest = scene_path(dest, scene["task_id"], key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(scene, indent=1, allow_nan=False, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return dest


def _ends_open(text: str) -> bool:
    """Whether the text stops inside a string, object or list: a file cut short."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


def load_scene(path: str | os.PathLike[str], task=None) -> dict:
    """Reads and validates a scene file; every problem is a SceneFileError naming the file."""
    file = os.fspath(path)
    try:
        with open(file, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise SceneFileError(file, "", "no such scene file") from None
    except IsADirectoryError:
        raise SceneFileError(file, "", "is a directory, not a scene file") from None
    except OSError as e:
        raise SceneFileError(file, "", f"cannot read ({e.strerror})") from None
    if not raw.strip():
        raise SceneFileError(file, "", "empty file (truncated?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SceneFileError(file, "", f"not UTF-8 text (byte {e.start}): corrupt scene file") from None

    try:
        # NaN / Infinity parse (as Python's json does) so that validation can name their path
        scene = json.loads(text)
    except json.JSONDecodeError as e:
        truncated = e.pos >= len(text.rstrip()) - 1 or _ends_open(text)
        hint = " (the file is truncated)" if truncated else " (corrupt scene file)"
        raise SceneFileError(file, "", f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}{hint}") from None
    except RecursionError:
        raise SceneFileError(file, "", "not valid JSON: nested too deeply") from None
    return validate_scene(scene, file, task)
