"""``prover show``: a problem's informal search — pool, proofs, analyses, lineage."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, excerpt, open_store, print_table


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


@click.command("show")
@click.argument("problem")
@db_option
@click.option("--proof", "proof_id", type=int, help="Show this proof in full, with its analyses.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(problem, db, proof_id, as_json) -> None:
    """Show a problem's searches, proof pool, analyses and lineage (PROBLEM: id or COLLECTION/ID).

    Example: prover show sample_problems/sample-1 --proof 3
    """
    from prover.pipeline.report import problem_report

    with open_store(db, create=False) as store:
        rep = problem_report(store, problem, proof_id=proof_id)
    if as_json:
        echo_json(rep)
        return
    p = rep["problem"]
    click.echo(f"#{p['id']}  {p['collection']}/{p['external_id']}")
    click.echo(p["statement"] or "(no informal statement)")
    if rep["searches"]:
        print_table([(s["id"], s["status"], s["seed"], s["rounds"], s["proofs"], s["calls"], s["tokens"],
                      _fmt(s["selected_proof_id"]), _fmt(s["mean_score"]), _fmt(s["passed"]),
                      _fmt(s["answer_match"]), _fmt(s["label"]), s["stop_reason"] or "")
                     for s in rep["searches"]],
                    ["search", "status", "seed", "rounds", "proofs", "calls", "tokens", "selected", "mean",
                     "passed", "answer", "label", "why it stopped"], title="searches")
    else:
        click.echo("\nno informal search yet")
    if not rep["proofs"]:
        return
    if proof_id is None:
        print_table([(("*" if x["selected"] else "") + str(x["id"]), x["round"], x["index"], x["source"],
                      ",".join(map(str, x["parent_ids"])) or "-", len(x["analysis_ids"]) or "-",
                      _fmt(x["self_score"]), _fmt(x["mean_score"]),
                      " ".join(_fmt(s) for s in x["scores"]), x["parse_status"] or "", excerpt(x["text"], 50))
                     for x in rep["proofs"]],
                    ["proof", "round", "index", "source", "refines", "analyses given", "self", "mean", "verdicts",
                     "parse", "text"], title="pool (* selected)")
        return
    x = rep["proofs"][0]
    click.echo(f"\n--- proof {x['id']} (round {x['round']}, index {x['index']}, {x['source']}"
               + (f", refines {', '.join(map(str, x['parent_ids']))} given analyses "
                  f"{', '.join(map(str, x['analysis_ids']))}" if x["parent_ids"] else "")
               + f"; self-score {_fmt(x['self_score'])}, mean {_fmt(x['mean_score'])}) ---")
    click.echo(x["text"])
    if x["self_evaluation"]:
        click.echo("\n--- self-evaluation ---")
        click.echo(x["self_evaluation"])
    for v in x["verifications"]:
        click.echo(f"\n--- analysis {v['id']} (sample {v['index']}, score {_fmt(v['score'])}, {v['parse_status']}) ---")
        click.echo(v["analysis"])
        for m in v["meta"]:
            click.echo(f"  meta {m['id']} (sample {m['index']}): {_fmt(m['score'])} [{m['parse_status']}]")
