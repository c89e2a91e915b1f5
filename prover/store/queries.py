"""The one way the store reads rows by a list of ids: in chunks, so that ``IN (...)`` stays under
every backend's parameter limit (SQLite's 32,766, PostgreSQL's 65,535) whatever the list's size."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence, TypeVar

from sqlalchemy.engine import Connection

CHUNK = 500
"""Values per ``IN (...)``."""

T = TypeVar("T")


def conflict_insert(dialect: str) -> Any:
    """The dialect's ``insert`` that has ``ON CONFLICT`` clauses (SQLite, PostgreSQL), or None on
    other databases, whose callers take a portable path."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    return insert


def chunked(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``."""
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def rows_in(conn: Connection, query: Any, column: Any, values: Sequence[Any] | None) -> Iterator[Any]:
    """The rows of ``query`` whose ``column`` is one of ``values``, a chunk at a time; every row
    of ``query`` when ``values`` is None."""
    if values is None:
        yield from conn.execute(query)
        return
    for chunk in chunked(values):
        yield from conn.execute(query.where(column.in_(chunk)))
