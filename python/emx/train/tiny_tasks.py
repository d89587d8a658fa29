"""Simple household tasks for the tiny training preset, written as BDDL from a small template.

Each task is a room with a few pieces of furniture and small objects, a command such as
"put the apple in the fridge and close it", a BDDL goal, and an oracle plan of 1 to 6 actions.
Distractor objects make the policy read the command rather than memorise one answer.

When the data engine's offline generator (``emx.datagen.offline``) is installed,
``household_tasks(source="datagen")`` uses it instead; the template stays the default so the
tiny preset's figures do not move when the generator changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..task import Task, compile_spec
from ..tasks.sources import TaskSpec

# category -> the word a person would use
MOVABLE = {
    "apple.n.01": "apple", "banana.n.02": "banana", "orange.n.01": "orange", "bowl.n.01": "bowl",
    "plate.n.04": "plate", "mug.n.04": "mug", "book.n.02": "book", "pen.n.01": "pen",
    "shoe.n.01": "shoe", "hat.n.01": "hat", "candle.n.01": "candle", "egg.n.02": "egg",
    "tomato.n.01": "tomato", "carrot.n.03": "carrot", "spoon.n.01": "spoon", "bottle.n.01": "bottle",
}
SURFACE = {
    "countertop.n.01": "counter", "table.n.02": "table", "shelf.n.01": "shelf", "desk.n.01": "desk",
}
OPENABLE = {
    "cabinet.n.01": "cabinet", "electric_refrigerator.n.01": "fridge", "microwave.n.02": "microwave",
    "oven.n.01": "oven", "dishwasher.n.01": "dishwasher",
}
OPEN_CONTAINER = {"basket.n.01": "basket", "bucket.n.01": "bucket"}
TOGGLEABLE = {"lamp.n.02": "lamp", "television_receiver.n.01": "television", "radio_receiver.n.01": "radio"}

KINDS = ("ontop", "inside_open", "inside_closed", "inside_close", "open", "toggle", "two_ontop",
         "inside_toggle", "two_inside_close")


@dataclass(frozen=True)
class _Obj:
    cat: str
    word: str
    fixed: bool

    @property
    def name(self) -> str:
        return f"{self.cat}_1"


# Categories training never sees: the novel-category held-out set is made of them (see
# emx.train.splits). One of each role the template needs at least two of still leaves enough.
RESERVED = frozenset({"tomato.n.01", "carrot.n.03", "spoon.n.01", "bottle.n.01", "desk.n.01", "dishwasher.n.01",
                      "radio_receiver.n.01", "bucket.n.01"})
# Goal shapes only the compositional held-out set has: each combines shapes training does have.
HELD_OUT_KINDS = ("inside_toggle",)


def _pick(rng: random.Random, table: dict[str, str], k: int, fixed: bool, taken: set[str],
          exclude: frozenset[str] = frozenset()) -> list[_Obj]:
    cats = [c for c in table if c not in taken and c not in exclude]
    chosen = rng.sample(cats, k)
    taken.update(chosen)
    return [_Obj(c, table[c], fixed) for c in chosen]


def _bddl(name: str, objs: list[_Obj], init: list[str], goal: list[str]) -> str:
    lines = [f"(define (problem {name})", "    (:domain omnigibson)", "    (:objects"]
    by_cat: dict[str, list[str]] = {}
    for o in objs:
        by_cat.setdefault(o.cat, []).append(o.name)
    for cat, names in by_cat.items():
        lines.append(f"        {' '.join(names)} - {cat}")
    lines += ["        floor.n.01_1 - floor.n.01", "        agent.n.01_1 - agent.n.01", "    )", "    (:init"]
    lines += [f"        {lit}" for lit in init]
    lines += ["        (inroom floor.n.01_1 kitchen)", "        (ontop agent.n.01_1 floor.n.01_1)", "    )",
              "    (:goal", "        (and"]
    lines += [f"            {g}" for g in goal]
    lines += ["        )", "    )", ")"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Draft:
    """One template task before it has an id: what the split needs to classify it."""

    kind: str
    command: str
    goal: tuple[str, ...]
    init: tuple[str, ...]
    objs: tuple[_Obj, ...]

    @property
    def categories(self) -> dict[str, str]:
        return {o.name: o.cat for o in self.objs} | {"floor.n.01_1": "floor.n.01", "agent.n.01_1": "agent.n.01"}

    def text(self, task_id: str) -> str:
        return _bddl(task_id, list(self.objs), list(self.init), list(self.goal))


def template_draft(rng: random.Random, index: int = 0, tables: str = "all", kind: str | None = None) -> Draft:
    """One random task. tables: "all" categories, or "train" (without RESERVED)."""
    if tables not in ("all", "train"):
        raise ValueError(f"tables must be 'all' or 'train', got {tables!r}")
    ex = RESERVED if tables == "train" else frozenset()
    kind = kind or rng.choice(KINDS)
    taken: set[str] = set()
    surfaces = _pick(rng, SURFACE, 2, True, taken, ex)
    closed = _pick(rng, OPENABLE, 1 if kind not in ("inside_closed", "inside_close", "two_inside_close", "open") else 2,
                   True, taken, ex)
    baskets = _pick(rng, OPEN_CONTAINER, 1, False, taken, ex)
    toggles = _pick(rng, TOGGLEABLE, 2, True, taken, ex)
    items = _pick(rng, MOVABLE, rng.randint(2, 4), False, taken, ex)
    x, y = items[0], items[1]
    s, c, b, t = surfaces[0], closed[0], baskets[0], toggles[0]

    if kind == "ontop":
        s = surfaces[1]
        command, goal = f"put the {x.word} on the {s.word}", [f"(ontop ?{x.name} ?{s.name})"]
    elif kind == "inside_open":
        command, goal = f"put the {x.word} in the {b.word}", [f"(inside ?{x.name} ?{b.name})"]
    elif kind == "inside_closed":
        command, goal = f"put the {x.word} in the {c.word}", [f"(inside ?{x.name} ?{c.name})"]
    elif kind == "inside_close":
        command = f"put the {x.word} in the {c.word} and close it"
        goal = [f"(inside ?{x.name} ?{c.name})", f"(not (open ?{c.name}))"]
    elif kind == "open":
        command, goal = f"open the {c.word}", [f"(open ?{c.name})"]
    elif kind == "toggle":
        command, goal = f"turn on the {t.word}", [f"(toggled_on ?{t.name})"]
    elif kind == "two_ontop":
        s = surfaces[1]
        command = f"put the {x.word} and the {y.word} on the {s.word}"
        goal = [f"(ontop ?{x.name} ?{s.name})", f"(ontop ?{y.name} ?{s.name})"]
    elif kind == "inside_toggle":
        command = f"put the {x.word} in the {b.word} and turn on the {t.word}"
        goal = [f"(inside ?{x.name} ?{b.name})", f"(toggled_on ?{t.name})"]
    else:  # two_inside_close
        command = f"put the {x.word} and the {y.word} in the {c.word} and close it"
        goal = [f"(inside ?{x.name} ?{c.name})", f"(inside ?{y.name} ?{c.name})", f"(not (open ?{c.name}))"]

    init = []
    furniture = surfaces + closed + toggles
    for f in furniture:
        init.append(f"(inroom {f.name} kitchen)")
    for f in closed:
        init.append(f"(not (open {f.name}))")
    for f in toggles:
        init.append(f"(not (toggled_on {f.name}))")
    init.append(f"(ontop {b.name} {surfaces[0].name})")
    for it in items:  # the goal surface, when there is one, is surfaces[1]
        init.append(f"(ontop {it.name} {surfaces[0].name})")
    objs = furniture + baskets + items
    rng.shuffle(objs)  # the object list order carries no hint
    return Draft(kind, command, tuple(goal), tuple(init), tuple(objs))


def kind_template(kind: str) -> str:
    """The goal template (emx.train.splits) of a task kind."""
    from .splits import signature_of

    d = template_draft(random.Random(0), kind=kind)
    return signature_of(d.goal, d.categories).template


def template_task(rng: random.Random, index: int) -> tuple[str, str, str]:
    """(task id, command, BDDL text) of one random task (any category)."""
    d = template_draft(rng, index)
    task_id = f"tiny_{index:05d}_{d.kind}"
    return task_id, d.command, d.text(task_id)


def template_tasks(n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        task_id, command, text = template_task(rng, i)
        spec = TaskSpec(id=f"s{seed}_{task_id}", source="tiny", bddl_text=text, filename=f"<tiny:{task_id}>",
                        command=command)
        tasks.append(compile_spec(spec))
    return tasks


def household_tasks(n: int, seed: int, source: str = "template") -> list[Task]:
    """`n` simple household tasks, deterministic in `seed`. source: "template" or "datagen"."""
    if source == "datagen":
        from ..datagen import offline  # the data engine's model-free generator

        return offline_tasks(offline, n, seed)
    if source != "template":
        raise ValueError(f"unknown tiny task source {source!r} (expected 'template' or 'datagen')")
    return template_tasks(n, seed)


def offline_tasks(offline, n: int, seed: int) -> list[Task]:
    out = []
    for i, item in enumerate(offline.generate_tasks(n, seed)):
        if isinstance(item, Task):
            out.append(item)
        elif isinstance(item, TaskSpec):
            out.append(compile_spec(item))
        else:
            out.append(compile_spec(TaskSpec(id=f"gen_{seed}_{i:05d}", source="datagen", bddl_text=str(item),
                                             filename=f"<datagen:{i}>", command="")))
    return out
