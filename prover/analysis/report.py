"""``prover report``: a self-contained HTML page and a Markdown summary of one run or of the
whole database, derived from the database alone.

Sections: per collection and split (problems, solved informally — a proof passed all M
verifications —, answer match, formally verified, statement proved, incompatible statements,
budget used); search progress per round; verifier score distributions; the verifier against each
available reference (Lean, human grades, answer match: confusion matrix, metrics, reliability
diagram, from ``crosscheck``); the formal funnel; labels; cost (calls, tokens, time).

The HTML page embeds its PNGs (base64) and needs nothing else; the Markdown summary links the
same PNGs, written under ``images/``. A run's report covers the problems it searched or made
proofs for (with all their proofs) and its own model calls."""

from __future__ import annotations

import base64
import html
import json
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from statistics import fmean
from typing import Any

from prover.core.crosscheck_records import finite_or_none
from prover.store import ProofStore, ReportRows

SCORE_NAMES = {0.0: "0", 0.5: "0.5", 1.0: "1"}
NONE = "–"


@dataclass
class ReportData:
    """Everything a report shows."""

    title: str
    scope: str
    database: str
    generated_at: str
    banners: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    progress: list[dict[str, Any]] = field(default_factory=list)
    analysis_scores: dict[str, int] = field(default_factory=dict)
    proof_means: list[float] = field(default_factory=list)
    crosschecks: list[dict[str, Any]] = field(default_factory=list)
    funnel: list[tuple[str, int | None]] = field(default_factory=list)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    """Answer checks: ``methods`` (proofs by the step that decided their answer), ``judge_calls_saved``
    (decided by math-verify), ``verifier_passed`` / ``passed_mismatched`` (verifier-passed proofs with a
    decided answer check, and those whose answer is wrong)."""
    notes: list[str] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    """Image name (``progress``, ``crosscheck_lean_reliability``...) → PNG bytes."""
    captions: dict[str, str] = field(default_factory=dict)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    """Stored evaluations (``prover eval``), one row per group, with the published figures."""


@dataclass
class ReportResult:
    html: Path
    markdown: Path
    images: list[Path]
    data: ReportData


# -- computing -----------------------------------------------------------------------------------

def _passed(verdicts: list[tuple[int, float | None, str]], m: int) -> bool:
    scores = [s for _, s, _ in verdicts if s is not None]
    return len(scores) >= m and all(s == 1.0 for s in scores[:m])


def _mean(verdicts) -> float | None:
    scores = [s for _, s, _ in verdicts if s is not None]
    return fmean(scores) if scores else None


def _progress(rows: ReportRows) -> list[dict[str, Any]]:
    m_of: dict[int, int] = {}
    for s in rows.searches:
        if s["verifications"]:
            m_of[s["problem_id"]] = max(m_of.get(s["problem_id"], 0), int(s["verifications"]))
    if not m_of:
        return []
    proofs = [p for p in rows.proofs if p["problem_id"] in m_of]
    last = max((p["round"] for p in proofs), default=0)
    out = []
    for r in range(last + 1):
        upto = [p for p in proofs if p["round"] <= r]
        solved = {p["problem_id"] for p in upto if _passed(rows.verdicts.get(p["id"], []), m_of[p["problem_id"]])}
        best: dict[int, float] = {}
        for p in upto:
            mean = _mean(rows.verdicts.get(p["id"], []))
            if mean is not None:
                best[p["problem_id"]] = max(best.get(p["problem_id"], 0.0), mean)
        out.append({"round": r, "proofs": sum(1 for p in proofs if p["round"] == r), "searched": len(m_of),
                    "solved": len(solved), "mean_best_score": fmean(best.values()) if best else None})
    return out


def _collections(rows: ReportRows, formal_labels: dict[int, float], facts: dict[str, Any]) -> tuple[list[dict], dict]:
    searches: dict[int, list[dict]] = defaultdict(list)
    for s in rows.searches:
        searches[s["problem_id"]].append(s)
    proof_problem = {p["id"]: p["problem_id"] for p in rows.proofs}
    verified_problems = {proof_problem[pid] for pid, v in formal_labels.items() if v == 1.0 and pid in proof_problem}
    incompatible, proved = facts.get("incompatible"), facts.get("statement_proved")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for p in rows.problems:
        groups[(p["collection"], p["split"] or NONE)].append(p)

    def row(key, members) -> dict[str, Any]:
        ids = [p["id"] for p in members]
        with_ref = [i for i, p in zip(ids, members) if p["has_reference"]]
        ss = [s for i in ids for s in searches.get(i, [])]
        return {
            "collection": key[0], "split": key[1], "problems": len(ids),
            "searched": sum(1 for i in ids if searches.get(i)),
            "solved": sum(1 for i in ids if any(s["passed"] for s in searches.get(i, []))),
            "answer_match": sum(1 for i in with_ref if any(s["answer_match"] for s in searches.get(i, []))),
            "with_reference": len(with_ref),
            "formal_statements": sum(rows.formal_statements.get(i, 0) for i in ids),
            "formally_verified": sum(1 for i in ids if i in verified_problems),
            "statement_proved": None if proved is None else sum(1 for i in ids if proved.get(i)),
            "incompatible": None if incompatible is None else sum(incompatible.get(i, 0) for i in ids),
            "calls": sum(s["calls"] for s in ss), "tokens": sum(s["tokens"] for s in ss),
        }

    table = [row(key, groups[key]) for key in sorted(groups)]
    totals = row(("all", ""), rows.problems)
    return table, totals


def _crosschecks(store: ProofStore, data: ReportData, proof_ids: list[int], has_formal: bool, bootstrap: int,
                 seed: int) -> None:
    from prover.analysis.crosscheck import crosscheck

    references = []
    if has_formal:
        references.append(("lean", "Lean (formal labels)"))
    for name, human in store.grade_names().items():
        if human:
            references.append((name, f"human grade {name}"))
    references.append(("answer", "answer match"))
    with tempfile.TemporaryDirectory() as tmp:
        for ref, what in references:
            stem = f"crosscheck_{re.sub(r'[^A-Za-z0-9_]+', '_', ref)}"
            r = crosscheck(store, ref, "verifier", proof_ids=proof_ids, bootstrap=bootstrap, seed=seed,
                           plot_dir=Path(tmp) / stem)
            if r.n == 0:
                data.notes.append(f"verifier against {what}: no proof has both values "
                                  f"({', '.join(f'{v} {k}' for k, v in r.excluded.items()) or 'no proof'})")
                continue
            images = []
            for path in r.plots:
                name = f"{stem}_{Path(path).stem.rsplit('_', 1)[-1]}"
                data.images[name] = Path(path).read_bytes()
                data.captions[name] = f"Verifier against {what}: " + (
                    "reliability diagram" if name.endswith("reliability") else "score distribution by reference class")
                images.append(name)
            if ref == "answer" and r.answer_mismatch is not None:
                am = r.answer_mismatch
                data.answers.update(verifier_passed=am.passed, passed_mismatched=am.mismatched,
                                    passed_mismatched_ids=am.proof_ids)
                if am.passed:
                    data.notes.append(f"verifier-passed proofs with a mismatching answer: {am.mismatched} of "
                                      f"{am.passed} ({100 * am.mismatched / am.passed:.1f}%); their informal label "
                                      "is 0 (answer-mismatch)")
            data.crosschecks.append({
                "reference": ref, "what": what, "n": r.n, "problems": r.problems, "tp": r.tp, "fp": r.fp,
                "tn": r.tn, "fn": r.fn, "reference_threshold": r.reference_threshold,
                "candidate_threshold": r.candidate_threshold,
                "metrics": {k: getattr(r, k) for k in ("precision", "recall", "accuracy", "kappa", "auc", "ece")},
                "ci": {k: r.ci.get(k) for k in ("precision", "recall", "accuracy", "auc")},
                "excluded": dict(r.excluded), "notes": list(r.notes), "images": images})


def _cost(rows: ReportRows, lean: dict[str, Any] | None) -> dict[str, Any]:
    by_role: dict[str, dict[str, float]] = {}
    backends: Counter[str] = Counter()
    for c in rows.calls:
        r = by_role.setdefault(c["role"], {"calls": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                           "latency_s": 0.0})
        r["calls"] += c["n"]
        r["errors"] += c["n"] if c["status"] == "error" else 0
        r["prompt_tokens"] += c["prompt_tokens"]
        r["completion_tokens"] += c["completion_tokens"]
        r["latency_s"] += c["latency_s"]
        backends[f"{c['backend']}:{c['model']}"] += c["n"]
    total = {k: sum(r[k] for r in by_role.values()) for k in ("calls", "errors", "prompt_tokens", "completion_tokens",
                                                              "latency_s")}
    run_seconds = sum(r["seconds"] or 0.0 for r in rows.runs)
    return {"by_role": by_role, "total": total, "models": dict(backends), "run_seconds": run_seconds, "lean": lean}


def _lean_cost(store: ProofStore, problem_ids) -> dict[str, Any] | None:
    totals = store.lean_check_totals(problem_ids)
    if totals is None:
        return None
    return {"checks": totals[0], "seconds": totals[1]}


def report_data(store: ProofStore, *, run_id: int | None = None, bootstrap: int = 200, seed: int = 0) -> ReportData:
    """Compute a report of the whole database, or of one run."""
    from prover.analysis import report_plots as plots
    from prover.analysis.formal_evidence import formal_facts, formal_funnel
    from prover.analysis.labels import current_labels

    rows = store.report_rows(run_id)
    problem_ids = [p["id"] for p in rows.problems]
    proof_ids = [p["id"] for p in rows.proofs]
    scope_ids = problem_ids if run_id is not None else None
    run = rows.runs[0] if run_id is not None else None
    data = ReportData(
        title=f"prover report — run {run_id} ({run['kind']}, {run['status']})" if run else "prover report — whole database",
        scope=(f"the {len(problem_ids)} problem(s) run {run_id} searched or made proofs for, all their proofs, and "
               f"the model calls of run {run_id}") if run else "every problem, proof and model call in the database",
        database=store.url, generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), runs=rows.runs)
    if any(c["backend"] == "scripted" for c in rows.calls):
        data.banners.append("Scripted backend: model outputs were fixed by a script. This report shows the "
                            "machinery at work; none of its figures is a result.")
    revealing = [str(r["id"]) for r in rows.runs if r["reveals_reference"]]
    if revealing:
        data.banners.append(f"Reference answers or solutions reached prompts in run(s) {', '.join(revealing)}.")

    labels = store.labels(proof_ids=proof_ids) if proof_ids else []
    for rec in labels:
        data.labels.setdefault(rec.source, {})
        key = f"{rec.value:g}"
        data.labels[rec.source][key] = data.labels[rec.source].get(key, 0) + 1
    formal = {pid: by["formal"].value for pid, by in current_labels(labels).items() if "formal" in by}
    facts = formal_facts(store, scope_ids)
    data.collections, data.totals = _collections(rows, formal, facts)
    if facts.get("statement_proved") is None:
        data.notes.append("statement proved: unknown (no formal-stage tables in this database)")
    if facts.get("incompatible") is None:
        data.notes.append("incompatible statements: unknown (no statement-compatibility table in this database)")

    data.progress = _progress(rows)
    counts = Counter()
    for verdicts in rows.verdicts.values():
        for _, s, _ in verdicts:
            counts[SCORE_NAMES.get(s, "unparsed") if s is not None else "unparsed"] += 1
    data.analysis_scores = {k: counts.get(k, 0) for k in ("0", "0.5", "1", "unparsed")}
    data.proof_means = [m for m in (_mean(v) for v in rows.verdicts.values()) if m is not None]

    methods = Counter(p["answer_method"] for p in rows.proofs if p.get("answer_method"))
    if methods:
        data.answers = {"methods": dict(sorted(methods.items())), "judge_calls_saved": methods.get("math-verify", 0)}
        data.notes.append(f"answer checks: {', '.join(f'{v} {k}' for k, v in sorted(methods.items()))}; "
                          f"{methods.get('math-verify', 0)} judge call(s) saved by math-verify")
    _crosschecks(store, data, proof_ids, bool(formal), bootstrap, seed)
    data.funnel, funnel_notes = formal_funnel(store, scope_ids)
    data.notes.extend(funnel_notes)
    data.cost = _cost(rows, _lean_cost(store, scope_ids))

    data.images["progress"] = plots.progress_png(data.progress)
    data.captions["progress"] = "Problems solved (cumulative) and proofs made, per round"
    data.images["scores"] = plots.scores_png(data.analysis_scores, data.proof_means)
    data.captions["scores"] = "Verifier score distributions"
    data.images["funnel"] = plots.funnel_png(data.funnel)
    data.captions["funnel"] = "Formal funnel"
    data.images["cost"] = plots.cost_png(data.cost["by_role"])
    data.captions["cost"] = "Model calls and tokens per role"
    from prover.analysis.report_benchmarks import benchmark_rows, benchmarks_png

    data.benchmarks = benchmark_rows(store, run_id)
    if data.benchmarks:
        data.images["benchmarks"] = benchmarks_png(data.benchmarks)
        data.captions["benchmarks"] = "Benchmarks: ours against published figures"
    return data


# -- rendering -----------------------------------------------------------------------------------

def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else NONE


def _tables(data: ReportData) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Every table of the report as (headers, rows of text), shared by both renderings."""
    t: dict[str, tuple[list[str], list[list[str]]]] = {}
    coll_headers = ["collection", "split", "problems", "searched", "solved informally", "answer match",
                    "formal statements", "formally verified", "statement proved", "incompatible", "calls", "tokens"]

    def coll_row(c):
        return [c["collection"], c["split"], _num(c["problems"]), _num(c["searched"]), _num(c["solved"]),
                f"{c['answer_match']} / {c['with_reference']}" if c["with_reference"] else NONE,
                _num(c["formal_statements"]), _num(c["formally_verified"]), _num(c["statement_proved"]),
                _num(c["incompatible"]), _num(c["calls"]), _num(c["tokens"])]

    t["collections"] = (coll_headers, [coll_row(c) for c in data.collections] + ([coll_row(data.totals)]
                                                                                if data.totals else []))
    t["progress"] = (["round", "proofs made", "problems searched", "solved (cumulative)", "mean best score"],
                     [[str(r["round"]), _num(r["proofs"]), _num(r["searched"]), _num(r["solved"]),
                       _num(r["mean_best_score"])] for r in data.progress])
    t["scores"] = (["analysis score", "analyses"], [[k, _num(v)] for k, v in data.analysis_scores.items()])
    t["crosschecks"] = (["reference", "proofs", "problems", "tp", "fp", "tn", "fn", "precision", "recall",
                         "accuracy", "kappa", "AUC", "ECE"],
                        [[c["what"], _num(c["n"]), _num(c["problems"]), *(_num(c[k]) for k in ("tp", "fp", "tn", "fn")),
                          *(_num(c["metrics"][k]) for k in ("precision", "recall", "accuracy", "kappa", "auc", "ece"))]
                         for c in data.crosschecks])
    t["funnel"] = (["stage", "count"], [[s, _num(v) if v is not None else "unknown"] for s, v in data.funnel])
    t["labels"] = (["source", "value", "labels"], [[src, v, _num(n)] for src, vals in sorted(data.labels.items())
                                                   for v, n in sorted(vals.items())])
    cost = data.cost
    rows = [[role, _num(r["calls"]), _num(r["errors"]), _num(r["prompt_tokens"]), _num(r["completion_tokens"]),
             f"{r['latency_s']:.1f}"] for role, r in cost.get("by_role", {}).items()]
    if cost.get("by_role"):
        tot = cost["total"]
        rows.append(["all", _num(tot["calls"]), _num(tot["errors"]), _num(tot["prompt_tokens"]),
                     _num(tot["completion_tokens"]), f"{tot['latency_s']:.1f}"])
    t["cost"] = (["role", "calls", "errors", "prompt tokens", "completion tokens", "model seconds"], rows)
    from prover.analysis.report_benchmarks import benchmark_table

    t["benchmarks"] = benchmark_table(data.benchmarks)
    t["runs"] = (["run", "kind", "status", "started", "seconds", "reveals reference"],
                 [[str(r["id"]), r["kind"], r["status"], r["started_at"] or NONE, _num(r["seconds"]),
                   "yes" if r["reveals_reference"] else "no"] for r in data.runs])
    return t


SECTIONS = [
    ("collections", "Per collection and split",
     "Solved informally: a search's proof passed all M verifications. Answer match: the selected proof's final "
     "answer matches the reference (problems with one). Formally verified: a proof of the problem has a formal-1 "
     "label. Calls and tokens: the budget the searches used."),
    ("progress", "Search progress per round", None),
    ("scores", "Score distributions", None),
    ("crosschecks", "Verifier against references",
     "Pass is a value at or above 1 on both sides; the verifier's value is the mean of a proof's parsed analyses "
     "(analyses drawn by labels resample are left out)."),
    ("funnel", "Formal funnel", None),
    ("labels", "Labels", "Stored labels of the proofs in scope, by source and value."),
    ("cost", "Cost", None),
    ("benchmarks", "Benchmarks",
     "Stored evaluations (`prover eval`): ours as % of the maximum score with a 95% bootstrap interval over "
     "problems, beside published figures with their sources. A scripted evaluation is never a result."),
    ("runs", "Runs", None),
]
_SECTION_IMAGES = {"progress": ["progress"], "scores": ["scores"], "funnel": ["funnel"], "cost": ["cost"],
                   "benchmarks": ["benchmarks"]}


def _section_images(data: ReportData, key: str) -> list[str]:
    if key == "crosschecks":
        return [name for c in data.crosschecks for name in c["images"]]
    return [n for n in _SECTION_IMAGES.get(key, []) if n in data.images]


def _cost_line(data: ReportData) -> str:
    c = data.cost
    parts = [f"{_num(c['total']['calls'])} model calls", f"{_num(c['total']['prompt_tokens'] + c['total']['completion_tokens'])} tokens",
             f"{c['total']['latency_s']:.1f} s of model time", f"{c['run_seconds']:.1f} s of run wall time"]
    if c.get("lean"):
        parts.append(f"{_num(c['lean']['checks'])} Lean checks ({c['lean']['seconds']:.1f} s)")
    return "; ".join(parts)


def render_markdown(data: ReportData, image_dir: str = "images") -> str:
    tables = _tables(data)
    out = [f"# {data.title}", "", f"Database: `{data.database}`  ", f"Scope: {data.scope}  ",
           f"Generated: {data.generated_at}", ""]
    out += [f"> **{b}**" for b in data.banners]
    if data.banners:
        out.append("")
    for key, title, text in SECTIONS:
        headers, rows = tables[key]
        out += [f"## {title}", ""]
        if text:
            out += [text, ""]
        if key == "cost":
            out += [_cost_line(data) + ".", ""]
        if rows:
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "|".join("---" for _ in headers) + "|")
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        else:
            out.append("(nothing to show)")
        out.append("")
        for name in _section_images(data, key):
            out += [f"![{data.captions.get(name, name)}]({image_dir}/{name}.png)", ""]
    if data.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in data.notes] + [""]
    return "\n".join(out)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f2f4f7; } td:first-child, th:first-child { text-align: left; }
tr.total td { font-weight: 600; background: #fafafa; }
.banner { background: #fff4e5; border: 1px solid #f0b46a; padding: 0.6rem 1rem; margin: 0.5rem 0; }
.meta { color: #555; font-size: 0.9rem; } .note { color: #555; font-size: 0.9rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0.5rem 0 1rem; flex: 1 1 420px; max-width: 760px; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85rem; } .broken { color: #b2182b; font-weight: 600; }
"""

# Marks images that did not load (and counts them on <body>, which the report test reads).
_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images), ok = 0, broken = 0;
  imgs.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { ok++; return; }
    broken++;
    img.insertAdjacentHTML("afterend", "<p class='broken'>image failed to load</p>");
  });
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-images-loaded", String(ok));
  document.body.setAttribute("data-images-broken", String(broken));
});
"""


def _html_table(headers: list[str], rows: list[list[str]], total_last: bool = False) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(data: ReportData) -> str:
    e = html.escape
    tables = _tables(data)
    parts = [f"<h1>{e(data.title)}</h1>",
             f"<p class='meta'>Database: <code>{e(data.database)}</code><br>Scope: {e(data.scope)}<br>"
             f"Generated: {e(data.generated_at)}</p>"]
    parts += [f"<div class='banner'>{e(b)}</div>" for b in data.banners]
    for key, title, text in SECTIONS:
        headers, rows = tables[key]
        parts.append(f"<section id='{key}'><h2>{e(title)}</h2>")
        if text:
            parts.append(f"<p class='note'>{e(text)}</p>")
        if key == "cost":
            parts.append(f"<p>{e(_cost_line(data))}.</p>")
        parts.append(_html_table(headers, rows, total_last=key in ("collections", "cost")) if rows
                     else "<p class='note'>(nothing to show)</p>")
        figures = []
        for name in _section_images(data, key):
            b64 = base64.b64encode(data.images[name]).decode("ascii")
            caption = e(data.captions.get(name, name))
            figures.append(f"<figure><img id='img-{e(name)}' alt='{caption}' src='data:image/png;base64,{b64}'>"
                           f"<figcaption>{caption}</figcaption></figure>")
        if figures:
            parts.append("<div class='figures'>" + "".join(figures) + "</div>")
        parts.append("</section>")
    if data.notes:
        parts.append("<section id='notes'><h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in data.notes)
                     + "</ul></section>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{e(data.title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts)
            + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")


def write_report(store: ProofStore, out_dir: str | Path, *, run_id: int | None = None, bootstrap: int = 200,
                 seed: int = 0) -> ReportResult:
    """Compute the report and write ``report.html``, ``report.md``, ``report.json`` and
    ``images/*.png`` into ``out_dir``."""
    data = report_data(store, run_id=run_id, bootstrap=bootstrap, seed=seed)
    out = Path(out_dir)
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for name, png in data.images.items():
        path = images_dir / f"{name}.png"
        path.write_bytes(png)
        images.append(path)
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(render_html(data), encoding="utf-8")
    md_path.write_text(render_markdown(data), encoding="utf-8")
    payload = finite_or_none({k: v for k, v in data.__dict__.items() if k not in ("images", "captions")})
    (out / "report.json").write_text(json.dumps(payload, indent=2, default=str, allow_nan=False), encoding="utf-8")
    return ReportResult(html=html_path, markdown=md_path, images=images, data=data)
