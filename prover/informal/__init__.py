"""The informal engine: DeepSeekMath-V2's generate → verify → meta-verify → refine search.

Public names: :class:`Templates`, :func:`load_templates`, :func:`default_templates` (prompts);
:func:`parse_generation`, :func:`parse_verdict`, :func:`parse_meta`, :func:`parse_judgement`
(parsers that never fail); :func:`extract_answer`, :func:`compare_answers`, :func:`answers_match`
(final answers: normalised match, then math-verify); :func:`select_for_refinement`,
:func:`pair_analyses`, :func:`best_proof`, :func:`informal_label`, :class:`VerificationWaves`
(decisions on the pool); :class:`Engine`, :class:`ProblemSearch`, :func:`run_pipelined`,
:func:`run_barrier` (the search and its schedulers)."""

from prover.informal.answers import AnswerComparison, answers_match, compare_answers, extract_answer, normalize_answer
from prover.informal.parsers import parse_generation, parse_judgement, parse_meta, parse_verdict
from prover.informal.pool import (PoolProof, PoolVerdict, VerificationWaves, answer_mismatch, best_proof,
                                  informal_label, meta_valid, pair_analyses, select_for_refinement)
from prover.informal.prompts import Templates, default_templates, load_templates
from prover.informal.search import Engine, ProblemInfo, ProblemSearch, run_barrier, run_pipelined

__all__ = [
    "AnswerComparison", "Engine", "PoolProof", "PoolVerdict", "ProblemInfo", "ProblemSearch", "Templates",
    "VerificationWaves", "answer_mismatch", "answers_match", "compare_answers",
    "best_proof", "default_templates", "extract_answer", "informal_label", "load_templates", "meta_valid",
    "normalize_answer", "pair_analyses", "parse_generation", "parse_judgement", "parse_meta", "parse_verdict",
    "run_barrier", "run_pipelined", "select_for_refinement",
]
