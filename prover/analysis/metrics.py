"""Agreement metrics between a reference and a candidate grade of the same proofs.

Pure numpy (no scipy): confusion matrix, precision/recall/F1/accuracy of "pass", Cohen's kappa,
Pearson and Spearman correlation, ROC AUC, reliability bins with expected calibration error, and
bootstrap intervals that resample *problems* — proofs of one problem are not independent, so
resampling proofs would give intervals that are too narrow.

Every metric that the data leave undefined is None with a line in ``notes``; nothing here
returns NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from prover.core.crosscheck_records import (
    METRIC_NAMES,
    BootstrapSummary,
    CrossCheckMetrics,
    PairedValue,
    ReliabilityBin,
)
from prover.core.errors import UsageError

#: A value this close below its threshold still passes: grades divided by their maximum
#: (6/7) and thresholds written as fractions ("6/7") may differ in the last bit.
PASS_TOLERANCE = 1e-9

CANDIDATE_PASS_REFERENCE_FAIL = "candidate_pass_reference_fail"
CANDIDATE_FAIL_REFERENCE_PASS = "candidate_fail_reference_pass"


def parse_number(text: str | float | int, *, what: str = "value") -> float:
    """A number from ``0.5``, ``1`` or a fraction like ``6/7``; UsageError otherwise."""
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{what} must be a number or a fraction like 6/7, got {text!r}") from None


def passes(values: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean array: which values are at or above the threshold."""
    return values >= threshold - PASS_TOLERANCE


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks (like scipy's rankdata)."""
    n = len(x)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(x, kind="mergesort")
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    xs = x[order]
    starts = np.concatenate(([True], xs[1:] != xs[:-1]))
    dense = np.cumsum(starts)[inverse]  # 1-based group of each element
    bounds = np.concatenate((np.nonzero(starts)[0], [n]))  # first position of each group, then n
    # Group g (1-based) spans sorted positions bounds[g-1] .. bounds[g]-1, i.e. ranks
    # bounds[g-1]+1 .. bounds[g]; their mean is (bounds[g-1] + 1 + bounds[g]) / 2.
    return 0.5 * (bounds[dense - 1] + 1 + bounds[dense])


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = float(dx @ dx), float(dy @ dy)
    # Relative test: values that are equal up to rounding count as constant.
    if sxx <= 1e-24 * max(1.0, float(x @ x)) or syy <= 1e-24 * max(1.0, float(y @ y)):
        return None
    r = float(dx @ dy) / float(np.sqrt(sxx * syy))
    return max(-1.0, min(1.0, r))


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _bin_index(candidate: np.ndarray, n_bins: int) -> np.ndarray:
    # floor(v * bins) with a little slack so that 0.3 lands in [0.3, 0.4) whatever the rounding;
    # 1.0 goes into the last bin.
    idx = np.floor(candidate * n_bins + PASS_TOLERANCE).astype(np.intp)
    return np.clip(idx, 0, n_bins - 1)


def _ece(candidate: np.ndarray, ref_pass: np.ndarray, n_bins: int) -> float | None:
    n = len(candidate)
    if n == 0 or candidate.min() < 0.0 or candidate.max() > 1.0:
        return None
    idx = _bin_index(candidate, n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    conf = np.bincount(idx, weights=candidate, minlength=n_bins)
    obs = np.bincount(idx, weights=ref_pass.astype(float), minlength=n_bins)
    # sum_b (count_b / n) * |mean_conf_b - pass_rate_b| = sum_b |conf_sum_b - pass_sum_b| / n
    return float(np.abs(conf - obs).sum()) / n


def _point(reference: np.ndarray, candidate: np.ndarray, ref_pass: np.ndarray,
           cand_pass: np.ndarray, n_bins: int) -> dict[str, float | None]:
    """The scalar metrics on one table (used for the estimate and for each resample)."""
    n = len(reference)
    tp = int(np.count_nonzero(cand_pass & ref_pass))
    fp = int(np.count_nonzero(cand_pass & ~ref_pass))
    fn = int(np.count_nonzero(~cand_pass & ref_pass))
    tn = n - tp - fp - fn
    out: dict[str, float | None] = {}
    out["precision"] = tp / (tp + fp) if tp + fp else None
    out["recall"] = tp / (tp + fn) if tp + fn else None
    out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    out["accuracy"] = (tp + tn) / n if n else None
    if n:
        p_observed = (tp + tn) / n
        p_chance = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
        out["kappa"] = (p_observed - p_chance) / (1 - p_chance) if p_chance < 1 else None
    else:
        out["kappa"] = None
    out["pearson"] = _pearson(reference, candidate)
    out["spearman"] = _pearson(average_ranks(reference), average_ranks(candidate)) if n else None
    out["auc"] = _auc(candidate, ref_pass)
    out["ece"] = _ece(candidate, ref_pass, n_bins)
    return out


def _notes(n: int, metrics: dict[str, float | None], reference: np.ndarray,
           candidate: np.ndarray, ref_pass: np.ndarray, cand_pass: np.ndarray) -> list[str]:
    if n == 0:
        return ["no proof has both a reference and a candidate value: every metric is undefined"]
    notes = []
    why = {
        "precision": "the candidate passes no proof",
        "recall": "the reference passes no proof",
        "f1": "neither the reference nor the candidate passes any proof",
        "kappa": "both pass/fail ratings put every proof in the same single class",
    }
    for name, reason in why.items():
        if metrics[name] is None:
            notes.append(f"{name} undefined: {reason}")
    constant = [side for side, v in (("reference", reference), ("candidate", candidate))
                if n < 2 or np.ptp(v) == 0]
    if metrics["pearson"] is None or metrics["spearman"] is None:
        if n < 2:
            reason = "fewer than two proofs"
        else:
            reason = " and ".join(constant) + " values are constant"
        notes.append(f"pearson and spearman undefined: {reason}")
    if metrics["auc"] is None:
        cls = "pass" if ref_pass.all() else "fail"
        notes.append(f"auc undefined: the reference gives every proof {cls} (one class only)")
    if metrics["ece"] is None:
        notes.append("ece undefined: candidate values are outside [0, 1], so not probabilities")
    return notes


def _reliability(candidate: np.ndarray, ref_pass: np.ndarray, n_bins: int) -> list[ReliabilityBin]:
    if len(candidate) == 0 or candidate.min() < 0.0 or candidate.max() > 1.0:
        return []
    idx = _bin_index(candidate, n_bins)
    bins = []
    for b in range(n_bins):
        mask = idx == b
        count = int(mask.sum())
        bins.append(ReliabilityBin(
            lo=b / n_bins, hi=(b + 1) / n_bins, count=count,
            mean_candidate=float(candidate[mask].mean()) if count else None,
            reference_pass_rate=float(ref_pass[mask].mean()) if count else None,
        ))
    return bins


def compute_metrics(pairs: Sequence[PairedValue], *, reference_threshold: float = 1.0,
                    candidate_threshold: float = 1.0, bootstrap: int = 2000, seed: int = 0,
                    n_bins: int = 10) -> CrossCheckMetrics:
    """Every agreement metric of ``pairs``, with problem-level bootstrap intervals.

    A value passes when it is at or above its threshold. ``bootstrap`` resamples (0 for none)
    draw problems with replacement from a numpy Generator seeded with ``seed``; each interval is
    the 2.5th..97.5th percentile over the resamples where the metric is defined, and the others
    are counted as degenerate.
    """
    if bootstrap < 0:
        raise UsageError(f"--bootstrap must be >= 0, got {bootstrap}")
    if n_bins < 1:
        raise UsageError(f"the number of reliability bins must be >= 1, got {n_bins}")
    n = len(pairs)
    reference = np.array([p.reference for p in pairs], dtype=float)
    candidate = np.array([p.candidate for p in pairs], dtype=float)
    if not (np.isfinite(reference).all() and np.isfinite(candidate).all()):
        raise UsageError("cross-check values must be finite numbers (NaN or infinity given)")
    ref_pass = passes(reference, reference_threshold)
    cand_pass = passes(candidate, candidate_threshold)
    metrics = _point(reference, candidate, ref_pass, cand_pass, n_bins)
    notes = _notes(n, metrics, reference, candidate, ref_pass, cand_pass)

    problem_keys = sorted({p.problem for p in pairs})
    ci, summary = _bootstrap(pairs, problem_keys, reference, candidate, ref_pass, cand_pass,
                             bootstrap, seed, n_bins, notes)

    fp_ids = [p.proof_id for p, c, r in zip(pairs, cand_pass, ref_pass) if c and not r]
    fn_ids = [p.proof_id for p, c, r in zip(pairs, cand_pass, ref_pass) if r and not c]
    excerpts = {p.proof_id: p.excerpt for p, c, r in zip(pairs, cand_pass, ref_pass) if c != r}
    tp = int(np.count_nonzero(cand_pass & ref_pass))
    return CrossCheckMetrics(
        n=n, problems=len(problem_keys), tp=tp, fp=len(fp_ids), fn=len(fn_ids),
        tn=n - tp - len(fp_ids) - len(fn_ids), **metrics,
        reliability=_reliability(candidate, ref_pass, n_bins), ci=ci, bootstrap=summary,
        disagreements={CANDIDATE_PASS_REFERENCE_FAIL: fp_ids, CANDIDATE_FAIL_REFERENCE_PASS: fn_ids},
        excerpts=excerpts, notes=notes,
    )


def _bootstrap(pairs, problem_keys, reference, candidate, ref_pass, cand_pass, resamples, seed,
               n_bins, notes) -> tuple[dict[str, list[float] | None], BootstrapSummary | None]:
    if resamples == 0:
        return {}, None
    n_problems = len(problem_keys)
    summary_args = dict(resamples=resamples, seed=seed, problems=n_problems)
    if n_problems < 2:
        notes.append("bootstrap intervals undefined: fewer than two problems to resample")
        return ({m: None for m in METRIC_NAMES},
                BootstrapSummary(**summary_args, degenerate={m: resamples for m in METRIC_NAMES}))
    position = {key: i for i, key in enumerate(problem_keys)}
    row_problem = np.array([position[p.problem] for p in pairs], dtype=np.intp)
    rows = np.arange(len(pairs))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in METRIC_NAMES}
    for _ in range(resamples):
        chosen = rng.integers(0, n_problems, size=n_problems)
        # Each proof appears as many times as its problem was drawn.
        take = np.repeat(rows, np.bincount(chosen, minlength=n_problems)[row_problem])
        values = _point(reference[take], candidate[take], ref_pass[take], cand_pass[take], n_bins)
        for m in METRIC_NAMES:
            if values[m] is not None:
                draws[m].append(values[m])
    ci: dict[str, list[float] | None] = {}
    degenerate = {}
    for m in METRIC_NAMES:
        degenerate[m] = resamples - len(draws[m])
        if draws[m]:
            lo, hi = np.percentile(np.array(draws[m]), [2.5, 97.5])
            ci[m] = [float(lo), float(hi)]
        else:
            ci[m] = None
            notes.append(f"{m} interval undefined: the metric is undefined in every resample")
    return ci, BootstrapSummary(**summary_args, degenerate=degenerate)
