"""``prover problems``: import, list and show problems."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, excerpt, open_store, print_table
from prover.store.imports import FIELD_NAMES, FORMATS

_FIELDS_HELP = "; ".join(f"{k}: {v}" for k, v in FIELD_NAMES.items())


@click.group()
def problems() -> None:
    """Import, list and show problems."""


@problems.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@db_option
@click.option("--collection", help="Collection name (default: the benchmark's name for a known source, e.g. "
                                   "putnambench, else each file's stem).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Input format (default: from the suffix).")
@click.option("--field", "fields", multiple=True, metavar="NAME=PATH",
              help=f"Map a field by dotted PATH (numeric indices allowed). NAMEs: {_FIELDS_HELP}.")
def import_(paths, db, collection, fmt, fields) -> None:
    """Import problems from JSON, JSONL, CSV or .lean files (one transaction).

    Known layouts (DeepSeek-Prover miniF2F/ProofNet, PutnamBench, the miniF2F joined file,
    DeepSeekMath-V2 inputs, fields named like the NAMEs of --field) are recognised by their
    fields; others need --field, and the error suggests a mapping. Re-importing adds nothing.

    Example: prover problems import minif2f.jsonl --collection minif2f
    """
    from prover.store.imports import import_problems

    with open_store(db) as store:
        s = import_problems(store, paths, collection=collection, fmt=fmt, fields=fields)
    click.echo(f"{s.records} records in {s.files} file(s): {s.problems_added} problems added "
               f"({s.problems_existing} already stored), {s.formal_added} formal statements added "
               f"({s.formal_existing} already stored).")


@problems.command("list")
@db_option
@click.option("--collection", help="Only this collection.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(db, collection, limit, as_json) -> None:
    """List stored problems.

    Example: prover problems list --collection minif2f --limit 10
    """
    with open_store(db, create=False) as store:
        rows = store.list_problems(collection=collection, limit=limit + 1 if limit else None)
        counts = store.count_problems() if limit and len(rows) > limit else None
    if counts is not None:
        total = counts.get(collection, 0) if collection else sum(counts.values())
        rows = rows[:limit]
        # On stderr, so that piped and JSON output stay clean.
        click.echo(f"showing the first {limit} of {total} problems (--limit N shows N, --limit 0 all)", err=True)
    if as_json:
        echo_json([{"id": p.id, "collection": p.collection, "external_id": p.external_id,
                    "statement": p.informal_statement} for p in rows])
        return
    print_table([(p.id, p.collection, p.external_id, excerpt(p.informal_statement, 70)) for p in rows],
                ["id", "collection", "external id", "statement"])


@problems.command("show")
@click.argument("problem")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(problem, db, as_json) -> None:
    """Show one problem and its formal statements (PROBLEM: id, external id or COLLECTION/ID).

    Example: prover problems show minif2f/amc12a_2019_p21
    """
    with open_store(db, create=False) as store:
        p = store.resolve_problem(problem)
        formal = store.formal_statements(p.id)
    record = {"id": p.id, "collection": p.collection, "external_id": p.external_id, "split": p.split,
              "tags": p.tags, "informal_statement": p.informal_statement,
              "has_reference_answer": p.reference_answer is not None,
              "has_reference_solution": p.reference_solution is not None, "source": p.source,
              "formal_statements": [{"id": f.id, "toolchain": f.toolchain,
                                     "text": f.preamble + f.answer_slots + f.statement} for f in formal]}
    if as_json:
        echo_json(record)
        return
    click.echo(f"#{p.id}  {p.collection}/{p.external_id}" + (f"  [{p.split}]" if p.split else ""))
    click.echo(f"source: {p.source}")
    click.echo("")
    click.echo(p.informal_statement or "(no informal statement)")
    for f in record["formal_statements"]:
        click.echo(f"\n--- formal statement #{f['id']} ({f['toolchain']}) ---")
        click.echo(f["text"].rstrip())
