"""Records of the labeled proof database (DESIGN.md, "Labels"): the evidence a formal label
rests on, the label rules' decisions, stored labels, and what building, exporting and
resampling report.

Sources of a label: ``human`` (imported grades marked human), ``formal`` (Lean: 1 for a proof
whose sketch Lean verified under a faithful statement, 0 for a refutation), ``informal``
(DeepSeekMath-V2's consensus rule over stored analyses and meta-verifications). A label is
unique per (proof, source, policy version)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prover.core.errors import UsageError

LabelSource = Literal["human", "formal", "informal"]
LABEL_SOURCES: tuple[str, ...] = ("human", "formal", "informal")
DEFAULT_PRECEDENCE: tuple[str, ...] = ("human", "formal", "informal")

#: Bumped when a rule would give a different label for the same evidence; part of every
#: label's policy version, so a new rule adds rows next to the old ones instead of replacing them.
HUMAN_RULE_VERSION = 1
FORMAL_RULE_VERSION = 3  # 2: a formal 1 needs the independent confirmation (final check)
#                          3: ... and a closing proof that uses the aligned steps, with the statement
#                             closed by no statement-level work anywhere in the database
INFORMAL_RULE_VERSION = 2  # 2: answer-mismatch gives 0; lenient verdicts never count

SCORES: tuple[float, ...] = (0.0, 0.5, 1.0)
_EPS = 1e-9

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def label_score(value: float) -> float:
    """A label value on the verifier's scale (0 / 0.5 / 1): 1 only for a full value, 0 only for
    none, 0.5 for anything between (a human grade of 6/7 says "minor issues"). Exports compare
    an analysis's score with this."""
    if value >= 1 - _EPS:
        return 1.0
    if value <= _EPS:
        return 0.0
    return 0.5


def parse_precedence(text: str | None) -> tuple[str, ...]:
    """``human,formal,informal`` → a tuple of distinct label sources (a source left out is not
    exported)."""
    if text is None or not text.strip():
        return DEFAULT_PRECEDENCE
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in items if p not in LABEL_SOURCES]
    if unknown:
        raise UsageError(f"--precedence: unknown label source {unknown[0]!r} (sources: {', '.join(LABEL_SOURCES)})")
    if len(set(items)) != len(items):
        raise UsageError(f"--precedence names a source twice: {text!r}")
    return items


def parse_sources(text: str | None) -> tuple[str, ...]:
    """``--source`` of ``labels build``: a comma list of label sources (default: all)."""
    if text is None or not text.strip() or text.strip() == "all":
        return LABEL_SOURCES
    items = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in items if p not in LABEL_SOURCES]
    if unknown:
        raise UsageError(f"--source: unknown label source {unknown[0]!r} (sources: {', '.join(LABEL_SOURCES)})")
    return items


# -- formal evidence ---------------------------------------------------------------------------

Faithfulness = Literal["gated", "trusted"]
"""How a statement came to be taken as faithful: autoformalized and passed the faithfulness gate
(``gated``), or given by a collection the run marks trusted (``trusted``)."""


class StepEvidence(BaseModel):
    """One ``have`` step of a sketch and its step-alignment judgment against its NL step."""

    model_config = _FROZEN

    index: int
    """The step's place in the sketch."""
    name: str = ""
    """The step's name in the Lean sketch."""
    votes: list[bool] = Field(default_factory=list)
    """Stored judge votes: does the Lean step say what the NL step claims?"""
    aligned: bool
    """The step passed the alignment judgment (as the formal stage decided from its votes)."""
    refuted: bool = False
    """Lean proved the negation of this step in its context."""
    refutation_check_id: int | None = None
    """The ``lean_checks`` row of that refutation."""
    node_lemma: str | None = None
    """The step's node lemma in the checked file (``prover_node_<n>``) when it is a hole of the
    sketch; None when it is proved in place (no lemma of its own)."""
    used: bool | None = None
    """Its node lemma occurs in the target's proof term, as the final check's trusted epilogue
    reported it; None: not reported (or no node lemma)."""


class FormalEvidence(BaseModel):
    """What the formal stage stored about one NL proof: one field per condition of the formal
    labels (DESIGN.md, "Labels"). The label rule is a pure function of this record."""

    model_config = _FROZEN

    proof_id: int
    """The NL proof."""
    attempt_id: int | None = None
    """The formal attempt (``formal_attempts``) this evidence comes from."""
    formal_statement_id: int | None = None
    """The Lean statement used."""
    statement_origin: Literal["given", "autoformalized"] | None = None
    """``given``: the data set's own formal statement; ``autoformalized``: made by the formalizer."""
    faithfulness: Faithfulness | None = None
    """Why the statement is taken as faithful; None: it is not (gate failed or never run)."""
    formalization_failed: bool = False
    """The formal stage could not produce or elaborate the statement or sketch (never a label)."""
    statement_incompatible: bool = False
    """The statement does not elaborate on the project toolchain (excluded from labels)."""
    verified_check_id: int | None = None
    """The ``lean_checks`` row that verified the assembled file, if any."""
    verdict: str | None = None
    """That check's verdict (``verified`` is needed; ``verified-answer-unchecked`` is not enough)."""
    from_sketch: bool = False
    """The verified file descends from this proof's sketch (not from a direct whole-proof attempt)."""
    sketch_id: int | None = None
    """The sketch it descends from."""
    steps: list[StepEvidence] = Field(default_factory=list)
    """Every step of that sketch, with its alignment votes."""
    root_closed_independently: bool = False
    """The root goal was closed without the sketch (direct attempt or the portfolio on the root):
    ``statement_proved`` evidence, not a label for the NL proof."""
    statement_closed_by: str | None = None
    """How statement-level work (the root's portfolio ``portfolio:TACTIC``, a ``direct`` attempt,
    its ``negation``) closed the same formal statement on the same toolchain in any attempt of the
    database; None: nowhere. Like ``root_closed_independently``, it blocks formal 1."""
    statement_refuted: bool = False
    """Lean proved the negation of the statement."""
    statement_refutation_check_id: int | None = None
    """The ``lean_checks`` row of that refutation."""
    final_check: str | None = None
    """The independent checker a formal 1 needs (``lean4checker``, ``comparator``, ``safeverify``;
    ``none``: none is required; None: not asked)."""
    final_check_verdict: str | None = None
    """Its stored verdict on the verified check (``verified`` is needed); None: never run."""
    epilogue_checked: bool | None = None
    """The verified file ended with the `#prover_check` epilogue (statement compared in the
    kernel); False for files checked before it (`#print axioms`); None: not looked up."""


class FormalDecision(BaseModel):
    """What the formal rule concluded for one proof."""

    model_config = _FROZEN

    value: float | None
    """1 (formal 1), 0 (a refutation), None (no label)."""
    reason: str
    """``formal-1``, ``refuted-statement``, ``refuted-step``, or why there is no label."""
    missing: list[str] = Field(default_factory=list)
    """The conditions of formal 1 that do not hold (empty for formal 1)."""
    statement_false: bool = False
    """A given benchmark statement was refuted: the statement is flagged, the proof not labelled."""


# -- informal policy ---------------------------------------------------------------------------

class InformalPolicy(BaseModel):
    """The informal rule's parameters for a label build. None: take the value from the search
    that produced the proof (n = its M, m = its meta-verifications, k and tau from its label
    policy), else the default."""

    model_config = _FROZEN

    n: int | None = Field(None, ge=1)
    """Parsed analyses the rule reads (the first n by sample index)."""
    m: int | None = Field(None, ge=0)
    """Meta-verifications an issue-reporting analysis needs (0: analyses are taken as they are)."""
    k: int | None = Field(None, ge=1)
    """Valid analyses that must give the lowest score (default 1)."""
    tau: float | None = Field(None, ge=0, le=1)
    """An analysis is valid when a majority of its meta-scores are ≥ tau (default 1)."""


def informal_policy_version(n: int, m: int, k: int, tau: float) -> str:
    return f"informal/v{INFORMAL_RULE_VERSION} n={n} m={m} k={k} tau={tau:g}"


def human_policy_version() -> str:
    return f"human/v{HUMAN_RULE_VERSION}"


def formal_policy_version(final_check: str = "lean4checker") -> str:
    """The formal rule's version and the independent checker its labels 1 required (``none``:
    labels stored without an independent confirmation say so)."""
    return f"formal/v{FORMAL_RULE_VERSION} final-check={final_check}"


# -- stored labels and summaries -----------------------------------------------------------------

class LabelRecord(BaseModel):
    """One label of one proof."""

    model_config = ConfigDict(frozen=True)

    proof_id: int
    source: LabelSource
    value: float
    """In [0, 1]: 0 / 0.5 / 1 for formal and informal labels, a grade fraction for human ones."""
    policy_version: str
    """The rule and its parameters (``informal/v2 n=4 m=1 k=1 tau=1``)."""
    evidence: dict[str, Any] = Field(default_factory=dict)
    """What the label rests on (row ids, counts, conditions)."""
    id: int | None = None
    """Row id in ``labels`` (None before it is stored)."""
    run_id: int | None = None
    """The ``labels build`` run that stored it."""


class SourceBuildSummary(BaseModel):
    """What one source gave in a build."""

    considered: int = 0
    """Proofs the rule looked at."""
    added: int = 0
    """New label rows."""
    existing: int = 0
    """Labels already stored with the same policy version (left as they are)."""
    changed: int = 0
    """Of those, labels whose evidence now gives another value (the stored row is kept; a new
    policy version rebuilds)."""
    values: dict[str, int] = Field(default_factory=dict)
    """Labels (new and existing) by value."""
    no_label: dict[str, int] = Field(default_factory=dict)
    """Proofs without a label, by reason."""
    flags: dict[str, int] = Field(default_factory=dict)
    """Other findings (``statement-false``: a given statement Lean refuted)."""
    note: str | None = None
    """Why a source gave nothing (e.g. no formal-stage tables in this database)."""


class LabelBuildSummary(BaseModel):
    """What ``prover labels build`` did."""

    run_id: int | None = None
    sources: dict[str, SourceBuildSummary] = Field(default_factory=dict)


class ConflictReport(BaseModel):
    """Proofs whose labels from different sources disagree (on the 0 / 0.5 / 1 scale)."""

    resolution: str
    """``precedence a,b,c`` or ``dropped``."""
    count: int = 0
    by_sources: dict[str, int] = Field(default_factory=dict)
    """``formal=1,informal=0`` → proofs."""
    proof_ids: list[int] = Field(default_factory=list)


class ExportSummary(BaseModel):
    """What ``prover labels export`` wrote."""

    out: str
    format: str
    precedence: list[str]
    splits: dict[str, int]
    """Split name → percent of problems."""
    labelled_proofs: int = 0
    """Proofs with a label after conflicts were resolved."""
    by_source: dict[str, int] = Field(default_factory=dict)
    """Of those, by the source whose label was taken."""
    conflicts: ConflictReport
    files: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Dataset (``sft``, ``pointwise``, ``pairs``) → split → records written."""
    without_agreeing_analysis: list[int] = Field(default_factory=list)
    """Labelled proofs with no stored analysis whose score agrees with the label (``prover
    labels resample`` draws more)."""
    problems_by_split: dict[str, int] = Field(default_factory=dict)


class ResampleSummary(BaseModel):
    """What ``prover labels resample`` did."""

    run_id: int | None = None
    proofs: int = 0
    """Labelled proofs without an agreeing analysis at the start."""
    resolved: int = 0
    """Of those, proofs for which a new analysis agrees with the label."""
    unresolved: list[int] = Field(default_factory=list)
    """Proofs still without one after ``--max`` new analyses."""
    calls: int = 0
    """Verifier calls made (answers from the call cache included)."""
    unparsed: int = 0
    """New analyses whose score could not be read."""
    by_source: dict[str, int] = Field(default_factory=dict)
    """Resolved proofs by label source (formal ones are where the verifier is wrong and Lean right)."""


class TopUpSummary(BaseModel):
    """What ``prover labels build --top-up`` asked before building: the verifications (and their
    meta-verifications) informal labels still needed."""

    run_id: int | None = None
    proofs: int = 0
    """Analysed proofs from a search with fewer than n parsed analyses at the start."""
    completed: int = 0
    """Of those, proofs that now have n."""
    short: list[int] = Field(default_factory=list)
    """Proofs still short once the search's M + retries samples were all asked."""
    verifications: int = 0
    """Verifier calls made (answers from the call cache included)."""
    metas: int = 0
    """Meta-verifier calls made."""
    unparsed: int = 0
    """New analyses whose score could not be read (lenient ones included)."""
