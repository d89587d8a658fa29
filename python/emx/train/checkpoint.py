"""Checkpoints that survive a crash: each is written to a temporary directory and renamed into
place, so a ``ckpt-NNNNNN`` directory is complete or absent. A checkpoint that cannot be read
raises ``CheckpointError`` naming the file.

Layout of ``OUT/checkpoints/ckpt-NNNNNN`` (NNNNNN: the next GRPO step to run):
``model/`` (save_pretrained: weights, config, tokenizer, emx_policy.json) and ``trainer_state.pt``
(optimizer, schedule, RNG states, and the batch already sampled for the next step).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import EmxError

_NAME = re.compile(r"^ckpt-(\d{6})$")


class CheckpointError(EmxError, RuntimeError):
    pass


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary directory beside ``path``; when the block ends without an error it
    replaces ``path``, so a reader sees the old directory or the complete new one."""
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    yield tmp
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def checkpoints(root: str | os.PathLike) -> list[tuple[int, Path]]:
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest(root: str | os.PathLike) -> Path | None:
    found = checkpoints(root)
    return found[-1][1] if found else None


def save(root: str | os.PathLike, step: int, write_model, state: dict[str, Any], keep: int = 2) -> Path:
    """write_model(dir) saves the model; `state` goes to trainer_state.pt."""
    import torch

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"ckpt-{step:06d}"
    tmp = root / f".ckpt-{step:06d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    write_model(tmp / "model")
    torch.save(state, tmp / "trainer_state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    # step 0 (the SFT-only starting point) is kept as the baseline
    for old_step, old in checkpoints(root)[:-max(keep, 1)]:
        if old_step != 0:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(ckpt: str | os.PathLike) -> dict[str, Any]:
    import torch

    path = Path(ckpt) / "trainer_state.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: missing: the checkpoint is incomplete")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling/zip failure means a corrupt file
        raise CheckpointError(f"{path}: corrupt checkpoint file ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path}: not an emx trainer state (no 'step')")
    return state


def check_model_dir(model_dir: str | os.PathLike) -> None:
    """Reads every weight file's header so a truncated or corrupt file is named before training."""
    model_dir = Path(model_dir)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{model_dir}: no *.safetensors weights in the checkpoint")
    from safetensors import safe_open

    for f in files:
        try:
            with safe_open(str(f), framework="pt") as h:
                for key in h.keys():
                    h.get_slice(key)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{f}: corrupt weights file ({type(e).__name__}: {e})") from None
