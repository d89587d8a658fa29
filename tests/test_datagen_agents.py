"""The LLM agents of the data engine: the feedback loop driven by a scripted backend, failure
classification, caching, resume after interruption, and one run on a real local model (a tiny
untrained Qwen2 through vLLM) where the point is that the real path runs and every failure is
classified."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import emx
from emx.datagen.agents import AgentConfig, extract_bddl, extract_json, run_agents
from emx.datagen.backends import CachedBackend, ScriptedBackend
from emx.datagen.dataset import read_jsonl
from emx.datagen.scripted import demo_agent
from emx.policy.oracle import oracle_plan

ROOT = Path(__file__).resolve().parents[1]


def _cfg(**kw) -> AgentConfig:
    kw.setdefault("physical", "layout")   # settling is covered by the scenes tests; keep these fast
    return AgentConfig(**kw)


# --------------------------------------------------------------------------- parsers

def test_extract_json_tolerates_wrapping_and_rejects_garbage():
    assert extract_json('<think>{"no": 1}</think> sure: ```json\n{"a": [1, 2]}\n``` done')[0] == {"a": [1, 2]}
    assert extract_json('prose {"a": 1} more {"b": 2}')[0] == {"a": 1}
    obj, why = extract_json("{{{{ not json")
    assert obj is None and "no JSON" in why
    assert extract_json("[" * 100000)[0] is None      # bounded, never raises


def test_extract_bddl_balanced_and_comments():
    text = "Here:\n```\n(define (problem p) ; a (comment\n (:domain d) (:goal (and (open a))))\n```\ntrailing ("
    bddl, why = extract_bddl(text)
    assert bddl is not None and bddl.startswith("(define") and bddl.endswith("(open a))))")
    assert extract_bddl("(define (problem p) (:domain d)")[0] is None
    assert "no (define" in extract_bddl("nothing")[1]


# --------------------------------------------------------------------------- the feedback loop

def test_scripted_agents_feedback_loop(tmp_path):
    backend = ScriptedBackend(demo_agent)
    run = run_agents(backend, tmp_path, houses=3, seed=1, config=_cfg(judge=True))
    assert run.accepted >= 6, run.summary()
    # the scripted writer forgets the furniture's rooms on its first answer; the validator's
    # message goes back and the second answer passes
    assert run.rejections.get("writer: vocabulary: furniture without a room", 0) >= run.accepted
    assert run.stages["writer"]["passed"] == run.accepted
    assert run.stages["social"]["in"] >= 1
    tasks = emx.load_tasks(str(tmp_path))
    assert len(tasks) == run.accepted
    meta = {json.loads(l)["id"]: json.loads(l) for l in (tmp_path / "metadata.jsonl").read_text().splitlines()}
    for t in tasks:
        plan, why = oracle_plan(t)
        assert plan, why
        m = meta[t.id]
        assert m["source"] == "agents" and m["validation"]["ok"] and m["judge_score"] == 7.0
        assert "physical" in m["validation"]["passed"]
        # every transcript id names a cached prompt/answer pair
        for tid in m["transcripts"]:
            assert list((tmp_path / "agent_cache").rglob(f"{tid}.json")), tid
    log = list(read_jsonl(tmp_path / "agent_log.jsonl"))
    assert len(log) == 9 and {r["outcome"] for r in log} <= {"accepted", "rejected"}


def test_every_failure_is_classified(tmp_path):
    """A backend that answers nonsense: every job ends rejected with a named stage and reason."""
    answers = ["I am a teapot.", '{"members": []}', "(define (problem x)", '{"command": "go"}']
    run = run_agents(ScriptedBackend(answers), tmp_path, houses=2, config=_cfg(retries=1))
    assert run.accepted == 0 and run.rejected == 2 * 3
    assert sum(run.final.values()) == run.rejected
    for key in run.final:
        role, stage, reason = key.split(": ", 2)
        assert role == "social" and stage in ("parse", "schema") and reason
    assert all(": " in k for k in run.rejections)


def test_validators_reject_bad_writer_output(tmp_path):
    """Writer answers with a non-openable OPEN goal, then an impossible one, then a good one: each
    rejection is counted under its stage and reason, and the third answer is accepted."""
    good_calls = {"n": 0}

    def agent(prompt: str, k: int) -> str:
        if prompt.startswith("You write BDDL"):
            # (the feedback prompt holds the original prompt, the last answer and its rejection)
            base = demo_agent(prompt + "\nIt was rejected", k)
            if "It was rejected" not in prompt:   # open a countertop: not openable
                return base.replace("(:goal (and ", "(:goal (and (open countertop.n.01_1) ")
            if "is not openable" in prompt:       # an item on itself: no plan reaches it
                thing = re.search(r"\(:goal \(and \(\w+ ([\w.]+) ", base).group(1)
                return base.replace("(:goal (and ", f"(:goal (and (ontop {thing} {thing}) ")
            good_calls["n"] += 1
            return base
        return demo_agent(prompt, k)

    run = run_agents(ScriptedBackend(agent), tmp_path, houses=1, config=_cfg(retries=3, needs_per_house=1))
    keys = " | ".join(run.rejections)
    assert "writer: vocabulary: not openable" in keys, keys
    assert "writer: symbolic: oracle" in keys, keys
    assert run.accepted == 1 and good_calls["n"] >= 1


def test_cache_and_resume_after_interruption(tmp_path):
    full = ScriptedBackend(demo_agent)
    run_agents(full, tmp_path / "full", houses=3, config=_cfg())
    # the same work, interrupted after 2 finished jobs, then resumed
    first = ScriptedBackend(demo_agent)
    part = run_agents(first, tmp_path / "resumed", houses=3, config=_cfg(), max_jobs=2)
    assert part.accepted + part.rejected == 2
    second = ScriptedBackend(demo_agent)
    rest = run_agents(second, tmp_path / "resumed", houses=3, config=_cfg())
    assert rest.skipped == 2
    # no prompt was asked twice: the interrupted jobs' answers came from the cache
    assert first.prompts + second.prompts == full.prompts
    assert rest.cache_hits > 0
    ids = [json.loads(l)["id"] for l in (tmp_path / "resumed" / "metadata.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids))
    full_ids = {json.loads(l)["id"] for l in (tmp_path / "full" / "metadata.jsonl").read_text().splitlines()}
    assert set(ids) == full_ids
    # a third run finds everything done and asks nothing
    third = ScriptedBackend(demo_agent)
    again = run_agents(third, tmp_path / "resumed", houses=3, config=_cfg())
    assert again.skipped == 9 and third.prompts == 0


def test_cached_backend_asks_identical_prompts_once(tmp_path):
    inner = ScriptedBackend(lambda p, k: p.upper())
    cache = CachedBackend(inner, tmp_path)
    assert cache.complete(["a", "b", "a"]) == [["A"], ["B"], ["A"]]
    assert inner.prompts == 2
    assert cache.complete(["b", "a"]) == [["B"], ["A"]]
    assert inner.prompts == 2 and cache.hits == 2


# --------------------------------------------------------------------------- a real local model

def build_tiny_model(out_dir: str) -> str:
    """A 2-layer Qwen2 (head_dim 64, as vLLM's CPU attention needs) with a BPE tokenizer trained
    on the agents' own prompts, saved as a Hugging Face model directory. Untrained: its output
    is noise, which is the point: the real path must classify whatever comes back."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from emx.datagen import agents as A

    out = Path(out_dir)
    if (out / "config.json").exists():
        return str(out)
    house = A._house(0, 0)
    corpus = [A.social_prompt(0, house), A._WRITER_EXAMPLE, A.writer_prompt(
        {"command": "Put the apple in the fridge.", "rooms": ["kitchen"],
         "objects": [{"name": "apple", "category": "apple.n.01", "room": "kitchen"}]}, 8)] * 20
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=1024, special_tokens=special,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", bos_token=None)
    fast.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    config = Qwen2Config(vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=8192,
                         tie_word_embeddings=True, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
                         bos_token_id=None)
    import torch

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return str(out)


_VLLM_SCRIPT = textwrap.dedent("""
    import json, sys
    from emx.datagen.agents import AgentConfig, run_agents
    from emx.datagen.backends import VLLMBackend, wrap_policy

    if __name__ == "__main__":
        model, out = sys.argv[1], sys.argv[2]
        try:   # the training loop's policy, when present: the agents share its engine
            from emx.policy.vllm_policy import VLLMPolicy
            backend = wrap_policy(VLLMPolicy(model, max_model_len=4096))
        except ImportError:
            backend = VLLMBackend(model, gpu_memory_utilization=0.1, max_model_len=4096)
        cfg = AgentConfig(retries=1, needs_per_house=2, physical="layout",
                          max_tokens={"social": 96, "command": 96, "writer": 160, "scene": 96, "judge": 32})
        run = run_agents(backend, out, houses=2, seed=0, config=cfg)
        print("RESULT " + json.dumps({**run.summary(), "truncated": backend.truncated}))
""")


def _vllm_missing() -> str | None:
    try:
        import vllm  # noqa: F401
    except Exception as e:  # ImportError, or a broken install ("operator torchvision::nms does not exist")
        return f"vllm is not importable here ({type(e).__name__}: {str(e)[:120]})"
    return None


@pytest.mark.skipif(_vllm_missing() is not None, reason=str(_vllm_missing()))
def test_agents_on_a_real_local_model_through_vllm(tmp_path):
    model = build_tiny_model(str(tmp_path / "tiny"))
    script = tmp_path / "run_agents_vllm.py"
    script.write_text(_VLLM_SCRIPT)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "python") if (ROOT / "python" / "emx" / "_core.cpython-311-x86_64-linux-gnu.so").exists() else "", env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(script), model, str(tmp_path / "ds")], capture_output=True, text=True,
                          timeout=900, env=env, cwd=tmp_path)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    jobs = 2 * 2
    assert result["accepted"] + result["rejected"] == jobs
    assert result["model_calls"] >= 1
    # every job's outcome is named: accepted, or role: stage: reason
    assert sum(result["final"].values()) == jobs
    for key in result["final"]:
        assert key == "accepted" or len(key.split(": ")) >= 3, key
    log = list(read_jsonl(tmp_path / "ds" / "agent_log.jsonl"))
    assert len(log) == jobs and all(r["attempts"] for r in log)
