"""Split a Lean file into its import header and the rest.

The REPL pool keeps one process per import header: the header is elaborated once when the
process starts (``{"cmd": "import Mathlib\\nimport Aesop"}`` → env 0), and every later check
sends the rest of the file with ``"env": 0``. The rest is padded with the header's line count
in blank lines so that Lean's positions in the answer are positions in the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass

from prover.core.errors import BadDataError


@dataclass(frozen=True)
class SplitFile:
    imports: tuple[str, ...]
    """Imported module names, in file order (``Mathlib``, ``Aesop``...)."""
    header_end: int
    """Offset in the file where the header (the last import) ends."""
    header_lines: int
    """Newlines in ``file[:header_end]``."""
    body: str
    """``file[header_end:]``, prefixed by ``header_lines`` newlines (same positions as the file)."""
    prelude: bool = False
    module: bool = False
    """The file opts into the module system (``module`` first): it changes elaboration, so it
    is part of the key."""

    @property
    def key(self) -> tuple[str, ...]:
        """What processes are keyed by: the import lines only."""
        return (("module",) if self.module else ()) + (("prelude",) if self.prelude else ()) + self.imports

    @property
    def import_command(self) -> str:
        lines = (["module"] if self.module else []) + (["prelude"] if self.prelude else [])
        return "\n".join(lines + [f"import {m}" for m in self.imports])


def _skip_trivia(text: str, i: int) -> int:
    """Skip whitespace and comments (nested ``/- -/`` blocks, ``--`` lines) from ``i``."""
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/-", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/-", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("-/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            if depth:
                raise BadDataError("unterminated comment in the Lean header")
        else:
            break
    return i


def _word(text: str, i: int) -> tuple[str, int]:
    """The identifier-like word at ``i`` (dots and «» quoting included) and where it ends."""
    n, j = len(text), i
    while j < n:
        c = text[j]
        if c == "«":
            k = text.find("»", j)
            if k < 0:
                raise BadDataError("unterminated «» name in the Lean header")
            j = k + 1
        elif c.isalnum() or c in "_.'!?" or (ord(c) > 127 and not c.isspace()):
            j += 1
        else:
            break
    return text[i:j], j


_MODIFIERS = {"public", "private", "meta"}


def split_imports(code: str) -> SplitFile:
    """Split ``code`` after its last ``import`` (comments before the header stay in the header,
    a doc comment after it belongs to the body)."""
    i = _skip_trivia(code, 0)
    imports: list[str] = []
    prelude = module = False
    header_end = 0
    word, j = _word(code, i)
    if word == "module":  # the module system's marker (Lean ≥ 4.22)
        module, header_end, i = True, j, _skip_trivia(code, j)
        word, j = _word(code, i)
    if word == "prelude":
        prelude, header_end, i = True, j, _skip_trivia(code, j)
    while True:
        word, j = _word(code, i)
        if word in _MODIFIERS:
            k = _skip_trivia(code, j)
            nxt, _ = _word(code, k)
            if nxt in _MODIFIERS or nxt == "import":
                i = k
                continue
        if word != "import":
            break
        k = _skip_trivia(code, j)
        name, end = _word(code, k)
        if name == "all":  # `import all M` (module system)
            name, end = _word(code, _skip_trivia(code, end))
        if not name:
            raise BadDataError(f"`import` without a module name at offset {j}")
        imports.append(name)
        header_end = end
        i = _skip_trivia(code, end)
    header_lines = code.count("\n", 0, header_end)
    # Spaces keep columns right too when the body goes on on the header's last line.
    rest = code[header_end:]
    column = 0 if rest[:1] in ("", "\n", "\r") else header_end - (code.rfind("\n", 0, header_end) + 1)
    return SplitFile(imports=tuple(imports), header_end=header_end, header_lines=header_lines,
                     body="\n" * header_lines + " " * column + rest, prelude=prelude, module=module)
