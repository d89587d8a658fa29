"""emx as an environment for agent-RL frameworks (see docs/environments.md):

* Gymnasium: ``emx.make_env(...)`` / ``emx.make_vec_env(n, ...)``
* OpenEnv (openenv-core): ``emx.envs.openenv`` — typed models, the server app and a client
* plain HTTP episodes in ``emx serve``: ``POST /v1/episodes`` (``emx.server.episodes``)

All of them drive ``emx.episodes.ClosedLoopEpisode`` through ``EpisodeSession``.
"""

from .session import EpisodeSession, StepOutcome

__all__ = ["EpisodeSession", "StepOutcome", "make_env", "make_vec_env"]


def __getattr__(name: str):
    # Gymnasium is an optional dependency (pip install 'emx[env]'): import it only when asked.
    if name in ("make_env", "EmxEnv"):
        from . import gym_env
        return getattr(gym_env, name)
    if name in ("make_vec_env", "EmxVectorEnv"):
        from . import vector
        return getattr(vector, name)
    raise AttributeError(name)
