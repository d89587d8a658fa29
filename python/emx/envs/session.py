"""One closed-loop episode seen from outside: reset → observation, step(text) → observation,
reward, terminated, truncated, info. The Gymnasium environment, the vector environment, the
OpenEnv server and the HTTP episodes of ``emx serve`` all drive episodes through this class, so
the four interfaces score an answer identically (and as ``emx eval --episode closed-loop`` does:
the episode logic is ``emx.episodes.ClosedLoopEpisode``'s, not a copy).

Rewards. ``reward`` is a preset (``default`` | ``embomatrix`` | ``eai``) or a RewardConfig, and
``shaping`` says how the episode's reward is handed out over its turns:

* ``final`` (default): 0 on every turn but the last, which carries the episode's reward: the sum
  over an episode is exactly the reward ``emx eval --episode closed-loop`` reports for it.
* ``progress``: each turn earns the goal fraction it gained, minus ``failure_penalty`` when it
  failed or did not parse; the last turn adds the episode's reward (``ClosedLoopEpisode.turn_rewards``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from ..episodes.episode import UNITS, ClosedLoopEpisode, Turn
from ..task import Task

SEMANTICS = ("eai", "embomatrix", "emx")
SHAPINGS = ("final", "progress")
MODES = ("symbolic", "physics")
OBSERVATIONS = ("text", "text+image")
REWARD_PRESETS = ("default", "embomatrix", "eai")

# The schematic comes in the size its scene asks for; a Gymnasium Box needs one shape, so every
# picture is letterboxed (scaled to fit, nearest neighbour, padded white) to this size.
IMAGE_SHAPE = (288, 512, 3)


def _episode_accepts(name: str) -> bool:
    try:
        return name in inspect.signature(ClosedLoopEpisode).parameters
    except (TypeError, ValueError):
        return False


def check_settings(*, mode: str, unit: str, reward: Any, semantics: str | None, shaping: str,
                   observation: str, max_turns: int) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} (expected one of {', '.join(UNITS)})")
    if not isinstance(reward, _core.RewardConfig) and reward not in REWARD_PRESETS:
        raise ValueError(f"unknown reward preset {reward!r} (expected one of {', '.join(REWARD_PRESETS)})")
    if semantics is not None and semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics profile {semantics!r} (expected one of {', '.join(SEMANTICS)})")
    if shaping not in SHAPINGS:
        raise ValueError(f"unknown reward shaping {shaping!r} (expected one of {', '.join(SHAPINGS)})")
    if observation not in OBSERVATIONS:
        raise ValueError(f"unknown observation {observation!r} (expected one of {', '.join(OBSERVATIONS)})")
    if not isinstance(max_turns, int) or max_turns < 1:
        raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")


def letterbox(image: np.ndarray, shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """``image`` scaled to fit ``shape`` (nearest neighbour, aspect kept) on a white canvas."""
    h, w = image.shape[:2]
    H, W = shape[:2]
    s = min(H / h, W / w)
    nh, nw = max(1, int(h * s)), max(1, int(w * s))
    rows = np.minimum((np.arange(nh) / s).astype(np.int64), h - 1)
    cols = np.minimum((np.arange(nw) / s).astype(np.int64), w - 1)
    out = np.full(shape, 255, dtype=np.uint8)
    top, left = (H - nh) // 2, (W - nw) // 2
    out[top:top + nh, left:left + nw] = image[rows][:, cols, :3]
    return out


def components(result: Any) -> dict[str, Any]:
    """The reward components of an ``emx.Result`` as plain JSON-able values."""
    return {"format_ok": bool(result.format_ok), "executability": float(result.executability),
            "goal_fraction": float(result.goal_fraction), "success": bool(result.success),
            "plan_length": int(result.plan_length), "executed": int(result.executed),
            "objects_named": int(result.objects_named), "relevant_named": int(result.relevant_named),
            "first_error": str(result.first_error)}


@dataclass
class StepOutcome:
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None


class EpisodeSession:
    """A ``ClosedLoopEpisode`` with Gymnasium-style results. ``actions`` records every answer,
    so a session can be rebuilt by replaying them (episodes are deterministic)."""

    def __init__(self, task: Task, *, mode: str = "symbolic", unit: str = "action", max_turns: int = 30,
                 reward: Any = "default", semantics: str | None = None, shaping: str = "final",
                 observation: str = "text", prompt_format: str = "eai", failure_penalty: float = 0.1,
                 world: Any = None) -> None:
        check_settings(mode=mode, unit=unit, reward=reward, semantics=semantics, shaping=shaping,
                       observation=observation, max_turns=max_turns)
        self.task, self.mode, self.unit, self.max_turns = task, mode, unit, max_turns
        self.reward_name = reward if isinstance(reward, str) else "custom"
        self.config = reward if isinstance(reward, _core.RewardConfig) else _core.reward_preset(reward)
        # The semantics profile is passed to the episode where ClosedLoopEpisode takes one (the
        # `eai` branch adds it); until then it is recorded and reported, and episodes run emx's own.
        self.semantics = semantics
        self.shaping, self.observation, self.failure_penalty = shaping, observation, failure_penalty
        self.prompt_format = prompt_format
        kwargs: dict[str, Any] = {}
        if semantics is not None and _episode_accepts("semantics"):
            kwargs["semantics"] = semantics
        if mode == "physics" and world is None:
            # A world of its own: the thread's cached world (sim.evaluate.world_for) is shared by
            # every episode of the same task, and sessions interleave.
            from ..sim.evaluate import scene_for
            from ..sim.world import PhysicsWorld

            world = PhysicsWorld(task, scene_for(task))
        kinds = ("text", "schematic") if observation == "text+image" else ("text",)
        self.episode = ClosedLoopEpisode(task, mode=mode, unit=unit, max_turns=max_turns,
                                         prompt_format=prompt_format, observations=kinds, world=world, **kwargs)
        self.actions: list[str] = []
        self.total_reward = 0.0
        self.fatal_error: str | None = None
        self._first = self._text(self.episode.messages[0]["content"])

    # ------------------------------------------------------------------
    @staticmethod
    def _text(content: Any) -> str:
        if isinstance(content, str):
            return content
        return "".join(p["text"] for p in content if p.get("type") == "text")

    def image(self) -> np.ndarray | None:
        if self.observation != "text+image":
            return None
        from ..observations import schematic_image

        return letterbox(schematic_image(self.task, world=self.episode.world if self.mode == "physics" else None))

    @property
    def done(self) -> bool:
        return bool(self.episode.done) or self.fatal_error is not None

    @property
    def turns(self) -> int:
        return len(self.episode.turns)

    def reset(self) -> tuple[str, dict[str, Any]]:
        self.episode.reset()
        self.actions, self.total_reward, self.fatal_error = [], 0.0, None
        return self._first, self.reset_info()

    def first_observation(self) -> str:
        return self._first

    def initial_goal_fraction(self) -> float:
        return float(self.task.core.check(self.task.core.initial_state)[1])

    def reset_info(self) -> dict[str, Any]:
        # goal_fraction: where the episode starts (the baseline of per-turn progress rewards)
        return {"task": self.task.id, "command": self.task.command, "mode": self.mode, "unit": self.unit,
                "reward_preset": self.reward_name, "semantics": self.semantics, "max_turns": self.max_turns,
                "prompt_format": self.prompt_format, "turn": 0, "goal_fraction": self.initial_goal_fraction()}

    def step(self, action: Any) -> StepOutcome:
        if self.done:
            raise RuntimeError("the episode is over; reset it to start again")
        text = action if isinstance(action, str) else ("" if action is None else str(action))
        prev = self.episode.turns[-1].goal_fraction if self.episode.turns else self.initial_goal_fraction()
        self.actions.append(text)
        try:
            turn: Turn = self.episode.step(text)
        except Exception as e:  # a physics world that fails ends the episode, with the reason
            self.fatal_error = f"{type(e).__name__}: {str(e)[:300]}"
            result = self.episode.result(self.config)
            return StepOutcome(f"the episode ended: {self.fatal_error}", 0.0, True, False,
                               {**self._info(result, None), "fatal_error": self.fatal_error, "end_reason": "fatal"})
        result = self.episode.result(self.config)
        ended = turn.done
        if self.shaping == "final":
            reward = result.reward if ended else 0.0
        else:
            failed = (not turn.parsed) or any(not s.ok for s in turn.steps)
            reward = turn.goal_fraction - prev - (self.failure_penalty if failed else 0.0)
            if ended:
                reward += result.reward
        reward = float(reward)
        self.total_reward += reward
        terminated = turn.end_reason in ("success", "policy_done")
        truncated = turn.end_reason == "turn_budget"
        return StepOutcome(turn.feedback, reward, terminated, truncated, self._info(result, turn),
                           self.image())

    def _info(self, result: Any, turn: Turn | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task": self.task.id, "turn": len(self.episode.turns),
            "components": components(result),
            # what the episode would score if it ended now (the final turn's reward under `final`)
            "episode_reward": float(result.reward),
            "end_reason": self.episode.end_reason,
        }
        if turn is not None:
            info.update(parsed=bool(turn.parsed), success=bool(turn.success), goal_fraction=float(turn.goal_fraction),
                        steps=[{"action": s.action, "ok": bool(s.ok), "error": s.error, "message": s.message}
                               for s in turn.steps])
            if turn.subgoal_holds is not None:
                info["subgoal_holds"] = bool(turn.subgoal_holds)
        return info

    def result(self):
        return self.episode.result(self.config)

    def replay(self, actions: list[str]) -> None:
        """Rebuilds the episode from its answers (after a restart): deterministic."""
        self.reset()
        for a in actions:
            if self.done:
                break
            self.step(a)
