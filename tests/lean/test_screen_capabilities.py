"""The screen by capability (screen rules 2, issue 16): an adversarial suite of exploit attempts
and the legitimate forms real provers write.

Each exploit names where it is stopped. Most stop at the screen, with their reason code. Some
only Lean can judge — a statement whose meaning changes through an instance, a notation, a
namespace or a `variable` of model text, a message that imitates an axioms report: the screen
lets those through to the assembled file, and these tests show exactly that (the model text is
in the file, before the target), marked ``EPILOGUE``; the trusted epilogue (kernel comparison
with the fingerprint, nonce-stamped message) is built and tested on the `epilogue` branch. No
Lean runs here."""

from __future__ import annotations

import pytest

from prover.core.lean_records import ReasonCode as R
from prover.lean.audit import audit
from prover.lean.problem import LeanProblem
from prover.lean.screen import screen

PROBLEM = """import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat Topology Rat

/-- Show that 2 + 2 = 4. -/
theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by
  sorry
"""
TARGET = "theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4 := by\n"
PROOF = TARGET + "  subst h₀\n  norm_num\n"
EPILOGUE = "epilogue"


def body(tactics: str) -> str:
    return TARGET + tactics


def codes(proof: str) -> set[R]:
    return {r.code for r in screen(LeanProblem.parse(PROBLEM), proof).reasons}


EXPLOITS = [
    # -- commands the screen does not know, from Lean and Mathlib: never folded into a declaration
    ("irreducible_def", "irreducible_def four : ℝ := 4\n" + PROOF, R.UNKNOWN_COMMAND),
    ("alias", "alias cheat := two_add_two\n" + PROOF, R.UNKNOWN_COMMAND),
    ("assert_not_exists", "assert_not_exists Real\n" + PROOF, R.UNKNOWN_COMMAND),
    ("suppress_compilation", "suppress_compilation\n" + PROOF, R.UNKNOWN_COMMAND),
    ("unseal", "unseal Nat.add in\n" + PROOF, R.UNKNOWN_COMMAND),
    ("add_decl_doc", "add_decl_doc two_add_two\n" + PROOF, R.UNKNOWN_COMMAND),
    ("export", "export Nat (succ)\n" + PROOF, R.UNKNOWN_COMMAND),
    ("standalone deriving", "deriving instance Repr for Nat\n" + PROOF, R.UNKNOWN_COMMAND),
    ("recall", "recall Nat.add_comm (a b : ℕ) : a + b = b + a\n" + PROOF, R.UNKNOWN_COMMAND),
    ("proof_wanted", "proof_wanted cheat : False\n" + PROOF, R.UNKNOWN_COMMAND),
    ("unif_hint", "unif_hint (n : ℕ) where n =?= 0 ⊢ n + 0 =?= 0\n" + PROOF, R.UNKNOWN_COMMAND),
    ("coinductive", "coinductive S : Prop where\n  | mk : S → S\n" + PROOF, R.UNKNOWN_COMMAND),
    ("register_simp_attr", "register_simp_attr my_simp\n" + PROOF, R.UNKNOWN_COMMAND),
    ("declare_aesop_rule_sets", "declare_aesop_rule_sets [Cheat]\n" + PROOF, R.UNKNOWN_COMMAND),
    ("variable?", "variable? [Group G]\n" + PROOF, R.UNKNOWN_COMMAND),
    ("scoped[NS] prefix", "scoped[Nat] instance : Fact (1 < 2) := ⟨by norm_num⟩\n" + PROOF, R.UNKNOWN_COMMAND),
    ("count_heartbeats! in", "count_heartbeats! in\nlemma aux : True := trivial\n" + PROOF, R.UNKNOWN_COMMAND),
    ("with_weak_namespace", "with_weak_namespace Decoy\nlemma aux : True := trivial\n" + PROOF, R.UNKNOWN_COMMAND),
    ("unlock_limits", "unlock_limits\n" + PROOF, R.UNKNOWN_COMMAND),
    ("lrat_proof", "lrat_proof cheat \"p cnf 1 1\" \"\"\n" + PROOF, R.UNKNOWN_COMMAND),
    ("sudo set_option", "sudo set_option debug.skipKernelTC true in\n" + PROOF, R.UNKNOWN_COMMAND),
    ("unknown keyword at column 0 after a finished proof",
     "lemma aux : True := trivial\nsome_new_command two_add_two\n" + PROOF, R.UNKNOWN_COMMAND),
    ("unknown keyword at column 0 after a tactic block", body("  subst h₀\n  norm_num\nsome_new_command x\n"),
     R.UNKNOWN_COMMAND),
    ("opaque", "opaque magic : ℕ\n" + PROOF, R.UNSAFE),
    ("axiom in a mutual block", "mutual\naxiom cheat : False\nend\n" + PROOF, R.AXIOM),
    # -- namespace, section and `variable` tricks
    ("target in a model namespace", "namespace Decoy\n" + PROOF + "end Decoy\n", R.SCOPE_UNBALANCED),
    ("target in a noncomputable section", "noncomputable section\n" + PROOF + "end\n", R.SCOPE_UNBALANCED),
    ("target in a mutual block", "mutual\n" + PROOF + "end\n", R.SCOPE_UNBALANCED),
    ("end closing the problem's scope", "end\n" + PROOF, R.SCOPE_UNBALANCED),
    ("section left open", PROOF + "section\nvariable (y : ℝ)\n", R.SCOPE_UNBALANCED),
    ("variable … in before the target", "variable (h : False) in\n" + PROOF, R.SCOPE_UNBALANCED),
    ("open … in before the target", "open Classical in\n" + PROOF, R.TARGET_MISMATCH),
    ("_root_ target", PROOF.replace("theorem two_add_two", "theorem _root_.two_add_two"), R.TARGET_MISMATCH),
    ("scoped instance", "scoped instance : Fact (1 < 2) := ⟨by norm_num⟩\n" + PROOF, R.MODIFIER_NOT_ALLOWED),
    # -- notation and attributes that change meaning or extend syntax
    ("global notation", "notation \"four\" => (5 : ℝ)\n" + PROOF, R.NOTATION),
    ("scoped notation", "scoped notation \"four\" => (5 : ℝ)\n" + PROOF, R.NOTATION),
    ("local infix", "local infix:50 \" ≈ \" => fun a b => a = b\n" + PROOF, R.NOTATION),
    ("local macro", "local macro \"cheat\" : tactic => `(tactic| sorry)\n" + PROOF, R.NOTATION),
    ("notation atom swallowing a quote", "local notation \"q\\\"\" => id\n" + body("  exact q\"sorry\"\n"),
     R.NOTATION),
    ("notation atom opening a comment", "local notation \"x/-\" => (1 : ℝ)\n" + PROOF, R.NOTATION),
    ("notation atom with a prime", "local notation \"⟪'\" => (1 : ℝ)\n" + PROOF, R.NOTATION),
    ("syntax category", "declare_syntax_cat cheat\n" + PROOF, R.NOTATION),
    ("default_instance attribute", "@[default_instance] instance : HAdd ℝ ℝ ℝ := ⟨fun a _ => a⟩\n" + PROOF,
     R.ATTRIBUTE_NOT_ALLOWED),
    ("extern attribute", "@[extern \"c_cheat\"] def f : ℕ := 1\n" + PROOF, R.UNSAFE),
    ("aesop attribute", "@[aesop safe] lemma aux : True := trivial\n" + PROOF, R.ATTRIBUTE_NOT_ALLOWED),
    ("attribute command outside the list", "attribute [irreducible] Real.pi\n" + PROOF, R.ATTRIBUTE_NOT_ALLOWED),
    # -- meta code
    ("do block", body("  have : ℕ := Id.run do pure 1\n  subst h₀\n  norm_num\n"), R.META_PROGRAM),
    ("quotation", body("  have := `(1 + 1)\n  norm_num\n"), R.META_PROGRAM),
    ("name literal", body("  have := ``Nat.add\n  norm_num\n"), R.META_PROGRAM),
    ("Lean.* name", body("  have := Lean.Meta.mkSorry\n  norm_num\n"), R.META_PROGRAM),
    ("«Lean» quoted", body("  have := «Lean».«Meta».mkSorry\n  norm_num\n"), R.META_PROGRAM),
    ("open Lean in a proof", body("  open Lean Elab Tactic in\n  norm_num\n"), R.META_PROGRAM),
    ("open _root_.Lean", "open _root_.Lean\n" + PROOF, R.META_PROGRAM),
    ("namespace Lean", "namespace Lean\ntheorem x : True := trivial\nend Lean\n" + PROOF, R.META_PROGRAM),
    ("IO", body("  have := IO.println \"hi\"\n  norm_num\n"), R.META_PROGRAM),
    ("eval%", body("  have := eval% (2 + 2 : ℕ)\n  norm_num\n"), R.META_PROGRAM),
    ("run_meta", "run_meta pure ()\n" + PROOF, R.META_PROGRAM),
    ("elab_rules", "elab_rules : tactic | `(tactic| norm_num) => pure ()\n" + PROOF, R.META_PROGRAM),
    ("simproc", "simproc cheat (_ + _) := fun _ => pure .continue\n" + PROOF, R.META_PROGRAM),
    ("unsafe term inside an Aesop clause", body("  aesop (add unsafe unsafe (cast lcProof 0))\n"), R.UNSAFE),
    ("Aesop tactic rule builder", body("  aesop (add safe tactic (by norm_num))\n"), R.META_PROGRAM),
    ("config discharger", body("  simp (config := { discharger := cheat })\n"), R.CONFIG_NOT_LITERAL),
    ("config not a structure instance", body("  simp (config := myConfig)\n"), R.CONFIG_NOT_LITERAL),
    ("config with tactic code", body("  simp (config := { decide := by exact true })\n"), R.CONFIG_NOT_LITERAL),
    ("simp_config with a lambda", body("  aesop (simp_config := { maxSteps := (fun n => n) 5 })\n"),
     R.CONFIG_NOT_LITERAL),
    # -- code inside interpolated strings
    ("s! with sorry", body("  have := s!\"{sorry}\"\n  norm_num\n"), R.SORRY),
    ("m! with meta code", body("  have := m!\"{Lean.ofReduceBool}\"\n  norm_num\n"), R.NATIVE),
    ("throwError with native_decide", body("  have := throwError \"x {(by native_decide : 1 = 1)}\"\n"),
     R.NATIVE),
    ("nested interpolation", body("  have := f!\"{s!\"{admit}\"}\"\n  norm_num\n"), R.SORRY),
    ("braces in a plain string", body("  trace \"{sorry}\"\n  norm_num\n"), R.AMBIGUOUS_STRING),
    ("unterminated interpolation", body("  have := s!\"{sorry\n"), R.MALFORMED_TEXT),
    # -- reserved names and the trusted library
    ("_prover_ fingerprint used", body("  exact _prover_fp x h₀\n"), R.RESERVED_NAME),
    ("_prover_ declaration", "theorem _prover_fp : True := trivial\n" + PROOF, R.RESERVED_NAME),
    ("_prover_ notation atom", "local notation \"_prover_fp\" => 0\n" + PROOF, R.RESERVED_NAME),
    ("ProverCheck namespace", "namespace ProverCheck\ntheorem x : True := trivial\nend ProverCheck\n" + PROOF,
     R.RESERVED_NAME),
    ("notation atom shadowing a command", "local notation \"#prover_check\" => 0\n" + PROOF, R.RESERVED_NAME),
    # -- kernel and compiler
    ("bv_decide?", body("  bv_decide?\n"), R.NATIVE),
    ("bv_check", body("  bv_check \"cert.lrat\"\n"), R.NATIVE),
    ("unsafe term", body("  exact unsafe (cast lcProof 0)\n"), R.UNSAFE),
    ("partial def", "partial def loop : ℕ → ℕ := loop\n" + PROOF, R.UNSAFE),
    ("debug.byAsSorry", "set_option debug.byAsSorry true\n" + PROOF, R.SET_OPTION_NOT_ALLOWED),
    ("option with a non-numeric limit", body("  set_option maxRecDepth true in\n  norm_num\n"),
     R.SET_OPTION_NOT_ALLOWED),
    ("#reduce", "#reduce (2 + 2 : ℕ)\n" + PROOF, R.HASH_COMMAND),
    ("#print of something else", PROOF + "#print Nat.add\n", R.HASH_COMMAND),
    ("rw?", body("  rw?\n"), R.SUGGESTION_TACTIC),
    ("import after commands", "lemma aux : True := trivial\nimport Lean.Elab\n" + PROOF, R.IMPORT),
    # -- the `stop`/`plausible` tactics whole-token only
    ("stop", body("  stop\n  norm_num\n"), R.SORRY),
    ("slim_check", body("  slim_check\n"), R.SORRY),
    ("impossible by", body("  impossible by simp\n"), R.SORRY),
    ("try?", body("  try?\n"), R.SUGGESTION_TACTIC),
]


@pytest.mark.parametrize("name, proof, code", EXPLOITS, ids=[e[0] for e in EXPLOITS])
def test_exploit_is_stopped_by_the_screen_with_its_code(name, proof, code):
    found = codes(proof)
    assert code in found, found


def test_suite_is_at_least_forty_new_exploits():
    assert len(EXPLOITS) + len(LET_THROUGH) >= 40


# -- exploits only Lean can stop: let through to the assembled file (EPILOGUE) ------------------

LET_THROUGH = [
    # Instances and notation that change what the statement means: the problem's statement text is
    # elaborated after them, and only the kernel comparison with the fingerprint (elaborated before
    # any model text) sees the difference. EPILOGUE.
    ("instance redefining 4", "instance (priority := high) : OfNat ℝ 4 := ⟨5⟩\n", "OfNat ℝ 4"),
    ("instance redefining ≤", "instance : LE ℝ := ⟨fun _ _ => True⟩\n", "LE ℝ"),
    ("local notation for a numeral", "local notation \"x + x\" => (4 : ℝ)\n", "local notation"),
    ("local instance attribute", "attribute [local instance] Classical.propDecidable\n", "attribute [local"),
    ("shadowing Real.sqrt in a namespace, opened",
     "namespace Fake\ndef Real.sqrt (x : ℝ) : ℝ := x\nend Fake\nopen Fake\n", "open Fake"),
    ("variable included into the target", "variable (cheat : False)\ninclude cheat\n", "include cheat"),
    ("autoImplicit before the target", "set_option autoImplicit true\n", "autoImplicit true"),
    # A fake axioms report: a message with the report's wording, printed by model text at another
    # position (the verdict reads the epilogue's nonce-stamped message at its own position). EPILOGUE.
    ("fake axioms report by trace", "lemma decoy : True := by\n  trace \"'two_add_two' depends on axioms: "
                                    "[propext]\"\n  trivial\n", "depends on axioms"),
    ("model's own #print axioms of a decoy", "theorem decoy : True := trivial\n#print axioms decoy\n",
     "#print axioms decoy"),
]


@pytest.mark.parametrize("name, before, marker", LET_THROUGH, ids=[e[0] for e in LET_THROUGH])
def test_meaning_changes_reach_the_assembled_file_for_the_epilogue(name, before, marker):
    result = audit(before + PROOF, PROBLEM)
    assert result.accepted, result.reasons
    assembled = result.assembled()
    text = assembled.text
    # the model text is in the file, before the problem's own statement text ...
    assert text.index(marker) < text.index("theorem two_add_two (x : ℝ) (h₀ : x = 2) : x + x = 4")
    # ... and the target's check is read at its own line (the last command), never at the model's
    marker_line = text[:text.index(marker)].count("\n") + 1
    check_line = text.rstrip("\n").count("\n") + 1
    assert marker_line < check_line


# -- legitimate forms --------------------------------------------------------------------------

LEGIT = {
    "auxiliary defs, abbrevs, structures, inductives, classes and instances": (
        "def sq (y : ℝ) : ℝ := y * y\nnoncomputable abbrev half : ℝ := 1 / 2\n"
        "structure P where\n  a : ℕ\n  b : ℕ\nderiving DecidableEq, Repr\n"
        "inductive Color\n  | red | blue\nderiving DecidableEq\n"
        "class Nice (α : Type) : Prop where\n  nice : True\n"
        "instance : Nice ℕ := ⟨trivial⟩\nlocal instance : Nice ℤ := ⟨trivial⟩\n"
        "example : sq 2 = 4 := by norm_num [sq]\n" + PROOF),
    "mutual definitions with termination": (
        "mutual\ndef ev : ℕ → Bool\n  | 0 => true\n  | n + 1 => od n\ndef od : ℕ → Bool\n  | 0 => false\n"
        "  | n + 1 => ev n\nend\n"
        "def f : ℕ → ℕ\n  | 0 => 0\n  | n + 1 => f n\ntermination_by n => n\ndecreasing_by omega\n" + PROOF),
    "scopes closed before the target": (
        "namespace Aux\nsection\nvariable {α : Type} [Nice α]\nomit [Nice α] in\n"
        "theorem triv : True := trivial\nend\nend Aux\nnoncomputable section\nopen Classical\n"
        "def g : ℕ := 0\nend\nuniverse u v\n" + PROOF).replace("[Nice α]", "[Inhabited α]"),
    "options real provers set": (
        "set_option maxHeartbeats 0\nset_option maxRecDepth 10000\nset_option tactic.hygienic false\n"
        "set_option pp.numericTypes true\nset_option linter.unusedVariables false\nset_option autoImplicit false\n"
        "set_option synthInstance.maxHeartbeats 0 in\nlemma aux : True := trivial\n"
        "set_option maxHeartbeats 1000000 in\n" + PROOF),
    "repeated header and opens, then private lemmas": (
        PROBLEM.split("/--")[0] + "open Real\nprivate lemma aux : (2 : ℝ) + 2 = 4 := by norm_num\n"
        "protected theorem Foo.bar : True := trivial\n" + PROOF),
    "tactic forms": body(
        "  open Nat renaming succ → s, pred → p in\n"
        "  set_option maxRecDepth 2000 in\n"
        "  have h1 : ([1, 2, 3] : List ℕ)[0]'(by simp) = 1 := rfl\n"
        "  have h2 : '\"' = '\"' := rfl\n"
        "  have h₀' := h₀\n"
        "  have h3 : Fin.init (fun _ : Fin 2 => 0) = fun _ => 0 := rfl\n"
        "  have h4 : (Std.Range.mk 0 3 1 (by decide)).stop = 3 := rfl\n"
        "  decide (config := { kernel := true }) <;> simp (config := { contextual := true, maxSteps := 100 })\n"
        "  aesop (add unsafe 50% apply mul_pos, safe apply add_pos) (config := { maxRuleApplications := 50 })\n"
        "  field_simp (disch := positivity)\n"
        "  subst h₀\n  norm_num\n"),
    "interpolated string with harmless code": body(
        "  have : s!\"{1 + 1}\" = \"2\" := rfl\n  subst h₀\n  norm_num\n"),
    "#check and #print axioms around the target": (
        "#check Real.sqrt\n" + PROOF + "\n#print axioms two_add_two\n"),
    "comments everywhere": (
        "/-! module doc /- nested -/ -/\n-- sorry in a comment\n/-- doc of aux\n  with `sorry` -/\n"
        "lemma aux : True := /- admit -/ trivial\n" + PROOF),
}


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_forms_pass(name):
    result = audit(LEGIT[name], PROBLEM)
    assert result.accepted, result.reasons


def test_capped_options_are_written_capped_in_the_assembled_file():
    proof = ("set_option maxHeartbeats 0\nset_option maxRecDepth 0\n"
             "set_option synthInstance.maxHeartbeats 99999999 in\nlemma aux : True := trivial\n"
             "set_option maxHeartbeats 0 in\n"
             + body("  set_option maxHeartbeats 200000 in\n  subst h₀\n  norm_num\n"))
    result = audit(proof, PROBLEM)
    assert result.accepted, result.reasons
    text = result.assembled().text
    assert "maxHeartbeats 0" not in text and "maxRecDepth 0" not in text
    assert "set_option maxRecDepth 100000\n" in text
    assert "set_option synthInstance.maxHeartbeats 400000 in" in text
    assert "set_option maxHeartbeats 400000 in\ntheorem two_add_two" in text  # the target's own prefix
    assert "  set_option maxHeartbeats 200000 in" in text  # below the cap: kept


def test_model_text_order_is_kept_around_the_target():
    proof = "open Real\nlemma a : True := trivial\n" + PROOF + "\nlemma b : True := trivial\n#print axioms b\n"
    result = audit(proof, PROBLEM)
    assert result.accepted, result.reasons
    parts = result.parts
    assert [parts.command_text(c).split("\n")[0] for c in parts.aux] == ["open Real", "lemma a : True := trivial"]
    assert [parts.command_text(c) for c in parts.after] == ["lemma b : True := trivial", "#print axioms b"]
    assert [c.head for c in parts.model] == ["open", "lemma", "theorem", "lemma", "#print"]
    text = result.assembled().text
    assert text.index("lemma a") < text.index("theorem two_add_two") < text.index("lemma b")
