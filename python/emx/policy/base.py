from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..task import Task


class Policy(Protocol):
    name: str

    def plan(self, tasks: Sequence[Task]) -> list[Any]:
        """One plan per task: raw model text, a list of EAI action dicts, or an emx Plan."""
        ...


def make_policy(spec: str) -> Policy:
    """POLICY strings of the CLI: ``oracle``, ``file:PLANS.jsonl``. (``vllm:MODEL_DIR`` and
    ``openai:BASE_URL`` come with the training-loop work.)"""
    from .file import FilePolicy
    from .oracle import OraclePolicy

    if spec == "oracle":
        return OraclePolicy()
    kind, _, arg = spec.partition(":")
    if kind == "file" and arg:
        return FilePolicy(arg)
    if kind in ("vllm", "openai"):
        raise ValueError(f"policy {kind!r} is not available in this version of emx (supported: oracle, file:PLANS.jsonl)")
    raise ValueError(f"unknown policy {spec!r}: expected 'oracle' or 'file:PLANS.jsonl'")
