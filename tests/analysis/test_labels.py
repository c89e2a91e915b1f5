"""Label rules on constructed cases: formal 1 with each of its conditions missing in turn,
refutations, informal consensus, human grades, conflicts, and idempotent builds on a real
SQLite proof database."""

from __future__ import annotations

import pytest
from labeldb import add_analyses, add_grade, add_problem, add_proof, add_search

from prover.analysis.crosscheck import crosscheck
from prover.analysis.labels import (FORMAL_ONE_CONDITIONS, build_labels, current_labels, formal_label,
                                    formal_one_missing, resolve_conflicts)
from prover.core.errors import UsageError
from prover.core.label_records import (FormalEvidence, InformalPolicy, StepEvidence, label_score, parse_precedence,
                                       parse_sources)
from prover.store import RESAMPLE_RUN_KIND


def full_evidence(**over) -> FormalEvidence:
    """Evidence meeting every condition of formal 1."""
    base = dict(proof_id=1, formal_statement_id=3, statement_origin="autoformalized", faithfulness="gated",
                verified_check_id=11, verdict="verified", from_sketch=True, sketch_id=5,
                steps=[StepEvidence(index=0, name="h0", votes=[True, True], aligned=True,
                                    node_lemma="prover_node_1", used=True),
                       StepEvidence(index=1, name="h1", votes=[True, False, True], aligned=True)],
                root_closed_independently=False)
    base.update(over)
    return FormalEvidence(**base)


# -- formal: pure rule ---------------------------------------------------------------------------

def test_formal_one_when_every_condition_holds():
    d = formal_label(full_evidence())
    assert (d.value, d.reason, d.missing) == (1.0, "formal-1", [])
    # A statement from a collection the run marks trusted is faithful too.
    assert formal_label(full_evidence(faithfulness="trusted", statement_origin="given")).value == 1.0


BREAKS = {
    "statement-faithful": [dict(faithfulness=None), dict(statement_incompatible=True)],
    "verified": [dict(verified_check_id=None, verdict=None), dict(verdict="verified-answer-unchecked"),
                 dict(verdict="failed")],
    "from-sketch": [dict(from_sketch=False), dict(sketch_id=None)],
    "steps-aligned": [dict(steps=[StepEvidence(index=0, votes=[True], aligned=True),
                                  StepEvidence(index=1, votes=[False, False], aligned=False)]),
                      dict(steps=[])],
    # The closing proof must use each aligned step's node lemma, as the trusted epilogue reported
    # it: reported unused, or not reported at all (a step proved in place has no lemma of its own).
    "steps-used": [dict(steps=[StepEvidence(index=0, votes=[True], aligned=True, node_lemma="prover_node_1",
                                            used=False),
                               StepEvidence(index=1, votes=[True], aligned=True, node_lemma="prover_node_2",
                                            used=True)]),
                   dict(steps=[StepEvidence(index=0, votes=[True], aligned=True, node_lemma="prover_node_1")])],
    "root-not-closed-independently": [dict(root_closed_independently=True)],
}


@pytest.mark.parametrize("condition,change", [(c, ch) for c, changes in BREAKS.items() for ch in changes])
def test_formal_one_needs_each_condition(condition, change):
    assert set(BREAKS) == set(FORMAL_ONE_CONDITIONS)
    ev = full_evidence(**change)
    d = formal_label(ev)
    assert d.value is None
    assert condition in formal_one_missing(ev)
    assert formal_one_missing(ev) == [condition]
    assert condition in d.missing


def test_failed_formalization_is_never_a_label():
    # Even with a refutation on record: a failed formalization says nothing about the proof.
    for ev in (full_evidence(formalization_failed=True),
               full_evidence(formalization_failed=True, statement_refuted=True, verified_check_id=None, verdict=None)):
        d = formal_label(ev)
        assert (d.value, d.reason) == (None, "formalization-failed")


def test_refutations():
    no_proof = dict(verified_check_id=None, verdict=None, from_sketch=False, sketch_id=None)
    # Negation of a faithful (autoformalized, gated) statement: formal 0.
    d = formal_label(full_evidence(statement_refuted=True, statement_refutation_check_id=9, **no_proof))
    assert (d.value, d.reason) == (0.0, "refuted-statement")
    # Negation of a given benchmark statement: the statement is flagged false, no label.
    d = formal_label(full_evidence(statement_origin="given", faithfulness="trusted", statement_refuted=True, **no_proof))
    assert (d.value, d.statement_false, d.reason) == (None, True, "given-statement-refuted")
    # A refuted statement that is not faithful proves nothing about the NL proof.
    d = formal_label(full_evidence(faithfulness=None, statement_refuted=True, **no_proof))
    assert d.value is None
    # Negation of an aligned step in its context: formal 0.
    steps = [StepEvidence(index=0, votes=[True], aligned=True),
             StepEvidence(index=1, votes=[True], aligned=True, refuted=True, refutation_check_id=4)]
    d = formal_label(full_evidence(steps=steps, **no_proof))
    assert (d.value, d.reason) == (0.0, "refuted-step")
    # ... but not of a step that failed alignment (the Lean step may not be what the NL step says).
    steps = [StepEvidence(index=0, votes=[False], aligned=False, refuted=True)]
    assert formal_label(full_evidence(steps=steps, **no_proof)).value is None


def test_contradictory_evidence_gives_no_label():
    d = formal_label(full_evidence(statement_refuted=True))
    assert (d.value, d.reason) == (None, "contradictory-evidence")


# -- parsing -------------------------------------------------------------------------------------

def test_parse_precedence_and_sources():
    assert parse_precedence(None) == ("human", "formal", "informal")
    assert parse_precedence("formal, informal") == ("formal", "informal")
    with pytest.raises(UsageError, match="unknown label source 'lean'"):
        parse_precedence("human,lean")
    with pytest.raises(UsageError, match="twice"):
        parse_precedence("human,human")
    assert parse_sources("all") == ("human", "formal", "informal")
    with pytest.raises(UsageError):
        parse_sources("formal,bogus")


def test_label_score():
    assert [label_score(v) for v in (0, 1 / 7, 0.5, 6 / 7, 1.0)] == [0, 0.5, 0.5, 0.5, 1]


# -- building from a database ----------------------------------------------------------------------

@pytest.fixture
def world(store):
    """Proofs covering the informal rule's outcomes (n = 3, m = 1 from the problem's search),
    human grades, and one proof whose problem has no search."""
    a = add_problem(store, "c1", "A", "Prove that A holds.")
    b = add_problem(store, "c1", "B", "Prove that B holds.")
    run = store.start_run("informal")
    add_search(store, a, m_verifications=3, m_meta=1, run_id=run)
    ids = {}
    ids["clean"] = add_proof(store, a, "Clean proof.", run_id=run)
    add_analyses(store, ids["clean"], [1, 1, 1])
    ids["low"] = add_proof(store, a, "Low proof.", run_id=run)
    add_analyses(store, ids["low"], [1, 0, 0.5, 0], metas={1: [1], 2: [1]})
    ids["rejected"] = add_proof(store, a, "Rejected criticism.", run_id=run)
    add_analyses(store, ids["rejected"], [1, 0, 1], metas={1: [0]})
    ids["half"] = add_proof(store, a, "Half proof.", run_id=run)
    add_analyses(store, ids["half"], [0.5, 1, None, 0.5], metas={0: [1], 3: [0.5]})
    ids["few"] = add_proof(store, a, "Few analyses.", run_id=run)
    add_analyses(store, ids["few"], [1, None, 1])
    ids["nosearch"] = add_proof(store, b, "Imported proof.")
    add_analyses(store, ids["nosearch"], [1, 1, 1])
    add_grade(store, ids["nosearch"], 6 / 7, raw=6, max_=7)
    add_grade(store, ids["low"], 1.0)
    add_grade(store, ids["clean"], 0.0, name="auto", human=False)
    return ids


def test_informal_rule_on_stored_analyses(store, world):
    s = build_labels(store, sources="informal")
    got = {r.proof_id: r for r in store.labels(sources=["informal"])}
    ids = world
    assert got[ids["clean"]].value == 1.0 and got[ids["clean"]].evidence["rule"] == "no-issues"
    # lowest score 0 among the first 3 parsed; one valid 0-analysis (meta 1 >= tau) suffices (k = 1)
    assert got[ids["low"]].value == 0.0 and got[ids["low"]].evidence["valid"] == 1
    # the unparsed analysis is skipped: the first three parsed are 0.5, 1, 0.5; the first 0.5 is upheld
    assert got[ids["half"]].value == 0.5
    assert got[ids["clean"]].policy_version == "informal/v2 n=3 m=1 k=1 tau=1"
    assert ids["rejected"] not in got and ids["few"] not in got and ids["nosearch"] not in got
    inf = s.sources["informal"]
    assert inf.considered == 6 and inf.added == 3
    assert inf.no_label == {"too-few-valid": 1, "too-few-analyses": 1,
                            "n-unknown (not from a search: pass --n and --m)": 1}
    assert inf.values == {"1": 1, "0": 1, "0.5": 1}


def test_answer_mismatch_gives_informal_zero(store):
    """Hand-made table: three proofs of an answer problem that every analysis passes; only the
    one whose stored answer matches the reference keeps its 1."""
    from sqlalchemy import update

    from prover.store.schema import Proof

    pid = add_problem(store, "c1", "P6", "Find the least number of tiles.", reference_answer="2112")
    run = store.start_run("informal")
    add_search(store, pid, m_verifications=3, m_meta=1, run_id=run)
    rows = {"right": ("2112", True), "wrong": ("4048", False), "undecided": ("2^{11}+64", None),
            "no-answer": (None, False)}
    ids = {}
    for name, (answer, match) in rows.items():
        ids[name] = add_proof(store, pid, f"Proof {name}.", run_id=run)
        add_analyses(store, ids[name], [1, 1, 1])
        with store.session() as s:
            s.execute(update(Proof).where(Proof.id == ids[name]).values(answer=answer, answer_match=match))
    summary = build_labels(store, sources="informal")
    got = {r.proof_id: r for r in store.labels(sources=["informal"])}
    assert got[ids["wrong"]].value == 0.0
    assert got[ids["wrong"]].evidence["rule"] == "answer-mismatch"
    assert got[ids["wrong"]].evidence["answer"] == "4048"
    assert {name: got[i].value for name, i in ids.items() if name != "wrong"} == {
        "right": 1.0, "undecided": 1.0, "no-answer": 1.0}
    assert summary.sources["informal"].values == {"1": 3, "0": 1}


def test_rows_stored_before_strict_parsing_are_read_again(store):
    """Hand-made table: 'missing_marker' rows as the old parser stored them. One read its 1 from
    a box without the score phrase (lenient now: it does not count); one has the phrase but no
    evaluation marker (still counts)."""
    from sqlalchemy import update

    from prover.store.schema import Verification

    pid = add_problem(store, "c1", "L", "Prove L.")
    run = store.start_run("informal")
    add_search(store, pid, m_verifications=2, m_meta=1, run_id=run)
    quoted, phrased = (add_proof(store, pid, name, run_id=run) for name in ("Quoted.", "Phrased."))
    texts = {quoted: "It ends with \\boxed{1}.", phrased: "Fine. The final overall score should be: \\boxed{1}"}
    for proof_id in (quoted, phrased):
        ids = add_analyses(store, proof_id, [1, 1])
        with store.session() as s:
            s.execute(update(Verification).where(Verification.id == ids[0])
                      .values(parse_status="missing_marker", analysis=texts[proof_id]))
    summary = build_labels(store, sources="informal")
    got = {r.proof_id: r.value for r in store.labels(sources=["informal"])}
    assert got == {phrased: 1.0}
    assert summary.sources["informal"].no_label == {"too-few-analyses": 1}


def test_informal_parameters_from_the_command_win(store, world):
    build_labels(store, sources="informal", informal=InformalPolicy(n=2, m=0, k=1, tau=1.0))
    got = {r.proof_id: r for r in store.labels(sources=["informal"])}
    ids = world
    # m = 0: analyses are taken as they are, so the rejected criticism now counts
    assert got[ids["rejected"]].value == 0.0
    assert got[ids["few"]].value == 1.0  # two parsed analyses suffice for n = 2
    assert got[ids["nosearch"]].value == 1.0
    assert got[ids["nosearch"]].policy_version == "informal/v2 n=2 m=0 k=1 tau=1"
    # k = 2 asks for two valid lowest-score analyses
    build_labels(store, sources="informal", informal=InformalPolicy(k=2))
    k2 = {r.proof_id: r for r in store.labels(sources=["informal"]) if "k=2" in r.policy_version}
    assert ids["low"] not in k2 and k2[ids["clean"]].value == 1.0


def test_resampled_analyses_do_not_count(store, world):
    ids = world
    run = store.start_run(RESAMPLE_RUN_KIND)
    # 0-scored analyses drawn by resample come first by sample index, yet are ignored
    add_analyses(store, ids["few"], [0, 0], metas={0: [1], 1: [1]}, run_id=run, start=-2)
    build_labels(store, sources="informal", informal=InformalPolicy(n=2))
    got = {r.proof_id: r.value for r in store.labels(sources=["informal"])}
    assert got[ids["few"]] == 1.0
    # and the verifier cross-check leaves them out too
    verdicts = store.parsed_verdicts()
    assert verdicts[ids["few"]] == [1.0, 1.0]


def test_human_labels_only_from_grades_marked_human(store, world):
    s = build_labels(store, sources="human")
    got = {r.proof_id: r for r in store.labels(sources=["human"])}
    assert set(got) == {world["nosearch"], world["low"]}
    assert got[world["nosearch"]].value == pytest.approx(6 / 7)
    assert got[world["nosearch"]].evidence["grades"][0]["raw"] == 6
    assert got[world["nosearch"]].policy_version == "human/v1"
    assert s.sources["human"].added == 2


def test_build_twice_adds_nothing(store, world):
    first = build_labels(store)
    n = len(store.labels())
    assert n == 5
    second = build_labels(store)
    assert len(store.labels()) == n
    for src in ("human", "informal"):
        assert second.sources[src].added == 0
        assert second.sources[src].existing == first.sources[src].added
        assert second.sources[src].changed == 0
    # no formal attempt in this database: the formal source says so and gives nothing
    assert first.sources["formal"].considered == 0 and "no finished formal attempt" in first.sources["formal"].note
    assert second.run_id != first.run_id


def test_changed_evidence_keeps_the_stored_label(store, world):
    build_labels(store, sources="human")
    add_grade(store, world["low"], 0.0, name="second-grader")
    s = build_labels(store, sources="human")
    assert s.sources["human"].changed == 1 and s.sources["human"].added == 0
    assert {r.proof_id: r.value for r in store.labels(sources=["human"])}[world["low"]] == 1.0


def test_formal_labels_stored_from_evidence_and_read_by_crosscheck(store, world):
    ids = world
    evidence = [full_evidence(proof_id=ids["clean"]),
                full_evidence(proof_id=ids["low"], statement_refuted=True, verified_check_id=None, verdict=None,
                              from_sketch=False, sketch_id=None),
                full_evidence(proof_id=ids["half"], root_closed_independently=True),
                full_evidence(proof_id=ids["few"], formalization_failed=True)]
    s = build_labels(store, sources="formal", formal_evidence_source=lambda _store: evidence, final_check="none")
    f = s.sources["formal"]
    assert (f.considered, f.added) == (4, 2)
    assert f.values == {"1": 1, "0": 1}
    assert f.no_label == {"root-closed-independently": 1, "formalization-failed": 1}
    stored = {r.proof_id: r for r in store.labels(sources=["formal"])}
    assert stored[ids["clean"]].evidence["evidence"]["verified_check_id"] == 11
    assert stored[ids["low"]].evidence["reason"] == "refuted-statement"
    r = crosscheck(store, "lean", "verifier", bootstrap=0)
    # clean: lean 1, verifier 1 (tp); low: lean 0, verifier mean 0.375 (tn)
    assert (r.n, r.tp, r.tn, r.fp, r.fn) == (2, 1, 1, 0, 0)


def test_conflicts_by_precedence_or_dropped(store, world):
    ids = world
    build_labels(store, sources="human,informal")
    by_proof = current_labels(store.labels())
    # low: human 1 vs informal 0; nosearch: human 6/7 only; clean/half: informal only
    chosen, report = resolve_conflicts(by_proof, ("human", "formal", "informal"))
    assert chosen[ids["low"]].source == "human" and report.proof_ids == [ids["low"]]
    assert report.by_sources == {"human=1,informal=0": 1}
    chosen, report = resolve_conflicts(by_proof, ("informal", "human"))
    assert chosen[ids["low"]].source == "informal" and report.count == 1
    chosen, report = resolve_conflicts(by_proof, ("human", "informal"), drop_conflicts=True)
    assert ids["low"] not in chosen and report.resolution == "dropped" and report.count == 1
    assert set(chosen) == {ids["clean"], ids["half"], ids["nosearch"]}
    # a source left out of the precedence is not used at all
    chosen, report = resolve_conflicts(by_proof, ("human",))
    assert set(chosen) == {ids["low"], ids["nosearch"]} and report.count == 0


def test_newest_policy_version_of_a_source_counts(store, world):
    build_labels(store, sources="informal")
    build_labels(store, sources="informal", informal=InformalPolicy(n=2, m=0))
    current = current_labels(store.labels())
    assert current[world["rejected"]]["informal"].policy_version.startswith("informal/v2 n=2 m=0")
    assert current[world["clean"]]["informal"].policy_version.startswith("informal/v2 n=2 m=0")


def test_labels_migration_matches_the_orm(store):
    """The alembic revision creates exactly the table the ORM describes (and crosscheck reads)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from prover.store.schema import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if "labels" in repr(d)]
    assert mine == []
    from sqlalchemy import inspect

    cols = {c["name"] for c in inspect(store.engine).get_columns("labels")}
    assert {"proof_id", "source", "value", "policy_version", "evidence"} <= cols
