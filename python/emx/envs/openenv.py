"""emx served the OpenEnv way (openenv-core 0.3.0): typed Action / Observation / State models, an
``openenv.core.Environment`` whose sessions are closed-loop episodes, the app OpenEnv's
``HTTPEnvServer`` builds (``/ws`` session endpoint, ``/reset``, ``/step``, ``/state``, ``/schema``,
``/health``, ``/metadata``) and a typed ``EnvClient``.

    from emx.envs.openenv import EmxAction, EmxEnvClient
    with EmxEnvClient(base_url="http://127.0.0.1:8000/openenv").sync() as env:
        r = env.reset(task="bottling_fruit_0_Wainscott_0_int_0_2021-05-24_19-46-46")
        r = env.step(EmxAction(text='[{"action": "OPEN", "object": "fridge_97"}]'))
        r.observation.text, r.reward, r.done

Sessions: OpenEnv keeps state per WebSocket connection (``/ws``): one connection, one emx
episode session; ``reset`` (re)starts its episode and takes ``task``, ``seed``, ``mode``,
``reward``, ``unit``, ``max_turns``, ``semantics``, ``shaping``. Plain HTTP ``/reset`` and
``/step`` are OpenEnv's stateless probes (a fresh environment per request), so a step there has
no episode; use ``/ws`` (what ``EnvClient`` does) or emx's own ``/v1/episodes``.

The token: OpenEnv's client sends no headers, so the token may also come in the URL's user
information (``http://emx:TOKEN@host:port/openenv``): websockets sends it as HTTP Basic, which
emx's guard accepts with the token as the password.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

from openenv.core.env_client import EnvClient
from openenv.core.client_types import StepResult
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from ..task import Task
from .session import SEMANTICS, EpisodeSession

MAX_ACTION_CHARS = 1 << 16


class EmxAction(Action):
    """One turn: the model's raw answer (scored, never executed as code)."""

    text: str = Field(default="", max_length=MAX_ACTION_CHARS,
                      description="the model's raw answer for this turn, e.g. '[{\"action\": \"OPEN\", ...}]'")


class EmxObservation(Observation):
    """The turn's text: the task prompt after reset, emx's feedback after a step. ``reward`` and
    ``done`` are OpenEnv's; ``terminated`` / ``truncated`` say which way the episode ended."""

    text: str = ""
    task: str = ""
    turn: int = 0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict, description="reward components and the turn's steps")


class EmxState(State):
    task: str = ""
    mode: str = "symbolic"
    unit: str = "action"
    reward_preset: str = "default"
    semantics: str | None = None
    max_turns: int = 0
    done: bool = False
    end_reason: str = ""
    total_reward: float = 0.0
    actions: list[str] = Field(default_factory=list)


class EmxEnvironment(Environment[EmxAction, EmxObservation, EmxState]):
    """One OpenEnv session = one emx ``EpisodeSession`` at a time (reset starts the next)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, tasks: Sequence[Task], *, defaults: dict[str, Any] | None = None,
                 max_action_chars: int = MAX_ACTION_CHARS, max_turns_limit: int = 256,
                 on_close: Any = None) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.by_id = {t.id: t for t in self.tasks}
        self.defaults = dict(mode="symbolic", reward="default", unit="action", max_turns=30, semantics=None,
                             shaping="final")
        self.defaults.update(defaults or {})
        self.max_action_chars, self.max_turns_limit = max_action_chars, max_turns_limit
        self.session: EpisodeSession | None = None
        self.episode_id: str | None = None
        self._rng = random.Random()
        self._order: list[int] = []
        self._on_close = on_close
        self._closed = False

    def _pick(self, task: str | None, seed: int | None) -> Task:
        from .gym_env import find_task

        if task is not None:
            return find_task(self.by_id, task)
        if seed is not None:
            self._rng.seed(seed)
            self._order = []
        if not self._order:
            self._order = list(range(len(self.tasks)))
            self._rng.shuffle(self._order)
        return self.tasks[self._order.pop(0)]

    def reset(self, seed: int | None = None, episode_id: str | None = None, task: str | None = None,
              mode: str | None = None, reward: str | None = None, unit: str | None = None,
              max_turns: int | None = None, semantics: str | None = None, shaping: str | None = None,
              prompt_format: str | None = None, **_: Any) -> EmxObservation:
        s = dict(self.defaults)
        if prompt_format is not None and prompt_format not in ("eai", "native", "compact"):
            raise ValueError(f"unknown prompt format {prompt_format!r} (expected eai, native or compact)")
        for k, v in dict(mode=mode, reward=reward, unit=unit, max_turns=max_turns, semantics=semantics,
                         shaping=shaping, prompt_format=prompt_format).items():
            if v is not None:
                s[k] = v
        if semantics is not None and semantics not in SEMANTICS:
            raise ValueError(f"unknown semantics profile {semantics!r}")
        if not isinstance(s["max_turns"], int) or not 1 <= s["max_turns"] <= self.max_turns_limit:
            raise ValueError(f"max_turns must be an integer in 1..{self.max_turns_limit}")
        t = self._pick(task, seed)
        if s["mode"] == "physics" and self.session is not None and self.session.task is t \
                and self.session.mode == "physics":
            world = self.session.episode.world     # the same task again: reuse its SAPIEN world
        else:
            world = None
        self.session = EpisodeSession(t, world=world, **s)
        self.episode_id = episode_id or f"{t.id}#{self._rng.getrandbits(48):012x}"
        info = self.session.reset_info()
        return EmxObservation(text=self.session.first_observation(), task=t.id, turn=0, done=False, reward=0.0,
                              info=info)

    def step(self, action: EmxAction, timeout_s: float | None = None, **_: Any) -> EmxObservation:
        if self.session is None:
            return EmxObservation(text="no episode: send reset first", done=True, reward=0.0,
                                  info={"error": "no_episode"})
        text = action.text if isinstance(action, EmxAction) else str(getattr(action, "text", ""))
        if len(text) > self.max_action_chars:
            text = text[:self.max_action_chars]
        if self.session.done:
            return EmxObservation(text="the episode is over: send reset to start another", task=self.session.task.id,
                                  turn=self.session.turns, done=True, reward=0.0, info={"error": "episode_over"})
        out = self.session.step(text)
        return EmxObservation(text=out.observation, task=self.session.task.id, turn=self.session.turns,
                              done=out.terminated or out.truncated, reward=out.reward, terminated=out.terminated,
                              truncated=out.truncated, info=out.info)

    @property
    def state(self) -> EmxState:
        s = self.session
        if s is None:
            return EmxState(episode_id=self.episode_id, step_count=0)
        return EmxState(episode_id=self.episode_id, step_count=s.turns, task=s.task.id, mode=s.mode, unit=s.unit,
                        reward_preset=s.reward_name, semantics=s.semantics, max_turns=s.max_turns, done=s.done,
                        end_reason=s.episode.end_reason, total_reward=s.total_reward, actions=list(s.actions))

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name="emx", version=_version(),
            description="Household tasks (BDDL) played one turn at a time: the model answers with the next "
                        "action(s) as text; emx executes them and replies with what happened. "
                        f"{len(self.tasks)} tasks.")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.session = None
            if self._on_close is not None:
                self._on_close()


def _version() -> str:
    from .. import __version__

    return __version__


class EmxEnvClient(EnvClient[EmxAction, EmxObservation, EmxState]):
    """OpenEnv's client for emx (``EnvClient`` with emx's typed models)."""

    def _step_payload(self, action: EmxAction) -> dict[str, Any]:
        return {"text": action.text, "metadata": action.metadata}

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[EmxObservation]:
        obs = EmxObservation(**payload.get("observation", {}), done=payload.get("done", False),
                             reward=payload.get("reward"))
        return StepResult(observation=obs, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> EmxState:
        return EmxState(**payload)


class OpenEnvMount:
    """OpenEnv's HTTPEnvServer for emx, with its routes on a FastAPI app of their own (mounted by
    ``emx serve`` at ``/openenv``, or served alone). ``start()``/``stop()`` run OpenEnv's idle
    session reaper (a mounted app's own startup hooks are not run by Starlette)."""

    def __init__(self, tasks: Sequence[Task], limits: Any, registry: Any = None, *, standalone: bool = False) -> None:
        import contextlib

        from fastapi import FastAPI
        from openenv.core.env_server.http_server import HTTPEnvServer
        from openenv.core.env_server.types import ConcurrencyConfig

        self.tasks = list(tasks)
        self._lock = threading.Lock()
        self.created = self.closed = 0
        if registry is not None:
            created = registry.counter("emx_openenv_sessions_created_total", "OpenEnv sessions (WebSocket) opened")
            closed = registry.counter("emx_openenv_sessions_closed_total",
                                      "OpenEnv sessions closed (client gone, or idle past the TTL)")
            registry.gauge("emx_openenv_sessions_live", "OpenEnv sessions alive", fn=lambda: self.live)
        else:
            created = closed = None

        def on_close() -> None:
            with self._lock:
                self.closed += 1
            if closed is not None:
                closed.inc()

        def factory() -> EmxEnvironment:
            env = EmxEnvironment(self.tasks, max_action_chars=limits.max_action_chars,
                                 max_turns_limit=limits.max_episode_turns, on_close=on_close)
            with self._lock:
                self.created += 1
            if created is not None:
                created.inc()
            return env

        self.server = HTTPEnvServer(factory, EmxAction, EmxObservation, concurrency_config=ConcurrencyConfig(
            max_concurrent_envs=limits.max_sessions, session_timeout=limits.session_ttl_s))
        lifespan = None
        if standalone:
            @contextlib.asynccontextmanager
            async def lifespan(_app):
                self.start()
                try:
                    yield
                finally:
                    self.stop()
        self.app = FastAPI(title="emx OpenEnv environment", docs_url=None, redoc_url=None, lifespan=lifespan)
        self.server.register_routes(self.app)
        # /reset and /step over plain HTTP build (and close) a throwaway environment per request:
        # they are counted as sessions too, which keeps `live` = created - closed honest.

    @property
    def live(self) -> int:
        return self.server.active_sessions

    def start(self) -> None:
        self.server._start_reaper()

    def stop(self) -> None:
        self.server._stop_reaper()
