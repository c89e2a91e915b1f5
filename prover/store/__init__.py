"""The proof database: SQLite by default, any SQLAlchemy URL to share results."""

from prover.store.store import DEFAULT_DB, ProofStore, resolve_url

__all__ = ["ProofStore", "resolve_url", "DEFAULT_DB"]
