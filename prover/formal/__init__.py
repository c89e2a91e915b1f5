"""The formal stage of ``prover run --formal`` and ``prover formalize``, one module per step of
an attempt on one NL proof (``engine.py`` runs them in order):

* ``statement.py`` — the Lean statement: given (compatible, gated) or autoformalized and gated
* ``root.py`` — statement-level work shared by the problem's proofs: portfolio, direct, negation
* ``sketching.py`` (``sketch.py`` reads a sketch) — the sketch of ``have`` steps and its lemma DAG
* ``nodes.py`` — each node filled (memo, portfolio, prover, repairs), or refuted in context
* ``alignment.py`` — each step voted on against its NL step
* ``feedback.py`` — an unsolved node handed back to informal refinement
* ``assembly.py`` — the sketch with its node lemmas, checked as a whole

Shared by the steps: ``context.py`` (the attempt's proof, model calls, counters), ``recorder.py``
(every row), ``checker.py`` (Lean), ``prompts.py``, ``leantext.py``; ``evidence.py`` reads the
rows for labels."""

from prover.formal.checker import LeanRunner
from prover.formal.engine import FormalEngine, ProofInfo, load_proof, sample_pool
from prover.formal.evidence import formal_one_conditions, negative_refutations, supports_formal_one
from prover.formal.sketch import Sketch, SketchStep, parse_sketch

__all__ = ["LeanRunner", "FormalEngine", "ProofInfo", "load_proof", "sample_pool", "formal_one_conditions",
           "negative_refutations", "supports_formal_one", "Sketch", "SketchStep", "parse_sketch"]
