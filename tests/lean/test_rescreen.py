"""`prover lean rescreen`: stored `verified` checks of older screen rules are screened again from
the proof text and formal statement they store; those that no longer pass become `rejected` and
the formal labels resting on them are withdrawn. Real databases (SQLite; PostgreSQL when
configured); the Lean checks are stored rows, no Lean runs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from prover.cli.main import cli
from prover.core.label_records import LabelRecord
from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, ReasonCode, Verdict
from prover.core.records import ProblemRecord, ProofRecord
from prover.lean.rescreen import rescreen
from prover.lean.screen import SCREEN_RULES_VERSION

STATEMENT = "theorem t (x : ℕ) : x + 0 = x := by sorry"
PASSES = "theorem t (x : ℕ) : x + 0 = x := by simp\n"
# accepted by screen rules 1 (`aesop` was an allowed attribute then), outside the minimal list now
REJECTED_NOW = "@[aesop safe] lemma aux : True := trivial\n\ntheorem t (x : ℕ) : x + 0 = x := by simp\n"


def _setup(store):
    store.add_problems([ProblemRecord(collection="mini", external_id="p", informal_statement="x + 0 = x")])
    [problem] = store.list_problems("mini")
    fs = store.add_formal_statement(problem.id, toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n\n",
                                    statement=STATEMENT, source="test", extra={})
    proofs = store.add_proofs([ProofRecord(problem_id=problem.id, text=f"proof {i}") for i in range(4)])

    def check(proof_text, *, version=1, verdict=Verdict.VERIFIED, fsid=fs):
        req = LeanCheckRequest(assembled=f"-- {proof_text}", target="t", axioms_line=1,
                               toolchain="leanprover/lean4:v4.27.0", screen_rules_version=version)
        result = LeanCheckResult.for_request(req, verdict=verdict, backend="replay",
                                             axioms=() if verdict is Verdict.VERIFIED else None)
        return store.add_lean_check(result, formal_statement_id=fsid, proof_text=proof_text)

    ids = {"passes": check(PASSES), "rejected": check(REJECTED_NOW), "unscreenable": check(PASSES + "-- x", fsid=None),
           "current": check(PASSES + "-- current", version=SCREEN_RULES_VERSION)}

    def label(proof_id, check_id, value=1.0):
        return LabelRecord(proof_id=proof_id, source="formal", value=value, policy_version="formal-v1",
                           evidence={"evidence": {"verified_check_id": check_id, "steps": []}})

    store.add_labels([label(proofs[0], ids["passes"]), label(proofs[1], ids["rejected"]),
                      label(proofs[2], ids["unscreenable"]), label(proofs[3], ids["current"])])
    return ids, proofs


def test_rescreen_rejects_withdraws_and_marks_what_passes(store):
    ids, proofs = _setup(store)
    dry = rescreen(store, apply=False)
    assert [(c.check_id, c.outcome) for c in dry.checks] == [
        (ids["passes"], "passes"), (ids["rejected"], "rejected"), (ids["unscreenable"], "unscreenable")]
    assert [p for _, p, _ in dry.withdrawn_labels] == [proofs[1], proofs[2]]
    assert len(store.labels(sources=["formal"])) == 4  # a dry run changes nothing
    assert len(store.lean_checks_to_rescreen(SCREEN_RULES_VERSION)) == 3

    report = rescreen(store)
    assert report.count("rejected") == 1
    assert [r.code for r in report.checks[1].reasons] == [ReasonCode.ATTRIBUTE_NOT_ALLOWED]
    assert sorted(r.proof_id for r in store.labels(sources=["formal"])) == [proofs[0], proofs[3]]
    # the unscreenable row is left for a person to look at; the others are settled
    assert [r.id for r in store.lean_checks_to_rescreen(SCREEN_RULES_VERSION)] == [ids["unscreenable"]]
    verdicts = {row.id: (row.verdict, row.screen_rules_version, row.reasons)
                for k in ("passes", "rejected") for row in store.lean_checks_of_file(_file_hash(store, ids[k]))}
    assert verdicts == {ids["passes"]: ("verified", SCREEN_RULES_VERSION, []),
                        ids["rejected"]: ("rejected", 1, ["attribute-not-allowed"])}
    # rescreening again finds only what could not be screened
    again = rescreen(store)
    assert [(c.check_id, c.outcome) for c in again.checks] == [(ids["unscreenable"], "unscreenable")]
    assert again.withdrawn_labels == []


def _file_hash(store, check_id):
    from prover.store.schema import LeanCheck

    with store.session() as s:
        return s.get(LeanCheck, check_id).file_hash


def test_rescreen_cli(store, db_url):
    ids, _ = _setup(store)
    runner = CliRunner()
    r = runner.invoke(cli, ["lean", "rescreen", "--db", db_url, "--dry-run"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == (f"screen rules {SCREEN_RULES_VERSION}: 3 verified check(s) of older rules "
                                        "re-screened: 1 pass, 1 rejected, 1 cannot be re-screened")
    assert f"  check {ids['rejected']}: rejected: attribute-not-allowed (line 1)" in r.output
    assert "2 formal label(s) would be withdrawn" in r.output
    r = runner.invoke(cli, ["lean", "rescreen", "--db", db_url, "--json"], catch_exceptions=False)
    data = json.loads(r.output)
    assert data["applied"] and data["counts"] == {"passes": 1, "rejected": 1, "unscreenable": 1}
    assert len(data["withdrawn_labels"]) == 2
