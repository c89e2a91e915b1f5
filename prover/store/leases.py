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
with skewed clocks agree on what has expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import func, select, update

from prover.core.errors import LeaseHeldError
from prover.store.base import StoreBase
from prover.store.schema import ProblemLease, utcnow


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
        return set(lease_ids) - held

    def finish_lease(self, lease_id: int, holder: str, result: dict[str, Any]) -> bool:
        """End a lease ``done`` with the problem's result; False (nothing written) when
        ``holder`` no longer holds it: the problem is finished once, by its holder."""
        with self.engine.begin() as conn:
            now = _now(conn)
            n = conn.execute(update(_T).where(_T.c.id == lease_id, _T.c.holder == holder, _T.c.status == "leased")
                             .values(status="done", result=result, finished_at=now, updated_at=now,
                                     expires_at=None)).rowcount
        return n == 1

    def release_leases(self, lease_ids: Sequence[int], holder: str) -> None:
        """Give leases back unfinished (a worker stopping cleanly): free for the next claim."""
        if not lease_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(update(_T).where(_T.c.id.in_(list(lease_ids)), _T.c.holder == holder,
                                          _T.c.status == "leased")
                         .values(status="todo", holder=None, expires_at=None, updated_at=utcnow()))

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

    def live_lease_holder(self, problem_id: int) -> str | None:
        """Who holds a live lease on the problem (in any run), or None."""
        with self.engine.connect() as conn:
            now = _now(conn)
            return conn.scalars(select(_T.c.holder).where(_T.c.problem_id == problem_id, _T.c.status == "leased",
                                                          _T.c.expires_at >= now)).first()

    def check_not_leased(self, problem_id: int) -> None:
        """LeaseHeldError when a live worker other than this store's (``lease_holder``) holds the
        problem: its formal attempts are that worker's, running or not."""
        holder = self.live_lease_holder(problem_id)
        mine = getattr(self, "lease_holder", None)
        if holder is not None and holder != mine:
            raise LeaseHeldError(f"problem {problem_id} is being worked on by worker {holder} (its lease is live); "
                                 "its running formal attempts are that worker's. Wait for the run to finish, or "
                                 "for the lease to expire if that worker is gone")
