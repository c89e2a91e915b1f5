"""``prover grades``: import proofs that come with external (human or automatic) grades."""

from __future__ import annotations

import sys

import click

from prover.cli.common import db_option, echo_json, open_store
from prover.store.grade_imports import GRADE_FIELD_NAMES, GRADE_FORMATS

_FIELDS_HELP = "; ".join(f"{k}: {v}" for k, v in GRADE_FIELD_NAMES.items())


@click.group()
def grades() -> None:
    """Import proofs with external grades (human or automatic)."""


@grades.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@db_option
@click.option("--field", "fields", multiple=True, metavar="NAME=PATH",
              help=f"Map a field by dotted PATH (numeric indices allowed). NAMEs: {_FIELDS_HELP}.")
@click.option("--grade", "grade_specs", multiple=True, required=True, metavar="NAME=PATH[:MAX]",
              help="A grade at dotted PATH; :MAX divides it into [0, 1]. Repeatable.")
@click.option("--human", multiple=True, metavar="NAME", help="Grade NAME was given by people. Repeatable.")
@click.option("--collection", help="Collection of the problems (default: each file's stem).")
@click.option("--format", "fmt", type=click.Choice(GRADE_FORMATS), help="Input format (default: from the suffix).")
@click.option("--on-mismatch", type=click.Choice(["error", "keep"]), default="error", show_default=True,
              help="A stored problem's statement differs: stop, or keep the stored one.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_(paths, db, fields, grade_specs, human, collection, fmt, on_mismatch, as_json) -> None:
    """Import graded proofs from JSON, JSONL or CSV (one transaction; re-importing adds nothing).

    Example: prover grades import preds.jsonl --field id=problem_idx --field statement=question
    --field proof=model_prediction.proof --grade human=model_prediction.human_rating:7
    --grade auto=model_prediction.average_automatic_rating --human human
    """
    from prover.store.grade_imports import import_graded_proofs

    with open_store(db) as store:
        s = import_graded_proofs(store, paths, fields=fields, grades=grade_specs, human=human,
                                 collection=collection, fmt=fmt, on_mismatch=on_mismatch,
                                 command=["prover", *sys.argv[1:]])
    if as_json:
        echo_json(s.model_dump())
        return
    kept = f", {s.statement_mismatches_kept} with a differing statement kept" if s.statement_mismatches_kept else ""
    click.echo(f"{s.records} records in {len(s.files)} file(s): {s.proofs_created} proofs stored; "
               f"problems: {s.problems_created} created, {s.problems_matched} matched{kept}.")
    for name, count in s.grades.items():
        missing = s.missing.get(name, 0)
        click.echo(f"  grade {name}: {count} stored" + (f", {missing} records without a value" if missing else ""))
