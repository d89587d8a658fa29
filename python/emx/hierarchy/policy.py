"""A WALL-OSS-style hierarchical policy (``wall:MODEL_DIR[#next_subtask]``): any local LLM or VLM
served by vLLM's offline engine, prompted for the three-level answer (``query="plan"``) or for
the next sub-task only (``query="next_subtask"``).

Only the model's text head is used: emx sends text prompts and reads text back. ``model_dir`` may
also be the URL of an OpenAI-compatible chat server (``http://HOST:PORT[/v1]``; the model name
from ``EMX_OPENAI_MODEL`` or the server's first model, the key from ``$OPENAI_API_KEY``) for a
checkpoint vLLM cannot load itself; a request that fails gives "" (a format failure). ``plan(tasks)``
returns the raw answers, to be scored with `evaluate_hierarchical` (plan query) or read with
`parse_next_subtask`; ``respond(conversations)`` continues closed-loop conversations (lists of
``{"role", "content"}`` messages) for an episode runner. As with `VLLMPolicy`, a script that uses
this policy must guard its entry point with ``if __name__ == "__main__":`` (vLLM starts an
engine process).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..policy.vllm_policy import VLLMPolicy, chat_prompt
from ..task import Task
from .prompts import hierarchical_prompt, next_subtask_prompt

__all__ = ["WallOSSStylePolicy", "QUERIES"]

QUERIES = ("plan", "next_subtask")


class WallOSSStylePolicy:
    observations = ("text",)

    def __init__(self, model_dir: str | os.PathLike, *, query: str = "plan", temperature: float = 0.0,
                 top_p: float = 1.0, max_tokens: int = 1024, stop: Sequence[str] | None = None, seed: int = 0,
                 use_chat_template: bool = True, system_prompt: str | None = None, llm: Any = None,
                 **engine_kwargs: Any) -> None:
        if query not in QUERIES:
            raise ValueError(f"unknown query {query!r} (expected one of {', '.join(QUERIES)})")
        self.model = str(model_dir)
        self.query = query
        # `emx eval` scores whole answers level by level (emx.eval.runner.scoring_of)
        self.answers = "hierarchical" if query == "plan" else "plan"
        self.name = f"wall:{self.model}" + ("#next_subtask" if query == "next_subtask" else "")
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = int(max_tokens)
        self.stop = list(stop or [])
        self.seed = seed
        self.use_chat_template = use_chat_template
        self.system_prompt = system_prompt
        # the engine and tokenizer are the plain vLLM policy's (loaded on first use)
        self._engine = VLLMPolicy(self.model, prompt_format="eai", temperature=temperature, top_p=top_p,
                                  max_tokens=self.max_tokens, stop=self.stop, seed=seed,
                                  use_chat_template=use_chat_template, llm=llm, **engine_kwargs) \
            if not self.model.startswith(("http://", "https://")) else None
        self._server = None
        if self.model.startswith(("http://", "https://")):
            from ..policy.openai_policy import OpenAICompatiblePolicy

            self._server = OpenAICompatiblePolicy(self.model, temperature=temperature, max_tokens=self.max_tokens,
                                                  stop=self.stop, seed=seed)

    @property
    def errors(self) -> dict[str, str]:
        """Server mode: the reason of each failed request, by conversation index."""
        return self._server.errors if self._server is not None else {}

    @property
    def llm(self):
        return self._engine.llm

    @property
    def tokenizer(self):
        return self._engine.tokenizer

    def task_prompt(self, task: Task) -> str:
        return next_subtask_prompt(task) if self.query == "next_subtask" else hierarchical_prompt(task)

    def initial_conversation(self, task: Task) -> list[dict[str, str]]:
        """The first turn(s) of a closed-loop conversation about `task`."""
        messages = [{"role": "user", "content": self.task_prompt(task)}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return messages

    def _render(self, messages: Sequence[dict[str, str]]) -> str:
        tok = self.tokenizer
        if self.use_chat_template and getattr(tok, "chat_template", None):
            return tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        if len(messages) == 1:
            return chat_prompt(tok, messages[0]["content"], use_chat_template=False)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"

    def _generate(self, texts: list[str]) -> list[str]:
        tok = self.tokenizer
        return self._engine.generate_ids([list(tok(t, add_special_tokens=False)["input_ids"]) for t in texts])

    def _answer(self, conversations: list[list[dict[str, str]]]) -> list[str]:
        if not conversations:
            return []
        if self._server is not None:
            return self._server.respond(conversations)
        return self._generate([self._render(conv) for conv in conversations])

    def plan(self, tasks: Sequence[Task]) -> list[str]:
        """One raw answer per task to this policy's query."""
        return self._answer([self.initial_conversation(t) for t in tasks])

    def respond(self, conversations: Sequence[Sequence[dict[str, str]]]) -> list[str]:
        """The next assistant turn of each conversation (``[{"role", "content": str}, ...]``)."""
        for conv in conversations:
            for m in conv:
                if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                    raise ValueError('each message must be {"role": str, "content": str}')
        return self._answer([list(conv) for conv in conversations])
