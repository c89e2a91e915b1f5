"""The informal search driven by the scripted backend: every branch of selection, pairing,
stopping, budgets, resume and malformed outputs. The scripted model proves wiring and
bookkeeping, never proving skill."""

from __future__ import annotations

import random

import pytest
from informal_support import Refiner, knobs, meta_output, prompt, proof_in, proof_output, run_search, verdict_output
from sqlalchemy import func, select

from prover.core.errors import BackendError
from prover.core.hashing import statement_hash
from prover.informal.seeds import derive_seed
from prover.llm import ScriptedOutput
from prover.store.schema import InformalSearch, MetaVerification, Proof, Verification

P1_KEY = f"t/p1/{statement_hash('Prove that 1 + 1 = 2.')}"


def count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def slot_of_seed(seed: int, stage: str = "generate", round_: int = 0, n: int = 64, key: str = P1_KEY):
    for i in range(n):
        if derive_seed(0, key, stage, round_, i) == seed:
            return i
    raise AssertionError("unknown seed")


def result_view(summary):
    return [(r.problem, r.status, r.rounds, r.proofs, r.mean_score, r.self_score, r.passed, r.verifications,
             r.answer, r.answer_match, r.label, r.calls, r.tokens) for r in summary.results]


def test_solves_after_refinement_with_lineage(istore):
    summary, backend = run_search(istore, Refiner())
    [r] = summary.results
    assert (r.status, r.rounds, r.proofs, r.mean_score, r.passed, r.verifications) == ("solved", 2, 3, 1.0, True, 2)
    assert r.label.value == 1.0 and r.label.reason == "no-issues"
    # 2 drafts + 4 verifications + 4 meta-verifications (every draft analysis reports an issue),
    # then 1 refinement + 2 verifications.
    assert r.calls == len(backend.calls) == summary.sent == 13
    roles = [c.role for c in backend.calls]
    assert roles.count("generator") == 3 and roles.count("verifier") == 6 and roles.count("meta_verifier") == 4
    proofs = istore.proofs_of(r.problem_id)
    drafts, [refined] = [p for p in proofs if p.round == 0], [p for p in proofs if p.round == 1]
    assert len(drafts) == 2 and refined.source == "refined" and refined.id == r.selected_proof_id
    [parent_id] = refined.parent_ids
    parent = next(p for p in drafts if p.id == parent_id)
    analysis_ids = refined.extra["analysis_ids"]
    assert sorted(analysis_ids) == sorted(v.id for v in istore.verifications_of(parent.id))
    # the refinement prompt quoted the parent and its analyses
    [ref_call] = [c for c in backend.calls if c.role == "generator" and "--- Solution 0 ---" in prompt(c)]
    assert parent.text in prompt(ref_call) and prompt(ref_call).count("ISSUE: step 2 is unjustified") == 2
    assert count(istore, MetaVerification) == 4 and count(istore, Verification) == 6
    with istore.session() as s:
        search = s.scalars(select(InformalSearch)).one()
    assert (search.status, search.selected_proof_id, search.passed, search.calls) == ("solved", refined.id, True, 13)


def test_identical_command_makes_no_new_call(istore):
    first, _ = run_search(istore, Refiner(), tokens=("t/p1", "t/p2"))
    rows = (count(istore, Proof), count(istore, Verification), count(istore, MetaVerification))
    second, backend = run_search(istore, Refiner(), tokens=("t/p1", "t/p2"))
    assert backend.calls == [] and second.sent == 0
    assert result_view(second) == result_view(first)
    assert (count(istore, Proof), count(istore, Verification), count(istore, MetaVerification)) == rows
    assert count(istore, InformalSearch) == 2


def test_another_seed_starts_fresh(istore):
    first, _ = run_search(istore, Refiner())
    second, backend = run_search(istore, Refiner(), config=knobs(seed=1))
    assert second.sent == first.sent == len(backend.calls)
    assert count(istore, InformalSearch) == 2 and count(istore, Proof) == 6


def test_more_rounds_continue_the_same_search(istore):
    first, _ = run_search(istore, Refiner(), rounds=0)
    assert first.results[0].status == "exhausted" and first.results[0].rounds == 1
    second, backend = run_search(istore, Refiner(), rounds=2)
    # only round 1 is new: one refinement and its two verifications
    assert [c.role for c in backend.calls].count("generator") == 1 and second.sent == 3
    assert second.results[0].status == "solved" and count(istore, InformalSearch) == 1


def test_resume_after_rows_lost_mid_round_makes_zero_calls(istore):
    """A crash after the calls of a round were answered but before their rows were written:
    the same command rebuilds the pool from the stored rows and the call cache, sending nothing."""
    first, _ = run_search(istore, Refiner())
    with istore.session() as s:
        refined = s.scalars(select(Proof).where(Proof.round == 1)).one()
        some = s.scalars(select(Verification).where(Verification.proof_id != refined.id)).first()
        s.delete(refined)  # its verifications go with it (cascade)
        s.delete(some)
        s.execute(InformalSearch.__table__.update().values(status="running"))
    second, backend = run_search(istore, Refiner())
    # refined proof + its 2 verifications + the lost verification + its meta-verification (cascaded)
    assert backend.calls == [] and second.sent == 0 and second.cached == 5
    assert result_view(second) == result_view(first)
    assert count(istore, Proof) == 3 and count(istore, Verification) == 6


def test_resume_after_crash_mid_round(istore, tmp_path):
    """The backend dies in the middle of round 0; the same command sends only what was not
    answered and ends where an uninterrupted run ends."""
    from informal_support import PROBLEMS

    from prover.store import ProofStore

    reference = ProofStore.open(tmp_path / "reference.db")
    reference.add_problems(PROBLEMS)
    ref_summary, ref_backend = run_search(reference, Refiner(), tokens=("t/p1", "t/p2"))
    reference.close()

    calls = {"n": 0}
    healthy = Refiner()

    def dying(call):
        calls["n"] += 1
        if calls["n"] == 9:
            raise BackendError("the server went away")
        return healthy(call)

    with pytest.raises(BackendError, match="went away"):
        run_search(istore, dying, tokens=("t/p1", "t/p2"))
    answered = istore.call_counts()
    second, backend = run_search(istore, Refiner(), tokens=("t/p1", "t/p2"))
    assert result_view(second) == result_view(ref_summary)
    assert second.sent == len(backend.calls) == len(ref_backend.calls) - answered.get("ok", 0)
    ref_keys = {c.call_key() for c in ref_backend.calls}
    assert {c.call_key() for c in backend.calls} <= ref_keys


def test_unparsed_verdicts_are_resampled_deterministically(istore):
    """Verdicts whose request seed is even come back unparsed; each one is replaced by a new
    sample until M are parsed or the retries run out. Which samples exist is fixed by the
    seeds, whatever order the answers arrive in."""
    def script(call):
        if call.role == "verifier":
            if call.seed % 2 == 0:
                return "I refuse to give a score."
            return verdict_output("1")
        return Refiner()(call)

    m, retries = 3, 2
    summary, backend = run_search(istore, script, proofs=2, verifications=m, rounds=0, max_verdict_retries=retries)
    for slot in range(2):
        seeds = [derive_seed(0, P1_KEY, "verify", 0, slot, i) for i in range(m + retries)]
        n = m
        while True:  # the least fixed point: each unparsed sample asks for one more
            more = m + min(retries, sum(1 for s in seeds[:n] if s % 2 == 0))
            if more == n:
                break
            n = more
        sent = sorted(c.seed for c in backend.calls if c.role == "verifier" and f"seed {derive_seed(0, P1_KEY, 'generate', 0, slot)}." in proof_in(c))
        assert sent == sorted(seeds[:n])
    statuses = {v.parse_status for v in istore.verifications_of_proofs([p.id for p in istore.proofs_of(1)])}
    assert statuses == {"ok", "no_score"}


def test_a_proof_passes_only_with_m_parsed_verdicts(istore):
    seen: set[str] = set()

    def first_unparsed(call):
        # The first verification of each proof is unreadable, the others say 1.
        if call.role == "verifier":
            proof = proof_in(call)
            if proof not in seen:
                seen.add(proof)
                return "Looks fine to me."
            return verdict_output("1")
        return Refiner()(call)

    summary, _ = run_search(istore, first_unparsed, proofs=1, verifications=2, rounds=1, max_verdict_retries=0)
    r = summary.results[0]
    assert (r.status, r.passed, r.mean_score, r.verifications) == ("exhausted", False, 1.0, 1)
    # with one retry, the unreadable verdict is replaced (samples 0 and 1 come from stored rows)
    summary, backend = run_search(istore, first_unparsed, proofs=1, verifications=2, rounds=1, max_verdict_retries=1)
    assert [c.role for c in backend.calls] == ["verifier"]
    r = summary.results[0]
    assert (r.status, r.passed, r.rounds, r.verifications) == ("solved", True, 1, 2)


def test_a_lenient_verdict_never_passes_a_proof_and_is_resampled(istore):
    """A verifier that quotes the proof's \\boxed{1} and never gives its own score: stored as
    ``lenient`` with the reading beside it, re-sampled like an unparsed verdict."""
    seen: set[str] = set()

    def quoting(call):
        if call.role == "verifier":
            proof = proof_in(call)
            if proof not in seen:
                seen.add(proof)
                return "Here is my evaluation of the solution:\nThe author concludes \\boxed{1}; I ran out of time."
            return verdict_output("1")
        return Refiner()(call)

    summary, _ = run_search(istore, quoting, proofs=1, verifications=2, rounds=0, max_verdict_retries=0)
    r = summary.results[0]
    assert (r.passed, r.verifications, r.mean_score) == (False, 1, 1.0)
    [proof] = istore.proofs_of(r.problem_id)
    vs = sorted(istore.verifications_of(proof.id), key=lambda v: v.sample_index)
    assert [(v.score, v.parse_status, v.extra) for v in vs] == [
        (None, "lenient", {"lenient_score": 1.0}), (1.0, "ok", {})]
    summary, backend = run_search(istore, quoting, proofs=1, verifications=2, rounds=0, max_verdict_retries=1)
    assert [c.role for c in backend.calls] == ["verifier"]
    assert summary.results[0].passed and summary.results[0].verifications == 2


def test_nothing_to_refine_when_no_verdict_parses(istore):
    def script(call):
        return "no score here" if call.role == "verifier" else Refiner()(call)

    summary, backend = run_search(istore, script, proofs=2, verifications=2, max_verdict_retries=1)
    r = summary.results[0]
    assert r.status == "exhausted" and "no proof with a parsed verdict" in r.stop_reason
    assert r.selected_proof_id is None and r.mean_score is None and r.label is None
    assert len(backend.calls) == 2 + 2 * 3


def test_call_budget_limits_each_round(istore):
    # a proof may cost 1 + M + retries + M*m = 1 + 2 + 0 + 2 = 5 calls; 12 fit two of four
    summary, backend = run_search(istore, Refiner(), proofs=4, verifications=2, max_verdict_retries=0,
                                  call_budget=12)
    r = summary.results[0]
    assert (r.status, r.rounds, r.proofs, r.calls) == ("budget", 1, 2, 10)
    assert "call budget" in r.stop_reason and len(backend.calls) == 10


def test_token_budget_stops_between_rounds(istore):
    summary, _ = run_search(istore, Refiner(), token_budget=1)
    r = summary.results[0]
    assert (r.status, r.rounds, r.proofs) == ("budget", 1, 2) and r.tokens > 1


def test_malformed_outputs_are_stored_with_their_status(istore):
    gen = {
        0: ScriptedOutput(text="## Solution\nCut off in the midd", finish_reason="length"),
        1: "A proof without any headings.",
        2: "**Solution**\nBold proof.\n\n**Self Evaluation**\nHere is my evaluation of the solution: fine.\n"
           "Based on my evaluation, the final overal score should be: \\boxed{1}",
        3: "<think>I never stop thinking",
        4: proof_output("Boxes galore.", "\\text{excellent}"),
    }
    verdicts = ["the final overall score should be \\boxed{0} \\boxed{1}",  # several boxes: last counts
                "Here is my evaluation of the solution: meh. the final overall score should be: \\boxed{0.7}",
                ScriptedOutput(text="Here is my evaluation of the solution: long", finish_reason="length")]

    def script(call):
        if call.role == "generator":
            return gen[slot_of_seed(call.seed)]
        if call.role == "verifier":
            i = next(i for i in range(8) for slot in range(5)
                     if derive_seed(0, P1_KEY, "verify", 0, slot, i) == call.seed)
            return verdicts[i] if i < 3 else verdict_output("1")
        return Refiner()(call)

    summary, _ = run_search(istore, script, proofs=5, verifications=3, rounds=0, max_verdict_retries=2)
    proofs = {p.sample_index: p for p in istore.proofs_of(1)}
    assert {i: p.parse_status for i, p in proofs.items()} == {
        0: "truncated", 1: "missing_section", 2: "ok", 3: "empty", 4: "bad_score"}
    assert proofs[2].text == "Bold proof." and proofs[2].self_score == 1.0 and proofs[4].self_score is None
    # truncated and empty proofs are never verified
    assert istore.verifications_of(proofs[0].id) == [] and istore.verifications_of(proofs[3].id) == []
    vs = istore.verifications_of(proofs[1].id)
    assert [(v.sample_index, v.score, v.parse_status) for v in sorted(vs, key=lambda v: v.sample_index)] == [
        (0, 1.0, "missing_marker"), (1, None, "bad_score"), (2, None, "truncated"), (3, 1.0, "ok"), (4, 1.0, "ok")]
    r = summary.results[0]
    assert r.verifications == 3 and r.mean_score == 1.0 and r.passed


def test_no_reference_answer_in_any_prompt(istore):
    from prover.store.schema import Problem
    with istore.session() as s:
        p2 = s.scalars(select(Problem).where(Problem.external_id == "p2")).one()
        p2.reference_solution = "SECRET-SOLUTION-TEXT"
        p2.grading_guidelines = "SECRET-GUIDELINES"
    summary, backend = run_search(istore, Refiner(answer="5"), tokens=("t/p2",))
    others = [c for c in backend.calls if c.role != "judge"]
    judge = [c for c in backend.calls if c.role == "judge"]
    assert others and judge
    for c in others:
        text = "".join(m.content for m in c.messages)
        assert "QWERTY-42" not in text and "SECRET" not in text
    # the judge compares the extracted answer with the reference, and only the judge sees it
    assert all("QWERTY-42" in prompt(c) and "Answer A:\n5" in prompt(c) for c in judge)
    r = summary.results[0]
    assert (r.answer, r.answer_match) == ("5", True)
    assert all(p.answer_match is True for p in istore.proofs_of(r.problem_id))


def test_answer_exact_match_needs_no_judge(istore):
    summary, backend = run_search(istore, Refiner(answer="$qwerty-42$"), tokens=("t/p2",))
    assert not [c for c in backend.calls if c.role == "judge"]
    assert summary.results[0].answer_match is True
    summary, backend = run_search(istore, Refiner(answer="other"), tokens=("t/p2",),
                                  config=knobs(answer_judge=False, seed=3))
    assert not [c for c in backend.calls if c.role == "judge"] and summary.results[0].answer_match is None


def _set_reference(istore, answer: str) -> None:
    from prover.store.schema import Problem
    with istore.session() as s:
        s.scalars(select(Problem).where(Problem.external_id == "p2")).one().reference_answer = answer


def test_math_verify_decides_before_the_judge_and_counts_saved_calls(istore):
    pytest.importorskip("math_verify")
    _set_reference(istore, "\\sqrt{2}")
    summary, backend = run_search(istore, Refiner(answer="2^{1/2}"), tokens=("t/p2",), rounds=0)
    r = summary.results[0]
    assert not [c for c in backend.calls if c.role == "judge"]
    assert (r.answer_match, r.judge_calls_saved) == (True, 2)
    assert {p.extra["answer_method"] for p in istore.proofs_of(r.problem_id)} == {"math-verify"}


def test_a_wrong_answer_gets_informal_zero_though_every_verdict_passes(istore):
    pytest.importorskip("math_verify")
    _set_reference(istore, "2112")
    summary, backend = run_search(istore, Refiner(answer="4048", draft_score="1"), tokens=("t/p2",), rounds=0)
    r = summary.results[0]
    assert (r.status, r.passed, r.answer, r.answer_match) == ("solved", True, "4048", False)
    assert (r.label.value, r.label.reason, r.label.issue_reporting) == (0.0, "answer-mismatch", 0)
    # the search itself never saw the reference
    assert not any("2112" in prompt(c) for c in backend.calls)


def _graded_world():
    """Three drafts of known quality (by slot); each proof's first verification reports an
    issue, the others depend on quality; meta-verification rejects or upholds issues."""
    quality = {0: "LOW", 1: "HIGH", 2: "MID"}
    seen: set[str] = set()

    def script(call):
        if call.role == "generator":
            if "--- Solution 0 ---" in prompt(call):
                return proof_output("Refined proof.")
            return proof_output(f"Draft {quality[slot_of_seed(call.seed)]}.", "0.5")
        if call.role == "verifier":
            proof = proof_in(call)
            if proof not in seen:
                seen.add(proof)
                return verdict_output("0", "a real gap")
            return verdict_output({"Draft HIGH.": "1", "Draft MID.": "0.5"}.get(proof, "0"), "weak")
        if call.role == "meta_verifier":
            return meta_output(script.meta)
        return Refiner()(call)

    script.meta = "1"
    return script


@pytest.mark.parametrize("meta,first_analysis", [("1", "ISSUE: a real gap"), ("0", "No issues found.")])
def test_selection_and_pairing_reach_the_refinement_prompt(istore, meta, first_analysis):
    script = _graded_world()
    script.meta = meta
    summary, backend = run_search(istore, script, proofs=3, verifications=4, rounds=1, refine_top=1,
                                  analyses_per_refinement=1, max_verdict_retries=0)
    [ref] = [c for c in backend.calls if c.role == "generator" and "--- Solution 0 ---" in prompt(c)]
    text = prompt(ref)
    assert "Draft HIGH." in text and "Draft MID." not in text and "Draft LOW." not in text
    assert first_analysis in text and text.count("=== Evaluation") == 1


def test_pipelined_and_barrier_schedules_make_identical_calls(istore, tmp_path):
    from informal_support import PROBLEMS

    from prover.store import ProofStore

    def script(call):
        if call.role == "verifier" and call.seed % 3 == 0:
            return "unreadable"
        if call.role == "verifier" and call.seed % 3 == 1:
            return verdict_output("0.5", "gap")
        return Refiner(answer="7")(call)

    other = ProofStore.open(tmp_path / "barrier.db")
    other.add_problems(PROBLEMS)
    kw = dict(tokens=("t/p1", "t/p2"), proofs=3, verifications=3, rounds=2, refine_top=2, max_verdict_retries=2)
    a, ba = run_search(istore, script, **kw)
    b, bb = run_search(other, script, schedule="barrier", **kw)
    other.close()
    assert sorted(c.call_key() for c in ba.calls) == sorted(c.call_key() for c in bb.calls)
    assert result_view(a) == result_view(b)


def _wave_world(call):
    # Verdicts drawn from the request seed: some unreadable, some 0.5, mostly 1 for refinements.
    if call.role == "verifier":
        u = call.seed % 10
        if u == 0:
            return "unreadable"
        if u < (2 if proof_in(call).startswith("Refined") else 3):
            return verdict_output("0.5", "gap")
        return verdict_output("1")
    return Refiner()(call)


def test_waves_save_verifier_calls_with_identical_pass_fail(istore, tmp_path):
    from informal_support import PROBLEMS

    from prover.store import ProofStore

    kw = dict(tokens=("t/p1",), proofs=4, verifications=4, rounds=0, max_verdict_retries=2)
    full, bf = run_search(istore, _wave_world, **kw)
    other = ProofStore.open(tmp_path / "waves.db")
    other.add_problems(PROBLEMS)
    waves, bw = run_search(other, _wave_world, verification_wave=2, **kw)
    # the same round-0 proofs; the waves ask a subset of the full schedule's verifications
    keys_full = {c.call_key() for c in bf.calls if c.role == "verifier"}
    keys_waves = {c.call_key() for c in bw.calls if c.role == "verifier"}
    assert keys_waves < keys_full
    m = 4

    def outcome(store):
        from prover.informal.pool import PoolProof, PoolVerdict
        out = {}
        for p in store.proofs_of(1):
            pp = PoolProof(round=p.round, slot=p.sample_index, text=p.text,
                           verdicts=[PoolVerdict(index=v.sample_index, score=v.score, status=v.parse_status,
                                                 analysis="") for v in store.verifications_of(p.id)])
            out[p.text] = pp.passed(m)
        return out

    assert outcome(istore) == outcome(other) and set(outcome(other).values()) == {True, False}
    other.close()


def test_waves_are_deterministic_and_schedule_independent(istore, tmp_path):
    from informal_support import PROBLEMS

    from prover.store import ProofStore

    kw = dict(tokens=("t/p1", "t/p2"), proofs=3, verifications=3, rounds=2, refine_top=2, max_verdict_retries=2,
              verification_wave=1)
    a, ba = run_search(istore, _wave_world, **kw)
    other = ProofStore.open(tmp_path / "barrier.db")
    other.add_problems(PROBLEMS)
    b, bb = run_search(other, _wave_world, schedule="barrier", **kw)
    other.close()
    assert sorted(c.call_key() for c in ba.calls) == sorted(c.call_key() for c in bb.calls)
    assert result_view(a) == result_view(b)
    # the identical command again asks nothing
    _, again = run_search(istore, _wave_world, **kw)
    assert again.calls == []


def test_results_do_not_depend_on_answer_timing(tmp_path):
    from informal_support import PROBLEMS

    from prover.store import ProofStore

    def world(rng):
        def script(call):
            out = Refiner()(call)
            if call.role == "verifier":
                out = verdict_output(["0", "0.5", "1"][call.seed % 3], "gap")
            return ScriptedOutput(text=out, delay_s=rng.random() * 0.004)
        return script

    views, keys = [], []
    for i in range(2):
        store = ProofStore.open(tmp_path / f"{i}.db")
        store.add_problems(PROBLEMS)
        summary, backend = run_search(store, world(random.Random(i)), tokens=("t/p1", "t/p2"), proofs=4,
                                      verifications=3, rounds=2, refine_top=2, analyses_per_refinement=2)
        views.append(result_view(summary))
        keys.append(sorted(c.call_key() for c in backend.calls))
        store.close()
    assert views[0] == views[1] and keys[0] == keys[1]


def test_transient_failure_leaves_problem_incomplete_and_rerun_finishes(istore):
    failed = {"n": 0}

    def flaky(call):
        if call.role == "meta_verifier" and not failed["n"]:
            failed["n"] += 1
            return ScriptedOutput(error="503 from upstream", transient=True)
        return Refiner()(call)

    summary, _ = run_search(istore, flaky)
    r = summary.results[0]
    assert summary.status == "incomplete" and r.status == "incomplete" and r.rounds == 1
    assert "503" in r.stop_reason and "same command" in r.stop_reason
    summary, backend = run_search(istore, Refiner())
    assert summary.status == "completed" and summary.results[0].status == "solved"
    # only the failed call and round 1 are sent: 1 meta + 1 refinement + 2 verifications
    assert len(backend.calls) == 4


def test_problem_without_informal_statement_is_skipped(istore):
    from prover.core.records import FormalStatementRecord, ProblemRecord

    istore.add_problems([ProblemRecord(collection="t", external_id="f", formal_statements=[
        FormalStatementRecord(toolchain="x", statement="theorem t : True := sorry")])])
    summary, backend = run_search(istore, Refiner(), tokens=("t/f",))
    assert summary.results[0].status == "skipped" and backend.calls == []


def test_progress_bars_count_every_stage(istore):
    from prover.pipeline.progress import RichProgress

    bars = RichProgress(1, enabled=True)
    counts: dict[str, list[int]] = {}
    original_planned, original_done = bars.planned, bars.done

    def planned(stage, n):
        counts.setdefault(stage, [0, 0])[0] += n
        original_planned(stage, n)

    def done(stage, n=1):
        counts.setdefault(stage, [0, 0])[1] += n
        original_done(stage, n)

    bars.planned, bars.done = planned, done
    import asyncio

    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.informal.prompts import default_templates
    from prover.informal.search import Engine, run_pipelined
    from prover.llm import ModelClient, ScriptedBackend
    from prover.pipeline.run import resolve_problems

    backend = ScriptedBackend(Refiner(answer="5"))

    async def main():
        client = ModelClient(ModelConfig(defaults=RoleSettings(backend="scripted")), store=istore,
                             backends={r: backend for r in ("generator", "verifier", "meta_verifier", "judge")})
        engine = Engine(store=istore, client=client, config=knobs(), templates=default_templates(), progress=bars)
        try:
            return await run_pipelined(engine, resolve_problems(istore, ["t/p2"]))
        finally:
            await engine.worker.aclose()
            await client.aclose()

    with bars:
        [result] = asyncio.run(main())
    assert bars.finished == 1 and result.status == "solved"
    assert counts == {"generate": [2, 2], "verify": [6, 6], "meta": [4, 4], "judge": [3, 3], "refine": [1, 1]}
