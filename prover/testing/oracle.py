"""The twin's deterministic oracle: what the simulated Lean says about a submitted text.

The simulated model server writes proofs whose steps carry tags, and the simulated REPL decides
by reading them, so that both sides agree without sharing state:

* natural-language steps end in ``[twin:ok]`` (a correct step) or ``[twin:gap]`` (a gap);
* Lean tactic lines end in a comment ``-- twin:ok`` (the step checks) or ``-- twin:bad`` (Lean
  rejects it).

A declaration's proof is judged line by line: a line with ``sorry`` is a sorry (Lean's warning
``declaration uses 'sorry'``); a ``twin:bad`` line is an error (``unsolved goals``, the recorded
wording); a lone portfolio tactic (``omega``, ``simp``...) succeeds for a fixed fraction of
statements, chosen by a hash of the statement and the tactic, never on a negation (the twin's
world has no false statements to refute); any other line is glue and checks. The epilogue
``#prover_check`` is answered as ProverCheck would: the target's statement is compared with the
fingerprint axiom's (whitespace-normalised text), its axioms are the standard three, ``sorry=1``
when the target or a declaration of the file it names failed or used ``sorry``, and ``used``
says which of the listed constants its proof (or those it names) mentions.

Never evidence about Lean: the oracle reads tags, not mathematics."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

TAG_OK = "twin:ok"
TAG_BAD = "twin:bad"
TAG_GAP = "twin:gap"

PORTFOLIO_TACTICS = frozenset({"omega", "simp", "norm_num", "linarith", "nlinarith", "positivity", "decide",
                               "aesop", "rfl", "trivial", "tauto", "ring", "field_simp"})
STANDARD_AXIOMS = "propext,Classical.choice,Quot.sound"

#: Recorded wordings (leanprover-community/repl test suite, v4.26.0 recordings: see
#: tests/fixtures/lean_recorded/repl_pairs.jsonl rows 725 and 719).
SORRY_WARNING = "declaration uses 'sorry'"
UNSOLVED = "unsolved goals"

_DECL_START = re.compile(
    r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable|nonrec|partial|unsafe)\s+)*"
    r"(theorem|lemma|example|def|abbrev|axiom|instance|opaque|structure|inductive|class)\b")
_COMMAND = re.compile(r"^(?:open|set_option|namespace|end|section|variable|universe|attribute|#\w+|import|"
                      r"noncomputable\s+section|/-|--)")
_NAME = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable|nonrec|partial|unsafe)\s+)*"
                   r"(?:theorem|lemma|def|abbrev|axiom|instance|opaque)\s+(«[^»]+»|[^\s:(\[{]+)")
_SORRY = re.compile(r"(?<![\w.'])sorry(?![\w'])")
_IDENT = re.compile(r"[A-Za-z_\u00C0-\u1FFF«][\w.'\u00C0-\u1FFF»]*")


def stable_unit(*parts: str) -> float:
    """A number in [0, 1) fixed by the parts (the oracle's and the server's only randomness)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


@dataclass
class Decl:
    kind: str
    name: str | None
    line: int
    """1-based line of the declaration's first line."""
    name_col: int
    statement: str
    """The text between the name and ``:=`` (binders and type)."""
    proof_lines: list[tuple[int, int, str, str]] = field(default_factory=list)
    """(line, column, code, comment) of each line of the proof."""
    full_name: str | None = None
    outcome: str = "ok"
    """``ok``, ``sorry`` or ``error``."""
    error_at: tuple[int, int] | None = None
    sorries: list[tuple[int, int]] = field(default_factory=list)

    @property
    def proof_text(self) -> str:
        return "\n".join(code for _, _, code, _ in self.proof_lines)


@dataclass
class Judgement:
    decls: list[Decl]
    messages: list[dict]
    sorries: list[dict]


def _split_comment(line: str) -> tuple[str, str]:
    i = line.find("--")
    return (line, "") if i < 0 else (line[:i], line[i:])


def conclusion(statement: str) -> str:
    """The goal text of a statement: what follows the last top-level colon."""
    depth, cut = 0, -1
    for i, ch in enumerate(statement):
        if ch in "([{⟨":
            depth += 1
        elif ch in ")]}⟩":
            depth = max(0, depth - 1)
        elif ch == ":" and depth == 0 and statement[i + 1:i + 2] != "=":
            cut = i
    return " ".join(statement[cut + 1:].split()) if cut >= 0 else " ".join(statement.split())


def parse_decls(text: str) -> tuple[list[Decl], list[tuple[int, str]]]:
    """Declarations (with their proofs) and the ``#prover_check`` lines of a command text."""
    lines = text.split("\n")
    decls: list[Decl] = []
    checks: list[tuple[int, str]] = []
    namespaces: list[str] = []
    current: Decl | None = None
    head: list[str] = []
    in_proof = False
    for number, raw in enumerate(lines, 1):
        at_col0 = bool(raw) and not raw[0].isspace()
        if at_col0 and not raw.startswith("--") and (_DECL_START.match(raw) or _COMMAND.match(raw)):
            if current is not None:
                _finish(current, head, decls)
            current, head, in_proof = None, [], False
            word = raw.split()[0]
            if word == "namespace":
                namespaces.append(raw.split()[1])
            elif word == "end" and len(raw.split()) > 1 and namespaces and raw.split()[1] == namespaces[-1]:
                namespaces.pop()
            elif word == "#prover_check":
                checks.append((number, raw))
            m = _DECL_START.match(raw)
            if m:
                nm = _NAME.match(raw)
                name = nm.group(1).strip("«»") if nm else None
                col = nm.start(1) if nm else 0
                current = Decl(kind=m.group(1), name=name, line=number, name_col=col, statement="")
                if name:
                    current.full_name = ".".join(namespaces + [name])
                rest = raw[nm.end(1):] if nm else raw[m.end(1):]
                in_proof = _feed(current, head, number, len(raw) - len(rest), rest, in_proof)
            continue
        if current is not None:
            in_proof = _feed(current, head, number, 0, raw, in_proof)
    if current is not None:
        _finish(current, head, decls)
    return decls, checks


def _feed(decl: Decl, head: list[str], number: int, col: int, text: str, in_proof: bool) -> bool:
    """Add one line (or the rest of the first line) to a declaration; True once in its proof."""
    if in_proof:
        code, comment = _split_comment(text)
        decl.proof_lines.append((number, col, code, comment))
        return True
    code, comment = _split_comment(text)
    i = code.find(":=")
    if i < 0:
        head.append(code)
        return False
    head.append(code[:i])
    after = code[i + 2:]
    decl.proof_lines.append((number, col + i + 2, after, comment))
    return True


def _finish(decl: Decl, head: list[str], decls: list[Decl]) -> None:
    decl.statement = " ".join(" ".join(head).split())
    decls.append(decl)


def _judge_decl(decl: Decl, portfolio_rate: float) -> None:
    negation = bool(decl.name and decl.name.endswith("_neg")) or conclusion(decl.statement).startswith("¬")
    for line, col, code, comment in decl.proof_lines:
        stripped = code.strip()
        if stripped.startswith("by"):
            stripped = stripped[2:].strip()
        m = _SORRY.search(code)
        if m:
            decl.sorries.append((line, col + m.start()))
            if decl.outcome == "ok":
                decl.outcome = "sorry"
            continue
        if TAG_BAD in comment:
            decl.outcome, decl.error_at = "error", (line, col + len(code) - len(code.lstrip()))
            return
        if TAG_OK in comment or not stripped:
            continue
        if stripped in PORTFOLIO_TACTICS:
            if negation or stable_unit("portfolio", decl.statement, stripped) >= portfolio_rate:
                decl.outcome, decl.error_at = "error", (line, col + len(code) - len(code.lstrip()))
                return


def judge(text: str, *, portfolio_rate: float = 0.05, next_state: int = 0) -> Judgement:
    """Messages and sorries the simulated Lean gives for a command text (line numbers as in it)."""
    decls, checks = parse_decls(text)
    messages: list[dict] = []
    sorries: list[dict] = []
    for d in decls:
        if d.kind in ("theorem", "lemma", "example", "def", "abbrev", "instance"):
            _judge_decl(d, portfolio_rate)
        goal = conclusion(d.statement)
        for line, col, code, _ in d.proof_lines:
            at = code.find("extract_goal")
            if at >= 0:
                # Mathlib's extract_goal: the goal at that point as a theorem (here: the
                # declaration's own statement; the twin's holes add no hypotheses of their own).
                messages.append({"severity": "info", "pos": {"line": line, "column": col + at},
                                 "endPos": {"line": line, "column": col + at + len("extract_goal")},
                                 "data": f"theorem extracted_1 {d.statement} := sorry"})
        if d.outcome == "error":
            line, col = d.error_at or (d.line, 0)
            messages.append({"severity": "error", "pos": {"line": line, "column": col},
                             "endPos": {"line": line, "column": col + 1},
                             "data": f"{UNSOLVED}\n⊢ {goal}"})
        elif d.outcome == "sorry":
            for line, col in d.sorries:
                sorries.append({"proofState": next_state, "pos": {"line": line, "column": col},
                                "goal": f"⊢ {goal}", "endPos": {"line": line, "column": col + 5}})
                next_state += 1
            name_len = len(d.name) if d.name else len(d.kind)
            messages.append({"severity": "warning", "pos": {"line": d.line, "column": d.name_col},
                             "endPos": {"line": d.line, "column": d.name_col + name_len},
                             "data": SORRY_WARNING})
    for line, raw in checks:
        messages.append({"severity": "info", "pos": {"line": line, "column": 0},
                         "endPos": {"line": line, "column": len("#prover_check")},
                         "data": prover_check_report(raw, decls)})
    messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
    return Judgement(decls=decls, messages=messages, sorries=sorries)


_CHECK = re.compile(r'^#prover_check\s+(«[^»]+»|\S+)\s+(«[^»]+»|\S+)\s+"([^"]*)"\s*(?:\[(.*)\])?\s*$')


def _unquote(name: str) -> str:
    return ".".join(p.strip("«»") for p in re.findall(r"«[^»]+»|[^.]+", name))


def prover_check_report(line: str, decls: list[Decl]) -> str:
    """ProverCheck's message for one epilogue line (lean_project/ProverCheck.lean's format)."""
    m = _CHECK.match(line.strip())
    if m is None:
        return "unexpected token; expected identifier"
    target, fp, nonce, consts = _unquote(m.group(1)), _unquote(m.group(2)), m.group(3), m.group(4)
    constants = [_unquote(c.strip()) for c in consts.split(",") if c.strip()] if consts is not None else None
    by_name = {d.full_name: d for d in decls if d.full_name}

    def report(status: str, type_: str = "unchecked", axioms: str = "-", sorry: int = 0, used: str = "-") -> str:
        return (f"prover_check 1 nonce={nonce} status={status} type={type_} axioms={axioms} sorry={sorry} "
                f"other=0 used={used}")

    tgt, fpd = by_name.get(target), by_name.get(fp)
    if tgt is None:
        return report("missing-target")
    if fpd is None:
        return report("missing-fingerprint")
    if fpd.kind != "axiom":
        return report("fingerprint-not-axiom")
    if tgt.kind not in ("theorem", "lemma", "def", "abbrev"):
        return report("not-theorem")
    # The closure: the target and the file's declarations its proof names, transitively.
    short = {}
    for d in decls:
        if d.full_name and d is not fpd:
            short[d.full_name] = d
            short[d.full_name.rsplit(".", 1)[-1]] = d
    seen, todo = {id(tgt): tgt}, [tgt]
    while todo:
        d = todo.pop()
        for word in _IDENT.findall(d.proof_text):
            dep = short.get(word.strip("«»"))
            if dep is not None and id(dep) not in seen:
                seen[id(dep)] = dep
                todo.append(dep)
    closure = list(seen.values())
    sorry = int(any(d.outcome != "ok" for d in closure))
    type_ = "match" if tgt.statement == fpd.statement else "mismatch"
    used = "-"
    if constants is not None:
        words = {w.strip("«»") for d in closure for w in _IDENT.findall(d.proof_text)}
        used = "".join("1" if (c in words or c.rsplit(".", 1)[-1] in words) else "0" for c in constants) or "-"
    return report("ok", type_, STANDARD_AXIOMS, sorry, used)
