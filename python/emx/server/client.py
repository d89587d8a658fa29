"""A Python client of the emx reward server, standard library only.

    from emx.client import RewardClient
    client = RewardClient("http://127.0.0.1:8000", token=None)      # token: falls back to $EMX_SERVER_TOKEN
    results = client.evaluate([("TASK_ID", model_text), ...], reward="embomatrix")
    results[0].reward, results[0].success, results[0].trace

`evaluate` returns `emx.Result` objects, field for field what a local
`emx.evaluate` returns (without per-atom names), so a trainer can switch between
local and remote scoring. Connections are kept alive, one per thread, so one
client can be shared by a pool of threads. Evaluation is a pure function of
the request, so connection failures and 503 (overloaded) are retried.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

TOKEN_ENV = "EMX_SERVER_TOKEN"


class RewardServerError(RuntimeError):
    """The server answered with an error: `status`, `code` (e.g. "unknown_task") and `message`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, request_id: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details, self.request_id = status, code, message, details, request_id


@dataclass
class _Conn:
    conn: http.client.HTTPConnection
    created: float
    used: float = 0.0


class RewardClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 60.0,
                 retries: int = 3, backoff_s: float = 0.2) -> None:
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"base_url must be http(s)://HOST[:PORT], got {base_url!r}")
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self.timeout, self.retries, self.backoff_s = timeout, retries, backoff_s
        self._local = threading.local()

    # ------------------------------------------------------------------ API

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/healthz")

    def tasks(self) -> list[dict[str, Any]]:
        """The served tasks: id, command, objects, goal_conditions."""
        return self._request("GET", "/v1/tasks")["tasks"]

    def task(self, task_id: str) -> dict[str, Any]:
        """One task's objects, goal and prompts ({"eai": ..., "native": ...})."""
        return self._request("GET", "/v1/tasks/" + urllib.parse.quote(task_id, safe=""))

    def metrics(self) -> str:
        return self._request("GET", "/metrics", raw=True)

    def openapi(self) -> dict[str, Any]:
        return self._request("GET", "/openapi.json")

    def evaluate_raw(self, items: Iterable[tuple[str, Any]] | Iterable[dict[str, Any]], reward: str = "default",
                     mode: str = "symbolic", fmt: str = "auto", trace: bool = True) -> dict[str, Any]:
        """The server's JSON answer for (task id, plan) pairs."""
        body = {"items": [it if isinstance(it, dict) else {"task": it[0], "plan": it[1]} for it in items],
                "reward": reward, "mode": mode, "format": fmt, "trace": trace}
        return self._request("POST", "/v1/evaluate", body)

    def evaluate(self, items: Iterable[tuple[str, Any]] | Iterable[dict[str, Any]], reward: str = "default",
                 mode: str = "symbolic", fmt: str = "auto", trace: bool = True) -> list[Any]:
        """emx.Result per item, in order."""
        return [to_result(r) for r in self.evaluate_raw(items, reward, mode, fmt, trace)["results"]]

    def rewards(self, task_ids: Sequence[str], plans: Sequence[Any], reward: str = "default") -> list[float]:
        """Just the scalar rewards (what a trainer's reward function returns)."""
        if len(task_ids) != len(plans):
            raise ValueError(f"{len(task_ids)} task ids but {len(plans)} plans")
        out = self.evaluate_raw(zip(task_ids, plans), reward=reward, trace=False)
        return [r["reward"] for r in out["results"]]

    # ------------------------------------------------------------------ episodes (/v1/episodes)

    def create_episode(self, task_id: str, **settings: Any) -> dict[str, Any]:
        """Starts a closed-loop episode: ``{"episode_id", "observation", "info"}``. settings: mode,
        reward, unit, max_turns, shaping, semantics, prompt_format (None values are left out)."""
        body = {"task": task_id, **{k: v for k, v in settings.items() if v is not None}}
        return self._request("POST", "/v1/episodes", body)

    def step_episode(self, episode_id: str, action: str) -> dict[str, Any]:
        """One turn: ``{"observation", "reward", "terminated", "truncated", "info"}``. Not retried:
        a turn the server may have run must not run twice (``emx.envs.remote`` rebuilds the
        episode by replaying its answers instead)."""
        return self._request("POST", f"/v1/episodes/{urllib.parse.quote(episode_id, safe='')}/step",
                             {"action": action}, retry=False)

    def episode(self, episode_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/episodes/{urllib.parse.quote(episode_id, safe='')}")

    def delete_episode(self, episode_id: str) -> bool:
        """Ends an episode on the server; False when it was gone already."""
        try:
            self._request("DELETE", f"/v1/episodes/{urllib.parse.quote(episode_id, safe='')}", raw=True)
        except RewardServerError as e:
            if e.status == 404:
                return False
            raise
        return True

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.conn.close()
            self._local.conn = None

    def __enter__(self) -> "RewardClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _connection(self, fresh_after_s: float | None = None) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is not None and fresh_after_s is not None and time.monotonic() - c.used > fresh_after_s:
            # idle long enough that the server may have closed it: a request that must not be
            # retried goes on a new connection instead of failing on a stale one
            self.close()
            c = None
        if c is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            c = _Conn(cls(self.host, self.port, timeout=self.timeout), time.monotonic())
            self._local.conn = c
        c.used = time.monotonic()
        return c.conn

    def _request(self, method: str, path: str, body: Any = None, raw: bool = False, retry: bool = True) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            attempt += 1
            try:
                conn = self._connection(None if retry else 2.0)
                conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                status = resp.status
                if resp.getheader("connection", "").lower() == "close":
                    self.close()
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError) as e:
                self.close()
                # A keep-alive connection the server closed meanwhile fails on first use: retry at once.
                if attempt > self.retries or not retry:
                    raise ConnectionError(f"emx reward server at {self.host}:{self.port}: {e}") from e
                time.sleep(self.backoff_s * (attempt - 1) * (1 + random.random()))
                continue
            if status == 503 and attempt <= self.retries:   # refused before any work: safe to repeat
                time.sleep(self.backoff_s * attempt * (1 + random.random()))
                continue
            if status >= 400:
                try:
                    err = json.loads(payload)["error"]
                except (ValueError, KeyError, TypeError):
                    err = {"code": "http_error", "message": payload[:200].decode("utf-8", "replace")}
                raise RewardServerError(status, err.get("code", "http_error"), err.get("message", ""),
                                        err.get("details"), err.get("request_id", ""))
            return payload.decode("utf-8") if raw else json.loads(payload)


def to_result(r: dict[str, Any]) -> Any:
    """A server result as an emx.Result (per-atom names are not sent)."""
    from ..evaluation import Result, Step

    c = r["components"]
    return Result(task_id=r["task"], reward=r["reward"], format_ok=c["format_ok"], format_error=c["format_error"],
                  executability=c["executability"], goal_fraction=c["goal_fraction"], success=c["success"],
                  plan_length=c["plan_length"], executed=c["executed"], objects_named=c["objects_named"],
                  relevant_named=c["relevant_named"], first_error=c["first_error"],
                  trace=tuple(Step(**s) for s in r.get("trace", ())),
                  condition_truth=tuple(c["condition_truth"]))
