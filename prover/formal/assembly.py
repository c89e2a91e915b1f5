"""Step 5 of a formal attempt — assembly: the sketch with its node lemmas, checked as a whole
(only that verdict counts, confirmed out of process with ``--final-check``). The check's
epilogue reports which node lemmas occur in the target's proof term: formal 1 needs every
aligned step's (DESIGN.md, "Labels"), read by the trusted check, not by a linter."""

from __future__ import annotations

from prover.core.formal_step_records import AssemblyResult, StepOutcome
from prover.formal.context import AttemptContext
from prover.formal.sketch import Sketch
from prover.formal.statement import Statement


async def check_assembly(ctx: AttemptContext, st: Statement, sk: Sketch, proofs: dict[str, str],
                         aux: list[str]) -> AssemblyResult:
    final = sk.assemble(proofs, aux)
    ns = tuple(st.problem.target.namespace)
    lemmas = {s.key: ".".join(ns + (s.key,)) for s in sk.holes}
    proved = await ctx.lean.prove(final, st.problem, formal_statement_id=st.formal_statement_id, final=True,
                                  references=st.references, constants=tuple(lemmas.values()))
    await ctx.tried("final", proved, code=final, messages=proved.prompt_messages())
    closing_uses = None if proved.used is None else {key: proved.used.get(name) for key, name in lemmas.items()}
    if proved.success:
        outcome = StepOutcome(status="verified", reason=f"the assembled file is {proved.verdict}")
    elif not proved.definitive:
        outcome = StepOutcome(status="unavailable",
                              reason=f"the assembled file's check gave no definitive answer ({proved.verdict})")
    else:
        outcome = StepOutcome(status="assembly_failed",
                              reason=f"every node was proved alone, but the assembled file is {proved.verdict}")
    return AssemblyResult(outcome=outcome, check_id=proved.check_id, verdict=proved.verdict, closing_uses=closing_uses)
