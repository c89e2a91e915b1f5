"""Scripted model outputs for engine tests. The scripted backend proves wiring and bookkeeping,
never proving skill: nothing here is a result."""

from __future__ import annotations

import re

from prover.core.llm_records import CallRequest
from prover.llm import ScriptedOutput


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
