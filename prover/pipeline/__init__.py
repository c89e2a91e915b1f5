"""Runs: which problems, the run row, scheduling, progress, budgets and reports.

Public names: :func:`run_informal` (``prover run``), :func:`plan_run` (``--dry-run``),
:func:`resolve_problems`, :func:`estimate_budget`, :func:`problem_report` (``prover show``)."""

from prover.pipeline.report import problem_report
from prover.pipeline.run import estimate_budget, plan_run, resolve_problems, run_informal

__all__ = ["estimate_budget", "plan_run", "problem_report", "resolve_problems", "run_informal"]
