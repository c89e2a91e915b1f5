"""The formal stage in a run: ``prover run --formal`` (the informal search with the formal stage
started on proofs the moment they are selected, and its feedback given to later refinements) and
``prover formalize PROOF_ID`` (the formal stage on one stored proof).

**Which proofs.** Proofs chosen for refinement in a round and each search's final proof
(population ``selected``), plus, with ``--formal-sample K``, K pool proofs per problem drawn
uniformly at random once the search ends (population ``random``, inclusion probability K / pool
size). Both are written into the proof's metadata (``formal_population``,
``formal_inclusion_probability``) for cross-checks.

**Feedback on time.** A proof's attempt starts when the proof is selected for refinement, and
the refinements of that proof wait for it (``ProblemSearch.generate``): they are given that
proof's own feedback, in the same round — so at ``--budget small`` (one refinement round) too —
and its step numbers are those of the text being refined, never a parent's. The wait depends
only on the proof, so an identical command builds identical requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prover.core.errors import PrerequisiteError
from prover.core.formal_records import TRIVIAL_TACTICS, FormalConfig, FormalEstimate, FormalResult
from prover.core.llm_records import ModelConfig
from prover.formal.checker import LeanRunner
from prover.formal.engine import FormalEngine, ProofInfo, load_proof, sample_pool

if TYPE_CHECKING:
    from prover.store import ProofStore


DOCTOR = "run `prover lean doctor` to see what is missing and how to install it"


@dataclass(frozen=True)
class FormalSettings:
    """How a run's formal stage reaches Lean, and what it does."""

    config: FormalConfig = FormalConfig()
    sample: int = 0
    """``--formal-sample K``: pool proofs per problem drawn at random for the formal stage."""
    backend: str = "repl"
    """Lean backend (``repl``, ``file``, ``kimina``)."""
    project: str | None = None
    kimina_url: str | None = None
    processes: int | None = None
    memory_cap_bytes: int | None = 8 * 1024**3
    final_check: str = "lean4checker"
    """``--final-check``: the independent checker that confirms a verified assembled file out of
    process (``prover.lean.final_check``; ``none``: no confirmation)."""


def open_lean(settings: FormalSettings):
    """(backend, pin) for the formal stage, or PrerequisiteError saying what is missing and
    pointing at ``prover lean doctor`` — before anything else happens."""
    from prover.lean.backends import open_backend
    from prover.lean.toolchain import read_pin

    try:
        pin = read_pin(settings.project)
        backend = open_backend(settings.backend, project=settings.project, kimina_url=settings.kimina_url,
                               memory_cap_bytes=settings.memory_cap_bytes, max_processes=settings.processes)
    except PrerequisiteError as exc:
        text = str(exc)
        raise PrerequisiteError(f"the formal stage needs a usable Lean toolchain; no model was called. {text}"
                                + ("" if "prover lean doctor" in text else f"\n{DOCTOR}")) from None
    return backend, pin


def proof_info(store: ProofStore, search: Any, proof: Any) -> ProofInfo:
    """A pool proof of a running search as the formal stage sees it."""
    p = search.p
    cached = getattr(search, "_formal_problem", None)
    if cached is None:
        cached = (store.get_problem(p.id).collection, store.formal_statements(p.id))
        search._formal_problem = cached
    return ProofInfo(id=proof.id, problem_id=p.id, problem_key=p.key, collection=cached[0], statement=p.statement,
                     text=proof.text, answer=proof.answer, answer_problem=p.reference_answer is not None,
                     formal_statements=cached[1])


@dataclass
class FormalHooks:
    """The formal stage plugged into informal searches (``SearchHooks``)."""

    engine: FormalEngine
    sample: int = 0
    seed: int = 0
    tasks: dict[int, list[asyncio.Task]] = field(default_factory=dict)
    """Formal attempts started, by problem."""
    started: dict[int, asyncio.Task] = field(default_factory=dict)
    """By proof id."""
    results: list[FormalResult] = field(default_factory=list)
    feedback: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    """Finished attempts' feedback, by proof id."""

    def _start(self, search: Any, proof: Any, population: str, probability: float | None = None) -> None:
        if proof.id is None:
            return
        if proof.id in self.started and population == "selected":
            return
        info = proof_info(self.engine.store, search, proof)

        async def one() -> None:
            result, fb = await self.engine.formalize(info, population=population,
                                                     inclusion_probability=probability)
            if proof.id not in self.feedback:
                self.results.append(result)
            self.feedback[proof.id] = fb

        task = asyncio.ensure_future(one())
        self.started.setdefault(proof.id, task)
        self.tasks.setdefault(search.p.id, []).append(task)

    async def _wait(self, search: Any) -> None:
        pending = self.tasks.get(search.p.id, [])
        if pending:
            await asyncio.gather(*pending)

    def selected(self, search: Any, proofs: Sequence[Any], r: int) -> None:
        for proof in proofs:
            self._start(search, proof, "selected")

    async def refinement_notes(self, search: Any, proof: Any) -> list[tuple[int, str]]:
        """The feedback of ``proof``'s own attempt, once it is done (started when the proof was
        selected). An attempt that ended in an exception gives none here; ``finished`` reports it."""
        if proof.id is None:
            return []
        if proof.id not in self.started:
            self._start(search, proof, "selected")
        task = self.started[proof.id]
        # Several refinements of one proof wait for the same attempt; none may cancel it.
        await asyncio.wait([task])
        return list(self.feedback.get(proof.id, []))

    async def finished(self, search: Any, best: Any) -> None:
        if best is not None:
            self._start(search, best, "selected")
        if self.sample:
            pool = {p.id: p for p in search.pool if p.id is not None and p.text.strip()
                    and p.status not in ("truncated", "empty")}
            drawn, probability = sample_pool({pid: p.text for pid, p in pool.items()}, self.sample,
                                             self.seed, search.p.key)
            for pid in drawn:
                self._start(search, pool[pid], "random", probability)
        await self._wait(search)


ASSUMED_STEPS = 6
"""Sketch steps per attempt that ``--dry-run`` assumes (a sketch's length is unknown before it
is written)."""


def estimate_formal(problems: Sequence[Any], knobs: Any, settings: FormalSettings, *,
                    steps: int = ASSUMED_STEPS) -> FormalEstimate:
    """The most the formal stage of a run may ask: prover, formalizer and judge calls and Lean
    checks. Statement-level work (the statement and its gate, the root's portfolio, direct
    attempts and negation) counts once per problem — it is shared by the problem's attempts;
    the rest (sketch, nodes with repairs and negations, alignment votes, the assembled file)
    once per attempt, for ``steps`` nodes each. Problems with a reference answer may gate one
    autoformalized statement per distinct answer: counted per attempt."""
    c = settings.config
    P = len(c.portfolio)
    attempts = knobs.rounds * knobs.refine_top + 1 + settings.sample
    # The statement: at worst autoformalized (a candidate, its elaboration, a back-translation
    # and n votes per try; for answer problems the lone-tactic checks, twice).
    auto_calls = {"formalizer": 2 * c.autoformalize_attempts, "judge": c.faithfulness_votes * c.autoformalize_attempts}
    auto_checks = 1 + c.autoformalize_attempts  # the given statement's elaboration, each candidate's
    # The root: portfolio, direct attempts, the negation (portfolio, prover samples).
    root_prover = c.direct_attempts + (c.refute_samples if c.refute else 0)
    root_checks = P + c.direct_attempts + ((P + c.refute_samples) if c.refute else 0)
    # One attempt: sketches, then per node the portfolio, samples, its negation; repairs within
    # both bounds; alignment of each step; the assembled file.
    repairs = min(steps * c.repairs_per_node, c.repairs_per_proof)
    node_prover = steps * (c.node_samples + (c.refute_samples if c.refute else 0)) + repairs
    node_checks = c.sketch_attempts + steps * (P + c.node_samples + ((P + c.refute_samples) if c.refute else 0)) \
        + repairs + 1
    by_role = {"prover": 0, "formalizer": 0, "judge": 0}
    checks = 0
    per_problem_calls = per_problem_checks = 0
    for p in problems:
        statements = attempts if p.reference_answer is not None else 1
        trivial = 2 * len(TRIVIAL_TACTICS) * c.autoformalize_attempts if p.reference_answer is not None else 0
        roles = {"prover": root_prover + attempts * node_prover,
                 "formalizer": statements * auto_calls["formalizer"] + attempts * (c.sketch_attempts + steps),
                 "judge": statements * auto_calls["judge"] + attempts * steps * c.alignment_votes}
        n_checks = statements * (auto_checks + trivial) + root_checks + attempts * node_checks
        for r, n in roles.items():
            by_role[r] += n
        checks += n_checks
        per_problem_calls = max(per_problem_calls, sum(roles.values()))
        per_problem_checks = max(per_problem_checks, n_checks)
    return FormalEstimate(attempts_per_problem=attempts, assumed_steps=steps, calls_by_role=by_role,
                          calls_per_problem=per_problem_calls, lean_checks=checks,
                          lean_checks_per_problem=per_problem_checks)


def make_engine(store: ProofStore, client: Any, lean_backend: Any, pin: Any, config: FormalConfig, *,
                run_id: int | None, worker: Any = None, final_check: str = "none") -> FormalEngine:
    lean = LeanRunner(lean_backend, pin, limits=config.limits, store=store, final_check=final_check)
    return FormalEngine(store, client, lean, config, run_id=run_id, worker=worker)


def formalize_proofs(store: ProofStore, proof_ids: Sequence[int], *, config: FormalConfig, model_config: ModelConfig,
                     lean_backend: Any, pin: Any, backends: Mapping[str, Any] | None = None,
                     command: Sequence[str] | None = None, final_check: str = "none") -> list[FormalResult]:
    """``prover formalize``: the formal stage on stored proofs (each attempted once; a finished
    attempt with the same identity is returned as it is)."""
    from prover.informal.worker import StoreWorker
    from prover.llm import ModelClient

    proofs = [load_proof(store, pid) for pid in proof_ids]
    run_id = store.start_run("formalize", command=list(command or []), seed=config.seed,
                             config={"formal": config.model_dump(mode="json"), "proofs": list(proof_ids)})
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends)
    started = time.perf_counter()

    async def main() -> list[FormalResult]:
        worker = StoreWorker(store)
        engine = make_engine(store, client, lean_backend, pin, config, run_id=run_id, worker=worker,
                             final_check=final_check)
        try:
            out = await asyncio.gather(*(engine.formalize(p) for p in proofs))
            return [r for r, _ in out]
        finally:
            await worker.aclose()
            await client.aclose()

    try:
        results = asyncio.run(main())
    except BaseException as exc:
        store.abort_run(run_id, exc)
        raise
    status = "incomplete" if any(r.status in ("incomplete", "unavailable", "error") for r in results) else "completed"
    store.finish_run(run_id, status=status, summary={
        "attempts": [r.model_dump(mode="json") for r in results], "sent": client.stats.sent,
        "cached": client.stats.cached, "seconds": time.perf_counter() - started})
    return results
