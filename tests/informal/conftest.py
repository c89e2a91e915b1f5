from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from prover.core.records import ProblemRecord  # noqa: E402

ROLES = ("generator", "verifier", "meta_verifier", "judge")

PROBLEMS = [
    ProblemRecord(collection="t", external_id="p1", informal_statement="Prove that 1 + 1 = 2."),
    ProblemRecord(collection="t", external_id="p2", informal_statement="Find the remainder of 2^100 mod 7.",
                  reference_answer="QWERTY-42"),
]


@pytest.fixture
def istore(tmp_path):
    """A SQLite proof database holding two problems (one with a reference answer)."""
    from prover.store import ProofStore

    s = ProofStore.open(tmp_path / "prover.db")
    s.add_problems(PROBLEMS)
    yield s
    s.close()


def knobs(**over):
    from prover.core.informal_records import SearchConfig, SearchKnobs

    base = dict(proofs=2, verifications=2, rounds=2, refine_top=1, analyses_per_refinement=2, meta_verifications=1,
                proofs_per_refinement=1)
    extra = {k: over.pop(k) for k in list(over) if k not in base}
    base.update(over)
    return SearchConfig(knobs=SearchKnobs(**base), **extra)


def run_search(store, script, tokens=("t/p1",), *, config=None, schedule="pipelined", templates=None, **knob_over):
    """Run the search with a scripted backend for every role; returns (summary, backend)."""
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend
    from prover.pipeline.run import run_informal

    backend = script if isinstance(script, ScriptedBackend) else ScriptedBackend(script)
    config = config or knobs(**knob_over)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    summary = run_informal(store, list(tokens), config=config, model_config=mc, templates=templates,
                           backends={r: backend for r in ROLES}, progress=False, schedule=schedule)
    return summary, backend
