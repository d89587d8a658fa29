"""n closed-loop episodes stepped as one batch: ``emx.make_vec_env(n, tasks=...)``.

A batch is what ``emx.episodes.run_episodes`` steps every turn: the policy answers all running
conversations at once (one vLLM call, one batch of requests), then each episode executes its
answer in C++ (microseconds a turn), in this process — no threads, no copies of the episode
logic. The vector environment takes the policy's batch of answers from the caller instead.

Autoreset follows Gymnasium's default (``NEXT_STEP``): after an episode ends, the next ``step``
resets that slot (its action is ignored) and returns the new task's first observation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .gym_env import EmxEnv


class EmxVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, tasks: Any = "eai-behavior", **kwargs: Any) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        from .gym_env import resolve_tasks

        loaded = resolve_tasks(tasks)  # compiled once, shared read-only by every slot
        self.envs = [EmxEnv(loaded, **kwargs) for _ in range(num_envs)]
        self.num_envs = num_envs
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    def _batch(self, obs: list[Any]) -> Any:
        if isinstance(self.single_observation_space, spaces.Dict):
            return {"text": tuple(o["text"] for o in obs), "image": np.stack([o["image"] for o in obs])}
        return tuple(obs)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """``seed``: one int (slot i gets seed + i) or one per slot; ``options={"tasks": [ID, ...]}``
        picks each slot's task (``{"task": ID}`` gives every slot the same one)."""
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
        options = dict(options or {})
        per_slot = options.pop("tasks", None)
        if per_slot is not None and len(per_slot) != self.num_envs:
            raise ValueError(f"{len(per_slot)} tasks for {self.num_envs} environments")
        obs, infos = [], {}
        for i, env in enumerate(self.envs):
            opts = dict(options)
            if per_slot is not None:
                opts["task"] = per_slot[i]
            o, info = env.reset(seed=seeds[i], options=opts or None)
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(obs), infos

    def step(self, actions: Any):
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"{len(actions)} actions for {self.num_envs} environments")
        obs: list[Any] = []
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            if self._autoreset[i]:
                o, info = env.reset()
            else:
                o, r, term, trunc, info = env.step(action)
                rewards[i], terminated[i], truncated[i] = r, term, trunc
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset = terminated | truncated
        return self._batch(obs), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


def make_vec_env(n: int, tasks: Any = "eai-behavior", **kwargs: Any) -> EmxVectorEnv:
    """``n`` episodes stepped as one batch (``kwargs`` as for ``emx.make_env``)."""
    return EmxVectorEnv(n, tasks, **kwargs)
