"""Step 2 of a formal attempt — the root, the statement-level work: the tactic portfolio, the
prover's direct whole proof (pass@k), then the root's negation (portfolio, prover: a
refutation). Closing the root this way is ``statement_proved`` evidence, never a label for the
NL proof.

None of it depends on the proof: it is done once per statement in a run and shared by every
attempt on it (its tries are stored with the attempt that did it), with request seeds keyed by
the statement so that later runs find its calls and checks in the caches. ``refute`` is also
the negation step of an unsolved node (``nodes.py``)."""

from __future__ import annotations

from typing import Any

from prover.core.errors import UsageError
from prover.core.formal_records import RootResult
from prover.core.formal_step_records import Refutation, StepOutcome
from prover.core.hashing import hash_json, sha256_text
from prover.formal import prompts
from prover.formal.context import FORMAL_VERSION, AttemptContext
from prover.formal.leantext import decl_signature, extract_lean, strip_comments
from prover.formal.sketch import negation_problem
from prover.formal.statement import Statement
from prover.lean.problem import LeanProblem


def root_key(ctx: AttemptContext, st: Statement) -> str:
    """What the statement-level work depends on: the statement's text, the toolchain, the
    settings it uses, prompts and models — never the proof."""
    c, lean = ctx.config, ctx.lean
    return hash_json({"v": FORMAL_VERSION, "kind": "root", "statement": sha256_text(st.problem.text),
                      "portfolio": list(c.portfolio), "direct": c.direct_attempts, "refute": c.refute,
                      "refute_samples": c.refute_samples, "seed": c.seed, "limits": c.limits.model_dump(mode="json"),
                      "templates": prompts.fingerprint(), "models": ctx.engine.role_models(),
                      "toolchain": lean.toolchain, "mathlib": lean.pin.mathlib_rev})


async def root(ctx: AttemptContext, st: Statement) -> StepOutcome | RootResult:
    """The statement-level work on ``st`` (shared): ``statement_proved`` or ``refuted`` (the
    refutation stored with this attempt), else what it found, for the attempt to go on."""
    key = root_key(ctx, st)
    did_it = False

    async def make() -> RootResult:
        nonlocal did_it
        did_it = True
        return await close_root(ctx, st, key)

    found: RootResult = await ctx.engine.shared(key, make)
    if not did_it:  # the attempt that did it counted its own calls
        ctx.failures += found.failures
    if found.closed_by is not None:
        return found
    if found.refutation_check_id is not None:
        p = ctx.proof
        await ctx.record.refutation(
            attempt_id=ctx.attempt_id, step_id=None, problem_id=p.problem_id, proof_id=p.id, what="statement",
            proposition=found.proposition, try_id=found.refutation_try_id,  # type: ignore[arg-type]
            check_id=found.refutation_check_id, formal_statement_id=st.formal_statement_id,
            statement_given=st.source == "given", faithful=st.faithful, flags_statement=st.source == "given")
        return StepOutcome(status="refuted", reason=found.reason)
    return found


async def close_root(ctx: AttemptContext, st: Statement, key: str) -> RootResult:
    """Try to close the root, then to refute it (the work ``root`` shares)."""
    c = ctx.config
    problem = st.problem
    fsid = st.formal_statement_id
    scope = ("statement", key)
    calls0, failures0 = ctx.calls, ctx.failures

    def done(**kw: Any) -> RootResult:
        return RootResult(calls=ctx.calls - calls0, failures=ctx.failures - failures0, **kw)

    if not problem.answer_slots:
        for tac in c.portfolio:
            code = problem.with_proof(f"by\n  {tac}")
            proved = await ctx.lean.prove(code, problem, formal_statement_id=fsid)
            await ctx.tried("root-portfolio", proved, tactic=tac, code=code)
            if proved.success:
                return done(closed_by=f"portfolio:{tac}", check_id=proved.check_id,
                            reason=f"`{tac}` alone proves the statement (statement_proved evidence, not a "
                                   "label for the NL proof)")
    lean = strip_comments(problem.text)
    if c.direct_attempts:
        results = await ctx.ask_many("prover", [(prompts.whole_proof(lean), ("direct", i))
                                                for i in range(c.direct_attempts)], scope=scope)
        for i, res in enumerate(results):
            code = extract_lean(res.text) if res.status != "error" else None
            if code is None:
                await ctx.tried("direct", None, sample_index=i, call_key=res.key, verdict="no-code")
                continue
            proved = await ctx.lean.prove(code, problem, formal_statement_id=fsid)
            await ctx.tried("direct", proved, sample_index=i, call_key=res.key, code=code,
                            messages=proved.prompt_messages())
            if proved.success:
                return done(closed_by="direct", check_id=proved.check_id,
                            reason=f"direct attempt {i} verified (statement_proved evidence, not a label for "
                                   "the NL proof)")
    if c.refute and not problem.answer_slots:
        neg = negation_problem(problem)
        if neg is not None:
            hit = await refute(ctx, neg, step_id=None, hint="", scope=scope)
            if hit is not None:
                sig = decl_signature(problem)
                why = ("a given statement refuted: the statement is flagged as false" if st.source == "given"
                       else "the statement's negation is proved")
                return done(reason=why, refutation_try_id=hit.try_id, refutation_check_id=hit.check_id,
                            proposition=sig.negation() if sig else neg)
    return done()


async def refute(ctx: AttemptContext, neg_text: str, *, step_id: int | None, hint: str,
                 seed_key: str = "root", scope: tuple | None = None) -> Refutation | None:
    """The portfolio, then the prover, on a negation problem: the try that proved it, if any.
    Requests are seeded by ``seed_key`` (the step's key), never by ``step_id``: a row id follows
    insertion order, which timing decides."""
    try:
        neg = LeanProblem.parse(neg_text)
    except UsageError:
        return None
    for tac in ctx.config.portfolio:
        code = neg.with_proof(f"by\n  {tac}")
        proved = await ctx.lean.prove(code, neg)
        tid = await ctx.tried("refute-portfolio", proved, step_id=step_id, negated=True, tactic=tac, code=code)
        if proved.success:
            return Refutation(try_id=tid, check_id=proved.check_id)
    lean = strip_comments(neg_text)
    for j in range(ctx.config.refute_samples):
        res = await ctx.ask("prover", prompts.node_proof(lean, hint), "refute", seed_key, j, scope=scope)
        code = extract_lean(res.text) if res.status != "error" else None
        if code is None:
            await ctx.tried("refute-prover", None, step_id=step_id, negated=True, sample_index=j, call_key=res.key,
                            verdict="no-code")
            continue
        proved = await ctx.lean.prove(code, neg)
        tid = await ctx.tried("refute-prover", proved, step_id=step_id, negated=True, sample_index=j,
                              call_key=res.key, code=code, messages=proved.prompt_messages())
        if proved.success:
            return Refutation(try_id=tid, check_id=proved.check_id)
    return None
