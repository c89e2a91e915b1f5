"""``run_eval`` on a toy IMO-ProofBench with the scripted backend: exact scores, what reaches
which prompt, and a rerun that sends nothing. Wiring and bookkeeping only, never a result."""

from __future__ import annotations

import pytest
from eval_toy import EXPECTED, GUIDELINES, REF_SOLUTION, script_lines, write_toy_bench

from prover.core.informal_records import SearchConfig, SearchKnobs
from prover.core.llm_records import ModelConfig, RoleSettings
from prover.llm import ScriptedBackend
from prover.pipeline.evaluate import run_eval

ROLES = ("generator", "verifier", "meta_verifier", "judge")


def _eval(store, data, backend, **kw):
    config = SearchConfig(knobs=SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1,
                                            analyses_per_refinement=1, meta_verifications=0), max_verdict_retries=0)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    return run_eval(store, "imo-proofbench", config=config, model_config=mc, data=data, budget="toy",
                    backends={r: backend for r in ROLES}, progress=False, command=["eval", "toy"],
                    commit_window_s=0.002, **kw)


def test_toy_scores_exact_and_reference_reaches_only_the_grader(store, tmp_path):
    data = write_toy_bench(tmp_path)
    backend = ScriptedBackend(script_lines())
    summary = _eval(store, data, backend)
    scores = {g.group: g for g in summary.groups}
    assert [g.group for g in summary.groups] == ["basic", "advanced", "all"]
    for name, value in EXPECTED.items():
        assert scores[name].percent == pytest.approx(value)
    assert scores["basic"].graded == 2 and scores["advanced"].graded == 1 and scores["all"].problems == 4
    lo, hi = scores["all"].ci
    assert 0 <= lo <= EXPECTED["all"] <= hi <= 100
    points = {o.problem: (o.points, o.grade_status) for o in summary.outcomes}
    assert points == {"imo-proofbench/PB-Basic-001": (7, "ok"), "imo-proofbench/PB-Basic-002": (6, "ok"),
                      "imo-proofbench/PB-Advanced-001": (1, "ok"),
                      "imo-proofbench/PB-Advanced-002": (None, "unparsed")}
    assert summary.scripted and summary.status == "completed" and summary.eval_id is not None
    # The reference solution and guidelines reach the grader's prompts, and no other role's.
    for call in backend.calls:
        text = " ".join(m.content for m in call.messages)
        seen = REF_SOLUTION in text or GUIDELINES in text
        assert seen == (call.role == "judge"), call.role
    assert sum(c.role == "judge" for c in backend.calls) == 4
    # The grading run records the reveal; the grades are stored for `prover crosscheck`.
    from sqlalchemy import select

    from prover.store.schema import Run

    with store.session() as s:
        runs = {r.kind: r.reveals_reference for r in s.scalars(select(Run))}
    assert runs == {"informal": False, "eval-grade": True}
    assert set(store.grade_names()) == {"grader/scripted"}


def test_rerun_sends_nothing_and_updates_the_same_row(store, tmp_path):
    data = write_toy_bench(tmp_path)
    first = _eval(store, data, ScriptedBackend(script_lines()))
    assert first.sent == first.calls > 0
    again_backend = ScriptedBackend(script_lines())
    again = _eval(store, data, again_backend)
    assert again.sent == 0 and again_backend.calls == []
    assert again.eval_id == first.eval_id and len(store.list_evaluations()) == 1
    assert again.groups == first.groups
    stored = store.get_evaluation(first.eval_id)
    assert stored.outcomes == first.outcomes and stored.models["judge"] == "scripted:scripted"
    other = _eval(store, data, ScriptedBackend(script_lines()), split="basic")
    assert other.eval_id != first.eval_id and [g.group for g in other.groups] == ["basic", "all"]
    assert other.sent == 0  # the same problems, the same calls: all in the cache


def test_unknown_benchmark_and_split(store, tmp_path):
    from prover.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown benchmark"):
        run_eval(store, "nope", config=None, model_config=None)
    with pytest.raises(UsageError, match="splits basic, advanced"):
        _eval(store, write_toy_bench(tmp_path), ScriptedBackend([]), split="hard")


def test_grader_agreement_with_human_grades(store, tmp_path):
    """Stored proofs with human grades are graded too, and the grader is cross-checked against them."""
    from prover.core.records import ProofRecord
    from prover.store.schema import GradeRow

    data = write_toy_bench(tmp_path)
    none = _eval(store, data, ScriptedBackend(script_lines()), grader_agreement=True)
    assert "no human-graded proof" in none.agreement["note"]
    ids = {o.problem.rsplit("/", 1)[1]: o.problem_id for o in none.outcomes}
    human = {"PB-Basic-001": ("TOYB1", 7), "PB-Basic-002": ("TOYB2", 6), "PB-Advanced-001": ("TOYA1", 7)}
    proof_ids = store.add_proofs([ProofRecord(problem_id=ids[pid], text=f"Imported proof of {marker}.",
                                              source="imported") for pid, (marker, _) in human.items()])
    with store.session() as s:
        for proof_id, (_, points) in zip(proof_ids, human.values()):
            s.add(GradeRow(proof_id=proof_id, name="expert", value=points / 7, raw=points, max=7, human=True))
    backend = ScriptedBackend(script_lines())
    summary = _eval(store, data, backend, grader_agreement=True)
    assert summary.sent == 3 and {c.role for c in backend.calls} == {"judge"}  # the three imported proofs only
    report = summary.agreement["report"]
    assert summary.agreement["reference"] == "expert" and summary.agreement["candidate"] == "grader/scripted"
    # grader 7, 6, 1 against human 7, 6, 7 (pass at 6 of 7): two agree, one the grader fails.
    assert (report["n"], report["tp"], report["fn"], report["fp"], report["tn"]) == (3, 2, 1, 0, 0)
    assert summary.groups == none.groups  # the score is about the selected proofs only


def test_interrupted_evaluation_continues_and_resends_only_what_failed(store, tmp_path):
    """Transient failures (a generator call, a grading call) leave the evaluation incomplete; the
    same evaluation again sends those calls and what depends on them, nothing else."""
    data = write_toy_bench(tmp_path)
    failing = [{"role": "generator", "match": "TOYA2", "error": "503", "transient": True},
               {"role": "judge", "match": "proof of TOYB1", "error": "503", "transient": True}] + script_lines()
    first = _eval(store, data, ScriptedBackend(failing))
    assert first.status == "incomplete"
    by = {o.problem.rsplit("/", 1)[1]: o for o in first.outcomes}
    assert by["PB-Advanced-002"].search_status == "incomplete" and by["PB-Advanced-002"].grade_status == "no-proof"
    assert by["PB-Basic-001"].grade_status == "error" and by["PB-Basic-002"].points == 6
    backend = ScriptedBackend(script_lines())
    again = _eval(store, data, backend)
    assert again.status == "completed" and again.eval_id == first.eval_id
    assert sorted((c.role, c.messages[-1].content.count("TOYA2") > 0) for c in backend.calls) == [
        ("generator", True), ("judge", False), ("judge", True), ("verifier", True)]
    assert {g.group: g.percent for g in again.groups} == pytest.approx(EXPECTED)


def test_an_evaluation_stopped_by_an_error_says_so(store, tmp_path):
    from prover.core.errors import BackendError

    data = write_toy_bench(tmp_path)
    with pytest.raises(BackendError):
        _eval(store, data, ScriptedBackend([]))  # nothing fits a call: the scripted backend fails loudly
    (stored,) = store.list_evaluations()
    assert stored.status == "failed"
    again = _eval(store, data, ScriptedBackend(script_lines()))
    assert again.eval_id == stored.eval_id and store.get_evaluation(again.eval_id).status == "completed"


def test_proofbench_lean_statements_lose_their_comments(data_dir):
    """lean_proof_bench.csv's statements quote the problem and its solution in comments: stored
    without them (they would otherwise sit in every file the formal stage builds)."""
    from prover.pipeline.evaluate import lean_statements

    statements, skipped = lean_statements(data_dir / "imo-proofbench" / "lean_proof_bench.csv")
    assert len(statements) + len(skipped) == 60 and len(statements) >= 59
    first = statements["PB-Basic-001"]
    assert first.preamble == "import Mathlib\n" and first.statement.startswith("theorem PBBasic001 :")
    for s in statements.values():
        text = s.preamble + s.answer_slots + s.statement
        assert "/-" not in text and "Solution" not in text and "--" not in text


def test_formal_wiring_with_the_toy(store, tmp_path, monkeypatch):
    """--formal: statements stored with the problems, the benchmark trusted, the run's formal
    results summarised per problem (the search itself is replaced: wiring only)."""
    import csv

    import prover.pipeline.run as run_module
    from prover.core.informal_records import ProblemResult, RunSummary
    from prover.pipeline.formal_run import FormalSettings

    data = write_toy_bench(tmp_path)
    lean = tmp_path / "lean_proof_bench.csv"
    with lean.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Problem ID", "Problem", "Lean Statement"])
        w.writerow(["PB-Basic-001", "x", "import Mathlib\n/- Solution: secret -/\ntheorem B1 : True := by sorry"])
    seen = {}

    def fake_run_informal(store_, tokens, **kw):
        seen.update(trusted=kw["formal"].config.trusted_collections)
        ids = [int(t) for t in tokens]
        return RunSummary(run_id=None, results=[ProblemResult(problem_id=i, problem=str(i), status="exhausted")
                                                for i in ids],
                          formal=[{"problem_id": ids[0], "status": "unsolved"},
                                  {"problem_id": ids[0], "status": "statement_proved"},
                                  {"problem_id": ids[1], "status": "sketch_failed"}])

    monkeypatch.setattr(run_module, "run_informal", fake_run_informal)
    summary = _eval(store, data, ScriptedBackend([]), formal=FormalSettings(), formal_data=lean)
    assert seen["trusted"] == ("imo-proofbench",)
    assert [o.formal_status for o in summary.outcomes] == ["statement_proved", "sketch_failed", None, None]
    (fs,) = store.formal_statements(summary.outcomes[0].problem_id)
    assert fs.statement.strip() == "theorem B1 : True := by sorry" and "secret" not in fs.preamble
