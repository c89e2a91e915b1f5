"""The formal stage on one NL proof (DESIGN.md, "Data flow", step 3): ``FormalEngine`` (one per
run) and ``Attempt``, the orchestrator that takes one proof through the steps, each a module of
this package:

1. **Statement** (``statement.py``) — the problem's compatible given statement (trusted by
   collection, or through the faithfulness gate), else an autoformalized one that elaborates
   with `sorry`, passes the answer checks and the gate.
2. **Root** (``root.py``) — the statement-level work, shared by every proof of the problem: the
   tactic portfolio, the prover's direct whole proof (pass@k) — ``statement_proved`` evidence,
   never a label for the NL proof — then the root's negation (a refutation).
3. **Sketch** (``sketching.py``, read by ``sketch.py``) — the formalizer turns the NL proof into
   ``have`` steps tagged with their NL step, holes as `sorry`, repaired until it elaborates; the
   holes are the nodes of a lemma DAG.
4. **Nodes** (``nodes.py``) — each hole filled (memo, portfolio, prover, repairs from Lean's
   messages), concurrently up to the Lean pool's size; an open node's negation tried; each
   ``have`` step voted on against its NL step (``alignment.py``); an unsolved node becomes
   formal feedback for informal refinement (``feedback.py``).
5. **Assembly** (``assembly.py``) — the sketch with its node lemmas, checked as a whole: only
   that verdict counts.

Steps share an ``AttemptContext`` (``context.py``: the proof, model calls, Lean, counters) and
hand each other the records of ``prover.core.formal_step_records``. Every call, check and
decision is a row, written through ``recorder.py`` (``prover/store/formal.py``); Lean is asked
through ``checker.py``. Model calls go through the call cache and definitive Lean checks through
the check cache, so an interrupted attempt runs again without asking anything twice."""

from __future__ import annotations

import asyncio
import random
import traceback
from typing import TYPE_CHECKING, Any, Mapping

from prover.core.errors import ConfigError, LeaseHeldError, LeaseLostError
from prover.core.formal_records import FormalConfig, FormalResult
from prover.core.formal_step_records import AttemptRow, NodeResult, StepOutcome
from prover.core.hashing import hash_json, sha256_text
from prover.core.llm_records import ChatMessage, ModelRequest
from prover.formal import prompts
from prover.formal.alignment import align_all
from prover.formal.assembly import check_assembly
from prover.formal.checker import LeanRunner, SingleFlight
from prover.formal.context import FORMAL_VERSION, AttemptContext, ProofInfo, load_proof
from prover.formal.feedback import write_feedback
from prover.formal.leantext import split_steps
from prover.formal.nodes import fill_all
from prover.formal.recorder import FormalRecorder
from prover.formal.root import root
from prover.formal.sketch import SketchStep
from prover.formal.sketching import make_sketch, store_dag, store_steps
from prover.formal.statement import Statement, choose_statement

if TYPE_CHECKING:
    from prover.store import ProofStore


__all__ = ["FormalEngine", "Attempt", "ProofInfo", "load_proof", "sample_pool", "FORMAL_VERSION"]

ROLES = ("formalizer", "prover", "judge")


class FormalEngine:
    """The formal stage for a run: one model client, one Lean runner, one store."""

    def __init__(self, store: ProofStore, client: Any, lean: LeanRunner, config: FormalConfig, *,
                 run_id: int | None = None, worker: Any = None):
        self.store = store
        self.client = client
        self.lean = lean
        self.config = config
        self.run_id = run_id
        self.worker = worker
        self._gates: dict[str, asyncio.Future] = {}
        self._attempts: dict[str, asyncio.Future] = {}
        self.flights = SingleFlight()
        """Work that many attempts may ask for at once, done once while in flight."""
        self.record = FormalRecorder(store, self.db)

    async def db(self, fn, *args, **kwargs):
        """A store operation off the event loop (on the search's writer thread when there is one)."""
        if self.worker is not None:
            return await self.worker.run(fn, *args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def role_models(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for role in ROLES:
            req = ModelRequest(role=role, messages=(ChatMessage(role="user", content="-"),))  # type: ignore[arg-type]
            try:
                call = self.client.expand(req)[0]
            except ConfigError:
                out[role] = None
                continue
            out[role] = [call.backend, call.model, call.temperature, call.top_p, call.max_tokens]
        return out

    def attempt_key(self, proof: ProofInfo) -> str:
        return hash_json({"v": FORMAL_VERSION, "proof": proof.id, "problem": proof.problem_key,
                          "config": self.config.identity(), "templates": prompts.fingerprint(),
                          "models": self.role_models(), "toolchain": self.lean.toolchain,
                          "mathlib": self.lean.pin.mathlib_rev})

    async def formalize(self, proof: ProofInfo, *, population: str = "manual",
                        inclusion_probability: float | None = None) -> tuple[FormalResult, list[tuple[int, str]]]:
        """Run (or find) the formal attempt on one proof: its result and its feedback issues
        (id, text). The same proof asked twice in a run is attempted once."""
        key = self.attempt_key(proof)
        meta: dict[str, Any] = {"formal_population": [population]}
        if inclusion_probability is not None:
            meta["formal_inclusion_probability"] = inclusion_probability
        if proof.id is not None and population != "manual":
            await self.db(self.store.merge_proof_metadata, proof.id, meta)
        if _redo(self._attempts.get(key)):
            self._attempts[key] = asyncio.ensure_future(
                Attempt(self, proof, key, population, inclusion_probability).run())
        return await asyncio.shield(self._attempts[key])

    async def shared(self, key: str, make):
        """One computation per key in a run (a statement's gate or root work, shared by the proofs of
        its problem)."""
        if _redo(self._gates.get(key)):
            self._gates[key] = asyncio.ensure_future(make())
        return await asyncio.shield(self._gates[key])


def _redo(fut: asyncio.Future | None) -> bool:
    """Whether to start a computation again: never started, or stopped because this worker lost
    the problem's lease (cancelled, or a write refused) — it may hold the lease again later."""
    if fut is None:
        return True
    return fut.done() and (fut.cancelled() or isinstance(fut.exception(), LeaseLostError))


class Attempt:
    """One formal attempt on one proof: the steps in order, and the attempt's row."""

    def __init__(self, engine: FormalEngine, proof: ProofInfo, key: str, population: str,
                 inclusion_probability: float | None):
        self.e = engine
        self.proof = proof
        self.key = key
        self.population = population
        self.inclusion_probability = inclusion_probability
        self.ctx = AttemptContext(engine, proof)
        self.checks0 = 0
        self.feedback: list[tuple[int, str]] = []
        self.row = AttemptRow()
        """The attempt's own row, written as its steps fill it in."""

    async def _begin(self) -> tuple[int, bool]:
        """The attempt's row: (id, finished). A worker finding the very same attempt running under
        another live worker's lease (another run over the same problem, same settings) waits for
        its result — or for that lease to expire — rather than stop; anyone else is told."""
        p, delay = self.proof, 0.5
        while True:
            try:
                return await self.e.db(
                    self.e.store.begin_formal_attempt, self.key, problem_id=p.problem_id, proof_id=p.id,
                    run_id=self.e.run_id, population=self.population,
                    inclusion_probability=self.inclusion_probability, config=self.e.config.identity())
            except LeaseHeldError:
                if self.e.store.lease_holder is None:
                    raise
                await asyncio.sleep(delay)
                delay = min(2 * delay, 15.0)

    async def run(self) -> tuple[FormalResult, list[tuple[int, str]]]:
        ctx = self.ctx
        self.checks0 = self.e.lean.checks
        ctx.attempt_id, finished = await self._begin()
        if finished:
            return await self._stored_result()
        try:
            outcome = await self._stages()
        except LeaseLostError:
            raise  # another worker has the problem now: nothing more is this attempt's to write
        except Exception as exc:  # noqa: BLE001 - one attempt's bug must not end the run
            # The attempt is marked `error` with its traceback; the run goes on and says so. (A
            # cancelled or interrupted attempt stays `running`.) Either way the next run redoes it.
            trace = "".join(traceback.format_exception(exc))
            leaf = exc
            while isinstance(leaf, BaseExceptionGroup):  # a task group's: name what was raised
                leaf = leaf.exceptions[0]
            self.row = self.row.updated(status="error", stop_reason=f"error: {type(leaf).__name__}: {leaf}"[:500],
                                        error=trace, calls=ctx.calls, checks=self.e.lean.checks - self.checks0,
                                        repairs=ctx.repairs)
            await self.e.record.attempt(ctx.attempt_id, self.row)
            self.feedback = []
            return self._result(), self.feedback
        status, reason = outcome.status, outcome.reason
        if ctx.failures and status not in ("verified", "statement_proved", "refuted", "step_refuted"):
            status, reason = "incomplete", (f"{ctx.failures} model call(s) failed after retries; "
                                            f"run the same command again to continue ({reason})")
        self.row = self.row.updated(status=status, stop_reason=reason, calls=ctx.calls,
                                    checks=self.e.lean.checks - self.checks0, repairs=ctx.repairs)
        await self.e.record.attempt(ctx.attempt_id, self.row)
        return self._result(), self.feedback

    async def _stored_result(self) -> tuple[FormalResult, list[tuple[int, str]]]:
        a = await self.e.db(self.e.store.formal_attempt, self.ctx.attempt_id)
        fb = await self.e.db(self.e.store.formal_rows, "feedback", attempt_id=self.ctx.attempt_id)
        self.feedback = [(f.id, f.text) for f in fb]
        self.row = AttemptRow.model_validate({k: getattr(a, k) for k in AttemptRow.model_fields})
        return self._result(reused=True), self.feedback

    def _result(self, reused: bool = False) -> FormalResult:
        r = self.row
        return FormalResult(attempt_id=self.ctx.attempt_id, proof_id=self.proof.id, problem_id=self.proof.problem_id,
                            status=r.status, stop_reason=r.stop_reason or "", statement_source=r.statement_source,
                            statement_faithful=r.statement_faithful, root_closed_by=r.root_closed_by, nodes=r.nodes,
                            nodes_solved=r.nodes_solved, nodes_refuted=r.nodes_refuted,
                            nodes_unsolved=r.nodes_unsolved, steps_aligned=r.steps_aligned,
                            final_verdict=r.final_verdict, feedback=len(self.feedback), calls=r.calls,
                            checks=r.checks, reused=reused)

    async def _stages(self) -> StepOutcome:
        st = await choose_statement(self.ctx)
        if isinstance(st, StepOutcome):
            return st
        self.ctx.statement = st
        self.row = self.row.updated(formal_statement_id=st.formal_statement_id, statement_source=st.source,
                                    statement_trusted=st.trusted, gate_id=st.gate_id, statement_faithful=st.faithful)
        await self.e.record.attempt(self.ctx.attempt_id, self.row)
        found = await root(self.ctx, st)
        if isinstance(found, StepOutcome):
            return found
        if found.closed_by is not None:
            self.row = self.row.updated(root_closed_independently=True, root_closed_by=found.closed_by,
                                        direct_check_id=found.check_id)
            return StepOutcome(status="statement_proved", reason=found.reason)
        return await self.sketch_stage(st)

    async def sketch_stage(self, st: Statement) -> StepOutcome:
        """Steps 3 to 5: the sketch, its nodes (and alignment, feedback), the assembled file."""
        ctx = self.ctx
        nl_steps = split_steps(self.proof.text)
        made = await make_sketch(ctx, st, nl_steps)
        if isinstance(made, StepOutcome):
            return made
        sketch, sketch_id = made
        step_ids = await store_steps(ctx, sketch, sketch_id, nl_steps)
        holes = sketch.holes
        self.row = self.row.updated(sketch_id=sketch_id, nodes=len(holes))
        await self.e.record.attempt(ctx.attempt_id, self.row)
        aligned_task = asyncio.ensure_future(align_all(ctx, sketch, step_ids, nl_steps))
        try:
            filled = await fill_all(ctx, sketch, step_ids, nl_steps)
        finally:
            aligned = await aligned_task
        proofs: dict[str, str] = {}
        aux: list[str] = []
        refuted: list[tuple[SketchStep, NodeResult]] = []
        unsolved: list[tuple[SketchStep, NodeResult]] = []
        for step in sketch.order():
            done = filled[step.key]
            if done.status == "solved":
                proofs[step.key] = done.body  # type: ignore[assignment]
                aux.extend(done.aux)
            elif done.status == "refuted":
                refuted.append((step, done))
            else:
                unsolved.append((step, done))
        await store_dag(ctx, sketch, sketch_id, step_ids, proofs)
        claims = sketch.claims
        steps_aligned = all(aligned.get(id(s), False) for s in claims) if claims else None
        for step, done in refuted:
            faithful = bool(aligned.get(id(step))) and bool(st.faithful) if step.kind == "have" else None
            await self.e.record.refutation_faithful(done.refutation_id, faithful)  # type: ignore[arg-type]
        self.row = self.row.updated(steps_aligned=steps_aligned, nodes_solved=len(proofs),
                                    nodes_refuted=len(refuted), nodes_unsolved=len(unsolved))
        for step, done in unsolved:
            self.feedback.append(await write_feedback(ctx, step, step_ids[id(step)], done, nl_steps))
        if refuted:
            return StepOutcome(status="step_refuted",
                               reason=f"Lean proved the negation of {len(refuted)} step(s) in context")
        if unsolved:
            return StepOutcome(status="unsolved", reason=f"{len(unsolved)} of {len(holes)} node(s) could not be "
                                                         "established (handed back as formal feedback)")
        final = await check_assembly(ctx, st, sketch, proofs, aux)
        self.row = self.row.updated(final_check_id=final.check_id, final_verdict=final.verdict,
                                    config={**self.e.config.identity(), "closing_uses": final.closing_uses})
        return final.outcome


def sample_pool(pool: Mapping[int, str], k: int, seed: int, problem_key: str) -> tuple[list[int], float | None]:
    """K proofs of ``pool`` (proof id → text) drawn uniformly without replacement (seeded by run
    seed and problem), as ids, and each one's inclusion probability K / pool size.

    The draw is over the texts' hashes in order, not over ids: ids follow insertion order, which
    the timing of concurrent work decides, so two runs with the same seed and the same proofs
    must draw the same texts whatever ids they got. (Equal texts are told apart by id.)"""
    if k <= 0 or not pool:
        return [], None
    k = min(k, len(pool))
    rng = random.Random(int(sha256_text(f"formal-sample:{seed}:{problem_key}"), 16))
    ordered = sorted((sha256_text(text), pid) for pid, text in pool.items())
    return [pid for _h, pid in rng.sample(ordered, k)], k / len(pool)
