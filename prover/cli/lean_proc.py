"""``prover lean setup|doctor``: the Lean toolchain, Mathlib and the REPL of ``lean_project/``."""

from __future__ import annotations

import click

from prover.cli.common import echo_json
from prover.core.errors import PrerequisiteError

project_option = click.option("--project", type=click.Path(file_okay=False),
                              help="Lake project (default: lean_project/, env PROVER_LEAN_PROJECT).")
cap_option = click.option("--memory-cap-gb", type=float, default=8.0, show_default=True,
                          help="Memory cap per Lean process, GiB (0: none).")


def _cap_bytes(gb: float) -> int | None:
    return None if gb <= 0 else int(gb * 1024**3)


@click.command("setup")
@project_option
def setup_cmd(project) -> None:
    """Fetch Mathlib's prebuilt files (`lake exe cache get`) and build the pinned REPL.

    Example: prover lean setup
    """
    from prover.lean.toolchain import setup

    pin = setup(project, echo=click.echo)
    click.echo(f"ready: {pin.toolchain}, Mathlib {(pin.mathlib_rev or '?')[:12]}, "
               f"REPL {pin.repl_tag}" + (f" ({pin.repl_rev[:12]})" if pin.repl_rev else ""))


@click.command("doctor")
@project_option
@cap_option
@click.option("--processes", type=int, help="REPL processes (default: min(cores, memory / cap)).")
@click.option("--kimina-url", envvar="LEAN_SERVER_API_URL", help="Also check this Kimina Lean Server.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def doctor_cmd(project, memory_cap_gb, processes, kimina_url, as_json) -> None:
    """Find elan, lake, lean, Mathlib and the REPL; say what is missing and how to get it.

    Exits 0 when a Lean check can run, 3 otherwise.

    Example: prover lean doctor --memory-cap-gb 12
    """
    from prover.lean.limits import fmt_bytes
    from prover.lean.toolchain import doctor

    report = doctor(project, cap_bytes=_cap_bytes(memory_cap_gb), max_processes=processes, kimina_url=kimina_url)
    if as_json:
        echo_json({**report.model_dump(mode="json"), "can_check": report.can_check})
    else:
        pin = report.pin
        if pin is None:
            click.echo(f"Lean project: {report.pin_problem}")
        else:
            click.echo(f"Lean project {pin.project_dir}")
            click.echo(f"  toolchain  {pin.toolchain}")
            click.echo(f"  Mathlib    {pin.mathlib_rev or '?'} ({pin.mathlib_input_rev})")
            click.echo(f"  REPL       {pin.repl_url} {pin.repl_tag} "
                       f"({pin.repl_rev or 'commit resolved by prover lean setup'})")
        click.echo("")
        for t in report.tools:
            mark = "ok " if t.found else "MISSING"
            detail = t.version or t.path or "" if t.found else t.problem
            click.echo(f"  {mark:8}{t.name:9}{detail}")
            if not t.found and t.hint:
                click.echo(f"  {'':17}→ {t.hint}")
        s, cap = report.sizing, report.memory_cap
        click.echo("")
        click.echo(f"REPL pool: {s.processes} process(es) ({s.reason}), memory cap "
                   f"{fmt_bytes(cap.applied_bytes)} each ({cap.mechanism}, "
                   + ("applied)" if cap.applied else f"NOT applied: {cap.note})"))
        click.echo("backends that can check now: "
                   + (", ".join(k for k, v in report.backends.items() if v) or "none"))
    if not report.can_check:
        raise PrerequisiteError("no Lean check can run here; install what is missing above "
                                "(this machine may also need network access to GitHub)")


COMMANDS = (setup_cmd, doctor_cmd)


def register(group: click.Group) -> None:
    """Add these commands to the ``lean`` group."""
    for cmd in COMMANDS:
        group.add_command(cmd)

