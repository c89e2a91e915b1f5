"""The proof database's tables (SQLAlchemy 2 typed ORM).

`problems`, `formal_statements`, `proofs` and `verifications` are a public contract: other tools
may query them directly, so columns are only ever added, never renamed. Each later feature adds its
own tables in its own module (``prover/store/_<area>.py``) and its own alembic revision."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Problem(Base):
    """One problem. Identity: (collection, external id, sha256 of the normalised informal
    statement, or of the formal statement when there is none)."""

    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("collection", "external_id", "statement_hash", name="uq_problem_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection: Mapped[str] = mapped_column(String(200), index=True)
    external_id: Mapped[str] = mapped_column(String(300), index=True)
    statement_hash: Mapped[str] = mapped_column(String(64))
    informal_statement: Mapped[str | None] = mapped_column(Text)
    # Never reaches a prompt unless a run's flag says so (DESIGN.md, "What reaches a prompt").
    reference_answer: Mapped[str | None] = mapped_column(Text)
    reference_solution: Mapped[str | None] = mapped_column(Text)
    grading_guidelines: Mapped[str | None] = mapped_column(Text)
    split: Mapped[str | None] = mapped_column(String(50))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalStatement(Base):
    """A Lean statement of a problem, for one source toolchain. A problem may have several."""

    __tablename__ = "formal_statements"
    __table_args__ = (UniqueConstraint("problem_id", "toolchain", "content_hash", name="uq_formal_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    toolchain: Mapped[str] = mapped_column(String(100))
    # imports, opens, options and definitions, exactly as the data set gives them
    preamble: Mapped[str] = mapped_column(Text, default="")
    # `abbrev NAME : T := sorry` declarations (PutnamBench), empty when none
    answer_slots: Mapped[str] = mapped_column(Text, default="")
    # the target declaration, from its keyword to the end (`:= by`, `:=`, `:= sorry`)
    statement: Mapped[str] = mapped_column(Text)
    # PutnamBench's reference-answer comment after the slots; never reaches a prompt
    reference_answer_lean: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    """One invocation of a command that produces data (a search, an import, a label build)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    run_key: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    command: Mapped[list[Any]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int | None] = mapped_column(Integer)
    # True when reference answers/solutions were allowed into prompts (shown in reports)
    reveals_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    prover_version: Mapped[str | None] = mapped_column(String(50))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who runs it: a `running` run of this host whose process is gone died without finishing
    # (killed, crashed) and is marked `interrupted` by the next command that opens the database.
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class ModelCall(Base):
    """One model call, keyed by the hash of everything that changes its answer. A call whose
    response is stored is never sent again."""

    __tablename__ = "model_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_key: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(50))
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(300))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # pending | ok | truncated | error
    transient: Mapped[bool] = mapped_column(Boolean, default=False)
    response_text: Mapped[str | None] = mapped_column(Text)
    reasoning_text: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(50))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Proof(Base):
    """One natural-language proof (generated, refined or imported) of one problem."""

    __tablename__ = "proofs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    model_call_id: Mapped[int | None] = mapped_column(ForeignKey("model_calls.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(50), default="generated")  # generated | refined | imported
    round: Mapped[int] = mapped_column(Integer, default=0)
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    # lineage: the proofs and analyses a refinement was given
    parent_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)
    self_evaluation: Mapped[str | None] = mapped_column(Text)
    self_score: Mapped[float | None] = mapped_column(Float)
    parse_status: Mapped[str | None] = mapped_column(String(30))
    answer: Mapped[str | None] = mapped_column(Text)
    answer_match: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Verification(Base):
    """One verifier analysis of one proof: a score in {0, 0.5, 1} (or none when unparsed)."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_proof", "proof_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proof_id: Mapped[int] = mapped_column(ForeignKey("proofs.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    model_call_id: Mapped[int | None] = mapped_column(ForeignKey("model_calls.id", ondelete="SET NULL"))
    verifier_model: Mapped[str | None] = mapped_column(String(300))
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    analysis: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    parse_status: Mapped[str] = mapped_column(String(30), default="ok")
    issues: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


PUBLIC_TABLES = ("problems", "formal_statements", "proofs", "verifications", "runs", "model_calls")


class CallClaim(Base):
    """A model call a worker is sending now (``prover worker``): other workers reaching the same
    call wait for its answer instead of sending it too. Ended when the answer is stored; a claim
    that expires (its holder died) is taken over."""

    __tablename__ = "call_claims"

    call_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    """The worker sending it (``host:pid:nonce``, as in ``problem_leases``)."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
