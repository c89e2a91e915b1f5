"""prover/testing is test infrastructure (the twin's simulators): prover never imports it at run
time, so nothing the simulators answer can leak into a real run."""

from __future__ import annotations

from pathlib import Path

import prover

ROOT = Path(prover.__file__).resolve().parent


def test_no_module_outside_prover_testing_imports_it():
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if "testing" not in p.relative_to(ROOT).parts[:1]
                 and ("prover.testing" in p.read_text(encoding="utf-8")
                      or "from prover import testing" in p.read_text(encoding="utf-8"))]
    assert offenders == []
