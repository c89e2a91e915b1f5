"""Records of the informal engine: parse results of model outputs, the search settings (knobs and
budget presets), the informal label, and what a search and a run report.

DeepSeekMath-V2's loop: generate N proofs (each followed by a self-evaluation) → verify each M
times → meta-verify the analyses that report issues → select the top K proofs of the pool by mean
verification score → refine each with A of its analyses → repeat for up to R rounds, until a proof
passes all M verifications."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prover.core.formal_records import FormalEstimate

ParseStatus = Literal["ok", "missing_marker", "missing_section", "lenient", "no_score", "bad_score",
                      "truncated", "empty"]
"""How a model output parsed.

``ok``: everything the output contract asks for is there. ``missing_marker``: the score was read,
but a phrase of the contract is missing (e.g. no "Here is my evaluation of the solution:", or a
bare number instead of a box), yet the score follows the score phrase. ``missing_section``: a proof
whose ``## Solution`` or ``## Self Evaluation`` section is missing. ``lenient``: a verdict without
the score phrase (a meta-verification without its marker) whose last box was read anyway; the
reading is kept but never counts (the verdict is unparsed, and re-sampled like one).
``no_score``: no box to read a score from. ``bad_score``: the box holds something other than 0,
0.5 or 1. ``truncated``: the output was cut off by the token limit (never trusted). ``empty``:
nothing after the reasoning."""

SCORES: tuple[float, ...] = (0.0, 0.5, 1.0)
"""The scores of the output contract."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ParsedProof(BaseModel):
    """A generator output split into its proof and self-evaluation."""

    model_config = _FROZEN

    proof: str
    """The proof text (the ``## Solution`` section; the whole answer when it has no sections)."""
    self_evaluation: str | None = None
    """The ``## Self Evaluation`` section, if any."""
    self_score: float | None = None
    """The score the generator gave itself (0 / 0.5 / 1), when it could be read."""
    status: ParseStatus = "ok"
    """How the output parsed (see :data:`ParseStatus`)."""

    @property
    def verifiable(self) -> bool:
        """Worth verifying: a non-empty proof that was not cut off."""
        return bool(self.proof.strip()) and self.status not in ("truncated", "empty")


class ParsedVerdict(BaseModel):
    """A verifier output: the analysis and the score it ends with."""

    model_config = _FROZEN

    analysis: str
    """The output after the reasoning (what refinement prompts quote)."""
    score: float | None = None
    """0, 0.5 or 1 read after the score phrase; None otherwise (a lenient reading included)."""
    lenient_score: float | None = None
    """With status ``lenient``: the last box of an analysis without the score phrase. Never counts."""
    status: ParseStatus = "ok"
    """How the output parsed."""

    @property
    def parsed(self) -> bool:
        """A score was read: the verdict counts towards the M parsed verdicts."""
        return self.score is not None

    @property
    def reports_issues(self) -> bool:
        """A parsed verdict below 1: the analysis claims the proof has issues."""
        return self.score is not None and self.score < 1


class ParsedMeta(BaseModel):
    """A meta-verifier output: how faithful a verifier's analysis is."""

    model_config = _FROZEN

    text: str
    """The output after the reasoning."""
    score: float | None = None
    """0, 0.5 or 1 (1: the analysis's issues are real and its score is justified); None when
    unread or read only leniently."""
    lenient_score: float | None = None
    """With status ``lenient``: the last box of an output without the analysis marker. Never counts."""
    status: ParseStatus = "ok"
    """How the output parsed."""


class LabelPolicy(BaseModel):
    """DeepSeekMath-V2's informal consensus label (DESIGN.md, "Labels"). The number of
    meta-verifications per issue-reporting analysis (m) is the search's own."""

    model_config = _FROZEN

    n: int | None = Field(None, ge=1)
    """Parsed analyses the label needs (the first n); None: the search's M."""
    k: int = Field(1, ge=1)
    """Valid analyses that must give the lowest score for the proof to get it."""
    tau: float = Field(1.0, ge=0, le=1)
    """An analysis is valid when a majority of its meta-scores are ≥ tau."""


class InformalLabel(BaseModel):
    """The informal label of one proof."""

    model_config = _FROZEN

    value: float | None
    """0, 0.5 or 1; None when the rule gives no label."""
    reason: str
    """Why (``no-issues``, ``k-valid-lowest``, ``too-few-valid``, ``too-few-analyses``, or
    ``answer-mismatch``: the final answer differs from the reference, whatever the analyses say)."""
    analyses: int
    """Parsed analyses considered (at most n)."""
    issue_reporting: int
    """Of those, analyses with a score below 1."""
    valid: int
    """Of those, analyses that meta-verification upheld and that give the lowest score."""


class SearchKnobs(BaseModel):
    """The size of a search (DeepSeekMath-V2's knobs). Presets live in :data:`BUDGETS`."""

    model_config = _FROZEN

    proofs: int = Field(ge=1)
    """N: proofs generated in the initial round."""
    verifications: int = Field(ge=1)
    """M: parsed verifications wanted per proof."""
    rounds: int = Field(ge=0)
    """R: refinement rounds after the initial one."""
    refine_top: int = Field(ge=1)
    """K: proofs of the pool refined per round (the best by mean score)."""
    analyses_per_refinement: int = Field(ge=1)
    """A: analyses given with each proof to refine (issue-reporting first)."""
    meta_verifications: int = Field(ge=0)
    """m: meta-verifications of each issue-reporting analysis (0: none)."""
    proofs_per_refinement: int = Field(1, ge=1)
    """P: refined proofs sampled per (proof, analyses) prompt."""

    @classmethod
    def preset(cls, budget: str | None = None, **overrides: int | None) -> "SearchKnobs":
        """A ``--budget`` preset (default ``small``) with the knobs given explicitly replacing
        its values (None: not given)."""
        base = BUDGETS[budget or DEFAULT_BUDGET].model_dump()
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(base)


BudgetName = Literal["small", "medium", "large", "heavy"]

BUDGETS: dict[str, SearchKnobs] = {
    "small": SearchKnobs(proofs=4, verifications=4, rounds=1, refine_top=2, analyses_per_refinement=2,
                         meta_verifications=1, proofs_per_refinement=1),
    "medium": SearchKnobs(proofs=8, verifications=8, rounds=3, refine_top=8, analyses_per_refinement=4,
                          meta_verifications=1, proofs_per_refinement=1),
    "large": SearchKnobs(proofs=32, verifications=32, rounds=8, refine_top=32, analyses_per_refinement=8,
                         meta_verifications=1, proofs_per_refinement=1),
    # DeepSeekMath-V2's high-compute setting.
    "heavy": SearchKnobs(proofs=64, verifications=64, rounds=16, refine_top=64, analyses_per_refinement=8,
                         meta_verifications=1, proofs_per_refinement=1),
}
"""The ``--budget`` presets (the README's table shows the same numbers; a test compares them)."""

DEFAULT_BUDGET = "small"


class SearchConfig(BaseModel):
    """Everything that decides what a search asks the models, plus its limits."""

    model_config = _FROZEN

    knobs: SearchKnobs
    """N, M, R, K, A, m, P."""
    max_verdict_retries: int = Field(4, ge=0)
    """Extra verification samples per proof to replace unparsed verdicts."""
    verification_wave: int | None = Field(None, ge=1)
    """Verifications of a proof asked at a time. A proof stops being verified once its outcome is
    decided (a parsed 0 or 0.5: it cannot pass all M), so failing proofs cost fewer calls. None:
    the full schedule (all M at once, every proof verified M times)."""
    seed: int = 0
    """Run seed: request seeds and every random choice derive from it."""
    call_budget: int | None = Field(None, ge=1)
    """Most model calls per problem (a round starts only if its maximum fits)."""
    token_budget: int | None = Field(None, ge=1)
    """Most tokens (prompt + completion) per problem (checked at round boundaries)."""
    answer_judge: bool = True
    """Ask the judge role when an extracted answer does not match the reference exactly."""
    label: LabelPolicy = LabelPolicy()
    """The informal label rule applied to the selected proof."""

    @model_validator(mode="after")
    def _check_label(self) -> "SearchConfig":
        if self.label.n is not None and self.label.n > self.knobs.verifications:
            raise ValueError(f"label n = {self.label.n} exceeds the verifications per proof "
                             f"(M = {self.knobs.verifications})")
        return self


SearchStatus = Literal["running", "solved", "exhausted", "budget", "incomplete", "skipped", "interrupted"]
"""``solved``: a proof passed all M verifications. ``exhausted``: R rounds done (or nothing left to
refine). ``budget``: the call or token budget stopped it. ``incomplete``: calls failed after their
retries (backend trouble); the same command continues. ``skipped``: the problem has no informal
statement."""


class ProblemResult(BaseModel):
    """What a search found for one problem."""

    model_config = ConfigDict(frozen=True)

    problem_id: int
    """The problem's row id."""
    problem: str
    """``COLLECTION/EXTERNAL_ID``."""
    search_id: int | None = None
    """Row id in ``informal_searches``."""
    status: SearchStatus = "running"
    """How the search ended."""
    stop_reason: str = ""
    """Words for the status."""
    rounds: int = 0
    """Rounds completed (the initial one counts)."""
    proofs: int = 0
    """Proofs in the pool."""
    selected_proof_id: int | None = None
    """The best proof: passed first, then mean score, then self-score."""
    mean_score: float | None = None
    """Mean of the selected proof's parsed verdicts."""
    self_score: float | None = None
    """The selected proof's self-score."""
    verifications: int = 0
    """Parsed verdicts of the selected proof."""
    passed: bool = False
    """The selected proof passed all M verifications with M parsed verdicts."""
    answer: str | None = None
    """The selected proof's extracted final answer (problems with a reference answer)."""
    answer_match: bool | None = None
    """Whether it matches the reference (None: no reference, or undecided)."""
    judge_calls_saved: int = 0
    """Answers of the problem's proofs that math-verify decided where normalisation could not
    (each a judge call otherwise)."""
    label: InformalLabel | None = None
    """The selected proof's informal label."""
    calls: int = 0
    """Model calls the search used (including ones served from the call cache)."""
    tokens: int = 0
    """Prompt + completion tokens of those calls."""
    seconds: float = 0.0
    """Wall time spent on the problem in this run."""


class RunSummary(BaseModel):
    """What ``prover run`` did."""

    model_config = ConfigDict(frozen=True)

    run_id: int | None
    """Row id in ``runs``."""
    results: list[ProblemResult]
    """One per problem, in the order given."""
    calls: int = 0
    """Calls used by the searches (cached ones included)."""
    sent: int = 0
    """Calls sent to a backend by this run."""
    cached: int = 0
    """Calls answered by the call cache."""
    resent: int = 0
    """Calls an earlier run left in flight and this run sent again."""
    tokens: int = 0
    """Tokens of the calls used."""
    seconds: float = 0.0
    """Wall time."""
    status: str = "completed"
    """``completed`` or ``incomplete`` (some calls failed after retries, or a formal attempt
    ended in an unexpected exception)."""
    formal: list[dict] = Field(default_factory=list)
    """The formal attempts of ``prover run --formal`` (``FormalResult`` fields), in the order
    they finished."""

    @property
    def formal_errors(self) -> list[dict]:
        """Formal attempts that ended in an unexpected exception (status ``error``)."""
        return [f for f in self.formal if f.get("status") == "error"]


class BudgetEstimate(BaseModel):
    """``--dry-run``: the most a run may use."""

    model_config = ConfigDict(frozen=True)

    problems: int
    """Problems in the run."""
    knobs: SearchKnobs
    """The resolved knobs."""
    calls_per_problem: int
    """Most calls per problem (retries, meta-verifications and judge calls included)."""
    calls_by_role: dict[str, int]
    """Most calls per role, all problems together."""
    calls: int
    """Most calls, all problems together."""
    completion_tokens: int | None
    """Most completion tokens (None when a role has no max_tokens)."""
    max_tokens_by_role: dict[str, int | None]
    """Each role's completion token limit."""
    formal: FormalEstimate | None = None
    """The formal stage's share (``--formal``): not included in the figures above."""
