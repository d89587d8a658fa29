"""``--json`` output: exactly one JSON object on stdout, whatever else runs.

Libraries emx drives write logs to file descriptor 1 -- vLLM's logger and its engine process,
Ray, SAPIEN -- which would corrupt the JSON a caller parses. In JSON mode the command runs with
fd 1 pointed at stderr (child processes inherit that), and the JSON goes to the real stdout.
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


@contextlib.contextmanager
def json_mode(restore: bool = True) -> Iterator[None]:
    """While active, stdout (fd 1 and sys.stdout) carries logs to stderr; print_json writes to
    the real stdout. ``restore=False`` (the CLI) leaves fd 1 on stderr afterwards, because
    engines log again while the interpreter shuts down."""
    global _stream
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:           # no fd 1 (embedded interpreters): nothing to protect
        yield
        return
    os.dup2(2, 1)
    real = os.fdopen(saved, "w", encoding="utf-8", closefd=True)
    _stream = real
    try:
        yield
    finally:
        sys.stdout.flush()
        _stream = None
        real.flush()
        if restore:
            os.dup2(saved, 1)
        real.close()
