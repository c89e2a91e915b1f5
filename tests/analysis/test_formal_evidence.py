"""Formal labels from the formal stage's stored rows (``formal_attempts`` and the sketches,
steps, alignment votes, refutations and Lean checks they point to), written through the store's
own formal API the way the formal engine writes them; the report's formal funnel; and, end to
end, labels built from what the real formal engine stored after running on the fake REPL with
SYNTHETIC Lean responses assembled from recorded message templates (tests/formal/formal_support.py)
and the scripted model — wiring only, no figure here is a result."""

from __future__ import annotations

import pytest
from labeldb import add_problem, add_proof

from prover.analysis.formal_evidence import FUNNEL_STAGES, formal_evidence, formal_funnel, statement_proved_by_problem
from prover.analysis.labels import build_labels, formal_one_missing
from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, ReasonCode, Verdict


def _check(store, text: str, verdict=Verdict.VERIFIED, reasons=(), epilogue=True) -> int:
    if epilogue:
        text += '\n\n#prover_check t _prover_fp "' + "0" * 32 + '"\n'
    req = LeanCheckRequest(assembled=text, target="t", axioms_line=1, toolchain="leanprover/lean4:v4.27.0",
                           screen_rules_version=1)
    return store.add_lean_check(LeanCheckResult.for_request(req, verdict=verdict, reasons=reasons, backend="replay",
                                                            axioms=() if verdict is Verdict.VERIFIED else None))


def attempt(store, problem_id, proof_id, key, *, status, source="autoformalized", trusted=False, faithful=True,
            final=None, root_closed=False, steps=(), refute=None, direct=False, nodes=(0, 0, 0, 0)):
    """One finished attempt. ``steps``: (aligned, votes) per have-step; ``refute``: ("statement",)
    or ("step", index)."""
    fs = store.add_formal_statement(problem_id, toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n",
                                    statement=f"theorem t_{key} : True := by sorry", source="test", extra={})
    n, solved, refuted, unsolved = nodes
    aid = store.add_formal_row("attempt", attempt_key=key, problem_id=problem_id, proof_id=proof_id, status=status,
                               formal_statement_id=fs, statement_source=source, statement_trusted=trusted,
                               statement_faithful=faithful, root_closed_independently=root_closed,
                               final_check_id=final, nodes=n, nodes_solved=solved, nodes_refuted=refuted,
                               nodes_unsolved=unsolved)
    sketch = None
    step_ids = []
    if steps:
        sketch = store.add_formal_row("sketch", attempt_id=aid, text="sketch", elaborates=True, status="elaborated")
        store.update_formal_row("attempt", aid, sketch_id=sketch)
        for i, (aligned, votes) in enumerate(steps):
            sid = store.add_formal_row("step", attempt_id=aid, sketch_id=sketch, position=i, kind="have", name=f"h{i}",
                                       hole=True, status="solved", aligned=aligned, votes_yes=sum(votes),
                                       votes_total=len(votes))
            for j, v in enumerate(votes):
                store.add_formal_row("vote", kind="alignment", step_id=sid, sample_index=j, vote=v)
            step_ids.append(sid)
        # the final `have` closing the goal is not aligned: not a step of the evidence
        store.add_formal_row("step", attempt_id=aid, sketch_id=sketch, position=len(steps), kind="final", hole=False)
    if direct:
        store.add_formal_row("try", attempt_id=aid, stage="direct", success=root_closed)
    if refute is not None:
        check = _check(store, f"theorem neg_{key} : ¬ True := sorry")
        step_id = step_ids[refute[1]] if refute[0] == "step" else None
        store.add_formal_row("refutation", attempt_id=aid, problem_id=problem_id, proof_id=proof_id, what=refute[0],
                             step_id=step_id, proposition="¬ P", check_id=check, formal_statement_id=fs,
                             statement_given=source == "given", faithful=faithful, flags_statement=source == "given")
    return aid


@pytest.fixture
def world(store):
    pid = add_problem(store, "c", "P", "Prove P.")
    proofs = {name: add_proof(store, pid, f"Proof {name}.") for name in
              ("good", "misaligned", "independent", "refuted", "given_refuted", "step_refuted", "no_statement",
               "unchecked", "rescreened", "trusted", "two_ways", "running")}
    good_check = _check(store, "theorem good : True := trivial")
    a = {}
    a["good"] = attempt(store, pid, proofs["good"], "good", status="verified", final=good_check,
                        steps=[(True, [True, True]), (True, [True, False, True])], direct=True, nodes=(2, 2, 0, 0))
    a["misaligned"] = attempt(store, pid, proofs["misaligned"], "mis", status="verified",
                              final=_check(store, "theorem mis : True := trivial"),
                              steps=[(True, [True]), (False, [False, False])], nodes=(2, 2, 0, 0))
    a["independent"] = attempt(store, pid, proofs["independent"], "ind", status="statement_proved",
                               final=_check(store, "theorem ind : True := trivial"), root_closed=True, direct=True)
    attempt(store, pid, proofs["refuted"], "ref", status="refuted", refute=("statement",))
    attempt(store, pid, proofs["given_refuted"], "given", status="refuted", source="given", trusted=True,
            refute=("statement",))
    attempt(store, pid, proofs["step_refuted"], "stepref", status="step_refuted",
            steps=[(True, [True]), (True, [True])], refute=("step", 1), nodes=(2, 1, 1, 0))
    attempt(store, pid, proofs["no_statement"], "nost", status="no_statement", faithful=None)
    attempt(store, pid, proofs["unchecked"], "unch", status="verified", steps=[(True, [True])],
            final=_check(store, "theorem unch : True := trivial", Verdict.VERIFIED_ANSWER_UNCHECKED,
                          [ReasonCode.ANSWER_UNCHECKED]), nodes=(1, 1, 0, 0))
    rescreened = _check(store, "theorem resc : True := trivial")
    attempt(store, pid, proofs["rescreened"], "resc", status="verified", steps=[(True, [True])], final=rescreened,
            nodes=(1, 1, 0, 0))
    store.set_lean_check_verdict(rescreened, Verdict.REJECTED, [ReasonCode.NATIVE])  # a newer screen rejects it
    attempt(store, pid, proofs["trusted"], "trusted", status="verified", source="given", trusted=True,
            steps=[(True, [True])], final=_check(store, "theorem tr : True := trivial"), nodes=(1, 1, 0, 0))
    attempt(store, pid, proofs["two_ways"], "two-a", status="verified", steps=[(True, [True])],
            final=_check(store, "theorem tw : True := trivial"), nodes=(1, 1, 0, 0))
    attempt(store, pid, proofs["two_ways"], "two-b", status="refuted", refute=("statement",))
    attempt(store, pid, proofs["running"], "run", status="running", steps=[(True, [True])], final=good_check)
    return pid, proofs, a


def test_evidence_read_from_the_formal_tables(store, world):
    pid, proofs, a = world
    evidence = {ev.attempt_id: ev for ev in formal_evidence(store)}
    assert len(evidence) == 12  # every finished attempt; the running one is left out
    good = evidence[a["good"]]
    assert (good.proof_id, good.faithfulness, good.statement_origin, good.verdict) == (
        proofs["good"], "gated", "autoformalized", "verified")
    assert good.from_sketch and good.sketch_id is not None and not good.root_closed_independently
    assert [(s.name, s.aligned, s.votes) for s in good.steps] == [("h0", True, [True, True]),
                                                                   ("h1", True, [True, False, True])]
    assert [s.aligned for s in evidence[a["misaligned"]].steps] == [True, False]
    assert evidence[a["independent"]].root_closed_independently and not evidence[a["independent"]].from_sketch


def test_formal_labels_from_the_formal_tables(store, world):
    """The rule without the independent confirmation (`--final-check none`: the policy version says so)."""
    pid, proofs, a = world
    s = build_labels(store, sources="formal", final_check="none").sources["formal"]
    got = {r.proof_id: r for r in store.labels(sources=["formal"])}
    assert {r.policy_version for r in got.values()} == {"formal/v3 final-check=none"}
    value = {name: got[p].value if p in got else None for name, p in proofs.items()}
    assert value == {"good": 1.0, "misaligned": None, "independent": None, "refuted": 0.0, "given_refuted": None,
                     "step_refuted": 0.0, "no_statement": None, "unchecked": None, "rescreened": None,
                     "trusted": 1.0, "two_ways": None, "running": None}
    assert s.no_label == {"not-steps-aligned": 1, "root-closed-independently": 1,
                          "given-statement-refuted": 1, "formalization-failed": 1, "not-verified": 2,
                          "contradictory-attempts": 1}
    assert s.flags == {"statement-false": 1} and s.considered == 11
    ev = got[proofs["good"]].evidence
    assert ev["reason"] == "formal-1" and ev["attempts"] == [a["good"]]
    assert ev["evidence"]["verified_check_id"] is not None
    assert got[proofs["step_refuted"]].evidence["reason"] == "refuted-step"
    # building again adds nothing
    assert build_labels(store, sources="formal", final_check="none").sources["formal"].added == 0



def test_formal_one_needs_the_epilogue(store, world):
    """A verified check stored before the epilogue (its file ends in `#print axioms`: the statement
    was never compared in the kernel) gives no formal 1, whatever the final-check policy."""
    pid, proofs, a = world
    old = _check(store, "theorem old : True := trivial\n\n#print axioms old", epilogue=False)
    p = add_proof(store, pid, "Proof old.")
    attempt(store, pid, p, "old", status="verified", steps=[(True, [True])], final=old, nodes=(1, 1, 0, 0))
    s = build_labels(store, sources="formal", final_check="none").sources["formal"]
    got = {r.proof_id: r.value for r in store.labels(sources=["formal"])}
    assert p not in got and got[proofs["good"]] == 1.0 and s.no_label["not-epilogue"] == 1


def test_formal_one_needs_the_independent_confirmation(store, world):
    """Default `--final-check lean4checker`: a formal 1 needs the checker's own stored row on the
    verified check (keyed by that check's key and the tool), and only a `verified` one."""
    from prover.lean.final_check import final_check_key

    pid, proofs, a = world
    s = build_labels(store, sources="formal").sources["formal"]
    got = {r.proof_id: r.value for r in store.labels(sources=["formal"])}
    assert proofs["good"] not in got and proofs["trusted"] not in got
    assert s.no_label["not-final-check"] == 2
    evidence = {ev.proof_id: ev for ev in formal_evidence(store) if ev.verdict == "verified"}
    for name, verdict in (("good", Verdict.VERIFIED), ("trusted", Verdict.FAILED)):
        key = store.lean_check_key(evidence[proofs[name]].verified_check_id)
        confirmed = store.get_lean_check(key).model_copy(update={
            "cache_key": final_check_key(key, "lean4checker"), "backend": "lean4checker", "verdict": verdict,
            "reasons": () if verdict is Verdict.VERIFIED else (ReasonCode.FINAL_CHECK_REJECTED,)})
        store.add_lean_check(confirmed)
    build_labels(store, sources="formal")
    got = {r.proof_id: r for r in store.labels(sources=["formal"])}
    assert got[proofs["good"]].value == 1.0 and proofs["trusted"] not in got
    assert got[proofs["good"]].policy_version == "formal/v3 final-check=lean4checker"
    assert got[proofs["good"]].evidence["evidence"]["final_check_verdict"] == "verified"

def test_funnel_and_statement_proved(store, world):
    pid, *_ = world
    stages, notes = formal_funnel(store)
    counts = dict(stages)
    assert [s for s, _ in stages] == list(FUNNEL_STAGES)
    # the re-screened file no longer counts as verified; the step-refuted sketch did not solve its nodes
    assert counts == {"statements": 12, "faithful": 11, "direct attempts": 2, "sketches elaborated": 7,
                      "nodes solved": 6, "verified": 5}
    assert "12 finished formal attempt(s)" in notes[0]
    assert statement_proved_by_problem(store) == {pid: True}
    assert formal_funnel(store, [pid + 1])[0][0] == ("statements", 0)


# -- end to end: the formal engine writes, the label build reads -----------------------------------

@pytest.fixture
def engine_kit(tmp_path):
    """The formal tests' toolkit: a SQLite store with the toy problem (statement given by the
    trusted collection `mini`) and one NL proof; the fake REPL world; the scripted model.
    Synthetic Lean responses (see tests/formal/formal_support.py): nothing here is a result."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "formal"))
    import formal_support as fs

    from prover.formal.sketch import parse_sketch
    from prover.lean.problem import LeanProblem
    from prover.store import ProofStore

    store = ProofStore.open(tmp_path / "e2e.db")
    proof_id = fs.add_problem_with_proof(store, fs.toy_problem())
    nodes = parse_sketch(fs.SKETCH.strip(), LeanProblem.parse(fs.TOY))

    def node_text(key, negate=False):
        return nodes.node_problem(next(s for s in nodes.holes if s.key == key), negate=negate)

    def node_proof(key, body, negate=False):
        return LeanProblem.parse(node_text(key, negate)).with_proof(body)

    def script(align=True):
        wrong = fs.TOY.replace(":= by sorry", ":= by\n  simp")
        return fs.Script([
            ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think", fs.lean_block(wrong)),
            ("formalizer", "Write a Lean 4 proof sketch", fs.lean_block(fs.SKETCH)),
            ("formalizer", "proof sketch below does not elaborate", fs.lean_block(fs.SKETCH)),
            ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
            ("judge", "formal step below", align if callable(align) else fs.vote(align)),
            ("prover", "It is one step of a larger proof", fs.lean_block(node_proof("prover_node_2", "by\n  linarith"))),
            ("prover", "does not check", fs.lean_block(node_proof("prover_node_2", "by\n  linarith"))),
        ])

    def solvable(world, used="11"):
        """Both nodes and the assembled sketch check; the assembled file's epilogue report says
        which node lemmas its proof term uses (``used``: a synthetic report in the recorded
        message shape, one digit per node)."""
        world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
        world.proves(node_text("prover_node_2"), node_proof("prover_node_2", "by\n  linarith"))
        world.proves(fs.TOY, nodes.assemble({"prover_node_1": "by\n  omega", "prover_node_2": "by\n  linarith"}),
                     used=used)

    world = fs.LeanWorld(tmp_path)
    world.statement_elaborates(fs.TOY).sketch_elaborates(fs.TOY, fs.SKETCH)
    yield fs, store, proof_id, world, node_text, node_proof, script, solvable
    store.close()


@pytest.mark.timeout(120)
def test_engine_verified_sketch_gives_formal_one(engine_kit):
    fs, store, proof_id, world, node_text, node_proof, script, solvable = engine_kit
    solvable(world)
    result, _ = fs.formalize(store, world, script(), proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified", result.stop_reason
    # the engine ran without a final check: a label 1 needs one, unless the build says none
    s = build_labels(store, sources="formal").sources["formal"]
    assert store.labels(sources=["formal"]) == [] and s.no_label == {"not-final-check": 1}
    s = build_labels(store, sources="formal", final_check="none").sources["formal"]
    [label] = store.labels(sources=["formal"])
    assert (label.proof_id, label.value, s.added) == (proof_id, 1.0, 1)
    ev = label.evidence["evidence"]
    assert ev["faithfulness"] == "trusted" and ev["statement_origin"] == "given" and ev["from_sketch"]
    assert [st["aligned"] for st in ev["steps"]] == [True, True] and all(st["votes"] for st in ev["steps"])
    assert ev["verdict"] == "verified" and label.evidence["attempts"] == [result.attempt_id]
    assert [(st["node_lemma"], st["used"]) for st in ev["steps"]] == [("prover_node_1", True), ("prover_node_2", True)]


@pytest.mark.timeout(120)
def test_engine_closing_proof_without_a_step_gives_no_formal_one(engine_kit):
    """The assembled file verifies, but the epilogue's report omits node 2's lemma from the
    target's proof term (``used=10``): no formal 1, reason ``not-steps-used``."""
    fs, store, proof_id, world, node_text, node_proof, script, solvable = engine_kit
    solvable(world, used="10")
    result, _ = fs.formalize(store, world, script(), proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified" and result.final_verdict == "verified", result.stop_reason
    s = build_labels(store, sources="formal", final_check="none").sources["formal"]
    assert store.labels(sources=["formal"]) == [] and s.no_label == {"not-steps-used": 1}
    [ev] = [e for e in formal_evidence(store) if e.attempt_id == result.attempt_id]
    assert formal_one_missing(ev) == ["steps-used"]
    assert [(st.node_lemma, st.used) for st in ev.steps] == [("prover_node_1", True), ("prover_node_2", False)]


@pytest.mark.timeout(120)
def test_engine_step_refutation_gives_formal_zero(engine_kit):
    fs, store, proof_id, world, node_text, node_proof, script, _ = engine_kit
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2", negate=True), node_proof("prover_node_2", "by\n  norm_num", negate=True))
    result, _ = fs.formalize(store, world, script(), proof_id, direct_attempts=1, repairs_per_node=0)
    assert result.status == "step_refuted"
    build_labels(store, sources="formal")
    [label] = store.labels(sources=["formal"])
    assert (label.value, label.evidence["reason"]) == (0.0, "refuted-step")


@pytest.mark.timeout(120)
def test_engine_misaligned_step_gives_no_label(engine_kit):
    fs, store, proof_id, world, node_text, node_proof, script, solvable = engine_kit
    solvable(world)
    misaligned = lambda call: fs.vote("Natural-language step 1:" in call.messages[-1].content)  # noqa: E731
    result, _ = fs.formalize(store, world, script(misaligned), proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified" and result.steps_aligned is False
    s = build_labels(store, sources="formal").sources["formal"]
    assert store.labels(sources=["formal"]) == [] and s.no_label == {"not-steps-aligned": 1}


def test_statement_proved_reads_database_wide_closures(store):
    """``statement_proved_by_problem`` goes through the evidence reader's closures, not each
    attempt's own status: a statement closed by another attempt's still-verified root try counts
    (even one not finished), an attempt whose closing check a newer screen rejects does not, nor
    does a refutation."""
    def statement(pid, key):
        return store.add_formal_statement(pid, toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n",
                                          statement=f"theorem t_{key} : True := by sorry", source="test", extra={})

    closed, stale, refuted = (add_problem(store, "c", name, "Prove P.") for name in ("closed", "stale", "refuted"))
    fs = statement(closed, "closed")
    store.add_formal_row("attempt", attempt_key="c1", problem_id=closed, proof_id=add_proof(store, closed, "A."),
                         status="unsolved", formal_statement_id=fs)
    other = store.add_formal_row("attempt", attempt_key="c2", problem_id=closed, proof_id=None, status="running",
                                 formal_statement_id=fs)
    store.add_formal_row("try", attempt_id=other, stage="root-portfolio", tactic="simp", success=True,
                         check_id=_check(store, "theorem c : True := by simp"))
    fs = statement(stale, "stale")
    check = _check(store, "theorem s : True := by native_decide")
    sid = store.add_formal_row("attempt", attempt_key="s1", problem_id=stale, proof_id=add_proof(store, stale, "B."),
                         status="statement_proved", formal_statement_id=fs, root_closed_independently=True,
                         root_closed_by="direct", direct_check_id=check)
    store.add_formal_row("try", attempt_id=sid, stage="direct", success=True, check_id=check)
    store.set_lean_check_verdict(check, Verdict.REJECTED, [ReasonCode.NATIVE])  # a newer screen rejects it
    attempt(store, refuted, add_proof(store, refuted, "C."), "r1", status="refuted", refute=("statement",))
    assert statement_proved_by_problem(store) == {closed: True, stale: False, refuted: False}
    assert statement_proved_by_problem(store, [stale]) == {stale: False}
