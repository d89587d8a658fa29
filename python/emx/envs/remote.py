"""Closed-loop episodes whose world lives in an ``emx serve`` (its ``/v1/episodes`` API), seen
through the same interface as a local ``emx.episodes.ClosedLoopEpisode``: ``messages``,
``step(text) -> Turn``, ``done``, ``end_reason``, ``turns``, ``result(reward)``,
``turn_rewards(config)``, ``transcript()``. A trainer (``emx train --env-url URL``) plays them
without knowing where the simulation runs, so it can run on other machines than the learner.

    env = RemoteEnv("http://sim-host:8000", token=TOKEN)
    ep = env.episode(task, mode="symbolic", unit="action", max_turns=12, prompt_format="compact",
                     reward="default")
    while not ep.done:
        ep.step(model(ep.messages))
    ep.result("default").reward          # the server's reward for the episode
    env.step_all(episodes, answers)      # one turn of many episodes, requests in parallel

Nothing is scored here: the server runs the same ``EpisodeSession`` as local episodes do, and
every number comes from its answers. With the local ``Task`` at hand, each episode checks that the
server's first observation is the prompt the local task gives (the server must serve the same
tasks; ``RemoteEnv.check_tasks`` checks the ids up front).

Failures: a turn is never sent twice blindly (it may have run). When a step's connection fails,
or the server answers 404 (the session was reaped, or the server restarted), the episode is
rebuilt -- a new session replays the answers so far (episodes are deterministic; every replayed
observation is checked against the recorded one) -- and the turn is sent to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..episodes.episode import Turn
from ..evaluation import Result, Step
from ..server.client import RewardClient, RewardServerError
from ..task import Task


class RemoteEnvError(RuntimeError):
    """The server cannot play these episodes (does not serve the task, or serves another one)."""


def _preset_name(reward: Any) -> str:
    return reward if isinstance(reward, str) else str(getattr(reward, "name", ""))


class RemoteEpisode:
    """One closed-loop episode on an ``emx serve``; see the module docstring."""

    def __init__(self, env: "RemoteEnv", task: Task | str, *, mode: str = "symbolic", unit: str = "action",
                 max_turns: int = 30, prompt_format: str = "eai", reward: str = "default",
                 semantics: str | None = None) -> None:
        self.env = env
        self.task = task if isinstance(task, Task) else None
        self.task_id = task.id if isinstance(task, Task) else str(task)
        self.mode, self.unit, self.max_turns, self.prompt_format = mode, unit, max_turns, prompt_format
        self.reward, self.semantics = reward, semantics
        self.messages: list[dict[str, Any]] = []
        self.turns: list[Turn] = []
        self.actions: list[str] = []
        self.done = False
        self.end_reason = ""
        self.episode_id: str | None = None
        self._last_info: dict[str, Any] | None = None
        self._progress: list[float] = []   # the server's per-turn rewards under shaping="progress"
        self._open()
        self.messages = [{"role": "user", "content": self._first}]

    # ------------------------------------------------------------------ server side
    def _settings(self) -> dict[str, Any]:
        # progress shaping: each turn's reward is ClosedLoopEpisode.turn_rewards' term for it
        return {"mode": self.mode, "unit": self.unit, "max_turns": self.max_turns, "reward": self.reward,
                "semantics": self.semantics, "prompt_format": self.prompt_format, "shaping": "progress"}

    def _open(self) -> None:
        try:
            r = self.env.client.create_episode(self.task_id, **self._settings())
        except RewardServerError as e:
            if e.status == 422 and e.code == "unknown_task":
                raise RemoteEnvError(f"{self.env.url} does not serve task {self.task_id!r}: serve the same task "
                                     "source (emx serve --tasks SRC)") from None
            raise
        self.episode_id = r["episode_id"]
        self._first = r["observation"]
        self._initial_goal_fraction = float(r["info"].get("goal_fraction", 0.0))
        if self.task is not None and self.env.check_prompts:
            from ..episodes.prompts import closed_loop_prompt

            want = closed_loop_prompt(self.task, self.prompt_format, self.unit)
            if self._first != want:
                raise RemoteEnvError(f"{self.env.url} serves task {self.task_id!r} with another prompt than the "
                                     "local task's: it serves a different task under this id")

    def _rebuild(self) -> None:
        """A new session with the answers so far replayed (after a lost connection or a 404)."""
        old, self.episode_id = self.episode_id, None
        if old is not None:
            try:
                self.env.client.delete_episode(old)
            except (RewardServerError, ConnectionError):
                pass
        first = self._first
        self._open()
        if self._first != first:
            raise RemoteEnvError(f"task {self.task_id!r}: the rebuilt episode starts differently")
        for k, action in enumerate(self.actions):
            out = self.env.client.step_episode(self.episode_id, action)
            if out["observation"] != self.turns[k].feedback:
                raise RemoteEnvError(f"task {self.task_id!r}: replaying turn {k + 1} gave another observation")
        self.env.rebuilds += 1

    def _send(self, text: str) -> dict[str, Any]:
        for attempt in range(3):
            try:
                return self.env.client.step_episode(self.episode_id, text)
            except ConnectionError:
                if attempt == 2:
                    raise
            except RewardServerError as e:
                if e.status != 404 or attempt == 2:
                    raise
            self._rebuild()
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ ClosedLoopEpisode's interface
    def step(self, text: Any) -> Turn:
        if self.done:
            raise RuntimeError("the episode is over; start another one")
        text = text if isinstance(text, str) else ("" if text is None else str(text))
        self.messages.append({"role": "assistant", "content": text})
        out = self._send(text)
        info = out["info"]
        ended = bool(out["terminated"] or out["truncated"]) or info.get("end_reason") == "fatal"
        steps = tuple(Step(s["action"], bool(s["ok"]), s["error"], s["message"]) for s in info.get("steps", ()))
        turn = Turn(text, out["observation"], bool(info.get("parsed", False)), steps,
                    float(info.get("goal_fraction", info["components"]["goal_fraction"])),
                    bool(info.get("success", info["components"]["success"])), ended, info.get("end_reason", ""),
                    info.get("subgoal_holds"))
        self.actions.append(text)
        self.turns.append(turn)
        self._progress.append(float(out["reward"]))
        self._last_info = info
        if ended:
            self.done, self.end_reason = True, info.get("end_reason", "")
            self.close()
        else:
            self.messages.append({"role": "user", "content": out["observation"]})
        return turn

    def _check_reward(self, reward: Any) -> None:
        name = _preset_name(reward)
        if name != self.reward:
            raise ValueError(f"this episode is scored by the server with the {self.reward!r} preset, not {name!r}")

    def result(self, reward: Any = None) -> Result:
        """The episode as an ``emx.Result``, from the server's last answer (per-atom truth and the
        action trace's per-step detail stay on the server)."""
        if reward is not None:
            self._check_reward(reward)
        if self._last_info is None:
            status = self.env.client.episode(self.episode_id)
            c, value = status["components"], float(status["episode_reward"])
        else:
            c, value = self._last_info["components"], float(self._last_info["episode_reward"])
        return Result(task_id=self.task_id, reward=value, format_ok=bool(c["format_ok"]),
                      format_error=None if c["format_ok"] else "no action in any turn",
                      executability=float(c["executability"]), goal_fraction=float(c["goal_fraction"]),
                      success=bool(c["success"]), plan_length=int(c["plan_length"]), executed=int(c["executed"]),
                      objects_named=int(c["objects_named"]), relevant_named=int(c["relevant_named"]),
                      first_error=str(c["first_error"]),
                      trace=tuple(s for t in self.turns for s in t.steps))

    def turn_rewards(self, config: Any = None, failure_penalty: float = 0.1) -> list[float]:
        """``ClosedLoopEpisode.turn_rewards``, term for term: goal fraction gained per turn, minus
        ``failure_penalty`` for a failed or unparseable turn, the episode's reward added to the last."""
        if config is not None:
            self._check_reward(config)
        out, prev = [], self._initial_goal_fraction
        for t in self.turns:
            failed = (not t.parsed) or any(not s.ok for s in t.steps)
            out.append(t.goal_fraction - prev - (failure_penalty if failed else 0.0))
            prev = t.goal_fraction
        if out:
            out[-1] += self.result().reward
        return out

    def transcript(self) -> list[dict[str, Any]]:
        return [{"role": m["role"], "content": m["content"]} for m in self.messages]

    def close(self) -> None:
        """Ends the server's session (the answers are all here). Idempotent."""
        sid, self.episode_id = self.episode_id, None
        if sid is not None:
            try:
                self.env.client.delete_episode(sid)
            except (RewardServerError, ConnectionError):
                pass   # it expires on its own after the server's TTL


class RemoteEnv:
    """An ``emx serve`` as the environment of closed-loop episodes (and of whole-plan scoring).

    url: the server's base URL; token: its bearer token (default: $EMX_SERVER_TOKEN).
    concurrency: how many episodes ``step_all`` steps at once (one request each)."""

    def __init__(self, url: str, token: str | None = None, *, concurrency: int = 16, timeout: float = 120.0,
                 check_prompts: bool = True) -> None:
        self.url = url.rstrip("/")
        self.client = RewardClient(self.url, token=token, timeout=timeout)
        self.check_prompts = check_prompts
        self.concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self.rebuilds = 0

    def check_tasks(self, tasks: Sequence[Task]) -> None:
        """Raises RemoteEnvError unless the server serves every task id (one request)."""
        served = {t["id"] for t in self.client.tasks()}
        missing = [t.id for t in tasks if t.id not in served]
        if missing:
            raise RemoteEnvError(f"{self.url} does not serve {len(missing)} of the {len(tasks)} tasks (e.g. "
                                 f"{', '.join(missing[:3])}): start it with the same task source "
                                 "(emx serve --tasks SRC, and emx train --tasks SRC)")

    def episode(self, task: Task | str, **settings: Any) -> RemoteEpisode:
        return RemoteEpisode(self, task, **settings)

    def episodes(self, tasks: Sequence[Task | str], **settings: Any) -> list[RemoteEpisode]:
        """One episode per task, created in parallel."""
        return self._map(lambda t: RemoteEpisode(self, t, **settings), list(tasks))

    def step_all(self, episodes: Sequence[RemoteEpisode], texts: Sequence[Any]) -> list[Turn]:
        """One turn of each episode (requests in parallel), results in order."""
        if len(episodes) != len(texts):
            raise ValueError(f"{len(episodes)} episodes but {len(texts)} answers")
        return self._map(lambda pair: pair[0].step(pair[1]), list(zip(episodes, texts)))

    def close_all(self, episodes: Sequence[Any]) -> None:
        self._map(lambda e: e.close(), [e for e in episodes if isinstance(e, RemoteEpisode)])

    def evaluate(self, tasks: Sequence[Task], texts: Sequence[Any], *, reward: str = "default",
                 mode: str = "symbolic", chunk: int = 64) -> list[Result]:
        """Whole plans scored by the server's ``/v1/evaluate`` (in chunks the server accepts)."""
        items = [(t.id, x) for t, x in zip(tasks, texts)]
        parts = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        out = self._map(lambda p: self.client.evaluate(p, reward=reward, mode=mode, trace=False), parts)
        return [r for part in out for r in part]

    def _map(self, fn: Any, items: list) -> list:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="emx-remote-env")
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()

    def __enter__(self) -> "RemoteEnv":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def step_episodes(episodes: Sequence[Any], texts: Sequence[Any]) -> list[Turn]:
    """One turn of each episode, local or remote: remote ones go to their server in parallel."""
    remote = [i for i, e in enumerate(episodes) if isinstance(e, RemoteEpisode)]
    out: list[Any] = [None] * len(episodes)
    if remote:
        env = episodes[remote[0]].env
        for i, turn in zip(remote, env.step_all([episodes[i] for i in remote], [texts[i] for i in remote])):
            out[i] = turn
    for i, (e, x) in enumerate(zip(episodes, texts)):
        if out[i] is None:
            out[i] = e.step(x)
    return out
