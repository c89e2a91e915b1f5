"""Helpers of the informal engine tests: problems, a search runner with the scripted backend,
and scripted model outputs. The scripted backend proves wiring and bookkeeping, never proving
skill: nothing here is a result."""

from __future__ import annotations

import re

from prover.core.llm_records import CallRequest
from prover.core.records import ProblemRecord
from prover.llm import ScriptedOutput

ROLES = ("generator", "verifier", "meta_verifier", "judge")

PROBLEMS = [
    ProblemRecord(collection="t", external_id="p1", informal_statement="Prove that 1 + 1 = 2."),
    ProblemRecord(collection="t", external_id="p2", informal_statement="Find the remainder of 2^100 mod 7.",
                  reference_answer="QWERTY-42"),
]


def knobs(**over):
    from prover.core.informal_records import SearchConfig, SearchKnobs

    base = dict(proofs=2, verifications=2, rounds=2, refine_top=1, analyses_per_refinement=2, meta_verifications=1,
                proofs_per_refinement=1)
    extra = {k: over.pop(k) for k in list(over) if k not in base}
    base.update(over)
    return SearchConfig(knobs=SearchKnobs(**base), **extra)


def run_search(store, script, tokens=("t/p1",), *, config=None, schedule="pipelined", templates=None, **knob_over):
    """Run the search with a scripted backend for every role; returns (summary, backend)."""
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend
    from prover.pipeline.run import run_informal

    backend = script if isinstance(script, ScriptedBackend) else ScriptedBackend(script)
    config = config or knobs(**knob_over)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    summary = run_informal(store, list(tokens), config=config, model_config=mc, templates=templates,
                           backends={r: backend for r in ROLES}, progress=False, schedule=schedule,
                           commit_window_s=0.002)
    return summary, backend


def proof_output(body: str, self_score: str = "1") -> str:
    return (f"<think>scratch work \\boxed{{0}}</think>\n## Solution\n{body}\n\n## Self Evaluation\n"
            f"Here is my evaluation of the solution: I checked every step.\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{self_score}}}")


def verdict_output(score: str, note: str = "") -> str:
    issue = f"ISSUE: {note}" if score != "1" else "No issues found."
    return (f"Here is my evaluation of the solution:\n{issue}\n\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{score}}}")


def meta_output(score: str) -> str:
    return ('Here is my analysis of the "solution evaluation":\nChecked.\n'
            f'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{{{score}}}')


def prompt(call: CallRequest) -> str:
    return call.messages[-1].content


def proof_in(call: CallRequest) -> str:
    """The proof a verifier or meta-verifier call is about."""
    text = prompt(call)
    m = re.search(r"(?:Proof to grade|Proof):\n(.*?)(?:\n\nSolution evaluation:|\s*$)", text, re.S)
    return m.group(1) if m else ""


class Refiner:
    """A deterministic little world: round-0 proofs are drafts that verifiers grade 0.5 (with an
    issue), refinements of a draft are graded 1. Every call is recorded by the backend."""

    def __init__(self, refined_score: str = "1", draft_score: str = "0.5", meta_score: str = "1",
                 judge: str = "yes", answer: str | None = None):
        self.refined_score, self.draft_score = refined_score, draft_score
        self.meta_score, self.judge, self.answer = meta_score, judge, answer

    def __call__(self, call: CallRequest) -> str | ScriptedOutput:
        if call.role == "generator":
            refined = "--- Solution 0 ---" in prompt(call)
            body = f"{'Refined' if refined else 'Draft'} proof, sample seed {call.seed}."
            if self.answer is not None:
                body += f" Hence the answer is \\boxed{{{self.answer}}}."
            return proof_output(body, "1" if refined else "0.5")
        if call.role == "verifier":
            refined = proof_in(call).startswith("Refined")
            return verdict_output(self.refined_score if refined else self.draft_score, "step 2 is unjustified")
        if call.role == "meta_verifier":
            return meta_output(self.meta_score)
        if call.role == "judge":
            return f"\\boxed{{{self.judge}}}"
        raise AssertionError(call.role)
