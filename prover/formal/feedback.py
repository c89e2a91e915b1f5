"""Formal feedback (the end of step 4 for an unsolved node): the node handed back to informal
refinement as an issue of its proof — "could not be established formally (possibly a prover
limitation)", never "wrong" — with the NL step it formalizes and Lean's last messages."""

from __future__ import annotations

from prover.core.formal_step_records import NodeResult
from prover.formal.checker import format_messages
from prover.formal.context import AttemptContext
from prover.formal.sketch import SketchStep
from prover.formal.sketching import nl_step

FEEDBACK = ("Formal check (Lean 4): step {index} of this proof{quote} could not be established formally "
            "(possibly a prover limitation). Its formal version was `{claim}`.{lean}\nThis is not a finding "
            "that the step is wrong; make sure it is stated precisely and fully justified.")


def feedback_text(step: SketchStep, nl: str | None, messages: list[dict]) -> str:
    claim = f"have {step.name} : {' '.join(step.type_text.split())}" if step.type_text else \
        (" ".join(step.goal.conclusion.split()) if step.goal else step.text.strip())
    lean_text = format_messages(messages, width=600)
    return FEEDBACK.format(index=step.nl_step if step.nl_step else "?",
                           quote=f' ("{_excerpt(nl, 200)}")' if nl else "", claim=claim,
                           lean=f"\nLean's last messages:\n{lean_text}" if lean_text else "")


async def write_feedback(ctx: AttemptContext, step: SketchStep, sid: int, node: NodeResult,
                         nl_steps: list[str]) -> tuple[int, str]:
    """The feedback row of an unsolved node: (its id, its text)."""
    nl = nl_step(nl_steps, step.nl_step)
    msgs = list(node.messages)
    text = feedback_text(step, nl, msgs)
    p = ctx.proof
    fid = await ctx.record.feedback(attempt_id=ctx.attempt_id, problem_id=p.problem_id, proof_id=p.id, step_id=sid,
                                    nl_step_index=step.nl_step, nl_step=nl,
                                    statement=step.goal.statement() if step.goal else None, messages=msgs, text=text)
    return fid, text


def _excerpt(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"
