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
    OpenAI-compatible server; the key comes from $OPENAI_API_KEY), ``mimo:MODEL_DIR[#OPTIONS]``
    (MiMo-Embodied or another Qwen2.5-VL-architecture reasoning VLM; OPTIONS, comma-separated:
    ``think`` turns thinking on, ``text`` leaves out the schematic image, ``transformers`` or
    ``vllm`` picks the backend)."""
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
    if kind == "wall" and arg:
        # wall:MODEL_DIR[#next_subtask]: a WALL-OSS-style hierarchical policy (emx.hierarchy)
        from ..hierarchy.policy import WallOSSStylePolicy

        model_dir, _, query = arg.partition("#")
        return WallOSSStylePolicy(model_dir, query=query or "plan")
    if kind == "mimo" and arg:
        from .mimo import MiMoEmbodiedPolicy

        model_dir, _, options = arg.partition("#")
        opts = {o.strip() for o in options.split(",") if o.strip()}
        unknown = opts - {"think", "text", "transformers", "vllm"}
        if unknown or {"transformers", "vllm"} <= opts:
            raise ValueError(f"bad mimo policy options {options!r}: expected think, text, and vllm or transformers")
        backend = "transformers" if "transformers" in opts else "vllm" if "vllm" in opts else "auto"
        return MiMoEmbodiedPolicy(model_dir, thinking="think" in opts, backend=backend,
                                  observations=("text",) if "text" in opts else ("text", "schematic"))
    if kind == "openai" and arg:
        from .openai_policy import OpenAICompatiblePolicy

        url, _, model = arg.partition("#")
        return OpenAICompatiblePolicy(url, model or None)
    raise ValueError(f"unknown policy {spec!r}: expected oracle, file:PLANS.jsonl, vllm:MODEL_DIR, "
                     "mimo:MODEL_DIR or openai:BASE_URL")
