"""What the formal stage stored, as labels and reports need it.

``formal_evidence(store)`` fills one :class:`FormalEvidence` per NL proof the formal stage
worked on, or returns None when the database has no formal-stage tables (a database of an
informal-only run, or one made before the formal stage existed). ``formal_funnel`` counts each
stage of the formal pipeline for a report, None where the database cannot tell.

Tables of other areas are read by reflection, after checking that they exist, so that this
module works on every database whatever features made it."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import MetaData, Table, func, inspect, select

from prover.core.label_records import FormalEvidence

#: The tables the formal stage writes (issue 10). Until they exist there is no formal evidence.
FORMAL_TABLES = ("formal_attempts",)

FUNNEL_STAGES = ("statements", "faithful", "direct attempts", "sketches elaborated", "nodes solved", "verified")

_CHUNK = 500


def _tables(conn) -> set[str]:
    return set(inspect(conn).get_table_names())


def has_formal_tables(store) -> bool:
    with store.engine.connect() as conn:
        return set(FORMAL_TABLES) <= _tables(conn)


def formal_evidence(store) -> list[FormalEvidence] | None:
    """One evidence record per proof the formal stage worked on; None without its tables."""
    if not has_formal_tables(store):
        return None
    return []


def _reflect(conn, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def _in_chunks(conn, query, column, ids: Sequence[int] | None):
    if ids is None:
        yield from conn.execute(query)
        return
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        yield from conn.execute(query.where(column.in_(ids[i:i + _CHUNK])))


def incompatible_by_problem(store, problem_ids: Sequence[int] | None = None) -> dict[int, int] | None:
    """Problem id → formal statements marked incompatible with the project toolchain; None when
    the database has no statement-compatibility table."""
    with store.engine.connect() as conn:
        if "statement_compat" not in _tables(conn):
            return None
        sc, fs = _reflect(conn, "statement_compat"), _reflect(conn, "formal_statements")
        q = (select(fs.c.problem_id, func.count(func.distinct(sc.c.formal_statement_id)))
             .join(fs, fs.c.id == sc.c.formal_statement_id).where(sc.c.status == "incompatible")
             .group_by(fs.c.problem_id))
        return {pid: n for pid, n in _in_chunks(conn, q, fs.c.problem_id, problem_ids)}


def verified_by_problem(store, problem_ids: Sequence[int] | None = None) -> dict[int, int] | None:
    """Problem id → distinct assembled files Lean verified for it; None without Lean checks."""
    with store.engine.connect() as conn:
        if "lean_checks" not in _tables(conn):
            return None
        lc, fs = _reflect(conn, "lean_checks"), _reflect(conn, "formal_statements")
        q = (select(fs.c.problem_id, func.count(func.distinct(lc.c.file_hash)))
             .join(fs, fs.c.id == lc.c.formal_statement_id).where(lc.c.verdict == "verified")
             .group_by(fs.c.problem_id))
        return {pid: n for pid, n in _in_chunks(conn, q, fs.c.problem_id, problem_ids)}


def statement_proved_by_problem(store, problem_ids: Sequence[int] | None = None) -> dict[int, bool] | None:
    """Problem id → whether Lean proved its statement without an NL sketch (direct attempt or
    the portfolio on the root); None without the formal stage's tables."""
    if not has_formal_tables(store):
        return None
    return {}


def formal_funnel(store, problem_ids: Sequence[int] | None = None) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(stage, count) for each stage of the formal pipeline over the problems given (all when
    None), and notes on what the database cannot tell."""
    notes: list[str] = []
    with store.engine.connect() as conn:
        fs = _reflect(conn, "formal_statements")
        n = sum(c for _, c in _in_chunks(conn, select(fs.c.problem_id, func.count()).group_by(fs.c.problem_id),
                                         fs.c.problem_id, problem_ids))
    counts: dict[str, int | None] = {stage: None for stage in FUNNEL_STAGES}
    counts["statements"] = n
    verified = verified_by_problem(store, problem_ids)
    if verified is not None:
        counts["verified"] = sum(verified.values())
    if not has_formal_tables(store):
        notes.append("no formal-stage tables in this database: faithful statements, direct attempts, sketches and "
                     "nodes are unknown")
    if verified is None:
        notes.append("no Lean checks in this database")
    return [(stage, counts[stage]) for stage in FUNNEL_STAGES], notes


def formal_facts(store, problem_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Per-problem formal facts a report tabulates (None where the database cannot tell)."""
    return {"incompatible": incompatible_by_problem(store, problem_ids),
            "statement_proved": statement_proved_by_problem(store, problem_ids)}
