"""A Lean 4 lexer, exact where the screen needs it to be.

It follows Lean's own token functions (``Lean.Parser.Basic``: ``whitespace``,
``finishCommentBlock``, ``tokenFnAux``, ``identFnAux``): nested block comments, doc comments,
line comments, string, raw-string (``r#"…"#``) and character literals, numbers, name literals
and ``«»``-quoted names. It does not know Lean's token table, so symbols are lexed one character
at a time except for the few multi-character symbols the screen looks for (``:=``, ``@[``...);
``ws_before`` records whether whitespace or a comment separates a token from the previous one,
so that two texts can be compared token by token with whitespace collapsed.

Linear in the length of the text: one pass, no backtracking beyond a fixed look-ahead."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    IDENT = "ident"          # identifiers and keywords (`theorem`, `by`, `exact?`), dotted, maybe «quoted»
    NUMBER = "number"
    STRING = "string"        # "…" and r#"…"# (``raw`` tells which)
    CHAR = "char"
    NAME_LIT = "name"        # `foo, ``foo
    HASH = "hash"            # `#eval`, `#print`, `#exit`, ... (a `#` glued to an identifier)
    DOC = "doc"              # /-- … -/ and /-! … -/ (tokens in Lean, comments for the screen)
    SYMBOL = "symbol"


#: Multi-character symbols the screen and the problem parser rely on (longest first).
_MULTI = (":=", "=>", "<;>", "@[", "...", "..", "::", "->", "<-", "`(", "%[", "#[", "''")


@dataclass(frozen=True, slots=True)
class Token:
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
        while k + 1 < len(starts) and starts[k + 1] <= offset:
            k += 1
        self._line_idx = k
        return k + 1, offset - starts[k]

    def error(self, start: int, message: str) -> None:
        line = self.out.line_of(start)
        self.out.errors.append(LexError(start, line, message))

    def emit(self, kind: Kind, start: int, end: int, ws: bool, **extra) -> None:
        line, col = self._line_col(start)
        self.out.tokens.append(Token(kind, self.t[start:end], start, end, line, col, ws, **extra))

    # -- comments ---------------------------------------------------------------------------

    def finish_block(self, i: int) -> int:
        """Lean's ``finishCommentBlock`` from ``i`` with nesting 1: the offset after the closing
        ``-/``, or -1 when the text ends first."""
        t, n, nesting = self.t, self.n, 1
        while i < n:
            c = t[i]
            if c == "-" and i + 1 < n and t[i + 1] == "/":
                nesting -= 1
                i += 2
                if nesting == 0:
                    return i
            elif c == "/" and i + 1 < n and t[i + 1] == "-":
                nesting += 1
                i += 2
            else:
                i += 1
        return -1

    # -- literals ---------------------------------------------------------------------------

    def string_end(self, i: int) -> int:
        """End of a "…" literal whose opening quote is at ``i``; -1 if unterminated."""
        t, n = self.t, self.n
        j = i + 1
        while j < n:
            c = t[j]
            if c == '"':
                return j + 1
            j += 2 if c == "\\" else 1
        return -1

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

    def ident_end(self, i: int) -> tuple[int, tuple[str, ...], bool] | None:
        """Lean's ``identFnAux`` from ``i``: (end, parts, quoted), or None for an unterminated «."""
        t, n = self.t, self.n
        parts: list[str] = []
        quoted = False
        while True:
            if i < n and t[i] == "«":
                k = t.find("»", i + 1)
                if k < 0:
                    return None
                parts.append(t[i + 1:k])
                quoted = True
                i = k + 1
            else:
                j = i + 1
                while j < n and is_id_rest(t[j]):
                    j += 1
                parts.append(t[i:j])
                i = j
            if i + 1 < n and t[i] == "." and (is_id_first(t[i + 1]) or t[i + 1] == "«"):
                i += 1
                continue
            return i, tuple(parts), quoted

    def number_end(self, i: int) -> int:
        t, n = self.t, self.n
        if t[i] == "0" and i + 1 < n and t[i + 1] in "bBoOxX":
            j = i + 2
            while j < n and (t[j].isalnum() or t[j] == "_") and t[j].isascii():
                j += 1
            return j
        j = i
        while j < n and (t[j].isdigit() and t[j].isascii() or t[j] == "_"):
            j += 1
        if j < n and t[j] == ".":
            j += 1
            while j < n and t[j].isascii() and t[j].isdigit():
                j += 1
        if j < n and t[j] in "eE":
            k = j + 1
            if k < n and t[k] in "+-":
                k += 1
            if k < n and t[k].isascii() and t[k].isdigit():
                while k < n and t[k].isascii() and t[k].isdigit():
                    k += 1
                j = k
        return j

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> Lexed:
        t, n = self.t, self.n
        i, ws = 0, True
        while i < n:
            c = t[i]
            if c in _WS:
                i += 1
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
                j = self.string_end(i)
                if j < 0:
                    self.error(i, "unterminated string literal")
                    j = n
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
            if c.isdigit() and c.isascii():
                j = self.number_end(i)
                self.emit(Kind.NUMBER, i, j, ws)
                i, ws = j, False
                continue
            if c == "`" and i + 1 < n and (is_id_first(t[i + 1]) or t[i + 1] in "«`"):
                k = i + 1
                if t[k] == "`":
                    k += 1
                if k < n and (is_id_first(t[k]) or t[k] == "«"):
                    r = self.ident_end(k)
                    if r is None:
                        self.error(i, "unterminated identifier escape")
                        self.emit(Kind.SYMBOL, i, n, ws)
                        i = n
                        continue
                    j, parts, quoted = r
                    self.emit(Kind.NAME_LIT, i, j, ws, parts=parts, quoted=quoted)
                    i, ws = j, False
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
            if c == "«" or is_id_first(c):
                r = self.ident_end(i)
                if r is None:
                    self.error(i, "unterminated identifier escape")
                    self.emit(Kind.SYMBOL, i, n, ws)
                    i = n
                    continue
                j, parts, quoted = r
                self.emit(Kind.IDENT, i, j, ws, parts=parts, quoted=quoted)
                i, ws = j, False
                continue
            if c == "#" and i + 1 < n and is_id_first(t[i + 1]):
                r = self.ident_end(i + 1)
                if r is None:
                    self.error(i, "unterminated identifier escape")
                    self.emit(Kind.SYMBOL, i, n, ws)
                    i = n
                    continue
                j, parts, quoted = r
                self.emit(Kind.HASH, i, j, ws, parts=parts, quoted=quoted)
                i, ws = j, False
                continue
            for sym in _MULTI:
                if t.startswith(sym, i):
                    j = i + len(sym)
                    break
            else:
                j = i + 1
            self.emit(Kind.SYMBOL, i, j, ws)
            i, ws = j, False
        return self.out

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


def token_key(tok: Token) -> tuple:
    """What two tokens must share to be the same token: names compare by their unquoted parts."""
    if tok.kind in (Kind.IDENT, Kind.NAME_LIT, Kind.HASH):
        return (tok.kind.value, tok.parts)
    return (tok.kind.value, tok.text)


def same_tokens(a: list[Token], b: list[Token], *, equivalent: dict[str, str] | None = None) -> bool:
    """Token-by-token equality with whitespace collapsed (comments are whitespace), except where
    whitespace is significant (see ``ws_significant``). ``equivalent`` maps keyword spellings
    that count as equal (``{"lemma": "theorem"}``)."""
    if len(a) != len(b):
        return False
    eq = equivalent or {}
    for k, (x, y) in enumerate(zip(a, b)):
        kx, ky = token_key(x), token_key(y)
        if kx != ky:
            if not (x.kind is Kind.IDENT and y.kind is Kind.IDENT and not x.quoted and not y.quoted
                    and eq.get(x.text, x.text) == eq.get(y.text, y.text)):
                return False
        if k and ws_significant(a[k - 1], x) and x.ws_before != y.ws_before:
            return False
    return True
