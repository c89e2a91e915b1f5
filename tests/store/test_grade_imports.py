"""Graded-proof import: field mapping, grade scales, error rules and atomicity, on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from prover.core.errors import BadDataError, UsageError
from prover.store.grade_imports import import_graded_proofs
from prover.store.imports import import_problems
from prover.store.schema import GradeRow, Problem, Proof

DSM_FIELDS = ["id=problem_idx", "statement=question", "proof=model_prediction.proof"]
DSM_GRADES = ["human=model_prediction.human_rating:7", "auto=model_prediction.average_automatic_rating"]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def dsm_record(idx, question, proof, human=None, auto=None, **extra):
    pred = {"proof": proof, "model": "m-1"}
    if human is not None:
        pred["human_rating"] = human
    if auto is not None:
        pred["average_automatic_rating"] = auto
    return {"problem_idx": idx, "question": question, "model_prediction": pred, **extra}


def counts(store):
    with store.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Problem, Proof, GradeRow))


def grades_by_proof(store):
    with store.session() as s:
        rows = s.execute(select(Proof.text, GradeRow.name, GradeRow.value, GradeRow.raw, GradeRow.max,
                                GradeRow.human).join(Proof, Proof.id == GradeRow.proof_id))
        return {(t, n): (v, r, m, h) for t, n, v, r, m, h in rows}


def test_dsm_layout_with_human_and_auto_grades(tmp_path, store):
    f = write_jsonl(tmp_path / "preds.jsonl", [
        dsm_record("P1", "Show 1+1=2.", "Since 1+1=2.", human=7, auto=0.9, contest="X"),
        dsm_record("P1", "Show 1+1=2.", "By counting.", human=3, auto=0.25, contest="X"),
        dsm_record("P2", "Show 2+2=4.", "Trivial.", human=0, contest="X"),  # no automatic rating
    ])
    s = import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, human=["human"])
    assert (s.records, s.problems_created, s.problems_matched, s.proofs_created) == (3, 2, 1, 3)
    assert s.grades == {"human": 3, "auto": 2} and s.missing == {"human": 0, "auto": 1}
    g = grades_by_proof(store)
    assert g[("By counting.", "human")] == (pytest.approx(3 / 7), 3.0, 7.0, True)
    assert g[("By counting.", "auto")] == (0.25, 0.25, None, False)
    assert g[("Since 1+1=2.", "human")][0] == 1.0 and g[("Trivial.", "human")][0] == 0.0
    assert ("Trivial.", "auto") not in g
    assert store.grade_names() == {"auto": False, "human": True}
    with store.session() as session:
        proof = session.scalars(select(Proof).where(Proof.text == "By counting.")).one()
        problem = session.get(Problem, proof.problem_id)
    # unmapped fields stay on the proof; mapped ones (and the objects they emptied) do not
    assert proof.extra == {"model_prediction": {"model": "m-1"}, "contest": "X"}
    assert proof.source == "imported" and proof.run_id is not None
    assert (problem.collection, problem.external_id) == ("preds", "P1")
    assert problem.source == f"{f}:1"  # created by the first record that names it


def test_reimport_adds_nothing_and_new_grades_join_existing_proofs(tmp_path, store):
    rec = dsm_record("P1", "Q?", "Proof A.", human=5)
    f = write_jsonl(tmp_path / "a.jsonl", [rec])
    import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, human=["human"])
    s = import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, human=["human"])
    assert (s.proofs_created, s.problems_created, s.grades["human"]) == (0, 0, 0)
    assert counts(store) == (1, 1, 1)
    # a second file grading the same proof adds only the new grade
    g = write_jsonl(tmp_path / "b.jsonl", [{"id": "P1", "q": "Q?", "text": "Proof A.", "judge": 0.5}])
    s = import_graded_proofs(store, [g], fields=["id=id", "statement=q", "proof=text"],
                             grades=["judge=judge"], collection="a")
    assert (s.proofs_created, s.grades) == (0, {"judge": 1})
    assert counts(store) == (1, 1, 2)
    # the same grade with another value is an error naming the record
    h = write_jsonl(tmp_path / "a2.jsonl", [dsm_record("P1", "Q?", "Proof A.", human=6)])
    with pytest.raises(BadDataError, match=r"a2.jsonl:1.*already has grade human = 5"):
        import_graded_proofs(store, [h], fields=DSM_FIELDS, grades=DSM_GRADES, collection="a")


@pytest.mark.parametrize("value,spec,message", [
    (8, "human=model_prediction.human_rating:7", r"outside \[0, 7\]"),
    (-1, "human=model_prediction.human_rating:7", r"outside \[0, 7\]"),
    (1.5, "human=model_prediction.human_rating", r"outside \[0, 1\] \(no :MAX"),
    ("seven", "human=model_prediction.human_rating:7", "expected a number"),
    (True, "human=model_prediction.human_rating:7", "expected a number, got bool"),
    ([7], "human=model_prediction.human_rating:7", "expected a number, got list"),
])
def test_bad_grade_names_record_and_writes_nothing(tmp_path, store, value, spec, message):
    good = write_jsonl(tmp_path / "good.jsonl", [dsm_record("P1", "Q?", "ok", human=1)])
    bad = write_jsonl(tmp_path / "bad.jsonl", [dsm_record("P1", "Q?", "ok", human=1),
                                               dsm_record("P2", "R?", "no", human=value)])
    with pytest.raises(BadDataError, match=message) as err:
        import_graded_proofs(store, [good, bad], fields=DSM_FIELDS, grades=[spec])
    assert f"{bad}:2" in str(err.value) and "model_prediction.human_rating" in str(err.value)
    assert counts(store) == (0, 0, 0)


def test_csv_numeric_strings_and_empty_cells(tmp_path, store):
    f = tmp_path / "grades.csv"
    f.write_text("pid,statement,proof,score,grader\nA,Prove A.,pa,6,x\nB,Prove B.,pb,,y\nC,Prove C.,pc,3.5,z\n")
    s = import_graded_proofs(store, [f], fields=["id=pid", "statement=statement", "proof=proof"],
                             grades=["human=score:7"], human=["human"])
    assert s.grades == {"human": 2} and s.missing == {"human": 1}
    g = grades_by_proof(store)
    assert g[("pa", "human")][0] == pytest.approx(6 / 7) and g[("pc", "human")][0] == pytest.approx(0.5)
    with store.session() as session:
        assert session.scalars(select(Proof.extra).where(Proof.text == "pb")).one() == {"grader": "y"}


def test_statement_mismatch_is_an_error_unless_keep(tmp_path, store, vendored):
    import_problems(store, [vendored / "IMO2025_sample.json"], collection="imo")
    f = write_jsonl(tmp_path / "g.jsonl", [dsm_record("IMO2025-1", "A different statement.", "pf", human=7)])
    with pytest.raises(BadDataError, match=r"g.jsonl:1.*statement differs.*imo/IMO2025-1.*--on-mismatch keep"):
        import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, collection="imo")
    assert counts(store) == (3, 0, 0)
    s = import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, collection="imo",
                             on_mismatch="keep")
    assert (s.problems_created, s.problems_matched, s.statement_mismatches_kept) == (0, 1, 1)
    with store.session() as session:
        proof = session.scalars(select(Proof)).one()
        assert session.get(Problem, proof.problem_id).external_id == "IMO2025-1"
    assert proof.extra["imported_statement"] == "A different statement."


def test_matching_statement_attaches_to_stored_problem(tmp_path, store, vendored):
    import_problems(store, [vendored / "IMO2025_sample.json"], collection="imo")
    question = json.loads((vendored / "IMO2025_sample.json").read_text())[1]["question"]
    f = write_jsonl(tmp_path / "g.jsonl", [dsm_record("IMO2025-2", "  " + question + "\n", "pf", human=7)])
    s = import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, collection="imo")
    assert (s.problems_created, s.problems_matched, s.statement_mismatches_kept) == (0, 1, 0)


def test_without_statement_the_problem_must_exist(tmp_path, store, vendored):
    f = write_jsonl(tmp_path / "g.jsonl", [{"id": "IMO2025-3", "proof": "pf", "g": 1}])
    fields = ["id=id", "proof=proof"]
    with pytest.raises(BadDataError, match="not in the database"):
        import_graded_proofs(store, [f], fields=fields, grades=["g=g"], collection="imo")
    import_problems(store, [vendored / "IMO2025_sample.json"], collection="imo")
    s = import_graded_proofs(store, [f], fields=fields, grades=["g=g"], collection="imo")
    assert (s.problems_matched, s.proofs_created) == (1, 1)


@pytest.mark.parametrize("kwargs,message", [
    (dict(grades=["lean=x"]), "reserved"),
    (dict(grades=["verifier=x:7"]), "reserved"),
    (dict(grades=["label=x"]), "reserved"),
    (dict(grades=["answer=x"]), "reserved"),
    (dict(grades=["h=x", "h=y"]), "distinct"),
    (dict(grades=["h=x"], human=["auto"]), "no --grade has that name"),
    (dict(grades=["h=x:0"]), "> 0"),
    (dict(grades=[]), "at least one --grade"),
    (dict(grades=["h=x"], fields=["id=a"]), "proof=PATH is required"),
    (dict(grades=["h=x"], fields=["id=a", "proof=b", "formal_statement=c"]), "unknown NAME"),
])
def test_usage_errors(tmp_path, store, kwargs, message):
    f = write_jsonl(tmp_path / "g.jsonl", [{"a": "1", "b": "pf", "x": 0.5}])
    kwargs.setdefault("fields", ["id=a", "proof=b"])
    with pytest.raises(UsageError, match=message):
        import_graded_proofs(store, [f], **kwargs)


def test_missing_proof_text_names_field(tmp_path, store):
    f = write_jsonl(tmp_path / "g.jsonl", [dsm_record("P1", "Q?", "", human=3)])
    with pytest.raises(BadDataError, match=r"g.jsonl:1.*model_prediction.proof"):
        import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES)


def test_grades_of(tmp_path, store):
    f = write_jsonl(tmp_path / "g.jsonl", [dsm_record("P1", "Q?", "pf", human=7, auto=0.5)])
    import_graded_proofs(store, [f], fields=DSM_FIELDS, grades=DSM_GRADES, human=["human"])
    with store.session() as s:
        proof_id = s.scalars(select(Proof.id)).one()
    grades = store.grades_of(proof_id)
    assert [(g.name, g.value, g.raw, g.max, g.human) for g in grades] == [
        ("auto", 0.5, 0.5, None, False), ("human", 1.0, 7.0, 7.0, True)]
    assert grades[0].source == f"{f}:1" and grades[0].proof_id == proof_id
