"""DESIGN.md's formal-label conditions, read from one attempt's stored evidence
(``ProofStore.formal_evidence``). The labels themselves are built elsewhere; this says which
conditions hold, so that every consumer reads the evidence the same way."""

from __future__ import annotations

from typing import Any


def steps_used(steps: list[dict[str, Any]], closing_uses: dict[str, bool | None] | None) -> bool:
    """Every aligned step that is a node of the lemma DAG (a hole, proved as its own lemma) has
    its lemma constant in the target's proof term, as the final check's trusted epilogue
    reported it (``closing_uses``: node key → used; None: not reported, which never passes when
    there is such a step). Steps proved in place have no lemma of their own."""
    nodes = [s for s in steps if s.get("hole") and s.get("aligned") is not None]
    return all(closing_uses is not None and closing_uses.get(s.get("node_key")) is True for s in nodes)


def formal_one_conditions(ev: dict[str, Any]) -> dict[str, bool]:
    """Each condition of a formal-1 label: the statement is faithful (trusted collection, or the
    gate's votes passed); the verified file descends from this proof's sketch; every sketch step
    passed its alignment vote; the closing proof uses the aligned steps (``steps_used``); the
    root was not closed independently of the sketch; the assembled file is ``verified``
    (``verified-answer-unchecked`` is not enough: a filled answer slot must first be compared
    with the reference)."""
    return {
        "statement_faithful": ev["statement"]["faithful"] is True,
        "descends_from_sketch": ev["sketch_id"] is not None and ev["status"] == "verified",
        "steps_aligned": ev["steps_aligned"] is True,
        "steps_used": steps_used(ev["steps"], ev.get("closing_uses")),
        "root_not_closed_independently": not ev["root_closed_independently"],
        "file_verified": ev["final_verdict"] == "verified",
    }


def supports_formal_one(ev: dict[str, Any]) -> bool:
    return all(formal_one_conditions(ev).values())


def negative_refutations(ev: dict[str, Any]) -> list[dict[str, Any]]:
    """Refutations that may give a formal-0 label: of a faithful statement that was not given
    by a benchmark (refuting a given statement flags the statement instead), or of a step whose
    alignment vote passed in a faithful statement."""
    return [r for r in ev["refutations"] if r["faithful"] is True and not r["flags_statement"]]
