"""Commands and declaration headers on top of the lexer: where each command starts and ends,
and the parts of a declaration's header (docstring, attributes, modifiers, keyword, name).

Lean ends a declaration where the next command keyword appears: no command keyword can
continue a term or a tactic, so a keyword anywhere starts a new command. ``COMMAND_KEYWORDS``
lists the command keywords of Lean core, Batteries, Aesop and Mathlib (a keyword missing there
would be read as part of the previous command; the screen adds a column-0 check for unknown
ones). Exceptions: ``open … in`` and ``set_option … in`` exist both as commands and inside
proofs, and which one an occurrence is follows from what comes after its ``in`` (a command
keyword there means command level, anything else a term or tactic), see ``in_chain``; a
modifier (``private``, ``unsafe``...) starts a command only before a command keyword, a
docstring or an attribute list (``aesop (add unsafe 50% apply foo)`` is a rule phase), or as
Mathlib's ``scoped[NS]``; ``attribute [local instance] …`` keeps its list; other ``X … in``
prefixes (``variable … in``, ``omit … in``) are commands of their own that end in ``in``."""

from __future__ import annotations

from dataclasses import dataclass, field

from prover.lean.lexer import Kind, Lexed, Token

#: Keywords that declare something (the part after docstring, attributes and modifiers).
DECL_KEYWORDS = frozenset({
    "theorem", "lemma", "def", "abbrev", "instance", "example", "axiom", "opaque", "structure",
    "class", "inductive", "coinductive", "irreducible_def", "alias", "proof_wanted", "recall",
    "simproc", "dsimproc", "simproc_decl", "dsimproc_decl", "builtin_simproc", "builtin_dsimproc",
    "builtin_simproc_decl", "builtin_dsimproc_decl",
})

#: Declaration modifiers (and `local`/`scoped`, which prefix notations, instances and attributes).
MODIFIERS = frozenset({
    "private", "protected", "noncomputable", "partial", "unsafe", "nonrec", "public", "meta", "local", "scoped",
})

#: Every other keyword that starts a command in Lean core, Batteries, Aesop, Qq, Plausible,
#: ProofWidgets or Mathlib (the screen calls each of them by its name; a keyword missing here
#: would be read as part of the previous command, which is why the list errs on the long side).
OTHER_COMMAND_KEYWORDS = frozenset({
    "import", "prelude", "module", "open", "export", "namespace", "section", "end", "variable", "universe",
    "universes", "set_option", "attribute", "mutual", "deriving", "initialize", "builtin_initialize",
    "run_cmd", "run_elab", "run_meta", "macro", "macro_rules", "syntax", "elab", "elab_rules", "notation",
    "notation3", "infix", "infixl", "infixr", "prefix", "postfix", "declare_syntax_cat", "binder_predicate",
    "add_decl_doc", "include", "omit", "unseal", "seal", "register_option", "register_builtin_option",
    "register_simp_attr", "register_label_attr", "register_tactic_tag", "tactic_extension",
    "grind_pattern", "recommended_spelling", "init_quot", "assert_not_exists", "assert_not_imported",
    "initialize_simps_projections", "library_note", "suppress_compilation", "unsuppress_compilation",
    "compile_inductive", "compile_def", "mk_iff_of_inductive_prop", "declare_aesop_rule_sets",
    "add_aesop_rules", "erase_aesop_rules", "declare_config_elab", "declare_simp_like_tactic",
    "set_premise_selector", "extend_docs", "whatsnew", "count_heartbeats", "sudo", "open_locale", "test_extern",
    "declare_command_config_elab", "show_panel_widgets", "builtin_grind_propagator", "grind_propagator",
    # more of Lean core, Batteries and Mathlib
    "unif_hint", "register_error_explanation", "declare_uint_theorems", "declare_sint_theorems",
    "declare_bitwise_uint_theorems", "declare_bitwise_int_theorems", "gen_injective_theorems",
    "register_parser_alias", "register_linter_set", "register_hint", "register_try?_tactic",
    "simproc_pattern", "builtin_simproc_pattern", "mk_simp_attribute", "deprecate", "variable?",
    "initialize_simps_projections?", "insert_to_additive_translation", "reassoc_axiom", "assert_exists",
    "assert_no_sorry", "open_locale", "count_heartbeats!", "variables",
    # from the command list of a recent Mathlib (v4.34 era; Seasawher/mathlib4-help docs/commands.md)
    "builtin_cbv_simproc", "builtin_cbv_simproc_decl", "builtin_cbv_simproc_pattern", "cbv_simproc",
    "cbv_simproc_decl", "cbv_simproc_pattern", "builtin_simproc_pattern", "declare_command_config_elab_legacy",
    "declare_config_elab_legacy", "declare_core_config_elab", "declare_term_config_elab", "declare_sint_simprocs",
    "declare_uint_simprocs", "def_eval_config_item", "def_wanted", "theorem_wanted", "instance_wanted",
    "deprecated_module", "deprecated_syntax", "docs_to_verso", "elab_stx_quot", "grind_annotated",
    "guard_min_heartbeats", "init_grind_norm", "lrat_proof", "name_poly_vars", "name_power_vars",
    "norm_cast_add_elim", "recall?", "register_grind_attr", "register_sym_dsimp", "register_sym_simp",
    "reset_grind_attrs", "set_library_suggestions", "to_additive_name_hint", "to_dual_insert_cast",
    "to_dual_insert_cast_fun", "to_dual_name_hint", "unlock_limits", "unset_option", "with_weak_namespace",
})

COMMAND_KEYWORDS = DECL_KEYWORDS | MODIFIERS | OTHER_COMMAND_KEYWORDS


def _is_kw(tok: Token, words) -> bool:
    return tok.kind is Kind.IDENT and not tok.quoted and tok.text in words


def starts_command(tokens: list[Token], i: int) -> bool:
    """Whether token ``i`` can only begin a command: a command keyword, a `#` command, an
    attribute list or a docstring. (`open`/`set_option` still need ``in_chain`` to tell.)"""
    tok = tokens[i]
    if tok.kind in (Kind.HASH, Kind.DOC):
        return True
    if tok.kind is Kind.SYMBOL:
        return tok.text == "@["
    if _is_kw(tok, COMMAND_KEYWORDS):
        if tok.text in MODIFIERS:
            # `open scoped Foo`, `open private foo`: not a modifier there.
            if i and _is_kw(tokens[i - 1], ("open",)):
                return False
            # A modifier starts a command only before a command keyword or an attribute list
            # (`aesop (add unsafe 50% apply foo)` is a rule phase; a term `unsafe e` is no command).
            j = i + 1
            if tok.text == "scoped" and j < len(tokens) and tokens[j].kind is Kind.SYMBOL and tokens[j].text == "[":
                return True  # Mathlib's `scoped[NS] cmd`
            while j < len(tokens) and _is_kw(tokens[j], MODIFIERS):
                j += 1
            return j < len(tokens) and (_is_kw(tokens[j], COMMAND_KEYWORDS) or tokens[j].kind is Kind.DOC
                                        or (tokens[j].kind is Kind.SYMBOL and tokens[j].text == "@["))
        return True
    return False


def open_clause_end(tokens: list[Token], i: int) -> int:
    """Index just past an `open …` clause starting at ``i`` (the namespaces, `scoped`/`private`
    right after `open`, `hiding`, `renaming a → b, c → d`, explicit name lists), stopping at `in`,
    a command start or the end."""
    j = i + 1
    n = len(tokens)
    if j < n and _is_kw(tokens[j], ("scoped", "private")):
        j += 1
    depth = 0
    renaming = False
    while j < n:
        tok = tokens[j]
        if tok.kind is Kind.SYMBOL:
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                if depth == 0:
                    break
                depth -= 1
            elif not (tok.text in ("→", "->") or (tok.text == "," and renaming)):
                break
        elif tok.kind is Kind.IDENT:
            if not tok.quoted and tok.text == "in" and depth == 0:
                break
            if _is_kw(tok, COMMAND_KEYWORDS):
                break
            if _is_kw(tok, ("renaming",)):
                renaming = True
        else:
            break
        j += 1
    return j


def set_option_clause_end(tokens: list[Token], i: int) -> int:
    """Index just past `set_option NAME VALUE` starting at ``i``."""
    return min(i + 3, len(tokens))


@dataclass(frozen=True)
class InChain:
    """What an `open`/`set_option` occurrence is."""

    command_level: bool
    """True when it applies to the next command (or is a command by itself)."""
    has_in: bool
    """Whether it is the `… in` form."""
    clause_end: int
    """Index just past its own clause (before `in`)."""
    chain_end: int
    """Index of the first token after the whole chain of `… in` prefixes."""


def in_chain(tokens: list[Token], i: int) -> InChain:
    """Classify the `open`/`set_option` at ``i``. Without `in` it is a command; with `in`, it
    is command-level exactly when the chain of `… in` prefixes is followed by a command start
    (or nothing): Lean accepts no other reading of either form."""
    n = len(tokens)
    j = i
    own_end = None
    has_in = False
    while True:
        tok = tokens[j]
        end = open_clause_end(tokens, j) if tok.text == "open" else set_option_clause_end(tokens, j)
        if own_end is None:
            own_end = end
        if end < n and _is_kw(tokens[end], ("in",)):
            if j == i:
                has_in = True
            j = end + 1
            if j < n and _is_kw(tokens[j], ("open", "set_option")):
                continue
            command_level = j >= n or starts_command(tokens, j)
            return InChain(command_level, has_in, own_end, j)
        # No `in`: a command by itself (the first link), or the command the chain's prefixes apply
        # to (`set_option A 0 in set_option B true`): the chain ends where that command starts.
        return InChain(True, has_in, own_end, end if j == i else j)


@dataclass
class DeclHeader:
    """The parts of a declaration command's header, as token indices into the lexed text."""

    first: int
    """First token after any docstrings (an attribute, a modifier or the keyword)."""
    docs: list[int] = field(default_factory=list)
    attrs: list[tuple[int, int]] = field(default_factory=list)
    """Each attribute list `@[ … ]` as (index of `@[`, index of its `]`)."""
    modifiers: list[int] = field(default_factory=list)
    keyword: int | None = None
    """Index of the declaration keyword, None when the modifiers prefix something else."""
    name: int | None = None
    """Index of the declared name (None for `example`, anonymous instances...)."""


@dataclass
class Command:
    """One command: tokens ``[start, end)`` of the lexed text."""

    start: int
    end: int
    head: str
    """Keyword that decides its kind: the declaration keyword, `open`, `import`, `#eval`...
    (``"<text>"`` for tokens before any command, ``"<doc>"`` for a lone docstring)."""
    decl: DeclHeader | None = None
    in_prefix: list[int] = field(default_factory=list)
    """Indices of command-level `open … in` / `set_option … in` prefixes of this command."""

    def tokens(self, lexed: Lexed) -> list[Token]:
        return lexed.tokens[self.start:self.end]


def matching_close(tokens: list[Token], i: int) -> int:
    """Index of the `]` closing the `@[` or `[` at ``i`` (or the last index when unclosed)."""
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.kind is Kind.SYMBOL:
            if t.text in ("[", "@[", "%[", "#["):
                depth += 1
            elif t.text == "]":
                depth -= 1
                if depth == 0:
                    return j
    return len(tokens) - 1


def parse_header(tokens: list[Token], start: int, end: int) -> DeclHeader:
    """Docstrings, attribute lists and modifiers from ``start``, then the keyword and name."""
    h = DeclHeader(first=start)
    i = start
    while i < end and tokens[i].kind is Kind.DOC:
        h.docs.append(i)
        i += 1
    h.first = i
    while i < end:
        t = tokens[i]
        if t.kind is Kind.SYMBOL and t.text == "@[":
            close = matching_close(tokens, i)
            h.attrs.append((i, close))
            i = close + 1
        elif _is_kw(t, MODIFIERS):
            h.modifiers.append(i)
            i += 1
        elif t.kind is Kind.DOC:
            i += 1
        else:
            break
    if i < end and _is_kw(tokens[i], DECL_KEYWORDS):
        h.keyword = i
        if i + 1 < end and tokens[i + 1].kind is Kind.IDENT and not _is_kw(tokens[i + 1], COMMAND_KEYWORDS):
            h.name = i + 1
    return h


def split_commands(lexed: Lexed) -> list[Command]:
    """The commands of a text, in order. Tokens before the first command form a ``"<text>"``
    command (model text outside any declaration). A docstring begins the command it documents;
    one that documents nothing that starts a command (a `where` clause's docstring) stays in
    the body around it."""
    toks = lexed.tokens
    n = len(toks)
    starts: list[int] = []
    i = 0
    while i < n:
        j = i
        while j < n and toks[j].kind is Kind.DOC:
            j += 1
        if j < n and starts_command(toks, j) and not _proof_level(toks, j):
            starts.append(i)
            i = _skip_command_prefix(toks, j)
        else:
            i = max(j, i + 1)
    commands: list[Command] = []
    if n and (not starts or starts[0] != 0):
        commands.append(Command(0, starts[0] if starts else n, "<text>"))
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else n
        commands.append(_classify(toks, s, e))
    return commands


def _proof_level(toks: list[Token], i: int) -> bool:
    t = toks[i]
    return _is_kw(t, ("open", "set_option")) and not in_chain(toks, i).command_level


def _skip_command_prefix(toks: list[Token], i: int) -> int:
    """Past the prefix that belongs to the command starting at ``i``: command-level `… in`
    chains, attribute lists and modifiers, so that they do not start commands of their own."""
    n = len(toks)
    while i < n:
        t = toks[i]
        if _is_kw(t, ("open", "set_option")):
            ch = in_chain(toks, i)
            if not ch.has_in:
                return ch.clause_end
            i = ch.chain_end
            continue
        if t.kind is Kind.DOC:
            i += 1
            continue
        if t.kind is Kind.SYMBOL and t.text == "@[":
            i = matching_close(toks, i) + 1
            continue
        if _is_kw(t, MODIFIERS):
            i += 1
            continue
        if _is_kw(t, ("attribute",)) and i + 1 < n and toks[i + 1].kind is Kind.SYMBOL and toks[i + 1].text == "[":
            # `attribute [local instance] foo`: the list is the command's own
            return matching_close(toks, i + 1) + 1
        return i + 1
    return n


def _classify(toks: list[Token], s: int, e: int) -> Command:
    in_prefix: list[int] = []
    i = s
    while i < e and toks[i].kind is Kind.DOC:
        i += 1
    docs_end = i
    while i < e and _is_kw(toks[i], ("open", "set_option")):
        ch = in_chain(toks, i)
        if not ch.has_in:
            break
        in_prefix.append(i)
        i = ch.chain_end
    if i >= e:
        if in_prefix:
            return Command(s, e, toks[in_prefix[0]].text, in_prefix=in_prefix)
        return Command(s, e, "<doc>")
    t = toks[i]
    if t.kind is Kind.HASH:
        return Command(s, e, t.text, in_prefix=in_prefix)
    if (t.kind is Kind.SYMBOL and t.text == "@[") or _is_kw(t, MODIFIERS | DECL_KEYWORDS):
        header = parse_header(toks, i, e)
        header.docs = list(range(s, docs_end)) + header.docs
        head = toks[header.keyword].text if header.keyword is not None else (
            toks[header.first].text if header.first < e else "<doc>")
        if header.keyword is None:
            # `local notation`, `noncomputable section`, `scoped instance`...: named by what follows.
            k = header.first
            while k < e and (_is_kw(toks[k], MODIFIERS) or toks[k].kind is Kind.DOC):
                k += 1
            if k < e and toks[k].text not in ("@[",):
                head = toks[k].text
        return Command(s, e, head, decl=header if header.keyword is not None else None, in_prefix=in_prefix)
    return Command(s, e, t.text if t.kind is not Kind.DOC else "<doc>", in_prefix=in_prefix)
