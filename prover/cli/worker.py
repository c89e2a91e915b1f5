"""``prover worker``: join a run's workers from any machine that reaches its database."""

from __future__ import annotations

import click

from prover.cli.common import db_option, open_store, print_table

lease_option = click.option("--lease-s", type=click.FloatRange(min=1), default=120.0, show_default=True,
                            help="Seconds a claim lasts unrenewed (a dead worker's problems wait this long).")
problems_option = click.option("--problems-at-once", type=click.IntRange(min=1), default=8, show_default=True,
                               help="Problems one worker searches at the same time.")
poll_option = click.option("--poll-s", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
                           help="Seconds between looks for expired leases while others hold the rest.")


@click.command("worker")
@db_option
@click.option("--run", "run_id", type=int, help="The run to join [default: the newest with problems left].")
@lease_option
@problems_option
@poll_option
@click.option("--status", is_flag=True, help="Print the run's progress and which workers hold what; work on nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the worker's report as one JSON line.")
@click.option("--project", type=click.Path(file_okay=False), default=None,
              help="This machine's Lake project for the formal stage [default: the run's].")
@click.option("--lean-processes", type=click.IntRange(min=1), default=None,
              help="REPL processes (or Kimina checks in flight) of this worker [default: the run's].")
def worker(db, run_id, lease_s, problems_at_once, poll_s, status, as_json, project, lean_processes) -> None:
    """Work on a run's problems until none is left (start the run with `prover run … --workers N`).

    Problems are claimed through leases in the database: run one worker per machine against the
    same PostgreSQL, and a worker that dies leaves its problems to the others once its leases
    expire. The run's settings (models, prompts, search and formal settings) come from the database;
    --project and --lean-processes say where this machine's Lake project is and how large its REPL
    pool may be (its toolchain must be the run's: Lean checks are cached by toolchain).

    Example: prover worker --db postgresql://prover@db-host/prover --run 12
    """
    from prover.pipeline.workers import WorkerSettings, calls_line, pick_run, progress_line, work

    settings = WorkerSettings(lease_s=lease_s, problems_at_once=problems_at_once, poll_s=poll_s)
    if status:
        with open_store(db, create=False) as store:
            run = run_id if run_id is not None else pick_run(store, None)
            click.echo(progress_line(store, run))
            click.echo(calls_line(store, run))
            holders = store.lease_holders(run)
            if holders:
                print_table(sorted(holders.items()), ["worker", "problems held"])
        return
    with open_store(db) as store:
        report = work(store, pick_run(store, run_id), settings=settings,
                      lean_here={"project": project, "processes": lean_processes})
    if as_json:
        click.echo(report.model_dump_json())
        return
    c = report.client
    click.echo(f"worker {report.holder}: run {report.run_id}, {report.problems} problem(s) finished "
               f"({report.takeovers} taken over from a worker that stopped), {c.get('sent', 0)} calls sent "
               f"({c.get('resent', 0)} re-sent after an interruption), {c.get('cached', 0)} from the call cache "
               f"({c.get('awaited', 0)} waited for while another worker sent them), "
               f"{report.seconds:.1f}s")
