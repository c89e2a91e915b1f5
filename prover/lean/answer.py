"""Answer slots checked in Lean (DESIGN.md, "What verified by Lean means").

A filled answer slot is compared with the stored reference (``formal_statements.
reference_answer_lean``; for a problem file, the comment PutnamBench puts after the slot) in a
check of its own, holding only the prologue and the filled slots — a slot cannot depend on model
text. For each slot ``NAME`` with a reference ``REF``, the file declares

    theorem _prover_answer_eq_K : NAME = (REF) := by first | rfl | decide | norm_num | simp | ext-then-simp
    theorem _prover_answer_ne_K : NAME ≠ (REF) := by first | decide | norm_num | simp

each behind a fingerprint axiom of the same statement, and one `#prover_check` per theorem, so
the kernel checks each and its axioms are reported. Proved equal → ``verified``; proved
different → ``wrong-answer``; neither (or no reference) → ``verified-answer-unchecked``, which
never yields a formal label 1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prover.core.lean_records import LeanLimits, ReasonCode, Verdict
from prover.lean.assemble import AssembledFile, FileBlocks, lean_name, write_prologue
from prover.lean.epilogue import NONCE_PLACEHOLDER, epilogue_command
from prover.lean.problem import LeanProblem
from prover.lean.screen import ProofParts
from prover.lean.verdict import (LeanResponse, VerdictResult, normalize_response, read_check_report,
                                 verdict_from_outcome)

_EQ_TACTIC = ("by first | rfl | decide | (norm_num [{n}]; done) | (simp [{n}]; done) "
              "| ((ext <;> simp [{n}]); done)")
_NE_TACTIC = "by first | decide | (norm_num [{n}]; done) | (simp [{n}]; done)"


def problem_references(problem: LeanProblem) -> dict[str, str]:
    """The reference answers a problem's own text gives: the comment after each slot."""
    return {s.full_name: s.reference_comment.strip() for s in problem.answer_slots if s.reference_comment}


def stored_references(reference_answer_lean: str | None, problem: LeanProblem) -> dict[str, str]:
    """Slot → reference from a formal statement's stored ``reference_answer_lean`` (the import
    takes the comments after the slots out of the text): a problem with one slot gets the whole
    text; the comments of several slots are stored joined and cannot be told apart, so they are
    never compared (``verified-answer-unchecked``)."""
    if not reference_answer_lean or not reference_answer_lean.strip() or len(problem.answer_slots) != 1:
        return {}
    return {problem.answer_slots[0].full_name: reference_answer_lean.strip()}


@dataclass(frozen=True)
class AnswerCheckFile:
    """The answer check's file, and where each slot's two theorems and reports are."""

    assembled: AssembledFile
    slots: tuple[str, ...]
    """The slots compared, in order."""
    eq_lines: tuple[tuple[int, int], ...]
    """Per slot: first and last line of `NAME = REF`'s theorem."""
    ne_lines: tuple[tuple[int, int], ...]
    eq_checks: tuple[int, ...]
    """Per slot: the line of the `#prover_check` of `NAME = REF`."""
    ne_checks: tuple[int, ...]
    missing: tuple[str, ...] = ()
    """Filled slots without a reference (never compared)."""


def assemble_answer_check(problem: LeanProblem, parts: ProofParts, references: dict[str, str], *,
                          heartbeats: int = LeanLimits().heartbeats) -> AnswerCheckFile | None:
    """The answer check for the slots ``parts`` fills; None when no filled slot has a reference."""
    out = FileBlocks()
    fills, replaced = write_prologue(problem, parts, heartbeats, out, stop_at_target=True)
    compared = [f.name for f in fills if references.get(f.name, "").strip()]
    missing = tuple(f.name for f in fills if f.name not in compared)
    if not compared:
        return None
    root = "_root_." if problem.namespace else ""
    names = []
    for k, slot in enumerate(compared, 1):
        n = lean_name(slot)
        ref = references[slot].strip()
        for kind, rel, tactic in (("eq", "=", _EQ_TACTIC), ("ne", "≠", _NE_TACTIC)):
            fp, thm = f"_prover_answer_fp_{kind}_{k}", f"_prover_answer_{kind}_{k}"
            stmt = f"{n} {rel} (\n    {ref})"
            out.add(("answer", "generated", None, f"axiom {root}{fp} : {stmt}"))
            out.add(("answer", "generated", None, f"theorem {root}{thm} : {stmt} :=\n  {tactic.format(n=n)}"))
            names.append((thm, fp))
    for thm, fp in names:
        out.add(("check", "generated", None, epilogue_command(thm, NONCE_PLACEHOLDER, fingerprint=fp)))
    text, segments = out.render()
    answer_segs = [s for s in segments if s.zone == "answer"]
    theorems = answer_segs[1::2]  # axiom, theorem, axiom, theorem...
    checks = [s.start_line for s in segments if s.zone == "check"]
    eq_lines = tuple((s.start_line, s.end_line) for s in theorems[0::2])
    ne_lines = tuple((s.start_line, s.end_line) for s in theorems[1::2])
    assembled = AssembledFile(
        text=text, target=compared[0], axioms_line=checks[0], heartbeats=heartbeats, answer_slots=tuple(fills),
        segments=segments, replaced=tuple(replaced),
        checks=tuple((thm, line) for (thm, _fp), line in zip(names, checks)))
    return AnswerCheckFile(assembled=assembled, slots=tuple(compared), eq_lines=eq_lines, ne_lines=ne_lines,
                           eq_checks=tuple(checks[0::2]), ne_checks=tuple(checks[1::2]), missing=missing)


@dataclass
class AnswerOutcome:
    verdict: Verdict
    """``verified`` (every slot proved equal to its reference), ``wrong-answer`` (one proved
    different), ``verified-answer-unchecked`` (neither), or a no-response verdict."""
    reasons: list[ReasonCode]
    notes: list[str] = field(default_factory=list)
    per_slot: dict[str, str] = field(default_factory=dict)
    """Slot → ``equal``, ``different`` or ``undecided``."""
    messages: list = field(default_factory=list)


def _settled(resp: LeanResponse, lines: tuple[int, int], check_line: int, nonce: str, offset: int) -> bool:
    """Whether the theorem on ``lines`` was proved: no error inside it, and its report says a
    theorem of this file, matching its fingerprint, with no `sorryAx` and standard axioms only."""
    lo, hi = lines[0] - offset, lines[1] - offset
    if any(m.severity not in ("info", "warning") and m.pos is not None and lo <= m.pos.line <= hi
           for m in resp.messages):
        return False
    report, why = read_check_report(resp.messages, check_line - offset, nonce)
    return (why is None and report is not None and report.status == "ok" and report.type_check == "match"
            and not report.sorry and report.other_axioms == 0)


def answer_verdict(raw: Any, file: AnswerCheckFile, *, nonce: str = NONCE_PLACEHOLDER,
                   line_offset: int = 0) -> AnswerOutcome:
    """What a response says about the answers (errors inside the answer theorems are expected:
    a tactic that does not prove the statement is how "not proved" shows)."""
    resp = raw if isinstance(raw, LeanResponse) else normalize_response(raw)
    if resp.kind in ("timeout", "crashed", "unavailable", "error"):
        v: VerdictResult = verdict_from_outcome("crashed" if resp.kind == "error" else resp.kind, resp.detail)
        return AnswerOutcome(v.verdict, v.reasons, v.notes)
    theorem_lines = [r for pair in zip(file.eq_lines, file.ne_lines) for r in pair]
    outside = [m for m in resp.messages if m.severity not in ("info", "warning")
               and not (m.pos is not None and any(lo - line_offset <= m.pos.line <= hi - line_offset
                                                  for lo, hi in theorem_lines))]
    out = AnswerOutcome(Verdict.VERIFIED_ANSWER_UNCHECKED, [], messages=list(resp.messages))
    if outside:
        out.reasons.append(ReasonCode.LEAN_ERROR)
        out.notes.append(f"lean-error: {outside[0].data.splitlines()[0] if outside[0].data else ''}")
    for k, slot in enumerate(file.slots):
        if outside:
            out.per_slot[slot] = "undecided"
            continue
        eq = _settled(resp, file.eq_lines[k], file.eq_checks[k], nonce, line_offset)
        ne = _settled(resp, file.ne_lines[k], file.ne_checks[k], nonce, line_offset)
        out.per_slot[slot] = "equal" if eq and not ne else "different" if ne and not eq else "undecided"
    for slot in file.missing:
        out.per_slot[slot] = "undecided"
        if ReasonCode.NO_REFERENCE_ANSWER not in out.reasons:
            out.reasons.append(ReasonCode.NO_REFERENCE_ANSWER)
        out.notes.append(f"no-reference-answer: {slot}")
    states = set(out.per_slot.values())
    if "different" in states:
        out.verdict = Verdict.WRONG_ANSWER
        out.reasons.append(ReasonCode.WRONG_ANSWER)
        out.notes += [f"wrong-answer: {s}" for s, st in out.per_slot.items() if st == "different"]
    elif states == {"equal"}:
        out.verdict = Verdict.VERIFIED
    else:
        if ReasonCode.ANSWER_UNDECIDED not in out.reasons and "undecided" in states and not outside:
            out.reasons.append(ReasonCode.ANSWER_UNDECIDED)
        out.notes += [f"answer-undecided: {s}" for s, st in out.per_slot.items() if st == "undecided"
                      and s not in file.missing]
    return out


def combine(main: Verdict, answer: Verdict) -> Verdict:
    """The verdict of a proof whose main check gave ``main`` and whose answer check gave
    ``answer``: only a main ``verified-answer-unchecked`` is settled by the answer check."""
    if main is not Verdict.VERIFIED_ANSWER_UNCHECKED:
        return main
    if answer in (Verdict.VERIFIED, Verdict.WRONG_ANSWER):
        return answer
    return main

