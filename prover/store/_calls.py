"""The call cache (``model_calls``): ProofStore implements the model layer's CallStore protocol.

Rows are read and written in batches by the model client's writer thread, so these methods take
many records at once and commit them in one transaction. Writes are upserts on ``call_key``: a
call's ``pending`` row is replaced by its outcome, and a transient error by a later run's retry;
``created_at`` keeps the first time the call was recorded."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from prover.core.llm_records import CallRecord
from prover.store.schema import ModelCall

_TABLE = ModelCall.__table__
_COLUMNS = [c.name for c in _TABLE.columns if c.name != "id"]
_UPDATED = [c for c in _COLUMNS if c not in ("call_key", "created_at")]
_CHUNK = 500  # keys per SELECT ... IN (...), well under every backend's parameter limit


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (call_key) DO UPDATE, built once per dialect (building it costs
    more than executing it)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    stmt = insert(_TABLE)
    return stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.call_key], set_={name: stmt.excluded[name] for name in _UPDATED})


def _row(rec: CallRecord) -> dict[str, Any]:
    return {
        "call_key": rec.call_key, "run_id": rec.run_id, "role": rec.role, "backend": rec.backend,
        "model": rec.model, "request": rec.request, "status": rec.status,
        "transient": rec.transient, "response_text": rec.response_text,
        "reasoning_text": rec.reasoning_text, "finish_reason": rec.finish_reason,
        "prompt_tokens": rec.prompt_tokens, "completion_tokens": rec.completion_tokens,
        "latency_s": rec.latency_s, "error": rec.error, "attempts": rec.attempts,
        "created_at": rec.created_at, "completed_at": rec.completed_at,
    }


class CallsMixin:
    def get_calls(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        """Stored calls among ``keys``, by key."""
        found: dict[str, CallRecord] = {}
        cols = [_TABLE.c[name] for name in _COLUMNS]
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            for i in range(0, len(keys), _CHUNK):
                chunk = list(keys[i:i + _CHUNK])
                for row in conn.execute(select(*cols).where(_TABLE.c.call_key.in_(chunk))):
                    data = dict(row._mapping)
                    found[data["call_key"]] = CallRecord.model_validate(data)
        return found

    def put_calls(self, records: Sequence[CallRecord]) -> None:
        """Insert or replace calls by key, in one transaction."""
        if not records:
            return
        # The last record of a key wins, as the rows would if written one by one.
        rows = list({rec.call_key: _row(rec) for rec in records}.values())
        engine = self.engine  # type: ignore[attr-defined]
        stmt = _upsert(engine.dialect.name)
        with engine.begin() as conn:
            self.end_call_claims(conn, rows)  # type: ignore[attr-defined]
            if stmt is not None:
                conn.execute(stmt, rows)
                return
            # Other databases: replace row by row (slower, same result).
            keys = [r["call_key"] for r in rows]
            existing = set(conn.scalars(select(_TABLE.c.call_key).where(_TABLE.c.call_key.in_(keys))))
            for row in rows:
                if row["call_key"] in existing:
                    conn.execute(_TABLE.update().where(_TABLE.c.call_key == row["call_key"]),
                                 {k: row[k] for k in _UPDATED})
                else:
                    conn.execute(_TABLE.insert(), row)

    def call_counts(self, run_id: int | None = None) -> dict[str, int]:
        """Stored calls by status (``pending``, ``ok``, ``truncated``, ``error``), optionally of
        one run."""
        query = select(_TABLE.c.status, func.count()).group_by(_TABLE.c.status)
        if run_id is not None:
            query = query.where(_TABLE.c.run_id == run_id)
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            return {status: n for status, n in conn.execute(query)}
