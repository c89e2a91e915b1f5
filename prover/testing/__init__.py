"""The twin of a real deployment (issue 18): a simulated Lean REPL and a simulated
OpenAI-compatible model server, for running ``prover run --formal`` at scale with faults.

Test infrastructure a user can also run; ``prover`` never imports it at run time. Nothing these
simulators answer is evidence about real Lean or real models: their verdicts come from a
deterministic oracle over the submitted text (``oracle``), and every figure obtained with them
measures prover's own machinery (scheduling, bookkeeping, recovery), never proving skill."""

from prover.testing.oracle import TAG_BAD, TAG_GAP, TAG_OK

__all__ = ["TAG_BAD", "TAG_GAP", "TAG_OK"]
