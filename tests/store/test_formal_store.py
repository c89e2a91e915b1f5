"""The formal stage's tables (SQLite file; PostgreSQL when PROVER_TEST_PG_URL is set): an
attempt's evidence in one query, restarting an interrupted attempt, feedback of finished
attempts, the memo of solved nodes, autoformalized statements, proof metadata for cross-checks."""

from __future__ import annotations

from sqlalchemy import inspect

from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, Verdict
from prover.core.records import ProblemRecord, ProofRecord

TABLES = {"formal_attempts", "formal_gates", "formal_votes", "formal_sketches", "formal_steps", "formal_tries",
          "formal_refutations", "formal_feedback"}


def _setup(store):
    store.add_problems([ProblemRecord(collection="c", external_id="1", informal_statement="S")])
    pid = store.list_problems()[0].id
    [proof] = store.add_proofs([ProofRecord(problem_id=pid, text="p", metadata={"formal_population": "selected"})])
    req = LeanCheckRequest(assembled="theorem t : True := trivial\n\n#print axioms t\n", target="t", axioms_line=3,
                           toolchain="leanprover/lean4:v4.27.0", screen_rules_version=1)
    check = store.add_lean_check(LeanCheckResult.for_request(req, verdict=Verdict.VERIFIED, backend="replay", axioms=()))
    return pid, proof, check, req


def test_tables_and_evidence(store):
    assert TABLES <= set(inspect(store.engine).get_table_names())
    pid, proof, check, req = _setup(store)
    aid, finished = store.begin_formal_attempt("k", problem_id=pid, proof_id=proof, population="selected", config={})
    assert not finished
    gid = store.add_formal_row("gate", gate_key="g", problem_id=pid, kind="given", status="accepted", votes_yes=2,
                               votes_total=3, votes_needed=2)
    store.add_formal_row("vote", kind="faithfulness", gate_id=gid, sample_index=0, vote=True)
    sid = store.add_formal_row("sketch", attempt_id=aid, text="...", status="elaborated", dag={"edges": []})
    step = store.add_formal_row("step", attempt_id=aid, sketch_id=sid, position=0, kind="have", name="h", hole=True,
                                status="solved", memo_key="m" * 64, proof_text="by simp", aligned=True, votes_yes=3,
                                votes_total=3)
    store.add_formal_row("vote", kind="alignment", step_id=step, sample_index=0, vote=True)
    tid = store.add_formal_row("try", attempt_id=aid, step_id=step, stage="portfolio", tactic="simp",
                               check_id=check, verdict="verified", success=True)
    store.add_formal_row("refutation", attempt_id=aid, step_id=None, problem_id=pid, proof_id=proof,
                         what="statement", proposition="¬ True", try_id=tid, check_id=check, faithful=True)
    store.add_formal_row("feedback", attempt_id=aid, problem_id=pid, proof_id=proof, step_id=step, text="issue")
    store.update_formal_row("attempt", aid, status="verified", gate_id=gid, statement_source="given",
                            statement_faithful=True, sketch_id=sid, steps_aligned=True, final_check_id=check)
    ev = store.formal_evidence(aid)
    assert ev["statement"]["gate"] == {"id": gid, "status": "accepted", "votes_yes": 2, "votes_total": 3,
                                       "votes_needed": 2, "reasons": []}
    assert (ev["sketch_id"], ev["steps_aligned"], ev["final_verdict"], ev["root_closed_independently"]) == (
        sid, True, "verified", False)
    assert ev["steps"][0]["aligned"] is True and ev["refutations"][0]["proposition"] == "¬ True"
    assert store.formal_feedback_of([proof])[proof][0].text == "issue"
    assert store.solved_node("m" * 64).proof_text == "by simp"
    assert store.begin_formal_attempt("k", problem_id=pid, proof_id=proof, config={}) == (aid, True)
    assert store.lean_check_row_id(req.cache_key) == check
    assert store.cached_lean_check(req.cache_key)[0] == check and store.cached_lean_check("0" * 64) is None
    report = store.formal_report(proof)
    assert report[0]["steps"][0]["name"] == "h" and report[0]["evidence"]["attempt_id"] == aid


def test_an_unfinished_attempt_starts_again_without_its_rows(store):
    pid, proof, _, _ = _setup(store)
    aid, _ = store.begin_formal_attempt("k", problem_id=pid, proof_id=proof, config={})
    sid = store.add_formal_row("sketch", attempt_id=aid, status="elaborated")
    store.add_formal_row("step", attempt_id=aid, sketch_id=sid, position=0, kind="have")
    store.add_formal_row("feedback", attempt_id=aid, problem_id=pid, proof_id=proof, text="x")
    store.update_formal_row("attempt", aid, status="incomplete")
    assert store.formal_feedback_of([proof]) == {}  # feedback of unfinished attempts is not handed out
    assert store.begin_formal_attempt("k", problem_id=pid, proof_id=proof, config={}) == (aid, False)
    assert store.formal_rows("sketch", attempt_id=aid) == [] and store.formal_rows("feedback") == []
    assert store.formal_attempt(aid).status == "running"


def test_statements_and_proof_metadata(store):
    pid, proof, _, _ = _setup(store)
    a = store.add_formal_statement(pid, toolchain="tc", preamble="import Mathlib\n\n", statement="theorem t : 1 = 1",
                                   source="autoformalized", extra={"autoformalized": True})
    assert store.add_formal_statement(pid, toolchain="tc", preamble="import Mathlib\n\n",
                                      statement="theorem t : 1 = 1", source="autoformalized", extra={}) == a
    assert store.formal_statements(pid)[0].extra == {"autoformalized": True}
    store.merge_proof_metadata(proof, {"formal_population": ["random"], "formal_inclusion_probability": 0.25})
    store.merge_proof_metadata(proof, {"formal_population": ["random"]})
    [p] = store.proofs_of(pid)
    assert p.extra == {"formal_population": ["selected", "random"], "formal_inclusion_probability": 0.25}
