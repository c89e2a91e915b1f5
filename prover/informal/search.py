"""DeepSeekMath-V2's search for one problem, and the two ways of scheduling many searches.

Per problem, per round: the proofs of the round are generated (N fresh ones in round 0; in round
r ≥ 1, P refinements of each of the K best pool proofs, each given A of its analyses); each proof
is verified M times (unparsed verdicts — lenient ones included: only a score after the contract
phrase counts — re-sampled up to ``max_verdict_retries``), or with ``verification_wave`` in waves
that stop once the proof cannot pass (``VerificationWaves``); each analysis that reports issues is
meta-verified m times; proofs of problems with a reference answer have their final answer checked
(normalised match, math-verify, then the judge). The problem stops when a proof passes all M
verifications with M parsed verdicts, after R refinement rounds, or when its budget is spent.

**Determinism.** Round r+1 is planned only once everything of rounds ≤ r is in or has failed for
good; every random choice uses an RNG seeded by (run seed, problem, purpose, round) and every
request seed derives from (run seed, problem, stage, round, index). An identical command builds
identical requests. **Resume.** Every row the search stores is the answer of one model call and is
found again by that call's key: a search that runs again rebuilds its pool from the stored rows,
re-deriving the same requests and asking only those that have no row (the call cache answers
those that were answered before a crash without sending them again).

**Scheduling.** ``run_pipelined``: a proof is verified the moment it exists, analyses are
meta-verified the moment they exist, problems interleave freely, and the model client's one
concurrency limit keeps the backends busy. ``run_barrier``: DeepSeekMath-V2's reference scripts
(each round: all generations of all problems, then all verifications, then all
meta-verifications) — the same calls, kept for the benchmark."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from prover.core.errors import ConfigError
from prover.core.hashing import hash_json
from prover.core.informal_records import ProblemResult, SearchConfig
from prover.core.llm_records import ChatMessage, ModelRequest, ModelResult, SamplingParams
from prover.informal.answers import compare_answers, extract_answer
from prover.informal.parsers import parse_generation, parse_judgement, parse_meta, parse_verdict
from prover.informal.pool import (PoolProof, PoolVerdict, VerificationWaves, best_proof, informal_label, pair_analyses,
                                  select_for_refinement)
from prover.informal.prompts import Templates
from prover.informal.seeds import derive_seed, search_rng
from prover.informal.worker import StoreWorker

if TYPE_CHECKING:
    from prover.store import ProofStore


ENGINE_VERSION = 2
"""Bumped when the search would ask different things for the same settings (2: strict verdict
parsing re-samples lenient verdicts; verification in waves)."""

ROLES_USED = ("generator", "verifier", "meta_verifier", "judge")
STAGES = ("generate", "refine", "verify", "meta", "judge")
"""Progress stages (``generate``: round 0 proofs, ``refine``: refined proofs)."""


@dataclass(frozen=True)
class ProblemInfo:
    """What a search needs to know of its problem."""

    id: int
    label: str
    """``COLLECTION/EXTERNAL_ID``."""
    key: str
    """``COLLECTION/EXTERNAL_ID/STATEMENT_HASH``: seeds derive from it."""
    statement: str | None
    reference_answer: str | None = None
    """Never reaches a generator, verifier, meta-verifier or refinement prompt."""


class Progress(Protocol):
    """Where a search reports what it plans and finishes (progress bars)."""

    def planned(self, stage: str, n: int) -> None: ...

    def done(self, stage: str, n: int = 1) -> None: ...

    def problem_done(self, result: ProblemResult) -> None: ...


class SearchHooks(Protocol):
    """What another stage (the formal stage of ``prover run --formal``) plugs into a search. The
    search calls them at fixed points, so that an identical command still builds identical
    requests: ``selected`` may start work on the proofs chosen for refinement, and
    ``refinement_notes`` may wait for that work — its answer must depend only on the proof."""

    def selected(self, search: "ProblemSearch", proofs: Sequence[PoolProof], r: int) -> None: ...

    async def refinement_notes(self, search: "ProblemSearch", proof: PoolProof) -> list[tuple[int, str]]:
        """(id, text) issues to give a refinement of ``proof`` besides its analyses."""
        ...

    async def finished(self, search: "ProblemSearch", best: PoolProof | None) -> None: ...


class NullProgress:
    def planned(self, stage: str, n: int) -> None:
        pass

    def done(self, stage: str, n: int = 1) -> None:
        pass

    def problem_done(self, result: ProblemResult) -> None:
        pass


@dataclass
class Engine:
    """What the searches of a run share."""

    store: ProofStore
    """The ProofStore."""
    client: Any
    """The ModelClient (its concurrency limit is the run's one limit)."""
    config: SearchConfig
    templates: Templates
    run_id: int | None = None
    progress: Progress = field(default_factory=NullProgress)
    worker: StoreWorker | None = None
    hooks: SearchHooks | None = None
    """Another stage plugged into the search (None: the plain informal search)."""

    def __post_init__(self) -> None:
        if self.worker is None:
            self.worker = StoreWorker(self.store)

    def role_models(self) -> dict[str, Any]:
        """What identifies each role's model (backend, model, sampling defaults)."""
        out: dict[str, Any] = {}
        for role in ROLES_USED:
            req = ModelRequest(role=role, messages=(ChatMessage(role="user", content="-"),))  # type: ignore[arg-type]
            try:
                call = self.client.expand(req)[0]
            except ConfigError:
                out[role] = None  # a role the run may never use (the judge without answers)
                continue
            out[role] = [call.backend, call.model, call.temperature, call.top_p, call.max_tokens]
        return out


def search_key(problem: ProblemInfo, config: SearchConfig, templates: Templates, models: dict[str, Any]) -> str:
    """A search's identity: what decides its requests. Not the round count nor the budgets, so a
    later command with more rounds or budget continues the same search."""
    return hash_json({
        "v": ENGINE_VERSION, "problem": problem.key,
        "knobs": config.knobs.model_dump(exclude={"rounds"}),
        "max_verdict_retries": config.max_verdict_retries, "verification_wave": config.verification_wave,
        "seed": config.seed,
        "answer_judge": config.answer_judge, "templates": templates.fingerprint(), "models": models,
    })


def max_calls_per_proof(config: SearchConfig, has_reference: bool) -> int:
    """Most calls a proof can cost: its generation, M verifications and the retries, m
    meta-verifications of each of at most M issue-reporting analyses, one judge call."""
    k = config.knobs
    return (1 + k.verifications + config.max_verdict_retries + k.verifications * k.meta_verifications
            + (1 if has_reference and config.answer_judge else 0))


@dataclass
class Slot:
    """One proof to generate: its place, prompt, seed and lineage."""

    round: int
    index: int
    prompt: str
    seed: int
    parent_ids: list[int] = field(default_factory=list)
    analysis_ids: list[int] = field(default_factory=list)
    feedback_ids: list[int] = field(default_factory=list)
    """Issues from another stage (formal feedback) given with the analyses."""
    notes_of: PoolProof | None = None
    """The proof this slot refines while another stage's notes on it are still to come: the
    prompt is written when they are (``ProblemSearch.generate``)."""
    analyses: list[str] = field(default_factory=list)
    """The analyses given with the refinement (kept to write the prompt with the notes)."""


_TRANSIENT = object()


def _tokens(res: ModelResult) -> int:
    return (res.prompt_tokens or 0) + (res.completion_tokens or 0)


def _lenient_extra(parsed: Any) -> dict[str, Any]:
    # A lenient reading is stored beside the row (the score column stays empty: it never counts).
    return {"lenient_score": parsed.lenient_score} if parsed.lenient_score is not None else {}


def record_answer(plan: VerificationWaves, verdict: Any) -> None:
    """Feed a ``verification`` outcome (a PoolVerdict, None, or ``_TRANSIENT``) to a plan."""
    if verdict is _TRANSIENT:
        plan.record(None, transient=True)
    else:
        plan.record(verdict.score if verdict is not None else None)


def _verifiable(proof: PoolProof) -> bool:
    return bool(proof.text.strip()) and proof.status not in ("truncated", "empty")


class ProblemSearch:
    """The search of one problem. ``run`` does it pipelined; ``plan``, ``generate``,
    ``verification``, ``meta``, ``check_answer`` and ``end_round`` are the steps a scheduler
    composes."""

    def __init__(self, engine: Engine, problem: ProblemInfo):
        self.e = engine
        self.p = problem
        self.config = engine.config
        self.k = engine.config.knobs
        self.pool: list[PoolProof] = []
        self.rows: Any = None
        self.search_id: int | None = None
        self.key = ""
        self.calls = 0
        self.tokens = 0
        self.failures = 0
        self.judge_saved = 0
        """Answers math-verify decided, each a judge call normalisation alone would have needed."""
        self.last_error = ""
        self.status = "running"
        self.stop_reason = ""
        self.rounds = 0
        self.seconds = 0.0
        self._t0 = 0.0
        self.result: ProblemResult | None = None
        self._prompts: dict[int, str] = {}
        # Keyed by id() of pool objects: their background row writes, and the keys of the calls
        # that made them (a child row names its parent by that key until the parent has an id).
        self._writes: dict[int, asyncio.Future[int]] = {}
        self._keys: dict[int, str] = {}
        self._meta_writes: list[asyncio.Future[int]] = []

    # -- life ---------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.status != "running"

    async def open(self) -> None:
        """Load what is stored for the problem and open (or create) the search row."""
        self._t0 = time.perf_counter()
        if not (self.p.statement or "").strip():
            self.status, self.stop_reason = "skipped", "no informal statement"
            return
        models = self.e.role_models()
        self.key = search_key(self.p, self.config, self.e.templates, models)
        config = {"search": self.config.model_dump(mode="json"), "templates": self.e.templates.source,
                  "models": models}
        self.rows = await self.e.worker.run(self.e.store.informal_rows, self.p.id)
        self.search_id = await self.e.worker.run(self.e.store.open_search, self.key, self.p.id, config=config,
                                                 seed=self.config.seed, run_id=self.e.run_id)

    async def run(self) -> ProblemResult:
        """The whole search, pipelined."""
        await self.open()
        r = 0
        while not self.stopped:
            slots = self.plan(r)
            if not slots:
                break
            async with asyncio.TaskGroup() as tg:
                for slot in slots:
                    tg.create_task(self._proof_pipeline(slot))
            await self.end_round(r)
            r += 1
        return await self.finish()

    async def _proof_pipeline(self, slot: Slot) -> None:
        proof = await self.generate(slot)
        if proof is None or not _verifiable(proof):
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.verify(proof))
            tg.create_task(self.check_answer(proof))

    # -- planning -----------------------------------------------------------------------------

    def plan(self, r: int) -> list[Slot]:
        """The proofs of round r (empty, with the status set, when the search stops instead)."""
        if self.stopped:
            return []
        c, k = self.config, self.k
        if r > 0 and c.token_budget is not None and self.tokens >= c.token_budget:
            self._stop("budget", f"token budget spent ({self.tokens} of {c.token_budget})")
            return []
        if r == 0:
            prompt = self.e.templates.generation(self.p.statement or "")
            slots = [Slot(round=0, index=i, prompt=prompt, seed=derive_seed(c.seed, self.p.key, "generate", 0, i))
                     for i in range(k.proofs)]
        else:
            chosen = select_for_refinement(self.pool, k.refine_top, search_rng(c.seed, self.p.key, "select", r))
            if not chosen:
                self._stop("exhausted", "no proof with a parsed verdict to refine")
                return []
            if self.e.hooks is not None:
                self.e.hooks.selected(self, chosen, r)
            rng = search_rng(c.seed, self.p.key, "pair", r)
            slots = []
            for j, proof in enumerate(chosen):
                analyses = pair_analyses(proof, k.analyses_per_refinement, rng, m=k.meta_verifications,
                                         tau=c.label.tau)
                texts = [v.analysis for v in analyses]
                prompt = self.e.templates.refinement(self.p.statement or "", proof.text, texts)
                for q in range(k.proofs_per_refinement):
                    slots.append(Slot(round=r, index=j * k.proofs_per_refinement + q, prompt=prompt,
                                      seed=derive_seed(c.seed, self.p.key, "refine", r, j, q),
                                      parent_ids=[proof.id] if proof.id is not None else [],
                                      analysis_ids=[v.id for v in analyses if v.id is not None],
                                      notes_of=proof if self.e.hooks is not None else None, analyses=texts))
        if c.call_budget is not None:
            per_proof = max_calls_per_proof(c, self.p.reference_answer is not None)
            fit = max(0, (c.call_budget - self.calls) // per_proof)
            if fit == 0:
                self._stop("budget", f"call budget spent ({self.calls} of {c.call_budget}; a proof may need "
                                     f"{per_proof})")
                return []
            slots = slots[:fit]
        self.e.progress.planned("generate" if r == 0 else "refine", len(slots))
        return slots

    def _stop(self, status: str, reason: str) -> None:
        if not self.stopped:
            self.status, self.stop_reason = status, reason

    async def end_round(self, r: int) -> None:
        """Round r is complete: decide whether the search stops."""
        # Every row of the round is stored before the next is planned (lineage needs the ids).
        await self.e.worker.flush()
        for item in [p for p in self.pool if p.id is None] + [v for p in self.pool for v in p.verdicts if v.id is None]:
            await self._id_of(item)
        await asyncio.gather(*self._meta_writes)
        self._meta_writes.clear()
        self.rounds = r + 1
        m = self.k.verifications
        if self.failures:
            self._stop("incomplete", f"{self.failures} model call(s) failed after retries ({self.last_error}); "
                                     "run the same command again to continue")
        elif any(p.passed(m) for p in self.pool):
            self._stop("solved", f"a proof passed all {m} verifications in round {r}")
        elif r >= self.k.rounds:
            self._stop("exhausted", f"{self.k.rounds} refinement round(s) done")
        if self.search_id is not None:
            await self.e.worker.run(self.e.store.save_search, self.search_id, rounds=self.rounds,
                                    proofs=len(self.pool), calls=self.calls, tokens=self.tokens)

    # -- calls ----------------------------------------------------------------------------------

    def _request(self, role: str, prompt: str, seed: int, kind: str | None = None) -> tuple[ModelRequest, str | None]:
        """The request, and its call key when stored rows of ``kind`` may hold its answer (a
        fresh search skips the hashing; the client computes the key anyway)."""
        req = ModelRequest(role=role, messages=(ChatMessage(role="user", content=prompt),),  # type: ignore[arg-type]
                           params=SamplingParams(seed=seed))
        if kind is None or not getattr(self.rows, kind, None):
            return req, None
        return req, self.e.client.expand(req)[0].call_key()

    async def _ask(self, req: ModelRequest) -> ModelResult:
        [[res]] = await self.e.client.generate([req])
        self.calls += 1
        self.tokens += _tokens(res)
        if res.status == "error" and res.transient:
            self.failures += 1
            self.last_error = res.error or "error"
        return res

    def _parent(self, fields: dict[str, Any], parent: PoolProof | PoolVerdict, name: str) -> None:
        # The parent's id when it is stored already, else the key of the call that made it.
        if parent.id is not None:
            fields[f"{name}_id"] = parent.id
        else:
            fields[f"{name}_call_key"] = self._keys[id(parent)]

    async def _id_of(self, item: PoolProof | PoolVerdict) -> int:
        """The row id of a proof or verdict, once its background write is done."""
        if item.id is None:
            # Several steps may wait for the same row (its verifications, its answer check).
            rid = await self._writes[id(item)]
            item.id = rid
            self._writes.pop(id(item), None)
        return item.id

    def _stored(self, kind: str, key: str | None):
        row = getattr(self.rows, kind).get(key) if key is not None else None
        if row is not None:
            self.calls += 1
            self.tokens += row.tokens
        return row

    # -- steps ----------------------------------------------------------------------------------

    async def generate(self, slot: Slot) -> PoolProof | None:
        """The proof of a slot, from its stored row or a call. None when the call failed."""
        stage = "generate" if slot.round == 0 else "refine"
        if slot.notes_of is not None:
            await self._add_notes(slot)
        req, key = self._request("generator", slot.prompt, slot.seed, "proofs")
        row = self._stored("proofs", key)
        if row is not None:
            f = row.fields
            proof = PoolProof(round=slot.round, slot=slot.index, text=f["text"], self_score=f["self_score"],
                              status=f["parse_status"] or "ok", id=row.id, parent_ids=list(f["parent_ids"] or []),
                              answer=f["answer"], answer_match=f["answer_match"])
        else:
            res = await self._ask(req)
            if res.status == "error":
                self.e.progress.done(stage)
                return None
            parsed = parse_generation(res.text, truncated=res.truncated)
            answer, match, method = self._exact_answer(parsed.proof)
            fields = {
                "problem_id": self.p.id, "run_id": self.e.run_id, "source": "generated" if slot.round == 0 else "refined",
                "round": slot.round, "sample_index": slot.index, "parent_ids": slot.parent_ids, "text": parsed.proof,
                "self_evaluation": parsed.self_evaluation, "self_score": parsed.self_score,
                "parse_status": parsed.status, "answer": answer, "answer_match": match,
                "extra": {"analysis_ids": slot.analysis_ids, "model": res.model} if slot.analysis_ids else {"model": res.model},
            }
            if method is not None:
                # Which step decided the answer (``math-verify``: a judge call saved; ``undecided``: the judge's).
                fields["extra"]["answer_method"] = method
            if slot.feedback_ids:
                fields["extra"]["formal_feedback_ids"] = slot.feedback_ids
            proof = PoolProof(round=slot.round, slot=slot.index, text=parsed.proof, self_score=parsed.self_score,
                              status=parsed.status, parent_ids=slot.parent_ids, answer=answer, answer_match=match)
            # Stored in the background: its verifications start now, and their rows name it by
            # the key of the call that made it.
            self._keys[id(proof)] = res.key
            self._writes[id(proof)] = self.e.worker.add("proofs", fields, res.key)
        self.pool.append(proof)
        self.e.progress.done(stage)
        return proof

    async def _add_notes(self, slot: Slot) -> None:
        """Write a refinement's prompt with the other stage's notes on the proof it refines,
        waiting for them here rather than at planning: only the refinements of that proof wait,
        and the notes are those of that proof itself, in the round that refines it."""
        proof, slot.notes_of = slot.notes_of, None
        notes = await self.e.hooks.refinement_notes(self, proof)  # type: ignore[union-attr]
        if notes:
            slot.prompt = self.e.templates.refinement(self.p.statement or "", proof.text,
                                                      slot.analyses + [text for _, text in notes])
            slot.feedback_ids = [i for i, _ in notes]

    def waves(self) -> VerificationWaves:
        """A proof's verification plan (see :class:`VerificationWaves`)."""
        m = self.k.verifications
        return VerificationWaves(m=m, cap=m + self.config.max_verdict_retries, size=self.config.verification_wave)

    async def verify(self, proof: PoolProof) -> None:
        """M verifications of a proof, each unparsed one replaced by a new sample (up to the
        retry limit) the moment it comes back; issue-reporting analyses meta-verified at once.
        With ``verification_wave``, in waves that stop once the proof cannot pass."""
        if self.config.verification_wave is not None:
            await self._verify_in_waves(proof)
            return
        m = self.k.verifications
        cap = m + self.config.max_verdict_retries
        next_index = m

        async def one(i: int, tg: asyncio.TaskGroup) -> None:
            nonlocal next_index
            verdict = await self.verification(proof, i)
            if verdict is _TRANSIENT:
                return
            if verdict is None or not verdict.parsed:
                if next_index < cap:
                    j, next_index = next_index, next_index + 1
                    self.e.progress.planned("verify", 1)
                    tg.create_task(one(j, tg))
                return
            await self.meta(proof, verdict)

        self.e.progress.planned("verify", m)
        async with asyncio.TaskGroup() as tg:
            for i in range(m):
                tg.create_task(one(i, tg))

    async def _verify_in_waves(self, proof: PoolProof) -> None:
        plan = self.waves()
        async with asyncio.TaskGroup() as metas:
            while wave := plan.next_wave():
                # A wave is decided on its verdicts alone; meta-verifications run alongside.
                self.e.progress.planned("verify", len(wave))
                for verdict in await asyncio.gather(*(self.verification(proof, i) for i in wave)):
                    record_answer(plan, verdict)
                    if isinstance(verdict, PoolVerdict) and verdict.parsed:
                        metas.create_task(self.meta(proof, verdict))

    def _verification_prompt(self, proof: PoolProof) -> str:
        # M + retries verifications share one prompt: render it once per proof.
        key = id(proof)
        if key not in self._prompts:
            self._prompts[key] = self.e.templates.verification(self.p.statement or "", proof.text)
        return self._prompts[key]

    async def verification(self, proof: PoolProof, i: int):
        """Verification sample i of a proof: a PoolVerdict (parsed or not), None after a
        definitive call error (counts as unparsed), or ``_TRANSIENT``."""
        seed = derive_seed(self.config.seed, self.p.key, "verify", proof.round, proof.slot, i)
        req, key = self._request("verifier", self._verification_prompt(proof), seed, "verifications")
        row = self._stored("verifications", key)
        if row is not None:
            f = row.fields
            score, status = f["score"], f["parse_status"]
            if status == "missing_marker":
                # Rows stored before strict parsing read a box anywhere as the score: read again.
                again = parse_verdict(f["analysis"])
                score, status = again.score, again.status
            verdict = PoolVerdict(index=f["sample_index"], score=score, status=status, analysis=f["analysis"],
                                  id=row.id)
        else:
            res = await self._ask(req)
            if res.status == "error":
                self.e.progress.done("verify")
                return _TRANSIENT if res.transient else None
            parsed = parse_verdict(res.text, truncated=res.truncated)
            fields = {"run_id": self.e.run_id, "verifier_model": res.model, "sample_index": i,
                      "analysis": parsed.analysis, "score": parsed.score, "parse_status": parsed.status,
                      "issues": [], "extra": _lenient_extra(parsed)}
            verdict = PoolVerdict(index=i, score=parsed.score, status=parsed.status, analysis=parsed.analysis)
            self._parent(fields, proof, "proof")
            self._keys[id(verdict)] = res.key
            self._writes[id(verdict)] = self.e.worker.add("verifications", fields, res.key)
        proof.verdicts.append(verdict)
        self.e.progress.done("verify")
        return verdict

    async def meta(self, proof: PoolProof, verdict: PoolVerdict) -> None:
        """m meta-verifications of an issue-reporting analysis (none for other analyses)."""
        n = self.k.meta_verifications
        if not verdict.reports_issues or n == 0:
            return
        self.e.progress.planned("meta", n)
        prompt = self.e.templates.meta_verification(self.p.statement or "", proof.text, verdict.analysis)
        scores: dict[int, float | None] = {}

        async def one(j: int) -> None:
            seed = derive_seed(self.config.seed, self.p.key, "meta", proof.round, proof.slot, verdict.index, j)
            req, key = self._request("meta_verifier", prompt, seed, "metas")
            row = self._stored("metas", key)
            if row is not None:
                scores[j] = row.fields["score"]
            else:
                res = await self._ask(req)
                if res.status == "error":
                    if not res.transient:
                        scores[j] = None
                    self.e.progress.done("meta")
                    return
                parsed = parse_meta(res.text, truncated=res.truncated)
                fields = {"run_id": self.e.run_id, "meta_verifier_model": res.model,
                          "sample_index": j, "text": parsed.text, "score": parsed.score,
                          "parse_status": parsed.status, "extra": _lenient_extra(parsed)}
                self._parent(fields, verdict, "verification")
                self._meta_writes.append(self.e.worker.add("metas", fields, res.key))
                scores[j] = parsed.score
            self.e.progress.done("meta")

        await asyncio.gather(*(one(j) for j in range(n)))
        # After a transient failure the meta-scores stay incomplete: validity is then unknown.
        verdict.metas = [scores[j] for j in range(n)] if len(scores) == n else []

    def _exact_answer(self, text: str) -> tuple[str | None, bool | None, str | None]:
        """(answer, match, method) without a judge; all None without a reference answer."""
        if self.p.reference_answer is None:
            return None, None, None
        answer = extract_answer(text)
        cmp = compare_answers(answer, self.p.reference_answer)
        return answer, cmp.match, cmp.method

    async def check_answer(self, proof: PoolProof) -> None:
        """For problems with a reference answer: the proof's final answer against it (exact
        after normalisation, else the judge)."""
        ref = self.p.reference_answer
        if ref is None:
            return
        answer, match, method = self._exact_answer(proof.text)
        if method == "math-verify":
            self.judge_saved += 1
        if match is None and answer and self.config.answer_judge:
            self.e.progress.planned("judge", 1)
            seed = derive_seed(self.config.seed, self.p.key, "judge", proof.round, proof.slot)
            req, _ = self._request("judge", self.e.templates.answer_judge(self.p.statement or "", answer, ref), seed)
            res = await self._ask(req)
            if res.status != "error":
                match = parse_judgement(res.text)
            self.e.progress.done("judge")
        if (answer, match) != (proof.answer, proof.answer_match):
            proof.answer, proof.answer_match = answer, match
            await self.e.worker.run(self.e.store.set_proof_answers, [(await self._id_of(proof), answer, match)])

    # -- result ---------------------------------------------------------------------------------

    async def finish(self) -> ProblemResult:
        """The result: stored on the search row and returned."""
        m = self.k.verifications
        if self.status == "running":
            self._stop("exhausted", "nothing left to do")
        best = best_proof(self.pool, m)
        label = informal_label(best, self.config.label, m_verifications=m, m_meta=self.k.meta_verifications) \
            if best is not None else None
        self.seconds = time.perf_counter() - self._t0 if self._t0 else 0.0
        result = ProblemResult(
            problem_id=self.p.id, problem=self.p.label, search_id=self.search_id, status=self.status,  # type: ignore[arg-type]
            stop_reason=self.stop_reason, rounds=self.rounds, proofs=len(self.pool),
            selected_proof_id=best.id if best else None, mean_score=best.mean if best else None,
            self_score=best.self_score if best else None, verifications=len(best.scores) if best else 0,
            passed=bool(best and best.passed(m)), answer=best.answer if best else None,
            answer_match=best.answer_match if best else None, judge_calls_saved=self.judge_saved, label=label,
            calls=self.calls, tokens=self.tokens,
            seconds=self.seconds)
        if self.search_id is not None:
            await self.e.worker.run(
                self.e.store.save_search, self.search_id, status=result.status, stop_reason=result.stop_reason,
                rounds=result.rounds, proofs=result.proofs, calls=result.calls, tokens=result.tokens,
                selected_proof_id=result.selected_proof_id, mean_score=result.mean_score,
                self_score=result.self_score, verifications=result.verifications, passed=result.passed,
                answer=result.answer, answer_match=result.answer_match, run_id=self.e.run_id,
                label=label.value if label else None, label_detail=label.model_dump() if label else {})
        self.result = result
        if self.e.hooks is not None:
            await self.e.hooks.finished(self, best)
        self.e.progress.problem_done(result)
        return result


# -- schedulers --------------------------------------------------------------------------------

async def run_pipelined(engine: Engine, problems: Sequence[ProblemInfo]) -> list[ProblemResult]:
    """Every problem's search at once; the model client's concurrency limit is the only gate."""
    searches = [ProblemSearch(engine, p) for p in problems]
    return list(await asyncio.gather(*(s.run() for s in searches)))


async def run_barrier(engine: Engine, problems: Sequence[ProblemInfo]) -> list[ProblemResult]:
    """DeepSeekMath-V2's reference schedule: each round, all generations of all problems, then
    all verifications (in waves: the retries of unparsed verdicts after the first M, or the waves
    of ``verification_wave``), then all meta-verifications, then all answer checks. Makes the same
    calls as ``run_pipelined``."""
    searches = [ProblemSearch(engine, p) for p in problems]
    await asyncio.gather(*(s.open() for s in searches))
    r = 0
    while True:
        plans = [(s, s.plan(r)) for s in searches if not s.stopped]
        plans = [(s, slots) for s, slots in plans if slots]
        if not plans:
            break
        made = await asyncio.gather(*(s.generate(slot) for s, slots in plans for slot in slots))
        owners = [s for s, slots in plans for _ in slots]
        proofs = [(s, p) for s, p in zip(owners, made) if p is not None and _verifiable(p)]
        # Every proof's plan decides its next wave from the answers of the last (the same plans
        # as the pipelined schedule: identical calls).
        waves_of = {id(p): s.waves() for s, p in proofs}
        while waves := [(s, p, w) for s, p in proofs if (w := waves_of[id(p)].next_wave())]:
            jobs = [(s, p, i) for s, p, indices in waves for i in indices]
            engine.progress.planned("verify", len(jobs))
            outs = await asyncio.gather(*(s.verification(p, i) for s, p, i in jobs))
            for (_, p, _), v in zip(jobs, outs):
                record_answer(waves_of[id(p)], v)
        await asyncio.gather(*(s.meta(p, v) for s, p in proofs for v in sorted(p.verdicts, key=lambda v: v.index)))
        await asyncio.gather(*(s.check_answer(p) for s, p in proofs))
        for s, _ in plans:
            await s.end_round(r)
        r += 1
    return list(await asyncio.gather(*(s.finish() for s in searches)))
