"""``prover db``: statistics and table exports."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.store import EXPORT_FORMATS


@click.group()
def db() -> None:
    """Inspect and export the proof database."""


@db.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(db, as_json) -> None:
    """Row counts per table, problems per collection, formal statements per toolchain.

    Example: prover db stats --json
    """
    with open_store(db, create=False) as store:
        info = store.stats()
    if as_json:
        echo_json(info)
        return
    click.echo(f"database: {info['database']}  (schema {', '.join(info['schema'])})")
    if "size_bytes" in info:
        click.echo(f"size: {info['size_bytes'] / 1e6:.1f} MB")
    print_table(sorted(info["tables"].items()), ["table", "rows"])
    if info["problems_by_collection"]:
        print_table(info["problems_by_collection"].items(), ["collection", "problems"])
    if info["formal_statements_by_toolchain"]:
        print_table(info["formal_statements_by_toolchain"].items(), ["toolchain", "formal statements"])


@db.command()
@click.argument("table")
@db_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True,
              help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), help="Output file (default: TABLE.FORMAT).")
def export(table, db, fmt, out) -> None:
    """Export a table as JSONL or Parquet (loads with Hugging Face `datasets`).

    Example: prover db export problems --format parquet --out problems.parquet
    """
    out = out or f"{table}.{fmt}"
    with open_store(db, create=False) as store:
        n = store.export_table(table, fmt, out)
    click.echo(f"{n} rows written to {out}")
