"""`emx serve`: compile the task sources once, build the app, run uvicorn."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from .limits import ServerLimits, check_bind, resolve_token

log = logging.getLogger("emx.server")


def make_backend(workers: int, limits: ServerLimits, transport: str = "process", address: str | None = None) -> Any:
    """Threads calling emx.evaluate_batch, or an emx.RolloutEngine with `workers` workers (local
    processes, or Ray actors on the cluster at `address` with transport "ray")."""
    from .backend import EngineBackend, ThreadBackend

    if transport not in ("process", "ray"):
        raise ValueError(f"unknown transport {transport!r} (expected 'process' or 'ray')")
    if workers <= 0:
        if transport == "ray":
            raise ValueError("--ray needs --workers N (the number of Ray worker actors)")
        return ThreadBackend(limits.concurrency())
    from ..rollout.engine import RolloutEngine

    if transport == "ray":
        from ..rollout.ray_transport import ray_specs

        engine = RolloutEngine(workers=ray_specs(address or "auto", workers))
    else:
        engine = RolloutEngine(workers=workers)
    # Enough request slots to keep every worker fed; the engine queues and routes episodes.
    return EngineBackend(engine, slots=max(limits.concurrency(), workers))


def _require_server_packages() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ValueError(f"emx serve needs FastAPI and uvicorn ({e.name} is missing): pip install 'emx[server]'") from None


def build_app(sources: Sequence[str], *, token: str | None = None, limits: ServerLimits | None = None,
              workers: int = 0, transport: str = "process", address: str | None = None,
              strict: bool = False, openenv_only: bool = False, semantics: str | None = None) -> Any:
    """The ASGI app with every task of `sources` compiled once, under `semantics` (default: each
    source's own; a request may ask for another profile). Bad files of a corpus source are left
    out and shown as a table on stderr (``strict``: the first one is an error)."""
    _require_server_packages()
    from ..tasks.corpus import load_reporting
    from .app import create_app, create_openenv_app

    limits = limits or ServerLimits()
    tasks = load_reporting(list(sources), strict=strict, semantics=semantics)
    if not tasks:
        raise ValueError(f"no tasks in {', '.join(sources)}")
    if openenv_only:
        try:
            import openenv.core  # noqa: F401
        except ImportError:
            raise ValueError("--openenv-only needs openenv-core (pip install 'emx[env]' and "
                             "pip install --no-deps openenv-core==0.3.0)") from None
        return create_openenv_app(tasks, limits=limits, token=token)
    return create_app(tasks, sources=sources, limits=limits, token=token,
                      backend=make_backend(workers, limits, transport, address))


def serve(sources: Sequence[str] = ("eai-behavior",), host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None, limits: ServerLimits | None = None, workers: int = 0,
          transport: str = "process", address: str | None = None, log_level: str = "info",
          access_log: bool = False, strict: bool = False, openenv_only: bool = False,
          semantics: str | None = None) -> int:
    """Runs the server until interrupted. The token falls back to $EMX_SERVER_TOKEN."""
    _require_server_packages()
    import uvicorn

    token = resolve_token(token)
    check_bind(host, token)  # before compiling anything: a refused bind should fail fast
    limits = limits or ServerLimits()
    app = build_app(sources, token=token, limits=limits, workers=workers, transport=transport, address=address,
                    strict=strict, openenv_only=openenv_only, semantics=semantics)
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}"
    if openenv_only:
        print(f"emx OpenEnv environment: {len(app.openenv.tasks)} tasks from {', '.join(sources)}; "
              f"token {'required' if token else 'off (loopback only)'}; {url} (WebSocket {url}/ws)",
              file=sys.stderr, flush=True)
    else:
        state = app.state
        print(f"emx reward server: {len(state.tasks)} tasks from {', '.join(sources)}; backend {state.backend.name} "
              f"({state.backend.slots} slots); token {'required' if token else 'off (loopback only)'}; {url}"
              + (f"; OpenEnv at {url}/openenv" if state.openenv is not None else ""), file=sys.stderr, flush=True)
    # Every open episode WebSocket holds a connection: room for all of them beyond the request slots.
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            server_header=False, date_header=True,
                            limit_concurrency=4 * (limits.max_queue + limits.concurrency()) + 64 + limits.max_sessions,
                            timeout_keep_alive=15, lifespan="on", ws_max_size=limits.max_body_bytes,
                            # SIGTERM drains: requests in flight get their answer (each is bounded by
                            # the request timeout), then the backend's workers are stopped.
                            timeout_graceful_shutdown=limits.request_timeout_s + 5)
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again under the handler
    # that was there before. For SIGTERM that handler is a no-op here, so a drained server exits 0;
    # SIGINT reaches Python's own handler (KeyboardInterrupt: the CLI's exit status 130).
    import signal

    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.Server(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def add_serve_arguments(p: Any) -> None:
    """The options of `emx serve` (argparse)."""
    d = ServerLimits()
    p.add_argument("--tasks", action="append", default=None, metavar="SRC",
                   help="task source to serve (repeatable; default: eai-behavior); compiled once at start")
    p.add_argument("--strict", action="store_true",
                   help="a bad task file in a --tasks source is an error (default: skipped and listed on stderr)")
    p.add_argument("--semantics", choices=["eai", "embomatrix", "emx"], default=None,
                   help="whose action rules judge plans unless a request says (default: each task source's own)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other address requires a token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None,
                   help="bearer token clients must send (default: $EMX_SERVER_TOKEN; prefer the variable, "
                        "argv is visible to other users)")
    p.add_argument("--workers", type=int, default=0,
                   help="run evaluations on an emx.RolloutEngine with N workers (0: threads in this process)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="with --workers: run the workers as Ray actors on this cluster ('auto' or HOST:PORT)")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    p.add_argument("--max-items", type=int, default=d.max_items, help="(task, plan) pairs per request")
    p.add_argument("--max-plan-chars", type=int, default=d.max_plan_chars)
    p.add_argument("--max-plan-actions", type=int, default=d.max_plan_actions)
    p.add_argument("--timeout", type=float, default=d.request_timeout_s, help="seconds per request")
    p.add_argument("--concurrency", type=int, default=d.max_concurrency,
                   help="evaluations running at once (0: the number of cores)")
    p.add_argument("--max-queue", type=int, default=d.max_queue, help="requests waiting beyond this get 503")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions,
                   help="closed-loop episodes (HTTP and OpenEnv) alive at once, in all")
    p.add_argument("--max-sessions-per-client", type=int, default=d.max_sessions_per_client,
                   help="live episodes per bearer token")
    p.add_argument("--max-physics-sessions", type=int, default=d.max_physics_sessions)
    p.add_argument("--session-ttl", type=float, default=d.session_ttl_s,
                   help="seconds an idle episode lives before it is reaped")
    p.add_argument("--max-action-chars", type=int, default=d.max_action_chars,
                   help="one turn's answer (at most half of --max-body-bytes: lowered to that)")
    p.add_argument("--openenv-only", action="store_true",
                   help="serve only the OpenEnv environment (its /ws, /reset, /step, /state, /schema, /health at "
                        "the root); without it, emx serve also mounts it at /openenv")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access-log", action="store_true")


def cmd_serve(args: Any) -> int:
    limits = ServerLimits(max_body_bytes=args.max_body_bytes, max_items=args.max_items,
                          max_plan_chars=args.max_plan_chars, max_plan_actions=args.max_plan_actions,
                          request_timeout_s=args.timeout, max_concurrency=args.concurrency, max_queue=args.max_queue,
                          max_sessions=args.max_sessions, max_sessions_per_client=args.max_sessions_per_client,
                          max_physics_sessions=args.max_physics_sessions, session_ttl_s=args.session_ttl,
                          max_action_chars=args.max_action_chars)
    for name in ("max_body_bytes", "max_items", "max_plan_chars", "max_plan_actions", "max_queue", "max_sessions",
                 "max_sessions_per_client", "max_action_chars"):
        if getattr(limits, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if limits.request_timeout_s <= 0:
        raise ValueError("--timeout must be positive")
    if limits.session_ttl_s <= 0:
        raise ValueError("--session-ttl must be positive")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a TCP port")
    transport = "ray" if args.ray else "process"
    return serve(args.tasks or ["eai-behavior"], host=args.host, port=args.port, token=args.token, limits=limits,
                 workers=args.workers, transport=transport, address=args.ray, log_level=args.log_level,
                 access_log=args.access_log, strict=getattr(args, "strict", False),
                 openenv_only=args.openenv_only, semantics=args.semantics)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m emx.server.launch ...`: the same as `emx serve ...`."""
    import argparse

    p = argparse.ArgumentParser(prog="emx serve", description="the emx reward server")
    add_serve_arguments(p)
    args = p.parse_args(argv)
    try:
        return cmd_serve(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
