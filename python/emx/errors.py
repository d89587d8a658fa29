"""Errors emx raises for bad input. Model output never raises: it becomes a
format failure inside a Result. These are for task files and user arguments."""

from __future__ import annotations


class EmxError(Exception):
    """Base class of emx's own errors."""


class BddlError(EmxError, ValueError):
    """A BDDL problem that cannot be parsed or compiled.

    ``str(e)`` is ``"file:line:col: message"``; the parts are attributes.
    """

    def __init__(self, text: str, file: str = "", line: int = 0, column: int = 0, message: str = "") -> None:
        super().__init__(text)
        self.file = file
        self.line = line
        self.column = column
        self.message = message or text


class TaskSourceError(EmxError, ValueError):
    """An unknown task source, or a task id that is not in it."""
