"""The reads a report makes (``prover report``): problems, searches, proofs, verdicts, model
calls and runs of the whole database or of one run, as plain rows. Tables that only some
databases have (the formal stage's, Lean checks) are looked up before they are read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import func, inspect, or_, select

from prover.core.errors import NotFoundError
from prover.store.schema import FormalStatement, ModelCall, Problem, Proof, Run, Verification

_CHUNK = 500


@dataclass
class ReportRows:
    """Everything a report is computed from."""

    problems: list[dict[str, Any]]
    """id, collection, external_id, split, has_reference."""
    searches: list[dict[str, Any]]
    """problem_id, status, passed, answer_match, calls, tokens, rounds, verifications (M), run_id."""
    proofs: list[dict[str, Any]]
    """id, problem_id, round, self_score, source, answer_method (the step that decided its answer check)."""
    verdicts: dict[int, list[tuple[int, float | None, str]]]
    """proof id → [(sample index, score, parse status)] in sample order (resampled ones left out)."""
    calls: list[dict[str, Any]]
    """role, backend, model, status, prompt_tokens, completion_tokens, latency_s (grouped rows with ``n``)."""
    runs: list[dict[str, Any]]
    """id, kind, status, started_at, finished_at, reveals_reference, summary."""
    formal_statements: dict[int, int] = field(default_factory=dict)
    """problem id → formal statements."""
    tables: set[str] = field(default_factory=set)
    """Tables this database has."""


class ReportsMixin:
    def report_rows(self, run_id: int | None = None) -> ReportRows:
        """The rows of the whole database, or of one run: the problems it searched or made
        proofs for (with all their proofs), and its own model calls."""
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            tables = set(inspect(conn).get_table_names())
            has_searches = "informal_searches" in tables
            if run_id is not None:
                run = conn.execute(select(Run.id).where(Run.id == run_id)).first()
                if run is None:
                    raise NotFoundError(f"no run {run_id} in this database")
                scope = set(conn.scalars(select(Proof.problem_id).where(Proof.run_id == run_id).distinct()))
                if has_searches:
                    from prover.store._informal import InformalSearch

                    scope |= set(conn.scalars(select(InformalSearch.problem_id).where(InformalSearch.run_id == run_id)))
                problem_ids: Sequence[int] | None = sorted(scope)
            else:
                problem_ids = None

            def chunked(query, column):
                if problem_ids is None:
                    yield from conn.execute(query)
                    return
                for i in range(0, len(problem_ids), _CHUNK):
                    yield from conn.execute(query.where(column.in_(problem_ids[i:i + _CHUNK])))

            problems = [dict(id=r.id, collection=r.collection, external_id=r.external_id, split=r.split,
                             has_reference=r.reference_answer is not None)
                        for r in chunked(select(Problem.id, Problem.collection, Problem.external_id, Problem.split,
                                                Problem.reference_answer).order_by(Problem.id), Problem.id)]
            searches = []
            if has_searches:
                from prover.store._informal import InformalSearch

                t = InformalSearch
                q = select(t.problem_id, t.status, t.passed, t.answer_match, t.calls, t.tokens, t.rounds, t.config,
                           t.run_id).order_by(t.id)
                for r in chunked(q, t.problem_id):
                    knobs = ((r.config or {}).get("search") or {}).get("knobs") or {}
                    searches.append(dict(problem_id=r.problem_id, status=r.status, passed=bool(r.passed),
                                         answer_match=r.answer_match, calls=r.calls or 0, tokens=r.tokens or 0,
                                         rounds=r.rounds or 0, verifications=knobs.get("verifications"),
                                         run_id=r.run_id))
            proofs = [dict(id=r.id, problem_id=r.problem_id, round=r.round, self_score=r.self_score, source=r.source,
                           answer_method=(r.extra or {}).get("answer_method"))
                      for r in chunked(select(Proof.id, Proof.problem_id, Proof.round, Proof.self_score, Proof.source,
                                              Proof.extra.label("extra")).order_by(Proof.id), Proof.problem_id)]
            resampled = select(Run.id).where(Run.kind == "labels-resample")
            vq = (select(Verification.proof_id, Verification.sample_index, Verification.score,
                         Verification.parse_status)
                  .join(Proof, Proof.id == Verification.proof_id)
                  .where(or_(Verification.run_id.is_(None), Verification.run_id.not_in(resampled))))
            verdicts: dict[int, list[tuple[int, float | None, str]]] = defaultdict(list)
            for r in chunked(vq, Proof.problem_id):
                verdicts[r.proof_id].append((r.sample_index, r.score, r.parse_status))
            for v in verdicts.values():
                v.sort(key=lambda t: t[0])
            mc = ModelCall
            cq = select(mc.role, mc.backend, mc.model, mc.status, func.count().label("n"),
                        func.sum(mc.prompt_tokens).label("prompt_tokens"),
                        func.sum(mc.completion_tokens).label("completion_tokens"),
                        func.sum(mc.latency_s).label("latency_s")).group_by(mc.role, mc.backend, mc.model, mc.status)
            if run_id is not None:
                cq = cq.where(mc.run_id == run_id)
            calls = [dict(role=r.role, backend=r.backend, model=r.model, status=r.status, n=r.n,
                          prompt_tokens=int(r.prompt_tokens or 0), completion_tokens=int(r.completion_tokens or 0),
                          latency_s=float(r.latency_s or 0.0)) for r in conn.execute(cq.order_by(mc.role, mc.model))]
            rq = select(Run).order_by(Run.id)
            if run_id is not None:
                rq = rq.where(Run.id == run_id)
            runs = [dict(id=r.id, kind=r.kind, status=r.status, started_at=_iso(r.started_at),
                         finished_at=_iso(r.finished_at), seconds=_seconds(r.started_at, r.finished_at),
                         reveals_reference=bool(r.reveals_reference), summary=r.summary or {})
                    for r in conn.execute(rq)]
            fs: dict[int, int] = {}
            for pid, n in chunked(select(FormalStatement.problem_id, func.count()).group_by(FormalStatement.problem_id),
                                  FormalStatement.problem_id):
                fs[pid] = n
        return ReportRows(problems=problems, searches=searches, proofs=proofs, verdicts=dict(verdicts), calls=calls,
                          runs=runs, formal_statements=fs, tables=tables)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds())


class VerifiedChecksMixin:
    def lean_checks_with_verdicts(self, verdicts: Sequence[str]) -> list[dict[str, Any]]:
        """Definitive Lean checks with one of these verdicts, oldest first, each with its formal
        statement's problem (None when the check names no formal statement)."""
        from prover.store._lean import LeanCheck

        lc, fs, pr = LeanCheck.__table__, FormalStatement.__table__, Problem.__table__
        q = (select(lc, fs.c.problem_id, pr.c.collection, pr.c.external_id)
             .select_from(lc.outerjoin(fs, fs.c.id == lc.c.formal_statement_id).outerjoin(pr, pr.c.id == fs.c.problem_id))
             .where(lc.c.verdict.in_(list(verdicts)), lc.c.definitive.is_(True)).order_by(lc.c.id))
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            return [dict(r._mapping) for r in conn.execute(q)]
