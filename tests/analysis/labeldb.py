"""Builders of small proof databases for label, export and report tests: problems, proofs,
verifier analyses with meta-verifications, human grades and informal searches, written through
the real store (a SQLite file)."""

from __future__ import annotations

from prover.core.records import ProblemRecord, ProofRecord, VerificationRecord
from prover.store.schema import GradeRow, InformalSearch, MetaVerification, Verification


def verdict_text(score: float) -> str:
    issue = "No issues found." if score == 1 else "ISSUE: step 2 is unjustified."
    return (f"Here is my evaluation of the solution:\n{issue}\n\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{score:g}}}")


def add_problem(store, collection: str, external_id: str, statement: str, **extra) -> int:
    store.add_problems([ProblemRecord(collection=collection, external_id=external_id, informal_statement=statement,
                                      **extra)])
    [p] = [p for p in store.list_problems(collection) if p.external_id == external_id]
    return p.id


def add_proof(store, problem_id: int, text: str, *, run_id: int | None = None, **extra) -> int:
    return store.add_proofs([ProofRecord(problem_id=problem_id, text=text, run_id=run_id, **extra)])[0]


def add_analyses(store, proof_id: int, scores, *, metas: dict[int, list[float | None]] | None = None,
                 run_id: int | None = None, model: str = "verifier-x", start: int = 0) -> list[int]:
    """Verifications of one proof with these scores (None: unparsed), in sample order, and
    meta-verifications of some of them (by position)."""
    store.add_verifications([
        VerificationRecord(proof_id=proof_id, analysis=verdict_text(s) if s is not None else "garbled",
                           score=s, parse_status="ok" if s is not None else "no_score", verifier_model=model,
                           run_id=run_id, sample_index=start + i)
        for i, s in enumerate(scores)])
    with store.session() as s:
        from sqlalchemy import select

        ids = list(s.scalars(select(Verification.id).where(Verification.proof_id == proof_id)
                             .where(Verification.sample_index >= start)
                             .order_by(Verification.sample_index, Verification.id)))[-len(scores):] if scores else []
        for pos, meta_scores in (metas or {}).items():
            for j, ms in enumerate(meta_scores):
                s.add(MetaVerification(verification_id=ids[pos], meta_verifier_model="meta-x", sample_index=j,
                                       text="Checked.", score=ms, parse_status="ok" if ms is not None else "no_score"))
    return ids


def add_grade(store, proof_id: int, value: float, *, name: str = "human", human: bool = True,
              raw: float | None = None, max_: float | None = None) -> None:
    with store.session() as s:
        s.add(GradeRow(proof_id=proof_id, name=name, value=value, raw=value if raw is None else raw, max=max_,
                       human=human, source="test"))


def add_search(store, problem_id: int, *, m_verifications: int, m_meta: int, k: int = 1, tau: float = 1.0,
               run_id: int | None = None, **fields) -> int:
    config = {"search": {"knobs": {"proofs": 2, "verifications": m_verifications, "rounds": 0, "refine_top": 1,
                                   "analyses_per_refinement": 1, "meta_verifications": m_meta,
                                   "proofs_per_refinement": 1},
                         "label": {"n": None, "k": k, "tau": tau}}}
    with store.session() as s:
        row = InformalSearch(search_key=f"search-{problem_id}-{run_id}", problem_id=problem_id, run_id=run_id,
                             config=config, seed=0, **fields)
        s.add(row)
        s.flush()
        return row.id
