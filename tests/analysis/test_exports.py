"""Training exports: records agree with labels, conflicts are reported, splits are stable as the
database grows and shared by near-duplicate problems, every dataset loads with
``datasets.load_dataset``; ``labels resample`` draws analyses until one agrees."""

from __future__ import annotations

import json
import os

import pytest
from labeldb import add_analyses, add_grade, add_problem, add_proof, verdict_text

from prover.analysis.exports import export_labels, parse_splits, split_bucket, split_key, split_of
from prover.analysis.labels import build_labels
from prover.core.errors import UsageError
from prover.core.label_records import InformalPolicy
from prover.store import ProofStore

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def store(tmp_path):
    s = ProofStore.open(tmp_path / "export.db")
    yield s
    s.close()


def populate(store, problems: int, *, prefix: str = "P", proofs_per_problem: int = 3) -> dict[str, int]:
    """Problems each with proofs graded 1, 0.5, 0 by three analyses apiece; returns name → proof id."""
    ids = {}
    for i in range(problems):
        pid = add_problem(store, "bench", f"{prefix}{i}", f"Prove statement number {prefix}{i}.")
        for j, score in enumerate([1.0, 0.5, 0.0][:proofs_per_problem]):
            name = f"{prefix}{i}.{j}"
            ids[name] = add_proof(store, pid, f"Proof {name}: an argument.")
            add_analyses(store, ids[name], [score] * 3, metas={0: [1]} if score < 1 else None)
    return ids


def test_parse_splits():
    assert parse_splits(None) == {"train": 90, "validation": 5, "test": 5}
    assert parse_splits("train=80,holdout=20") == {"train": 80, "holdout": 20}
    for bad in ("train=80,test=10", "train", "train=x,test=100", "1bad=100", "a=50,a=50"):
        with pytest.raises(UsageError):
            parse_splits(bad)


def test_split_keys_are_loose_and_buckets_stable():
    a = split_key("Prove that $x^2 \\geq 0$ for all real $x$.", "h1")
    b = split_key("prove  that x^2 \\geq 0 for all   REAL x", "h2")
    assert a == b
    assert split_key("Prove that x > 0.", "h") != split_key("Prove that x < 0.", "h")
    assert split_key(None, "abc") == "hash:abc"
    # a fixed function of the key alone (these values must never change: exports depend on them)
    assert split_bucket("text:provethatx>0") == split_bucket("text:provethatx>0")
    counts = {}
    for i in range(2000):
        s = split_of(f"text:{i}", {"train": 90, "validation": 5, "test": 5})
        counts[s] = counts.get(s, 0) + 1
    assert 1700 < counts["train"] < 1900 and counts["validation"] > 50 and counts["test"] > 50


def test_export_records_and_load_with_datasets(store, tmp_path):
    datasets = pytest.importorskip("datasets")
    ids = populate(store, 6)
    build_labels(store, sources="informal", informal=InformalPolicy(n=3, m=1))
    # a human grade that agrees with no stored analysis (all say 0): no SFT record for it
    add_grade(store, ids["P0.2"], 1.0)
    build_labels(store, sources="human")
    out = tmp_path / "out"
    s = export_labels(store, out, fmt="jsonl", splits="train=50,test=50")
    assert s.labelled_proofs == 18
    assert s.by_source == {"human": 1, "informal": 17}
    assert s.conflicts.count == 1 and s.conflicts.proof_ids == [ids["P0.2"]]
    assert s.without_agreeing_analysis == [ids["P0.2"]]
    assert sum(s.files["pointwise"].values()) == 18
    assert sum(s.files["sft"].values()) == 17
    # 1>0.5, 1>0, 0.5>0 per problem; in P0 the third proof is human 1 now: 1>0.5 twice
    assert sum(s.files["pairs"].values()) == 5 * 3 + 2
    assert json.loads((out / "summary.json").read_text())["labelled_proofs"] == 18

    # a parsed meta-verification of analysis 0 of each proof graded below 1 (11), and the three
    # analyses of P0.2 that the human grade contradicts (meta-score 0 whatever their metas say)
    assert sum(s.files["meta"].values()) == 11 + 3

    # A cache of its own: datasets' default cache may hold an earlier export's schema under the same key.
    loaded = {name: datasets.load_dataset(str(out / name), cache_dir=str(tmp_path / "hf"))
              for name in ("sft", "pointwise", "pairs", "meta")}
    for name, ds in loaded.items():
        assert sum(len(ds[split]) for split in ds) == sum(s.files[name].values())
        assert set(ds) == {k for k, v in s.files[name].items() if v}
    sft = [r for split in loaded["sft"] for r in loaded["sft"][split]]
    for rec in sft:
        user, assistant = rec["messages"]
        assert user["role"] == "user" and "Proof to grade:" in user["content"]
        assert f"Proof {rec['problem_key'].split('/')[1]}." in user["content"]
        assert f"\\boxed{{{rec['score']:g}}}" in assistant["content"]  # the analysis agrees with the label
        assert rec["split"] in ("train", "test")
    point = {r["proof_id"]: r for split in loaded["pointwise"] for r in loaded["pointwise"][split]}
    assert point[ids["P0.2"]]["source"] == "human" and point[ids["P0.2"]]["conflict"] is True
    assert json.loads(point[ids["P1.0"]]["evidence"])["rule"] == "no-issues"
    assert point[ids["P1.0"]]["weight"] == pytest.approx(1 / 3)
    # every source's label, for readers with their own precedence (GRPO: formal, human, informal)
    assert json.loads(point[ids["P0.2"]]["labels"]) == {"human": 1.0, "informal": 0.0}
    assert json.loads(point[ids["P1.0"]]["labels"]) == {"informal": 1.0}
    meta = [r for split in loaded["meta"] for r in loaded["meta"][split]]
    by_source = {}
    for r in meta:
        by_source.setdefault(r["meta_source"], []).append(r)
        assert f"\\boxed{{{r['analysis_score']:g}}}" in r["analysis"] and r["problem"] and r["proof"]
    assert sorted(r["proof_id"] for r in by_source["human"]) == [ids["P0.2"]] * 3
    assert {(r["meta_score"], r["meta_samples"], r["proof_label"]) for r in by_source["human"]} == {(0.0, 0, 1.0)}
    assert len(by_source["meta-verifier"]) == 11
    assert {(r["meta_score"], r["meta_samples"], r["label_source"]) for r in by_source["meta-verifier"]} == \
        {(1.0, 1, "informal")}
    for split in loaded["pairs"]:
        for r in loaded["pairs"][split]:
            assert r["chosen_label"] > r["rejected_label"] and r["margin"] > 0
            assert r["chosen"] != r["rejected"] and "Solve the problem below" in r["prompt"]
            assert r["collection"] == "bench"


def test_parquet_export_loads(store, tmp_path):
    datasets = pytest.importorskip("datasets")
    populate(store, 3)
    build_labels(store, sources="informal", informal=InformalPolicy(n=3, m=1))
    s = export_labels(store, tmp_path / "pq", fmt="parquet", splits="train=100")
    assert {f.name for f in (tmp_path / "pq" / "pointwise").iterdir()} == {"train.parquet", "README.md"}
    ds = datasets.load_dataset(str(tmp_path / "pq" / "pointwise"))
    assert len(ds["train"]) == s.files["pointwise"]["train"] == 9
    assert ds["train"].features["label"].dtype == "float64"
    assert len(datasets.load_dataset(str(tmp_path / "pq" / "sft"))["train"]) == 9


def test_drop_conflicts_and_precedence(store, tmp_path):
    ids = populate(store, 2)
    build_labels(store, sources="informal", informal=InformalPolicy(n=3, m=1))
    add_grade(store, ids["P1.1"], 1.0)
    build_labels(store, sources="human")
    s = export_labels(store, tmp_path / "a", drop_conflicts=True)
    assert s.labelled_proofs == 5 and s.conflicts.resolution == "dropped"
    assert s.conflicts.by_sources == {"human=1,informal=0.5": 1}
    s = export_labels(store, tmp_path / "b", precedence="informal,human")
    point = [json.loads(line) for f in (tmp_path / "b" / "pointwise").glob("*.jsonl") for line in f.open()]
    assert {r["proof_id"]: r["source"] for r in point}[ids["P1.1"]] == "informal"
    with pytest.raises(UsageError):
        export_labels(store, tmp_path / "c", precedence="lean")


def test_splits_are_stable_as_the_database_grows(store, tmp_path):
    populate(store, 20)
    build_labels(store, sources="informal", informal=InformalPolicy(n=3, m=1))
    export_labels(store, tmp_path / "v1")

    def splits_of(folder):
        return {json.loads(line)["proof_id"]: json.loads(line)["split"]
                for f in (folder / "pointwise").glob("*.jsonl") for line in f.open()}

    before = splits_of(tmp_path / "v1")
    populate(store, 40, prefix="Q")  # more problems, in a new collection order
    add_problem(store, "other", "dup", "PROVE statement number  P3")  # a near-duplicate of bench/P3
    build_labels(store, sources="informal", informal=InformalPolicy(n=3, m=1))
    export_labels(store, tmp_path / "v2")
    after = splits_of(tmp_path / "v2")
    assert len(after) == len(before) + 120
    assert all(after[pid] == split for pid, split in before.items())
    assert len(set(after.values())) == 3  # 60 problems reach every split


def test_near_duplicates_share_a_split(store, tmp_path):
    statements = [f"Show that the sum of the first {i} odd numbers is a square." for i in range(30)]
    for i, text in enumerate(statements):
        for coll, variant in (("minif2f", text), ("proofnet", "  " + text.upper().replace(" ", "  ")[:-1])):
            pid = add_problem(store, coll, f"p{i}", variant)
            proof = add_proof(store, pid, f"{coll} proof {i}")
            add_analyses(store, proof, [1, 1])
    build_labels(store, sources="informal", informal=InformalPolicy(n=2, m=0))
    export_labels(store, tmp_path / "dup", splits="a=34,b=33,c=33")
    recs = [json.loads(line) for f in (tmp_path / "dup" / "pointwise").glob("*.jsonl") for line in f.open()]
    by_problem: dict[str, set[str]] = {}
    for r in recs:
        by_problem.setdefault(r["external_id"], set()).add(r["split"])
    assert len(by_problem) == 30 and all(len(v) == 1 for v in by_problem.values())
    assert len({r["split"] for r in recs}) == 3


def test_an_empty_database_exports_nothing(store, tmp_path):
    s = export_labels(store, tmp_path / "empty")
    assert s.labelled_proofs == 0 and all(sum(v.values()) == 0 for v in s.files.values())
    assert not any((tmp_path / "empty" / "sft").iterdir())


# -- resample ------------------------------------------------------------------------------------

def test_resample_until_an_analysis_agrees(store, tmp_path):
    from prover.analysis.resample import resample_labels
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend

    ids = populate(store, 2, proofs_per_problem=1)  # two proofs, analyses all 1
    add_grade(store, ids["P0.0"], 0.0)  # human says 0: the verifier was wrong
    add_grade(store, ids["P1.0"], 0.5)
    build_labels(store, sources="human")
    asked: dict[str, int] = {}

    def verifier(call):
        text = call.messages[-1].content
        asked[text] = asked.get(text, 0) + 1
        if "P0.0" in text:  # agrees at the third draw
            return verdict_text(0) if asked[text] >= 3 else verdict_text(1)
        return "no score here"  # never parses

    backend = ScriptedBackend(verifier)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    s = resample_labels(store, model_config=mc, max_new=4, backends={"verifier": backend})
    assert (s.proofs, s.resolved, s.unresolved) == (2, 1, [ids["P1.0"]])
    assert s.calls == 3 + 4 and s.unparsed == 4 and s.by_source == {"human": 1}
    e = export_labels(store, tmp_path / "after")
    assert e.without_agreeing_analysis == [ids["P1.0"]]
    sft = [json.loads(line) for f in (tmp_path / "after" / "sft").glob("*.jsonl") for line in f.open()]
    assert any(r["proof_id"] == ids["P0.0"] and r["score"] == 0 for r in sft)
    # the drawn analyses stay out of the verifier's cross-check values
    assert store.parsed_verdicts()[ids["P0.0"]] == [1.0, 1.0, 1.0]
    # the same command again: the resolved proof is done, the other's requests come from the call cache
    sent = sum(asked.values())
    again = resample_labels(store, model_config=mc, max_new=4, backends={"verifier": ScriptedBackend(verifier)})
    assert (again.proofs, again.resolved, again.calls) == (1, 0, 4)
    assert sum(asked.values()) == sent
