"""Records of the formal stage (DESIGN.md, "Data flow", step 3): its settings, the statuses an
attempt ends in, and what an attempt reports.

One *formal attempt* is the formal stage run on one natural-language proof: a Lean statement
(given, or autoformalized and gated), the root tried directly (the tactic portfolio, then the
prover role, pass@k), the root's negation tried, then a sketch of ``have`` steps mirroring the
proof, whose holes form a lemma DAG filled by the portfolio and the prover with bounded repairs,
and the assembled file checked as a whole."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prover.core.lean_records import LeanLimits

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_PORTFOLIO: tuple[str, ...] = ("omega", "simp", "norm_num", "linarith", "nlinarith", "positivity", "decide",
                                      "aesop")
"""Tactics tried alone on every node (and on the root) before the prover role is asked."""

TRIVIAL_TACTICS: tuple[str, ...] = ("rfl", "decide", "norm_num", "simp")
"""Tactics that, closing a statement alone, mark it ``trivially_closed`` (answer problems)."""

FormalStatus = Literal["running", "verified", "statement_proved", "refuted", "step_refuted", "unsolved",
                       "assembly_failed", "sketch_failed", "no_statement", "unavailable", "incomplete", "error"]
"""How a formal attempt ended.

``verified``: every hole of the sketch was filled and the assembled file is verified (or
verified-answer-unchecked) by Lean — the only outcome that can support a formal-1 label.
``statement_proved``: the root was closed without the sketch (a portfolio tactic or a direct
whole proof) — evidence about the statement, not a label for the NL proof. ``refuted``: Lean
proved the negation of the statement. ``step_refuted``: Lean proved the negation of a sketch step
in its context. ``unsolved``: some node could be neither proved nor refuted (formal feedback).
``assembly_failed``: every node was proved alone but the assembled file was not verified.
``sketch_failed``: no sketch elaborated. ``no_statement``: no usable statement (autoformalization
rejected, or none elaborates). ``unavailable``: Lean gave no definitive answer (timeouts,
crashes). ``incomplete``: model calls failed after their retries. ``error``: an unexpected
exception ended the attempt (its traceback is stored on the attempt; the run went on and its
summary and exit code say so). The last three decide nothing: the same command runs them again."""

Population = Literal["selected", "random", "manual"]
"""Why a proof reached the formal stage: chosen as the top of its pool, drawn at random by
``--formal-sample``, or named by ``prover formalize``."""


class FormalConfig(BaseModel):
    """Settings of the formal stage. Everything here changes what the stage asks and checks, so
    it is part of an attempt's identity."""

    model_config = _FROZEN

    direct_attempts: int = Field(4, ge=0)
    """k of the prover's direct pass@k on the whole statement (0: no direct attempt)."""
    portfolio: tuple[str, ...] = DEFAULT_PORTFOLIO
    """Tactics tried alone on the root, on each node, and on negations."""
    sketch_attempts: int = Field(2, ge=1)
    """Sketches asked for until one elaborates (each after the first is a repair of the last,
    given Lean's messages)."""
    node_samples: int = Field(1, ge=1)
    """Fresh prover samples per node before repairs."""
    repairs_per_node: int = Field(4, ge=0)
    """Repairs (a failed attempt sent back with Lean's messages) per node."""
    repairs_per_proof: int = Field(20, ge=0)
    """Repairs per formal attempt, all nodes together."""
    refute: bool = True
    """Try the negation of the root and of each unsolved node."""
    refute_samples: int = Field(1, ge=0)
    """Prover samples on a negation, after the portfolio."""
    faithfulness_votes: int = Field(3, ge=1)
    """n: judge calls on whether a statement's back-translation states the problem."""
    faithfulness_needed: int = Field(2, ge=1)
    """k: yes votes a statement needs."""
    alignment_votes: int = Field(3, ge=1)
    """n: judge calls on whether a sketch step states its NL step."""
    alignment_needed: int = Field(2, ge=1)
    """k: yes votes a step needs."""
    autoformalize_attempts: int = Field(2, ge=1)
    """Statements asked of the formalizer until one passes the gate."""
    trusted_collections: tuple[str, ...] = ()
    """Collections whose given formal statements count as faithful without a gate."""
    seed: int = 0
    """Request seeds derive from it (and the proof, stage and index)."""
    limits: LeanLimits = LeanLimits()
    """Limits of every Lean check."""

    @model_validator(mode="after")
    def _check_votes(self) -> "FormalConfig":
        if self.faithfulness_needed > self.faithfulness_votes:
            raise ValueError("faithfulness_needed exceeds faithfulness_votes")
        if self.alignment_needed > self.alignment_votes:
            raise ValueError("alignment_needed exceeds alignment_votes")
        return self

    def identity(self) -> dict:
        """What decides an attempt's requests and checks (the seed included)."""
        return self.model_dump(mode="json")


class FormalEstimate(BaseModel):
    """``--dry-run --formal``: the most the formal stage of a run may ask (upper bounds; model
    calls and Lean checks found in the caches cost nothing)."""

    model_config = _FROZEN

    attempts_per_problem: int
    """Formal attempts: the proofs selected for refinement (K per round), the final one, and
    ``--formal-sample`` K drawn at random."""
    assumed_steps: int
    """Sketch steps (nodes) assumed per attempt: a sketch's length is not known before it is
    written."""
    calls_by_role: dict[str, int]
    """Most formal calls per role (prover, formalizer, judge), all problems together."""
    calls_per_problem: int
    lean_checks: int
    """Most Lean checks, all problems together (statement elaborations, root, sketches, nodes,
    negations, assembled files)."""
    lean_checks_per_problem: int


class RootResult(BaseModel):
    """What the statement-level work (portfolio, direct attempts, negation) found on one
    statement; shared by every attempt on that statement in a run."""

    model_config = _FROZEN

    closed_by: str | None = None
    """``portfolio:TACTIC`` or ``direct`` when the root was closed without a sketch."""
    check_id: int | None = None
    """The ``lean_checks`` row of the closing proof."""
    reason: str = ""
    """Words for the outcome."""
    refutation_try_id: int | None = None
    """The try that proved the statement's negation (a refutation), if any."""
    refutation_check_id: int | None = None
    proposition: str | None = None
    """The refuted proposition (the statement's negation)."""
    calls: int = 0
    """Model calls the work used."""
    failures: int = 0
    """Model calls that failed after their retries (the work decided nothing then)."""


class FormalResult(BaseModel):
    """What one formal attempt found (also on its ``formal_attempts`` row)."""

    model_config = ConfigDict(frozen=True)

    attempt_id: int
    """Row id in ``formal_attempts``."""
    proof_id: int | None
    """The NL proof it formalizes."""
    problem_id: int
    status: FormalStatus
    stop_reason: str = ""
    """Words for the status."""
    statement_source: str | None = None
    """``given`` or ``autoformalized`` (None: no statement)."""
    statement_faithful: bool | None = None
    """Trusted collection, or the gate's votes passed."""
    root_closed_by: str | None = None
    """``portfolio:TACTIC`` or ``direct`` when the root was closed without the sketch."""
    nodes: int = 0
    """Holes of the sketch."""
    nodes_solved: int = 0
    nodes_refuted: int = 0
    nodes_unsolved: int = 0
    steps_aligned: bool | None = None
    """Every sketch step passed its alignment vote (None: no sketch)."""
    final_verdict: str | None = None
    """Verdict of the assembled file."""
    feedback: int = 0
    """Formal-feedback issues written for informal refinement."""
    calls: int = 0
    """Model calls the attempt used (cached ones included)."""
    checks: int = 0
    """Lean checks it ran or found cached."""
    reused: bool = False
    """A finished attempt with the same identity was found: nothing was asked again."""
