"""One writer per process (``prover.store.writer``): the model client's call writer, the searches'
StoreWorker and Lean checks from threads share one thread, which batches, commits calls before
the rows they made, and is the only thread holding a write transaction during a run."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from sqlalchemy import event

from prover.core.llm_records import CallRecord
from prover.core.records import ProblemRecord
from prover.informal.worker import StoreWorker
from prover.llm.calls import CallWriter
from prover.store.writer import active_writer, writer_for


def _call(key):
    return CallRecord(call_key=key, role="generator", backend="scripted", model="m", request={}, status="ok",
                      created_at=datetime.now(timezone.utc))


def _proof(pid, i):
    return {"problem_id": pid, "run_id": None, "source": "generated", "round": 0, "sample_index": i, "parent_ids": [],
            "text": f"proof {i}", "self_evaluation": None, "self_score": 1.0, "parse_status": "ok", "answer": None,
            "answer_match": None, "extra": {}}


def _problem(store):
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    return store.list_problems()[0].id


def _writer_threads():
    return [t for t in threading.enumerate() if t.name == "prover-store-writer"]


def test_call_writer_and_search_writer_share_one_thread_that_stops_with_its_last_user(store):
    pid = _problem(store)
    before = len(_writer_threads())

    async def main():
        calls, rows = CallWriter(store, window_s=0.5), StoreWorker(store, linger_s=0.5)
        # Queued together: the call is committed before the row it made, so the row finds it.
        put = asyncio.ensure_future(calls.put([_call("k1")]))
        # One turn of the loop queues the call first, as the client does (it awaits its put
        # before anyone sees the answer); without it the row could reach the writer alone.
        await asyncio.sleep(0)
        row = rows.add("proofs", _proof(pid, 0), "k1")
        await rows.flush()
        await put
        assert len(_writer_threads()) == before + 1
        assert calls._writer is rows._writer  # noqa: SLF001 - one writer per store
        await calls.aclose()
        assert active_writer(store) is not None  # the search still uses it
        await rows.aclose()
        return await row

    proof_id = asyncio.run(main())
    assert active_writer(store) is None and len(_writer_threads()) == before
    [proof] = store.proofs_of(pid)
    assert proof.id == proof_id and proof.model_call_id is not None


def test_rows_that_may_wait_are_committed_together(store):
    pid = _problem(store)
    store.put_calls([_call(f"k{i}") for i in range(40)])

    async def main():
        rows = StoreWorker(store, linger_s=0.3)
        futs = [rows.add("proofs", _proof(pid, i), f"k{i}") for i in range(40)]
        ids = await asyncio.gather(*futs)
        commits = rows.commits
        await rows.aclose()
        return ids, commits

    ids, commits = asyncio.run(main())
    assert len(set(ids)) == 40 and commits == 1


def test_lean_checks_from_threads_are_written_by_the_writer(store, monkeypatch):
    from prover.store.lean import LeanMixin

    seen: list[str] = []
    real = LeanMixin._add_lean_check

    def spy(self, result, **kw):
        seen.append(threading.current_thread().name)
        return real(self, result, **kw)

    monkeypatch.setattr(LeanMixin, "_add_lean_check", spy)
    from prover.core.lean_records import LeanCheckResult, LeanLimits, Verdict

    def check(i):
        return LeanCheckResult(cache_key=f"key{i}", file_hash=f"f{i}", toolchain="t", screen_rules_version=1,
                               limits=LeanLimits(time_s=1, heartbeats=1), verdict=Verdict.VERIFIED, backend="fake")

    writer = writer_for(store).acquire()
    try:
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda i: store.add_lean_check(check(i)), range(8)))
    finally:
        writer.release()
    assert len(set(ids)) == 8 and set(seen) == {"prover-store-writer"}
    store.add_lean_check(check(99))  # no writer running: written where it is called, as before
    assert seen[-1] == threading.current_thread().name


def test_rows_written_from_other_threads_go_through_the_writer(store, monkeypatch):
    from prover.store.informal import InformalMixin

    pid = _problem(store)
    store.put_calls([_call(f"k{i}") for i in range(6)])
    seen: list[str] = []
    real = InformalMixin._add_informal_rows

    def spy(self, batches):
        seen.append(threading.current_thread().name)
        return real(self, batches)

    monkeypatch.setattr(InformalMixin, "_add_informal_rows", spy)
    writer = writer_for(store).acquire()
    try:
        with ThreadPoolExecutor(3) as pool:
            ids = list(pool.map(lambda i: store.add_informal_proofs([_proof(pid, i)], [f"k{i}"])[0], range(6)))
    finally:
        writer.release()
    assert len(set(ids)) == 6 and set(seen) == {"prover-store-writer"}


def test_during_a_run_only_the_writer_thread_commits(store):
    """A scripted search (wiring, not results): every commit made while the searches run comes
    from the writer thread; the main thread only opens and closes the run."""
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend
    from prover.pipeline.run import run_informal

    store.add_problems([ProblemRecord(collection="c", external_id=str(i), informal_statement=f"Prove {i}.")
                        for i in range(3)])
    answers = {
        "generator": "## Solution\nstep\n\n## Self Evaluation\nok\nBased on my evaluation, the final overall score "
                     "should be: \\boxed{1}",
        "verifier": "Here is my evaluation of the solution:\nNo issues found.\n\nBased on my evaluation, the final "
                    "overall score should be: \\boxed{1}",
        "meta_verifier": "Checked.\nBased on my analysis, I will rate the \"solution evaluation\" as: \\boxed{1}"}
    backend = ScriptedBackend(lambda call: answers[call.role])
    threads: list[str] = []
    listener = lambda conn: threads.append(threading.current_thread().name)  # noqa: E731
    event.listen(store.engine, "commit", listener)
    try:
        summary = run_informal(
            store, ["c/0", "c/1", "c/2"],
            config=SearchConfig(knobs=SearchKnobs(proofs=2, verifications=2, rounds=0, refine_top=1,
                                                  analyses_per_refinement=1, meta_verifications=0,
                                                  proofs_per_refinement=1)),
            model_config=ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0)),
            backends={r: backend for r in ("generator", "verifier", "meta_verifier", "judge")}, progress=False,
            commit_window_s=0.002)
    finally:
        event.remove(store.engine, "commit", listener)
    assert len(summary.results) == 3 and summary.sent == len(backend.calls) > 0
    assert "prover-store-writer" in threads
    assert set(threads) <= {"prover-store-writer", threading.current_thread().name}
