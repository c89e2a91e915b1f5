"""The trusted epilogue: one `#prover_check` invocation at the end of every checked file, and
the one message it logs (``lean_project/ProverCheck.lean`` defines the command).

The command takes literal arguments only — the target's full name, the fingerprint's name, a
nonce and optionally the constants whose use in the proof term is asked about — and logs

    prover_check 1 nonce=N status=S type=T axioms=A sorry=B other=K used=U

(see ProverCheck.lean for each field). The verdict reads that message at the epilogue's line
and accepts it only when the whole text parses in exactly this format with this check's nonce.

The nonce is drawn from ``secrets`` for each check and written into the file just before it is
sent; the stored file, its hash and the cache key hold ``NONCE_PLACEHOLDER`` instead, so the
nonce never enters the cache key."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from prover.core.hashing import sha256_text

#: The Lean library that defines the command (imported by every checked file).
CHECK_LIBRARY = "ProverCheck"
#: The command's keyword.
CHECK_COMMAND = "#prover_check"
#: The reserved name of the fingerprint axiom (declared in the root namespace).
FINGERPRINT = "_prover_fp"
#: The reserved prefix no model text may use.
RESERVED_PREFIX = "_prover_"
#: The message format the verdict understands (ProverCheck's `formatVersion`).
FORMAT_VERSION = 1
#: Stands for the nonce in stored files and cache keys; same length as a real nonce, so line
#: and column positions do not change when the nonce is written in.
NONCE_PLACEHOLDER = "0" * 32

#: Where the command is defined.
SOURCE_PATH = Path(__file__).resolve().parents[2] / "lean_project" / "ProverCheck.lean"

#: ``status`` values (ProverCheck.lean); every one but ``ok`` means the target could not be compared
#: (``not-theorem``: neither a theorem nor a safe definition — ProofNet's `def` exercises are compared).
STATUSES = ("ok", "missing-target", "missing-fingerprint", "imported-target", "imported-fingerprint",
            "fingerprint-not-axiom", "unsafe", "partial", "not-theorem", "universes")
_STANDARD_ORDER = ("propext", "Classical.choice", "Quot.sound")

_MESSAGE = re.compile(
    r"prover_check (?P<version>\d+) nonce=(?P<nonce>[0-9a-f]{32}) status=(?P<status>[a-z-]+) "
    r"type=(?P<type>match|mismatch|unchecked) axioms=(?P<axioms>-|[A-Za-z.,]+) sorry=(?P<sorry>[01]) "
    r"other=(?P<other>0|[1-9][0-9]*) used=(?P<used>-|[01]+)")


@lru_cache(maxsize=1)
def check_library_hash() -> str:
    """sha256 of ProverCheck's source (part of every check's cache key); the format version where
    the source is not shipped."""
    try:
        return sha256_text(SOURCE_PATH.read_text(encoding="utf-8"))
    except OSError:
        return f"format-{FORMAT_VERSION}"


def new_nonce() -> str:
    """A fresh nonce: 32 lowercase hexadecimal digits from a secure random source."""
    return secrets.token_hex(16)


def prover_check_source() -> str:
    """ProverCheck's Lean source, as shipped in ``lean_project/``."""
    return SOURCE_PATH.read_text(encoding="utf-8")


def epilogue_command(target: str, nonce: str = NONCE_PLACEHOLDER, constants: tuple[str, ...] | None = None,
                     *, fingerprint: str = FINGERPRINT) -> str:
    """The epilogue line. ``target`` and ``constants`` are full names (quoted with «» where a part
    is not a plain identifier)."""
    from prover.lean.assemble import lean_name

    line = f'{CHECK_COMMAND} {lean_name(target)} {lean_name(fingerprint)} "{nonce}"'
    if constants is not None:
        line += " [" + ", ".join(lean_name(c) for c in constants) + "]"
    return line


@dataclass(frozen=True)
class CheckReport:
    """A parsed `#prover_check` message."""

    nonce: str
    status: str
    """``ok`` or why the target could not be compared (``STATUSES``)."""
    type_check: str
    """``match``, ``mismatch`` or ``unchecked``."""
    axioms: tuple[str, ...]
    """The standard axioms the target depends on."""
    sorry: bool
    """The target depends on `sorryAx`."""
    other_axioms: int
    """How many other axioms the target depends on (names are never printed)."""
    used: str | None
    """One digit per constant asked about (1: occurs in the proof term); None without a list."""

    def render(self) -> str:
        """The message text this report was parsed from (the format is canonical)."""
        return (f"prover_check {FORMAT_VERSION} nonce={self.nonce} status={self.status} type={self.type_check} "
                f"axioms={','.join(self.axioms) or '-'} sorry={int(self.sorry)} other={self.other_axioms} "
                f"used={self.used if self.used is not None else '-'}")

    @property
    def all_axioms(self) -> tuple[str, ...]:
        """The axioms as stored with a check: the standard ones, then `sorryAx` when used."""
        return self.axioms + (("sorryAx",) if self.sorry else ())

    def constants_used(self, constants: tuple[str, ...]) -> dict[str, bool] | None:
        """Which of ``constants`` (the list the epilogue was given) occur in the proof term."""
        if self.used is None or len(self.used) != len(constants):
            return None
        return {c: d == "1" for c, d in zip(constants, self.used)}


def parse_check_message(data: str) -> CheckReport | None:
    """The report in a message, or None unless the whole text is exactly one report in the
    current format (a known status, the standard axioms in their fixed order, no repeats)."""
    m = _MESSAGE.fullmatch(data)
    if m is None or int(m.group("version")) != FORMAT_VERSION or m.group("status") not in STATUSES:
        return None
    axioms = () if m.group("axioms") == "-" else tuple(m.group("axioms").split(","))
    if tuple(a for a in _STANDARD_ORDER if a in axioms) != axioms:
        return None
    report = CheckReport(nonce=m.group("nonce"), status=m.group("status"), type_check=m.group("type"),
                         axioms=axioms, sorry=m.group("sorry") == "1", other_axioms=int(m.group("other")),
                         used=None if m.group("used") == "-" else m.group("used"))
    if report.render() != data:
        return None
    if (report.status == "ok") == (report.type_check == "unchecked"):
        return None
    return report


def has_epilogue(assembled: str) -> bool:
    """Whether a stored assembled file ends with the epilogue (files checked before it end in
    `#print axioms`: their statement was never compared in the kernel)."""
    lines = [line for line in assembled.splitlines() if line.strip()]
    return bool(lines) and lines[-1].startswith(CHECK_COMMAND + " ")


def is_check_message(data: str) -> bool:
    """Whether a message looks like the epilogue's (parsed or not): such messages never reach a
    prompt."""
    return data.lstrip().startswith("prover_check")


def without_check_messages(messages):
    """Messages (records or wire dicts) with the epilogue's removed: what may reach a prompt."""
    out = []
    for m in messages:
        data = m.get("data", "") if isinstance(m, dict) else getattr(m, "data", "")
        if not is_check_message(str(data)):
            out.append(m)
    return out
