"""Re-screening stored `verified` checks when the screen rules change (DESIGN.md: "a change of
screen rules re-screens stored `verified` rows").

Each stored `verified`/`verified-answer-unchecked` check accepted by an older screen is screened
again, from the proof text and the formal statement it stores, under ``SCREEN_RULES_VERSION``:
one that passes is marked with the current version; one that no longer passes becomes `rejected`
with the screen's reasons; one that cannot be re-screened (no stored proof text or statement) is
left as it is and reported. Formal labels resting on a check that is rejected now or cannot be
re-screened are withdrawn (deleted: labels are derived from the database, and the next
``prover labels build`` derives them again from what now holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prover.core.errors import UsageError
from prover.core.lean_records import Verdict
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, Reason, screen

if TYPE_CHECKING:
    from prover.store import ProofStore


@dataclass(frozen=True)
class RescreenedCheck:
    check_id: int
    old_version: int
    outcome: str
    """``passes``, ``rejected`` or ``unscreenable``."""
    reasons: tuple[Reason, ...] = ()
    note: str | None = None


@dataclass
class RescreenReport:
    version: int
    applied: bool
    checks: list[RescreenedCheck] = field(default_factory=list)
    withdrawn_labels: list[tuple[int, int, float]] = field(default_factory=list)
    """(label id, proof id, value) of each formal label withdrawn (or that would be, dry run)."""

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.checks if c.outcome == outcome)

    def to_json(self) -> dict:
        return {
            "screen_rules_version": self.version, "applied": self.applied,
            "counts": {o: self.count(o) for o in ("passes", "rejected", "unscreenable")},
            "checks": [{"check_id": c.check_id, "old_version": c.old_version, "outcome": c.outcome,
                        "reasons": [r.to_json() for r in c.reasons], "note": c.note} for c in self.checks],
            "withdrawn_labels": [{"label_id": i, "proof_id": p, "value": v} for i, p, v in self.withdrawn_labels],
        }


def rescreen(store: ProofStore, *, apply: bool = True) -> RescreenReport:
    """Re-screen every stored `verified` check of an older screen; with ``apply``, store the
    outcome and withdraw the formal labels that no longer hold."""
    report = RescreenReport(SCREEN_RULES_VERSION, apply)
    texts: dict[int, str | None] = {}
    for row in store.lean_checks_to_rescreen(SCREEN_RULES_VERSION):
        base = dict(check_id=row.id, old_version=row.screen_rules_version)
        fsid = row.formal_statement_id
        if row.proof_text is None or fsid is None:
            report.checks.append(RescreenedCheck(**base, outcome="unscreenable",
                                                 note="the check stores no proof text or formal statement"))
            continue
        if fsid not in texts:
            texts[fsid] = store.formal_statement_text(fsid)
        if texts[fsid] is None:
            report.checks.append(RescreenedCheck(**base, outcome="unscreenable", note="its formal statement is gone"))
            continue
        try:
            problem = LeanProblem.parse(texts[fsid], source=f"formal statement {fsid}")
        except UsageError as exc:
            report.checks.append(RescreenedCheck(**base, outcome="unscreenable", note=str(exc)))
            continue
        result = screen(problem, row.proof_text)
        outcome = "passes" if result.accepted else "rejected"
        report.checks.append(RescreenedCheck(**base, outcome=outcome, reasons=tuple(result.reasons)))
    failing = [c.check_id for c in report.checks if c.outcome != "passes"]
    report.withdrawn_labels = [(rec.id, rec.proof_id, rec.value) for rec in store.formal_labels_resting_on(failing)]
    if apply:
        for c in report.checks:
            if c.outcome == "rejected":
                store.set_lean_check_verdict(c.check_id, Verdict.REJECTED,
                                             list(dict.fromkeys(r.code for r in c.reasons)))
        store.set_lean_checks_screen_version([c.check_id for c in report.checks if c.outcome == "passes"],
                                             SCREEN_RULES_VERSION)
        store.delete_labels([i for i, _, _ in report.withdrawn_labels])
    return report
