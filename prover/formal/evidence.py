"""The one reader of the formal stage's evidence (DESIGN.md, "Labels"): which conditions of a
formal label hold for one attempt. Everything that interprets formal outcomes goes through here
— the label builder (``prover.analysis.labels``), the evidence of the formal tables
(``prover.analysis.formal_evidence``) and the per-attempt view of the store
(``ProofStore.formal_evidence``, read by ``prover show`` and the engine's tests) — so they
cannot drift apart.

Evidence is a :class:`FormalEvidence` record, built by ``read_attempt`` from an attempt's stored
row, its sketch steps and its refutations, and from what statement-level work did to the same
statement anywhere in the database (``statement_closed_by``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from prover.core.label_records import FormalDecision, FormalEvidence, StepEvidence

#: The conditions of formal 1, in the order they are reported.
FORMAL_ONE_CONDITIONS = ("statement-faithful", "verified", "from-sketch", "steps-aligned", "steps-used",
                         "root-not-closed-independently")

#: Attempt statuses that mean the formal stage could not formalize the proof (never a label).
FORMALIZATION_FAILED = ("no_statement", "sketch_failed")

# The names the per-attempt view has always reported its conditions under.
_CONDITION_NAMES = {"statement_faithful": "statement-faithful", "descends_from_sketch": "from-sketch",
                    "steps_aligned": "steps-aligned", "steps_used": "steps-used",
                    "root_not_closed_independently": "root-not-closed-independently", "file_verified": "verified"}


# -- reading stored rows -------------------------------------------------------------------------

def read_attempt(a: Mapping[str, Any], steps: list[Mapping[str, Any]], refutations: list[Mapping[str, Any]], *,
                 incompatible: Collection[int] = (), closing_uses: Mapping[str, bool | None] | None = None,
                 statement_closed_by: str | None = None) -> FormalEvidence:
    """The evidence of one finished attempt. ``a``: its ``formal_attempts`` row (with
    ``check_verdict``, the current verdict of its final check); ``steps``: the aligned steps of
    its sketch (``position``, ``name``, ``votes``, ``aligned``, ``hole``, ``node_key``, ``id``);
    ``refutations``: its ``formal_refutations`` rows; ``incompatible``: formal statements that
    do not elaborate on the project toolchain; ``closing_uses``: node key → its lemma occurs in
    the final check's proof term; ``statement_closed_by``: how statement-level work closed the
    same statement on the same toolchain in any attempt (``statement_closures``)."""
    step_refutations = {r["step_id"]: r for r in refutations if r["what"] == "step" and r["step_id"] is not None}
    statement_refutations = [r for r in refutations if r["what"] == "statement"]
    faithful = a["statement_faithful"] is True
    origin = a["statement_source"] if a["statement_source"] in ("given", "autoformalized") else None
    return FormalEvidence(
        proof_id=a["proof_id"], attempt_id=a["id"], formal_statement_id=a["formal_statement_id"],
        statement_origin=origin,
        faithfulness=("trusted" if a["statement_trusted"] else "gated") if faithful else None,
        formalization_failed=a["status"] in FORMALIZATION_FAILED,
        statement_incompatible=a["formal_statement_id"] in incompatible,
        verified_check_id=a["final_check_id"], verdict=a["check_verdict"],
        from_sketch=a["sketch_id"] is not None and a["status"] == "verified",
        sketch_id=a["sketch_id"],
        steps=[StepEvidence(index=s["position"], name=s["name"] or "",
                            votes=[bool(v) for v in s.get("votes", []) if v is not None],
                            aligned=s["aligned"] is True, refuted=s["id"] in step_refutations,
                            refutation_check_id=(step_refutations.get(s["id"]) or {}).get("check_id"),
                            node_lemma=s.get("node_key") if s.get("hole") else None,
                            used=(closing_uses or {}).get(s.get("node_key")) if s.get("hole") else None)
               for s in steps if s["aligned"] is not None],
        root_closed_independently=bool(a["root_closed_independently"]),
        statement_closed_by=statement_closed_by,
        statement_refuted=bool(statement_refutations),
        statement_refutation_check_id=statement_refutations[0]["check_id"] if statement_refutations else None)


def from_view(ev: Mapping[str, Any]) -> FormalEvidence:
    """The evidence of ``ProofStore.formal_evidence(attempt_id)`` (the per-attempt view)."""
    st = ev["statement"]
    a = {"id": ev["attempt_id"], "proof_id": ev["proof_id"], "status": ev["status"],
         "formal_statement_id": st["formal_statement_id"], "statement_source": st["source"],
         "statement_trusted": st["trusted"], "statement_faithful": st["faithful"], "sketch_id": ev["sketch_id"],
         "final_check_id": ev["final_check_id"], "check_verdict": ev["final_verdict"],
         "root_closed_independently": ev["root_closed_independently"]}
    steps = [{**s, "position": i} for i, s in enumerate(ev["steps"])]
    return read_attempt(a, steps, ev["refutations"], closing_uses=ev.get("closing_uses"),
                        incompatible={st["formal_statement_id"]} if ev.get("statement_incompatible") else (),
                        statement_closed_by=ev.get("statement_closed_by"))


def _evidence(ev: FormalEvidence | Mapping[str, Any]) -> FormalEvidence:
    return ev if isinstance(ev, FormalEvidence) else from_view(ev)


# -- the rule ------------------------------------------------------------------------------------

def closed_without_sketch(ev: FormalEvidence) -> bool:
    """The statement was closed by statement-level work — by this attempt's root, or on the same
    statement and toolchain anywhere in the database: a verified sketch then proves nothing the
    statement did not already give."""
    return ev.root_closed_independently or ev.statement_closed_by is not None


def statement_proved(ev: FormalEvidence) -> bool:
    """Lean proved the attempt's statement without an NL sketch: statement-level work (a root
    portfolio tactic, a direct attempt) closed it on the same toolchain anywhere in the database,
    with a check still verified — not the attempt's own status, which a later screen or another
    attempt's work can make stale. A refutation closes the statement too, by its negation."""
    return ev.statement_closed_by is not None and ev.statement_closed_by != "negation"


def formal_one_missing(ev: FormalEvidence) -> list[str]:
    """The conditions of formal 1 that ``ev`` does not meet (empty: formal 1)."""
    missing = []
    if ev.faithfulness not in ("gated", "trusted") or ev.statement_incompatible:
        missing.append("statement-faithful")
    if ev.verified_check_id is None or ev.verdict != "verified":
        # ``verified-answer-unchecked`` is not enough: a filled answer slot must first be compared.
        missing.append("verified")
    if not ev.from_sketch or ev.sketch_id is None:
        missing.append("from-sketch")
    # A sketch with no step has nothing that mirrors the NL proof: it cannot vouch for it.
    if not ev.steps or not all(s.aligned for s in ev.steps):
        missing.append("steps-aligned")
    # The closing proof must use the aligned steps: each node lemma occurs in the target's proof
    # term, as the final check's trusted epilogue reported it (not reported: not shown).
    if not all(s.used is True for s in ev.steps if s.node_lemma is not None):
        missing.append("steps-used")
    if closed_without_sketch(ev):
        missing.append("root-not-closed-independently")
    if ev.epilogue_checked is False:
        missing.append("epilogue")
    if ev.final_check not in (None, "none") and ev.final_check_verdict != "verified":
        missing.append("final-check")
    return missing


def formal_label(ev: FormalEvidence) -> FormalDecision:
    """The formal label of one proof, from its evidence alone."""
    if ev.statement_incompatible:
        return FormalDecision(value=None, reason="statement-incompatible", missing=["statement-faithful"])
    if ev.formalization_failed:
        # A failure to formalize says nothing about the proof.
        return FormalDecision(value=None, reason="formalization-failed", missing=formal_one_missing(ev))
    missing = formal_one_missing(ev)
    faithful = "statement-faithful" not in missing
    refuted_steps = [s for s in ev.steps if s.refuted and s.aligned]
    refuted = ev.statement_refuted or bool(refuted_steps)
    if not missing and refuted:
        # Lean cannot soundly prove and refute the same claim: the evidence is inconsistent.
        return FormalDecision(value=None, reason="contradictory-evidence", missing=[])
    if ev.statement_refuted:
        if ev.statement_origin == "given":
            return FormalDecision(value=None, reason="given-statement-refuted", missing=missing, statement_false=True)
        if faithful:
            return FormalDecision(value=0.0, reason="refuted-statement", missing=missing)
    if refuted_steps and faithful:
        return FormalDecision(value=0.0, reason="refuted-step", missing=missing)
    if not missing:
        return FormalDecision(value=1.0, reason="formal-1", missing=[])
    if closed_without_sketch(ev):
        # The usual case of a proof Lean closed without its sketch: say so rather than what else is missing.
        return FormalDecision(value=None, reason="root-closed-independently", missing=missing)
    return FormalDecision(value=None, reason="not-" + missing[0], missing=missing)


# -- the per-attempt view ------------------------------------------------------------------------

def formal_one_conditions(ev: FormalEvidence | Mapping[str, Any]) -> dict[str, bool]:
    """Each condition of a formal-1 label, by name: the statement is faithful, the verified file
    descends from this proof's sketch, every sketch step passed its alignment vote, the closing
    proof uses the aligned steps, the statement was not closed by statement-level work, the
    assembled file is ``verified`` — read by ``formal_one_missing``."""
    missing = set(formal_one_missing(_evidence(ev)))
    return {name: condition not in missing for name, condition in _CONDITION_NAMES.items()}


def supports_formal_one(ev: FormalEvidence | Mapping[str, Any]) -> bool:
    """Whether the evidence meets every condition of formal 1 that it holds (the label builder
    adds the final check's confirmation)."""
    return not formal_one_missing(_evidence(ev))


def negative_refutations(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The refutations of a per-attempt view that give a formal-0 label (``formal_label``): of a
    faithful statement not given by a benchmark (refuting a given statement flags it instead), or
    of an aligned step in a faithful statement."""
    decision = formal_label(_evidence(ev))
    if decision.reason == "refuted-statement":
        return [r for r in ev["refutations"] if r["what"] == "statement"]
    if decision.reason == "refuted-step":
        aligned = {s["id"] for s in ev["steps"] if s["aligned"] is True}
        return [r for r in ev["refutations"] if r["what"] == "step" and r["step_id"] in aligned]
    return []
