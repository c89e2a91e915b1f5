"""The formal stage's request seeds name a proof by its text, not its row id (found by the twin,
issue 18: proof ids follow insertion order, which timing decides, so an identical run in another
database asked different requests and reached different labels).

The scripted model's outputs are canned text and the fake REPL's responses synthetic (see
formal_support.py): wiring only, never a result."""

from __future__ import annotations

import pytest

from formal_support import NL_PROOF, SKETCH, TOY, Script, formalize, lean_block, toy_problem, vote
from prover.core.records import ProofRecord

pytestmark = pytest.mark.timeout(120)

WRONG = TOY.replace(":= by sorry", ":= by\n  simp")


def script() -> Script:
    return Script([
        ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think", lean_block(WRONG)),
        ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        ("formalizer", "proof sketch below does not elaborate", lean_block(SKETCH)),
        ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
        ("judge", "formal step below", vote(True)),
        ("prover", "It is one step of a larger proof", lean_block(WRONG)),
        ("prover", "does not check", lean_block(WRONG)),
    ])


def test_request_seeds_do_not_depend_on_the_proof_row_id(tmp_path, world):
    from prover.store import ProofStore

    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    asked = []
    for others in (0, 3):
        store = ProofStore.open(tmp_path / f"db{others}.db")
        store.add_problems([toy_problem()])
        pid = store.resolve_problem("mini/toy").id
        for i in range(others):
            store.add_proofs([ProofRecord(problem_id=pid, text=f"another proof {i}", source="imported")])
        [proof_id] = store.add_proofs([ProofRecord(problem_id=pid, text=NL_PROOF, source="imported")])
        result, backend = formalize(store, world, script(), proof_id, direct_attempts=1, refute=False)
        assert result.status == "unsolved", result.stop_reason
        asked.append(sorted((c.role, c.messages[-1].content, c.seed) for c in backend.calls))
        store.close()
    assert asked[0] and any(role == "formalizer" for role, _, _ in asked[0])
    assert asked[0] == asked[1]
