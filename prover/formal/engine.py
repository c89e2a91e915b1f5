"""The formal stage on one NL proof (DESIGN.md, "Data flow", step 3):

1. **Statement** — the problem's compatible given statement (trusted by collection, or through
   the faithfulness gate), else an autoformalized one that elaborates with `sorry` and passes the
   gate: a back-translation and n independent judge votes (k needed); for answer problems the
   statement is flagged ``trivially_closed`` when a lone `rfl`/`decide`/`norm_num`/`simp`
   closes it, and rejected only when its goal copies the answer or it stays trivially provable
   with the answer replaced by a different value.
2. **Root** — the tactic portfolio, then the prover's direct whole proof (pass@k). Closing the
   root this way is ``statement_proved`` evidence, never a label for the NL proof. Then the
   root's negation (portfolio, prover): a refutation.
3. **Sketch** — the formalizer turns the NL proof into ``have`` steps tagged with their NL step,
   holes as `sorry`; repaired from Lean's messages until it elaborates.
4. **Nodes** — each hole is a lemma of the DAG (an edge where a step's statement or proof names
   an earlier step); nodes are filled concurrently up to the Lean pool's size, each after the
   nodes its statement names: a memo of solved statements, the portfolio, the prover, repairs
   from Lean's messages (per node and per proof bounds); an unsolved node's negation is tried (a
   refutation) and otherwise it becomes formal feedback for informal refinement. Each ``have``
   step gets an alignment vote against its NL step.
5. **Assembly** — the sketch with its node lemmas, checked as a whole: only that verdict counts.

Every call, check and decision is a row (``prover/store/_formal.py``). Model calls go through
the call cache and definitive Lean checks through the check cache, so an interrupted attempt
runs again without asking anything twice."""

from __future__ import annotations

import asyncio
import random
import re
import traceback
from dataclasses import dataclass, field
from typing import Any

from prover.core.errors import ConfigError, UsageError
from prover.core.formal_records import TRIVIAL_TACTICS, FormalConfig, FormalResult, RootResult
from prover.core.hashing import hash_json, sha256_text
from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
from prover.formal import prompts
from prover.formal.checker import LeanRunner, Proved, SingleFlight, format_messages, messages_for_prompt
from prover.formal.leantext import (bare_expression, decl_signature, extract_lean, parse_vote, plain_answer,
                                    split_steps, strip_comments, top_relation_sides)
from prover.formal.sketch import Sketch, SketchStep, negation_problem, parse_sketch
from prover.lean.answer import stored_references
from prover.lean.assemble import assemble
from prover.lean.lexer import Kind, lex
from prover.lean.problem import LeanProblem
from prover.lean.screen import screen

FORMAL_VERSION = 1
"""Bumped when the stage would ask or check different things for the same settings."""

ROLES = ("formalizer", "prover", "judge")

FEEDBACK = ("Formal check (Lean 4): step {index} of this proof{quote} could not be established formally "
            "(possibly a prover limitation). Its formal version was `{claim}`.{lean}\nThis is not a finding "
            "that the step is wrong; make sure it is stated precisely and fully justified.")

DEFAULT_HEADER = "import Mathlib\n\nopen BigOperators Real Nat Topology Rat\n\n"


def formal_seed(seed: int, *parts: object) -> int:
    """A stable 31-bit request seed."""
    return int(sha256_text(":".join(["formal", str(seed), *map(str, parts)]))[:8], 16) & 0x7FFFFFFF


@dataclass
class ProofInfo:
    """What the formal stage needs of one NL proof and its problem."""

    id: int | None
    problem_id: int
    problem_key: str
    """``COLLECTION/EXTERNAL_ID/STATEMENT_HASH`` (seeds derive from it)."""
    collection: str
    statement: str | None
    """The informal statement."""
    text: str
    """The NL proof."""
    answer: str | None = None
    """The proof's own extracted final answer (answer problems only)."""
    answer_problem: bool = False
    """The problem has a reference answer (its value never reaches a prompt)."""
    formal_statements: list[Any] = field(default_factory=list)
    """The problem's ``formal_statements`` rows, in id order."""


def load_proof(store: Any, proof_id: int) -> ProofInfo:
    """A stored proof with its problem and formal statements."""
    from prover.core.errors import NotFoundError
    from prover.store.schema import Proof

    with store.session() as s:
        proof = s.get(Proof, proof_id)
    if proof is None:
        raise NotFoundError(f"no proof {proof_id}")
    p = store.get_problem(proof.problem_id)
    return ProofInfo(id=proof.id, problem_id=p.id, problem_key=f"{p.collection}/{p.external_id}/{p.statement_hash}",
                     collection=p.collection, statement=p.informal_statement, text=proof.text, answer=proof.answer,
                     answer_problem=p.reference_answer is not None, formal_statements=store.formal_statements(p.id))


@dataclass
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


@dataclass
class Outcome:
    """The end of a stage: a status and why."""

    status: str
    reason: str


class FormalEngine:
    """The formal stage for a run: one model client, one Lean runner, one store."""

    def __init__(self, store: Any, client: Any, lean: LeanRunner, config: FormalConfig, *, run_id: int | None = None,
                 worker: Any = None):
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
        if key not in self._attempts:
            self._attempts[key] = asyncio.ensure_future(
                Attempt(self, proof, key, population, inclusion_probability).run())
        return await asyncio.shield(self._attempts[key])

    def root_key(self, st: "Statement") -> str:
        """What the statement-level work depends on: the statement's text, the toolchain, the
        settings it uses, prompts and models — never the proof."""
        c = self.config
        return hash_json({"v": FORMAL_VERSION, "kind": "root", "statement": sha256_text(st.problem.text),
                          "portfolio": list(c.portfolio), "direct": c.direct_attempts, "refute": c.refute,
                          "refute_samples": c.refute_samples, "seed": c.seed, "limits": c.limits.model_dump(mode="json"),
                          "templates": prompts.fingerprint(), "models": self.role_models(),
                          "toolchain": self.lean.toolchain, "mathlib": self.lean.pin.mathlib_rev})

    async def shared(self, key: str, make):
        """One computation per key at a time (a statement gate shared by proofs of a problem)."""
        if key not in self._gates:
            self._gates[key] = asyncio.ensure_future(make())
        return await asyncio.shield(self._gates[key])


class Attempt:
    """One formal attempt on one proof."""

    def __init__(self, engine: FormalEngine, proof: ProofInfo, key: str, population: str,
                 inclusion_probability: float | None):
        self.e = engine
        self.c = engine.config
        self.proof = proof
        self.key = key
        self.population = population
        self.inclusion_probability = inclusion_probability
        self.id = 0
        self.calls = 0
        self.failures = 0
        self.checks0 = 0
        self.repairs = 0
        self.feedback: list[tuple[int, str]] = []
        self.values: dict[str, Any] = {}

    # -- plumbing -------------------------------------------------------------------------------

    async def add(self, table: str, /, **values: Any) -> int:
        return await self.e.db(self.e.store.add_formal_row, table, **values)

    async def update(self, table: str, row_id: int, /, **values: Any) -> None:
        await self.e.db(self.e.store.update_formal_row, table, row_id, **values)

    async def ask(self, role: str, prompt: str, *seed_parts: object, scope: tuple | None = None):
        """One model call; its result (status ``error`` counts as no answer). The request seed
        derives from ``scope`` — by default this proof; statement-level work passes the
        statement's key, so that every proof of the problem (and later runs) asks the same. A proof
        is named by its text, never its row id: ids follow insertion order, which timing decides,
        so the same run in another database would otherwise ask different requests."""
        seed = formal_seed(self.c.seed, *(scope or (self.proof.problem_key, sha256_text(self.proof.text))),
                           *seed_parts)
        req = ModelRequest(role=role, messages=(ChatMessage(role="user", content=prompt),),  # type: ignore[arg-type]
                           params=SamplingParams(seed=seed))
        [[res]] = await self.e.client.generate([req])
        self.calls += 1
        if res.status == "error" and res.transient:
            self.failures += 1
        return res

    async def ask_many(self, role: str, prompts_: list[tuple[str, tuple]], *, scope: tuple | None = None):
        return await asyncio.gather(*(self.ask(role, p, *parts, scope=scope) for p, parts in prompts_))

    async def try_row(self, stage: str, proved: Proved | None, *, step_id: int | None = None, negated: bool = False,
                      sample_index: int = 0, repair_index: int = 0, parent_id: int | None = None,
                      tactic: str | None = None, call_key: str | None = None, code: str | None = None,
                      messages: list | None = None, verdict: str | None = None) -> int:
        return await self.add(
            "try", attempt_id=self.id, step_id=step_id, stage=stage, negated=negated, sample_index=sample_index,
            repair_index=repair_index, parent_id=parent_id, tactic=tactic, call_key=call_key, code=code,
            check_id=proved.check_id if proved else None, verdict=proved.verdict if proved else verdict,
            success=bool(proved and proved.success), messages=messages or [])

    # -- the attempt ----------------------------------------------------------------------------

    async def run(self) -> tuple[FormalResult, list[tuple[int, str]]]:
        p = self.proof
        self.checks0 = self.e.lean.checks
        self.id, finished = await self.e.db(
            self.e.store.begin_formal_attempt, self.key, problem_id=p.problem_id, proof_id=p.id, run_id=self.e.run_id,
            population=self.population, inclusion_probability=self.inclusion_probability,
            config=self.c.identity())
        if finished:
            return await self._stored_result()
        try:
            outcome = await self._stages()
        except Exception as exc:  # noqa: BLE001 - one attempt's bug must not end the run
            # The attempt is marked `error` with its traceback; the run goes on and says so. (A
            # cancelled or interrupted attempt stays `running`.) Either way the next run redoes it.
            trace = "".join(traceback.format_exception(exc))
            leaf = exc
            while isinstance(leaf, BaseExceptionGroup):  # a task group's: name what was raised
                leaf = leaf.exceptions[0]
            self.values.update(status="error", stop_reason=f"error: {type(leaf).__name__}: {leaf}"[:500], error=trace,
                               calls=self.calls, checks=self.e.lean.checks - self.checks0, repairs=self.repairs)
            await self.update("attempt", self.id, **self.values)
            self.feedback = []
            return self._result(), self.feedback
        status, reason = outcome.status, outcome.reason
        if self.failures and status not in ("verified", "statement_proved", "refuted", "step_refuted"):
            status, reason = "incomplete", (f"{self.failures} model call(s) failed after retries; "
                                            f"run the same command again to continue ({reason})")
        self.values.update(status=status, stop_reason=reason, calls=self.calls,
                           checks=self.e.lean.checks - self.checks0, repairs=self.repairs)
        await self.update("attempt", self.id, **self.values)
        return self._result(), self.feedback

    async def _stored_result(self) -> tuple[FormalResult, list[tuple[int, str]]]:
        a = await self.e.db(self.e.store.formal_attempt, self.id)
        fb = await self.e.db(self.e.store.formal_rows, "feedback", attempt_id=self.id)
        self.feedback = [(f.id, f.text) for f in fb]
        self.values = {k: getattr(a, k) for k in ("status", "stop_reason", "statement_source", "statement_faithful",
                                                   "root_closed_by", "nodes", "nodes_solved", "nodes_refuted",
                                                   "nodes_unsolved", "steps_aligned", "final_verdict", "calls",
                                                   "checks")}
        return self._result(reused=True), self.feedback

    def _result(self, reused: bool = False) -> FormalResult:
        v = self.values
        return FormalResult(attempt_id=self.id, proof_id=self.proof.id, problem_id=self.proof.problem_id,
                            status=v.get("status", "running"), stop_reason=v.get("stop_reason") or "",
                            statement_source=v.get("statement_source"), statement_faithful=v.get("statement_faithful"),
                            root_closed_by=v.get("root_closed_by"), nodes=v.get("nodes", 0),
                            nodes_solved=v.get("nodes_solved", 0), nodes_refuted=v.get("nodes_refuted", 0),
                            nodes_unsolved=v.get("nodes_unsolved", 0), steps_aligned=v.get("steps_aligned"),
                            final_verdict=v.get("final_verdict"), feedback=len(self.feedback),
                            calls=v.get("calls", 0) or 0, checks=v.get("checks", 0) or 0, reused=reused)

    async def _stages(self) -> Outcome:
        st = await self.statement()
        if isinstance(st, Outcome):
            return st
        self.values.update(formal_statement_id=st.formal_statement_id, statement_source=st.source,
                           statement_trusted=st.trusted, gate_id=st.gate_id, statement_faithful=st.faithful)
        await self.update("attempt", self.id, **self.values)
        root = await self.root(st)
        if root is not None:
            return root
        return await self.sketch_stage(st)

    # -- 1. statement ---------------------------------------------------------------------------

    async def statement(self) -> Statement | Outcome:
        p = self.proof
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
            compat = await self.compatible(fs, problem)
            if compat is None:
                return Outcome("unavailable", f"Lean gave no answer on whether statement {fs.id} elaborates")
            if not compat:
                notes.append(f"statement {fs.id} does not elaborate on {self.e.lean.toolchain}")
                continue
            trusted = p.collection in self.c.trusted_collections
            refs = stored_references(getattr(fs, "reference_answer_lean", None), problem)
            if trusted:
                return Statement(fs.id, problem, "given", trusted=True, faithful=True, references=refs)
            gate = await self.gate_given(fs, problem)
            return Statement(fs.id, problem, "given", gate_id=gate[0], faithful=gate[1], references=refs)
        if not (p.statement or "").strip():
            return Outcome("no_statement", "; ".join(notes) or "no formal statement and no informal one to formalize")
        auto = await self.autoformalize()
        if isinstance(auto, Outcome):
            if notes:
                auto.reason = "; ".join(notes) + "; " + auto.reason
            return auto
        return auto

    async def compatible(self, fs: Any, problem: LeanProblem) -> bool | None:
        """Whether a given statement elaborates on our toolchain (stored per statement; attempts
        on one problem asking at once share one answer)."""
        from prover.store._lean_proc import COMPATIBLE, INCOMPATIBLE

        lean = self.e.lean

        async def make() -> bool | None:
            known = await self.e.db(self.e.store.statement_compat, fs.id, toolchain=lean.toolchain,
                                    mathlib_rev=lean.pin.mathlib_rev)
            if known is not None and known.content_hash == fs.content_hash:
                return known.status == COMPATIBLE
            el = await lean.elaborate(problem.with_proof("sorry"))
            if el.ok is None:
                return None
            await self.e.db(self.e.store.set_statement_compat, fs.id, toolchain=lean.toolchain,
                            mathlib_rev=lean.pin.mathlib_rev, status=COMPATIBLE if el.ok else INCOMPATIBLE,
                            content_hash=fs.content_hash, backend=getattr(lean.backend, "name", "?"),
                            messages=el.messages, detail=el.detail)
            return el.ok

        return await self.e.flights.run(("compatible", fs.id, fs.content_hash), make)

    def gate_key(self, kind: str, what: str) -> str:
        c = self.c
        return hash_json({"v": FORMAL_VERSION, "kind": kind, "problem": self.proof.problem_key, "what": what,
                          "votes": [c.faithfulness_votes, c.faithfulness_needed], "seed": c.seed,
                          "attempts": c.autoformalize_attempts, "templates": prompts.fingerprint(),
                          "models": self.e.role_models(), "toolchain": self.e.lean.toolchain})

    async def gate_given(self, fs: Any, problem: LeanProblem) -> tuple[int, bool]:
        """The faithfulness gate of a given statement from an untrusted collection: (gate id,
        passed). A statement the judges reject is still the problem's own: it is used, and
        counts as not faithful."""
        key = self.gate_key("given", fs.content_hash)

        async def make():
            stored = await self.e.db(self.e.store.accepted_gate, key)
            if stored is not None:
                return stored.id, True
            votes = await self.faithfulness(problem.text, ("gate-given", fs.id), scope=("gate", key))
            yes = sum(1 for v in votes if v[2])
            passed = yes >= self.c.faithfulness_needed
            gid = await self.add("gate", gate_key=key, problem_id=self.proof.problem_id, proof_id=None,
                                 run_id=self.e.run_id, kind="given", candidate=problem.text, formal_statement_id=fs.id,
                                 elaborates=True, back_translation=votes.back, back_translation_call_key=votes.back_key,
                                 votes_yes=yes, votes_total=len(votes), votes_needed=self.c.faithfulness_needed,
                                 status="accepted" if passed else "rejected",
                                 reasons=[] if passed else [f"faithfulness: {yes} of {len(votes)} votes, "
                                                            f"{self.c.faithfulness_needed} needed"])
            await self.store_votes("faithfulness", votes, gate_id=gid)
            return gid, passed

        return await self.e.shared(key, make)

    async def faithfulness(self, lean_text: str, seed_parts: tuple, *, scope: tuple) -> "_Votes":
        """A back-translation and n judge votes; seeds keyed by the gate (the statement), not the proof."""
        clean = strip_comments(lean_text)
        back = await self.ask("formalizer", prompts.back_translate(clean), *seed_parts, "back", scope=scope)
        back_text = plain_answer(back.text) if back.status != "error" else ""
        prompt = prompts.faithfulness(self.proof.statement or "", back_text or "(no restatement)", clean)
        results = await self.ask_many("judge", [(prompt, (*seed_parts, "vote", j))
                                                for j in range(self.c.faithfulness_votes)], scope=scope)
        out = _Votes([(j, r.key, parse_vote(r.text) if r.status != "error" else None, r.text)
                      for j, r in enumerate(results)])
        out.back, out.back_key = back_text, back.key
        return out

    async def store_votes(self, kind: str, votes: "_Votes", *, gate_id: int | None = None,
                          step_id: int | None = None) -> None:
        for j, key, vote, text in votes:
            await self.add("vote", kind=kind, gate_id=gate_id, step_id=step_id, sample_index=j, call_key=key,
                           text=text, vote=vote)

    async def autoformalize(self) -> Statement | Outcome:
        p = self.proof
        answer = p.answer if p.answer_problem else None
        key = self.gate_key("auto", answer or "")

        async def make():
            stored = await self.e.db(self.e.store.accepted_gate, key)
            if stored is not None and stored.formal_statement_id is not None:
                return stored.id, stored.formal_statement_id, stored.candidate
            reasons = []
            inconclusive = 0
            for i in range(self.c.autoformalize_attempts):
                res = await self.ask("formalizer", prompts.autoformalize(p.statement or "", answer), "autoformalize", i,
                                     scope=("gate", key))
                code = extract_lean(res.text) if res.status != "error" else None
                gate = await self.gate_candidate(key, i, res.key, code, answer)
                if gate["status"] == "accepted":
                    return gate["id"], gate["formal_statement_id"], gate["candidate"]
                inconclusive += gate.get("inconclusive", 0)
                reasons.append(f"candidate {i}: " + "; ".join(gate["reasons"]))
            return None, inconclusive == self.c.autoformalize_attempts, reasons

        out = await self.e.shared(key, make)
        if out[0] is None:
            status = "unavailable" if out[1] else "no_statement"
            return Outcome(status, "autoformalization rejected: " + " | ".join(out[2]))
        gid, fsid, candidate = out
        return Statement(fsid, LeanProblem.parse(candidate), "autoformalized", gate_id=gid, faithful=True)

    async def gate_candidate(self, key: str, index: int, call_key: str, code: str | None,
                             answer: str | None) -> dict[str, Any]:
        """Elaboration, answer checks and the faithfulness vote of one autoformalized candidate;
        the gate row (and, when accepted, the formal statement) stored."""
        p = self.proof
        row: dict[str, Any] = dict(gate_key=key, problem_id=p.problem_id, proof_id=p.id, run_id=self.e.run_id,
                                   kind="autoformalized", sample_index=index, call_key=call_key, answer=answer,
                                   votes_needed=self.c.faithfulness_needed)
        reasons: list[str] = []
        problem = None
        inconclusive = 0
        if code is None:
            reasons.append("no ```lean4 block in the answer")
        else:
            if not re.search(r"^\s*import\s", code, re.M):
                code = DEFAULT_HEADER + code
            row["candidate"] = code
            try:
                problem = LeanProblem.parse(code)
            except UsageError as exc:
                reasons.append(f"not a single theorem proved by sorry: {exc}")
            if problem is not None and problem.answer_slots:
                reasons.append("answer slots are not allowed in an autoformalized statement")
                problem = None
        if problem is not None:
            el = await self.e.lean.elaborate(problem.with_proof("sorry"))
            row.update(elaborates=el.ok, messages=el.messages)
            if el.ok is None:
                inconclusive = 1
                reasons.append(f"elaboration gave no definitive answer ({el.detail})")
            elif not el.ok:
                reasons.append("does not elaborate: " + format_messages([m for m in el.messages
                                                                         if m.get("severity") == "error"], width=300))
        votes = None
        if problem is not None and not reasons:
            if p.answer_problem:
                checks = await self.answer_checks(problem, answer)
                row.update(checks)
                if checks.get("answer_copied"):
                    reasons.append("the goal copies the answer expression")
                if checks.get("swapped_trivially_closed"):
                    reasons.append(f"still closed by a lone tactic with the answer replaced by "
                                   f"{checks['swapped_answer']}")
        if problem is not None and not reasons:
            votes = await self.faithfulness(code or "", ("gate-auto", index), scope=("gate", key))
            yes = sum(1 for v in votes if v[2])
            row.update(back_translation=votes.back, back_translation_call_key=votes.back_key, votes_yes=yes,
                       votes_total=len(votes))
            if yes < self.c.faithfulness_needed:
                reasons.append(f"unfaithful: {yes} of {len(votes)} judges say it states the problem, "
                               f"{self.c.faithfulness_needed} needed")
        accepted = problem is not None and not reasons
        if accepted:
            toks = problem.lexed.tokens  # type: ignore[union-attr]
            start = toks[problem.target.command.start].start  # type: ignore[union-attr]
            row["formal_statement_id"] = await self.e.db(
                self.e.store.add_formal_statement, p.problem_id, toolchain=self.e.lean.toolchain,
                preamble=code[:start], statement=code[start:], source="autoformalized",  # type: ignore[index]
                extra={"autoformalized": True, "proof_id": p.id, "answer": answer})
        row.update(status="accepted" if accepted else "rejected", reasons=reasons)
        gid = await self.add("gate", **row)
        if votes is not None:
            await self.store_votes("faithfulness", votes, gate_id=gid)
        return {"id": gid, "status": row["status"], "reasons": reasons, "candidate": code,
                "formal_statement_id": row.get("formal_statement_id"), "inconclusive": inconclusive}

    async def trivially_closed(self, problem: LeanProblem) -> str | None:
        """The first lone tactic of ``TRIVIAL_TACTICS`` that proves the statement."""
        for tac in TRIVIAL_TACTICS:
            proved = await self.e.lean.prove(problem.with_proof(f"by\n  {tac}"), problem)
            if proved.success:
                return tac
        return None

    async def answer_checks(self, problem: LeanProblem, answer: str | None) -> dict[str, Any]:
        tac = await self.trivially_closed(problem)
        out: dict[str, Any] = {"trivially_closed": tac is not None, "trivial_tactic": tac}
        if tac is None or not answer:
            return out
        sig = decl_signature(problem)
        goal = sig.conclusion if sig is not None else problem.target.header_text
        out["answer_copied"] = goal_copies_answer(goal, answer)
        swapped = different_value(answer)
        if swapped is not None:
            text = replace_answer(problem, answer, swapped)
            if text is not None:
                out["swapped_answer"] = swapped
                try:
                    out["swapped_trivially_closed"] = await self.trivially_closed(LeanProblem.parse(text)) is not None
                except UsageError:
                    out["swapped_trivially_closed"] = None
        return out

    # -- 2. root ----------------------------------------------------------------------------------

    async def root(self, st: Statement) -> Outcome | None:
        """The statement-level work — the portfolio, the prover's direct attempts, the negation —
        depends only on the statement, the toolchain and the settings, not on the proof: it is
        done once per statement in a run and shared by every attempt on it (its tries are stored
        with the attempt that did it), with request seeds keyed by the statement so that later
        runs find its calls and checks in the caches."""
        key = self.e.root_key(st)
        did_it = False

        async def make() -> RootResult:
            nonlocal did_it
            did_it = True
            return await self.close_root(st, key)

        root = await self.e.shared(key, make)
        if not did_it:
            self.failures += root.failures
        if root.closed_by is not None:
            self.values.update(root_closed_independently=True, root_closed_by=root.closed_by,
                               direct_check_id=root.check_id)
            return Outcome("statement_proved", root.reason)
        if root.refutation_check_id is not None:
            await self.add("refutation", attempt_id=self.id, step_id=None, problem_id=self.proof.problem_id,
                           proof_id=self.proof.id, what="statement", proposition=root.proposition,
                           try_id=root.refutation_try_id, check_id=root.refutation_check_id,
                           formal_statement_id=st.formal_statement_id, statement_given=st.source == "given",
                           faithful=st.faithful, flags_statement=st.source == "given")
            return Outcome("refuted", root.reason)
        return None

    async def close_root(self, st: Statement, key: str) -> RootResult:
        """Try to close the root, then to refute it (the work ``root`` shares)."""
        problem = st.problem
        fsid = st.formal_statement_id
        scope = ("statement", key)
        calls0, failures0 = self.calls, self.failures

        def done(**kw: Any) -> RootResult:
            return RootResult(calls=self.calls - calls0, failures=self.failures - failures0, **kw)

        if not problem.answer_slots:
            for tac in self.c.portfolio:
                code = problem.with_proof(f"by\n  {tac}")
                proved = await self.e.lean.prove(code, problem, formal_statement_id=fsid)
                await self.try_row("root-portfolio", proved, tactic=tac, code=code)
                if proved.success:
                    return done(closed_by=f"portfolio:{tac}", check_id=proved.check_id,
                                reason=f"`{tac}` alone proves the statement (statement_proved evidence, not a "
                                       "label for the NL proof)")
        lean = strip_comments(problem.text)
        if self.c.direct_attempts:
            results = await self.ask_many("prover", [(prompts.whole_proof(lean), ("direct", i))
                                                     for i in range(self.c.direct_attempts)], scope=scope)
            for i, res in enumerate(results):
                code = extract_lean(res.text) if res.status != "error" else None
                if code is None:
                    await self.try_row("direct", None, sample_index=i, call_key=res.key, verdict="no-code")
                    continue
                proved = await self.e.lean.prove(code, problem, formal_statement_id=fsid)
                await self.try_row("direct", proved, sample_index=i, call_key=res.key, code=code,
                                   messages=messages_for_prompt(proved.result, code, problem))
                if proved.success:
                    return done(closed_by="direct", check_id=proved.check_id,
                                reason=f"direct attempt {i} verified (statement_proved evidence, not a label for "
                                       "the NL proof)")
        if self.c.refute and not problem.answer_slots:
            neg = negation_problem(problem)
            if neg is not None:
                hit = await self.refute(neg, step_id=None, hint="", scope=scope)
                if hit is not None:
                    try_id, proved = hit
                    sig = decl_signature(problem)
                    why = ("a given statement refuted: the statement is flagged as false" if st.source == "given"
                           else "the statement's negation is proved")
                    return done(reason=why, refutation_try_id=try_id, refutation_check_id=proved.check_id,
                                proposition=sig.negation() if sig else neg)
        return done()

    async def refute(self, neg_text: str, *, step_id: int | None, hint: str,
                     scope: tuple | None = None) -> tuple[int, Proved] | None:
        """The portfolio, then the prover, on a negation problem: (try id, check) on success."""
        try:
            neg = LeanProblem.parse(neg_text)
        except UsageError:
            return None
        for tac in self.c.portfolio:
            code = neg.with_proof(f"by\n  {tac}")
            proved = await self.e.lean.prove(code, neg)
            tid = await self.try_row("refute-portfolio", proved, step_id=step_id, negated=True, tactic=tac, code=code)
            if proved.success:
                return tid, proved
        lean = strip_comments(neg_text)
        for j in range(self.c.refute_samples):
            res = await self.ask("prover", prompts.node_proof(lean, hint), "refute", step_id or "root", j, scope=scope)
            code = extract_lean(res.text) if res.status != "error" else None
            if code is None:
                await self.try_row("refute-prover", None, step_id=step_id, negated=True, sample_index=j,
                                   call_key=res.key, verdict="no-code")
                continue
            proved = await self.e.lean.prove(code, neg)
            msgs = messages_for_prompt(proved.result, code, neg)
            tid = await self.try_row("refute-prover", proved, step_id=step_id, negated=True, sample_index=j,
                                     call_key=res.key, code=code, messages=msgs)
            if proved.success:
                return tid, proved
        return None

    # -- 3. sketch ----------------------------------------------------------------------------------

    async def sketch_stage(self, st: Statement) -> Outcome:
        nl_steps = split_steps(self.proof.text)
        sk = await self.make_sketch(st, nl_steps)
        if isinstance(sk, Outcome):
            return sk
        sketch, sketch_id = sk
        step_ids = await self.store_steps(sketch, sketch_id, nl_steps)
        holes = sketch.holes
        self.values.update(sketch_id=sketch_id, nodes=len(holes))
        await self.update("attempt", self.id, sketch_id=sketch_id, nodes=len(holes))
        claims = sketch.claims
        aligned_task = asyncio.ensure_future(self.align_all(sketch, step_ids, nl_steps))
        proofs: dict[str, str] = {}
        aux: list[str] = []
        refuted: list[tuple[SketchStep, int]] = []
        unsolved: list[SketchStep] = []
        try:
            filled = await self.fill_all(sketch, step_ids, nl_steps)
        finally:
            aligned = await aligned_task
        for step in sketch.order():
            done = filled[step.key]
            if done["status"] == "solved":
                proofs[step.key] = done["body"]
                aux.extend(done.get("aux", []))
            elif done["status"] == "refuted":
                refuted.append((step, done["refutation_id"]))
            else:
                unsolved.append(step)
        await self.store_dag(sketch, sketch_id, step_ids, proofs)
        steps_aligned = all(aligned.get(id(s), False) for s in claims) if claims else None
        for step, rid in refuted:
            faithful = bool(aligned.get(id(step))) and bool(st.faithful) if step.kind == "have" else None
            await self.update("refutation", rid, faithful=faithful)
        self.values.update(steps_aligned=steps_aligned, nodes_solved=len(proofs), nodes_refuted=len(refuted),
                           nodes_unsolved=len(unsolved))
        for step in unsolved:
            await self.write_feedback(sketch, step, step_ids[id(step)], nl_steps)
        if refuted:
            return Outcome("step_refuted", f"Lean proved the negation of {len(refuted)} step(s) in context")
        if unsolved:
            return Outcome("unsolved", f"{len(unsolved)} of {len(holes)} node(s) could not be established "
                                       "(handed back as formal feedback)")
        final = sketch.assemble(proofs, aux)
        # The epilogue reports which node lemmas occur in the target's proof term: formal 1 needs
        # every aligned step's (DESIGN.md, "Labels"), read by the trusted check, not by a linter.
        ns = tuple(st.problem.target.namespace)
        lemmas = {s.key: ".".join(ns + (s.key,)) for s in holes}
        proved = await self.e.lean.prove(final, st.problem, formal_statement_id=st.formal_statement_id, final=True,
                                         references=st.references, constants=tuple(lemmas.values()))
        await self.try_row("final", proved, code=final, messages=messages_for_prompt(proved.result, final, st.problem))
        closing_uses = (None if proved.used is None
                        else {key: proved.used.get(name) for key, name in lemmas.items()})
        self.values.update(final_check_id=proved.check_id, final_verdict=proved.verdict,
                           config={**self.c.identity(), "closing_uses": closing_uses})
        if proved.success:
            return Outcome("verified", f"the assembled file is {proved.verdict}")
        if not proved.definitive:
            return Outcome("unavailable", f"the assembled file's check gave no definitive answer ({proved.verdict})")
        return Outcome("assembly_failed", f"every node was proved alone, but the assembled file is {proved.verdict}")

    async def make_sketch(self, st: Statement, nl_steps: list[str]) -> tuple[Sketch, int] | Outcome:
        lean = strip_comments(st.problem.text)
        prev: tuple[int, str, str] | None = None  # (sketch id, code, messages) of the last failure
        reasons = []
        for i in range(self.c.sketch_attempts):
            if prev is None:
                prompt = prompts.sketch(self.proof.statement or "", lean, nl_steps, bool(st.problem.answer_slots))
            else:
                prompt = prompts.sketch_repair(prev[1], prev[2])
            res = await self.ask("formalizer", prompt, "sketch", i)
            code = extract_lean(res.text) if res.status != "error" else None
            row = dict(attempt_id=self.id, sample_index=i, repair_of=prev[0] if prev else None, call_key=res.key,
                       text=code, nl_steps=nl_steps)
            if code is None:
                await self.add("sketch", **row, status="no_code")
                reasons.append(f"sketch {i}: no ```lean4 block")
                prev = None
                continue
            sk = parse_sketch(code, st.problem)
            if not sk.usable:
                msgs = [{"severity": "error", "line": r.line, "data": f"{r.code.value}: {r.text}"}
                        for r in sk.reasons] or [{"severity": "error",
                                                  "data": "the sketch does not declare the theorem"}]
                sid = await self.add("sketch", **row, status="rejected", reasons=[m["data"] for m in msgs])
                reasons.append(f"sketch {i}: rejected by the screen")
                prev = (sid, code, format_messages(msgs))
                continue
            el, unread = await self.elaborate_sketch(sk)
            if not el.ok:
                status = "inconclusive" if el.ok is None else "not_elaborated"
                sid = await self.add("sketch", **row, elaborates=el.ok, messages=el.messages, status=status)
                reasons.append(f"sketch {i}: {status}")
                errors = [m for m in el.messages if m.get("severity") == "error"] or \
                    [{"severity": "error", "data": el.detail or "no answer"}]
                prev = (sid, code, format_messages(errors))
                continue
            dag = sk.dag()
            import networkx as nx

            sid = await self.add("sketch", **row, elaborates=True, messages=el.messages, status="elaborated",
                                 dag=nx.node_link_data(dag, edges="edges"))
            return sk, sid
        return Outcome("sketch_failed", "no sketch elaborated: " + "; ".join(reasons))

    async def elaborate_sketch(self, sk: Sketch):
        """Elaborate the sketch (with ``extract_goal`` at the holes the text does not give a
        context for, reading their goals from its messages). Returns (elaboration, holes whose
        goal could not be read)."""
        need = [s for s in sk.holes if s.needs_extract]
        text = sk.with_extract_goal() if need else sk.text
        parts = screen(sk.problem, text).parts
        assembled = assemble(sk.problem, parts, heartbeats=self.e.lean.limits.heartbeats)  # type: ignore[arg-type]
        el = await self.e.lean.elaborate(assembled.text)
        unread: list[SketchStep] = []
        if el.ok and need:
            by_line: dict[int, str] = {}
            for m in el.messages:
                pos = m.get("pos") or {}
                if m.get("severity") == "info" and "line" in pos:
                    where = assembled.locate(pos["line"])
                    if where is not None and where[0].source == "proof" and where[1] is not None:
                        by_line.setdefault(where[1], m.get("data", ""))
            for s in need:
                msg = by_line.get(sk.hole_line(s))
                if msg is None or not sk.set_extracted(s, msg):
                    unread.append(s)
        return el, unread

    async def store_dag(self, sk: Sketch, sketch_id: int, step_ids: dict[int, int], proofs: dict[str, str]) -> None:
        """The DAG once the nodes are filled: edges from what each node's statement and proof
        mention (a step's ``depends_on``, the sketch's ``dag``)."""
        import networkx as nx

        dag = sk.dag(proofs)
        for s in sk.holes:
            await self.update("step", step_ids[id(s)], depends_on=sorted(dag.predecessors(s.key)))
        await self.update("sketch", sketch_id, dag=nx.node_link_data(dag, edges="edges"))

    async def store_steps(self, sk: Sketch, sketch_id: int, nl_steps: list[str]) -> dict[int, int]:
        dag = sk.dag()
        ids: dict[int, int] = {}
        for s in sk.steps:
            nl = nl_steps[s.nl_step - 1] if s.nl_step and 0 < s.nl_step <= len(nl_steps) else None
            ids[id(s)] = await self.add(
                "step", attempt_id=self.id, sketch_id=sketch_id, position=s.position, kind=s.kind,
                node_key=s.key or None, name=s.name, nl_step_index=s.nl_step, nl_step=nl, type_text=s.type_text,
                statement=s.goal.statement() if s.goal else None,
                memo_key=sk.memo_key(s) if (s.hole and s.goal) else None,
                context_source=s.context_source if s.hole else None, hole=s.hole,
                depends_on=sorted(dag.predecessors(s.key)) if s.hole else [],
                status="open" if s.hole else "proved_in_sketch")
        return ids

    # -- 4. nodes ----------------------------------------------------------------------------------

    async def fill_all(self, sk: Sketch, step_ids: dict[int, int], nl_steps: list[str]) -> dict[str, dict[str, Any]]:
        """Fill every node, at most as many at once as Lean runs checks. A node's lemma takes
        every earlier step as a hypothesis, so nodes do not wait for each other's proofs: one
        starts once the nodes its statement mentions are done (the DAG's edges), and independent
        ones run together. Repairs share the per-proof budget, handed out in dependency order
        once every node's first tries are in, so that the requests do not depend on timing."""
        dag, order = sk.dag(), sk.order()
        slots = asyncio.Semaphore(self.e.lean.size)
        first: dict[str, asyncio.Task] = {}

        async def start(step: SketchStep) -> dict[str, Any]:
            for pred in dag.predecessors(step.key):
                await first[pred]
            async with slots:
                return await self.fill_first(sk, step, step_ids[id(step)], nl_steps)

        async with asyncio.TaskGroup() as tg:
            for step in order:
                first[step.key] = tg.create_task(start(step))
        out = {k: t.result() for k, t in first.items()}
        left = max(0, self.c.repairs_per_proof - self.repairs)
        budgets: dict[str, int] = {}
        for step in order:
            if out[step.key]["status"] == "open":
                budgets[step.key] = min(self.c.repairs_per_node, left) if out[step.key].get("last") else 0
                left -= budgets[step.key]

        async def finish(step: SketchStep) -> dict[str, Any]:
            async with slots:
                return await self.fill_rest(sk, step, step_ids[id(step)], out[step.key], budgets[step.key])

        async with asyncio.TaskGroup() as tg:
            rest = {s.key: tg.create_task(finish(s)) for s in order if s.key in budgets}
        out.update({k: t.result() for k, t in rest.items()})
        return out

    async def fill_first(self, sk: Sketch, step: SketchStep, sid: int, nl_steps: list[str]) -> dict[str, Any]:
        """A node's first tries: the memo, the portfolio, the prover's samples. Status
        ``solved``, ``unsolved`` (no goal to work on) or ``open`` (with the last failed try)."""
        if step.goal is None:
            await self.try_row("extract-goal", None, step_id=sid, verdict="unread", messages=[
                {"severity": "error", "data": "the hole's goal could not be read (extract_goal)"}])
            await self.update("step", sid, status="unsolved")
            return {"status": "unsolved"}
        memo = await self.e.db(self.e.store.solved_node, sk.memo_key(step))
        if memo is not None and memo.proof_text:
            await self.try_row("memo", None, step_id=sid, code=memo.proof_text, verdict="memo")
            await self.update("step", sid, status="solved", solved_by=f"memo:{memo.id}", proof_text=memo.proof_text,
                              aux=list(memo.aux or []), check_id=memo.check_id, uses_steps=list(memo.uses_steps or []))
            return {"status": "solved", "body": memo.proof_text, "aux": list(memo.aux or [])}
        node_text = sk.node_problem(step)
        try:
            node = LeanProblem.parse(node_text)
        except UsageError as exc:  # a `have` whose text does not make a lemma on its own
            await self.try_row("state", None, step_id=sid, verdict="unstatable",
                               messages=[{"severity": "error", "data": f"cannot state the node as a lemma: {exc}"}])
            await self.update("step", sid, status="unsolved")
            return {"status": "unsolved"}
        for tac in self.c.portfolio:
            body = f"by\n  {tac}"
            proved = await self.e.lean.prove(node.with_proof(body), node)
            await self.try_row("portfolio", proved, step_id=sid, tactic=tac, code=node.with_proof(body),
                               messages=messages_for_prompt(proved.result, node.with_proof(body), node))
            if proved.success:
                return await self.solved(sid, step, body, [], f"portfolio:{tac}", proved)
        hint = nl_steps[step.nl_step - 1] if step.nl_step and 0 < step.nl_step <= len(nl_steps) else ""
        last: tuple[int, str, str] | None = None  # (try id, code, messages)
        for j in range(self.c.node_samples):
            res = await self.ask("prover", prompts.node_proof(strip_comments(node_text), hint), "node", step.key, j)
            got = await self.node_try(node, sid, "prover", res, sample_index=j)
            if got.get("solved"):
                return await self.solved(sid, step, got["body"], got["aux"], "prover", got["proved"])
            last = got.get("last") or last
        return {"status": "open", "node": node, "hint": hint, "last": last}

    async def fill_rest(self, sk: Sketch, step: SketchStep, sid: int, state: dict[str, Any],
                        repairs: int) -> dict[str, Any]:
        """An open node's repairs (at most ``repairs``, from Lean's messages), then its negation
        in context (a refutation); else it stays unsolved."""
        node, hint, last = state["node"], state["hint"], state["last"]
        r = 0
        while last is not None and r < repairs:
            self.repairs += 1
            r += 1
            res = await self.ask("prover", prompts.repair(last[1], last[2]), "repair", step.key, r)
            got = await self.node_try(node, sid, "repair", res, repair_index=r, parent_id=last[0])
            if got.get("solved"):
                return await self.solved(sid, step, got["body"], got["aux"], f"repair:{r}", got["proved"])
            last = got.get("last") or last
        if self.c.refute:
            hit = await self.refute(sk.node_problem(step, negate=True), step_id=sid, hint=hint)
            if hit is not None:
                try_id, proved = hit
                rid = await self.add("refutation", attempt_id=self.id, step_id=sid, problem_id=self.proof.problem_id,
                                     proof_id=self.proof.id, what="step", proposition=step.goal.negation(),
                                     try_id=try_id, check_id=proved.check_id,
                                     formal_statement_id=self.values.get("formal_statement_id"),
                                     statement_given=self.values.get("statement_source") == "given",
                                     flags_statement=False)
                await self.update("step", sid, status="refuted")
                return {"status": "refuted", "refutation_id": rid}
        await self.update("step", sid, status="unsolved")
        return {"status": "unsolved"}

    async def node_try(self, node: LeanProblem, sid: int, stage: str, res, *, sample_index: int = 0,
                       repair_index: int = 0, parent_id: int | None = None) -> dict[str, Any]:
        code = extract_lean(res.text) if res.status != "error" else None
        if code is None:
            await self.try_row(stage, None, step_id=sid, sample_index=sample_index, repair_index=repair_index,
                               parent_id=parent_id, call_key=res.key, verdict="no-code")
            return {}
        proved = await self.e.lean.prove(code, node)
        msgs = messages_for_prompt(proved.result, code, node)
        tid = await self.try_row(stage, proved, step_id=sid, sample_index=sample_index, repair_index=repair_index,
                                 parent_id=parent_id, call_key=res.key, code=code, messages=msgs)
        if proved.success:
            parts = screen(node, code).parts
            body = parts.body_text(parts.target).strip()  # type: ignore[union-attr,arg-type]
            aux = [parts.command_text(c) for c in parts.aux]  # type: ignore[union-attr]
            return {"solved": True, "body": body, "aux": aux, "proved": proved}
        return {"last": (tid, code, format_messages(msgs))}

    async def solved(self, sid: int, step: SketchStep, body: str, aux: list[str], how: str,
                     proved: Proved) -> dict[str, Any]:
        names = {n for b in (step.goal.binders if step.goal else ()) for n in b.names}
        used = sorted({t.text for t in lex(body).tokens if t.kind is Kind.IDENT and t.text in names})
        await self.update("step", sid, status="solved", solved_by=how, proof_text=body, aux=aux,
                          check_id=proved.check_id, uses_steps=used)
        return {"status": "solved", "body": body, "aux": aux}

    async def write_feedback(self, sk: Sketch, step: SketchStep, sid: int, nl_steps: list[str]) -> None:
        rows = await self.e.db(self.e.store.formal_rows, "try", step_id=sid)
        msgs = next((r.messages for r in reversed(rows) if r.messages and not r.negated), [])
        nl = nl_steps[step.nl_step - 1] if step.nl_step and 0 < step.nl_step <= len(nl_steps) else None
        claim = f"have {step.name} : {' '.join(step.type_text.split())}" if step.type_text else \
            (" ".join(step.goal.conclusion.split()) if step.goal else step.text.strip())
        lean_text = format_messages(msgs, width=600)
        text = FEEDBACK.format(index=step.nl_step if step.nl_step else "?",
                               quote=f' ("{_excerpt(nl, 200)}")' if nl else "", claim=claim,
                               lean=f"\nLean's last messages:\n{lean_text}" if lean_text else "")
        fid = await self.add("feedback", attempt_id=self.id, problem_id=self.proof.problem_id,
                             proof_id=self.proof.id, step_id=sid, nl_step_index=step.nl_step, nl_step=nl,
                             statement=step.goal.statement() if step.goal else None, messages=msgs, text=text)
        self.feedback.append((fid, text))

    # -- alignment ------------------------------------------------------------------------------------

    async def align_all(self, sk: Sketch, step_ids: dict[int, int], nl_steps: list[str]) -> dict[int, bool]:
        out: dict[int, bool] = {}

        async def one(step: SketchStep) -> None:
            out[id(step)] = await self.align(sk, step, step_ids[id(step)], nl_steps)

        await asyncio.gather(*(one(s) for s in sk.claims))
        return out

    async def align(self, sk: Sketch, step: SketchStep, sid: int, nl_steps: list[str]) -> bool:
        """Back-translate a ``have`` step and ask the judges whether it states its NL step."""
        if not step.nl_step or not 0 < step.nl_step <= len(nl_steps):
            await self.update("step", sid, aligned=False)
            return False
        statement = step.goal.statement() if step.goal else f": {step.type_text}"
        back = await self.ask("formalizer", prompts.align_back(step.name or "this", statement), "align", step.position,
                              "back")
        back_text = plain_answer(back.text) if back.status != "error" else ""
        prompt = prompts.alignment(self.proof.statement or "", step.nl_step, nl_steps[step.nl_step - 1],
                                   back_text or "(no restatement)", step.name or "this", step.type_text or "")
        results = await self.ask_many("judge", [(prompt, ("align", step.position, "vote", j))
                                                for j in range(self.c.alignment_votes)])
        votes = _Votes([(j, r.key, parse_vote(r.text) if r.status != "error" else None, r.text)
                        for j, r in enumerate(results)])
        yes = sum(1 for v in votes if v[2])
        aligned = yes >= self.c.alignment_needed
        await self.store_votes("alignment", votes, step_id=sid)
        await self.update("step", sid, aligned=aligned, back_translation=back_text, back_translation_call_key=back.key,
                          votes_yes=yes, votes_total=len(votes))
        return aligned


class _Votes(list):
    """Votes as (sample index, call key, vote, text), with the back-translation they judged."""

    back: str = ""
    back_key: str | None = None


def _excerpt(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


# -- answer problems ----------------------------------------------------------------------------------

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


def sample_pool(pool_ids: list[int], k: int, seed: int, problem_key: str) -> tuple[list[int], float | None]:
    """K proofs drawn uniformly without replacement (seeded by run seed and problem) and each
    one's inclusion probability K / pool size."""
    if k <= 0 or not pool_ids:
        return [], None
    k = min(k, len(pool_ids))
    rng = random.Random(int(sha256_text(f"formal-sample:{seed}:{problem_key}"), 16))
    return rng.sample(sorted(pool_ids), k), k / len(pool_ids)
