"""Tasks: a TaskSpec (where the BDDL came from) compiled by the C++ core into an
immutable task. ``emx.load_task`` / ``emx.load_tasks`` are the entry points."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

from . import _core
from .errors import BddlError, TaskSourceError
from .tasks.knowledge import load_abilities
from .tasks.sources import SkippedFile, TaskSpec, is_corpus_source, iter_source, resolve_source


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


class SkippedTasksWarning(UserWarning):
    """``emx.load_tasks`` left out bad files of a corpus source (see the list's ``skipped``)."""


class TaskList(list):
    """The tasks ``emx.load_tasks`` returns: a plain list of Task, plus ``skipped``, the bad files
    of the source that were left out (``SkippedFile``: file, line, column, message), in order."""

    skipped: list[SkippedFile]
    source: str

    def __init__(self, tasks=(), skipped=(), source: str = "") -> None:
        super().__init__(tasks)
        self.skipped = list(skipped)
        self.source = source


def load_tasks(src: str, limit: int | None = None, strict: bool = False) -> TaskList:
    """All tasks of a source: 'eai-behavior', 'eai-behavior:ID', 'bddl', 'bddl:ACTIVITY', a
    .bddl file or a directory of them; at most ``limit`` (counting tasks loaded, not files).

    A corpus source (a directory, 'bddl', 'eai-behavior') loads every good file: a file that is
    not UTF-8 or does not parse or compile is left out and listed in the result's ``skipped``
    (file, line, column, message), with one ``SkippedTasksWarning``. ``strict=True`` raises the
    first bad file's ``BddlError`` instead. A source naming one task always raises, as does a
    corpus in which no file loads."""
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise TaskSourceError(f"limit must be a non-negative integer, got {limit!r}")
    lenient = not strict and is_corpus_source(src)
    entries = iter_source(src)
    tasks = TaskList(source=src)
    errors: list[BddlError] = []
    if limit == 0:
        return tasks
    for item in entries:
        if isinstance(item, BddlError):
            error = item
        else:
            try:
                tasks.append(compile_spec(item))
            except BddlError as e:
                error = e
            else:
                if limit is not None and len(tasks) >= limit:
                    break
                continue
        if not lenient:
            raise error
        errors.append(error)
    tasks.skipped = [SkippedFile.from_error(e) for e in errors]
    if errors and not tasks:
        shown = "; ".join(str(e) for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise TaskSourceError(f"{src}: no task loads; {len(errors)} bad file(s): {shown}{more}")
    if errors:
        warnings.warn(f"{src}: skipped {len(errors)} bad task file(s), e.g. {errors[0]} "
                      "(the list's .skipped names them all; strict=True makes this an error)",
                      SkippedTasksWarning, stacklevel=2)
    return tasks


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
