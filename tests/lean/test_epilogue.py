"""The trusted prologue, fingerprint and epilogue, shown verbatim for three problems of the shared
data (miniF2F; ProofNet with a preamble `def`; PutnamBench with an answer slot), ProverCheck's
Lean source, and the report format the verdict accepts.

NOTHING HERE WAS EVER COMPILED OR ELABORATED: no Lean toolchain exists where these tests were
written. ProverCheck.lean, the prologues and the epilogue invocations below are what the code
produces; lean_project/README.md lists what a first run on real Lean must confirm."""

from __future__ import annotations

import json
import re

import pytest

from prover.core.lean_records import LeanLimits
from prover.lean.assemble import with_nonce
from prover.lean.audit import audit
from prover.lean.epilogue import (NONCE_PLACEHOLDER, CheckReport, epilogue_command, new_nonce, parse_check_message,
                                  prover_check_source, without_check_messages)
from prover.lean.problem import LeanProblem
from prover.lean.toolchain import REPO_ROOT

P = NONCE_PLACEHOLDER


def _jsonl(path, name, must=""):
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["name"] == name and must in row["header"]:
            return row["header"] + row["formal_statement"]
    raise AssertionError(name)


# -- the three problems, verbatim --------------------------------------------------------------

MINIF2F = f"""import Mathlib

import Aesop

import ProverCheck

set_option Elab.async false

set_option maxHeartbeats 400000

open BigOperators Real Nat Topology Rat

axiom _prover_fp (z : ℂ) (h₀ : z = (1 + Complex.I) / Real.sqrt 2) :
  ((∑ k : ℤ in Finset.Icc 1 12, z ^ k ^ 2) * (∑ k : ℤ in Finset.Icc 1 12, 1 / z ^ k ^ 2)) = 36

theorem amc12a_2019_p21 (z : ℂ) (h₀ : z = (1 + Complex.I) / Real.sqrt 2) :
  ((∑ k : ℤ in Finset.Icc 1 12, z ^ k ^ 2) * (∑ k : ℤ in Finset.Icc 1 12, 1 / z ^ k ^ 2)) = 36
                                                                                               := by
  subst h₀
  norm_num

#prover_check amc12a_2019_p21 _prover_fp "{P}"
"""


def test_minif2f_prologue_fingerprint_and_epilogue(data_dir):
    """miniF2F (DeepSeek-Prover-V1.5's minif2f.jsonl): `set_option maxHeartbeats 0` becomes the
    configured limit, recorded; `import ProverCheck` follows the problem's imports."""
    problem = _jsonl(data_dir / "minif2f" / "deepseek-prover-v1.5" / "minif2f.jsonl", "amc12a_2019_p21")
    proof = problem + "\n  subst h₀\n  norm_num\n"
    a = audit(proof, problem).assembled(LeanLimits())
    assert a.text == MINIF2F.replace(":= by\n  subst", ":= by\n\n  subst")
    assert a.replaced == ("maxHeartbeats 0 → 400000 at problem line 4",)
    assert [s.zone for s in a.segments] == ["preamble", "preamble", "prologue", "prologue", "preamble", "preamble",
                                            "fingerprint", "target", "target", "check"]


PROOFNET = f"""import Mathlib

import ProverCheck

set_option Elab.async false

set_option maxHeartbeats 400000

open Topology Filter Real Complex TopologicalSpace Finset

open scoped BigOperators

noncomputable def f : ℕ → ℝ
| 0 => sqrt 2
| (n + 1) => sqrt (2 + sqrt (f n))

axiom _prover_fp
  : ∃ (x : ℝ), Tendsto f atTop (𝓝 x) ∧ ∀ n, f n < 2

lemma f_lt_two (n : ℕ) : f n < 2 := by
  induction n <;> simp_all [f]

theorem exercise_3_3
  : ∃ (x : ℝ), Tendsto f atTop (𝓝 x) ∧ ∀ n, f n < 2
                                                    := by
  exact ⟨2, tendsto_const_nhds, f_lt_two⟩

#prover_check exercise_3_3 _prover_fp "{P}"
"""


def test_proofnet_with_a_preamble_def(data_dir):
    """ProofNet (DeepSeek-Prover-V1.5's proofnet.jsonl, the `exercise_3_3` whose header defines
    `f`): the problem's `def` stays in the prologue, the fingerprint mentions it, the model's
    lemma comes after the fingerprint."""
    problem = _jsonl(data_dir / "proofnet" / "deepseek-prover-v1.5" / "proofnet.jsonl", "exercise_3_3", "def f")
    header = problem[:problem.index("theorem exercise_3_3")]
    proof = (header + "lemma f_lt_two (n : ℕ) : f n < 2 := by\n  induction n <;> simp_all [f]\n\n"
             + problem[len(header):] + " by\n  exact ⟨2, tendsto_const_nhds, f_lt_two⟩\n")
    a = audit(proof, problem).assembled(LeanLimits())
    assert a.text == PROOFNET
    assert a.replaced == ()


PUTNAM_SLOT = "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ)\n                                             := ∅"
PUTNAM_STATEMENT = """
    (P : Set ℝ → (ℝ → ℝ) → Prop)
    (P_def : ∀ s f, P s f ↔ 0 ≤ f ∧ ∀ x ∈ s, ⨍ t in Ico 0 x, f t = √(f 0 * f x)) :
    (∀ f,
      (P (Ioi 0) f → ∃ g ∈ putnam_1962_a2_solution, EqOn f g (Ici 0)) ∧
      (∀ e > 0, P (Ioo 0 e) f → ∃ g ∈ putnam_1962_a2_solution, EqOn f g (Ico 0 e))) ∧
    ∀ f ∈ putnam_1962_a2_solution, P (Ioi 0) f ∨ (∃ e > 0, P (Ioo 0 e) f)"""
PUTNAM_PROLOGUE = f"""import Mathlib

import ProverCheck

set_option Elab.async false

set_option maxHeartbeats 400000

open MeasureTheory Set

{PUTNAM_SLOT}
"""
PUTNAM = f"""{PUTNAM_PROLOGUE}
axiom _prover_fp{PUTNAM_STATEMENT}

lemma helper : True := trivial

theorem putnam_1962_a2{PUTNAM_STATEMENT}
                                                                          := by
  constructor <;> simp

#prover_check putnam_1962_a2 _prover_fp "{P}"
"""
PUTNAM_REF = ("{f | (∃ a c : ℝ, 0 ≤ a ∧ f = (fun x : ℝ ↦ a / (1 - c * x) ^ 2)) ∨ (∃ a c : ℝ, 0 ≤ a ∧ 0 < c ∧ "
              "f = (fun x : ℝ ↦ if x < 1 / c then a / (1 - c * x) ^ 2 else 0)) ∨ (0 ≤ f ∧ ∀ x : ℝ, 0 < x → f x = 0) "
              "∨ (∃ e : ℝ, 0 < e ∧ f 0 = 0 ∧ 0 ≤ f ∧ ∀ x ∈ Ioo (0 : ℝ) e, (⨍ t in Ico (0 : ℝ) x, f t) = 0)}")
N = "putnam_1962_a2_solution"
PUTNAM_ANSWER = f"""{PUTNAM_PROLOGUE}
axiom _prover_answer_fp_eq_1 : {N} = (
    {PUTNAM_REF})

theorem _prover_answer_eq_1 : {N} = (
    {PUTNAM_REF}) :=
  by first | rfl | decide | (norm_num [{N}]; done) | (simp [{N}]; done) | ((ext <;> simp [{N}]); done)

axiom _prover_answer_fp_ne_1 : {N} ≠ (
    {PUTNAM_REF})

theorem _prover_answer_ne_1 : {N} ≠ (
    {PUTNAM_REF}) :=
  by first | decide | (norm_num [{N}]; done) | (simp [{N}]; done)

#prover_check _prover_answer_eq_1 _prover_answer_fp_eq_1 "{P}"

#prover_check _prover_answer_ne_1 _prover_answer_fp_ne_1 "{P}"
"""


def putnam_problem(data_dir) -> str:
    return (data_dir / "putnambench" / "trishullab-PutnamBench" / "lean4" / "src" / "putnam_1962_a2.lean").read_text()


def putnam_proof(problem: str) -> str:
    p = LeanProblem.parse(problem)
    return ("lemma helper : True := trivial\n\nabbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := ∅\n\n"
            + p.target.header_text + " := by\n  constructor <;> simp\n")


def test_putnambench_with_an_answer_slot(data_dir):
    """PutnamBench (trishullab/PutnamBench `putnam_1962_a2.lean`): the filled slot comes before
    the fingerprint, which names it; the reference comment never reaches the checked file."""
    problem = putnam_problem(data_dir)
    a = audit(putnam_proof(problem), problem).assembled(LeanLimits())
    assert a.text == PUTNAM
    assert "0 ≤ a ∧ f = (fun x" not in a.text


def test_putnambench_answer_check_file(data_dir):
    """The answer check: only the prologue and the filled slot, then `NAME = ref` and `NAME ≠ ref`
    behind fingerprints, each with its own `#prover_check`; the reference is the stored comment."""
    from prover.lean.answer import assemble_answer_check, problem_references

    problem = putnam_problem(data_dir)
    result = audit(putnam_proof(problem), problem)
    refs = problem_references(result.problem)
    assert refs == {N: PUTNAM_REF}
    f = assemble_answer_check(result.problem, result.parts, refs)
    assert f.assembled.text == PUTNAM_ANSWER
    assert "lemma helper" not in f.assembled.text  # no model text beyond the slot's body
    lines = f.assembled.text.splitlines()
    assert lines[f.eq_checks[0] - 1].startswith("#prover_check _prover_answer_eq_1 ")
    assert lines[f.ne_checks[0] - 1].startswith("#prover_check _prover_answer_ne_1 ")
    assert lines[f.eq_lines[0][0] - 1].startswith("theorem _prover_answer_eq_1")
    assert lines[f.ne_lines[0][1] - 1].startswith("  by first | decide")


# -- ProverCheck's source -------------------------------------------------------------------------

ELABORATOR = '''syntax (name := proverCheck) "#prover_check " ident ident str ("[" ident,* "]")? : command

@[command_elab proverCheck] def elabProverCheck : CommandElab := fun stx => do
  -- Names are taken exactly as written (`getId`): no `open`, namespace or alias can redirect them.
  let target := stx[1].getId
  let fp := stx[2].getId
  let some nonce := stx[3].isStrLit?
    | throwError "prover_check: the nonce is not a string literal"
  unless validNonce nonce do
    throwError "prover_check: the nonce is not 32 lowercase hexadecimal digits"
  let list := stx[4]
  let consts : Option (Array Name) :=
    if list.isNone then none else some (list[1].getSepArgs.map (·.getId))
  withScope (fun sc => { sc with opts := checkOptions }) do
    let outcome ← liftCoreM (runCheck target fp consts)
    logInfo (outcome.render nonce)

end ProverCheck
'''
RENDER = '''def Outcome.render (o : Outcome) (nonce : String) : String :=
  let axs := if o.axioms.isEmpty then "-" else ",".intercalate (o.axioms.toList.map toString)
  let srr := if o.usesSorry then "1" else "0"
  let usd := o.used.getD "-"
  s!"prover_check {formatVersion} nonce={nonce} status={o.status} type={o.typeCheck} " ++
    s!"axioms={axs} sorry={srr} other={o.other} used={usd}"
'''
KERNEL_COMPARISON = '''  let levels := fpVal.levelParams.map mkLevelParam
  let decl :=
    if isThm then
      Declaration.thmDecl {
        name := checkName, levelParams := fpVal.levelParams, type := fpVal.type,
        value := mkConst target levels, all := [checkName] }
    else
      Declaration.defnDecl {
        name := checkName, levelParams := fpVal.levelParams, type := fpVal.type,
        value := mkConst target levels, hints := .opaque, safety := .safe, all := [checkName] }
  let typeOk ← withoutModifyingEnv do
    try
      addDecl decl
      pure true
    catch _ =>
      pure false
  let axs ← collectAxioms target
'''


def test_prover_check_source_verbatim():
    """ProverCheck.lean (never compiled): the command's syntax and elaborator, the message it
    renders, and the kernel comparison, verbatim; the Lake project builds it as a library."""
    source = prover_check_source()
    assert source == (REPO_ROOT / "lean_project" / "ProverCheck.lean").read_text(encoding="utf-8")
    assert source.endswith(ELABORATOR)
    assert RENDER in source and KERNEL_COMPARISON in source
    assert source.count("logInfo") == 1  # exactly one message
    assert "def formatVersion : Nat := 1" in source
    assert "import Lean\n" in source and "import Mathlib" not in source
    lakefile = (REPO_ROOT / "lean_project" / "lakefile.toml").read_text()
    assert '[[lean_lib]]\nname = "ProverCheck"' in lakefile
    statuses = set(re.findall(r'status := "([a-z-]+)"', source))
    from prover.lean.epilogue import STATUSES
    assert statuses | {"ok"} == set(STATUSES)


# -- the report format ---------------------------------------------------------------------------

def test_epilogue_command_takes_literal_names():
    assert epilogue_command("Foo.bar") == f'#prover_check Foo.bar _prover_fp "{P}"'
    assert epilogue_command("Foo.a b", "ab" * 16, ("Foo.step_1", "end")) == \
        '#prover_check Foo.«a b» _prover_fp "' + "ab" * 16 + '" [Foo.step_1, «end»]'


def test_reports_parse_only_whole_and_canonical():
    n = "0123456789abcdef" * 2
    text = f"prover_check 1 nonce={n} status=ok type=match axioms=propext,Quot.sound sorry=0 other=0 used=101"
    r = parse_check_message(text)
    assert r == CheckReport(nonce=n, status="ok", type_check="match", axioms=("propext", "Quot.sound"), sorry=False,
                            other_axioms=0, used="101")
    assert r.render() == text
    assert r.constants_used(("a", "b", "c")) == {"a": True, "b": False, "c": True}
    assert r.constants_used(("a",)) is None
    for bad in (text + "\n", " " + text, text.replace("other=0", "other=00"), text.replace("used=101", "used=1 0"),
                text.replace(n, n.upper()), text.replace(n, n[:-1]),
                text.replace("axioms=propext,", "axioms=propext,,"),
                text.replace("propext,Quot.sound", "Lean.ofReduceBool"), text.replace("type=match", "type=Match")):
        assert parse_check_message(bad) is None, bad


def test_nonces_are_fresh_and_never_in_the_key(data_dir):
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50 and all(re.fullmatch(r"[0-9a-f]{32}", n) for n in nonces)
    problem = putnam_problem(data_dir)
    a = audit(putnam_proof(problem), problem).assembled(LeanLimits())
    n = new_nonce()
    sent = a.with_nonce(n)
    assert sent.replace(n, P) == a.text and len(sent) == len(a.text)
    assert sent.splitlines()[a.axioms_line - 1] == f'#prover_check putnam_1962_a2 _prover_fp "{n}"'
    # a nonce-like string elsewhere in the file is left alone
    assert with_nonce(f'-- "{P}"\n#prover_check t _prover_fp "{P}"\n', n) == \
        f'-- "{P}"\n#prover_check t _prover_fp "{n}"\n'
    req = a.request(toolchain="leanprover/lean4:v4.27.0")
    assert req.assembled == a.text and n not in req.cache_key


def test_epilogue_messages_never_reach_a_prompt():
    msgs = [{"severity": "info", "data": f"prover_check 1 nonce={P} status=ok"},
            {"severity": "error", "data": "unsolved goals"}]
    assert without_check_messages(msgs) == msgs[1:]


@pytest.mark.parametrize("target", ["Foo.bar", "«weird name»"])
def test_namespaced_and_quoted_targets(target):
    if target == "Foo.bar":
        problem = "namespace Foo\n\ntheorem bar : True := sorry\n\nend Foo\n"
        a = audit("theorem bar : True := trivial\n", problem).assembled()
        assert "axiom _root_._prover_fp : True\n" in a.text
        assert a.text.endswith(f'end Foo\n\n#prover_check Foo.bar _prover_fp "{P}"\n')
    else:
        problem = "theorem «weird name» : True := sorry\n"
        a = audit("theorem «weird name» : True := trivial\n", problem).assembled()
        assert a.text.endswith(f'#prover_check «weird name» _prover_fp "{P}"\n')


def test_prover_check_source_is_in_the_key(data_dir):
    """A new ProverCheck may judge the same file differently: its source's hash is in every key."""
    from prover.lean.epilogue import check_library_hash

    problem = putnam_problem(data_dir)
    req = audit(putnam_proof(problem), problem).assembled(LeanLimits()).request(toolchain="leanprover/lean4:v4.27.0")
    assert req.check_library == check_library_hash() and len(check_library_hash()) == 64
    assert req.model_copy(update={"check_library": "0" * 64}).cache_key != req.cache_key


def test_has_epilogue_tells_old_files_apart():
    from prover.lean.epilogue import has_epilogue

    assert has_epilogue(f'theorem t : True := trivial\n\n#prover_check t _prover_fp "{P}"\n\n')
    assert not has_epilogue("theorem t : True := trivial\n\n#print axioms t\n")
    assert not has_epilogue("")
