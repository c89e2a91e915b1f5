"""Formal 1 needs the statement not closed by statement-level work anywhere in the database
(issue 17, item 7), as the real engine stores that work: a proof verified through its sketch
loses formal 1 once another run, with other settings, closes the same statement with a direct
attempt.

Synthetic Lean responses (see formal_support.py): assembled from recorded message templates.
The scripted model proves wiring and bookkeeping, never proving skill."""

from __future__ import annotations

import pytest

from formal_support import lean_block, formalize
from prover.core.records import ProofRecord
from prover.formal.evidence import formal_one_conditions, supports_formal_one
from test_formal_engine import DIRECT, TOY, repairs_script, verified_world

pytestmark = pytest.mark.timeout(180)


def test_a_direct_proof_in_a_later_run_blocks_formal_one(fstore, world, capsys):
    from prover.analysis.labels import build_labels
    from prover.cli.show import _print_formal

    verified_world(world)
    script, _ = repairs_script()
    first, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    assert first.status == "verified" and supports_formal_one(fstore.formal_evidence(first.attempt_id))

    # Another proof of the problem, another run with other settings, whose direct attempt proves
    # the statement.
    world.proves(TOY, DIRECT)
    [other] = fstore.add_proofs([ProofRecord(problem_id=fstore.resolve_problem("mini/toy").id,
                                             text="Another proof.", source="imported")])
    script, _ = repairs_script(direct=("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think",
                                       lean_block(DIRECT)))
    second, _ = formalize(fstore, world, script, other, direct_attempts=2, refute=False)
    assert (second.status, second.root_closed_by) == ("statement_proved", "direct")

    ev = fstore.formal_evidence(first.attempt_id)
    assert ev["statement_closed_by"] == "direct" and not ev["root_closed_independently"]
    assert formal_one_conditions(ev)["root_not_closed_independently"] is False and not supports_formal_one(ev)
    summary = build_labels(fstore, sources="formal", final_check="none").sources["formal"]
    assert summary.values == {} and summary.no_label.get("root-closed-independently") == 2
    # `prover show` says why.
    [entry] = fstore.formal_report(fstore.proof_id)
    _print_formal(entry)
    assert "statement closed by direct in another attempt" in capsys.readouterr().out
