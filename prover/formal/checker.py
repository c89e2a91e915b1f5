"""The formal stage's two questions to Lean, asked from async code:

* ``elaborate_with_sorry`` — does this statement (or this sketch, assembled into it) elaborate,
  `sorry` allowed? Read by ``prover.lean.check.read_with_sorry``: an error-severity message means
  no. The answer (``Elaboration``) maps a sketch's messages back to its lines.
* ``prove`` — is this proof verified? The whole soundness path of ``prover.lean.check_proof``:
  screen, assemble with the problem's own statement behind a fingerprint, the `#prover_check`
  epilogue, verdict, answer check, cache, and ``lean_checks`` rows. The answer (``Proved``)
  carries its row id, the screen's parts and the line map: nothing screens the text again.

Lean runs in threads (the backends block); at most ``parallel`` checks are in flight. Identical
checks asked at once (attempts on several proofs of one problem try the same files) are made
once: the callers after the first await its result (``SingleFlight``, keyed by the cache key of a
proof and by the text of an elaboration)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from prover.core.hashing import sha256_text
from prover.core.lean_backend_records import LeanRunRequest, ProjectPin
from prover.core.lean_records import LeanCheckResult, LeanLimits, Verdict
from prover.lean.assemble import AssembledFile, assemble
from prover.lean.audit import audit
from prover.lean.check import (CheckOutcome, cached_outcome, constants_used, final_confirmation, prepare_check,
                               read_with_sorry, run_prepared)
from prover.lean.epilogue import without_check_messages
from prover.lean.problem import LeanProblem
from prover.lean.screen import ProofParts, screen

if TYPE_CHECKING:
    from prover.store import ProofStore


PROVED = (Verdict.VERIFIED, Verdict.VERIFIED_ANSWER_UNCHECKED)

T = TypeVar("T")


class SingleFlight:
    """One computation per key in flight: a caller asking for a key already in flight awaits
    the first caller's result (or exception) instead of starting its own. A key is forgotten
    once its computation ends, so a later caller computes again (and finds the store's cache)."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future] = {}
        self.joined = 0
        """Callers that awaited another caller's computation."""

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(make())
            self._flights[key] = flight
            flight.add_done_callback(lambda _f: self._flights.pop(key, None))
        else:
            self.joined += 1
        return await asyncio.shield(flight)


@dataclass(frozen=True)
class Elaboration:
    """Lean's answer on a file elaborated with its sorries (a statement, a sketch)."""

    ok: bool | None
    """True: no error; False: Lean reported an error; None: no definitive answer (timeout,
    crash, no backend)."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Lean's messages (wire form)."""
    detail: str | None = None
    assembled: AssembledFile | None = None
    """The file, when a proof text was assembled into its problem: maps messages to its lines."""

    def error_text(self, *, width: int = 1500) -> str:
        """Lean's errors as prompt text (the reason for no answer when there are none)."""
        errors = [m for m in self.messages if m.get("severity") == "error"]
        return format_messages(errors or [{"severity": "error", "data": self.detail or "no answer"}], width=width)

    def infos_by_proof_line(self) -> dict[int, str]:
        """Info messages (the first on each line) by the line of the proof text they are on."""
        out: dict[int, str] = {}
        if self.assembled is None:
            return out
        for m in self.messages:
            pos = m.get("pos") or {}
            if m.get("severity") == "info" and "line" in pos:
                where = self.assembled.locate(pos["line"])
                if where is not None and where[0].source == "proof" and where[1] is not None:
                    out.setdefault(where[1], m.get("data", ""))
        return out


@dataclass(frozen=True)
class Proved:
    """One proof check: its verdict, its ``lean_checks`` row and the screen's reading of the
    proof, so that nothing screens the same text again or looks the row up."""

    result: LeanCheckResult
    check_id: int | None
    cached: bool = False
    used: dict[str, bool] | None = None
    """Which of the constants asked about (``prove(..., constants=...)``) occur in the target's
    proof term, as the trusted epilogue reported it; None when none were asked or there is no
    accepted report."""
    proof_text: str = ""
    problem: LeanProblem | None = None
    parts: ProofParts | None = None
    """The screen's parts of an accepted proof (None: the screen rejected it)."""
    assembled: AssembledFile | None = None
    """The file checked, with its line map back to the proof's own lines."""

    @property
    def success(self) -> bool:
        return self.result.verdict in PROVED

    @property
    def verdict(self) -> str:
        return self.result.verdict.value

    @property
    def definitive(self) -> bool:
        return self.result.definitive

    def prompt_messages(self, *, limit: int = 12) -> list[dict[str, Any]]:
        """Lean's errors and warnings, at lines of the proof's own text (``messages_for_prompt``)."""
        return messages_for_prompt(self.result, self.proof_text, self.problem, limit=limit,  # type: ignore[arg-type]
                                   assembled=self.assembled)

    def body_and_aux(self) -> tuple[str, list[str]]:
        """An accepted proof's target body and its auxiliary commands, as the screen read them."""
        parts = self.parts
        assert parts is not None and parts.target is not None, "only an accepted proof has parts"
        return parts.body_text(parts.target).strip(), [parts.command_text(c) for c in parts.aux]


class LeanRunner:
    """Lean checks for the formal stage, on one backend."""

    def __init__(self, backend: Any, pin: ProjectPin, *, limits: LeanLimits | None = None,
                 store: ProofStore | None = None, parallel: int | None = None, final_check: str = "none"):
        self.backend = backend
        self.pin = pin
        self.final_check = final_check
        """Confirms a verified whole assembled file (``prove(..., final=True)``) out of process."""
        self.limits = limits or LeanLimits()
        self.store = store
        self.size = max(1, parallel or getattr(backend, "size", 1) or 1)
        """Checks in flight at most (the backend's size: REPL or file-mode processes, Kimina
        requests)."""
        self._sem = asyncio.Semaphore(self.size)
        self._flights = SingleFlight()
        self._elaborated: dict[str, Elaboration] = {}
        """Definitive with-sorry elaborations of this run, by the file's hash."""
        self.checks = 0
        """Checks asked for (cached and shared ones included)."""
        self.runs = 0
        """Checks sent to the backend."""

    @property
    def toolchain(self) -> str:
        return self.pin.toolchain

    async def _run(self, fn: Callable[[], T]) -> T:
        async with self._sem:
            self.runs += 1
            return await asyncio.to_thread(fn)

    async def elaborate(self, code: str) -> Elaboration:
        """Elaborate a file as it is, `sorry` allowed (read by ``read_with_sorry``). A definitive
        answer (it elaborates or not) is kept for the run: the same file on the same backend
        elaborates the same way, so the attempts on the proofs of a problem, which write the
        same sketch, elaborate it once. No answer (timeout, crash) is asked again."""
        key = sha256_text(code)
        self.checks += 1
        known = self._elaborated.get(key)
        if known is not None:
            return known
        request = LeanRunRequest(code=code, timeout_s=self.limits.time_s)
        raw = await self._flights.run(("elaborate", key), lambda: self._run(lambda: self.backend.check(request)))
        read = read_with_sorry(raw)
        el = Elaboration(read.ok, read.messages, read.detail)
        if el.ok is not None:
            self._elaborated[key] = el
        return el

    async def elaborate_with_sorry(self, problem: LeanProblem, sketch: str | None = None, *,
                                   parts: ProofParts | None = None) -> Elaboration:
        """Whether ``problem`` elaborates with `sorry` as its proof — or, given ``sketch`` (a proof
        whose holes are `sorry`), that proof screened and assembled into the problem (the
        answer's ``assembled`` then maps messages back to the sketch's lines). ``parts``: the
        screen's reading of ``sketch`` when the caller already has it (it is not screened
        again). The one place that reads a with-sorry elaboration: statements, autoformalized
        candidates, sketches."""
        if sketch is None:
            return await self.elaborate(problem.with_proof("sorry"))
        if parts is None:
            parts = screen(problem, sketch).parts
        assembled = assemble(problem, parts, heartbeats=self.limits.heartbeats)  # type: ignore[arg-type]
        el = await self.elaborate(assembled.text)
        return replace(el, assembled=assembled)

    async def prove(self, proof_text: str, problem: str | LeanProblem, *,
                    formal_statement_id: int | None = None, final: bool = False,
                    references: dict[str, str] | None = None, constants: tuple[str, ...] | None = None) -> Proved:
        """``final``: the attempt's assembled file, the one a formal label rests on — a verified
        result is then confirmed by ``final_check`` (its own row). ``references``: the stored
        reference answers of its answer slots (the answer check; default: the problem text's
        own reference comments). ``constants``: full names whose use in the target's proof term
        the epilogue reports (``Proved.used``)."""
        prepared = await asyncio.to_thread(prepare_check, proof_text, problem, self.backend, pin=self.pin,
                                           limits=self.limits, references=references, constants=constants)
        final_check = self.final_check if final else "none"

        async def make() -> Proved:
            out = await asyncio.to_thread(cached_outcome, prepared, self.store)
            if out is None:
                def run() -> CheckOutcome:
                    return run_prepared(prepared, self.backend, store=self.store,
                                        formal_statement_id=formal_statement_id)

                # A file the screen rejected needs no Lean (and no slot).
                out = await (self._run(run) if prepared.request is not None else asyncio.to_thread(run))
            if final_check != "none":
                out.final = await asyncio.to_thread(final_confirmation, out.result, prepared.problem, final_check,
                                                    self.pin, None, self.store, formal_statement_id,
                                                    prepared.proof_text)
            used = constants_used(out.result, constants) if constants is not None else None
            return Proved(out.result, out.check_id, out.cached, used, proof_text=prepared.proof_text,
                          problem=prepared.problem, parts=prepared.parts, assembled=prepared.assembled)

        proved = await self._flights.run(("prove", prepared.cache_key, final_check), make)
        self.checks += 1
        return proved


def messages_for_prompt(result: LeanCheckResult, proof_text: str, problem: str | LeanProblem, *,
                        limit: int = 12, assembled: AssembledFile | None = None) -> list[dict[str, Any]]:
    """Lean's errors and warnings on a checked proof, with lines of the model's own text where
    the assembled file came from it (the screen's reasons for a rejected proof). ``assembled``:
    the checked file's line map when the caller has it (else the proof is screened again)."""
    if result.verdict is Verdict.REJECTED:
        return [{"severity": "error", "data": line} for line in (result.detail or "rejected").splitlines()][:limit]
    located = assembled
    if located is None:
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
