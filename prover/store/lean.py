"""Lean checks: one row per check (DESIGN.md, "Every model call and Lean check is a row"),
served from cache only when definitive.

A check's ``cache_key`` hashes (assembled file, toolchain, Mathlib rev, REPL rev, screen-rules
version, limits). Definitive rows (``definitive = true``) are unique per key — a partial unique
index — and are what ``get_lean_check`` returns; timeouts, crashes and checks that were not a
whole-file check are kept for the record but never served."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from prover.core.lean_records import LeanCheckResult, ReasonCode, Verdict
from prover.store.base import StoreBase
from prover.store.queries import chunked, conflict_insert, rows_in
from prover.store.schema import FormalStatement, LeanCheck, Problem, utcnow

_VERIFIED = (Verdict.VERIFIED.value, Verdict.VERIFIED_ANSWER_UNCHECKED.value)


def _insert_or_ignore(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on the partial unique index of definitive keys, or
    None on databases without it. The conflict target repeats the index's own predicate (SQLite
    matches it textually)."""
    insert = conflict_insert(dialect)
    if insert is None:
        return None
    where = text("definitive = 1" if dialect == "sqlite" else "definitive")
    return insert(LeanCheck).on_conflict_do_nothing(index_elements=[LeanCheck.cache_key], index_where=where)


class LeanMixin(StoreBase):
    def add_lean_check(self, result: LeanCheckResult, *, formal_statement_id: int | None = None,
                       proof_text: str | None = None) -> int:
        """Store a check; returns its row id. A definitive result whose key is already stored
        is not stored twice: the existing row's id is returned — also when another process
        stores the same key at the same moment (insert-or-get: ``INSERT … ON CONFLICT DO
        NOTHING``, then select). Checks finish on worker threads: while the store's writer
        runs, the insert is handed to it (one writer per process)."""
        from prover.store.writer import active_writer

        writer = active_writer(self)
        if writer is not None and not writer.on_thread():
            return writer.route(self._add_lean_check, result, formal_statement_id=formal_statement_id,
                                proof_text=proof_text)
        return self._add_lean_check(result, formal_statement_id=formal_statement_id, proof_text=proof_text)

    def _add_lean_check(self, result: LeanCheckResult, *, formal_statement_id: int | None,
                        proof_text: str | None) -> int:
        values = dict(
            cache_key=result.cache_key, definitive=result.definitive, file_hash=result.file_hash,
            target=result.target, toolchain=result.toolchain, mathlib_rev=result.mathlib_rev,
            repl_rev=result.repl_rev, screen_rules_version=result.screen_rules_version,
            time_limit_s=result.limits.time_s, heartbeats=result.limits.heartbeats, memory_mb=result.limits.memory_mb,
            verdict=result.verdict.value, reasons=[r.value for r in result.reasons],
            messages=[m.to_wire() for m in result.messages],
            axioms=list(result.axioms) if result.axioms is not None else None,
            wall_time_s=result.wall_time_s, peak_memory_mb=result.peak_memory_mb, backend=result.backend,
            assembled=result.assembled, detail=result.detail, formal_statement_id=formal_statement_id,
            proof_text=proof_text, created_at=utcnow())
        if not result.definitive:
            with self.session() as s:
                row = LeanCheck(**values)
                s.add(row)
                s.flush()
                return row.id
        stored = select(LeanCheck.id).where(LeanCheck.cache_key == result.cache_key, LeanCheck.definitive.is_(True))
        stmt = _insert_or_ignore(self.engine.dialect.name)
        with self.session() as s:
            if stmt is not None:
                s.execute(stmt.values(**values))
                return s.scalars(stored).one()
            # Other databases: look, insert, and on a lost race take the winner's row.
            existing = s.scalars(stored).first()
            if existing is not None:
                return existing
            try:
                with s.begin_nested():
                    row = LeanCheck(**values)
                    s.add(row)
            except IntegrityError:
                return s.scalars(stored).one()
            return row.id

    def get_lean_check(self, cache_key: str) -> LeanCheckResult | None:
        """The cached (definitive) result for a key, or None: a miss means "run Lean"."""
        with self.session() as s:
            row = s.scalars(select(LeanCheck).where(LeanCheck.cache_key == cache_key,
                                                    LeanCheck.definitive.is_(True))).first()
            return row.to_result() if row is not None else None

    def cached_lean_check(self, cache_key: str) -> tuple[int, LeanCheckResult] | None:
        """The cached (definitive) result for a key with its row id, in one query (None: run Lean)."""
        with self.session() as s:
            row = s.scalars(select(LeanCheck).where(LeanCheck.cache_key == cache_key,
                                                    LeanCheck.definitive.is_(True))).first()
            return (row.id, row.to_result()) if row is not None else None

    def lean_check_key(self, check_id: int) -> str | None:
        """The cache key of a stored check (None when there is no such row)."""
        with self.session() as s:
            return s.scalars(select(LeanCheck.cache_key).where(LeanCheck.id == check_id)).first()

    def lean_checks_of_file(self, file_hash: str) -> list[LeanCheck]:
        """Every stored check of one assembled file, oldest first (all backends, all outcomes)."""
        with self.session() as s:
            return list(s.scalars(select(LeanCheck).where(LeanCheck.file_hash == file_hash).order_by(LeanCheck.id)))

    def lean_checks_to_rescreen(self, current_version: int) -> list[LeanCheck]:
        """Stored `verified`/`verified-answer-unchecked` rows accepted by an older screen:
        they must pass the current screen before anything trusts them again."""
        with self.session() as s:
            return list(s.scalars(select(LeanCheck).where(LeanCheck.verdict.in_(_VERIFIED),
                                                          LeanCheck.screen_rules_version < current_version)
                                  .order_by(LeanCheck.id)))

    def set_lean_checks_screen_version(self, check_ids: list[int], version: int) -> None:
        """Record that stored checks pass the screen rules of ``version`` (a re-screen)."""
        with self.session() as s:
            for chunk in chunked(check_ids):
                s.execute(update(LeanCheck).where(LeanCheck.id.in_(chunk)).values(screen_rules_version=version))

    def formal_statement_text(self, formal_statement_id: int) -> str | None:
        """The problem file of a stored formal statement (preamble, answer slots, statement)."""
        with self.session() as s:
            row = s.get(FormalStatement, formal_statement_id)
            return None if row is None else (row.preamble or "") + (row.answer_slots or "") + row.statement

    def set_lean_check_verdict(self, check_id: int, verdict: Verdict, reasons: list[ReasonCode]) -> None:
        """Overwrite a stored verdict (a re-screen that now rejects a `verified` row)."""
        with self.session() as s:
            s.execute(update(LeanCheck).where(LeanCheck.id == check_id)
                      .values(verdict=Verdict(verdict).value, reasons=[ReasonCode(r).value for r in reasons]))

    def lean_checks_with_verdicts(self, verdicts: Sequence[str]) -> list[dict[str, Any]]:
        """Definitive Lean checks with one of these verdicts, oldest first, each with its formal
        statement's problem (None when the check names no formal statement)."""
        lc, fs, pr = LeanCheck.__table__, FormalStatement.__table__, Problem.__table__
        q = (select(lc, fs.c.problem_id, pr.c.collection, pr.c.external_id)
             .select_from(lc.outerjoin(fs, fs.c.id == lc.c.formal_statement_id).outerjoin(pr, pr.c.id == fs.c.problem_id))
             .where(lc.c.verdict.in_(list(verdicts)), lc.c.definitive.is_(True)).order_by(lc.c.id))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def lean_check_totals(self, problem_ids: Iterable[int] | None) -> tuple[int, float] | None:
        """(Lean checks, their wall seconds) of these problems' formal statements, or of every
        check when ``problem_ids`` is None; None when the database has no Lean checks table."""
        lc, fs = LeanCheck.__table__, FormalStatement.__table__
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("lean_checks"):
                return None
            if problem_ids is None:
                n, secs = conn.execute(select(func.count(), func.sum(lc.c.wall_time_s))).one()
                return int(n or 0), float(secs or 0.0)
            q = (select(func.count(), func.sum(lc.c.wall_time_s)).join(fs, fs.c.id == lc.c.formal_statement_id))
            totals = list(rows_in(conn, q, fs.c.problem_id, list(problem_ids)))
        return sum(int(n or 0) for n, _ in totals), sum(float(s or 0.0) for _, s in totals)

    def lean_check_toolchains(self, check_ids: Iterable[int]) -> dict[int, str]:
        """Lean check id → the toolchain it ran on."""
        q = select(LeanCheck.id, LeanCheck.toolchain)
        with self.engine.connect() as conn:
            return {cid: tc for cid, tc in rows_in(conn, q, LeanCheck.id, sorted(set(check_ids)))}
