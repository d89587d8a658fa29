"""Closed-loop episodes: the policy acts one step (or one sub-task) at a time and sees what
happened before its next turn.

    from emx.episodes import ClosedLoopEpisode
    ep = ClosedLoopEpisode(task, mode="symbolic", unit="action", max_turns=30)
    while not ep.done:
        ep.step(model(ep.messages))          # the policy's answer to the conversation so far
    result = ep.result(reward="default")     # an emx.Result, like a whole-plan evaluation
"""

from .episode import UNITS, ClosedLoopEpisode, EpisodeScore, Turn, plan_turns
from .runner import policy_turns, run_closed_loop, run_episodes

__all__ = ["UNITS", "ClosedLoopEpisode", "EpisodeScore", "Turn", "plan_turns", "policy_turns", "run_closed_loop",
           "run_episodes"]
