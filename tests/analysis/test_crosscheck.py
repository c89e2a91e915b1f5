"""Cross-checks read from a real SQLite proof database: which values each source gives, what
is excluded and why, populations, groups, and the command's JSON, text and plots."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update

from prover.analysis.crosscheck import crosscheck
from prover.analysis.metrics import compute_metrics
from prover.cli.main import cli
from prover.core.crosscheck_records import PairedValue
from prover.core.errors import UsageError
from prover.core.records import ProblemRecord, ProofRecord, VerificationRecord
from prover.store import ProofStore
from prover.store.schema import GradeRow, Proof

# proof -> (problem, verdicts [(model, score or None)], human grade out of 7 or None, proof metadata)
PROOFS = {
    "a1": ("A", [("m1", 1), ("m1", 1), ("m1", 1)], 7, {"formal_population": "selected", "model": "x"}),
    "a2": ("A", [("m1", 1), ("m1", 0.5)], 6, {"formal_population": "random", "formal_inclusion_probability": 0.5}),
    "a3": ("A", [("m1", 0), ("m1", 0), ("m1", 0.5)], 0, {"model": "y"}),
    "b1": ("B", [("m1", 1), ("m1", 1)], 2,
           {"formal_population": ["selected", "random"], "formal_inclusion_probability": 0.25}),
    "b2": ("B", [("m1", 0.5)], 7, {}),
    "b3": ("B", [("m1", None)], 7, {}),
    "b4": ("B", [("m1", 1), ("m1", 1)], None, {}),
    "c1": ("C", [("m1", 0), ("m1", 0)], 1, {}),
    "c2": ("C", [("m2", 1), ("m2", 1)], 7, {}),
}
PROBLEMS = {"A": ("minif2f", 1), "B": ("putnam", 2), "C": ("putnam", 2)}


@pytest.fixture
def db(db_url):
    """The table above in a real database (a SQLite file; PostgreSQL too when configured);
    returns (url, {name: proof id})."""
    path = db_url
    store = ProofStore.open(path)
    store.add_problems([ProblemRecord(collection=coll, external_id=key, informal_statement=f"Problem {key}.",
                                      metadata={"level": level}) for key, (coll, level) in PROBLEMS.items()])
    pid = {p.external_id: p.id for p in store.list_problems()}
    names = list(PROOFS)
    ids = store.add_proofs([ProofRecord(problem_id=pid[PROOFS[n][0]], text=f"Proof {n}: by a short argument.",
                                        metadata=PROOFS[n][3]) for n in names])
    ids = dict(zip(names, ids))
    store.add_verifications([
        VerificationRecord(proof_id=ids[n], analysis="...", score=score, verifier_model=model,
                           parse_status="ok" if score is not None else "unparsed")
        for n in names for model, score in PROOFS[n][1]])
    with store.session() as s:
        for n in names:
            if PROOFS[n][2] is not None:
                s.add(GradeRow(proof_id=ids[n], name="human", value=PROOFS[n][2] / 7, raw=PROOFS[n][2], max=7,
                               human=True))
        s.execute(update(Proof).where(Proof.id == ids["a1"]).values(answer_match=True))
        s.execute(update(Proof).where(Proof.id == ids["a3"]).values(answer_match=False))
    store.close()
    return path, ids


def open_store(path):
    return ProofStore.open(path)


def test_verifier_against_human_grades(db):
    path, ids = db
    with open_store(path) as store:
        r = crosscheck(store, "human", "verifier", reference_threshold="6/7", min_verdicts=2, bootstrap=200)
    # a1 tp, a2 fn (0.75 < 1), a3 tn, b1 fp (2/7 < 6/7), c1 tn, c2 tp (model m2)
    assert (r.n, r.tp, r.fp, r.tn, r.fn) == (6, 2, 1, 2, 1)
    assert r.considered == 9 and r.problems == 3
    assert r.excluded == {"candidate verifier: fewer than 2 parsed verdicts": 1,
                          "candidate verifier: no parsed verdict": 1,
                          "reference human: no human grade": 1}
    assert r.disagreements == {"candidate_pass_reference_fail": [ids["b1"]],
                               "candidate_fail_reference_pass": [ids["a2"]]}
    # the values handed to the metrics are the stored ones, grouped by problem
    expected = compute_metrics([
        PairedValue(problem="A", proof_id=1, reference=1, candidate=1),
        PairedValue(problem="A", proof_id=2, reference=6 / 7, candidate=0.75),
        PairedValue(problem="A", proof_id=3, reference=0, candidate=1 / 6),
        PairedValue(problem="B", proof_id=4, reference=2 / 7, candidate=1),
        PairedValue(problem="C", proof_id=8, reference=1 / 7, candidate=0),
        PairedValue(problem="C", proof_id=9, reference=1, candidate=1),
    ], reference_threshold=6 / 7, bootstrap=200)
    for name in ("precision", "recall", "f1", "accuracy", "kappa", "pearson", "spearman", "auc", "ece"):
        assert getattr(r, name) == pytest.approx(getattr(expected, name)), name
    # pytest >= 9 compares only flat mappings approximately: one interval at a time
    assert r.ci.keys() == expected.ci.keys()
    for name, interval in expected.ci.items():
        assert r.ci[name] == (None if interval is None else pytest.approx(interval)), name
    assert r.population == "all" and r.reference == "human" and r.candidate == "verifier"


def test_one_verifier_model(db):
    path, ids = db
    with open_store(path) as store:
        r = crosscheck(store, "human", "verifier:m1", reference_threshold="6/7", min_verdicts=2, bootstrap=0)
        assert r.n == 5 and r.excluded["candidate verifier:m1: no parsed verdict"] == 2  # b3 and c2
        with pytest.raises(UsageError, match="m3.*models: m1, m2"):
            crosscheck(store, "human", "verifier:m3")


def test_unknown_grade_name(db):
    with open_store(db[0]) as store, pytest.raises(UsageError, match="grades in this database: human"):
        crosscheck(store, "humans", "verifier")


def test_lean_without_formal_labels_excludes_everything(db):
    with open_store(db[0]) as store:
        r = crosscheck(store, "lean", "verifier", bootstrap=100)
    assert r.n == 0 and r.accuracy is None and r.auc is None and all(v is None for v in r.ci.values())
    assert r.excluded == {"reference lean: no definitive Lean value (no formal label)": 9}
    json.dumps(r.to_json_dict(), allow_nan=False)


def test_lean_without_labels_table_excludes_everything(db):
    # A database whose labels table is gone (or a foreign one that never had it).
    with open_store(db[0]) as store:
        with store.session() as s:
            s.execute(text("DROP TABLE labels"))
        r = crosscheck(store, "lean", "verifier", bootstrap=100)
    assert r.n == 0 and r.accuracy is None
    assert r.excluded == {"reference lean: no definitive Lean value (this database has no labels table)": 9}
    assert any("no labels table" in n for n in r.notes)
    json.dumps(r.to_json_dict(), allow_nan=False)


def add_labels(path, ids, rows):
    from prover.core.label_records import LabelRecord

    store = open_store(path)
    store.add_labels([LabelRecord(proof_id=ids[name], source=source, value=value, policy_version=f"{source}/test")
                      for name, source, value in rows])
    store.close()


def test_lean_and_label_from_a_labels_table(db):
    path, ids = db
    add_labels(path, ids, [("a1", "formal", 1), ("b1", "formal", 0), ("a3", "informal", 0),
                           ("b4", "informal", 1), ("c1", "formal", 0)])
    with open_store(path) as store:
        lean = crosscheck(store, "lean", "verifier", min_verdicts=2, bootstrap=0)
        # a1 (1, 1) tp; b1 (0, 1) fp; c1 (0, 0) tn; the rest have no formal label
        assert (lean.n, lean.tp, lean.fp, lean.tn, lean.fn) == (3, 1, 1, 1, 0)
        assert lean.excluded == {"reference lean: no definitive Lean value (no formal label)": 6}
        label = crosscheck(store, "label", "verifier", reference_threshold="6/7", min_verdicts=2, bootstrap=0)
        # human grades win over formal and informal labels; b4 has only an informal one, left out
        assert label.excluded["reference label: informal label left out (same analyses as the verifier)"] == 1
        assert (label.n, label.tp, label.fp, label.tn, label.fn) == (6, 2, 1, 2, 1)
        kept = crosscheck(store, "label", "verifier", reference_threshold="6/7", min_verdicts=2, bootstrap=0,
                          include_informal_labels=True)
        assert (kept.n, kept.tp) == (7, 3)


def test_answer_source(db):
    with open_store(db[0]) as store:
        r = crosscheck(store, "answer", "human", bootstrap=0)
    assert (r.n, r.tp, r.tn) == (2, 1, 1)
    assert r.excluded == {"reference answer: no answer match (no reference answer, or not judged)": 7}


def test_verifier_passed_proofs_with_a_mismatching_answer(db):
    """a1 (verdicts 1,1,1) matches; b4 (1,1) is made to mismatch; a3 mismatches but the verifier
    failed it; b1 passes with no answer check: one of two verifier-passed proofs is wrong."""
    path, ids = db
    with open_store(path) as store:
        with store.session() as s:
            s.execute(update(Proof).where(Proof.id == ids["b4"]).values(answer_match=False))
        r = crosscheck(store, "answer", "verifier", bootstrap=0)
        am = r.answer_mismatch
        assert (am.passed, am.mismatched, am.rate, am.proof_ids) == (2, 1, 0.5, [ids["b4"]])
        # any pair with the verifier or the answer on one side reports it; others do not
        assert crosscheck(store, "human", "verifier", bootstrap=0).answer_mismatch.mismatched == 1
        assert crosscheck(store, "human", "label", bootstrap=0).answer_mismatch is None
    result = CliRunner().invoke(cli, ["crosscheck", "--db", str(path), "--reference", "answer", "--candidate",
                                      "verifier", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert f"Verifier-passed proofs with a mismatching answer: 1 of 2 (50.0%); proofs {ids['b4']}" in result.output
    result = CliRunner().invoke(cli, ["crosscheck", "--db", str(path), "--reference", "answer", "--candidate",
                                      "verifier", "--bootstrap", "0", "--json"])
    assert json.loads(result.output)["answer_mismatch"]["mismatched"] == 1


def test_populations(db):
    path, ids = db
    with open_store(path) as store:
        sel = crosscheck(store, "human", "verifier", population="selected", bootstrap=0)
        rnd = crosscheck(store, "human", "verifier", population="random", reference_threshold="6/7",
                         bootstrap=0)
    assert sel.considered == 2 and (sel.tp, sel.fp) == (1, 1)  # a1, b1
    assert rnd.considered == 2 and (rnd.fn, rnd.fp) == (1, 1)  # a2, b1
    assert any("biased sample" in n for n in sel.notes)
    assert any("inclusion probabilities 0.25..0.5" in n and "unweighted" in n for n in rnd.notes)


def test_groups(db):
    path, ids = db
    with open_store(path) as store:
        by_source = crosscheck(store, "human", "verifier", reference_threshold="6/7", min_verdicts=2,
                               by="source", bootstrap=50)
        by_level = crosscheck(store, "human", "verifier", by="level", bootstrap=0)
        by_key = crosscheck(store, "human", "verifier", by="model", bootstrap=0)
    g = by_source.groups
    assert list(g) == ["minif2f", "putnam"]
    assert (g["minif2f"].n, g["minif2f"].tp, g["minif2f"].fn, g["minif2f"].tn) == (3, 1, 1, 1)
    assert (g["putnam"].n, g["putnam"].considered, sum(g["putnam"].excluded.values())) == (3, 6, 3)
    assert g["putnam"].disagreements["candidate_pass_reference_fail"] == [ids["b1"]]
    assert list(by_level.groups) == ["1", "2"]
    assert {k: v.considered for k, v in by_key.groups.items()} == {"(none)": 7, "x": 1, "y": 1}
    data = by_source.to_json_dict()
    for key in ("n", "tp", "fp", "tn", "fn", "precision", "recall", "f1", "accuracy", "kappa", "pearson",
                "spearman", "auc", "ece", "ci", "excluded", "population", "disagreements"):
        assert key in data["groups"]["putnam"]


REQUIRED_KEYS = {"n", "tp", "fp", "tn", "fn", "precision", "recall", "f1", "accuracy", "kappa", "pearson",
                 "spearman", "auc", "ece", "ci", "excluded", "population", "disagreements"}


def test_cli_json_text_and_plots(db, tmp_path):
    path, ids = db
    runner = CliRunner()
    args = ["crosscheck", "--db", str(path), "--reference", "human", "--candidate", "verifier",
            "--reference-threshold", "6/7", "--min-verdicts", "2", "--bootstrap", "100"]
    r = runner.invoke(cli, [*args, "--json", "--by", "source"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert REQUIRED_KEYS <= set(data) and "groups" in data and set(data["groups"]) == {"minif2f", "putnam"}
    assert (data["n"], data["tp"], data["fp"], data["tn"], data["fn"]) == (6, 2, 1, 2, 1)
    assert set(data["ci"]) >= {"precision", "auc", "ece"} and len(data["ci"]["auc"]) == 2
    assert data["disagreements"]["candidate_pass_reference_fail"] == [ids["b1"]]
    assert "NaN" not in r.output

    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "candidate verifier (pass >= 1) against reference human (pass >= 0.857143)" in r.output
    assert f"  {ids['b1']}  Proof b1: by a short argument." in r.output
    assert f"  {ids['a2']}  Proof a2: by a short argument." in r.output
    assert "  excluded      1  reference human: no human grade\n" in r.output

    plots = tmp_path / "plots"
    r = runner.invoke(cli, [*args, "--plot", str(plots)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in plots.iterdir()) == ["crosscheck_distribution.png", "crosscheck_reliability.png"]


def test_cli_errors(db, tmp_path):
    path, _ = db
    runner = CliRunner()
    r = runner.invoke(cli, ["crosscheck", "--db", str(path), "--reference", "nope", "--candidate", "verifier"])
    assert r.exit_code == 2 and r.output.startswith("Error: ") and "nope" in r.output
    r = runner.invoke(cli, ["crosscheck", "--db", str(path), "--reference", "human", "--candidate", "verifier",
                            "--candidate-threshold", "x/y"])
    assert r.exit_code == 2 and "--candidate-threshold" in r.output
    r = runner.invoke(cli, ["crosscheck", "--db", str(tmp_path / "missing.db"), "--reference", "human",
                            "--candidate", "verifier"])
    assert r.exit_code == 2 and "no database" in r.output
