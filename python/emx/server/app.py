"""The reward server: emx's rewards over HTTP for trainers that are not emx's own.

    POST /v1/evaluate   {"items": [{"task": ID, "plan": TEXT | [actions] | {...}}], "reward": ..., "mode": ...}
    GET  /v1/tasks      the served tasks;  GET /v1/tasks/{id}: objects, goal, prompts
    GET  /healthz       liveness (no token needed)
    GET  /metrics       Prometheus text format
    GET  /openapi.json  the contract (no token needed)

Safety: binds loopback unless told otherwise, and then only with a token; the
token and body size are checked before anything else (limits.RequestGuard);
plans are data, parsed by emx.parse_plan and never evaluated as code; every
error is a JSON object {"error": {"code", "message", "request_id"}} with no
stack trace; every request has a deadline.
"""


import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import FastAPI, Request, Security
from fastapi.security import HTTPBearer
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..evaluation import Result
from ..plans import Plan as PlanValue
from ..task import Task
from . import metrics as m
from .backend import ThreadBackend
from .limits import RequestGuard, ServerLimits, error_body

log = logging.getLogger("emx.server")

REWARD_PRESETS = ("default", "embomatrix", "eai")
_METHODS = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"}
_KNOWN_PATHS = {"/v1/evaluate", "/v1/tasks", "/v1/episodes", "/healthz", "/metrics", "/openapi.json"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


# ---------------------------------------------------------------- response models (documentation)

class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable: unauthorized, body_too_large, invalid_request, "
                                  "unknown_task, plan_too_deep, overloaded, timeout, not_found, internal, ...")
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


class StepOut(BaseModel):
    action: str
    ok: bool
    error: str
    message: str


class Components(BaseModel):
    format_ok: bool
    format_error: str | None
    executability: float
    goal_fraction: float
    success: bool
    plan_length: int
    executed: int
    objects_named: int
    relevant_named: int
    first_error: str
    condition_truth: list[bool]


class ItemResult(BaseModel):
    task: str
    reward: float
    success: bool
    goal_fraction: float
    error_type: str | None = Field(description="the error that decided the plan: format, a step error, or null")
    components: Components
    trace: list[StepOut] = Field(description="one entry per executed step (empty when trace=false)")


class EvaluateResponse(BaseModel):
    n: int
    reward_preset: str
    mode: str
    semantics: list[str] = Field(description="the semantics profiles that judged the plans")
    seconds: float
    results: list[ItemResult]


class TaskSummary(BaseModel):
    id: str
    command: str
    objects: int
    goal_conditions: int


class TaskList(BaseModel):
    sources: list[str]
    n: int
    tasks: list[TaskSummary]


class ObjectOut(BaseModel):
    index: int
    name: str
    category: str
    abilities: list[str]
    room: str | None


class TaskDetail(BaseModel):
    id: str
    source: str
    command: str
    objects: list[ObjectOut]
    goal: list[str]
    prompts: dict[str, str]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    tasks: int
    backend: str
    workers: int
    semantics: list[str] = Field(description="the semantics profiles the served tasks are judged by by default")


def _request_models(limits: ServerLimits, task_ids: Sequence[str]):
    """Request models whose limits and task ids are the server's (so the OpenAPI document states them)."""
    Plan = Union[
        Annotated[StrictStr, Field(max_length=limits.max_plan_chars)],
        Annotated[list[Any], Field(max_length=limits.max_plan_actions)],
        dict[str, Any],
    ]

    class EvaluateItem(BaseModel):
        model_config = ConfigDict(extra="forbid")
        # The ids are listed in the schema (clients and schemathesis see the contract); the
        # check itself is the handler's, so an unknown id gets the "unknown_task" error.
        task: StrictStr = Field(min_length=1, max_length=512, description="a task id from GET /v1/tasks",
                                json_schema_extra={"enum": list(task_ids)})
        plan: Plan = Field(description="raw model text, a list of EAI action objects, or an EmboMatrix "
                                       "native object {\"action_sequence\": [...]}; scored, never executed as code")

    class EvaluateRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        items: list[EvaluateItem] = Field(max_length=limits.max_items)
        reward: Literal["default", "embomatrix", "eai"] = "default"
        mode: Literal["symbolic"] = "symbolic"
        format: Literal["auto", "eai", "native"] = Field("auto", description="plan format; auto detects")
        trace: StrictBool = Field(True, description="include every step's action, error and message")
        semantics: Optional[Literal["eai", "embomatrix", "emx"]] = Field(
            None, description="whose action rules judge the plans (default: the server's, see GET /healthz)")

    return EvaluateItem, EvaluateRequest


def _depth_and_length(plan: Any, max_depth: int) -> tuple[int, int]:
    """(nesting depth, action count) of a plan given as JSON data, without recursion."""
    if isinstance(plan, str):
        return 0, 0
    actions = len(plan) if isinstance(plan, list) else 0
    if isinstance(plan, dict) and isinstance(plan.get("action_sequence"), list):
        actions = len(plan["action_sequence"])
    depth, stack = 0, [(plan, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (list, dict)):
            depth = max(depth, d)
            if depth > max_depth:
                return depth, actions
            stack.extend((c, d + 1) for c in (node.values() if isinstance(node, dict) else node))
    return depth, actions


def _result_json(r: Result, keep_trace: bool) -> dict[str, Any]:
    return {
        "task": r.task_id,
        "reward": r.reward,
        "success": r.success,
        "goal_fraction": r.goal_fraction,
        "error_type": r.error_type,
        "components": {
            "format_ok": r.format_ok, "format_error": r.format_error, "executability": r.executability,
            "goal_fraction": r.goal_fraction, "success": r.success, "plan_length": r.plan_length,
            "executed": r.executed, "objects_named": r.objects_named, "relevant_named": r.relevant_named,
            "first_error": r.first_error, "condition_truth": list(r.condition_truth),
        },
        "trace": [{"action": s.action, "ok": s.ok, "error": s.error, "message": s.message} for s in r.trace]
        if keep_trace else [],
    }


@dataclass
class ServerState:
    tasks: dict[str, Task]
    sources: list[str]
    limits: ServerLimits
    backend: Any
    registry: m.Registry = field(default_factory=m.Registry)
    waiting: int = 0
    running: int = 0
    sem: asyncio.Semaphore | None = None
    episodes: Any = None          # the /v1/episodes session store
    openenv: Any = None           # the OpenEnv mount (emx.envs.openenv.OpenEnvMount) or None
    # Tasks under another semantics profile than they were served with, compiled on first use.
    reprofiled: dict[tuple[str, str], Task] = field(default_factory=dict)

    def task(self, task_id: str, semantics: str | None) -> Task:
        t = self.tasks[task_id]
        if semantics is None or semantics == t.semantics:
            return t
        key = (task_id, semantics)
        if key not in self.reprofiled:  # bounded: served tasks x 3 profiles
            self.reprofiled[key] = t.with_semantics(semantics)
        return self.reprofiled[key]


_ERROR_RESPONSES = {
    401: {"model": ErrorResponse, "description": "missing or wrong bearer token"},
    413: {"model": ErrorResponse, "description": "request body over the size limit"},
    422: {"model": ErrorResponse, "description": "invalid request"},
    500: {"model": ErrorResponse, "description": "internal error (no details are sent)"},
}
_EVAL_RESPONSES = {
    **_ERROR_RESPONSES,
    400: {"model": ErrorResponse, "description": "the body is not JSON"},
    408: {"model": ErrorResponse, "description": "the body did not arrive within the request timeout"},
    503: {"model": ErrorResponse, "description": "too many requests waiting; retry later"},
    504: {"model": ErrorResponse, "description": "the request did not finish within the server's timeout"},
}


def create_app(tasks: Sequence[Task], *, sources: Sequence[str] = (), limits: ServerLimits | None = None,
               token: str | None = None, backend: Any = None, openenv: bool = True) -> Any:
    """The ASGI application (FastAPI inside the request guard and the metrics layer).

    tasks: compiled once by the caller; backend: a ThreadBackend (default) or EngineBackend;
    openenv: also serve the tasks as an OpenEnv environment at /openenv (when openenv-core is
    installed), behind the same token and limits.
    """
    limits = limits or ServerLimits()
    limits = limits.fitted()
    by_id: dict[str, Task] = {}
    for t in tasks:
        if t.id in by_id:
            raise ValueError(f"task id {t.id!r} is served twice (two sources hold it)")
        by_id[t.id] = t
    backend = backend or ThreadBackend(limits.concurrency())
    state = ServerState(by_id, list(sources), limits, backend)
    reg = state.registry
    requests_total = reg.counter("emx_http_requests_total", "HTTP requests by route and status",
                                 ("method", "path", "status"))
    latency = reg.histogram("emx_http_request_duration_seconds", "HTTP request latency", ("path",))
    rejected = reg.counter("emx_http_rejected_total", "requests refused before any work, by error code", ("code",))
    items_total = reg.counter("emx_evaluate_items_total", "plans evaluated")
    eval_seconds = reg.histogram("emx_evaluate_seconds", "evaluate requests: arrival to evaluated batch (queue + run)")
    reg.gauge("emx_queue_depth", "evaluation requests waiting for a worker slot", fn=lambda: state.waiting)
    reg.gauge("emx_episode_queue_depth", "episodes queued in the rollout engine (0 without one)",
              fn=lambda: backend.queue_depth() if hasattr(backend, "queue_depth") else 0)
    reg.gauge("emx_inflight_requests", "evaluation requests running", fn=lambda: state.running)
    reg.gauge("emx_workers", "worker slots", fn=lambda: backend.slots)
    reg.gauge("emx_worker_utilisation", "fraction of the last seconds each worker had work in hand",
              ("worker",), fn=lambda: [({"worker": n}, u) for n, u in backend.workers()])
    reg.gauge("emx_tasks", "tasks served", fn=lambda: len(by_id))

    EvaluateItem, EvaluateRequest = _request_models(limits, list(by_id))
    # Documentation only: the guard checks the token before FastAPI sees the request.
    secured = [Security(HTTPBearer(auto_error=False, description="the server's token"))] if token else []

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        sweeper = asyncio.get_running_loop().create_task(
            episode_store.sweep(max(0.05, min(30.0, limits.session_ttl_s / 4))))
        if openenv_mount is not None:
            openenv_mount.start()
        try:
            yield
        finally:
            sweeper.cancel()
            if openenv_mount is not None:
                openenv_mount.stop()
            episode_store.clear()
            backend.close()

    app = FastAPI(title="emx reward server", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Multi-level rewards for household-task plans (EmboMatrix / EAI BEHAVIOR semantics). "
                              "Send `Authorization: Bearer TOKEN` when the server has a token. "
                              f"Request bodies over {limits.max_body_bytes} bytes are refused with 413.")
    app.state.emx = state
    from .episodes import install as install_episodes

    episode_store = install_episodes(app, by_id=by_id, limits=limits, registry=reg, secured=secured,
                                     api_error=ApiError, error_responses=_ERROR_RESPONSES)
    state.episodes = episode_store
    openenv_mount = None
    if openenv:
        try:
            from ..envs.openenv import OpenEnvMount
        except ImportError as e:  # openenv-core is optional (pip install 'emx[env]')
            log.info("OpenEnv endpoints off: %s", e)
        else:
            openenv_mount = OpenEnvMount(list(by_id.values()), limits, reg)
            app.mount("/openenv", openenv_mount.app)
    state.openenv = openenv_mount

    def rid(request: Request) -> str:
        return request.scope.get("state", {}).get("request_id", "")

    def fail(request: Request, status: int, code: str, message: str, headers: dict | None = None,
             **extra: Any) -> JSONResponse:
        if status < 500:
            rejected.inc(code=code)
        return JSONResponse(error_body(code, message, rid(request), **extra), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        headers = {"Retry-After": "1"} if e.status == 503 else None
        return fail(request, e.status, e.code, e.message, headers=headers, **e.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        # loc/msg/type only: echoing the input back could reflect megabytes (or secrets) to logs and clients.
        details = [{"loc": [str(x) for x in err.get("loc", ())], "msg": str(err.get("msg", ""))[:300],
                    "type": str(err.get("type", ""))} for err in e.errors()[:20]]
        if any(d["type"] == "json_invalid" for d in details):
            return fail(request, 400, "bad_json", "the request body is not valid JSON", details=details)
        return fail(request, 422, "invalid_request", "the request does not match the schema (see details)",
                    details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable",
                 415: "unsupported_media_type"}
        code = codes.get(e.status_code, "http_error")
        message = {404: "no such endpoint", 405: "method not allowed"}.get(e.status_code, "bad request")
        headers = getattr(e, "headers", None)
        if e.status_code == 405:
            # Allow lists every method of the path (Starlette names only the first route's: GET
            # /v1/episodes/{id} and DELETE /v1/episodes/{id} are two routes)
            from starlette.routing import Match

            allowed = set()
            for route in app.router.routes:
                if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
                    allowed |= set(route.methods)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(sorted(allowed))}
        return fail(request, e.status_code, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception):
        log.exception("internal error in %s %s (request %s)", request.method, request.url.path, rid(request))
        return JSONResponse(error_body("internal", "internal server error", rid(request)), status_code=500)

    @app.get("/healthz", response_model=Health, responses={500: _ERROR_RESPONSES[500]})
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "tasks": len(by_id), "backend": backend.name,
                "workers": backend.slots, "semantics": sorted({t.semantics for t in by_id.values()})}

    @app.get("/metrics", dependencies=secured, response_class=Response, responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
        401: _ERROR_RESPONSES[401], 500: _ERROR_RESPONSES[500]})
    async def metrics() -> Response:
        return Response(reg.render(), media_type=m.CONTENT_TYPE)

    @app.get("/v1/tasks", dependencies=secured, response_model=TaskList,
             responses={401: _ERROR_RESPONSES[401], 500: _ERROR_RESPONSES[500]})
    async def list_tasks() -> dict[str, Any]:
        return {"sources": state.sources, "n": len(by_id),
                "tasks": [{"id": t.id, "command": t.command, "objects": len(t.visible_objects),
                           "goal_conditions": len(t.goal_conditions)} for t in by_id.values()]}

    @app.get("/v1/tasks/{task_id}", dependencies=secured, response_model=TaskDetail, responses={
        401: _ERROR_RESPONSES[401], 404: {"model": ErrorResponse, "description": "no such task"},
        500: _ERROR_RESPONSES[500]})
    async def show_task(task_id: str) -> dict[str, Any]:
        from ..prompts import build_prompt

        t = by_id.get(task_id)
        if t is None:
            raise ApiError(404, "unknown_task", "no task with this id is served (see GET /v1/tasks)")
        return {"id": t.id, "source": t.source, "command": t.command,
                "objects": [{"index": o.index, "name": o.name, "category": o.category,
                             "abilities": list(o.abilities), "room": o.room} for o in t.visible_objects],
                "goal": list(t.goal_conditions),
                "prompts": {"eai": build_prompt(t, "eai"), "native": build_prompt(t, "native")}}

    @app.post("/v1/evaluate", dependencies=secured, response_model=EvaluateResponse, responses=_EVAL_RESPONSES)
    async def evaluate(body: EvaluateRequest, request: Request) -> Response:
        start = time.monotonic()
        deadline = start + limits.request_timeout_s
        unknown = [i for i, it in enumerate(body.items) if it.task not in by_id]
        if unknown:
            raise ApiError(422, "unknown_task", f"{len(unknown)} item(s) name tasks this server does not serve "
                           "(see GET /v1/tasks)", details=[{"index": i, "task": body.items[i].task[:200]}
                                                           for i in unknown[:20]])
        plans: list[Any] = []
        for it in body.items:
            # Model output that is too deep or too long is a format failure of that item, as
            # emx.parse_plan would find it, not a failure of the whole batch.
            depth, n_actions = _depth_and_length(it.plan, limits.max_plan_depth)
            if depth > limits.max_plan_depth:
                plans.append(PlanValue(format="none", actions=(),
                                       error=f"plan nested deeper than {limits.max_plan_depth}"))
            elif n_actions > limits.max_plan_actions:
                plans.append(PlanValue(format="none", actions=(),
                                       error=f"too many actions: {n_actions} (limit {limits.max_plan_actions})"))
            else:
                plans.append(it.plan)
        tasks = [state.task(it.task, body.semantics) for it in body.items]
        results = await _run(state, lambda: backend.submit(tasks, plans, body.reward, body.format, body.trace),
                             deadline) if tasks else []
        items_total.inc(len(results))
        took = time.monotonic() - start
        eval_seconds.observe(took)
        payload = {"n": len(results), "reward_preset": body.reward, "mode": body.mode,
                   "semantics": sorted({t.semantics for t in tasks}), "seconds": took,
                   "results": [_result_json(r, body.trace) for r in results]}
        return JSONResponse(payload)

    guarded = RequestGuard(app, token, limits.max_body_bytes, on_reject=lambda code, status: rejected.inc(code=code),
                           body_timeout_s=limits.request_timeout_s,
                           max_websockets_per_client=limits.max_sessions_per_client)
    outer = _MetricsLayer(guarded, requests_total, latency)
    outer.state = state  # tests and embedders reach the state through the outer app
    outer.fastapi = app
    return outer


def create_openenv_app(tasks: Sequence[Task], *, limits: ServerLimits | None = None, token: str | None = None) -> Any:
    """OpenEnv alone (``emx serve --openenv-only``): OpenEnv's routes at the root, behind the same
    token guard and limits, plus ``/metrics``."""
    from ..envs.openenv import OpenEnvMount

    limits = (limits or ServerLimits()).fitted()
    reg = m.Registry()
    rejected = reg.counter("emx_http_rejected_total", "requests refused before any work, by error code", ("code",))
    mount = OpenEnvMount(list(tasks), limits, reg, standalone=True)

    @mount.app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "tasks": len(mount.tasks), "backend": "openenv", "workers": 0}

    @mount.app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(reg.render(), media_type=m.CONTENT_TYPE)

    guarded = RequestGuard(mount.app, token, limits.max_body_bytes,
                           on_reject=lambda code, status: rejected.inc(code=code),
                           body_timeout_s=limits.request_timeout_s,
                           max_websockets_per_client=limits.max_sessions_per_client)
    guarded.openenv = mount
    guarded.registry = reg
    return guarded


async def _run(state: ServerState, submit, deadline: float) -> list[Result]:
    """Runs one batch on a worker slot, within the request's deadline.

    A request over its deadline gets 504 at once; its batch (C++ code that
    cannot be interrupted) finishes in the background and only then frees its
    slot, so the number of evaluations running never exceeds the slots.
    """
    limits = state.limits
    if state.sem is None:
        state.sem = asyncio.Semaphore(state.backend.slots)
    if state.waiting >= limits.max_queue:
        raise ApiError(503, "overloaded", f"{state.waiting} requests are already waiting; retry later")
    state.waiting += 1
    try:
        await asyncio.wait_for(state.sem.acquire(), max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        raise ApiError(504, "timeout", f"no worker slot became free within {limits.request_timeout_s:g} s") from None
    finally:
        state.waiting -= 1
    state.running += 1
    try:
        fut = asyncio.wrap_future(submit())
    except BaseException:
        state.running -= 1
        state.sem.release()
        raise

    def _done(f: asyncio.Future) -> None:
        state.running -= 1
        state.sem.release()
        if not f.cancelled():
            f.exception()  # retrieved: a batch that failed after its request timed out is not "never retrieved"

    fut.add_done_callback(_done)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        raise ApiError(504, "timeout", f"evaluation did not finish within {limits.request_timeout_s:g} s") from None


class _MetricsLayer:
    """Outermost ASGI layer: counts every request (those the guard refused too) and its latency."""

    def __init__(self, app, requests_total: m.Counter, latency: m.Histogram) -> None:
        self.app, self.requests_total, self.latency = app, requests_total, latency

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        label = path if path in _KNOWN_PATHS else "/v1/tasks/{task_id}" if path.startswith("/v1/tasks/") else \
            ("/v1/episodes/{id}/step" if path.endswith("/step") else "/v1/episodes/{id}") \
            if path.startswith("/v1/episodes/") else "/openenv" if path.startswith("/openenv") else "other"
        status = 500
        t0 = time.perf_counter()

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.latency.observe(time.perf_counter() - t0, path=label)
            method = scope.get("method", "")
            self.requests_total.inc(method=method if method in _METHODS else "other", path=label, status=str(status))
