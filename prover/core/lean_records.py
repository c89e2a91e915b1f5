"""Records of Lean checking, shared by every Lean backend (REPL pool, file mode, Kimina,
lean-dojo): the verdict set, the enumerated reason codes, limits, messages, the check request
and result, and the cache key. No I/O here; ``prover.lean`` computes verdicts and
``prover.store`` stores them (DESIGN.md, "What verified by Lean means")."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prover.core.hashing import hash_json, sha256_text


class Verdict(str, Enum):
    """What a Lean check concluded about one assembled file."""

    VERIFIED = "verified"
    VERIFIED_ANSWER_UNCHECKED = "verified-answer-unchecked"
    WRONG_ANSWER = "wrong-answer"
    STATEMENT_MISMATCH = "statement-mismatch"
    REJECTED = "rejected"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    UNSOUND_AXIOMS = "unsound-axioms"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    UNAVAILABLE = "unavailable"
    INCOMPATIBLE = "incompatible"

    def __str__(self) -> str:
        return self.value


class ReasonCode(str, Enum):
    """Why a check ended as it did. Screen codes come from ``prover.lean.screen`` (the static
    part), the others from the verdict logic over Lean's output. Each member documents itself
    (``ReasonCode.SORRY.__doc__``); the values are the strings stored and printed."""

    def __new__(cls, value: str, doc: str) -> "ReasonCode":
        member = str.__new__(cls, value)
        member._value_ = value
        member.__doc__ = doc
        return member

    def __str__(self) -> str:
        return self.value

    # -- the screen: model text ----------------------------------------------------------------
    EMPTY_PROOF = ("empty-proof", "The proof file has no text beyond the problem's own preamble.")
    MALFORMED_TEXT = ("malformed-text", "Unterminated comment, string, character literal or «name»: "
                      "Lean would reject it and the screen cannot read past it.")
    AMBIGUOUS_STRING = ("ambiguous-string", "A string literal containing `{` or `}`: Lean may read it as "
                        "an interpolated string whose braces hold code, so it is not accepted in model text.")
    SORRY = ("sorry", "`sorry`, `admit`, `sorryAx`, or the `stop` and `plausible` tactics in model text.")
    AXIOM = ("axiom", "An `axiom` declaration in model text.")
    UNSAFE = ("unsafe", "`unsafe`, `partial`, `opaque`, `implemented_by`, `extern` or `csimp` in model text.")
    NATIVE = ("native", "`native_decide`, `decide +native` or a native config, `bv_decide`, "
              "`ofReduceBool`/`ofReduceNat`/`reduceBool`/`reduceNat` or `trustCompiler`: "
              "trusts the compiler instead of the kernel.")
    HASH_COMMAND = ("hash-command", "A `#` command other than `#check` and `#print axioms` (`#exit`, `#eval`, "
                    "`#print`, `#reduce`, ...) in model text.")
    META_PROGRAM = ("meta-program", "Code that runs at elaboration time: `run_cmd`, `run_tac`, `run_elab`, "
                    "`run_meta`, `by_elab`, `elab`, `elab_rules`, `initialize`, simprocs, `eval%`, `do`, "
                    "quotations and name literals, `Lean.*`/`IO.*` names (`open Lean…` included), Aesop's "
                    "`tactic` rule builder.")
    NOTATION = ("notation", "New syntax: `macro`, `macro_rules`, `syntax`, `notation` (only `local notation` is "
                "allowed), `infix`/`prefix`/`postfix`, `declare_syntax_cat`, `binder_predicate`.")
    DEFINITION = ("definition", "A declaration kind model text may not add (screen rules 1 only; since version 2 "
                  "`def`, `instance`, `structure`... are model text and other kinds are `unknown-command`).")
    SCOPE_COMMAND = ("scope-command", "A scope command in model text (screen rules 1 only; since version 2 "
                     "`namespace`/`section`/`end`, `variable`, `universe`, `include`/`omit` are model text).")
    OPEN_IN_COMMAND = ("open-in-command", "`open ... in` before a declaration (screen rules 1 only).")
    SET_OPTION_IN_COMMAND = ("set-option-in-command", "`set_option ... in` before a declaration (screen rules 1 only).")
    SET_OPTION_NOT_ALLOWED = ("set-option-not-allowed", "`set_option` with an option not on the allow-list "
                              "(never `debug.*`), or a limit whose value is not a number.")
    COMMAND_NOT_ALLOWED = ("command-not-allowed", "Text outside any command (e.g. prose before the proof).")
    UNKNOWN_COMMAND = ("unknown-command", "A command-level keyword that is not on the list of command kinds model "
                       "text may use (an unknown Lean or Mathlib command, `export`, `alias`, a standalone "
                       "`deriving`...): never read as part of the previous declaration.")
    SCOPE_UNBALANCED = ("scope-unbalanced", "`namespace`/`section`/`mutual` and `end` do not balance by the end of "
                        "model text, an `end` closes nothing, or the target is declared inside a model scope or "
                        "under a `… in` prefix.")
    RESERVED_NAME = ("reserved-name", "A name or notation atom using the reserved `_prover_` prefix (or naming "
                     "the trusted `ProverCheck` library).")
    CONFIG_NOT_LITERAL = ("config-not-literal", "A `(config := …)` or `(simp_config := …)` whose value is not a "
                          "structure instance of literal fields, or a `discharger` field: tactic configurations "
                          "are evaluated as code.")
    ATTRIBUTE_NOT_ALLOWED = ("attribute-not-allowed", "A declaration attribute that is not on the allow-list.")
    MODIFIER_NOT_ALLOWED = ("modifier-not-allowed", "A declaration modifier other than `private`, `protected` "
                            "or `noncomputable`.")
    SUGGESTION_TACTIC = ("suggestion-tactic", "A search tactic that only suggests a proof: `exact?`, "
                         "`apply?`, `rw?`, `hint`, `library_search`.")
    IMPORT = ("import", "An import beyond the preamble, or an import that is not at the top of the file.")
    IMPORT_NOT_ALLOWED = ("import-not-allowed", "The problem's preamble imports a module that is not on the "
                          "import allow-list.")
    TARGET_MISSING = ("target-missing", "The proof does not declare the target theorem.")
    TARGET_DUPLICATE = ("target-duplicate", "The target theorem is declared more than once.")
    TARGET_MISMATCH = ("target-mismatch", "The target's statement, modifiers or attributes differ from the "
                       "problem's (compared token by token, comments removed, `lemma` for `theorem`).")
    ANSWER_SLOT_MODIFIED = ("answer-slot-modified", "An answer slot is redeclared with different modifiers, "
                            "name or type.")
    ANSWER_SLOT_DUPLICATE = ("answer-slot-duplicate", "An answer slot is filled more than once.")
    ANSWER_SLOT_UNFILLED = ("answer-slot-unfilled", "An answer slot is left as `sorry`: the proof gives no answer.")
    ANSWER_MENTIONS_TARGET = ("answer-mentions-target", "An answer slot's body mentions the target theorem.")

    # -- Lean's output -------------------------------------------------------------------------
    LEAN_ERROR = ("lean-error", "Lean reported an error-severity message.")
    HEARTBEAT_LIMIT = ("heartbeat-limit", "Lean ran out of heartbeats (elaborator or kernel deterministic "
                       "timeout).")
    SORRY_WARNING = ("sorry-warning", "Lean warned \"declaration uses 'sorry'\" (any version's wording).")
    SORRY_REPORTED = ("sorry-reported", "The backend's response lists sorries.")
    SORRY_AXIOM = ("sorry-axiom", "The epilogue's report says the target depends on `sorryAx`.")
    NONSTANDARD_AXIOMS = ("nonstandard-axioms", "The epilogue's report says the target depends on an axiom "
                          "other than `propext`, `Classical.choice`, `Quot.sound`.")
    AXIOMS_REPORT_MISSING = ("axioms-report-missing", "Stored by checks before the epilogue (screen rules "
                             "version 2 and older): no `#print axioms` report for the target at its line.")
    CHECK_REPORT_MISSING = ("check-report-missing", "The response has no `#prover_check` report at the "
                            "epilogue's line: it is not a complete check of the assembled file.")
    CHECK_REPORT_INVALID = ("check-report-invalid", "A message at the epilogue's line is not exactly one "
                            "`#prover_check` report in the current format with this check's nonce (a forgery, "
                            "or a ProverCheck of another version).")
    STATEMENT_MISMATCH = ("statement-mismatch", "The kernel did not accept the target as a proof of the "
                          "fingerprint's statement (the problem's statement, elaborated before any model text).")
    TARGET_NOT_CHECKABLE = ("target-not-checkable", "The epilogue could not compare the target: missing, not a "
                            "theorem, unsafe, partial, imported, or with other universe parameters.")
    WRONG_ANSWER = ("wrong-answer", "Lean proved that a filled answer slot differs from the reference answer.")
    ANSWER_UNDECIDED = ("answer-undecided", "The answer check proved neither `NAME = reference` nor "
                        "`NAME ≠ reference` (rfl, decide, norm_num, simp, ext then simp).")
    FINAL_CHECK_REJECTED = ("final-check-rejected", "The independent checker (lean4checker, comparator or "
                            "SafeVerify), run out of process on the compiled file, rejected it.")
    NO_REFERENCE_ANSWER = ("no-reference-answer", "An answer slot has no stored reference answer to compare with.")
    TACTIC_MODE_ONLY = ("tactic-mode-only", "A tactic-mode proof status: never enough for `verified`; the "
                        "assembled file must be checked as a whole.")
    PROOF_INCOMPLETE = ("proof-incomplete", "A tactic-mode proof status other than `Completed` (open goals, "
                        "metavariables, kernel failure).")
    ANSWER_UNCHECKED = ("answer-unchecked", "An answer slot was filled and not yet checked against the "
                        "reference answer.")
    CHECK_LIBRARY_MISSING = ("check-library-missing", "The backend could not import ProverCheck (not built in its "
                             "Lake project: `prover lean setup`; a Kimina server needs it in its own project).")
    WALL_TIMEOUT = ("wall-timeout", "The check ran past its wall-clock limit.")
    MEMORY_LIMIT = ("memory-limit", "The Lean process exceeded its memory limit.")
    BACKEND_ERROR = ("backend-error", "The backend crashed or answered something that is not a Lean response.")
    BACKEND_UNAVAILABLE = ("backend-unavailable", "No Lean backend could be reached.")
    STATEMENT_DOES_NOT_ELABORATE = ("statement-does-not-elaborate", "The problem statement with `sorry` does "
                                    "not elaborate on this toolchain.")


#: Verdicts that a re-check with the same key would reproduce: these are cached.
DEFINITIVE_VERDICTS: frozenset[Verdict] = frozenset({
    Verdict.VERIFIED, Verdict.VERIFIED_ANSWER_UNCHECKED, Verdict.WRONG_ANSWER, Verdict.STATEMENT_MISMATCH,
    Verdict.REJECTED, Verdict.FAILED, Verdict.INCOMPLETE, Verdict.UNSOUND_AXIOMS, Verdict.INCOMPATIBLE,
})

#: Reasons that say the response was not a whole-file check: a verdict carrying one is not cached
#: even when the verdict itself is otherwise definitive.
NON_DEFINITIVE_REASONS: frozenset[ReasonCode] = frozenset({
    ReasonCode.AXIOMS_REPORT_MISSING, ReasonCode.CHECK_REPORT_MISSING, ReasonCode.TACTIC_MODE_ONLY,
})

#: The only axioms a verified proof may depend on.
STANDARD_AXIOMS: frozenset[str] = frozenset({"propext", "Classical.choice", "Quot.sound"})


def is_definitive(verdict: Verdict, reasons: list[ReasonCode] | tuple[ReasonCode, ...] = ()) -> bool:
    """Whether a result may be cached: a definitive verdict from a whole-file check.
    Timeouts, crashes and unavailability are never cached (they depend on load and luck)."""
    return Verdict(verdict) in DEFINITIVE_VERDICTS and not any(ReasonCode(r) in NON_DEFINITIVE_REASONS
                                                                 for r in reasons)


class LeanLimits(BaseModel):
    """The resource limits of one check; part of the cache key."""

    model_config = ConfigDict(frozen=True)

    time_s: float = 300.0
    """Wall-clock limit for the whole file, seconds."""
    heartbeats: int = 400_000
    """`maxHeartbeats` written into the file (replaces the preamble's `maxHeartbeats 0`)."""
    memory_mb: int | None = 8192
    """Memory cap of the Lean process, MiB (None: no cap)."""


class LeanPosition(BaseModel):
    """A position in the checked text as Lean reports it: 1-based line, 0-based column in codepoints."""

    model_config = ConfigDict(frozen=True)

    line: int
    column: int


class LeanMessage(BaseModel):
    """One Lean message, as the REPL and Kimina report it (`endPos` on the wire)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    severity: str
    """`error`, `warning` or `info` (file mode's `information` is stored as `info`)."""
    pos: LeanPosition | None = None
    """Where the message starts; None when the source gave no position."""
    end_pos: LeanPosition | None = Field(default=None, alias="endPos")
    """Where it ends, when given."""
    data: str
    """The message text."""

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class AnswerSlotFill(BaseModel):
    """A filled answer slot, kept with the check so that the answer can be compared with the
    reference later (``verified-answer-unchecked`` until then)."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The slot's full name, e.g. ``putnam_1962_a2_solution``."""
    body: str
    """The model's body text (after `:=`)."""


class LeanCheckRequest(BaseModel):
    """What a Lean backend is asked to check: one assembled file and everything that keys it."""

    model_config = ConfigDict(frozen=True)

    assembled: str
    """The whole file — prologue, filled answer slots, fingerprint, model text, target, epilogue —
    with the nonce placeholder in its epilogue (the nonce is written in when the file is sent)."""
    target: str
    """Full name of the target theorem."""
    axioms_line: int
    """1-based line of the epilogue (`#prover_check`) in ``assembled``: its message reports the
    statement comparison and the target's axioms."""
    answer_slots: tuple[AnswerSlotFill, ...] = ()
    """The answer slots this file fills."""
    toolchain: str
    """Lean toolchain, e.g. ``leanprover/lean4:v4.27.0``."""
    mathlib_rev: str | None = None
    """Mathlib commit the project is built against."""
    repl_rev: str | None = None
    """leanprover-community/repl commit (None for file mode)."""
    screen_rules_version: int
    """Version of the screen's rule list that accepted the proof."""
    limits: LeanLimits = Field(default_factory=LeanLimits)
    """Resource limits."""
    constants: tuple[str, ...] | None = None
    """Constants the epilogue asks about (already part of the file, hence of the key)."""
    answer_file_hash: str | None = None
    """sha256 of the answer check's file when the verdict also depends on it (part of the key)."""
    check_library: str | None = None
    """sha256 of ProverCheck's source, which the file imports (part of the key: a new ProverCheck
    may judge the same file differently)."""

    @property
    def file_hash(self) -> str:
        return sha256_text(self.assembled)

    @property
    def cache_key(self) -> str:
        return lean_cache_key(self.file_hash, toolchain=self.toolchain, mathlib_rev=self.mathlib_rev,
                              repl_rev=self.repl_rev, screen_rules_version=self.screen_rules_version,
                              limits=self.limits, answer_file=self.answer_file_hash,
                              check_library=self.check_library)


class LeanCheckResult(BaseModel):
    """The outcome of one check, as stored in `lean_checks`."""

    model_config = ConfigDict(frozen=True)

    cache_key: str
    """`lean_cache_key(...)` of the request."""
    file_hash: str
    """sha256 of the assembled file."""
    target: str | None = None
    """Full name of the target theorem."""
    toolchain: str
    mathlib_rev: str | None = None
    repl_rev: str | None = None
    screen_rules_version: int
    limits: LeanLimits = Field(default_factory=LeanLimits)
    verdict: Verdict
    """The verdict."""
    reasons: tuple[ReasonCode, ...] = ()
    """Why, as enumerated codes (empty for a plain `verified`)."""
    messages: tuple[LeanMessage, ...] = ()
    """All messages Lean produced."""
    axioms: tuple[str, ...] | None = None
    """The target's axioms from the epilogue's report (the standard ones, `sorryAx` when used, and
    ``<N other>`` for axioms whose model-chosen names the report never prints); None without a
    report."""
    wall_time_s: float | None = None
    """Wall-clock time of the check."""
    peak_memory_mb: float | None = None
    """Peak memory of the Lean process, when the backend measures it."""
    backend: str
    """Which backend checked it (`repl`, `file`, `kimina`, `lean-dojo`, `replay`...)."""
    assembled: str | None = None
    """The checked file (kept so that a stored verdict can be re-screened and re-read)."""
    detail: str | None = None
    """Free text from the backend (crash output, timeout note)."""

    @property
    def definitive(self) -> bool:
        return is_definitive(self.verdict, self.reasons)

    @classmethod
    def for_request(cls, request: LeanCheckRequest, *, verdict: Verdict, backend: str,
                    reasons=(), messages=(), axioms=None, wall_time_s=None, peak_memory_mb=None,
                    detail=None) -> "LeanCheckResult":
        return cls(cache_key=request.cache_key, file_hash=request.file_hash, target=request.target,
                   toolchain=request.toolchain, mathlib_rev=request.mathlib_rev, repl_rev=request.repl_rev,
                   screen_rules_version=request.screen_rules_version, limits=request.limits,
                   verdict=verdict, reasons=tuple(reasons), messages=tuple(messages),
                   axioms=None if axioms is None else tuple(axioms), wall_time_s=wall_time_s,
                   peak_memory_mb=peak_memory_mb, backend=backend, assembled=request.assembled,
                   detail=detail)


def lean_cache_key(file_hash: str, *, toolchain: str, mathlib_rev: str | None, repl_rev: str | None,
                   screen_rules_version: int, limits: LeanLimits, answer_file: str | None = None,
                   check_library: str | None = None) -> str:
    """The cache key of a check: everything that can change its verdict, and nothing else
    (the backend is deliberately left out: every backend must agree; so is the epilogue's nonce,
    which the hashed file holds only as a placeholder). ``answer_file``: the hash of the answer
    check's file when the verdict depends on it; ``check_library``: the hash of the ProverCheck
    source the file imports."""
    key = {
        "file": file_hash,
        "toolchain": toolchain,
        "mathlib": mathlib_rev,
        "repl": repl_rev,
        "screen": screen_rules_version,
        "limits": limits.model_dump(),
    }
    if answer_file is not None:
        key["answer_file"] = answer_file
    if check_library is not None:
        key["check_library"] = check_library
    return hash_json(key)
