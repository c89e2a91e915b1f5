"""``prover eval``: run a benchmark end to end and print its score beside the published figures;
``prover eval compare A B`` and ``prover eval list`` read stored evaluations."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.cli.formal import formal_options
from prover.cli.options import model_options
from prover.cli.run import _knob_options  # the search knobs, as `prover run` takes them
from prover.core.eval_records import EvalComparison, EvalSummary, FormalBenchScore, PublishedFigure
from prover.core.informal_records import BUDGETS, DEFAULT_BUDGET

SCRIPTED_NOTE = ("Scripted backend: a demo of the machinery; its outputs are not mathematics and no "
                 "figure below is a result.")


class _EvalGroup(click.Group):
    """``prover eval BENCH ...`` runs the benchmark: a first word that is no subcommand is BENCH."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_EvalGroup, invoke_without_command=False)
def eval_group() -> None:
    """Evaluate on a benchmark beside published figures (imo-proofbench, minif2f, proofnet, putnambench).

    `prover eval BENCH` runs it; `prover eval list` lists stored evaluations, `prover eval show
    ID` prints one, `prover eval compare A B` compares two.

    Example: prover eval imo-proofbench --split basic --budget small --model deepseek-math-v2
    """


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ci(ci) -> str:
    return "-" if ci is None else f"[{ci[0]:.1f}, {ci[1]:.1f}]"


def _figure(f: PublishedFigure | None) -> str:
    if f is None:
        return "-"
    return ("~" if f.approximate else "") + f"{f.value:.1f}"


def print_eval(summary: EvalSummary, published: list[PublishedFigure], *, per_problem: bool = False) -> None:
    """The score table: one row per group, ours with its interval, then each published system."""
    formal = any(o.formal_status is not None for o in summary.outcomes)
    if per_problem:
        print_table([(o.problem, o.split or "-", o.search_status, "yes" if o.passed else "no",
                      "-" if o.proof_id is None else o.proof_id, "-" if o.points is None else o.points,
                      o.grade_status, *([o.formal_status or "-"] if formal else []), o.calls, o.tokens)
                     for o in summary.outcomes],
                    ["problem", "split", "search", "passed", "proof", "points", "grade",
                     *(["formal"] if formal else []), "calls", "tokens"],
                    title=f"evaluation {summary.eval_id}: problems")
    systems = list(dict.fromkeys(f.system for f in published))
    ours = "ours (scripted, not a result)" if summary.scripted else "ours"
    rows = []
    for g in summary.groups:
        figs = {f.system: f for f in published if f.group == g.group}
        rows.append([g.group, g.problems, g.graded, _pct(g.percent), _ci(g.ci),
                     *(_figure(figs.get(s)) for s in systems)])
    print_table(rows, ["group", "problems", "graded", ours, "95% CI", *systems],
                title=f"evaluation {summary.eval_id}: {summary.benchmark}, % of max score (7 per problem)")
    click.echo(f"{summary.status}; models: " + ", ".join(f"{r}={m}" for r, m in summary.models.items())
               + f"; budget {summary.budget or '-'}, seed {summary.seed}, commit {(summary.commit or '-')[:12]}; "
               f"{summary.calls} calls ({summary.sent} sent)")
    if formal:
        proved = sum(o.formal_status in ("verified", "statement_proved") for o in summary.outcomes)
        click.echo(f"formal stage: Lean accepted a proof of {proved} of {len(summary.outcomes)} statement(s) "
                   f"({sum(o.formal_status == 'verified' for o in summary.outcomes)} through the NL proof's sketch)")
    for i, f in enumerate(dict((f.system, f) for f in published).values(), 1):
        click.echo(f"  [{i}] {f.system}: {f.source}" + (f", arXiv:{f.arxiv}" if f.arxiv else "")
                   + (f" ({f.note})" if f.note else ""))
    if summary.agreement is not None:
        _print_agreement(summary.agreement)


def _print_agreement(agreement: dict) -> None:
    if "report" not in agreement:
        click.echo(f"grader agreement: {agreement.get('note', 'none')}")
        return
    from prover.cli.crosscheck import render_report
    from prover.core.crosscheck_records import CrossCheckReport

    click.echo("grader agreement (grader against human grades):")
    click.echo(render_report(CrossCheckReport.model_validate(agreement["report"])))


@eval_group.command("run")
@click.argument("benchmark")
@db_option
@model_options()
@click.option("--split", default="all", show_default=True,
              help="Split: basic or advanced (imo-proofbench), test or valid (minif2f, proofnet), or all.")
@click.option("--budget", type=click.Choice(list(BUDGETS)), help=f"Search size preset [default: {DEFAULT_BUDGET}].")
@_knob_options
@click.option("--grader-model", help="Model of the grader (the judge role) [default: the judge's model].")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed.")
@click.option("--limit", type=click.IntRange(min=1), help="First N problems of each split only.")
@click.option("--data", type=click.Path(dir_okay=False, exists=True),
              help="The benchmark's data file [default: from $PROVER_SHARED/data].")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False),
              help="TOML file replacing prompt templates; its `grader` entry replaces the grader's.")
@click.option("--formal", is_flag=True,
              help="Run the formal stage on the selected proofs, on the benchmark's Lean statements (needs Lean).")
@formal_options
@click.option("--grader-agreement", is_flag=True,
              help="Also grade stored human-graded proofs of these problems and cross-check grader against human.")
@click.option("--human-grade", metavar="NAME", help="With --grader-agreement: the human grade to compare with.")
@click.option("--per-problem", is_flag=True, help="Also print one row per problem.")
@click.option("--dry-run", is_flag=True, help="Print the most calls and tokens it may use; make no call.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_run(benchmark, db, model_flags, split, budget, grader_model, seed, limit, data, templates_file, formal,
             grader_agreement, human_grade, per_problem, dry_run, as_json, formal_settings, **knobs) -> None:
    """Run BENCHMARK: import, search, grade each selected proof 0–7, store and print the score.

    IMO-ProofBench: the grader (the judge role) sees the problem, the reference solution and the
    grading guidelines; the generator and verifiers never do. The same command reuses its stored
    evaluation and sends no model call again. minif2f, proofnet, putnambench: pass@k and cost per
    solved problem from the formal attempts stored for their problems (`prover run --formal`
    makes them; no model call), or with --formal from a search and formal stage run first.

    Example: prover eval imo-proofbench --split basic --budget small --model deepseek-math-v2
    """
    import sys

    from prover.analysis.evaluation import published_figures
    from prover.core.errors import UsageError
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.llm.config import load_model_config
    from prover.pipeline.evaluate import formal_eval, get_benchmark, run_eval

    if get_benchmark(benchmark).kind == "formal":
        if dry_run:
            raise UsageError("--dry-run plans graded benchmarks; for a formal one, `prover run PROBLEMS --formal "
                             "--dry-run` bounds the run that makes its attempts")
        run = None
        if formal:
            from prover.informal.prompts import load_templates

            run = dict(config=SearchConfig(knobs=SearchKnobs.preset(budget, **knobs), seed=seed),
                       model_config=load_model_config(model_flags), templates=load_templates(templates_file),
                       command=sys.argv[1:], formal=formal_settings)
        with open_store(db) as store:
            summary = formal_eval(store, benchmark, split=split, data=data, limit=limit, run=run)
        if summary.scripted:
            click.echo(SCRIPTED_NOTE, err=True)
        if as_json:
            echo_json(summary.model_dump(mode="json"))
            return
        print_formal_score(summary, published_figures(summary.benchmark))
        return
    if grader_model:
        model_flags = model_flags.model_copy(
            update={"role_overrides": (*model_flags.role_overrides, f"judge.model={grader_model}")})
    config = SearchConfig(knobs=SearchKnobs.preset(budget, **knobs), seed=seed)
    model_config = load_model_config(model_flags)
    if dry_run:
        from prover.pipeline.evaluate import plan_eval

        est = plan_eval(benchmark, config=config, model_config=model_config, split=split, data=data, limit=limit)
        if as_json:
            echo_json(est.model_dump())
            return
        print_table([(role, n) for role, n in est.calls_by_role.items()], ["role", "max calls"],
                    title=f"{est.problems} problem(s), {benchmark} {split} (judge: answer checks and grading)")
        click.echo(f"at most {est.calls} calls ({est.calls_per_problem} per problem); at most "
                   + (f"{est.completion_tokens} completion tokens" if est.completion_tokens is not None
                      else "unbounded completion tokens (set --max-tokens)") + "; no call made.")
        return
    with open_store(db) as store:
        summary = run_eval(store, benchmark, config=config, model_config=model_config, split=split,
                           budget=budget or DEFAULT_BUDGET, data=data, limit=limit, templates_file=templates_file,
                           command=sys.argv[1:], grader_agreement=grader_agreement, human_grade=human_grade,
                           formal=formal_settings if formal else None)
    if summary.scripted:
        click.echo(SCRIPTED_NOTE, err=True)
    if as_json:
        echo_json(summary.model_dump(mode="json"))
    else:
        print_eval(summary, published_figures(summary.benchmark), per_problem=per_problem)
    if summary.status == "incomplete":
        from prover.core.errors import BackendError

        failed = [o for o in summary.outcomes if o.search_status == "incomplete" or o.grade_status == "error"]
        raise BackendError(f"{len(failed)} problem(s) incomplete (model calls failed); run the same command "
                           "again to continue")


@eval_group.command("show")
@click.argument("eval_id", type=int)
@db_option
@click.option("--per-problem", is_flag=True, help="Also print one row per problem.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_show(eval_id, db, per_problem, as_json) -> None:
    """Print a stored evaluation (EVAL_ID: see `prover eval list`) beside the published figures.

    Example: prover eval show 1 --per-problem
    """
    from prover.analysis.evaluation import published_figures

    with open_store(db, create=False) as store:
        summary = store.get_evaluation(eval_id)
    if summary.scripted:
        click.echo(SCRIPTED_NOTE, err=True)
    if as_json:
        echo_json(summary.model_dump(mode="json"))
    elif summary.formal is not None:
        print_formal_score(summary, published_figures(summary.benchmark))
    else:
        print_eval(summary, published_figures(summary.benchmark), per_problem=per_problem)


def print_formal_score(summary: EvalSummary, published: list[PublishedFigure]) -> None:
    """pass@k under this project's checker, the cost per solved problem, and published figures."""
    score: FormalBenchScore = summary.formal
    ks = sorted(score.pass_at)
    ours = " (scripted, not a result)" if score.scripted else ""
    print_table([[score.split, score.problems, score.attempted, score.solved, score.attempts,
                  *(_pct(score.pass_at[k]) for k in ks)]],
                ["split", "problems", "attempted", "solved", "attempts", *(f"pass@{k} %{ours}" for k in ks)],
                title=f"evaluation {summary.eval_id}: {score.benchmark}, Lean-checked proofs under this project's "
                      "checker" + (f" (run {summary.run_id})" if summary.run_id else " (every stored formal attempt)"))
    if not score.attempts:
        click.echo("no finished formal attempt is stored for these problems: run `prover run --formal` on them")

    def per(value, digits=0):
        v = score.per_solved(value)
        return "-" if v is None else f"{v:.{digits}f}"

    click.echo(f"cost: {score.calls} formal model calls, {score.tokens} tokens (runs that made the attempts), "
               f"{score.lean_checks} Lean checks, {score.lean_seconds:.1f} Lean wall seconds; per solved problem: "
               f"{per(score.calls)} calls, {per(score.tokens)} tokens, {per(score.lean_seconds, 1)} Lean seconds")
    groups = {score.split, "all"} if score.split != "all" else {"all", "test"}
    for f in published:
        if f.group in groups:
            click.echo(f"  published: {f.system} {_figure(f)}% {f.metric} on {f.group} — {f.source}"
                       + (f", arXiv:{f.arxiv}" if f.arxiv else "") + (f" ({f.note})" if f.note else ""))


@eval_group.command("compare")
@click.argument("a", type=int)
@click.argument("b", type=int)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_compare(a, b, db, as_json) -> None:
    """Compare two stored evaluations (A, B: evaluation ids), group by group and problem by problem.

    Example: prover eval compare 1 2
    """
    from prover.analysis.evaluation import compare_evaluations

    with open_store(db, create=False) as store:
        cmp = compare_evaluations(store.get_evaluation(a), store.get_evaluation(b))
    if as_json:
        echo_json(cmp.model_dump(mode="json"))
        return
    print_comparison(cmp)


def print_comparison(cmp: EvalComparison) -> None:
    a, b = cmp.a, cmp.b
    if a.scripted or b.scripted:
        click.echo(SCRIPTED_NOTE, err=True)

    def delta(x, y):
        return "-" if x is None or y is None else f"{y - x:+.1f}"

    print_table([(g, _pct(x), _pct(y), delta(x, y)) for g, x, y in cmp.groups],
                ["group", f"A={a.eval_id}", f"B={b.eval_id}", "B-A"],
                title=f"{a.benchmark}/{a.split} against {b.benchmark}/{b.split}, % of max score")
    differ = [(p, x, y) for p, x, y in cmp.problems if x != y]
    if differ:
        print_table([(p, "-" if x is None else x, "-" if y is None else y) for p, x, y in differ],
                    ["problem", f"A={a.eval_id}", f"B={b.eval_id}"], title="problems graded differently")
    click.echo(f"{len(cmp.problems)} problem(s) in both, {len(differ)} graded differently")
    for e in (a, b):
        click.echo(f"  {e.eval_id}: models " + ", ".join(f"{r}={m}" for r, m in e.models.items())
                   + f"; budget {e.budget or '-'}, seed {e.seed}, commit {(e.commit or '-')[:12]}")


def _group(e: EvalSummary, name: str) -> float | None:
    return next((g.percent for g in e.groups if g.group == name), None)


@eval_group.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_list(db, as_json) -> None:
    """List stored evaluations.

    Example: prover eval list
    """
    with open_store(db, create=False) as store:
        evals = store.list_evaluations()
    if as_json:
        echo_json([e.model_dump(mode="json", exclude={"outcomes"}) for e in evals])
        return
    print_table([(e.eval_id, e.benchmark, e.split, e.status, e.models.get("generator", "-"),
                  e.models.get("judge", "-"), e.budget or "-", e.seed,
                  *(_pct(_group(e, n)) for n in ("basic", "advanced", "all")),
                  "yes" if e.scripted else "no") for e in evals],
                ["id", "benchmark", "split", "status", "generator", "grader", "budget", "seed", "basic %",
                 "advanced %", "all %", "scripted"], title="evaluations")
