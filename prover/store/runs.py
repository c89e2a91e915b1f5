"""Runs (one row per data-producing command) and their model calls: the call cache
(``model_calls``), through which ProofStore implements the model layer's CallStore protocol.

Calls are read and written in batches by the model client's writer, so these methods take many
records at once and commit them in one transaction. Writes are upserts on ``call_key``: a call's
``pending`` row is replaced by its outcome, and a transient error by a later run's retry;
``created_at`` keeps the first time the call was recorded."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import func, select, update

from prover import __version__
from prover.core.llm_records import CallRecord
from prover.store.base import StoreBase
from prover.store.queries import chunked, conflict_insert
from prover.store.schema import InformalSearch, ModelCall, Run, utcnow

_TABLE = ModelCall.__table__
_COLUMNS = [c.name for c in _TABLE.columns if c.name != "id"]
_UPDATED = [c for c in _COLUMNS if c not in ("call_key", "created_at")]


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is running (someone else's counts as running; a zombie,
    dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:
        # /proc/PID/stat: "pid (comm) state ...", comm may hold spaces and parentheses.
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (call_key) DO UPDATE, built once per dialect (building it costs
    more than executing it)."""
    insert = conflict_insert(dialect)
    if insert is None:
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


class RunsMixin(StoreBase):
    def start_run(self, kind: str, *, command: list[str] | None = None, config: dict[str, Any] | None = None,
                  seed: int | None = None, run_key: str | None = None, reveals_reference: bool = False) -> int:
        with self.session() as s:
            run = Run(kind=kind, command=command or [], config=config or {}, seed=seed, run_key=run_key,
                      reveals_reference=reveals_reference, prover_version=__version__,
                      host=socket.gethostname(), pid=os.getpid())
            s.add(run)
            s.flush()
            return run.id

    def resume_run(self, run_id: int) -> None:
        """A run continued by this process (``prover run --workers`` joining its unfinished run):
        running again, under this host and pid."""
        with self.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(status="running", finished_at=None,
                                                                  host=socket.gethostname(), pid=os.getpid()))

    def finish_run(self, run_id: int, status: str = "completed", summary: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            run.status = status
            run.finished_at = utcnow()
            if summary is not None:
                run.summary = summary

    def abort_run(self, run_id: int, exc: BaseException) -> None:
        """End a run that stopped on ``exc``: ``interrupted`` for Ctrl-C, else ``failed``, with the
        error's text in its summary."""
        self.finish_run(run_id, status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                        summary={"error": str(exc)[:500]})

    def reap_dead_runs(self) -> list[int]:
        """Mark ``interrupted`` the runs of this host still ``running`` whose process is gone (a
        kill or a crash ends a process before it can say so), and their informal searches. Runs
        of other hosts are left as they are: their processes cannot be seen from here."""
        host = socket.gethostname()
        with self.session() as s:
            rows = s.execute(select(Run.id, Run.pid).where(Run.status == "running", Run.host == host)).all()
            dead = [run_id for run_id, pid in rows if pid is not None and not process_alive(pid)]
            if dead:
                s.execute(update(Run).where(Run.id.in_(dead), Run.status == "running")
                          .values(status="interrupted", finished_at=utcnow(),
                                  summary={"interrupted": "its process ended without finishing the run"}))
                s.execute(update(InformalSearch)
                          .where(InformalSearch.run_id.in_(dead), InformalSearch.status == "running")
                          .values(status="interrupted", updated_at=utcnow()))
        return dead

    def get_run(self, run_id: int) -> Run | None:
        """The run with this id, or None."""
        with self.session() as s:
            return s.get(Run, run_id)

    def find_run(self, run_key: str) -> Run | None:
        """The newest run with this key (a hash of the command's inputs), for resuming."""
        with self.session() as s:
            return s.scalars(select(Run).where(Run.run_key == run_key).order_by(Run.id.desc())).first()

    # -- model calls ----------------------------------------------------------------------

    def get_calls(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        """Stored calls among ``keys``, by key."""
        found: dict[str, CallRecord] = {}
        cols = [_TABLE.c[name] for name in _COLUMNS]
        with self.engine.connect() as conn:
            for chunk in chunked(keys):
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
        engine = self.engine
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
        with self.engine.connect() as conn:
            return {status: n for status, n in conn.execute(query)}

    def run_tokens(self, run_ids) -> int:
        """Prompt and completion tokens of the model calls of these runs."""
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
        ids = list(run_ids)
        if not ids:
            return set()
        with self.session() as s:
            return set(s.scalars(select(ModelCall.backend).where(ModelCall.run_id.in_(ids)).distinct()))
