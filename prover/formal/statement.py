"""Step 1 of a formal attempt — the statement (DESIGN.md, "Data flow", step 3): the problem's
given statement that elaborates on our toolchain (trusted by collection, or through the
faithfulness gate), else an autoformalized one that elaborates with `sorry` and passes the gate:
a back-translation and n independent judge votes (k needed). For answer problems a candidate is
flagged ``trivially_closed`` when a lone `rfl`/`decide`/`norm_num`/`simp` closes it, and
rejected only when its goal copies the answer or it stays trivially provable with the answer
replaced by a different value (the answer checks).

Gates and compatibility are keyed by the statement, not the proof: the attempts on every proof
of a problem share one answer (and later runs find it stored)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prover.core.errors import UsageError
from prover.core.formal_records import TRIVIAL_TACTICS
from prover.core.formal_step_records import AnswerChecks, AutoformalizeResult, GateDecision, StepOutcome, Vote, Votes
from prover.core.hashing import hash_json
from prover.formal import prompts
from prover.formal.context import FORMAL_VERSION, AttemptContext
from prover.formal.leantext import (bare_expression, decl_signature, extract_lean, plain_answer, strip_comments,
                                    top_relation_sides)
from prover.lean.answer import stored_references
from prover.lean.lexer import Kind
from prover.lean.problem import LeanProblem

DEFAULT_HEADER = "import Mathlib\n\nopen BigOperators Real Nat Topology Rat\n\n"
"""Put before an autoformalized statement that imports nothing."""


@dataclass(frozen=True)
class Statement:
    """The statement an attempt works on."""

    formal_statement_id: int | None
    problem: LeanProblem
    source: str
    """``given`` or ``autoformalized``."""
    trusted: bool = False
    gate_id: int | None = None
    faithful: bool | None = None
    references: dict[str, str] | None = None
    """Answer slot → stored reference answer (``formal_statements.reference_answer_lean``), for
    the answer check; None: none stored."""


async def choose_statement(ctx: AttemptContext) -> Statement | StepOutcome:
    """The first given statement that elaborates here, else an autoformalized one."""
    p = ctx.proof
    notes = []
    for fs in p.formal_statements:
        if (fs.extra or {}).get("autoformalized"):
            continue
        text = fs.preamble + fs.answer_slots + fs.statement
        try:
            problem = LeanProblem.parse(text)
        except UsageError as exc:
            notes.append(f"statement {fs.id} unreadable: {exc}")
            continue
        compat = await compatible(ctx, fs, problem)
        if compat is None:
            return StepOutcome(status="unavailable",
                               reason=f"Lean gave no answer on whether statement {fs.id} elaborates")
        if not compat:
            notes.append(f"statement {fs.id} does not elaborate on {ctx.lean.toolchain}")
            continue
        refs = stored_references(getattr(fs, "reference_answer_lean", None), problem)
        if p.collection in ctx.config.trusted_collections:
            return Statement(fs.id, problem, "given", trusted=True, faithful=True, references=refs)
        gate_id, passed = await gate_given(ctx, fs, problem)
        return Statement(fs.id, problem, "given", gate_id=gate_id, faithful=passed, references=refs)
    if not (p.statement or "").strip():
        return StepOutcome(status="no_statement",
                           reason="; ".join(notes) or "no formal statement and no informal one to formalize")
    auto = await autoformalize(ctx)
    if isinstance(auto, StepOutcome) and notes:
        return auto.model_copy(update={"reason": "; ".join(notes) + "; " + auto.reason})
    return auto


async def compatible(ctx: AttemptContext, fs: Any, problem: LeanProblem) -> bool | None:
    """Whether a given statement elaborates on our toolchain (stored per statement; attempts on
    one problem asking at once share one answer)."""
    from prover.store import COMPATIBLE, INCOMPATIBLE

    lean, store = ctx.lean, ctx.engine.store

    async def make() -> bool | None:
        known = await ctx.db(store.statement_compat, fs.id, toolchain=lean.toolchain, mathlib_rev=lean.pin.mathlib_rev)
        if known is not None and known.content_hash == fs.content_hash:
            return known.status == COMPATIBLE
        el = await lean.elaborate_with_sorry(problem)
        if el.ok is None:
            return None
        await ctx.db(store.set_statement_compat, fs.id, toolchain=lean.toolchain, mathlib_rev=lean.pin.mathlib_rev,
                     status=COMPATIBLE if el.ok else INCOMPATIBLE, content_hash=fs.content_hash,
                     backend=getattr(lean.backend, "name", "?"), messages=el.messages, detail=el.detail)
        return el.ok

    return await ctx.engine.flights.run(("compatible", fs.id, fs.content_hash), make)


def gate_key(ctx: AttemptContext, kind: str, what: str) -> str:
    c = ctx.config
    return hash_json({"v": FORMAL_VERSION, "kind": kind, "problem": ctx.proof.problem_key, "what": what,
                      "votes": [c.faithfulness_votes, c.faithfulness_needed], "seed": c.seed,
                      "attempts": c.autoformalize_attempts, "templates": prompts.fingerprint(),
                      "models": ctx.engine.role_models(), "toolchain": ctx.lean.toolchain})


async def faithfulness(ctx: AttemptContext, lean_text: str, seed_parts: tuple, *, scope: tuple) -> Votes:
    """A back-translation and n judge votes; seeds keyed by the gate (the statement), not the proof."""
    clean = strip_comments(lean_text)
    back = await ctx.ask("formalizer", prompts.back_translate(clean), *seed_parts, "back", scope=scope)
    back_text = plain_answer(back.text) if back.status != "error" else ""
    prompt = prompts.faithfulness(ctx.proof.statement or "", back_text or "(no restatement)", clean)
    votes: tuple[Vote, ...] = await ctx.judge(prompt, ctx.config.faithfulness_votes, *seed_parts, scope=scope)
    return Votes(votes=votes, back=back_text, back_key=back.key)


async def gate_given(ctx: AttemptContext, fs: Any, problem: LeanProblem) -> tuple[int, bool]:
    """The faithfulness gate of a given statement from an untrusted collection: (gate id,
    passed). A statement the judges reject is still the problem's own: it is used, and counts
    as not faithful."""
    key = gate_key(ctx, "given", fs.content_hash)
    needed = ctx.config.faithfulness_needed

    async def make() -> tuple[int, bool]:
        stored = await ctx.db(ctx.engine.store.accepted_gate, key)
        if stored is not None:
            return stored.id, True
        votes = await faithfulness(ctx, problem.text, ("gate-given", fs.id), scope=("gate", key))
        passed = votes.yes >= needed
        gid = await ctx.record.gate(
            gate_key=key, problem_id=ctx.proof.problem_id, proof_id=None, run_id=ctx.engine.run_id, kind="given",
            candidate=problem.text, formal_statement_id=fs.id, elaborates=True, votes=votes, votes_needed=needed,
            status="accepted" if passed else "rejected",
            reasons=[] if passed else [f"faithfulness: {votes.yes} of {votes.total} votes, {needed} needed"])
        return gid, passed

    return await ctx.engine.shared(key, make)


async def autoformalize(ctx: AttemptContext) -> Statement | StepOutcome:
    """Candidates from the formalizer until one passes the gate (shared by the problem's proofs)."""
    p = ctx.proof
    answer = p.answer if p.answer_problem else None
    key = gate_key(ctx, "auto", answer or "")

    async def make() -> AutoformalizeResult:
        stored = await ctx.db(ctx.engine.store.accepted_gate, key)
        if stored is not None and stored.formal_statement_id is not None:
            return AutoformalizeResult(gate_id=stored.id, formal_statement_id=stored.formal_statement_id,
                                       candidate=stored.candidate)
        reasons = []
        inconclusive = 0
        for i in range(ctx.config.autoformalize_attempts):
            res = await ctx.ask("formalizer", prompts.autoformalize(p.statement or "", answer), "autoformalize", i,
                                scope=("gate", key))
            code = extract_lean(res.text) if res.status != "error" else None
            gate = await gate_candidate(ctx, key, i, res.key, code, answer)
            if gate.accepted:
                return AutoformalizeResult(gate_id=gate.gate_id, formal_statement_id=gate.formal_statement_id,
                                           candidate=gate.candidate)
            inconclusive += gate.inconclusive
            reasons.append(f"candidate {i}: " + "; ".join(gate.reasons))
        every = inconclusive == ctx.config.autoformalize_attempts
        return AutoformalizeResult(reasons=tuple(reasons), inconclusive=every)

    out: AutoformalizeResult = await ctx.engine.shared(key, make)
    if not out.accepted:
        return StepOutcome(status="unavailable" if out.inconclusive else "no_statement",
                           reason="autoformalization rejected: " + " | ".join(out.reasons))
    problem = LeanProblem.parse(out.candidate or "")
    return Statement(out.formal_statement_id, problem, "autoformalized", gate_id=out.gate_id, faithful=True)


async def gate_candidate(ctx: AttemptContext, key: str, index: int, call_key: str, code: str | None,
                         answer: str | None) -> GateDecision:
    """Elaboration, answer checks and the faithfulness vote of one autoformalized candidate;
    the gate row (and, when accepted, the formal statement) stored."""
    p = ctx.proof
    reasons: list[str] = []
    problem = None
    inconclusive = False
    el = None
    if code is None:
        reasons.append("no ```lean4 block in the answer")
    else:
        if not re.search(r"^\s*import\s", code, re.M):
            code = DEFAULT_HEADER + code
        try:
            problem = LeanProblem.parse(code)
        except UsageError as exc:
            reasons.append(f"not a single theorem proved by sorry: {exc}")
        if problem is not None and problem.answer_slots:
            reasons.append("answer slots are not allowed in an autoformalized statement")
            problem = None
    if problem is not None:
        el = await ctx.lean.elaborate_with_sorry(problem)
        if el.ok is None:
            inconclusive = True
            reasons.append(f"elaboration gave no definitive answer ({el.detail})")
        elif not el.ok:
            reasons.append("does not elaborate: " + el.error_text(width=300))
    checks = None
    if problem is not None and not reasons and p.answer_problem:
        checks = await answer_checks(ctx, problem, answer)
        if checks.answer_copied:
            reasons.append("the goal copies the answer expression")
        if checks.swapped_trivially_closed:
            reasons.append(f"still closed by a lone tactic with the answer replaced by {checks.swapped_answer}")
    votes = None
    needed = ctx.config.faithfulness_needed
    if problem is not None and not reasons:
        votes = await faithfulness(ctx, code or "", ("gate-auto", index), scope=("gate", key))
        if votes.yes < needed:
            reasons.append(f"unfaithful: {votes.yes} of {votes.total} judges say it states the problem, "
                           f"{needed} needed")
    accepted = problem is not None and not reasons
    fsid = None
    if accepted:
        toks = problem.lexed.tokens  # type: ignore[union-attr]
        start = toks[problem.target.command.start].start  # type: ignore[union-attr]
        text = code or ""
        fsid = await ctx.db(ctx.engine.store.add_formal_statement, p.problem_id, toolchain=ctx.lean.toolchain,
                            preamble=text[:start], statement=text[start:], source="autoformalized",
                            extra={"autoformalized": True, "proof_id": p.id, "answer": answer})
    gid = await ctx.record.gate(
        gate_key=key, problem_id=p.problem_id, proof_id=p.id, run_id=ctx.engine.run_id, kind="autoformalized",
        sample_index=index, call_key=call_key, answer=answer, votes_needed=needed, candidate=code,
        elaborates=el.ok if el is not None else None, messages=el.messages if el is not None else None,
        answer_checks=checks, votes=votes,
        formal_statement_id=fsid, status="accepted" if accepted else "rejected", reasons=reasons)
    return GateDecision(gate_id=gid, accepted=accepted, reasons=tuple(reasons), candidate=code,
                        formal_statement_id=fsid, inconclusive=inconclusive)


# -- answer checks ---------------------------------------------------------------------------------

async def trivially_closed(ctx: AttemptContext, problem: LeanProblem) -> str | None:
    """The first lone tactic of ``TRIVIAL_TACTICS`` that proves the statement."""
    for tac in TRIVIAL_TACTICS:
        proved = await ctx.lean.prove(problem.with_proof(f"by\n  {tac}"), problem)
        if proved.success:
            return tac
    return None


async def answer_checks(ctx: AttemptContext, problem: LeanProblem, answer: str | None) -> AnswerChecks:
    tac = await trivially_closed(ctx, problem)
    if tac is None or not answer:
        return AnswerChecks(trivially_closed=tac is not None, trivial_tactic=tac)
    sig = decl_signature(problem)
    goal = sig.conclusion if sig is not None else problem.target.header_text
    out: dict[str, Any] = {"trivially_closed": True, "trivial_tactic": tac,
                           "answer_copied": goal_copies_answer(goal, answer)}
    swapped = different_value(answer)
    if swapped is not None:
        text = replace_answer(problem, answer, swapped)
        if text is not None:
            out["swapped_answer"] = swapped
            try:
                out["swapped_trivially_closed"] = await trivially_closed(ctx, LeanProblem.parse(text)) is not None
            except UsageError:
                out["swapped_trivially_closed"] = None
    return AnswerChecks(**out)


def goal_copies_answer(goal: str, answer: str) -> bool:
    """The goal only restates the answer: both sides of its top-level `=`/`↔` are the answer
    expression (outer parentheses and type ascriptions aside), or the goal is the answer itself."""
    target = bare_expression(_lean_answer(answer))
    if not target:
        return False
    if bare_expression(goal) == target:
        return True
    sides = top_relation_sides(goal)
    return sides is not None and bare_expression(sides[0]) == target and bare_expression(sides[1]) == target


def _lean_answer(answer: str) -> str:
    a = answer.strip().strip("$").strip()
    m = re.fullmatch(r"\\boxed\{(.*)\}", a)
    return m.group(1).strip() if m else a


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def different_value(answer: str) -> str | None:
    """A value other than the answer, for the swap test: a number plus one (None for answers
    that are not numbers: the test does not apply)."""
    a = _lean_answer(answer)
    if not _NUMBER.fullmatch(a):
        return None
    if "." in a:
        return str(float(a) + 1)
    return str(int(a) + 1)


def replace_answer(problem: LeanProblem, answer: str, new: str) -> str | None:
    """The problem with the answer's numeral tokens in the target's header replaced by ``new``
    (None when the header does not contain the answer as a token)."""
    a = _lean_answer(answer)
    toks = problem.lexed.tokens
    header = toks[problem.target.header_start:problem.target.assign]
    hits = [t for t in header if t.text == a.lstrip("-") and t.kind is Kind.NUMBER]
    if not hits:
        return None
    text = problem.text
    for t in sorted(hits, key=lambda t: t.start, reverse=True):
        text = text[:t.start] + new.lstrip("-") + text[t.end:]
    return text
