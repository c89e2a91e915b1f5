"""Problem import: layouts, field mapping, atomicity, identities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.core.errors import BadDataError, UsageError
from prover.store import ProofStore
from prover.store.imports import get_path, import_problems, parse_problem_file, split_lean_problem


@pytest.fixture
def sqlite_store(tmp_path):
    s = ProofStore.open(tmp_path / "db.sqlite")
    yield s
    s.close()


def test_deepseek_prover_layout(vendored):
    recs = parse_problem_file(vendored / "minif2f_sample.jsonl")
    r = recs[0]
    assert r.collection == "minif2f_sample" and r.external_id == "amc12a_2019_p21" and r.split == "valid"
    assert not r.informal_statement.startswith("/--") and not r.informal_statement.endswith("-/")
    fs = r.formal_statements[0]
    assert fs.toolchain == "leanprover/lean4:v4.9.0"
    assert fs.preamble.startswith("import Mathlib") and fs.statement.rstrip().endswith(":= by")
    assert "goal" in r.metadata  # unmapped fields are kept


def test_putnambench_layout_splits_file(vendored):
    recs = {r.external_id: r for r in parse_problem_file(vendored / "putnambench_sample.jsonl")}
    a2 = recs["putnam_1962_a2"]
    fs = a2.formal_statements[0]
    assert fs.toolchain == "leanprover/lean4:v4.27.0"
    assert fs.answer_slots.strip() == "abbrev putnam_1962_a2_solution : Set (ℝ → ℝ) := sorry"
    assert fs.reference_answer_lean.startswith("{f | (∃ a c : ℝ")
    # the reference answer and the docstring are nowhere in the stored Lean text
    assert "∃ a c : ℝ, 0 ≤ a" not in fs.lean_text and "/--" not in fs.lean_text
    assert fs.statement.startswith("theorem putnam_1962_a2") and a2.reference_solution is not None
    # "None." means no reference solution; a `def` with a body stays in the preamble
    assert recs["putnam_1962_a1"].reference_solution is None
    b5 = recs["putnam_1997_b5"].formal_statements[0]
    assert "def tetration" in b5.preamble and b5.answer_slots == ""


def test_dsm_v2_layout(vendored):
    recs = parse_problem_file(vendored / "IMO2025_sample.json")
    assert [r.external_id for r in recs] == ["IMO2025-1", "IMO2025-2", "IMO2025-3"]
    assert recs[0].reference_answer == "k = 0, 1, 3 for all n" and recs[0].collection == "IMO2025_sample"
    assert recs[0].formal_statements == []


def test_lean_files_directory(vendored):
    recs = parse_problem_file(vendored / "lean", collection="x")
    by = {r.external_id: r for r in recs}
    assert by["amc12a_2019_p21"].formal_statements[0].toolchain == "leanprover/lean4:v4.24.0"
    assert by["amc12a_2019_p21"].informal_statement is None  # hash falls back to the formal statement
    assert by["putnam_1962_a2"].informal_statement.startswith("Find every real-valued function")
    assert by["putnam_1962_a2"].formal_statements[0].toolchain == "unknown"


def test_joined_minif2f_adds_formal_statements_only(vendored, sqlite_store):
    import_problems(sqlite_store, [vendored / "minif2f_sample.jsonl"], collection="minif2f")
    s = import_problems(sqlite_store, [vendored / "minif2f_joined_sample.jsonl"], collection="minif2f")
    assert (s.problems_added, s.formal_added, s.formal_existing) == (0, 3, 3)
    assert sqlite_store.stats()["formal_statements_by_toolchain"] == {
        "leanprover/lean4:v4.24.0": 3, "leanprover/lean4:v4.9.0": 3}


def test_proofnet_repeated_names_are_distinct_problems(vendored, sqlite_store):
    s = import_problems(sqlite_store, [vendored / "proofnet_sample.jsonl"])
    assert s.problems_added == 3
    with pytest.raises(UsageError, match="ambiguous"):
        sqlite_store.resolve_problem("exercise_3_3")


def test_field_mapping_csv_and_nested(tmp_path, sqlite_store):
    f = tmp_path / "mine.jsonl"
    f.write_text(json.dumps({"meta": {"key": "a1"}, "q": ["Prove it."], "ans": "None.", "x": 1}) + "\n")
    recs = parse_problem_file(f, fields={"id": "meta.key", "statement": "q.0", "answer": "ans"})
    assert recs[0].external_id == "a1" and recs[0].informal_statement == "Prove it."
    assert recs[0].reference_answer is None and recs[0].metadata == {"meta": {}, "q": [], "x": 1}
    c = tmp_path / "p.csv"
    c.write_text("id,problem,answer\nq1,What is 2+2?,4\nq2,\"Multi,comma\",null\n")
    s = import_problems(sqlite_store, [c], fields=["id=id", "statement=problem", "answer=answer"])
    assert s.problems_added == 2
    assert sqlite_store.resolve_problem("q1").reference_answer == "4"
    assert sqlite_store.resolve_problem("q2").reference_answer is None


def test_unknown_field_name_is_usage_error(tmp_path, sqlite_store):
    f = tmp_path / "a.jsonl"
    f.write_text('{"a": 1}\n')
    with pytest.raises(UsageError, match="unknown NAME 'bogus'"):
        import_problems(sqlite_store, [f], fields=["bogus=a"])


def test_unknown_layout_names_fields(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"foo": 1}\n')
    with pytest.raises(BadDataError, match="unknown layout.*foo"):
        parse_problem_file(f)


@pytest.mark.parametrize("content, where", [
    ('{"problem_idx": "a", "question": "Q"}\n{"problem_idx": "b", "question": \n', ":2"),
    ('{"problem_idx": "a", "question": "Q"}\n[1, 2]\n', ":2"),
    ('{"problem_idx": "a", "question": "Q"}\n{"problem_idx": "b", "question": ""}\n', "field 'question'"),
    ('{"problem_idx": "a", "question": "Q"}\n{"problem_idx": "b", "question": {"x": 1}}\n', "field 'question'"),
])
def test_malformed_file_writes_nothing(tmp_path, sqlite_store, content, where):
    good = tmp_path / "good.jsonl"
    good.write_text('{"problem_idx": "g", "question": "Good."}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(BadDataError) as err:
        import_problems(sqlite_store, [good, bad])
    assert str(bad) in str(err.value) and where in str(err.value)
    assert sqlite_store.stats()["tables"]["problems"] == 0  # not even the good file


def test_not_utf8(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"problem_idx": "\xff"}\n')
    with pytest.raises(BadDataError, match="not UTF-8"):
        parse_problem_file(f)


def test_get_path():
    rec = {"a": {"b": [10, {"c": "x"}]}}
    assert get_path(rec, "a.b.1.c") == "x" and get_path(rec, "a.b.0") == 10
    from prover.store.imports import MISSING

    assert get_path(rec, "a.b.5") is MISSING and get_path(rec, "a.z") is MISSING


def test_split_lean_problem_requires_one_theorem():
    with pytest.raises(ValueError, match="exactly one theorem"):
        split_lean_problem("import Mathlib\n")
    parts = split_lean_problem("import Mathlib\n/-- doc -/\ntheorem t : True := by\n  sorry\n")
    assert parts.name == "t" and parts.docstring == "doc" and parts.preamble == "import Mathlib\n"


def test_shared_data_counts(data_dir, tmp_path):
    """The acceptance counts of the foundation issue, on the full shared data."""
    store = ProofStore.open(tmp_path / "all.db")
    d = data_dir
    assert import_problems(store, [d / "minif2f/deepseek-prover-v1.5/minif2f.jsonl"]).problems_added == 488
    assert import_problems(store, [d / "proofnet/deepseek-prover-v1.5/proofnet.jsonl"]).problems_added == 371
    assert import_problems(store, [d / "putnambench/putnambench_lean4_informal_formal.jsonl"]).problems_added == 672
    dsm = sorted((d / "dsm-v2-inputs").glob("*.json"))
    assert import_problems(store, dsm).problems_added == 30
    joined = import_problems(store, [d / "minif2f/minif2f_lean4_informal_formal.jsonl"], collection="minif2f")
    assert (joined.problems_added, joined.formal_added) == (0, 488)
    assert store.stats()["formal_statements_by_toolchain"]["leanprover/lean4:v4.24.0"] == 488
    before = store.stats()["tables"]
    for f in [d / "minif2f/deepseek-prover-v1.5/minif2f.jsonl", d / "putnambench/putnambench_lean4_informal_formal.jsonl"]:
        again = import_problems(store, [f])
        assert again.problems_added == 0 and again.formal_added == 0
    assert store.stats()["tables"] == before
    # PutnamBench: 346 answer slots, each with its reference answer kept apart
    from sqlalchemy import func, select

    from prover.store.schema import FormalStatement

    with store.session() as s:
        assert s.scalar(select(func.count()).where(FormalStatement.answer_slots != "")) == 346
        assert s.scalar(select(func.count()).where(FormalStatement.reference_answer_lean.is_not(None))) == 346
    # .lean problem directories import too (yangky11 v4.24 files)
    lean = import_problems(store, [d / "minif2f/yangky11-miniF2F-lean4/MiniF2F"], collection="minif2f-lean")
    assert lean.problems_added == 488
    store.close()


# -- canonical fields, BOM, the unknown-layout hint ---------------------------------------------

def test_canonical_field_names_import_without_mapping(tmp_path, sqlite_store):
    f = tmp_path / "mine.jsonl"
    f.write_text(json.dumps({"id": "a1", "statement": "Prove it.", "answer": "4", "split": "test", "x": 1}) + "\n"
                 + json.dumps({"id": "a2", "statement": "And this.", "tags": "algebra, easy"}) + "\n")
    recs = parse_problem_file(f)
    assert [(r.collection, r.external_id, r.informal_statement) for r in recs] == [
        ("mine", "a1", "Prove it."), ("mine", "a2", "And this.")]
    assert recs[0].reference_answer == "4" and recs[0].split == "test" and recs[0].metadata == {"x": 1}
    assert recs[1].tags == ["algebra", "easy"]
    # a CSV written by a spreadsheet program: a UTF-8 BOM before the header
    c = tmp_path / "sheet.csv"
    c.write_bytes("\ufeffid,statement,answer\nq1,What is 2+2?,4\n".encode("utf-8"))
    s = import_problems(sqlite_store, [c])
    assert s.problems_added == 1 and sqlite_store.resolve_problem("sheet/q1").reference_answer == "4"


def test_canonical_formal_only_record(tmp_path):
    f = tmp_path / "formal.jsonl"
    f.write_text(json.dumps({"id": "t", "formal_statement": "theorem t : True := by\n", "header": "import Mathlib\n",
                             "toolchain": "leanprover/lean4:v4.9.0"}) + "\n")
    (r,) = parse_problem_file(f)
    assert r.informal_statement is None and r.formal_statements[0].preamble == "import Mathlib\n"
    assert r.formal_statements[0].toolchain == "leanprover/lean4:v4.9.0"


def test_unknown_layout_suggests_a_mapping_that_fits(tmp_path):
    """IMO-ProofBench-like columns (a "Rubric" where IMO-ProofBench, a known layout, has "Grading
    guidelines"): the suggested --field options import the file as they are."""
    import shlex

    f = tmp_path / "proofbench.csv"
    f.write_text("Problem ID,Problem,Solution,Rubric,Category,Level,Short Answer,Source\n"
                 'PB-Basic-001,"Determine all f.","By taking x = 0.","(Partial) ...",Algebra,Basic,f(x) = 0,X\n')
    with pytest.raises(BadDataError) as err:
        parse_problem_file(f)
    message = str(err.value)
    assert "Problem ID" in message
    args = shlex.split(message.partition("e.g. ")[2])
    fields = dict(a.split("=", 1) for a in args if a != "--field")
    assert fields == {"id": "Problem ID", "statement": "Problem", "answer": "Short Answer", "solution": "Solution",
                      "guidelines": "Rubric", "tags": "Category"}
    (r,) = parse_problem_file(f, fields=fields)
    assert (r.external_id, r.informal_statement, r.reference_answer) == ("PB-Basic-001", "Determine all f.",
                                                                         "f(x) = 0")
    assert r.grading_guidelines == "(Partial) ..." and r.metadata["Level"] == "Basic"


def test_unknown_layout_without_a_guess_names_placeholders(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"foo": 1, "bar": 2}\n')
    with pytest.raises(BadDataError, match=r"fields: foo, bar.*--field id=FIELD --field statement=FIELD"):
        parse_problem_file(f)


# -- the collection of a known source ---------------------------------------------------------

def test_known_layouts_name_their_collection(vendored, tmp_path):
    assert {r.collection for r in parse_problem_file(vendored / "putnambench_sample.jsonl")} == {"putnambench"}
    assert {r.collection for r in parse_problem_file(vendored / "minif2f_joined_sample.jsonl")} == {"minif2f"}
    # DeepSeek-Prover's files are named after their benchmark (minif2f.jsonl, proofnet.jsonl)
    assert {r.collection for r in parse_problem_file(vendored / "proofnet_sample.jsonl")} == {"proofnet_sample"}
    # --collection still wins
    assert {r.collection for r in parse_problem_file(vendored / "putnambench_sample.jsonl", collection="pb")} == {"pb"}


def test_lean_files_take_their_lake_package_collection(vendored, tmp_path):
    import shutil

    src = tmp_path / "lean4" / "src"
    src.mkdir(parents=True)
    shutil.copy(vendored / "lean" / "minif2f" / "amc12a_2019_p21.lean", src)
    (tmp_path / "lean4" / "lake-manifest.json").write_text('{"version": "1.1.0", "name": "putnam"}')
    assert [r.collection for r in parse_problem_file(src)] == ["putnambench"]
    assert [r.collection for r in parse_problem_file(src / "amc12a_2019_p21.lean")] == ["putnambench"]
    # Lean writes some package names in «»; miniF2F's formal-only files get a collection of their own
    (tmp_path / "lean4" / "lake-manifest.json").write_text('{"version": "1.1.0", "name": "«miniF2F-lean4»"}')
    assert [r.collection for r in parse_problem_file(src)] == ["minif2f-lean4"]
    # a folder of another package keeps its name
    (tmp_path / "lean4" / "lake-manifest.json").write_text('{"version": "1.1.0", "name": "mybench"}')
    assert [r.collection for r in parse_problem_file(src)] == ["src"]


def test_putnambench_files_make_putnambench(vendored, tmp_path):
    # PutnamBench's Lean file alone (by its name), and Goedel-Prover's snapshot (by its fields)
    assert [r.collection for r in parse_problem_file(vendored / "lean" / "putnam")] == ["putnambench"]
    goedel = tmp_path / "putnam.jsonl"
    record = {"name": "putnam_2010_a4", "header": "import Mathlib\n", "formal_statement": "theorem t : True := by\n",
              "informal_statement": "Prove it.", "informal_solution": "null", "coq_statement": "null",
              "isabelle_statement": "null"}
    goedel.write_text(json.dumps(record) + "\n" + json.dumps({**record, "name": "asserts"}) + "\n")
    assert [r.collection for r in parse_problem_file(goedel)] == ["putnambench", "putnambench"]
    # Goedel's layout without PutnamBench's Coq and Isabelle statements nor its names: the stem
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({k: v for k, v in {**record, "name": "lemma_1"}.items()
                                 if k not in ("coq_statement", "isabelle_statement")}) + "\n")
    assert [r.collection for r in parse_problem_file(other)] == ["other"]


def test_putnambench_three_ways_is_one_collection(data_dir, tmp_path):
    d = data_dir / "putnambench"
    with ProofStore.open(tmp_path / "pb.db") as store:
        added = [import_problems(store, [path]) for path in (
            d / "putnambench_lean4_informal_formal.jsonl", d / "trishullab-PutnamBench" / "lean4" / "src",
            d / "goedel-prover" / "putnam.jsonl")]
        assert list(store.count_problems()) == ["putnambench"]
        # most statements are the same problem: the Lean sources and Goedel's snapshot add formal statements
        assert added[0].problems_added == 672 and added[1].problems_existing > 600 and added[2].problems_existing > 600


def test_minif2f_lean_files_have_a_collection_of_their_own(data_dir):
    """Not `minif2f`: without informal statements they would be second problems under its names."""
    miniF2F = data_dir / "minif2f" / "yangky11-miniF2F-lean4" / "MiniF2F"
    assert {r.collection for r in parse_problem_file(miniF2F / "Valid")} == {"minif2f-lean4"}


def test_imo_proofbench_layout(data_dir):
    """IMO-ProofBench's CSV is recognised: ids, splits from the ids, references in their columns."""
    from prover.store.imports import parse_problem_file

    records = parse_problem_file(data_dir / "imo-proofbench" / "proofbench.csv")
    assert len(records) == 60 and {r.collection for r in records} == {"imo-proofbench"}
    assert [r.split for r in records].count("basic") == 30 and [r.split for r in records].count("advanced") == 30
    first = records[0]
    assert first.external_id == "PB-Basic-001" and first.reference_solution and first.grading_guidelines
    assert first.grading_guidelines.lstrip().startswith("(Partial)") and first.tags == ["Algebra"]
    assert "Solution" not in first.metadata and "Grading guidelines" not in first.metadata
