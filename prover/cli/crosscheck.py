"""``prover crosscheck``: how far a candidate grader (an informal verifier, automatic grades)
agrees with a reference (Lean, human grades)."""

from __future__ import annotations

import click

from prover.cli.common import db_option, echo_json, open_store
from prover.core.crosscheck_records import METRIC_NAMES, POPULATIONS, CrossCheckReport

#: How many disagreeing proofs the readable output lists per direction (JSON lists all).
MAX_LISTED = 20


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _excerpt(text: str, width: int = 90) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def render_report(report: CrossCheckReport) -> str:
    """The readable form of a cross-check: counts, metrics with intervals, calibration,
    groups, notes and the disagreeing proofs."""
    out: list[str] = []
    out.append(f"Cross-check: candidate {report.candidate} (pass >= {report.candidate_threshold:g}) "
               f"against reference {report.reference} (pass >= {report.reference_threshold:g})")
    excluded = sum(report.excluded.values())
    out.append(f"Population: {report.population}; {report.considered} proofs considered, "
               f"{report.n} compared ({report.problems} problems), {excluded} excluded")
    for reason, count in sorted(report.excluded.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"  excluded {count:>6}  {reason}")
    out.append("")
    out.append(f"{'':16}{'reference pass':>16}{'reference fail':>16}")
    out.append(f"{'candidate pass':16}{report.tp:>16}{report.fp:>16}")
    out.append(f"{'candidate fail':16}{report.fn:>16}{report.tn:>16}")
    out.append("")
    boot = report.bootstrap
    if boot is not None:
        out.append(f"95% intervals: bootstrap over problems, {boot.resamples} resamples of "
                   f"{boot.problems} problems, seed {boot.seed}; 'degenerate' counts the "
                   "resamples where a metric was undefined")
        out.append(f"{'metric':10}{'value':>8}   {'95% interval':<18}{'degenerate':>10}")
    else:
        out.append(f"{'metric':10}{'value':>8}")
    for name in METRIC_NAMES:
        line = f"{name:10}{_num(getattr(report, name)):>8}"
        if boot is not None:
            ci = report.ci.get(name)
            interval = "n/a" if ci is None else f"[{_num(ci[0])}, {_num(ci[1])}]"
            line += f"   {interval:<18}{boot.degenerate.get(name, 0):>10}"
        out.append(line.rstrip())
    filled = [b for b in report.reliability if b.count]
    if filled:
        out.append("")
        out.append("Calibration (candidate value -> fraction the reference passes):")
        for b in filled:
            close = "]" if b.hi >= 1.0 else ")"
            out.append(f"  [{b.lo:.1f}, {b.hi:.1f}{close}  n={b.count:<5} mean {_num(b.mean_candidate)}"
                       f"  passed {_num(b.reference_pass_rate)}")
    if report.by is not None:
        out.append("")
        out.append(f"By {report.by}:")
        header = f"  {'group':20}{'n':>6}{'tp':>5}{'fp':>5}{'tn':>5}{'fn':>5}"
        header += "".join(f"{m:>10}" for m in ("precision", "recall", "f1", "accuracy", "kappa", "auc"))
        out.append(header)
        for key, g in report.groups.items():
            row = f"  {key[:20]:20}{g.n:>6}{g.tp:>5}{g.fp:>5}{g.tn:>5}{g.fn:>5}"
            row += "".join(f"{_num(getattr(g, m)):>10}"
                           for m in ("precision", "recall", "f1", "accuracy", "kappa", "auc"))
            out.append(row)
    am = report.answer_mismatch
    if am is not None:
        out.append("")
        rate = f" ({100 * am.rate:.1f}%)" if am.rate is not None else ""
        out.append(f"Verifier-passed proofs with a mismatching answer: {am.mismatched} of {am.passed}{rate}"
                   + (f"; proofs {', '.join(map(str, am.proof_ids[:MAX_LISTED]))}" if am.proof_ids else ""))
    if report.notes:
        out.append("")
        out.append("Notes:")
        out.extend(f"  - {note}" for note in report.notes)
    for key, title in (("candidate_pass_reference_fail", "Candidate pass, reference fail"),
                       ("candidate_fail_reference_pass", "Candidate fail, reference pass")):
        ids = report.disagreements.get(key, [])
        out.append("")
        out.append(f"{title}: {len(ids)}")
        width = max((len(str(i)) for i in ids[:MAX_LISTED]), default=0)
        for proof_id in ids[:MAX_LISTED]:
            out.append(f"  {proof_id!s:>{width}}  {_excerpt(report.excerpts.get(proof_id, ''))}".rstrip())
        if len(ids) > MAX_LISTED:
            out.append(f"  ... and {len(ids) - MAX_LISTED} more (--json lists them all)")
    return "\n".join(out)


@click.command("crosscheck")
@db_option
@click.option("--reference", required=True, metavar="R",
              help="Reference: lean, verifier[:MODEL], label, answer or a grade name.")
@click.option("--candidate", required=True, metavar="C",
              help="Candidate: lean, verifier[:MODEL], label, answer or a grade name.")
@click.option("--reference-threshold", default="1", show_default=True, metavar="X",
              help="Reference values at or above X pass (fractions like 6/7 work).")
@click.option("--candidate-threshold", default="1", show_default=True, metavar="Y",
              help="Candidate values at or above Y pass (fractions like 6/7 work).")
@click.option("--population", type=click.Choice(POPULATIONS), default="all", show_default=True,
              help="Which proofs: formally selected, randomly drawn, or all.")
@click.option("--min-verdicts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Least parsed verdicts for a verifier value.")
@click.option("--by", metavar="source|level|KEY",
              help="Also per group: problem collection, level, or a metadata key.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Bootstrap resamples of problems (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--include-informal-labels", is_flag=True,
              help="Keep informal labels when comparing label with verifier.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False),
              help="Write reliability and score-distribution PNGs into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def crosscheck(db, reference, candidate, reference_threshold, candidate_threshold, population, min_verdicts,
               by, bootstrap, seed, include_informal_labels, plot_dir, as_json) -> None:
    """Measure how far a candidate grader agrees with a reference over the same proofs.

    Example: prover crosscheck --reference human --candidate auto --reference-threshold 6/7
    --candidate-threshold 0.5 --by source
    """
    from prover.analysis.crosscheck import crosscheck as run_crosscheck

    with open_store(db, create=False) as store:
        report = run_crosscheck(store, reference, candidate, reference_threshold=reference_threshold,
                                candidate_threshold=candidate_threshold, population=population,
                                min_verdicts=min_verdicts, by=by, bootstrap=bootstrap, seed=seed,
                                include_informal_labels=include_informal_labels, plot_dir=plot_dir)
    if as_json:
        echo_json(report.to_json_dict())
        return
    click.echo(render_report(report))
    for path in report.plots:
        click.echo(f"wrote {path}")
