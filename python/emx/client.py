"""The reward server's Python client: ``from emx.client import RewardClient``."""

from .server.client import RewardClient, RewardServerError, to_result

__all__ = ["RewardClient", "RewardServerError", "to_result"]
