"""Leases: which worker works on which problem of a run (``problem_leases``).

A run with workers queues one lease row per problem (``todo``). A worker claims the first free
one — ``todo``, or ``leased`` with an expired lease (its holder was killed or lost its machine) —
and holds it while it works, renewing it well before it expires; it ends it ``done`` with the
problem's result. Nothing is lost when a holder dies: the next holder resumes from stored rows
(answered calls come from the call cache, stored proofs and analyses are found by their calls).

Claiming is one short transaction that no two workers can both win: ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL (a worker skips rows another is claiming, no waiting), and on SQLite the
same select under ``BEGIN IMMEDIATE`` (the write lock is taken first, so processes on one machine
claim one after the other). Times come from the database's clock on PostgreSQL, so machines
with skewed clocks agree on what has expired.

Two guarantees on top of the leases, both paid only by a store working for a worker
(``lease_holder`` set; a single process runs no extra query):

* **A call is sent once across workers** (``call_claims``). Before sending calls it has no stored
  answer for, a worker claims them in one statement (insert, or take over a claim that expired or
  is already its own; the keys it now holds come back). A call claimed by another live worker is
  not sent: its caller polls the call cache until the answer is stored, or takes the claim over
  once it expires (its holder died). Claims are renewed while the calls are in flight and end in
  the transaction that stores their answers.
* **A lost lease cannot write** (fencing). A lease's ``claims`` grows with every claim, so it is
  a fencing token: a formal row written for a problem this worker leased is checked, in its own
  transaction, against the lease still being held with the token of this worker's claim —
  PostgreSQL locks the lease row (``FOR SHARE``: a takeover skips it until the write commits),
  SQLite's write transaction serialises with the takeover — else LeaseLostError and nothing is
  written."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import delete, func, select, update

from prover.core.errors import LeaseHeldError, LeaseLostError
from prover.core.llm_records import CallRecord
from prover.store.base import StoreBase
from prover.store.queries import chunked, conflict_insert
from prover.store.runs import process_alive
from prover.store.schema import Base, CallClaim, ProblemLease, utcnow


@dataclass(frozen=True)
class Lease:
    """A claimed problem."""

    id: int
    run_id: int
    problem_id: int
    holder: str
    claims: int
    """1 for a first claim; more when this one takes over from a holder that died."""


@dataclass(frozen=True)
class LeaseCounts:
    """A run's leases by state (``prover worker`` and the progress view print it)."""

    todo: int
    leased: int
    expired: int
    done: int
    takeovers: int

    @property
    def open(self) -> int:
        return self.todo + self.leased + self.expired


_T = ProblemLease.__table__
_C = CallClaim.__table__
_FORMAL_PARENTS = (("attempt_id", "formal_attempts"), ("gate_id", "formal_gates"), ("step_id", "formal_steps"))
"""How a formal row leads to its problem when it has no ``problem_id`` of its own."""
_PARENT_TABLES = {t for _, t in _FORMAL_PARENTS}


def _local_pid(holder: str | None, host: str) -> int | None:
    """The process id of a holder (``host:pid:nonce``) running on ``host``; None otherwise."""
    parts = (holder or "").rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return None
    return int(parts[1])


def _now(conn) -> datetime:
    if conn.dialect.name == "postgresql":
        return conn.execute(select(func.now())).scalar_one()
    return utcnow()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back (stored in UTC).
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class LeasesMixin(StoreBase):
    def queue_problems(self, run_id: int, problem_ids: Sequence[int]) -> int:
        """Queue a run's problems for workers (those already queued stay as they are); returns
        how many were added."""
        with self.engine.begin() as conn:
            have = set(conn.scalars(select(_T.c.problem_id).where(_T.c.run_id == run_id)))
            now = utcnow()
            rows = [{"run_id": run_id, "problem_id": pid, "position": i, "status": "todo", "claims": 0,
                     "updated_at": now} for i, pid in enumerate(problem_ids) if pid not in have]
            if rows:
                conn.execute(_T.insert(), rows)
        return len(rows)

    def claim_problem(self, run_id: int, holder: str, *, lease_s: float) -> Lease | None:
        """Claim the run's first free problem for ``lease_s`` seconds, or None when every one is
        done or held by a live holder."""
        engine = self.engine
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            now = _now(conn)
            query = (select(_T.c.id, _T.c.problem_id, _T.c.claims).where(
                _T.c.run_id == run_id,
                (_T.c.status == "todo") | ((_T.c.status == "leased") & (_T.c.expires_at < now)))
                .order_by(_T.c.position).limit(1))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                conn.rollback()
                return None
            conn.execute(update(_T).where(_T.c.id == row.id).values(
                status="leased", holder=holder, expires_at=now + timedelta(seconds=lease_s),
                claims=row.claims + 1, updated_at=now))
            conn.commit()
        self._held()[(holder, row.problem_id)] = (row.id, row.claims + 1)
        return Lease(id=row.id, run_id=run_id, problem_id=row.problem_id, holder=holder, claims=row.claims + 1)

    def renew_leases(self, lease_ids: Sequence[int], holder: str, *, lease_s: float) -> set[int]:
        """Extend the leases ``holder`` still holds; returns the ids it no longer holds (expired
        and taken over by another worker, or ended)."""
        if not lease_ids:
            return set()
        with self.engine.begin() as conn:
            now = _now(conn)
            conn.execute(update(_T).where(_T.c.id.in_(list(lease_ids)), _T.c.holder == holder,
                                          _T.c.status == "leased")
                         .values(expires_at=now + timedelta(seconds=lease_s), updated_at=now))
            held = set(conn.scalars(select(_T.c.id).where(_T.c.id.in_(list(lease_ids)), _T.c.holder == holder,
                                                          _T.c.status == "leased")))
        gone = set(lease_ids) - held
        self._forget(gone)
        return gone

    def finish_lease(self, lease_id: int, holder: str, result: dict[str, Any]) -> bool:
        """End a lease ``done`` with the problem's result; False (nothing written) when
        ``holder`` no longer holds it: the problem is finished once, by its holder."""
        with self.engine.begin() as conn:
            now = _now(conn)
            n = conn.execute(update(_T).where(_T.c.id == lease_id, _T.c.holder == holder, _T.c.status == "leased")
                             .values(status="done", result=result, finished_at=now, updated_at=now,
                                     expires_at=None)).rowcount
        self._forget({lease_id})
        return n == 1

    def release_leases(self, lease_ids: Sequence[int], holder: str) -> None:
        """Give leases back unfinished (a worker stopping cleanly): free for the next claim."""
        if not lease_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(update(_T).where(_T.c.id.in_(list(lease_ids)), _T.c.holder == holder,
                                          _T.c.status == "leased")
                         .values(status="todo", holder=None, expires_at=None, updated_at=utcnow()))
        self._forget(set(lease_ids))

    def release_dead_local_leases(self, run_id: int) -> int:
        """Give back at once the run's problems leased by workers of this machine whose process is
        gone (a killed ``prover run`` takes its local workers with it), instead of leaving them
        until their leases expire; returns how many. Workers of other machines cannot be seen
        from here: theirs expire."""
        host = socket.gethostname()
        with self.engine.begin() as conn:
            holders = conn.scalars(select(_T.c.holder).where(_T.c.run_id == run_id, _T.c.status == "leased")
                                   .distinct()).all()
            pids = {h: _local_pid(h, host) for h in holders}
            dead = [h for h, pid in pids.items() if pid is not None and not process_alive(pid)]
            if not dead:
                return 0
            n = conn.execute(update(_T).where(_T.c.run_id == run_id, _T.c.status == "leased", _T.c.holder.in_(dead))
                             .values(status="todo", holder=None, expires_at=None, updated_at=utcnow())).rowcount
        return n or 0

    def lease_counts(self, run_id: int) -> LeaseCounts:
        """The run's leases by state."""
        with self.engine.connect() as conn:
            now = _now(conn)
            rows = conn.execute(select(_T.c.status, _T.c.expires_at, _T.c.claims).where(_T.c.run_id == run_id)).all()
        counts = {"todo": 0, "leased": 0, "expired": 0, "done": 0}
        takeovers = 0
        for status, expires, claims in rows:
            if status == "leased" and _aware(expires) is not None and _aware(expires) < _aware(now):
                status = "expired"
            counts[status] = counts.get(status, 0) + 1
            takeovers += max(0, claims - 1)
        return LeaseCounts(**counts, takeovers=takeovers)

    def lease_holders(self, run_id: int) -> dict[str, int]:
        """Problems each worker holds now (live leases), by holder."""
        with self.engine.connect() as conn:
            now = _now(conn)
            rows = conn.execute(select(_T.c.holder, func.count()).where(
                _T.c.run_id == run_id, _T.c.status == "leased", _T.c.expires_at >= now).group_by(_T.c.holder))
            return {holder: n for holder, n in rows}

    def lease_results(self, run_id: int) -> list[dict[str, Any]]:
        """Results of the run's finished problems, in the run's order."""
        with self.engine.connect() as conn:
            return [r for r in conn.scalars(select(_T.c.result).where(_T.c.run_id == run_id, _T.c.status == "done")
                                             .order_by(_T.c.position)) if r is not None]

    def leases_of(self, run_id: int) -> list[ProblemLease]:
        """The run's lease rows, in the run's order."""
        with self.session() as s:
            return list(s.scalars(select(ProblemLease).where(ProblemLease.run_id == run_id)
                                  .order_by(ProblemLease.position)))

    def runs_with_open_leases(self) -> list[int]:
        """Runs that still have problems to do, newest first (``prover worker`` without --run)."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(_T.c.run_id).where(_T.c.status != "done").group_by(_T.c.run_id)
                                     .order_by(_T.c.run_id.desc())))

    def live_lease_holder(self, problem_id: int, *, other_than: str | None = None) -> str | None:
        """Who holds a live lease on the problem (in any run), other than ``other_than``; or None."""
        with self.engine.connect() as conn:
            now = _now(conn)
            query = select(_T.c.holder).where(_T.c.problem_id == problem_id, _T.c.status == "leased",
                                              _T.c.expires_at >= now)
            if other_than is not None:
                query = query.where(_T.c.holder != other_than)
            return conn.scalars(query.order_by(_T.c.id)).first()

    def check_not_leased(self, problem_id: int) -> None:
        """LeaseHeldError when a live worker other than this store's (``lease_holder``) holds the
        problem (in this run or another over the same problem): its formal attempts are that
        worker's, running or not."""
        holder = self.live_lease_holder(problem_id, other_than=self.lease_holder)
        if holder is not None:
            raise LeaseHeldError(f"problem {problem_id} is being worked on by worker {holder} (its lease is live); "
                                 "its running formal attempts are that worker's. Wait for the run to finish, or "
                                 "for the lease to expire if that worker is gone")

    # -- fencing: a lost lease cannot write --------------------------------------------------------

    def _held(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Leases claimed through this store: (holder, problem id) → (lease id, fencing token)."""
        return self.__dict__.setdefault("_held_leases", {})

    def _forget(self, lease_ids: set[int]) -> None:
        held = self._held()
        for key, (lease_id, _) in list(held.items()):
            if lease_id in lease_ids:
                held.pop(key, None)

    def fence_formal(self, s: Any, table: str, row_id: int, known: dict[str, Any] | None = None) -> None:
        """Called inside the transaction that writes a formal row (``table``, ``row_id``; ``known``
        its values when at hand), after the write: when this store works for a worker, the row's
        problem must still be leased by it with the token of its claim, else LeaseLostError (the
        transaction rolls back). Nothing happens in a single process."""
        holder = self.lease_holder
        if holder is None:
            return
        problem_id = self._formal_problem(s, table, row_id, known)
        held = self._held().get((holder, problem_id))  # type: ignore[arg-type]
        if held is None:
            raise LeaseLostError(f"worker {holder} does not hold the lease of problem {problem_id}: "
                                 "its formal rows are not this worker's to write")
        lease_id, token = held
        query = select(_T.c.holder, _T.c.status, _T.c.claims).where(_T.c.id == lease_id)
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        row = s.execute(query).first()
        if row is None or (row.holder, row.status, row.claims) != (holder, "leased", token):
            self._held().pop((holder, problem_id), None)  # type: ignore[arg-type]
            now = "another worker holds it now" if row is not None and row.holder != holder else "it ended"
            raise LeaseLostError(f"worker {holder} lost the lease of problem {problem_id} (claim {token}): {now}; "
                                 "nothing written")

    def _formal_problem(self, s: Any, table: str, row_id: int, known: dict[str, Any] | None = None) -> int | None:
        """The problem of a formal row: its ``problem_id``, else its attempt's, gate's or step's
        (remembered: a row never changes problem)."""
        cache: dict[tuple[str, int], int | None] = self.__dict__.setdefault("_formal_problems", {})
        if (table, row_id) in cache:
            return cache[(table, row_id)]
        t = Base.metadata.tables[table]
        names = [n for n in ("problem_id", *(c for c, _ in _FORMAL_PARENTS)) if n in t.c]
        values = dict(known or {})
        if not any(values.get(n) is not None for n in names):
            found = s.execute(select(*(t.c[n] for n in names)).where(t.c.id == row_id)).first()
            values = dict(found._mapping) if found is not None else {}
        problem_id = values.get("problem_id")
        for column, parent in _FORMAL_PARENTS:
            if problem_id is None and values.get(column) is not None:
                problem_id = self._formal_problem(s, parent, values[column])
        # Remembered for rows others point at, or that cost a query; not every Lean try and vote.
        if known is None or table in _PARENT_TABLES:
            cache[(table, row_id)] = problem_id
        return problem_id

    # -- call claims: a call is sent once across workers -------------------------------------------

    def claim_calls(self, keys: Sequence[str], holder: str, *, claim_s: float
                    ) -> tuple[set[str], dict[str, CallRecord]]:
        """Claim model calls for ``holder`` for ``claim_s`` seconds: (keys it holds now, stored
        records among ``keys``). A key is won when nobody claims it, its claim expired, or the
        claim is already ``holder``'s — unless its answer is stored (``CallRecord.reusable``): it
        may have been stored, and its claim ended, just before."""
        # Sorted: workers claiming overlapping batches lock rows in one order (no deadlock).
        keys = sorted(set(keys))
        if not keys:
            return set(), {}
        engine = self.engine
        insert = conflict_insert(engine.dialect.name)
        if insert is None:
            won = set(keys)  # another database: no coordination (workers run on SQLite or PostgreSQL)
        else:
            won = set()
            with engine.begin() as conn:
                now = _now(conn)
                expires = now + timedelta(seconds=claim_s)
                for chunk in chunked(keys):
                    # Insert, or take over a claim that expired or is already ours; the keys
                    # inserted or taken come back.
                    stmt = insert(_C).values([{"call_key": k, "holder": holder, "expires_at": expires}
                                              for k in chunk])
                    stmt = stmt.on_conflict_do_update(
                        index_elements=[_C.c.call_key],
                        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
                        where=(_C.c.expires_at < now) | (_C.c.holder == holder)).returning(_C.c.call_key)
                    won.update(conn.scalars(stmt))
        # Read after claiming: an answer committed before the claim is seen here.
        stored = self.get_calls(keys)  # type: ignore[attr-defined]
        answered = {k for k, rec in stored.items() if rec.reusable}
        if won & answered:
            self.release_call_claims(sorted(won & answered), holder)
        return won - answered, stored

    def renew_call_claims(self, keys: Sequence[str], holder: str, *, claim_s: float) -> None:
        """Extend ``holder``'s claims on calls still in flight."""
        if not keys:
            return
        with self.engine.begin() as conn:
            now = _now(conn)
            for chunk in chunked(keys):
                conn.execute(update(_C).where(_C.c.call_key.in_(chunk), _C.c.holder == holder)
                             .values(expires_at=now + timedelta(seconds=claim_s)))

    def release_call_claims(self, keys: Sequence[str], holder: str) -> None:
        """End ``holder``'s claims on calls it will not send (cancelled, or answered meanwhile)."""
        if not keys:
            return
        with self.engine.begin() as conn:
            for chunk in chunked(keys):
                conn.execute(delete(_C).where(_C.c.call_key.in_(chunk), _C.c.holder == holder))

    def end_call_claims(self, conn: Any, rows: Sequence[dict[str, Any]]) -> None:
        """In ``put_calls``' transaction: this worker's claims on the calls whose outcome is being
        stored end with it. Nothing in a single process."""
        holder = self.lease_holder
        if holder is None:
            return
        keys = sorted(r["call_key"] for r in rows if r["status"] != "pending")
        for chunk in chunked(keys):
            conn.execute(delete(_C).where(_C.c.call_key.in_(chunk), _C.c.holder == holder))

    def call_claims(self) -> dict[str, str]:
        """Calls claimed now (live or expired), by key: their holders."""
        with self.engine.connect() as conn:
            return {k: h for k, h in conn.execute(select(_C.c.call_key, _C.c.holder))}
