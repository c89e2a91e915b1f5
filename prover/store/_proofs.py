"""Proofs and verifications, written in bulk (a search stores thousands per minute)."""

from __future__ import annotations

import json
from functools import lru_cache
from operator import itemgetter
from typing import Any, Sequence

from sqlalchemy import JSON, Boolean, DateTime, Table, insert, select
from sqlalchemy.engine import Connection

from prover.core.records import ProofRecord, VerificationRecord
from prover.store.schema import Proof, Verification, utcnow


def _rows(records, now) -> list[dict]:
    # A shallow copy of each validated record's fields: model_dump() deep-copies every string,
    # which costs more than the insert itself at 100k rows.
    rows = []
    for rec in records:
        row = dict(rec.__dict__)  # keys are column names (`metadata` included)
        row["created_at"] = now
        rows.append(row)
    return rows


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    if not value:  # most issue lists and metadata are empty
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value, ensure_ascii=False)


def _bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert many rows. On SQLite, rows go straight to the driver's executemany with JSON and
    datetimes converted here (the same text SQLAlchemy would store): SQLAlchemy's per-row bind
    processing costs more CPU than SQLite's insert of a 2 KB row. Other databases take the usual
    path, where drivers batch efficiently."""
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    cols = [c for c in table.columns if c.name in rows[0]]
    convert = []
    for i, c in enumerate(cols):
        if isinstance(c.type, JSON):
            convert.append((i, _dumps))
        elif isinstance(c.type, DateTime):
            convert.append((i, _sqlite_datetime))
        elif isinstance(c.type, Boolean):
            convert.append((i, lambda v: None if v is None else int(v)))
    names = [c.name for c in cols]
    getter = itemgetter(*names)
    params = []
    for row in rows:
        values = list(getter(row))
        for i, f in convert:
            values[i] = f(values[i])
        params.append(tuple(values))
    sql = f'INSERT INTO {table.name} ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    conn.exec_driver_sql(sql, params)


def sqlite_insert_ids(conn: Connection, table: Table, rows: list[dict]) -> list[int]:
    """Insert rows on SQLite and return their ids in order, without SQLAlchemy's RETURNING (which
    goes row by row there). The first INSERT takes the database's write lock for the rest of the
    transaction, so no other writer can interleave: SQLite gives the rows consecutive rowids
    (max + 1 onwards) and the last one is ``last_insert_rowid()``."""
    _bulk_insert(conn, table, rows)
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    return list(range(last - len(rows) + 1, last + 1))


@lru_cache(maxsize=64)
def _sqlite_datetime(value):
    # A batch shares one timestamp: format it once.
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


class ProofsMixin:
    def add_proofs(self, records: Sequence[ProofRecord]) -> list[int]:
        """Insert proofs in one transaction; returns their ids in order."""
        if not records:
            return []
        rows = _rows(records, utcnow())
        table = Proof.__table__
        with self.session() as s:
            conn = s.connection()
            if conn.dialect.name == "sqlite":
                return sqlite_insert_ids(conn, table, rows)
            # insertmanyvalues batches the RETURNING; `sort_by_parameter_order` keeps ids aligned.
            result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            return [r[0] for r in result]

    def add_verifications(self, records: Sequence[VerificationRecord]) -> None:
        """Insert verifications in one transaction."""
        if not records:
            return
        rows = _rows(records, utcnow())
        with self.session() as s:
            _bulk_insert(s.connection(), Verification.__table__, rows)

    def proofs_of(self, problem_id: int) -> list[Proof]:
        with self.session() as s:
            return list(s.scalars(select(Proof).where(Proof.problem_id == problem_id).order_by(Proof.id)))

    def verifications_of(self, proof_id: int) -> list[Verification]:
        with self.session() as s:
            return list(s.scalars(select(Verification).where(Verification.proof_id == proof_id)
                                  .order_by(Verification.id)))
