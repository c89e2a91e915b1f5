"""Checking with Lean: screen → assemble → cache → backend (with a fresh nonce) → verdict →
answer check → store, and the statement compatibility precheck. The backends only run Lean; the
soundness core (``audit``, ``verdict``, ``answer``) decides what their answers mean."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from prover.core.errors import UsageError
from prover.core.hashing import sha256_text
from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest, ProjectPin
from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, LeanLimits, ReasonCode, Verdict, lean_cache_key
from prover.lean.answer import AnswerCheckFile, answer_verdict, assemble_answer_check, combine, problem_references
from prover.lean.assemble import AssembledFile, with_nonce
from prover.lean.audit import audit
from prover.lean.backends import LeanBackend
from prover.lean.epilogue import (CHECK_COMMAND, NONCE_PLACEHOLDER, epilogue_command, new_nonce, parse_check_message,
                                  without_check_messages)
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, ProofParts
from prover.lean.verdict import (VerdictResult, kimina_header_lines, statement_verdict, verdict_from_outcome,
                                 verdict_from_response)

if TYPE_CHECKING:
    from prover.store import ProofStore


def exit_code_of(result: LeanCheckResult) -> int:
    """`prover lean check`'s exit code: 0 verified, 1 definitively not, 3 inconclusive (timeout,
    crash, no backend, a response that was not a whole-file check, or a filled answer slot not
    yet compared with the reference: ``verified-answer-unchecked``)."""
    if result.verdict is Verdict.VERIFIED:
        return 0
    if result.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED or not result.definitive:
        return 3
    return 1


@dataclass(frozen=True)
class Provenance:
    """What the checked verdicts are relative to (goes into the cache key)."""

    toolchain: str
    mathlib_rev: str | None
    repl_rev: str | None

    @classmethod
    def of(cls, pin: ProjectPin, backend: LeanBackend) -> "Provenance":
        if backend.name == "kimina":
            # A Kimina server runs its own toolchain: key its checks by the server.
            return cls(toolchain=f"kimina:{getattr(backend, 'url', '?')}", mathlib_rev=None, repl_rev=None)
        repl = (pin.repl_rev or f"tag:{pin.repl_tag}") if backend.name == "repl" else None
        return cls(toolchain=pin.toolchain, mathlib_rev=pin.mathlib_rev, repl_rev=repl)


def verdict_of_raw(raw: LeanRawResponse, *, axioms_line: int | None, target: str | None, line_offset: int = 0,
                   answer_filled: bool = False, answer_checked: bool = False,
                   nonce: str = NONCE_PLACEHOLDER) -> VerdictResult:
    """The verdict of one backend answer for an assembled file sent with ``nonce``."""
    if raw.status == "ok":
        return verdict_from_response(raw.response, axioms_line=axioms_line, target=target, line_offset=line_offset,
                                     answer_filled=answer_filled, answer_checked=answer_checked, nonce=nonce)
    if raw.status == "crashed":
        memory = "out of memory" in (raw.error or "") or "out of memory" in (raw.stderr_tail or "").lower()
        return verdict_from_outcome("memory" if memory else "crashed", raw.error)
    if raw.status in ("timeout", "unavailable"):
        return verdict_from_outcome(raw.status, raw.error)
    return verdict_from_response({"message": raw.error or "backend error"}, axioms_line=axioms_line, target=target)


def _detail(raw: LeanRawResponse) -> str | None:
    parts = [p for p in (raw.error, *(raw.notes or [])) if p]
    if raw.memory_cap is not None and not raw.memory_cap.applied and raw.memory_cap.note:
        parts.append(raw.memory_cap.note)
    if raw.stderr_tail and raw.status != "ok":
        parts.append("stderr: " + raw.stderr_tail.strip()[-1000:])
    return "\n".join(parts) or None


def _rejected(proof_text: str, problem: LeanProblem, reasons, prov: Provenance, limits: LeanLimits,
              backend: str) -> LeanCheckResult:
    # Nothing was assembled: the key hashes what was screened (problem and proof).
    file_hash = sha256_text(problem.text + "\0" + proof_text)
    key = lean_cache_key(file_hash, toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, repl_rev=prov.repl_rev,
                         screen_rules_version=SCREEN_RULES_VERSION, limits=limits)
    codes = sorted({r.code for r in reasons}, key=lambda c: c.value)
    detail = "\n".join(f"line {r.line}: {r.code.value}: {r.text}" if r.line else f"{r.code.value}: {r.text}"
                       for r in reasons)
    return LeanCheckResult(cache_key=key, file_hash=file_hash, target=problem.target.full_name,
                           toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, repl_rev=prov.repl_rev,
                           screen_rules_version=SCREEN_RULES_VERSION, limits=limits, verdict=Verdict.REJECTED,
                           reasons=tuple(codes), backend="screen", detail=detail)


def run_check(request: LeanCheckRequest, backend: LeanBackend, *, answer_checked: bool = False,
              nonce: str | None = None) -> LeanCheckResult:
    """Run one assembled file on a backend with a fresh nonce (``nonce`` only in tests) and read
    the verdict (no cache, no store)."""
    nonce = nonce or new_nonce()
    raw = backend.check(LeanRunRequest(code=with_nonce(request.assembled, nonce), timeout_s=request.limits.time_s,
                                       request_id=request.cache_key[:16]))
    offset = kimina_header_lines(request.assembled) if raw.backend == "kimina" else 0
    v = verdict_of_raw(raw, axioms_line=request.axioms_line, target=request.target, line_offset=offset,
                       answer_filled=bool(request.answer_slots), answer_checked=answer_checked, nonce=nonce)
    peak = raw.peak_memory_bytes / 2**20 if raw.peak_memory_bytes is not None else None
    return LeanCheckResult.for_request(request, verdict=v.verdict, backend=raw.backend, reasons=v.reasons,
                                       messages=v.messages, axioms=v.axioms, wall_time_s=raw.wall_s,
                                       peak_memory_mb=peak, detail=_detail(raw))


def constants_used(result: LeanCheckResult, constants: tuple[str, ...]) -> dict[str, bool] | None:
    """Which of ``constants`` occur in the target's proof term, as the trusted epilogue reported
    it for this (stored or fresh) check: the report at the epilogue's line of the checked file,
    which the verdict accepted (``result.axioms`` is set only then). None when the file's
    epilogue did not ask about exactly these constants, or there is no accepted report."""
    if result.axioms is None or not result.assembled or not result.target:
        return None
    lines = result.assembled.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(CHECK_COMMAND + " ")]
    if not at or lines[at[-1]] != epilogue_command(result.target, NONCE_PLACEHOLDER, tuple(constants)):
        return None
    line = at[-1] + 1 - (kimina_header_lines(result.assembled) if result.backend == "kimina" else 0)
    found = [m for m in result.messages if m.pos is not None and m.pos.line == line and m.severity == "info"]
    report = parse_check_message(found[0].data) if len(found) == 1 else None
    return None if report is None else report.constants_used(tuple(constants))


@dataclass
class CheckOutcome:
    result: LeanCheckResult
    cached: bool = False
    """True when the verdict came from the store without running Lean."""
    notes: list[str] = field(default_factory=list)
    final: LeanCheckResult | None = None
    """The independent confirmation of a verified result (``--final-check``), its own row."""
    check_id: int | None = None
    """The ``lean_checks`` row (None without a store)."""

    @property
    def exit_code(self) -> int:
        code = exit_code_of(self.result)
        if code == 0 and self.final is not None and self.final.verdict is not Verdict.VERIFIED:
            return 1 if self.final.verdict is Verdict.FAILED else 3
        return code


def run_answer_check(file: AnswerCheckFile, backend: LeanBackend, prov: Provenance, limits: LeanLimits, *,
                     nonce: str | None = None) -> LeanCheckResult:
    """Run an answer check (``prover.lean.answer``): its own result, verdict ``verified``,
    ``wrong-answer`` or ``verified-answer-unchecked`` (or a no-response verdict)."""
    request = file.assembled.request(toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, repl_rev=prov.repl_rev,
                                     limits=limits)
    nonce = nonce or new_nonce()
    raw = backend.check(LeanRunRequest(code=with_nonce(request.assembled, nonce), timeout_s=limits.time_s,
                                       request_id=request.cache_key[:16]))
    offset = kimina_header_lines(request.assembled) if raw.backend == "kimina" else 0
    if raw.status == "ok":
        out = answer_verdict(raw.response, file, nonce=nonce, line_offset=offset)
        verdict, reasons, notes, messages = out.verdict, out.reasons, out.notes, out.messages
    else:
        v = verdict_of_raw(raw, axioms_line=None, target=None)
        verdict, reasons, notes, messages = v.verdict, v.reasons, v.notes, v.messages
    peak = raw.peak_memory_bytes / 2**20 if raw.peak_memory_bytes is not None else None
    detail = "\n".join([*notes, *([_detail(raw)] if _detail(raw) else [])]) or None
    return LeanCheckResult.for_request(request, verdict=verdict, backend=raw.backend, reasons=reasons,
                                       messages=messages, wall_time_s=raw.wall_s, peak_memory_mb=peak, detail=detail)


def _with_answer(main: LeanCheckResult, answer: LeanCheckResult) -> LeanCheckResult:
    """The main check's result once its answer check is in."""
    verdict = combine(main.verdict, answer.verdict)
    if verdict is main.verdict:
        return main
    reasons = tuple(r for r in main.reasons if r is not ReasonCode.ANSWER_UNCHECKED)
    if verdict is Verdict.WRONG_ANSWER:
        reasons += (ReasonCode.WRONG_ANSWER,)
    note = f"answer check {answer.cache_key[:12]}: {answer.verdict.value}"
    return main.model_copy(update={"verdict": verdict, "reasons": reasons,
                                   "detail": "\n".join(p for p in (main.detail, note) if p)})


@dataclass(frozen=True)
class PreparedCheck:
    """A proof screened and assembled against its problem: the request to run (and the answer
    check its verified result will need), or the screen's rejection (nothing to run). Either way
    it has the cache key."""

    proof_text: str
    problem: LeanProblem
    request: LeanCheckRequest | None
    rejected: LeanCheckResult | None = None
    answer_file: AnswerCheckFile | None = None
    replaced: tuple[str, ...] = ()
    """What the prologue changed in the problem's own text (recorded with the check)."""
    prov: Provenance | None = None
    limits: LeanLimits | None = None
    parts: ProofParts | None = None
    """The screen's reading of the proof (an accepted one): its target body and auxiliary commands."""
    assembled: AssembledFile | None = None
    """The assembled file, with its map from file lines back to the proof's own lines."""

    @property
    def cache_key(self) -> str:
        return self.request.cache_key if self.request is not None else self.rejected.cache_key  # type: ignore[union-attr]


def prepare_check(proof_text: str, problem: str | LeanProblem, backend: LeanBackend, *, pin: ProjectPin,
                  limits: LeanLimits | None = None, answer_checked: bool = False,
                  references: dict[str, str] | None = None,
                  constants: tuple[str, ...] | None = None) -> PreparedCheck:
    """Screen ``proof_text`` against ``problem`` and assemble the file (no Lean, no store). A proof
    that fills answer slots gets its answer check assembled too, against ``references`` (slot →
    Lean term; default: the problem's own reference comments); the main file's key includes it.
    ``constants``: names whose use in the proof term the epilogue reports."""
    limits = limits or LeanLimits()
    if not isinstance(problem, LeanProblem):
        problem = LeanProblem.parse(problem)
    prov = Provenance.of(pin, backend)
    screened = audit(proof_text, problem)
    if not screened.accepted:
        return PreparedCheck(proof_text, problem, None, _rejected(proof_text, problem, screened.reasons, prov,
                                                                  limits, backend.name))
    assembled = screened.assembled(limits, constants=constants)
    answer_file = None
    if assembled.answer_slots and not answer_checked:
        refs = problem_references(problem) if references is None else references
        answer_file = assemble_answer_check(problem, screened.parts, refs, heartbeats=limits.heartbeats)
    request = assembled.request(toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, repl_rev=prov.repl_rev,
                                limits=limits)
    if answer_file is not None:
        request = request.model_copy(update={"answer_file_hash": answer_file.assembled.file_hash})
    return PreparedCheck(proof_text, problem, request, answer_file=answer_file, replaced=tuple(assembled.replaced),
                         prov=prov, limits=limits, parts=screened.parts, assembled=assembled)


def cached_outcome(prepared: PreparedCheck, store) -> CheckOutcome | None:
    """The definitive verdict stored for the prepared file's key, if any."""
    if prepared.request is None or store is None:
        return None
    hit = store.cached_lean_check(prepared.cache_key)
    if hit is None:
        return None
    check_id, cached = hit
    return CheckOutcome(cached, cached=True, check_id=check_id,
                        notes=["verdict from the store (same file, toolchain, Mathlib, REPL, screen rules and limits)"])


def run_prepared(prepared: PreparedCheck, backend: LeanBackend, *, store: ProofStore | None = None,
                 formal_statement_id: int | None = None, answer_checked: bool = False) -> CheckOutcome:
    """Run the prepared file on the backend (a rejected one needs no Lean), then its answer check
    when the file is otherwise verified, and store the outcomes when there is a store: every
    check is a row."""
    if prepared.request is None:
        outcome = CheckOutcome(prepared.rejected)  # type: ignore[arg-type]
    else:
        notes: list[str] = []
        result = run_check(prepared.request, backend, answer_checked=answer_checked)
        if prepared.replaced:
            note = "prologue: " + "; ".join(prepared.replaced)
            result = result.model_copy(update={"detail": "\n".join(p for p in (result.detail, note) if p)})
        if result.verdict is Verdict.VERIFIED_ANSWER_UNCHECKED and prepared.answer_file is not None:
            answer = _answer_result(prepared.answer_file, backend, prepared.prov, prepared.limits, store,  # type: ignore[arg-type]
                                    formal_statement_id, prepared.proof_text)
            notes.append(f"answer check: {answer.verdict.value}")
            result = _with_answer(result, answer)
        outcome = CheckOutcome(result, notes=notes)
    if store is not None:
        outcome.check_id = store.add_lean_check(outcome.result, formal_statement_id=formal_statement_id,
                                                proof_text=prepared.proof_text)
    return outcome


def check_proof(proof_text: str, problem: str | LeanProblem, backend: LeanBackend, *, pin: ProjectPin,
                limits: LeanLimits | None = None, store: ProofStore | None = None,
                formal_statement_id: int | None = None, answer_checked: bool = False,
                references: dict[str, str] | None = None, constants: tuple[str, ...] | None = None,
                final_check: str = "none", final_tools=None) -> CheckOutcome:
    """Screen ``proof_text`` against ``problem``, assemble the file, and check it with ``backend``
    — or take the definitive verdict stored for the same key (``prepare_check``, then
    ``cached_outcome`` or ``run_prepared``). With ``store``, the checks are stored (every check is
    a row; only definitive ones are served from cache). ``final_check``: confirm a ``verified``
    result out of process with this tool (``prover.lean.final_check``; ``none``: do not), stored
    as its own row."""
    prepared = prepare_check(proof_text, problem, backend, pin=pin, limits=limits, answer_checked=answer_checked,
                             references=references, constants=constants)
    outcome = cached_outcome(prepared, store) or run_prepared(prepared, backend, store=store,
                                                              formal_statement_id=formal_statement_id,
                                                              answer_checked=answer_checked)
    outcome.final = final_confirmation(outcome.result, prepared.problem, final_check, pin, final_tools, store,
                                       formal_statement_id, proof_text)
    return outcome


def final_confirmation(result: LeanCheckResult, problem: LeanProblem, tool: str, pin: ProjectPin, tools, store,
                       formal_statement_id: int | None, proof_text: str) -> LeanCheckResult | None:
    """The confirmation of a verified result by ``tool`` (stored, and served from the store when a
    definitive one is there); None for other verdicts or ``none``."""
    from prover.lean.final_check import confirm, final_check_key, validate_final_check

    if validate_final_check(tool) == "none" or result.verdict is not Verdict.VERIFIED:
        return None
    cached = store.get_lean_check(final_check_key(result.cache_key, tool)) if store is not None else None
    if cached is not None:
        return cached
    final = confirm(result, problem, tool, project_dir=pin.project_dir, tools=tools)
    if store is not None:
        store.add_lean_check(final, formal_statement_id=formal_statement_id, proof_text=proof_text)
    return final


def _answer_result(file: AnswerCheckFile, backend: LeanBackend, prov: Provenance, limits: LeanLimits, store,
                   formal_statement_id: int | None, proof_text: str) -> LeanCheckResult:
    key = file.assembled.request(toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, repl_rev=prov.repl_rev,
                                 limits=limits).cache_key
    cached = store.get_lean_check(key) if store is not None else None
    if cached is not None:
        return cached
    answer = run_answer_check(file, backend, prov, limits)
    if store is not None:
        store.add_lean_check(answer, formal_statement_id=formal_statement_id, proof_text=proof_text)
    return answer


# -- statement compatibility ----------------------------------------------------------------

def statement_with_sorry(lean_text: str) -> tuple[LeanProblem, str]:
    """A problem's text with the target proved by `sorry` (answer slots stay `sorry`)."""
    problem = LeanProblem.parse(lean_text)
    return problem, problem.with_proof("sorry")


@dataclass(frozen=True)
class WithSorry:
    """Lean's answer on a file elaborated with its sorries (a statement, a sketch)."""

    ok: bool | None
    """True: no error; False: Lean reported an error; None: no definitive answer (timeout,
    crash, no backend)."""
    messages: list[dict]
    """Lean's messages (wire form)."""
    detail: str | None
    """The first error's line (not ok), or why there is no answer (None)."""


def read_with_sorry(raw: LeanRawResponse) -> WithSorry:
    """How Lean's answer on a file elaborated with its sorries reads: sorry warnings are
    expected, an error-severity message means no. The one reading of a with-sorry elaboration
    (``precheck_statements`` here, ``LeanRunner.elaborate_with_sorry`` in the formal stage)."""
    v = statement_verdict(raw.response) if raw.status == "ok" else verdict_of_raw(raw, axioms_line=None, target=None)
    msgs = [m.to_wire() for m in without_check_messages(v.messages)]  # never the epilogue's report
    if v.verdict is Verdict.VERIFIED:
        return WithSorry(True, msgs, None)
    if v.verdict is Verdict.INCOMPATIBLE:
        return WithSorry(False, msgs, v.notes[0] if v.notes else None)
    return WithSorry(None, msgs, raw.error or v.verdict.value)


@dataclass
class PrecheckItem:
    formal_statement_id: int
    collection: str
    external_id: str
    status: str
    """``compatible``, ``incompatible``, ``cached-compatible``, ``cached-incompatible`` or
    ``unknown`` (timeout, crash, no backend: not stored, tried again next time)."""
    detail: str | None = None


@dataclass
class PrecheckSummary:
    toolchain: str
    mathlib_rev: str | None
    items: list[PrecheckItem] = field(default_factory=list)
    by_collection: dict[str, dict[str, int]] = field(default_factory=dict)
    """From the store after the run: collection → compatible / incompatible / unchecked."""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.items:
            out[it.status] = out.get(it.status, 0) + 1
        return out


def precheck_statements(store: ProofStore, backend: LeanBackend, *, pin: ProjectPin, collection: str | None = None,
                        limits: LeanLimits | None = None, force: bool = False, workers: int | None = None,
                        progress: Callable[[PrecheckItem], None] | None = None) -> PrecheckSummary:
    """Elaborate each stored formal statement once with `sorry` on the project toolchain and
    store whether it is compatible (cached per toolchain and Mathlib rev; ``force`` re-checks)."""
    from prover.store import COMPATIBLE, INCOMPATIBLE

    limits = limits or LeanLimits()
    prov = Provenance.of(pin, backend)
    summary = PrecheckSummary(toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev)
    todo = []
    for fs, coll, ext in store.formal_statements_in(collection):
        known = None if force else store.statement_compat(fs.id, toolchain=prov.toolchain,
                                                            mathlib_rev=prov.mathlib_rev)
        if known is not None and known.content_hash == fs.content_hash:
            summary.items.append(PrecheckItem(fs.id, coll, ext, f"cached-{known.status}", known.detail))
            continue
        todo.append((fs, coll, ext))

    def one(entry) -> PrecheckItem:
        fs, coll, ext = entry
        text = fs.preamble + fs.answer_slots + fs.statement
        t0 = time.monotonic()
        try:
            _problem, code = statement_with_sorry(text)
        except UsageError as exc:
            store.set_statement_compat(fs.id, toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev,
                                       status=INCOMPATIBLE, content_hash=fs.content_hash, backend="problem-model",
                                       detail=f"not a problem the checker can read: {exc}",
                                       wall_time_s=time.monotonic() - t0)
            return PrecheckItem(fs.id, coll, ext, INCOMPATIBLE, str(exc))
        raw = backend.check(LeanRunRequest(code=code, timeout_s=limits.time_s))
        el = read_with_sorry(raw)
        if el.ok is None:
            return PrecheckItem(fs.id, coll, ext, "unknown", el.detail)
        status = COMPATIBLE if el.ok else INCOMPATIBLE
        store.set_statement_compat(fs.id, toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev, status=status,
                                   content_hash=fs.content_hash, backend=raw.backend, messages=el.messages,
                                   detail=el.detail, wall_time_s=raw.wall_s)
        return PrecheckItem(fs.id, coll, ext, status, el.detail)

    n = workers or getattr(backend, "size", 1)
    with ThreadPoolExecutor(max_workers=max(1, n)) as ex:
        for item in ex.map(one, todo):
            summary.items.append(item)
            if progress:
                progress(item)
    summary.by_collection = store.statement_compat_summary(toolchain=prov.toolchain, mathlib_rev=prov.mathlib_rev,
                                                           collection=collection)
    return summary

