"""``prover report``: an HTML page and a Markdown summary of a run or of the whole database."""

from __future__ import annotations

import click

from prover.cli.common import db_option, open_store


@click.command("report")
@db_option
@click.option("--run", "run_id", type=int, help="Report on this run only [default: the whole database].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="report", show_default=True,
              help="Output folder.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=200, show_default=True,
              help="Bootstrap resamples for cross-check intervals.")
def report(db, run_id, out_dir, bootstrap) -> None:
    """Write report.html (self-contained) and report.md with plots, per run or for the database.

    Example: prover report --run 3 --out reports/run3
    """
    from prover.analysis.report import write_report

    with open_store(db, create=False) as store:
        result = write_report(store, out_dir, run_id=run_id, bootstrap=bootstrap)
    for banner in result.data.banners:
        click.echo(banner, err=True)
    click.echo(f"wrote {result.html}, {result.markdown} and {len(result.images)} image(s)")
