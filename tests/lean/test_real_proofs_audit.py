"""Acceptance (issue 16): every published real proof in ``../shared/fixtures/real-proofs`` passes
`prover lean audit` against the problem file derived from it (vendored in
``tests/fixtures/lean/real-proofs``; see ``real_proofs.py``). These are proofs a user's prover
will write: auxiliary `def`s and instances, `open`, `noncomputable section`, `variable`, `mutual`
blocks, raised `maxHeartbeats`/`maxRecDepth`, `tactic.hygienic false`, `exact?`, `#print axioms`.
No Lean runs: this is the screen and the assembly only."""

from __future__ import annotations

import pytest

from prover.lean.audit import audit
from prover.lean.problem import LeanProblem
from real_proofs import VENDORED, problem_text, solutions  # tests/lean is on sys.path

NAMES = sorted(p.stem for p in VENDORED.glob("*.lean"))


def test_every_real_proof_has_a_vendored_problem(shared):
    assert sorted(solutions(shared)) == NAMES
    assert len(NAMES) == 18


@pytest.mark.parametrize("name", NAMES)
def test_vendored_problem_parses_with_one_target(name):
    p = LeanProblem.parse((VENDORED / f"{name}.lean").read_text(), source=name)
    assert p.target.body in ("sorry", "by sorry")


@pytest.mark.parametrize("name", NAMES)
def test_vendored_problem_is_the_derived_one(shared, name):
    assert (VENDORED / f"{name}.lean").read_text() == problem_text(shared, name, solutions(shared)[name])


@pytest.mark.parametrize("name", NAMES)
def test_real_proof_passes_the_audit(shared, name):
    proof = solutions(shared)[name].read_text()
    result = audit(proof, (VENDORED / f"{name}.lean").read_text())
    assert result.accepted, result.reasons
    assembled = result.assembled()
    # every model command is in the checked file, in order, around the problem's statement
    text = assembled.text
    target = result.problem.target
    assert text.count(target.header_text) == 1
    assert len(result.parts.aux) + len(result.parts.after) + len(result.parts.dropped) + len(
        result.parts.slot_fills) + 1 == len([c for c in result.parts.commands if c.head != "<doc>"])


def test_prover_lean_audit_command_accepts_every_real_proof(shared):
    from click.testing import CliRunner

    from prover.cli.main import cli

    runner = CliRunner()
    for name, solution in solutions(shared).items():
        r = runner.invoke(cli, ["lean", "audit", str(solution), "--statement-file", str(VENDORED / f"{name}.lean")],
                          catch_exceptions=False)
        assert (r.exit_code, r.output) == (0, "accepted\n"), (name, r.output)
