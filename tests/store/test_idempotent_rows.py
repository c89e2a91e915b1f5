"""Rows made by a model call are unique on that call: a replayed insert after a crash is a no-op
and a racing copy is refused by the database — on SQLite and on PostgreSQL when
PROVER_TEST_PG_URL is set."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from prover.core.errors import StoreError
from prover.core.llm_records import CallRecord
from prover.core.records import ProblemRecord
from prover.store import ProofStore
from prover.store.schema import ModelCall, Proof, Verification


def _calls(store, *keys):
    now = datetime.now(timezone.utc)
    store.put_calls([CallRecord(call_key=k, role="generator", backend="scripted", model="m", request={}, status="ok",
                                created_at=now) for k in keys])


def _proof(pid, i):
    return {"problem_id": pid, "run_id": None, "source": "generated", "round": 0, "sample_index": i, "parent_ids": [],
            "text": f"proof {i}", "self_evaluation": None, "self_score": 1.0, "parse_status": "ok", "answer": None,
            "answer_match": None, "extra": {}}


def _verification(i, proof_key):
    return {"proof_call_key": proof_key, "run_id": None, "verifier_model": "m", "sample_index": i, "analysis": "a",
            "score": 1.0, "parse_status": "ok", "issues": [], "extra": {}}


def _meta(verification_key):
    return {"verification_call_key": verification_key, "run_id": None, "meta_verifier_model": "m",
            "sample_index": 0, "text": "t", "score": 1.0, "parse_status": "ok", "extra": {}}


def _batch(pid):
    return {"proofs": ([_proof(pid, 0), _proof(pid, 1)], ["p0", "p1"]),
            "verifications": ([_verification(0, "p0"), _verification(1, "p1")], ["v0", "v1"]),
            "metas": ([_meta("v0")], ["m0"])}


def _counts(store):
    from prover.store.schema import MetaVerification

    with store.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Proof.__table__, Verification.__table__, MetaVerification.__table__))


@pytest.fixture
def pid(store):
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    _calls(store, "p0", "p1", "v0", "v1", "m0")
    return store.list_problems()[0].id


def test_a_replayed_batch_is_a_no_op(store, db_url, pid):
    first = store.add_informal_rows(_batch(pid))
    assert _counts(store) == (2, 2, 1)
    # The replay after a crash: another process (nothing remembered) writes the same answers.
    with ProofStore.open(db_url) as again:
        assert again.add_informal_rows(_batch(pid)) == first
    assert _counts(store) == (2, 2, 1)
    # replayed call records are upserts on their key: still one row per call
    _calls(store, "p0", "p1")
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ModelCall.__table__)).scalar_one() == 5


def test_the_database_refuses_a_second_row_for_one_call(store, pid):
    [proof_id] = store.add_informal_proofs([_proof(pid, 0)], ["p0"])
    call_id = store.proofs_of(pid)[0].model_call_id
    row = {**_proof(pid, 0), "metadata": {}, "model_call_id": call_id}
    row.pop("extra")
    with pytest.raises(IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(insert(Proof.__table__), [row])
    assert [p.id for p in store.proofs_of(pid)] == [proof_id]


def test_a_lost_race_is_retried_as_a_lookup(store, db_url, pid, monkeypatch):
    """Another process stores the same call's row between this one's lookup and insert: the
    insert fails on the unique index and the retry returns the other process's row."""
    from prover.store.informal import InformalMixin

    with ProofStore.open(db_url) as other:
        theirs = other.add_informal_proofs([_proof(pid, 0)], ["p0"])
    real = InformalMixin._add_informal_rows
    tries = []

    def racing(self, batches):
        tries.append(1)
        if len(tries) == 1:
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: proofs.model_call_id"))
        return real(self, batches)

    monkeypatch.setattr(InformalMixin, "_add_informal_rows", racing)
    assert store.add_informal_proofs([_proof(pid, 0)], ["p0"]) == theirs and len(tries) == 2
    assert _counts(store)[0] == 1


def test_migration_refuses_existing_copies_with_a_clear_message(tmp_path):
    from alembic import command

    path = tmp_path / "old.db"
    store = ProofStore.open(path)
    with store.engine.begin() as conn:
        command.downgrade(store._alembic_config(conn), "0014_worker_leases-1")  # noqa: SLF001
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    _calls(store, "p0")
    pid = store.list_problems()[0].id
    call_id = store.get_calls(["p0"]) and 1
    with store.engine.begin() as conn:
        for i in range(2):  # what two processes on one run could write before the unique index
            row = {**_proof(pid, i), "metadata": {}, "model_call_id": call_id}
            row.pop("extra")
            conn.execute(insert(Proof.__table__), [row])
    store.close()
    with pytest.raises(StoreError, match=r"proofs: 1 model call\(s\) with more than one row \(model_call_id 1\)"):
        ProofStore.open(path)
