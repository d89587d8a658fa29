"""emx's reward server (FastAPI + uvicorn) and its Python client.

    emx serve --tasks eai-behavior --port 8000          # loopback; --host 0.0.0.0 needs a token
    from emx.client import RewardClient
    RewardClient("http://127.0.0.1:8000").evaluate([("TASK_ID", plan_text)])

The client needs only the standard library; the server needs the `server` extra.
"""

from .client import RewardClient, RewardServerError
from .limits import TOKEN_ENV, ServerLimits, check_bind, is_loopback, resolve_token

__all__ = ["RewardClient", "RewardServerError", "ServerLimits", "TOKEN_ENV", "check_bind", "create_app",
           "build_app", "is_loopback", "resolve_token", "serve"]


def __getattr__(name: str):
    # The server side imports FastAPI; keep `import emx.server` (and the client) light without it.
    if name == "create_app":
        from .app import create_app
        return create_app
    if name in ("build_app", "serve"):
        from . import launch as _launch
        return getattr(_launch, name)
    raise AttributeError(name)
