"""A tiny random-weight Qwen2.5-VL-architecture model built locally: nothing is downloaded.

It exists so the MiMo-Embodied adapter (``emx.policy.mimo``) runs through the real multimodal
path — chat template with image placeholders, image processor, vision tower, M-RoPE text model —
in tests on a CPU machine. Its answers are noise; what matters is that vLLM and transformers load
the directory as they would load MiMo-Embodied-7B or Qwen2.5-VL-7B.

Choices that keep it faithful:

* The tokenizer is a byte-level BPE trained with ``tokenizers`` using *Qwen2's own* normalizer and
  pre-tokenizer, so loading it as ``Qwen2Tokenizer`` (what AutoTokenizer, and hence vLLM, does for
  ``qwen2_5_vl``) gives exactly the tokenizer that was saved.
* Qwen's special tokens are there; ``<think>``/``</think>`` are added tokens that are *not*
  special, as in Qwen's and MiMo's vocabularies, so decoding keeps them and the answer can be found
  after ``</think>``.
* The chat template is Qwen2.5-VL's shape: an image part becomes
  ``<|vision_start|><|image_pad|><|vision_end|>``, which the processor expands to one pad per
  merged patch.

Choices that keep it small: text head_dim 64 (vLLM's CPU attention rejects 16), M-RoPE sections
summing to head_dim / 2, a 2-block vision tower, and an image processor with small ``max_pixels``
so an image is a handful of tokens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

# Qwen2.5-VL's chat template, without its default system prompt (shorter prompts for a tiny model).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]
THINK_TOKENS = ["<think>", "</think>"]

# The text a tokenizer is trained on when none is given: the shapes of the prompts and answers
# the adapter handles. Byte-level BPE encodes any text; this only decides which pieces are merged.
_DEFAULT_CORPUS = [
    'Output: [{"action": "RIGHT_GRASP", "object": "apple_0"}, {"action": "RIGHT_PLACE_INSIDE", "object": "fridge_1"}]',
    '[{"points": [[120, 84], [64, 30]], "label": "cup"}] {"point_2d": [33, 71], "label": "bowl"}',
    "The robot looks at the top-down map of the room and plans the next actions to reach the goal state.",
    "Initial states: ontop(apple_0, table_1) inside(book_2, shelf_3) open(fridge_1) toggled_on(stove_4)",
    "Target states: and(cooked(chicken_0), inside(chicken_0, oven_1)) forall(x, not(dusty(x)))",
    "Interactable objects: apple_0 table_1 fridge_1 cabinet_2 sink_3 knife_4 bowl_5 plate_6",
    "LEFT_GRASP LEFT_RELEASE OPEN CLOSE COOK CLEAN FREEZE UNFREEZE SLICE SOAK DRY TOGGLE_ON TOGGLE_OFF",
    "\\boxed{answer} /no_think /think ```json\n[]\n``` 0 1 2 3 4 5 6 7 8 9",
]


def build_tokenizer(texts: Iterable[str] | None = None, vocab_size: int = 1024):
    """A byte-level BPE tokenizer with Qwen2's pre-tokenization and Qwen's special tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts) if texts is not None else _DEFAULT_CORPUS, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _image_processor_config(min_pixels: int, max_pixels: int) -> dict:
    # the keys of Qwen2.5-VL-7B's preprocessor_config.json, with a small pixel budget
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
        "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "do_convert_rgb": True, "resample": 3,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "min_pixels": min_pixels, "max_pixels": max_pixels,
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
        "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    }


def build_tiny_qwen2_5_vl(out_dir: str | os.PathLike, seed: int = 0, *, texts: Iterable[str] | None = None,
                          vocab_size: int = 1024, hidden_size: int = 256, layers: int = 2, heads: int = 4,
                          kv_heads: int = 2, intermediate_size: int = 512, vision_depth: int = 2,
                          min_pixels: int = 4 * 28 * 28, max_pixels: int = 16 * 28 * 28,
                          max_positions: int = 16384) -> Path:
    """Builds the model and writes it to `out_dir` (fp32 safetensors, tokenizer, image processor,
    chat template). Written to a temporary directory first and renamed into place, so `out_dir`
    is either absent or complete. With the defaults an image becomes at most 16 image tokens."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if hidden_size // heads != 64:
        raise ValueError("text head_dim must be 64: vLLM's CPU attention rejects smaller heads")
    out = Path(out_dir)
    tok = build_tokenizer(texts, vocab_size)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    half = hidden_size // heads // 2             # M-RoPE splits head_dim/2 rotary pairs into t, h, w
    mrope_section = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]    # 64 -> [8, 12, 12]
    vision_hidden = 128
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=intermediate_size,
            num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
            max_position_embeddings=max_positions, rms_norm_eps=1e-6, use_sliding_window=False,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
            bos_token_id=None, eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            dtype="float32",
        ),
        vision_config=dict(
            depth=vision_depth, hidden_size=vision_hidden, intermediate_size=2 * vision_hidden,
            num_heads=vision_hidden // 64, in_channels=3, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2, window_size=112, out_hidden_size=hidden_size,
            fullatt_block_indexes=[vision_depth - 1], hidden_act="silu",
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32)

    from ..train.checkpoint import atomic_directory

    with atomic_directory(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "preprocessor_config.json").write_text(json.dumps(_image_processor_config(min_pixels, max_pixels), indent=1))
        (tmp / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
        gen = {"eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"], "do_sample": False}
        (tmp / "generation_config.json").write_text(json.dumps(gen))
    return out
