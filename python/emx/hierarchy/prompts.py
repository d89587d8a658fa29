"""Prompts for hierarchical policies: the EAI BEHAVIOR task text (initial state, target state,
interactable objects, the 30 actions and their preconditions) with the benchmark's closing
instruction replaced by one asking for the three-level answer, or for the next sub-task only."""

from __future__ import annotations

from ..prompts import build_prompt
from ..task import Task

__all__ = ["hierarchical_prompt", "next_subtask_prompt", "HIERARCHICAL_INSTRUCTIONS", "NEXT_SUBTASK_INSTRUCTIONS"]

_CLOSING_MARKER = "Please output the list"

HIERARCHICAL_INSTRUCTIONS = """\
Answer in three levels, as one JSON object and nothing else:
1. "reasoning": a few sentences on what must change and in which order;
2. "subgoals": the intermediate states to reach, in order, each a literal in BDDL form such as
   "(inside apple_0 fridge_0)", "(not (open fridge_0))" or "(and (...) (...))", naming only the
   interactable objects above (no variables, no quantifiers);
3. "actions": the list of action commands (in the given format) that reaches them.

Example (for a different task):
{"reasoning": "The apple must end up in the fridge, which is closed, so I open it first, put the apple in, and close it again.",
 "subgoals": ["(open fridge_0)", "(inside apple_0 fridge_0)", "(not (open fridge_0))"],
 "actions": [{"action": "OPEN", "object": "fridge_0"}, {"action": "RIGHT_GRASP", "object": "apple_0"},
             {"action": "RIGHT_PLACE_INSIDE", "object": "fridge_0"}, {"action": "CLOSE", "object": "fridge_0"}]}

Output:
"""

NEXT_SUBTASK_INSTRUCTIONS = """\
Do not plan the whole task. Name only the next sub-task, the state it must reach and the action
commands for it, as one JSON object and nothing else:
{"subtask": "<the next sub-task in a few words>", "subgoal": "<a BDDL literal such as (open fridge_0)>", "actions": [<action commands in the given format>]}
When the target environment state has been reached, answer {"done": true}.
Earlier turns of this conversation report what the actions you gave did.

Example (for a different task):
{"subtask": "open the fridge", "subgoal": "(open fridge_0)", "actions": [{"action": "OPEN", "object": "fridge_0"}]}

Output:
"""


def _task_text(task: Task) -> str:
    """The EAI prompt up to (not including) its closing instruction."""
    prompt = build_prompt(task, "eai")
    cut = prompt.rfind(_CLOSING_MARKER)
    return (prompt[:cut] if cut >= 0 else prompt).rstrip() + "\n\n"


def hierarchical_prompt(task: Task) -> str:
    """The task and the reasoning -> sub-goals -> actions answer format."""
    return _task_text(task) + HIERARCHICAL_INSTRUCTIONS


def next_subtask_prompt(task: Task) -> str:
    """The task and the next-sub-task answer format ({"done": true} when finished)."""
    return _task_text(task) + NEXT_SUBTASK_INSTRUCTIONS
