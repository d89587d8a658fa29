"""Policies: anything that turns tasks into plans. All share one interface,
``plan(tasks) -> list[plan]`` where a plan is raw model text or a parsed plan."""

from .base import Policy, make_policy
from .file import FilePolicy
from .oracle import OraclePolicy

__all__ = ["FilePolicy", "OraclePolicy", "Policy", "make_policy"]
