"""Problems and their formal statements."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from sqlalchemy import func, or_, select

from prover.core.errors import NotFoundError, UsageError
from prover.core.records import ImportSummary, ProblemRecord
from prover.store.schema import FormalStatement, Problem


class ProblemsMixin:
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


def _excerpt(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
