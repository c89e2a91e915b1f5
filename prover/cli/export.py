"""``prover export``: results a user can re-check outside prover."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, open_store


@click.group()
def export() -> None:
    """Export results that can be re-checked without prover."""


@export.command("proofs")
@db_option
@click.option("--format", "fmt", type=click.Choice(["lean-dir"]), default="lean-dir", show_default=True,
              help="lean-dir: one .lean file per verified proof plus manifest.json.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (replaced).")
@click.option("--include-answer-unchecked", is_flag=True,
              help="Also proofs whose filled answer is not yet checked against the reference.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def proofs(db, fmt, out, include_answer_unchecked, as_json) -> None:
    """Write every proof Lean verified as a .lean file, with a manifest for `lake env lean FILE`.

    Example: prover export proofs --format lean-dir --out verified/
    """
    from prover.analysis.lean_export import export_verified_proofs

    with open_store(db, create=False) as store:
        s = export_verified_proofs(store, out, fmt=fmt, include_answer_unchecked=include_answer_unchecked)
    if as_json:
        echo_json(s.model_dump())
        return
    per = ", ".join(f"{k}: {v}" for k, v in s.by_collection.items()) or "none"
    click.echo(f"{s.files} verified proof file(s) written to {s.out} ({per}); manifest: {s.out}/manifest.json")
    if s.stale_screen:
        click.echo(f"{s.stale_screen} verified check(s) accepted by older screen rules were left out "
                   "(re-screen them first)")
    if s.project is None:
        click.echo("no Lean project found (lean_project/ or PROVER_LEAN_PROJECT): the manifest has no project pin")
