"""``--json`` output: exactly one JSON object on stdout, whatever else runs.

Libraries emx drives write logs to file descriptor 1 -- vLLM's logger and its engine process,
Ray, SAPIEN -- which would corrupt the JSON a caller parses. In JSON mode the command runs with
fd 1 pointed at stderr (child processes inherit that), and the JSON goes to the real stdout.
When Python's ``sys.stdout`` is not fd 1 (a test capturing output, an embedding program), the
JSON goes to that object instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_stream: TextIO | None = None


def print_json(obj: Any) -> None:
    out = _stream or sys.stdout
    out.write(json.dumps(obj, indent=None, default=str) + "\n")
    out.flush()


def _writes_to_fd1(stream: Any) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def json_mode(restore: bool = True) -> Iterator[None]:
    """While active, fd 1 carries logs to stderr and print_json writes to the real stdout.
    ``restore=False`` (the ``emx`` process itself) leaves fd 1 on stderr afterwards, because
    engines log again while the interpreter shuts down."""
    global _stream
    python_stdout = sys.stdout
    python_stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:           # no fd 1 (embedded interpreters): nothing to protect
        yield
        return
    os.dup2(2, 1)
    real = os.fdopen(saved, "w", encoding="utf-8", closefd=False) if _writes_to_fd1(python_stdout) else None
    _stream = real or python_stdout
    try:
        yield
    finally:
        _stream = None
        if real is not None:
            real.flush()
        if restore:
            os.dup2(saved, 1)
        os.close(saved)
