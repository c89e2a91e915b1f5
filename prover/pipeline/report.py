"""``prover show``: what the database holds about one problem's informal search — its searches,
the pool of proofs with their scores and lineage, and the analyses of each proof."""

from __future__ import annotations

from statistics import fmean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prover.store import ProofStore



def problem_report(store: ProofStore, token: str, *, proof_id: int | None = None) -> dict[str, Any]:
    """A JSON-ready description of a problem's searches, proofs, analyses and lineage.
    ``proof_id`` keeps only that proof (with its analyses and meta-verifications in full)."""
    p = store.resolve_problem(token)
    searches = store.searches_of(p.id)
    proofs = store.proofs_of(p.id)
    if proof_id is not None:
        proofs = [x for x in proofs if x.id == proof_id]
        if not proofs:
            from prover.core.errors import NotFoundError

            raise NotFoundError(f"problem {p.id} has no proof {proof_id}")
    verifications = store.verifications_of_proofs([x.id for x in proofs])
    metas = store.metas_of([v.id for v in verifications])
    metas_by_v: dict[int, list[Any]] = {}
    for m in metas:
        metas_by_v.setdefault(m.verification_id, []).append(m)
    by_proof: dict[int, list[Any]] = {}
    for v in verifications:
        by_proof.setdefault(v.proof_id, []).append(v)
    selected = {s.selected_proof_id for s in searches if s.selected_proof_id}
    out_proofs = []
    for x in proofs:
        vs = sorted(by_proof.get(x.id, []), key=lambda v: (v.sample_index, v.id))
        scores = [v.score for v in vs if v.score is not None]
        out_proofs.append({
            "id": x.id, "round": x.round, "index": x.sample_index, "source": x.source,
            "parent_ids": list(x.parent_ids or []), "analysis_ids": list((x.extra or {}).get("analysis_ids", [])),
            "self_score": x.self_score, "parse_status": x.parse_status, "mean_score": fmean(scores) if scores else None,
            "scores": [v.score for v in vs], "answer": x.answer, "answer_match": x.answer_match,
            "selected": x.id in selected, "text": x.text, "self_evaluation": x.self_evaluation,
            "verifications": [{
                "id": v.id, "index": v.sample_index, "score": v.score, "parse_status": v.parse_status,
                "model": v.verifier_model, "analysis": v.analysis,
                "meta": [{"id": m.id, "index": m.sample_index, "score": m.score, "parse_status": m.parse_status,
                          "text": m.text} for m in sorted(metas_by_v.get(v.id, []), key=lambda m: m.sample_index)],
            } for v in vs],
        })
    return {
        "problem": {"id": p.id, "collection": p.collection, "external_id": p.external_id,
                    "statement": p.informal_statement, "has_reference_answer": p.reference_answer is not None},
        "searches": [{
            "id": s.id, "status": s.status, "stop_reason": s.stop_reason, "seed": s.seed, "rounds": s.rounds,
            "proofs": s.proofs, "calls": s.calls, "tokens": s.tokens, "selected_proof_id": s.selected_proof_id,
            "mean_score": s.mean_score, "self_score": s.self_score, "verifications": s.verifications,
            "passed": s.passed, "answer": s.answer, "answer_match": s.answer_match, "label": s.label,
            "label_detail": s.label_detail, "knobs": (s.config or {}).get("search", {}).get("knobs"),
            "run_id": s.run_id, "updated_at": s.updated_at,
        } for s in searches],
        "proofs": out_proofs,
    }

