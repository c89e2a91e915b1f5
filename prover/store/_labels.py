"""Labels of proofs (``labels``) and the reads that label builds, exports and reports need.

A label row is unique per (proof, source, policy version): a build that finds its row stored
leaves it as it is, so building twice adds nothing. ``crosscheck`` reads ``proof_id``,
``source`` and ``value`` of this table directly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import (JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, delete, insert, inspect,
                        select, tuple_)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from prover.core.errors import StoreError
from prover.core.label_records import LabelRecord
from prover.store.schema import Base, Problem, Proof, Run, Verification, utcnow

#: Run kind of ``prover labels resample``: its analyses were drawn until one agreed with a
#: label, so they are left out of informal labels and of verifier cross-checks (a biased sample).
RESAMPLE_RUN_KIND = "labels-resample"
#: Run kind of ``prover labels build --top-up``: the verifications a search's own schedule would
#: have asked next (same requests), so unlike resampled ones they count for labels.
TOPUP_RUN_KIND = "labels-topup"

_CHUNK = 500


class LabelRow(Base):
    """One label of one proof from one source under one policy version."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("proof_id", "source", "policy_version", name="uq_label_proof_source_policy"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proof_id: Mapped[int] = mapped_column(ForeignKey("proofs.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20), index=True)  # human | formal | informal
    value: Mapped[float] = mapped_column(Float)
    policy_version: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _record(row) -> LabelRecord:
    # Rows come from our own table: no validation needed (model_construct is ~20x faster).
    return LabelRecord.model_construct(id=row.id, proof_id=row.proof_id, source=row.source, value=row.value,
                                       policy_version=row.policy_version, evidence=row.evidence or {},
                                       run_id=row.run_id)


@dataclass(slots=True)
class AnalysisRow:
    """One stored verifier analysis, with the scores of its meta-verifications."""

    id: int
    proof_id: int
    sample_index: int
    score: float | None
    parse_status: str
    verifier_model: str | None
    metas: list[tuple[int, float | None]] = field(default_factory=list)
    """(meta sample index, score) in sample order."""
    resampled: bool = False
    """Drawn by ``labels resample``."""


@dataclass(slots=True)
class ProofInfo:
    """A proof with what labels and exports need to know of its problem."""

    proof_id: int
    problem_id: int
    collection: str
    external_id: str
    statement_hash: str
    statement: str | None
    source_split: str | None
    text: str
    run_id: int | None
    proof_source: str
    round: int
    sample_index: int = 0
    """Its place among the proofs of its round (request seeds derive from it)."""
    answer: str | None = None
    """The proof's extracted final answer (problems with a reference answer)."""
    answer_match: bool | None = None
    """Whether it matches the reference (None: no reference, or undecided)."""


class LabelsMixin:
    # -- labels --------------------------------------------------------------------------------

    def add_labels(self, records: Sequence[LabelRecord], *, run_id: int | None = None
                   ) -> tuple[int, dict[tuple[int, str, str], LabelRecord]]:
        """Store labels that are not stored yet, in one transaction. Returns how many rows were
        added and the labels found stored already, by (proof, source, policy version); those are
        left as they are."""
        keys = [(r.proof_id, r.source, r.policy_version) for r in records]
        existing = self.labels_by_key(keys)
        now = utcnow()
        rows, seen = [], set()
        for rec, key in zip(records, keys):
            if key in existing or key in seen:
                continue
            seen.add(key)
            rows.append({"proof_id": rec.proof_id, "source": rec.source, "value": rec.value,
                         "policy_version": rec.policy_version, "evidence": rec.evidence, "run_id": run_id,
                         "created_at": now})
        if rows:
            try:
                with self.engine.begin() as conn:  # type: ignore[attr-defined]
                    conn.execute(insert(LabelRow.__table__), rows)
            except IntegrityError as exc:
                raise StoreError("another labels build stored some of these labels meanwhile; run it again "
                                 f"(nothing was written): {exc.orig}") from None
        return len(rows), existing

    def labels_by_key(self, keys: Iterable[tuple[int, str, str]]) -> dict[tuple[int, str, str], LabelRecord]:
        """Stored labels by (proof, source, policy version)."""
        keys = list(dict.fromkeys(keys))
        t = LabelRow.__table__
        out: dict[tuple[int, str, str], LabelRecord] = {}
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            for i in range(0, len(keys), _CHUNK):
                q = select(t).where(tuple_(t.c.proof_id, t.c.source, t.c.policy_version).in_(keys[i:i + _CHUNK]))
                for row in conn.execute(q):
                    rec = _record(row)
                    out[(rec.proof_id, rec.source, rec.policy_version)] = rec
        return out

    def labels(self, *, sources: Sequence[str] | None = None, proof_ids: Sequence[int] | None = None
               ) -> list[LabelRecord]:
        """Stored labels in id order, optionally of some sources or proofs."""
        t = LabelRow.__table__
        q = select(t).order_by(t.c.id)
        if sources is not None:
            q = q.where(t.c.source.in_(list(sources)))
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            if proof_ids is None:
                return [_record(r) for r in conn.execute(q)]
            out: list[LabelRecord] = []
            ids = list(proof_ids)
            for i in range(0, len(ids), _CHUNK):
                out.extend(_record(r) for r in conn.execute(q.where(t.c.proof_id.in_(ids[i:i + _CHUNK]))))
            return sorted(out, key=lambda r: r.id or 0)

    def formal_labels_resting_on(self, check_ids: Iterable[int]) -> list[LabelRecord]:
        """Formal labels whose evidence names one of these Lean checks: the verified final check,
        a step's refutation or the statement's refutation."""
        ids = set(check_ids)
        if not ids:
            return []
        out = []
        for rec in self.labels(sources=["formal"]):
            ev = (rec.evidence or {}).get("evidence") or {}
            used = {ev.get("verified_check_id"), ev.get("statement_refutation_check_id")}
            used |= {s.get("refutation_check_id") for s in ev.get("steps") or () if isinstance(s, dict)}
            if used & ids:
                out.append(rec)
        return out

    def delete_labels(self, label_ids: Sequence[int]) -> int:
        """Withdraw labels (a re-screen that no longer accepts what they rest on); returns how many."""
        t = LabelRow.__table__
        ids = list(label_ids)
        n = 0
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            for i in range(0, len(ids), _CHUNK):
                n += conn.execute(delete(t).where(t.c.id.in_(ids[i:i + _CHUNK]))).rowcount or 0
        return n

    # -- what label rules read ---------------------------------------------------------------------

    def resample_run_ids(self) -> set[int]:
        with self.session() as s:  # type: ignore[attr-defined]
            return set(s.scalars(select(Run.id).where(Run.kind == RESAMPLE_RUN_KIND)))

    def analyses_by_proof(self, proof_ids: Sequence[int] | None = None, *, with_metas: bool = True) -> dict[int, list[AnalysisRow]]:
        """Proof id → its verifier analyses in (sample index, id) order, each with its
        meta-scores. ``proof_ids`` None: every proof's."""
        resampled = self.resample_run_ids()
        v = Verification.__table__
        cols = [v.c.id, v.c.proof_id, v.c.sample_index, v.c.score, v.c.parse_status, v.c.verifier_model, v.c.run_id]
        out: dict[int, list[AnalysisRow]] = defaultdict(list)
        by_id: dict[int, AnalysisRow] = {}
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            def rows(q):
                if proof_ids is None:
                    yield from conn.execute(q)
                    return
                ids = list(proof_ids)
                for i in range(0, len(ids), _CHUNK):
                    yield from conn.execute(q.where(v.c.proof_id.in_(ids[i:i + _CHUNK])))

            for r in rows(select(*cols)):
                a = AnalysisRow(id=r.id, proof_id=r.proof_id, sample_index=r.sample_index, score=r.score,
                                parse_status=r.parse_status, verifier_model=r.verifier_model,
                                resampled=r.run_id in resampled)
                out[a.proof_id].append(a)
                by_id[a.id] = a
            if with_metas and by_id and inspect(conn).has_table("meta_verifications"):
                from prover.store._informal import MetaVerification

                m = MetaVerification.__table__
                q = select(m.c.verification_id, m.c.sample_index, m.c.score, m.c.id).join(
                    v, v.c.id == m.c.verification_id)
                for r in rows(q.order_by(m.c.id)):
                    if r.verification_id in by_id:
                        by_id[r.verification_id].metas.append((r.sample_index, r.score))
        for analyses in out.values():
            analyses.sort(key=lambda a: (a.sample_index, a.id))
            for a in analyses:
                a.metas.sort(key=lambda t: t[0])
        return dict(out)

    def analysis_texts(self, verification_ids: Sequence[int]) -> dict[int, str]:
        """Verification id → its analysis text."""
        v = Verification.__table__
        ids = list(verification_ids)
        out: dict[int, str] = {}
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            for i in range(0, len(ids), _CHUNK):
                out.update(conn.execute(select(v.c.id, v.c.analysis).where(v.c.id.in_(ids[i:i + _CHUNK]))).all())
        return out

    def search_settings_by_problem(self) -> dict[int, list[tuple[int, int | None, dict[str, Any]]]]:
        """Problem id → [(search id, its run id, its search config)], newest first. Empty when the
        database has no informal searches."""
        out: dict[int, list[tuple[int, int | None, dict[str, Any]]]] = defaultdict(list)
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            if not inspect(conn).has_table("informal_searches"):
                return {}
            from prover.store._informal import InformalSearch

            t = InformalSearch.__table__
            for sid, pid, run_id, config in conn.execute(
                    select(t.c.id, t.c.problem_id, t.c.run_id, t.c.config).order_by(t.c.updated_at.desc(), t.c.id.desc())):
                out[pid].append((sid, run_id, (config or {}).get("search", {})))
        return dict(out)

    def human_grades_by_proof(self) -> dict[int, list[dict[str, Any]]]:
        """Proof id → its grades marked human (name, value, raw, max, source)."""
        from prover.store._grades import GradeRow

        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        with self.session() as s:  # type: ignore[attr-defined]
            for g in s.scalars(select(GradeRow).where(GradeRow.human.is_(True)).order_by(GradeRow.id)):
                out[g.proof_id].append({"grade_id": g.id, "name": g.name, "value": g.value, "raw": g.raw,
                                        "max": g.max, "source": g.source})
        return dict(out)

    def proof_infos(self, proof_ids: Sequence[int] | None = None, *, with_text: bool = True) -> dict[int, ProofInfo]:
        """Proof id → the proof and its problem's identity and statement."""
        p, pr = Proof.__table__, Problem.__table__
        cols = [p.c.id, p.c.problem_id, pr.c.collection, pr.c.external_id, pr.c.statement_hash,
                pr.c.informal_statement, pr.c.split, p.c.run_id, p.c.source, p.c.round, p.c.answer,
                p.c.answer_match, p.c.sample_index]
        if with_text:
            cols.append(p.c.text)
        q = select(*cols).join(pr, pr.c.id == p.c.problem_id).order_by(p.c.id)
        out: dict[int, ProofInfo] = {}
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            batches = [None] if proof_ids is None else [list(proof_ids)[i:i + _CHUNK]
                                                       for i in range(0, len(proof_ids), _CHUNK)]
            for chunk in batches:
                query = q if chunk is None else q.where(p.c.id.in_(chunk))
                for r in conn.execute(query):
                    out[r.id] = ProofInfo(proof_id=r.id, problem_id=r.problem_id, collection=r.collection,
                                          external_id=r.external_id, statement_hash=r.statement_hash,
                                          statement=r.informal_statement, source_split=r.split,
                                          text=r.text if with_text else "", run_id=r.run_id,
                                          proof_source=r.source, round=r.round, answer=r.answer,
                                          answer_match=r.answer_match, sample_index=r.sample_index)
        return out


@dataclass
class FormalAttemptRows:
    """The formal stage's finished attempts with what labels and reports read of them."""

    attempts: list[dict[str, Any]]
    """Columns of ``formal_attempts`` plus ``check_verdict`` (the final check's verdict as
    ``lean_checks`` holds it now: a re-screen may have changed it), ``sketch_elaborates`` and
    ``direct_tries``."""
    steps: dict[int, list[dict[str, Any]]]
    """Sketch id → its steps that went through alignment, in position order, with their votes."""
    refutations: dict[int, list[dict[str, Any]]]
    """Attempt id → its refutations."""
    incompatible_statements: set[int]
    """Formal statements marked incompatible on some toolchain and compatible on none."""


class FormalReadsMixin:
    def formal_attempt_rows(self, problem_ids: Sequence[int] | None = None) -> FormalAttemptRows | None:
        """Finished formal attempts (of these problems, or all), None when the database has no
        formal-stage tables."""
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            tables = set(inspect(conn).get_table_names())
            if not {"formal_attempts", "formal_steps", "formal_refutations", "formal_votes"} <= tables:
                return None
            from prover.store._formal import (REDO, FormalAttempt, FormalRefutation, FormalSketch, FormalStep,
                                              FormalTry, FormalVote)
            from prover.store._lean import LeanCheck

            fa, lc = FormalAttempt.__table__, LeanCheck.__table__

            def chunks(query, column):
                if problem_ids is None:
                    yield from conn.execute(query)
                    return
                ids = list(problem_ids)
                for i in range(0, len(ids), _CHUNK):
                    yield from conn.execute(query.where(column.in_(ids[i:i + _CHUNK])))

            q = (select(fa, lc.c.verdict.label("check_verdict"))
                 .select_from(fa.outerjoin(lc, lc.c.id == fa.c.final_check_id))
                 .where(fa.c.status.not_in(list(REDO))).order_by(fa.c.id))
            attempts = [dict(r._mapping) for r in chunks(q, fa.c.problem_id)]
            ids = [a["id"] for a in attempts]
            sketch_ids = [a["sketch_id"] for a in attempts if a["sketch_id"] is not None]

            def by_ids(query, column, values):
                for i in range(0, len(values), _CHUNK):
                    yield from conn.execute(query.where(column.in_(values[i:i + _CHUNK])))

            elaborated = {sid for sid, ok in by_ids(select(FormalSketch.id, FormalSketch.elaborates), FormalSketch.id,
                                                    sketch_ids) if ok}
            direct = {aid for (aid,) in by_ids(select(FormalTry.attempt_id).where(FormalTry.stage == "direct").distinct(),
                                                FormalTry.attempt_id, ids)}
            for a in attempts:
                a["sketch_elaborates"] = a["sketch_id"] in elaborated
                a["direct_tries"] = a["id"] in direct
            steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
            step_by_id: dict[int, dict[str, Any]] = {}
            sq = select(FormalStep.id, FormalStep.sketch_id, FormalStep.position, FormalStep.name, FormalStep.kind,
                        FormalStep.status, FormalStep.aligned, FormalStep.hole,
                        FormalStep.node_key).where(FormalStep.aligned.is_not(None))
            for r in by_ids(sq, FormalStep.sketch_id, sketch_ids):
                step = dict(r._mapping, votes=[])
                steps[r.sketch_id].append(step)
                step_by_id[r.id] = step
            vq = (select(FormalVote.step_id, FormalVote.vote).where(FormalVote.kind == "alignment")
                  .order_by(FormalVote.sample_index, FormalVote.id))
            for step_id, vote in by_ids(vq, FormalVote.step_id, list(step_by_id)):
                step_by_id[step_id]["votes"].append(vote)
            for s in steps.values():
                s.sort(key=lambda st: (st["position"], st["id"]))
            refutations: dict[int, list[dict[str, Any]]] = defaultdict(list)
            fr = FormalRefutation.__table__
            for r in by_ids(select(fr).order_by(fr.c.id), fr.c.attempt_id, ids):
                refutations[r.attempt_id].append(dict(r._mapping))
            incompatible: set[int] = set()
            if "statement_compat" in tables:
                from prover.store._statement_compat import StatementCompat

                status: dict[int, set[str]] = defaultdict(set)
                for fs_id, st in conn.execute(select(StatementCompat.formal_statement_id, StatementCompat.status)):
                    status[fs_id].add(st)
                incompatible = {k for k, v in status.items() if v == {"incompatible"}}
        return FormalAttemptRows(attempts=attempts, steps=dict(steps), refutations=dict(refutations),
                                 incompatible_statements=incompatible)
