"""Evaluations (``evaluations``): one row per ``prover eval`` of a benchmark, keyed by everything
that changes its outcome, so that the same command updates its own row instead of adding one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from prover.core.errors import NotFoundError
from prover.core.eval_records import MAX_POINTS, EvalSummary
from prover.store._grades import GradeRow
from prover.store.schema import Base, utcnow


class EvaluationRow(Base):
    """One evaluation of a benchmark: its settings and per-problem outcomes."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eval_key: Mapped[str] = mapped_column(String(64), index=True)
    benchmark: Mapped[str] = mapped_column(String(100), index=True)
    split: Mapped[str] = mapped_column(String(50))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="running")
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    budget: Mapped[str | None] = mapped_column(String(50))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    commit: Mapped[str | None] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the EvalSummary without its id (outcomes, group scores, counts)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalsMixin:
    def open_evaluation(self, eval_key: str, *, benchmark: str, split: str, models: dict[str, str],
                        budget: str | None, seed: int, commit: str | None, config: dict[str, Any]) -> int:
        """The row of the evaluation with this key (created when new): a rerun updates it."""
        with self.session() as s:
            row = s.scalars(select(EvaluationRow).where(EvaluationRow.eval_key == eval_key)
                            .order_by(EvaluationRow.id)).first()
            if row is None:
                row = EvaluationRow(eval_key=eval_key, benchmark=benchmark, split=split, models=models,
                                    budget=budget, seed=seed, commit=commit, config=config)
                s.add(row)
                s.flush()
            else:
                row.status, row.commit = "running", commit
            return row.id

    def save_evaluation(self, eval_id: int, summary: EvalSummary) -> None:
        with self.session() as s:
            row = s.get(EvaluationRow, eval_id)
            row.status = summary.status
            row.run_id = summary.run_id
            row.summary = summary.model_dump(mode="json", exclude={"eval_id"})
            row.finished_at = utcnow()

    def set_evaluation_status(self, eval_id: int, status: str) -> None:
        with self.session() as s:
            row = s.get(EvaluationRow, eval_id)
            row.status, row.finished_at = status, utcnow()

    def get_evaluation(self, eval_id: int) -> EvalSummary:
        with self.session() as s:
            row = s.get(EvaluationRow, eval_id)
            if row is None:
                raise NotFoundError(f"no evaluation {eval_id} (see `prover eval list`)")
            return _summary(row)

    def list_evaluations(self, benchmark: str | None = None) -> list[EvalSummary]:
        with self.session() as s:
            q = select(EvaluationRow).order_by(EvaluationRow.id)
            if benchmark is not None:
                q = q.where(EvaluationRow.benchmark == benchmark)
            return [_summary(row) for row in s.scalars(q)]

    def set_grader_grade(self, proof_id: int, name: str, points: int, *, run_id: int | None,
                         source: str | None) -> None:
        """Store a grader's 0–7 for a proof as the (automatic, not human) grade ``name``, so that
        ``prover crosscheck`` can compare it with human grades."""
        with self.session() as s:
            row = s.scalars(select(GradeRow).where(GradeRow.proof_id == proof_id, GradeRow.name == name)).first()
            if row is None:
                s.add(GradeRow(proof_id=proof_id, name=name, value=points / MAX_POINTS, raw=float(points),
                               max=float(MAX_POINTS), human=False, run_id=run_id, source=source))
            else:
                row.value, row.raw, row.run_id, row.source = points / MAX_POINTS, float(points), run_id, source

    # -- formal benchmarks, read from what `prover run --formal` stored ------------------------

    def formal_attempt_outcomes(self, problem_ids) -> list[dict[str, Any]]:
        """Each formal attempt of these problems: problem id, status, model calls, run id. Read
        through the table (its columns are only ever added), not the formal stage's models."""
        from sqlalchemy import MetaData, Table, inspect

        ids = list(problem_ids)
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            if "formal_attempts" not in inspect(conn).get_table_names():
                return out
            fa = Table("formal_attempts", MetaData(), autoload_with=conn)
            for i in range(0, len(ids), 500):
                rows = conn.execute(select(fa.c.problem_id, fa.c.status, fa.c.calls, fa.c.run_id)
                                    .where(fa.c.problem_id.in_(ids[i:i + 500])).order_by(fa.c.id))
                out += [{"problem_id": p, "status": st, "calls": c or 0, "run_id": r} for p, st, c, r in rows]
        return out

    def lean_check_totals(self, problem_ids) -> tuple[int, float]:
        """(Lean checks, their wall seconds) of these problems' formal statements."""
        from sqlalchemy import MetaData, Table, func, inspect

        ids = list(problem_ids)
        with self.engine.connect() as conn:
            if "lean_checks" not in inspect(conn).get_table_names() or not ids:
                return 0, 0.0
            lc = Table("lean_checks", MetaData(), autoload_with=conn)
            fs = Table("formal_statements", MetaData(), autoload_with=conn)
            n_total, s_total = 0, 0.0
            for i in range(0, len(ids), 500):
                n, secs = conn.execute(select(func.count(), func.sum(lc.c.wall_time_s))
                                       .join(fs, fs.c.id == lc.c.formal_statement_id)
                                       .where(fs.c.problem_id.in_(ids[i:i + 500]))).one()
                n_total += int(n or 0)
                s_total += float(secs or 0.0)
            return n_total, s_total

    def run_tokens(self, run_ids) -> int:
        """Prompt and completion tokens of the model calls of these runs."""
        from sqlalchemy import func

        from prover.store.schema import ModelCall

        ids = list(run_ids)
        if not ids:
            return 0
        with self.session() as s:
            total = s.execute(select(func.sum(func.coalesce(ModelCall.prompt_tokens, 0)
                                              + func.coalesce(ModelCall.completion_tokens, 0)))
                              .where(ModelCall.run_id.in_(ids))).scalar_one()
        return int(total or 0)

    def run_backends(self, run_ids) -> set[str]:
        """The model backends the calls of these runs used."""
        from prover.store.schema import ModelCall

        ids = list(run_ids)
        if not ids:
            return set()
        with self.session() as s:
            return set(s.scalars(select(ModelCall.backend).where(ModelCall.run_id.in_(ids)).distinct()))


def _summary(row: EvaluationRow) -> EvalSummary:
    data = dict(row.summary or {})
    data.update(eval_id=row.id, benchmark=row.benchmark, split=row.split, status=row.status,
                models=row.models or {}, budget=row.budget, seed=row.seed, commit=row.commit)
    data.setdefault("run_id", row.run_id)
    return EvalSummary.model_validate(data)
