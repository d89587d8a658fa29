"""Task sources for emx: the EAI BEHAVIOR tasks, BEHAVIOR-1K activities and BDDL files, and the
ability table that says what each object category can do."""

from .eai import EaiTask, eai_to_bddl, load_eai_tasks, parse_flat_goal
from .knowledge import (
    ABILITY_NAMES,
    abilities_of,
    ability_names,
    load_abilities,
    unknown_categories,
)
from .sources import SOURCE_FORMS, TaskSpec, bddl_activities, resolve_source

__all__ = [
    "ABILITY_NAMES",
    "EaiTask",
    "SOURCE_FORMS",
    "TaskSpec",
    "abilities_of",
    "ability_names",
    "bddl_activities",
    "eai_to_bddl",
    "load_abilities",
    "load_eai_tasks",
    "parse_flat_goal",
    "resolve_source",
    "unknown_categories",
]
