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
    """POLICY strings of the CLI: ``oracle``, ``file:PLANS.jsonl``, ``vllm:MODEL_DIR`` (a local
    model directory; nothing is downloaded) and ``openai:BASE_URL[#MODEL]`` (any
    OpenAI-compatible server; the key comes from $OPENAI_API_KEY)."""
    from .file import FilePolicy
    from .oracle import OraclePolicy

    if spec == "oracle":
        return OraclePolicy()
    kind, _, arg = spec.partition(":")
    if kind == "file" and arg:
        return FilePolicy(arg)
    if kind == "vllm" and arg:
        from .vllm_policy import VLLMPolicy

        return VLLMPolicy(arg)
    if kind == "openai" and arg:
        from .openai_policy import OpenAICompatiblePolicy

        url, _, model = arg.partition("#")
        return OpenAICompatiblePolicy(url, model or None)
    raise ValueError(f"unknown policy {spec!r}: expected oracle, file:PLANS.jsonl, vllm:MODEL_DIR or openai:BASE_URL")
