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


@pytest.fixture
def vendored() -> Path:
    return VENDORED / "data"


def _pg_database(base_url: str):
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"prover_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    return admin, name, url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A database URL for store tests: a SQLite file, and PostgreSQL when PROVER_TEST_PG_URL is set."""
    import os

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'prover.db'}"
        return
    base = os.environ.get("PROVER_TEST_PG_URL")
    if not base:
        pytest.skip("PostgreSQL tests need PROVER_TEST_PG_URL (bash .ci/run starts a server)")
    from sqlalchemy import text

    admin, name, url = _pg_database(base)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def store(db_url):
    from prover.store import ProofStore

    s = ProofStore.open(db_url)
    yield s
    s.close()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "prover.db"
