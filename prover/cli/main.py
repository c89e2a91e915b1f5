"""The ``prover`` command. Each subcommand parses, calls one library function and prints;
errors raised by the library are turned into messages and exit codes here, in one place:
0 ok, 1 bad data (or a database that cannot be written), 2 usage, 3 a prerequisite is
missing, 130 interrupted."""

from __future__ import annotations

import sys

import click

from prover import __version__
from prover.core.errors import ProverError


class ProverGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProverError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; the same command continues where this one stopped.", err=True)
            ctx.exit(130)


@click.group(cls=ProverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prover")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of short error messages.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Language models prove mathematics; Lean checks what they prove.

    Every problem, model call, proof, grade and Lean check goes into one database
    (--db, default ./prover.db).

    Example: prover problems import problems.jsonl && prover db stats
    """
    ctx.obj = {"debug": debug}


def _register() -> None:
    from prover.cli.crosscheck import crosscheck
    from prover.cli.db import db
    from prover.cli.eval import eval_group
    from prover.cli.export import export
    from prover.cli.formal import formalize
    from prover.cli.grades import grades
    from prover.cli.labels import labels
    from prover.cli.lean import lean
    from prover.cli.lean_run import register as register_lean_processes
    from prover.cli.models import models
    from prover.cli.problems import problems
    from prover.cli.report import report
    from prover.cli.run import run
    from prover.cli.show import show
    from prover.cli.train import train

    cli.add_command(problems)
    cli.add_command(db)
    cli.add_command(grades)
    cli.add_command(crosscheck)
    cli.add_command(models)
    cli.add_command(run)
    cli.add_command(show)
    cli.add_command(labels)
    cli.add_command(report)
    cli.add_command(export)
    cli.add_command(train)
    register_lean_processes(lean)
    cli.add_command(lean)
    cli.add_command(formalize)
    cli.add_command(eval_group)


_register()


def main() -> None:
    from prover.cli.supervise import arm_child

    arm_child()
    cli(prog_name="prover")


if __name__ == "__main__":
    sys.exit(main())
