"""prover: language models prove mathematics; Lean checks what they prove."""

__version__ = "0.1.0"
