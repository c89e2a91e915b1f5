"""The assembled file: the prologue (problem imports, `import ProverCheck`, `Elab.async false`,
the configured heartbeat limit, the problem's commands), the slots' and the target's statements
from the problem's text, the fingerprint before any model text, the model's bodies at their own
columns, and the `#prover_check` epilogue last."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.core.errors import UsageError
from prover.core.lean_records import LeanLimits
from prover.lean.assemble import assemble, lean_name
from prover.lean.audit import audit
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, screen

VENDORED = Path(__file__).parent.parent / "fixtures" / "data" / "lean"
HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
PROBLEM = HEADER + "theorem two_add_two (x : ℝ) (h₀ : x = 2) :\n    x + x = 4 := by\n"


def assembled(problem_text, proof, heartbeats=400_000):
    result = audit(proof, problem_text)
    assert result.accepted, result.reasons
    return assemble(result.problem, result.parts, heartbeats=heartbeats)


def test_heartbeats_zero_becomes_the_limit_and_repeats_are_dropped():
    proof = HEADER + "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n  subst h₀\n  norm_num\n"
    a = assembled(PROBLEM, proof, heartbeats=123_456)
    assert a.text.count("set_option maxHeartbeats") == 1 and "set_option maxHeartbeats 123456" in a.text
    assert "maxHeartbeats 0" not in a.text
    assert a.text.count("import Mathlib") == 1 and a.text.count("open BigOperators") == 1
    assert a.heartbeats == 123_456


def test_limit_is_added_after_the_imports_when_the_preamble_sets_none():
    problem = "import Mathlib\n\nopen Real\n\ntheorem t : (1 : ℝ) = 1 := by sorry\n"
    a = assembled(problem, "theorem t : (1 : ℝ) = 1 := by rfl\n")
    lines = a.text.splitlines()
    assert lines[:9:2] == ["import Mathlib", "import ProverCheck", "set_option Elab.async false",
                           "set_option maxHeartbeats 400000", "open Real"]


def test_statement_is_the_problems_text_and_body_keeps_its_columns():
    proof = ("theorem two_add_two (x:ℝ) (h₀:x = 2) : x + x = 4 := by\n"
             "  subst h₀\n"
             "  norm_num\n")
    a = assembled(PROBLEM, proof)
    text = a.text
    assert "theorem two_add_two (x : ℝ) (h₀ : x = 2) :\n    x + x = 4\n" in text
    body_lines = proof.splitlines()
    colon_col = body_lines[0].index(":= by")
    assert " " * colon_col + ":= by\n  subst h₀\n  norm_num\n" in text


def test_model_lemmas_go_right_before_the_target_after_preamble_defs():
    problem = (VENDORED / "putnam" / "putnam_1962_a2.lean").read_text()
    p = LeanProblem.parse(problem)
    proof = ("lemma helper : True := trivial\n\n"
             "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := ∅\n\n"
             + p.target.header_text + " := by\n  constructor <;> simp\n")
    a = assembled(problem, proof)
    t = a.text
    assert (t.index("abbrev putnam_1962_a2_solution") < t.index("axiom _prover_fp") < t.index("lemma helper")
            < t.index("theorem putnam_1962_a2"))
    epilogue = '#prover_check putnam_1962_a2 _prover_fp "00000000000000000000000000000000"'
    assert t.rstrip().endswith(epilogue)
    assert a.text.splitlines()[a.axioms_line - 1] == epilogue
    # the reference answer comment never reaches the file
    assert "(∃ a c : ℝ, 0 ≤ a ∧ f = (fun x" not in t
    assert [s.name for s in a.answer_slots] == ["putnam_1962_a2_solution"] and a.answer_slots[0].body == "∅"


def test_unfilled_slots_stay_sorry_in_the_file():
    problem = "abbrev s : ℕ := sorry\ntheorem t : s = s := sorry\n"
    p = LeanProblem.parse(problem)
    result = screen(p, "theorem t : s = s := rfl\n")
    assert not result.accepted  # the screen rejects it; the assembly would still be honest
    a = assemble(p, result.parts)
    assert "abbrev s : ℕ := sorry" in a.text and not a.answer_slots


def test_line_map_points_back_to_the_proof():
    proof = "\n\ntheorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n  subst h₀\n  norm_num\n"
    a = assembled(PROBLEM, proof)
    lines = a.text.splitlines()
    norm = next(i for i, line in enumerate(lines, 1) if line.strip() == "norm_num")
    seg, src = a.locate(norm)
    assert seg.zone == "target" and seg.source == "proof" and src == 5
    seg, src = a.locate(1)
    assert seg.zone == "preamble" and seg.source == "problem" and src == 1
    assert a.locate(a.axioms_line)[0].zone == "check"


def test_namespaced_target_and_postamble():
    problem = "namespace Foo\n\ntheorem bar : True := sorry\n\nend Foo\n"
    a = assembled(problem, "theorem bar : True := trivial\n")
    assert a.target == "Foo.bar"
    assert a.text.index("axiom _root_._prover_fp : True") < a.text.index("theorem bar")
    assert a.text.index("end Foo") < a.text.index('#prover_check Foo.bar _prover_fp "')


def test_lean_name_quotes_odd_parts():
    assert lean_name("Foo.bar'") == "Foo.bar'"
    assert lean_name("Foo.a b") == "Foo.«a b»"
    assert lean_name("end") == "«end»"


def test_request_and_cache_key():
    a = assembled(PROBLEM, "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n  subst h₀\n  norm_num\n")
    r1 = a.request(toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="8948401")
    r2 = a.request(toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="8948401")
    assert r1.cache_key == r2.cache_key and r1.file_hash == a.file_hash
    assert r1.limits.heartbeats == a.heartbeats and r1.screen_rules_version == SCREEN_RULES_VERSION
    assert r1.axioms_line == a.axioms_line and r1.target == "two_add_two"
    other = a.request(toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="8948401",
                      limits=LeanLimits(time_s=10))
    assert other.cache_key != r1.cache_key


def test_assembly_needs_an_accepted_target():
    p = LeanProblem.parse(PROBLEM)
    result = screen(p, "lemma x : True := trivial\n")
    with pytest.raises(UsageError):
        assemble(p, result.parts)


def test_equation_bodies_keep_their_separator():
    problem = "import Mathlib\n\ntheorem t : ∀ n : ℕ, n + 0 = n := by sorry\n"
    a = assembled(problem, "theorem t : ∀ n : ℕ, n + 0 = n\n  | 0 => rfl\n  | n + 1 => rfl\n")
    assert "theorem t : ∀ n : ℕ, n + 0 = n\n  | 0 => rfl\n  | n + 1 => rfl\n" in a.text


def test_results_for_a_request_from_a_response_and_an_outcome(store):
    """Synthetic responses: what a backend stores after checking an assembled file."""
    from prover.core.lean_records import Verdict
    from prover.lean.verdict import result_from_outcome, result_from_response

    problem = (VENDORED / "putnam" / "putnam_1962_a2.lean").read_text()
    p = LeanProblem.parse(problem)
    a = assembled(problem, "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := ∅\n\n"
                  + p.target.header_text + " := by\n  constructor <;> simp\n")
    req = a.request(toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="8948401")
    report = {"severity": "info", "pos": {"line": a.axioms_line, "column": 0},
              "data": "prover_check 1 nonce=00000000000000000000000000000000 status=ok type=match "
                      "axioms=propext,Classical.choice,Quot.sound sorry=0 other=0 used=-"}
    done = result_from_response(req, {"messages": [report], "env": 0}, backend="replay", wall_time_s=2.0)
    assert done.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED and done.definitive
    assert done.assembled == a.text and done.cache_key == req.cache_key
    store.add_lean_check(done)
    assert store.get_lean_check(req.cache_key) == done
    slow = result_from_outcome(req, "timeout", backend="replay", wall_time_s=300.0)
    assert slow.verdict is Verdict.TIMEOUT and not slow.definitive
