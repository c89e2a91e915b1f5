"""Worker leases (``problem_leases``): claimed once, renewed, taken over when expired, finished
once by their holder — on SQLite and on PostgreSQL when PROVER_TEST_PG_URL is set."""

from __future__ import annotations

import threading
import time

import pytest

from prover.core.errors import LeaseHeldError
from prover.core.records import ProblemRecord


def _problems(store, n):
    store.add_problems([ProblemRecord(collection="c", external_id=str(i), informal_statement=f"S{i}")
                        for i in range(n)])
    return [p.id for p in store.list_problems()]


@pytest.fixture
def run(store):
    pids = _problems(store, 3)
    run_id = store.start_run("informal")
    assert store.queue_problems(run_id, pids) == 3
    assert store.queue_problems(run_id, pids) == 0  # queued once
    return run_id, pids


def test_claims_in_order_each_once(store, run):
    run_id, pids = run
    a = store.claim_problem(run_id, "a", lease_s=60)
    b = store.claim_problem(run_id, "b", lease_s=60)
    c = store.claim_problem(run_id, "a", lease_s=60)
    assert [x.problem_id for x in (a, b, c)] == pids and {a.claims, b.claims, c.claims} == {1}
    assert store.claim_problem(run_id, "b", lease_s=60) is None
    counts = store.lease_counts(run_id)
    assert (counts.todo, counts.leased, counts.done, counts.open) == (0, 3, 0, 3)


def test_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(store, run):
    run_id, pids = run
    a = store.claim_problem(run_id, "a", lease_s=0.2)
    time.sleep(0.4)
    assert store.lease_counts(run_id).expired == 1
    b = store.claim_problem(run_id, "b", lease_s=60)
    assert (b.id, b.problem_id, b.claims) == (a.id, a.problem_id, 2)
    # the first holder comes back: its lease is gone, its result is not written
    assert store.renew_leases([a.id], "a", lease_s=60) == {a.id}
    assert store.finish_lease(a.id, "a", {"status": "late"}) is False
    assert store.finish_lease(b.id, "b", {"status": "solved"}) is True
    assert store.finish_lease(b.id, "b", {"status": "again"}) is False  # finished once
    assert store.lease_results(run_id) == [{"status": "solved"}]
    assert store.lease_counts(run_id).takeovers == 1


def test_renewal_keeps_a_lease_and_release_frees_it(store, run):
    run_id, _ = run
    a = store.claim_problem(run_id, "a", lease_s=0.3)
    for _ in range(3):
        time.sleep(0.15)
        assert store.renew_leases([a.id], "a", lease_s=0.3) == set()
    assert store.claim_problem(run_id, "b", lease_s=60).id != a.id
    store.release_leases([a.id], "a")
    assert store.claim_problem(run_id, "b", lease_s=60).id == a.id


def test_concurrent_claims_never_share_a_problem(store):
    pids = _problems(store, 12)
    run_id = store.start_run("informal")
    store.queue_problems(run_id, pids)
    got: list[int] = []
    lock = threading.Lock()

    def worker(name):
        while (lease := store.claim_problem(run_id, name, lease_s=60)) is not None:
            with lock:
                got.append(lease.problem_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(pids)


def test_a_running_formal_attempt_of_a_leased_problem_is_not_redone(store, run):
    run_id, pids = run
    lease = store.claim_problem(run_id, "holder-1", lease_s=60)
    aid, finished = store.begin_formal_attempt("attempt-key", problem_id=lease.problem_id, proof_id=None,
                                               run_id=run_id)
    assert not finished
    with pytest.raises(LeaseHeldError, match="holder-1"):
        store.begin_formal_attempt("attempt-key", problem_id=lease.problem_id, proof_id=None, run_id=run_id)
    store.lease_holder = "holder-1"  # the holder itself redoes it (a retry within the worker)
    assert store.begin_formal_attempt("attempt-key", problem_id=lease.problem_id, proof_id=None,
                                      run_id=run_id) == (aid, False)
    store.lease_holder = None
    store.finish_lease(lease.id, "holder-1", {})
    # no live holder any more: an attempt left running is redone, as before
    assert store.begin_formal_attempt("attempt-key", problem_id=lease.problem_id, proof_id=None,
                                      run_id=run_id) == (aid, False)


def test_migration_matches_the_model(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from prover.store.schema import MetaVerification, ProblemLease

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), ProblemLease.metadata)
    names = ("problem_leases", "model_call_id")
    assert [d for d in diff if any(n in repr(d) for n in names)] == []
    assert MetaVerification.__table__ is not None


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_problems_of_dead_workers_of_this_machine_are_given_back_at_once(store, run):
    """A killed `prover run` takes its local workers with it: their problems need not wait for
    their leases to expire. Workers of other machines, and live ones, keep theirs."""
    import os
    import socket

    run_id, pids = run
    host = socket.gethostname()
    dead, alive, remote = f"{host}:{_dead_pid()}:aa", f"{host}:{os.getpid()}:bb", "elsewhere:1:cc"
    leases = [store.claim_problem(run_id, h, lease_s=600) for h in (dead, alive, remote)]
    assert store.release_dead_local_leases(run_id) == 1
    assert store.release_dead_local_leases(run_id) == 0
    again = store.claim_problem(run_id, "next", lease_s=600)
    assert again.problem_id == leases[0].problem_id and again.claims == 2
    assert store.claim_problem(run_id, "next", lease_s=600) is None  # the live and remote ones stay held


def test_a_live_holder_in_another_run_keeps_its_running_attempt(store, run):
    """Two runs over the same problem: a worker of one may not redo an attempt running under a live
    lease of the other, whichever lease row comes first."""
    run_id, pids = run
    other = store.start_run("informal")
    store.queue_problems(other, pids)
    mine = store.claim_problem(run_id, "me", lease_s=60)
    store.claim_problem(other, "them", lease_s=60)
    aid, _ = store.begin_formal_attempt("k", problem_id=mine.problem_id, proof_id=None, run_id=other)
    store.lease_holder = "me"
    try:
        with pytest.raises(LeaseHeldError, match="them"):
            store.begin_formal_attempt("k", problem_id=mine.problem_id, proof_id=None, run_id=run_id)
    finally:
        store.lease_holder = None
