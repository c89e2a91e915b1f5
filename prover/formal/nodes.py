"""Step 4 of a formal attempt — the nodes: each hole of the sketch is a lemma of the DAG, filled
by a memo of solved statements, the tactic portfolio, the prover's samples, then repairs from
Lean's messages (per node and per proof bounds). An open node's negation is tried in context (a
refutation, ``root.refute``); a node that stays unsolved becomes formal feedback
(``feedback.py``). Nodes are filled concurrently up to the Lean pool's size, each once the nodes
its statement names are done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prover.core.errors import UsageError
from prover.core.formal_step_records import FailedTry, NodeResult
from prover.core.hashing import sha256_text
from prover.formal import prompts
from prover.formal.checker import Proved, format_messages
from prover.formal.context import AttemptContext
from prover.formal.leantext import extract_lean, strip_comments
from prover.formal.root import refute
from prover.formal.sketch import Sketch, SketchStep
from prover.formal.sketching import nl_step
from prover.lean.lexer import Kind, lex
from prover.lean.problem import LeanProblem


@dataclass(frozen=True)
class OpenNode:
    """A node its first tries left open: what its repairs and negation start from."""

    node: LeanProblem
    """The node lemma."""
    hint: str
    """Its NL step (empty: none)."""
    last: FailedTry | None
    """The last failed try that reached Lean (a repair sends it back)."""
    messages: tuple[dict, ...] = ()
    """Lean's messages on the last try that had any."""


def node_scope(ctx: AttemptContext, node_text: str, hint: str) -> tuple:
    """What a node's prover requests are seeded by: the node lemma and its informal hint, not the
    proof. Proofs of a problem often yield the same sketch; their identical nodes then send
    identical requests, which the call store answers once, and the same tries, which the check
    cache answers once, instead of each attempt redoing the node with seeds of its own."""
    return ("node", ctx.proof.problem_key, sha256_text(node_text), sha256_text(hint))


async def fill_all(ctx: AttemptContext, sk: Sketch, step_ids: dict[int, int],
                   nl_steps: list[str]) -> dict[str, NodeResult]:
    """Fill every node, at most as many at once as Lean runs checks. A node's lemma takes every
    earlier step as a hypothesis, so nodes do not wait for each other's proofs: one starts once
    the nodes its statement mentions are done (the DAG's edges), and independent ones run
    together. Repairs share the per-proof budget, handed out in dependency order once every
    node's first tries are in, so that the requests do not depend on timing."""
    c = ctx.config
    dag, order = sk.dag(), sk.order()
    slots = asyncio.Semaphore(ctx.lean.size)
    first: dict[str, asyncio.Task] = {}

    async def start(step: SketchStep) -> NodeResult | OpenNode:
        for pred in dag.predecessors(step.key):
            await first[pred]
        async with slots:
            return await fill_first(ctx, sk, step, step_ids[id(step)], nl_steps)

    async with asyncio.TaskGroup() as tg:
        for step in order:
            first[step.key] = tg.create_task(start(step))
    began = {k: t.result() for k, t in first.items()}
    left = max(0, c.repairs_per_proof - ctx.repairs)
    budgets: dict[str, int] = {}
    for step in order:
        state = began[step.key]
        if isinstance(state, OpenNode):
            budgets[step.key] = min(c.repairs_per_node, left) if state.last is not None else 0
            left -= budgets[step.key]

    async def finish(step: SketchStep) -> NodeResult:
        state = began[step.key]
        assert isinstance(state, OpenNode)
        async with slots:
            return await fill_rest(ctx, sk, step, step_ids[id(step)], state, budgets[step.key])

    async with asyncio.TaskGroup() as tg:
        rest = {s.key: tg.create_task(finish(s)) for s in order if s.key in budgets}
    out = {k: v for k, v in began.items() if isinstance(v, NodeResult)}
    out.update({k: t.result() for k, t in rest.items()})
    return out


async def fill_first(ctx: AttemptContext, sk: Sketch, step: SketchStep, sid: int,
                     nl_steps: list[str]) -> NodeResult | OpenNode:
    """A node's first tries: the memo, the portfolio, the prover's samples. Solved, unsolved
    (no goal to work on), or open."""
    if step.goal is None:
        msgs = [{"severity": "error", "data": "the hole's goal could not be read (extract_goal)"}]
        await ctx.tried("extract-goal", None, step_id=sid, verdict="unread", messages=msgs)
        return await unsolved(ctx, sid, tuple(msgs))
    memo = await ctx.db(ctx.engine.store.solved_node, sk.memo_key(step))
    if memo is not None and memo.proof_text:
        await ctx.tried("memo", None, step_id=sid, code=memo.proof_text, verdict="memo")
        await ctx.record.step_solved(sid, solved_by=f"memo:{memo.id}", proof_text=memo.proof_text,
                                     aux=list(memo.aux or []), check_id=memo.check_id,
                                     uses_steps=list(memo.uses_steps or []))
        return NodeResult(status="solved", body=memo.proof_text, aux=tuple(memo.aux or ()))
    node_text = sk.node_problem(step)
    try:
        node = LeanProblem.parse(node_text)
    except UsageError as exc:  # a `have` whose text does not make a lemma on its own
        msgs = [{"severity": "error", "data": f"cannot state the node as a lemma: {exc}"}]
        await ctx.tried("state", None, step_id=sid, verdict="unstatable", messages=msgs)
        return await unsolved(ctx, sid, tuple(msgs))
    seen: tuple[dict, ...] = ()
    for tac in ctx.config.portfolio:
        body = f"by\n  {tac}"
        proved = await ctx.lean.prove(node.with_proof(body), node)
        msgs = proved.prompt_messages()
        await ctx.tried("portfolio", proved, step_id=sid, tactic=tac, code=node.with_proof(body), messages=msgs)
        if proved.success:
            return await solved(ctx, sid, step, body, [], f"portfolio:{tac}", proved)
        seen = tuple(msgs) or seen
    hint = nl_step(nl_steps, step.nl_step) or ""
    last: FailedTry | None = None
    for j in range(ctx.config.node_samples):
        res = await ctx.ask("prover", prompts.node_proof(strip_comments(node_text), hint), "node", step.key, j,
                            scope=node_scope(ctx, node_text, hint))
        got = await node_try(ctx, node, sid, "prover", res, sample_index=j)
        if isinstance(got, Proved):
            body, aux = got.body_and_aux()
            return await solved(ctx, sid, step, body, aux, "prover", got)
        if got is not None:
            last, seen = got, got.lean_messages or seen
    return OpenNode(node=node, hint=hint, last=last, messages=seen)


async def fill_rest(ctx: AttemptContext, sk: Sketch, step: SketchStep, sid: int, state: OpenNode,
                    repairs: int) -> NodeResult:
    """An open node's repairs (at most ``repairs``, from Lean's messages), then its negation in
    context (a refutation); else it stays unsolved."""
    last, seen = state.last, state.messages
    r = 0
    while last is not None and r < repairs:
        ctx.repairs += 1
        r += 1
        res = await ctx.ask("prover", prompts.repair(last.code, last.messages), "repair", step.key, r,
                            scope=node_scope(ctx, state.node.text, state.hint))
        got = await node_try(ctx, state.node, sid, "repair", res, repair_index=r, parent_id=last.try_id)
        if isinstance(got, Proved):
            body, aux = got.body_and_aux()
            return await solved(ctx, sid, step, body, aux, f"repair:{r}", got)
        if got is not None:
            last, seen = got, got.lean_messages or seen
    if ctx.config.refute:
        neg_text = sk.node_problem(step, negate=True)
        hit = await refute(ctx, neg_text, step_id=sid, hint=state.hint, seed_key=step.key,
                           scope=node_scope(ctx, neg_text, state.hint))
        if hit is not None:
            p = ctx.proof
            rid = await ctx.record.refutation(
                attempt_id=ctx.attempt_id, step_id=sid, problem_id=p.problem_id, proof_id=p.id, what="step",
                proposition=step.goal.negation(), try_id=hit.try_id, check_id=hit.check_id,  # type: ignore[union-attr]
                formal_statement_id=ctx.statement.formal_statement_id,  # type: ignore[union-attr]
                statement_given=ctx.statement.source == "given", flags_statement=False)  # type: ignore[union-attr]
            await ctx.record.step_status(sid, "refuted")
            return NodeResult(status="refuted", refutation_id=rid)
    return await unsolved(ctx, sid, seen)


async def node_try(ctx: AttemptContext, node: LeanProblem, sid: int, stage: str, res, *, sample_index: int = 0,
                   repair_index: int = 0, parent_id: int | None = None) -> Proved | FailedTry | None:
    """One prover answer checked on the node: the check when it proves it, else the failed try
    (None: the answer had no Lean code)."""
    code = extract_lean(res.text) if res.status != "error" else None
    if code is None:
        await ctx.tried(stage, None, step_id=sid, sample_index=sample_index, repair_index=repair_index,
                        parent_id=parent_id, call_key=res.key, verdict="no-code")
        return None
    proved = await ctx.lean.prove(code, node)
    msgs = proved.prompt_messages()
    tid = await ctx.tried(stage, proved, step_id=sid, sample_index=sample_index, repair_index=repair_index,
                          parent_id=parent_id, call_key=res.key, code=code, messages=msgs)
    if proved.success:
        return proved
    return FailedTry(try_id=tid, code=code, messages=format_messages(msgs), lean_messages=tuple(msgs))


async def solved(ctx: AttemptContext, sid: int, step: SketchStep, body: str, aux: list[str], how: str,
                 proved: Proved) -> NodeResult:
    names = {n for b in (step.goal.binders if step.goal else ()) for n in b.names}
    used = sorted({t.text for t in lex(body).tokens if t.kind is Kind.IDENT and t.text in names})
    await ctx.record.step_solved(sid, solved_by=how, proof_text=body, aux=aux, check_id=proved.check_id,
                                 uses_steps=used)
    return NodeResult(status="solved", body=body, aux=tuple(aux))


async def unsolved(ctx: AttemptContext, sid: int, messages: tuple[dict, ...]) -> NodeResult:
    await ctx.record.step_status(sid, "unsolved")
    return NodeResult(status="unsolved", messages=messages)
