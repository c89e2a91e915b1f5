"""Lean checks: one row per check (DESIGN.md, "Every model call and Lean check is a row"),
served from cache only when definitive.

A check's ``cache_key`` hashes (assembled file, toolchain, Mathlib rev, REPL rev, screen-rules
version, limits). Definitive rows (``definitive = true``) are unique per key — a partial unique
index — and are what ``get_lean_check`` returns; timeouts, crashes and checks that were not a
whole-file check are kept for the record but never served."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, select,
                        text, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from prover.core.lean_records import LeanCheckResult, LeanLimits, LeanMessage, ReasonCode, Verdict
from prover.store.schema import Base, utcnow


class LeanCheck(Base):
    """One Lean check of one assembled file."""

    __tablename__ = "lean_checks"
    __table_args__ = (
        Index("uq_lean_checks_definitive_key", "cache_key", unique=True,
              sqlite_where=text("definitive = 1"), postgresql_where=text("definitive")),
        Index("ix_lean_checks_verdict_screen", "verdict", "screen_rules_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    definitive: Mapped[bool] = mapped_column(Boolean, default=False)
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(500))
    toolchain: Mapped[str] = mapped_column(String(100))
    mathlib_rev: Mapped[str | None] = mapped_column(String(100))
    repl_rev: Mapped[str | None] = mapped_column(String(100))
    screen_rules_version: Mapped[int] = mapped_column(Integer)
    time_limit_s: Mapped[float] = mapped_column(Float)
    heartbeats: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    axioms: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    wall_time_s: Mapped[float | None] = mapped_column(Float)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    backend: Mapped[str] = mapped_column(String(50))
    assembled: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    # What was checked, so that a change of screen rules can re-screen stored `verified` rows.
    formal_statement_id: Mapped[int | None] = mapped_column(
        ForeignKey("formal_statements.id", ondelete="SET NULL"), index=True)
    proof_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_result(self) -> LeanCheckResult:
        return LeanCheckResult(
            cache_key=self.cache_key, file_hash=self.file_hash, target=self.target, toolchain=self.toolchain,
            mathlib_rev=self.mathlib_rev, repl_rev=self.repl_rev, screen_rules_version=self.screen_rules_version,
            limits=LeanLimits(time_s=self.time_limit_s, heartbeats=self.heartbeats, memory_mb=self.memory_mb),
            verdict=Verdict(self.verdict), reasons=tuple(ReasonCode(r) for r in self.reasons or ()),
            messages=tuple(LeanMessage.model_validate(m) for m in self.messages or ()),
            axioms=tuple(self.axioms) if self.axioms is not None else None, wall_time_s=self.wall_time_s,
            peak_memory_mb=self.peak_memory_mb, backend=self.backend, assembled=self.assembled,
            detail=self.detail)


_VERIFIED = (Verdict.VERIFIED.value, Verdict.VERIFIED_ANSWER_UNCHECKED.value)


def _insert_or_ignore(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on the partial unique index of definitive keys, or
    None on databases without it. The conflict target repeats the index's own predicate (SQLite
    matches it textually)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        where = text("definitive = 1")
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        where = text("definitive")
    else:
        return None
    return insert(LeanCheck).on_conflict_do_nothing(index_elements=[LeanCheck.cache_key], index_where=where)


class LeanChecksMixin:
    def add_lean_check(self, result: LeanCheckResult, *, formal_statement_id: int | None = None,
                       proof_text: str | None = None) -> int:
        """Store a check; returns its row id. A definitive result whose key is already stored
        is not stored twice: the existing row's id is returned — also when another process
        stores the same key at the same moment (insert-or-get: ``INSERT … ON CONFLICT DO
        NOTHING``, then select)."""
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
        stmt = _insert_or_ignore(self.engine.dialect.name)  # type: ignore[attr-defined]
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
            for i in range(0, len(check_ids), 500):
                s.execute(update(LeanCheck).where(LeanCheck.id.in_(check_ids[i:i + 500]))
                          .values(screen_rules_version=version))

    def formal_statement_text(self, formal_statement_id: int) -> str | None:
        """The problem file of a stored formal statement (preamble, answer slots, statement)."""
        from prover.store.schema import FormalStatement

        with self.session() as s:
            row = s.get(FormalStatement, formal_statement_id)
            return None if row is None else (row.preamble or "") + (row.answer_slots or "") + row.statement

    def set_lean_check_verdict(self, check_id: int, verdict: Verdict, reasons: list[ReasonCode]) -> None:
        """Overwrite a stored verdict (a re-screen that now rejects a `verified` row)."""
        with self.session() as s:
            s.execute(update(LeanCheck).where(LeanCheck.id == check_id)
                      .values(verdict=Verdict(verdict).value, reasons=[ReasonCode(r).value for r in reasons]))
