"""Sketch parsing, the lemma DAG, node lemmas, the assembled file, and the text helpers — read
from the sketch's own text, never from pretty-printed goals (extract_goal aside)."""

from __future__ import annotations

import pytest

from formal_support import (
    SKETCH, TOY, Script, add_problem_with_proof, assembled_line, formalize, lean_block, toy_problem, vote)
from prover.formal.engine import sample_pool
from prover.formal.statement import different_value, goal_copies_answer, replace_answer
from prover.formal.leantext import extract_lean, parse_vote, split_steps, strip_comments
from prover.formal.sketch import negation_problem, parse_sketch
from prover.lean.problem import LeanProblem

PROBLEM = LeanProblem.parse(TOY)


def test_steps_tags_holes_and_goals():
    sk = parse_sketch(SKETCH.strip(), PROBLEM)
    assert sk.usable
    have1, have2 = sk.claims
    assert (have1.name, have1.type_text, have1.nl_step, have1.hole, have1.key) == (
        "h2", "a + b = 2 + 3", 1, True, "prover_node_1")
    assert have2.goal.statement() == ("(a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) (h2 : a + b = 2 + 3) : (2 : ℕ) + 3 = 5")
    assert [s.key for s in sk.order()] == ["prover_node_1", "prover_node_2"]
    # h3's statement does not mention h2: independent until a proof of it uses h2.
    assert list(sk.dag().edges) == []
    assert list(sk.dag({"prover_node_2": "by\n  nlinarith [h2]"}).edges) == [("prover_node_1", "prover_node_2")]
    assert sk.closing(have2) == "exact prover_node_2 (a := a) (b := b) (h₀ := h₀) (h₁ := h₁) (h2 := h2)"
    assert sk.node_problem(have1).endswith(
        "theorem prover_node_1 (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 2 + 3 := by\n  sorry\n")
    assert "¬ (∀ (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3), a + b = 2 + 3)" in sk.node_problem(have1, negate=True)
    assert sk.memo_key(have1) == parse_sketch(SKETCH.replace("  -- Step 1", "  -- Step 1, again"),
                                              PROBLEM).memo_key(have1)


def test_dag_edges_come_from_what_a_step_mentions():
    """An edge for an earlier `have` named in a step's statement (or, once proved, its proof) —
    the latest one of that name — and none for steps merely in scope."""
    text = SKETCH.replace("have h3 : (2 : ℕ) + 3 = 5 := by sorry",
                          "have h3 : (2 : ℕ) + 3 = 5 := by sorry\n  have h4 : h2 = h2 ∧ a + b = 5 := by sorry")
    text = text.replace("rw [h2, h3]", "exact h4.2")
    sk = parse_sketch(text.strip(), PROBLEM)
    assert [s.key for s in sk.holes] == ["prover_node_1", "prover_node_2", "prover_node_3"]
    assert list(sk.dag().edges) == [("prover_node_1", "prover_node_3")]
    assert sorted(sk.dag({"prover_node_3": "by\n  exact ⟨rfl, by rw [h2, h3.symm]⟩"}).edges) == [
        ("prover_node_1", "prover_node_3"), ("prover_node_2", "prover_node_3")]
    assert [s.key for s in sk.order()] == ["prover_node_1", "prover_node_2", "prover_node_3"]


def test_assembled_file_closes_holes_with_the_node_lemmas():
    sk = parse_sketch(SKETCH.strip(), PROBLEM)
    text = sk.assemble({"prover_node_1": "by\n  omega", "prover_node_2": "by\n  norm_num"})
    assert text.index("theorem prover_node_1") < text.index("theorem prover_node_2") < text.index("theorem toy_sum")
    assert "have h2 : a + b = 2 + 3 := by exact prover_node_1 (a := a)" in text and "sorry" not in text
    assert "rw [h2, h3]" in text


def test_term_holes_nested_holes_and_context_changes():
    text = ("theorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by\n"
            "  -- Step 2\n  have h3 : b = 3 := sorry\n"
            "  have h4 : a = 2 := by\n    cases a\n    · sorry\n    · sorry\n"
            "  subst h₀\n  -- Step 1\n  have h5 : 2 + b = 5 := by sorry\n  sorry")
    sk = parse_sketch(text, PROBLEM)
    kinds = [(s.kind, s.name, s.hole, s.term_hole, s.nl_step, s.needs_extract) for s in sk.steps]
    assert kinds == [("have", "h3", True, True, 2, False), ("have", "h4", False, False, None, False),
                     ("nested", None, True, False, None, True), ("nested", None, True, False, None, True),
                     ("have", "h5", True, False, 1, True), ("final", None, True, False, None, True)]
    assert sk.closing(sk.steps[0]) == "(prover_node_1 (a := a) (b := b) (h₀ := h₀) (h₁ := h₁))"
    assert sk.with_extract_goal().count("(extract_goal; sorry)") == 4


def test_a_sketch_with_other_sorries_or_a_changed_statement_is_not_usable():
    changed = parse_sketch(SKETCH.replace("a + b = 5 := by", "a + b = 6 := by", 1), PROBLEM)
    assert not changed.usable and changed.reasons[0].code.value == "target-mismatch"
    native = parse_sketch(SKETCH.replace("rw [h2, h3]", "native_decide"), PROBLEM)
    assert not native.usable and native.reasons[0].code.value == "native"


def test_negation_of_the_root_is_closed_over_its_binders():
    neg = negation_problem(PROBLEM)
    assert neg.endswith("theorem prover_root_neg : ¬ (∀ (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3), a + b = 5) := by\n"
                        "  sorry\n")
    assert LeanProblem.parse(neg).target.full_name == "prover_root_neg"


def test_reading_model_outputs():
    out = "<think>```lean4\nwrong\n```</think>text\n```lean4\nfirst\n```\nmore\n```lean\nsecond\n```"
    assert extract_lean(out) == "second"
    assert extract_lean("<think>x</think>no code") is None
    assert extract_lean("```lean4\ntheorem t : True := by\n  trivial") == "theorem t : True := by\n  trivial"
    assert parse_vote("<think>\\boxed{no}</think> so \\boxed{yes}") is True
    assert parse_vote("\\boxed{No}") is False and parse_vote("yes") is None
    assert split_steps("Step 1. a\nmore a\n\nStep 2. b\n3. c") == ["Step 1. a\nmore a", "Step 2. b", "3. c"]
    assert len(split_steps("\n\n".join(f"p{i}" for i in range(30)), max_steps=5)) == 5
    assert strip_comments("/-- doc -/\ntheorem t : True := by -- note\n  trivial /- x -/\n") == \
        "theorem t : True := by\n  trivial\n"


def test_answer_checks():
    assert goal_copies_answer("(5 : ℕ) = 5", "5") and goal_copies_answer("((5)) = (5 : ℤ)", "$5$")
    assert not goal_copies_answer("2 ^ 100 % 7 = 2", "2") and not goal_copies_answer("x = x", "5")
    assert (different_value("5"), different_value("-3"), different_value("2.5"), different_value("\\pi")) == (
        "6", "-2", "3.5", None)
    p = LeanProblem.parse("import Mathlib\n\ntheorem t : (2 : ℕ) + 3 = 5 := by sorry")
    assert replace_answer(p, "5", "6").endswith("theorem t : (2 : ℕ) + 3 = 6 := by sorry")
    assert replace_answer(p, "7", "8") is None


def test_random_sample_and_inclusion_probability():
    pool = {5: "a", 3: "b", 9: "c", 1: "d"}
    drawn, prob = sample_pool(pool, 2, seed=0, problem_key="c/p/h")
    assert len(drawn) == 2 and set(drawn) <= {1, 3, 5, 9} and prob == 0.5
    assert sample_pool(pool, 2, seed=0, problem_key="c/p/h")[0] == drawn
    small, everyone = sample_pool({1: "a", 2: "b"}, 5, seed=0, problem_key="k")
    assert sorted(small) == [1, 2] and everyone == 1.0
    assert sample_pool({}, 3, seed=0, problem_key="k") == ([], None)


@pytest.mark.timeout(120)
def test_hole_after_intro_takes_its_goal_from_extract_goal(fstore, world):
    """After `intro n` the text no longer gives the hole's context: the engine elaborates the
    sketch with `extract_goal` at the hole and states the node from its message.

    Synthetic Lean responses: the `extract_goal` info message is modelled on the output that
    Mathlib's test/ExtractGoal.lean pins with `#guard_msgs` (`theorem extracted_1 (i j k : ℕ)
    (h₀ : i ≤ j) (h₁ : j ≤ k) : i ≤ k := sorry`), put at the hole's line; the rest as in
    formal_support.py."""
    stmt = "import Mathlib\n\ntheorem add_zero' : ∀ n : ℕ, n + 0 = n := by sorry\n"
    record = toy_problem("mini", "add_zero", statement="Prove that n + 0 = n for every natural number n.")
    record = record.model_copy(update={"formal_statements": [record.formal_statements[0].model_copy(
        update={"statement": "theorem add_zero' : ∀ n : ℕ, n + 0 = n := by sorry\n"})]})
    proof_id = add_problem_with_proof(fstore, record, "Step 1. Adding zero changes nothing: n + 0 = n.")
    sketch = ("theorem add_zero' : ∀ n : ℕ, n + 0 = n := by\n  intro n\n  -- Step 1\n"
              "  have h1 : n + 0 = n := by sorry\n  exact h1")
    problem = LeanProblem.parse(stmt)
    sk = parse_sketch(sketch, problem)
    [hole] = sk.holes
    variant = sk.with_extract_goal()
    line = assembled_line(stmt, variant, sk.hole_line(hole))
    info = {"severity": "info", "pos": {"line": line, "column": 34}, "endPos": {"line": line, "column": 46},
            "data": "theorem extracted_1 (n : ℕ) : n + 0 = n := sorry"}
    world.statement_elaborates(stmt).sketch_elaborates(stmt, variant, extra=[info])
    node = "import Mathlib\n\ntheorem prover_node_1 (n : ℕ) : n + 0 = n := by\n  sorry\n"
    world.proves(node, LeanProblem.parse(node).with_proof("by\n  omega"))
    sk.set_extracted(hole, info["data"])
    final = sk.assemble({"prover_node_1": "by\n  omega"})
    assert "have h1 : n + 0 = n := by exact prover_node_1 (n := n)" in final
    world.proves(stmt, final)
    script = Script([("prover", "Complete the Lean 4 proof", lean_block("theorem nope : True := trivial")),
                     ("formalizer", "Write a Lean 4 proof sketch", lean_block(sketch)),
                     ("formalizer", "Restate, in plain", "<think>.</think>n + 0 = n."),
                     ("judge", "formal step below", vote(True))])
    result, _ = formalize(fstore, world, script, proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified", result.stop_reason
    [step] = [s for s in fstore.formal_rows("step", attempt_id=result.attempt_id) if s.hole]
    assert (step.context_source, step.statement, step.solved_by) == ("extract_goal", "(n : ℕ) : n + 0 = n",
                                                                     "portfolio:omega")


def test_answer_slots_are_filled_from_the_sketch():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "fixtures" / "data" / "lean" / "putnam" / "putnam_1962_a2.lean").read_text()
    problem = LeanProblem.parse(text)
    header = problem.target.header_text
    sketch = (f"abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := {{f | 0 ≤ f}}\n\n{header} := by\n"
              "  -- Step 1\n  have h1 : ∀ f, P (Ioi 0) f → 0 ≤ f := by sorry\n  sorry")
    sk = parse_sketch(sketch, problem)
    assert sk.usable and sk.slot_bodies == {"putnam_1962_a2_solution": "{f | 0 ≤ f}"}
    node = sk.node_problem(sk.holes[0])
    assert "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := {f | 0 ≤ f}" in node and "sorry\n-- {f |" not in node
    lemma = LeanProblem.parse(node)
    assert lemma.target.full_name == "prover_node_1" and lemma.answer_slots == []
    assert "(P_def : ∀ s f, P s f ↔" in sk.holes[0].goal.statement()
    unfilled = parse_sketch(sketch.replace("{f | 0 ≤ f}", "sorry", 1), problem)
    assert not unfilled.usable and "answer-slot-unfilled" in [r.code.value for r in unfilled.reasons]
