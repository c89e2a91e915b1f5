"""What reports, evaluations and exports read.

``report_rows``: the reads a report makes (``prover report``): problems, searches, proofs,
verdicts, model calls and runs of the whole database or of one run, as plain rows. Evaluations
(``evaluations``): one row per ``prover eval`` of a benchmark, keyed by everything that changes
its outcome, so that the same command updates its own row instead of adding one. Table exports
(JSONL, Parquet) that Hugging Face ``datasets`` loads."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer
from sqlalchemy import Table as SATable
from sqlalchemy import Text, func, inspect, or_, select, type_coerce

from prover.core.errors import NotFoundError, UsageError
from prover.core.eval_records import EvalSummary
from prover.store.base import StoreBase
from prover.store.grades import RESAMPLE_RUN_KIND
from prover.store.queries import rows_in
from prover.store.schema import (Base, EvaluationRow, FormalStatement, InformalSearch, ModelCall, Problem, Proof, Run,
                                 Verification, utcnow)

EXPORT_FORMATS = ("jsonl", "parquet")
_BATCH = 20_000


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


class ReportsMixin(StoreBase):
    def report_rows(self, run_id: int | None = None) -> ReportRows:
        """The rows of the whole database, or of one run: the problems it searched or made
        proofs for (with all their proofs), and its own model calls."""
        with self.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            has_searches = "informal_searches" in tables
            if run_id is not None:
                run = conn.execute(select(Run.id).where(Run.id == run_id)).first()
                if run is None:
                    raise NotFoundError(f"no run {run_id} in this database")
                scope = set(conn.scalars(select(Proof.problem_id).where(Proof.run_id == run_id).distinct()))
                if has_searches:
                    scope |= set(conn.scalars(select(InformalSearch.problem_id).where(InformalSearch.run_id == run_id)))
                problem_ids: Sequence[int] | None = sorted(scope)
            else:
                problem_ids = None

            def scoped(query, column):
                return rows_in(conn, query, column, problem_ids)

            problems = [dict(id=r.id, collection=r.collection, external_id=r.external_id, split=r.split,
                             has_reference=r.reference_answer is not None)
                        for r in scoped(select(Problem.id, Problem.collection, Problem.external_id, Problem.split,
                                                Problem.reference_answer).order_by(Problem.id), Problem.id)]
            searches = []
            if has_searches:
                t = InformalSearch
                q = select(t.problem_id, t.status, t.passed, t.answer_match, t.calls, t.tokens, t.rounds, t.config,
                           t.run_id).order_by(t.id)
                for r in scoped(q, t.problem_id):
                    knobs = ((r.config or {}).get("search") or {}).get("knobs") or {}
                    searches.append(dict(problem_id=r.problem_id, status=r.status, passed=bool(r.passed),
                                         answer_match=r.answer_match, calls=r.calls or 0, tokens=r.tokens or 0,
                                         rounds=r.rounds or 0, verifications=knobs.get("verifications"),
                                         run_id=r.run_id))
            proofs = [dict(id=r.id, problem_id=r.problem_id, round=r.round, self_score=r.self_score, source=r.source,
                           answer_method=(r.extra or {}).get("answer_method"))
                      for r in scoped(select(Proof.id, Proof.problem_id, Proof.round, Proof.self_score, Proof.source,
                                              Proof.extra.label("extra")).order_by(Proof.id), Proof.problem_id)]
            resampled = select(Run.id).where(Run.kind == RESAMPLE_RUN_KIND)
            vq = (select(Verification.proof_id, Verification.sample_index, Verification.score,
                         Verification.parse_status)
                  .join(Proof, Proof.id == Verification.proof_id)
                  .where(or_(Verification.run_id.is_(None), Verification.run_id.not_in(resampled))))
            verdicts: dict[int, list[tuple[int, float | None, str]]] = defaultdict(list)
            for r in scoped(vq, Proof.problem_id):
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
            for pid, n in scoped(select(FormalStatement.problem_id, func.count()).group_by(FormalStatement.problem_id),
                                  FormalStatement.problem_id):
                fs[pid] = n
        return ReportRows(problems=problems, searches=searches, proofs=proofs, verdicts=dict(verdicts), calls=calls,
                          runs=runs, formal_statements=fs, tables=tables)

    # -- evaluations ------------------------------------------------------------------------

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

    # -- exports ----------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return sorted(t for t in inspect(self.engine).get_table_names() if t != "alembic_version")

    def _table(self, name: str) -> SATable:
        if name not in Base.metadata.tables or name not in self.table_names():
            raise UsageError(f"no table {name!r}; tables: {', '.join(self.table_names())}")
        return Base.metadata.tables[name]

    def iter_table(self, name: str, batch_size: int = _BATCH, *, raw_json: bool = False
                   ) -> Iterator[tuple[list[str], list[tuple]]]:
        """(column names, rows) of a table in primary-key order, in batches. With ``raw_json``,
        JSON columns come as JSON text where the database keeps text (no parse/re-serialise)."""
        table = self._table(name)
        cols = [type_coerce(c, Text).label(c.name) if raw_json and isinstance(c.type, JSON) else c
                for c in table.columns]
        names = [c.name for c in table.columns]
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(
                select(*cols).order_by(*table.primary_key.columns))
            for part in result.partitions():
                yield names, part

    def export_table(self, name: str, fmt: str, out: str | os.PathLike) -> int:
        """Write a whole table to ``out`` as JSONL or Parquet; returns the row count.
        JSON columns become nested values in JSONL and JSON text in Parquet."""
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        table = self._table(name)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial")
        n = 0
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as f:
                for names, batch in self.iter_table(name):
                    f.write("".join(json.dumps(dict(zip(names, row)), ensure_ascii=False, default=_json_default)
                                    + "\n" for row in batch))
                    n += len(batch)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = _arrow_schema(table)
            json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
            with pq.ParquetWriter(tmp, schema) as writer:
                for names, batch in self.iter_table(name, raw_json=True):
                    columns = [list(col) for col in zip(*batch)]
                    for i, col_name in enumerate(names):
                        if col_name in json_cols:
                            # PostgreSQL's driver parses JSON even when asked for text
                            columns[i] = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                          for v in columns[i]]
                    writer.write_table(pa.Table.from_arrays(
                        [pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema))
                    n += len(batch)
        # Readers never see a half-written export.
        os.replace(tmp, out)
        return n

    def stats(self) -> dict[str, Any]:
        """Row counts per table, problems per collection, formal statements per toolchain."""
        tables = {}
        with self.engine.connect() as conn:
            for name in self.table_names():
                t = self._table(name) if name in _known_tables() else None
                if t is not None:
                    tables[name] = conn.execute(select(func.count()).select_from(t)).scalar_one()
            collections = dict(conn.execute(select(Problem.collection, func.count())
                                            .group_by(Problem.collection).order_by(Problem.collection)).all())
            toolchains = dict(conn.execute(select(FormalStatement.toolchain, func.count())
                                           .group_by(FormalStatement.toolchain)
                                           .order_by(FormalStatement.toolchain)).all())
        current, _ = self.schema_heads()
        info: dict[str, Any] = {"database": self.url, "schema": sorted(current), "tables": tables,
                                "problems_by_collection": collections,
                                "formal_statements_by_toolchain": toolchains}
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database:
            path = Path(self.engine.url.database)
            info["size_bytes"] = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return info


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds())


def _summary(row: EvaluationRow) -> EvalSummary:
    data = dict(row.summary or {})
    data.update(eval_id=row.id, benchmark=row.benchmark, split=row.split, status=row.status,
                models=row.models or {}, budget=row.budget, seed=row.seed, commit=row.commit)
    data.setdefault("run_id", row.run_id)
    return EvalSummary.model_validate(data)


def _known_tables() -> set[str]:
    return set(Base.metadata.tables)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _arrow_schema(table: SATable):
    import pyarrow as pa

    def arrow_type(col):
        t = col.type
        if isinstance(t, Boolean):
            return pa.bool_()
        if isinstance(t, Integer):
            return pa.int64()
        if isinstance(t, Float):
            return pa.float64()
        if isinstance(t, DateTime):
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema([pa.field(c.name, arrow_type(c)) for c in table.columns])
