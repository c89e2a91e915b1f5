"""The records of the proof database that the foundation defines: what an importer produces and
what bulk writers take. One pydantic model per concept; other areas add theirs in their own
modules (``lean_records``, ``llm_records``...)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prover.core.hashing import sha256_text, statement_hash


class FormalStatementRecord(BaseModel):
    """A Lean statement of a problem as a data set gives it."""

    model_config = ConfigDict(frozen=True)

    toolchain: str
    """Source toolchain, e.g. ``leanprover/lean4:v4.9.0`` (``unknown`` when the data does not say)."""
    preamble: str = ""
    """Imports, opens, options and definitions, verbatim."""
    answer_slots: str = ""
    """``abbrev NAME : T := sorry`` declarations, verbatim (reference comments removed)."""
    statement: str
    """The target declaration from its keyword to the end, verbatim."""
    reference_answer_lean: str | None = None
    """PutnamBench's reference-answer comment; never reaches a prompt."""
    source: str | None = None
    """Where it came from (repo:path or file path)."""

    @property
    def content_hash(self) -> str:
        return sha256_text(self.preamble + self.answer_slots + self.statement)

    @property
    def lean_text(self) -> str:
        """The problem file: preamble, answer slots, statement."""
        return self.preamble + self.answer_slots + self.statement


class ProblemRecord(BaseModel):
    """A problem ready to be stored. Its key is (collection, external id, statement hash)."""

    model_config = ConfigDict(frozen=True)

    collection: str
    external_id: str
    informal_statement: str | None = None
    reference_answer: str | None = None
    """Kept out of prompts unless a run's flag allows it."""
    reference_solution: str | None = None
    grading_guidelines: str | None = None
    split: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Fields of the source record that no column holds."""
    source: str | None = None
    """``file:line`` of the record it was imported from."""
    formal_statements: list[FormalStatementRecord] = Field(default_factory=list)

    @property
    def statement_hash(self) -> str:
        if self.informal_statement:
            return statement_hash(self.informal_statement)
        if self.formal_statements:
            return statement_hash(self.formal_statements[0].statement)
        raise ValueError("a problem needs an informal or a formal statement")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.collection, self.external_id, self.statement_hash)


class ProofRecord(BaseModel):
    """A natural-language proof to store."""

    problem_id: int
    text: str
    run_id: int | None = None
    model_call_id: int | None = None
    source: str = "generated"
    round: int = 0
    sample_index: int = 0
    parent_ids: list[int] = Field(default_factory=list)
    self_evaluation: str | None = None
    self_score: float | None = None
    parse_status: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class VerificationRecord(BaseModel):
    """One verifier analysis to store."""

    proof_id: int
    analysis: str
    score: float | None = None
    parse_status: str = "ok"
    verifier_model: str | None = None
    run_id: int | None = None
    model_call_id: int | None = None
    sample_index: int = 0
    issues: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ImportSummary(BaseModel):
    """What an import added and what it found already stored."""

    files: int = 0
    records: int = 0
    problems_added: int = 0
    problems_existing: int = 0
    formal_added: int = 0
    formal_existing: int = 0
    by_collection: dict[str, int] = Field(default_factory=dict)
    """Problems added per collection."""
