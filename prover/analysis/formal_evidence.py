"""What the formal stage stored, as labels and reports need it.

``formal_evidence(store)`` fills one :class:`FormalEvidence` per finished formal attempt on an
NL proof (``formal_attempts`` and the sketch steps, alignment votes and refutations it points
to; the final verdict as ``lean_checks`` holds it now), or returns None when the database has
no formal-stage tables. ``formal_funnel`` counts the attempts that reached each stage of the
formal pipeline, for a report."""

from __future__ import annotations

from typing import Any, Sequence

from prover.core.label_records import FormalEvidence
from prover.formal.evidence import read_attempt, statement_proved
from prover.store import ProofStore, closed_by, closing_uses

FUNNEL_STAGES = ("statements", "faithful", "direct attempts", "sketches elaborated", "nodes solved", "verified")

def formal_evidence(store: ProofStore) -> list[FormalEvidence] | None:
    """One evidence record per finished formal attempt on an NL proof, in attempt order, read by
    the one evidence reader (``prover.formal.evidence.read_attempt``) with what statement-level
    work did to the same statement anywhere in the database; None when the database has no
    formal-stage tables."""
    rows = store.formal_attempt_rows()
    if rows is None:
        return None
    return _read(store, rows, [a for a in rows.attempts if a["proof_id"] is not None], store.statement_closures())


def _read(store: ProofStore, rows, attempts: list[dict[str, Any]], closures) -> list[FormalEvidence]:
    """The evidence of ``attempts`` (rows of ``formal_attempt_rows``) through the one reader;
    ``closures``: ``statement_closures`` of (at least) their statements."""
    toolchains = store.lean_check_toolchains(a["final_check_id"] for a in attempts if a["final_check_id"] is not None)
    return [read_attempt(a, rows.steps.get(a["sketch_id"], []) if a["sketch_id"] is not None else [],
                         rows.refutations.get(a["id"], []), incompatible=rows.incompatible_statements,
                         closing_uses=closing_uses(a.get("config")),
                         statement_closed_by=closed_by(closures, a["formal_statement_id"],
                                                       toolchains.get(a["final_check_id"])))
            for a in attempts]


def incompatible_by_problem(store: ProofStore, problem_ids: Sequence[int] | None = None) -> dict[int, int] | None:
    """Problem id → formal statements marked incompatible with a project toolchain; None when
    the database has no statement-compatibility table."""
    return store.incompatible_statements_by_problem(problem_ids)


def statement_proved_by_problem(store: ProofStore, problem_ids: Sequence[int] | None = None) -> dict[int, bool] | None:
    """Problem id → whether Lean proved its statement without an NL sketch (a direct attempt or
    the portfolio on the root, anywhere in the database, with a check still verified: the
    evidence reader's ``statement_proved``); None without the formal stage's tables."""
    rows = store.formal_attempt_rows(problem_ids)
    if rows is None:
        return None
    closures = store.statement_closures([a["formal_statement_id"] for a in rows.attempts
                                         if a["formal_statement_id"] is not None])
    out: dict[int, bool] = {}
    for a, ev in zip(rows.attempts, _read(store, rows, rows.attempts, closures)):
        out[a["problem_id"]] = out.get(a["problem_id"], False) or statement_proved(ev)
    return out


def formal_funnel(store: ProofStore, problem_ids: Sequence[int] | None = None
                  ) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(stage, formal attempts that reached it) over the problems given (all when None), and
    notes. Stages: a statement; a faithful one; a direct whole-proof attempt made; a sketch that
    elaborated; every node of it solved; the assembled file verified."""
    rows = store.formal_attempt_rows(problem_ids)
    if rows is None:
        return [(stage, None) for stage in FUNNEL_STAGES], [
            "no formal-stage tables in this database: the formal funnel is unknown"]
    attempts = rows.attempts
    counts = {
        "statements": sum(1 for a in attempts if a["formal_statement_id"] is not None),
        "faithful": sum(1 for a in attempts if a["statement_faithful"] is True),
        "direct attempts": sum(1 for a in attempts if a["direct_tries"]),
        "sketches elaborated": sum(1 for a in attempts if a["sketch_elaborates"]),
        "nodes solved": sum(1 for a in attempts if a["sketch_elaborates"] and a["nodes_unsolved"] == 0
                            and a["nodes_refuted"] == 0),
        "verified": sum(1 for a in attempts if a["status"] == "verified"
                        and a["check_verdict"] in ("verified", "verified-answer-unchecked")),
    }
    nodes = sum(a["nodes"] or 0 for a in attempts)
    notes = [f"formal funnel: {len(attempts)} finished formal attempt(s); nodes solved "
             f"{sum(a['nodes_solved'] or 0 for a in attempts)} of {nodes}, refuted "
             f"{sum(a['nodes_refuted'] or 0 for a in attempts)}; "
             f"{sum(1 for a in attempts if a['status'] == 'statement_proved')} statement(s) proved without the sketch"]
    return [(stage, counts[stage]) for stage in FUNNEL_STAGES], notes


def formal_facts(store: ProofStore, problem_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Per-problem formal facts a report tabulates (None where the database cannot tell)."""
    return {"incompatible": incompatible_by_problem(store, problem_ids),
            "statement_proved": statement_proved_by_problem(store, problem_ids)}
