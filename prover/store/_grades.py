"""External grades of proofs (``grades``) and the queries a cross-check reads.

A grade is a number in [0, 1] that someone or something outside prover gave a proof (a human
grader's 0–7 divided by 7, an automatic grader's mean). Grades marked human are the only
source of human labels."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, cast, func, inspect,
                        or_, select)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from prover.core.errors import BadDataError, UsageError
from prover.core.grade_records import Grade, GradeImportSummary
from prover.core.hashing import sha256_text
from prover.core.records import ProblemRecord
from prover.store.schema import Base, Problem, Proof, Run, Verification, utcnow

#: How many characters of each proof a cross-check loads for its one-line excerpts.
EXCERPT_CHARS = 240


class GradeRow(Base):
    """One external grade of one proof; at most one per (proof, name)."""

    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("proof_id", "name", name="uq_grade_proof_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proof_id: Mapped[int] = mapped_column(ForeignKey("proofs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    # in [0, 1]: raw / max when the import gave a maximum
    value: Mapped[float] = mapped_column(Float)
    raw: Mapped[float] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    human: Mapped[bool] = mapped_column(Boolean, default=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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


class GradesMixin:
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
