"""Records of a cross-check: how far one source of proof grades (the candidate, e.g. an informal
verifier) agrees with another taken as the reference (e.g. Lean, or human grades)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prover.core.errors import UsageError

#: Proof metadata key saying why a proof went to the formal stage: "selected" (the top-K of its
#: pool), "random" (drawn by ``--formal-sample``), or a list of both. Written by the pipeline.
POPULATION_KEY = "formal_population"
#: Proof metadata key holding a randomly drawn proof's inclusion probability (K / pool size).
INCLUSION_PROBABILITY_KEY = "formal_inclusion_probability"
POPULATIONS = ("selected", "random", "all")

#: The metrics that get a point estimate, a bootstrap interval and a count of degenerate resamples.
METRIC_NAMES = ("precision", "recall", "f1", "accuracy", "kappa", "pearson", "spearman", "auc", "ece")


class ValueSource(BaseModel):
    """What gives a proof its value on one side of a cross-check."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["lean", "verifier", "label", "answer", "grade"]
    """``lean`` (1 formal-1, 0 refuted, else null), ``verifier`` (mean parsed verdict score),
    ``label`` (the stored label), ``answer`` (answer_match), ``grade`` (an imported grade)."""
    model: str | None = None
    """For ``verifier:MODEL``, the verifier model whose verdicts count; None: every model."""
    name: str | None = None
    """For ``grade``, the imported grade's name."""

    @classmethod
    def parse(cls, text: str) -> ValueSource:
        """``lean``, ``verifier``, ``verifier:MODEL``, ``label``, ``answer`` or a grade name."""
        text = text.strip()
        head, colon, rest = text.partition(":")
        if head == "verifier":
            if colon and not rest:
                raise UsageError("verifier:MODEL needs a model name after the colon")
            return cls(kind="verifier", model=rest or None)
        if colon:
            raise UsageError(f"only verifier takes a :MODEL suffix, got {text!r}")
        if text in ("lean", "label", "answer"):
            return cls(kind=text)
        if not text:
            raise UsageError("a cross-check source may not be empty")
        return cls(kind="grade", name=text)

    def __str__(self) -> str:
        if self.kind == "verifier":
            return f"verifier:{self.model}" if self.model else "verifier"
        return self.name if self.kind == "grade" else self.kind


class PairedValue(BaseModel):
    """One proof that has a value from both the reference and the candidate."""

    model_config = ConfigDict(frozen=True)

    problem: str
    """Key of the proof's problem: the bootstrap resamples problems, not proofs."""
    proof_id: int | str
    """Id of the proof (the store's integer id)."""
    reference: float
    """The reference's raw value (e.g. 1/0 for Lean, a grade divided by its maximum)."""
    candidate: float
    """The candidate's raw value (e.g. the mean verifier score)."""
    excerpt: str = ""
    """A one-line excerpt of the proof, shown next to disagreements."""


class ReliabilityBin(BaseModel):
    """One bin of the reliability diagram: candidate values in [lo, hi) (the last bin includes 1)."""

    model_config = ConfigDict(frozen=True)

    lo: float
    """Lower edge of the bin."""
    hi: float
    """Upper edge of the bin."""
    count: int
    """How many proofs have a candidate value in the bin."""
    mean_candidate: float | None
    """Mean candidate value in the bin (the confidence); null when the bin is empty."""
    reference_pass_rate: float | None
    """Fraction of the bin's proofs that the reference passes; null when the bin is empty."""


class BootstrapSummary(BaseModel):
    """How the bootstrap intervals were made."""

    model_config = ConfigDict(frozen=True)

    resamples: int
    """Number of bootstrap resamples (B)."""
    seed: int
    """Seed of the numpy Generator that drew them."""
    unit: str = "problem"
    """What is resampled: whole problems with all their proofs."""
    problems: int = 0
    """Number of distinct problems resampled from."""
    degenerate: dict[str, int] = Field(default_factory=dict)
    """Per metric, the resamples in which it was undefined (left out of its interval)."""


class CrossCheckMetrics(BaseModel):
    """Agreement of a candidate with a reference over the proofs that have both values.

    A pass is a value at or above its threshold. Every metric that is undefined on the data
    (one class only, constant values, nothing selected) is None and has a line in ``notes``."""

    model_config = ConfigDict(frozen=True)

    n: int
    """Proofs with both values."""
    problems: int = 0
    """Distinct problems among them."""
    tp: int = 0
    """Candidate pass, reference pass."""
    fp: int = 0
    """Candidate pass, reference fail."""
    tn: int = 0
    """Candidate fail, reference fail."""
    fn: int = 0
    """Candidate fail, reference pass."""
    precision: float | None = None
    """tp / (tp + fp)."""
    recall: float | None = None
    """tp / (tp + fn)."""
    f1: float | None = None
    """2 tp / (2 tp + fp + fn)."""
    accuracy: float | None = None
    """(tp + tn) / n."""
    kappa: float | None = None
    """Cohen's kappa of the two pass/fail ratings."""
    pearson: float | None = None
    """Pearson correlation of the raw values."""
    spearman: float | None = None
    """Spearman correlation of the raw values (average ranks for ties)."""
    auc: float | None = None
    """ROC AUC of the candidate's value for the reference's pass (ties count one half)."""
    ece: float | None = None
    """Expected calibration error of the candidate's value as a probability of reference pass."""
    reliability: list[ReliabilityBin] = Field(default_factory=list)
    """The reliability bins behind ``ece``."""
    ci: dict[str, list[float] | None] = Field(default_factory=dict)
    """Bootstrap 95% percentile interval [lo, hi] per metric; null where no resample defined it."""
    bootstrap: BootstrapSummary | None = None
    """How ``ci`` was made; None when no bootstrap ran."""
    disagreements: dict[str, list[int | str]] = Field(default_factory=dict)
    """Proof ids under ``candidate_pass_reference_fail`` and ``candidate_fail_reference_pass``."""
    excerpts: dict[int | str, str] = Field(default_factory=dict)
    """One-line excerpt per disagreeing proof id (for the readable table; not in JSON)."""
    notes: list[str] = Field(default_factory=list)
    """Why each null metric is undefined, and other caveats."""

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that never contains NaN or infinity."""
        data = self.model_dump(mode="python", exclude={"excerpts"})
        return finite_or_none(data)


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


class AnswerMismatchCount(BaseModel):
    """How often the verifier passes a proof whose final answer does not match the reference
    (over proofs with a decided answer check; a proof that states no answer counts as a mismatch,
    as in the ``answer`` source)."""

    passed: int = 0
    """Verifier-passed proofs (every parsed verdict 1, at least ``--min-verdicts``) with a decided answer check."""
    mismatched: int = 0
    """Of those, proofs whose answer does not match the reference."""
    rate: float | None = None
    """mismatched / passed (None when nothing passed)."""
    proof_ids: list[int] = Field(default_factory=list)
    """The mismatched proofs."""


class CrossCheckReport(CrossCheckMetrics):
    """A cross-check as ``prover crosscheck`` reports it: the metrics plus what was compared,
    over which proofs, and what was left out."""

    reference: str = ""
    """The reference source as given (``lean``, ``verifier:MODEL``, a grade name, ...)."""
    candidate: str = ""
    """The candidate source as given."""
    reference_threshold: float = 1.0
    """A reference value at or above this passes."""
    candidate_threshold: float = 1.0
    """A candidate value at or above this passes."""
    population: str = "all"
    """Which proofs were considered: ``selected``, ``random`` or ``all``."""
    considered: int = 0
    """Proofs in the population before nulls were excluded (n + sum of excluded)."""
    excluded: dict[str, int] = Field(default_factory=dict)
    """Proofs of the population left out, counted once each by the reason (reference's first)."""
    plots: list[str] = Field(default_factory=list)
    """PNG files written for ``--plot``."""
    by: str | None = None
    """The grouping key of ``groups`` (source, level or a metadata key), if any."""
    groups: dict[str, CrossCheckReport] = Field(default_factory=dict)
    """Per value of ``by``, the same report over that group's proofs."""
    answer_mismatch: AnswerMismatchCount | None = None
    """With ``verifier`` or ``answer`` on either side: verifier-passed proofs with a wrong answer."""

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="python", exclude={"excerpts", "groups"})
        if self.by is not None:
            data["groups"] = {k: g.to_json_dict() for k, g in self.groups.items()}
        else:
            data.pop("by")
        if not self.plots:
            data.pop("plots")
        if self.answer_mismatch is None:
            data.pop("answer_mismatch")
        return finite_or_none(data)
