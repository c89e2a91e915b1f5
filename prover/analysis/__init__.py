"""Analysis engine: metrics and pictures derived from the proof database."""

from prover.analysis.metrics import compute_metrics, parse_number

__all__ = ["compute_metrics", "parse_number"]
