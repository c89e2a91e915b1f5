"""``prover labels``: build the labeled proof database, export training data, resample
analyses that agree with labels."""

from __future__ import annotations

import sys

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.cli.options import model_options

_PRECEDENCE_HELP = "Label sources in order of trust; a source left out is not used [default: human,formal,informal]."


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-"


@click.group()
def labels() -> None:
    """Labels of proofs (human, formal, informal) and training exports."""


@labels.command("build")
@db_option
@click.option("--source", "sources", default="all", show_default=True, metavar="LIST",
              help="Sources to build: human, formal, informal (comma list) or all.")
@click.option("--n", "n", type=click.IntRange(min=1), help="Informal: parsed analyses read [default: the search's M].")
@click.option("--m", "m", type=click.IntRange(min=0),
              help="Informal: meta-verifications per issue-reporting analysis [default: the search's].")
@click.option("--k", "k", type=click.IntRange(min=1), help="Informal: valid analyses needed for the lowest score [default: 1].")
@click.option("--tau", type=click.FloatRange(0, 1), help="Informal: meta-score that makes an analysis valid [default: 1].")
@click.option("--top-up", is_flag=True,
              help="First ask the verifications informal labels still need (proofs verified in waves; needs a model).")
@model_options(only_with="top_up")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False),
              help="With --top-up: TOML file replacing prompt templates (as the search used).")
@click.option("--final-check", type=click.Choice(["lean4checker", "comparator", "safeverify", "none"]),
              default="lean4checker", show_default=True,
              help="Formal: the independent confirmation a label 1 needs (none: labels say so).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build(db, sources, n, m, k, tau, top_up, model_flags, templates_file, final_check, as_json) -> None:
    """Derive labels from the database and store the new ones (building twice adds nothing).

    Example: prover labels build --source informal,human --k 2
    """
    from prover.analysis.labels import build_labels
    from prover.core.label_records import InformalPolicy

    policy = InformalPolicy(n=n, m=m, k=k, tau=tau)
    topped = None
    with open_store(db, create=False) as store:
        if top_up:
            from prover.analysis.topup import top_up_analyses
            from prover.informal.prompts import load_templates
            from prover.llm.config import load_model_config

            topped = top_up_analyses(store, model_config=load_model_config(model_flags), policy=policy,
                                     templates=load_templates(templates_file), command=["prover", *sys.argv[1:]])
        summary = build_labels(store, sources=sources, informal=policy, command=["prover", *sys.argv[1:]],
                               final_check=final_check)
    if as_json:
        echo_json({**summary.model_dump(), "top_up": topped.model_dump()} if topped else summary.model_dump())
        return
    if topped is not None:
        click.echo(f"top-up (run {topped.run_id}): {topped.proofs} proof(s) short of n parsed analyses; "
                   f"{topped.completed} now complete, {len(topped.short)} still short after their search's "
                   f"M + retries samples; {topped.verifications} verifier and {topped.metas} meta-verifier call(s), "
                   f"{topped.unparsed} unparsed")
    print_table([(src, s.considered, s.added, s.existing, s.changed, _fmt_counts(s.values), _fmt_counts(s.no_label))
                 for src, s in summary.sources.items()],
                ["source", "proofs", "added", "existing", "changed", "labels by value", "no label (why)"],
                title=f"labels build (run {summary.run_id})")
    for src, s in summary.sources.items():
        if s.flags:
            click.echo(f"{src}: {_fmt_counts(s.flags)}")
        if s.note:
            click.echo(f"{src}: {s.note}")
        if s.changed:
            click.echo(f"{src}: {s.changed} stored label(s) differ from what the evidence gives now; stored rows "
                       "are kept (labels are unique per proof, source and policy version)")


@labels.command("export")
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True,
              help="File format.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--precedence", metavar="LIST", help=_PRECEDENCE_HELP)
@click.option("--drop-conflicts", is_flag=True, help="Leave out proofs whose label sources disagree.")
@click.option("--splits", metavar="NAME=PCT,...", help="Split percentages [default: train=90,validation=5,test=5].")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False),
              help="TOML file replacing prompt templates.")
@click.option("--max-pairs-per-problem", type=click.IntRange(min=0), default=32, show_default=True,
              help="Most preference pairs per problem.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def export(db, fmt, out, precedence, drop_conflicts, splits, templates_file, max_pairs_per_problem, as_json) -> None:
    """Write SFT, pointwise, preference-pair and meta-verification datasets (each loads with datasets.load_dataset).

    Example: prover labels export --format parquet --out exports/ --precedence formal,human
    """
    from prover.analysis.exports import export_labels
    from prover.informal.prompts import load_templates

    templates = load_templates(templates_file)
    with open_store(db, create=False) as store:
        s = export_labels(store, out, fmt=fmt, precedence=precedence, drop_conflicts=drop_conflicts, splits=splits,
                          templates=templates, max_pairs_per_problem=max_pairs_per_problem)
    if as_json:
        echo_json(s.model_dump())
        return
    click.echo(f"{s.labelled_proofs} labelled proofs ({_fmt_counts(s.by_source)}); precedence "
               f"{','.join(s.precedence)}; problems by split: {_fmt_counts(s.problems_by_split)}")
    print_table([(name, *(counts.get(split, 0) for split in s.splits)) for name, counts in s.files.items()],
                ["dataset", *s.splits], title=f"records written to {s.out}")
    c = s.conflicts
    if c.count:
        click.echo(f"{c.count} proof(s) with conflicting labels ({c.resolution}): {_fmt_counts(c.by_sources)}")
    if s.without_agreeing_analysis:
        ids = s.without_agreeing_analysis
        shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
        click.echo(f"{len(ids)} labelled proof(s) have no stored analysis agreeing with the label (no SFT record): "
                   f"{shown}; prover labels resample --max K draws more")


@labels.command("resample")
@db_option
@model_options()
@click.option("--max", "max_new", type=click.IntRange(min=1), required=True,
              help="Most new verifier analyses per proof.")
@click.option("--precedence", metavar="LIST", help=_PRECEDENCE_HELP)
@click.option("--drop-conflicts", is_flag=True, help="Leave out proofs whose label sources disagree.")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False),
              help="TOML file replacing prompt templates.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the new requests.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def resample(db, model_flags, max_new, precedence, drop_conflicts, templates_file, seed, as_json) -> None:
    """Draw verifier analyses for labelled proofs until one agrees with the label.

    Example: prover labels resample --max 8 --model deepseek-math-v2 --base-url http://127.0.0.1:8000/v1
    """
    from prover.analysis.resample import resample_labels
    from prover.informal.prompts import load_templates
    from prover.llm.config import load_model_config

    model_config = load_model_config(model_flags)
    templates = load_templates(templates_file)
    with open_store(db, create=False) as store:
        s = resample_labels(store, model_config=model_config, max_new=max_new, precedence=precedence,
                            drop_conflicts=drop_conflicts, templates=templates, seed=seed,
                            command=["prover", *sys.argv[1:]])
    if as_json:
        echo_json(s.model_dump())
        return
    click.echo(f"{s.proofs} labelled proof(s) without an agreeing analysis; {s.resolved} now have one "
               f"({_fmt_counts(s.by_source)}); {len(s.unresolved)} still without after --max {max_new}; "
               f"{s.calls} verifier call(s), {s.unparsed} unparsed")
