"""``prover run``: DeepSeekMath-V2's informal search (generate → verify → meta-verify → refine)."""

from __future__ import annotations

import sys

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.cli.formal import formal_options, print_formal
from prover.cli.options import model_options
from prover.cli.worker import lease_option, poll_option, problems_option
from prover.core.informal_records import BUDGETS, DEFAULT_BUDGET

_KNOBS = [
    ("--proofs", "proofs", "N: proofs generated in the first round."),
    ("--verifications", "verifications", "M: parsed verifications per proof."),
    ("--rounds", "rounds", "R: refinement rounds after the first."),
    ("--refine-top", "refine_top", "K: best proofs refined per round."),
    ("--analyses-per-refinement", "analyses_per_refinement", "A: analyses given with each proof to refine."),
    ("--meta-verifications", "meta_verifications", "m: meta-verifications per issue-reporting analysis."),
    ("--proofs-per-refinement", "proofs_per_refinement", "P: refined proofs per prompt."),
]


def _knob_options(f):
    for flag, name, text in reversed(_KNOBS):
        f = click.option(flag, name, type=click.IntRange(min=0), help=text + " Overrides --budget.")(f)
    return f


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@click.command("run")
@click.argument("problems", nargs=-1, required=True)
@db_option
@model_options()
@click.option("--budget", type=click.Choice(list(BUDGETS)), help=f"Search size preset [default: {DEFAULT_BUDGET}].")
@_knob_options
@click.option("--max-verdict-retries", type=click.IntRange(min=0), default=4, show_default=True,
              help="Extra verification samples per proof to replace unparsed verdicts.")
@click.option("--verification-wave", type=click.IntRange(min=1), metavar="W",
              help="Verify each proof W samples at a time and stop once it cannot pass [default: all M at once].")
@click.option("--call-budget", type=click.IntRange(min=1), help="Most model calls per problem.")
@click.option("--token-budget", type=click.IntRange(min=1), help="Most tokens per problem (checked between rounds).")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed; another seed draws fresh samples.")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False), help="TOML file replacing prompt templates.")
@click.option("--label-n", type=click.IntRange(min=1), help="Informal label: parsed analyses used [default: M].")
@click.option("--label-k", type=click.IntRange(min=1), default=1, show_default=True,
              help="Informal label: valid analyses needed for the lowest score.")
@click.option("--label-tau", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Informal label: meta-score an analysis needs to count as valid.")
@click.option("--answer-judge/--no-answer-judge", default=True, show_default=True,
              help="Ask the judge role when an answer differs from the reference in form.")
@click.option("--formal", is_flag=True, help="Also run the formal stage (Lean) on selected proofs.")
@click.option("--formal-sample", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --formal: also K pool proofs per problem drawn at random.")
@formal_options
@click.option("--dry-run", is_flag=True,
              help="Print the most calls and tokens of the budget (with --formal, Lean checks too); make no call.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Start N local worker processes; `prover worker` on other machines may join [default: one process].")
@lease_option
@problems_option
@poll_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run(problems, db, model_flags, budget, max_verdict_retries, verification_wave, call_budget, token_budget, seed,
        templates_file, label_n, label_k, label_tau, answer_judge, formal, formal_sample, formal_settings, dry_run,
        workers, lease_s, problems_at_once, poll_s, as_json,
        **knobs) -> None:
    """Prove problems: generate, verify, meta-verify and refine (PROBLEMS: files or problem ids).

    A token that is an existing file is imported first; any other names a stored problem
    (id, COLLECTION/ID or row id). The same command continues an interrupted run. With --formal,
    the formal stage runs on proofs as they are selected (it needs Lean: without a usable
    toolchain the command exits 3 before any model call; see `prover lean doctor`). With
    --workers N, N local processes share the problems through leases in the database, and
    `prover worker` joins from other machines (README, "Running on a cluster"). With
    --backend scripted, every answer comes from the JSONL file that PROVER_SCRIPT names (a demo
    of the machinery: PROVER_SCRIPT=prover/data/demo_script.jsonl).

    Example: prover run prover/data/sample_problems.jsonl --budget small --model deepseek-math-v2
    """
    import dataclasses

    from pydantic import ValidationError

    from prover.core.errors import BackendError, UsageError
    from prover.core.informal_records import LabelPolicy, SearchConfig, SearchKnobs
    from prover.informal.prompts import load_templates
    from prover.llm.config import load_model_config
    from prover.pipeline.run import plan_run, run_informal

    try:
        config = SearchConfig(knobs=SearchKnobs.preset(budget, **knobs), max_verdict_retries=max_verdict_retries,
                              verification_wave=verification_wave, seed=seed, call_budget=call_budget,
                              token_budget=token_budget,
                              answer_judge=answer_judge, label=LabelPolicy(n=label_n, k=label_k, tau=label_tau))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise UsageError(f"{where + ': ' if where else ''}{err['msg']}") from None
    model_config = load_model_config(model_flags)
    templates = load_templates(templates_file)
    demo = any(model_config.role(r).backend == "scripted" for r in ("generator", "verifier"))
    if formal_sample and not formal:
        raise UsageError("--formal-sample needs --formal")
    formal_run = dataclasses.replace(formal_settings, sample=formal_sample) if formal and not dry_run else None

    with open_store(db) as store:
        if dry_run:
            est = plan_run(store, problems, config=config, model_config=model_config,
                           formal=dataclasses.replace(formal_settings, sample=formal_sample) if formal else None)
            if as_json:
                echo_json(est.model_dump())
                return
            k = est.knobs
            click.echo(f"{est.problems} problem(s); N={k.proofs} M={k.verifications} R={k.rounds} K={k.refine_top} "
                       f"A={k.analyses_per_refinement} m={k.meta_verifications} P={k.proofs_per_refinement}, "
                       f"verdict retries {config.max_verdict_retries}"
                       + (f", call budget {config.call_budget}/problem" if config.call_budget else "")
                       + (f", token budget {config.token_budget}/problem" if config.token_budget else ""))
            print_table([(role, n, _fmt(est.max_tokens_by_role[role]),
                          _fmt(n * est.max_tokens_by_role[role]) if est.max_tokens_by_role[role] else "unbounded")
                         for role, n in est.calls_by_role.items()],
                        ["role", "max calls", "max tokens/call", "max completion tokens"])
            click.echo(f"at most {est.calls} calls ({est.calls_per_problem} per problem); at most "
                       + (f"{est.completion_tokens} completion tokens" if est.completion_tokens is not None
                          else "unbounded completion tokens (set --max-tokens)")
                       + "; no call made.")
            if est.formal is not None:
                f = est.formal
                click.echo(f"formal stage (not in the figures above): up to {f.attempts_per_problem} attempt(s) per "
                           f"problem, assuming {f.assumed_steps} sketch steps each; at most "
                           + ", ".join(f"{n} {role}" for role, n in f.calls_by_role.items())
                           + f" calls ({f.calls_per_problem} per problem) and {f.lean_checks} Lean checks "
                             f"({f.lean_checks_per_problem} per problem); Lean not opened.")
            return
        if demo:
            click.echo("Scripted backend: a demo of the machinery; its outputs are not mathematics and no "
                       "figure below is a result.", err=True)
        from prover.pipeline.workers import WorkerSettings

        summary = run_informal(store, problems, config=config, model_config=model_config, templates=templates,
                               command=sys.argv[1:], formal=formal_run, workers=workers,
                               worker_settings=WorkerSettings(lease_s=lease_s, problems_at_once=problems_at_once,
                                                              poll_s=poll_s))

    if as_json:
        echo_json(summary.model_dump(mode="json"))
    else:
        print_table([(r.problem, r.status, r.rounds, r.proofs, _fmt(r.mean_score), _fmt(r.passed),
                      _fmt(r.answer_match), _fmt(r.label.value if r.label else None), r.calls, r.tokens,
                      f"{r.seconds:.1f}s") for r in summary.results],
                    ["problem", "status", "rounds", "proofs", "best mean", "passed", "answer match", "label",
                     "calls", "tokens", "time"], title=f"run {summary.run_id}")
        click.echo(f"{len(summary.results)} problem(s), {sum(r.passed for r in summary.results)} passed; "
                   f"{summary.calls} calls ({summary.sent} sent, {summary.cached} from the call cache, "
                   f"{summary.calls - summary.sent - summary.cached} from stored rows"
                   + (f", {summary.resent} re-sent after an interruption" if summary.resent else "")
                   + f"), {summary.tokens} tokens, {summary.seconds:.1f}s")
        print_formal(summary.formal)
    if summary.status == "incomplete":
        failed = [r for r in summary.results if r.status == "incomplete"]
        errors = summary.formal_errors
        parts = [f"{len(failed)} problem(s) incomplete: {failed[0].stop_reason}"] if failed else []
        if errors:
            parts.append(f"{len(errors)} formal attempt(s) ended in an unexpected exception (attempt "
                         f"{', '.join(str(e['attempt_id']) for e in errors)}: {errors[0]['stop_reason']}; the "
                         "traceback is stored on the attempt, and the same command runs it again)")
        raise BackendError("; ".join(parts))
