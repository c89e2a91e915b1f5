"""Proofs, verifications, meta-verifications and informal searches (``informal_searches``: one
row per search, its settings, where it stopped, its result).

A proof, verification or meta-verification made by the engine is the answer of exactly one model
call, and is found again by that call's key (``model_call_id`` → ``model_calls.call_key``). A
search that runs again therefore rebuilds its pool from stored rows: it re-derives its requests,
and every request whose row exists is not asked again. Rows are written in bulk (a search stores
thousands per minute)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Boolean, DateTime, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from prover.core.errors import NotFoundError
from prover.core.records import ProofRecord, VerificationRecord
from prover.store.base import StoreBase
from prover.store.queries import chunked
from prover.store.schema import InformalSearch, MetaVerification, ModelCall, Proof, Verification, utcnow


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


@dataclass(frozen=True)
class StoredRow:
    """A stored proof, verification or meta-verification, with its call's key and tokens."""

    id: int
    call_key: str
    tokens: int
    fields: dict[str, Any]
    """The row's columns (``metadata`` under ``extra``)."""


@dataclass(frozen=True)
class InformalRows:
    """Everything the engine stored for one problem, by call key."""

    proofs: dict[str, StoredRow]
    verifications: dict[str, StoredRow]
    metas: dict[str, StoredRow]


def _tokens(prompt: int | None, completion: int | None) -> int:
    return (prompt or 0) + (completion or 0)


_TABLES = {"proofs": Proof.__table__, "verifications": Verification.__table__,
           "metas": MetaVerification.__table__}


def _statements(table):
    # Built once: constructing SQLAlchemy statements per batch costs more than running them.
    mc = ModelCall.__table__
    lookup = (select(mc.c.call_key, mc.c.id, table.c.id)
              .select_from(mc.outerjoin(table, table.c.model_call_id == mc.c.id))
              .where(mc.c.call_key.in_(bindparam("keys", expanding=True))))
    # Without sort_by_parameter_order the rows come back in one multi-row statement, in any
    # order: each is matched to its row by model call (one row per call by construction).
    return lookup, insert(table).returning(table.c.id, table.c.model_call_id), insert(table).returning(table.c.id)


_STATEMENTS = {kind: _statements(table) for kind, table in _TABLES.items()}

# A row may name its parent (proof of a verification, verification of a meta-verification) by the
# key of the call that made the parent: (key field, id column, parent kind).
_PARENT = {"verifications": ("proof_call_key", "proof_id"), "metas": ("verification_call_key", "verification_id")}
_PARENT_KIND = {"verifications": "proofs", "metas": "verifications"}


def _parent_lookup(table):
    mc = ModelCall.__table__
    return (select(mc.c.call_key, table.c.id).select_from(table.join(mc, table.c.model_call_id == mc.c.id))
            .where(mc.c.call_key.in_(bindparam("keys", expanding=True))))


_PARENT_LOOKUP = {"verifications": _parent_lookup(Proof.__table__),
                  "metas": _parent_lookup(Verification.__table__)}


def _resolve_parents(conn, rows: Sequence[dict[str, Any]], key_field: str, id_field: str,
                     known: dict[str, int]) -> list[dict[str, Any]]:
    wanted = list({r[key_field] for r in rows if key_field in r and r[key_field] not in known})
    kind = "verifications" if id_field == "proof_id" else "metas"
    for chunk in chunked(wanted):
        known.update(conn.execute(_PARENT_LOOKUP[kind], {"keys": chunk}).all())
    out = []
    for r in rows:
        if key_field in r:
            r = dict(r)
            r[id_field] = known[r.pop(key_field)]
        out.append(r)
    return out


def _insert_by_call(conn, kind: str, rows: Sequence[dict[str, Any]], call_keys: Sequence[str]) -> list[int]:
    lookup, insert_many, insert_one = _STATEMENTS[kind]
    found: dict[str, tuple[int, int | None]] = {}
    unique = list(dict.fromkeys(call_keys))
    for chunk in chunked(unique):
        for key, cid, rid in conn.execute(lookup, {"keys": chunk}):
            if key not in found or found[key][1] is None:
                found[key] = (cid, rid)
    now = utcnow()
    out: list[int | None] = []
    keyed: dict[int, dict[str, Any]] = {}  # model call id -> new row
    pending: list[tuple[int, int | None, dict[str, Any]]] = []
    for i, (row, key) in enumerate(zip(rows, call_keys)):
        cid, rid = found.get(key, (None, None))
        out.append(rid)
        if rid is not None:
            continue
        if cid is not None and cid in keyed:  # the same call twice in one batch: one row
            pending.append((i, cid, keyed[cid]))
            continue
        row = dict(row)
        row["model_call_id"] = cid
        row.setdefault("created_at", now)
        row["metadata"] = row.pop("extra", None) or {}
        if cid is not None:
            keyed[cid] = row
        pending.append((i, cid, row))
    if not pending:
        return out  # type: ignore[return-value]
    if conn.dialect.name == "sqlite":
        # The store's SQLite bulk path (SQLAlchemy's RETURNING goes row by row there).
        fresh = list({id(row): row for _, _, row in pending}.values())
        for row, rid in zip(fresh, sqlite_insert_ids(conn, _TABLES[kind], fresh)):
            row["id"] = rid
        for i, _, row in pending:
            out[i] = row["id"]
        return out  # type: ignore[return-value]
    by_call: dict[int, int] = {}
    if keyed:
        by_call.update((c, r) for r, c in ((row[0], row[1]) for row in conn.execute(insert_many, list(keyed.values()))))
    for i, cid, row in pending:
        if cid is None:  # no stored call to tie it to (should not happen): a row of its own
            out[i] = conn.execute(insert_one, row).scalar_one()
        else:
            out[i] = by_call[cid]
    return out  # type: ignore[return-value]


class InformalMixin(StoreBase):
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

    def get_proof(self, proof_id: int) -> Proof:
        with self.session() as s:
            proof = s.get(Proof, proof_id)
        if proof is None:
            raise NotFoundError(f"no proof {proof_id}")
        return proof

    def proofs_of(self, problem_id: int) -> list[Proof]:
        with self.session() as s:
            return list(s.scalars(select(Proof).where(Proof.problem_id == problem_id).order_by(Proof.id)))

    def verifications_of(self, proof_id: int) -> list[Verification]:
        with self.session() as s:
            return list(s.scalars(select(Verification).where(Verification.proof_id == proof_id)
                                  .order_by(Verification.id)))

    # -- rows made by model calls ---------------------------------------------------------------

    def informal_rows(self, problem_id: int) -> InformalRows:
        """The engine's proofs, verifications and meta-verifications of a problem, keyed by the
        key of the model call that made each."""
        mc = ModelCall.__table__
        with self._informal_lock():
            for d in self._informal_ids().values():
                d.clear()
        p, v, m = Proof.__table__, Verification.__table__, MetaVerification.__table__
        tok = (mc.c.call_key, mc.c.prompt_tokens, mc.c.completion_tokens)
        out: dict[str, dict[str, StoredRow]] = {"p": {}, "v": {}, "m": {}}
        with self.engine.connect() as conn:
            queries = {
                "p": select(p, *tok).join(mc, mc.c.id == p.c.model_call_id).where(p.c.problem_id == problem_id),
                "v": select(v, *tok).join(mc, mc.c.id == v.c.model_call_id).join(p, p.c.id == v.c.proof_id)
                .where(p.c.problem_id == problem_id),
                "m": select(m, *tok).join(mc, mc.c.id == m.c.model_call_id)
                .join(v, v.c.id == m.c.verification_id).join(p, p.c.id == v.c.proof_id)
                .where(p.c.problem_id == problem_id),
            }
            for kind, query in queries.items():
                for row in conn.execute(query):
                    data = dict(row._mapping)
                    key = data.pop("call_key")
                    tokens = _tokens(data.pop("prompt_tokens"), data.pop("completion_tokens"))
                    data["extra"] = data.pop("metadata", None) or {}
                    out[kind][key] = StoredRow(id=data["id"], call_key=key, tokens=tokens, fields=data)
        return InformalRows(proofs=out["p"], verifications=out["v"], metas=out["m"])

    def add_informal_rows(self, batches: dict[str, tuple[Sequence[dict[str, Any]], Sequence[str]]]) -> dict[str, list[int]]:
        """Store rows made by model calls, in ONE transaction: ``{kind: (rows, call keys)}`` with
        kind ``proofs``, ``verifications`` or ``metas`` (rows: column names as keys, ``extra``
        for metadata). A verification may name its proof by ``proof_call_key`` (the key of the
        call that made it, stored before or in this batch) instead of ``proof_id``; a
        meta-verification its analysis by ``verification_call_key``. A call that already has its
        row keeps it, and that row's id is returned instead: writing the same answer twice is
        harmless. Returns the ids per kind, in order. Called from another thread while the
        store's writer runs (analyses topped up from worker threads), the batch is handed to it."""
        from prover.store.writer import active_writer

        writer = active_writer(self)
        if writer is not None and not writer.on_thread():
            return writer.route(self._add_informal_rows_retrying, batches)
        return self._add_informal_rows_retrying(batches)

    def _add_informal_rows_retrying(self, batches: dict[str, tuple[Sequence[dict[str, Any]], Sequence[str]]]) -> dict[str, list[int]]:
        for attempt in range(3):
            try:
                return self._add_informal_rows(batches)
            except (IntegrityError, OperationalError):
                # Another process stored one of these calls' rows between our lookup and our
                # insert (the unique index on model_call_id refused the copy), or held SQLite's
                # lock past the timeout: the next try finds its rows and inserts the rest. Ids
                # remembered during the rolled-back transaction are not rows any more.
                with self._informal_lock():
                    for d in self._informal_ids().values():
                        d.clear()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _add_informal_rows(self, batches: dict[str, tuple[Sequence[dict[str, Any]], Sequence[str]]]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        ids = self._informal_ids()
        # One batch at a time per store: the ids remembered by call key are shared by every
        # thread writing through this store (evaluation writes from several).
        with self._informal_lock(), self.engine.begin() as conn:
            for kind in ("proofs", "verifications", "metas"):
                rows, keys = batches.get(kind, ((), ()))
                if not rows:
                    continue
                parent = _PARENT.get(kind)
                if parent is not None:
                    rows = _resolve_parents(conn, rows, *parent, ids[_PARENT_KIND[kind]])
                out[kind] = _insert_by_call(conn, kind, rows, keys)
                if kind in ids:
                    ids[kind].update(zip(keys, out[kind]))
        return out

    def _informal_lock(self) -> threading.Lock:
        return self.__dict__.setdefault("_informal_write_lock", threading.Lock())

    def _informal_ids(self) -> dict[str, dict[str, int]]:
        # Row ids of proofs and verifications by call key, remembered between batches so that a
        # child row naming its parent by key costs no query. Cleared when a search loads its
        # rows (rows are deleted, if ever, between runs) and when it grows large.
        ids = self.__dict__.setdefault("_informal_id_cache", {"proofs": {}, "verifications": {}})
        if sum(len(d) for d in ids.values()) > 500_000:
            for d in ids.values():
                d.clear()
        return ids

    def add_informal_proofs(self, rows: Sequence[dict[str, Any]], call_keys: Sequence[str]) -> list[int]:
        """Store proofs made by model calls."""
        return self.add_informal_rows({"proofs": (rows, call_keys)})["proofs"]

    def add_informal_verifications(self, rows: Sequence[dict[str, Any]], call_keys: Sequence[str]) -> list[int]:
        """Store verifications made by model calls."""
        return self.add_informal_rows({"verifications": (rows, call_keys)})["verifications"]

    def add_meta_verifications(self, rows: Sequence[dict[str, Any]], call_keys: Sequence[str]) -> list[int]:
        """Store meta-verifications made by model calls."""
        return self.add_informal_rows({"metas": (rows, call_keys)})["metas"]

    def set_proof_answers(self, items: Iterable[tuple[int, str | None, bool | None]]) -> None:
        """Store (proof id, extracted answer, answer match) for several proofs."""
        items = list(items)
        if not items:
            return
        p = Proof.__table__
        with self.engine.begin() as conn:
            for pid, answer, match in items:
                conn.execute(update(p).where(p.c.id == pid).values(answer=answer, answer_match=match))

    # -- searches ---------------------------------------------------------------------------

    def open_search(self, search_key: str, problem_id: int, *, config: dict[str, Any], seed: int,
                    run_id: int | None) -> int:
        """The id of the search with this key, created when new; marked running by ``run_id``."""
        with self.session() as s:
            row = s.scalars(select(InformalSearch).where(InformalSearch.search_key == search_key)).first()
            if row is None:
                row = InformalSearch(search_key=search_key, problem_id=problem_id, config=config, seed=seed)
                s.add(row)
            row.run_id, row.status, row.updated_at = run_id, "running", utcnow()
            s.flush()
            return row.id

    def save_search(self, search_id: int, **values: Any) -> None:
        """Update a search's columns (its progress or its result)."""
        with self.session() as s:
            row = s.get(InformalSearch, search_id)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()

    def searches_of(self, problem_id: int) -> list[InformalSearch]:
        """A problem's searches, newest first."""
        with self.session() as s:
            return list(s.scalars(select(InformalSearch).where(InformalSearch.problem_id == problem_id)
                                  .order_by(InformalSearch.updated_at.desc(), InformalSearch.id.desc())))

    def metas_of(self, verification_ids: Sequence[int]) -> list[MetaVerification]:
        """Meta-verifications of these verifications, in id order."""
        out: list[MetaVerification] = []
        with self.session() as s:
            for chunk in chunked(verification_ids):
                out.extend(s.scalars(select(MetaVerification).where(MetaVerification.verification_id.in_(chunk))))
        return sorted(out, key=lambda r: r.id)

    def verifications_of_proofs(self, proof_ids: Sequence[int]) -> list[Verification]:
        """Verifications of these proofs, in id order."""
        out: list[Verification] = []
        with self.session() as s:
            for chunk in chunked(proof_ids):
                out.extend(s.scalars(select(Verification).where(Verification.proof_id.in_(chunk))))
        return sorted(out, key=lambda r: r.id)
