"""The two public entry points over the soundness core, one per CLI command:
``audit`` (the static screen of a proof against a problem) and ``explain`` (the verdict a
recorded Lean response gives for that proof)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prover.core.lean_records import LeanLimits, ReasonCode, Verdict
from prover.lean.assemble import AssembledFile, assemble
from prover.lean.epilogue import NONCE_PLACEHOLDER
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, ProofParts, Reason, screen
from prover.lean.verdict import (VerdictResult, is_kimina_response, kimina_header_lines,
                                 verdict_from_response)


@dataclass
class AuditResult:
    """The screen's answer for one proof file."""

    accepted: bool
    reasons: list[Reason]
    problem: LeanProblem
    parts: ProofParts | None = None
    screen_rules_version: int = SCREEN_RULES_VERSION

    def to_json(self) -> dict:
        return {"accepted": self.accepted, "reasons": [r.to_json() for r in self.reasons]}

    def assembled(self, limits: LeanLimits | None = None, *, constants: tuple[str, ...] | None = None) -> AssembledFile:
        """The file Lean would check (only for an accepted proof)."""
        limits = limits or LeanLimits()
        return assemble(self.problem, self.parts, heartbeats=limits.heartbeats, constants=constants)


def audit(proof_text: str, problem: str | LeanProblem) -> AuditResult:
    """Screen ``proof_text`` against a problem (its text, or a parsed ``LeanProblem``).
    Raises ``UsageError`` when the problem has no single target."""
    if not isinstance(problem, LeanProblem):
        problem = LeanProblem.parse(problem)
    result = screen(problem, proof_text)
    return AuditResult(result.accepted, result.reasons, problem, result.parts)


@dataclass
class ExplainResult:
    verdict: Verdict
    reasons: list[ReasonCode]
    notes: list[str] = field(default_factory=list)
    """Screen reasons (with lines) or one line per Lean reason."""
    axioms: tuple[str, ...] | None = None
    assembled: AssembledFile | None = None
    line_offset: int = 0

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "reasons": [r.value for r in self.reasons],
            "notes": self.notes,
            "axioms": list(self.axioms) if self.axioms is not None else None,
            "axioms_line": self.assembled.axioms_line if self.assembled else None,
            "line_offset": self.line_offset,
        }


def explain(response: Any, problem: str | LeanProblem, proof_text: str, *, line_offset: int | None = None,
            limits: LeanLimits | None = None, answer_checked: bool = False,
            nonce: str = NONCE_PLACEHOLDER) -> ExplainResult:
    """The verdict a recorded Lean ``response`` gives for ``proof_text``: the screen first
    (``rejected`` with its reasons), then the response read as Lean's answer to the assembled
    file sent with ``nonce`` (default: the placeholder the stored file holds). ``line_offset``
    defaults to what a Kimina server strips (its leading import lines) for Kimina responses and
    to 0 otherwise."""
    result = audit(proof_text, problem)
    if not result.accepted:
        return ExplainResult(Verdict.REJECTED, sorted({r.code for r in result.reasons}, key=lambda c: c.value),
                             [f"line {r.line}: {r.code.value}: {r.text}" if r.line else f"{r.code.value}: {r.text}"
                              for r in result.reasons])
    assembled = result.assembled(limits)
    if line_offset is None:
        line_offset = kimina_header_lines(assembled.text) if is_kimina_response(response) else 0
    v: VerdictResult = verdict_from_response(
        response, axioms_line=assembled.axioms_line, target=assembled.target, line_offset=line_offset,
        answer_filled=bool(assembled.answer_slots), answer_checked=answer_checked, nonce=nonce)
    return ExplainResult(v.verdict, v.reasons, v.notes, v.axioms, assembled, line_offset)
