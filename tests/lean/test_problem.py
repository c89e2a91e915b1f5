"""The problem model: preamble, answer slots and the single target, from every shape the data
sets use (miniF2F `:= by`, yangky11 `:= by sorry`, ProofNet `:=` and `def` targets, PutnamBench
answer slots with reference comments and `:=\\nsorry`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.core.errors import UsageError
from prover.lean.problem import LeanProblem
from lean_problem_texts import PROOFNET_DEF  # tests/lean is on sys.path

VENDORED = Path(__file__).parent.parent / "fixtures" / "data" / "lean"

MINIF2F = """import Mathlib
import Aesop

set_option maxHeartbeats 0

open BigOperators Real Nat Topology Rat

theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by
"""

PROOFNET_DEF_TARGET = """import Mathlib

open Fintype Subgroup Set Polynomial Ideal
open scoped BigOperators

noncomputable def exercise_2_8_6 {G H : Type*} [Group G] [Group H] :
    center (G × H) ≃* (center G) × (center H) :="""


def test_minif2f_statement_ending_in_by():
    p = LeanProblem.parse(MINIF2F)
    assert p.target.full_name == "mathd_algebra_10" and p.target.body == "by"
    assert p.roles == ["import", "import", "preamble", "preamble", "target"]
    assert p.imports == ["Mathlib", "Aesop"] and not p.answer_slots
    assert p.target.header_text.startswith("theorem mathd_algebra_10 :")
    assert p.target.header_text.endswith("= 10")


def test_proofnet_preamble_defs_stay_in_the_preamble():
    p = LeanProblem.parse(PROOFNET_DEF)
    assert p.target.full_name == "exercise_13_1" and p.target.body == ""
    assert p.roles[-1] == "target" and "preamble" in p.roles and not p.answer_slots


def test_a_lone_sorry_def_is_the_target():
    p = LeanProblem.parse(PROOFNET_DEF_TARGET)
    assert p.target.keyword == "def" and p.target.full_name == "exercise_2_8_6"
    assert p.target.header_tokens[0].text == "noncomputable"


def test_putnambench_answer_slot_reference_comment_and_docstring():
    p = LeanProblem.parse((VENDORED / "putnam" / "putnam_1962_a2.lean").read_text())
    assert [s.full_name for s in p.answer_slots] == ["putnam_1962_a2_solution"]
    slot = p.answer_slots[0]
    assert slot.keyword == "abbrev" and slot.body == "sorry"
    assert slot.reference_comment.startswith("{f | (∃ a c : ℝ")
    assert p.target.docstring.startswith("Find every real-valued function")
    assert p.target.body == "sorry" and p.roles == ["import", "preamble", "slot", "target"]
    # the docstring is not part of the compared statement
    assert p.target.header_tokens[0].text == "theorem"


def test_noncomputable_slot_and_preamble_def_after_it():
    text = """import Mathlib

noncomputable abbrev putnam_x_solution : ℝ := sorry
-- 4 / 9
noncomputable def helper : ℝ → ℝ := fun r => |r - round r|
/-- doc -/
theorem putnam_x
: 0 < putnam_x_solution ∧ helper 0 = 0 :=
sorry
"""
    p = LeanProblem.parse(text)
    assert p.roles == ["import", "slot", "preamble", "target"]
    assert p.answer_slots[0].reference_comment == "4 / 9"
    assert p.answer_slots[0].header_tokens[0].text == "noncomputable"


def test_yangky11_by_sorry_and_absolute_values():
    text = "import Mathlib\n\ntheorem t (a b : ℝ) (h : |a| ≤ 1) :\n  a * b + |a - b| ≤ 1 := by sorry"
    p = LeanProblem.parse(text)
    assert p.target.body == "by sorry" and p.target.header_text.endswith("≤ 1")


def test_let_in_the_statement_is_not_the_declaration_assign():
    p = LeanProblem.parse("theorem t : let x := 1; x = 1 := by sorry")
    assert p.target.header_text == "theorem t : let x := 1; x = 1"
    # a `have … := sorry` inside a proof is not a sorry declaration
    with pytest.raises(UsageError):
        LeanProblem.parse("theorem t : 1 = 1 := by\n  have h : 2 = 2 := sorry")


def test_namespaces_make_the_full_name():
    p = LeanProblem.parse("namespace Foo\ntheorem bar : True := sorry\nend Foo\n")
    assert p.target.full_name == "Foo.bar" and p.namespace == ("Foo",)
    assert p.roles == ["preamble", "target", "postamble"]
    p = LeanProblem.parse("namespace Foo\ntheorem _root_.bar : True := sorry\nend Foo\n")
    assert p.target.full_name == "bar"


def test_open_in_prefix_belongs_to_the_target_header():
    p = LeanProblem.parse("import Mathlib\nopen Real in\ntheorem t : π > 3 := sorry")
    assert p.target.header_text.startswith("open Real in\ntheorem t")


@pytest.mark.parametrize("text", [
    "import Mathlib\ntheorem a : True := trivial",                                  # no target
    "theorem a : True := sorry\ntheorem b : True := sorry",                        # two targets
    "abbrev x : ℕ := sorry\nabbrev y : ℕ := sorry",                                # two defs, no theorem
    "example : True := sorry",                                                     # unnamed
    "theorem a : True := sorry\ninstance : Inhabited ℕ := sorry",                  # sorry instance
    "theorem a : True /- unterminated",                                            # does not lex
])
def test_problems_without_exactly_one_target_are_usage_errors(text):
    with pytest.raises(UsageError):
        LeanProblem.parse(text)


def test_with_proof_replaces_only_the_sorry():
    p = LeanProblem.parse((VENDORED / "putnam" / "putnam_1962_a2.lean").read_text())
    text = p.with_proof("by\n  simp", {"putnam_1962_a2_solution": "∅"})
    assert "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := ∅" in text
    assert text.rstrip().endswith(":= by\n  simp") and "sorry" not in text.split("-/")[-1]


def test_stored_formal_statement_parts_parse_as_a_problem():
    """The foundation stores preamble + answer slots + statement; their concatenation is a problem."""
    from prover.store.imports import split_lean_problem

    raw = (VENDORED / "putnam" / "putnam_1962_a2.lean").read_text()
    parts = split_lean_problem(raw)
    p = LeanProblem.parse(parts.preamble + parts.answer_slots + parts.statement)
    assert p.target.full_name == "putnam_1962_a2" and len(p.answer_slots) == 1
