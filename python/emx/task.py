"""Tasks: a TaskSpec (where the BDDL came from) compiled by the C++ core into an
immutable task. ``emx.load_task`` / ``emx.load_tasks`` are the entry points."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

from . import _core
from .tasks.knowledge import load_abilities
from .tasks.sources import TaskSpec, resolve_source


@functools.lru_cache(maxsize=1)
def knowledge_base() -> _core.KnowledgeBase:
    """The category -> abilities table from the bddl package, as the C++ core reads it."""
    return _core.KnowledgeBase({cat: sorted(names) for cat, names in load_abilities().items()})


@dataclass(frozen=True)
class ObjectInfo:
    index: int
    name: str
    category: str
    abilities: tuple[str, ...]
    part_of: str | None
    room: str | None


@dataclass(frozen=True, eq=False)
class Task:
    """A compiled task. Cheap to share: the C++ task is immutable."""

    spec: TaskSpec
    core: _core.Task = field(repr=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def command(self) -> str:
        return self.spec.command

    @property
    def source(self) -> str:
        return self.spec.source

    @functools.cached_property
    def objects(self) -> tuple[ObjectInfo, ...]:
        objs = self.core.objects
        return tuple(
            ObjectInfo(i, name, cat, tuple(ab), objs[whole][0] if whole >= 0 else None, room)
            for i, (name, cat, ab, whole, room) in enumerate(objs)
        )

    @property
    def visible_objects(self) -> tuple[ObjectInfo, ...]:
        """Objects a policy is told about (slice parts appear only after slicing)."""
        return tuple(o for o in self.objects if o.part_of is None and "agent" not in o.abilities)

    @property
    def goal_conditions(self) -> list[str]:
        return self.core.goal_conditions

    @property
    def warnings(self) -> list[str]:
        return self.core.warnings

    def __repr__(self) -> str:
        return f"Task({self.id!r}, objects={self.core.num_objects}, goal_conditions={len(self.goal_conditions)})"


def compile_spec(spec: TaskSpec) -> Task:
    """Compiles one spec. Raises emx.errors.BddlError naming file:line:col."""
    return Task(spec, _core.compile_task(spec.bddl_text, spec.filename, knowledge_base()))


def load_tasks(src: str, limit: int | None = None) -> list[Task]:
    """All tasks of a source: 'eai-behavior', 'eai-behavior:ID', 'bddl', 'bddl:ACTIVITY', a
    .bddl file or a directory of them."""
    return [compile_spec(spec) for spec in resolve_source(src, limit=limit)]


def load_task(src: str) -> Task:
    """Exactly one task (a source that names one)."""
    specs = resolve_source(src)
    if len(specs) != 1:
        raise ValueError(f"task source {src!r} holds {len(specs)} tasks; use load_tasks, or name one task")
    return compile_spec(specs[0])


def warn_unknown_categories(task: Task) -> None:
    for w in task.warnings:
        if "unknown category" in w:
            warnings.warn(w, stacklevel=2)
