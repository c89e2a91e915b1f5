"""Sketches: a Lean proof of the target whose top-level tactics are ``have`` steps mirroring the
NL proof, each tagged ``-- Step k`` and proved by ``sorry``. Each hole becomes a node of a lemma
DAG; each node is a stand-alone lemma built from the sketch's own ``have`` text plus the binders
in scope (the target's binders and the earlier ``have``s) — or, where the sketch changes its
context some other way (``intro``, ``obtain``, a hole inside a nested block), from the statement
Mathlib's ``extract_goal`` prints for that hole.

Once every node is proved, the checked file is the sketch itself with the node lemmas declared
before the target and each hole closed by ``exact NODE (x := x) ...`` (named arguments, so that
binder order and implicitness do not matter). Only the verdict on that whole file counts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import networkx as nx

from prover.core.hashing import sha256_text
from prover.core.lean_records import ReasonCode
from prover.lean.lexer import Kind, Lexed, Token, lex
from prover.lean.problem import LeanProblem
from prover.lean.screen import ProofParts, Reason, screen
from prover.formal.leantext import (Binder, Signature, decl_signature, depth0, match_bracket, normalize_lean,
                                    signature)

NODE_PREFIX = "prover_node_"
_STEP_TAG = re.compile(r"step\s*#?\s*(\d+)", re.I)
_EXTRACTED = re.compile(r"^\s*(?:theorem|lemma|example)\s+extracted_\d+")


@dataclass
class SketchStep:
    """One top-level tactic of the sketch that claims something (a ``have``) or leaves a hole."""

    position: int
    """Index among the sketch's top-level tactics."""
    kind: str
    """``have`` (a claimed step), ``final`` (a bare ``sorry`` closing the goal) or ``nested`` (a
    ``sorry`` inside another tactic)."""
    text: str
    """The tactic's source text."""
    name: str | None = None
    """The ``have``'s name (``this`` when unnamed)."""
    type_text: str | None = None
    """The ``have``'s proposition, as written."""
    nl_step: int | None = None
    """The NL step it formalizes (1-based, from its ``-- Step k`` tag)."""
    hole: bool = False
    """Proved by ``sorry``: a node of the lemma DAG."""
    sorry_index: int | None = None
    """Token index of the hole's ``sorry`` in the sketch."""
    term_hole: bool = False
    """The ``sorry`` stands where a term is expected (``:= sorry``)."""
    goal: Signature | None = None
    """The node's statement: binders in scope, then the proposition."""
    context_source: str = "text"
    """``text`` (built from the sketch's own text) or ``extract_goal``."""
    key: str = ""
    """The node's name in the checked file (``prover_node_<n>``)."""

    @property
    def needs_extract(self) -> bool:
        return self.hole and self.goal is None


@dataclass
class Sketch:
    """A parsed sketch of one problem's target."""

    text: str
    problem: LeanProblem
    parts: ProofParts
    reasons: list[Reason]
    """What the screen found besides ``sorry`` (a usable sketch has none)."""
    steps: list[SketchStep] = field(default_factory=list)
    target: Signature | None = None
    slot_bodies: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return not self.reasons and self.parts is not None and self.parts.target is not None

    @property
    def holes(self) -> list[SketchStep]:
        return [s for s in self.steps if s.hole]

    @property
    def claims(self) -> list[SketchStep]:
        """Steps an alignment vote judges: every ``have`` (a hole or proved in place)."""
        return [s for s in self.steps if s.kind == "have"]

    # -- the lemma DAG --------------------------------------------------------------------------

    def dag(self, proofs: dict[str, str] | None = None) -> nx.DiGraph:
        """Holes as nodes; an edge a → b when b mentions a's ``have``: in its statement (the
        proposition it claims), or, once it is proved, in its proof (``proofs``: node key →
        proof text). Only what a step actually mentions makes an edge: every earlier step is a
        hypothesis of a node's lemma (see ``node_problem``), so no node waits for another's proof,
        and one that mentions nothing earlier is independent of the rest."""
        g = nx.DiGraph()
        holes = self.holes
        for s in holes:
            g.add_node(s.key, position=s.position, kind=s.kind, nl_step=s.nl_step)
        for b in holes:
            names = mentioned_names(self.claim_text(b))
            if proofs and b.key in proofs:
                names |= mentioned_names(proofs[b.key])
            for name in sorted(names):
                a = self.provider(b, name)
                if a is not None and a.hole:
                    g.add_edge(a.key, b.key)
        return g

    def claim_text(self, step: SketchStep) -> str:
        """What a step claims, as written (a ``have``'s proposition, else its goal's conclusion)."""
        if step.type_text is not None:
            return step.type_text
        return step.goal.conclusion if step.goal is not None else ""

    def provider(self, step: SketchStep, name: str) -> SketchStep | None:
        """The ``have`` that ``name`` refers to at ``step``: the last one before it with that name."""
        found = None
        for s in self.steps:
            if s.position >= step.position:
                break
            if s.kind == "have" and s.name == name:
                found = s
        return found

    def order(self) -> list[SketchStep]:
        """Holes in dependency order (ties: their place in the sketch)."""
        g = self.dag()
        by_key = {s.key: s for s in self.holes}
        return [by_key[k] for k in nx.lexicographical_topological_sort(g, key=lambda k: by_key[k].position)]

    # -- node lemmas ------------------------------------------------------------------------------

    def context_prefix(self) -> str:
        """The problem's imports and preamble, its answer slots filled as the sketch fills them:
        what every node lemma is stated after."""
        return context_prefix(self.problem, self.slot_bodies)

    def node_problem(self, step: SketchStep, *, negate: bool = False) -> str:
        """A problem file whose target is the node's lemma (or its negation, closed over its
        binders: see ``Signature.negation``), proved by ``sorry``."""
        assert step.goal is not None
        name = step.key + ("_neg" if negate else "")
        stmt = f": {step.goal.negation()}" if negate else step.goal.statement()
        return f"{self.context_prefix()}\n\ntheorem {name} {stmt} := by\n  sorry\n"

    def memo_key(self, step: SketchStep) -> str:
        """Solved nodes are reused by this key: the normalised context and statement."""
        assert step.goal is not None
        return sha256_text(normalize_lean(self.context_prefix()) + "\0" + normalize_lean(step.goal.statement()))

    def closing(self, step: SketchStep) -> str:
        """What replaces a hole's ``sorry`` once its node lemma is proved."""
        assert step.goal is not None
        args = " ".join(f"({n} := {n})" for n in dict.fromkeys(step.goal.names))
        call = f"{step.key} {args}".strip()
        return f"({call})" if step.term_hole else f"exact {call}"

    def assemble(self, proofs: dict[str, str], aux: list[str] | None = None) -> str:
        """The proof file to check: the sketch with the node lemmas (``key → body after :=``)
        and any auxiliary lemmas declared before the target, and each hole closed."""
        toks = self.parts.lexed.tokens
        edits: list[tuple[int, int, str]] = []
        for s in self.holes:
            t = toks[s.sorry_index]  # type: ignore[index]
            edits.append((t.start, t.end, self.closing(s)))
        decls = [f"theorem {s.key} {s.goal.statement()} := {proofs[s.key].strip()}"  # type: ignore[union-attr]
                 for s in self.holes]
        target_start = toks[self.parts.target.command.start].start  # type: ignore[union-attr]
        block = "\n\n".join(list(dict.fromkeys(aux or [])) + decls)
        if block:
            edits.append((target_start, target_start, block + "\n\n"))
        out = self.text
        for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            out = out[:start] + new + out[end:]
        return out

    def with_extract_goal(self) -> str:
        """The sketch with ``extract_goal`` before each hole whose context the text does not
        give (its info message states the hole's goal)."""
        toks = self.parts.lexed.tokens
        out = self.text
        for s in sorted((s for s in self.holes if s.needs_extract), key=lambda s: s.sorry_index, reverse=True):
            t = toks[s.sorry_index]  # type: ignore[index]
            new = "(by extract_goal; sorry)" if s.term_hole else "(extract_goal; sorry)"
            out = out[:t.start] + new + out[t.end:]
        return out

    def hole_line(self, step: SketchStep) -> int:
        """1-based line of a hole's ``sorry`` in the sketch text."""
        return self.parts.lexed.tokens[step.sorry_index].line  # type: ignore[index]

    def set_extracted(self, step: SketchStep, message: str) -> bool:
        """Take a hole's goal from an ``extract_goal`` message; False when it cannot be read."""
        sig = extracted_signature(message)
        if sig is None:
            return False
        step.goal, step.context_source = sig, "extract_goal"
        return True


def mentioned_names(text: str) -> set[str]:
    """The identifiers a Lean text mentions (a dotted one also by its first part: ``h.le``
    mentions ``h``)."""
    out: set[str] = set()
    for t in lex(text).tokens:
        if t.kind is Kind.IDENT:
            out.add(t.text)
            out.add(t.text.split(".")[0])
    return out


def context_prefix(problem: LeanProblem, slot_bodies: dict[str, str] | None = None) -> str:
    """A problem's imports and preamble (answer slots filled from ``slot_bodies``, else as they
    are), without its target and what follows it."""
    toks = problem.lexed.tokens
    out = []
    for cmd, role in zip(problem.commands, problem.roles):
        if role in ("import", "preamble"):
            out.append(problem.command_text(cmd))
        elif role == "slot":
            slot = next(s for s in problem.answer_slots if s.command is cmd)
            body = (slot_bodies or {}).get(slot.full_name)
            if body is None:
                out.append(problem.command_text(cmd))
            else:
                out.append(problem.text[toks[slot.header_start].start:toks[slot.assign].end] + " " + body)
    return "\n\n".join(out)


def negation_problem(problem: LeanProblem, name: str = "prover_root_neg") -> str | None:
    """A problem whose target is the negation of ``problem``'s closed statement (None when its
    header is not bracketed binders and a conclusion)."""
    sig = decl_signature(problem)
    if sig is None:
        return None
    return f"{context_prefix(problem)}\n\ntheorem {name} : {sig.negation()} := by\n  sorry\n"


# -- parsing ----------------------------------------------------------------------------------

def _segments(toks: list[Token], start: int, end: int) -> list[tuple[int, int]]:
    """Top-level tactics of a ``by`` block whose first tactic is token ``start``: a tactic
    starts on a new line at the block's column; deeper lines continue it."""
    if start >= end:
        return []
    base = toks[start].col
    starts = [start]
    depth = 0
    for j in range(start + 1, end):
        prev, t = toks[j - 1], toks[j]
        if prev.kind is Kind.SYMBOL:
            if prev.text in ("(", "[", "{", "⟨", "⦃"):
                depth += 1
            elif prev.text in (")", "]", "}", "⟩", "⦄"):
                depth = max(0, depth - 1)
        if depth == 0 and t.line > prev.line and t.col <= base and t.kind is not Kind.DOC:
            starts.append(j)
    return [(s, starts[k + 1] if k + 1 < len(starts) else end) for k, s in enumerate(starts)]


def _tag(lexed: Lexed, lo: int, hi: int) -> int | None:
    found = None
    for c in lexed.comments:
        if lo <= c.start < hi:
            m = _STEP_TAG.search(c.text)
            if m:
                found = int(m.group(1))
    return found


def _sorries(toks: list[Token], start: int, end: int) -> list[int]:
    return [j for j in range(start, end) if toks[j].kind is Kind.IDENT and not toks[j].quoted
            and toks[j].text == "sorry"]


def parse_sketch(text: str, problem: LeanProblem) -> Sketch:
    """Read a sketch of ``problem``'s target. Its steps and holes are found from its own text;
    a hole whose context the text cannot give is left for ``extract_goal``."""
    result = screen(problem, text)
    parts = result.parts
    reasons = [r for r in result.reasons if r.code is not ReasonCode.SORRY]
    sk = Sketch(text=text, problem=problem, parts=parts,  # type: ignore[arg-type]
                reasons=reasons, target=decl_signature(problem))
    if parts is None or parts.target is None:
        return sk
    sk.slot_bodies = {name: parts.body_text(use).strip() for name, use in parts.slot_fills.items()}
    toks = parts.lexed.tokens
    cmd, assign = parts.target.command, parts.target.assign
    body_start, end = assign + 1, cmd.end
    # Slot fills must not leave holes: the answer is part of what the sketch claims.
    for use in parts.slot_fills.values():
        if _sorries(toks, use.assign + 1, use.command.end):
            sk.reasons.append(Reason(ReasonCode.ANSWER_SLOT_UNFILLED, None, "an answer slot is filled with sorry"))
    steps: list[SketchStep] = []
    if body_start < end and toks[body_start].is_keyword("by"):
        segs = _segments(toks, body_start + 1, end)
    else:
        segs = [(body_start, end)]  # a term-mode proof: one step
    prev_end = toks[body_start].start if body_start < end else 0
    context_known = True
    scope: list[Binder] = []
    target = sk.target
    for pos, (s, e) in enumerate(segs):
        seg_text = parts.text[toks[s].start:toks[e - 1].end]
        tag = _tag(parts.lexed, prev_end, toks[e - 1].end)
        prev_end = toks[e - 1].end
        sorries = _sorries(toks, s, e)
        step = _have(toks, parts.text, s, e)
        if step is not None:
            name, type_text, proof_start = step
            hole_forms = ([["sorry"], ["by", "sorry"]])
            proof_words = [t.text for t in toks[proof_start:e]]
            hole = proof_words in hole_forms
            st = SketchStep(position=pos, kind="have", text=seg_text, name=name, type_text=type_text, nl_step=tag,
                            hole=hole)
            if hole:
                st.sorry_index = sorries[-1]
                st.term_hole = proof_words == ["sorry"]
                if context_known and target is not None:
                    st.goal = Signature(target.binders + tuple(scope), type_text)
            steps.append(st)
            if not hole:
                steps.extend(_nested(toks, parts.text, sorries, pos, tag, seg_text))
            scope = [b for b in scope if name not in b.names] + [Binder(f"({name} : {type_text})", (name,), "explicit")]
            continue
        if [t.text for t in toks[s:e]] == ["sorry"]:
            st = SketchStep(position=pos, kind="final", text=seg_text, nl_step=tag, hole=True, sorry_index=s,
                            term_hole=not (body_start < end and toks[body_start].is_keyword("by")))
            if context_known and target is not None:
                st.goal = Signature(target.binders + tuple(scope), target.conclusion)
            steps.append(st)
            continue
        steps.extend(_nested(toks, parts.text, sorries, pos, tag, seg_text))
        context_known = False  # intro, obtain, rw at h, cases...: the text no longer says the context
    for n, st in enumerate(s for s in steps if s.hole):
        st.key = f"{NODE_PREFIX}{n + 1}"
    sk.steps = steps
    return sk


def _nested(toks, text, sorries, pos, tag, seg_text) -> list[SketchStep]:
    out = []
    for j in sorries:
        prev = toks[j - 1] if j > 0 else None
        out.append(SketchStep(position=pos, kind="nested", text=seg_text, nl_step=tag, hole=True, sorry_index=j,
                              term_hole=prev is not None and prev.kind is Kind.SYMBOL and prev.text in (":=", "(",
                                                                                                         ",")))
    return out


def _have(toks: list[Token], text: str, s: int, e: int) -> tuple[str, str, int] | None:
    """(name, proposition, index of the first proof token) of ``have NAME : T := …`` or
    ``have : T := …``; None for any other tactic."""
    if not toks[s].is_keyword("have") or s + 1 >= e:
        return None
    if toks[s + 1].kind is Kind.SYMBOL and toks[s + 1].text == ":":
        name, colon = "this", s + 1
    elif (toks[s + 1].kind is Kind.IDENT and s + 2 < e and toks[s + 2].kind is Kind.SYMBOL
          and toks[s + 2].text == ":"):
        name, colon = toks[s + 1].text, s + 2
    else:
        return None
    assign = depth0(toks, colon + 1, e, lambda t: t.kind is Kind.SYMBOL and t.text == ":=")
    if assign is None or assign == colon + 1:
        return None
    return name, text[toks[colon + 1].start:toks[assign - 1].end], assign + 1


def extracted_signature(message: str) -> Signature | None:
    """The signature in an ``extract_goal`` message (``theorem extracted_1 … : goal := sorry``)."""
    if not _EXTRACTED.match(message):
        return None
    lexed = lex(message)
    toks = lexed.tokens
    i = 2  # after the keyword and the name
    if i + 1 < len(toks) and toks[i].text == "." and toks[i + 1].text == "{":  # universe parameters
        i = match_bracket(toks, i + 1) + 1
    end = depth0(toks, i, len(toks), lambda t: t.kind is Kind.SYMBOL and t.text == ":=")
    return signature(message, toks, i, end if end is not None else len(toks))
