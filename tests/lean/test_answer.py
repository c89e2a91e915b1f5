"""Answer slots checked in Lean: the separate answer check (prologue + filled slots, `NAME = ref`
and `NAME ≠ ref` with their own `#prover_check`), read from responses, and combined with the
main check through `check_proof` on the fake REPL.

Synthetic responses: nobody ran these files (ProverCheck was never compiled). Each response is
assembled from recorded message shapes — the `unsolved goals` error of the leanprover-community/
repl test suite (tests/fixtures/lean_recorded/repl_pairs.jsonl row 719) moved into an answer theorem
for a tactic that did not prove it, and info messages in the recorded REPL shape carrying the text
ProverCheck's source logs at each `#prover_check` line (the fake REPL writes in the nonce)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.core.lean_records import LeanLimits, ReasonCode, Verdict
from prover.lean.answer import answer_verdict, assemble_answer_check, combine, problem_references
from prover.lean.audit import audit
from prover.lean.check import check_proof
from prover.lean.epilogue import NONCE_PLACEHOLDER
from prover.lean.problem import LeanProblem
from prover.lean.toolchain import REPO_ROOT, read_pin

pytestmark = pytest.mark.timeout(60)

TESTS = Path(__file__).resolve().parent.parent
PROBLEM = (TESTS / "fixtures" / "data" / "lean" / "putnam" / "putnam_1962_a2.lean").read_text()
SMALL = "import Mathlib\n\nabbrev ans : ℕ := sorry\n-- 7\n\ntheorem t : ans + 1 = 8 := by sorry\n"


def _unsolved() -> dict:
    with open(TESTS / "fixtures" / "lean_recorded" / "repl_pairs.jsonl", encoding="utf-8") as f:
        return next(r for r in map(json.loads, f) if r["row"] == 719)["response"]["messages"][0]


UNSOLVED = _unsolved()


def report(nonce="NONCE", ok=True) -> str:
    if ok:
        return (f"prover_check 1 nonce={nonce} status=ok type=match axioms=propext,Classical.choice,Quot.sound "
                "sorry=0 other=0 used=-")
    return f"prover_check 1 nonce={nonce} status=ok type=match axioms=propext sorry=1 other=0 used=-"


def info(line: int, data: str) -> dict:
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 60},
            "data": data}


def error(line: int) -> dict:
    return {**UNSOLVED, "pos": {"line": line, "column": 2}, "endPos": {"line": line, "column": 9}}


def answer_file(proof_body: str, problem: str = SMALL, refs=None):
    p = LeanProblem.parse(problem)
    result = audit(f"abbrev ans : ℕ := {proof_body}\n\ntheorem t : ans + 1 = 8 := by rw [ans]\n", p)
    assert result.accepted, result.reasons
    return result, assemble_answer_check(p, result.parts, problem_references(p) if refs is None else refs)


def response(f, *, eq: bool, ne: bool, nonce=NONCE_PLACEHOLDER, extra=()) -> dict:
    """What Lean would say: the theorem a tactic proved gets a clean report; the other an
    `unsolved goals` error inside it and a report with `sorry=1` (Lean adds it with sorryAx)."""
    msgs = list(extra)
    for proved, lines, check in ((eq, f.eq_lines[0], f.eq_checks[0]), (ne, f.ne_lines[0], f.ne_checks[0])):
        if not proved:
            msgs.append(error(lines[1]))
        msgs.append(info(check, report(nonce, ok=proved)))
    return {"messages": msgs, "env": 0}


def test_the_answer_file_holds_only_the_prologue_and_the_slots():
    _, f = answer_file("7")
    text = f.assembled.text
    assert "theorem t" not in text and "rw [ans]" not in text
    assert "abbrev ans : ℕ" in text and "axiom _prover_answer_fp_eq_1 : ans = (\n    7)" in text
    assert f.slots == ("ans",) and f.missing == ()


def test_proved_refuted_undecided():
    _, f = answer_file("7")
    assert answer_verdict(response(f, eq=True, ne=False), f).verdict is Verdict.VERIFIED
    wrong = answer_verdict(response(f, eq=False, ne=True), f)
    assert wrong.verdict is Verdict.WRONG_ANSWER and wrong.reasons == [ReasonCode.WRONG_ANSWER]
    assert wrong.per_slot == {"ans": "different"}
    neither = answer_verdict(response(f, eq=False, ne=False), f)
    assert neither.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED and neither.reasons == [ReasonCode.ANSWER_UNDECIDED]
    both = answer_verdict(response(f, eq=True, ne=True), f)  # inconsistent: never settled
    assert both.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED


def test_reports_must_carry_this_checks_nonce_and_be_clean():
    _, f = answer_file("7")
    n = "ab" * 16
    assert answer_verdict(response(f, eq=True, ne=False, nonce=n), f, nonce=n).verdict is Verdict.VERIFIED
    forged = answer_verdict(response(f, eq=True, ne=False, nonce=NONCE_PLACEHOLDER), f, nonce=n)
    assert forged.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED
    # an error elsewhere (the slot's own body) settles nothing
    spoiled = answer_verdict(response(f, eq=True, ne=False, extra=[error(1)]), f)
    assert spoiled.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED and ReasonCode.LEAN_ERROR in spoiled.reasons
    assert answer_verdict({"results": [{"error": "Lean process timed out", "response": None}]}, f).verdict \
        is Verdict.TIMEOUT


def test_without_a_reference_nothing_is_compared():
    result, f = answer_file("7", refs={})
    assert f is None
    p = LeanProblem.parse(PROBLEM)
    assert problem_references(p)["putnam_1962_a2_solution"].startswith("{f | (∃ a c : ℝ")


def test_combine_only_settles_an_unchecked_main_verdict():
    U, V, W = Verdict.VERIFIED_ANSWER_UNCHECKED, Verdict.VERIFIED, Verdict.WRONG_ANSWER
    assert combine(U, V) is V and combine(U, W) is W and combine(U, U) is U
    assert combine(U, Verdict.TIMEOUT) is U
    assert combine(Verdict.FAILED, V) is Verdict.FAILED and combine(Verdict.STATEMENT_MISMATCH, V) \
        is Verdict.STATEMENT_MISMATCH


@pytest.fixture
def pin():
    return read_pin(REPO_ROOT / "lean_project")


def _world(fake, proof_body: str, *, eq: bool, ne: bool):
    result, f = answer_file(proof_body)
    main = result.assembled(LeanLimits())
    fake.write({"rules": [
        {"match": {"cmd_contains": "_prover_answer_eq_1"},
         "response": response(f, eq=eq, ne=ne, nonce="NONCE")},
        {"match": {"cmd_contains": "rw [ans]"},
         "response": {"messages": [info(main.axioms_line, report())]}},
    ]})
    return f"abbrev ans : ℕ := {proof_body}\n\ntheorem t : ans + 1 = 8 := by rw [ans]\n"


@pytest.mark.parametrize("body, eq, ne, verdict, code", [
    ("7", True, False, Verdict.VERIFIED, 0),
    ("3 + 4", True, False, Verdict.VERIFIED, 0),
    ("8", False, True, Verdict.WRONG_ANSWER, 1),
    ("Nat.find ⟨7, rfl⟩", False, False, Verdict.VERIFIED_ANSWER_UNCHECKED, 3),
])
def test_check_proof_runs_the_answer_check(fake, pin, body, eq, ne, verdict, code):
    proof = _world(fake, body, eq=eq, ne=ne)
    with fake.pool() as pool:
        out = check_proof(proof, SMALL, pool, pin=pin)
    assert out.result.verdict is verdict and out.exit_code == code
    assert out.notes == [f"answer check: {verdict.value}"]
    sent = [r["request"].get("cmd", "") for r in fake.requests()]
    assert sum("_prover_answer_eq_1" in c for c in sent) == 1  # one separate answer check
    assert not any("_prover_answer" in c and "rw [ans]" in c for c in sent)  # never with model text
    if verdict is Verdict.WRONG_ANSWER:
        assert ReasonCode.WRONG_ANSWER in out.result.reasons


def test_the_answer_check_is_in_the_main_key(fake, pin):
    proof = _world(fake, "7", eq=True, ne=False)
    p = LeanProblem.parse(SMALL)
    with fake.pool() as pool:
        with_ref = check_proof(proof, p, pool, pin=pin)
        other_ref = check_proof(proof, p, pool, pin=pin, references={"ans": "8"})
        no_ref = check_proof(proof, p, pool, pin=pin, references={})
    assert with_ref.result.cache_key != other_ref.result.cache_key != no_ref.result.cache_key
    assert no_ref.result.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED and no_ref.notes == []


def test_stored_references_of_a_formal_statement():
    """The import takes the comments after the slots out of the stored text and keeps them in
    `formal_statements.reference_answer_lean`: one slot gets it whole; several cannot be told apart."""
    from prover.lean.answer import stored_references
    from prover.store.imports import split_lean_problem

    parts = split_lean_problem(PROBLEM)
    problem = LeanProblem.parse(parts.preamble + parts.answer_slots + parts.statement)
    assert problem.answer_slots[0].reference_comment is None  # the stored text has no comment
    refs = stored_references(parts.reference_comment, problem)
    assert refs == problem_references(LeanProblem.parse(PROBLEM))
    two = LeanProblem.parse("abbrev a : ℕ := sorry\nabbrev b : ℕ := sorry\ntheorem t : a = b := sorry\n")
    assert stored_references("1\n2", two) == {} and stored_references(None, problem) == {}
