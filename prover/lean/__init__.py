"""Lean checking. This part decides what "verified by Lean" means and needs no Lean: the
lexer, the problem model (preamble, answer slots, target), the screen, the assembly of the
checked file (trusted prologue, fingerprint, model text, the `#prover_check` epilogue), the
verdict logic over Lean's output and the epilogue's report, and the answer check. Backends that
run Lean build on it; ``final_check`` confirms a verified file out of process."""

from prover.core.lean_records import ReasonCode, Verdict
from prover.lean.assemble import AssembledFile, assemble
from prover.lean.audit import AuditResult, ExplainResult, audit, explain
from prover.lean.problem import LeanProblem, SorryDecl
from prover.lean.rescreen import RescreenReport, rescreen
from prover.lean.screen import SCREEN_RULES_VERSION, Reason, ScreenResult, screen
from prover.lean.epilogue import CheckReport, epilogue_command, new_nonce, parse_check_message
from prover.lean.verdict import (LeanResponse, VerdictResult, normalize_response, read_check_report,
                                 result_from_outcome, result_from_response, statement_verdict,
                                 verdict_from_outcome, verdict_from_response)

__all__ = [
    "AssembledFile", "assemble", "AuditResult", "ExplainResult", "audit", "explain", "LeanProblem", "SorryDecl",
    "SCREEN_RULES_VERSION", "Reason", "ScreenResult", "screen", "RescreenReport", "rescreen", "LeanResponse",
    "VerdictResult", "normalize_response", "read_check_report", "statement_verdict", "CheckReport",
    "epilogue_command", "new_nonce", "parse_check_message", "verdict_from_outcome",
    "verdict_from_response", "result_from_response", "result_from_outcome", "ReasonCode", "Verdict",
]

# Running Lean: backends (REPL pool, file mode, Kimina, lean-dojo), toolchain, checks.
from prover.lean.backends import BACKENDS, LeanBackend, open_backend  # noqa: E402
from prover.lean.check import CheckOutcome, check_proof, exit_code_of, precheck_statements  # noqa: E402
from prover.lean.file_mode import FileBackend  # noqa: E402
from prover.lean.kimina import KiminaBackend  # noqa: E402
from prover.lean.pool import PoolConfig, ReplPool  # noqa: E402
from prover.lean.repl import ReplCrashed, ReplProcess, ReplTimeout  # noqa: E402
from prover.lean.toolchain import doctor, read_pin, setup  # noqa: E402

__all__ += [
    "BACKENDS", "LeanBackend", "open_backend", "CheckOutcome", "check_proof", "exit_code_of", "precheck_statements",
    "FileBackend", "KiminaBackend", "PoolConfig", "ReplPool", "ReplCrashed", "ReplProcess", "ReplTimeout",
    "doctor", "read_pin", "setup",
]
