"""The informal engine's tables: rows found again by model call, searches, meta-verifications
(on SQLite, and on PostgreSQL when PROVER_TEST_PG_URL is set)."""

from __future__ import annotations

from datetime import datetime, timezone

from prover.core.llm_records import CallRecord
from prover.core.records import ProblemRecord


def _calls(store, *keys, tokens=(3, 4)):
    now = datetime.now(timezone.utc)
    store.put_calls([CallRecord(call_key=k, role="generator", backend="scripted", model="m", request={}, status="ok",
                                prompt_tokens=tokens[0], completion_tokens=tokens[1], created_at=now) for k in keys])


def _proof(pid, i):
    return {"problem_id": pid, "run_id": None, "source": "generated", "round": 0, "sample_index": i, "parent_ids": [],
            "text": f"proof {i}", "self_evaluation": None, "self_score": 1.0, "parse_status": "ok", "answer": None,
            "answer_match": None, "extra": {"model": "m"}}


def test_rows_by_call_are_idempotent_and_found_again(store):
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    [pid] = store.problem_ids([("c", "1", ProblemRecord(collection="c", external_id="1",
                                                          informal_statement="S").statement_hash)]).values()
    _calls(store, "k1", "k2", "v1", "m1")
    ids = store.add_informal_proofs([_proof(pid, 0), _proof(pid, 1), _proof(pid, 0)], ["k1", "k2", "k1"])
    assert ids[0] == ids[2] != ids[1]
    # writing the same call's answer again returns the stored row
    assert store.add_informal_proofs([_proof(pid, 1)], ["k2"]) == [ids[1]]
    [vid] = store.add_informal_verifications([{"proof_id": ids[0], "run_id": None, "verifier_model": "m",
                                                "sample_index": 0, "analysis": "a", "score": 0.5,
                                                "parse_status": "ok", "issues": [], "extra": {}}], ["v1"])
    out = store.add_informal_rows({"metas": ([{"verification_id": vid, "run_id": None, "meta_verifier_model": "m",
                                               "sample_index": 0, "text": "t", "score": 1.0, "parse_status": "ok",
                                               "extra": {}}], ["m1"])})
    rows = store.informal_rows(pid)
    assert set(rows.proofs) == {"k1", "k2"} and rows.proofs["k1"].id == ids[0] and rows.proofs["k1"].tokens == 7
    assert rows.proofs["k2"].fields["text"] == "proof 1" and rows.proofs["k2"].fields["extra"] == {"model": "m"}
    assert rows.verifications["v1"].fields["score"] == 0.5
    assert rows.metas["m1"].id == out["metas"][0]
    assert [m.score for m in store.metas_of([vid])] == [1.0]
    assert [v.id for v in store.verifications_of_proofs(ids)] == [vid]
    store.set_proof_answers([(ids[0], "42", True)])
    assert store.informal_rows(pid).proofs["k1"].fields["answer_match"] is True


def test_searches(store):
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    pid = store.list_problems()[0].id
    sid = store.open_search("key", pid, config={"a": 1}, seed=3, run_id=None)
    assert store.open_search("key", pid, config={"a": 1}, seed=3, run_id=None) == sid
    store.save_search(sid, status="solved", passed=True, label=1.0, label_detail={"reason": "no-issues"})
    [row] = store.searches_of(pid)
    assert (row.status, row.passed, row.label, row.seed, row.label_detail) == ("solved", True, 1.0, 3,
                                                                                {"reason": "no-issues"})


def test_concurrent_writers_in_one_process(store):
    """Several threads storing rows at once (as an evaluation does) get distinct ids."""
    from concurrent.futures import ThreadPoolExecutor

    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    pid = store.list_problems()[0].id
    keys = [f"k{i}" for i in range(40)]
    _calls(store, *keys)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: store.add_informal_proofs([_proof(pid, i)], [keys[i]])[0], range(40)))
    assert len(set(ids)) == 40
