"""The lexer: Lean's comment, literal and name rules, positions, and whitespace-collapsed comparison."""

from __future__ import annotations

import pytest

from prover.lean.lexer import Kind, lex, same_tokens


def kinds(text):
    return [(t.kind.value, t.text) for t in lex(text).tokens]


def idents(text):
    return [t.name for t in lex(text).tokens if t.kind is Kind.IDENT]


def test_nested_block_comments_hide_everything_inside():
    assert idents("a /- b /- c -/ d -/ e") == ["a", "e"]


def test_lean_skips_the_character_after_the_comment_opener():
    # `/-/` does not nest: Lean skips the character right after `/-`, so one `-/` closes it.
    assert idents("a /-/ b -/ c") == ["a", "c"]
    # ... and so does `/-` followed directly by `/-`: the second opener's `/` is skipped.
    assert idents("a /-/- b -/ c") == ["a", "c"]


def test_line_comment_runs_to_end_of_line_only():
    assert idents("a -- sorry here\nb") == ["a", "b"]


def test_doc_comments_are_doc_tokens_and_nest():
    toks = lex("/-- doc /- inner -/ still doc -/ theorem x").tokens
    assert toks[0].kind is Kind.DOC and toks[0].text.endswith("still doc -/")
    assert [t.text for t in toks[1:]] == ["theorem", "x"]
    assert lex("/-! module doc -/ x").tokens[0].kind is Kind.DOC


def test_unterminated_comment_string_and_name_are_errors():
    assert lex("a /- never closed").errors
    assert lex('a "never closed').errors
    assert lex("a «never closed").errors
    assert lex("a /-- doc never closed").errors
    assert not lex("a /- closed -/ b").errors


def test_strings_hide_comment_markers_and_keep_escapes():
    assert kinds('"--" x "/-" y "a\\"b" z') == [
        ("string", '"--"'), ("ident", "x"), ("string", '"/-"'), ("ident", "y"), ("string", '"a\\"b"'),
        ("ident", "z")]


def test_raw_strings_end_at_quote_and_same_number_of_hashes():
    assert kinds('r"a\\" x') == [("string", 'r"a\\"'), ("ident", "x")]
    assert kinds('r#"a"b"# y') == [("string", 'r#"a"b"#'), ("ident", "y")]
    assert kinds('r##"a"#b"## z') == [("string", 'r##"a"#b"##'), ("ident", "z")]
    # `r` inside an identifier is not a raw-string prefix
    assert kinds('fr"x"') == [("ident", "fr"), ("string", '"x"')]


def test_char_literals_and_primes():
    assert kinds("'a' '\\n' '\\'' h' h''") == [
        ("char", "'a'"), ("char", "'\\n'"), ("char", "'\\''"), ("ident", "h'"), ("ident", "h''")]
    # `''` (image) and `⁻¹'` (preimage) are symbols, not character literals
    assert kinds("f '' s") == [("ident", "f"), ("symbol", "''"), ("ident", "s")]
    toks = lex("f ⁻¹' {x}").tokens
    assert not lex("f ⁻¹' {x}").errors and toks[3].text == "'" and toks[3].kind is Kind.SYMBOL


def test_char_literal_glued_to_a_symbol_is_marked_ambiguous():
    toks = lex("x ⁻¹'a' y").tokens
    chars = [t for t in toks if t.kind is Kind.CHAR]
    assert chars and chars[0].ambiguous
    assert not [t for t in lex("(x = 'a')").tokens if t.kind is Kind.CHAR][0].ambiguous


def test_quoted_names_compare_unquoted_per_part():
    toks = lex("«sorry» foo.«a b».c `«x».y ``z").tokens
    assert toks[0].parts == ("sorry",) and toks[0].quoted
    assert toks[1].parts == ("foo", "a b", "c")
    assert toks[2].kind is Kind.NAME_LIT and toks[2].parts == ("x", "y")
    assert toks[3].kind is Kind.NAME_LIT and toks[3].parts == ("z",)


def test_identifiers_follow_lean_character_classes():
    # `!` and `?` continue identifiers; λ, Π, Σ do not start one; subscripts and ℝ do.
    assert idents("exact? h! x₁ ℝ λx Πy") == ["exact?", "h!", "x₁", "ℝ", "x", "y"]
    # a dot continues a name only before an identifier start
    assert [t.text for t in lex("h.1 h.le").tokens] == ["h", ".", "1", "h.le"]


def test_hash_commands_and_numbers():
    assert kinds("#eval 0x1F 1.5e-3 2 #[1]") == [
        ("hash", "#eval"), ("number", "0x1F"), ("number", "1.5e-3"), ("number", "2"), ("symbol", "#["),
        ("number", "1"), ("symbol", "]")]


def test_positions_are_one_based_lines_and_codepoint_columns():
    toks = lex("theorem α\n  ∀ x").tokens
    assert [(t.text, t.line, t.col) for t in toks] == [("theorem", 1, 0), ("α", 1, 8), ("∀", 2, 2), ("x", 2, 4)]


def test_ws_before_counts_comments_as_whitespace():
    toks = lex("a/- c -/b c").tokens
    assert [t.ws_before for t in toks] == [True, True, True]


@pytest.mark.parametrize("a, b", [
    ("theorem t (x : ℝ) : x = x", "theorem  t (x:ℝ):\n  x = x"),
    ("f (x) + 1", "f (x)+1"),
    ("∀ a b, P a b", "∀ a b , P a b"),
    ("(h : 0 < x) :", "(h:0<x):"),
    ("a /- comment -/ + b", "a + b -- trailing"),
])
def test_same_tokens_ignores_insignificant_whitespace(a, b):
    assert same_tokens(lex(a).tokens, lex(b).tokens)


@pytest.mark.parametrize("a, b", [
    ("a[i]", "a [i]"),         # indexing vs application to a list
    ("a != b", "a ! = b"),     # `!=` vs factorial then `=`
    ("x.1", "x. 1"),
    ("f x", "f y"),
    ("n !", "n!"),             # factorial vs the identifier `n!`
    ("a < b", "a ≤ b"),
])
def test_same_tokens_keeps_significant_differences(a, b):
    assert not same_tokens(lex(a).tokens, lex(b).tokens)


def test_lemma_may_stand_for_theorem_only_when_asked():
    a, b = lex("lemma t : P").tokens, lex("theorem t : P").tokens
    assert not same_tokens(a, b)
    assert same_tokens(a, b, equivalent={"lemma": "theorem"})


def test_lexer_is_linear_on_a_large_input():
    text = ("theorem t : 1 = 1 := by\n  -- comment\n  simp [a, b] /- c -/\n" * 5000)
    lexed = lex(text)
    assert len(lexed.tokens) == 5000 * 14 and not lexed.errors


def test_regex_character_classes_match_the_lean_predicates():
    from prover.lean.lexer import _ID_FIRST_RE, _IDENT_RE, is_id_first, is_id_rest

    for v in list(range(0x20, 0x3000)) + list(range(0x1D400, 0x1D600)):
        c = chr(v)
        if c in "«":
            continue
        assert bool(_ID_FIRST_RE.match(c)) == is_id_first(c), hex(v)
        assert (_IDENT_RE.match("a" + c).end() == 2) == is_id_rest(c), hex(v)


# -- issue 16: misreadings of real proofs ------------------------------------------------------

def test_indexing_with_a_proof_is_not_a_char_literal():
    # `xs[i]'h` is Lean's `getElem` with a bound proof: `]'` is one token, `hi_L` an identifier.
    lexed = lex("exact L[i + 1]'hi_L")
    assert not lexed.errors
    assert kinds("L[i + 1]'hi_L")[-2:] == [("symbol", "]'"), ("ident", "hi_L")]
    assert kinds("xs[0]'(by simp)")[3] == ("symbol", "]'")


def test_char_literal_quote_versus_prime():
    assert kinds("'\"' h' h''") == [("char", "'\"'"), ("ident", "h'"), ("ident", "h''")]
    assert kinds("f '\\'' x") == [("ident", "f"), ("char", "'\\''"), ("ident", "x")]


def test_raw_strings_with_hashes_hide_quotes_and_braces():
    assert kinds('r##"a"#{b}"## x') == [("string", 'r##"a"#{b}"##'), ("ident", "x")]


def test_nested_and_doc_comments_around_code():
    assert idents("/-- doc /- inner -/ still doc -/ a /- x /- y -/ sorry -/ b") == ["a", "b"]


def test_quoted_names_are_unquoted_on_every_part():
    toks = lex("«Lean».«Meta».x Lean.Meta.x").tokens
    assert toks[0].parts == toks[1].parts == ("Lean", "Meta", "x")
    assert toks[0].quoted and not toks[1].quoted


def test_interpolated_strings_lex_their_code_parts():
    toks = lex('s!"a{sorry + f "}" x}b{ {y := 1}.y }c" done').tokens
    assert [(t.kind.value, t.text, t.interp) for t in toks] == [
        ("ident", "s!", False), ("string", '"a{', True), ("ident", "sorry", False), ("symbol", "+", False),
        ("ident", "f", False), ("string", '"}"', False), ("ident", "x", False), ("string", "}b{", True),
        ("symbol", "{", False), ("ident", "y", False), ("symbol", ":=", False), ("number", "1", False),
        ("symbol", "}", False), ("symbol", ".", False), ("ident", "y", False), ("string", '}c"', True),
        ("ident", "done", False)]
    # `throwError`, `m!`, `f!` take interpolated strings too; a plain string does not
    assert [t.text for t in lex('throwError "bad {e}"').tokens] == ["throwError", '"bad {', "e", '}"']
    assert [t.text for t in lex('m!"{x}" f!"{y}"').tokens] == ["m!", '"{', "x", '}"', "f!", '"{', "y", '}"']
    assert [t.text for t in lex('trace "{x}"').tokens] == ["trace", '"{x}"']
    assert [t.text for t in lex('s! "{x}"').tokens] == ["s!", '"{x}"']  # `s!` must touch the quote
    assert lex('s!"a{').errors and lex('s!"a{x}').errors


def test_open_renaming_in_a_proof_is_one_clause():
    from prover.lean.syntax import in_chain, split_commands

    text = "theorem t : True := by\n  open Nat renaming succ → s, pred → p in\n  trivial\n"
    lexed = lex(text)
    assert [c.head for c in split_commands(lexed)] == ["theorem"]
    k = next(i for i, t in enumerate(lexed.tokens) if t.text == "open")
    chain = in_chain(lexed.tokens, k)
    assert chain.has_in and not chain.command_level


def test_private_lemma_after_a_repeated_open_keeps_its_modifier():
    from prover.lean.syntax import split_commands

    lexed = lex("open Real\nprivate lemma aux : True := trivial\nopen private foo in\ntheorem t : True := aux\n")
    cmds = split_commands(lexed)
    assert [c.head for c in cmds] == ["open", "lemma", "theorem"]
    assert [lexed.tokens[m].text for m in cmds[1].decl.modifiers] == ["private"]
    assert lexed.tokens[cmds[0].end - 1].text == "Real"


def test_aesop_rule_phase_unsafe_is_no_command():
    from prover.lean.syntax import split_commands

    lexed = lex("theorem t : True := by\n  aesop (add unsafe 50% apply foo, safe apply bar)\n")
    assert [c.head for c in split_commands(lexed)] == ["theorem"]
    # a modifier before a declaration still starts one
    assert [c.head for c in split_commands(lex("unsafe def f : ℕ := 1\n"))] == ["def"]
