"""Parsers of generator, verifier and meta-verifier outputs. They never raise: every output,
however malformed, gives a typed result with a parse status (stored with the row).

The output contract is the one DeepSeekMath-V2 was trained on (see ``prompts.py``); the phrases
are looked for anywhere in the text, case-insensitively, and text up to ``</think>`` is dropped.

**Strict scores.** A verdict's score counts only when it follows the contract phrase ("Based on my
evaluation, the final overall score should be:"); a meta-verification's only when it follows its
analysis marker. Without them the last box of the text is still read, but only as a ``lenient``
reading kept for inspection: a verifier that quotes the proof's ``\\boxed{1}`` and never gives a
score must not pass the proof."""

from __future__ import annotations

import re
from fractions import Fraction

from prover.core.informal_records import ParsedMeta, ParsedProof, ParsedVerdict, ParseStatus

THINK_END = "</think>"

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
# The score sentence, including the "overal" misspelling some checkpoints reproduce.
_SCORE_PHRASE = re.compile(r"final\s+overall?\s+score", re.IGNORECASE)
_EVAL_MARKER = re.compile(r"here\s+is\s+my\s+evaluation\s+of\s+the\s+solution", re.IGNORECASE)
_META_MARKER = re.compile(r"here\s+is\s+my\s+analysis\s+of\s+the\s+[\"'“”‘’`]*\s*solution\s+evaluation",
                          re.IGNORECASE)
_BARE_SCORE = re.compile(r"^[\s:*=$]*(1(?:\.0+)?|0(?:\.0+)?|0?\.50*|1/2)(?![\d.])")


def _heading(name: str) -> re.Pattern[str]:
    # A line holding only the name, marked as a heading (#...) or in bold (**...** / __...__).
    return re.compile(
        r"^[ \t]*(?:#{1,6}[ \t]*(?:\*\*|__)?|\*\*|__)[ \t]*" + name
        + r"[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)


_SOLUTION = _heading(r"solution")
_SELF_EVAL = _heading(r"self[- ]?evaluation")


def strip_thinking(text: str | None) -> str:
    """The answer part of an output: what follows the last ``</think>``. An output that opens
    ``<think>`` and never closes it has no answer yet (empty)."""
    text = text or ""
    if THINK_END in text:
        return text.rsplit(THINK_END, 1)[1].strip()
    if text.lstrip().startswith("<think>"):
        return ""
    return text.strip()


def boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` (and ``\\fbox{...}``), braces balanced, in order.
    An unclosed box at the end (cut-off output) is ignored."""
    out: list[str] = []
    for m in _BOX.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                i += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        if depth == 0:
            out.append(text[m.end():i - 1])
    return out


_PLAIN_SCORES = {"0": 0.0, "1": 1.0, "0.5": 0.5, "1.0": 1.0, "0.0": 0.0, ".5": 0.5}
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathbf|mathrm|mbox|bf)\s*\{([^{}]*)\}")


def score_value(raw: str) -> float | None:
    """0, 0.5 or 1 from a box's content (``1``, ``1.0``, ``0.5``, ``1/2``, ``\\frac{1}{2}``,
    ``\\text{1}``...); None for anything else."""
    s = raw.strip()
    if s in _PLAIN_SCORES:  # the common case, without the general parsing below
        return _PLAIN_SCORES[s]
    for _ in range(3):
        s = _WRAPPERS.sub(r"\1", s)
    s = s.replace("$", "").replace(" ", "").rstrip(".")
    s = re.sub(r"\\[dt]?frac\{?(\d+)\}?\{?(\d+)\}?", r"\1/\2", s)
    try:
        value = float(Fraction(s))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value in (0.0, 0.5, 1.0) else None


def _read_score(body: str, phrase: re.Pattern[str]) -> tuple[float | None, ParseStatus]:
    """The score after the last occurrence of ``phrase`` (the last box there counts); a bare
    number right after the phrase also counts (``missing_marker``). Without the phrase, the last
    box of the text: ``lenient`` (callers decide whether such a reading may count)."""
    hits = list(phrase.finditer(body))
    if hits:
        tail = body[hits[-1].end():]
        boxes = boxed_contents(tail)
        if boxes:
            value = score_value(boxes[-1])
            return (value, "ok") if value is not None else (None, "bad_score")
        bare = _BARE_SCORE.match(re.sub(r"^[^\n\d]*?(?:be|as)\b", "", tail, count=1))
        if bare:
            return score_value(bare.group(1)), "missing_marker"
    boxes = boxed_contents(body)
    if not boxes:
        return None, "no_score"
    value = score_value(boxes[-1])
    if value is None:
        return None, "bad_score"
    return value, "lenient"


def parse_verdict(text: str | None, *, truncated: bool = False) -> ParsedVerdict:
    """A verifier output. ``truncated``: the call hit its token limit (the verdict is not trusted)."""
    body = strip_thinking(text)
    if truncated:
        return ParsedVerdict(analysis=body, score=None, status="truncated")
    if not body:
        return ParsedVerdict(analysis="", score=None, status="empty")
    score, status = _read_score(body, _SCORE_PHRASE)
    if status == "lenient":
        return ParsedVerdict(analysis=body, score=None, lenient_score=score, status=status)
    if score is not None and status == "ok" and not _EVAL_MARKER.search(body):
        status = "missing_marker"
    return ParsedVerdict(analysis=body, score=score, status=status)


def parse_meta(text: str | None, *, truncated: bool = False) -> ParsedMeta:
    """A meta-verifier output: the last box after 'Here is my analysis of the "solution
    evaluation":'. Without that marker the last box of the text is a ``lenient`` reading, which
    never counts (``score`` None, the reading in ``lenient_score``)."""
    body = strip_thinking(text)
    if truncated:
        return ParsedMeta(text=body, score=None, status="truncated")
    if not body:
        return ParsedMeta(text="", score=None, status="empty")
    hits = list(_META_MARKER.finditer(body))
    boxes = boxed_contents(body[hits[-1].end():]) if hits else []
    status: ParseStatus = "ok"
    if not boxes:
        boxes, status = boxed_contents(body), "lenient"
    if not boxes:
        return ParsedMeta(text=body, score=None, status="no_score")
    score = score_value(boxes[-1])
    if score is None:
        return ParsedMeta(text=body, score=None, status="bad_score")
    if status == "lenient":
        return ParsedMeta(text=body, score=None, lenient_score=score, status=status)
    return ParsedMeta(text=body, score=score, status=status)


def parse_generation(text: str | None, *, truncated: bool = False) -> ParsedProof:
    """A generator output: ``## Solution`` (the proof) then ``## Self Evaluation`` (bold
    headings accepted). Without headings the whole answer is the proof (``missing_section``)."""
    body = strip_thinking(text)
    if not body:
        return ParsedProof(proof="", status="truncated" if truncated else "empty")
    sol = _SOLUTION.search(body)
    start = sol.end() if sol else 0
    evals = [m for m in _SELF_EVAL.finditer(body) if m.start() >= start]
    if evals:
        proof, self_eval = body[start:evals[-1].start()], body[evals[-1].end():].strip()
    else:
        proof, self_eval = body[start:], None
        # No heading, but the evaluation sentence is there: the proof ends where it starts.
        marker = _EVAL_MARKER.search(body, start)
        if marker:
            proof, self_eval = body[start:marker.start()], body[marker.start():].strip()
    proof = proof.strip()
    if truncated:
        return ParsedProof(proof=proof, self_evaluation=self_eval, status="truncated")
    if not proof:
        return ParsedProof(proof="", self_evaluation=self_eval, status="empty")
    if self_eval is None:
        return ParsedProof(proof=proof, status="missing_section")
    score, status = _read_score(self_eval, _SCORE_PHRASE)
    if status == "lenient":
        # A self-score only breaks ties between proofs of equal mean: a lenient reading may.
        status = "missing_marker"
    if not sol or not evals:
        status = "missing_section" if score is not None else status
    return ParsedProof(proof=proof, self_evaluation=self_eval, self_score=score, status=status)


_YES = re.compile(r"^\W*(yes|equivalent|true|correct|same|match(?:es)?|1)\W*$", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|not\s+equivalent|false|incorrect|different|mismatch|0)\W*$", re.IGNORECASE)


def parse_judgement(text: str | None) -> bool | None:
    """A judge's verdict on two answers: the last box holds yes or no. None when unreadable."""
    body = strip_thinking(text)
    boxes = boxed_contents(body)
    if not boxes:
        return None
    raw = _WRAPPERS.sub(r"\1", boxes[-1]).strip()
    if _YES.match(raw):
        return True
    if _NO.match(raw):
        return False
    return None
