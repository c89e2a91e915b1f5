"""A Lean 4 lexer, exact where the screen needs it to be.

It follows Lean's own token functions (``Lean.Parser.Basic``: ``whitespace``,
``finishCommentBlock``, ``tokenFnAux``, ``identFnAux``): nested block comments, doc comments,
line comments, string, raw-string (``r#"…"#``) and character literals, numbers, name literals
and ``«»``-quoted names. Interpolated strings (``s!"…"``, ``m!``, ``f!``, ``throwError "…"``)
are lexed as Lean's ``interpolatedStr``: string pieces (``interp``) and, between them, the
tokens of each ``{…}`` part, which is code. It does not know Lean's token table, so symbols are lexed one character
at a time except for the few multi-character symbols the screen looks for (``:=``, ``@[``...);
``ws_before`` records whether whitespace or a comment separates a token from the previous one,
so that two texts can be compared token by token with whitespace collapsed.

Linear in the length of the text: one pass, no backtracking beyond a fixed look-ahead."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple


class Kind(str, Enum):
    IDENT = "ident"          # identifiers and keywords (`theorem`, `by`, `exact?`), dotted, maybe «quoted»
    NUMBER = "number"
    STRING = "string"        # "…" and r#"…"# (``raw`` tells which)
    CHAR = "char"
    NAME_LIT = "name"        # `foo, ``foo
    HASH = "hash"            # `#eval`, `#print`, `#exit`, ... (a `#` glued to an identifier)
    DOC = "doc"              # /-- … -/ and /-! … -/ (tokens in Lean, comments for the screen)
    SYMBOL = "symbol"


#: Multi-character symbols the screen and the problem parser rely on, longest first per start
#: character (`]'` is `xs[i]'h`, indexing with a bound proof).
_MULTI = (":=", "=>", "<;>", "@[", "...", "..", "::", "->", "<-", "`(", "%[", "#[", "''", "]'")

#: What makes the string literal right after it interpolated (`{…}` parts are code): these
#: prefixes glued to the quote (`s!"…"`), or these words before it (`throwError "…"`).
INTERPOLATION_PREFIXES = frozenset({"s!", "m!", "f!"})
INTERPOLATION_WORDS = frozenset({"throwError", "throwErrorAt", "dbg_trace", "logInfo", "logWarning", "logError"})


class Token(NamedTuple):
    """One token (a tuple: tokens are made by the hundred thousand)."""

    kind: Kind
    text: str
    """The exact source text."""
    start: int
    """Offset of the first character in the lexed text."""
    end: int
    line: int
    """1-based line."""
    col: int
    """0-based column, in characters (Lean reports codepoints too)."""
    ws_before: bool
    """Whitespace or a comment (or the start of the text) precedes this token."""
    parts: tuple[str, ...] = ()
    """IDENT, NAME_LIT and HASH: the name's dotted parts, unquoted (``«a b».c`` → ``("a b", "c")``)."""
    quoted: bool = False
    """Some part was written «quoted» (then it is an identifier, never a keyword)."""
    raw: bool = False
    """A raw string literal."""
    ambiguous: bool = False
    """A character literal glued to a preceding symbol (``⁻¹'a'``): Lean may read the quote as the
    end of a longer symbol token instead, so the screen cannot be sure where the literal ends."""
    interp: bool = False
    """A piece of an interpolated string (``s!"a{`` or ``}b"``): the tokens between two pieces are
    the code of a ``{…}`` part, lexed like any other code."""

    @property
    def name(self) -> str:
        """The dotted name (parts joined with dots), for IDENT/NAME_LIT/HASH."""
        return ".".join(self.parts)

    def is_keyword(self, *words: str) -> bool:
        """An unquoted identifier that reads as one of ``words`` (a keyword in Lean's token table)."""
        return self.kind is Kind.IDENT and not self.quoted and self.text in words

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind is Kind.SYMBOL and self.text in symbols


@dataclass(frozen=True, slots=True)
class Comment:
    kind: str
    """``line``, ``block``, ``doc`` or ``moddoc``."""
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class LexError:
    start: int
    line: int
    message: str


@dataclass(slots=True)
class Lexed:
    text: str
    tokens: list[Token] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    errors: list[LexError] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)

    def line_of(self, offset: int) -> int:
        from bisect import bisect_right

        return bisect_right(self.line_starts, offset)

    def col_of(self, offset: int) -> int:
        return offset - self.line_starts[self.line_of(offset) - 1]


def is_letter_like(c: str) -> bool:
    v = ord(c)
    return ((0x3B1 <= v <= 0x3C9 and v != 0x3BB) or (0x391 <= v <= 0x3A9 and v not in (0x3A0, 0x3A3))
            or 0x3CA <= v <= 0x3FB or 0x1F00 <= v <= 0x1FFE or 0x2100 <= v <= 0x214F
            or 0x1D49C <= v <= 0x1D59F
            # Latin-1 letters and Latin Extended-A are letter-like in current Lean.
            or (0xC0 <= v <= 0xFF and v not in (0xD7, 0xF7)) or 0x100 <= v <= 0x17F)


def is_subscript_alnum(c: str) -> bool:
    v = ord(c)
    return 0x2080 <= v <= 0x2089 or 0x2090 <= v <= 0x209C or 0x1D62 <= v <= 0x1D6A or v == 0x2C7C


def is_id_first(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or c == "_" or is_letter_like(c)


def is_id_rest(c: str) -> bool:
    return (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "_'!?"
            or is_letter_like(c) or is_subscript_alnum(c))


_WS = " \t\r\n"

# Character classes of `is_id_first` / `is_id_rest` as regex ranges (kept in step with them;
# tests compare the two over the whole Basic Multilingual Plane).
_LETTER_LIKE = ("\u03b1-\u03ba\u03bc-\u03c9\u0391-\u039f\u03a1\u03a2\u03a4-\u03a9\u03ca-\u03fb\u1f00-\u1ffe"
                "\u2100-\u214f\U0001d49c-\U0001d59f\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u017f")
_ID_FIRST = "A-Za-z_" + _LETTER_LIKE
_ID_REST = _ID_FIRST + "0-9'!?\u2080-\u2089\u2090-\u209c\u1d62-\u1d6a\u2c7c"
_PART = f"(?:[{_ID_FIRST}][{_ID_REST}]*|«[^»]*»)"
_IDENT_RE = re.compile(f"{_PART}(?:\\.{_PART})*")
_PART_RE = re.compile(f"[{_ID_FIRST}][{_ID_REST}]*|«([^»]*)»")
_ID_FIRST_RE = re.compile(f"[{_ID_FIRST}«]")
_WS_RE = re.compile(r"[ \t\r\n]+")
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F_]*|0[bB][01_]*|0[oO][0-7_]*|[0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_COMMENT_MARK_RE = re.compile(r"-/|/-")
_SYMBOLS_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _sym in _MULTI:
    _SYMBOLS_BY_FIRST.setdefault(_sym[0], ())
    _SYMBOLS_BY_FIRST[_sym[0]] += (_sym,)


def _parts(text: str) -> tuple[tuple[str, ...], bool]:
    if "«" not in text:
        return tuple(text.split(".")), False
    parts = tuple(m.group(1) if m.group(1) is not None else m.group(0) for m in _PART_RE.finditer(text))
    return parts, True


class _Lexer:
    def __init__(self, text: str):
        self.t = text
        self.n = len(text)
        self.out = Lexed(text)
        starts = [0]
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.out.line_starts = starts
        self._line_idx = 0

    # Lines are looked up for increasing offsets, so a moving cursor keeps this linear.
    def _line_col(self, offset: int) -> tuple[int, int]:
        starts = self.out.line_starts
        k = self._line_idx
        last = len(starts) - 1
        while k < last and starts[k + 1] <= offset:
            k += 1
        self._line_idx = k
        return k + 1, offset - starts[k]

    def error(self, start: int, message: str) -> None:
        line = self.out.line_of(start)
        self.out.errors.append(LexError(start, line, message))

    def emit(self, kind: Kind, start: int, end: int, ws: bool, parts: tuple[str, ...] = (), quoted: bool = False,
             raw: bool = False, ambiguous: bool = False, interp: bool = False) -> None:
        line, col = self._line_col(start)
        self.out.tokens.append(Token(kind, self.t[start:end], start, end, line, col, ws, parts, quoted, raw,
                                     ambiguous, interp))

    # -- comments ---------------------------------------------------------------------------

    def finish_block(self, i: int) -> int:
        """Lean's ``finishCommentBlock`` from ``i`` with nesting 1: the offset after the closing
        ``-/``, or -1 when the text ends first. (`-/` and `/-` start with different characters,
        so a leftmost regex match sees them in the order Lean's character loop does.)"""
        nesting = 1
        for m in _COMMENT_MARK_RE.finditer(self.t, i):
            if m.group() == "-/":
                nesting -= 1
                if nesting == 0:
                    return m.end()
            else:
                nesting += 1
        return -1

    # -- literals ---------------------------------------------------------------------------

    def raw_string_end(self, i: int) -> int:
        """End of r#…"…"#…; ``i`` is at the ``r``."""
        t, n = self.t, self.n
        j = i + 1
        hashes = 0
        while j < n and t[j] == "#":
            hashes += 1
            j += 1
        j += 1  # the opening quote
        close = '"' + "#" * hashes
        k = t.find(close, j)
        return -1 if k < 0 else k + len(close)

    def ident(self, i: int, kind: Kind, ws: bool, start: int | None = None) -> int:
        """Lean's ``identFnAux`` from ``i``; emits a token starting at ``start`` (default ``i``)."""
        m = _IDENT_RE.match(self.t, i)
        if m is None:
            # only an unterminated «: Lean's "unterminated identifier escape"
            self.error(i, "unterminated identifier escape")
            self.emit(Kind.SYMBOL, i if start is None else start, self.n, ws)
            return self.n
        j = m.end()
        if j < self.n and self.t[j] == "." and self.t.startswith("«", j + 1) and "»" not in self.t[j + 2:]:
            self.error(j + 1, "unterminated identifier escape")
            self.emit(Kind.SYMBOL, i if start is None else start, self.n, ws)
            return self.n
        parts, quoted = _parts(m.group())
        self.emit(kind, i if start is None else start, j, ws, parts, quoted)
        return j

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> Lexed:
        self.lex_from(0, True, stop_at_brace=False)
        return self.out

    def interpolated(self, i: int, ws: bool) -> int:
        """Lean's ``interpolatedStr`` from the opening quote at ``i``: string pieces and, between
        them, the code of each ``{…}`` part (lexed as code, nested strings and braces included)."""
        t, n = self.t, self.n
        piece = i
        j = i + 1
        while j < n:
            c = t[j]
            if c == "\\":
                j += 2
                continue
            if c == '"':
                self.emit(Kind.STRING, piece, j + 1, ws, interp=True)
                return j + 1
            if c == "{":
                self.emit(Kind.STRING, piece, j + 1, ws, interp=True)
                k = self.lex_from(j + 1, False, stop_at_brace=True)
                if k >= n:
                    self.error(i, "unterminated interpolated string")
                    return n
                piece, ws = k, False  # the `}` starts the next piece
                j = k + 1
                continue
            j += 1
        self.error(i, "unterminated string literal")
        self.emit(Kind.STRING, piece, n, ws, interp=True)
        return n

    def lex_from(self, i: int, ws: bool, *, stop_at_brace: bool) -> int:
        """The main loop from ``i``; with ``stop_at_brace``, returns at the `}` that closes an
        interpolated string's code part (braces opened inside it are matched first)."""
        t, n = self.t, self.n
        depth = 0
        while i < n:
            c = t[i]
            if stop_at_brace:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if depth == 0:
                        return i
                    depth -= 1
            if c in _WS:
                i = _WS_RE.match(t, i).end()
                ws = True
                continue
            if c == "-" and t.startswith("--", i):
                j = t.find("\n", i)
                j = n if j < 0 else j
                self.out.comments.append(Comment("line", i, j, t[i:j]))
                i, ws = j, True
                continue
            if c == "/" and t.startswith("/-", i):
                third = t[i + 2] if i + 2 < n else ""
                if third in ("-", "!"):
                    # `/--` and `/-!` are doc-comment tokens; their body nests like a comment.
                    j = self.finish_block(i + 3)
                    kind = "doc" if third == "-" else "moddoc"
                    if j < 0:
                        self.error(i, "unterminated doc comment")
                        j = n
                    self.out.comments.append(Comment(kind, i, j, t[i:j]))
                    self.emit(Kind.DOC, i, j, ws)
                    i, ws = j, True
                    continue
                # Lean skips the character right after `/-` before it looks for nesting.
                j = self.finish_block(i + 3) if i + 2 < n else -1
                if j < 0:
                    self.error(i, "unterminated comment")
                    j = n
                self.out.comments.append(Comment("block", i, j, t[i:j]))
                i, ws = j, True
                continue
            if c == '"':
                prev = self.out.tokens[-1] if self.out.tokens else None
                if prev is not None and prev.kind is Kind.IDENT and not prev.quoted and (
                        (not ws and prev.text in INTERPOLATION_PREFIXES) or prev.text in INTERPOLATION_WORDS):
                    i, ws = self.interpolated(i, ws), False
                    continue
                m = _STRING_RE.match(t, i)
                if m is None:
                    self.error(i, "unterminated string literal")
                    j = n
                else:
                    j = m.end()
                self.emit(Kind.STRING, i, j, ws)
                i, ws = j, False
                continue
            if c == "'" and (i + 1 >= n or t[i + 1] != "'"):
                j = self._char_end(i)
                prev = self.out.tokens[-1] if self.out.tokens else None
                glued = (not ws and prev is not None and prev.kind is Kind.SYMBOL
                         and prev.text not in _CLOSED)
                if j >= 0:
                    self.emit(Kind.CHAR, i, j, ws, ambiguous=glued)
                    i, ws = j, False
                    continue
                if not glued:
                    # A glued quote ends a symbol such as `⁻¹'`; anything else is Lean's error too.
                    self.error(i, "missing end of character literal")
                self.emit(Kind.SYMBOL, i, i + 1, ws)
                i, ws = i + 1, False
                continue
            if "0" <= c <= "9":
                j = _NUMBER_RE.match(t, i).end()
                self.emit(Kind.NUMBER, i, j, ws)
                i, ws = j, False
                continue
            if c == "`" and i + 1 < n:
                k = i + 2 if t[i + 1] == "`" else i + 1
                if k < n and _ID_FIRST_RE.match(t, k):
                    i, ws = self.ident(k, Kind.NAME_LIT, ws, start=i), False
                    continue
            if c == "r" and i + 1 < n and t[i + 1] in '#"':
                k = i + 1
                while k < n and t[k] == "#":
                    k += 1
                if k < n and t[k] == '"':
                    j = self.raw_string_end(i)
                    if j < 0:
                        self.error(i, "unterminated raw string literal")
                        j = n
                    self.emit(Kind.STRING, i, j, ws, raw=True)
                    i, ws = j, False
                    continue
            if c == "#" and i + 1 < n and _ID_FIRST_RE.match(t, i + 1) and t[i + 1] != "«":
                i, ws = self.ident(i + 1, Kind.HASH, ws, start=i), False
                continue
            if _ID_FIRST_RE.match(c):
                i, ws = self.ident(i, Kind.IDENT, ws), False
                continue
            j = i + 1
            for sym in _SYMBOLS_BY_FIRST.get(c, ()):
                if t.startswith(sym, i):
                    j = i + len(sym)
                    break
            self.emit(Kind.SYMBOL, i, j, ws)
            i, ws = j, False
        return i

    def _char_end(self, i: int) -> int:
        """Lean's ``charLitFnAux``: one character or escape, then a closing quote."""
        t, n = self.t, self.n
        j = i + 1
        if j >= n:
            return -1
        if t[j] == "\\":
            j += 1
            if j >= n:
                return -1
            if t[j] == "x":
                j += 3
            elif t[j] == "u":
                j += 5
            else:
                j += 1
        else:
            j += 1
        return j + 1 if j < n and t[j] == "'" else -1


def lex(text: str) -> Lexed:
    """Tokens, comments and lexical errors of ``text``."""
    return _Lexer(text).run()


#: Pairs of tokens between which whitespace never changes the meaning: an identifier or literal
#: next to a symbol, or brackets and commas (which Lean never glues into longer tokens). Between
#: two other symbols, or before `[` (indexing `a[i]` vs application `a [i]`), `.`, `!` and `?`,
#: whitespace is significant.
_CLOSED = set("()[]{}⟨⟩⦃⦄⟦⟧,")
_WS_SIGNIFICANT_NEXT = ("[", ".", "!", "?", "..", "...")


def ws_significant(prev: Token, nxt: Token) -> bool:
    """Whether the presence of whitespace between ``prev`` and ``nxt`` can change how Lean reads them."""
    if nxt.kind is Kind.SYMBOL and nxt.text in _WS_SIGNIFICANT_NEXT:
        return True
    if prev.kind is Kind.SYMBOL and prev.text in (".", "@", "$", "?", "#", "%", "..", "`("):
        return True
    if prev.kind is Kind.SYMBOL and nxt.kind is Kind.SYMBOL:
        return not (prev.text in _CLOSED or nxt.text in _CLOSED)
    return False


_NAMED = (Kind.IDENT, Kind.NAME_LIT, Kind.HASH)


def token_key(tok: Token) -> tuple:
    """What two tokens must share to be the same token: names compare by their unquoted parts."""
    if tok.kind in _NAMED:
        return (tok.kind, tok.parts)
    return (tok.kind, tok.text)


def same_tokens(a: list[Token], b: list[Token], *, equivalent: dict[str, str] | None = None) -> bool:
    """Token-by-token equality with whitespace collapsed (comments are whitespace), except where
    whitespace is significant (see ``ws_significant``). ``equivalent`` maps keyword spellings
    that count as equal (``{"lemma": "theorem"}``)."""
    if len(a) != len(b):
        return False
    eq = equivalent or {}
    prev = None
    for x, y in zip(a, b):
        if x.kind is not y.kind:
            return False
        if x.kind in _NAMED:
            if x.parts != y.parts and not (
                    eq and x.kind is Kind.IDENT and not x.quoted and not y.quoted
                    and eq.get(x.text, x.text) == eq.get(y.text, y.text)):
                return False
        elif x.text != y.text:
            return False
        if prev is not None and x.ws_before != y.ws_before and ws_significant(prev, x):
            return False
        prev = x
    return True
