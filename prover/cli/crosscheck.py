"""``prover crosscheck``: how far a candidate grader (an informal verifier, automatic grades)
agrees with a reference (Lean, human grades)."""

from __future__ import annotations

from prover.core.crosscheck_records import METRIC_NAMES, CrossCheckReport

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
    width = max((len(k) for k in report.excluded), default=0)
    for reason, count in sorted(report.excluded.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"  excluded  {reason:<{width}}  {count}")
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
    if report.notes:
        out.append("")
        out.append("Notes:")
        out.extend(f"  - {note}" for note in report.notes)
    for key, title in (("candidate_pass_reference_fail", "Candidate pass, reference fail"),
                       ("candidate_fail_reference_pass", "Candidate fail, reference pass")):
        ids = report.disagreements.get(key, [])
        out.append("")
        out.append(f"{title}: {len(ids)}")
        for proof_id in ids[:MAX_LISTED]:
            out.append(f"  {proof_id}  {_excerpt(report.excerpts.get(proof_id, ''))}".rstrip())
        if len(ids) > MAX_LISTED:
            out.append(f"  ... and {len(ids) - MAX_LISTED} more (--json lists them all)")
    return "\n".join(out)
