"""The proof database: SQLite by default, any SQLAlchemy URL to share results."""

from prover.store._leases import Lease, LeaseCounts, RunCalls
from prover.store.store import DEFAULT_DB, ProofStore, resolve_url
from prover.store.writer import StoreWriter, writer_for

__all__ = ["ProofStore", "resolve_url", "DEFAULT_DB", "Lease", "LeaseCounts", "RunCalls", "StoreWriter",
           "writer_for"]
