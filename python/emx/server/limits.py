"""What the reward server accepts, and the guard that enforces it before any work.

The guard is plain ASGI middleware, outermost in the stack: it checks the bearer
token first (401), then reads the request body itself up to the size limit
(413 as soon as it is exceeded, without reading the rest) and only then hands
the buffered body to the application. Nothing is parsed, queued or evaluated for
a request the guard turns away.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

TOKEN_ENV = "EMX_SERVER_TOKEN"

# Paths anyone may call: a liveness probe reveals nothing, and the OpenAPI
# document is the public contract.
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/health", "/openenv/health"})


@dataclass(frozen=True)
class ServerLimits:
    max_body_bytes: int = 4 << 20        # whole request body
    max_items: int = 1024                # (task, plan) pairs per /v1/evaluate request
    max_plan_chars: int = 65_536         # a plan given as text
    max_plan_actions: int = 512          # a plan given as a list (or a native action_sequence)
    max_plan_depth: int = 16             # nesting of a plan given as JSON data
    request_timeout_s: float = 30.0      # queueing + evaluation of one request
    max_concurrency: int = 0             # evaluations running at once (0: the number of cores)
    max_queue: int = 64                  # requests waiting for a slot; more get 503
    # closed-loop episodes (/v1/episodes and the OpenEnv sessions)
    max_sessions: int = 1024             # live episodes in all
    max_sessions_per_client: int = 256   # live episodes per bearer token
    max_physics_sessions: int = 8        # live physics episodes (each holds a SAPIEN world)
    session_ttl_s: float = 600.0         # an episode idle this long is reaped
    max_action_chars: int = 65_536       # one turn's answer
    max_episode_turns: int = 256         # the largest turn budget a client may ask for

    def fitted(self) -> "ServerLimits":
        """These limits with every text limit at most half the body limit: a plan text or an
        episode answer the schema allows fits in a body the guard allows, so a request just over
        a text limit gets the schema's 422 (what its OpenAPI ``maxLength`` promises) rather than
        the guard's 413."""
        cap = max(1, self.max_body_bytes // 2)
        return dataclasses.replace(self, max_plan_chars=min(self.max_plan_chars, cap),
                                   max_action_chars=min(self.max_action_chars, cap))

    def concurrency(self) -> int:
        return self.max_concurrency if self.max_concurrency > 0 else max(1, os.cpu_count() or 1)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, 'localhost')."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def resolve_token(token: str | None) -> str | None:
    """The --token value, else $EMX_SERVER_TOKEN, else None. Empty means none."""
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    token = (token or "").strip()
    return token or None


def check_bind(host: str, token: str | None) -> None:
    """Refuses to serve beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to bind {host!r} without a token: a server reachable from other machines needs "
            f"--token or ${TOKEN_ENV} (or bind 127.0.0.1)")
    if token is not None and len(token) < 16:
        raise ValueError("the server token must be at least 16 characters (try: python -c "
                         "'import secrets; print(secrets.token_urlsafe(32))')")


def error_body(code: str, message: str, request_id: str = "", **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if request_id:
        err["request_id"] = request_id
    err.update(extra)
    return {"error": err}


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestGuard:
    """ASGI middleware: request id, bearer token, body size. `on_reject(code, status)` counts refusals."""

    def __init__(self, app: Callable, token: str | None, max_body_bytes: int,
                 on_reject: Callable[[str, int], None] | None = None, body_timeout_s: float = 30.0,
                 max_websockets_per_client: int = 0) -> None:
        self.app = app
        # WebSocket sessions (OpenEnv's /ws): the token is checked at the handshake, and each
        # client (token) holds at most this many open at once (0: no per-client cap)
        self.max_websockets_per_client = max_websockets_per_client
        self._websockets: dict[str, int] = {}
        self.body_timeout_s = body_timeout_s
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.on_reject = on_reject

    def _credential(self, headers: dict[str, bytes]) -> bytes | None:
        """The token a request presents: ``Bearer TOKEN``, or HTTP Basic with TOKEN as the password
        (what a WebSocket client sends for ``ws://user:TOKEN@host``: OpenEnv's client sends no headers)."""
        scheme, _, given = headers.get("authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer":
            return given.strip()
        if scheme.lower() == b"basic":
            try:
                return base64.b64decode(given.strip(), validate=True).partition(b":")[2]
            except ValueError:
                return None
        return None

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v)
        given = self._credential(headers)
        if self.token is not None and (given is None or not hmac.compare_digest(given, self.token)):
            if self.on_reject is not None:
                self.on_reject("unauthorized", 403)
            await receive()                                     # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong token"})
            return
        owner = hashlib.sha256(given or b"").hexdigest()[:24]
        cap = self.max_websockets_per_client
        if cap and self._websockets.get(owner, 0) >= cap:
            if self.on_reject is not None:
                self.on_reject("too_many_sessions", 429)
            await receive()
            await send({"type": "websocket.close", "code": 1013, "reason": f"at most {cap} sessions per client"})
            return
        self._websockets[owner] = self._websockets.get(owner, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            n = self._websockets.get(owner, 1) - 1
            if n > 0:
                self._websockets[owner] = n
            else:
                self._websockets.pop(owner, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v)
        rid = headers.get("x-request-id", b"").decode("latin-1")
        if not rid or len(rid) > 128 or not rid.isprintable():
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        if self.token is not None and scope.get("path") not in PUBLIC_PATHS:
            given = self._credential(headers)
            if given is None or not hmac.compare_digest(given, self.token):
                await self._reject(send, 401, "unauthorized",
                                   "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')", rid,
                                   [(b"www-authenticate", b'Bearer realm="emx"')])
                return

        declared = headers.get("content-length")
        if declared is not None:
            try:
                n = int(declared)
            except ValueError:
                await self._reject(send, 400, "bad_request", "invalid Content-Length header", rid)
                return
            if n > self.max_body_bytes:
                await self._reject(send, 413, "body_too_large",
                                   f"request body of {n} bytes exceeds the limit of {self.max_body_bytes}", rid)
                return

        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE") and declared is None \
                and b"chunked" not in headers.get("transfer-encoding", b""):
            await self.app(scope, receive, self._with_request_id(send, rid))
            return

        # Read the body here, bounded, whatever Content-Length said (chunked bodies have none).
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_timeout_s
        while True:
            try:
                # A client that trickles its body holds a connection, never a worker: bounded in time.
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                await self._reject(send, 408, "body_timeout",
                                   f"the request body did not arrive within {self.body_timeout_s:g} s", rid)
                return
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await self._reject(send, 413, "body_too_large",
                                   f"request body exceeds the limit of {self.max_body_bytes} bytes", rid)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        buffered = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": buffered, "more_body": False}
            return await receive()  # only a disconnect can follow

        await self.app(scope, replay, self._with_request_id(send, rid))

    @staticmethod
    def _with_request_id(send: Send, rid: str) -> Send:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", rid.encode("latin-1"))]
            await send(message)
        return wrapped

    async def _reject(self, send: Send, status: int, code: str, message: str, rid: str,
                      extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
        if self.on_reject is not None:
            self.on_reject(code, status)
        body = json.dumps(error_body(code, message, rid)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"x-request-id", rid.encode("latin-1")), (b"connection", b"close")] + list(extra_headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
