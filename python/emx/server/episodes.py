"""Stateful closed-loop episodes over plain HTTP (part of ``emx serve``):

    POST   /v1/episodes                 {"task", "semantics", "mode", "reward", "unit", "max_turns", "shaping",
                                         "prompt_format"}
                                        -> 201 {"episode_id", "observation", "info"}
    POST   /v1/episodes/{id}/step       {"action": TEXT} -> {"observation", "reward", "terminated", "truncated", "info"}
    GET    /v1/episodes/{id}            where the episode stands (turns, rewards, transcript)
    DELETE /v1/episodes/{id}            ends it now

An episode is an ``emx.envs.EpisodeSession`` held in this process (the C++ step of a symbolic
turn takes microseconds; a physics turn runs on a worker thread). Sessions are bounded: at most
``max_sessions`` live in all, ``max_sessions_per_client`` per bearer token (without a token, all
clients share one quota), ``max_physics_sessions`` in physics mode; a session idle for
``session_ttl_s`` is reaped (on every episode request and by a background sweep), so abandoned
sessions cost nothing after their TTL. Nothing runs in another process, so there is no worker
that can die under a session; a session that is reaped or deleted is gone (404), and a client
that wants it back replays its answers (episodes are deterministic: ``GET`` returns them).
"""

# no `from __future__ import annotations`: FastAPI must see the request models defined in install()

import asyncio
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from ..envs.session import EpisodeSession
from ..task import Task
from . import metrics as m


@dataclass
class _Entry:
    session: EpisodeSession
    owner: str
    created: float
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionStore:
    """Live episodes by id, with per-client and overall caps and an idle TTL. Thread-safe."""

    def __init__(self, *, max_sessions: int, max_per_client: int, max_physics: int, ttl_s: float,
                 registry: m.Registry | None = None) -> None:
        self.max_sessions, self.max_per_client, self.max_physics, self.ttl_s = (
            max_sessions, max_per_client, max_physics, ttl_s)
        self._lock = threading.Lock()
        self._live: OrderedDict[str, _Entry] = OrderedDict()   # least recently used first
        self._per_owner: dict[str, int] = {}
        reg = registry or m.Registry()
        reg.gauge("emx_episode_sessions_live", "closed-loop episode sessions alive", fn=lambda: len(self))
        self.created = reg.counter("emx_episode_sessions_created_total", "episode sessions created")
        self.expired = reg.counter("emx_episode_sessions_expired_total", "episode sessions reaped after their idle TTL")
        self.deleted = reg.counter("emx_episode_sessions_deleted_total", "episode sessions ended by DELETE")
        self.refused = reg.counter("emx_episode_sessions_refused_total", "episode sessions refused, by limit",
                                   ("limit",))
        self.steps = reg.counter("emx_episode_steps_total", "episode turns stepped")

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def reap(self, now: float | None = None) -> int:
        """Drops every session idle for longer than the TTL; returns how many."""
        now = time.monotonic() if now is None else now
        gone = 0
        with self._lock:
            while self._live:
                sid, e = next(iter(self._live.items()))
                if now - e.last_used <= self.ttl_s:
                    break
                self._drop(sid)
                gone += 1
        if gone:
            self.expired.inc(gone)
        return gone

    def _drop(self, sid: str) -> _Entry | None:
        e = self._live.pop(sid, None)
        if e is not None:
            n = self._per_owner.get(e.owner, 0) - 1
            if n > 0:
                self._per_owner[e.owner] = n
            else:
                self._per_owner.pop(e.owner, None)
        return e

    def add(self, session: EpisodeSession, owner: str) -> str:
        """Stores ``session``; raises LimitReached when a cap is hit."""
        self.reap()
        with self._lock:
            if len(self._live) >= self.max_sessions:
                limit = "overall"
            elif self._per_owner.get(owner, 0) >= self.max_per_client:
                limit = "per_client"
            elif session.mode == "physics" and sum(e.session.mode == "physics" for e in self._live.values()) \
                    >= self.max_physics:
                limit = "physics"
            else:
                limit = ""
                sid = secrets.token_urlsafe(16)
                now = time.monotonic()
                self._live[sid] = _Entry(session, owner, now, now)
                self._per_owner[owner] = self._per_owner.get(owner, 0) + 1
        if limit:
            self.refused.inc(limit=limit)
            raise LimitReached(limit)
        self.created.inc()
        return sid

    def get(self, sid: str, owner: str) -> _Entry | None:
        self.reap()
        with self._lock:
            e = self._live.get(sid)
            if e is None or e.owner != owner:    # another client's session is not there for you
                return None
            e.last_used = time.monotonic()
            self._live.move_to_end(sid)
            return e

    def delete(self, sid: str, owner: str) -> bool:
        with self._lock:
            e = self._live.get(sid)
            if e is None or e.owner != owner:
                return False
            self._drop(sid)
        self.deleted.inc()
        return True

    def clear(self) -> None:
        with self._lock:
            self._live.clear()
            self._per_owner.clear()

    async def sweep(self, period_s: float) -> None:
        """Background reaper (started with the app): abandoned sessions go even with no traffic."""
        while True:
            await asyncio.sleep(period_s)
            self.reap()


class LimitReached(Exception):
    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


def owner_of(request: Request) -> str:
    """Sessions belong to the bearer token that made them (hashed: tokens are not kept)."""
    auth = request.headers.get("authorization", "")
    return hashlib.sha256(auth.encode("latin-1", "replace")).hexdigest()[:24] if auth else "anonymous"


# ---------------------------------------------------------------- models

class EpisodeInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    task: str
    turn: int


class EpisodeCreated(BaseModel):
    episode_id: str
    observation: str
    info: EpisodeInfo


class EpisodeStepResult(BaseModel):
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: EpisodeInfo


class EpisodeStatus(BaseModel):
    episode_id: str
    task: str
    mode: str
    unit: str
    reward_preset: str
    semantics: str | None
    max_turns: int
    turns: int
    done: bool
    end_reason: str
    total_reward: float
    episode_reward: float
    components: dict[str, Any]
    actions: list[str] = Field(description="every answer so far: replaying them rebuilds the episode")
    transcript: list[dict[str, str]]


def install(app: Any, *, by_id: dict[str, Task], limits: Any, registry: m.Registry, secured: list,
            api_error: type, error_responses: dict) -> SessionStore:
    """Adds the /v1/episodes routes to ``app``; returns the session store."""
    store = SessionStore(max_sessions=limits.max_sessions, max_per_client=limits.max_sessions_per_client,
                         max_physics=limits.max_physics_sessions, ttl_s=limits.session_ttl_s, registry=registry)

    class CreateEpisode(BaseModel):
        model_config = ConfigDict(extra="forbid")
        task: StrictStr = Field(min_length=1, max_length=512, description="a task id from GET /v1/tasks",
                                json_schema_extra={"enum": list(by_id)})
        semantics: Literal["eai", "embomatrix", "emx"] | None = Field(
            None, description="semantics profile (recorded; applied where the episode engine supports profiles)")
        mode: Literal["symbolic", "physics"] = "symbolic"
        reward: Literal["default", "embomatrix", "eai"] = "default"
        unit: Literal["action", "subtask"] = "action"
        max_turns: int = Field(30, ge=1, le=limits.max_episode_turns)
        shaping: Literal["final", "progress"] = Field(
            "final", description="final: the episode's reward on its last turn; progress: goal-fraction gains each turn")
        prompt_format: Literal["eai", "native", "compact"] = Field(
            "eai", description="the task prompt's format (the first observation)")

    class StepEpisode(BaseModel):
        model_config = ConfigDict(extra="forbid")
        action: StrictStr = Field(max_length=limits.max_action_chars,
                                  description="the model's raw answer for this turn (scored, never executed as code)")

    model = error_responses[401]["model"]
    error_responses = {**error_responses, 400: {"model": model, "description": "the body is not JSON"}}
    responses = {
        **error_responses,
        404: {"description": "no live episode with this id (never made, deleted, or reaped after its idle TTL)",
              "model": error_responses[401]["model"]},
    }
    create_responses = {**error_responses,
                        429: {"description": "too many live episodes (this client's or the server's)",
                              "model": error_responses[401]["model"]}}
    step_responses = {**responses, 409: {"description": "the episode is over", "model": error_responses[401]["model"]}}

    def _entry(request: Request, episode_id: str) -> Any:
        e = store.get(episode_id, owner_of(request))
        if e is None:
            raise api_error(404, "unknown_episode", "no live episode with this id (deleted, or idle longer than "
                                                    f"{limits.session_ttl_s:g} s)")
        return e

    async def _off_loop(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    @app.post("/v1/episodes", dependencies=secured, status_code=201, response_model=EpisodeCreated,
              responses=create_responses)
    async def create_episode(body: CreateEpisode, request: Request) -> Response:
        task = by_id.get(body.task)
        if task is None:
            raise api_error(422, "unknown_task", "this server does not serve that task (see GET /v1/tasks)")
        if body.mode == "physics":
            try:
                import sapien  # noqa: F401
            except ImportError:
                raise api_error(422, "physics_unavailable", "physics mode needs SAPIEN (pip install 'emx[physics]')") \
                    from None

        def make() -> EpisodeSession:
            return EpisodeSession(task, mode=body.mode, unit=body.unit, max_turns=body.max_turns, reward=body.reward,
                                  semantics=body.semantics, shaping=body.shaping, prompt_format=body.prompt_format)

        session = make() if body.mode == "symbolic" else await _off_loop(make)
        try:
            sid = store.add(session, owner_of(request))
        except LimitReached as e:
            raise api_error(429, "too_many_episodes", {
                "overall": f"the server holds its maximum of {limits.max_sessions} live episodes",
                "per_client": f"this client holds its maximum of {limits.max_sessions_per_client} live episodes",
                "physics": f"the server holds its maximum of {limits.max_physics_sessions} physics episodes",
            }[e.limit] + "; delete finished ones or wait for idle ones to expire") from None
        return JSONResponse({"episode_id": sid, "observation": session.first_observation(),
                             "info": session.reset_info()}, status_code=201)

    @app.post("/v1/episodes/{episode_id}/step", dependencies=secured, response_model=EpisodeStepResult,
              responses=step_responses)
    async def step_episode(episode_id: str, body: StepEpisode, request: Request) -> dict[str, Any]:
        e = _entry(request, episode_id)

        def run():
            with e.lock:   # one turn at a time per episode
                if e.session.done:
                    return None
                return e.session.step(body.action)

        out = run() if e.session.mode == "symbolic" else await _off_loop(run)
        if out is None:
            raise api_error(409, "episode_over", "the episode is over (see GET /v1/episodes/{id}); start a new one")
        store.steps.inc()
        return {"observation": out.observation, "reward": out.reward, "terminated": out.terminated,
                "truncated": out.truncated, "info": out.info}

    @app.get("/v1/episodes/{episode_id}", dependencies=secured, response_model=EpisodeStatus, responses=responses)
    async def get_episode(episode_id: str, request: Request) -> dict[str, Any]:
        e = _entry(request, episode_id)
        s = e.session
        with e.lock:
            r = s.result()
            from ..envs.session import components

            return {"episode_id": episode_id, "task": s.task.id, "mode": s.mode, "unit": s.unit,
                    "reward_preset": s.reward_name, "semantics": s.semantics, "max_turns": s.max_turns,
                    "turns": s.turns, "done": s.done, "end_reason": s.episode.end_reason,
                    "total_reward": s.total_reward, "episode_reward": float(r.reward), "components": components(r),
                    "actions": list(s.actions), "transcript": s.episode.transcript()}

    @app.delete("/v1/episodes/{episode_id}", dependencies=secured, status_code=204, responses=responses,
                response_class=Response)
    async def delete_episode(episode_id: str, request: Request) -> Response:
        if not store.delete(episode_id, owner_of(request)):
            raise api_error(404, "unknown_episode", "no live episode with this id")
        return Response(status_code=204)

    return store
