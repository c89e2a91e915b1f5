"""Verdicts from Lean's output: what a backend's response says about an assembled file.

Understands every response shape the project meets: REPL command responses
(``{"messages": [...], "sorries": [...], "env": n}``, file mode included), REPL tactic-mode
responses (``proofStatus``, ``goals``), REPL errors (``{"message": ...}``), Kimina ``/verify``
and ``/api/check`` responses (``{"results": [{"error", "response"}]}``), `lake env lean --json`
message lists, and the absence of a response (timeouts, crashes, no backend).

``verified`` needs all of: a command/file-mode response, no error-severity message, no sorry
(reported, or warned in either wording), and exactly one `#prover_check` report (ProverCheck,
``prover.lean.epilogue``) *at the line of the assembled file's epilogue*, whose whole text is
the fixed format with this check's nonce and says: the target is a theorem of this file whose
type the kernel accepted as the fingerprint's (``statement-mismatch`` otherwise), no `sorryAx`,
no axiom but `propext`, `Classical.choice`, `Quot.sound`. The report is found by position and
nonce, never by text alone: a proof can print any text (`trace`), but not at a line after its
own end, and it cannot know a nonce drawn after it was written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prover.core.lean_records import (STANDARD_AXIOMS, LeanCheckRequest, LeanCheckResult, LeanMessage,
                                      LeanPosition, ReasonCode, Verdict, is_definitive)
from prover.lean.epilogue import NONCE_PLACEHOLDER, CheckReport, is_check_message, parse_check_message

_SORRY_WARNING = re.compile(r"declaration uses ['`‘’]sorry['`‘’]")
_HEARTBEATS = ("(deterministic) timeout", "maximum number of heartbeats", "(kernel) deterministic timeout")
_TIMEOUT_WORDS = ("timed out", "timeout", "time limit")

#: The verdict precedence when several reasons apply (first match wins).
_PRECEDENCE: tuple[tuple[ReasonCode, Verdict], ...] = (
    (ReasonCode.BACKEND_UNAVAILABLE, Verdict.UNAVAILABLE),
    (ReasonCode.CHECK_LIBRARY_MISSING, Verdict.UNAVAILABLE),
    (ReasonCode.WALL_TIMEOUT, Verdict.TIMEOUT),
    (ReasonCode.MEMORY_LIMIT, Verdict.CRASHED),
    (ReasonCode.BACKEND_ERROR, Verdict.CRASHED),
    (ReasonCode.HEARTBEAT_LIMIT, Verdict.TIMEOUT),
    (ReasonCode.LEAN_ERROR, Verdict.FAILED),
    (ReasonCode.PROOF_INCOMPLETE, Verdict.FAILED),
    (ReasonCode.SORRY_REPORTED, Verdict.INCOMPLETE),
    (ReasonCode.SORRY_WARNING, Verdict.INCOMPLETE),
    (ReasonCode.SORRY_AXIOM, Verdict.INCOMPLETE),
    (ReasonCode.CHECK_REPORT_INVALID, Verdict.FAILED),
    (ReasonCode.TARGET_NOT_CHECKABLE, Verdict.STATEMENT_MISMATCH),
    (ReasonCode.STATEMENT_MISMATCH, Verdict.STATEMENT_MISMATCH),
    (ReasonCode.NONSTANDARD_AXIOMS, Verdict.UNSOUND_AXIOMS),
    (ReasonCode.TACTIC_MODE_ONLY, Verdict.INCOMPLETE),
    (ReasonCode.CHECK_REPORT_MISSING, Verdict.INCOMPLETE),
    (ReasonCode.AXIOMS_REPORT_MISSING, Verdict.INCOMPLETE),
    (ReasonCode.WRONG_ANSWER, Verdict.WRONG_ANSWER),
)


def is_sorry_warning(data: str) -> bool:
    return bool(_SORRY_WARNING.search(data))


def is_check_library_missing(data: str) -> bool:
    """Lean's complaint that `import ProverCheck` cannot be resolved (any wording that names the
    module together with a missing module, package or object file)."""
    low = data.lower()
    return "ProverCheck" in data and any(w in low for w in ("unknown module", "unknown package", "does not exist",
                                                             "no such file", "not found"))


def is_heartbeat_error(data: str) -> bool:
    return any(h in data for h in _HEARTBEATS)


def _position(value: Any) -> LeanPosition | None:
    if isinstance(value, dict) and "line" in value and "column" in value:
        try:
            return LeanPosition(line=int(value["line"]), column=int(value["column"]))
        except (TypeError, ValueError):
            return None
    return None


def parse_message(raw: dict) -> LeanMessage:
    """A message from any backend. File mode says `information`; unknown severities are kept
    as they are (and count as errors in verdicts)."""
    severity = str(raw.get("severity", "error")).lower()
    if severity == "information":
        severity = "info"
    return LeanMessage(severity=severity, pos=_position(raw.get("pos")), endPos=_position(raw.get("endPos")),
                       data=str(raw.get("data", "")))


@dataclass
class LeanResponse:
    """A backend's answer, normalised."""

    kind: str
    """``command`` (command or file mode), ``tactic``, ``error`` (the REPL refused the request),
    ``timeout``, ``crashed``, ``unavailable``."""
    messages: list[LeanMessage] = field(default_factory=list)
    sorries: list[dict] = field(default_factory=list)
    proof_status: str | None = None
    goals: list | None = None
    detail: str | None = None
    """Error text for ``error``/``timeout``/``crashed``."""


class _Malformed(Exception):
    pass


def _messages(items: Any) -> list[LeanMessage]:
    # A message that cannot be read could be an error: the whole response is then unusable.
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
        raise _Malformed("messages are not a list of objects")
    return [parse_message(m) for m in items]


def normalize_response(raw: Any) -> LeanResponse:
    """Normalise any recorded or live response (see the module docstring)."""
    try:
        return _normalize(raw)
    except _Malformed as exc:
        return LeanResponse("crashed", detail=f"malformed response: {exc}")


def _normalize(raw: Any) -> LeanResponse:
    if raw is None:
        return LeanResponse("crashed", detail="no response")
    if isinstance(raw, list):
        # `lake env lean --json`: one message object per line, read into a list.
        return LeanResponse("command", messages=_messages(raw))
    if not isinstance(raw, dict):
        return LeanResponse("crashed", detail=f"not a Lean response: {type(raw).__name__}")
    if "severity" in raw and "data" in raw:
        return LeanResponse("command", messages=[parse_message(raw)])  # file mode, a single message
    if "results" in raw and isinstance(raw["results"], list):
        return _kimina(raw)
    if "response" in raw and "error" in raw:
        return _kimina({"results": [raw]})  # one Kimina result, unwrapped
    if "proofStatus" in raw or ("proofState" in raw and "goals" in raw):
        return LeanResponse(
            "tactic", messages=_messages(raw.get("messages")),
            sorries=list(raw.get("sorries") or []), proof_status=raw.get("proofStatus"), goals=raw.get("goals"))
    if "message" in raw and not any(k in raw for k in ("messages", "env", "sorries")):
        return LeanResponse("error", detail=str(raw["message"]))
    if any(k in raw for k in ("messages", "env", "sorries", "tactics", "infotree")):
        return LeanResponse("command", messages=_messages(raw.get("messages")),
                            sorries=list(raw.get("sorries") or []))
    return LeanResponse("crashed", detail=f"unrecognised response with keys {sorted(raw)}")


def _kimina(raw: dict) -> LeanResponse:
    results = raw["results"]
    if len(results) != 1:
        return LeanResponse("crashed", detail=f"expected one Kimina result, got {len(results)}")
    res = results[0] if isinstance(results[0], dict) else {}
    error = res.get("error")
    response = res.get("response")
    if error:
        kind = "timeout" if any(w in str(error).lower() for w in _TIMEOUT_WORDS) else "crashed"
        return LeanResponse(kind, detail=str(error))
    if response is None:
        return LeanResponse("crashed", detail="Kimina result without response or error")
    inner = _normalize(response)
    if inner.kind == "crashed" and isinstance(response, dict) and set(response) <= {"time", "env"}:
        # Kimina drops empty message lists: `{"time": 1.2}` is a clean run.
        return LeanResponse("command")
    return inner


def is_kimina_response(raw: Any) -> bool:
    return isinstance(raw, dict) and (isinstance(raw.get("results"), list) or ("response" in raw and "error" in raw))


def kimina_header_lines(text: str) -> int:
    """Lines a Kimina server strips before it sends code to the REPL (leading blank and
    `import` lines): its message positions are relative to what follows."""
    n = 0
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith("import "):
            break
        n += 1
    return n


@dataclass
class VerdictResult:
    verdict: Verdict
    reasons: list[ReasonCode]
    messages: list[LeanMessage]
    axioms: tuple[str, ...] | None
    """The target's axioms from the epilogue's report (``CheckReport.all_axioms``, plus
    ``<N other>``); None without a report."""
    notes: list[str] = field(default_factory=list)
    """One line per reason, for people."""
    report: CheckReport | None = None
    """The epilogue's report, when there was a valid one."""

    @property
    def definitive(self) -> bool:
        return is_definitive(self.verdict, self.reasons)


def _decide(reasons: list[ReasonCode], answer_filled: bool, answer_checked: bool) -> Verdict:
    for code, verdict in _PRECEDENCE:
        if code in reasons:
            return verdict
    if answer_filled and not answer_checked:
        return Verdict.VERIFIED_ANSWER_UNCHECKED
    return Verdict.VERIFIED


def verdict_from_outcome(outcome: str, detail: str | None = None) -> VerdictResult:
    """A verdict when there is no Lean response: ``timeout``, ``memory``, ``crashed`` or ``unavailable``."""
    code = {"timeout": ReasonCode.WALL_TIMEOUT, "memory": ReasonCode.MEMORY_LIMIT,
            "crashed": ReasonCode.BACKEND_ERROR, "unavailable": ReasonCode.BACKEND_UNAVAILABLE}.get(outcome)
    if code is None:
        raise ValueError(f"unknown outcome {outcome!r}")
    reasons = [code]
    return VerdictResult(_decide(reasons, False, False), reasons, [], None, [detail or outcome])


def read_check_report(messages: list[LeanMessage], line: int, nonce: str) -> tuple[CheckReport | None, str | None]:
    """The epilogue's report among ``messages``: exactly one information message at ``line``
    whose whole text parses with ``nonce``. Returns (report, None), (None, None) when there is
    no message at that line, or (None, why) when what is there is not a valid report."""
    at_line = [m for m in messages if m.pos is not None and m.pos.line == line and m.severity == "info"]
    if not at_line:
        return None, None
    if len(at_line) > 1:
        return None, f"{len(at_line)} information messages at the epilogue's line (one expected)"
    report = parse_check_message(at_line[0].data)
    if report is None:
        return None, "the message at the epilogue's line is not a `#prover_check` report in the current format"
    if report.nonce != nonce:
        return None, "the report at the epilogue's line carries another nonce"
    return report, None


def verdict_from_response(raw: Any, *, axioms_line: int | None, target: str | None = None,
                          line_offset: int = 0, answer_filled: bool = False, answer_checked: bool = False,
                          nonce: str = NONCE_PLACEHOLDER) -> VerdictResult:
    """The verdict a response gives for an assembled file whose epilogue (`#prover_check`) is on
    ``axioms_line`` (1-based, in the assembled file) and was sent with ``nonce``. ``line_offset``
    is the number of lines the backend removed from the front before checking (Kimina strips the
    imports). ``target`` names the target in notes only: the report names nothing."""
    resp = raw if isinstance(raw, LeanResponse) else normalize_response(raw)
    reasons: list[ReasonCode] = []
    notes: list[str] = []

    def add(code: ReasonCode, note: str) -> None:
        if code not in reasons:
            reasons.append(code)
        notes.append(f"{code.value}: {note}")

    if resp.kind in ("timeout", "crashed", "unavailable"):
        outcome = {"timeout": "timeout", "crashed": "crashed", "unavailable": "unavailable"}[resp.kind]
        return verdict_from_outcome(outcome, resp.detail)
    if resp.kind == "error":
        detail = resp.detail or ""
        if detail.startswith("Lean error"):
            add(ReasonCode.LEAN_ERROR, detail.splitlines()[-1] if detail else detail)
        else:
            add(ReasonCode.BACKEND_ERROR, detail)
        return VerdictResult(_decide(reasons, False, False), reasons, [], None, notes)

    expected_line = None if axioms_line is None else axioms_line - line_offset
    for m in resp.messages:
        first = m.data.splitlines()[0] if m.data else ""
        if m.severity not in ("info", "warning"):
            if is_heartbeat_error(m.data):
                add(ReasonCode.HEARTBEAT_LIMIT, first)
            if is_check_library_missing(m.data):
                add(ReasonCode.CHECK_LIBRARY_MISSING, "the backend cannot import ProverCheck: " + first)
            add(ReasonCode.LEAN_ERROR, _where(m) + first)
            continue
        if is_sorry_warning(m.data):
            add(ReasonCode.SORRY_WARNING, _where(m) + first)
    if resp.sorries:
        add(ReasonCode.SORRY_REPORTED, f"{len(resp.sorries)} sorry(s) in the response")
    if resp.kind == "tactic":
        status = resp.proof_status or ""
        if status.startswith("Incomplete: contains sorry"):
            add(ReasonCode.SORRY_REPORTED, status)
        elif status == "Completed" or (not status and not resp.goals):
            add(ReasonCode.TACTIC_MODE_ONLY, "tactic mode: check the assembled file as a whole")
        else:
            add(ReasonCode.PROOF_INCOMPLETE, (status or f"{len(resp.goals or [])} goal(s) left").splitlines()[0])
        return VerdictResult(_decide(reasons, False, False), reasons, resp.messages, None, notes)
    report: CheckReport | None = None
    if expected_line is None:
        add(ReasonCode.CHECK_REPORT_MISSING, "no epilogue line to look at")
    else:
        report, why = read_check_report(resp.messages, expected_line, nonce)
        if why is not None:
            add(ReasonCode.CHECK_REPORT_INVALID, why)
        elif report is None:
            stray = [m.pos.line for m in resp.messages if m.pos is not None and is_check_message(m.data)]
            add(ReasonCode.CHECK_REPORT_MISSING, f"no `#prover_check` report at line {expected_line}"
                + (f" (a `prover_check` message at line {stray[0]}: wrong line offset?)" if stray else ""))
    axioms: tuple[str, ...] | None = None
    if report is not None:
        axioms = report.all_axioms + ((f"<{report.other_axioms} other>",) if report.other_axioms else ())
        if report.status != "ok":
            add(ReasonCode.TARGET_NOT_CHECKABLE, f"ProverCheck: {report.status}")
        elif report.type_check != "match":
            add(ReasonCode.STATEMENT_MISMATCH, "the kernel did not accept the target at the fingerprint's type")
        if report.sorry:
            add(ReasonCode.SORRY_AXIOM, "the target depends on sorryAx")
        if report.other_axioms:
            add(ReasonCode.NONSTANDARD_AXIOMS, f"{report.other_axioms} axiom(s) beyond "
                + ", ".join(sorted(STANDARD_AXIOMS)))
    if answer_filled and not answer_checked and not reasons:
        add(ReasonCode.ANSWER_UNCHECKED, "answer slot filled, not yet compared with the reference")
    return VerdictResult(_decide(reasons, answer_filled, answer_checked), reasons, resp.messages, axioms, notes,
                         report)


def statement_verdict(raw: Any) -> VerdictResult:
    """Whether a problem's statement (checked with `sorry`) elaborates on this toolchain:
    ``incompatible`` when Lean reports an error; sorry warnings are expected. The verdict of a
    compatible statement is ``verified`` (the statement, not a proof)."""
    resp = raw if isinstance(raw, LeanResponse) else normalize_response(raw)
    if resp.kind in ("timeout", "crashed", "unavailable"):
        return verdict_from_outcome(resp.kind, resp.detail)
    errors = [m for m in resp.messages if m.severity not in ("info", "warning")]
    if resp.kind == "error" or errors:
        note = (errors[0].data.splitlines()[0] if errors else resp.detail) or ""
        reasons = [ReasonCode.STATEMENT_DOES_NOT_ELABORATE]
        return VerdictResult(Verdict.INCOMPATIBLE, reasons, resp.messages, None, [note])
    return VerdictResult(Verdict.VERIFIED, [], resp.messages, None, [])


def _where(m: LeanMessage) -> str:
    return f"line {m.pos.line}: " if m.pos is not None else ""


def result_from_response(request: LeanCheckRequest, raw: Any, *, backend: str, line_offset: int = 0,
                         answer_checked: bool = False, wall_time_s: float | None = None,
                         peak_memory_mb: float | None = None, nonce: str = NONCE_PLACEHOLDER) -> LeanCheckResult:
    """The stored result of checking ``request`` (sent with ``nonce``) from a backend's raw
    response: what every Lean backend returns (``line_offset``: lines it removed from the front
    before sending)."""
    v = verdict_from_response(raw, axioms_line=request.axioms_line, target=request.target, line_offset=line_offset,
                              answer_filled=bool(request.answer_slots), answer_checked=answer_checked, nonce=nonce)
    detail = "\n".join(v.notes) or None
    return LeanCheckResult.for_request(request, verdict=v.verdict, backend=backend, reasons=v.reasons,
                                       messages=v.messages, axioms=v.axioms, wall_time_s=wall_time_s,
                                       peak_memory_mb=peak_memory_mb, detail=detail)


def result_from_outcome(request: LeanCheckRequest, outcome: str, *, backend: str, detail: str | None = None,
                        wall_time_s: float | None = None, peak_memory_mb: float | None = None) -> LeanCheckResult:
    """The stored result when no response came back (``timeout``, ``memory``, ``crashed``, ``unavailable``)."""
    v = verdict_from_outcome(outcome, detail)
    return LeanCheckResult.for_request(request, verdict=v.verdict, backend=backend, reasons=v.reasons,
                                       wall_time_s=wall_time_s, peak_memory_mb=peak_memory_mb,
                                       detail=detail or outcome)
