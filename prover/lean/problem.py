"""The problem model: a Lean problem (a `.lean` file or a stored formal statement) split into
its three zones — the trusted preamble, the answer slots, and the target theorem.

The target is the one declaration proved by `sorry` (or left with nothing after `:=`/`:= by`,
as ProofNet and miniF2F store statements) that is not an answer slot. Answer slots are
`[noncomputable] abbrev|def NAME : T := sorry` declarations next to a sorry theorem
(PutnamBench); a lone sorry `def` is itself the target (ProofNet's `def` exercises)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prover.core.errors import UsageError
from prover.lean.lexer import Kind, Lexed, Token, lex
from prover.lean.syntax import Command, split_commands

#: Modules a problem's preamble may import (a prefix ending in `.` allows a whole tree).
DEFAULT_IMPORT_ALLOWLIST: tuple[str, ...] = (
    "Mathlib", "Mathlib.", "Aesop", "Aesop.", "Batteries", "Batteries.", "Std", "Std.", "Qq", "Plausible",
    "Init", "Init.",
)

_THEOREM_LIKE = ("theorem", "lemma")
_DEF_LIKE = ("def", "abbrev")
_OPENERS = ("(", "[", "{", "⟨", "⦃", "⟦", "@[", "#[", "%[", "`(")
_CLOSERS = (")", "]", "}", "⟩", "⦄", "⟧")
_LET_LIKE = ("let", "have", "letI", "haveI")


def module_allowed(module: str, allowlist: tuple[str, ...] = DEFAULT_IMPORT_ALLOWLIST) -> bool:
    return any(module == a or (a.endswith(".") and module.startswith(a)) for a in allowlist)


@dataclass
class SorryDecl:
    """A declaration of the problem whose body is `sorry` (or nothing yet)."""

    command: Command
    keyword: str
    """`theorem`, `lemma`, `def` or `abbrev`."""
    name: str
    """The name as written (dotted)."""
    full_name: str
    """With the enclosing namespaces (``_root_.`` removed)."""
    header_start: int
    """Token index where the compared header starts: after any docstring, at the first
    `open … in` prefix, attribute, modifier or the keyword."""
    assign: int
    """Token index of the declaration's `:=`."""
    header_tokens: list[Token]
    """Tokens from ``header_start`` up to (not including) `:=`: the statement compared with a proof."""
    header_text: str
    """The source text of those tokens (comments inside kept)."""
    body: str
    """What followed `:=`: ``sorry``, ``by sorry``, ``by`` or empty."""
    namespace: tuple[str, ...] = ()
    """The namespace it is declared in (from `namespace` commands)."""
    docstring: str | None = None
    reference_comment: str | None = None
    """Answer slots: the comment right after the slot (PutnamBench's reference answer)."""

    @property
    def short_name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]


@dataclass
class LeanProblem:
    """A parsed problem. ``commands`` are in source order; ``roles[i]`` says which zone
    command ``i`` belongs to: ``import``, ``preamble``, ``slot``, ``target`` or ``postamble``."""

    text: str
    lexed: Lexed
    commands: list[Command]
    roles: list[str]
    target: SorryDecl
    answer_slots: list[SorryDecl] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    namespace: tuple[str, ...] = ()
    """Namespace the target is declared in."""

    @classmethod
    def parse(cls, text: str, *, source: str | None = None) -> "LeanProblem":
        """Parse a problem. Raises ``UsageError`` unless there is exactly one target."""
        return _parse(text, source)

    @property
    def preamble_commands(self) -> list[Command]:
        """Commands a proof file may repeat verbatim: imports, preamble and postamble."""
        return [c for c, r in zip(self.commands, self.roles) if r in ("import", "preamble", "postamble")]

    def command_text(self, cmd: Command) -> str:
        """Source text of a command from its first token to its last (trailing comments dropped)."""
        toks = self.lexed.tokens
        return self.text[toks[cmd.start].start:toks[cmd.end - 1].end]

    def slot(self, full_name: str) -> SorryDecl | None:
        for s in self.answer_slots:
            if s.full_name == full_name:
                return s
        return None

    def with_proof(self, body: str, slot_bodies: dict[str, str] | None = None) -> str:
        """The problem's text with the target's `sorry` replaced by ``body`` (the text after
        `:=`) and answer slots filled from ``slot_bodies`` (full name → body text)."""
        toks = self.lexed.tokens
        edits: list[tuple[int, int, str]] = []
        for decl in [self.target, *self.answer_slots]:
            new = body if decl is self.target else (slot_bodies or {}).get(decl.full_name)
            if new is None:
                continue
            a = toks[decl.assign]
            end = toks[decl.command.end - 1].end
            edits.append((a.end, end, " " + new.lstrip(" ")))
        out = self.text
        for start, end, new in sorted(edits, reverse=True):
            out = out[:start] + new + out[end:]
        return out


def _depth_ok_signature(toks: list[Token], first: int, assign: int) -> bool:
    """Whether the `:=` at ``assign`` is the declaration's own: no `by` or `where` at
    bracket depth 0 before it, and every other depth-0 `:=` belongs to a `let`/`have`."""
    depth = lets = assigns = 0
    for t in toks[first:assign]:
        if t.kind is Kind.SYMBOL:
            if t.text in _OPENERS:
                depth += 1
            elif t.text in _CLOSERS:
                depth = max(depth - 1, 0)
            elif depth == 0 and t.text == ":=":
                assigns += 1
        elif depth == 0 and t.kind is Kind.IDENT and not t.quoted:
            if t.text in ("by", "where"):
                return False
            if t.text in _LET_LIKE:
                lets += 1
    return depth == 0 and assigns <= lets


def _sorry_tail(toks: list[Token], cmd: Command) -> tuple[int, str] | None:
    """(index of `:=`, body) when the command ends in `:= sorry`, `:= by sorry`, `:= by` or `:=`."""
    end = cmd.end
    tail = [t.text if t.kind in (Kind.IDENT, Kind.SYMBOL) and not t.quoted else None
            for t in toks[max(cmd.start, end - 3):end]]
    for pattern in ([":=", "by", "sorry"], [":=", "sorry"], [":=", "by"], [":="]):
        if tail[-len(pattern):] == pattern:
            return end - len(pattern), " ".join(pattern[1:])
    return None


def _comments_between(lexed: Lexed, start: int, end: int) -> str | None:
    lines = []
    for c in lexed.comments:
        if start <= c.start < end and c.kind == "line":
            lines.append(c.text[2:].strip())
        elif start <= c.start < end and c.kind == "block":
            lines.append(c.text[2:-2].strip())
    return "\n".join(lines) or None


def _doc_text(tok: Token) -> str:
    body = tok.text[3:]
    return (body[:-2] if body.endswith("-/") else body).strip()


def _parse(text: str, source: str | None) -> LeanProblem:
    where = f"{source}: " if source else ""
    lexed = lex(text)
    if lexed.errors:
        e = lexed.errors[0]
        raise UsageError(f"{where}problem text does not lex: {e.message} at line {e.line}")
    toks = lexed.tokens
    commands = split_commands(lexed)
    roles: list[str] = []
    scopes: list[tuple[str, tuple[str, ...]]] = []
    sorry_decls: list[tuple[int, SorryDecl]] = []
    imports: list[str] = []
    unsupported: list[str] = []
    for idx, cmd in enumerate(commands):
        head = cmd.head
        roles.append("preamble")
        if head == "import":
            roles[-1] = "import"
            if cmd.start + 1 < cmd.end and toks[cmd.start + 1].kind is Kind.IDENT:
                imports.append(toks[cmd.start + 1].name)
            continue
        if head == "namespace" and cmd.start + 1 < cmd.end:
            scopes.append(("namespace", toks[cmd.start + 1].parts))
            continue
        if head == "section":
            scopes.append(("section", ()))
            continue
        if head == "end":
            if scopes:
                scopes.pop()
            continue
        decl = cmd.decl
        if decl is None or decl.keyword is None:
            continue
        tail = _sorry_tail(toks, cmd)
        if tail is None:
            continue
        assign, body = tail
        keyword = toks[decl.keyword].text
        if keyword not in _THEOREM_LIKE + _DEF_LIKE:
            unsupported.append(f"{keyword} at line {toks[decl.keyword].line}")
            continue
        if decl.name is None or not _depth_ok_signature(toks, decl.name + 1, assign):
            continue
        name_tok = toks[decl.name]
        parts = name_tok.parts
        ns = tuple(p for kind, ps in scopes if kind == "namespace" for p in ps)
        full = ".".join(parts[1:] if parts and parts[0] == "_root_" else ns + parts)
        # The compared header starts after the docstring and includes any `open … in` prefix.
        first = next(k for k in range(cmd.start, cmd.end) if toks[k].kind is not Kind.DOC)
        sd = SorryDecl(
            command=cmd, keyword=keyword, name=name_tok.name, full_name=full, header_start=first,
            assign=assign, header_tokens=toks[first:assign],
            header_text=text[toks[first].start:toks[assign - 1].end], body=body,
            namespace=ns, docstring=_doc_text(toks[decl.docs[-1]]) if decl.docs else None,
        )
        sorry_decls.append((idx, sd))
    if unsupported:
        raise UsageError(f"{where}unsupported declaration proved by sorry: {', '.join(unsupported)}")
    theorems = [(i, d) for i, d in sorry_decls if d.keyword in _THEOREM_LIKE]
    defs = [(i, d) for i, d in sorry_decls if d.keyword in _DEF_LIKE]
    if len(theorems) == 1:
        target_idx, target = theorems[0]
        slots = defs
    elif not theorems and len(defs) == 1:
        target_idx, target = defs[0]
        slots = []
    else:
        names = ", ".join(d.full_name for _, d in theorems or defs) or "none"
        raise UsageError(f"{where}a problem needs exactly one target declaration proved by sorry; "
                         f"found {len(theorems)} theorem(s) ({names})")
    for i, slot in slots:
        roles[i] = "slot"
        nxt = commands[i + 1].start if i + 1 < len(commands) else len(toks)
        end_off = toks[nxt].start if nxt < len(toks) else len(text)
        slot.reference_comment = _comments_between(lexed, toks[slot.command.end - 1].end, end_off)
    roles[target_idx] = "target"
    for i in range(target_idx + 1, len(commands)):
        if roles[i] == "preamble":
            roles[i] = "postamble"
    return LeanProblem(text=text, lexed=lexed, commands=commands, roles=roles, target=target,
                       answer_slots=[s for _, s in slots], imports=imports, namespace=target.namespace)
