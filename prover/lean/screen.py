"""The screen: the static half of "verified by Lean" (DESIGN.md). One canonical rule list,
applied to model text only — the preamble is trusted, and a proof file may repeat it.

Command level: the model may write `theorem`/`lemma` declarations (allow-listed attributes,
modifiers `private`/`protected`/`noncomputable`), fill the problem's answer slots (same
modifiers, name and type; a new body) and prove the target (same name, namespace, modifiers,
attributes and statement, `lemma` standing for `theorem`). Nothing else, except what the
assembly replaces by the problem's own text: a verbatim repeat of any preamble command, imports
the preamble already covers, and `set_option maxHeartbeats N` (N > 0) before the first
declaration (the configured limit applies).

Anywhere in model text (rule codes in ``ReasonCode``):

* ``sorry``: `sorry`, `admit`, `sorryAx` (every dotted part of every name, «quoted» or not);
* ``axiom``: `axiom`;  ``unsafe``: `unsafe`, `opaque`, `implemented_by`, `extern`, `csimp`;
* ``native``: `native_decide`, `native` (as in `decide +native` or `(config := {native := true})`),
  `bv_decide`, `ofReduceBool`, `ofReduceNat`, `reduceBool`, `reduceNat`, `trustCompiler`;
* ``hash-command``: every `#` command (`#exit`, `#eval`, `#print`...);
* ``meta-program``: `run_cmd`, `run_tac`, `run_elab`, `run_meta`, `by_elab`, `elab`, `elab_rules`,
  `initialize`, `builtin_initialize`, simprocs;
* ``notation``: `macro`, `macro_rules`, `syntax`, `notation`, `notation3`, `infix[l|r]`, `prefix`,
  `postfix`, `declare_syntax_cat`, `binder_predicate`;
* ``definition``: `def`, `abbrev`, `instance`, `structure`, `class`, `inductive`, `deriving`... (except
  the header of an answer-slot fill or of a `def` target);
* ``scope-command``: `attribute`, `export`, `namespace`, `section`, `end`, `variable`, `universe`,
  `include`, `omit`, `mutual`, `local`, `scoped` (except in `open scoped`);
* ``open-in-command`` / ``set-option-in-command``: `open … in` / `set_option … in` before a
  declaration (inside a proof both are fine, `set_option` only with an allow-listed option);
* ``set-option-not-allowed``: an option outside ``ALLOWED_OPTIONS`` (never `debug.*`, never
  `maxHeartbeats 0`);
* ``suggestion-tactic``: `exact?`, `apply?`, `rw?`, `rw??`, `library_search`, `observe?`, a bare `hint`;
* ``import``: an import beyond the preamble;
* ``ambiguous-string``: a string literal holding `{`/`}` (Lean may read it as interpolated code),
  or a character literal glued to a symbol.

`haveI`, `letI`, `inferInstance`, `open … in` and allow-listed `set_option … in` inside proofs
are fine. Bump ``SCREEN_RULES_VERSION`` with every change to what is accepted: stored `verified`
rows with an older version are re-screened."""

from __future__ import annotations

from dataclasses import dataclass, field

from prover.core.lean_records import ReasonCode
from prover.lean.lexer import Kind, Lexed, Token, lex, same_tokens
from prover.lean.problem import LeanProblem, SorryDecl, module_allowed
from prover.lean.syntax import COMMAND_KEYWORDS, DECL_KEYWORDS, Command, in_chain, split_commands

SCREEN_RULES_VERSION = 1

SORRY_WORDS = frozenset({"sorry", "admit", "sorryAx"})
NATIVE_WORDS = frozenset({"native_decide", "native", "bv_decide", "ofReduceBool", "ofReduceNat", "reduceBool",
                          "reduceNat", "trustCompiler"})
UNSAFE_NAME_WORDS = frozenset({"implemented_by", "extern", "csimp"})
META_WORDS = frozenset({"run_cmd", "run_tac", "run_elab", "run_meta", "by_elab", "elab", "elab_rules",
                        "initialize", "builtin_initialize", "simproc", "dsimproc", "simproc_decl", "dsimproc_decl",
                        "builtin_simproc", "builtin_dsimproc", "builtin_simproc_decl", "builtin_dsimproc_decl"})
NOTATION_WORDS = frozenset({"macro", "macro_rules", "syntax", "notation", "notation3", "infix", "infixl", "infixr",
                            "prefix", "postfix", "declare_syntax_cat", "binder_predicate"})
DEFINITION_WORDS = frozenset({"def", "abbrev", "instance", "structure", "class", "inductive", "coinductive",
                              "irreducible_def", "deriving", "alias"})
SCOPE_WORDS = frozenset({"attribute", "export", "namespace", "section", "end", "variable", "universe",
                         "universes", "include", "omit", "mutual", "local", "scoped"})
SUGGESTION_WORDS = frozenset({"exact?", "apply?", "rw?", "rw??", "library_search", "observe?"})

ALLOWED_MODIFIERS = frozenset({"private", "protected", "noncomputable"})
#: Attributes an auxiliary lemma may carry: they only steer tactics.
ALLOWED_ATTRIBUTES = frozenset({
    "simp", "norm_cast", "push_cast", "field_simps", "gcongr", "mono", "aesop", "bound", "nolint", "symm", "refl",
    "trans", "ext", "congr", "inherit_doc", "to_additive", "continuity", "measurability", "fun_prop", "grind",
    "elab_as_elim", "deprecated", "positivity",
})
#: Options a proof may set with `set_option … in` (prefixes end in a dot).
ALLOWED_OPTIONS = (
    "maxRecDepth", "maxHeartbeats", "synthInstance.maxHeartbeats", "synthInstance.maxSize",
    "exponentiation.threshold", "diagnostics", "diagnostics.threshold", "push_neg.use_distrib", "simprocs",
    "tactic.skipAssignedInstances", "maxSynthPendingDepth", "profiler", "profiler.threshold",
    "linter.", "pp.", "trace.",
)
#: Options whose value must be a positive number (0 means "no limit").
POSITIVE_OPTIONS = frozenset({"maxHeartbeats", "synthInstance.maxHeartbeats", "maxRecDepth"})
#: Modules a proof may import on top of a preamble that imports all of Mathlib (dropped on assembly).
IMPLIED_BY_MATHLIB = ("Mathlib", "Mathlib.", "Aesop", "Batteries", "Batteries.", "Qq", "Plausible")

_TACTIC_BEFORE = frozenset({"by", ";", "<;>", "·", ".", "=>", "then", "else", "try", "first", "|", "repeat",
                            "all_goals", "any_goals", "focus"})
_TACTIC_AFTER = frozenset({";", "<;>", "|"})


@dataclass(frozen=True)
class Reason:
    """One reason for a rejection: a code, the 1-based line in the proof file, and a note."""

    code: ReasonCode
    line: int | None
    text: str

    def to_json(self) -> dict:
        return {"code": self.code.value, "line": self.line, "text": self.text}


@dataclass
class DeclUse:
    """A model declaration the assembly uses: its command and the index of the token that ends
    its header (`:=`, or `|` for equations, or `where` for a definition's structure instance)."""

    command: Command
    assign: int | None = None


@dataclass
class ProofParts:
    """What the screen found in a proof file, for the assembly."""

    text: str
    lexed: Lexed
    commands: list[Command]
    dropped: list[Command] = field(default_factory=list)
    """Repeated preamble commands and implied imports: replaced by the problem's own."""
    slot_fills: dict[str, DeclUse] = field(default_factory=dict)
    """Answer slot full name → the model's fill."""
    aux: list[Command] = field(default_factory=list)
    """Auxiliary theorems and lemmas, in order."""
    target: DeclUse | None = None

    def command_text(self, cmd: Command, *, from_token: int | None = None) -> str:
        toks = self.lexed.tokens
        start = toks[cmd.start if from_token is None else from_token].start
        return self.text[start:toks[cmd.end - 1].end]

    def body_text(self, use: DeclUse) -> str:
        """What follows a declaration's header up to its last token: the text after `:=`, or
        the equations / `where` block including its first token."""
        toks = self.lexed.tokens
        sep = toks[use.assign]
        start = sep.end if sep.text == ":=" else sep.start
        return self.text[start:toks[use.command.end - 1].end]


@dataclass
class ScreenResult:
    accepted: bool
    reasons: list[Reason]
    parts: ProofParts | None = None


def option_allowed(name: str, value: Token | None) -> bool:
    if name.startswith("debug."):
        return False
    if not any(name == a or (a.endswith(".") and name.startswith(a)) for a in ALLOWED_OPTIONS):
        return False
    if name in POSITIVE_OPTIONS:
        if value is None or value.kind is not Kind.NUMBER:
            return False
        try:
            return int(value.text.replace("_", ""), 0) > 0
        except ValueError:
            return False
    return True


class _Screen:
    def __init__(self, problem: LeanProblem, text: str):
        self.problem = problem
        self.text = text
        self.reasons: list[Reason] = []
        self._seen: set[tuple] = set()
        self.scan: list[tuple[int, int]] = []
        """Token ranges of model text that the token rules screen."""

    def add(self, code: ReasonCode, line: int | None, text: str) -> None:
        key = (code, line)
        if key not in self._seen:
            self._seen.add(key)
            self.reasons.append(Reason(code, line, text))

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> ScreenResult:
        text = self.text
        if not text.strip():
            self.add(ReasonCode.EMPTY_PROOF, None, "the proof file is empty")
            return ScreenResult(False, self.reasons)
        lexed = lex(text)
        for e in lexed.errors:
            self.add(ReasonCode.MALFORMED_TEXT, e.line, e.message)
        if lexed.errors:
            return ScreenResult(False, self.reasons)
        self.toks = toks = lexed.tokens
        for module in self.problem.imports:
            if not module_allowed(module):
                self.add(ReasonCode.IMPORT_NOT_ALLOWED, None, f"the problem imports {module}")
        commands = split_commands(lexed)
        parts = ProofParts(text, lexed, commands)
        problem = self.problem
        pre = [[t for t in c.tokens(problem.lexed) if t.kind is not Kind.DOC] for c in problem.preamble_commands]
        mathlib = "Mathlib" in problem.imports
        leading = True
        targets: list[Command] = []
        for cmd in commands:
            body = [t for t in cmd.tokens(lexed) if t.kind is not Kind.DOC]
            if not body:
                continue
            if any(same_tokens(body, p) for p in pre):
                parts.dropped.append(cmd)
                continue
            first = toks[cmd.start]
            if cmd.head == "import":
                module = toks[cmd.start + 1].name if cmd.start + 1 < cmd.end else ""
                if leading and (module in problem.imports or (mathlib and module_allowed(module, IMPLIED_BY_MATHLIB))):
                    parts.dropped.append(cmd)
                else:
                    self.add(ReasonCode.IMPORT, first.line, f"import {module} is not in the preamble"
                             if leading else "import after other commands")
                continue
            if leading and self.heartbeat_header(body):
                # `set_option maxHeartbeats N` in a proof's header: the configured limit applies instead.
                parts.dropped.append(cmd)
                continue
            leading = False
            self.classify(cmd, parts, targets)
        if len(parts.dropped) == len([c for c in commands if any(t.kind is not Kind.DOC for t in c.tokens(lexed))]) \
                and not self.reasons:
            self.add(ReasonCode.EMPTY_PROOF, None, "the proof file adds nothing to the problem's preamble")
            return ScreenResult(False, self.reasons, parts)
        self.check_target(targets, parts)
        self.check_slots(parts)
        for start, end in self.scan:
            self.scan_tokens(start, end)
        self.reasons.sort(key=lambda r: (r.line or 0, r.code.value))
        return ScreenResult(not self.reasons, self.reasons, parts)

    # -- commands ---------------------------------------------------------------------------

    @staticmethod
    def heartbeat_header(body: list[Token]) -> bool:
        return (len(body) == 3 and body[0].is_keyword("set_option") and body[1].kind is Kind.IDENT
                and body[1].name == "maxHeartbeats" and option_allowed("maxHeartbeats", body[2]))

    def resolve(self, name_tok: Token) -> str:
        parts = name_tok.parts
        if parts and parts[0] == "_root_":
            return ".".join(parts[1:])
        return ".".join(self.problem.namespace + parts)

    def classify(self, cmd: Command, parts: ProofParts, targets: list[Command]) -> None:
        toks = self.toks
        problem = self.problem
        decl = cmd.decl
        head_tok = toks[cmd.start]
        if decl is not None and decl.keyword is not None:
            keyword = toks[decl.keyword].text
            name_tok = toks[decl.name] if decl.name is not None else None
            line = toks[decl.keyword].line
            if name_tok is not None and keyword in ("theorem", "lemma", "def", "abbrev"):
                full = self.resolve(name_tok)
                target = problem.target
                if full == target.full_name or name_tok.name == target.name:
                    targets.append(cmd)
                    return
                slot = problem.slot(full) or next((s for s in problem.answer_slots if s.name == name_tok.name), None)
                if slot is not None and keyword in ("def", "abbrev"):
                    assign = self.match_header(cmd, slot)
                    if assign is None:
                        for k in cmd.in_prefix:
                            self.command_prefix(k)
                        self.add(ReasonCode.ANSWER_SLOT_MODIFIED, line,
                                 f"{slot.name} must keep the problem's modifiers, name and type")
                        self.scan.append((cmd.start, cmd.end))
                    elif slot.full_name in parts.slot_fills:
                        self.add(ReasonCode.ANSWER_SLOT_DUPLICATE, line, f"{slot.name} is filled twice")
                    else:
                        parts.slot_fills[slot.full_name] = DeclUse(cmd, assign)
                        self.check_slot_body(slot, cmd, assign)
                    return
                if keyword in ("theorem", "lemma"):
                    for k in cmd.in_prefix:
                        self.command_prefix(k)
                    self.check_decl_modifiers(cmd)
                    parts.aux.append(cmd)
                    self.scan.append((cmd.start, cmd.end))
                    return
            code = {"axiom": ReasonCode.AXIOM, "opaque": ReasonCode.UNSAFE,
                    "example": ReasonCode.COMMAND_NOT_ALLOWED, "theorem": ReasonCode.COMMAND_NOT_ALLOWED,
                    "lemma": ReasonCode.COMMAND_NOT_ALLOWED}.get(keyword, ReasonCode.DEFINITION)
            if keyword in META_WORDS:
                code = ReasonCode.META_PROGRAM
            for k in cmd.in_prefix:
                self.command_prefix(k)
            self.add(code, line, f"`{keyword}` is not allowed in model text"
                     if code is not ReasonCode.COMMAND_NOT_ALLOWED else f"`{keyword}` at command level")
            self.scan.append((cmd.start, cmd.end))
            return
        head = cmd.head
        line = head_tok.line
        for k in cmd.in_prefix:
            self.command_prefix(k)
        if head == "<text>":
            self.add(ReasonCode.COMMAND_NOT_ALLOWED, line, "text outside any declaration")
        elif head_tok.kind is Kind.HASH or head.startswith("#"):
            self.add(ReasonCode.HASH_COMMAND, line, f"`{head}` is not allowed")
        elif head in ("open", "set_option"):
            if not cmd.in_prefix:
                self.add(ReasonCode.COMMAND_NOT_ALLOWED, line, f"`{head}` at command level")
        elif head in SCOPE_WORDS:
            self.add(ReasonCode.SCOPE_COMMAND, line, f"`{head}` is not allowed in model text")
        elif head in NOTATION_WORDS:
            self.add(ReasonCode.NOTATION, line, f"`{head}` is not allowed in model text")
        elif head in META_WORDS:
            self.add(ReasonCode.META_PROGRAM, line, f"`{head}` is not allowed in model text")
        elif head in DEFINITION_WORDS:
            self.add(ReasonCode.DEFINITION, line, f"`{head}` is not allowed in model text")
        elif head not in ("<doc>",):
            self.add(ReasonCode.COMMAND_NOT_ALLOWED, line, f"`{head}` at command level")
        self.scan.append((cmd.start, cmd.end))

    def command_prefix(self, k: int) -> None:
        tok = self.toks[k]
        if tok.text == "open":
            self.add(ReasonCode.OPEN_IN_COMMAND, tok.line, "`open … in` before a declaration")
        else:
            self.add(ReasonCode.SET_OPTION_IN_COMMAND, tok.line, "`set_option … in` before a declaration")

    def check_decl_modifiers(self, cmd: Command) -> None:
        toks = self.toks
        decl = cmd.decl
        for m in decl.modifiers:
            if toks[m].text not in ALLOWED_MODIFIERS:
                self.add(ReasonCode.MODIFIER_NOT_ALLOWED, toks[m].line, f"modifier `{toks[m].text}`")
        for start, close in decl.attrs:
            for name_tok in self.attribute_names(start, close):
                if name_tok is None or name_tok.name not in ALLOWED_ATTRIBUTES:
                    what = name_tok.text if name_tok is not None else "?"
                    self.add(ReasonCode.ATTRIBUTE_NOT_ALLOWED, toks[start].line, f"attribute `{what}`")

    def attribute_names(self, start: int, close: int) -> list[Token | None]:
        """The first name of each entry of the attribute list `@[ … ]` (after `local`/`scoped`)."""
        toks = self.toks
        names: list[Token | None] = []
        depth = 0
        expecting = True
        for j in range(start + 1, close):
            t = toks[j]
            if t.kind is Kind.SYMBOL and t.text in ("(", "[", "{", "⟨"):
                depth += 1
            elif t.kind is Kind.SYMBOL and t.text in (")", "]", "}", "⟩"):
                depth -= 1
            elif depth == 0 and t.kind is Kind.SYMBOL and t.text == ",":
                if expecting:
                    names.append(None)
                expecting = True
            elif depth == 0 and expecting:
                if t.is_keyword("local", "scoped"):
                    continue
                names.append(t if t.kind is Kind.IDENT else None)
                expecting = False
        if expecting:
            names.append(None)
        return names

    def match_header(self, cmd: Command, decl: SorryDecl) -> int | None:
        """Index of the token ending the model's header (`:=`, `|`, or `where` for a definition)
        when the header equals the problem's ``decl`` header."""
        toks = self.toks
        first = next(k for k in range(cmd.start, cmd.end) if toks[k].kind is not Kind.DOC)
        n = len(decl.header_tokens)
        cand = [t for t in toks[first:cmd.end]]
        if len(cand) <= n:
            return None
        sep = cand[n]
        if not (sep.is_symbol(":=", "|") or (decl.keyword in ("def", "abbrev") and sep.is_keyword("where"))):
            return None
        if not same_tokens(cand[:n], decl.header_tokens, equivalent={"lemma": "theorem"}):
            return None
        return first + n

    def check_slot_body(self, slot: SorryDecl, cmd: Command, assign: int) -> None:
        toks = self.toks
        body = toks[assign + 1:cmd.end]
        if [t.text for t in body] in (["sorry"], ["by", "sorry"]):
            self.add(ReasonCode.ANSWER_SLOT_UNFILLED, toks[assign].line, f"{slot.name} is still `sorry`")
            return
        target = self.problem.target
        for t in body:
            if t.kind in (Kind.IDENT, Kind.NAME_LIT) and (
                    t.name in (target.name, target.full_name) or (t.parts and t.parts[-1] == target.short_name)):
                self.add(ReasonCode.ANSWER_MENTIONS_TARGET, t.line, f"{slot.name} mentions {target.name}")
        self.scan.append((assign, cmd.end))

    def check_target(self, targets: list[Command], parts: ProofParts) -> None:
        toks = self.toks
        target = self.problem.target
        if not targets:
            self.add(ReasonCode.TARGET_MISSING, None, f"no declaration of {target.name}")
            return
        if len(targets) > 1:
            for cmd in targets[1:]:
                self.add(ReasonCode.TARGET_DUPLICATE, toks[cmd.decl.keyword].line,
                         f"{target.name} is declared again")
        cmd = targets[0]
        assign = self.match_header(cmd, target)
        if assign is None:
            self.add(ReasonCode.TARGET_MISMATCH, toks[cmd.decl.keyword].line,
                     f"the statement of {target.name} differs from the problem's")
            for k in cmd.in_prefix:
                self.command_prefix(k)
            self.scan.append((cmd.start, cmd.end))
            return
        parts.target = DeclUse(cmd, assign)
        self.scan.append((assign, cmd.end))
        for other in targets[1:]:
            self.scan.append((other.start, other.end))

    def check_slots(self, parts: ProofParts) -> None:
        for slot in self.problem.answer_slots:
            if slot.full_name not in parts.slot_fills:
                already = any(r.code in (ReasonCode.ANSWER_SLOT_UNFILLED, ReasonCode.ANSWER_SLOT_MODIFIED)
                              and slot.name in r.text for r in self.reasons)
                if not already:
                    self.add(ReasonCode.ANSWER_SLOT_UNFILLED, None, f"{slot.name} is not filled")

    # -- tokens -----------------------------------------------------------------------------

    def scan_tokens(self, start: int, end: int) -> None:
        toks = self.toks
        for i in range(start, end):
            t = toks[i]
            kind = t.kind
            if kind is Kind.STRING:
                if "{" in t.text or "}" in t.text:
                    self.add(ReasonCode.AMBIGUOUS_STRING, t.line, "string literal with braces")
                continue
            if kind is Kind.CHAR:
                if t.ambiguous:
                    self.add(ReasonCode.AMBIGUOUS_STRING, t.line, "character literal glued to a symbol")
                continue
            if kind is Kind.HASH:
                self.add(ReasonCode.HASH_COMMAND, t.line, f"`{t.text}` is not allowed")
                continue
            if kind not in (Kind.IDENT, Kind.NAME_LIT):
                continue
            for part in t.parts:
                if part in SORRY_WORDS:
                    self.add(ReasonCode.SORRY, t.line, f"`{part}`")
                elif part in NATIVE_WORDS:
                    self.add(ReasonCode.NATIVE, t.line, f"`{part}`")
                elif part in UNSAFE_NAME_WORDS:
                    self.add(ReasonCode.UNSAFE, t.line, f"`{part}`")
            if kind is not Kind.IDENT or t.quoted:
                continue
            w = t.text
            if w == "axiom":
                self.add(ReasonCode.AXIOM, t.line, f"`{w}`")
            elif w in ("unsafe", "opaque"):
                self.add(ReasonCode.UNSAFE, t.line, f"`{w}`")
            elif w in META_WORDS:
                self.add(ReasonCode.META_PROGRAM, t.line, f"`{w}`")
            elif w in NOTATION_WORDS:
                self.add(ReasonCode.NOTATION, t.line, f"`{w}`")
            elif w in DEFINITION_WORDS:
                self.add(ReasonCode.DEFINITION, t.line, f"`{w}`")
            elif w in SCOPE_WORDS:
                if not (w == "scoped" and i and toks[i - 1].is_keyword("open")):
                    self.add(ReasonCode.SCOPE_COMMAND, t.line, f"`{w}`")
            elif w in SUGGESTION_WORDS:
                self.add(ReasonCode.SUGGESTION_TACTIC, t.line, f"`{w}`")
            elif w == "hint":
                if self.standalone_tactic(i, start, end):
                    self.add(ReasonCode.SUGGESTION_TACTIC, t.line, "`hint`")
            elif w == "import":
                self.add(ReasonCode.IMPORT, t.line, "import inside model text")
            elif w == "open":
                ch = in_chain(toks, i)
                if ch.command_level:
                    if ch.has_in:
                        self.add(ReasonCode.OPEN_IN_COMMAND, t.line, "`open … in` before a declaration")
                    else:
                        self.add(ReasonCode.COMMAND_NOT_ALLOWED, t.line, "`open` at command level")
            elif w == "set_option":
                self.check_set_option(i)
            elif w == "example" or (w in COMMAND_KEYWORDS and w not in DECL_KEYWORDS
                                    and w not in ("private", "protected", "noncomputable", "in")):
                self.add(ReasonCode.COMMAND_NOT_ALLOWED, t.line, f"`{w}`")

    def check_set_option(self, i: int) -> None:
        toks = self.toks
        t = toks[i]
        name_tok = toks[i + 1] if i + 1 < len(toks) else None
        value = toks[i + 2] if i + 2 < len(toks) else None
        name = name_tok.name if name_tok is not None and name_tok.kind is Kind.IDENT else ""
        if not option_allowed(name, value):
            shown = f"{name} {value.text if value is not None else ''}".strip()
            self.add(ReasonCode.SET_OPTION_NOT_ALLOWED, t.line, f"`set_option {shown}`")
        ch = in_chain(toks, i)
        if ch.command_level:
            if ch.has_in:
                self.add(ReasonCode.SET_OPTION_IN_COMMAND, t.line, "`set_option … in` before a declaration")
            else:
                self.add(ReasonCode.COMMAND_NOT_ALLOWED, t.line, "`set_option` at command level")

    def standalone_tactic(self, i: int, start: int, end: int) -> bool:
        """`hint` used as a tactic (alone on its line, or between tactic separators), not a
        hypothesis that happens to be called `hint`."""
        toks = self.toks
        t = toks[i]
        prev = toks[i - 1] if i > start else None
        nxt = toks[i + 1] if i + 1 < end else None
        before = prev is None or prev.line < t.line or prev.text in _TACTIC_BEFORE
        after = nxt is None or nxt.line > t.line or nxt.text in _TACTIC_AFTER
        return before and after


def screen(problem: LeanProblem, proof_text: str) -> ScreenResult:
    """Screen a proof file against a problem: accepted, or rejected with reasons."""
    return _Screen(problem, proof_text).run()
