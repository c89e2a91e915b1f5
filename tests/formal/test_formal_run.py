"""``prover run --formal`` as a library call: the informal search with the formal stage started
on proofs as they are selected, a random sample with inclusion probabilities, formal feedback
in the refinements of the same round, and an identical command that asks nothing again.

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


def node(key: str, body: str | None = None) -> str:
    text = NODES.node_problem(next(s for s in NODES.holes if s.key == key))
    return text if body is None else LeanProblem.parse(text).with_proof(body)


def script():
    def generator(call):
        refined = "--- Solution 0 ---" in call.messages[-1].content
        return proof_output(NL_PROOF + ("\n\nRefined." if refined else "\n\nDraft."))

    def verifier(call):
        return verdict_output("0.5" if "Refined." in call.messages[-1].content else "0")

    return Script([
        ("generator", "", generator), ("verifier", "", verifier), ("meta_verifier", "", meta_output("1")),
        ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think",
         lean_block("theorem nope : True := trivial")),
        ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        ("formalizer", "Restate, in plain", "<think>.</think>The claim."),
        ("judge", "formal step below", vote(True)),
        ("prover", "It is one step of a larger proof", lean_block(node("prover_node_2", "by\n  linarith"))),
        ("prover", "does not check", lean_block(node("prover_node_2", "by\n  linarith [h2]"))),
    ])


def run(store, world, *, sample: int = 2):
    from prover.core.formal_records import FormalConfig
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import FormalSettings
    from prover.pipeline.run import run_informal

    backend = ScriptedBackend(script())
    config = SearchConfig(knobs=SearchKnobs(proofs=2, verifications=1, rounds=2, refine_top=1,
                                            analyses_per_refinement=1, meta_verifications=1))
    formal = FormalSettings(config=FormalConfig(trusted_collections=("mini",), direct_attempts=1,
                                                repairs_per_node=1, refute=False), sample=sample)
    with world.pool() as pool:
        summary = run_informal(store, ["mini/toy"], config=config, model_config=model_config(),
                               backends={r: backend for r in ROLES}, progress=False, formal=formal,
                               lean=(pool, pin()))
    return summary, backend


def test_formal_stage_in_the_search(fstore, world):
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node("prover_node_1"), node("prover_node_1", "by\n  omega"))
    summary, backend = run(fstore, world)
    [r] = summary.results
    assert r.status == "exhausted" and r.rounds == 3
    statuses = {f["status"] for f in summary.formal}
    assert statuses == {"unsolved"} and all(f["feedback"] == 1 for f in summary.formal)
    # Each refinement waits for the attempt on the proof it refines: round 1 refines a draft and
    # is given the draft's feedback, round 2 the round-1 proof's own.
    refinements = [c.messages[-1].content for c in backend.calls
                   if c.role == "generator" and "--- Solution 0 ---" in c.messages[-1].content]
    assert len(refinements) == 2 and all(FEEDBACK in text for text in refinements)
    proofs = {p.id: p for p in fstore.proofs_of(r.problem_id)}
    [r1] = [p for p in proofs.values() if p.round == 1]
    [r2] = [p for p in proofs.values() if p.round == 2]
    [d] = [proofs[i] for i in r1.parent_ids]
    fb = fstore.formal_feedback_of([d.id, r1.id])
    assert r1.extra["formal_feedback_ids"] == [f.id for f in fb[d.id]]
    assert r2.extra["formal_feedback_ids"] == [f.id for f in fb[r1.id]] and r2.parent_ids == [r1.id]
    # Populations for cross-checks: the selected proofs, and 2 of the 4 drawn at random.
    assert "selected" in d.extra["formal_population"] and "selected" in r1.extra["formal_population"]
    drawn = [p for p in proofs.values() if "random" in (p.extra.get("formal_population") or [])]
    assert len(drawn) == 2 and all(p.extra["formal_inclusion_probability"] == 0.5 for p in drawn)
    attempts = fstore.formal_attempts_of(problem_id=r.problem_id)
    assert {a.proof_id for a in attempts} == {d.id, r1.id} | {p.id for p in drawn}
    assert len(attempts) == len({a.proof_id for a in attempts})  # each proof attempted once
    # Node 1 was solved once by the portfolio; later attempts take it from the memo.
    solved_by = [s.solved_by for s in fstore.formal_rows("step") if s.node_key == "prover_node_1"]
    assert solved_by[0] == "portfolio:omega" and all(x.startswith("memo:") for x in solved_by[1:])
    # Feedback is never a verification.
    assert all(len(fstore.verifications_of(p.id)) == 1 for p in proofs.values() if p.source != "imported")

    # The same command again: nothing is asked of the models or of Lean.
    n_lean = len(world.requests())
    tries = len(fstore.formal_rows("try"))
    again, backend2 = run(fstore, world)
    assert backend2.calls == [] and again.sent == 0
    assert len(world.requests()) == n_lean and len(fstore.formal_rows("try")) == tries
    assert sorted(f["attempt_id"] for f in again.formal) == sorted(f["attempt_id"] for f in summary.formal)
    assert all(f["reused"] for f in again.formal)


def test_run_without_lean_stops_before_any_model_call(fstore, monkeypatch, tmp_path):
    import shutil

    from prover.core.errors import PrerequisiteError
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import FormalSettings
    from prover.pipeline.run import run_informal

    if shutil.which("lean") or (tmp_path / ".elan").exists():
        pytest.skip("a Lean toolchain is installed here")
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    backend = ScriptedBackend(script())
    config = SearchConfig(knobs=SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1,
                                            analyses_per_refinement=1, meta_verifications=0))
    with pytest.raises(PrerequisiteError) as err:
        run_informal(fstore, ["mini/toy"], config=config, model_config=model_config(),
                     backends={r: backend for r in ROLES}, progress=False, formal=FormalSettings())
    assert "prover lean doctor" in str(err.value) and "no model was called" in str(err.value)
    assert backend.calls == [] and fstore.formal_attempts_of(problem_id=1) == []


def test_an_unexpected_exception_in_one_attempt_is_stored_and_the_run_goes_on(fstore, world, monkeypatch):
    """A bug hit by one formal attempt marks that attempt `error` with its traceback; the other
    attempts and the informal search go on; the run is `incomplete` and says why; the same
    command runs the failed attempt again."""
    from prover.formal.engine import Attempt

    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node("prover_node_1"), node("prover_node_1", "by\n  omega"))
    real = Attempt.sketch_stage
    hits = []

    async def first_one_fails(self, st):
        hits.append(self.proof.id)
        if len(hits) == 1:
            raise RuntimeError("a bug in one attempt")
        return await real(self, st)

    monkeypatch.setattr(Attempt, "sketch_stage", first_one_fails)
    summary, _ = run(fstore, world)
    [r] = summary.results
    assert r.status == "exhausted" and r.rounds == 3
    statuses = sorted(f["status"] for f in summary.formal)
    assert statuses.count("error") == 1 and set(statuses) == {"error", "unsolved"} and len(statuses) >= 2
    [err] = summary.formal_errors
    assert "RuntimeError: a bug in one attempt" in err["stop_reason"] and summary.status == "incomplete"
    row = fstore.formal_attempt(err["attempt_id"])
    assert row.status == "error" and "Traceback" in row.error and "first_one_fails" in row.error
    from prover.store.schema import Run

    with fstore.session() as s:
        assert s.get(Run, summary.run_id).summary["formal"]["errors"][0]["attempt_id"] == err["attempt_id"]

    monkeypatch.setattr(Attempt, "sketch_stage", real)
    again, _ = run(fstore, world)
    assert again.status == "completed" and again.formal_errors == []
    redone = next(f for f in again.formal if f["attempt_id"] == err["attempt_id"])
    assert redone["status"] == "unsolved" and not redone["reused"]
    assert fstore.formal_attempt(err["attempt_id"]).error is None
