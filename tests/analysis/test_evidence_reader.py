"""One reader of the formal evidence (issue 17, item 7): the label builder's evidence
(``prover.analysis.formal_evidence``) and the per-attempt view of the store
(``ProofStore.formal_evidence``, read by ``prover show`` and ``prover.formal.evidence``) decide
alike on a table of cases written through the store's own formal API; and statement-level work
that closed the statement anywhere in the database — another attempt, another run, other
settings — blocks formal 1 on the same statement and toolchain, not on another toolchain."""

from __future__ import annotations

import pytest
from labeldb import add_problem, add_proof

from prover.analysis.formal_evidence import formal_evidence
from prover.analysis.labels import build_labels, formal_label
from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, ReasonCode, Verdict
from prover.formal.evidence import formal_one_conditions, from_view, negative_refutations, supports_formal_one

TOOLCHAIN = "leanprover/lean4:v4.27.0"
OTHER_TOOLCHAIN = "leanprover/lean4:v4.19.0"


class Db:
    """Formal attempts written the way the formal engine writes them (rows only: no Lean)."""

    def __init__(self, store):
        self.store = store
        self.problem = add_problem(store, "c", "P", "Prove P.")
        self.n = 0

    def statement(self, name: str) -> int:
        return self.store.add_formal_statement(self.problem, toolchain=TOOLCHAIN, preamble="import Mathlib\n",
                                               statement=f"theorem t_{name} : True := by sorry", source="test",
                                               extra={})

    def check(self, verdict=Verdict.VERIFIED, reasons=(), toolchain=TOOLCHAIN) -> int:
        self.n += 1
        text = f"theorem c{self.n} : True := trivial\n\n#prover_check t _prover_fp \"{'0' * 32}\"\n"
        req = LeanCheckRequest(assembled=text, target="t", axioms_line=1, toolchain=toolchain, screen_rules_version=1)
        return self.store.add_lean_check(LeanCheckResult.for_request(
            req, verdict=verdict, reasons=reasons, backend="replay",
            axioms=() if verdict is Verdict.VERIFIED else None))

    def attempt(self, fs: int, *, status: str, source: str = "autoformalized", trusted: bool = False,
                faithful: bool | None = True, final: int | None = None, root_closed_by: str | None = None,
                steps=None, uses: dict[str, bool] | None = None, refute: tuple | None = None,
                root_try: tuple[str, int] | None = None) -> tuple[int, int]:
        """(proof id, attempt id) of one finished attempt on a new proof. ``steps``: aligned per
        have-step (hole ``prover_node_<i>``), None: no sketch; ``uses``: the final check's closing_uses;
        ``refute``: ("statement",) or ("step", i); ``root_try``: (stage, check) of a root try."""
        self.n += 1
        proof = add_proof(self.store, self.problem, f"Proof {self.n}.")
        aid = self.store.add_formal_row(
            "attempt", attempt_key=f"k{self.n}", problem_id=self.problem, proof_id=proof, status=status,
            formal_statement_id=fs, statement_source=source, statement_trusted=trusted, statement_faithful=faithful,
            root_closed_independently=root_closed_by is not None, root_closed_by=root_closed_by,
            final_check_id=final, config={"closing_uses": uses} if uses is not None else {})
        step_ids = []
        if steps is not None:
            sketch = self.store.add_formal_row("sketch", attempt_id=aid, text="sketch", elaborates=True,
                                               status="elaborated")
            self.store.update_formal_row("attempt", aid, sketch_id=sketch)
            for i, aligned in enumerate(steps):
                sid = self.store.add_formal_row("step", attempt_id=aid, sketch_id=sketch, position=i, kind="have",
                                                name=f"h{i}", hole=True, node_key=f"prover_node_{i + 1}",
                                                status="solved", aligned=aligned, votes_yes=int(aligned),
                                                votes_total=1)
                self.store.add_formal_row("vote", kind="alignment", step_id=sid, sample_index=0, vote=aligned)
                step_ids.append(sid)
            self.store.add_formal_row("step", attempt_id=aid, sketch_id=sketch, position=len(steps), kind="final",
                                      hole=False)
        if root_try is not None:
            stage, check = root_try
            self.store.add_formal_row("try", attempt_id=aid, stage=stage, tactic="simp" if stage == "root-portfolio"
                                      else None, check_id=check, verdict="verified", success=True)
        if refute is not None:
            self.store.add_formal_row(
                "refutation", attempt_id=aid, problem_id=self.problem, proof_id=proof, what=refute[0],
                step_id=step_ids[refute[1]] if refute[0] == "step" else None, proposition="¬ P",
                check_id=self.check(), formal_statement_id=fs, statement_given=source == "given",
                faithful=faithful, flags_statement=source == "given")
        return proof, aid


def all_used(n: int) -> dict[str, bool]:
    return {f"prover_node_{i + 1}": True for i in range(n)}


def cases(db: Db) -> dict[str, int]:
    """Name → attempt id; the expected decision is in the name's table below."""
    a = {}
    verified = dict(status="verified", steps=(True, True), uses=all_used(2))
    a["formal-1"] = db.attempt(db.statement("good"), final=db.check(), **verified)[1]
    a["misaligned"] = db.attempt(db.statement("mis"), final=db.check(), status="verified", steps=(True, False),
                                 uses=all_used(2))[1]
    a["skipped-step"] = db.attempt(db.statement("skip"), final=db.check(), status="verified", steps=(True, True),
                                   uses={"prover_node_1": True, "prover_node_2": False})[1]
    a["not-reported"] = db.attempt(db.statement("norep"), final=db.check(), status="verified", steps=(True,))[1]
    a["no-steps"] = db.attempt(db.statement("nosteps"), final=db.check(), status="verified", steps=())[1]
    a["unfaithful"] = db.attempt(db.statement("unf"), final=db.check(), faithful=None, **verified)[1]
    a["answer-unchecked"] = db.attempt(db.statement("unch"), status="verified", steps=(True,), uses=all_used(1),
                                       final=db.check(Verdict.VERIFIED_ANSWER_UNCHECKED,
                                                      [ReasonCode.ANSWER_UNCHECKED]))[1]
    a["trusted"] = db.attempt(db.statement("tr"), final=db.check(), source="given", trusted=True, **verified)[1]
    a["own-root"] = db.attempt(db.statement("ind"), status="statement_proved", final=db.check(),
                               root_closed_by="direct")[1]
    a["refuted-statement"] = db.attempt(db.statement("ref"), status="refuted", refute=("statement",))[1]
    a["given-refuted"] = db.attempt(db.statement("given"), status="refuted", source="given", trusted=True,
                                    refute=("statement",))[1]
    a["refuted-step"] = db.attempt(db.statement("stepref"), status="step_refuted", steps=(True, True),
                                   refute=("step", 1))[1]
    a["no-statement"] = db.attempt(None, status="no_statement", faithful=None)[1]
    # Statement-level work elsewhere: another attempt on the same statement closed its root.
    for how, stage in (("portfolio", "root-portfolio"), ("direct", "direct")):
        fs = db.statement(f"shared_{how}")
        a[f"closed-elsewhere-{how}"] = db.attempt(fs, final=db.check(), **verified)[1]
        db.attempt(fs, status="statement_proved", root_try=(stage, db.check()))
    fs = db.statement("shared_negation")
    a["closed-elsewhere-negation"] = db.attempt(fs, final=db.check(), **verified)[1]
    db.attempt(fs, status="refuted", refute=("statement",))
    # ... on another toolchain: says nothing about this one.
    fs = db.statement("other_toolchain")
    a["closed-on-another-toolchain"] = db.attempt(fs, final=db.check(), **verified)[1]
    db.attempt(fs, status="statement_proved", root_try=("direct", db.check(toolchain=OTHER_TOOLCHAIN)))
    # ... by a check a newer screen rejects: no longer a closure.
    fs = db.statement("rejected")
    a["closure-rejected"] = db.attempt(fs, final=db.check(), **verified)[1]
    rejected = db.check()
    db.attempt(fs, status="statement_proved", root_try=("root-portfolio", rejected))
    db.store.set_lean_check_verdict(rejected, Verdict.REJECTED, [ReasonCode.NATIVE])
    return a


EXPECTED = {
    "formal-1": (1.0, "formal-1"), "misaligned": (None, "not-steps-aligned"),
    "skipped-step": (None, "not-steps-used"), "not-reported": (None, "not-steps-used"),
    "no-steps": (None, "not-steps-aligned"), "unfaithful": (None, "not-statement-faithful"),
    "answer-unchecked": (None, "not-verified"), "trusted": (1.0, "formal-1"),
    "own-root": (None, "root-closed-independently"), "refuted-statement": (0.0, "refuted-statement"),
    "given-refuted": (None, "given-statement-refuted"), "refuted-step": (0.0, "refuted-step"),
    "no-statement": (None, "formalization-failed"),
    "closed-elsewhere-portfolio": (None, "root-closed-independently"),
    "closed-elsewhere-direct": (None, "root-closed-independently"),
    "closed-elsewhere-negation": (None, "root-closed-independently"),
    "closed-on-another-toolchain": (1.0, "formal-1"), "closure-rejected": (1.0, "formal-1"),
}


def test_label_builder_and_attempt_view_read_the_evidence_alike(store):
    db = Db(store)
    attempts = cases(db)
    built = {ev.attempt_id: ev for ev in formal_evidence(store)}
    for name, aid in attempts.items():
        ev, view = built[aid], store.formal_evidence(aid)
        decision = formal_label(ev)
        assert (decision.value, decision.reason) == EXPECTED[name], name
        # The per-attempt view reaches the same evidence and the same decision.
        again = from_view(view)
        assert formal_label(again) == decision, name
        assert again.model_dump(exclude={"steps"}) == ev.model_dump(exclude={"steps"}), name
        assert [(s.aligned, s.node_lemma, s.used, s.refuted) for s in again.steps] == \
            [(s.aligned, s.node_lemma, s.used, s.refuted) for s in ev.steps], name
        assert supports_formal_one(view) == (decision.value == 1.0), name
        assert all(formal_one_conditions(view).values()) == supports_formal_one(view), name
        assert bool(negative_refutations(view)) == (decision.value == 0.0), name


def test_statement_closed_in_another_run_blocks_formal_one(store):
    """A proof verified through its sketch, then another run (other settings) whose direct
    attempt closes the same statement: no formal 1 for the first proof any more."""
    db = Db(store)
    fs = db.statement("later")
    proof, aid = db.attempt(fs, final=db.check(), status="verified", steps=(True, True), uses=all_used(2))
    assert supports_formal_one(store.formal_evidence(aid))
    build_labels(store, sources="formal", final_check="none")
    assert [r.value for r in store.labels(sources=["formal"]) if r.proof_id == proof] == [1.0]

    run = store.start_run("informal+formal", command=["prover", "run", "--formal"], config={})
    _, later = db.attempt(fs, status="statement_proved", root_try=("direct", db.check()))
    store.update_formal_row("attempt", later, run_id=run)
    view = store.formal_evidence(aid)
    assert view["statement_closed_by"] == "direct" and not view["root_closed_independently"]
    assert formal_one_conditions(view)["root_not_closed_independently"] is False
    assert not supports_formal_one(view)
    [ev] = [e for e in formal_evidence(store) if e.attempt_id == aid]
    assert ev.statement_closed_by == "direct"
    assert formal_label(ev).reason == "root-closed-independently"


@pytest.mark.parametrize("stage, expected", [("root-portfolio", "portfolio:simp"), ("direct", "direct")])
def test_statement_closures_name_how_and_where(store, stage, expected):
    db = Db(store)
    fs = db.statement("c")
    db.attempt(fs, status="statement_proved", root_try=(stage, db.check()))
    assert store.statement_closures() == {(fs, TOOLCHAIN): expected}
    assert store.statement_closures([fs + 1]) == {}
