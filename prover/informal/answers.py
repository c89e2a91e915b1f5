"""Final answers: extraction from a proof, normalisation, and exact comparison with a reference
answer. When the normalised forms differ and neither is a plain number, a judge call decides
(the search does that; see ``search.py``)."""

from __future__ import annotations

import re
from fractions import Fraction

from prover.informal.parsers import boxed_contents

_FINAL = re.compile(r"(?:final\s+answer|the\s+answer\s+is|answer\s*:)\s*(?:is\s*)?[:=]?\s*(.+)", re.IGNORECASE)


def extract_answer(proof: str) -> str | None:
    """The final answer a proof states: its last ``\\boxed{}``, else the text after its last
    "final answer" / "the answer is" / "Answer:" (to the end of that line or sentence)."""
    boxes = [b for b in boxed_contents(proof) if b.strip()]
    if boxes:
        return boxes[-1].strip()
    hits = list(_FINAL.finditer(proof))
    if not hits:
        return None
    line = hits[-1].group(1).strip()
    # A sentence ends at ". " or at the end of the line; math inside $...$ is kept whole.
    line = re.split(r"(?<!\d)\.(?:\s|$)", line, maxsplit=1)[0]
    line = line.strip().strip("*").strip()
    return line or None


_LATEX_NOISE = re.compile(r"\\(?:left|right|displaystyle|,|;|!|:|quad|qquad)|\\ ")
_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_ASSIGN = re.compile(r"^[a-z](?:_\{?\w+\}?)?=(?!=)")


def normalize_answer(answer: str) -> str:
    """A canonical form for exact comparison: TeX delimiters, spacing and styling commands
    removed, ``\\dfrac``/``\\tfrac`` → ``\\frac``, a leading ``x =`` dropped, lower case."""
    s = answer.strip()
    s = s.strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2]
    for _ in range(3):
        s = _WRAP.sub(r"\1", s)
    s = _LATEX_NOISE.sub("", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\s+", "", s).rstrip(".").lower()
    s = _ASSIGN.sub("", s)
    return s


def _number(s: str) -> Fraction | None:
    s = re.sub(r"\\frac\{(-?\d+)\}\{(-?\d+)\}", r"\1/\2", s)
    s = s.replace("{", "").replace("}", "")
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def answers_match(answer: str | None, reference: str) -> bool | None:
    """True when the answers are equal after normalisation (or equal as numbers); False when
    both are plain numbers that differ, or no answer was given; None when a judge must decide."""
    if answer is None or not answer.strip():
        return False
    a, r = normalize_answer(answer), normalize_answer(reference)
    if a == r:
        return True
    na, nr = _number(a), _number(r)
    if na is not None and nr is not None:
        return na == nr
    return None
