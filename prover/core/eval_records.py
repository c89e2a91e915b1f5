"""Records of ``prover eval``: a benchmark, the grade of one selected proof, one problem's
outcome, a group's score with its bootstrap interval, a published figure with its source, a
whole evaluation and the comparison of two.

IMO-ProofBench reports the score of a system as the percentage of the maximum (7 points per
problem), Basic and Advanced apart. The formal benchmarks (miniF2F, ProofNet, PutnamBench) report
pass@k: the share of problems with a proof Lean accepted within k attempts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")

MAX_POINTS = 7
"""IMO-ProofBench grades each proof 0–7."""

GradeStatus = Literal["ok", "no-proof", "unparsed", "failed", "error"]
"""``ok``: the grader gave 0–7; ``no-proof``: the search selected no proof (scored 0);
``unparsed``: the grader answered without a readable grade, or was cut off (scored 0; the answer
is stored, so a rerun reads the same); ``failed``: the backend refused the call for good (scored
0, never re-sent); ``error``: the call failed transiently (scored 0; the evaluation is incomplete
and a rerun sends it again)."""


class Benchmark(BaseModel):
    """A benchmark ``prover eval`` knows: where its data is and how it is scored."""

    model_config = _FROZEN

    name: str
    """The name on the command line (``imo-proofbench``)."""
    kind: Literal["graded", "formal"]
    """``graded``: natural-language proofs graded 0–7; ``formal``: Lean pass@k."""
    data: str
    """The data file, relative to the shared data folder (``$PROVER_SHARED/data``)."""
    collection: str
    """The collection its problems are imported into."""
    splits: tuple[str, ...]
    """The splits it is reported by (``basic``, ``advanced``; ``test``, ``valid``)."""
    formal_data: str | None = None
    """For a graded benchmark with Lean statements (``--formal``): their file, relative like ``data``."""
    title: str
    """What the tables call it."""


class GraderVerdict(BaseModel):
    """The grader's reading of one grading answer."""

    model_config = _FROZEN

    points: int | None
    """0–7, None when unreadable."""
    status: GradeStatus
    """How the answer parsed."""


class ProblemOutcome(BaseModel):
    """One problem of an evaluation: the proof the search selected and its grade."""

    model_config = _FROZEN

    problem_id: int
    """Row id of the problem."""
    problem: str
    """``COLLECTION/ID``."""
    split: str | None
    """Its split (``basic`` / ``advanced`` for IMO-ProofBench)."""
    search_status: str
    """The informal search's status (``solved``, ``exhausted``, ``incomplete``...)."""
    passed: bool = False
    """Whether the selected proof passed every verification of the search."""
    proof_id: int | None = None
    """The selected proof, None when none."""
    points: int | None = None
    """The grader's 0–7, None when it gave none (counted as 0)."""
    grade_status: GradeStatus = "no-proof"
    """How the grade was obtained."""
    grader_call: str | None = None
    """Call key of the grading call (its row is in ``model_calls``)."""
    formal_status: str | None = None
    """With ``--formal``: the best status of the problem's formal attempts in this run
    (``verified`` first), None when none ran."""
    calls: int = 0
    """Model calls of the search and the grading."""
    tokens: int = 0
    """Tokens of those calls."""

    @property
    def score(self) -> int:
        """Points counted toward the benchmark score: a missing grade counts 0."""
        return self.points or 0


class GroupScore(BaseModel):
    """The score of one group of problems (``basic``, ``advanced``, ``all``)."""

    model_config = _FROZEN

    group: str
    """Group name."""
    problems: int
    """Problems in the group."""
    graded: int
    """Problems with a grade (the rest count 0)."""
    percent: float | None
    """Points as a percentage of the maximum, None for an empty group."""
    ci: tuple[float, float] | None = None
    """95% bootstrap interval of ``percent`` (problems resampled), None when undefined."""


class PublishedFigure(BaseModel):
    """A figure a paper or report published, shown beside ours; never computed here."""

    model_config = _FROZEN

    benchmark: str
    """Benchmark name, as in :class:`Benchmark`."""
    group: str
    """``basic``/``advanced`` (IMO-ProofBench) or the split (``test``)."""
    system: str
    """The system the figure is for."""
    value: float
    """The figure, in percent."""
    metric: str
    """What it measures (``% of max score``, ``pass@32``...)."""
    source: str
    """The paper or report it is taken from."""
    arxiv: str | None = None
    """Its arXiv id, when it has one."""
    approximate: bool = False
    """True when the source states the figure approximately (shown with ``~``)."""
    note: str | None = None
    """Anything a reader needs to compare it (compute, grader, setting)."""


class EvalSummary(BaseModel):
    """One evaluation, as stored in ``evaluations`` and printed by ``prover eval``."""

    eval_id: int | None
    """Row id."""
    benchmark: str
    """Benchmark name."""
    split: str
    """``all`` or one split."""
    run_id: int | None
    """The informal run that produced the proofs."""
    status: str = "completed"
    """``completed``, ``incomplete`` (some search or grading failed) or ``running``."""
    models: dict[str, str] = Field(default_factory=dict)
    """Role → model of the roles used."""
    budget: str | None = None
    """The budget preset."""
    seed: int = 0
    """Run seed."""
    commit: str | None = None
    """The git commit of prover, when it runs from a checkout."""
    scripted: bool = False
    """True when any role was the scripted backend: a test of the machinery, not a result."""
    outcomes: list[ProblemOutcome] = Field(default_factory=list)
    """One per problem, in benchmark order."""
    groups: list[GroupScore] = Field(default_factory=list)
    """Scores per group, then ``all``."""
    calls: int = 0
    """Model calls made or reused by the evaluation."""
    sent: int = 0
    """Of those, calls actually sent to a backend by this invocation."""
    agreement: dict | None = None
    """With ``--grader-agreement``: the cross-check of grader against human grades."""
    formal: FormalBenchScore | None = None
    """For a formal benchmark: its pass@k and costs (``groups`` then hold pass@k as ``pass@K``)."""


class EvalComparison(BaseModel):
    """Two evaluations side by side, group by group and problem by problem."""

    a: EvalSummary
    b: EvalSummary
    groups: list[tuple[str, float | None, float | None]]
    """(group, percent of A, percent of B)."""
    problems: list[tuple[str, int | None, int | None]]
    """(problem, points of A, points of B) for problems in both."""


class FormalBenchScore(BaseModel):
    """A formal benchmark (miniF2F, ProofNet, PutnamBench) scored from stored formal attempts:
    pass@k under this project's own Lean checker, and what the solved problems cost."""

    benchmark: str
    """Benchmark name."""
    split: str
    """``all`` or one split."""
    problems: int
    """Problems of the benchmark in the split (unattempted ones count as unsolved)."""
    attempted: int
    """Problems with at least one finished formal attempt."""
    solved: int
    """Problems with an attempt Lean accepted (``verified`` or ``statement_proved``)."""
    attempts: int
    """Finished formal attempts over all problems."""
    pass_at: dict[int, float] = Field(default_factory=dict)
    """k → pass@k in percent (the unbiased estimator over each problem's n attempts, for k up to
    the fewest attempts of an attempted problem; unattempted problems count 0)."""
    calls: int = 0
    """Model calls of the formal attempts."""
    tokens: int = 0
    """Tokens of the model calls of the runs that made the attempts (informal search included)."""
    lean_checks: int = 0
    """Lean checks of the problems' formal statements."""
    lean_seconds: float = 0.0
    """Their wall seconds (the checks store wall time, not CPU time)."""
    scripted: bool = False
    """True when a run that made the attempts used the scripted backend: not a result."""

    def per_solved(self, value: float) -> float | None:
        """A cost divided by the problems solved, None when none is."""
        return value / self.solved if self.solved else None


EvalSummary.model_rebuild()
