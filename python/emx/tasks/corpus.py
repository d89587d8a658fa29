"""Loading a task source for a command: every good file, and a report of the bad ones.

``emx tasks``, ``eval``, ``gen scenes|report`` and ``serve`` read their sources through
``load_reporting``: bad files of a corpus (a directory, ``bddl``, ``eai-behavior``) are skipped
and shown as a table on stderr (file:line:col and the message); ``--json`` output carries them
as ``skipped``; ``--strict`` makes the first bad file an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["load_reporting", "print_skipped", "skipped_json"]


def load_reporting(sources: str | Sequence[str], limit: int | None = None, strict: bool = False,
                   console: Any = None, show: bool = True, semantics: str | None = None):
    """``emx.load_tasks`` of one source or several (concatenated), without the Python warning:
    when ``show``, the skipped files are printed as a table on ``console`` (stderr by default).
    Returns a TaskList whose ``skipped`` covers every source."""
    from ..task import SkippedTasksWarning, TaskList, load_tasks

    srcs = [sources] if isinstance(sources, str) else list(sources)
    out = TaskList(source=", ".join(srcs))
    for src in srcs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedTasksWarning)
            part = load_tasks(src, limit=limit, strict=strict, semantics=semantics)
        out.extend(part)
        out.skipped.extend(part.skipped)
    if show and out.skipped:
        print_skipped(out.skipped, console)
    return out


def skipped_json(skipped: Iterable[Any]) -> list[dict[str, Any]]:
    return [s.to_dict() for s in skipped]


def print_skipped(skipped: Sequence[Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(stderr=True)
    table = Table(title=f"skipped {len(skipped)} bad task file(s) (--strict makes this an error)",
                  title_style="yellow")
    table.add_column("file:line:col", overflow="fold")
    table.add_column("error", overflow="fold")
    for s in skipped:
        table.add_row(Text(f"{s.file}:{s.line}:{s.column}"), Text(s.message))
    console.print(table, highlight=False)
