"""Statement compatibility: whether a stored formal statement elaborates (with `sorry`) on the
project's toolchain and Mathlib. One row per (formal statement, toolchain, Mathlib rev); only
definitive answers are stored (a timeout or crash is retried by the next precheck). Statements
marked ``incompatible`` are left out of formal runs and labels and reported per collection,
never counted as proof failures (DESIGN.md, "Lean versions and backends")."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from prover.store.schema import Base, FormalStatement, Problem, utcnow

COMPATIBLE, INCOMPATIBLE = "compatible", "incompatible"


class StatementCompat(Base):
    """Whether one formal statement elaborates on one toolchain + Mathlib."""

    __tablename__ = "statement_compat"
    __table_args__ = (UniqueConstraint("formal_statement_id", "toolchain", "mathlib_rev", name="uq_statement_compat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    formal_statement_id: Mapped[int] = mapped_column(ForeignKey("formal_statements.id", ondelete="CASCADE"),
                                                     index=True)
    toolchain: Mapped[str] = mapped_column(String(100))
    # "" when unknown, so that the unique constraint holds on every database
    mathlib_rev: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20))  # compatible | incompatible
    content_hash: Mapped[str] = mapped_column(String(64))
    """The statement's content hash when checked: a changed statement is checked again."""
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(50))
    wall_time_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StatementCompatMixin:
    def set_statement_compat(self, formal_statement_id: int, *, toolchain: str, mathlib_rev: str | None,
                             status: str, content_hash: str, backend: str, messages: list[dict] | None = None,
                             detail: str | None = None, wall_time_s: float | None = None) -> None:
        """Store (or replace) the compatibility of one statement on one toolchain."""
        if status not in (COMPATIBLE, INCOMPATIBLE):
            raise ValueError(f"status must be {COMPATIBLE} or {INCOMPATIBLE}, not {status!r}")
        rev = mathlib_rev or ""
        with self.session() as s:
            row = s.scalars(select(StatementCompat).where(
                StatementCompat.formal_statement_id == formal_statement_id,
                StatementCompat.toolchain == toolchain, StatementCompat.mathlib_rev == rev)).first()
            if row is None:
                row = StatementCompat(formal_statement_id=formal_statement_id, toolchain=toolchain, mathlib_rev=rev)
                s.add(row)
            row.status, row.content_hash, row.backend = status, content_hash, backend
            row.messages, row.detail, row.wall_time_s = list(messages or []), detail, wall_time_s
            row.created_at = utcnow()

    def statement_compat(self, formal_statement_id: int, *, toolchain: str,
                         mathlib_rev: str | None) -> StatementCompat | None:
        with self.session() as s:
            return s.scalars(select(StatementCompat).where(
                StatementCompat.formal_statement_id == formal_statement_id,
                StatementCompat.toolchain == toolchain,
                StatementCompat.mathlib_rev == (mathlib_rev or ""))).first()

    def formal_statements_in(self, collection: str | None = None) -> list[tuple[FormalStatement, str, str]]:
        """Every stored formal statement (optionally of one collection) with its problem's
        collection and external id, in id order."""
        with self.session() as s:
            q = (select(FormalStatement, Problem.collection, Problem.external_id)
                 .join(Problem, FormalStatement.problem_id == Problem.id).order_by(FormalStatement.id))
            if collection:
                q = q.where(Problem.collection == collection)
            return [(fs, c, e) for fs, c, e in s.execute(q)]

    def incompatible_statement_ids(self, *, toolchain: str, mathlib_rev: str | None) -> set[int]:
        """Formal statements that do not elaborate on this toolchain: formal runs skip them."""
        with self.session() as s:
            return set(s.scalars(select(StatementCompat.formal_statement_id).where(
                StatementCompat.toolchain == toolchain, StatementCompat.mathlib_rev == (mathlib_rev or ""),
                StatementCompat.status == INCOMPATIBLE)))

    def statement_compat_summary(self, *, toolchain: str, mathlib_rev: str | None,
                                 collection: str | None = None) -> dict[str, dict[str, int]]:
        """collection → {compatible, incompatible, unchecked} counts for this toolchain."""
        rows = self.formal_statements_in(collection)
        with self.session() as s:
            status = dict(s.execute(select(StatementCompat.formal_statement_id, StatementCompat.status).where(
                StatementCompat.toolchain == toolchain, StatementCompat.mathlib_rev == (mathlib_rev or ""))).all())
        out: dict[str, Counter] = defaultdict(Counter)
        for fs, coll, _ in rows:
            out[coll][status.get(fs.id, "unchecked")] += 1
        return {c: {k: n[k] for k in (COMPATIBLE, INCOMPATIBLE, "unchecked")} for c, n in sorted(out.items())}
