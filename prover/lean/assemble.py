"""Assembly: the one file Lean checks for a screened proof (DESIGN.md, "What verified by Lean
means"), in four zones:

1. the trusted prologue — the problem's imports and `import ProverCheck`, `set_option Elab.async
   false`, the heartbeat limit when the problem sets none, the problem's own commands before the
   target exactly as the data gives them (`set_option maxHeartbeats 0` becomes the configured limit,
   recorded in ``AssembledFile.replaced``), its answer slots, and the **fingerprint**: the target's
   statement, from the problem's text, declared as the reserved axiom `_prover_fp` before any model
   text;
2. the answer slots, each the problem's header with the model's body (the only model text before
   the fingerprint: a screened term, which the fingerprint's statement may mention by name);
3. the model text before the target (``ProofParts.aux``: declarations, `open`, `namespace`,
   `variable`...), the target — the problem's statement text followed by the model's proof —, the
   model text after it (``ProofParts.after``), and any commands the problem has after its target;
   option values the screen marked as capped (`maxHeartbeats`, `maxRecDepth`...) are written capped;
4. the trusted epilogue: one `#prover_check` line with literal arguments and a nonce.

The stored file holds ``NONCE_PLACEHOLDER``; ``AssembledFile.with_nonce`` writes the check's own
nonce in just before the file is sent, so the nonce is never part of the file hash or cache key.

The model's body is put on the next line at the column its `:=` had, so that every token of the
body keeps the line offset and column it had in the proof file (tactic blocks are
indentation-sensitive)."""

from __future__ import annotations

from dataclasses import dataclass

from prover.core.errors import UsageError
from prover.core.hashing import sha256_text
from prover.core.lean_records import AnswerSlotFill, LeanCheckRequest, LeanLimits
from prover.lean.epilogue import (CHECK_LIBRARY, FINGERPRINT, NONCE_PLACEHOLDER, check_library_hash,
                                  epilogue_command)
from prover.lean.lexer import Kind, is_id_first, is_id_rest
from prover.lean.problem import LeanProblem
from prover.lean.screen import SCREEN_RULES_VERSION, ProofParts, option_caps
from prover.lean.syntax import COMMAND_KEYWORDS, Command


@dataclass(frozen=True)
class Segment:
    """A block of the assembled file and where it came from."""

    zone: str
    """``prologue`` (generated imports and options), ``preamble``, ``slot``, ``fingerprint``,
    ``model``, ``target``, ``postamble``, ``limit``, ``answer`` (an answer check's theorems) or
    ``check`` (the epilogue)."""
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
    """The file with ``NONCE_PLACEHOLDER`` in its epilogue (what is stored and hashed)."""
    target: str
    """Full name of the target (of an answer check: the first slot checked)."""
    axioms_line: int
    """1-based line of the epilogue, `#prover_check`, whose message reports the check (of an
    answer check: its first `#prover_check` line)."""
    heartbeats: int
    answer_slots: tuple[AnswerSlotFill, ...]
    segments: tuple[Segment, ...]
    constants: tuple[str, ...] | None = None
    """The constants the epilogue asks about (their use in the target's proof term)."""
    replaced: tuple[str, ...] = ()
    """What the prologue changed in the problem's own text (``maxHeartbeats 0 → N at line L``)."""
    checks: tuple[tuple[str, int], ...] = ()
    """Every `#prover_check` of the file: (what it checks, 1-based line)."""

    @property
    def file_hash(self) -> str:
        return sha256_text(self.text)

    def with_nonce(self, nonce: str) -> str:
        """The text to send: the epilogue's placeholder replaced by ``nonce`` (same length, so
        every position stays where it was)."""
        return with_nonce(self.text, nonce)

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
                                repl_rev=repl_rev, screen_rules_version=SCREEN_RULES_VERSION, limits=limits,
                                constants=self.constants, check_library=check_library_hash())


def with_nonce(text: str, nonce: str) -> str:
    """``text`` with the placeholder of every `#prover_check` line replaced by ``nonce``."""
    if len(nonce) != len(NONCE_PLACEHOLDER):
        raise ValueError("a nonce has 32 hexadecimal digits")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("#prover_check ") and f'"{NONCE_PLACEHOLDER}"' in line:
            lines[i] = line.replace(f'"{NONCE_PLACEHOLDER}"', f'"{nonce}"', 1)
    return "\n".join(lines)


def lean_name(full_name: str) -> str:
    """A full name as Lean source: parts that are not plain identifiers get «quoted»."""
    out = []
    for part in full_name.split("."):
        plain = part and is_id_first(part[0]) and all(is_id_rest(c) for c in part[1:]) and part not in COMMAND_KEYWORDS
        out.append(part if plain else f"«{part}»")
    return ".".join(out)


def _with_heartbeats(problem: LeanProblem, cmd: Command, heartbeats: int) -> tuple[str, bool, list[str]]:
    """A preamble command's text with `maxHeartbeats 0` made finite; whether it sets
    `maxHeartbeats` for the whole file (not just `… in`); and what was replaced."""
    toks = problem.lexed.tokens
    base = toks[cmd.start].start
    text = problem.command_text(cmd)
    edits = []
    sets = False
    notes = []
    for k in range(cmd.start, cmd.end - 2):
        a, b, c = toks[k], toks[k + 1], toks[k + 2]
        if a.is_keyword("set_option") and b.kind is Kind.IDENT and b.name == "maxHeartbeats":
            if not cmd.in_prefix and k == cmd.start:
                sets = True
            if c.kind is Kind.NUMBER and int(c.text.replace("_", ""), 0) == 0:
                edits.append((c.start - base, c.end - base))
                notes.append(f"maxHeartbeats 0 → {heartbeats} at problem line {c.line}")
    for s, e in reversed(edits):
        text = text[:s] + str(heartbeats) + text[e:]
    return text, sets, notes


def fingerprint_text(problem: LeanProblem, name: str = FINGERPRINT) -> str:
    """The fingerprint: the target's statement — its `open … in`/`set_option … in` prefix, binders
    and type, as the problem writes them — declared as the axiom ``name`` in the root namespace.
    Attributes, modifiers and the docstring are left out (an attribute on the axiom could hand it
    to `simp`; any use of it shows among the target's axioms anyway)."""
    target = problem.target
    toks = problem.lexed.tokens
    decl = target.command.decl
    if decl is None or decl.name is None:
        raise UsageError("the target has no name to fingerprint")
    text = problem.text
    prefix = text[toks[target.header_start].start:toks[decl.first].start] if decl.first > target.header_start else ""
    binders = text[toks[decl.name].end:toks[target.assign - 1].end]
    qualified = f"_root_.{name}" if target.namespace else name
    return f"{prefix}axiom {qualified}{binders}"


class FileBlocks:
    """The file as blocks separated by a blank line; a block's pieces (a problem header and the
    model's `:=`-and-body) by a newline. A piece: (zone, source, source line, text)."""

    def __init__(self) -> None:
        self.blocks: list[list[tuple[str, str, int | None, str]]] = []

    def add(self, *pieces: tuple[str, str, int | None, str]) -> None:
        self.blocks.append(list(pieces))

    def render(self) -> tuple[str, tuple[Segment, ...]]:
        texts: list[str] = []
        segments: list[Segment] = []
        line = 1
        for block in self.blocks:
            for zone, source, src_line, text in block:
                n_lines = text.count("\n") + 1
                segments.append(Segment(zone, line, line + n_lines - 1, source, src_line))
                line += n_lines
            line += 1  # the blank line between blocks
            texts.append("\n".join(piece[3] for piece in block))
        return "\n\n".join(texts) + "\n", tuple(segments)


def filled_pieces(problem: LeanProblem, parts: ProofParts, zone: str, decl, use, caps) -> list[tuple]:
    """A declaration of the problem filled with the model's body: the model's capped `set_option … in`
    prefix if any, the problem's header, the body at the column of its `:=`."""
    toks = problem.lexed.tokens
    ptoks = parts.lexed.tokens
    colon = ptoks[use.assign]
    body = " " * colon.col + (":=" if colon.text == ":=" else "") + parts.body_text(use, caps)
    prefix = []
    if use.options_prefix is not None:
        first, last = use.options_prefix
        prefix = [(zone, "proof", ptoks[first].line, parts.span_text(first, last, caps))]
    return prefix + [(zone, "problem", toks[decl.header_start].line, decl.header_text),
                     (zone, "proof", colon.line, body)]


def write_prologue(problem: LeanProblem, parts: ProofParts, heartbeats: int, out: FileBlocks,
              *, stop_at_target: bool) -> tuple[list[AnswerSlotFill], list[str]]:
    """Imports, `import ProverCheck`, the options, and the problem's commands before its target
    (answer slots filled from ``parts``). Returns the fills and what was replaced."""
    toks = problem.lexed.tokens
    ptoks = parts.lexed.tokens
    fills: list[AnswerSlotFill] = []
    replaced: list[str] = []
    sets_heartbeats = False
    caps = option_caps(heartbeats)
    for cmd, role in zip(problem.commands, problem.roles):
        if role != "import":
            continue
        out.add(("preamble", "problem", toks[cmd.start].line, problem.command_text(cmd)))
    out.add(("prologue", "generated", None, f"import {CHECK_LIBRARY}"))
    out.add(("prologue", "generated", None, "set_option Elab.async false"))
    options_at = len(out.blocks)
    for cmd, role in zip(problem.commands, problem.roles):
        line = toks[cmd.start].line
        if role == "preamble":
            text, sets, notes = _with_heartbeats(problem, cmd, heartbeats)
            sets_heartbeats |= sets
            replaced += notes
            out.add(("preamble", "problem", line, text))
        elif role == "slot":
            slot = next(s for s in problem.answer_slots if s.command is cmd)
            use = parts.slot_fills.get(slot.full_name)
            if use is None:
                out.add(("slot", "problem", line, problem.command_text(cmd)))
                continue
            fills.append(AnswerSlotFill(name=slot.full_name, body=parts.body_text(use).strip()))
            out.add(*filled_pieces(problem, parts, "slot", slot, use, caps))
        elif role == "target" and stop_at_target:
            break
    if not sets_heartbeats:
        out.blocks.insert(options_at, [("limit", "generated", None, f"set_option maxHeartbeats {heartbeats}")])
    return fills, replaced


def assemble(problem: LeanProblem, parts: ProofParts, *, heartbeats: int = LeanLimits().heartbeats,
             constants: tuple[str, ...] | None = None) -> AssembledFile:
    """The file to check, from a problem and the parts of a proof the screen accepted.
    ``constants``: full names whose occurrence in the target's proof term the epilogue reports
    (the sketch's step lemmas)."""
    if parts.target is None:
        raise UsageError("cannot assemble a proof without an accepted target declaration")
    toks = problem.lexed.tokens
    ptoks = parts.lexed.tokens
    out = FileBlocks()
    fills, replaced = write_prologue(problem, parts, heartbeats, out, stop_at_target=True)
    target = problem.target
    out.add(("fingerprint", "problem", toks[target.header_start].line, fingerprint_text(problem)))
    caps = option_caps(heartbeats)
    for aux in parts.aux:
        out.add(("model", "proof", ptoks[aux.start].line, parts.command_text(aux, caps=caps)))
    out.add(*filled_pieces(problem, parts, "target", target, parts.target, caps))
    for after in parts.after:
        out.add(("model", "proof", ptoks[after.start].line, parts.command_text(after, caps=caps)))
    for cmd, role in zip(problem.commands, problem.roles):
        if role == "postamble":
            text, _sets, notes = _with_heartbeats(problem, cmd, heartbeats)
            replaced += notes
            out.add(("postamble", "problem", toks[cmd.start].line, text))
    out.add(("check", "generated", None, epilogue_command(target.full_name, NONCE_PLACEHOLDER, constants)))
    text, segments = out.render()
    line = segments[-1].start_line
    return AssembledFile(text=text, target=target.full_name, axioms_line=line, heartbeats=heartbeats,
                         answer_slots=tuple(fills), segments=segments, constants=constants,
                         replaced=tuple(replaced), checks=((target.full_name, line),))
