"""Tasks: a TaskSpec (where the BDDL came from) compiled by the C++ core into an
immutable task. ``emx.load_task`` / ``emx.load_tasks`` are the entry points."""

from __future__ import annotations

import dataclasses
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


SEMANTICS = ("eai", "embomatrix", "emx")
_PRAGMA = ";@emx "


def default_semantics(source: str) -> str:
    """The semantics profile a task source gets unless told otherwise: EAI's own
    tasks are judged by EAI's rules, everything else by emx's."""
    return "eai" if source == "eai-behavior" else "emx"


def _check_semantics(semantics: str) -> str:
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r} (expected one of {', '.join(SEMANTICS)})")
    return semantics


def _object_volumes(text: str, filename: str) -> list[tuple[str, float, bool]]:
    """(name, bounding-box volume in m^3, wall-mounted) of a problem's objects, from emx's size
    priors: the eai profile's grasp and place-inside rules compare volumes as EAI does with
    iGibson's boxes, and a wall-mounted object (window, top cabinet) stands on no floor."""
    from .scenes.sizes import size_prior
    from .tasks.knowledge import load_abilities

    abilities = load_abilities()
    out = []
    for name, category in _core.parse_problem(text, filename)["objects"]:
        if category in ("floor.n.01", "agent.n.01"):
            continue
        prior, _ = size_prior(category, name, fixed="fixed" in abilities.get(category, ()))
        out.append((name, float(prior.volume), prior.mount is not None))
    return out


def with_semantics_text(spec: TaskSpec, semantics: str) -> TaskSpec:
    """The spec with its semantics profile (and, for eai, object volumes and, for EAI's own
    tasks, the unary states each object has in EAI's scenes) written into the BDDL text as
    ';@emx' comment lines, so rollout workers compile the same task. For EAI's own tasks under
    eai the goal is the ground one EAI's task success checks (emx.tasks.eai.eai_goal_options)."""
    _check_semantics(semantics)
    text = spec.bddl_text
    if spec.eai is not None:  # EAI's own task: eai judges EAI's ground goal, the others the quantified one
        from .tasks.eai import eai_to_bddl

        text = eai_to_bddl(spec.eai, ground_goal=semantics == "eai")
    body = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(_PRAGMA))
    if semantics == "emx":  # the core's default: the text stays as written
        return spec if body == spec.bddl_text else dataclasses.replace(spec, bddl_text=body)
    # Appended, so line numbers in error messages stay those of the source.
    tail = [f"{_PRAGMA}semantics {semantics}"]
    if semantics == "eai":
        sizes = _object_volumes(body, spec.filename)
        tail += [f"{_PRAGMA}volume {name} {v:.6g}" for name, v, _ in sizes]
        tail += [f"{_PRAGMA}mounted {name}" for name, _, mounted in sizes if mounted]
        if spec.eai is not None:  # EAI's own scene data: the unary states each object has
            from .tasks.eai import eai_object_states

            tail += [f"{_PRAGMA}states {name} {','.join(ab)}".rstrip()
                     for name, ab in eai_object_states(spec.eai).items()]
    return dataclasses.replace(spec, bddl_text=body.rstrip("\n") + "\n" + "\n".join(tail) + "\n")


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

    @property
    def semantics(self) -> str:
        """The semantics profile the task was compiled with ("eai", "embomatrix", "emx")."""
        return self.core.semantics

    def with_semantics(self, semantics: str | None) -> "Task":
        """This task judged by another semantics profile (itself if it already is)."""
        if semantics is None or semantics == self.semantics:
            return self
        return compile_spec(self.spec, semantics)

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


def compile_spec(spec: TaskSpec, semantics: str | None = None) -> Task:
    """Compiles one spec under a semantics profile (default: the source's, see
    default_semantics). Raises emx.errors.BddlError naming file:line:col."""
    spec = with_semantics_text(spec, semantics or default_semantics(spec.source))
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


def load_tasks(src: str, limit: int | None = None, strict: bool = False,
               semantics: str | None = None) -> TaskList:
    """All tasks of a source: 'eai-behavior', 'eai-behavior:ID', 'bddl', 'bddl:ACTIVITY', a
    .bddl file or a directory of them; at most ``limit`` (counting tasks loaded, not files).

    A corpus source (a directory, 'bddl', 'eai-behavior') loads every good file: a file that is
    not UTF-8 or does not parse or compile is left out and listed in the result's ``skipped``
    (file, line, column, message), with one ``SkippedTasksWarning``. ``strict=True`` raises the
    first bad file's ``BddlError`` instead. A source naming one task always raises, as does a
    corpus in which no file loads. semantics: "eai", "embomatrix" or "emx" (default: the
    source's own: eai-behavior -> eai, others -> emx)."""
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
                tasks.append(compile_spec(item, semantics))
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


def load_task(src: str, semantics: str | None = None) -> Task:
    """Exactly one task (a source that names one)."""
    specs = resolve_source(src)
    if len(specs) != 1:
        raise ValueError(f"task source {src!r} holds {len(specs)} tasks; use load_tasks, or name one task")
    return compile_spec(specs[0], semantics)


def warn_unknown_categories(task: Task) -> None:
    for w in task.warnings:
        if "unknown category" in w:
            warnings.warn(w, stacklevel=2)
