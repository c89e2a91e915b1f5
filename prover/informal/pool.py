"""The proof pool of one problem and the pure decisions taken on it: which proofs to refine,
which analyses go with them, whether a proof passed, which proof is the result, and the informal
consensus label. Every random choice takes an RNG the caller seeds (see ``seeds.py``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from statistics import fmean
from typing import Sequence

from prover.core.informal_records import InformalLabel, LabelPolicy


@dataclass
class PoolVerdict:
    """One verifier analysis of a pool proof, with its meta-verifications."""

    index: int
    """Verification sample index of its proof (retries continue after M - 1)."""
    score: float | None
    """0 / 0.5 / 1; None when unparsed."""
    status: str
    analysis: str
    id: int | None = None
    """Row id in ``verifications``."""
    metas: list[float | None] = field(default_factory=list)
    """Meta-scores, in meta sample order (None: unparsed)."""

    @property
    def parsed(self) -> bool:
        return self.score is not None

    @property
    def reports_issues(self) -> bool:
        return self.score is not None and self.score < 1


@dataclass
class PoolProof:
    """One proof of the pool."""

    round: int
    """0 for generated proofs, r for proofs refined in round r."""
    slot: int
    """Its place among the proofs of its round (the order of requests)."""
    text: str
    self_score: float | None = None
    status: str = "ok"
    id: int | None = None
    """Row id in ``proofs``."""
    parent_ids: list[int] = field(default_factory=list)
    """Lineage: the proof it refines and the analyses it was given (``proof:ID``, ``verification:ID``)."""
    verdicts: list[PoolVerdict] = field(default_factory=list)
    answer: str | None = None
    answer_match: bool | None = None

    @property
    def scores(self) -> list[float]:
        """Parsed verdict scores, in sample order."""
        return [v.score for v in sorted(self.verdicts, key=lambda v: v.index) if v.score is not None]

    @property
    def mean(self) -> float | None:
        s = self.scores
        return fmean(s) if s else None

    def passed(self, m: int) -> bool:
        """All of M parsed verdicts are 1."""
        s = self.scores
        return len(s) >= m and all(x == 1.0 for x in s[:m])


@dataclass
class VerificationWaves:
    """Which verification samples of one proof to ask next.

    Samples are asked in index order, in waves of at most ``size``; a wave asks only as many as
    the proof still needs parsed verdicts (up to M + retries samples in all), so an unparsed
    verdict is replaced by the next index, as in the full schedule. With ``size`` set, a proof
    whose outcome is decided — a parsed score below 1 means it cannot pass all M — gets no
    further wave. The samples asked are therefore always a prefix of those the full schedule
    (``size`` None) asks, and a proof passes under waves exactly when it passes under the full
    schedule. Each decision depends only on the answers of earlier waves: an identical command
    asks identical requests."""

    m: int
    """M: parsed verdicts wanted."""
    cap: int
    """M + retries: most samples."""
    size: int | None = None
    """Samples per wave; None: the full schedule (no early stop)."""
    issued: int = 0
    parsed: int = 0
    failing: bool = False
    """A parsed verdict below 1 came back: the proof cannot pass."""
    stalled: bool = False
    """A call failed transiently: the search is incomplete and a rerun continues it."""

    def next_wave(self) -> list[int]:
        """The sample indices to ask now (empty: this proof's verification is over)."""
        if self.stalled or self.parsed >= self.m or (self.size is not None and self.failing):
            return []
        take = min(self.m - self.parsed, self.cap - self.issued)
        if self.size is not None:
            take = min(take, self.size)
        if take <= 0:
            return []
        wave = list(range(self.issued, self.issued + take))
        self.issued += take
        return wave

    def record(self, score: float | None, *, transient: bool = False) -> None:
        """One answer of the last wave (``score`` None: unparsed)."""
        if transient:
            self.stalled = True
        elif score is not None:
            self.parsed += 1
            self.failing = self.failing or score < 1


def _rank(proof: PoolProof) -> tuple[float, float]:
    # Mean verification score, ties broken by the generator's own score (unparsed: lowest).
    return (proof.mean if proof.mean is not None else -1.0,
            proof.self_score if proof.self_score is not None else -1.0)


def select_for_refinement(pool: Sequence[PoolProof], k: int, rng: random.Random) -> list[PoolProof]:
    """The K best proofs with at least one parsed verdict, by mean score then self-score; proofs
    that tie on both are ordered by the seeded shuffle that precedes the (stable) sort."""
    candidates = [p for p in sorted(pool, key=lambda p: (p.round, p.slot)) if p.scores]
    rng.shuffle(candidates)
    candidates.sort(key=_rank, reverse=True)
    return candidates[:k]


def meta_valid(verdict: PoolVerdict, m: int, tau: float) -> bool | None:
    """Whether meta-verification upholds an analysis: a majority of its first m meta-scores are
    ≥ tau (an unparsed one counts against). None while it has fewer than m meta-scores; with
    m = 0 (no meta-verification) every analysis is taken as it is."""
    if m == 0:
        return True
    metas = verdict.metas[:m]
    if len(metas) < m:
        return None
    return sum(1 for s in metas if s is not None and s >= tau) * 2 > m


def pair_analyses(proof: PoolProof, a: int, rng: random.Random, *, m: int, tau: float) -> list[PoolVerdict]:
    """The A analyses that go with a proof into its refinement prompt: issue-reporting ones that
    meta-verification did not reject first, then those finding no issue, then issue-reporting
    ones it rejected; random order (seeded) within each group."""
    upheld, clean, rejected = [], [], []
    for v in sorted(proof.verdicts, key=lambda v: v.index):
        if not v.parsed:
            continue
        if not v.reports_issues:
            clean.append(v)
        elif meta_valid(v, m, tau) is False:
            rejected.append(v)
        else:
            upheld.append(v)
    for group in (upheld, clean, rejected):
        rng.shuffle(group)
    return (upheld + clean + rejected)[:a]


def best_proof(pool: Sequence[PoolProof], m: int) -> PoolProof | None:
    """The result of a search: a proof that passed, else the best mean score (ties: self-score,
    then the earliest). None when no proof has a parsed verdict."""
    ordered = [p for p in sorted(pool, key=lambda p: (p.round, p.slot)) if p.scores]
    if not ordered:
        return None
    return max(ordered, key=lambda p: (p.passed(m), *_rank(p)))


def answer_mismatch(proof: PoolProof) -> bool:
    """The proof states a final answer and it does not match the problem's reference answer
    (``answer_match`` is only ever set for problems that have one)."""
    return proof.answer_match is False and bool((proof.answer or "").strip())


def informal_label(proof: PoolProof, policy: LabelPolicy, *, m_verifications: int, m_meta: int) -> InformalLabel:
    """DeepSeekMath-V2's rule on the first n parsed analyses of a proof: if none reports issues,
    the label is 1; if at least k valid analyses (upheld by a majority of their m meta-scores
    ≥ tau) give the lowest score of the n, the label is that score; otherwise no label.

    A proof whose final answer does not match the reference answer gets 0 (``answer-mismatch``)
    whatever its analyses say: a verifier can pass a proof of a wrong answer (DeepSeekMath-V2's
    released outputs hold one), and the reference settles what the analyses cannot. The search
    never sees the reference; only this label does."""
    label = _consensus_label(proof, policy, m_verifications=m_verifications, m_meta=m_meta)
    if answer_mismatch(proof):
        return label.model_copy(update={"value": 0.0, "reason": "answer-mismatch"})
    return label


def _consensus_label(proof: PoolProof, policy: LabelPolicy, *, m_verifications: int, m_meta: int) -> InformalLabel:
    n = policy.n or m_verifications
    first = [v for v in sorted(proof.verdicts, key=lambda v: v.index) if v.parsed][:n]
    if len(first) < n:
        return InformalLabel(value=None, reason="too-few-analyses", analyses=len(first),
                             issue_reporting=sum(v.reports_issues for v in first), valid=0)
    issues = [v for v in first if v.reports_issues]
    if not issues:
        return InformalLabel(value=1.0, reason="no-issues", analyses=n, issue_reporting=0, valid=0)
    lowest = min(v.score for v in issues)  # type: ignore[type-var]
    valid = sum(1 for v in issues if v.score == lowest and meta_valid(v, m_meta, policy.tau))
    if valid >= policy.k:
        return InformalLabel(value=lowest, reason="k-valid-lowest", analyses=n,
                             issue_reporting=len(issues), valid=valid)
    return InformalLabel(value=None, reason="too-few-valid", analyses=n, issue_reporting=len(issues),
                         valid=valid)
