"""What the formal stage stores (DESIGN.md, "Data flow" step 3 and "Labels"). Every attempt,
gate, vote, sketch, DAG, node result, Lean try, repair, refutation and feedback issue is a row;
Lean verdicts themselves are ``lean_checks`` rows that these tables point to.

Tables (columns are only ever added):

``formal_attempts`` — the formal stage on one NL proof (``proof_id``), unique by
``attempt_key`` (proof, statement choice, settings, models, prompts). The evidence DESIGN.md's
formal-1 label needs, one column each:

* the statement: ``formal_statement_id``, ``statement_source`` (``given`` | ``autoformalized``),
  ``statement_trusted`` (a given statement from a collection the run marks trusted),
  ``gate_id`` (its faithfulness gate, with stored votes) and ``statement_faithful`` (trusted, or
  the gate passed);
* lineage: ``proof_id`` and ``sketch_id`` — the verified file descends from that sketch of that
  proof (``formal_sketches.attempt_id``);
* alignment: ``steps_aligned`` — every ``have`` step of the sketch passed its step-alignment vote
  (``formal_steps.aligned``, votes in ``formal_votes``);
* independence: ``root_closed_independently`` / ``root_closed_by`` (``portfolio:TACTIC`` or
  ``direct``) with ``direct_check_id`` — the root was closed without the sketch: evidence
  ``statement_proved``, never a label for the NL proof;
* the verdict: ``final_check_id`` → ``lean_checks`` (the assembled file, checked as a whole) and
  ``final_verdict``; ``status`` (``FormalStatus``);
* an unexpected exception: status ``error`` and its traceback in ``error`` (redone next run);
* population: ``population`` (``selected`` | ``random`` | ``manual``) and
  ``inclusion_probability`` (also written into the proof's metadata as
  ``formal_population`` / ``formal_inclusion_probability`` for cross-checks).

``formal_gates`` — one candidate statement and its gate: elaboration with `sorry`, back-translation,
vote counts (votes in ``formal_votes``), for answer problems ``trivially_closed`` (a lone
`rfl`/`decide`/`norm_num`/`simp` closes it), ``answer_copied`` and ``swapped_trivially_closed``;
``status`` accepted | rejected with ``reasons``.

``formal_votes`` — every judge vote: ``kind`` faithfulness (``gate_id``) or alignment
(``step_id``), the call's key, the text and the parsed vote.

``formal_sketches`` — every sketch asked for (repairs point at ``repair_of``): Lean text, the NL
steps, whether it elaborated and Lean's messages, and its lemma DAG (networkx node-link JSON).

``formal_steps`` — each ``have`` step and hole of a sketch: the NL step it is tagged with, the
node lemma's ``statement`` (binders in scope + proposition) and ``memo_key``, ``depends_on``
(DAG edges), ``status`` (proved_in_sketch | solved | unsolved | refuted | skipped),
``solved_by``, the proof and its ``check_id``, and its alignment (``aligned``, back-translation,
vote counts).

``formal_tries`` — every Lean try: ``stage`` (root-portfolio | direct | portfolio | memo | prover |
repair | refute-portfolio | refute-prover), on the goal or its negation (``negated``), the call,
the code, its ``check_id`` and verdict; a repair names the try it repairs (``parent_id``).

``formal_refutations`` — Lean proved the negation of the statement (``what`` = statement) or of a
step in its context (``what`` = step): the proposition refuted, the try and check, whether the
statement was given (``statement_given``: refuting a benchmark statement flags it,
``flags_statement``) and whether the refuted statement or step is faithful (``faithful``: a
formal-0 label needs it).

``formal_feedback`` — an unsolved node handed to informal refinement: the NL step, Lean's
messages and the issue text ("could not be established formally (possibly a prover
limitation)"); never a verification."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import delete, inspect, select, update

from prover.core.errors import NotFoundError
from prover.core.hashing import sha256_text
from prover.store.base import StoreBase
from prover.store.queries import chunked, rows_in
from prover.store.schema import (FormalAttempt, FormalFeedback, FormalGate, FormalRefutation, FormalSketch,
                                 FormalStatement, FormalStep, FormalTry, FormalVote, LeanCheck, Proof, StatementCompat,
                                 utcnow)


def closed_by(closures: dict[tuple[int, str | None], str], formal_statement_id: int | None,
              toolchain: str | None) -> str | None:
    """How statement-level work closed this statement on this toolchain (``statement_closures``);
    None: it did not. An unknown toolchain on either side matches."""
    hits = sorted((how for (fs, tc), how in closures.items()
                   if fs == formal_statement_id and (tc is None or toolchain is None or tc == toolchain)))
    return hits[0] if hits else None


def closing_uses(config: dict[str, Any] | None) -> dict[str, bool | None] | None:
    """Node key → whether the node lemma occurs in the proof term of the attempt's final check,
    as that check's trusted epilogue reported it (stored under ``closing_uses`` in the attempt's
    ``config``); None when the final check did not report it (no final check, no accepted
    report, or an attempt stored before the question was asked)."""
    uses = (config or {}).get("closing_uses")
    return dict(uses) if isinstance(uses, dict) else None


_KINDS = {"attempt": FormalAttempt, "gate": FormalGate, "sketch": FormalSketch, "step": FormalStep,
          "vote": FormalVote, "try": FormalTry, "refutation": FormalRefutation, "feedback": FormalFeedback}
_CHILDREN = (FormalFeedback, FormalRefutation, FormalTry, FormalStep, FormalSketch)
REDO = ("running", "incomplete", "unavailable", "error")
_FRESH = dict(status="running", stop_reason=None, formal_statement_id=None, statement_source=None,
              statement_trusted=False, gate_id=None, statement_faithful=None, root_closed_independently=False,
              root_closed_by=None, direct_check_id=None, sketch_id=None, nodes=0, nodes_solved=0, nodes_refuted=0,
              nodes_unsolved=0, steps_aligned=None, repairs=0, final_check_id=None, final_verdict=None, calls=0,
              checks=0, error=None)
"""An attempt started again forgets what its unfinished run had written."""
"""Statuses of attempts that decided nothing definitive: the next run does them again."""


def _row_dict(row) -> dict[str, Any]:
    out = {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}
    for k, v in list(out.items()):
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out


@dataclass
class FormalAttemptRows:
    """The formal stage's finished attempts with what labels and reports read of them."""

    attempts: list[dict[str, Any]]
    """Columns of ``formal_attempts`` plus ``check_verdict`` (the final check's verdict as
    ``lean_checks`` holds it now: a re-screen may have changed it), ``sketch_elaborates`` and
    ``direct_tries``."""
    steps: dict[int, list[dict[str, Any]]]
    """Sketch id → its steps that went through alignment, in position order, with their votes."""
    refutations: dict[int, list[dict[str, Any]]]
    """Attempt id → its refutations."""
    incompatible_statements: set[int]
    """Formal statements marked incompatible on some toolchain and compatible on none."""


class FormalMixin(StoreBase):
    # -- writing --------------------------------------------------------------------------------

    def add_formal_row(self, table: str, /, **values: Any) -> int:
        """Insert one row of a formal table (``attempt``, ``gate``, ``sketch``, ``step``,
        ``vote``, ``try``, ``refutation``, ``feedback``); returns its id."""
        with self.session() as s:
            row = _KINDS[table](**values)
            s.add(row)
            s.flush()
            self.fence_formal(s, row.__tablename__, row.id, values)  # type: ignore[attr-defined]
            return row.id

    def update_formal_row(self, table: str, row_id: int, /, **values: Any) -> None:
        """Update columns of one row of a formal table."""
        model = _KINDS[table]
        if table == "attempt":
            values.setdefault("updated_at", utcnow())
        with self.session() as s:
            s.execute(update(model).where(model.id == row_id).values(**values))
            self.fence_formal(s, model.__tablename__, row_id)  # type: ignore[attr-defined]

    def begin_formal_attempt(self, attempt_key: str, **values: Any) -> tuple[int, bool]:
        """(attempt id, finished). A finished attempt with this key is returned as it is; one
        left running by an interrupted run (or incomplete, or without a definitive Lean answer)
        loses its child rows and starts again (its model calls and definitive Lean checks come
        back from the caches) — unless a live worker other than this store's ``lease_holder``
        holds its problem's lease: then LeaseHeldError, and the attempt is left to that worker."""
        with self.session() as s:
            row = s.scalars(select(FormalAttempt).where(FormalAttempt.attempt_key == attempt_key)).first()
            if row is not None and row.status not in REDO:
                return row.id, True
            if row is not None and row.status == "running":
                # Running, maybe right now by the worker holding the problem's lease: only that
                # worker (or whoever takes over an expired lease) may redo it.
                self.check_not_leased(row.problem_id)  # type: ignore[attr-defined]
            if row is not None:
                for model in _CHILDREN:
                    s.execute(delete(model).where(model.attempt_id == row.id))
                for k, v in _FRESH.items():
                    setattr(row, k, v)
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = utcnow()
                s.flush()
                self.fence_formal(s, "formal_attempts", row.id, values)  # type: ignore[attr-defined]
                return row.id, False
            row = FormalAttempt(attempt_key=attempt_key, status="running", **values)
            s.add(row)
            s.flush()
            self.fence_formal(s, "formal_attempts", row.id, values)  # type: ignore[attr-defined]
            return row.id, False

    def add_formal_statement(self, problem_id: int, *, toolchain: str, preamble: str, statement: str,
                             source: str, extra: dict[str, Any]) -> int:
        """Store an autoformalized statement as a ``formal_statements`` row (the existing row's
        id when the same text is stored for this problem and toolchain)."""
        content_hash = sha256_text(preamble + "" + statement)
        with self.session() as s:
            row = s.scalars(select(FormalStatement).where(
                FormalStatement.problem_id == problem_id, FormalStatement.toolchain == toolchain,
                FormalStatement.content_hash == content_hash)).first()
            if row is None:
                row = FormalStatement(problem_id=problem_id, toolchain=toolchain, preamble=preamble, answer_slots="",
                                      statement=statement, content_hash=content_hash, source=source, extra=extra)
                s.add(row)
                s.flush()
            return row.id

    def merge_proof_metadata(self, proof_id: int, values: dict[str, Any]) -> None:
        """Set keys of a proof's metadata; list values are merged with what is there."""
        with self.session() as s:
            proof = s.get(Proof, proof_id)
            if proof is None:
                return
            meta = dict(proof.extra or {})
            for k, v in values.items():
                old = meta.get(k)
                if isinstance(v, list):
                    have = old if isinstance(old, list) else ([old] if old is not None else [])
                    meta[k] = list(dict.fromkeys([*have, *v]))
                else:
                    meta[k] = v
            proof.extra = meta

    # -- reading --------------------------------------------------------------------------------

    def lean_check_row_id(self, cache_key: str) -> int | None:
        """The row of a check by its cache key: the definitive one, else the newest."""
        with self.session() as s:
            rows = list(s.execute(select(LeanCheck.id, LeanCheck.definitive).where(LeanCheck.cache_key == cache_key)
                                  .order_by(LeanCheck.id.desc())))
        for rid, definitive in rows:
            if definitive:
                return rid
        return rows[0][0] if rows else None

    def formal_attempt(self, attempt_id: int) -> FormalAttempt | None:
        with self.session() as s:
            return s.get(FormalAttempt, attempt_id)

    def formal_rows(self, table: str, /, **where: Any) -> list[Any]:
        """Rows of a formal table matching column equalities, in id order."""
        model = _KINDS[table]
        with self.session() as s:
            q = select(model)
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return list(s.scalars(q.order_by(model.id)))

    def accepted_gate(self, gate_key: str) -> FormalGate | None:
        """The newest accepted gate with this key (a statement already through the gate)."""
        with self.session() as s:
            return s.scalars(select(FormalGate).where(FormalGate.gate_key == gate_key, FormalGate.status == "accepted")
                             .order_by(FormalGate.id.desc())).first()

    def solved_node(self, memo_key: str) -> FormalStep | None:
        """A node solved earlier with the same normalised context and statement."""
        with self.session() as s:
            return s.scalars(select(FormalStep).where(FormalStep.memo_key == memo_key, FormalStep.status == "solved")
                             .order_by(FormalStep.id)).first()

    def formal_feedback_of(self, proof_ids: Sequence[int]) -> dict[int, list[FormalFeedback]]:
        """Feedback of the finished attempts on these proofs, by proof."""
        out: dict[int, list[FormalFeedback]] = {}
        ids = list(proof_ids)
        with self.session() as s:
            for chunk in chunked(ids):
                rows = s.scalars(select(FormalFeedback)
                                 .join(FormalAttempt, FormalAttempt.id == FormalFeedback.attempt_id)
                                 .where(FormalFeedback.proof_id.in_(chunk), FormalAttempt.status.not_in(REDO))
                                 .order_by(FormalFeedback.id))
                for r in rows:
                    out.setdefault(r.proof_id, []).append(r)
        return out

    def formal_attempts_of(self, *, proof_id: int | None = None, problem_id: int | None = None) -> list[FormalAttempt]:
        with self.session() as s:
            q = select(FormalAttempt)
            if proof_id is not None:
                q = q.where(FormalAttempt.proof_id == proof_id)
            if problem_id is not None:
                q = q.where(FormalAttempt.problem_id == problem_id)
            return list(s.scalars(q.order_by(FormalAttempt.id)))

    def formal_evidence(self, attempt_id: int) -> dict[str, Any]:
        """What DESIGN.md's formal labels need from one attempt, in one place: the statement's
        faithfulness evidence, lineage, alignment, independence, the final verdict, and the
        refutations with what they refuted."""
        with self.session() as s:
            a = s.get(FormalAttempt, attempt_id)
            if a is None:
                raise NotFoundError(f"no formal attempt {attempt_id}")
            gate = s.get(FormalGate, a.gate_id) if a.gate_id else None
            final = s.get(LeanCheck, a.final_check_id) if a.final_check_id else None
            steps = list(s.scalars(select(FormalStep).where(FormalStep.attempt_id == a.id,
                                                            FormalStep.sketch_id == a.sketch_id)
                                   .order_by(FormalStep.position, FormalStep.id))) if a.sketch_id else []
            refs = list(s.scalars(select(FormalRefutation).where(FormalRefutation.attempt_id == a.id)
                                  .order_by(FormalRefutation.id)))
            return {
                "attempt_id": a.id, "proof_id": a.proof_id, "problem_id": a.problem_id, "status": a.status,
                "statement": {"formal_statement_id": a.formal_statement_id, "source": a.statement_source,
                              "trusted": a.statement_trusted, "faithful": a.statement_faithful,
                              "gate": None if gate is None else {
                                  "id": gate.id, "status": gate.status, "votes_yes": gate.votes_yes,
                                  "votes_total": gate.votes_total, "votes_needed": gate.votes_needed,
                                  "reasons": list(gate.reasons or [])}},
                "sketch_id": a.sketch_id,
                "steps": [{"id": st.id, "kind": st.kind, "name": st.name, "nl_step_index": st.nl_step_index,
                           "hole": st.hole, "node_key": st.node_key, "status": st.status, "aligned": st.aligned,
                           "votes_yes": st.votes_yes, "votes_total": st.votes_total} for st in steps],
                "steps_aligned": a.steps_aligned,
                "closing_uses": closing_uses(a.config),
                "root_closed_independently": a.root_closed_independently, "root_closed_by": a.root_closed_by,
                "statement_closed_by": closed_by(self.statement_closures([a.formal_statement_id]),
                                                 a.formal_statement_id, None if final is None else final.toolchain),
                "direct_check_id": a.direct_check_id,
                "final_check_id": a.final_check_id, "final_verdict": final.verdict if final is not None else None,
                "refutations": [{"id": r.id, "what": r.what, "step_id": r.step_id, "proposition": r.proposition,
                                 "check_id": r.check_id, "faithful": r.faithful,
                                 "statement_given": r.statement_given, "flags_statement": r.flags_statement}
                                for r in refs],
                "population": a.population, "inclusion_probability": a.inclusion_probability,
            }

    def statement_closures(self, formal_statement_ids: Sequence[int] | None = None
                           ) -> dict[tuple[int, str | None], str]:
        """(formal statement, toolchain) → how statement-level work closed the statement in any
        attempt of the database, whatever the run, settings or status: a root try
        (``portfolio:TACTIC``, ``direct``) whose check is still verified, or a refutation of the
        statement (``negation``). Toolchain None: an attempt marked closed without a check to say
        on which toolchain (it matches every one)."""
        proved = ("verified", "verified-answer-unchecked")
        fa, ft, fr, lc = FormalAttempt, FormalTry, FormalRefutation, LeanCheck
        tries = (select(fa.formal_statement_id, lc.toolchain, ft.stage, ft.tactic).join(fa, fa.id == ft.attempt_id)
                 .join(lc, lc.id == ft.check_id)
                 .where(ft.stage.in_(("root-portfolio", "direct")), ft.step_id.is_(None), ft.negated.is_(False),
                        lc.verdict.in_(proved), fa.formal_statement_id.is_not(None)))
        marked = (select(fa.formal_statement_id, lc.toolchain, fa.root_closed_by, lc.verdict)
                  .outerjoin(lc, lc.id == fa.direct_check_id)
                  .where(fa.root_closed_independently.is_(True), fa.formal_statement_id.is_not(None)))
        refuted = (select(fr.formal_statement_id, lc.toolchain).join(lc, lc.id == fr.check_id)
                   .where(fr.what == "statement", lc.verdict == "verified", fr.formal_statement_id.is_not(None)))
        if formal_statement_ids is not None:
            ids = [i for i in formal_statement_ids if i is not None]
            tries = tries.where(fa.formal_statement_id.in_(ids))
            marked = marked.where(fa.formal_statement_id.in_(ids))
            refuted = refuted.where(fr.formal_statement_id.in_(ids))
        out: dict[tuple[int, str | None], str] = {}
        with self.session() as s:
            for fs_id, toolchain, stage, tactic in s.execute(tries):
                out.setdefault((fs_id, toolchain), f"portfolio:{tactic}" if stage == "root-portfolio" else "direct")
            for fs_id, toolchain, how, verdict in s.execute(marked):
                if verdict is None or verdict in proved:
                    out.setdefault((fs_id, toolchain), how or "direct")
            for fs_id, toolchain in s.execute(refuted):
                out.setdefault((fs_id, toolchain), "negation")
        return out

    def formal_report(self, proof_id: int) -> list[dict[str, Any]]:
        """Everything stored about the formal attempts on one proof (``prover show``)."""
        out = []
        for a in self.formal_attempts_of(proof_id=proof_id):
            entry = _row_dict(a)
            entry["evidence"] = self.formal_evidence(a.id)
            sketches = self.formal_rows("sketch", attempt_id=a.id)
            entry["sketches"] = [_row_dict(x) for x in sketches]
            entry["steps"] = [_row_dict(x) for x in self.formal_rows("step", attempt_id=a.id)]
            entry["tries"] = [_row_dict(x) for x in self.formal_rows("try", attempt_id=a.id)]
            entry["feedback"] = [_row_dict(x) for x in self.formal_rows("feedback", attempt_id=a.id)]
            if a.formal_statement_id:
                with self.session() as s:
                    fs = s.get(FormalStatement, a.formal_statement_id)
                    entry["formal_statement"] = fs.preamble + fs.answer_slots + fs.statement if fs else None
            out.append(entry)
        return out

    # -- what labels, reports and evaluations read ------------------------------------------

    def formal_attempt_rows(self, problem_ids: Sequence[int] | None = None) -> FormalAttemptRows | None:
        """Finished formal attempts (of these problems, or all), None when the database has no
        formal-stage tables."""
        with self.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if not {"formal_attempts", "formal_steps", "formal_refutations", "formal_votes"} <= tables:
                return None
            fa, lc = FormalAttempt.__table__, LeanCheck.__table__

            q = (select(fa, lc.c.verdict.label("check_verdict"))
                 .select_from(fa.outerjoin(lc, lc.c.id == fa.c.final_check_id))
                 .where(fa.c.status.not_in(list(REDO))).order_by(fa.c.id))
            attempts = [dict(r._mapping) for r in rows_in(conn, q, fa.c.problem_id, problem_ids)]
            ids = [a["id"] for a in attempts]
            sketch_ids = [a["sketch_id"] for a in attempts if a["sketch_id"] is not None]

            elaborated = {sid for sid, ok in rows_in(conn, select(FormalSketch.id, FormalSketch.elaborates), FormalSketch.id,
                                                    sketch_ids) if ok}
            direct = {aid for (aid,) in rows_in(conn, select(FormalTry.attempt_id).where(FormalTry.stage == "direct").distinct(),
                                                FormalTry.attempt_id, ids)}
            for a in attempts:
                a["sketch_elaborates"] = a["sketch_id"] in elaborated
                a["direct_tries"] = a["id"] in direct
            steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
            step_by_id: dict[int, dict[str, Any]] = {}
            sq = select(FormalStep.id, FormalStep.sketch_id, FormalStep.position, FormalStep.name, FormalStep.kind,
                        FormalStep.status, FormalStep.aligned, FormalStep.hole,
                        FormalStep.node_key).where(FormalStep.aligned.is_not(None))
            for r in rows_in(conn, sq, FormalStep.sketch_id, sketch_ids):
                step = dict(r._mapping, votes=[])
                steps[r.sketch_id].append(step)
                step_by_id[r.id] = step
            vq = (select(FormalVote.step_id, FormalVote.vote).where(FormalVote.kind == "alignment")
                  .order_by(FormalVote.sample_index, FormalVote.id))
            for step_id, vote in rows_in(conn, vq, FormalVote.step_id, list(step_by_id)):
                step_by_id[step_id]["votes"].append(vote)
            for s in steps.values():
                s.sort(key=lambda st: (st["position"], st["id"]))
            refutations: dict[int, list[dict[str, Any]]] = defaultdict(list)
            fr = FormalRefutation.__table__
            for r in rows_in(conn, select(fr).order_by(fr.c.id), fr.c.attempt_id, ids):
                refutations[r.attempt_id].append(dict(r._mapping))
            incompatible: set[int] = set()
            if "statement_compat" in tables:
                status: dict[int, set[str]] = defaultdict(set)
                for fs_id, st in conn.execute(select(StatementCompat.formal_statement_id, StatementCompat.status)):
                    status[fs_id].add(st)
                incompatible = {k for k, v in status.items() if v == {"incompatible"}}
        return FormalAttemptRows(attempts=attempts, steps=dict(steps), refutations=dict(refutations),
                                 incompatible_statements=incompatible)

    def formal_attempt_outcomes(self, problem_ids) -> list[dict[str, Any]]:
        """Each formal attempt of these problems: problem id, status, model calls, run id. Read
        through the table (its columns are only ever added), not the formal stage's models."""
        ids = list(problem_ids)
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            if "formal_attempts" not in inspect(conn).get_table_names():
                return out
            fa = FormalAttempt.__table__
            q = select(fa.c.id, fa.c.problem_id, fa.c.status, fa.c.calls, fa.c.run_id)
            for _, p, st, c, r in sorted(rows_in(conn, q, fa.c.problem_id, ids)):
                out.append({"problem_id": p, "status": st, "calls": c or 0, "run_id": r})
        return out
