"""The README's "Use emx from your RL framework" recipes, run as written (against a loopback
emx serve on a free port instead of 8000)."""

import re
from pathlib import Path

import pytest
from conftest import app_in_thread

pytest.importorskip("gymnasium")
pytest.importorskip("openenv.core")
pytest.importorskip("uvicorn")

import emx  # noqa: E402

TOKEN = "readme-token-0123456789abcdef"
BOTTLING = "bottling_fruit_0_Wainscott_0_int_0_2021-05-24_19-46-46"


def recipes() -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Use emx from your RL framework", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def port():
    from emx.server.app import create_app

    with app_in_thread(create_app(emx.load_tasks("eai-behavior"), token=TOKEN)) as p:
        yield p


def test_the_section_has_the_four_recipes():
    blocks = recipes()
    assert len(blocks) == 4
    assert "make_env" in blocks[0] and "EmxEnvClient" in blocks[1] and "/v1/episodes" in blocks[2]
    assert "GRPOTrainer" in blocks[3]


@pytest.mark.parametrize("k", [0, 1, 2])
def test_environment_recipes_run(port, k, capsys):
    code = recipes()[k].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    exec(compile(code, f"README recipe {k}", "exec"), {"TOKEN": TOKEN})
    out = capsys.readouterr().out
    assert out.strip()
    if k:
        assert "ok: open fridge_97" in out.lower() or "ok:" in out


@pytest.mark.slow
def test_trl_recipe_runs(port, tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from emx.policy.vllm_policy import load_tokenizer, prompt_text
    from emx.train.tiny_model import build_tiny_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    tasks = [emx.load_task("eai-behavior:bottling_fruit")]
    model_dir = build_tiny_model(tmp_path / "m", [prompt_text(t, "compact") for t in tasks] * 8, hidden_size=64,
                                 intermediate_size=128, heads=1, kv_heads=1)
    code = recipes()[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    ns = {"TOKEN": TOKEN, "MODEL_DIR": str(model_dir), "tokenizer": load_tokenizer(model_dir),
          "task_ids": [t.id for t in tasks] * 4}
    exec(compile(code, "README TRL recipe", "exec"), ns)
    assert ns["trainer"].state.global_step == 1
