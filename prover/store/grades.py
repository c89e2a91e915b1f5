"""External grades of proofs (``grades``), labels (``labels``), and the reads that label builds,
cross-checks and exports need.

A grade is a number in [0, 1] that someone or something outside prover gave a proof (a human
grader's 0–7 divided by 7, an automatic grader's mean). Grades marked human are the only
source of human labels. A label row is unique per (proof, source, policy version): a build that
finds its row stored leaves it as it is, so building twice adds nothing. ``crosscheck`` reads
``proof_id``, ``source`` and ``value`` of ``labels`` directly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import Integer, cast, delete, func, insert, inspect, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError

from prover.core.errors import BadDataError, StoreError, UsageError
from prover.core.eval_records import MAX_POINTS
from prover.core.grade_records import Grade, GradeImportSummary
from prover.core.hashing import sha256_text
from prover.core.label_records import LabelRecord
from prover.core.records import ProblemRecord
from prover.store.base import StoreBase
from prover.store.queries import chunked, rows_in
from prover.store.schema import (GradeRow, InformalSearch, LabelRow, MetaVerification, Problem, Proof, Run,
                                 Verification, utcnow)

#: Run kind of ``prover labels resample``: its analyses were drawn until one agreed with a
#: label, so they are left out of informal labels and of verifier cross-checks (a biased sample).
RESAMPLE_RUN_KIND = "labels-resample"
#: Run kind of ``prover labels build --top-up``: the verifications a search's own schedule would
#: have asked next (same requests), so unlike resampled ones they count for labels.
TOPUP_RUN_KIND = "labels-topup"

#: How many characters of each proof a cross-check loads for its one-line excerpts.
EXCERPT_CHARS = 240


@dataclass
class GradedProofItem:
    """One parsed record of a graded-proof file, ready to store."""

    where: str
    """``file:line`` (or ``file (record N)``) for error messages and provenance."""
    problem: ProblemRecord | None
    """The problem as the record states it; None when the record has no statement (the problem
    must then be stored already, found by collection and id)."""
    collection: str
    external_id: str
    proof_text: str
    grades: dict[str, tuple[float, float]]
    """name -> (raw value, value in [0, 1])."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The record's unmapped fields (kept on the proof)."""

    def error(self, message: str) -> BadDataError:
        return BadDataError(message, source=self.where)


@dataclass(frozen=True)
class ProofFacts:
    """What a cross-check needs to know about one proof, besides its values."""

    proof_id: int
    problem_id: int
    collection: str
    external_id: str
    problem_metadata: dict[str, Any]
    proof_metadata: dict[str, Any]
    source: str
    answer_match: bool | None
    excerpt: str


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


class GradesMixin(StoreBase):
    # -- writing ------------------------------------------------------------------------------

    def add_graded_proofs(self, items: Sequence[GradedProofItem], *, specs: Sequence[Any],
                          on_mismatch: str = "error", files: Sequence[str] = (),
                          command: list[str] | None = None) -> GradeImportSummary:
        """Store graded proofs and their grades in ONE transaction (nothing is written when a
        record is rejected).

        Problems are found by (collection, external id); a record whose statement differs from
        the stored problem's is an error unless ``on_mismatch="keep"``, which attaches the proof
        to the stored problem and keeps the record's statement in the proof's metadata. A proof
        already imported for the same problem with the same text gets only the grades it lacks,
        so re-importing a file adds nothing; a grade that exists with another value is an error.
        """
        if on_mismatch not in ("error", "keep"):
            raise UsageError(f"--on-mismatch must be error or keep, got {on_mismatch!r}")
        summary = GradeImportSummary(files=list(files))
        human = {s.name: s.human for s in specs}
        maxima = {s.name: s.max for s in specs}
        summary.grades = {s.name: 0 for s in specs}
        summary.missing = {s.name: 0 for s in specs}
        with self.session() as s:
            run = Run(kind="grades-import", command=command or [], status="completed",
                      config={"files": list(files), "grades": [sp.model_dump() for sp in specs],
                              "on_mismatch": on_mismatch},
                      finished_at=utcnow())
            s.add(run)
            s.flush()
            by_key: dict[tuple[str, str], list[tuple[int, str]]] = {}
            loaded: set[str] = set()
            proofs_by_problem: dict[int, dict[str, int]] = {}
            for item in items:
                summary.records += 1
                if item.collection not in loaded:
                    loaded.add(item.collection)
                    rows = s.execute(select(Problem.id, Problem.external_id, Problem.statement_hash)
                                     .where(Problem.collection == item.collection).order_by(Problem.id))
                    for pid, ext, h in rows:
                        by_key.setdefault((item.collection, ext), []).append((pid, h))
                pid, kept_statement = self._graded_problem(s, item, by_key, on_mismatch, summary)
                metadata = dict(item.metadata)
                if kept_statement is not None:
                    metadata["imported_statement"] = kept_statement
                existing = proofs_by_problem.get(pid)
                if existing is None:
                    existing = proofs_by_problem[pid] = {
                        sha256_text(t): i for i, t in s.execute(
                            select(Proof.id, Proof.text).where(Proof.problem_id == pid, Proof.source == "imported"))}
                text_hash = sha256_text(item.proof_text)
                proof_id = existing.get(text_hash)
                if proof_id is None:
                    proof = Proof(problem_id=pid, run_id=run.id, source="imported", text=item.proof_text,
                                  extra=metadata)
                    s.add(proof)
                    s.flush()
                    proof_id = existing[text_hash] = proof.id
                    summary.proofs_created += 1
                stored = {g.name: g for g in s.scalars(select(GradeRow).where(GradeRow.proof_id == proof_id))}
                for name in summary.missing:
                    if name not in item.grades:
                        summary.missing[name] += 1
                for name, (raw, value) in item.grades.items():
                    old = stored.get(name)
                    if old is not None:
                        if abs(old.value - value) > 1e-12:
                            raise item.error(f"proof #{proof_id} already has grade {name} = {old.raw:g} "
                                             f"(from {old.source}); this record gives {raw:g}")
                        continue
                    s.add(GradeRow(proof_id=proof_id, name=name, value=value, raw=raw, max=maxima.get(name),
                                   human=human.get(name, False), run_id=run.id, source=item.where))
                    summary.grades[name] += 1
            run.summary = summary.model_dump()
        return summary

    @staticmethod
    def _graded_problem(s, item: GradedProofItem, by_key, on_mismatch: str,
                        summary: GradeImportSummary) -> tuple[int, str | None]:
        """The stored problem id for a record (creating it when new), and the record's statement
        when it differed and was kept aside."""
        key = (item.collection, item.external_id)
        stored = by_key.get(key, [])
        name = f"{item.collection}/{item.external_id}"
        if item.problem is None:
            if not stored:
                raise item.error(f"problem {name} is not in the database and the record has no "
                                 "statement (map one with --field statement=PATH)")
            if len(stored) > 1:
                raise item.error(f"problem {name} is ambiguous ({len(stored)} stored problems share the id); "
                                 "map --field statement=PATH to tell them apart")
            summary.problems_matched += 1
            return stored[0][0], None
        h = item.problem.statement_hash
        same = [pid for pid, sh in stored if sh == h]
        if same:
            summary.problems_matched += 1
            return same[0], None
        if stored:
            if on_mismatch != "keep":
                raise item.error(f"the statement differs from the one stored for problem {name} "
                                 f"(#{stored[0][0]}); pass --on-mismatch keep to attach the proof to the "
                                 "stored problem anyway")
            if len(stored) > 1:
                raise item.error(f"problem {name} is ambiguous ({len(stored)} stored problems share the id "
                                 "and none has this statement)")
            summary.statement_mismatches_kept += 1
            summary.problems_matched += 1
            return stored[0][0], item.problem.informal_statement
        rec = item.problem
        row = Problem(collection=rec.collection, external_id=rec.external_id, statement_hash=h,
                      informal_statement=rec.informal_statement, reference_answer=rec.reference_answer,
                      reference_solution=rec.reference_solution, grading_guidelines=rec.grading_guidelines,
                      split=rec.split, tags=list(rec.tags), extra=dict(rec.metadata), source=rec.source)
        s.add(row)
        s.flush()
        by_key[key] = stored + [(row.id, h)]
        summary.problems_created += 1
        return row.id, None

    # -- reading ------------------------------------------------------------------------------

    def grade_names(self) -> dict[str, bool]:
        """Every stored grade name and whether any of its grades is marked human."""
        with self.session() as s:
            # max() of a boolean does not exist in PostgreSQL: compare as integers
            rows = s.execute(select(GradeRow.name, func.max(cast(GradeRow.human, Integer)))
                             .group_by(GradeRow.name).order_by(GradeRow.name))
            return {name: bool(h) for name, h in rows}

    def grades_of(self, proof_id: int) -> list[Grade]:
        with self.session() as s:
            rows = s.scalars(select(GradeRow).where(GradeRow.proof_id == proof_id).order_by(GradeRow.name))
            return [Grade(proof_id=g.proof_id, name=g.name, value=g.value, raw=g.raw, max=g.max,
                          human=g.human, source=g.source) for g in rows]

    def grade_values(self, name: str) -> dict[int, float]:
        """proof id -> value of grade ``name``."""
        with self.session() as s:
            return dict(s.execute(select(GradeRow.proof_id, GradeRow.value).where(GradeRow.name == name)).all())

    def human_grade_values(self) -> dict[int, float]:
        """proof id -> mean of its human-marked grades."""
        with self.session() as s:
            rows = s.execute(select(GradeRow.proof_id, func.avg(GradeRow.value)).where(GradeRow.human.is_(True))
                             .group_by(GradeRow.proof_id))
            return {pid: float(v) for pid, v in rows}

    def proof_facts(self) -> list[ProofFacts]:
        """Every proof with its problem's collection and metadata and a short excerpt."""
        with self.session() as s:
            rows = s.execute(
                select(Proof.id, Proof.problem_id, Problem.collection, Problem.external_id, Problem.extra,
                       Proof.extra, Proof.source, Proof.answer_match, func.substr(Proof.text, 1, EXCERPT_CHARS))
                .join(Problem, Problem.id == Proof.problem_id).order_by(Proof.id))
            return [ProofFacts(proof_id=r[0], problem_id=r[1], collection=r[2], external_id=r[3],
                               problem_metadata=r[4] or {}, proof_metadata=r[5] or {}, source=r[6],
                               answer_match=r[7], excerpt=r[8] or "") for r in rows]

    def parsed_verdicts(self, model: str | None = None) -> dict[int, list[float]]:
        """proof id -> the scores of its parsed verifications (of one verifier model, if given)."""
        q = select(Verification.proof_id, Verification.score).where(
            Verification.parse_status == "ok", Verification.score.is_not(None))
        # Analyses `labels resample` drew until one agreed with a label are a biased sample.
        resampled = select(Run.id).where(Run.kind == "labels-resample")
        q = q.where(or_(Verification.run_id.is_(None), Verification.run_id.not_in(resampled)))
        if model is not None:
            q = q.where(Verification.verifier_model == model)
        out: dict[int, list[float]] = defaultdict(list)
        with self.session() as s:
            for pid, score in s.execute(q):
                out[pid].append(float(score))
        return dict(out)

    def verifier_models(self) -> list[str]:
        with self.session() as s:
            return [m for m in s.scalars(select(Verification.verifier_model).distinct()
                                         .order_by(Verification.verifier_model)) if m]

    def stored_labels(self) -> dict[int, list[tuple[str, float]]] | None:
        """proof id -> [(label source, value)] from a ``labels`` table, or None when the database
        has no such table (labels are built by another part of prover; this reads only the
        columns ``proof_id``, ``source`` and ``value``)."""
        with self.session() as s:
            conn = s.connection()
            if not inspect(conn).has_table("labels"):
                return None
            columns = {c["name"] for c in inspect(conn).get_columns("labels")}
            if not {"proof_id", "source", "value"} <= columns:
                return None
            out: dict[int, list[tuple[str, float]]] = defaultdict(list)
            for pid, source, value in conn.execute(sql_text(
                    "SELECT proof_id, source, value FROM labels WHERE value IS NOT NULL")):
                out[int(pid)].append((str(source), float(value)))
            return dict(out)

    def set_grader_grade(self, proof_id: int, name: str, points: int, *, run_id: int | None,
                         source: str | None) -> None:
        """Store a grader's 0–7 for a proof as the (automatic, not human) grade ``name``, so that
        ``prover crosscheck`` can compare it with human grades."""
        with self.session() as s:
            row = s.scalars(select(GradeRow).where(GradeRow.proof_id == proof_id, GradeRow.name == name)).first()
            if row is None:
                s.add(GradeRow(proof_id=proof_id, name=name, value=points / MAX_POINTS, raw=float(points),
                               max=float(MAX_POINTS), human=False, run_id=run_id, source=source))
            else:
                row.value, row.raw, row.run_id, row.source = points / MAX_POINTS, float(points), run_id, source

    # -- labels -----------------------------------------------------------------------------

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
                with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            for row in rows_in(conn, select(t), tuple_(t.c.proof_id, t.c.source, t.c.policy_version), keys):
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
        with self.engine.connect() as conn:
            if proof_ids is None:
                return [_record(r) for r in conn.execute(q)]
            out = [_record(r) for r in rows_in(conn, q, t.c.proof_id, list(proof_ids))]
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
        with self.engine.begin() as conn:
            for chunk in chunked(ids):
                n += conn.execute(delete(t).where(t.c.id.in_(chunk))).rowcount or 0
        return n

    # -- what label rules read ---------------------------------------------------------------

    def resample_run_ids(self) -> set[int]:
        with self.session() as s:
            return set(s.scalars(select(Run.id).where(Run.kind == RESAMPLE_RUN_KIND)))

    def analyses_by_proof(self, proof_ids: Sequence[int] | None = None, *, with_metas: bool = True) -> dict[int, list[AnalysisRow]]:
        """Proof id → its verifier analyses in (sample index, id) order, each with its
        meta-scores. ``proof_ids`` None: every proof's."""
        resampled = self.resample_run_ids()
        v = Verification.__table__
        cols = [v.c.id, v.c.proof_id, v.c.sample_index, v.c.score, v.c.parse_status, v.c.verifier_model, v.c.run_id]
        out: dict[int, list[AnalysisRow]] = defaultdict(list)
        by_id: dict[int, AnalysisRow] = {}
        with self.engine.connect() as conn:
            def rows(q):
                return rows_in(conn, q, v.c.proof_id, None if proof_ids is None else list(proof_ids))

            for r in rows(select(*cols)):
                a = AnalysisRow(id=r.id, proof_id=r.proof_id, sample_index=r.sample_index, score=r.score,
                                parse_status=r.parse_status, verifier_model=r.verifier_model,
                                resampled=r.run_id in resampled)
                out[a.proof_id].append(a)
                by_id[a.id] = a
            if with_metas and by_id and inspect(conn).has_table("meta_verifications"):
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
        with self.engine.connect() as conn:
            out.update((r.id, r.analysis) for r in rows_in(conn, select(v.c.id, v.c.analysis), v.c.id, ids))
        return out

    def search_settings_by_problem(self) -> dict[int, list[tuple[int, int | None, dict[str, Any]]]]:
        """Problem id → [(search id, its run id, its search config)], newest first. Empty when the
        database has no informal searches."""
        out: dict[int, list[tuple[int, int | None, dict[str, Any]]]] = defaultdict(list)
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("informal_searches"):
                return {}
            t = InformalSearch.__table__
            for sid, pid, run_id, config in conn.execute(
                    select(t.c.id, t.c.problem_id, t.c.run_id, t.c.config).order_by(t.c.updated_at.desc(), t.c.id.desc())):
                out[pid].append((sid, run_id, (config or {}).get("search", {})))
        return dict(out)

    def human_grades_by_proof(self) -> dict[int, list[dict[str, Any]]]:
        """Proof id → its grades marked human (name, value, raw, max, source)."""
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        with self.session() as s:
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
        with self.engine.connect() as conn:
            for r in rows_in(conn, q, p.c.id, None if proof_ids is None else list(proof_ids)):
                out[r.id] = ProofInfo(proof_id=r.id, problem_id=r.problem_id, collection=r.collection,
                                      external_id=r.external_id, statement_hash=r.statement_hash,
                                      statement=r.informal_statement, source_split=r.split,
                                      text=r.text if with_text else "", run_id=r.run_id,
                                      proof_source=r.source, round=r.round, answer=r.answer,
                                      answer_match=r.answer_match, sample_index=r.sample_index)
        return out
