"""Cross-checks: gather a reference and a candidate value for each proof from the proof database
and measure how far they agree (``prover crosscheck``).

Sources of a value (DESIGN.md, "Cross-checks"):

* ``lean`` — 1 for a formal-1 label, 0 for a refutation (a formal 0), null otherwise. Read from a
  ``labels`` table (columns ``proof_id``, ``source``, ``value``; rows with source ``formal``);
  a database without that table has no definitive Lean value for any proof.
* ``verifier[:MODEL]`` — the mean score of the proof's parsed verdicts (of MODEL only, when
  given); null with fewer than ``min_verdicts``.
* ``label`` — the proof's label by precedence human > formal > informal; imported grades marked
  human count as human labels. Against ``verifier``, informal labels are left out unless asked
  (they come from the same analyses).
* ``answer`` — the proof's ``answer_match`` (1/0), null when not judged.

Whenever ``verifier`` or ``answer`` is one side, the report also counts the verifier-passed proofs
(every parsed verdict 1) whose answer does not match the reference: the verifier's blind spot
that the informal label's ``answer-mismatch`` rule closes.
* any other name — the imported grade of that name (in [0, 1]).

Populations: ``all`` proofs; ``selected`` — proofs whose metadata ``formal_population`` holds
``selected`` (sent to the formal stage as the top of their pool: a biased sample); ``random`` —
those holding ``random`` (drawn by ``--formal-sample``), whose inclusion probabilities
(``formal_inclusion_probability``) are summarised in a note. Metrics are not weighted by them:
every compared proof counts once.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection

from prover.analysis.metrics import compute_metrics, parse_number
from prover.core.crosscheck_records import (INCLUSION_PROBABILITY_KEY, POPULATION_KEY, POPULATIONS, AnswerMismatchCount,
                                            CrossCheckReport, PairedValue, ValueSource)
from prover.core.errors import UsageError
from prover.store import ProofFacts

if TYPE_CHECKING:
    from prover.store import ProofStore


LABEL_PRECEDENCE = ("human", "formal", "informal")
NO_GROUP = "(none)"


@dataclass
class _Values:
    """One side's values: proof id -> value, and why the others have none."""

    values: dict[int, float]
    default_reason: str
    reasons: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def reason(self, proof_id: int) -> str:
        return self.reasons.get(proof_id, self.default_reason)


def _lean_values(store: ProofStore) -> _Values:
    labels = store.stored_labels()
    if labels is None:
        return _Values({}, "no definitive Lean value (this database has no labels table)",
                       notes=["lean: this database has no labels table yet, so no proof has a definitive "
                              "Lean value (lean is 1 for formal-1, 0 for a refutation, else null)"])
    values = {}
    for pid, rows in labels.items():
        formal = [v for src, v in rows if src == "formal"]
        if formal:
            values[pid] = sum(formal) / len(formal)
    return _Values(values, "no definitive Lean value (no formal label)")


def _verifier_values(store: ProofStore, model: str | None, min_verdicts: int) -> _Values:
    if model is not None:
        known = store.verifier_models()
        if model not in known:
            raise UsageError(f"no verification by verifier model {model!r} is stored; models: "
                             f"{', '.join(known) or '(none)'}")
    verdicts = store.parsed_verdicts(model)
    values, reasons = {}, {}
    for pid, scores in verdicts.items():
        if len(scores) >= min_verdicts:
            values[pid] = sum(scores) / len(scores)
        else:
            reasons[pid] = f"fewer than {min_verdicts} parsed verdicts"
    return _Values(values, "no parsed verdict", reasons)


def _label_values(store: ProofStore, drop_informal: bool) -> _Values:
    labels = store.stored_labels()
    notes = []
    if labels is None:
        labels = {}
        notes.append("label: this database has no labels table yet; only imported human grades serve as labels")
    human = store.human_grade_values()
    values, reasons = {}, {}
    for pid in set(labels) | set(human):
        by_source: dict[str, list[float]] = defaultdict(list)
        for src, v in labels.get(pid, []):
            by_source[src].append(v)
        if "human" not in by_source and pid in human:
            by_source["human"].append(human[pid])
        if drop_informal and "informal" in by_source:
            del by_source["informal"]
            if not by_source:
                reasons[pid] = "informal label left out (same analyses as the verifier)"
        for src in LABEL_PRECEDENCE:
            if by_source.get(src):
                values[pid] = sum(by_source[src]) / len(by_source[src])
                break
    if drop_informal:
        notes.append("label: informal labels are left out against verifier (they come from the same "
                     "analyses); --include-informal-labels keeps them")
    return _Values(values, "no label", reasons, notes)


def _grade_values(store: ProofStore, name: str) -> _Values:
    names = store.grade_names()
    if name not in names:
        raise UsageError(f"{name!r} is neither lean, verifier[:MODEL], label, answer nor a stored grade; "
                         f"grades in this database: {', '.join(names) or '(none)'}")
    return _Values(store.grade_values(name), f"no {name} grade")


def _answer_values(facts: list[ProofFacts]) -> _Values:
    values = {f.proof_id: 1.0 if f.answer_match else 0.0 for f in facts if f.answer_match is not None}
    return _Values(values, "no answer match (no reference answer, or not judged)")


def _values(store: ProofStore, facts, source: ValueSource, other: ValueSource, min_verdicts: int,
            include_informal_labels: bool) -> _Values:
    if source.kind == "lean":
        return _lean_values(store)
    if source.kind == "verifier":
        return _verifier_values(store, source.model, min_verdicts)
    if source.kind == "label":
        return _label_values(store, drop_informal=other.kind == "verifier" and not include_informal_labels)
    if source.kind == "answer":
        return _answer_values(facts)
    return _grade_values(store, source.name)


def answer_mismatch_count(facts: list[ProofFacts], verifier: _Values) -> AnswerMismatchCount:
    """Verifier-passed proofs (mean parsed verdict 1) with a decided answer check, and those of
    them whose answer does not match the reference."""
    passed = [f for f in facts if f.answer_match is not None and verifier.values.get(f.proof_id, 0.0) >= 1.0]
    wrong = sorted(f.proof_id for f in passed if f.answer_match is False)
    return AnswerMismatchCount(passed=len(passed), mismatched=len(wrong),
                               rate=len(wrong) / len(passed) if passed else None, proof_ids=wrong)


def _population_tags(f: ProofFacts) -> set[str]:
    tags = f.proof_metadata.get(POPULATION_KEY)
    if isinstance(tags, str):
        return {tags}
    return {str(t) for t in tags} if isinstance(tags, list) else set()


def _dotted(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def group_key(f: ProofFacts, by: str) -> str:
    """The group of a proof: ``source`` is its problem's collection, ``level`` the problem
    metadata's ``level``; any other KEY is a dotted path in the proof's metadata, then in its
    problem's metadata."""
    if by == "source":
        return f.collection
    if by == "level":
        value = _dotted(f.problem_metadata, "level")
    else:
        value = _dotted(f.proof_metadata, by)
        if value is None:
            value = _dotted(f.problem_metadata, by)
    if value is None or value == "":
        return NO_GROUP
    return str(value)


def _excerpt(text: str) -> str:
    return " ".join(text.split())


def _report(facts: list[ProofFacts], ref: _Values, cand: _Values, *, ref_threshold: float,
            cand_threshold: float, bootstrap: int, seed: int, header: dict[str, Any]) -> tuple[
                CrossCheckReport, list[PairedValue]]:
    pairs, excluded = [], Counter()
    for f in facts:
        r, c = ref.values.get(f.proof_id), cand.values.get(f.proof_id)
        if r is None:
            excluded[f"reference {header['reference']}: {ref.reason(f.proof_id)}"] += 1
        elif c is None:
            excluded[f"candidate {header['candidate']}: {cand.reason(f.proof_id)}"] += 1
        else:
            pairs.append(PairedValue(problem=str(f.problem_id), proof_id=f.proof_id, reference=r,
                                     candidate=c, excerpt=_excerpt(f.excerpt)))
    metrics = compute_metrics(pairs, reference_threshold=ref_threshold, candidate_threshold=cand_threshold,
                              bootstrap=bootstrap, seed=seed)
    report = CrossCheckReport(**metrics.model_dump(), **header, considered=len(facts), excluded=dict(excluded))
    return report, pairs


def crosscheck(store: ProofStore, reference: str, candidate: str, *, reference_threshold: str | float = 1.0,
               candidate_threshold: str | float = 1.0, population: str = "all", min_verdicts: int = 1,
               by: str | None = None, bootstrap: int = 2000, seed: int = 0,
               include_informal_labels: bool = False, plot_dir: str | Path | None = None,
               proof_ids: Collection[int] | None = None) -> CrossCheckReport:
    """How far ``candidate`` agrees with ``reference`` over the proofs of ``population`` that have
    both values; with ``by``, also per group; with ``plot_dir``, PNG plots written there;
    with ``proof_ids``, over those proofs only (a report on one run)."""
    ref_src, cand_src = ValueSource.parse(reference), ValueSource.parse(candidate)
    ref_t = parse_number(reference_threshold, what="--reference-threshold")
    cand_t = parse_number(candidate_threshold, what="--candidate-threshold")
    if population not in POPULATIONS:
        raise UsageError(f"--population must be one of {', '.join(POPULATIONS)}, got {population!r}")
    if min_verdicts < 1:
        raise UsageError(f"--min-verdicts must be >= 1, got {min_verdicts}")
    every = store.proof_facts()
    facts = every if population == "all" else [f for f in every if population in _population_tags(f)]
    if proof_ids is not None:
        wanted = set(proof_ids)
        facts = [f for f in facts if f.proof_id in wanted]
    ref = _values(store, every, ref_src, cand_src, min_verdicts, include_informal_labels)
    cand = _values(store, every, cand_src, ref_src, min_verdicts, include_informal_labels)
    header = dict(reference=str(ref_src), candidate=str(cand_src), reference_threshold=ref_t,
                  candidate_threshold=cand_t, population=population)
    report, pairs = _report(facts, ref, cand, ref_threshold=ref_t, cand_threshold=cand_t,
                            bootstrap=bootstrap, seed=seed, header=header)
    notes = _population_notes(every, facts, population) + ref.notes + cand.notes + report.notes
    groups: dict[str, CrossCheckReport] = {}
    group_pairs: dict[str, list[PairedValue]] = {}
    if by is not None:
        members: dict[str, list[ProofFacts]] = defaultdict(list)
        for f in facts:
            members[group_key(f, by)].append(f)
        for key in sorted(members):
            groups[key], group_pairs[key] = _report(members[key], ref, cand, ref_threshold=ref_t,
                                                    cand_threshold=cand_t, bootstrap=bootstrap, seed=seed,
                                                    header=header)
    if {ref_src.kind, cand_src.kind} & {"verifier", "answer"}:
        verifier = ref if ref_src.kind == "verifier" and ref_src.model is None else (
            cand if cand_src.kind == "verifier" and cand_src.model is None else
            _verifier_values(store, None, min_verdicts))
        report = report.model_copy(update={"answer_mismatch": answer_mismatch_count(facts, verifier)})
    report = report.model_copy(update={"notes": notes, "by": by, "groups": groups})
    if plot_dir is not None:
        report = report.model_copy(update={"plots": _plots(report, pairs, groups, group_pairs, plot_dir)})
    return report


def _population_notes(every: list[ProofFacts], facts: list[ProofFacts], population: str) -> list[str]:
    if population == "all":
        return []
    if not facts:
        return [f"population {population}: no proof's metadata marks it {population!r} "
                f"({POPULATION_KEY}); nothing to compare"]
    notes = []
    if population == "selected":
        notes.append("population selected: proofs chosen for the formal stage as the top of their pool, "
                     "a biased sample of all proofs")
    else:
        probs = [f.proof_metadata.get(INCLUSION_PROBABILITY_KEY) for f in facts]
        known = [float(p) for p in probs if isinstance(p, (int, float)) and not isinstance(p, bool)]
        text = (f"inclusion probabilities {min(known):.3g}..{max(known):.3g}" if known
                else "no inclusion probabilities stored")
        missing = len(probs) - len(known)
        notes.append(f"population random: {len(facts)} proofs drawn at random from their pools; {text}"
                     + (f" ({missing} without one)" if known and missing else "")
                     + "; metrics are unweighted (each drawn proof counts once)")
    return notes


def _safe_stem(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("_") or "group"


def _plots(report, pairs, groups, group_pairs, plot_dir) -> list[str]:
    from prover.analysis.plots import plot_crosscheck

    kwargs = dict(reference_name=report.reference, candidate_name=report.candidate,
                  reference_threshold=report.reference_threshold, candidate_threshold=report.candidate_threshold)
    paths = plot_crosscheck(pairs, report, plot_dir, **kwargs)
    for key, group in groups.items():
        paths += plot_crosscheck(group_pairs[key], group, plot_dir, stem=f"crosscheck_{_safe_stem(key)}", **kwargs)
    return [str(p) for p in paths]
