"""``prover formalize``: the formal stage on stored proofs, and the formal options that
``prover run --formal`` shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.cli.options import model_options


def formal_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The formal stage's flags; the command receives them as one ``formal_settings``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["formal_settings"] = _settings(**{k: kwargs.pop(k) for k in _NAMES}, seed=kwargs.get("seed") or 0)
        return f(*args, **kwargs)

    options = [
        click.option("--trusted", multiple=True, metavar="COLLECTION",
                     help="A collection whose formal statements count as faithful without a gate (repeatable)."),
        click.option("--direct-attempts", type=click.IntRange(min=0), default=4, show_default=True,
                     help="Prover samples on the whole statement (pass@k)."),
        click.option("--repairs-per-node", type=click.IntRange(min=0), default=4, show_default=True,
                     help="Repairs from Lean's messages per node."),
        click.option("--repairs-per-proof", type=click.IntRange(min=0), default=20, show_default=True,
                     help="Repairs per formal attempt, all nodes together."),
        click.option("--portfolio", metavar="TACTICS", help="Comma-separated tactics tried alone on each goal."),
        click.option("--votes", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Judge votes per faithfulness and alignment decision (n)."),
        click.option("--votes-needed", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Yes votes a statement or step needs (k)."),
        click.option("--refute/--no-refute", default=True, show_default=True,
                     help="Try the negation of the statement and of unsolved steps."),
        click.option("--lean-backend", type=click.Choice(["repl", "file", "kimina"]), default="repl",
                     show_default=True, help="Lean backend."),
        click.option("--project", type=click.Path(file_okay=False), help="Lake project [default: lean_project/]."),
        click.option("--kimina-url", envvar="LEAN_SERVER_API_URL",
                     help="Kimina Lean Server(s), comma-separated, balanced (--lean-backend kimina)."),
        click.option("--lean-processes", type=click.IntRange(min=1),
                     help="Lean checks at once: REPL or file-mode processes, or requests in flight to Kimina "
                          "[default: min(cores, memory / cap); Kimina: 4 per server]."),
        click.option("--lean-timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
                     help="Seconds per Lean check."),
        click.option("--lean-memory-gb", type=click.FloatRange(min=0), default=8.0, show_default=True,
                     help="Memory cap per Lean process (0: none)."),
        click.option("--final-check", type=click.Choice(["lean4checker", "comparator", "safeverify", "none"]),
                     default="lean4checker", show_default=True,
                     help="Confirm a verified assembled file out of process (lean_project/README.md)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


_NAMES = ("trusted", "direct_attempts", "repairs_per_node", "repairs_per_proof", "portfolio", "votes",
          "votes_needed", "refute", "lean_backend", "project", "kimina_url", "lean_processes", "lean_timeout",
          "lean_memory_gb", "final_check")


def _settings(*, trusted, direct_attempts, repairs_per_node, repairs_per_proof, portfolio, votes, votes_needed, refute,
              lean_backend, project, kimina_url, lean_processes, lean_timeout, lean_memory_gb, final_check, seed,
              sample=0):
    from pydantic import ValidationError

    from prover.core.errors import UsageError
    from prover.core.formal_records import DEFAULT_PORTFOLIO, FormalConfig
    from prover.core.lean_records import LeanLimits
    from prover.pipeline.formal_run import FormalSettings

    tactics = tuple(t.strip() for t in portfolio.split(",") if t.strip()) if portfolio else DEFAULT_PORTFOLIO
    memory = None if lean_memory_gb <= 0 else int(lean_memory_gb * 1024)
    try:
        config = FormalConfig(trusted_collections=tuple(trusted), direct_attempts=direct_attempts,
                              repairs_per_node=repairs_per_node, repairs_per_proof=repairs_per_proof,
                              portfolio=tactics, faithfulness_votes=votes, faithfulness_needed=votes_needed,
                              alignment_votes=votes, alignment_needed=votes_needed, refute=refute, seed=seed,
                              limits=LeanLimits(time_s=lean_timeout, memory_mb=memory))
    except ValidationError as exc:
        raise UsageError(f"formal settings: {exc.errors()[0]['msg']}") from None
    return FormalSettings(config=config, sample=sample, backend=lean_backend, project=project, kimina_url=kimina_url,
                          processes=lean_processes, memory_cap_bytes=None if memory is None else memory * 2**20,
                          final_check=final_check)


def print_formal(results: list[dict[str, Any]], title: str = "formal attempts") -> None:
    """One row per formal attempt."""
    if not results:
        return
    print_table([(r["attempt_id"], r["proof_id"], r["status"], r.get("statement_source") or "-",
                  "-" if r.get("statement_faithful") is None else ("yes" if r["statement_faithful"] else "no"),
                  f"{r['nodes_solved']}/{r['nodes']}" if r["nodes"] else "-",
                  "-" if r.get("steps_aligned") is None else ("yes" if r["steps_aligned"] else "no"),
                  r.get("final_verdict") or r.get("root_closed_by") or "-", r["feedback"], r["calls"], r["checks"])
                 for r in results],
                ["attempt", "proof", "status", "statement", "faithful", "nodes", "aligned", "verdict / closed by",
                 "feedback", "calls", "checks"], title=title)


@click.command("formalize")
@click.argument("proof_ids", nargs=-1, required=True, type=int)
@db_option
@model_options()
@formal_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the formal stage's requests.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def formalize(proof_ids, db, model_flags, formal_settings, seed, as_json) -> None:
    """Run the formal stage on stored proofs: statement, direct attempt, sketch, lemma DAG, assembly.

    Needs a Lean toolchain (`prover lean doctor`); exits 3 before any model call without one.
    A finished attempt with the same settings is shown again, not redone.

    Example: prover formalize 42 --trusted minif2f --model deepseek-prover --base-url http://127.0.0.1:8000/v1
    """
    from prover.llm.config import load_model_config
    from prover.pipeline.formal_run import formalize_proofs, open_lean

    model_config = load_model_config(model_flags)
    lean_backend, pin = open_lean(formal_settings)
    try:
        with open_store(db, create=False) as store:
            results = formalize_proofs(store, proof_ids, config=formal_settings.config, model_config=model_config,
                                       lean_backend=lean_backend, pin=pin, command=sys.argv[1:],
                                       final_check=formal_settings.final_check)
    finally:
        lean_backend.close()
    data = [r.model_dump(mode="json") for r in results]
    if as_json:
        echo_json(data)
    else:
        print_formal(data)
        for r in results:
            click.echo(f"proof {r.proof_id}: {r.status} — {r.stop_reason}" + (" (stored result)" if r.reused else ""))
    errors = [r for r in results if r.status == "error"]
    if errors:
        from prover.core.errors import BackendError

        raise BackendError(f"{len(errors)} formal attempt(s) ended in an unexpected exception (attempt "
                           f"{', '.join(str(r.attempt_id) for r in errors)}: {errors[0].stop_reason}; the traceback "
                           "is stored on the attempt, and the same command runs it again)")
