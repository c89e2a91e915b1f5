"""Runs: which problems, the run row, scheduling, progress, budgets and reports.

Public names: :func:`run_informal` (``prover run``), :func:`plan_run` (``--dry-run``),
:func:`resolve_problems`, :func:`estimate_budget`, :func:`problem_report` (``prover show``),
:func:`queue_run` and :func:`work` (``prover run --workers``, ``prover worker``)."""

from prover.pipeline.report import problem_report
from prover.pipeline.run import estimate_budget, plan_run, queue_run, resolve_problems, run_informal
from prover.pipeline.workers import WorkerReport, WorkerSettings, work

__all__ = ["WorkerReport", "WorkerSettings", "estimate_budget", "plan_run", "problem_report", "queue_run",
           "resolve_problems", "run_informal", "work"]
