"""The MiMo-Embodied adapter: answer extraction on recorded replies of every form the model
writes, and the tiny Qwen2.5-VL-architecture model through the real path (vLLM, one engine for
the module; about a minute to start on 2 cores)."""

import json
import time

import numpy as np
import pytest

import emx
from emx.policy.answers import (Point, extract_answer, extract_boxed, parse_points, rescale_points,
                                smart_resize, split_thinking)

PLAN = '[{"action": "RIGHT_GRASP", "object": "apple_0"}, {"action": "RIGHT_PLACE_INSIDE", "object": "fridge_1"}]'


# -- answers: recorded replies ------------------------------------------------------------------

def test_reply_with_thinking_then_json():
    reply = f"<think>\nThe apple is on the table; grasp it, then put it in the fridge.\n</think>\n\n{PLAN}"
    thinking, answer, closed = split_thinking(reply)
    assert closed and answer == PLAN and thinking.startswith("The apple is on the table")
    assert extract_answer(reply) == PLAN
    assert [a.name for a in emx.parse_plan(extract_answer(reply)).actions] == ["RIGHT_GRASP", "RIGHT_PLACE_INSIDE"]


def test_reply_after_empty_think_prefill_has_no_tags():
    # the prompt ended with "<think>\n\n</think>\n\n": the reply is all answer
    assert split_thinking(PLAN) == ("", PLAN, True)
    assert extract_answer(PLAN + "\n") == PLAN


def test_reply_to_no_think_tag_has_an_empty_think_block():
    reply = f"<think>\n\n</think>\n\n{PLAN}"
    assert split_thinking(reply) == ("", PLAN, True)


def test_answer_follows_the_last_think_block():
    reply = "<think>first</think>draft [1]<think>second thoughts</think> final"
    thinking, answer, closed = split_thinking(reply)
    assert answer == "final" and closed
    # a reply holding only the closing tag (the template opened <think> in the prompt)
    assert split_thinking("reasoning here</think>\nanswer") == ("reasoning here", "answer", True)


def test_truncated_thinking_gives_no_answer():
    reply = "<think>I need to open the fridge first, then"
    assert split_thinking(reply) == ("I need to open the fridge first, then", "", False)
    assert extract_answer(reply) == ""
    assert emx.parse_plan(extract_answer(reply)).ok is False


def test_boxed_answer_with_nested_braces():
    reply = "<think>ok</think>The plan is \\boxed{" + PLAN + "} as required."
    assert extract_answer(reply) == PLAN
    assert extract_boxed("\\boxed{a} then \\boxed{x{y{z}}w}") == "x{y{z}}w"      # the last one
    assert extract_boxed("\\boxed{a{b}") is None                                 # never balanced
    assert extract_boxed("no box here") is None
    # a boxed answer inside the thinking is not the answer
    assert extract_answer("<think>maybe \\boxed{[]}</think>" + PLAN) == PLAN


def test_fenced_json_answer_is_passed_on_for_parse_plan():
    reply = f"<think>plan it</think>\nHere is the plan:\n```json\n{PLAN}\n```\nDone."
    answer = extract_answer(reply)
    assert answer.startswith("Here is the plan:") and "```json" in answer
    assert len(emx.parse_plan(answer).actions) == 2


def test_points_in_both_forms_inside_prose_and_fences():
    mimo = 'Sure.\n```json\n[{"points": [[120, 84], [64.5, 30]], "label": "cup"}]\n```'
    assert parse_points(mimo) == [Point(120, 84, "cup"), Point(64.5, 30, "cup")]
    qwen = 'The bowl is at {"point_2d": [33, 71], "label": "bowl"} and [{"point_2d": [5, 6], "label": "mug"}]'
    assert parse_points(qwen) == [Point(33, 71, "bowl"), Point(5, 6, "mug")]
    bad = ('[{"points": [[1, 2], [3], ["x", 4], [true, 1], [5, 6, 7], [NaN, 1], [7, 8]], "label": 3},'
           ' {"point_2d": "here"}, {"label": "nothing"}, 17, null]')
    assert parse_points(bad) == [Point(1, 2, "3"), Point(7, 8, "3")]
    assert parse_points("no points at all [1, 2] {") == []


def test_smart_resize_matches_hand_computed_sizes():
    assert smart_resize(480, 640) == (476, 644)           # each side rounded to a multiple of 28
    assert smart_resize(1080, 1920) == (728, 1316)        # over max_pixels: scaled down, floored
    assert smart_resize(20, 30) == (56, 84)               # under min_pixels: scaled up, ceiled
    assert smart_resize(292, 509, min_pixels=4 * 784, max_pixels=16 * 784) == (84, 140)
    with pytest.raises(ValueError):
        smart_resize(10, 2100)                            # aspect ratio over 200


def test_smart_resize_agrees_with_transformers():
    pil = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    for h, w in [(480, 640), (1080, 1920), (20, 30), (292, 509), (1, 150), (5000, 300), (28, 28), (42, 70)]:
        for lo, hi in [(56 * 56, 28 * 28 * 1280), (4 * 784, 16 * 784)]:
            assert smart_resize(h, w, min_pixels=lo, max_pixels=hi) == pil.smart_resize(h, w, min_pixels=lo, max_pixels=hi)


def test_rescale_points_to_the_original_image():
    # a 480x640 picture is seen as 476x644; the model points at (322, 238) in what it saw
    resized = smart_resize(480, 640)
    (p,) = rescale_points([Point(322, 238, "cup")], resized, (480, 640))
    assert p == Point(322 * 640 / 644, 238 * 480 / 476, "cup")
    assert abs(p.x - 320.0) < 1e-9 and abs(p.y - 240.0) < 1e-9
    (q,) = rescale_points([Point(658, 364)], smart_resize(1080, 1920), (1080, 1920))
    assert abs(q.x - 960.0) < 1e-9 and abs(q.y - 540.0) < 1e-9


GARBAGE = [
    "", None, 12345, 3.5, b"\xff\xfe<think>\x00", bytes(range(256)) * 4096, bytearray(b"</think>\\boxed{"),
    "{" * 1_000_000, "[" * 1_000_000, "\\boxed{" * 150_000, "<think>" * 150_000, "</think>" * 150_000,
    '[{"points": ' * 80_000, ('[1, ' * 5000 + "\n") * 50, '{"point_2d": [1e999, 2]} ' * 40_000,
    "[]" * 500_000, "x" * 1_000_000 + "</think>" + "\\boxed{" + "{" * 100_000, "\ud800 broken surrogate </think>",
    "[" + "9" * 100_000 + ", 1]", '{"points": [[' + "1" * 5000 + ', 2]]}',
]


@pytest.mark.parametrize("reply", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_never_raises_and_is_bounded(reply):
    t0 = time.perf_counter()
    thinking, answer, closed = split_thinking(reply)
    assert isinstance(thinking, str) and isinstance(answer, str) and isinstance(closed, bool)
    assert isinstance(extract_answer(reply), str)
    boxed = extract_boxed(reply)
    assert boxed is None or isinstance(boxed, str)
    points = parse_points(reply)
    assert all(isinstance(p, Point) for p in points)
    assert isinstance(emx.parse_plan(extract_answer(reply)), emx.Plan)       # and the plan parser takes it
    assert time.perf_counter() - t0 < 60.0   # a hang guard only: quadratic scanning would take minutes


# -- make_policy ---------------------------------------------------------------------------------

def test_make_policy_reads_mimo_options(tmp_path):
    from emx.policy import make_policy

    policy = make_policy(f"mimo:{tmp_path}#think,text")
    assert policy.thinking and policy.observations == ("text",) and policy.name == f"mimo:{tmp_path}#think"
    plain = make_policy(f"mimo:{tmp_path}")
    assert not plain.thinking and plain.observations == ("text", "schematic") and plain.backend_choice == "auto"
    assert make_policy(f"mimo:{tmp_path}#transformers").backend_choice == "transformers"
    with pytest.raises(ValueError):
        make_policy(f"mimo:{tmp_path}#fast")
    with pytest.raises(FileNotFoundError):
        make_policy("mimo:/nonexistent/model")


# -- the tiny model through the real path --------------------------------------------------------

@pytest.fixture(scope="module")
def eai_tasks():
    return emx.load_tasks("eai-behavior", limit=2)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory, eai_tasks):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from emx.policy.tiny_vlm import build_tiny_qwen2_5_vl
    from emx.policy.vllm_policy import prompt_text

    texts = [prompt_text(t, "eai") for t in eai_tasks]   # a tokenizer trained on them keeps prompts short
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_vlm") / "model", seed=0, texts=texts)


@pytest.fixture(scope="module")
def vllm_policy(tiny_vlm):
    pytest.importorskip("vllm")
    from emx.policy.mimo import MiMoEmbodiedPolicy

    policy = MiMoEmbodiedPolicy(tiny_vlm, max_tokens=24)
    assert policy.max_model_len == 8192
    assert policy.backend == "vllm", policy.backend_note     # the real vLLM path, not the fallback
    yield policy
    policy.close()


def test_tiny_model_directory_is_complete_and_atomic(tiny_vlm):
    names = {p.name for p in tiny_vlm.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"} <= names
    assert not tiny_vlm.with_name(tiny_vlm.name + ".tmp").exists()
    config = json.loads((tiny_vlm / "config.json").read_text())
    text = config.get("text_config", config)
    assert config["model_type"] == "qwen2_5_vl" and text["hidden_size"] // text["num_attention_heads"] == 64
    from emx.policy.vllm_policy import load_tokenizer

    tok = load_tokenizer(tiny_vlm)
    ids = tok("<think>a</think>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>a</think>"   # think tags survive decoding
    assert tok.convert_tokens_to_ids("<|image_pad|>") == config["image_token_id"]


def test_thinking_switch_changes_the_prompt_as_documented(tiny_vlm):
    from emx.policy.mimo import EMPTY_THINK, MiMoEmbodiedPolicy

    conversation = [{"role": "user", "content": "Put the apple in the fridge."}]

    def prompt(**kw):
        return MiMoEmbodiedPolicy(tiny_vlm, **kw).build_prompt(conversation)

    both = prompt()
    assert "Put the apple in the fridge. /no_think<|im_end|>" in both.text
    assert both.text.endswith("<|im_start|>assistant\n" + EMPTY_THINK)
    tag = prompt(no_think="tag")
    assert "fridge. /no_think<|im_end|>" in tag.text and tag.text.endswith("<|im_start|>assistant\n")
    prefill = prompt(no_think="prefill")
    assert "/no_think" not in prefill.text and prefill.text.endswith("assistant\n" + EMPTY_THINK)
    thinking = prompt(thinking=True)
    assert "/no_think" not in thinking.text and "<think>" not in thinking.text
    assert thinking.text.endswith("<|im_start|>assistant\n") and not thinking.opened_think

    # a template that opens <think> itself: thinking off closes it (no second block); on, it stays open
    policy = MiMoEmbodiedPolicy(tiny_vlm, no_think="prefill")
    policy.tokenizer
    opening = policy._template.replace("<|im_start|>assistant\n", "<|im_start|>assistant\n<think>\n")
    assert opening != policy._template
    policy._template = opening
    closed = policy.build_prompt(conversation)
    assert closed.text.endswith("assistant\n<think>\n\n</think>\n\n") and closed.text.count("<think>") == 1
    policy.thinking = True
    assert policy.build_prompt(conversation).opened_think


def test_prompt_images_and_the_image_limit(tiny_vlm, eai_tasks):
    from emx.policy.mimo import OMITTED_IMAGE, MiMoEmbodiedPolicy
    from emx.policy.vllm_policy import prompt_text

    policy = MiMoEmbodiedPolicy(tiny_vlm)
    built = policy.build_prompt(policy.task_conversation(eai_tasks[0]))
    assert built.text.count("<|vision_start|><|image_pad|><|vision_end|>") == 1 and len(built.images) == 1
    assert prompt_text(eai_tasks[0], "eai") in built.text
    text_only = MiMoEmbodiedPolicy(tiny_vlm, observations=("text",)).build_prompt(
        MiMoEmbodiedPolicy(tiny_vlm, observations=("text",)).task_conversation(eai_tasks[0]))
    assert "<|image_pad|>" not in text_only.text and text_only.images == []

    red, blue = np.zeros((40, 60, 3), np.uint8), np.full((30, 30, 3), 200, np.uint8)
    red[..., 0] = 255
    chat = [{"role": "user", "content": [{"type": "image", "image": red}, {"type": "text", "text": "first"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "image", "image": blue}, {"type": "text", "text": "second"}]}]
    built = policy.build_prompt(chat)
    assert len(built.images) == 1 and built.images[0].size == (30, 30)        # the latest image is kept
    assert built.text.count("<|image_pad|>") == 1 and OMITTED_IMAGE in built.text
    with pytest.raises(ValueError):
        policy.build_prompt([{"role": "user", "content": [{"type": "image", "image": np.zeros((4, 4), np.uint8)}]}])


def test_plan_on_eai_tasks_is_scored_without_raising(vllm_policy, eai_tasks):
    plans = vllm_policy.plan(eai_tasks)
    assert len(plans) == 2 and all(isinstance(p, str) for p in plans)
    for task, plan in zip(eai_tasks, plans):
        result = emx.evaluate(task, plan)
        assert result.task_id == task.id
        # a random-weight model writes noise: it must come out as a classified failure, not an exception
        assert result.error_type is not None or result.format_ok


def test_vllm_expands_the_image_as_smart_resize_says(vllm_policy, tiny_vlm):
    """The image reaches the model: vLLM's prompt holds one image token per merged 28x28 patch of
    the image resized by smart_resize with the model's pixel limits."""
    from vllm import SamplingParams

    cfg = json.loads((tiny_vlm / "preprocessor_config.json").read_text())
    picture = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    built = vllm_policy.build_prompt([{"role": "user", "content": [{"type": "image", "image": picture},
                                                                   {"type": "text", "text": "Where is the cup?"}]}])
    (out,) = vllm_policy.llm.generate([{"prompt": built.text, "multi_modal_data": {"image": built.images}}],
                                      SamplingParams(max_tokens=1), use_tqdm=False)
    rh, rw = smart_resize(120, 160, min_pixels=cfg["min_pixels"], max_pixels=cfg["max_pixels"])
    text_tokens = len(vllm_policy.tokenizer(built.text, add_special_tokens=False)["input_ids"])
    assert len(out.prompt_token_ids) == text_tokens - 1 + (rh // 28) * (rw // 28)


def test_respond_with_an_image_part(vllm_policy):
    picture = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    chat = [{"role": "system", "content": "You are a household robot."},
            {"role": "user", "content": [{"type": "image", "image": picture},
                                         {"type": "text", "text": "Point at the cup."}]}]
    (answer,) = vllm_policy.respond([chat])
    assert isinstance(answer, str)
    assert all(isinstance(p, Point) for p in parse_points(answer))
    assert vllm_policy.respond([]) == []


def test_thinking_policy_shares_the_engine(vllm_policy, tiny_vlm):
    from emx.policy.mimo import MiMoEmbodiedPolicy

    thinking = MiMoEmbodiedPolicy(tiny_vlm, thinking=True, llm=vllm_policy.llm, max_tokens=8)
    (reply,) = thinking.generate([thinking.build_prompt([{"role": "user", "content": "hi"}])])
    assert isinstance(reply, str) and thinking.backend == "vllm"


def test_transformers_backend_runs_the_same_model(tiny_vlm):
    pytest.importorskip("torch")
    from emx.policy.mimo import MiMoEmbodiedPolicy

    policy = MiMoEmbodiedPolicy(tiny_vlm, backend="transformers", max_tokens=6)
    picture = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    (answer,) = policy.respond([[{"role": "user", "content": [{"type": "image", "image": picture},
                                                             {"type": "text", "text": "What do you see?"}]}]])
    assert isinstance(answer, str) and policy.backend == "transformers" and policy.llm is None


def test_auto_backend_falls_back_to_transformers_and_says_why(tiny_vlm):
    pytest.importorskip("vllm")
    from emx.policy.mimo import MiMoEmbodiedPolicy

    # a share of memory above 1: vLLM refuses the configuration before starting an engine
    policy = MiMoEmbodiedPolicy(tiny_vlm, max_tokens=4, gpu_memory_utilization=5.0)
    assert policy.backend == "transformers"
    assert "vLLM could not run the model" in policy.backend_note and "gpu_memory_utilization" in policy.backend_note
    (answer,) = policy.respond([[{"role": "user", "content": "hello"}]])
    assert isinstance(answer, str)
    with pytest.raises(Exception):
        MiMoEmbodiedPolicy(tiny_vlm, gpu_memory_utilization=5.0, backend="vllm").backend
