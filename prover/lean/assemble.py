"""Assembly: the one file Lean checks for a screened proof.

In order: the problem's own commands (imports, preamble, its answer slots filled with the
model's bodies), the model text before the target (``ProofParts.aux``: declarations, `open`,
`namespace`, `variable`...), the target — the problem's statement text followed by the model's
proof —, the model text after it (``ProofParts.after``), any commands the problem has after its
target, and `#print axioms` of the target. Option values the screen marked as capped
(`maxHeartbeats`, `maxRecDepth`...) are written capped. `set_option maxHeartbeats 0` in the preamble
becomes the configured limit (added after the imports when the preamble sets none).

The statement checked is always the problem's text, never the model's copy of it: the screen
compares the two token by token, and using the problem's removes any doubt about what was
proved. The model's body is put on the next line at the column its `:=` had, so that every
token of the body keeps the line offset and column it had in the proof file (tactic blocks are
indentation-sensitive)."""

from __future__ import annotations

from dataclasses import dataclass

from prover.core.errors import UsageError
from prover.core.hashing import sha256_text
from prover.core.lean_records import AnswerSlotFill, LeanCheckRequest, LeanLimits
from prover.lean.lexer import Kind, is_id_first, is_id_rest
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, ProofParts, option_caps
from prover.lean.syntax import COMMAND_KEYWORDS, Command


@dataclass(frozen=True)
class Segment:
    """A block of the assembled file and where it came from."""

    zone: str
    """``preamble``, ``slot``, ``model``, ``target``, ``postamble``, ``limit`` or ``check``."""
    start_line: int
    """First line in the assembled file (1-based)."""
    end_line: int
    """Last line in the assembled file."""
    source: str
    """``problem``, ``proof`` or ``generated``."""
    source_line: int | None
    """Line in the source that ``start_line`` corresponds to (1-based), None when generated."""


@dataclass(frozen=True)
class AssembledFile:
    text: str
    target: str
    """Full name of the target."""
    axioms_line: int
    """1-based line of `#print axioms`."""
    heartbeats: int
    answer_slots: tuple[AnswerSlotFill, ...]
    segments: tuple[Segment, ...]

    @property
    def file_hash(self) -> str:
        return sha256_text(self.text)

    def locate(self, line: int) -> tuple[Segment, int | None] | None:
        """Which segment an assembled line belongs to, and the matching line of its source."""
        for seg in self.segments:
            if seg.start_line <= line <= seg.end_line:
                src = None if seg.source_line is None else seg.source_line + (line - seg.start_line)
                return seg, src
        return None

    def request(self, *, toolchain: str, mathlib_rev: str | None = None, repl_rev: str | None = None,
                limits: LeanLimits | None = None) -> LeanCheckRequest:
        limits = limits or LeanLimits(heartbeats=self.heartbeats)
        return LeanCheckRequest(assembled=self.text, target=self.target, axioms_line=self.axioms_line,
                                answer_slots=self.answer_slots, toolchain=toolchain, mathlib_rev=mathlib_rev,
                                repl_rev=repl_rev, screen_rules_version=SCREEN_RULES_VERSION, limits=limits)


def lean_name(full_name: str) -> str:
    """A full name as Lean source: parts that are not plain identifiers get «quoted»."""
    out = []
    for part in full_name.split("."):
        plain = part and is_id_first(part[0]) and all(is_id_rest(c) for c in part[1:]) and part not in COMMAND_KEYWORDS
        out.append(part if plain else f"«{part}»")
    return ".".join(out)


def _with_heartbeats(problem: LeanProblem, cmd: Command, heartbeats: int) -> tuple[str, bool]:
    """A preamble command's text with `maxHeartbeats 0` made finite; and whether it sets
    `maxHeartbeats` for the whole file (not just `… in`)."""
    toks = problem.lexed.tokens
    base = toks[cmd.start].start
    text = problem.command_text(cmd)
    edits = []
    sets = False
    for k in range(cmd.start, cmd.end - 2):
        a, b, c = toks[k], toks[k + 1], toks[k + 2]
        if a.is_keyword("set_option") and b.kind is Kind.IDENT and b.name == "maxHeartbeats":
            if not cmd.in_prefix and k == cmd.start:
                sets = True
            if c.kind is Kind.NUMBER and int(c.text.replace("_", ""), 0) == 0:
                edits.append((c.start - base, c.end - base))
    for s, e in reversed(edits):
        text = text[:s] + str(heartbeats) + text[e:]
    return text, sets


def assemble(problem: LeanProblem, parts: ProofParts, *, heartbeats: int = LeanLimits().heartbeats) -> AssembledFile:
    """The file to check, from a problem and the parts of a proof the screen accepted."""
    if parts.target is None:
        raise UsageError("cannot assemble a proof without an accepted target declaration")
    toks = problem.lexed.tokens
    ptoks = parts.lexed.tokens
    # Blocks are separated by a blank line; the pieces of a block (a problem header and the
    # model's `:=`-and-body) by a newline. A piece: (zone, source, source line, text).
    blocks: list[list[tuple[str, str, int | None, str]]] = []
    sets_heartbeats = False
    last_import = -1
    fills: list[AnswerSlotFill] = []
    caps = option_caps(heartbeats)

    def filled(zone: str, decl, use) -> list[tuple[str, str, int | None, str]]:
        colon = ptoks[use.assign]
        body = " " * colon.col + (":=" if colon.text == ":=" else "") + parts.body_text(use, caps)
        prefix = []
        if use.options_prefix is not None:
            first, last = use.options_prefix
            prefix = [(zone, "proof", ptoks[first].line, parts.span_text(first, last, caps))]
        return prefix + [(zone, "problem", toks[decl.header_start].line, decl.header_text),
                         (zone, "proof", colon.line, body)]

    for cmd, role in zip(problem.commands, problem.roles):
        line = toks[cmd.start].line
        if role in ("import", "preamble", "postamble"):
            text, sets = _with_heartbeats(problem, cmd, heartbeats)
            sets_heartbeats |= sets
            blocks.append([("preamble" if role == "import" else role, "problem", line, text)])
            if role == "import":
                last_import = len(blocks) - 1
        elif role == "slot":
            slot = next(s for s in problem.answer_slots if s.command is cmd)
            use = parts.slot_fills.get(slot.full_name)
            if use is None:
                blocks.append([("slot", "problem", line, problem.command_text(cmd))])
                continue
            fills.append(AnswerSlotFill(name=slot.full_name, body=parts.body_text(use).strip()))
            blocks.append(filled("slot", slot, use))
        elif role == "target":
            for aux in parts.aux:
                blocks.append([("model", "proof", ptoks[aux.start].line, parts.command_text(aux, caps=caps))])
            blocks.append(filled("target", problem.target, parts.target))
            for after in parts.after:
                blocks.append([("model", "proof", ptoks[after.start].line, parts.command_text(after, caps=caps))])
    if not sets_heartbeats:
        blocks.insert(last_import + 1, [("limit", "generated", None, f"set_option maxHeartbeats {heartbeats}")])
    blocks.append([("check", "generated", None, f"#print axioms {lean_name(problem.target.full_name)}")])

    texts: list[str] = []
    segments: list[Segment] = []
    line = 1
    for block in blocks:
        for zone, source, src_line, text in block:
            n_lines = text.count("\n") + 1
            segments.append(Segment(zone, line, line + n_lines - 1, source, src_line))
            line += n_lines
        line += 1  # the blank line between blocks
        texts.append("\n".join(piece[3] for piece in block))
    text = "\n\n".join(texts) + "\n"
    return AssembledFile(text=text, target=problem.target.full_name, axioms_line=segments[-1].start_line,
                         heartbeats=heartbeats, answer_slots=tuple(fills), segments=tuple(segments))
