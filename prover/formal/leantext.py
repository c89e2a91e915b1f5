"""Text around the formal stage's Lean: reading model outputs (the last ```lean4 block after
``</think>``, judge votes), splitting an NL proof into steps, and the shapes of declarations —
binders and conclusion of a theorem header, read from the lexer's tokens, never from Lean's
pretty-printed goals."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prover.lean.lexer import Kind, Token, lex

_OPEN = {"(": ")", "{": "}", "[": "]", "⦃": "⦄", "⟨": "⟩", "⟦": "⟧"}
_CLOSE = set(_OPEN.values())
_FENCE = re.compile(r"```[ \t]*(lean4|lean)?[ \t]*\n(.*?)(?:```|\Z)", re.S)
_BOXED = re.compile(r"\\boxed\{\s*([^{}]*?)\s*\}")


# -- model outputs ---------------------------------------------------------------------------

def after_thinking(text: str | None) -> str:
    """What follows the last ``</think>`` (the whole text when there is none)."""
    text = text or ""
    i = text.rfind("</think>")
    return text[i + len("</think>"):] if i >= 0 else text


def extract_lean(text: str | None) -> str | None:
    """The last ```lean4 (or ```lean) block after ``</think>``; an unclosed last block counts
    (a truncated answer is still read, and Lean then judges it). None without a block."""
    blocks = [m.group(2) for m in _FENCE.finditer(after_thinking(text)) if m.group(1) or m.group(2).strip()]
    lean = [b for b in blocks if b.strip()]
    return lean[-1].strip("\n") if lean else None


def parse_vote(text: str | None) -> bool | None:
    """A judge's vote: the last ``\\boxed{yes}`` / ``\\boxed{no}`` after ``</think>`` (None when
    absent or anything else)."""
    boxes = _BOXED.findall(after_thinking(text))
    if not boxes:
        return None
    word = boxes[-1].strip().strip("\\text{}").lower()
    if word in ("yes", "true", "same", "1"):
        return True
    if word in ("no", "false", "different", "0"):
        return False
    return None


def plain_answer(text: str | None) -> str:
    """A back-translation or explanation: the text after ``</think>``, trimmed."""
    return after_thinking(text).strip()


_NUMBERED = re.compile(r"^\s*(?:\*\*)?(?:step\s*)?\(?(\d{1,2})[.):]\s*", re.I)


def split_steps(proof: str, *, max_steps: int = 24) -> list[str]:
    """An NL proof as numbered steps: its paragraphs (numbered lines start paragraphs too).
    Beyond ``max_steps`` the last ones are merged, so a long proof keeps every word."""
    paras: list[list[str]] = []
    for line in proof.strip().splitlines():
        if not line.strip():
            if paras and paras[-1]:
                paras.append([])
            continue
        if _NUMBERED.match(line) and paras and paras[-1]:
            paras.append([])
        if not paras:
            paras.append([])
        paras[-1].append(line.rstrip())
    steps = ["\n".join(p).strip() for p in paras if p and "\n".join(p).strip()]
    if len(steps) > max_steps:
        steps = steps[:max_steps - 1] + ["\n\n".join(steps[max_steps - 1:])]
    return steps or [proof.strip()]


def strip_comments(lean: str) -> str:
    """Lean text with every comment (doc comments included) removed: what reaches a prompt."""
    lexed = lex(lean)
    spans = sorted([(c.start, c.end) for c in lexed.comments]
                   + [(t.start, t.end) for t in lexed.tokens if t.kind is Kind.DOC])
    out, pos = [], 0
    for s, e in spans:
        if s < pos:
            continue
        out.append(lean[pos:s])
        pos = e
    out.append(lean[pos:])
    text = "".join(out)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip() + "\n"


def normalize_lean(text: str) -> str:
    """Tokens joined by single spaces (comments and layout dropped): two statements that differ
    only there are the same statement (the memo key of solved nodes)."""
    return " ".join(t.text for t in lex(text).tokens if t.kind is not Kind.DOC)


# -- declaration shapes ----------------------------------------------------------------------

def match_bracket(tokens: list[Token], i: int, end: int | None = None) -> int:
    """Index of the bracket closing the one at ``i`` (``end - 1`` when unclosed)."""
    end = len(tokens) if end is None else end
    depth = 0
    for j in range(i, end):
        t = tokens[j]
        if t.kind is Kind.SYMBOL:
            if t.text in _OPEN or t.text in ("@[", "#[", "%["):
                depth += 1
            elif t.text in _CLOSE:
                depth -= 1
                if depth == 0:
                    return j
    return end - 1


def depth0(tokens: list[Token], start: int, end: int, pred) -> int | None:
    """First index in [start, end) at bracket depth 0 whose token satisfies ``pred``."""
    depth = 0
    for j in range(start, end):
        t = tokens[j]
        if t.kind is Kind.SYMBOL:
            if t.text in _OPEN or t.text in ("@[", "#[", "%["):
                depth += 1
                continue
            if t.text in _CLOSE:
                depth = max(0, depth - 1)
                continue
        if depth == 0 and pred(t):
            return j
    return None


@dataclass(frozen=True)
class Binder:
    """One bracketed binder group of a declaration, e.g. ``(x y : ℝ)`` or ``[Fintype α]``."""

    text: str
    names: tuple[str, ...]
    """The names it binds (empty for an anonymous instance)."""
    kind: str
    """``explicit`` ``(…)``, ``implicit`` ``{…}``, ``strict`` ``⦃…⦄`` or ``instance`` ``[…]``."""


_KIND = {"(": "explicit", "{": "implicit", "⦃": "strict", "[": "instance"}


@dataclass(frozen=True)
class Signature:
    """A declaration's binders and conclusion, as written."""

    binders: tuple[Binder, ...]
    conclusion: str

    @property
    def binder_text(self) -> str:
        return " ".join(b.text for b in self.binders)

    def statement(self) -> str:
        """``binders : conclusion`` (what follows a theorem's name)."""
        return (self.binder_text + " : " if self.binders else ": ") + self.conclusion

    def closed(self) -> str:
        """The universally closed proposition ``∀ binders, conclusion``."""
        if not self.binders:
            return self.conclusion
        return f"∀ {self.binder_text}, {self.conclusion}"

    def negation(self) -> str:
        """``¬ (∀ binders, conclusion)``. Negating the closed statement, not the goal under its
        hypotheses: hypotheses that contradict each other would make any goal's negation
        provable, and refute nothing."""
        return f"¬ ({self.closed()})"

    @property
    def names(self) -> list[str]:
        return [n for b in self.binders if b.kind != "instance" for n in b.names]


def signature(text: str, tokens: list[Token], start: int, end: int) -> Signature | None:
    """The binders and conclusion of header tokens [start, end) that begin right after the
    declared name and end before `:=`. None when the header is not a sequence of bracketed
    binders followed by ``: conclusion``."""
    i = start
    binders = []
    while i < end and tokens[i].kind is Kind.SYMBOL and tokens[i].text in _KIND:
        close = match_bracket(tokens, i, end)
        if close >= end or tokens[close].text != _OPEN[tokens[i].text]:
            return None
        inner_colon = depth0(tokens, i + 1, close, lambda t: t.kind is Kind.SYMBOL and t.text == ":")
        names = tuple(t.text for t in tokens[i + 1:inner_colon if inner_colon is not None else i + 1]
                      if t.kind is Kind.IDENT and t.text != "_")
        binders.append(Binder(text[tokens[i].start:tokens[close].end], names, _KIND[tokens[i].text]))
        i = close + 1
    if i >= end or not (tokens[i].kind is Kind.SYMBOL and tokens[i].text == ":"):
        return None
    if i + 1 >= end:
        return None
    conclusion = text[tokens[i + 1].start:tokens[end - 1].end]
    return Signature(tuple(binders), conclusion)


def decl_signature(problem) -> Signature | None:
    """The signature of a parsed problem's target (``LeanProblem``)."""
    toks = problem.lexed.tokens
    decl = problem.target.command.decl
    if decl is None or decl.name is None:
        return None
    return signature(problem.text, toks, decl.name + 1, problem.target.assign)


def top_relation_sides(conclusion: str) -> tuple[str, str] | None:
    """The two sides of a conclusion's top-level ``=`` or ``↔`` (None otherwise)."""
    toks = lex(conclusion).tokens
    k = depth0(toks, 0, len(toks), lambda t: t.kind is Kind.SYMBOL and t.text in ("=", "↔"))
    if k is None or k == 0 or k == len(toks) - 1:
        return None
    return conclusion[:toks[k].start], conclusion[toks[k].end:]


def bare_expression(text: str) -> str:
    """An expression normalised for comparison: outer parentheses and a type ascription
    ``(e : T)`` removed, tokens joined by spaces."""
    toks = [t for t in lex(text).tokens if t.kind is not Kind.DOC]
    while len(toks) >= 2 and toks[0].text == "(" and match_bracket(toks, 0) == len(toks) - 1:
        inner = toks[1:-1]
        colon = depth0(inner, 0, len(inner), lambda t: t.kind is Kind.SYMBOL and t.text == ":")
        toks = inner[:colon] if colon is not None else inner
    return " ".join(t.text for t in toks)
