"""Hierarchical (WALL-OSS-style) policies: one answer carrying reasoning -> sub-goals -> actions,
scored level by level, and the next-sub-task query for closed-loop use. See docs/hierarchy.md."""

from .format import HierarchicalPlan, parse_hierarchical
from .next_subtask import NextSubtask, parse_next_subtask
from .prompts import hierarchical_prompt, next_subtask_prompt
from .reward import HierarchicalResult, HierarchyWeights, evaluate_hierarchical, evaluate_hierarchical_batch
from .subgoals import Subgoal, SubgoalError, compile_subgoal, goal_coverage

__all__ = [
    "HierarchicalPlan", "HierarchicalResult", "HierarchyWeights", "NextSubtask", "Subgoal", "SubgoalError",
    "compile_subgoal", "evaluate_hierarchical", "evaluate_hierarchical_batch", "goal_coverage",
    "hierarchical_prompt", "next_subtask_prompt", "parse_hierarchical", "parse_next_subtask",
]
