"""pass@k and cost per solved problem of a formal benchmark, from stored formal attempts (those
``prover run --formal`` made). Nothing here calls a model or Lean.

A problem is solved by an attempt when Lean accepted a proof of its statement: status
``verified`` (through the sketch) or ``statement_proved`` (directly, or by a tactic of the
portfolio) — what a formal benchmark counts. pass@k is the unbiased estimator of Chen et al.
(2021, arXiv:2107.03374): 1 - C(n-c, k) / C(n, k) for a problem with n attempts, c of them
solving it, averaged over every problem of the split."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import comb
from typing import TYPE_CHECKING

from prover.core.eval_records import FormalBenchScore

if TYPE_CHECKING:
    from prover.store import ProofStore


SOLVED = frozenset({"verified", "statement_proved"})
UNFINISHED = frozenset({"running", "incomplete", "unavailable", "error"})
"""Attempts that say nothing about the problem: still running, stopped by failed model calls, no
definitive Lean answer, or ended by an unexpected exception. Left out of pass@k."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that k of n attempts, c of which succeed, include a success."""
    if n <= 0 or k <= 0 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n (n={n})")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def formal_score(benchmark: str, split: str, problem_ids: Sequence[int], attempts: Sequence[dict],
                 *, tokens: int = 0, lean_checks: int = 0, lean_seconds: float = 0.0,
                 scripted: bool = False) -> FormalBenchScore:
    """The score of ``problem_ids`` from their attempts (dicts with ``problem_id``, ``status``,
    ``calls``); unfinished attempts are left out."""
    wanted = set(problem_ids)
    by_problem: dict[int, list[str]] = defaultdict(list)
    calls = 0
    for a in attempts:
        if a["problem_id"] not in wanted or a["status"] in UNFINISHED:
            continue
        by_problem[a["problem_id"]].append(a["status"])
        calls += a.get("calls") or 0
    counts = {pid: (len(s), sum(x in SOLVED for x in s)) for pid, s in by_problem.items()}
    pass_at: dict[int, float] = {}
    if counts and problem_ids:
        most = min(n for n, _ in counts.values())
        ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, most) if k <= most})
        for k in ks:
            total = sum(pass_at_k(n, c, k) for n, c in counts.values())
            pass_at[k] = 100.0 * total / len(wanted)
    return FormalBenchScore(benchmark=benchmark, split=split, problems=len(wanted), attempted=len(counts),
                            solved=sum(c > 0 for _, c in counts.values()),
                            attempts=sum(n for n, _ in counts.values()), pass_at=pass_at, calls=calls,
                            tokens=tokens, lean_checks=lean_checks, lean_seconds=lean_seconds, scripted=scripted)


def stored_formal_score(store: ProofStore, benchmark: str, problem_ids: Sequence[int], split: str = "all",
                        run_id: int | None = None) -> FormalBenchScore:
    """:func:`formal_score` from the database: attempts (of one run, when given), their runs'
    tokens, and the Lean checks of the problems' formal statements."""
    attempts = store.formal_attempt_outcomes(problem_ids)
    if run_id is not None:
        attempts = [a for a in attempts if a["run_id"] == run_id]
    run_ids = {a["run_id"] for a in attempts if a["run_id"] is not None}
    checks, seconds = store.lean_check_totals(problem_ids) or (0, 0.0)
    return formal_score(benchmark, split, problem_ids, attempts, tokens=store.run_tokens(run_ids),
                        lean_checks=checks, lean_seconds=seconds, scripted="scripted" in store.run_backends(run_ids))
