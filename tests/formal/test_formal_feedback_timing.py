"""Formal feedback on time (issue 17, item 3): the feedback of proof P reaches the refinements of
P in the round that refines it — at ``--budget small`` (one refinement round) too — with the step
numbers of P's own text, and an identical command builds identical requests.

Synthetic Lean responses (see formal_support.py): assembled from recorded message templates.
The scripted model proves wiring and bookkeeping, never proving skill."""

from __future__ import annotations

import pytest

from formal_support import (
    NL_PROOF, ROLES, SKETCH, TOY, Script, lean_block, meta_output, model_config, pin, proof_output,
    verdict_output, vote)
from prover.formal.sketch import parse_sketch
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(180)

NODES = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))
FEEDBACK = "could not be established formally (possibly a prover limitation)"

# A refined proof with one more step in front: the step that cannot be formalized is its step 3
# (step 2 of the draft it refines).
EXTRA = "Step 1. Note that a and b are natural numbers given by the hypotheses."
CHILD = EXTRA + "\n\n" + NL_PROOF.replace("Step 2.", "Step 3.").replace("Step 1.", "Step 2.")
CHILD_SKETCH = SKETCH.replace("-- Step 2:", "-- Step 3:").replace("-- Step 1:", "-- Step 2:")


def node(key: str, body: str | None = None) -> str:
    text = NODES.node_problem(next(s for s in NODES.holes if s.key == key))
    return text if body is None else LeanProblem.parse(text).with_proof(body)


def is_refinement(call) -> bool:
    return call.role == "generator" and "--- Solution 0 ---" in call.messages[-1].content


def script(refined_text: str):
    def generator(call):
        return proof_output(refined_text if is_refinement(call) else NL_PROOF)

    def verifier(call):
        # Refined proofs score higher: the next round refines them, not the drafts.
        return verdict_output("0.5" if EXTRA in call.messages[-1].content or "Refined." in call.messages[-1].content
                              else "0")

    def sketch(call):
        return lean_block(CHILD_SKETCH if EXTRA in call.messages[-1].content else SKETCH)

    return Script([
        ("generator", "", generator), ("verifier", "", verifier), ("meta_verifier", "", meta_output("1")),
        ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think",
         lean_block("theorem nope : True := trivial")),
        ("formalizer", "Write a Lean 4 proof sketch", sketch),
        ("formalizer", "Restate, in plain", "<think>.</think>The claim."),
        ("judge", "formal step below", vote(True)),
        ("prover", "It is one step of a larger proof", lean_block(node("prover_node_2", "by\n  linarith"))),
        ("prover", "does not check", lean_block(node("prover_node_2", "by\n  linarith [h2]"))),
    ])


def prepare(world):
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH).sketch_elaborates(TOY, CHILD_SKETCH)
    world.proves(node("prover_node_1"), node("prover_node_1", "by\n  omega"))


def run(store, world, knobs, refined_text: str, schedule: str = "pipelined"):
    from prover.core.formal_records import FormalConfig
    from prover.core.informal_records import SearchConfig
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import FormalSettings
    from prover.pipeline.run import run_informal

    backend = ScriptedBackend(script(refined_text))
    formal = FormalSettings(config=FormalConfig(trusted_collections=("mini",), direct_attempts=1,
                                                repairs_per_node=1, refute=False))
    with world.pool(processes=4) as pool:
        summary = run_informal(store, ["mini/toy"], config=SearchConfig(knobs=knobs), model_config=model_config(),
                               backends={r: backend for r in ROLES}, progress=False, formal=formal,
                               lean=(pool, pin()), schedule=schedule)
    return summary, backend


@pytest.mark.parametrize("schedule", ["pipelined", "barrier"])
def test_budget_small_gives_formal_feedback_to_a_refinement(fstore, world, schedule):
    """One refinement round: each refinement is given the feedback of the proof it refines, under
    either schedule."""
    from prover.core.informal_records import BUDGETS

    prepare(world)
    summary, backend = run(fstore, world, BUDGETS["small"], NL_PROOF + "\n\nRefined.", schedule)
    [r] = summary.results
    assert r.rounds == 2
    refinements = [c.messages[-1].content for c in backend.calls if is_refinement(c)]
    assert refinements and all(FEEDBACK in text for text in refinements)
    proofs = fstore.proofs_of(r.problem_id)
    refined = [p for p in proofs if p.round == 1]
    feedback = fstore.formal_feedback_of([p.parent_ids[0] for p in refined])
    assert refined and all(p.extra["formal_feedback_ids"] == [f.id for f in feedback[p.parent_ids[0]]]
                           and p.extra["formal_feedback_ids"] for p in refined)


def test_a_refinement_gets_its_own_proofs_feedback_with_its_step_numbers(tmp_path, world):
    """Round 2 refines the round-1 proof, whose steps are numbered differently from its parent's:
    its prompt carries that proof's own feedback (step 3), not the parent's (step 2). The same
    command on a fresh database builds the same requests."""
    from prover.core.informal_records import SearchKnobs
    from prover.store import ProofStore

    from formal_support import toy_problem

    prepare(world)
    knobs = SearchKnobs(proofs=1, verifications=1, rounds=2, refine_top=1, analyses_per_refinement=1,
                        meta_verifications=1)
    requests = []
    for name in ("a", "b"):
        store = ProofStore.open(tmp_path / f"{name}.db")
        store.add_problems([toy_problem()])
        summary, backend = run(store, world, knobs, CHILD)
        requests.append(sorted((c.role, c.messages[-1].content, c.seed) for c in backend.calls))
        [r] = summary.results
        proofs = {p.id: p for p in store.proofs_of(r.problem_id)}
        [r1] = [p for p in proofs.values() if p.round == 1]
        [r2] = [p for p in proofs.values() if p.round == 2]
        assert r2.parent_ids == [r1.id] and EXTRA in r1.text
        feedback = store.formal_feedback_of([r1.id, r1.parent_ids[0]])
        own = feedback[r1.id]
        assert [f.nl_step_index for f in own] == [3]
        assert [f.nl_step_index for f in feedback[r1.parent_ids[0]]] == [2]
        assert r2.extra["formal_feedback_ids"] == [f.id for f in own]
        [prompt] = [c.messages[-1].content for c in backend.calls if is_refinement(c) and EXTRA in
                    c.messages[-1].content.split("--- Solution 0 ---", 1)[1]]
        assert "step 3 of this proof" in prompt and "step 2 of this proof" not in prompt
        store.close()
    assert requests[0] == requests[1]
