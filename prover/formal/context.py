"""What every step of one formal attempt works with: the proof (``ProofInfo``), the engine's
model client, Lean runner and recorder, and the attempt's counters (``AttemptContext``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prover.core.formal_records import FormalConfig
from prover.core.formal_step_records import Vote
from prover.core.hashing import sha256_text
from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
from prover.formal.checker import LeanRunner, Proved
from prover.formal.leantext import parse_vote
from prover.formal.recorder import FormalRecorder

if TYPE_CHECKING:
    from prover.formal.engine import FormalEngine
    from prover.formal.statement import Statement
    from prover.store import ProofStore


FORMAL_VERSION = 1
"""Bumped when the stage would ask or check different things for the same settings."""


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


def load_proof(store: ProofStore, proof_id: int) -> ProofInfo:
    """A stored proof with its problem and formal statements."""
    proof = store.get_proof(proof_id)
    p = store.get_problem(proof.problem_id)
    return ProofInfo(id=proof.id, problem_id=p.id, problem_key=f"{p.collection}/{p.external_id}/{p.statement_hash}",
                     collection=p.collection, statement=p.informal_statement, text=proof.text, answer=proof.answer,
                     answer_problem=p.reference_answer is not None, formal_statements=store.formal_statements(p.id))


class AttemptContext:
    """One attempt's view of the engine: its proof, its row, and what it has used so far."""

    def __init__(self, engine: "FormalEngine", proof: ProofInfo, attempt_id: int = 0):
        self.engine = engine
        self.config: FormalConfig = engine.config
        self.proof = proof
        self.attempt_id = attempt_id
        self.calls = 0
        """Model calls asked (cached ones included)."""
        self.failures = 0
        """Model calls that failed after their retries."""
        self.repairs = 0
        self.statement: Statement | None = None
        """The statement the attempt works on, once chosen."""

    @property
    def lean(self) -> LeanRunner:
        return self.engine.lean

    @property
    def record(self) -> FormalRecorder:
        return self.engine.record

    async def db(self, fn, *args, **kwargs):
        return await self.engine.db(fn, *args, **kwargs)

    async def ask(self, role: str, prompt: str, *seed_parts: object, scope: tuple | None = None):
        """One model call; its result (status ``error`` counts as no answer). The request seed
        derives from ``scope`` — by default this proof; statement-level work passes the
        statement's key, so that every proof of the problem (and later runs) asks the same. A proof
        is named by its text, never its row id: ids follow insertion order, which timing decides,
        so the same run in another database would otherwise ask different requests."""
        seed = formal_seed(self.config.seed, *(scope or (self.proof.problem_key, sha256_text(self.proof.text))),
                           *seed_parts)
        req = ModelRequest(role=role, messages=(ChatMessage(role="user", content=prompt),),  # type: ignore[arg-type]
                           params=SamplingParams(seed=seed))
        [[res]] = await self.engine.client.generate([req])
        self.calls += 1
        if res.status == "error" and res.transient:
            self.failures += 1
        return res

    async def ask_many(self, role: str, prompts_: list[tuple[str, tuple]], *, scope: tuple | None = None):
        return await asyncio.gather(*(self.ask(role, p, *parts, scope=scope) for p, parts in prompts_))

    async def tried(self, stage: str, proved: Proved | None, **kw: Any) -> int:
        """A Lean try of this attempt (``FormalRecorder.tried``)."""
        return await self.record.tried(self.attempt_id, stage, proved, **kw)

    async def judge(self, prompt: str, n: int, *seed_parts: object, scope: tuple | None = None) -> tuple[Vote, ...]:
        """n judge calls on one prompt, each read as a yes/no vote."""
        results = await self.ask_many("judge", [(prompt, (*seed_parts, "vote", j)) for j in range(n)], scope=scope)
        return tuple(Vote(index=j, call_key=r.key, vote=parse_vote(r.text) if r.status != "error" else None,
                          text=r.text) for j, r in enumerate(results))
