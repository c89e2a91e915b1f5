from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from informal_support import PROBLEMS  # noqa: E402


@pytest.fixture
def istore(tmp_path):
    """A SQLite proof database holding two problems (one with a reference answer)."""
    from prover.store import ProofStore

    s = ProofStore.open(tmp_path / "prover.db")
    s.add_problems(PROBLEMS)
    yield s
    s.close()
