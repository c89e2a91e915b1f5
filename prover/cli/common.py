"""What every command shares: the ``--db`` option, opening the store, printing results."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

db_option = click.option(
    "--db", "db", envvar="PROVER_DB", default="prover.db", show_default=True,
    help="Database: a SQLite file path or any SQLAlchemy URL (env PROVER_DB).")


def open_store(db: str, *, create: bool = True):
    """The store at ``db``. Read-only commands pass ``create=False`` so that a mistyped path is
    an error instead of a new empty database."""
    from prover.store import ProofStore, resolve_url

    url = resolve_url(db)
    if not create and url.startswith("sqlite:///"):
        from pathlib import Path

        from prover.core.errors import NotFoundError

        if not Path(url.removeprefix("sqlite:///")).exists():
            raise NotFoundError(f"no database at {db} (import problems first, or pass --db)")
    return ProofStore.open(db)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str, allow_nan=False))


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], title: str | None = None, *,
                aligned: bool = False) -> None:
    """Rows as a table on a terminal; when piped, tab-separated text (so scripts can cut it), or
    with ``aligned`` (views meant for reading, which have --json for scripts) columns padded
    with spaces."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    if not sys.stdout.isatty() and aligned:
        _print_aligned(rows, headers, title)
        return
    if not sys.stdout.isatty():
        if title:
            click.echo(title)
        click.echo("\t".join(headers))
        for row in rows:
            click.echo("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _print_aligned(rows: list[list[str]], headers: Sequence[str], title: str | None) -> None:
    from rich.cells import cell_len  # display width: math symbols and CJK are not one column each

    widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - cell_len(c)) for c, w in zip(cells, widths)).rstrip()

    click.echo("")
    if title:
        click.echo(title)
    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in rows:
        click.echo(line(row))


def excerpt(text: str | None, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
