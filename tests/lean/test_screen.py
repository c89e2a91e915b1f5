"""The screen, as hard on false rejections as on exploits: every legitimate shape a prover
writes is accepted, every known way to fake a proof is rejected with its reason code."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.core.lean_records import ReasonCode as R
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, screen
from lean_problem_texts import PROOFNET_DEF  # tests/lean is on sys.path

VENDORED = Path(__file__).parent.parent / "fixtures" / "data" / "lean"

HEADER = """import Mathlib
import Aesop

set_option maxHeartbeats 0

open BigOperators Real Nat Topology Rat

"""
MINIF2F = HEADER + """/-- Show that 2 + 2 = 4. -/
theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by
"""
PUTNAM = (VENDORED / "putnam" / "putnam_1962_a2.lean").read_text()
PROOF = "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n  subst h₀\n  norm_num\n"


def codes(problem_text: str, proof: str) -> set[R]:
    return {r.code for r in screen(LeanProblem.parse(problem_text), proof).reasons}


def accepted(problem_text: str, proof: str) -> bool:
    result = screen(LeanProblem.parse(problem_text), proof)
    assert result.accepted == (not result.reasons)
    if not result.accepted:
        print(result.reasons)
    return result.accepted


# -- legitimate proofs --------------------------------------------------------------------------

LEGIT_MINIF2F = {
    "bare theorem": PROOF,
    "full file with header repeated verbatim (maxHeartbeats 0 included)": HEADER + PROOF,
    "header with the docstring": HEADER + "/-- Show that 2 + 2 = 4. -/\n" + PROOF,
    "header reformatted with comments": "import Mathlib -- all of it\nimport Aesop\nset_option maxHeartbeats 0\n"
                                        "open BigOperators Real  Nat Topology Rat\n\n" + PROOF,
    "lemma for theorem": PROOF.replace("theorem", "lemma"),
    "reformatted statement": "theorem two_add_two (x:ℝ)\n    (h₀ : x = 2) :\n    x + x = 4 := by\n  subst h₀; norm_num",
    "comment inside the statement": "theorem two_add_two (x : ℝ) /- the hypothesis -/ (h₀ : x = 2) -- eq\n"
                                    "  : x + x = 4 := by linarith",
    "term-mode proof": "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by linarith\n",
    "term-mode proof 2": "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 :=\n  h₀ ▸ by norm_num\n",
    "comments and strings mentioning sorry": PROOF.replace(
        "  norm_num\n", "  -- no sorry here\n  /- sorry, admit, native_decide -/\n  have : \"sorry\" = \"sorry\" := rfl\n"
                        "  norm_num\n"),
    "auxiliary lemmas with docstrings and attributes": (
        "/-- helper -/\n@[simp] lemma aux1 (x : ℝ) : x + x = 2 * x := by ring\n\n"
        "private theorem aux2 : (2 : ℝ) * 2 = 4 := by norm_num\n\n" + PROOF),
    "open … in and set_option … in inside the proof": PROOF.replace(
        "  norm_num\n", "  open Real in\n  set_option maxRecDepth 10000 in\n  norm_num\n"),
    "haveI, letI, inferInstance": PROOF.replace(
        "  norm_num\n", "  haveI : Nonempty ℝ := inferInstance\n  letI := Classical.propDecidable\n  norm_num\n"),
    "hypothesis named hint": "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n"
                             "  have hint : x = 2 := h₀\n  rw [hint]\n  have := (hint)\n  linarith [hint,\n    hint]\n",
    "allowed imports and header heartbeats": "import Mathlib\nimport Mathlib.Tactic\nimport Aesop\n"
                                             "set_option maxHeartbeats 400000\n" + PROOF,
    "nlinarith with hints, calc, where-docstring": (
        "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n"
        "  calc x + x = 2 + 2 := by rw [h₀]\n    _ = 4 := aux\n"
        "where\n  /-- the numeric fact -/\n  aux : (2 : ℝ) + 2 = 4 := by norm_num\n"),
    "decide, omega, simp_all, positivity tactics": PROOF.replace("  norm_num\n", "  simp_all\n  <;> norm_num\n"),
    "image and preimage notation": PROOF.replace("  norm_num\n", "  have : (id '' {x}) = id ⁻¹' {x} := by simp\n  norm_num\n"),
    "set_option with positive heartbeats in proof": PROOF.replace(
        "  norm_num\n", "  set_option maxHeartbeats 400000 in\n  norm_num\n"),
    # model text by capability (screen rules 2)
    "auxiliary def, instance, structure": "def four : ℝ := 4\ninstance : Fact (1 < 2) := ⟨by norm_num⟩\n"
                                          "structure S where\n  x : ℕ\n" + PROOF,
    "open, open … in, open scoped": "open Function\nopen scoped BigOperators\nopen Nat in\n"
                                    "lemma aux : True := trivial\n" + PROOF,
    "namespace and section closed before the target": "namespace Foo\nsection\nvariable (y : ℝ)\n"
                                                      "lemma aux : y = y := rfl\nend\nend Foo\n" + PROOF,
    "universe, mutual": "universe u\nmutual\ntheorem a : True := trivial\nend\n" + PROOF,
    "attributes from the minimal list": "attribute [simp] add_comm\nattribute [local instance] Classical.propDecidable\n"
                                        "@[simp, norm_cast] lemma aux : (2 : ℝ) = 2 := rfl\n" + PROOF,
    "set_option commands and prefixes, 0 capped": "set_option maxHeartbeats 0 in\nset_option autoImplicit true\n"
                                                  + PROOF.replace("  norm_num\n", "  set_option maxHeartbeats 0 in\n"
                                                                  "  norm_num\n"),
    "local notation": "local notation \"four\" => (4 : ℝ)\n" + PROOF,
    "#check and #print axioms": PROOF + "#check two_add_two\n#print axioms two_add_two\n",
    "exact? and apply? (Seed-Prover writes them; Lean closes the goal or it stays sorry)": PROOF.replace(
        "  norm_num\n", "  have : (2 : ℝ) + 2 = 4 := by exact?\n  norm_num\n"),
}


@pytest.mark.parametrize("name", sorted(LEGIT_MINIF2F))
def test_legitimate_minif2f_proofs_are_accepted(name):
    assert accepted(MINIF2F, LEGIT_MINIF2F[name])


def test_answer_slot_fill_is_accepted():
    p = LeanProblem.parse(PUTNAM)
    proof = p.with_proof("by\n  constructor <;> simp", {"putnam_1962_a2_solution": "{f | 0 ≤ f}"})
    assert accepted(PUTNAM, proof)
    # the slot alone in a short proof file, reformatted
    short = ("abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) :=\n  {f | 0 ≤ f}\n\n"
             + p.target.header_text + " := by\n  sorry_free_tactic\n")
    assert accepted(PUTNAM, short)


def test_proofnet_preamble_with_defs_repeated_verbatim():
    proof = PROOFNET_DEF + "\n  isOpen_iff_forall_mem_open.mpr fun x hx => (h1 x hx).imp fun _ h => ⟨h.2.2, h.2.1, h.1⟩\n"
    assert accepted(PROOFNET_DEF, proof)


def test_def_target_may_be_filled():
    text = "import Mathlib\n\nnoncomputable def exercise_x {G : Type*} [Group G] : G ≃* G :="
    assert accepted(text, "noncomputable def exercise_x {G : Type*} [Group G] : G ≃* G := MulEquiv.refl G\n")
    assert R.TARGET_MISMATCH in codes(text, "def exercise_x {G : Type*} [Group G] : G ≃* G := MulEquiv.refl G\n")


def test_screen_rules_version_is_a_positive_int():
    assert isinstance(SCREEN_RULES_VERSION, int) and SCREEN_RULES_VERSION >= 1


# -- exploits -----------------------------------------------------------------------------------

def body(tactics: str) -> str:
    return "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n" + tactics


EXPLOITS = [
    ("sorry", body("  sorry\n"), R.SORRY),
    ("admit", body("  admit\n"), R.SORRY),
    ("sorryAx", "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := sorryAx _ false\n", R.SORRY),
    ("quoted sorry", body("  exact «sorry»\n"), R.SORRY),
    ("dotted sorryAx", body("  exact _root_.sorryAx _ true\n"), R.SORRY),
    ("sorry in aux lemma", "lemma aux : False := sorry\n" + PROOF, R.SORRY),
    ("stop", body("  stop\n  norm_num\n"), R.SORRY),
    ("plausible", body("  plausible\n"), R.SORRY),
    ("rw?", body("  rw?\n"), R.SUGGESTION_TACTIC),
    ("hint", body("  hint\n"), R.SUGGESTION_TACTIC),
    ("native_decide", body("  native_decide\n"), R.NATIVE),
    ("decide +native", body("  decide +native\n"), R.NATIVE),
    ("native config", body("  decide (config := { native := true })\n"), R.NATIVE),
    ("ofReduceBool", body("  exact Lean.ofReduceBool _ _ rfl\n"), R.NATIVE),
    ("trustCompiler", body("  have := Lean.trustCompiler\n  norm_num\n"), R.NATIVE),
    ("axiom", "axiom cheat : False\n" + body("  exact cheat.elim\n"), R.AXIOM),
    ("opaque", "opaque magic : ℕ\n" + PROOF, R.UNSAFE),
    ("unsafe def", "unsafe def f : ℕ := 1\n" + PROOF, R.UNSAFE),
    ("implemented_by", "@[implemented_by id] theorem aux : True := trivial\n" + PROOF, R.UNSAFE),
    ("csimp", "@[csimp] theorem aux : @id = @id := rfl\n" + PROOF, R.UNSAFE),
    ("#exit", PROOF + "#exit\n", R.HASH_COMMAND),
    ("#eval", "#eval 1\n" + PROOF, R.HASH_COMMAND),
    ("#print", PROOF + "#print two_add_two\n", R.HASH_COMMAND),
    ("run_cmd", "run_cmd Lean.logInfo \"hi\"\n" + PROOF, R.META_PROGRAM),
    ("run_tac", body("  run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| norm_num))\n"), R.META_PROGRAM),
    ("by_elab", body("  exact by_elab pure default\n"), R.META_PROGRAM),
    ("elab", "elab \"cheat\" : tactic => pure ()\n" + PROOF, R.META_PROGRAM),
    ("macro", "macro \"cheat\" : tactic => `(tactic| sorry)\n" + PROOF, R.NOTATION),
    ("macro_rules", "macro_rules | `(tactic| norm_num) => `(tactic| sorry)\n" + PROOF, R.NOTATION),
    ("notation", "notation \"four\" => 5\n" + PROOF, R.NOTATION),
    ("infix", "infixl:65 \" +' \" => HAdd.hAdd\n" + PROOF, R.NOTATION),
    ("syntax", "syntax \"cheat\" : tactic\n" + PROOF, R.NOTATION),
    ("initialize", "initialize pure ()\n" + PROOF, R.META_PROGRAM),
    ("attribute outside the list", "attribute [aesop safe] add_comm\n" + PROOF, R.ATTRIBUTE_NOT_ALLOWED),
    ("target inside a model namespace", "namespace Foo\n" + PROOF + "end Foo\n", R.SCOPE_UNBALANCED),
    ("target inside a section with variables", "section\nvariable (y : ℝ)\n" + PROOF + "end\n", R.SCOPE_UNBALANCED),
    ("unclosed namespace", "namespace Foo\nlemma aux : True := trivial\n" + PROOF, R.SCOPE_UNBALANCED),
    ("export", "export Real (pi)\n" + PROOF, R.UNKNOWN_COMMAND),
    ("open … in before target", "open Nat in\n" + PROOF, R.TARGET_MISMATCH),
    ("debug.skipKernelTC", "set_option debug.skipKernelTC true in\n" + PROOF, R.SET_OPTION_NOT_ALLOWED),
    ("debug option in proof", body("  set_option debug.skipKernelTC true in\n  norm_num\n"), R.SET_OPTION_NOT_ALLOWED),
    ("Elab.async option", "set_option Elab.async true\n" + PROOF, R.SET_OPTION_NOT_ALLOWED),
    ("example instead of target", "example (x : ℝ) (h₀ : x = 2) : x + x = 4 := by subst h₀; norm_num\n",
     R.TARGET_MISSING),
    ("renamed target", PROOF.replace("two_add_two", "two_add_two'"), R.TARGET_MISSING),
    ("homoglyph target name", PROOF.replace("two_add_two", "twо_add_two"), R.TARGET_MISSING),
    ("weakened statement", PROOF.replace("x + x = 4", "x + x = x + x"), R.TARGET_MISMATCH),
    ("extra hypothesis", PROOF.replace("(h₀ : x = 2)", "(h₀ : x = 2) (h₁ : False)"), R.TARGET_MISMATCH),
    ("private target", "private " + PROOF, R.TARGET_MISMATCH),
    ("attribute on target", "@[simp] " + PROOF, R.TARGET_MISMATCH),
    ("_root_ target", PROOF.replace("theorem two_add_two", "theorem _root_.two_add_two"), R.TARGET_MISMATCH),
    ("target twice", PROOF + "\n" + PROOF.replace("norm_num", "linarith"), R.TARGET_DUPLICATE),
    ("import Lean", "import Lean\n" + PROOF, R.IMPORT),
    ("late import", PROOF + "import Mathlib.Tactic\n", R.IMPORT),
    ("interpolated string", body("  have := s!\"{sorry}\"\n  norm_num\n"), R.SORRY),
    ("string braces", body("  trace \"{x}\"\n  norm_num\n"), R.AMBIGUOUS_STRING),
    ("glued char literal", body("  have : 'a' = 'a' := rfl\n  have := (· ∘'a')\n  norm_num\n"), R.AMBIGUOUS_STRING),
    ("unterminated comment", PROOF + "/- hides the rest\n", R.MALFORMED_TEXT),
    ("unterminated string", PROOF + "#print \"x\n", R.MALFORMED_TEXT),
    ("Lean 3 end", body("begin\n  norm_num\nend\n"), R.SCOPE_UNBALANCED),
    ("disallowed attribute", "@[positivity] theorem aux : Fact (1 < 2) := ⟨by norm_num⟩\n" + PROOF,
     R.ATTRIBUTE_NOT_ALLOWED),
    ("partial modifier", "partial theorem aux : True := trivial\n" + PROOF, R.UNSAFE),
    ("stray text", "Here is the proof:\n" + PROOF, R.COMMAND_NOT_ALLOWED),
    ("bv_decide", body("  bv_decide\n"), R.NATIVE),
]


@pytest.mark.parametrize("name, proof, code", EXPLOITS, ids=[e[0] for e in EXPLOITS])
def test_exploits_are_rejected_with_their_code(name, proof, code):
    found = codes(MINIF2F, proof)
    assert code in found, found


def test_empty_proofs_are_rejected():
    assert codes(MINIF2F, "") == {R.EMPTY_PROOF}
    assert codes(MINIF2F, "  \n\n") == {R.EMPTY_PROOF}
    # only the repeated preamble, or only comments
    assert codes(MINIF2F, HEADER) == {R.EMPTY_PROOF}
    assert codes(MINIF2F, "-- nothing\n/- at all -/\n") == {R.EMPTY_PROOF}


def test_header_of_another_data_set_is_model_text():
    # `open … Nat …` may change how the statement's names resolve: it is not this problem's
    # preamble, so it stays model text in front of the target, where the trusted epilogue's kernel
    # comparison with the fingerprint judges the statement (DESIGN.md); the screen lets it through.
    problem = "import Mathlib\n\ntheorem t (n : ℕ) : n + 0 = n := by sorry\n"
    result = screen(LeanProblem.parse(problem), HEADER + "theorem t (n : ℕ) : n + 0 = n := by simp\n")
    assert result.accepted
    assert [result.parts.command_text(c) for c in result.parts.aux] == [
        "set_option maxHeartbeats 0", "open BigOperators Real Nat Topology Rat"]


def test_answer_slot_rules():
    p = LeanProblem.parse(PUTNAM)
    stmt = p.target.header_text + " := by\n  simp\n"
    slot = "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := "
    assert codes(PUTNAM, stmt) == {R.ANSWER_SLOT_UNFILLED}
    assert codes(PUTNAM, slot + "sorry\n" + stmt) == {R.ANSWER_SLOT_UNFILLED}
    assert R.ANSWER_SLOT_MODIFIED in codes(PUTNAM, "abbrev putnam_1962_a2_solution : Set ℝ := ∅\n" + stmt)
    assert R.ANSWER_SLOT_MODIFIED in codes(PUTNAM, "def putnam_1962_a2_solution : Set (ℝ → ℝ) := ∅\n" + stmt)
    assert R.ANSWER_SLOT_DUPLICATE in codes(PUTNAM, slot + "∅\n" + slot + "∅\n" + stmt)
    assert R.ANSWER_MENTIONS_TARGET in codes(PUTNAM, slot + "{f | putnam_1962_a2 = putnam_1962_a2}\n" + stmt)
    assert R.SORRY in codes(PUTNAM, slot + "{f | (sorry : Prop)}\n" + stmt)
    assert R.NATIVE in codes(PUTNAM, slot + "if (by native_decide : 1 = 1) = rfl then ∅ else ∅\n" + stmt)
    assert codes(PUTNAM, slot + "∅\n" + stmt) == set()


def test_noncomputable_slot_keeps_its_modifier():
    problem = "import Mathlib\n\nnoncomputable abbrev sol : ℝ := sorry\n\ntheorem t : sol = sol := sorry\n"
    ok = "noncomputable abbrev sol : ℝ := 4 / 9\n\ntheorem t : sol = sol := rfl\n"
    assert codes(problem, ok) == set()
    assert R.ANSWER_SLOT_MODIFIED in codes(problem, ok.replace("noncomputable ", ""))


def test_reasons_carry_lines_and_are_json_ready():
    result = screen(LeanProblem.parse(MINIF2F), "\n\n" + body("  sorry\n"))
    assert [r.to_json() for r in result.reasons] == [{"code": "sorry", "line": 4, "text": "`sorry`"}]


def test_every_reason_code_is_documented():
    for code in R:
        assert code.__doc__ and code.__doc__ != R.__doc__, code


def test_equations_and_where_bodies():
    nat = "import Mathlib\n\ntheorem t : ∀ n : ℕ, n + 0 = n := by sorry\n"
    assert accepted(nat, "theorem t : ∀ n : ℕ, n + 0 = n\n  | 0 => rfl\n  | n + 1 => rfl\n")
    slot = "import Mathlib\n\nabbrev sol : ℕ → ℕ := sorry\n\ntheorem t : sol 0 = 1 := sorry\n"
    assert accepted(slot, "abbrev sol : ℕ → ℕ\n  | 0 => 1\n  | n + 1 => sol n\n\ntheorem t : sol 0 = 1 := rfl\n")
    group = "import Mathlib\n\ndef cg (G : Type*) [Group G] (h : ∀ a b : G, a * b = b * a) : CommGroup G :="
    assert accepted(group, "def cg (G : Type*) [Group G] (h : ∀ a b : G, a * b = b * a) : CommGroup G where\n"
                           "  mul_comm := h\n")
    # `where` is no body for a theorem, and the separator is screened with the body
    assert R.TARGET_MISMATCH in codes(nat, "theorem t : ∀ n : ℕ, n + 0 = n where\n  foo := 1\n")
    assert R.SORRY in codes(nat, "theorem t : ∀ n : ℕ, n + 0 = n\n  | 0 => sorry\n  | n + 1 => rfl\n")


def test_problem_imports_must_be_on_the_allow_list():
    problem = "import Lean\nimport Mathlib\n\ntheorem t : True := by sorry\n"
    assert codes(problem, "theorem t : True := trivial\n") == {R.IMPORT_NOT_ALLOWED}
    assert codes("import Mathlib.Data.Real.Basic\nimport Aesop\ntheorem t : True := by sorry\n",
                 "theorem t : True := trivial\n") == set()
