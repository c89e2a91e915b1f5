"""The twin's small tier (issue 18): `prover run --formal` over 20 problems against the simulated
REPL pool (4 processes) and the simulated model server, once uninterrupted and once with chaos
(3 SIGKILLs of the prover process, each followed by a restart of the same command, REPL kills and
a model-server outage), then every invariant. The simulators answer from tags
(prover/testing/oracle.py): this checks prover's machinery, never anything about Lean or models."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.testing.sim_openai import SimModelConfig
from prover.testing.sim_repl import SimLeanConfig
from prover.testing.twin import TwinConfig, print_report, run_twin

pytestmark = pytest.mark.timeout(600)

# The first 20 miniF2F problems, vendored (tests/testing/data/README.md).
DATA = Path(__file__).parent / "data" / "minif2f.jsonl"
# Scaled down so that both runs take a couple of minutes on a 2-core machine.
SMALL = TwinConfig(
    problems=20, data=str(DATA), budget="small", kills=3, repl_kills=2, outage_s=3.0, processes=4, concurrency=16, seed=7,
    knobs=("--proofs", "2", "--verifications", "2", "--rounds", "1", "--refine-top", "1",
           "--direct-attempts", "2", "--repairs-per-node", "2"),
    lean=SimLeanConfig(import_s=0.3, import_mb=16, check_median_s=0.02),
    models=SimModelConfig(latency_median_s=0.02, rate_limit_rate=0.01, error_rate=0.01, truncate_rate=0.01))


def test_small_tier_keeps_every_invariant(tmp_path):
    lines = []
    report = run_twin(SMALL, tmp_path, echo=lines.append)
    print_report(report, echo=lines.append)
    text = "\n".join(lines)
    assert report.kills == 3, text
    assert report.invariants and all(report.invariants.values()), text
    assert set(report.invariants) == {
        "run finishes", "no duplicate rows", "a stored call is never sent again",
        "calls sent again after a kill <= those in flight", "no Lean check repeated for a stored definitive key",
        "labels equal those of an uninterrupted run", "no REPL outlives a killed prover"}
    # The runs did real work: formal attempts reached Lean and labels were derived.
    assert report.figures["chaos"]["lean_commands"] > 100 and report.details["labels"]["chaos"] > 0, text


def test_small_tier_with_local_workers_keeps_every_invariant(tmp_path):
    """The same with `prover run --workers 2`: a killed run takes its workers with it and the
    restarted command continues that run (it used to queue a second run beside the first while
    the first's workers lived on, and a new worker stopped on an attempt under an old lease)."""
    cfg = SMALL.model_copy(update={"problems": 10, "kills": 2,
                                   "knobs": SMALL.knobs + ("--workers", "2", "--lease-s", "30")})
    lines = []
    report = run_twin(cfg, tmp_path, echo=lines.append)
    print_report(report, echo=lines.append)
    text = "\n".join(lines)
    assert report.kills == 2, text
    assert report.invariants and all(report.invariants.values()), text
    assert report.figures["chaos"]["lean_commands"] > 50 and report.details["labels"]["chaos"] > 0, text
