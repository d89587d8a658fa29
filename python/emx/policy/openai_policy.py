"""Any OpenAI-compatible chat server as a policy (``openai:BASE_URL``): vLLM's or SGLang's server,
a hosted API, a local proxy.

The model name comes from the argument, else ``EMX_OPENAI_MODEL``, else the server's first model
(``GET /models``). The key is read from an environment variable (``OPENAI_API_KEY`` by default),
never from the command line. Only the standard library is used, so nothing extra is installed.
A request that fails after its retries gives an empty plan for that task (a format failure), with
the reason kept in ``errors``: a flaky server must not stop an evaluation.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..task import Task
from .vllm_policy import PROMPT_FORMATS, prompt_text


def _openai_content(content: Any) -> Any:
    """A chat message's content in the OpenAI form: images as PNG data URLs."""
    if isinstance(content, str):
        return content
    parts = []
    for p in content:
        if p.get("type") == "image":
            import base64
            import io

            import matplotlib.image as mpimg

            buf = io.BytesIO()
            mpimg.imsave(buf, p["image"], format="png")
            url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif p.get("type") == "text":
            parts.append({"type": "text", "text": p.get("text", "")})
    return parts


class OpenAICompatiblePolicy:
    observations: tuple[str, ...] = ("text",)

    def __init__(self, base_url: str, model: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 prompt_format: str = "eai", temperature: float = 0.0, max_tokens: int = 1024,
                 stop: Sequence[str] | None = None, seed: int | None = 0, timeout: float = 120.0,
                 retries: int = 2, concurrency: int = 8, system_prompt: str | None = None,
                 observations: Sequence[str] = ("text",)) -> None:
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"unknown prompt format {prompt_format!r} (expected one of {', '.join(PROMPT_FORMATS)})")
        url = base_url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        if not url.endswith("/v1"):
            url += "/v1"
        self.base_url = url
        self.api_key = os.environ.get(api_key_env, "")
        self._model = model or os.environ.get("EMX_OPENAI_MODEL") or None
        self.prompt_format = prompt_format
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop = list(stop or [])
        self.seed = seed
        self.timeout = timeout
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.system_prompt = system_prompt
        self.name = f"openai:{base_url}"
        self.errors: dict[str, str] = {}
        # a VLM behind the server (e.g. MiMo-Embodied on vLLM's server) can take ("text", "schematic")
        self.observations = tuple(observations)

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user-given URL
            return json.loads(resp.read().decode("utf-8"))

    @property
    def model(self) -> str:
        if self._model is None:
            models = self._request("GET", "/models").get("data") or []
            if not models:
                raise ValueError(f"{self.base_url}/models lists no model; pass one (model=... or EMX_OPENAI_MODEL)")
            self._model = str(models[0]["id"])
        return self._model

    def _one(self, task: Task) -> str:
        return self._chat([{"role": "user", "content": prompt_text(task, self.prompt_format)}], task.id)

    def _chat(self, messages: list[dict], key: str, seed_offset: int = 0) -> str:
        messages = [{"role": m["role"], "content": _openai_content(m["content"])} for m in messages]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature,
                                "max_tokens": self.max_tokens}
        if self.stop:
            body["stop"] = self.stop
        if self.seed is not None:
            body["seed"] = self.seed + seed_offset
        last = ""
        for attempt in range(self.retries + 1):
            try:
                out = self._request("POST", "/chat/completions", body)
                content = out["choices"][0]["message"].get("content")
                return content if isinstance(content, str) else ""
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
                last = f"{type(e).__name__}: {e}"
                if isinstance(e, urllib.error.HTTPError) and 400 <= e.code < 500 and e.code != 429:
                    break  # the request itself is wrong: retrying will not help
                time.sleep(min(2.0 ** attempt, 10.0) * 0.1)
        self.errors[key] = last
        return ""

    def plan(self, tasks: Sequence[Task]) -> list[str]:
        if not tasks:
            return []
        _ = self.model  # resolve once, before the threads start
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(tasks))) as pool:
            return list(pool.map(self._one, tasks))

    def respond(self, conversations: Sequence[Sequence[dict]]) -> list[str]:
        """Closed-loop episodes: the next assistant turn of each conversation (concurrent requests,
        request i seeded with seed + i; a failed request is an empty, unparseable turn, its reason
        kept in ``errors[str(i)]``)."""
        if not conversations:
            return []
        _ = self.model
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda ic: self._chat(list(ic[1]), str(ic[0]), ic[0]), enumerate(conversations)))
