"""Step 3 of a formal attempt — the sketch and its DAG: the formalizer turns the NL proof into
``have`` steps tagged with their NL step, holes as `sorry`, repaired from Lean's messages until
it elaborates; its steps are stored, each hole a node of the lemma DAG. Reading a sketch (its
steps, holes, node lemmas and DAG) is ``sketch.py``; this module asks for one and stores it."""

from __future__ import annotations

import networkx as nx

from prover.core.formal_step_records import FailedTry, StepOutcome
from prover.formal import prompts
from prover.formal.checker import Elaboration, format_messages
from prover.formal.context import AttemptContext
from prover.formal.leantext import extract_lean, strip_comments
from prover.formal.sketch import Sketch, parse_sketch
from prover.formal.statement import Statement


def nl_step(nl_steps: list[str], index: int | None) -> str | None:
    """NL step ``index`` (1-based) of the proof, None when the sketch names no such step."""
    return nl_steps[index - 1] if index and 0 < index <= len(nl_steps) else None


async def make_sketch(ctx: AttemptContext, st: Statement, nl_steps: list[str]) -> tuple[Sketch, int] | StepOutcome:
    """A sketch that elaborates and its ``formal_sketches`` row; each failure is repaired from
    the screen's or Lean's messages, up to ``sketch_attempts`` sketches."""
    lean = strip_comments(st.problem.text)
    prev: FailedTry | None = None  # the last sketch that did not elaborate (try_id: its sketch row)
    reasons = []
    for i in range(ctx.config.sketch_attempts):
        if prev is None:
            prompt = prompts.sketch(ctx.proof.statement or "", lean, nl_steps, bool(st.problem.answer_slots))
        else:
            prompt = prompts.sketch_repair(prev.code, prev.messages)
        res = await ctx.ask("formalizer", prompt, "sketch", i)
        code = extract_lean(res.text) if res.status != "error" else None
        row = dict(attempt_id=ctx.attempt_id, sample_index=i, repair_of=prev.try_id if prev else None,
                   call_key=res.key, text=code, nl_steps=nl_steps)
        if code is None:
            await ctx.record.sketch(**row, status="no_code")
            reasons.append(f"sketch {i}: no ```lean4 block")
            prev = None
            continue
        sk = parse_sketch(code, st.problem)
        if not sk.usable:
            msgs = [{"severity": "error", "line": r.line, "data": f"{r.code.value}: {r.text}"}
                    for r in sk.reasons] or [{"severity": "error", "data": "the sketch does not declare the theorem"}]
            sid = await ctx.record.sketch(**row, status="rejected", reasons=[m["data"] for m in msgs])
            reasons.append(f"sketch {i}: rejected by the screen")
            prev = FailedTry(try_id=sid, code=code, messages=format_messages(msgs))
            continue
        el = await elaborate_sketch(ctx, sk)
        if not el.ok:
            status = "inconclusive" if el.ok is None else "not_elaborated"
            sid = await ctx.record.sketch(**row, elaborates=el.ok, messages=el.messages, status=status)
            reasons.append(f"sketch {i}: {status}")
            prev = FailedTry(try_id=sid, code=code, messages=el.error_text())
            continue
        sid = await ctx.record.sketch(**row, elaborates=True, messages=el.messages, status="elaborated",
                                      dag=nx.node_link_data(sk.dag(), edges="edges"))
        return sk, sid
    return StepOutcome(status="sketch_failed", reason="no sketch elaborated: " + "; ".join(reasons))


async def elaborate_sketch(ctx: AttemptContext, sk: Sketch) -> Elaboration:
    """Elaborate the sketch, with ``extract_goal`` at the holes the text gives no context for:
    their goals are read from its messages (a hole whose goal cannot be read stays without
    one, and the nodes step says so)."""
    need = [s for s in sk.holes if s.needs_extract]
    if need:  # another text, screened for its own elaboration
        el = await ctx.lean.elaborate_with_sorry(sk.problem, sk.with_extract_goal())
    else:  # the text ``parse_sketch`` screened: its parts go on
        el = await ctx.lean.elaborate_with_sorry(sk.problem, sk.text, parts=sk.parts)
    if el.ok and need:
        by_line = el.infos_by_proof_line()
        for s in need:
            msg = by_line.get(sk.hole_line(s))
            if msg is not None:
                sk.set_extracted(s, msg)
    return el


async def store_steps(ctx: AttemptContext, sk: Sketch, sketch_id: int, nl_steps: list[str]) -> dict[int, int]:
    """Every step of the sketch as a ``formal_steps`` row: step object id → row id."""
    dag = sk.dag()
    ids: dict[int, int] = {}
    for s in sk.steps:
        ids[id(s)] = await ctx.record.step(
            attempt_id=ctx.attempt_id, sketch_id=sketch_id, position=s.position, kind=s.kind, node_key=s.key or None,
            name=s.name, nl_step_index=s.nl_step, nl_step=nl_step(nl_steps, s.nl_step), type_text=s.type_text,
            statement=s.goal.statement() if s.goal else None,
            memo_key=sk.memo_key(s) if (s.hole and s.goal) else None,
            context_source=s.context_source if s.hole else None, hole=s.hole,
            depends_on=sorted(dag.predecessors(s.key)) if s.hole else [],
            status="open" if s.hole else "proved_in_sketch")
    return ids


async def store_dag(ctx: AttemptContext, sk: Sketch, sketch_id: int, step_ids: dict[int, int],
                    proofs: dict[str, str]) -> None:
    """The DAG once the nodes are filled: edges from what each node's statement and proof
    mention (a step's ``depends_on``, the sketch's ``dag``)."""
    dag = sk.dag(proofs)
    for s in sk.holes:
        await ctx.record.step_edges(step_ids[id(s)], sorted(dag.predecessors(s.key)))
    await ctx.record.sketch_dag(sketch_id, nx.node_link_data(dag, edges="edges"))

