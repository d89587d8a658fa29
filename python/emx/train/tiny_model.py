"""A tiny Qwen2-architecture policy built locally: nothing is downloaded.

A byte-level BPE tokenizer is trained with ``tokenizers`` on the task texts, wrapped in
``PreTrainedTokenizerFast`` with a ChatML template, and a 2-layer ``Qwen2Config`` model is
initialised and saved with ``save_pretrained``; vLLM and transformers both load the directory.
head_dim is 64 because vLLM's CPU attention backend rejects smaller heads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """A byte-level BPE tokenizer trained on `texts`, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # split at spaces only (no GPT-2 regex), so a name like "apple.n.01_1" or a JSON fragment like
    # '{"action":' can become one token: short sequences are what make a 2-core run fast
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="merged_with_next"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(out_dir: str | os.PathLike, texts: Iterable[str], *, seed: int = 0, vocab_size: int = 1024,
                     hidden_size: int = 256, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                     intermediate_size: int = 512, max_positions: int = 1024) -> Path:
    """Trains the tokenizer, initialises the model and saves both to `out_dir` (fp32 safetensors)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    tok = build_tokenizer(texts, vocab_size)
    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=64,
        max_position_embeddings=max_positions, tie_word_embeddings=True, rope_theta=10000.0,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
        use_sliding_window=False, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    from ..policy.vllm_policy import mark_tokenizer
    from .checkpoint import atomic_directory

    with atomic_directory(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        mark_tokenizer(tmp)
        gen = {"eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
        (tmp / "generation_config.json").write_text(json.dumps(gen))
    return out
