"""Alignment (part of step 4 of a formal attempt): each ``have`` step of the sketch is
back-translated and judged against the NL step it claims to formalize (n votes, k needed). Formal
1 needs every step aligned; a refuted step counts against the proof only when aligned."""

from __future__ import annotations

import asyncio

from prover.core.formal_step_records import Votes
from prover.formal import prompts
from prover.formal.context import AttemptContext
from prover.formal.leantext import plain_answer
from prover.formal.sketch import Sketch, SketchStep
from prover.formal.sketching import nl_step


async def align_all(ctx: AttemptContext, sk: Sketch, step_ids: dict[int, int], nl_steps: list[str]) -> dict[int, bool]:
    """Every ``have`` step's alignment: step object id → aligned."""
    out: dict[int, bool] = {}

    async def one(step: SketchStep) -> None:
        out[id(step)] = await align(ctx, step, step_ids[id(step)], nl_steps)

    await asyncio.gather(*(one(s) for s in sk.claims))
    return out


async def align(ctx: AttemptContext, step: SketchStep, sid: int, nl_steps: list[str]) -> bool:
    """Back-translate a ``have`` step and ask the judges whether it states its NL step."""
    nl = nl_step(nl_steps, step.nl_step)
    if nl is None:
        await ctx.record.step_alignment(sid, False)
        return False
    statement = step.goal.statement() if step.goal else f": {step.type_text}"
    back = await ctx.ask("formalizer", prompts.align_back(step.name or "this", statement), "align", step.position,
                         "back")
    back_text = plain_answer(back.text) if back.status != "error" else ""
    prompt = prompts.alignment(ctx.proof.statement or "", step.nl_step, nl, back_text or "(no restatement)",
                               step.name or "this", step.type_text or "")
    votes = Votes(votes=await ctx.judge(prompt, ctx.config.alignment_votes, "align", step.position),
                  back=back_text, back_key=back.key)
    aligned = votes.yes >= ctx.config.alignment_needed
    await ctx.record.step_alignment(sid, aligned, votes)
    return aligned
