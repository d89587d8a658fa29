"""emx as a Gymnasium environment: one closed-loop episode per ``reset``; the observation is the
turn's text (the task prompt after reset, emx's feedback after a step), the action is the
model's raw answer for one turn.

    env = emx.make_env("eai-behavior", max_turns=30)
    obs, info = env.reset(seed=0)                     # or options={"task": "eai-behavior:bottling_fruit"}
    obs, reward, terminated, truncated, info = env.step('[{"action": "OPEN", "object": "fridge_97"}]')
"""

from __future__ import annotations

import copy
import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..task import Task
from .session import IMAGE_SHAPE, EpisodeSession, check_settings

# Text spaces need a character set: printable ASCII with tab and newline, then the rest of the
# Basic Multilingual Plane (no controls, no surrogates). Anything outside is written as "?".
_CHARS = "\t\n" + "".join(chr(c) for c in range(32, 127)) + "".join(
    chr(c) for c in range(160, 0x10000) if not 0xD800 <= c <= 0xDFFF)
# what is not in _CHARS (one regex pass: far cheaper than a set lookup per character)
_OUTSIDE = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\uffff]")
MAX_OBSERVATION_CHARS = 1 << 18      # the longest EAI prompt is ~16k characters
MAX_ACTION_CHARS = 1 << 16


def clean_text(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    return _OUTSIDE.sub("?", text[:limit])


def resolve_tasks(tasks: Any) -> list[Task]:
    """A task source (``eai-behavior``, ``bddl:ACTIVITY``, a path), a Task, or a list of either."""
    import emx

    if isinstance(tasks, Task):
        return [tasks]
    if isinstance(tasks, str):
        out = emx.load_tasks(tasks)
    else:
        out = []
        for t in tasks:
            out += [t] if isinstance(t, Task) else emx.load_tasks(t)
    if not out:
        raise ValueError(f"no tasks in {tasks!r}")
    return out


def find_task(by_id: dict[str, Task], wanted: Any) -> Task:
    """The task with id ``wanted``, or the one task a source such as ``eai-behavior:bottling_fruit``
    names, among ``by_id``. Raises ValueError otherwise."""
    if not isinstance(wanted, str) or not wanted or len(wanted) > 1024:
        raise ValueError("a task is named by a non-empty string id")
    task = by_id.get(wanted)
    if task is not None:
        return task
    if ":" in wanted and not wanted.startswith(("/", ".")):
        import emx

        try:
            found = [by_id[t.id] for t in emx.load_tasks(wanted) if t.id in by_id]
        except Exception:
            found = []
        if len(found) == 1:
            return found[0]
    raise ValueError(f"unknown task {wanted[:200]!r} ({len(by_id)} tasks are served; ids as `emx tasks list` prints)")


class SharedText(spaces.Text):
    """A Text space whose character tables are shared by its copies, deep ones included (Gymnasium's
    batch_space deep-copies a Text space once per environment)."""

    def __deepcopy__(self, memo: dict) -> "SharedText":
        new = copy.copy(self)
        new._np_random = copy.deepcopy(self._np_random, memo)
        return new


_TEXT_SPACES: dict[int, spaces.Text] = {}


def text_space(max_length: int) -> spaces.Text:
    """A Text space over _CHARS. Every space of a max_length shares one character table: Gymnasium
    builds a 63k-entry frozenset, tuple and dict per Text space, and with one per environment the
    garbage collector's full passes (which walk every set) took ~0.6 s with 64 environments,
    making a 64-episode vector step ~10x slower."""
    base = _TEXT_SPACES.get(max_length)
    if base is None:
        base = _TEXT_SPACES[max_length] = SharedText(max_length=max_length, min_length=0, charset=_CHARS)
    return copy.copy(base)       # its own random generator once seeded; the tables shared


class EmxEnv(gym.Env):
    """See the module docstring. ``reset(options={"task": ID})`` picks a task; otherwise the tasks
    come in a seeded random order (``reset(seed=s)`` restarts that order), cycling."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, tasks: Any = "eai-behavior", *, semantics: str | None = None, mode: str = "symbolic",
                 reward: Any = "default", unit: str = "action", max_turns: int = 30, observation: str = "text",
                 shaping: str = "final", prompt_format: str = "eai", render_mode: str | None = None) -> None:
        check_settings(mode=mode, unit=unit, reward=reward, semantics=semantics, shaping=shaping,
                       observation=observation, max_turns=max_turns)
        self.tasks = resolve_tasks(tasks)
        self.by_id = {t.id: t for t in self.tasks}
        self.settings = dict(mode=mode, unit=unit, max_turns=max_turns, reward=reward, semantics=semantics,
                             shaping=shaping, observation=observation, prompt_format=prompt_format)
        self.semantics = semantics
        text = text_space(MAX_OBSERVATION_CHARS)
        if observation == "text+image":
            self.observation_space = spaces.Dict({"text": text, "image": spaces.Box(0, 255, IMAGE_SHAPE, np.uint8)})
        else:
            self.observation_space = text
        self.action_space = text_space(MAX_ACTION_CHARS)
        self.render_mode = render_mode
        self.session: EpisodeSession | None = None
        self._sessions: dict[str, EpisodeSession] = {}   # one per task: physics worlds are built once
        self._order: list[int] = []
        self._cursor = 0
        self._last_text = ""

    # ------------------------------------------------------------------
    def _next_task(self, options: dict | None) -> Task:
        wanted = (options or {}).get("task")
        if wanted is not None:
            return find_task(self.by_id, wanted)
        if not self._order or self._cursor >= len(self._order):
            self._order = [int(i) for i in self.np_random.permutation(len(self.tasks))]
            self._cursor = 0
        task = self.tasks[self._order[self._cursor]]
        self._cursor += 1
        return task

    def _observation(self, text: str, image: np.ndarray | None) -> Any:
        text = clean_text(text)
        self._last_text = text
        if self.settings["observation"] == "text+image":
            return {"text": text, "image": image if image is not None else self.session.image()}
        return text

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._order, self._cursor = [], 0
        task = self._next_task(options)
        session = self._sessions.get(task.id)
        if session is None:
            session = EpisodeSession(task, **self.settings)
            if self.settings["mode"] == "physics":
                self._sessions[task.id] = session
        else:
            session.reset()
        self.session = session
        return self._observation(session.first_observation(), None), session.reset_info()

    def step(self, action: Any):
        if self.session is None:
            raise RuntimeError("call reset() before step()")
        out = self.session.step(action)
        return self._observation(out.observation, out.image), out.reward, out.terminated, out.truncated, out.info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_text
        return None

    def close(self) -> None:
        self._sessions.clear()
        self.session = None


def make_env(tasks: Any = "eai-behavior", semantics: str | None = None, mode: str = "symbolic",
             reward: Any = "default", unit: str = "action", max_turns: int = 30, observation: str = "text",
             **kwargs: Any) -> EmxEnv:
    """A Gymnasium environment over the tasks of ``tasks`` (a source, a Task, or a list)."""
    return EmxEnv(tasks, semantics=semantics, mode=mode, reward=reward, unit=unit, max_turns=max_turns,
                  observation=observation, **kwargs)


__all__ = ["EmxEnv", "make_env", "resolve_tasks", "MAX_ACTION_CHARS", "MAX_OBSERVATION_CHARS"]

