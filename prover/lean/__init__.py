"""Lean checking. This part decides what "verified by Lean" means and needs no Lean: the
lexer, the problem model (preamble, answer slots, target), the screen, the assembly of the
checked file and the verdict logic over Lean's output. Backends that run Lean build on it."""

from prover.core.lean_records import ReasonCode, Verdict
from prover.lean.assemble import AssembledFile, assemble
from prover.lean.audit import AuditResult, ExplainResult, audit, explain
from prover.lean.problem import LeanProblem, SorryDecl
from prover.lean.screen import SCREEN_RULES_VERSION, Reason, ScreenResult, screen
from prover.lean.verdict import (LeanResponse, VerdictResult, normalize_response, parse_axioms_message,
                                 result_from_outcome, result_from_response, statement_verdict,
                                 verdict_from_outcome, verdict_from_response)

__all__ = [
    "AssembledFile", "assemble", "AuditResult", "ExplainResult", "audit", "explain", "LeanProblem", "SorryDecl",
    "SCREEN_RULES_VERSION", "Reason", "ScreenResult", "screen", "LeanResponse", "VerdictResult",
    "normalize_response", "parse_axioms_message", "statement_verdict", "verdict_from_outcome",
    "verdict_from_response", "result_from_response", "result_from_outcome", "ReasonCode", "Verdict",
]
