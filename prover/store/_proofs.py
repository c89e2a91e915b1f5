"""Proofs and verifications, written in bulk (a search stores thousands per minute)."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import insert, select

from prover.core.records import ProofRecord, VerificationRecord
from prover.store.schema import Proof, Verification, utcnow

def _rows(records, now) -> list[dict]:
    # A shallow copy of each validated record's fields: model_dump() deep-copies every string,
    # which costs more than the insert itself at 100k rows.
    rows = []
    for rec in records:
        row = dict(rec.__dict__)  # keys are column names (`metadata` included)
        row["created_at"] = now
        rows.append(row)
    return rows


class ProofsMixin:
    def add_proofs(self, records: Sequence[ProofRecord]) -> list[int]:
        """Insert proofs in one transaction; returns their ids in order."""
        if not records:
            return []
        rows = _rows(records, utcnow())
        with self.session() as s:
            # insertmanyvalues batches the RETURNING; `sort_by_parameter_order` keeps ids aligned.
            table = Proof.__table__
            result = s.connection().execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            return [r[0] for r in result]

    def add_verifications(self, records: Sequence[VerificationRecord]) -> None:
        """Insert verifications in one transaction."""
        if not records:
            return
        rows = _rows(records, utcnow())
        with self.session() as s:
            s.connection().execute(insert(Verification.__table__), rows)

    def proofs_of(self, problem_id: int) -> list[Proof]:
        with self.session() as s:
            return list(s.scalars(select(Proof).where(Proof.problem_id == problem_id).order_by(Proof.id)))

    def verifications_of(self, proof_id: int) -> list[Verification]:
        with self.session() as s:
            return list(s.scalars(select(Verification).where(Verification.proof_id == proof_id)
                                  .order_by(Verification.id)))
