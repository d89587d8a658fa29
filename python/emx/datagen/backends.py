"""Completion backends for the data-engine agents.

A backend is any object with ``name`` and

    complete(prompts: list[str], n: int = 1, *, max_tokens: int, temperature: float, seed: int | None)
        -> list[list[str]]          # n completions per prompt, in prompt order

Provided here:

* ``ScriptedBackend`` -- answers from a Python function (or a list), for tests and dry runs;
* ``VLLMBackend``     -- a local model through vLLM (CPU or GPU), built with
                         ``emx.policy.vllm_policy.create_llm``'s settings; ``wrap_policy(policy)``
                         puts the agents on a running ``VLLMPolicy``'s engine (no second engine);
* ``OpenAIBackend``   -- any OpenAI-compatible server (``/v1/chat/completions``), standard library
                         only;
* ``CachedBackend``   -- wraps another: answers are cached on disk by prompt hash (one file per
                         call, written atomically), so a re-run or a resumed run never asks the
                         model twice for the same prompt and parameters. The cache entry's hash
                         is the *transcript id* the metadata refers to.

``make_backend(spec)`` reads the CLI's forms: ``scripted:MODULE:FUNCTION``, ``vllm:MODEL_DIR``,
``openai:BASE_URL[#MODEL]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .dataset import atomic_write_text

__all__ = ["Backend", "CachedBackend", "OpenAIBackend", "ScriptedBackend", "VLLMBackend", "make_backend",
           "prompt_hash", "wrap_policy"]


class Backend(Protocol):
    name: str

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        ...


def prompt_hash(backend: str, prompt: str, n: int, max_tokens: int, temperature: float, seed: int | None) -> str:
    key = json.dumps([backend, prompt, n, max_tokens, round(float(temperature), 6), seed], ensure_ascii=False)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


class ScriptedBackend:
    """Answers with ``fn(prompt, k)`` (k: the sample index) or, given a list, the next item in
    turn (cycling). Counts its calls, so tests can check that cached work is not redone."""

    def __init__(self, fn: Callable[[str, int], str] | Sequence[str], name: str = "scripted") -> None:
        self.name = name
        self._fn = fn
        self._i = 0
        self.calls = 0          # complete() calls
        self.prompts = 0        # prompts answered

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        self.calls += 1
        self.prompts += len(prompts)
        out = []
        for p in prompts:
            row = []
            for k in range(n):
                if callable(self._fn):
                    row.append(str(self._fn(p, k)))
                else:
                    row.append(str(self._fn[self._i % len(self._fn)]))
                    self._i += 1
            out.append(row)
        return out


class CachedBackend:
    """A disk cache in front of a backend: ``DIR/<hash[:2]>/<hash>.json`` holds the prompt, the
    parameters and the completions. Only prompts missing from the cache go to the backend,
    in one batched call."""

    def __init__(self, inner: Any, cache_dir: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.dir = Path(cache_dir)
        self.hits = 0
        self.misses = 0

    def _path(self, h: str) -> Path:
        return self.dir / h[:2] / f"{h}.json"

    def lookup(self, h: str) -> list[str] | None:
        try:
            data = json.loads(self._path(h).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        out = data.get("completions")
        return [str(x) for x in out] if isinstance(out, list) else None

    def transcript(self, h: str) -> dict | None:
        try:
            return json.loads(self._path(h).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def complete_ids(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                     seed: int | None = None, roles: Sequence[str] | None = None) -> list[tuple[str, list[str]]]:
        """(transcript id, completions) per prompt."""
        hashes = [prompt_hash(self.name, p, n, max_tokens, temperature, seed) for p in prompts]
        results: dict[str, list[str]] = {}
        todo: list[int] = []
        for i, h in enumerate(hashes):
            if h in results:
                continue
            got = self.lookup(h)
            if got is not None and len(got) == n:
                results[h] = got
                self.hits += 1
            else:
                results[h] = []        # placeholder: asked once even if repeated in the batch
                todo.append(i)
        if todo:
            answers = self.inner.complete([prompts[i] for i in todo], n, max_tokens=max_tokens,
                                          temperature=temperature, seed=seed)
            for i, completions in zip(todo, answers):
                completions = [str(c) for c in completions]
                results[hashes[i]] = completions
                self.misses += 1
                record = {"id": hashes[i], "backend": self.name, "role": roles[i] if roles else None,
                          "prompt": prompts[i], "n": n, "max_tokens": max_tokens, "temperature": temperature,
                          "seed": seed, "completions": completions}
                atomic_write_text(self._path(hashes[i]), json.dumps(record, ensure_ascii=False), fsync=False)
        return [(h, results[h]) for h in hashes]

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        return [c for _h, c in self.complete_ids(prompts, n, max_tokens=max_tokens, temperature=temperature,
                                                  seed=seed)]


def _engine_max_len(llm: Any) -> int | None:
    try:
        return int(llm.llm_engine.model_config.max_model_len)
    except (AttributeError, TypeError, ValueError):
        return None


class VLLMBackend:
    """A local model through ``vllm.LLM``. Chat-formats each prompt with the tokenizer's chat
    template when it has one. The engine starts on first use (about 30 s on CPU); scripts that
    use it need an ``if __name__ == "__main__":`` guard (vLLM starts an engine process)."""

    def __init__(self, model_dir: str, *, gpu_memory_utilization: float | None = None, max_model_len: int = 4096,
                 chat: bool = True, llm: Any = None, **llm_kwargs: Any) -> None:
        self.name = f"vllm:{os.path.basename(os.path.normpath(model_dir))}"
        self.model_dir = model_dir
        self.chat = chat
        self.truncated = 0      # prompts cut to fit the context
        self._llm = llm         # an engine to share (e.g. a VLLMPolicy's ``llm``), or built on first use
        self._kwargs = dict(llm_kwargs)
        self._kwargs["max_model_len"] = _engine_max_len(llm) or max_model_len
        if gpu_memory_utilization is not None:
            self._kwargs["gpu_memory_utilization"] = gpu_memory_utilization

    @property
    def llm(self):
        if self._llm is None:
            try:   # the policy module's engine settings (CPU: fp32, eager, no chunked prefill)
                from ..policy.vllm_policy import create_llm
            except ImportError:
                create_llm = None
            if create_llm is not None:
                self._llm = create_llm(self.model_dir, **self._kwargs)
            else:
                from vllm import LLM   # local: vllm is optional and slow to import

                self._llm = LLM(model=self.model_dir, **self._kwargs)
        return self._llm

    def _format(self, prompt: str) -> str:
        if not self.chat:
            return prompt
        tok = self.llm.get_tokenizer()
        if getattr(tok, "chat_template", None):
            try:
                return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                               add_generation_prompt=True)
            except Exception:  # a template that rejects this message shape: send the bare prompt
                return prompt
        return prompt

    def _inputs(self, prompts: Sequence[str], max_tokens: int) -> list[Any]:
        """Token ids per prompt; a prompt too long for the context keeps its end (where the
        instructions and the answer format are), so one long prompt cannot fail the batch."""
        tok = self.llm.get_tokenizer()
        limit = max(16, int(self._kwargs["max_model_len"]) - max_tokens - 1)
        out = []
        for p in prompts:
            ids = tok.encode(self._format(p), add_special_tokens=False)
            if len(ids) > limit:
                ids = ids[-limit:]
                self.truncated += 1
            out.append({"prompt_token_ids": ids})
        return out

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(n=n, max_tokens=max_tokens, temperature=temperature, seed=seed)
        outs = self.llm.generate(self._inputs(prompts, max_tokens), params, use_tqdm=False)
        return [[c.text for c in o.outputs] for o in outs]


class OpenAIBackend:
    """An OpenAI-compatible chat endpoint (vLLM's server, SGLang, a hosted API). The key comes
    from ``OPENAI_API_KEY`` when set. Prompts are sent one request each (servers batch them)."""

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout = timeout
        self.name = f"openai:{self.base_url}#{model or ''}"

    def _post(self, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(self.base_url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})},
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read().decode("utf-8"))

    def _model(self) -> str:
        if self.model is None:
            self.model = self._post("/models")["data"][0]["id"]
        return self.model

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        from concurrent.futures import ThreadPoolExecutor

        model = self._model()

        def one(prompt: str) -> list[str]:
            body = {"model": model, "messages": [{"role": "user", "content": prompt}], "n": n,
                    "max_tokens": max_tokens, "temperature": temperature}
            if seed is not None:
                body["seed"] = seed
            try:
                data = self._post("/chat/completions", body)
            except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
                # a failed call is a failed sample, classified by the agent's parser, not a crash
                return [f"<backend error: {type(e).__name__}: {e}>"] * n
            texts = [str((c.get("message") or {}).get("content") or "") for c in data.get("choices", [])]
            return (texts + [""] * n)[:n]

        with ThreadPoolExecutor(max_workers=min(16, max(1, len(prompts)))) as pool:
            return list(pool.map(one, prompts))


class _PolicyAdapter:
    def __init__(self, policy: Any, method: str) -> None:
        self.policy = policy
        self.method = method
        self.name = getattr(policy, "name", type(policy).__name__)

    def complete(self, prompts: Sequence[str], n: int = 1, *, max_tokens: int = 512, temperature: float = 0.7,
                 seed: int | None = None) -> list[list[str]]:
        fn = getattr(self.policy, self.method)
        out = fn(list(prompts), n=n, max_tokens=max_tokens, temperature=temperature)
        return [[o] if isinstance(o, str) else [str(x) for x in o] for o in out]


def wrap_policy(policy: Any) -> Any:
    """A backend from an existing policy object, sharing its engine: one with ``complete`` or
    ``generate_text`` is called directly; a VLLMPolicy (``model`` and an ``llm`` engine) is
    wrapped in a VLLMBackend on the same ``vllm.LLM``."""
    if hasattr(policy, "llm") and isinstance(getattr(policy, "model", None), str) and \
            not callable(getattr(policy, "complete", None)):
        return VLLMBackend(policy.model, llm=policy.llm, chat=getattr(policy, "use_chat_template", True))
    for method in ("complete", "generate_text"):
        if callable(getattr(policy, method, None)):
            return policy if method == "complete" and hasattr(policy, "name") else _PolicyAdapter(policy, method)
    raise TypeError(f"{type(policy).__name__} has no complete(prompts, n=...) or generate_text(prompts, ...) method")


def make_backend(spec: str, **kwargs: Any) -> Any:
    """``vllm:MODEL_DIR``, ``openai:BASE_URL[#MODEL]``, ``scripted:MODULE:FUNCTION``."""
    kind, _, arg = spec.partition(":")
    if kind == "vllm" and arg:
        return VLLMBackend(arg, **kwargs)
    if kind == "openai" and arg:
        url, _, model = arg.partition("#")
        return OpenAIBackend(url, model or None)
    if kind == "scripted" and arg:
        import importlib

        mod, _, fn = arg.rpartition(":")
        if not mod:
            raise ValueError("scripted backend: expected scripted:MODULE:FUNCTION")
        return ScriptedBackend(getattr(importlib.import_module(mod), fn), name=f"scripted:{arg}")
    raise ValueError(f"unknown agent backend {spec!r}: expected vllm:MODEL_DIR, openai:BASE_URL[#MODEL] "
                     "or scripted:MODULE:FUNCTION")
