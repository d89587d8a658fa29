"""Task sources: turn a SRC string (``emx tasks list --source SRC``, ``emx eval --tasks SRC``,
``emx.load_tasks(SRC)``) into BDDL problem texts with stable ids.

Forms (the design's contract):

    eai-behavior              the 100 EAI BEHAVIOR tasks, in the benchmark's order
    eai-behavior:ID           one of them, by EAI identifier or by a unique activity name/prefix
    bddl                      every BEHAVIOR-1K activity shipped in the bddl package, sorted
    bddl:ACTIVITY             one of them
    PATH.bddl                 one problem file
    DIR                       every *.bddl under DIR (recursively), sorted by relative path;
                              domain files ``(define (domain ...``) are skipped

Ids are what plans files refer to, so they depend only on the task itself: the EAI identifier,
the activity name, the file stem for a single file, and the path relative to DIR (posix
separators, no ``.bddl``) for a directory.

Every error is a ``TaskSourceError`` (a ValueError) whose message says what was wrong and what
would be accepted, since it is shown to a person at the command line.

Corpus sources (a directory, ``bddl``, ``eai-behavior``) can hold a bad file among good ones:
``iter_source`` yields the ``BddlError`` of a file it cannot read in that file's place, so that a
caller (``emx.load_tasks``) can skip it and go on; ``resolve_source`` raises it.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import TaskSourceError
from ..errors import BddlError
from .eai import EaiTask, eai_to_bddl, load_eai_tasks

__all__ = ["TaskSpec", "SkippedFile", "resolve_source", "iter_source", "is_corpus_source", "bddl_activities",
           "SOURCE_FORMS"]

SOURCE_FORMS = (
    "eai-behavior",
    "eai-behavior:IDENTIFIER (or a unique activity name)",
    "bddl",
    "bddl:ACTIVITY",
    "a path to a .bddl file",
    "a directory of .bddl files (searched recursively)",
)

_PROBLEM_NAME_RE = re.compile(r"\(\s*define\s*\(\s*problem\s+([^\s()]+)", re.IGNORECASE)
_DOMAIN_FILE_RE = re.compile(r"^\s*(;[^\n]*\n\s*)*\(\s*define\s*\(\s*domain\b", re.IGNORECASE)
# "assembling_gift_baskets-0", "put_the_apple_in_the_fridge_3": the instance number is not words
_INSTANCE_SUFFIX_RE = re.compile(r"[-_]\d+$")
_GENERIC_STEM_RE = re.compile(r"^problem\d*$", re.IGNORECASE)


@dataclass(frozen=True)
class TaskSpec:
    id: str            # what `emx tasks list` prints: EAI identifier, bddl activity name, or file stem/relative path
    source: str        # "eai-behavior" | "bddl" | "file"
    bddl_text: str
    filename: str      # path, or "<eai:identifier>", for error messages
    command: str       # the natural-language command given to the policy
    eai: EaiTask | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A task file of a corpus source that was left out, and where it went wrong."""

    file: str
    line: int
    column: int
    message: str

    @classmethod
    def from_error(cls, e: BddlError) -> "SkippedFile":
        return cls(e.file, e.line, e.column, e.message)

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


def _words(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").split())


def _forms_help() -> str:
    return "valid task sources: " + "; ".join(SOURCE_FORMS)


def _no_match(kind: str, wanted: str, candidates: list[str]) -> TaskSourceError:
    close = difflib.get_close_matches(wanted, candidates, n=5, cutoff=0.6)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    return TaskSourceError(f"no {kind} named {wanted!r}{hint}")


# --------------------------------------------------------------------------- eai-behavior

def _eai_spec(task: EaiTask) -> TaskSpec:
    return TaskSpec(
        id=task.identifier,
        source="eai-behavior",
        bddl_text=eai_to_bddl(task),
        filename=f"<eai:{task.identifier}>",
        command=_words(task.activity),
        eai=task,
    )


def _eai_select(key: str) -> EaiTask:
    tasks = load_eai_tasks()
    for task in tasks:
        if task.identifier == key:
            return task
    matches = [t for t in tasks if t.activity == key]
    if not matches:
        matches = [t for t in tasks if t.identifier.startswith(key) or t.activity.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(t.identifier for t in matches[:8])
        more = f" (and {len(matches) - 8} more)" if len(matches) > 8 else ""
        raise TaskSourceError(f"eai-behavior:{key} is ambiguous; it matches {names}{more}")
    candidates = [t.identifier for t in tasks] + [t.activity for t in tasks]
    raise _no_match("EAI BEHAVIOR task", key, candidates)


# --------------------------------------------------------------------------- bddl package

def _activity_dir() -> str:
    import bddl  # local: only the bddl forms need the package

    return os.path.join(os.path.dirname(bddl.__file__), "activity_definitions")


@functools.lru_cache(maxsize=1)
def _activities() -> tuple[str, ...]:
    root = _activity_dir()
    return tuple(sorted(
        name for name in os.listdir(root)
        if os.path.isfile(os.path.join(root, name, "problem0.bddl"))))


def bddl_activities() -> list[str]:
    """Names of the BEHAVIOR-1K activities shipped in the bddl package, sorted."""
    return list(_activities())


def _bddl_spec(activity: str) -> TaskSpec:
    path = os.path.join(_activity_dir(), activity, "problem0.bddl")
    return TaskSpec(id=activity, source="bddl", bddl_text=_read_text(path), filename=path,
                    command=_words(activity))


# --------------------------------------------------------------------------- files

def _read_text(path: str | os.PathLike[str]) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        # Name the line and column of the first bad byte, like every other BDDL error.
        head = e.object[:e.start]
        line = head.count(b"\n") + 1
        col = e.start - (head.rfind(b"\n") + 1) + 1
        where = f"{os.fspath(path)}:{line}:{col}"
        message = f"not UTF-8 text ({e.reason}, byte 0x{e.object[e.start]:02x})"
        raise BddlError(f"{where}: {message}", os.fspath(path), line, col, message) from None
    except OSError as e:
        raise TaskSourceError(f"{os.fspath(path)}: cannot read ({e.strerror})") from None


def _file_command(text: str, path: Path) -> str:
    """The problem name when it reads as a command (EmboMatrix names problems with whole
    sentences, 'put_the_apple_in_the_fridge'); otherwise the file's own name."""
    m = _PROBLEM_NAME_RE.search(text)
    if m:
        words = _words(_INSTANCE_SUFFIX_RE.sub("", m.group(1)))
        if len(words.split()) >= 2:
            return words
    stem = path.stem
    if _GENERIC_STEM_RE.match(stem) and path.parent.name:  # activity/problem0.bddl layout
        stem = path.parent.name
    return _words(stem)


def _file_spec(path: Path, task_id: str) -> TaskSpec:
    text = _read_text(path)
    return TaskSpec(id=task_id, source="file", bddl_text=text, filename=str(path),
                    command=_file_command(text, path))


def _is_domain_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    return bool(_DOMAIN_FILE_RE.match(head))


def _dir_entries(root: Path) -> Iterator[TaskSpec | BddlError]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.endswith(".bddl"):
                path = Path(dirpath) / name
                rel = path.relative_to(root).with_suffix("").as_posix()
                found.append((rel, path))
    found.sort()
    any_problem = False
    for rel, path in found:
        if _is_domain_file(path):
            continue
        any_problem = True
        try:
            spec = _file_spec(path, rel)
        except BddlError as e:      # not UTF-8: the caller decides whether to skip it
            yield e
            continue
        yield spec
    if not any_problem:
        raise TaskSourceError(f"{root}: no .bddl problem files in this directory or below")


# --------------------------------------------------------------------------- entry point

def is_corpus_source(src: str) -> bool:
    """Whether SRC names a collection (a directory, ``bddl``, ``eai-behavior``) rather than one
    task: only a collection can skip a bad file and still hold tasks."""
    src = src.strip() if isinstance(src, str) else src
    if src in ("eai-behavior", "bddl"):
        return True
    return isinstance(src, str) and bool(src) and Path(os.path.expanduser(src)).is_dir()


def iter_source(src: str) -> Iterator[TaskSpec | BddlError]:
    """Lazily, the entries of SRC in their stable order: a TaskSpec each, or, for a file of a
    directory source that cannot be read as text, its BddlError in its place. Errors about SRC
    itself (unknown form, no such task, empty directory) are raised."""
    if not isinstance(src, str) or not src.strip():
        raise TaskSourceError("empty task source; " + _forms_help())
    src = src.strip()

    if src == "eai-behavior":
        return (_eai_spec(t) for t in load_eai_tasks())
    if src.startswith("eai-behavior:"):
        key = src[len("eai-behavior:"):].strip()
        if not key:
            raise TaskSourceError("eai-behavior: needs a task identifier after the colon")
        return iter([_eai_spec(_eai_select(key))])
    if src == "bddl":
        return (_bddl_spec(a) for a in bddl_activities())
    if src.startswith("bddl:"):
        activity = src[len("bddl:"):].strip()
        if not activity:
            raise TaskSourceError("bddl: needs an activity name after the colon")
        if activity not in _activities():
            raise _no_match("BEHAVIOR-1K activity", activity, bddl_activities())
        return iter([_bddl_spec(activity)])

    path = Path(os.path.expanduser(src))
    if path.is_dir():
        return _dir_entries(path)
    if path.is_file():
        if path.suffix.lower() != ".bddl":
            raise TaskSourceError(f"{src}: not a .bddl file; " + _forms_help())
        return iter([_file_spec(path, path.stem)])
    if src.endswith(".bddl"):
        raise TaskSourceError(f"{src}: no such file")
    head = src.split(":", 1)[0]
    close = difflib.get_close_matches(head, ["eai-behavior", "bddl"], n=2, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise TaskSourceError(f"unknown task source {src!r}{hint}: not a known form and no such path; "
                          + _forms_help())


def resolve_source(src: str, limit: int | None = None) -> list[TaskSpec]:
    """The tasks a SRC string names, in a stable order; at most ``limit`` of them. A file that
    cannot be read raises its BddlError (``emx.load_tasks`` is the lenient reader)."""
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise TaskSourceError(f"limit must be a non-negative integer, got {limit!r}")
    entries = iter_source(src)
    specs: list[TaskSpec] = []
    if limit == 0:
        return specs
    for item in entries:
        if isinstance(item, BddlError):
            raise item
        specs.append(item)
        if limit is not None and len(specs) >= limit:
            break
    return specs
