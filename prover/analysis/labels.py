"""Labels of proofs, derived from the proof database (DESIGN.md, "Labels"), never from
in-memory state.

* **formal 1** — all of: the statement is faithful (gated or from a trusted collection), the
  verified file descends from this proof's sketch, every sketch step passed its alignment
  judgment, the closing proof uses the aligned steps (each node lemma occurs in the target's
  proof term, as the final check's `#prover_check` epilogue reports), and the statement was not
  closed by statement-level work (portfolio, direct attempts, negation) in this attempt or on the
  same statement and toolchain anywhere in the database.
* **formal 0** — Lean proves the negation of a faithful statement, or of an aligned step in its
  context. Refuting a *given* benchmark statement flags the statement as false instead.
* **informal** — DeepSeekMath-V2's consensus rule (``prover.informal.pool.informal_label``) on
  the first n parsed analyses and their meta-verifications; 0 (``answer-mismatch``) when the
  proof's final answer does not match the problem's reference answer.
* **human** — grades imported and marked human (the mean, when a proof has several).

A failed formalization is never a label. Labels are unique per (proof, source, policy version);
conflicts between sources are resolved at export (``resolve_conflicts``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from prover.core.label_records import (ConflictReport, FormalDecision, FormalEvidence, InformalPolicy,
                                       LabelBuildSummary, LabelRecord, SourceBuildSummary, formal_policy_version,
                                       human_policy_version, informal_policy_version, label_score, parse_sources)
from prover.formal.evidence import FORMAL_ONE_CONDITIONS, formal_label, formal_one_missing  # noqa: F401
from prover.store import AnalysisRow

if TYPE_CHECKING:
    from prover.store import ProofStore


DEFAULT_K = 1
DEFAULT_TAU = 1.0

# -- formal ------------------------------------------------------------------------------------
# The rule itself is the one evidence reader's (prover.formal.evidence): FORMAL_ONE_CONDITIONS,
# formal_one_missing and formal_label are re-exported from there.

def formal_evidence_json(ev: FormalEvidence, decision: FormalDecision) -> dict[str, Any]:
    return {"evidence": ev.model_dump(mode="json"), "reason": decision.reason, "missing": decision.missing}


# -- informal ----------------------------------------------------------------------------------

def _search_policy(settings: Mapping[str, Any]) -> dict[str, Any]:
    knobs = settings.get("knobs") or {}
    label = settings.get("label") or {}
    return {"n": label.get("n") or knobs.get("verifications"), "m": knobs.get("meta_verifications"),
            "k": label.get("k"), "tau": label.get("tau")}


def resolve_informal_policy(policy: InformalPolicy, search: Mapping[str, Any] | None
                            ) -> tuple[int, int, int, float] | None:
    """(n, m, k, tau) for one proof: the build's values, else its search's, else the defaults
    (k 1, tau 1). None when n or m is known from neither."""
    from_search = _search_policy(search or {})
    n = policy.n if policy.n is not None else from_search["n"]
    m = policy.m if policy.m is not None else from_search["m"]
    if n is None or m is None:
        return None
    k = policy.k if policy.k is not None else (from_search["k"] or DEFAULT_K)
    tau = policy.tau if policy.tau is not None else (from_search["tau"] if from_search["tau"] is not None else DEFAULT_TAU)
    return int(n), int(m), int(k), float(tau)


def informal_decision(analyses: Sequence[AnalysisRow], *, n: int, m: int, k: int, tau: float,
                      answer: str | None = None, answer_match: bool | None = None):
    """DeepSeekMath-V2's rule on stored analyses (the informal engine's own function), with the
    proof's stored final answer check: a mismatching answer gives 0 (``answer-mismatch``)."""
    from prover.core.informal_records import LabelPolicy
    from prover.informal.pool import PoolProof, PoolVerdict, informal_label

    proof = PoolProof(round=0, slot=0, text="", answer=answer, answer_match=answer_match)
    for a in analyses:
        if a.resampled:
            continue  # drawn until one agreed with a label: not an unbiased sample
        proof.verdicts.append(PoolVerdict(index=a.sample_index, score=a.score, status=a.parse_status,
                                          analysis="", id=a.id, metas=[s for _, s in a.metas]))
    # The informal engine orders by sample index; analyses of several verifier runs may share
    # an index, so give each its place in (index, id) order.
    for i, v in enumerate(sorted(proof.verdicts, key=lambda v: (v.index, v.id or 0))):
        v.index = i
    label = informal_label(proof, LabelPolicy(n=n, k=k, tau=tau), m_verifications=n, m_meta=m)
    used = [v.id for v in sorted(proof.verdicts, key=lambda v: v.index) if v.parsed][:n]
    return label, used


# -- building ----------------------------------------------------------------------------------

def _tally(summary: SourceBuildSummary, value: float | None, reason: str) -> None:
    if value is None:
        summary.no_label[reason] = summary.no_label.get(reason, 0) + 1
    else:
        key = f"{value:g}"
        summary.values[key] = summary.values.get(key, 0) + 1


def _human_labels(store: ProofStore, summary: SourceBuildSummary) -> list[LabelRecord]:
    out = []
    grades = store.human_grades_by_proof()
    version = human_policy_version()
    for pid, rows in sorted(grades.items()):
        summary.considered += 1
        value = sum(g["value"] for g in rows) / len(rows)
        _tally(summary, value, "")
        out.append(LabelRecord(proof_id=pid, source="human", value=value, policy_version=version,
                               evidence={"grades": rows}))
    if not grades:
        summary.note = "no grade is marked human (prover grades import --human NAME)"
    return out


def search_of(info, searches: Mapping[int, list]) -> tuple[int | None, dict[str, Any] | None]:
    """(search id, its settings) of a proof: the search that made it (same run), else its
    problem's newest search; (None, None) without one."""
    candidates = searches.get(info.problem_id, []) if info else []
    for sid, run_id, cfg in candidates:
        if run_id == info.run_id:
            return sid, cfg
    if candidates:
        return candidates[0][0], candidates[0][2]
    return None, None


def reread_lenient(store: ProofStore, analyses: Mapping[int, Sequence[AnalysisRow]]) -> int:
    """Apply strict parsing to rows stored before it: their ``missing_marker`` status covered a
    score read from the last box anywhere, which no longer counts. Such rows are parsed again
    from their stored analysis (a ``lenient`` one loses its score). Returns how many changed."""
    from prover.informal.parsers import parse_verdict

    suspects = [a for rows in analyses.values() for a in rows if a.parse_status == "missing_marker"]
    if not suspects:
        return 0
    texts = store.analysis_texts([a.id for a in suspects])
    changed = 0
    for a in suspects:
        again = parse_verdict(texts.get(a.id))
        if (again.score, again.status) != (a.score, a.parse_status):
            a.score, a.parse_status = again.score, again.status
            changed += 1
    return changed


def _informal_labels(store: ProofStore, policy: InformalPolicy, summary: SourceBuildSummary) -> list[LabelRecord]:
    out = []
    analyses = store.analyses_by_proof()
    reread_lenient(store, analyses)
    if not analyses:
        summary.note = "no stored verifier analysis"
        return out
    infos = store.proof_infos(list(analyses), with_text=False)
    searches = store.search_settings_by_problem()
    for pid in sorted(analyses):
        info = infos.get(pid)
        summary.considered += 1
        search_id, settings = search_of(info, searches)
        resolved = resolve_informal_policy(policy, settings)
        if resolved is None:
            _tally(summary, None, "n-unknown (not from a search: pass --n and --m)")
            continue
        n, m, k, tau = resolved
        label, used = informal_decision(analyses[pid], n=n, m=m, k=k, tau=tau,
                                        answer=info.answer if info else None,
                                        answer_match=info.answer_match if info else None)
        _tally(summary, label.value, label.reason)
        if label.value is None:
            continue
        out.append(LabelRecord(proof_id=pid, source="informal", value=label.value,
                               policy_version=informal_policy_version(n, m, k, tau),
                               evidence={"rule": label.reason, "n": n, "m": m, "k": k, "tau": tau,
                                         "analyses": label.analyses, "issue_reporting": label.issue_reporting,
                                         "valid": label.valid, "verification_ids": used, "search_id": search_id,
                                         **({"answer": info.answer, "answer_match": False}
                                            if label.reason == "answer-mismatch" and info else {})}))
    return out


FormalEvidenceSource = Callable[[Any], "Iterable[FormalEvidence] | None"]


def with_final_check(store: ProofStore, ev: FormalEvidence, final_check: str) -> FormalEvidence:
    """``ev`` with what a formal 1 needs of its verified check beyond the verdict: that the file
    ended with the epilogue (checks made before it never compared the statement in the kernel),
    and the stored row of ``final_check`` on it (``prover.lean.final_check``), looked up by key."""
    from prover.lean.epilogue import has_epilogue
    from prover.lean.final_check import final_check_key

    verdict = epilogue = None
    if ev.verified_check_id is not None and ev.verdict == "verified":
        key = store.lean_check_key(ev.verified_check_id)
        main = store.get_lean_check(key) if key is not None else None
        epilogue = None if main is None else has_epilogue(main.assembled or "")
        if final_check != "none" and key is not None:
            row = store.get_lean_check(final_check_key(key, final_check))
            verdict = row.verdict.value if row is not None else None
    return ev.model_copy(update={"final_check": final_check, "final_check_verdict": verdict,
                                 "epilogue_checked": epilogue})


def _formal_labels(store: ProofStore, summary: SourceBuildSummary, evidence_source: FormalEvidenceSource | None,
                   final_check: str = "lean4checker") -> list[LabelRecord]:
    from prover.analysis.formal_evidence import formal_evidence

    source = evidence_source or formal_evidence
    records = source(store)
    if records is None:
        summary.note = ("this database has no formal-stage evidence (run the formal stage: prover run --formal); "
                        "no formal label")
        return []
    if not records:
        summary.note = "no finished formal attempt on an NL proof in this database; no formal label"
    by_proof: dict[int, list[tuple[FormalEvidence, FormalDecision]]] = defaultdict(list)
    records = [with_final_check(store, ev, final_check) for ev in records]
    for ev in records:
        by_proof[ev.proof_id].append((ev, formal_label(ev)))
    out = []
    version = formal_policy_version(final_check)
    for pid in sorted(by_proof):
        decided = by_proof[pid]
        summary.considered += 1
        flagged = sum(1 for _, d in decided if d.statement_false)
        if flagged:
            summary.flags["statement-false"] = summary.flags.get("statement-false", 0) + 1
        values = {d.value for _, d in decided if d.value is not None}
        if len(values) > 1:
            # Two attempts on one proof (e.g. two statements) that Lean settles both ways.
            _tally(summary, None, "contradictory-attempts")
            continue
        if not values:
            _tally(summary, None, decided[-1][1].reason)
            continue
        ev, decision = next((e, d) for e, d in decided if d.value is not None)
        _tally(summary, decision.value, decision.reason)
        evidence = formal_evidence_json(ev, decision)
        evidence["attempts"] = [e.attempt_id for e, _ in decided]
        out.append(LabelRecord(proof_id=pid, source="formal", value=decision.value, policy_version=version,
                               evidence=evidence))
    return out


def build_labels(store: ProofStore, *, sources: str | Sequence[str] | None = None,
                 informal: InformalPolicy | None = None, command: Sequence[str] | None = None,
                 formal_evidence_source: FormalEvidenceSource | None = None, final_check: str = "lean4checker"
                 ) -> LabelBuildSummary:
    """Derive labels from what the database holds and store those not stored yet (one
    ``labels-build`` run). Building twice adds nothing. ``final_check``: the independent checker
    whose stored confirmation a formal 1 needs (``none``: none; the policy version says which)."""
    wanted = parse_sources(sources) if sources is None or isinstance(sources, str) else parse_sources(",".join(sources))
    informal = informal or InformalPolicy()
    summaries = {s: SourceBuildSummary() for s in wanted}
    records: list[LabelRecord] = []
    if "human" in wanted:
        records += _human_labels(store, summaries["human"])
    if "formal" in wanted:
        records += _formal_labels(store, summaries["formal"], formal_evidence_source, final_check)
    if "informal" in wanted:
        records += _informal_labels(store, informal, summaries["informal"])
    run_id = store.start_run("labels-build", command=list(command or []),
                             config={"sources": list(wanted), "informal": informal.model_dump(),
                                     "final_check": final_check})
    _, existing = store.add_labels(records, run_id=run_id)
    for rec in records:
        s = summaries[rec.source]
        old = existing.get((rec.proof_id, rec.source, rec.policy_version))
        if old is None:
            s.added += 1
        else:
            s.existing += 1
            if abs(old.value - rec.value) > 1e-12:
                s.changed += 1
    summary = LabelBuildSummary(run_id=run_id, sources=summaries)
    store.finish_run(run_id, summary=summary.model_dump())
    return summary


# -- choosing one label per proof --------------------------------------------------------------------

def current_labels(labels: Iterable[LabelRecord]) -> dict[int, dict[str, LabelRecord]]:
    """Proof id → source → its label; when a source has several policy versions for a proof,
    the newest row counts."""
    out: dict[int, dict[str, LabelRecord]] = defaultdict(dict)
    for rec in labels:
        old = out[rec.proof_id].get(rec.source)
        if old is None or (rec.id or 0) > (old.id or 0):
            out[rec.proof_id][rec.source] = rec
    return dict(out)


def resolve_conflicts(by_proof: Mapping[int, Mapping[str, LabelRecord]], precedence: Sequence[str], *,
                      drop_conflicts: bool = False) -> tuple[dict[int, LabelRecord], ConflictReport]:
    """One label per proof. Sources not in ``precedence`` are ignored. A proof whose sources
    disagree on the 0 / 0.5 / 1 scale is a conflict: resolved by precedence, or left out with
    ``drop_conflicts``; either way reported."""
    chosen: dict[int, LabelRecord] = {}
    report = ConflictReport(resolution="dropped" if drop_conflicts else "precedence " + ",".join(precedence))
    by_sources: Counter[str] = Counter()
    for pid in sorted(by_proof):
        labels = [by_proof[pid][s] for s in precedence if s in by_proof[pid]]
        if not labels:
            continue
        if len({label_score(r.value) for r in labels}) > 1:
            report.count += 1
            report.proof_ids.append(pid)
            by_sources[",".join(f"{r.source}={label_score(r.value):g}" for r in labels)] += 1
            if drop_conflicts:
                continue
        chosen[pid] = labels[0]
    report.by_sources = dict(sorted(by_sources.items()))
    return chosen, report
