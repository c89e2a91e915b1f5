"""Problem files derived from the published real proofs in ``../shared/fixtures/real-proofs``
(Seed-Prover IMO 2025, LEAP Putnam 2025 and open problems; Apache-2.0). A problem keeps the
solution's header (imports, options, `open`s), the definitions its target's statement needs
(transitively; `variable`s too), the answer slot with `sorry`, and the target's statement with
its proof replaced by `sorry` (DESIGN.md: real proofs are what the screen must accept).

The derived files are vendored in ``tests/fixtures/lean/real-proofs/`` (regenerate with
``python tests/lean/real_proofs.py PROVER_SHARED``); the solutions themselves are read from
``PROVER_SHARED`` and the tests that need them skip when it is absent."""

from __future__ import annotations

import sys
from pathlib import Path

from prover.lean.lexer import Kind, lex
from prover.lean.syntax import split_commands

VENDORED = Path(__file__).parent.parent / "fixtures" / "lean" / "real-proofs"
_DEF_KINDS = ("def", "abbrev", "instance", "inductive", "structure", "class")


def solutions(shared: Path) -> dict[str, Path]:
    """Problem name (the vendored file's stem) → solution file."""
    root = shared / "fixtures" / "real-proofs"
    out = {}
    for f in sorted((root / "seed-prover-imo2025").glob("*.lean")):
        out[f"seed-imo2025-{f.stem}"] = f
    for f in sorted((root / "leap-putnam2025").glob("*_solution.lean")):
        out[f.stem.removesuffix("_solution")] = f
    for f in sorted((root / "leap-open-problems").glob("*_solution.lean")):
        out[f.stem.removesuffix("_solution")] = f
    return out


def derive_problem(text: str, target_name: str | None = None) -> str:
    """The problem a solution proves: its target is ``target_name``, else the last theorem."""
    lexed = lex(text)
    toks = lexed.tokens
    commands = split_commands(lexed)

    def src(c) -> str:
        return text[toks[c.start].start:toks[c.end - 1].end]

    decls = [(i, c) for i, c in enumerate(commands) if c.decl is not None and c.decl.keyword is not None]
    theorems = [(i, c) for i, c in decls if toks[c.decl.keyword].text in ("theorem", "lemma")]
    if target_name is None:
        t_idx, target = theorems[-1]
    else:
        t_idx, target = next((i, c) for i, c in theorems
                             if c.decl.name is not None and toks[c.decl.name].text == target_name)
    name = toks[target.decl.name].text
    assign = next(k for k in range(target.decl.name, target.end) if toks[k].is_symbol(":="))
    header_cmds = []
    for c in commands:
        if c.head in ("import", "set_option", "open") and not c.in_prefix:
            header_cmds.append(c)
        else:
            break
    # Definitions the statement needs, found by name (mutual blocks as one unit).
    units: list[tuple[int, list[int]]] = []  # (first command index, command indices)
    i = 0
    while i < t_idx:
        c = commands[i]
        if c.head == "mutual":
            j = i + 1
            while j < t_idx and commands[j].head != "end":
                j += 1
            units.append((i, list(range(i, j + 1))))
            i = j + 1
            continue
        if c.head == "variable" or (c.decl is not None and c.decl.keyword is not None
                                    and toks[c.decl.keyword].text in _DEF_KINDS):
            units.append((i, [i]))
        i += 1

    def names_used(idx: list[int], upto: int | None = None) -> set[str]:
        used = set()
        for k in idx:
            c = commands[k]
            for t in toks[c.start:(upto if upto is not None else c.end)]:
                if t.kind is Kind.IDENT:
                    used.add(t.name)
                    used.update(t.parts)
        return used

    def declared(idx: list[int]) -> set[str]:
        out = set()
        for k in idx:
            c = commands[k]
            if c.decl is not None and c.decl.name is not None:
                out.add(toks[c.decl.name].name)
        return out

    needed = names_used([t_idx], assign)
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for first, idx in units:
            if first in chosen:
                continue
            head = commands[first].head
            decl_names = declared(idx)
            if head == "variable" or decl_names & needed or (
                    head == "instance" and names_used(idx) & (needed & set().union(*(declared(u) for f, u in units
                                                                                        if f in chosen)))):
                chosen.add(first)
                needed |= names_used(idx)
                changed = True
    parts = [src(c) for c in header_cmds]
    body = []
    for first, idx in units:
        if first not in chosen:
            continue
        for k in idx:
            c = commands[k]
            if c.decl is not None and c.decl.name is not None and toks[c.decl.name].text == f"{name}_solution":
                a = next(j for j in range(c.decl.name, c.end) if toks[j].is_symbol(":="))
                body.append(text[toks[c.start].start:toks[a].end] + " sorry")
            else:
                body.append(src(c))
    statement = text[toks[target.start].start:toks[assign].end] + " by\n  sorry"
    return "\n".join(parts) + "\n\n" + "\n\n".join(body + [statement]) + "\n"


def original_statement(shared: Path, name: str) -> Path | None:
    f = shared / "fixtures" / "real-proofs" / "leap-open-problems" / "original_statements" / f"{name}.lean"
    return f if f.is_file() else None


def problem_text(shared: Path, name: str, solution: Path) -> str:
    """The open problems come with their original statements; the others are derived."""
    original = original_statement(shared, name)
    if original is not None:
        return original.read_text()
    return derive_problem(solution.read_text(), None if name.startswith("seed-") else name)


if __name__ == "__main__":
    shared = Path(sys.argv[1])
    VENDORED.mkdir(parents=True, exist_ok=True)
    for name, sol in solutions(shared).items():
        (VENDORED / f"{name}.lean").write_text(problem_text(shared, name, sol))
        print(name)
