"""Pending-call ownership across workers (``call_claims``): two workers reaching the same model
call at once send it once; a claim whose holder died is taken over; a single process claims
nothing — on SQLite and on PostgreSQL when PROVER_TEST_PG_URL is set.

The model is the scripted backend (canned answers after a delay): these are wiring checks."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from prover.core.llm_records import CallRecord, ChatMessage, ModelConfig, ModelRequest, RoleSettings, SamplingParams
from prover.llm import ModelClient, ScriptedBackend
from prover.store import ProofStore

pytestmark = pytest.mark.timeout(120)

NOW = datetime.now(timezone.utc)

CONFIG = ModelConfig(defaults=RoleSettings(backend="scripted", backoff_s=0.001, max_backoff_s=0.002,
                                           concurrency=16))


def _req(text: str, n: int = 1) -> ModelRequest:
    return ModelRequest(role="generator", messages=(ChatMessage(role="user", content=text),),
                        params=SamplingParams(n=n, seed=3))


class Slow:
    """The scripted backend answering after ``delay_s``; counts every request it receives, from
    any thread (both workers' clients share it, as they would share a model server)."""

    name = "scripted"

    def __init__(self, delay_s: float = 0.5):
        self.inner = ScriptedBackend(lambda call: f"answer {call.sample_index} to {call.messages[0].content}")
        self.delay_s = delay_s
        self.requests = 0
        self._lock = threading.Lock()

    async def generate(self, call):
        with self._lock:
            self.requests += 1
        await asyncio.sleep(self.delay_s)
        return await self.inner.generate(call)

    async def aclose(self):
        pass


def _ask(store: ProofStore, backend, requests, **client_kw):
    async def main():
        async with ModelClient(CONFIG, store=store, backends={"generator": backend}, commit_window_s=0.005,
                               **client_kw) as client:
            rows = await client.generate(requests)
        return [[r.text for r in row] for row in rows], client.stats
    return asyncio.run(main())


def _key(text: str) -> str:
    return ModelClient(CONFIG).expand(_req(text))[0].call_key()


def _workers_ask(db_url: str, backend, requests, holders=("w1", "w2"), reverse_for=()):
    """Each holder in a thread of its own, with a ProofStore of its own, asking at the same moment
    (``reverse_for``: holders asking the requests in the reverse order)."""
    out: dict[str, tuple] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(holders))

    def worker(holder):
        try:
            with ProofStore.open(db_url) as store:
                store.lease_holder = holder
                start.wait()
                mine = requests[::-1] if holder in reverse_for else requests
                out[holder] = _ask(store, backend, mine, claim_poll_s=0.02)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(h,)) for h in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not errors, errors
    return out


def test_two_workers_asking_the_same_calls_at_once_send_each_once(db_url):
    ProofStore.open(db_url).close()  # migrated once, before the workers race
    backend = Slow(delay_s=0.5)
    requests = [_req("shared statement", n=4), _req("another")]
    out = _workers_ask(db_url, backend, requests)
    assert backend.requests == 5  # each of the 5 calls reached the server once
    (rows1, stats1), (rows2, stats2) = out["w1"], out["w2"]
    assert rows1 == rows2 and rows1[0][0] == "answer 0 to shared statement"
    assert stats1.sent + stats2.sent == 5
    assert stats1.awaited + stats2.awaited == 5  # the other worker waited for each answer
    with ProofStore.open(db_url) as store:
        assert store.call_claims() == {}  # every claim ended with its stored answer
        assert {r.status for r in store.get_calls([_key("another")]).values()} == {"ok"}


def test_workers_claiming_many_overlapping_calls_in_any_order_send_each_once(db_url):
    ProofStore.open(db_url).close()
    backend = Slow(delay_s=0.3)
    requests = [_req("first", n=20), _req("second", n=20)]
    out = _workers_ask(db_url, backend, requests, holders=("w1", "w2", "w3"), reverse_for=("w2",))
    assert backend.requests == 40
    assert sum(stats.sent for _, stats in out.values()) == 40
    assert out["w1"][0] == out["w3"][0] == out["w2"][0][::-1]


def test_a_claim_whose_holder_died_is_taken_over(store):
    key = _key("left by a dead worker")
    won, _ = store.claim_calls([key], "dead", claim_s=0.5)
    assert won == {key}
    assert store.claim_calls([key], "w2", claim_s=60) == (set(), {})  # live: not w2's
    store.lease_holder = "w2"
    backend = Slow(delay_s=0.01)
    rows, stats = _ask(store, backend, [_req("left by a dead worker")], claim_poll_s=0.05)
    assert backend.requests == 1 and rows == [["answer 0 to left by a dead worker"]]
    assert (stats.sent, stats.awaited) == (1, 0)
    assert store.call_claims() == {}


def test_a_waiting_worker_takes_the_answer_another_stored(store, db_url):
    key = _key("sent elsewhere")
    other = ProofStore.open(db_url)
    other.lease_holder = "other"
    other.claim_calls([key], "other", claim_s=60)
    store.lease_holder = "w2"
    backend = Slow(delay_s=0.01)

    def other_answers():
        time.sleep(0.3)
        other.put_calls([CallRecord(call_key=key, role="generator", backend="scripted", model="scripted",
                                    request={}, status="ok", response_text="the other's answer", created_at=NOW)])

    t = threading.Thread(target=other_answers)
    t.start()
    rows, stats = _ask(store, backend, [_req("sent elsewhere")], claim_poll_s=0.05)
    t.join()
    other.close()
    assert backend.requests == 0 and rows == [["the other's answer"]]
    assert (stats.sent, stats.cached, stats.awaited) == (0, 1, 1)
    assert store.call_claims() == {}  # ended when the answer was stored


def test_claims_are_won_once_renewed_and_released(store):
    a, b = "k" * 64, "j" * 64
    assert store.claim_calls([a, b], "w1", claim_s=0.3) == ({a, b}, {})
    assert store.claim_calls([a], "w1", claim_s=0.3) == ({a}, {})  # one's own claim again
    assert store.claim_calls([a, b], "w2", claim_s=60) == (set(), {})
    time.sleep(0.2)
    store.renew_call_claims([a], "w1", claim_s=60)
    time.sleep(0.2)
    assert store.claim_calls([a, b], "w2", claim_s=60)[0] == {b}  # b expired, a was renewed
    store.release_call_claims([a], "w1")
    assert store.claim_calls([a], "w2", claim_s=60)[0] == {a}
    assert store.call_claims() == {a: "w2", b: "w2"}


def test_a_stored_answer_comes_back_instead_of_a_claim(store):
    key = "s" * 64
    store.put_calls([CallRecord(call_key=key, role="generator", backend="scripted", model="scripted", request={},
                                status="ok", response_text="stored", created_at=NOW)])
    won, stored = store.claim_calls([key], "w1", claim_s=60)
    assert won == set() and stored[key].response_text == "stored"
    assert store.call_claims() == {}


def test_cancelled_calls_hand_their_claims_back(store):
    """Cancelled in flight, or while waiting for a slot (one call at a time here)."""
    store.lease_holder = "w1"
    backend = Slow(delay_s=30)
    one_at_a_time = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=1))

    async def main():
        async with ModelClient(one_at_a_time, store=store, backends={"generator": backend},
                               commit_window_s=0.005) as client:
            task = asyncio.ensure_future(client.generate([_req("never answered"), _req("waits for a slot")]))
            while backend.requests == 0:
                await asyncio.sleep(0.01)
            assert store.call_claims() == {_key("never answered"): "w1", _key("waits for a slot"): "w1"}
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    asyncio.run(main())
    assert store.call_claims() == {}


def test_a_single_process_claims_nothing(store):
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: statements.append(statement))
    backend = Slow(delay_s=0.01)
    rows, stats = _ask(store, backend, [_req("alone", n=3)])
    assert stats.sent == 3 and backend.requests == 3
    assert statements and not [s for s in statements if "call_claims" in s]


def test_call_claims_migration_matches_the_model(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from prover.store.schema import CallClaim

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), CallClaim.metadata)
    assert [d for d in diff if "call_claims" in repr(d)] == []
