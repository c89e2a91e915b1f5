"""Statements: a given one (trusted, or through the gate), and autoformalized ones through the
gate — elaboration, back-translation, k-of-n judge votes, and for answer problems the
trivially-closed flag, the copied answer and the swapped answer.

Synthetic Lean responses (see formal_support.py): assembled from recorded message templates,
never produced by Lean for these files. The scripted model proves wiring, never skill."""

from __future__ import annotations

import pytest

from formal_support import TOY, Script, add_problem_with_proof, formalize, lean_block, pin, toy_problem, vote
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(120)

BACK = ("formalizer", "Restate it in plain mathematical language", "<think>.</think>Show that a + b = 5.")
WRONG_DIRECT = ("prover", "Complete the Lean 4 proof", lean_block("theorem nope : True := trivial"))


def with_proof(text: str, body: str) -> str:
    return LeanProblem.parse(text).with_proof(body)


def test_unfaithful_candidate_rejected_then_faithful_one_accepted(fstore, world):
    unfaithful = "import Mathlib\n\ntheorem auto_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b ≤ 5 := by sorry"
    faithful = "import Mathlib\n\ntheorem auto_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by sorry"
    proof_id = add_problem_with_proof(fstore, toy_problem("auto", "p", formal=False))
    world.statement_elaborates(unfaithful).statement_elaborates(faithful)
    world.proves(faithful, with_proof(faithful, "by\n  subst h₀ h₁\n  rfl"))
    candidates = iter([unfaithful, faithful])
    script = Script([
        ("formalizer", "Translate the mathematical problem", lambda call: lean_block(next(candidates))),
        BACK,
        ("judge", "Decide whether two problem statements", lambda call: vote("≤" not in call.messages[-1].content)),
        ("prover", "Complete the Lean 4 proof", lean_block(with_proof(faithful, "by\n  subst h₀ h₁\n  rfl"))),
    ])
    result, backend = formalize(fstore, world, script, proof_id, direct_attempts=1)
    assert (result.status, result.statement_source, result.statement_faithful) == (
        "statement_proved", "autoformalized", True)
    rejected, accepted = fstore.formal_rows("gate")
    assert rejected.status == "rejected" and rejected.reasons == [
        "unfaithful: 0 of 3 judges say it states the problem, 2 needed"]
    assert (rejected.elaborates, rejected.votes_yes, rejected.votes_total) == (True, 0, 3)
    assert accepted.status == "accepted" and accepted.votes_yes == 3 and accepted.formal_statement_id is not None
    assert [v.vote for v in fstore.formal_rows("vote", gate_id=rejected.id)] == [False] * 3
    assert len(fstore.formal_rows("vote", gate_id=accepted.id)) == 3
    assert accepted.back_translation == "Show that a + b = 5."
    ev = fstore.formal_evidence(result.attempt_id)
    assert ev["statement"]["gate"]["status"] == "accepted" and ev["statement"]["source"] == "autoformalized"
    [fs] = fstore.formal_statements(fstore.resolve_problem("auto/p").id)
    assert fs.extra["autoformalized"] and fs.statement.startswith("theorem auto_sum") and "≤" not in fs.statement
    # The formalizer saw the informal statement, the judges the back-translation and the Lean.
    judge = next(c for c in backend.calls if c.role == "judge").messages[-1].content
    assert "Show that a + b = 5." in judge and "theorem auto_sum" in judge and "Let a and b" in judge


def test_all_candidates_unfaithful_is_no_statement(fstore, world):
    cand = "import Mathlib\n\ntheorem auto_sum (a b : ℕ) (h₀ : a = 2) : a + b = 5 := by sorry"
    proof_id = add_problem_with_proof(fstore, toy_problem("auto", "q", formal=False))
    world.statement_elaborates(cand)
    script = Script([("formalizer", "Translate the mathematical problem", lean_block(cand)), BACK,
                     ("judge", "Decide whether", vote(False))])
    result, backend = formalize(fstore, world, script, proof_id)
    assert result.status == "no_statement" and "autoformalization rejected" in result.stop_reason
    assert [g.status for g in fstore.formal_rows("gate")] == ["rejected", "rejected"]
    assert len(fstore.formal_rows("vote")) == 6
    assert fstore.formal_statements(fstore.resolve_problem("auto/q").id) == []
    assert not any(c.role == "prover" for c in backend.calls)


def test_candidate_that_does_not_elaborate_is_rejected_without_votes(fstore, world):
    cand = "import Mathlib\n\ntheorem auto_sum (a b : ℕ) : a + b = 5 := by sorry"
    proof_id = add_problem_with_proof(fstore, toy_problem("auto", "r", formal=False))
    script = Script([("formalizer", "Translate the mathematical problem", lean_block(cand))])
    result, backend = formalize(fstore, world, script, proof_id, autoformalize_attempts=1)
    assert result.status == "no_statement"
    [gate] = fstore.formal_rows("gate")
    assert gate.elaborates is False and gate.reasons[0].startswith("does not elaborate: line 1: error: unsolved goals")
    assert [c.role for c in backend.calls] == ["formalizer"]


def test_answer_copied_and_swapped_answer_rejected_trivial_statement_flagged(fstore, world):
    """Three candidates for an answer problem (the proof's answer is 5): one whose goal copies the
    answer, one that stays trivially provable with 6 instead of 5, and one that `rfl` closes but
    that fails with 6 — flagged trivially_closed and accepted."""
    copied = "import Mathlib\n\ntheorem two_add : (5 : ℕ) = 5 := by sorry"
    vacuous = "import Mathlib\n\ntheorem two_add (x : ℕ) (h : x = 5) : x = x := by sorry"
    computed = "import Mathlib\n\ntheorem two_add : (2 : ℕ) + 3 = 5 := by sorry"
    record = toy_problem("answers", "two_add", formal=False, statement="Compute 2 + 3.", answer="REF-SECRET")
    proof_id = add_problem_with_proof(fstore, record, "2 + 3 = 5, so the answer is \\boxed{5}.", answer="5")
    for cand in (copied, vacuous, computed):
        world.statement_elaborates(cand).proves(cand, with_proof(cand, "by\n  rfl"))
    world.proves(vacuous.replace("x = 5", "x = 6"), with_proof(vacuous.replace("x = 5", "x = 6"), "by\n  rfl"))
    world.proves(computed, with_proof(computed, "by\n  norm_num"))
    candidates = iter([copied, vacuous, computed])
    script = Script([
        ("formalizer", "Translate the mathematical problem", lambda call: lean_block(next(candidates))),
        BACK, ("judge", "Decide whether", vote(True)),
        ("prover", "Complete the Lean 4 proof", lean_block(with_proof(computed, "by\n  norm_num"))),
    ])
    result, backend = formalize(fstore, world, script, proof_id, autoformalize_attempts=3, direct_attempts=1)
    assert result.statement_source == "autoformalized" and result.status == "statement_proved"
    g1, g2, g3 = fstore.formal_rows("gate")
    assert (g1.status, g1.trivially_closed, g1.trivial_tactic, g1.answer_copied) == ("rejected", True, "rfl", True)
    assert g1.reasons == ["the goal copies the answer expression"] and g1.votes_total == 0
    assert (g2.status, g2.answer_copied, g2.swapped_answer, g2.swapped_trivially_closed) == (
        "rejected", False, "6", True)
    assert (g3.status, g3.trivially_closed, g3.answer_copied, g3.swapped_trivially_closed) == (
        "accepted", True, False, False)
    assert all(g.answer == "5" for g in (g1, g2, g3))
    prompts = [c.messages[-1].content for c in backend.calls]
    assert "the answer is 5" in prompts[0] and not any("REF-SECRET" in p for p in prompts)


def test_untrusted_given_statement_goes_through_the_gate(fstore, world):
    proof_id = add_problem_with_proof(fstore, toy_problem("other", "toy"))
    world.statement_elaborates(TOY)
    world.proves(TOY, with_proof(TOY, "by\n  omega"))
    script = Script([BACK, ("judge", "Decide whether", vote(True))])
    result, _ = formalize(fstore, world, script, proof_id)
    assert (result.statement_source, result.statement_faithful, result.status) == ("given", True, "statement_proved")
    [gate] = fstore.formal_rows("gate")
    assert gate.kind == "given" and gate.votes_yes == 3
    ev = fstore.formal_evidence(result.attempt_id)
    assert ev["statement"]["trusted"] is False and ev["statement"]["gate"]["id"] == gate.id


def test_incompatible_given_statement_is_recorded_and_replaced(fstore, world):
    """The given statement does not elaborate here (the default answer is an error): it is marked
    incompatible and the problem is autoformalized instead."""
    cand = "import Mathlib\n\ntheorem auto_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by sorry"
    world.statement_elaborates(cand).proves(cand, with_proof(cand, "by\n  omega"))
    script = Script([("formalizer", "Translate the mathematical problem", lean_block(cand)), BACK,
                     ("judge", "Decide whether", vote(True))])
    result, _ = formalize(fstore, world, script, fstore.proof_id)
    assert result.statement_source == "autoformalized" and result.status == "statement_proved"
    [fs] = [f for f in fstore.formal_statements(fstore.resolve_problem("mini/toy").id)
            if not (f.extra or {}).get("autoformalized")]
    p = pin()
    compat = fstore.statement_compat(fs.id, toolchain=p.toolchain, mathlib_rev=p.mathlib_rev)
    assert compat.status == "incompatible" and compat.messages[0]["data"].startswith("unsolved goals")
