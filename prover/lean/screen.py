"""The screen: the static half of "verified by Lean" (DESIGN.md, "What verified by Lean means").
It screens by capability: model text may use the command kinds real provers write, and nothing
anywhere in it may run model code, extend syntax, trust the compiler or skip the kernel. The
statement's meaning is Lean's to check (the fingerprint and the trusted epilogue); the screen
keeps out what could fool that check. One canonical rule list, applied to model text only — the
preamble is trusted, and a proof file may repeat it verbatim.

**Command kinds** (``split_commands`` cuts model text at every command keyword Lean, Batteries,
Aesop or Mathlib knows; each piece must be one of these, else ``unknown-command``):

* declarations `theorem`/`lemma`/`def`/`abbrev`/`example`/`instance`/`class`/`structure`/
  `inductive` and `mutual … end` (with `deriving` right after a `structure`/`inductive`/`class`),
  modifiers `private`/`protected`/`noncomputable` (and `local` before `instance`), attributes
  from ``ALLOWED_ATTRIBUTES``; `termination_by`/`decreasing_by` are part of a declaration;
* `open` (`open scoped`, `open … in`, `hiding`, `renaming`), `namespace`/`section`/`end` balanced
  by the end of model text, `noncomputable section`, `variable`, `include`/`omit`, `universe`,
  `local notation`, `attribute [local instance] …` (entries from ``ALLOWED_ATTRIBUTES``),
  `#check`, `#print axioms`, imports the preamble already has (at the top), and `set_option`
  (also `… in`, inside proofs too) from ``ALLOWED_OPTIONS``; limits in ``OPTION_CAPS`` are capped
  by the assembly (`0` and values above the cap become the cap);
* the problem's answer slots (same modifiers, name and type; a new body, which may not mention
  the target) and the target itself, declared once, outside any model scope and `… in` prefix,
  with the problem's statement (compared token by token, `lemma` standing for `theorem`).

**Denied anywhere** (reason codes in ``ReasonCode``; whole tokens, or name components where the
word is a name, so `Fin.init` and `Std.Range.stop` stay fine): ``sorry`` (`sorry`, `admit`,
`sorryAx`, the `stop`, `plausible`, `slim_check`, `sorry_if_sorry` and `impossible by` tactics);
``axiom``; ``unsafe`` (`unsafe` — except as an Aesop rule phase —, `partial`, `opaque`,
`implemented_by`, `extern`, `csimp`); ``native``
(`native_decide`, `native`, `bv_decide`, `bv_decide?`, `bv_check`, `ofReduceBool`, `ofReduceNat`,
`reduceBool`, `reduceNat`, `trustCompiler`); ``hash-command``; ``meta-program`` (`run_cmd`,
`run_tac`, `run_elab`, `run_meta`, `by_elab`, `elab`, `elab_rules`, `initialize`, simprocs,
`eval%`, `do`, quotations and name literals, `Lean.*`/`IO.*` names, Aesop's `tactic` rule
builder); ``notation``; ``config-not-literal``; ``set-option-not-allowed`` (`debug.*` and every
option off the list); ``suggestion-tactic`` (`rw?`, a bare `hint`...; `exact?`/`apply?` are
allowed, see ``SUGGESTION_WORDS``); ``import``; ``reserved-name`` (`_prover_…`);
``attribute-not-allowed``; ``ambiguous-string`` (a string with braces that is not known to be
interpolated — the code parts of `s!`/`m!`/`f!`/`throwError` strings are lexed and screened like
any code — or a character literal glued to a symbol).

Bump ``SCREEN_RULES_VERSION`` with every change to what is accepted: stored `verified` rows with an
older version are re-screened (``prover lean rescreen``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from prover.core.lean_records import ReasonCode
from prover.lean.lexer import Kind, Lexed, Token, lex, same_tokens
from prover.lean.problem import LeanProblem, SorryDecl, module_allowed
from prover.lean.syntax import Command, in_chain, matching_close, split_commands

SCREEN_RULES_VERSION = 2

SORRY_WORDS = frozenset({"sorry", "admit", "sorryAx"})
#: Tactics that leave the goal to `sorry` (whole tokens only: `Std.Range.stop` is a name).
SORRY_TACTICS = frozenset({"stop", "plausible", "slim_check", "sorry_if_sorry"})
NATIVE_WORDS = frozenset({"native_decide", "bv_decide", "bv_decide?", "bv_check", "ofReduceBool", "ofReduceNat",
                          "reduceBool", "reduceNat", "trustCompiler"})
UNSAFE_WORDS = frozenset({"unsafe", "partial", "opaque", "implemented_by", "extern", "csimp"})
META_WORDS = frozenset({"run_cmd", "run_tac", "run_elab", "run_meta", "by_elab", "elab", "elab_rules",
                        "initialize", "builtin_initialize", "simproc", "dsimproc", "simproc_decl", "dsimproc_decl",
                        "builtin_simproc", "builtin_dsimproc", "builtin_simproc_decl", "builtin_dsimproc_decl", "do"})
NOTATION_WORDS = frozenset({"macro", "macro_rules", "syntax", "notation", "notation3", "infix", "infixl", "infixr",
                            "prefix", "postfix", "declare_syntax_cat", "binder_predicate"})
#: Suggestion tactics that never close a goal themselves. `exact?` and `apply?` are allowed (a
#: deviation from DESIGN.md's list, which the published Seed-Prover proofs force): `exact?`
#: closes the goal with a term it found — kernel-checked like any other — or fails; `apply?`
#: without a closing term admits the goal, which leaves `sorryAx` in the target's axioms.
SUGGESTION_WORDS = frozenset({"rw?", "rw??", "library_search", "observe?", "hint?", "says?", "try?", "rw_search"})
#: First name components that reach Lean's meta level or the outside world.
META_NAMESPACES = frozenset({"Lean", "IO"})
RESERVED_PREFIX = "_prover_"
#: The trusted Lean library of the epilogue (lean_project/): model text may not name it.
RESERVED_NAMESPACE = "ProverCheck"

#: Declaration kinds model text may add.
ALLOWED_DECLARATIONS = frozenset({"theorem", "lemma", "def", "abbrev", "example", "instance", "class", "structure",
                                  "inductive"})
ALLOWED_MODIFIERS = frozenset({"private", "protected", "noncomputable"})
#: Commands other than declarations that model text may use.
ALLOWED_COMMANDS = frozenset({"open", "set_option", "namespace", "section", "end", "variable", "include", "omit",
                              "universe", "mutual", "attribute", "notation", "deriving", "#check", "#print"})
#: The minimal attribute list (DESIGN.md): they only steer tactics and instance search.
ALLOWED_ATTRIBUTES = frozenset({"simp", "norm_cast", "push_cast", "ext", "reducible", "instance"})
#: Options model text may set (prefixes end in a dot).
ALLOWED_OPTIONS = (
    "maxRecDepth", "maxHeartbeats", "synthInstance.maxHeartbeats", "synthInstance.maxSize",
    "exponentiation.threshold", "autoImplicit", "relaxedAutoImplicit", "tactic.hygienic", "linter.", "pp.",
    # harmless beyond DESIGN.md's list: output and tactic tuning only
    "diagnostics", "diagnostics.threshold", "push_neg.use_distrib", "simprocs", "tactic.skipAssignedInstances",
    "maxSynthPendingDepth", "profiler", "profiler.threshold", "trace.",
)
#: Limits the assembly caps (`0` means "no limit" and becomes the cap). `maxHeartbeats` is capped
#: by the check's configured heartbeats.
OPTION_CAPS: dict[str, int] = {"maxRecDepth": 100_000, "synthInstance.maxHeartbeats": 400_000,
                               "synthInstance.maxSize": 100_000}
CAPPED_OPTIONS = frozenset({"maxHeartbeats", *OPTION_CAPS})
#: Modules a proof may import on top of a preamble that imports all of Mathlib (dropped on assembly).
IMPLIED_BY_MATHLIB = ("Mathlib", "Mathlib.", "Aesop", "Batteries", "Batteries.", "Qq", "Plausible")

_TACTIC_BEFORE = frozenset({"by", ";", "<;>", "·", ".", "=>", "then", "else", "try", "first", "|", "repeat",
                            "all_goals", "any_goals", "focus"})
_TACTIC_AFTER = frozenset({";", "<;>", "|"})
_MODIFIER_WORDS = ("private", "protected", "noncomputable", "local", "scoped", "partial", "unsafe")
#: Words after which a term goes on (so an identifier at column 0 after them is part of it).
_OPEN_ENDED = ("by", "fun", "λ", "then", "else", "do", "at", "with", "from", "using", "in", "if", "match", "calc",
               "show", "have", "let", "where", "deriving", "termination_by", "decreasing_by", "extends")
#: Words that continue a declaration at column 0.
_COLUMN0_CONTINUATIONS = frozenset({"termination_by", "decreasing_by", "where", "deriving", "with", "then", "else",
                                    "at", "using", "from", "in"})
_CONFIG_KEYS = frozenset({"config", "simp_config"})
_NOT_LITERAL = frozenset({"by", "fun", "λ", "do", "let", "have", "show", "match", "if", "then", "else"})


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
    options_prefix: tuple[int, int] | None = None
    """The target only: token range (first, last) of its `set_option … in` prefixes, which the
    assembly writes before the problem's statement."""


@dataclass
class ProofParts:
    """What the screen found in a proof file, for the assembly.

    Model text is ``aux`` (commands before the target, in order), the target (``target``: its
    statement is replaced by the problem's own text) and ``after`` (commands after it). Answer
    slot fills are taken out of model text and put in the problem's slots."""

    text: str
    lexed: Lexed
    commands: list[Command]
    dropped: list[Command] = field(default_factory=list)
    """Repeated preamble commands and implied imports: replaced by the problem's own."""
    slot_fills: dict[str, DeclUse] = field(default_factory=dict)
    """Answer slot full name → the model's fill."""
    aux: list[Command] = field(default_factory=list)
    """Model commands before the target, in order (declarations, `open`, `namespace`, `variable`...)."""
    after: list[Command] = field(default_factory=list)
    """Model commands after the target, in order (`#print axioms`, more lemmas...)."""
    target: DeclUse | None = None
    capped_values: dict[int, str] = field(default_factory=dict)
    """Token index of a capped option's value (``OPTION_CAPS``, `maxHeartbeats`) → option name."""

    @property
    def model(self) -> list[Command]:
        """Every model command in order, the target included."""
        return self.aux + ([self.target.command] if self.target else []) + self.after

    def span_text(self, first: int, last: int, caps: Mapping[str, int] | None = None) -> str:
        """Source text from token ``first`` to token ``last`` (inclusive), capped option values
        replaced: a value of 0 or above its cap becomes the cap."""
        toks = self.lexed.tokens
        start, end = toks[first].start, toks[last].end
        out = self.text[start:end]
        if caps:
            for k in sorted((k for k in self.capped_values if first <= k <= last), reverse=True):
                cap = caps.get(self.capped_values[k])
                if cap is None:
                    continue
                value = int(toks[k].text.replace("_", ""), 0)
                if value == 0 or value > cap:
                    out = out[:toks[k].start - start] + str(cap) + out[toks[k].end - start:]
        return out

    def command_text(self, cmd: Command, *, from_token: int | None = None,
                     caps: Mapping[str, int] | None = None) -> str:
        return self.span_text(cmd.start if from_token is None else from_token, cmd.end - 1, caps)

    def body_text(self, use: DeclUse, caps: Mapping[str, int] | None = None) -> str:
        """What follows a declaration's header up to its last token: the text after `:=`, or
        the equations / `where` block including its first token."""
        toks = self.lexed.tokens
        sep = toks[use.assign]
        if use.assign + 1 >= use.command.end and sep.text == ":=":
            return ""
        if sep.text == ":=":
            return self.text[sep.end:toks[use.assign + 1].start] + self.span_text(
                use.assign + 1, use.command.end - 1, caps)
        return self.span_text(use.assign, use.command.end - 1, caps)


@dataclass
class ScreenResult:
    accepted: bool
    reasons: list[Reason]
    parts: ProofParts | None = None


def option_caps(heartbeats: int) -> dict[str, int]:
    """The caps the assembly applies, `maxHeartbeats` capped by the configured limit."""
    return {**OPTION_CAPS, "maxHeartbeats": heartbeats}


def option_allowed(name: str, value: Token | None) -> bool:
    if name.startswith("debug."):
        return False
    if not any(name == a or (a.endswith(".") and name.startswith(a)) for a in ALLOWED_OPTIONS):
        return False
    if name in CAPPED_OPTIONS:
        if value is None or value.kind is not Kind.NUMBER:
            return False
        try:
            return int(value.text.replace("_", ""), 0) >= 0
        except ValueError:
            return False
    return value is not None and (value.kind in (Kind.NUMBER, Kind.STRING) or value.is_keyword("true", "false"))


class _Screen:
    def __init__(self, problem: LeanProblem, text: str):
        self.problem = problem
        self.text = text
        self.reasons: list[Reason] = []
        self._seen: set[tuple] = set()
        self.scan: list[tuple[int, int]] = []
        """Token ranges of model text that the token rules screen."""
        self.scopes: list[tuple[str, tuple[str, ...]]] = []
        """Model scopes open at this point: (`namespace`/`section`/`mutual`, namespace parts)."""
        self.skip: set[int] = set()
        """Token indices the command rules have judged (command heads, `unsafe` in Aesop clauses)."""

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
        self.parts = parts = ProofParts(text, lexed, commands)
        problem = self.problem
        pre = [[t for t in c.tokens(problem.lexed) if t.kind is not Kind.DOC] for c in problem.preamble_commands]
        mathlib = "Mathlib" in problem.imports
        leading = True
        self.targets: list[Command] = []
        self.prev: Command | None = None
        kept = 0
        for cmd in commands:
            body = [t for t in cmd.tokens(lexed) if t.kind is not Kind.DOC]
            if not body:
                continue
            kept += 1
            if not self.scopes and any(same_tokens(body, p) for p in pre):
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
            leading = False
            self.classify(cmd)
            self.prev = cmd
        if len(parts.dropped) == kept and not self.reasons:
            self.add(ReasonCode.EMPTY_PROOF, None, "the proof file adds nothing to the problem's preamble")
            return ScreenResult(False, self.reasons, parts)
        for kind, _ in self.scopes:
            self.add(ReasonCode.SCOPE_UNBALANCED, None, f"a `{kind}` of model text is never closed by `end`")
        self.check_target()
        self.check_slots()
        for start, end in self.scan:
            self.scan_tokens(start, end)
        self.reasons.sort(key=lambda r: (r.line or 0, r.code.value))
        return ScreenResult(not self.reasons, self.reasons, parts)

    # -- commands ---------------------------------------------------------------------------

    def resolve(self, name_tok: Token) -> str:
        parts = name_tok.parts
        if parts and parts[0] == "_root_":
            return ".".join(parts[1:])
        ns = tuple(p for kind, ps in self.scopes if kind == "namespace" for p in ps)
        return ".".join(self.problem.namespace + ns + parts)

    def model_command(self, cmd: Command, scan_from: int | None = None) -> None:
        """Keep ``cmd`` as model text (before or after the target) and screen its tokens."""
        (self.parts.after if self.parts.target is not None or self.targets else self.parts.aux).append(cmd)
        self.scan.append((cmd.start if scan_from is None else scan_from, cmd.end))
        self.check_column0(cmd)

    def check_column0(self, cmd: Command) -> None:
        """An identifier at column 0 right after a finished term (an identifier, a literal or a
        closing bracket on an earlier line) reads as a new command: a command keyword this screen
        does not know (Lean never continues a tactic block at column 0, and provers do not
        continue terms there), so it is ``unknown-command`` instead of part of this command."""
        toks = self.toks
        for k in range(cmd.start + 1, cmd.end):
            t = toks[k]
            if t.col != 0 or t.kind is not Kind.IDENT or t.quoted:
                continue
            prev = toks[k - 1]
            if prev.line == t.line or t.text in _COLUMN0_CONTINUATIONS:
                continue
            if prev.kind in (Kind.IDENT, Kind.NUMBER, Kind.STRING, Kind.CHAR) and not prev.is_keyword(
                    *_OPEN_ENDED) or prev.is_symbol(")", "]", "}", "⟩", "⟧", "⦄"):
                self.add(ReasonCode.UNKNOWN_COMMAND, t.line, f"`{t.text}` at column 0 after a finished term")

    def prefixed(self) -> bool:
        """Whether the previous model command ends in `in` (it is a prefix of this one)."""
        prev = self.prev
        return prev is not None and self.toks[prev.end - 1].is_keyword("in")

    def classify(self, cmd: Command) -> None:
        toks = self.toks
        problem = self.problem
        decl = cmd.decl
        head_tok = toks[cmd.start]
        if decl is not None and decl.keyword is not None:
            keyword = toks[decl.keyword].text
            self.skip.add(decl.keyword)
            name_tok = toks[decl.name] if decl.name is not None else None
            line = toks[decl.keyword].line
            if name_tok is not None and keyword in ("theorem", "lemma", "def", "abbrev"):
                full = self.resolve(name_tok)
                target = problem.target
                if full == target.full_name or name_tok.name == target.name:
                    self.targets.append(cmd)
                    if len(self.targets) == 1:
                        if self.scopes or self.prefixed():
                            self.add(ReasonCode.SCOPE_UNBALANCED, line, f"{target.name} is declared inside a "
                                     "namespace, section or `… in` prefix of model text")
                    return
                slot = problem.slot(full) or next((s for s in problem.answer_slots if s.name == name_tok.name), None)
                if slot is not None and keyword in ("def", "abbrev"):
                    assign = self.match_header(cmd, slot)
                    if assign is None:
                        self.add(ReasonCode.ANSWER_SLOT_MODIFIED, line,
                                 f"{slot.name} must keep the problem's modifiers, name and type")
                        self.scan.append((cmd.start, cmd.end))
                    elif slot.full_name in self.parts.slot_fills:
                        self.add(ReasonCode.ANSWER_SLOT_DUPLICATE, line, f"{slot.name} is filled twice")
                    else:
                        self.parts.slot_fills[slot.full_name] = DeclUse(cmd, assign)
                        self.check_slot_body(slot, cmd, assign)
                        self.check_column0(cmd)
                    return
            if keyword in ALLOWED_DECLARATIONS:
                self.check_decl_modifiers(cmd, keyword)
            elif keyword == "axiom":
                self.add(ReasonCode.AXIOM, line, "`axiom` is not allowed in model text")
            elif keyword == "opaque":
                self.add(ReasonCode.UNSAFE, line, "`opaque` is not allowed in model text")
            elif keyword in META_WORDS:
                self.add(ReasonCode.META_PROGRAM, line, f"`{keyword}` is not allowed in model text")
            else:
                self.add(ReasonCode.UNKNOWN_COMMAND, line, f"`{keyword}` is not a command model text may use")
            self.model_command(cmd)
            return
        head = cmd.head
        line = head_tok.line
        first = next((k for k in range(cmd.start, cmd.end) if toks[k].kind is not Kind.DOC), cmd.start)
        # the command's own head (after `… in` prefixes and modifiers)
        h = first
        modifiers: list[Token] = []
        while h < cmd.end:
            if h in cmd.in_prefix:
                h = in_chain(toks, h).chain_end
            elif toks[h].is_keyword(*_MODIFIER_WORDS):
                modifiers.append(toks[h])
                self.skip.add(h)
                h += 1
            else:
                break
        if h < cmd.end and toks[h].is_keyword("notation"):
            self.skip.add(h)  # judged below: only `local notation` is allowed
        if head == "<text>":
            self.add(ReasonCode.COMMAND_NOT_ALLOWED, line, "text outside any command")
            self.scan.append((cmd.start, cmd.end))
            return
        if head.startswith("#"):
            ok = head == "#check" or (head == "#print" and h + 1 < cmd.end and toks[h + 1].is_keyword("axioms"))
            if not ok:
                self.add(ReasonCode.HASH_COMMAND, line, f"`{head}` is not allowed")
            self.model_command(cmd)
            return
        for m in modifiers:
            allowed = (m.text == "noncomputable" and head == "section") or (m.text == "local" and head == "notation")
            if not allowed:
                code = ReasonCode.UNSAFE if m.text in ("partial", "unsafe") else ReasonCode.MODIFIER_NOT_ALLOWED
                self.add(code, m.line, f"`{m.text} {head}`")
        if head in ("namespace", "section", "mutual"):
            ns = toks[h + 1].parts if head == "namespace" and h + 1 < cmd.end and toks[h + 1].kind is Kind.IDENT else ()
            self.scopes.append((head, ns))
        elif head == "end":
            if not self.scopes:
                self.add(ReasonCode.SCOPE_UNBALANCED, line, "`end` closes nothing opened in model text")
            else:
                self.scopes.pop()
        elif head == "notation":
            if not any(m.text == "local" for m in modifiers):
                self.add(ReasonCode.NOTATION, line, "only `local notation` is allowed")
            for t in toks[h:cmd.end]:
                if t.kind is not Kind.STRING:
                    continue
                if _reserved_atom(t.text):
                    self.add(ReasonCode.RESERVED_NAME, t.line, f"notation atom {t.text}")
                elif _lexing_atom(t.text):
                    self.add(ReasonCode.NOTATION, t.line, f"notation atom {t.text} would change how text lexes")
        elif head == "attribute":
            self.check_attribute_command(cmd, h)
        elif head == "deriving":
            prev = self.prev
            if prev is None or prev.head not in ("structure", "inductive", "class"):
                self.add(ReasonCode.UNKNOWN_COMMAND, line, "`deriving` only right after a structure or inductive")
        elif head in ALLOWED_COMMANDS:
            pass
        elif head in NOTATION_WORDS:
            self.add(ReasonCode.NOTATION, line, f"`{head}` is not allowed in model text")
        elif head in META_WORDS:
            self.add(ReasonCode.META_PROGRAM, line, f"`{head}` is not allowed in model text")
        elif head in ("axiom",):
            self.add(ReasonCode.AXIOM, line, f"`{head}`")
        elif head in UNSAFE_WORDS:
            self.add(ReasonCode.UNSAFE, line, f"`{head}`")
        elif head != "<doc>":
            self.add(ReasonCode.UNKNOWN_COMMAND, line, f"`{head}` is not a command model text may use")
        self.model_command(cmd)

    def check_decl_modifiers(self, cmd: Command, keyword: str) -> None:
        toks = self.toks
        decl = cmd.decl
        for m in decl.modifiers:
            word = toks[m].text
            if word in ALLOWED_MODIFIERS or (word == "local" and keyword == "instance"):
                continue
            code = ReasonCode.UNSAFE if word in ("partial", "unsafe") else ReasonCode.MODIFIER_NOT_ALLOWED
            self.add(code, toks[m].line, f"modifier `{word}`")
            self.skip.add(m)
        for start, close in decl.attrs:
            self.check_attribute_list(start, close)

    def check_attribute_list(self, start: int, close: int) -> None:
        toks = self.toks
        for name_tok, local in self.attribute_names(start, close):
            name = name_tok.name if name_tok is not None else "?"
            if name_tok is None or name not in ALLOWED_ATTRIBUTES:
                code = ReasonCode.UNSAFE if name in UNSAFE_WORDS else ReasonCode.ATTRIBUTE_NOT_ALLOWED
                self.add(code, toks[start].line, f"attribute `{name_tok.text if name_tok is not None else '?'}`")
            if name_tok is not None:
                self.skip.add(toks.index(name_tok, start, close))

    def check_attribute_command(self, cmd: Command, h: int) -> None:
        toks = self.toks
        if h + 1 < cmd.end and toks[h + 1].is_symbol("["):
            self.check_attribute_list(h + 1, matching_close(toks, h + 1))
        else:
            self.add(ReasonCode.ATTRIBUTE_NOT_ALLOWED, toks[h].line, "`attribute` without an attribute list")

    def attribute_names(self, start: int, close: int) -> list[tuple[Token | None, bool]]:
        """The first name of each entry of the attribute list `@[ … ]` or `[ … ]` (after
        `local`), and whether it was `local`. `scoped` and erasure (`-simp`) give no name."""
        toks = self.toks
        names: list[tuple[Token | None, bool]] = []
        depth = 0
        expecting = True
        local = False
        for j in range(start + 1, close):
            t = toks[j]
            if t.kind is Kind.SYMBOL and t.text in ("(", "[", "{", "⟨"):
                depth += 1
            elif t.kind is Kind.SYMBOL and t.text in (")", "]", "}", "⟩"):
                depth -= 1
            elif depth == 0 and t.kind is Kind.SYMBOL and t.text == ",":
                if expecting:
                    names.append((None, local))
                expecting, local = True, False
            elif depth == 0 and expecting:
                if t.is_keyword("local"):
                    local = True
                    self.skip.add(j)
                    continue
                names.append((t if t.kind is Kind.IDENT and not t.quoted else None, local))
                expecting = False
        if expecting:
            names.append((None, local))
        return names

    def match_header(self, cmd: Command, decl: SorryDecl, first: int | None = None) -> int | None:
        """Index of the token ending the model's header (`:=`, `|`, or `where` for a definition)
        when the header (from ``first``, default its first token after docstrings) equals the
        problem's ``decl`` header."""
        toks = self.toks
        if first is None:
            first = next(k for k in range(cmd.start, cmd.end) if toks[k].kind is not Kind.DOC)
        n = len(decl.header_tokens)
        cand = toks[first:cmd.end]
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

    def check_target(self) -> None:
        toks = self.toks
        parts = self.parts
        target = self.problem.target
        targets = self.targets
        if not targets:
            self.add(ReasonCode.TARGET_MISSING, None, f"no declaration of {target.name}")
            return
        for cmd in targets[1:]:
            self.add(ReasonCode.TARGET_DUPLICATE, toks[cmd.decl.keyword].line, f"{target.name} is declared again")
            self.scan.append((cmd.start, cmd.end))
        cmd = targets[0]
        assign = self.match_header(cmd, target)
        options_prefix = None
        if assign is None and cmd.in_prefix and all(self.toks[k].is_keyword("set_option") for k in cmd.in_prefix):
            # `set_option maxHeartbeats 400000 in` before the target: kept, the statement compared after it
            chain_end = in_chain(toks, cmd.in_prefix[0]).chain_end
            assign = self.match_header(cmd, target, chain_end)
            if assign is not None:
                options_prefix = (cmd.in_prefix[0], chain_end - 1)
                self.scan.append((cmd.in_prefix[0], chain_end))
        if assign is None:
            self.add(ReasonCode.TARGET_MISMATCH, toks[cmd.decl.keyword].line,
                     f"the statement of {target.name} differs from the problem's")
            self.scan.append((cmd.start, cmd.end))
            return
        parts.target = DeclUse(cmd, assign, options_prefix)
        self.scan.append((assign, cmd.end))
        self.check_column0(cmd)

    def check_slots(self) -> None:
        for slot in self.problem.answer_slots:
            if slot.full_name not in self.parts.slot_fills:
                already = any(r.code in (ReasonCode.ANSWER_SLOT_UNFILLED, ReasonCode.ANSWER_SLOT_MODIFIED)
                              and slot.name in r.text for r in self.reasons)
                if not already:
                    self.add(ReasonCode.ANSWER_SLOT_UNFILLED, None, f"{slot.name} is not filled")

    # -- tokens -----------------------------------------------------------------------------

    def scan_tokens(self, start: int, end: int) -> None:
        toks = self.toks
        skip = self.skip
        for i in range(start, end):
            t = toks[i]
            kind = t.kind
            if kind is Kind.STRING:
                if not t.interp and ("{" in t.text or "}" in t.text):
                    self.add(ReasonCode.AMBIGUOUS_STRING, t.line, "string literal with braces")
                continue
            if kind is Kind.CHAR:
                if t.ambiguous:
                    self.add(ReasonCode.AMBIGUOUS_STRING, t.line, "character literal glued to a symbol")
                continue
            if kind is Kind.NAME_LIT:
                self.add(ReasonCode.META_PROGRAM, t.line, f"name literal `{t.text}`")
                continue
            if kind is Kind.SYMBOL:
                if t.text == "`(":
                    self.add(ReasonCode.META_PROGRAM, t.line, "quotation")
                continue
            if kind is not Kind.IDENT:
                continue
            parts = t.parts
            for part in parts:
                if part in SORRY_WORDS:
                    self.add(ReasonCode.SORRY, t.line, f"`{part}`")
                elif part in NATIVE_WORDS:
                    self.add(ReasonCode.NATIVE, t.line, f"`{part}`")
                elif part.startswith(RESERVED_PREFIX):
                    self.add(ReasonCode.RESERVED_NAME, t.line, f"`{t.text}` uses the reserved prefix")
            lead = parts[1] if len(parts) > 1 and parts[0] == "_root_" else parts[0]
            if lead in META_NAMESPACES:
                self.add(ReasonCode.META_PROGRAM, t.line, f"`{t.text}`")
            elif lead == RESERVED_NAMESPACE:
                self.add(ReasonCode.RESERVED_NAME, t.line, f"`{t.text}` names the trusted library")
            if t.quoted or i in skip:
                continue
            if (not t.ws_before and i > start + 1 and toks[i - 1].is_symbol(".") and not toks[i - 1].ws_before
                    and toks[i - 2].end == toks[i - 1].start):
                continue  # a projection `(e).stop`: Lean reads a raw identifier after the dot
            w = t.text
            if w in SORRY_TACTICS:
                self.add(ReasonCode.SORRY, t.line, f"the `{w}` tactic")
            elif w == "native":
                self.add(ReasonCode.NATIVE, t.line, "`native`")
            elif w == "axiom":
                self.add(ReasonCode.AXIOM, t.line, f"`{w}`")
            elif w in UNSAFE_WORDS:
                # Aesop's rule phase: right after `add` or a `,` of an `(add …)` clause
                phase = w == "unsafe" and (toks[i - 1].is_keyword("add") or toks[i - 1].is_symbol(","))
                if not (phase and self.aesop_clause(i)):
                    self.add(ReasonCode.UNSAFE, t.line, f"`{w}`")
            elif w in META_WORDS:
                self.add(ReasonCode.META_PROGRAM, t.line, f"`{w}`")
            elif w == "eval" and i + 1 < end and toks[i + 1].is_symbol("%") and not toks[i + 1].ws_before:
                self.add(ReasonCode.META_PROGRAM, t.line, "`eval%`")
            elif w == "tactic" and self.aesop_clause(i):
                self.add(ReasonCode.META_PROGRAM, t.line, "Aesop's `tactic` rule builder")
            elif w in NOTATION_WORDS:
                self.add(ReasonCode.NOTATION, t.line, f"`{w}`")
            elif w in SUGGESTION_WORDS:
                self.add(ReasonCode.SUGGESTION_TACTIC, t.line, f"`{w}`")
            elif w == "impossible" and i + 1 < end and toks[i + 1].is_keyword("by"):
                self.add(ReasonCode.SORRY, t.line, "`impossible by …` closes the goal with `sorry`")
            elif w == "hint":
                if self.standalone_tactic(i, start, end):
                    self.add(ReasonCode.SUGGESTION_TACTIC, t.line, "`hint`")
            elif w == "set_option":
                self.check_set_option(i)
            elif w == "discharger" and i + 1 < end and toks[i + 1].is_symbol(":="):
                self.add(ReasonCode.CONFIG_NOT_LITERAL, t.line, "a `discharger` field")
            elif w in _CONFIG_KEYS and i and toks[i - 1].is_symbol("(") and i + 1 < end and toks[i + 1].is_symbol(":="):
                self.check_config(i, end)

    def check_set_option(self, i: int) -> None:
        toks = self.toks
        t = toks[i]
        name_tok = toks[i + 1] if i + 1 < len(toks) else None
        value = toks[i + 2] if i + 2 < len(toks) else None
        name = name_tok.name if name_tok is not None and name_tok.kind is Kind.IDENT else ""
        if not option_allowed(name, value):
            shown = f"{name} {value.text if value is not None else ''}".strip()
            self.add(ReasonCode.SET_OPTION_NOT_ALLOWED, t.line, f"`set_option {shown}`")
        elif name in CAPPED_OPTIONS:
            self.parts.capped_values[i + 2] = name

    def check_config(self, i: int, end: int) -> None:
        """`(config := { field := literal, … })`: anything else is evaluated as code."""
        toks = self.toks
        j = i + 2
        ok = j < end and toks[j].is_symbol("{")
        depth = 0
        while j < end:
            t = toks[j]
            if t.kind is Kind.SYMBOL:
                if t.text == "{":
                    depth += 1
                elif t.text == "}":
                    depth -= 1
                elif t.text == ")" and depth == 0:
                    break
                elif t.text not in (":=", ",", "."):
                    ok = False
            elif t.kind is Kind.IDENT:
                if t.quoted or t.text in _NOT_LITERAL or t.text == "discharger":
                    ok = False
            elif t.kind is not Kind.NUMBER:
                ok = False
            j += 1
        if not ok or depth != 0:
            self.add(ReasonCode.CONFIG_NOT_LITERAL, toks[i].line, f"`({toks[i].text} := …)` is not a literal")

    def aesop_clause(self, i: int) -> bool:
        """Whether token ``i`` is inside an Aesop `(add …)`/`(erase …)` clause."""
        toks = self.toks
        depth = 0
        for j in range(i - 1, max(i - 200, -1), -1):
            t = toks[j]
            if t.kind is Kind.SYMBOL:
                if t.text in (")", "]", "}", "⟩"):
                    depth += 1
                elif t.text in ("(", "[", "{", "⟨"):
                    if depth == 0:
                        nxt = toks[j + 1]
                        before = toks[j - 1] if j else None
                        return t.text == "(" and nxt.is_keyword("add", "erase") and before is not None and (
                            before.is_keyword("aesop", "aesop?") or before.is_symbol(")"))
                    depth -= 1
        return False

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


def _reserved_atom(literal: str) -> bool:
    """A notation atom that could shadow a name the trusted epilogue uses."""
    body = literal.strip('"')
    return RESERVED_PREFIX in body or "provercheck" in body.lower() or body.startswith("#")


#: Characters a notation atom may not hold: a new token containing them could make Lean read a
#: string, character literal, comment or quoted name where this lexer reads code (or the reverse).
_LEXING_MARKS = ('"', "'", "`", "--", "/-", "-/", "«", "»", "{", "}", "\\")


def _lexing_atom(literal: str) -> bool:
    body = literal[1:-1] if literal.startswith('"') and literal.endswith('"') and len(literal) >= 2 else literal
    return literal.startswith("r") or any(mark in body for mark in _LEXING_MARKS)


def screen(problem: LeanProblem, proof_text: str) -> ScreenResult:
    """Screen a proof file against a problem: accepted, or rejected with reasons."""
    return _Screen(problem, proof_text).run()
