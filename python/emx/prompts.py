"""Prompt builders for the two plan formats.

* EAI: the Embodied Agent Interface BEHAVIOR action-sequencing prompt. For the
  100 EAI tasks this is the benchmark's own prompt text, unchanged; for any
  other task the same template is filled with that task's initial state,
  target state (BDDL conditions written as EAI's flattened lists) and objects.
* EmboMatrix native: indexed objects and the 13 navigation/manipulation
  actions, answered as ``json: {"action_sequence": [...], ...}``.
"""

from __future__ import annotations

import functools
import re

from . import _core
from .task import Task
from .tasks.eai import load_eai_tasks

_TASK_MARKER = "Your task:"


@functools.lru_cache(maxsize=1)
def _eai_template() -> tuple[str, str]:
    """(text before the task block, the closing instruction) from the benchmark's own prompt."""
    prompt = load_eai_tasks()[0].prompt
    head, _, tail = prompt.rpartition(_TASK_MARKER)
    closing = tail[tail.index("Please output the list"):]
    return head, closing


def _flat(bddl: str) -> list[str]:
    # EAI writes conditions as flat token lists: parentheses and '?' dropped.
    return [tok.lstrip("?") for tok in re.findall(r"[^\s()]+", bddl)]


def eai_prompt(task: Task) -> str:
    if task.spec.eai is not None:
        return task.spec.eai.prompt
    parsed = _core.parse_problem(task.spec.bddl_text, task.spec.filename)
    init = [_flat(lit) for lit in parsed["init"] if not lit.startswith("(inroom")]
    goal = [_flat(cond) for cond in parsed["goal"]]
    objects = [{"name": o.name, "category": o.category} for o in task.visible_objects]
    head, closing = _eai_template()
    lines = [_TASK_MARKER, "Input:", "initial environment state:"]
    lines += [repr(x) for x in init]
    lines += ["", "", "target environment state:"]
    lines += [repr(x) for x in goal]
    lines += ["", "", "interactable objects:"]
    lines += [repr(x) for x in objects]
    return head + "\n".join(lines) + "\n\n\n" + closing


NATIVE_ACTIONS = """\
move(object_index)                       walk to an object
turn(yaw)                                turn in place (radians)
move_forward(distance, yaw)              walk a distance (metres) in a direction
go_to_room(room_name)                    walk to a room
pick_up(object_index)                    grasp an object you are at
place(object_index, relation)            put what you hold on ("ontop") or in ("inside") an object you are at
open(object_index) / close(object_index)
toggle_on(object_index) / toggle_off(object_index)
heat_object_with_source(object_index, source_index)
cook_object_with_tool(object_index, source_index)
froze_object_with_source(object_index, source_index)"""


def native_prompt(task: Task) -> str:
    """EmboMatrix-style prompt: the command, rooms, indexed objects, the action list and the answer format."""
    rows = []
    for o in task.visible_objects:
        where = f" in {o.room}" if o.room else ""
        rows.append(f"{o.index}: {o.name} ({o.category}){where}")
    return (
        "You are a household robot. Plan the high-level actions that accomplish the command.\n\n"
        f"Command: {task.command}\n"
        f"Goal conditions (BDDL): {' '.join(task.goal_conditions)}\n\n"
        f"Rooms: {', '.join(task.core.rooms) or 'unknown'}\n"
        "Objects (index: name (category) room):\n" + "\n".join(rows) + "\n\n"
        "Actions (object parameters are indices from the list above):\n" + NATIVE_ACTIONS + "\n\n"
        "Answer with exactly one line of the form\n"
        'json: {"action_sequence": [{"action": "pick_up", "parameters": {"object_index": 3}}, ...], '
        '"task_status_summary": "<one sentence>"}\n'
    )


def build_prompt(task: Task, fmt: str = "eai") -> str:
    if fmt == "eai":
        return eai_prompt(task)
    if fmt == "native":
        return native_prompt(task)
    raise ValueError(f"unknown prompt format {fmt!r} (expected 'eai' or 'native')")
