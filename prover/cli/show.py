"""``prover show``: a problem's informal search — pool, proofs, analyses, lineage — and the
formal attempts on its proofs, beside the NL proof."""

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
    """Show a problem's searches, proof pool, analyses, lineage and formal attempts (PROBLEM: id or COLLECTION/ID).

    Example: prover show sample_problems/sample-1 --proof 3
    """
    from prover.pipeline.report import problem_report

    with open_store(db, create=False) as store:
        rep = problem_report(store, problem, proof_id=proof_id)
        attempts = store.formal_attempts_of(problem_id=rep["problem"]["id"])
        rep["formal"] = store.formal_report(proof_id) if proof_id is not None else [
            {"attempt_id": a.id, "proof_id": a.proof_id, "population": a.population, "status": a.status,
             "statement_source": a.statement_source, "statement_faithful": a.statement_faithful,
             "nodes": a.nodes, "nodes_solved": a.nodes_solved, "steps_aligned": a.steps_aligned,
             "final_verdict": a.final_verdict, "root_closed_by": a.root_closed_by} for a in attempts]
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
                     "passed", "answer", "label", "why it stopped"], title="searches", aligned=True)
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
                     "parse", "text"], title="pool (* selected)", aligned=True)
        if rep["formal"]:
            print_table([(a["attempt_id"], a["proof_id"], a["population"], a["status"], _fmt(a["statement_source"]),
                          _fmt(a["statement_faithful"]), f"{a['nodes_solved']}/{a['nodes']}" if a["nodes"] else "-",
                          _fmt(a["steps_aligned"]), a["final_verdict"] or a["root_closed_by"] or "-")
                         for a in rep["formal"]],
                        ["attempt", "proof", "population", "status", "statement", "faithful", "nodes", "aligned",
                         "verdict / closed by"], title="formal attempts", aligned=True)
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
    for a in rep["formal"]:
        _print_formal(a)


def _print_formal(a) -> None:
    """One formal attempt beside the NL proof: statement, root, the sketch's steps with their NL
    steps, refutations, feedback."""
    ev = a["evidence"]
    st = ev["statement"]
    click.echo(f"\n=== formal attempt {a['id']} ({a['population']}): {a['status']} — {a['stop_reason'] or ''} ===")
    gate = st["gate"]
    faith = ("trusted collection" if st["trusted"] else
             f"gate {gate['status']}, {gate['votes_yes']}/{gate['votes_total']} votes" if gate else "no gate")
    click.echo(f"statement: {st['source'] or '-'} ({faith}; faithful: {_fmt(st['faithful'])})")
    if a.get("formal_statement"):
        click.echo(a["formal_statement"].rstrip())
    if ev["root_closed_independently"]:
        click.echo(f"root closed without the sketch by {ev['root_closed_by']} (statement_proved evidence)")
    elif ev.get("statement_closed_by"):
        click.echo(f"statement closed by {ev['statement_closed_by']} in another attempt (same statement and "
                   "toolchain): no formal 1")
    steps = [x for x in a["steps"] if x["sketch_id"] == a["sketch_id"]]
    if steps:
        print_table([(x["position"], x["nl_step_index"] or "-", excerpt(x["nl_step"], 40),
                      excerpt(f"have {x['name']} : {x['type_text']}" if x["type_text"] else x["kind"], 40),
                      x["status"], x["solved_by"] or "-", _fmt(x["aligned"]),
                      f"{x['votes_yes']}/{x['votes_total']}" if x["votes_total"] else "-") for x in steps],
                    ["pos", "NL step", "NL text", "Lean step", "status", "solved by", "aligned", "votes"],
                    title="sketch steps beside the NL proof", aligned=True)
    for r in ev["refutations"]:
        click.echo(f"refuted {r['what']}: {excerpt(r['proposition'], 100)} (faithful: {_fmt(r['faithful'])}"
                   + (", flags the given statement" if r["flags_statement"] else "") + ")")
    if ev["final_verdict"]:
        click.echo(f"assembled file: {ev['final_verdict']} (lean_checks {ev['final_check_id']})")
    for f in a["feedback"]:
        click.echo(f"feedback: {f['text']}")
