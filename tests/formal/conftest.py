from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from formal_support import LeanWorld  # noqa: E402
from prover.core.records import FormalStatementRecord, ProblemRecord, ProofRecord  # noqa: E402

ROLES = ("generator", "verifier", "meta_verifier", "formalizer", "prover", "judge")

TOY_HEADER = "theorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5"
TOY = f"import Mathlib\n\n{TOY_HEADER} := by sorry\n"
TOY_STATEMENT = "Let a and b be natural numbers with a = 2 and b = 3. Prove that a + b = 5."
NL_PROOF = ("Step 1. Since a = 2 and b = 3, we get a + b = 2 + 3.\n\n"
            "Step 2. Finally 2 + 3 = 5, hence a + b = 5.")

SKETCH = f"""{TOY_HEADER} := by
  -- Step 1: substitute the hypotheses
  have h2 : a + b = 2 + 3 := by sorry
  -- Step 2: compute
  have h3 : (2 : ℕ) + 3 = 5 := by sorry
  rw [h2, h3]
"""


def toy_problem(collection: str = "mini", external_id: str = "toy", *, formal: bool = True,
                statement: str = TOY_STATEMENT, answer: str | None = None) -> ProblemRecord:
    fs = [FormalStatementRecord(toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n\n",
                                statement=f"{TOY_HEADER} := by sorry\n")] if formal else []
    return ProblemRecord(collection=collection, external_id=external_id, informal_statement=statement,
                         reference_answer=answer, formal_statements=fs)


@pytest.fixture
def world(tmp_path) -> LeanWorld:
    return LeanWorld(tmp_path)


@pytest.fixture
def fstore(tmp_path):
    """A SQLite proof database: problem mini/toy (with its formal statement) and one NL proof."""
    from prover.store import ProofStore

    s = ProofStore.open(tmp_path / "prover.db")
    s.add_problems([toy_problem()])
    pid = s.resolve_problem("mini/toy").id
    [s.proof_id] = s.add_proofs([ProofRecord(problem_id=pid, text=NL_PROOF, source="imported")])
    yield s
    s.close()


def add_problem_with_proof(store, record: ProblemRecord, proof_text: str = NL_PROOF, answer: str | None = None) -> int:
    from prover.store.schema import Proof

    store.add_problems([record])
    pid = store.resolve_problem(f"{record.collection}/{record.external_id}").id
    [proof_id] = store.add_proofs([ProofRecord(problem_id=pid, text=proof_text, source="imported")])
    if answer is not None:
        with store.session() as s:
            s.get(Proof, proof_id).answer = answer
    return proof_id


def model_config():
    from prover.core.llm_records import ModelConfig, RoleSettings

    return ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))


def pin():
    from prover.lean.toolchain import REPO_ROOT, read_pin

    return read_pin(REPO_ROOT / "lean_project")


def formalize(store, world: LeanWorld, script, proof_id: int, **config):
    """Run the formal stage on one proof with the scripted model and the fake REPL: (result,
    scripted backend)."""
    from prover.core.formal_records import FormalConfig
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import formalize_proofs

    backend = ScriptedBackend(script)
    config.setdefault("trusted_collections", ("mini",))
    cfg = FormalConfig(**config)
    with world.pool() as pool:
        [result] = formalize_proofs(store, [proof_id], config=cfg, model_config=model_config(), lean_backend=pool,
                                    pin=pin(), backends={r: backend for r in ROLES})
    return result, backend
