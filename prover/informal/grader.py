"""The benchmark grader: a prompt that shows a grader model the problem, the reference solution,
the grading guidelines and one proof, and the reading of its 0–7 answer.

This is the one prompt that carries a reference solution and grading guidelines (DESIGN.md, "What
reaches a prompt"): it goes to the grader only, never to a generator or verifier, and the
evaluation that sends it records so. The instructions are ours; ``--templates`` may replace them
with a TOML file's ``grader`` entry (a string or a table with ``template``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from prover.core.errors import ConfigError
from prover.core.eval_records import MAX_POINTS, GraderVerdict
from prover.core.hashing import hash_json

GRADER_PLACEHOLDERS = ("statement", "solution", "guidelines", "proof")

GRADER_TEMPLATE = """You are grading one proof written for an olympiad problem. Score it from 0 to 7 points.

How to score:
- 7: the proof is complete and rigorous; every claim is justified. A different route from the
  reference solution is fine when it is correct.
- 6: the proof is essentially complete, with only small slips that are easy to repair and do not
  affect the argument (see the "Almost" items of the guidelines).
- 1: the proof is not complete, but it reaches substantial progress of the kind the "Partial"
  items of the guidelines name.
- 0: anything else, including a right final answer without a valid argument, a proof that relies
  on an unproved or false claim, and text that does not address the problem.
Judge only what is written. Do not reward length, confidence or restating the problem. The
reference solution and guidelines are there to help you judge; they are not part of the proof.

## Problem
{statement}

## Reference solution (for the grader only)
{solution}

## Grading guidelines (for the grader only)
{guidelines}

## Proof to grade
{proof}

## Your answer
First explain briefly what is right and what is missing or wrong. Then give the score on the
last line, exactly in this form: <points>N out of 7</points>
"""

_POINTS = re.compile(r"<points>\s*(\d+)\s*(?:out\s+of\s+7|/\s*7)?\s*</points>", re.I)
_BOXED = re.compile(r"\\boxed\{\s*(\d+)\s*\}")


class GraderTemplate:
    """The grader prompt's text and where it came from."""

    def __init__(self, text: str = GRADER_TEMPLATE, source: str = "built-in"):
        missing = [p for p in ("statement", "proof") if "{" + p + "}" not in text]
        if missing:
            raise ConfigError(f"grader template ({source}) lacks {', '.join('{' + m + '}' for m in missing)}")
        self.text, self.source = text, source

    def fingerprint(self) -> str:
        return hash_json({"grader": self.text})

    def render(self, *, statement: str, solution: str | None, guidelines: str | None, proof: str) -> str:
        values = {"statement": statement.strip(), "solution": (solution or "(none given)").strip(),
                  "guidelines": (guidelines or "(none given)").strip(), "proof": proof.strip()}
        # Plain substitution: olympiad text is full of braces.
        return re.sub(r"\{(" + "|".join(GRADER_PLACEHOLDERS) + r")\}", lambda m: values[m.group(1)], self.text)


def load_grader_template(path: str | Path | None) -> GraderTemplate:
    """The built-in grader template, or a TOML file's ``grader`` entry when it has one."""
    if path is None:
        return GraderTemplate()
    try:
        with Path(path).open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"--templates {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--templates {path}: not valid TOML: {exc}") from None
    entry = doc.get("grader")
    if entry is None:
        return GraderTemplate()
    text = entry.get("template") if isinstance(entry, dict) else entry
    if not isinstance(text, str):
        raise ConfigError(f"--templates {path}: grader must be a string or a table with 'template'")
    return GraderTemplate(text, source=str(path))


def parse_grade(text: str | None) -> GraderVerdict:
    """The grade of a grader answer: the last ``<points>N out of 7</points>`` (else the last
    ``\\boxed{N}``) after any reasoning, when N is 0–7."""
    if not text:
        return GraderVerdict(points=None, status="unparsed")
    body = text.rsplit("</think>", 1)[-1]
    found = _POINTS.findall(body) or _BOXED.findall(body)
    if not found:
        return GraderVerdict(points=None, status="unparsed")
    points = int(found[-1])
    if not 0 <= points <= MAX_POINTS:
        return GraderVerdict(points=None, status="unparsed")
    return GraderVerdict(points=points, status="ok")
