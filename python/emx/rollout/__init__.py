"""Rollouts at scale: ``RolloutEngine`` over supervised worker processes (C++ scheduler,
symbolic C++ workers, SAPIEN physics workers in Python). See ``emx.rollout.engine``."""

from .engine import Episode, QueueFull, RolloutEngine, RolloutResult, worker_command

__all__ = ["Episode", "QueueFull", "RolloutEngine", "RolloutResult", "worker_command"]
