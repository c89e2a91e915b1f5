"""What passes between the steps of one formal attempt (``prover/formal``: statement → root →
sketch → nodes → alignment → feedback → assembly). Each step hands the next one of these
records instead of a dict or tuple whose meaning depends on the branch it came from.
``RootResult`` (the statement-level work, shared by attempts) is in ``formal_records``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prover.core.formal_records import FormalStatus

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class StepOutcome(BaseModel):
    """A step that ended the attempt: the attempt's status and why."""

    model_config = _FROZEN

    status: FormalStatus
    reason: str


class Vote(BaseModel):
    """One judge's answer."""

    model_config = _FROZEN

    index: int
    """Its sample index."""
    call_key: str | None
    vote: bool | None
    """None: the answer had no readable vote (or the call failed)."""
    text: str


class Votes(BaseModel):
    """n judge votes on one back-translation (a statement's faithfulness, a step's alignment)."""

    model_config = _FROZEN

    votes: tuple[Vote, ...]
    back: str = ""
    """The back-translation the judges compared (empty: none)."""
    back_key: str | None = None
    """Its model call."""

    @property
    def yes(self) -> int:
        return sum(1 for v in self.votes if v.vote)

    @property
    def total(self) -> int:
        return len(self.votes)


class AnswerChecks(BaseModel):
    """The answer checks of an autoformalized answer statement (columns of its gate row)."""

    model_config = _FROZEN

    trivially_closed: bool
    trivial_tactic: str | None = None
    """The lone tactic that closes it."""
    answer_copied: bool | None = None
    """Its goal only restates the answer (None: not asked: nothing closes it trivially)."""
    swapped_answer: str | None = None
    """The different value put in the answer's place (None: the swap test did not apply)."""
    swapped_trivially_closed: bool | None = None
    """Still closed by a lone tactic with the swapped answer (None: not asked, or unreadable)."""


class GateDecision(BaseModel):
    """One autoformalized candidate through the gate: its row, and the statement when accepted."""

    model_config = _FROZEN

    gate_id: int
    accepted: bool
    reasons: tuple[str, ...] = ()
    """Why it was rejected."""
    candidate: str | None = None
    """The statement's Lean text (with the default header when it had none)."""
    formal_statement_id: int | None = None
    """The stored statement (accepted only)."""
    inconclusive: bool = False
    """Lean gave no definitive answer on whether it elaborates."""


class AutoformalizeResult(BaseModel):
    """The autoformalization of one problem (shared by the attempts on its proofs): the accepted
    statement, or every candidate's reasons."""

    model_config = _FROZEN

    gate_id: int | None = None
    formal_statement_id: int | None = None
    candidate: str | None = None
    reasons: tuple[str, ...] = ()
    inconclusive: bool = False
    """Every candidate was inconclusive (Lean gave no answer): the attempt is ``unavailable``."""

    @property
    def accepted(self) -> bool:
        return self.gate_id is not None


class Refutation(BaseModel):
    """Lean proved a negation: the try that did it and its check."""

    model_config = _FROZEN

    try_id: int
    check_id: int | None


class FailedTry(BaseModel):
    """A node's last failed try, which a repair sends back with Lean's messages."""

    model_config = _FROZEN

    try_id: int
    code: str
    messages: str
    """Lean's messages as prompt text."""
    lean_messages: tuple[dict[str, Any], ...] = ()
    """The same messages as stored on the try (wire form, at lines of ``code``)."""


class NodeResult(BaseModel):
    """How one node of the lemma DAG ended."""

    model_config = _FROZEN

    status: Literal["solved", "refuted", "unsolved"]
    body: str | None = None
    """The node lemma's proof (solved)."""
    aux: tuple[str, ...] = ()
    """Auxiliary commands its proof needs (solved)."""
    refutation_id: int | None = None
    """The ``formal_refutations`` row (refuted)."""
    messages: tuple[dict[str, Any], ...] = ()
    """Lean's messages on its last try that had any (the formal feedback of an unsolved node)."""


class AssemblyResult(BaseModel):
    """The sketch with its node lemmas, checked as a whole: the only verdict that counts."""

    model_config = _FROZEN

    outcome: StepOutcome
    check_id: int | None
    verdict: str
    closing_uses: dict[str, bool | None] | None
    """Node key → whether its lemma occurs in the target's proof term, as the trusted check read
    it (None: no accepted report)."""


class AttemptRow(BaseModel):
    """The formal attempt's own row (``formal_attempts``), as its steps fill it in. Only the
    fields set are written (``columns``), so a write never resets what another write stored."""

    model_config = _FROZEN

    # -- step 1: the statement
    formal_statement_id: int | None = None
    statement_source: str | None = None
    """``given`` or ``autoformalized``."""
    statement_trusted: bool = False
    gate_id: int | None = None
    statement_faithful: bool | None = None
    # -- step 2: the root
    root_closed_independently: bool = False
    root_closed_by: str | None = None
    """``portfolio:TACTIC`` or ``direct``."""
    direct_check_id: int | None = None
    # -- steps 3 to 5: sketch, nodes, assembly
    sketch_id: int | None = None
    nodes: int = 0
    nodes_solved: int = 0
    nodes_refuted: int = 0
    nodes_unsolved: int = 0
    steps_aligned: bool | None = None
    final_check_id: int | None = None
    final_verdict: str | None = None
    config: dict[str, Any] | None = None
    """The settings' identity, with the final check's ``closing_uses``."""
    # -- the end
    status: FormalStatus = "running"
    stop_reason: str | None = None
    error: str | None = None
    """The traceback of an unexpected exception (status ``error``)."""
    calls: int = 0
    checks: int = 0
    repairs: int = 0

    def updated(self, **changes: Any) -> "AttemptRow":
        """This row with ``changes`` (validated: an unknown field or a wrong type fails here)."""
        return AttemptRow.model_validate({**self.columns(), **changes})

    def columns(self) -> dict[str, Any]:
        """The columns set so far, as the table stores them."""
        return self.model_dump(exclude_unset=True)
