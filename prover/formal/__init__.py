"""The formal stage: statements (given, or autoformalized and gated), a direct attempt, a sketch
with a lemma DAG filled by a tactic portfolio and the prover with repairs from Lean's messages,
refutations, and formal feedback for informal refinement (``engine.py``)."""

from prover.formal.checker import LeanRunner
from prover.formal.engine import FormalEngine, ProofInfo, load_proof, sample_pool
from prover.formal.evidence import formal_one_conditions, negative_refutations, supports_formal_one
from prover.formal.sketch import Sketch, SketchStep, parse_sketch

__all__ = ["LeanRunner", "FormalEngine", "ProofInfo", "load_proof", "sample_pool", "formal_one_conditions",
           "negative_refutations", "supports_formal_one", "Sketch", "SketchStep", "parse_sketch"]
