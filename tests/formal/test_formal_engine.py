"""The formal stage on one proof, every branch, with the scripted model and the fake REPL behind
the real REPL pool.

Synthetic Lean responses: no response here was produced by Lean for these files. Each is
assembled from recorded message templates (see formal_support.py): the repl test suite's
`declaration uses 'sorry'` warning and `unsolved goals` error, and the `#print axioms` report
pinned by `#guard_msgs` in VCA-EPFL/graphiti with the target's name and line put in. The scripted
model proves wiring and bookkeeping, never proving skill; no success rate is computed here."""

from __future__ import annotations

import pytest
from formal_support import NL_PROOF, SKETCH, TOY, TOY_HEADER, Script, formalize, lean_block, vote

from prover.formal.evidence import formal_one_conditions, negative_refutations, supports_formal_one
from prover.formal.sketch import parse_sketch
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(120)

DIRECT = TOY.replace(":= by sorry", ":= by\n  subst h₀ h₁\n  rfl")
WRONG = TOY.replace(":= by sorry", ":= by\n  simp")
# A sketch's nodes, as the engine states them (parsed with the library, as the engine does).
NODES = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))


def node_text(key: str, negate: bool = False) -> str:
    step = next(s for s in NODES.holes if s.key == key)
    return NODES.node_problem(step, negate=negate)


def node_proof(key: str, body: str, negate: bool = False) -> str:
    return LeanProblem.parse(node_text(key, negate)).with_proof(body)


def base_rules(**over):
    """The scripted model: direct attempts fail, the sketch is SKETCH, judges agree."""
    rules = {
        "direct": ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think", lean_block(WRONG)),
        "sketch": ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        "sketch_repair": ("formalizer", "proof sketch below does not elaborate", lean_block(SKETCH)),
        "back": ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
        "align": ("judge", "formal step below", vote(True)),
        "node": ("prover", "It is one step of a larger proof",
                 lean_block(node_proof("prover_node_2", "by\n  linarith"))),
        "repair": ("prover", "does not check", lean_block(node_proof("prover_node_2", "by\n  linarith [h2]"))),
    }
    rules.update(over)
    return Script(list(rules.values()))


def tries(store, **where):
    return store.formal_rows("try", **where)


def test_direct_attempt_succeeds(fstore, world):
    world.statement_elaborates(TOY).proves(TOY, DIRECT)
    result, backend = formalize(fstore, world, base_rules(direct=("prover", "Complete the Lean 4 proof",
                                                                  lean_block(DIRECT))),
                                fstore.proof_id, direct_attempts=2)
    assert (result.status, result.root_closed_by, result.statement_source) == ("statement_proved", "direct", "given")
    ev = fstore.formal_evidence(result.attempt_id)
    assert ev["root_closed_independently"] and ev["statement"]["trusted"] and ev["statement"]["faithful"]
    assert ev["sketch_id"] is None and not supports_formal_one(ev)
    assert formal_one_conditions(ev)["root_not_closed_independently"] is False
    check = _check(fstore, ev["direct_check_id"])
    assert check.verdict == "verified" and check.formal_statement_id is not None
    stages = [t.stage for t in tries(fstore, attempt_id=result.attempt_id)]
    assert stages == ["root-portfolio"] * 8 + ["direct"]
    assert [c.role for c in backend.calls] == ["prover", "prover"]  # pass@2: both samples asked
    # The prompt carries the formal statement, never the NL proof's verdicts or a reference.
    assert TOY_HEADER in backend.calls[0].messages[-1].content


def _check(store, check_id):
    from prover.store.schema import LeanCheck

    with store.session() as s:
        return s.get(LeanCheck, check_id)


def test_portfolio_closes_the_root(fstore, world):
    world.statement_elaborates(TOY).proves(TOY, TOY.replace(":= by sorry", ":= by\n  omega"))
    result, backend = formalize(fstore, world, base_rules(), fstore.proof_id)
    assert (result.status, result.root_closed_by) == ("statement_proved", "portfolio:omega")
    assert backend.calls == []  # no model needed


def test_sketch_that_does_not_elaborate_is_repaired_then_given_up(fstore, world):
    """Both sketches fail to elaborate (the default answer is Lean's `unsolved goals` error); the
    second prompt is a repair carrying Lean's message."""
    world.statement_elaborates(TOY)
    result, backend = formalize(fstore, world, base_rules(), fstore.proof_id, direct_attempts=1, refute=False)
    assert result.status == "sketch_failed" and "no sketch elaborated" in result.stop_reason
    sketches = fstore.formal_rows("sketch", attempt_id=result.attempt_id)
    assert [s.status for s in sketches] == ["not_elaborated", "not_elaborated"]
    assert sketches[1].repair_of == sketches[0].id and sketches[0].messages[0]["data"].startswith("unsolved goals")
    repair = [c for c in backend.calls if c.role == "formalizer"][1].messages[-1].content
    assert "does not elaborate" in repair and "unsolved goals" in repair and "have h2" in repair
    assert fstore.formal_rows("step", attempt_id=result.attempt_id) == []


def verified_world(world, *, node2_body: str = "by\n  nlinarith [h2]", used: str = "11"):
    """Node 1 closes with `omega` (the portfolio); node 2 only with the prover's third try. The
    assembled file's epilogue report says which node lemmas its proof term uses (``used``: one
    digit per node, in sketch order — a synthetic report in the recorded message shape)."""
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2"), node_proof("prover_node_2", node2_body))
    final = NODES.assemble({"prover_node_1": "by\n  omega", "prover_node_2": node2_body})
    world.proves(TOY, final, used=used)
    return final


def repairs_script(**over):
    attempts = {"n": 0}

    def node2(call):
        attempts["n"] += 1
        body = "by\n  nlinarith [h2]" if attempts["n"] == 3 else f"by\n  linarith [h2, attempt_{attempts['n']}]"
        return lean_block(node_proof("prover_node_2", body))

    rules = dict(node=("prover", "It is one step of a larger proof", node2),
                 repair=("prover", "does not check", node2))
    rules.update(over)
    return base_rules(**rules), attempts


def test_portfolio_node_then_two_repairs_then_verified(fstore, world):
    final = verified_world(world)
    script, attempts = repairs_script()
    result, backend = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified", result.stop_reason
    assert (result.nodes, result.nodes_solved, result.steps_aligned, result.final_verdict) == (2, 2, True, "verified")
    steps = {s.node_key: s for s in fstore.formal_rows("step", attempt_id=result.attempt_id) if s.hole}
    assert steps["prover_node_1"].solved_by == "portfolio:omega"
    assert steps["prover_node_2"].solved_by == "repair:2" and attempts["n"] == 3
    assert steps["prover_node_2"].depends_on == ["prover_node_1"] and steps["prover_node_2"].uses_steps == ["h2"]
    assert steps["prover_node_1"].nl_step_index == 1 and "a + b = 2 + 3" in steps["prover_node_1"].nl_step
    node2 = tries(fstore, step_id=steps["prover_node_2"].id)
    assert [(t.stage, t.success) for t in node2] == [("portfolio", False)] * 8 + [
        ("prover", False), ("repair", False), ("repair", True)]
    assert node2[-1].parent_id == node2[-2].id and node2[-2].parent_id == node2[-3].id
    # The repair prompt carried Lean's message and the failed code.
    repair_prompts = [c.messages[-1].content for c in backend.calls if "does not check" in c.messages[-1].content]
    assert len(repair_prompts) == 2 and "unsolved goals" in repair_prompts[0] and "attempt_1" in repair_prompts[0]
    # Only the whole file's verdict counts: it is the assembled sketch, stored as a Lean check.
    ev = fstore.formal_evidence(result.attempt_id)
    assert supports_formal_one(ev), formal_one_conditions(ev)
    assert _check(fstore, ev["final_check_id"]).proof_text == final
    # The final check's epilogue asked about both node lemmas; its report said both are used.
    assert ev["closing_uses"] == {"prover_node_1": True, "prover_node_2": True}
    [sent] = [r["request"]["cmd"] for r in world.requests() if "theorem prover_node_2" in r["request"]["cmd"]
              and "theorem toy_sum" in r["request"]["cmd"]]
    assert sent.rstrip().splitlines()[-1].endswith(" [prover_node_1, prover_node_2]")
    sketch = fstore.formal_rows("sketch", attempt_id=result.attempt_id)[-1]
    assert sketch.dag["edges"] == [{"source": "prover_node_1", "target": "prover_node_2"}]
    votes = [v for s in steps.values() for v in fstore.formal_rows("vote", step_id=s.id)]
    assert len(votes) == 6 and all(v.vote for v in votes)
    assert result.feedback == 0 and fstore.formal_rows("feedback") == []


def test_misaligned_step_blocks_the_formal_label(fstore, world):
    verified_world(world)
    script, _ = repairs_script(align=("judge", "formal step below",
                                      lambda call: vote("Natural-language step 1:" in call.messages[-1].content)))
    result, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified" and result.steps_aligned is False
    ev = fstore.formal_evidence(result.attempt_id)
    assert [s["aligned"] for s in ev["steps"] if s["kind"] == "have"] == [True, False]
    assert formal_one_conditions(ev) == {"statement_faithful": True, "descends_from_sketch": True,
                                         "steps_aligned": False, "steps_used": True,
                                         "root_not_closed_independently": True, "file_verified": True}
    assert not supports_formal_one(ev)


def test_closing_proof_that_skips_a_step_blocks_the_formal_label(fstore, world):
    """The file verifies and every step is aligned, but the epilogue's report says node 2's lemma
    does not occur in the target's proof term (``used=10``): no formal 1."""
    verified_world(world, used="10")
    script, _ = repairs_script()
    result, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified" and result.steps_aligned is True and result.final_verdict == "verified"
    ev = fstore.formal_evidence(result.attempt_id)
    assert ev["closing_uses"] == {"prover_node_1": True, "prover_node_2": False}
    assert formal_one_conditions(ev) == {"statement_faithful": True, "descends_from_sketch": True,
                                         "steps_aligned": True, "steps_used": False,
                                         "root_not_closed_independently": True, "file_verified": True}
    assert not supports_formal_one(ev)


def test_unsolvable_node_becomes_formal_feedback(fstore, world):
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    result, backend = formalize(fstore, world, base_rules(), fstore.proof_id, direct_attempts=1,
                                repairs_per_node=3, repairs_per_proof=2)
    assert result.status == "unsolved" and (result.nodes_solved, result.nodes_unsolved) == (1, 1)
    [fb] = fstore.formal_rows("feedback", attempt_id=result.attempt_id)
    assert "could not be established formally (possibly a prover limitation)" in fb.text
    assert "step 2 of this proof" in fb.text and "Finally 2 + 3 = 5" in fb.text and "have h3 :" in fb.text
    assert "unsolved goals" in fb.text and "wrong" not in fb.text.replace("is not a finding that the step is wrong", "")
    assert fb.nl_step_index == 2 and fb.proof_id == fstore.proof_id
    # The per-proof repair budget (2) bounds the per-node one (3).
    step2 = next(s for s in fstore.formal_rows("step", attempt_id=result.attempt_id) if s.node_key == "prover_node_2")
    assert [t.stage for t in tries(fstore, step_id=step2.id) if not t.negated].count("repair") == 2
    assert step2.status == "unsolved"
    # Its negation was tried (portfolio, then the prover) and failed: no refutation.
    assert any(t.negated for t in tries(fstore, step_id=step2.id)) and fstore.formal_rows("refutation") == []
    # Formal feedback is never a verification.
    assert fstore.verifications_of(fstore.proof_id) == []


def test_refutation_of_a_step(fstore, world):
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2", negate=True), node_proof("prover_node_2", "by\n  norm_num", negate=True))
    result, _ = formalize(fstore, world, base_rules(), fstore.proof_id, direct_attempts=1, repairs_per_node=0)
    assert result.status == "step_refuted" and result.nodes_refuted == 1
    [ref] = fstore.formal_rows("refutation", attempt_id=result.attempt_id)
    assert ref.what == "step" and ref.faithful is True and not ref.flags_statement
    assert ref.proposition.startswith("¬ (∀ (a b : ℕ)") and "(h2 : a + b = 2 + 3)" in ref.proposition
    assert _check(fstore, ref.check_id).verdict == "verified"
    ev = fstore.formal_evidence(result.attempt_id)
    assert negative_refutations(ev) == ev["refutations"] and not supports_formal_one(ev)


def test_refuting_a_given_statement_flags_it(fstore, world):
    root_neg = ("import Mathlib\n\ntheorem prover_root_neg : ¬ (∀ (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3), a + b = 5) "
                ":= by\n  sorry\n")
    world.statement_elaborates(TOY).proves(root_neg, LeanProblem.parse(root_neg).with_proof("by\n  decide"))
    result, backend = formalize(fstore, world, base_rules(), fstore.proof_id, direct_attempts=1)
    assert result.status == "refuted"
    [ref] = fstore.formal_rows("refutation", attempt_id=result.attempt_id)
    assert (ref.what, ref.statement_given, ref.flags_statement) == ("statement", True, True)
    assert negative_refutations(fstore.formal_evidence(result.attempt_id)) == []
    assert not any(c.role == "formalizer" for c in backend.calls)  # no sketch of a false statement


def test_finished_attempt_is_not_run_again(fstore, world):
    world.statement_elaborates(TOY).proves(TOY, DIRECT)
    script = base_rules(direct=("prover", "Complete the Lean 4 proof", lean_block(DIRECT)))
    first, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1)
    n = len(world.requests())
    again, backend = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1)
    assert again.reused and again.attempt_id == first.attempt_id and again.status == first.status
    assert backend.calls == [] and len(world.requests()) == n
    assert NL_PROOF  # the proof text is what was formalized
