"""Fixtures of the formal-stage tests; helpers live in formal_support.py (test modules import
it by name: every test directory's conftest is a module called `conftest`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from formal_support import NL_PROOF, LeanWorld, toy_problem  # noqa: E402
from prover.core.records import ProofRecord  # noqa: E402


@pytest.fixture
def world(tmp_path) -> LeanWorld:
    return LeanWorld(tmp_path)


@pytest.fixture
def fstore(tmp_path):
    """A SQLite proof database: problem mini/toy (with its formal statement) and one NL proof."""
    from prover.store import ProofStore

    s = ProofStore.open(tmp_path / "prover.db")
    s.add_problems([toy_problem()])
    pid = s.resolve_problem("mini/toy").id
    [s.proof_id] = s.add_proofs([ProofRecord(problem_id=pid, text=NL_PROOF, source="imported")])
    yield s
    s.close()


