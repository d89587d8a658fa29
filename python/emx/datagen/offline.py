"""The model-free task generator: templates over the knowledge base and room types.

    from emx.datagen.offline import generate_tasks, write_dataset
    tasks = generate_tasks(1000, seed=0)              # validated, deduplicated
    write_dataset(tasks, "data/offline")             # -> emx.load_tasks("data/offline")

It produces what the LLM agents produce -- a BDDL problem with rooms named, a natural-language
command, metadata -- with no model: a house is drawn room by room (furniture from
``catalog.ROOMS``, movable items where BEHAVIOR-1K puts them), then goal clauses are drawn from
templates (put X on/in Y, open/close, toggle, cook, freeze, slice, soak, clean, next to, "all the
Xs"), each template picking objects whose abilities make the clause achievable. Every draft goes
through the validators (``emx.datagen.validate``: compile, vocabulary, oracle plan) and the
near-duplicate filter (``canonical.py``); rejections are counted by reason.

Difficulty (what ``difficulty=`` selects; ``None`` mixes 40/35/25):

    easy    1-2 ground goal literals in one room (put X on/in Y, open/close Z, toggle, ...;
            "put X in the fridge and close it")
    medium  3-4 literals, one or two rooms; next-to and "all the Xs" (2 of them) appear
    hard    5-8 literals over two or three rooms, items carried between rooms

Deterministic: the same (n, seed, max_objects, difficulty) gives the same tasks, and a shorter
run is a prefix of a longer one.
"""

from __future__ import annotations

import collections
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .bddl_text import render_problem, slug
from .canonical import canonical_goal, canonical_hash
from .catalog import Catalog, Furniture, Item, catalog, display_name
from ..tasks.sources import TaskSpec
from .validate import validate_bddl

__all__ = ["DIFFICULTIES", "GeneratedTask", "GenerationRun", "generate", "generate_into", "generate_tasks",
           "write_dataset"]

GENERATOR = "emx.datagen.offline/1"
DIFFICULTIES = ("easy", "medium", "hard")
_MIX = (("easy", 0.40), ("medium", 0.35), ("hard", 0.25))
# difficulty -> (min literals, max literals, max rooms)
_TIERS = {"easy": (1, 2, 1), "medium": (3, 4, 2), "hard": (5, 8, 3)}
_WATER_ROOMS = ("kitchen", "bathroom", "utility_room")


@dataclass(frozen=True)
class GeneratedTask(TaskSpec):
    """One accepted task: a TaskSpec (``id`` -- the file stem in a dataset --, ``bddl_text``,
    ``command``...) with the generator's metadata, so ``emx.task.compile_spec(t)`` compiles it
    directly and ``str(t)`` is its BDDL text."""

    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def bddl(self) -> str:
        return self.bddl_text

    def __str__(self) -> str:
        return self.bddl_text

    def compile(self):
        """The compiled ``emx.Task``."""
        from ..task import compile_spec

        return compile_spec(self)


def _generated(task_id: str, bddl: str, command: str, meta: dict[str, Any], source: str = "datagen") -> GeneratedTask:
    return GeneratedTask(id=task_id, source=source, bddl_text=bddl, filename=f"<{source}:{task_id}>",
                         command=command, metadata=meta)


@dataclass
class GenerationRun:
    tasks: list[GeneratedTask]
    attempts: int
    rejections: dict[str, int]          # "stage: reason" -> count (incl. "duplicate: ...")
    stage_counts: dict[str, dict[str, int]]   # stage -> {"in": n, "passed": m}
    seconds: float
    resumed: int = 0                    # accepted by an earlier interrupted run (not in tasks)

    def summary(self) -> dict[str, Any]:
        return {"accepted": len(self.tasks), "resumed": self.resumed, "attempts": self.attempts,
                "seconds": round(self.seconds, 3), "rejections": dict(self.rejections), "stages": self.stage_counts}


# --------------------------------------------------------------------------- drafting a house

_ROOM_WORDS = {"childs_room": "child's room", "private_office": "office", "utility_room": "laundry room"}


def _room_words(room: str) -> str:
    return _ROOM_WORDS.get(room, room.replace("_", " "))


class _Full(Exception):
    """The draft has no room for the objects a clause needs."""


class _Draft:
    def __init__(self, cat: Catalog, rng: random.Random, max_objects: int) -> None:
        self.cat, self.rng, self.max_objects = cat, rng, max_objects
        self.objects: dict[str, str] = {}           # instance -> category
        self.counts: collections.Counter = collections.Counter()
        self.floors: dict[str, str] = {}            # room -> floor instance
        self.furniture: dict[tuple[str, str], str] = {}   # (room, category) -> instance
        self.room_of: dict[str, str] = {}           # instance -> room
        self.where: dict[str, tuple[str, str]] = {}       # item -> (relation, support instance)
        self.unary: list[str] = []                  # extra init literals ((open x), (dusty x), ...)
        self.goal: list[str] = []
        self.clauses: list[tuple[str, tuple[str, ...]]] = []   # (format with {0}.., instances)
        self.templates: list[str] = []
        self.literals = 0
        self.busy: set[str] = set()                 # objects a goal clause already uses
        self.busy_categories: set[str] = set()      # item categories a goal names (no look-alike distractors)
        self.tools: dict[str, str] = {}             # role -> instance
        self.footprint: dict[str, float] = {}       # item -> width x depth (m^2)

    # objects ---------------------------------------------------------------
    def counted(self) -> int:
        return sum(1 for o in self.objects if not o.startswith(("floor.n.01", "agent.n.01")))

    def _new(self, category: str) -> str:
        if not category.startswith(("floor.n.01", "agent.n.01")) and self.counted() >= self.max_objects:
            raise _Full(category)
        self.counts[category] += 1
        name = f"{category}_{self.counts[category]}"
        self.objects[name] = category
        return name

    def room(self, room: str) -> str:
        if room not in self.floors:
            self.floors[room] = self._new("floor.n.01")
            self.room_of[self.floors[room]] = room
        return self.floors[room]

    def furn(self, room: str, f: Furniture) -> str:
        key = (room, f.category)
        if key not in self.furniture:
            self.room(room)
            self.furniture[key] = self._new(f.category)
            self.room_of[self.furniture[key]] = room
        return self.furniture[key]

    def rooms(self) -> list[str]:
        return list(self.floors)

    def has_room(self, support: str | None, support_size, item: Item, relation: str) -> bool:
        """Whether the items already on/in a support leave space for one more (footprints, with
        slack for the layout's margins; the physical validator has the last word)."""
        w, d = support_size[0], support_size[1]
        area = w * d * (0.45 if relation == "ontop" else 0.3)
        used = sum(self.footprint[o] for o, (r, s) in self.where.items() if s == support and r == relation) \
            if support is not None else 0.0
        return used + item.size[0] * item.size[1] <= area

    def supports(self, room: str, item: Item, exclude: set[str] = frozenset()) -> list[tuple[str, Furniture]]:
        """(relation, furniture) pairs of the room that can hold the item, B1K's homes first."""
        out = []
        for f in self.cat.rooms[room]:
            inst = self.furniture.get((room, f.category))
            if f.surface and item.fits(f.size, "ontop") and self.has_room(inst, f.size, item, "ontop"):
                out.append(("ontop", f))
            if f.receptacle and item.fits(f.interior, "inside") and self.has_room(inst, f.interior, item, "inside"):
                out.append(("inside", f))
        out = [(r, f) for r, f in out if self.furniture.get((room, f.category)) not in exclude]
        homes = [(r, f) for r, f in out if (r, f.category) in item.homes]
        return homes if homes and self.rng.random() < 0.7 else out

    def place(self, name: str, item: Item, room: str, exclude: set[str] = frozenset()) -> None:
        """Puts an item somewhere in the room: on/in furniture (existing furniture preferred), or the floor."""
        options = self.supports(room, item, exclude)
        existing = [(r, f) for r, f in options if (room, f.category) in self.furniture]
        pool = existing if existing and (self.rng.random() < 0.65 or self.counted() >= self.max_objects) else options
        if pool:
            rel, f = self.rng.choice(pool)
            try:
                self.where[name] = (rel, self.furn(room, f))
                return
            except _Full:
                pass
        self.where[name] = ("ontop", self.room(room))

    def add_item(self, item: Item, room: str, exclude: set[str] = frozenset()) -> str:
        name = self._new(item.category)
        self.room_of[name] = room
        self.footprint[name] = item.size[0] * item.size[1]
        self.place(name, item, room, exclude)
        return name

    def tool(self, role: str, room: str) -> str:
        if role not in self.tools:
            it = self.cat.tools[role]
            self.tools[role] = self.add_item(it, room)
            self.busy_categories.add(it.category)
        return self.tools[role]

    def pick_item(self, room: str, want: Callable[[Item], bool]) -> Item | None:
        pool = [i for i in self.cat.room_items[room]
                if want(i) and i.category not in self.busy_categories and i.category not in self.counts]
        return self.rng.choice(pool) if pool else None

    def claim(self, *names: str) -> None:
        self.busy.update(names)
        for n in names:
            if n in self.where:
                self.busy_categories.add(self.objects[n])

    # text ------------------------------------------------------------------
    def ref(self, name: str) -> str:
        """'the apple', or 'the apple on the countertop' when the task has several apples."""
        cat = self.objects[name]
        base = "the " + display_name(cat)
        if name in self.where and sum(1 for c in self.objects.values() if c == cat) > 1:
            rel, sup = self.where[name]
            base += (" on " if rel == "ontop" else " in ") + (
                "the floor" if sup.startswith("floor.n.01") else self.ref(sup))
        return base

    def command(self) -> str:
        """The clauses joined into one sentence. With several rooms, each clause names the room of
        its last object, and of an earlier one that sits elsewhere ("from the bedroom")."""
        multi = len(self.floors) > 1
        parts = []
        for fmt, names in self.clauses:
            refs = [self.ref(n) for n in names]
            if multi:
                last_room = self.room_of.get(names[-1])
                for i, n in enumerate(names[:-1]):
                    if self.room_of.get(n) != last_room:
                        refs[i] += f" from the {_room_words(self.room_of[n])}"
                if last_room:
                    refs[-1] += f" in the {_room_words(last_room)}"
            parts.append(fmt.format(*refs))
        if len(parts) == 1:
            text = parts[0]
        else:
            text = ", ".join(parts[:-1]) + (", and " if len(parts) > 2 else " and ") + parts[-1]
        return text[0].upper() + text[1:] + "."

    def init(self) -> list[str]:
        lits = []
        for item, (rel, sup) in self.where.items():
            lits.append(f"({rel} {item} {sup})")
        lits += self.unary
        for room, floor in self.floors.items():
            lits.append(f"(inroom {floor} {room})")
        for (room, _cat), inst in self.furniture.items():
            lits.append(f"(inroom {inst} {room})")
        lits.append(f"(ontop agent.n.01_1 {self.floors[self.rooms()[0]]})")
        return lits


# --------------------------------------------------------------------------- goal templates
# Each takes (draft, room) and adds one clause, or raises _Nope / _Full when it does not apply.

class _Nope(Exception):
    pass


def _choose(rng: random.Random, options: list):
    if not options:
        raise _Nope()
    return rng.choice(options)


def _destinations(d: _Draft, room: str, item: Item, relation: str | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in d.cat.rooms[room]:
        if f.surface and relation in (None, "ontop") and item.fits(f.size, "ontop"):
            out.append(("ontop", f))
        if f.receptacle and relation in (None, "inside") and item.fits(f.interior, "inside"):
            out.append(("inside", f))
    for h in d.cat.holders:
        if h.category in d.busy_categories or h.category == item.category:
            continue
        inst = next((o for o, c in d.objects.items() if c == h.category), None)
        if inst is not None and any(s == inst for _r, s in d.where.values()):
            continue    # one thing per movable holder keeps the layout simple
        if relation in (None, "inside") and item.fits(h.size, "inside") and item.volume < 0.5 * h.volume:
            out.append(("inside", h))
    return out


def _dest_instance(d: _Draft, room: str, dest: Any) -> str:
    if isinstance(dest, Furniture):
        return d.furn(room, dest)
    inst = next((o for o, c in d.objects.items() if c == dest.category and d.room_of.get(o) == room), None)
    if inst is None:
        inst = d.add_item(dest, room)
        d.busy_categories.add(dest.category)
    return inst


_PUT = {"ontop": ("put {0} on {1}", "place {0} on {1}", "move {0} onto {1}", "set {0} on {1}"),
        "inside": ("put {0} in {1}", "place {0} inside {1}", "store {0} in {1}")}
_BRING = {"ontop": ("bring {0} to {1} and put it on top", "take {0} over to {1} and set it there"),
          "inside": ("bring {0} to {1} and put it inside", "carry {0} to {1} and store it inside")}


def t_place(d: _Draft, room: str, relation: str | None = None, src_room: str | None = None) -> None:
    src_room = src_room or room
    item = d.pick_item(src_room, lambda i: True)
    if item is None:
        raise _Nope()
    rel, dest = _choose(d.rng, _destinations(d, room, item, relation))
    target = _dest_instance(d, room, dest)
    if target in d.busy and isinstance(dest, Item):
        raise _Nope()
    name = d.add_item(item, src_room, exclude={target})
    if d.where[name][1] == target:
        raise _Nope()
    d.goal.append(f"({rel} {name} {target})")
    phrases = _PUT[rel] if src_room == room else _BRING[rel]
    d.clauses.append((d.rng.choice(phrases), (name, target)))
    d.claim(name)
    d.literals += 1
    d.templates.append(f"place_{rel}" if src_room == room else f"carry_{rel}")
    # "... in the fridge and close it": one more literal on an openable destination
    if rel == "inside" and "openable" in dest.abilities and target not in d.busy and d.rng.random() < 0.35:
        d.goal.append(f"(not (open {target}))")
        fmt, names = d.clauses[-1]
        d.clauses[-1] = (fmt + " and close it", names)
        d.literals += 1
        d.busy.add(target)
    if isinstance(dest, Item):      # a movable holder another clause must not carry away
        d.busy.add(target)


def _state_target(d: _Draft, room: str, ability: str, movable_ok: bool = True) -> str:
    furn = [f for f in d.cat.rooms[room] if ability in f.abilities
            and d.furniture.get((room, f.category)) not in d.busy]
    # movable items only when the synset is a plain object (B1K's "thyme__shaker" is
    # toggleable as a particle applier, not as an appliance one switches on)
    items = [i for i in d.cat.room_items[room] if ability in i.abilities and i.category not in d.counts
             and i.category not in d.busy_categories and "__" not in i.category] if movable_ok else []
    if items and (not furn or d.rng.random() < 0.25):
        return d.add_item(d.rng.choice(items), room)
    return d.furn(room, _choose(d.rng, furn))


def t_open(d: _Draft, room: str) -> None:
    target = _state_target(d, room, "openable")
    d.goal.append(f"(open {target})")
    d.clauses.append((d.rng.choice(("open {0}", "please open {0}")), (target,)))
    d.claim(target)
    d.literals += 1
    d.templates.append("open")


def t_close(d: _Draft, room: str) -> None:
    target = _state_target(d, room, "openable")
    d.unary.append(f"(open {target})")
    d.goal.append(f"(not (open {target}))")
    d.clauses.append((d.rng.choice(("close {0}", "shut {0}")), (target,)))
    d.claim(target)
    d.literals += 1
    d.templates.append("close")


def t_toggle_on(d: _Draft, room: str) -> None:
    target = _state_target(d, room, "toggleable")
    d.goal.append(f"(toggled_on {target})")
    d.clauses.append((d.rng.choice(("turn on {0}", "switch on {0}")), (target,)))
    d.claim(target)
    d.literals += 1
    d.templates.append("toggle_on")


def t_toggle_off(d: _Draft, room: str) -> None:
    target = _state_target(d, room, "toggleable")
    d.unary.append(f"(toggled_on {target})")
    d.goal.append(f"(not (toggled_on {target}))")
    d.clauses.append((d.rng.choice(("turn off {0}", "switch off {0}")), (target,)))
    d.claim(target)
    d.literals += 1
    d.templates.append("toggle_off")


def _food(i: Item) -> bool:
    return "cookable" in i.abilities


def t_cook(d: _Draft, room: str) -> None:
    if room != "kitchen" or "cooking_vessel" not in d.cat.tools:
        raise _Nope()
    item = d.pick_item(room, lambda i: _food(i) and i.fits(d.cat.tools["cooking_vessel"].size, "inside"))
    if item is None:
        raise _Nope()
    d.tool("cooking_vessel", room)
    name = d.add_item(item, room)
    d.goal.append(f"(cooked {name})")
    d.clauses.append((d.rng.choice(("cook {0}", "cook {0} in the pan")), (name,)))
    d.claim(name)
    d.literals += 1
    d.templates.append("cook")


def t_freeze(d: _Draft, room: str) -> None:
    if room != "kitchen":
        raise _Nope()
    item = d.pick_item(room, lambda i: _food(i) and "freezable" in i.abilities)
    if item is None:
        raise _Nope()
    name = d.add_item(item, room)
    d.goal.append(f"(frozen {name})")
    d.clauses.append((d.rng.choice(("freeze {0}", "get {0} frozen")), (name,)))
    d.claim(name)
    d.literals += 1
    d.templates.append("freeze")


def t_slice(d: _Draft, room: str) -> None:
    if room != "kitchen" or "slicer" not in d.cat.tools:
        raise _Nope()
    item = d.pick_item(room, lambda i: _food(i) and "sliceable" in i.abilities)
    if item is None:
        raise _Nope()
    d.tool("slicer", room)
    name = d.add_item(item, room)
    d.goal.append(f"(sliced {name})")
    d.clauses.append((d.rng.choice(("slice {0}", "cut {0} into pieces")), (name,)))
    d.claim(name)
    d.literals += 1
    d.templates.append("slice")


def t_soak(d: _Draft, room: str) -> None:
    if room not in _WATER_ROOMS:
        raise _Nope()
    sink = next((f for f in d.cat.rooms[room] if "water_source" in f.abilities), None)
    if sink is None:
        raise _Nope()
    item = d.pick_item(room, lambda i: {"soakable", "cleaning_tool"} <= i.abilities and i.fits(sink.interior, "inside"))
    if item is None:
        raise _Nope()
    d.furn(room, sink)
    name = d.add_item(item, room)
    d.goal.append(f"(soaked {name})")
    d.clauses.append((d.rng.choice(("soak {0}", "wet {0} in the sink")), (name,)))
    d.claim(name)
    d.literals += 1
    d.templates.append("soak")


def t_clean(d: _Draft, room: str) -> None:
    if "cleaning_tool" not in d.cat.tools:
        raise _Nope()
    rag = d.cat.tools["cleaning_tool"].category
    item = d.pick_item(room, lambda i: "dustyable" in i.abilities and i.category != rag)
    if item is None:
        raise _Nope()
    d.tool("cleaning_tool", room)
    name = d.add_item(item, room)
    d.unary.append(f"(dusty {name})")
    d.goal.append(f"(not (dusty {name}))")
    d.clauses.append((d.rng.choice(("clean {0}", "wipe the dust off {0}", "dust {0}")), (name,)))
    d.claim(name)
    d.literals += 1
    d.templates.append("clean")


def t_nextto(d: _Draft, room: str) -> None:
    item = d.pick_item(room, lambda i: True)
    if item is None:
        raise _Nope()
    anchors = [f for f in d.cat.rooms[room] if f.surface or f.receptacle]
    target = d.furn(room, _choose(d.rng, anchors))
    name = d.add_item(item, room, exclude={target})
    d.goal.append(f"(nextto {name} {target})")
    d.clauses.append((d.rng.choice(("put {0} next to {1}", "place {0} beside {1}")), (name, target)))
    d.claim(name)
    d.literals += 1
    d.templates.append("nextto")


def t_all(d: _Draft, room: str, count: int = 2) -> None:
    item = d.pick_item(room, lambda i: True)
    if item is None:
        raise _Nope()
    rel, dest = _choose(d.rng, [(r, x) for r, x in _destinations(d, room, item, None)
                                if isinstance(x, Furniture) or item.volume * count < 0.5 * x.volume])
    target = _dest_instance(d, room, dest)
    names = [d.add_item(item, room, exclude={target}) for _ in range(count)]
    if all(d.where[n][1] == target for n in names):
        raise _Nope()
    var = f"?{item.category}"
    d.goal.append(f"(forall ({var} - {item.category}) ({rel} {var} {target}))")
    word = display_name(item.category)
    plural = word if word.endswith("s") else word + "s"
    prep = "on" if rel == "ontop" else "in"
    d.clauses.append((d.rng.choice((f"put all the {plural} {prep} {{0}}", f"gather every {word} {prep} {{0}}")),
                      (target,)))
    d.claim(*names)
    d.literals += count
    d.templates.append(f"all_{rel}")


_EASY: list[tuple[Callable, float]] = [
    (t_place, 5.0), (t_open, 1.0), (t_close, 1.0), (t_toggle_on, 1.0), (t_toggle_off, 0.7), (t_cook, 0.6),
    (t_freeze, 0.4), (t_slice, 0.6), (t_soak, 0.5), (t_clean, 0.6),
]
_MORE: list[tuple[Callable, float]] = _EASY + [(t_nextto, 0.8), (t_all, 1.2)]


def _weighted(rng: random.Random, table: list[tuple[Callable, float]]) -> Callable:
    total = sum(w for _, w in table)
    x = rng.random() * total
    for fn, w in table:
        x -= w
        if x <= 0:
            return fn
    return table[-1][0]


def _draft(cat: Catalog, rng: random.Random, difficulty: str, max_objects: int) -> _Draft | None:
    lo, hi, max_rooms = _TIERS[difficulty]
    d = _Draft(cat, rng, max_objects)
    room_names = list(cat.rooms)
    n_rooms = 1 if max_rooms == 1 else rng.randint(1 if difficulty == "medium" else 2, max_rooms)
    rooms = rng.sample(room_names, n_rooms)
    if rng.random() < 0.4 and "kitchen" not in rooms:   # the kitchen holds most tasks in B1K too
        rooms[0] = "kitchen"
    d.room(rooms[0])
    target = rng.randint(lo, hi)
    table = _EASY if difficulty == "easy" else _MORE
    for _ in range(12):
        if d.literals >= target:
            break
        room = rng.choice(rooms)
        fn = _weighted(rng, table)
        snapshot = _snapshot(d)
        try:
            if fn is t_place and len(rooms) > 1 and rng.random() < 0.5:
                src = rng.choice([r for r in rooms if r != room])
                d.room(src)
                t_place(d, room, src_room=src)
            elif fn is t_all:
                t_all(d, room, count=min(3, max(2, target - d.literals)))
            else:
                fn(d, room)
        except (_Nope, _Full):
            _restore(d, snapshot)
            continue
        if d.literals > hi:
            _restore(d, snapshot)
    if not (lo <= d.literals <= hi):
        return None
    for room in rooms:      # every room of the task holds something
        d.room(room)
    # distractors: plausible items that no clause names
    for _ in range(rng.randint(0, 3)):
        room = rng.choice(d.rooms())
        it = d.pick_item(room, lambda i: True)
        if it is None or d.counted() >= max_objects:
            break
        d.add_item(it, room)
    return d


def _snapshot(d: _Draft) -> dict:
    return {k: (v.copy() if hasattr(v, "copy") else v) for k, v in d.__dict__.items()
            if k not in ("cat", "rng", "max_objects")}


def _restore(d: _Draft, snap: dict) -> None:
    for k, v in snap.items():
        setattr(d, k, v.copy() if hasattr(v, "copy") else v)


# --------------------------------------------------------------------------- the generation loop

def _task_from_draft(d: _Draft, difficulty: str, seed: int, index: int) -> tuple[str, str, str, dict]:
    command = d.command()
    # the init's inroom facts (furniture), as canonical_goal is computed for any task
    rooms_of = {o: r for o, r in d.room_of.items() if o in d.furniture.values()}
    canon = canonical_goal(d.goal, d.objects, rooms_of)
    h = canonical_hash(canon)
    task_id = f"{d.templates[0]}_{h}"
    name = f"{slug(command, 60)}-{index}"
    bddl = render_problem(name, {**d.objects, "agent.n.01_1": "agent.n.01"}, d.init(), d.goal, command=command)
    meta = {
        "id": task_id, "command": command, "source": "offline", "generator": GENERATOR, "seed": seed,
        "index": index, "difficulty": difficulty, "templates": list(d.templates), "rooms": d.rooms(),
        "categories": sorted(set(d.objects.values())), "n_objects": d.counted(), "goal_literals": d.literals,
        "goal_predicates": sorted({g.strip("()").split()[0] if not g.startswith("(not") else
                                   g[5:].strip("()").split()[0] for g in d.goal} - {"forall"}
                                  | ({"forall"} if any(g.startswith("(forall") for g in d.goal) else set())),
        "canonical_goal": canon, "transcripts": [],
    }
    return task_id, bddl, command, meta


def generate(n: int, seed: int = 0, max_objects: int = 8, difficulty: str | None = None,
             max_attempts: int | None = None, skip_ids: set[str] | frozenset[str] = frozenset(),
             progress: Callable[[int, int], None] | None = None, physical: str | None = "layout",
             done_ids: set[str] | frozenset[str] = frozenset(),
             on_accept: Callable[[GeneratedTask], None] | None = None) -> GenerationRun:
    """Generates ``n`` accepted tasks (fewer if ``max_attempts``, default 50 n, runs out).
    ``skip_ids``: ids already in a dataset from elsewhere (treated as duplicates).
    ``done_ids``: ids an earlier, interrupted run with the same arguments already accepted and
    stored: the run replays the same drafts, counts those as accepted without validating them
    again and does not return them, so a resumed run ends with exactly the tasks of an
    uninterrupted one. ``on_accept`` is called with each new accepted task (for streaming
    writes). ``physical``:
    ``"layout"`` (default) also requires the scene builder to lay out the whole init,
    ``"settle"`` settles it in physics too (slower; needs emx.sim), ``None`` skips the stage."""
    if physical not in (None, "layout", "settle"):
        raise ValueError(f"physical must be None, 'layout' or 'settle', got {physical!r}")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)} or None, got {difficulty!r}")
    if n < 0 or max_objects < 1:
        raise ValueError("n must be >= 0 and max_objects >= 1")
    t0 = time.perf_counter()
    cat = catalog()
    rng = random.Random(f"emx-offline:{seed}:{max_objects}:{difficulty}")
    max_attempts = max_attempts if max_attempts is not None else 50 * max(n, 1)
    tasks: list[GeneratedTask] = []
    seen: set[str] = set(skip_ids) - set(done_ids)
    accepted = 0
    resumed = 0
    rejections: collections.Counter = collections.Counter()
    checked = ("syntax", "vocabulary", "symbolic") + (("physical",) if physical else ())
    stages = {s: {"in": 0, "passed": 0} for s in ("draft", "dedup") + checked}
    attempts = 0
    tier = None
    while accepted < n and attempts < max_attempts:
        attempts += 1
        # the tier is drawn per accepted task, not per attempt, so tiers whose drafts fail more
        # often (hard) keep their share of the mix
        tier = tier or difficulty or _draw_tier(rng)
        stages["draft"]["in"] += 1
        d = _draft(cat, rng, tier, max_objects)
        if d is None:
            rejections["draft: no clause fits"] += 1
            continue
        stages["draft"]["passed"] += 1
        task_id, bddl, command, meta = _task_from_draft(d, tier, seed, attempts - 1)
        stages["dedup"]["in"] += 1
        if task_id in seen:
            rejections["dedup: same canonical goal"] += 1
            continue
        stages["dedup"]["passed"] += 1
        if task_id in done_ids:     # accepted and stored by the interrupted run: replay, no work
            seen.add(task_id)
            accepted += 1
            resumed += 1
            tier = None
            continue
        verdict = validate_bddl(bddl, task_id, max_objects=max_objects, physical=bool(physical),
                                settle=physical == "settle", seed=seed)
        for s in checked:
            if s in verdict.passed or verdict.stage == s:
                stages[s]["in"] += 1
            if s in verdict.passed:
                stages[s]["passed"] += 1
        if not verdict.ok:
            rejections[verdict.key] += 1
            continue
        seen.add(task_id)
        meta["plan_length"] = len(verdict.plan or ())
        meta["validation"] = verdict.to_dict()
        task = _generated(task_id, bddl, command, meta)
        tasks.append(task)
        accepted += 1
        tier = None
        if on_accept is not None:
            on_accept(task)
        if progress is not None:
            progress(accepted, n)
    run = GenerationRun(tasks, attempts, dict(rejections.most_common()), stages, time.perf_counter() - t0)
    run.resumed = resumed
    return run


def _draw_tier(rng: random.Random) -> str:
    x = rng.random()
    for tier, p in _MIX:
        x -= p
        if x <= 0:
            return tier
    return _MIX[-1][0]


def generate_tasks(n: int, seed: int = 0, max_objects: int = 8, difficulty: str | None = None,
                   physical: str | None = "layout") -> list[GeneratedTask]:
    """``n`` validated, deduplicated tasks (see the module docstring)."""
    return generate(n, seed=seed, max_objects=max_objects, difficulty=difficulty, physical=physical).tasks


def write_dataset(tasks, out_dir, summary: dict | None = None) -> dict:
    """Writes tasks into a dataset directory (``emx.datagen.dataset``), skipping ids already
    there; returns {"root", "written", "skipped"}. ``emx.load_tasks(out_dir)`` reads it back."""
    from .dataset import Dataset

    ds = Dataset(out_dir)
    return ds.add_all(tasks, summary=summary)


def run_key(seed: int, max_objects: int, difficulty: str | None, physical: str | None) -> str:
    """What makes two offline runs the same sequence of drafts (stored in each task's metadata)."""
    return f"{GENERATOR}|seed={seed}|max_objects={max_objects}|difficulty={difficulty}|physical={physical}"


def generate_into(out_dir, n: int, seed: int = 0, max_objects: int = 8, difficulty: str | None = None,
                  physical: str | None = "layout", progress: Callable[[int, int], None] | None = None,
                  batch: int = 128) -> dict:
    """``emx gen tasks`` offline: makes the dataset at ``out_dir`` hold the first ``n`` tasks of
    this (seed, max_objects, difficulty, physical) sequence, writing as it goes (every ``batch``
    tasks). Interrupted, it resumes: tasks already stored are replayed, not redone. Tasks of other
    runs in the same directory count as duplicates. Returns the run summary and what was written."""
    from .dataset import Dataset

    ds = Dataset(out_dir)
    key = run_key(seed, max_objects, difficulty, physical)
    meta = ds.metadata()
    done = {i for i, m in meta.items() if m.get("run") == key}
    pending: list[GeneratedTask] = []
    written = {"written": 0}

    def flush() -> None:
        if pending:
            written["written"] += ds.add_all(pending)["written"]
            pending.clear()

    def accept(task: GeneratedTask) -> None:
        task.metadata["run"] = key
        pending.append(task)
        if len(pending) >= batch:
            flush()

    try:
        run = generate(n, seed=seed, max_objects=max_objects, difficulty=difficulty, physical=physical,
                       skip_ids=set(meta), done_ids=done, on_accept=accept, progress=progress)
    finally:
        flush()     # an interrupted run keeps what it accepted
    summary = {**run.summary(), "source": "offline", "run": key, "seed": seed, "difficulty": difficulty,
               "max_objects": max_objects, "physical": physical, "n": n}
    ds.add_summary(summary)
    return {**summary, "root": str(ds.root), "written": written["written"], "dataset_size": len(ds.ids())}
