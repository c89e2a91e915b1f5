"""``prover lean setup|doctor|check|precheck``: the Lean toolchain of ``lean_project/``, checking a
proof with a Lean backend, and the statement-compatibility precheck."""

from __future__ import annotations

import functools

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


def backend_options(f):
    """Options shared by the commands that run Lean. The backend is ``--lean-backend``, as in
    ``prover run --formal`` (where ``--backend`` is the model's); ``--backend``, its old name
    here, still works but is not shown."""
    from prover.lean.backends import BACKENDS

    command = f

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        alias = kwargs.pop("backend_alias")
        if alias is not None:
            kwargs["backend"] = alias
        return command(*args, **kwargs)

    f = click.option("--lean-backend", "backend", type=click.Choice(BACKENDS), default="repl", show_default=True,
                     help="Lean backend.")(wrapper)
    f = click.option("--backend", "backend_alias", type=click.Choice(BACKENDS), hidden=True,
                     help="Old name of --lean-backend.")(f)
    f = click.option("--kimina-url", envvar="LEAN_SERVER_API_URL",
                     help="Kimina Lean Server (--lean-backend kimina).")(f)
    f = click.option("--processes", type=int, help="REPL processes (default: min(cores, memory / cap)).")(f)
    f = click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True,
                     help="Seconds per check.")(f)
    f = click.option("--heartbeats", type=int, default=400_000, show_default=True,
                     help="maxHeartbeats written into the checked file.")(f)
    return cap_option(project_option(f))


def _open(backend, project, kimina_url, memory_cap_gb, processes, *, deferred=False):
    from prover.lean.backends import open_backend
    from prover.lean.toolchain import read_pin

    pin = read_pin(project)
    return pin, open_backend(backend, project=project, kimina_url=kimina_url,
                             memory_cap_bytes=_cap_bytes(memory_cap_gb), max_processes=processes, deferred=deferred)


def _limits(timeout_s, heartbeats, memory_cap_gb):
    from prover.core.lean_records import LeanLimits

    return LeanLimits(time_s=timeout_s, heartbeats=heartbeats,
                      memory_mb=None if memory_cap_gb <= 0 else int(memory_cap_gb * 1024))


@click.command("check")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--statement-file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The problem: a .lean file with the target proved by sorry.")
@backend_options
@click.option("--db", help="Store the check in this database and reuse its cached verdicts.")
@click.option("--final-check", type=click.Choice(["lean4checker", "comparator", "safeverify", "none"]),
              default="none", show_default=True,
              help="Confirm a verified proof out of process on its compiled .olean (lean_project/README.md).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(proof_file, statement_file, backend, kimina_url, processes, timeout_s, heartbeats, memory_cap_gb,
              project, db, final_check, as_json) -> None:
    """Check a proof with Lean: exit 0 verified, 1 definitively not, 3 inconclusive.

    Inconclusive: no toolchain, timeout, crash, or a filled answer slot not yet compared with
    the reference (verified-answer-unchecked). The screen runs first: a proof it rejects exits 1
    even where no Lean is installed.

    Example: prover lean check proof.lean --statement-file putnam_1962_a2.lean --lean-backend file
    """
    from prover.cli.common import open_store
    from prover.cli.lean import read_text
    from prover.lean.check import check_proof

    proof = read_text(proof_file, "proof file")
    problem = read_text(statement_file, "statement file")
    limits = _limits(timeout_s, heartbeats, memory_cap_gb)
    # Lean is looked for only once the screen has accepted the proof.
    pin, lean_backend = _open(backend, project, kimina_url, memory_cap_gb, processes, deferred=True)
    store = open_store(db) if db else None
    try:
        outcome = check_proof(proof, problem, lean_backend, pin=pin, limits=limits, store=store,
                              final_check=final_check)
    finally:
        lean_backend.close()
        if store is not None:
            store.close()
    r = outcome.result
    if as_json:
        echo_json({"verdict": r.verdict.value, "reasons": [c.value for c in r.reasons], "cached": outcome.cached,
                   "backend": r.backend, "toolchain": r.toolchain, "mathlib_rev": r.mathlib_rev,
                   "repl_rev": r.repl_rev, "axioms": list(r.axioms) if r.axioms is not None else None,
                   "wall_time_s": r.wall_time_s, "peak_memory_mb": r.peak_memory_mb,
                   "messages": [m.to_wire() for m in r.messages], "detail": r.detail,
                   "final_check": None if outcome.final is None else {
                       "tool": outcome.final.backend, "verdict": outcome.final.verdict.value,
                       "reasons": [c.value for c in outcome.final.reasons], "detail": outcome.final.detail}})
    else:
        click.echo(f"{r.verdict.value}" + (" (cached)" if outcome.cached else "")
                   + (f"  [{', '.join(c.value for c in r.reasons)}]" if r.reasons else ""))
        click.echo(f"backend {r.backend}, {r.toolchain}" + (f", Mathlib {r.mathlib_rev[:12]}" if r.mathlib_rev else "")
                   + (f", {r.wall_time_s:.1f} s" if r.wall_time_s is not None else ""))
        for m in r.messages:
            if m.severity in ("error", "warning"):
                where = f"{m.pos.line}:{m.pos.column}: " if m.pos else ""
                click.echo(f"  {where}{m.severity}: {m.data.splitlines()[0] if m.data else ''}")
        if r.detail:
            click.echo("  " + r.detail.replace("\n", "\n  "))
        if outcome.final is not None:
            f = outcome.final
            click.echo(f"final check {f.backend}: {f.verdict.value}"
                       + (f"  [{', '.join(c.value for c in f.reasons)}]" if f.reasons else ""))
    if outcome.exit_code:
        raise click.exceptions.Exit(outcome.exit_code)


@click.command("precheck")
@click.option("--collection", help="Only this collection.")
@backend_options
@click.option("--db", "db", envvar="PROVER_DB", default="prover.db", show_default=True,
              help="Database: a SQLite file path or any SQLAlchemy URL (env PROVER_DB).")
@click.option("--force", is_flag=True, help="Check again statements already checked on this toolchain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def precheck_cmd(collection, backend, kimina_url, processes, timeout_s, heartbeats, memory_cap_gb, project, db,
                 force, as_json) -> None:
    """Elaborate each stored formal statement with `sorry` on the project toolchain; mark failures incompatible.

    Results are cached per toolchain and Mathlib; incompatible statements are left out of
    formal runs and labels and never counted as proof failures.

    Example: prover lean precheck --collection putnambench
    """
    from prover.cli.common import open_store, print_table
    from prover.lean.check import precheck_statements

    limits = _limits(timeout_s, heartbeats, memory_cap_gb)
    pin, lean_backend = _open(backend, project, kimina_url, memory_cap_gb, processes)
    try:
        with open_store(db, create=False) as store:
            summary = precheck_statements(store, lean_backend, pin=pin, collection=collection, limits=limits,
                                          force=force)
    finally:
        lean_backend.close()
    if as_json:
        echo_json({"toolchain": summary.toolchain, "mathlib_rev": summary.mathlib_rev, "this_run": summary.counts(),
                   "by_collection": summary.by_collection,
                   "incompatible": [{"formal_statement_id": i.formal_statement_id, "collection": i.collection,
                                     "external_id": i.external_id, "detail": i.detail}
                                    for i in summary.items if i.status.endswith("incompatible")]})
        return
    click.echo(f"toolchain {summary.toolchain}" + (f", Mathlib {summary.mathlib_rev[:12]}" if summary.mathlib_rev else ""))
    click.echo("this run: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.counts().items())) or "nothing to do"))
    print_table([(c, n["compatible"], n["incompatible"], n["unchecked"]) for c, n in summary.by_collection.items()],
                ["collection", "compatible", "incompatible", "unchecked"])
    for i in summary.items:
        if i.status == "incompatible":
            click.echo(f"  incompatible: {i.collection}/{i.external_id}: {i.detail or ''}")


COMMANDS = (setup_cmd, doctor_cmd, check_cmd, precheck_cmd)


def register(group: click.Group) -> None:
    """Add these commands to the ``lean`` group."""
    for cmd in COMMANDS:
        group.add_command(cmd)

