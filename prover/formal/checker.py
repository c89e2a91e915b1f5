"""The formal stage's two questions to Lean, asked from async code:

* ``elaborate`` — does this file elaborate, `sorry` allowed (a statement, a sketch)? Read with
  ``statement_verdict``: an error-severity message means no.
* ``prove`` — is this proof verified? The whole soundness path of ``prover.lean.check_proof``:
  screen, assemble with the problem's own statement behind a fingerprint, the `#prover_check`
  epilogue, verdict, answer check, cache, and ``lean_checks`` rows.

Lean runs in threads (the backends block); at most ``parallel`` checks are in flight."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from prover.core.lean_proc_records import LeanRunRequest, ProjectPin
from prover.core.lean_records import LeanCheckResult, LeanLimits, Verdict
from prover.lean.audit import audit
from prover.lean.check import check_proof, verdict_of_raw
from prover.lean.epilogue import without_check_messages
from prover.lean.problem import LeanProblem
from prover.lean.verdict import statement_verdict

PROVED = (Verdict.VERIFIED, Verdict.VERIFIED_ANSWER_UNCHECKED)


@dataclass
class Elaboration:
    ok: bool | None
    """True: no error; False: Lean reported an error; None: no definitive answer (timeout,
    crash, no backend)."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Lean's messages (wire form)."""
    detail: str | None = None


@dataclass
class Proved:
    result: LeanCheckResult
    check_id: int | None
    cached: bool = False

    @property
    def success(self) -> bool:
        return self.result.verdict in PROVED

    @property
    def verdict(self) -> str:
        return self.result.verdict.value

    @property
    def definitive(self) -> bool:
        return self.result.definitive


class LeanRunner:
    """Lean checks for the formal stage, on one backend."""

    def __init__(self, backend: Any, pin: ProjectPin, *, limits: LeanLimits | None = None, store: Any = None,
                 parallel: int | None = None, final_check: str = "none"):
        self.backend = backend
        self.pin = pin
        self.final_check = final_check
        """Confirms a verified whole assembled file (``prove(..., final=True)``) out of process."""
        self.limits = limits or LeanLimits()
        self.store = store
        self._sem = asyncio.Semaphore(max(1, parallel or getattr(backend, "size", 1) or 1))
        self.checks = 0
        """Checks asked for (cached ones included)."""

    @property
    def toolchain(self) -> str:
        return self.pin.toolchain

    async def elaborate(self, code: str) -> Elaboration:
        async with self._sem:
            raw = await asyncio.to_thread(self.backend.check, LeanRunRequest(code=code, timeout_s=self.limits.time_s))
        self.checks += 1
        if raw.status == "ok":
            v = statement_verdict(raw.response)
        else:
            v = verdict_of_raw(raw, axioms_line=None, target=None)
        msgs = [m.to_wire() for m in without_check_messages(v.messages)]  # never the epilogue's report
        if v.verdict is Verdict.VERIFIED:
            return Elaboration(True, msgs)
        if v.verdict is Verdict.INCOMPATIBLE:
            return Elaboration(False, msgs, v.notes[0] if v.notes else None)
        return Elaboration(None, msgs, raw.error or v.verdict.value)

    async def prove(self, proof_text: str, problem: str | LeanProblem, *,
                    formal_statement_id: int | None = None, final: bool = False,
                    references: dict[str, str] | None = None) -> Proved:
        """``final``: the attempt's assembled file, the one a formal label rests on — a verified
        result is then confirmed by ``final_check`` (its own row). ``references``: the stored
        reference answers of its answer slots (the answer check; default: the problem text's
        own reference comments)."""
        def run() -> Proved:
            out = check_proof(proof_text, problem, self.backend, pin=self.pin, limits=self.limits, store=self.store,
                              formal_statement_id=formal_statement_id, references=references,
                              final_check=self.final_check if final else "none")
            cid = self.store.lean_check_row_id(out.result.cache_key) if self.store is not None else None
            return Proved(out.result, cid, out.cached)

        async with self._sem:
            proved = await asyncio.to_thread(run)
        self.checks += 1
        return proved


def messages_for_prompt(result: LeanCheckResult, proof_text: str, problem: str | LeanProblem, *,
                        limit: int = 12) -> list[dict[str, Any]]:
    """Lean's errors and warnings on a checked proof, with lines of the model's own text where
    the assembled file came from it (the screen's reasons for a rejected proof)."""
    if result.verdict is Verdict.REJECTED:
        return [{"severity": "error", "data": line} for line in (result.detail or "rejected").splitlines()][:limit]
    located = None
    try:
        located = audit(proof_text, problem).assembled(result.limits)
    except Exception:  # noqa: BLE001 - a mapping is a nicety; the raw lines still help
        located = None
    out = []
    for m in without_check_messages(result.messages):  # the epilogue's report never reaches a prompt
        if m.severity == "info":
            continue
        line = m.pos.line if m.pos else None
        if located is not None and line is not None:
            where = located.locate(line)
            if where is not None and where[0].source == "proof" and where[1] is not None:
                line = where[1]
        out.append({"severity": m.severity, "line": line, "data": m.data})
    if not out and result.verdict not in PROVED:
        out.append({"severity": "error", "data": f"verdict {result.verdict.value}: "
                    + ", ".join(r.value for r in result.reasons)})
    return out[:limit]


def format_messages(messages: list[dict[str, Any]], *, width: int = 1500) -> str:
    """Messages as prompt text, one per paragraph."""
    parts = []
    for m in messages:
        where = f"line {m['line']}: " if m.get("line") is not None else ""
        pos = m.get("pos")
        if not where and isinstance(pos, dict) and "line" in pos:
            where = f"line {pos['line']}: "
        parts.append(f"{where}{m.get('severity', 'error')}: {str(m.get('data', '')).strip()}")
    text = "\n\n".join(parts)
    return text if len(text) <= width else text[:width] + "\n..."
