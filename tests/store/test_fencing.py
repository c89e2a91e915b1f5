"""Fencing: a worker whose lease on a problem was taken over cannot write that problem's formal
rows (LeaseLostError, nothing written); the new holder can — on SQLite and on PostgreSQL when
PROVER_TEST_PG_URL is set."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from prover.core.errors import LeaseLostError
from prover.core.records import ProblemRecord
from prover.store import ProofStore
from prover.store.schema import FormalAttempt, FormalSketch, ProblemLease


@pytest.fixture
def two(db_url):
    """Two workers' stores on one database, and a run of two problems."""
    a, b = ProofStore.open(db_url), ProofStore.open(db_url)
    a.add_problems([ProblemRecord(collection="c", external_id=str(i), informal_statement=f"S{i}") for i in range(2)])
    run_id = a.start_run("informal")
    a.queue_problems(run_id, [p.id for p in a.list_problems()])
    a.lease_holder, b.lease_holder = "A", "B"
    yield a, b, run_id
    a.close()
    b.close()


def _expire(store, lease_id):
    with store.engine.begin() as conn:
        conn.execute(update(ProblemLease).where(ProblemLease.id == lease_id)
                     .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=5)))


def _count(store, model, *where):
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _sketch(store, attempt_id, text):
    return store.add_formal_row("sketch", attempt_id=attempt_id, sample_index=0, repair_of=None, call_key=None,
                                text=text, nl_steps=[], status="elaborated")


def test_a_taken_over_lease_cannot_write_formal_rows_and_the_new_holder_can(two):
    a, b, run_id = two
    lease = a.claim_problem(run_id, "A", lease_s=60)
    pid = lease.problem_id
    aid, _ = a.begin_formal_attempt("key-1", problem_id=pid, proof_id=None, run_id=run_id)
    sid = _sketch(a, aid, "by A")  # held: written
    _expire(a, lease.id)
    taken = b.claim_problem(run_id, "B", lease_s=60)
    assert (taken.id, taken.claims) == (lease.id, 2)

    # A has not noticed yet (no renewal since): every kind of formal write is refused.
    with pytest.raises(LeaseLostError, match="problem"):
        _sketch(a, aid, "late A")
    with pytest.raises(LeaseLostError):
        a.update_formal_row("sketch", sid, text="overwritten by A")
    with pytest.raises(LeaseLostError):
        a.update_formal_row("attempt", aid, status="verified")
    with pytest.raises(LeaseLostError):
        a.begin_formal_attempt("key-2", problem_id=pid, proof_id=None, run_id=run_id)
    assert _count(a, FormalSketch) == 1 and _count(a, FormalAttempt) == 1
    assert a.formal_rows("sketch", id=sid)[0].text == "by A"
    assert a.formal_attempt(aid).status == "running"

    # B, the holder now, redoes the attempt and writes.
    assert b.begin_formal_attempt("key-1", problem_id=pid, proof_id=None, run_id=run_id) == (aid, False)
    _sketch(b, aid, "by B")
    b.update_formal_row("attempt", aid, status="verified")
    assert [s.text for s in b.formal_rows("sketch", attempt_id=aid)] == ["by B"]
    assert b.formal_attempt(aid).status == "verified"


def test_an_expired_lease_nobody_took_still_writes_and_a_finished_one_does_not(two):
    a, _, run_id = two
    lease = a.claim_problem(run_id, "A", lease_s=60)
    aid, _ = a.begin_formal_attempt("key-1", problem_id=lease.problem_id, proof_id=None, run_id=run_id)
    _expire(a, lease.id)
    _sketch(a, aid, "late but nobody took over")  # same holder, same token: still A's
    assert a.finish_lease(lease.id, "A", {})
    with pytest.raises(LeaseLostError):
        _sketch(a, aid, "after the end")
    assert _count(a, FormalSketch) == 1


def test_a_worker_cannot_write_for_a_problem_it_never_leased(two):
    a, b, run_id = two
    lease = b.claim_problem(run_id, "B", lease_s=60)
    with pytest.raises(LeaseLostError, match="does not hold"):
        a.begin_formal_attempt("key-1", problem_id=lease.problem_id, proof_id=None, run_id=run_id)
    assert _count(a, FormalAttempt) == 0


def test_a_single_process_writes_without_leases(two):
    a, _, run_id = two
    a.lease_holder = None
    pid = a.list_problems()[0].id
    aid, _ = a.begin_formal_attempt("key-1", problem_id=pid, proof_id=None, run_id=run_id)
    _sketch(a, aid, "no workers")
    assert _count(a, FormalSketch) == 1


def test_on_postgresql_a_takeover_skips_a_lease_while_a_fenced_write_is_open(two):
    a, b, run_id = two
    if a.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises the two through its write lock")
    lease = a.claim_problem(run_id, "A", lease_s=60)
    aid, _ = a.begin_formal_attempt("key-1", problem_id=lease.problem_id, proof_id=None, run_id=run_id)
    _expire(a, lease.id)
    with a.session() as s:
        s.execute(update(FormalAttempt).where(FormalAttempt.id == aid).values(status="verified"))
        a.fence_formal(s, "formal_attempts", aid)
        # The lease row is locked until this write commits: a takeover passes it by.
        other = b.claim_problem(run_id, "B", lease_s=60)
        assert other is not None and other.problem_id != lease.problem_id
    taken = b.claim_problem(run_id, "B", lease_s=60)
    assert (taken.problem_id, taken.claims) == (lease.problem_id, 2)
    assert a.formal_attempt(aid).status == "verified"  # written while A still held it
