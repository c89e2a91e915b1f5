"""Table exports (JSONL, Parquet) that Hugging Face ``datasets`` loads, and database stats."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Text, func, inspect, select, type_coerce
from sqlalchemy import Table as SATable

from prover.core.errors import UsageError

EXPORT_FORMATS = ("jsonl", "parquet")
_BATCH = 20_000


class ExportMixin:
    def table_names(self) -> list[str]:
        return sorted(t for t in inspect(self.engine).get_table_names() if t != "alembic_version")

    def _table(self, name: str) -> SATable:
        from prover.store.schema import Base

        if name not in Base.metadata.tables or name not in self.table_names():
            raise UsageError(f"no table {name!r}; tables: {', '.join(self.table_names())}")
        return Base.metadata.tables[name]

    def iter_table(self, name: str, batch_size: int = _BATCH, *, raw_json: bool = False
                   ) -> Iterator[tuple[list[str], list[tuple]]]:
        """(column names, rows) of a table in primary-key order, in batches. With ``raw_json``,
        JSON columns come as JSON text where the database keeps text (no parse/re-serialise)."""
        table = self._table(name)
        cols = [type_coerce(c, Text).label(c.name) if raw_json and isinstance(c.type, JSON) else c
                for c in table.columns]
        names = [c.name for c in table.columns]
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(
                select(*cols).order_by(*table.primary_key.columns))
            for part in result.partitions():
                yield names, part

    def export_table(self, name: str, fmt: str, out: str | os.PathLike) -> int:
        """Write a whole table to ``out`` as JSONL or Parquet; returns the row count.
        JSON columns become nested values in JSONL and JSON text in Parquet."""
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        table = self._table(name)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial")
        n = 0
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as f:
                for names, batch in self.iter_table(name):
                    f.write("".join(json.dumps(dict(zip(names, row)), ensure_ascii=False, default=_json_default)
                                    + "\n" for row in batch))
                    n += len(batch)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = _arrow_schema(table)
            json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
            with pq.ParquetWriter(tmp, schema) as writer:
                for names, batch in self.iter_table(name, raw_json=True):
                    columns = [list(col) for col in zip(*batch)]
                    for i, col_name in enumerate(names):
                        if col_name in json_cols:
                            # PostgreSQL's driver parses JSON even when asked for text
                            columns[i] = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                          for v in columns[i]]
                    writer.write_table(pa.Table.from_arrays(
                        [pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema))
                    n += len(batch)
        # Readers never see a half-written export.
        os.replace(tmp, out)
        return n

    def stats(self) -> dict[str, Any]:
        """Row counts per table, problems per collection, formal statements per toolchain."""
        from prover.store.schema import FormalStatement, Problem

        tables = {}
        with self.engine.connect() as conn:
            for name in self.table_names():
                t = self._table(name) if name in _known_tables() else None
                if t is not None:
                    tables[name] = conn.execute(select(func.count()).select_from(t)).scalar_one()
            collections = dict(conn.execute(select(Problem.collection, func.count())
                                            .group_by(Problem.collection).order_by(Problem.collection)).all())
            toolchains = dict(conn.execute(select(FormalStatement.toolchain, func.count())
                                           .group_by(FormalStatement.toolchain)
                                           .order_by(FormalStatement.toolchain)).all())
        current, _ = self.schema_heads()
        info: dict[str, Any] = {"database": self.url, "schema": sorted(current), "tables": tables,
                                "problems_by_collection": collections,
                                "formal_statements_by_toolchain": toolchains}
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database:
            path = Path(self.engine.url.database)
            info["size_bytes"] = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return info


def _known_tables() -> set[str]:
    from prover.store.schema import Base

    return set(Base.metadata.tables)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _arrow_schema(table: SATable):
    import pyarrow as pa

    def arrow_type(col):
        t = col.type
        if isinstance(t, Boolean):
            return pa.bool_()
        if isinstance(t, Integer):
            return pa.int64()
        if isinstance(t, Float):
            return pa.float64()
        if isinstance(t, DateTime):
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema([pa.field(c.name, arrow_type(c)) for c in table.columns])
