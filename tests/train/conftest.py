"""Fixtures of the training tests: a real SFT export written by ``export_labels`` from a small
proof database (built with the label tests' ``labeldb`` helpers), and the tiny random model of
the hf backend's tests (``tests/llm/tiny_model.py``). Everything is offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "analysis"))
sys.path.insert(0, str(HERE.parent / "llm"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from labeldb import add_analyses, add_grade, add_problem, add_proof  # noqa: E402
# The hf tests' tiny Llama (2 layers, hidden size 128, a 400-token BPE vocabulary), built once.
from tiny_model import tiny_model_dir  # noqa: E402,F401 - a fixture

# A short verification prompt: the tiny tokenizer knows few words, and the built-in prompt's
# grading instructions alone would be ~1000 of its tokens.
TEMPLATES_TOML = 'verification = "Grade this proof.\\nProblem: {statement}\\nProof: {proof}"\n'
SPLITS = "train=70,test=30"
PROBLEMS = 12


@pytest.fixture(scope="session")
def templates_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("templates") / "templates.toml"
    path.write_text(TEMPLATES_TOML, encoding="utf-8")
    return path


def populate(store) -> dict[str, int]:
    """Problems with a correct proof (analyses say 1) and a wrong one (analyses say 0); the
    wrong proofs of the odd problems also get a human grade of 0, the correct proofs of every
    third problem a human grade of 1 (labels a verifier cross-check may use)."""
    ids = {}
    for i in range(PROBLEMS):
        pid = add_problem(store, "bench", f"P{i}", f"Prove that {2 * i} plus {2 * i + 2} is even.")
        good = add_proof(store, pid, f"Both numbers are even, so {2 * i} + {2 * i + 2} is even.")
        bad = add_proof(store, pid, f"The sum {4 * i + 2} is odd, so it is even.")
        add_analyses(store, good, [1.0, 1.0, 1.0])
        add_analyses(store, bad, [0.0, 0.0, 0.0], metas={0: [1], 1: [1], 2: [1]})
        ids[f"P{i}.good"], ids[f"P{i}.bad"] = good, bad
        if i % 2:
            add_grade(store, bad, 0.0)
        if i % 3 == 0:
            add_grade(store, good, 1.0)
    return ids


@pytest.fixture(scope="session")
def labelled_db(tmp_path_factory, templates_file):
    """(database path, export folder, proof ids): labels built, SFT data exported (JSONL)."""
    from prover.analysis.exports import export_labels
    from prover.analysis.labels import build_labels
    from prover.core.label_records import InformalPolicy
    from prover.informal.prompts import load_templates
    from prover.store import ProofStore

    root = tmp_path_factory.mktemp("labelled")
    db = root / "prover.db"
    store = ProofStore.open(db)
    try:
        ids = populate(store)
        build_labels(store, sources="informal,human", informal=InformalPolicy(n=3, m=1))
        summary = export_labels(store, root / "export", splits=SPLITS, templates=load_templates(templates_file))
    finally:
        store.close()
    assert summary.files["sft"]["train"] > 0 and summary.files["sft"]["test"] > 0
    return db, root / "export", ids
