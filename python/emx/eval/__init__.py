"""Benchmark-style evaluation of a policy over a task source (``emx eval``)."""

from .runner import EvalReport, run_eval

__all__ = ["EvalReport", "run_eval"]
