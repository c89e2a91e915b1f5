"""Shared test fixtures. Tests find the shared benchmark data and recorded Lean outputs through
``PROVER_SHARED`` (default ``../shared``) and skip, saying why, when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.core.paths import shared_dir

VENDORED = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_dir()
    if not (root / "data").is_dir():
        pytest.skip(f"shared data not found at {root} (set PROVER_SHARED)")
    return root


@pytest.fixture(scope="session")
def fixtures_dir(shared: Path) -> Path:
    return shared / "fixtures"


@pytest.fixture(scope="session")
def data_dir(shared: Path) -> Path:
    return shared / "data"
