"""``prover lean``: the static screen of a proof (``audit``), the verdict a recorded Lean response
gives (``explain``) and re-screening stored checks (``rescreen``), none of which starts Lean; the
commands that run Lean (``setup``, ``doctor``, ``check``, ``precheck``) are in ``lean_run``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from prover.cli.common import db_option, echo_json
from prover.core.errors import UsageError


def read_text(path: str, what: str) -> str:
    """A file's text; a file that is not UTF-8 is a usage error (exit 2)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from exc


def read_response(path: str):
    """A recorded response: one JSON value, or JSON lines (`lake env lean --json` output)."""
    text = read_text(path, "response")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise UsageError(f"response {path} is not JSON: {exc.msg} at line {exc.lineno}") from exc


@click.group()
def lean() -> None:
    """Check proofs with Lean, screen them, explain Lean's verdicts.

    audit and explain need no Lean, nor does rescreen; setup, doctor, check and precheck use the
    toolchain of lean_project/ (check runs the screen first, so a rejected proof needs no Lean either).
    """


@lean.command("audit")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--statement-file", "statement_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The problem: a .lean file or a stored formal statement.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_cmd(proof_file: str, statement_file: str, as_json: bool) -> None:
    """Screen a proof file against its problem: exit 0 accepted, 1 rejected, 2 bad input.

    Example: prover lean audit proof.lean --statement-file putnam_1962_a2.lean --json
    """
    from prover.lean.audit import audit

    result = audit(read_text(proof_file, "proof file"), _problem(statement_file))
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo("accepted" if result.accepted else "rejected")
        for r in result.reasons:
            where = f"line {r.line}: " if r.line else ""
            click.echo(f"  {where}{r.code.value}: {r.text}")
    if not result.accepted:
        raise click.exceptions.Exit(1)


@lean.command("explain")
@click.argument("response_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--statement-file", "statement_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The problem: a .lean file or a stored formal statement.")
@click.option("--proof", "proof_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The proof file the response is about.")
@click.option("--line-offset", type=int, default=None,
              help="Lines the backend stripped before checking (default: Kimina's import lines, else 0).")
@click.option("--nonce", help="The nonce the checked file's epilogue carried (default: the stored file's placeholder).")
@click.option("--show-file", is_flag=True, help="Also print the assembled file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain_cmd(response_file: str, statement_file: str, proof_file: str, line_offset: int | None,
                nonce: str | None, show_file: bool, as_json: bool) -> None:
    """The verdict a recorded Lean response gives for a proof (screen first, then Lean's output).

    Example: prover lean explain response.json --statement-file problem.lean --proof proof.lean
    """
    from prover.lean.audit import explain
    from prover.lean.epilogue import NONCE_PLACEHOLDER

    if nonce is not None and (len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce)):
        raise click.BadParameter("32 lowercase hexadecimal digits", param_hint="--nonce")
    result = explain(read_response(response_file), _problem(statement_file), read_text(proof_file, "proof file"),
                     line_offset=line_offset, nonce=nonce or NONCE_PLACEHOLDER)
    if as_json:
        data = result.to_json()
        if show_file and result.assembled is not None:
            data["assembled"] = result.assembled.text
        echo_json(data)
        return
    click.echo(result.verdict.value)
    for note in result.notes:
        click.echo(f"  {note}")
    if result.axioms is not None:
        click.echo(f"  axioms: {', '.join(result.axioms) or '(none)'}")
    if show_file and result.assembled is not None:
        click.echo(result.assembled.text, nl=False)


@lean.command("rescreen")
@db_option
@click.option("--dry-run", is_flag=True, help="Report only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rescreen_cmd(db: str, dry_run: bool, as_json: bool) -> None:
    """Re-screen stored `verified` checks of older screen rules; withdraw formal labels that no longer hold.

    Example: prover lean rescreen --db prover.db --dry-run
    """
    from prover.cli.common import open_store
    from prover.lean.rescreen import rescreen

    with open_store(db, create=False) as store:
        report = rescreen(store, apply=not dry_run)
    if as_json:
        echo_json(report.to_json())
        return
    verb = "would be" if dry_run else "were"
    click.echo(f"screen rules {report.version}: {len(report.checks)} verified check(s) of older rules re-screened: "
               f"{report.count('passes')} pass, {report.count('rejected')} rejected, "
               f"{report.count('unscreenable')} cannot be re-screened")
    for c in report.checks:
        if c.outcome == "rejected":
            click.echo(f"  check {c.check_id}: rejected: " + ", ".join(
                f"{r.code.value}" + (f" (line {r.line})" if r.line else "") for r in c.reasons))
        elif c.outcome == "unscreenable":
            click.echo(f"  check {c.check_id}: cannot be re-screened: {c.note}")
    click.echo(f"{len(report.withdrawn_labels)} formal label(s) {verb} withdrawn"
               + "".join(f"\n  label {i} (proof {p}, value {v:g})" for i, p, v in report.withdrawn_labels))


def _problem(path: str):
    from prover.lean.problem import LeanProblem

    return LeanProblem.parse(read_text(path, "problem file"), source=path)
