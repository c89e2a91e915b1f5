"""Final answers: extraction from a proof, and comparison with a reference answer in three
steps, cheapest first: normalised exact match (or equal plain numbers), then ``math-verify`` (the
maintained library for comparing LaTeX answers: sets, intervals, fractions, radicals), and only
when neither decides, a judge call (the search makes it; see ``search.py``). Every answer
math-verify decides is a judge call saved; ``AnswerComparison.method`` says which step decided.

math-verify is a dependency of the package; where it is missing (an older environment) the
comparison says so once and leaves its cases to the judge."""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

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


AnswerMethod = Literal["no-answer", "exact", "number", "math-verify", "undecided"]
"""Which step decided a comparison. ``undecided``: a judge must (or no judge is asked)."""


@dataclass(frozen=True)
class AnswerComparison:
    """A proof's final answer against the reference, before any judge call."""

    match: bool | None
    """True / False when decided; None when a judge must decide."""
    method: AnswerMethod
    """The step that decided (``math-verify``: a judge call saved)."""


MATH_VERIFY_MISSING = ("math-verify is not installed: answers that normalisation cannot decide go to the "
                       "judge (pip install math-verify, or reinstall prover)")
_warned = False


def _math_verify():
    """The ``(parse, verify)`` pair of math-verify, or None (said once) when it is missing."""
    global _warned
    try:
        from math_verify import parse, verify
    except ImportError:
        if not _warned:
            _warned = True
            warnings.warn(MATH_VERIFY_MISSING, RuntimeWarning, stacklevel=3)
        return None
    # Its parser logs a warning for every expression it cannot read; our fallback is the judge.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    return parse, verify


def math_verify_available() -> bool:
    """Whether math-verify can be imported here."""
    try:
        return importlib.util.find_spec("math_verify") is not None
    except (ImportError, ValueError):
        return False


def _as_latex(answer: str) -> str:
    # math-verify extracts LaTeX between delimiters; a bare answer gets them.
    s = answer.strip()
    return s if s.startswith(("$", "\\(", "\\[")) else f"${s}$"


_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")


def _has_words(answer: str) -> bool:
    # math-verify reads "all odd primes" as the product a*l*l*o*d*d*...: an answer in words is
    # not mathematics it can compare (LaTeX commands such as \sqrt are not words).
    return bool(_WORD.search(_COMMAND.sub(" ", answer)))


def math_verify_match(answer: str, reference: str) -> bool | None:
    """math-verify's decision: True when it finds the answers equivalent; False only when both
    parse into mathematical objects and differ (an answer in words it cannot read is not a
    mismatch); None when it cannot decide or is not installed."""
    if _has_words(answer) or _has_words(reference):
        return None
    mv = _math_verify()
    if mv is None:
        return None
    parse, verify = mv
    # Its timeouts use signal.alarm, which only works on the main thread; elsewhere none is set.
    main = threading.current_thread() is threading.main_thread()
    limit = 5 if main else None
    try:
        gold = parse(_as_latex(reference), parsing_timeout=limit)
        pred = parse(_as_latex(answer), parsing_timeout=limit)
        if not gold or not pred:
            return None
        if verify(gold, pred, timeout_seconds=limit):
            return True
    except Exception:  # noqa: BLE001 - any failure inside the library leaves the case to the judge
        return None
    # parse gives [expression, original text]; only the text (its fallback) means it could not
    # read the answer as mathematics, and then a difference says nothing.
    if isinstance(gold[0], str) or isinstance(pred[0], str):
        return None
    return False


def compare_answers(answer: str | None, reference: str) -> AnswerComparison:
    """The answers compared without a judge: no answer is a mismatch; normalised-equal, or
    equal as plain numbers, is a match (differing numbers a mismatch); then math-verify."""
    if answer is None or not answer.strip():
        return AnswerComparison(False, "no-answer")
    a, r = normalize_answer(answer), normalize_answer(reference)
    if a == r:
        return AnswerComparison(True, "exact")
    na, nr = _number(a), _number(r)
    if na is not None and nr is not None:
        return AnswerComparison(na == nr, "number")
    decided = math_verify_match(answer, reference)
    if decided is not None:
        return AnswerComparison(decided, "math-verify")
    return AnswerComparison(None, "undecided")


def answers_match(answer: str | None, reference: str) -> bool | None:
    """True / False when decided without a judge (see :func:`compare_answers`); None when a judge
    must decide."""
    return compare_answers(answer, reference).match
