"""Every row the formal stage writes, one method per table (``prover/store/formal.py``): an
attempt's progress, gates and their votes, sketches, steps, Lean tries, refutations and
feedback. Store calls run off the event loop (on the search's writer thread when there is one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prover.core.formal_step_records import AnswerChecks, AttemptRow, Votes
from prover.formal.checker import Proved

if TYPE_CHECKING:
    from prover.store import ProofStore


class FormalRecorder:
    """Writes of the formal tables for one engine."""

    def __init__(self, store: ProofStore, db: Callable[..., Awaitable[Any]]):
        self.store = store
        self.db = db
        """Runs a store call off the event loop."""

    async def _add(self, table: str, **values: Any) -> int:
        return await self.db(self.store.add_formal_row, table, **values)

    async def _update(self, table: str, row_id: int, **values: Any) -> None:
        await self.db(self.store.update_formal_row, table, row_id, **values)

    # -- attempts ---------------------------------------------------------------------------------

    async def attempt(self, attempt_id: int, row: AttemptRow) -> None:
        """Progress of an attempt: the fields of its row set so far."""
        await self._update("attempt", attempt_id, **row.columns())

    # -- statements -------------------------------------------------------------------------------

    async def gate(self, *, gate_key: str, problem_id: int, proof_id: int | None, run_id: int | None, kind: str,
                   status: str, reasons: list[str], votes_needed: int, candidate: str | None = None,
                   sample_index: int = 0, call_key: str | None = None, answer: str | None = None,
                   formal_statement_id: int | None = None, elaborates: bool | None = None,
                   messages: list | None = None, votes: Votes | None = None,
                   answer_checks: AnswerChecks | None = None) -> int:
        """A candidate statement through the faithfulness gate, with its judges' votes."""
        gid = await self._add(
            "gate", gate_key=gate_key, problem_id=problem_id, proof_id=proof_id, run_id=run_id, kind=kind,
            sample_index=sample_index, call_key=call_key, candidate=candidate, answer=answer,
            formal_statement_id=formal_statement_id, elaborates=elaborates, messages=messages or [],
            votes_needed=votes_needed, status=status, reasons=reasons,
            **(answer_checks.model_dump() if answer_checks is not None else {}),
            **({} if votes is None else dict(back_translation=votes.back, back_translation_call_key=votes.back_key,
                                             votes_yes=votes.yes, votes_total=votes.total)))
        if votes is not None:
            await self.votes("faithfulness", votes, gate_id=gid)
        return gid

    async def votes(self, kind: str, votes: Votes, *, gate_id: int | None = None, step_id: int | None = None) -> None:
        """Each judge's vote (``faithfulness`` of a gate, ``alignment`` of a step)."""
        for v in votes.votes:
            await self._add("vote", kind=kind, gate_id=gate_id, step_id=step_id, sample_index=v.index,
                            call_key=v.call_key, text=v.text, vote=v.vote)

    # -- sketches and their steps -----------------------------------------------------------------

    async def sketch(self, *, attempt_id: int, sample_index: int, repair_of: int | None, call_key: str | None,
                     text: str | None, nl_steps: list[str], status: str, elaborates: bool | None = None,
                     reasons: list[str] | None = None, messages: list | None = None,
                     dag: dict[str, Any] | None = None) -> int:
        return await self._add("sketch", attempt_id=attempt_id, sample_index=sample_index, repair_of=repair_of,
                               call_key=call_key, text=text, nl_steps=nl_steps, status=status, elaborates=elaborates,
                               reasons=reasons or [], messages=messages or [], dag=dag or {})

    async def sketch_dag(self, sketch_id: int, dag: dict[str, Any]) -> None:
        await self._update("sketch", sketch_id, dag=dag)

    async def step(self, *, attempt_id: int, sketch_id: int, position: int, kind: str, node_key: str | None,
                   name: str | None, nl_step_index: int | None, nl_step: str | None, type_text: str | None,
                   statement: str | None, memo_key: str | None, context_source: str | None, hole: bool,
                   depends_on: list[str], status: str) -> int:
        """One step of a sketch (a hole is a node of the lemma DAG)."""
        return await self._add("step", attempt_id=attempt_id, sketch_id=sketch_id, position=position, kind=kind,
                               node_key=node_key, name=name, nl_step_index=nl_step_index, nl_step=nl_step,
                               type_text=type_text, statement=statement, memo_key=memo_key,
                               context_source=context_source, hole=hole, depends_on=depends_on, status=status)

    async def step_solved(self, step_id: int, *, solved_by: str, proof_text: str, aux: list[str],
                          check_id: int | None, uses_steps: list[str]) -> None:
        await self._update("step", step_id, status="solved", solved_by=solved_by, proof_text=proof_text, aux=aux,
                           check_id=check_id, uses_steps=uses_steps)

    async def step_status(self, step_id: int, status: str) -> None:
        """A node that ended ``unsolved`` or ``refuted``."""
        await self._update("step", step_id, status=status)

    async def step_edges(self, step_id: int, depends_on: list[str]) -> None:
        await self._update("step", step_id, depends_on=depends_on)

    async def step_alignment(self, step_id: int, aligned: bool, votes: Votes | None = None) -> None:
        """A ``have`` step's alignment vote (no votes: it names no NL step)."""
        if votes is None:
            await self._update("step", step_id, aligned=aligned)
            return
        await self._update("step", step_id, aligned=aligned, back_translation=votes.back,
                           back_translation_call_key=votes.back_key, votes_yes=votes.yes, votes_total=votes.total)
        await self.votes("alignment", votes, step_id=step_id)

    # -- Lean tries and what they found ------------------------------------------------------------

    async def tried(self, attempt_id: int, stage: str, proved: Proved | None, *, step_id: int | None = None,
                    negated: bool = False, sample_index: int = 0, repair_index: int = 0,
                    parent_id: int | None = None, tactic: str | None = None, call_key: str | None = None,
                    code: str | None = None, messages: list | None = None, verdict: str | None = None) -> int:
        """One Lean try (or a try that never reached Lean: ``verdict`` says why)."""
        return await self._add(
            "try", attempt_id=attempt_id, step_id=step_id, stage=stage, negated=negated, sample_index=sample_index,
            repair_index=repair_index, parent_id=parent_id, tactic=tactic, call_key=call_key, code=code,
            check_id=proved.check_id if proved else None, verdict=proved.verdict if proved else verdict,
            success=bool(proved and proved.success), messages=messages or [])

    async def refutation(self, *, attempt_id: int, step_id: int | None, problem_id: int, proof_id: int | None,
                         what: str, proposition: str | None, try_id: int, check_id: int | None,
                         formal_statement_id: int | None, statement_given: bool, flags_statement: bool,
                         faithful: bool | None = None) -> int:
        return await self._add("refutation", attempt_id=attempt_id, step_id=step_id, problem_id=problem_id,
                               proof_id=proof_id, what=what, proposition=proposition, try_id=try_id,
                               check_id=check_id, formal_statement_id=formal_statement_id,
                               statement_given=statement_given, faithful=faithful, flags_statement=flags_statement)

    async def refutation_faithful(self, refutation_id: int, faithful: bool | None) -> None:
        await self._update("refutation", refutation_id, faithful=faithful)

    async def feedback(self, *, attempt_id: int, problem_id: int, proof_id: int | None, step_id: int | None,
                       nl_step_index: int | None, nl_step: str | None, statement: str | None, messages: list,
                       text: str) -> int:
        return await self._add("feedback", attempt_id=attempt_id, problem_id=problem_id, proof_id=proof_id,
                               step_id=step_id, nl_step_index=nl_step_index, nl_step=nl_step, statement=statement,
                               messages=messages, text=text)
