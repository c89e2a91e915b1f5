"""The proof database's tables (SQLAlchemy 2 typed ORM), all of them, in one place.

`problems`, `formal_statements`, `proofs` and `verifications` are a public contract: other tools
may query them directly, so columns are only ever added, never renamed (the same holds for every
table). A feature that needs a table adds it here and its alembic revision under ``migrations``;
what is read and written through the tables lives in the concept modules of this package."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from prover.core.lean_records import LeanCheckResult, LeanLimits, LeanMessage, ReasonCode, Verdict


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


# Rows are found again by their model call, and there is one per call (revision 0014): a replayed
# insert finds the row, a racing one fails on the index and is retried as a lookup.
Index("uq_proofs_model_call_id", Proof.__table__.c.model_call_id, unique=True)
Index("uq_verifications_model_call_id", Verification.__table__.c.model_call_id, unique=True)

# -- informal searches -------------------------------------------------------------------------

class InformalSearch(Base):
    """One informal search of one problem. Its identity (``search_key``) hashes what decides the
    requests it makes (problem, knobs except the round count, seed, templates, models); budgets
    and the round count are not part of it, so a larger budget continues the same search."""

    __tablename__ = "informal_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_key: Mapped[str] = mapped_column(String(64), unique=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    # running | solved | exhausted | budget | incomplete | skipped | interrupted (its run died)
    status: Mapped[str] = mapped_column(String(20), default="running")
    stop_reason: Mapped[str | None] = mapped_column(Text)
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    proofs: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    selected_proof_id: Mapped[int | None] = mapped_column(ForeignKey("proofs.id", ondelete="SET NULL"))
    mean_score: Mapped[float | None] = mapped_column(Float)
    self_score: Mapped[float | None] = mapped_column(Float)
    verifications: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str | None] = mapped_column(Text)
    answer_match: Mapped[bool | None] = mapped_column(Boolean)
    label: Mapped[float | None] = mapped_column(Float)
    label_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetaVerification(Base):
    """One meta-verification: how faithful one verifier analysis is (0 / 0.5 / 1, null when
    unparsed)."""

    __tablename__ = "meta_verifications"
    __table_args__ = (Index("uq_meta_verifications_model_call_id", "model_call_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    model_call_id: Mapped[int | None] = mapped_column(ForeignKey("model_calls.id", ondelete="SET NULL"))
    meta_verifier_model: Mapped[str | None] = mapped_column(String(300))
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    parse_status: Mapped[str] = mapped_column(String(30), default="ok")
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

# -- Lean checks and statement compatibility ------------------------------------------------------

class LeanCheck(Base):
    """One Lean check of one assembled file."""

    __tablename__ = "lean_checks"
    __table_args__ = (
        Index("uq_lean_checks_definitive_key", "cache_key", unique=True,
              sqlite_where=text("definitive = 1"), postgresql_where=text("definitive")),
        Index("ix_lean_checks_verdict_screen", "verdict", "screen_rules_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    definitive: Mapped[bool] = mapped_column(Boolean, default=False)
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(500))
    toolchain: Mapped[str] = mapped_column(String(100))
    mathlib_rev: Mapped[str | None] = mapped_column(String(100))
    repl_rev: Mapped[str | None] = mapped_column(String(100))
    screen_rules_version: Mapped[int] = mapped_column(Integer)
    time_limit_s: Mapped[float] = mapped_column(Float)
    heartbeats: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    axioms: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    wall_time_s: Mapped[float | None] = mapped_column(Float)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    backend: Mapped[str] = mapped_column(String(50))
    assembled: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    # What was checked, so that a change of screen rules can re-screen stored `verified` rows.
    formal_statement_id: Mapped[int | None] = mapped_column(
        ForeignKey("formal_statements.id", ondelete="SET NULL"), index=True)
    proof_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_result(self) -> LeanCheckResult:
        return LeanCheckResult(
            cache_key=self.cache_key, file_hash=self.file_hash, target=self.target, toolchain=self.toolchain,
            mathlib_rev=self.mathlib_rev, repl_rev=self.repl_rev, screen_rules_version=self.screen_rules_version,
            limits=LeanLimits(time_s=self.time_limit_s, heartbeats=self.heartbeats, memory_mb=self.memory_mb),
            verdict=Verdict(self.verdict), reasons=tuple(ReasonCode(r) for r in self.reasons or ()),
            messages=tuple(LeanMessage.model_validate(m) for m in self.messages or ()),
            axioms=tuple(self.axioms) if self.axioms is not None else None, wall_time_s=self.wall_time_s,
            peak_memory_mb=self.peak_memory_mb, backend=self.backend, assembled=self.assembled,
            detail=self.detail)

class StatementCompat(Base):
    """Whether one formal statement elaborates on one toolchain + Mathlib."""

    __tablename__ = "statement_compat"
    __table_args__ = (UniqueConstraint("formal_statement_id", "toolchain", "mathlib_rev", name="uq_statement_compat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    formal_statement_id: Mapped[int] = mapped_column(ForeignKey("formal_statements.id", ondelete="CASCADE"),
                                                     index=True)
    toolchain: Mapped[str] = mapped_column(String(100))
    # "" when unknown, so that the unique constraint holds on every database
    mathlib_rev: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20))  # compatible | incompatible
    content_hash: Mapped[str] = mapped_column(String(64))
    """The statement's content hash when checked: a changed statement is checked again."""
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(50))
    wall_time_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

# -- the formal stage (what each table holds: prover/store/formal.py) -----------------------------

class FormalAttempt(Base):
    """The formal stage run on one NL proof (see the module docstring for the evidence columns)."""

    __tablename__ = "formal_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_key: Mapped[str] = mapped_column(String(64), unique=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    proof_id: Mapped[int | None] = mapped_column(ForeignKey("proofs.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    population: Mapped[str] = mapped_column(String(20), default="manual")
    inclusion_probability: Mapped[float | None] = mapped_column(Float)
    formal_statement_id: Mapped[int | None] = mapped_column(ForeignKey("formal_statements.id", ondelete="SET NULL"))
    statement_source: Mapped[str | None] = mapped_column(String(20))
    statement_trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("formal_gates.id", ondelete="SET NULL"))
    statement_faithful: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(30), default="running")
    stop_reason: Mapped[str | None] = mapped_column(Text)
    root_closed_independently: Mapped[bool] = mapped_column(Boolean, default=False)
    root_closed_by: Mapped[str | None] = mapped_column(String(100))
    direct_check_id: Mapped[int | None] = mapped_column(ForeignKey("lean_checks.id", ondelete="SET NULL"))
    # formal_sketches.id (no constraint: the two tables point at each other)
    sketch_id: Mapped[int | None] = mapped_column(Integer)
    nodes: Mapped[int] = mapped_column(Integer, default=0)
    nodes_solved: Mapped[int] = mapped_column(Integer, default=0)
    nodes_refuted: Mapped[int] = mapped_column(Integer, default=0)
    nodes_unsolved: Mapped[int] = mapped_column(Integer, default=0)
    steps_aligned: Mapped[bool | None] = mapped_column(Boolean)
    repairs: Mapped[int] = mapped_column(Integer, default=0)
    final_check_id: Mapped[int | None] = mapped_column(ForeignKey("lean_checks.id", ondelete="SET NULL"))
    final_verdict: Mapped[str | None] = mapped_column(String(40))
    calls: Mapped[int] = mapped_column(Integer, default=0)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    """The traceback of an unexpected exception (status ``error``)."""
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalGate(Base):
    """One candidate statement and its faithfulness gate."""

    __tablename__ = "formal_gates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gate_key: Mapped[str] = mapped_column(String(64), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    proof_id: Mapped[int | None] = mapped_column(ForeignKey("proofs.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # autoformalized | given
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    call_key: Mapped[str | None] = mapped_column(String(64))
    candidate: Mapped[str | None] = mapped_column(Text)
    formal_statement_id: Mapped[int | None] = mapped_column(ForeignKey("formal_statements.id", ondelete="SET NULL"))
    elaborates: Mapped[bool | None] = mapped_column(Boolean)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    back_translation: Mapped[str | None] = mapped_column(Text)
    back_translation_call_key: Mapped[str | None] = mapped_column(String(64))
    votes_yes: Mapped[int] = mapped_column(Integer, default=0)
    votes_total: Mapped[int] = mapped_column(Integer, default=0)
    votes_needed: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[str | None] = mapped_column(Text)
    trivially_closed: Mapped[bool | None] = mapped_column(Boolean)
    trivial_tactic: Mapped[str | None] = mapped_column(String(50))
    answer_copied: Mapped[bool | None] = mapped_column(Boolean)
    swapped_answer: Mapped[str | None] = mapped_column(Text)
    swapped_trivially_closed: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))  # accepted | rejected
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalSketch(Base):
    """One sketch asked of the formalizer (a repair names the sketch it repairs)."""

    __tablename__ = "formal_sketches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("formal_attempts.id", ondelete="CASCADE"), index=True)
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    repair_of: Mapped[int | None] = mapped_column(Integer)
    call_key: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    nl_steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    elaborates: Mapped[bool | None] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    dag: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalStep(Base):
    """One `have` step or hole of a sketch: a node of the lemma DAG when it is a hole."""

    __tablename__ = "formal_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("formal_attempts.id", ondelete="CASCADE"), index=True)
    sketch_id: Mapped[int] = mapped_column(ForeignKey("formal_sketches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # have | final | nested
    node_key: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    nl_step_index: Mapped[int | None] = mapped_column(Integer)
    nl_step: Mapped[str | None] = mapped_column(Text)
    type_text: Mapped[str | None] = mapped_column(Text)
    statement: Mapped[str | None] = mapped_column(Text)
    memo_key: Mapped[str | None] = mapped_column(String(64), index=True)
    context_source: Mapped[str | None] = mapped_column(String(20))
    hole: Mapped[bool] = mapped_column(Boolean, default=False)
    depends_on: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(30), default="open")
    solved_by: Mapped[str | None] = mapped_column(String(100))
    proof_text: Mapped[str | None] = mapped_column(Text)
    aux: Mapped[list[Any]] = mapped_column(JSON, default=list)
    uses_steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("lean_checks.id", ondelete="SET NULL"))
    aligned: Mapped[bool | None] = mapped_column(Boolean)
    back_translation: Mapped[str | None] = mapped_column(Text)
    back_translation_call_key: Mapped[str | None] = mapped_column(String(64))
    votes_yes: Mapped[int] = mapped_column(Integer, default=0)
    votes_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalVote(Base):
    """One judge vote: a statement's faithfulness (``gate_id``) or a step's alignment (``step_id``)."""

    __tablename__ = "formal_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # faithfulness | alignment
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("formal_gates.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("formal_steps.id", ondelete="CASCADE"), index=True)
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    call_key: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    vote: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalTry(Base):
    """One Lean try on the root, a node or a negation."""

    __tablename__ = "formal_tries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("formal_attempts.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("formal_steps.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    negated: Mapped[bool] = mapped_column(Boolean, default=False)
    sample_index: Mapped[int] = mapped_column(Integer, default=0)
    repair_index: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(Integer)
    tactic: Mapped[str | None] = mapped_column(String(200))
    call_key: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(Text)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("lean_checks.id", ondelete="SET NULL"))
    verdict: Mapped[str | None] = mapped_column(String(40))
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalRefutation(Base):
    """Lean proved the negation of a statement or of a step in its context."""

    __tablename__ = "formal_refutations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("formal_attempts.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("formal_steps.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    proof_id: Mapped[int | None] = mapped_column(ForeignKey("proofs.id", ondelete="SET NULL"), index=True)
    what: Mapped[str] = mapped_column(String(20))  # statement | step
    proposition: Mapped[str] = mapped_column(Text)
    try_id: Mapped[int | None] = mapped_column(ForeignKey("formal_tries.id", ondelete="SET NULL"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("lean_checks.id", ondelete="SET NULL"))
    formal_statement_id: Mapped[int | None] = mapped_column(ForeignKey("formal_statements.id", ondelete="SET NULL"))
    statement_given: Mapped[bool] = mapped_column(Boolean, default=False)
    faithful: Mapped[bool | None] = mapped_column(Boolean)
    flags_statement: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FormalFeedback(Base):
    """An unsolved node handed back to informal refinement as an issue (never a verification)."""

    __tablename__ = "formal_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("formal_attempts.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    proof_id: Mapped[int | None] = mapped_column(ForeignKey("proofs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("formal_steps.id", ondelete="CASCADE"))
    nl_step_index: Mapped[int | None] = mapped_column(Integer)
    nl_step: Mapped[str | None] = mapped_column(Text)
    statement: Mapped[str | None] = mapped_column(Text)
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

# -- grades, labels, evaluations -----------------------------------------------------------------

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

class EvaluationRow(Base):
    """One evaluation of a benchmark: its settings and per-problem outcomes."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eval_key: Mapped[str] = mapped_column(String(64), index=True)
    benchmark: Mapped[str] = mapped_column(String(100), index=True)
    split: Mapped[str] = mapped_column(String(50))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="running")
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    budget: Mapped[str | None] = mapped_column(String(50))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    commit: Mapped[str | None] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the EvalSummary without its id (outcomes, group scores, counts)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

# -- workers ----------------------------------------------------------------------------------------

class ProblemLease(Base):
    """One problem of a run with workers, and who works on it."""

    __tablename__ = "problem_leases"
    __table_args__ = (UniqueConstraint("run_id", "problem_id", name="uq_problem_lease"),
                      Index("ix_problem_leases_claim", "run_id", "status", "position"),
                      Index("ix_problem_leases_problem", "problem_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    """The problem's place in the run (claimed in this order)."""
    status: Mapped[str] = mapped_column(String(20), default="todo")  # todo | leased | done
    holder: Mapped[str | None] = mapped_column(String(200))
    """The worker holding (or that finished) it: ``host:pid:nonce``."""
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claims: Mapped[int] = mapped_column(Integer, default=0)
    """Times claimed: more than one means a holder died and another took over."""
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The problem's result (``ProblemResult``) once done."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallClaim(Base):
    """A model call a worker is sending now (``prover worker``): other workers reaching the same
    call wait for its answer instead of sending it too. Ended when the answer is stored; a claim
    that expires (its holder died) is taken over."""

    __tablename__ = "call_claims"

    call_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    """The worker sending it (``host:pid:nonce``, as in ``problem_leases``)."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


PUBLIC_TABLES = ("problems", "formal_statements", "proofs", "verifications", "runs", "model_calls")
