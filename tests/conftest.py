"""Tests import the installed emx package. For development without installing,
build the extension and put it in python/emx (see README, "Developing")."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import contextlib  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture()
def chat_server():
    """A stand-in for a remote OpenAI-compatible chat model on loopback (the one thing that
    cannot run here). ``url, seen = chat_server(reply, model=...)``: ``reply(request) -> (status,
    body)``; ``seen`` collects ``(request, Authorization header)``. Stopped after the test."""
    servers = []

    def start(reply, model="stub-model"):
        seen = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(200, {"data": [{"id": model}]})

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append((req, self.headers.get("Authorization")))
                self._send(*reply(req))

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}", seen

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def chat_reply(content: str) -> tuple[int, dict]:
    """A 200 chat-completion answer holding ``content``."""
    return 200, {"choices": [{"message": {"role": "assistant", "content": content}}]}


@contextlib.contextmanager
def app_in_thread(app):
    """Serves an ASGI app with uvicorn on a free loopback port in a thread; yields the port."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):   # a hang guard while it starts
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        th.join(10)
