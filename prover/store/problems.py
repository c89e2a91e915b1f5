"""Problems, their formal statements, and whether a statement still elaborates on a toolchain
(``statement_compat``: one row per (statement, toolchain, Mathlib rev), written by ``prover lean
check-statements`` and the formal stage)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Sequence

from sqlalchemy import func, inspect, or_, select

from prover.core.errors import NotFoundError, UsageError
from prover.core.records import ImportSummary, ProblemRecord
from prover.store.base import StoreBase
from prover.store.queries import rows_in
from prover.store.schema import FormalStatement, Problem, StatementCompat, utcnow

COMPATIBLE, INCOMPATIBLE = "compatible", "incompatible"


class ProblemsMixin(StoreBase):
    def add_problems(self, records: Iterable[ProblemRecord]) -> ImportSummary:
        """Store problems and their formal statements in ONE transaction; what is stored
        already (same key) is left as it is. Returns what was added."""
        summary = ImportSummary()
        added = Counter()
        with self.session() as s:
            by_key: dict[tuple[str, str, str], int] = {}
            formal_keys: set[tuple[int, str, str]] = set()
            loaded: set[str] = set()
            for rec in records:
                summary.records += 1
                if rec.collection not in loaded:
                    # One query per collection instead of one per record.
                    loaded.add(rec.collection)
                    rows = s.execute(select(Problem.id, Problem.collection, Problem.external_id, Problem.statement_hash)
                                     .where(Problem.collection == rec.collection))
                    by_key.update({(c, e, h): pid for pid, c, e, h in rows})
                    frows = s.execute(select(FormalStatement.problem_id, FormalStatement.toolchain, FormalStatement.content_hash)
                                      .join(Problem).where(Problem.collection == rec.collection))
                    formal_keys.update(tuple(r) for r in frows)
                pid = by_key.get(rec.key)
                if pid is None:
                    row = Problem(collection=rec.collection, external_id=rec.external_id,
                                  statement_hash=rec.statement_hash, informal_statement=rec.informal_statement,
                                  reference_answer=rec.reference_answer, reference_solution=rec.reference_solution,
                                  grading_guidelines=rec.grading_guidelines, split=rec.split, tags=list(rec.tags),
                                  extra=dict(rec.metadata), source=rec.source)
                    s.add(row)
                    s.flush()
                    pid = by_key[rec.key] = row.id
                    summary.problems_added += 1
                    added[rec.collection] += 1
                else:
                    summary.problems_existing += 1
                for fs in rec.formal_statements:
                    fkey = (pid, fs.toolchain, fs.content_hash)
                    if fkey in formal_keys:
                        summary.formal_existing += 1
                        continue
                    formal_keys.add(fkey)
                    s.add(FormalStatement(problem_id=pid, toolchain=fs.toolchain, preamble=fs.preamble,
                                          answer_slots=fs.answer_slots, statement=fs.statement,
                                          reference_answer_lean=fs.reference_answer_lean,
                                          content_hash=fs.content_hash, source=fs.source))
                    summary.formal_added += 1
        summary.by_collection = dict(added)
        return summary

    def list_problems(self, collection: str | None = None, limit: int | None = None, offset: int = 0) -> list[Problem]:
        with self.session() as s:
            q = select(Problem).order_by(Problem.id).offset(offset)
            if collection:
                q = q.where(Problem.collection == collection)
            if limit:
                q = q.limit(limit)
            return list(s.scalars(q))

    def find_problems(self, token: str) -> list[Problem]:
        """Problems a user's token names: a numeric id, an external id, or COLLECTION/EXTERNAL_ID."""
        with self.session() as s:
            conds = [Problem.external_id == token]
            if token.isdigit():
                conds.append(Problem.id == int(token))
            if "/" in token:
                coll, _, ext = token.partition("/")
                conds.append((Problem.collection == coll) & (Problem.external_id == ext))
            return list(s.scalars(select(Problem).where(or_(*conds)).order_by(Problem.id)))

    def resolve_problem(self, token: str) -> Problem:
        """Exactly one problem for a token, else NotFoundError / UsageError listing the matches."""
        matches = self.find_problems(token)
        if not matches:
            raise NotFoundError(f"no problem matches {token!r}")
        if len(matches) > 1:
            lines = "\n".join(f"  {p.id}  {p.collection}/{p.external_id}  {_excerpt(p.informal_statement)}"
                              for p in matches)
            raise UsageError(f"{token!r} is ambiguous; it matches {len(matches)} problems "
                             f"(name one by its numeric id or COLLECTION/ID):\n{lines}")
        return matches[0]

    def get_problem(self, problem_id: int) -> Problem:
        with self.session() as s:
            problem = s.get(Problem, problem_id)
            if problem is None:
                raise NotFoundError(f"no problem with id {problem_id}")
            return problem

    def formal_statements(self, problem_id: int) -> list[FormalStatement]:
        with self.session() as s:
            return list(s.scalars(select(FormalStatement).where(FormalStatement.problem_id == problem_id)
                                  .order_by(FormalStatement.id)))

    def count_problems(self) -> dict[str, int]:
        with self.session() as s:
            return dict(s.execute(select(Problem.collection, func.count()).group_by(Problem.collection)
                                  .order_by(Problem.collection)).all())

    def problem_ids(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        """Row ids of problems by key (collection, external id, statement hash)."""
        wanted = set(keys)
        out: dict[tuple[str, str, str], int] = {}
        with self.engine.connect() as conn:
            for coll in {k[0] for k in wanted}:
                rows = conn.execute(select(Problem.id, Problem.collection, Problem.external_id, Problem.statement_hash)
                                    .where(Problem.collection == coll))
                for pid, c, e, h in rows:
                    if (c, e, h) in wanted:
                        out[(c, e, h)] = pid
        return out

    # -- statement compatibility ----------------------------------------------------------

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

    def incompatible_statements_by_problem(self, problem_ids: Sequence[int] | None = None) -> dict[int, int] | None:
        """Problem id → its formal statements marked incompatible on some toolchain (of these
        problems, or all); None when the database has no statement-compatibility table."""
        sc, fs = StatementCompat.__table__, FormalStatement.__table__
        q = (select(fs.c.problem_id, func.count(func.distinct(sc.c.formal_statement_id)))
             .join(fs, fs.c.id == sc.c.formal_statement_id).where(sc.c.status == INCOMPATIBLE)
             .group_by(fs.c.problem_id))
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("statement_compat"):
                return None
            return {pid: n for pid, n in rows_in(conn, q, fs.c.problem_id, problem_ids)}

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


def _excerpt(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
