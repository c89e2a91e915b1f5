"""The formal stage under concurrency: several attempts on one problem at once, with a REPL pool
of four processes.

Synthetic Lean responses (see formal_support.py): assembled from recorded message templates,
never produced by Lean for these files. The scripted model proves wiring and bookkeeping, never
proving skill; no figure here is a result."""

from __future__ import annotations

from collections import Counter

import pytest
from formal_support import NL_PROOF, SKETCH, TOY, Script, body, formalize_many, lean_block, vote

from prover.core.formal_records import DEFAULT_PORTFOLIO
from prover.core.records import ProofRecord
from prover.formal.sketch import negation_problem, parse_sketch
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(180)

NODES = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))
WRONG = TOY.replace(":= by sorry", ":= by\n  nlinarith [h₀, h₁]")  # not a portfolio file


def node_text(key: str) -> str:
    return NODES.node_problem(next(s for s in NODES.holes if s.key == key))


def node_proof(key: str, proof: str) -> str:
    return LeanProblem.parse(node_text(key)).with_proof(proof)


def script() -> Script:
    """Direct attempts fail, the sketch is SKETCH, node 2 is proved by the prover's first try,
    judges agree."""
    return Script([
        ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think", lean_block(WRONG)),
        ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
        ("judge", "formal step below", vote(True)),
        ("prover", "It is one step of a larger proof", lean_block(node_proof("prover_node_2", "by\n  linarith"))),
    ])


def verified_world(world):
    """The nodes and the assembled file verify; the root's tries fail definitively (Lean's error
    and the axioms report), so that they are cached and, in flight at once, unique-keyed rows."""
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    negation = negation_problem(LeanProblem.parse(TOY))
    for tac in DEFAULT_PORTFOLIO:
        world.fails(TOY, LeanProblem.parse(TOY).with_proof(f"by\n  {tac}"))
        world.fails(negation, LeanProblem.parse(negation).with_proof(f"by\n  {tac}"))
    world.fails(TOY, WRONG)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2"), node_proof("prover_node_2", "by\n  linarith"))
    world.proves(TOY, NODES.assemble({"prover_node_1": "by\n  omega", "prover_node_2": "by\n  linarith"}))


def four_proofs(store) -> list[int]:
    """The fixture's proof and three more of the same problem (K >= 2 in every preset)."""
    pid = store.resolve_problem("mini/toy").id
    more = store.add_proofs([ProofRecord(problem_id=pid, text=NL_PROOF + f"\n\nVariant {i}.", source="imported")
                             for i in range(3)])
    return [store.proof_id, *more]


def test_identical_checks_in_flight_are_made_once_and_stored_once(fstore, world):
    """Four attempts on one problem check identical files (the root portfolio, the nodes, the
    assembled file) at the same time on a pool of four: each file reaches Lean once, is stored
    once, and nothing fails."""
    from prover.store.schema import LeanCheck

    verified_world(world)
    results, _ = formalize_many(fstore, world, script(), four_proofs(fstore), direct_attempts=1, refute=False)
    assert [r.status for r in results] == ["verified"] * 4, [r.stop_reason for r in results]
    with fstore.session() as s:
        rows = list(s.query(LeanCheck))
    dup = [(r.verdict, r.definitive, r.proof_text) for r in rows
           if Counter(x.cache_key for x in rows)[r.cache_key] > 1]
    assert rows and not dup, dup
    sent = Counter(body(e["request"]["cmd"]) for e in world.requests() if "env" in e["request"])
    for row in rows:
        if row.assembled:
            assert sent[body(row.assembled)] == 1, row.assembled
    assert sent[body(LeanProblem.parse(TOY).with_proof("sorry"))] == 1  # the statement's elaboration


def test_statement_level_work_is_shared_by_the_proofs_of_a_problem_and_by_later_runs(fstore, world):
    """The root's portfolio, direct attempts and negation depend on the statement only: two
    proofs of one problem ask the prover for them once, their tries are stored once; a later
    proof of the same problem sends no root call and no root check again."""
    verified_world(world)
    first, second, third, _ = four_proofs(fstore)
    results, backend = formalize_many(fstore, world, script(), [first, second], direct_attempts=2)
    assert [r.status for r in results] == ["verified"] * 2
    prompts = [c.messages[-1].content for c in backend.calls if c.role == "prover"]
    direct = [p for p in prompts if "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think" in p]
    negated = [p for p in prompts if "¬" in p]
    assert len(direct) == 2 and len(negated) == 1
    stages = Counter(t.stage for t in fstore.formal_rows("try"))
    assert (stages["root-portfolio"], stages["direct"], stages["refute-portfolio"]) == (8, 2, 8)

    sent = len([e for e in world.requests() if "env" in e["request"]])
    [later], backend2 = formalize_many(fstore, world, script(), [third], direct_attempts=2)
    assert later.status == "verified"
    assert not [c for c in backend2.calls if c.role == "prover"]  # root calls from the call cache
    from prover.store.schema import LeanCheck

    with fstore.session() as s:
        checks = [s.get(LeanCheck, t.check_id) for t in fstore.formal_rows("try")
                  if t.stage in ("root-portfolio", "direct", "refute-portfolio") and t.check_id]
    root_files = {body(c.assembled) for c in checks if c.assembled}
    assert len(root_files) >= 9
    again = [e["request"]["cmd"].strip() for e in world.requests() if "env" in e["request"]][sent:]
    assert not root_files & set(again)  # root checks from the check cache


def test_independent_nodes_are_filled_at_once(fstore, world, monkeypatch):
    """Neither node of the toy sketch mentions the other (`h3 : 2 + 3 = 5`): both are filled at
    the same time on a pool of four, and the stored DAG has the edges their statements and
    proofs mention — none here."""
    import asyncio

    from prover.formal import nodes

    real = nodes.fill_first
    now = {"in": 0, "most": 0}

    async def counted(*args, **kwargs):
        now["in"] += 1
        now["most"] = max(now["most"], now["in"])
        try:
            await asyncio.sleep(0.05)
            return await real(*args, **kwargs)
        finally:
            now["in"] -= 1

    monkeypatch.setattr(nodes, "fill_first", counted)
    verified_world(world)
    [result], _ = formalize_many(fstore, world, script(), [fstore.proof_id], direct_attempts=1, refute=False)
    assert result.status == "verified" and now["most"] == 2
    [sketch] = fstore.formal_rows("sketch", attempt_id=result.attempt_id)
    assert sketch.dag["edges"] == []
    assert all(s.depends_on == [] for s in fstore.formal_rows("step", attempt_id=result.attempt_id))


def test_identical_nodes_of_two_proofs_are_asked_once(fstore, world):
    """Two proofs of one problem yield the same sketch: a node's requests are seeded by the node
    lemma and its hint, not the proof, so the identical node prompt is sent once (the call store
    answers the second attempt) and its try reaches Lean once."""
    node2 = "by\n  exact h2.symm.trans (by norm_num)"  # no portfolio tactic: the prover is asked
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2"), node_proof("prover_node_2", node2))
    world.proves(TOY, NODES.assemble({"prover_node_1": "by\n  omega", "prover_node_2": node2}))
    asked = Script([*script().rules[:-1],
                    ("prover", "It is one step of a larger proof", lean_block(node_proof("prover_node_2", node2)))])
    first, second, _, _ = four_proofs(fstore)
    results, backend = formalize_many(fstore, world, asked, [first, second], direct_attempts=1, refute=False)
    assert [r.status for r in results] == ["verified"] * 2
    node_calls = [(c.messages[-1].content, c.seed) for c in backend.calls
                  if c.role == "prover" and "It is one step" in c.messages[-1].content]
    prompts = Counter(p for p, _ in node_calls)
    assert node_calls and len(node_calls) == len(prompts), prompts
    assert len({s for _, s in node_calls}) == len(node_calls)
